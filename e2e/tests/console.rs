//! The console (`/console`) as the query-api serves it, over a real vault, broker and
//! indexer: sign-in (a pasted token, the development sign-in), the events table with
//! its filters and their errors, paging, a page's and a record's reveal (recorded by
//! the vault on `audit.raw`), a record with its integrity, the checkpoint and a
//! bundle download, and refusals said in words. Cases are data fed to one helper.

mod query_support;
use query_support as support;

use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Method, redirect};

/// One request and what its answer must be.
struct Case {
    name: &'static str,
    method: Method,
    path: String,
    form: Vec<(&'static str, String)>,
    /// Headers beyond the session cookie.
    headers: Vec<(&'static str, &'static str)>,
    status: u16,
    /// Texts the body must contain.
    contains: Vec<String>,
    /// Texts it must not contain.
    lacks: Vec<String>,
}

impl Case {
    fn get(name: &'static str, path: impl Into<String>, status: u16) -> Case {
        Case {
            name,
            method: Method::GET,
            path: path.into(),
            form: Vec::new(),
            headers: Vec::new(),
            status,
            contains: Vec::new(),
            lacks: Vec::new(),
        }
    }

    fn post(
        name: &'static str,
        path: impl Into<String>,
        form: Vec<(&'static str, String)>,
        status: u16,
    ) -> Case {
        let headers = vec![("sec-fetch-site", "same-origin")];
        Case {
            name,
            method: Method::POST,
            path: path.into(),
            form,
            headers,
            status,
            contains: Vec::new(),
            lacks: Vec::new(),
        }
    }

    fn with(mut self, text: impl Into<String>) -> Case {
        self.contains.push(text.into());
        self
    }

    fn without(mut self, text: impl Into<String>) -> Case {
        self.lacks.push(text.into());
        self
    }
}

/// Sends `case` with `cookie` and checks the answer; the answer's headers and body.
async fn check(http: &reqwest::Client, base: &str, cookie: Option<&str>, case: &Case) -> (HeaderMap, String) {
    let mut request = http.request(case.method.clone(), format!("{base}{}", case.path));
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    for (name, value) in &case.headers {
        request = request.header(*name, HeaderValue::from_static(value));
    }
    if case.method == Method::POST {
        request = request.form(&case.form);
    }
    let response = request.send().await.unwrap();
    let (status, headers) = (response.status().as_u16(), response.headers().clone());
    let body = response.text().await.unwrap();
    assert_eq!(status, case.status, "{}: {body}", case.name);
    for text in &case.contains {
        assert!(body.contains(text.as_str()), "{}: {text:?} not in {body}", case.name);
    }
    for text in &case.lacks {
        assert!(!body.contains(text.as_str()), "{}: {text:?} in the page", case.name);
    }
    (headers, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_signs_in_filters_pages_reveals_and_downloads_bundles() {
    let stack = support::start().await;
    let http = reqwest::Client::builder()
        .redirect(redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(20))
        .build()
        .unwrap();
    let base = stack.base.clone();

    let anonymous = [
        Case::get("the root sends to the events", "/console", 303),
        Case::get("signed out, events send to sign-in", "/console/events", 303),
        Case::get("the sign-in page", "/console/sign-in", 200)
            .with("Bearer token")
            .with("Development sign-in"),
        Case::post("not a token", "/console/sign-in", vec![("token", "hello".into())], 400)
            .with("not a bearer token"),
        Case {
            headers: vec![("sec-fetch-site", "cross-site")],
            ..Case::post("a cross-site sign-in", "/console/sign-in", vec![("tenant", "t1".into())], 403)
        }
        .with("from another site"),
    ];
    for case in &anonymous {
        check(&http, &base, None, case).await;
    }
    let (signed_in, _) = check(
        &http,
        &base,
        None,
        &Case::post("development sign-in", "/console/sign-in", vec![("tenant", "t1".into())], 303),
    )
    .await;
    let set_cookie = signed_in["set-cookie"].to_str().unwrap();
    let (page, _) = check(&http, &base, None, &Case::get("headers", "/console/sign-in", 200)).await;
    let policy = page["content-security-policy"].to_str().unwrap();
    assert!(policy.contains("default-src 'none'") && policy.contains("form-action 'self'"), "{policy}");
    assert_eq!(page["cache-control"], "no-store", "no page with clear values stays in a cache");
    assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Strict"), "{set_cookie}");
    let cookie = set_cookie.split(';').next().unwrap().to_owned();

    let t1 = stack.of("t1");
    let person = t1[0].target().to_owned();
    let record = t1[0].id().to_owned();
    let cases = [
        Case::get("the events, tokens in place", "/console/events", 200)
            .with(format!("<strong>{}</strong> matching records", t1.len()))
            .with("Next page")
            .with("Tenant <strong>t1</strong>")
            .without(person.clone()),
        Case::get(
            "by target, a clear value",
            format!("/console/events?target={}&order=asc", urlencode(&person)),
            200,
        )
        .with(format!(
            "<strong>{}</strong> matching records",
            t1.iter().filter(|clear| clear.target() == person).count()
        )),
        Case::get("a free filter's error, in words", "/console/events?filter=host+eq", 400)
            .with("role=\"alert\"")
            .with("This filter is not valid"),
        Case::get("a time that is no time", "/console/events?from=yesterday", 400)
            .with("from is not a date and time"),
        Case::get("verified", "/console/events?verify=on&type=createUser", 200)
            .with("badge validated")
            .without("badge tainted"),
        Case::post(
            "a page revealed",
            "/console/events/reveal",
            vec![("target", person.clone()), ("order", "asc".into())],
            200,
        )
        .with(person.clone())
        .with("recorded this reveal in the trail"),
        Case {
            headers: vec![("sec-fetch-site", "cross-site")],
            ..Case::post("a cross-site reveal", "/console/events/reveal", Vec::new(), 403)
        },
        Case::get("a record, tokens in place", format!("/console/events/{record}"), 200)
            .with("badge validated")
            .with("action.actionName")
            .with("JSON")
            .without(person.clone()),
        Case::post("a record revealed", format!("/console/events/{record}/reveal"), Vec::new(), 200)
            .with(person.clone()),
        Case::get("no such record", "/console/events/nothing-here", 404).with("record not found"),
        Case::get("the checkpoint", "/console/integrity", 200)
            .with(format!("<strong>{}</strong> records with this root", t1.len()))
            .with("audit-trail.local/t1"),
        Case::get("a window that is no time", "/console/integrity/bundle?from=soon", 400)
            .with("not a date and time"),
    ];
    for case in &cases {
        check(&http, &base, Some(&cookie), case).await;
    }

    let bundle = http
        .get(format!("{base}/console/integrity/bundle?from=&to="))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(bundle.headers()["content-disposition"], "attachment; filename=\"t1.bundle\"");
    let text = bundle.text().await.unwrap();
    assert!(text.lines().next().unwrap().contains("\"format\":\"audit-trail-bundle/1\""));
    assert_eq!(text.lines().count(), t1.len() + 1, "the header, then every record");

    let reveals =
        testkit::kafka::read_topic(&stack.kafka, "audit.raw", 2, std::time::Duration::from_secs(20)).await;
    let by_console = reveals.iter().filter(|read| {
        let event: serde_json::Value = serde_json::from_slice(&read.payload).unwrap_or_default();
        event["action"]["actionName"] == "detokenizeTokens"
            && event["actingUserId"]["id"] == "console-developer"
    });
    assert!(by_console.count() >= 2, "the page's and the record's reveals are recorded");

    // A token the API refuses ends the session, with the API's reason.
    let forged = "audit_console_token=eyJhbGciOiJFZERTQSJ9.eyJ0ZW5hbnQiOiJ0MSIsInN1YiI6Im1hbGxvcnkifQ.c2ln";
    let (refused, _) = check(
        &http,
        &base,
        Some(forged),
        &Case::get("a refused token", "/console/events", 401).with("Signed out:"),
    )
    .await;
    assert!(refused["set-cookie"].to_str().unwrap().contains("Max-Age=0"));
    webhooks(&http, &base, &cookie).await;
    let (signed_out, _) =
        check(&http, &base, Some(&cookie), &Case::post("sign out", "/console/sign-out", Vec::new(), 303))
            .await;
    assert!(signed_out["set-cookie"].to_str().unwrap().contains("Max-Age=0"));
}

fn urlencode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// Registers a webhook to a local receiver, pings it, edits, lists and deletes it.
async fn webhooks(http: &reqwest::Client, base: &str, cookie: &str) {
    let receiver = testkit::receiver::Receiver::start().await;
    let target = receiver.url.clone();
    let form = |insecure: &str| {
        vec![
            ("url", target.clone()),
            ("events", "createUser, deleteUser".to_owned()),
            ("insecure", insecure.to_owned()),
            ("active", "on".to_owned()),
        ]
    };
    check(
        http,
        base,
        Some(cookie),
        &Case::get("no webhook yet", "/console/webhooks", 200).with("No webhook yet"),
    )
    .await;
    let refused = Case::post("http:// without insecure", "/console/webhooks", form(""), 400)
        .with("role=\"alert\"")
        .with("https");
    check(http, base, Some(cookie), &refused).await;
    let created =
        Case::post("registered", "/console/webhooks", form("on"), 201).with("shown this once").with("whsec_");
    let (_, page) = check(http, base, Some(cookie), &created).await;
    let id = page
        .split("href=\"/console/webhooks/")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    let path = format!("/console/webhooks/{id}");
    let cases = [
        Case::get("listed", "/console/webhooks", 200)
            .with(target.clone())
            .with("createUser, deleteUser")
            .with("active"),
        Case::get("its page", path.clone(), 200).with("Deliveries").with("Send a ping"),
        Case::post("pinged", format!("{path}/ping"), Vec::new(), 200).with("Ping delivered"),
        Case {
            headers: vec![("sec-fetch-site", "cross-site")],
            ..Case::post("a cross-site delete", format!("{path}/delete"), Vec::new(), 403)
                .with("sent from another site")
        },
        Case::post(
            "deactivated",
            path.clone(),
            vec![("url", target.clone()), ("events", "createUser".into()), ("insecure", "on".into())],
            200,
        )
        .with("Saved."),
        Case::get("inactive now", "/console/webhooks", 200).with("inactive"),
        Case::get("dead letters only", format!("{path}?status=dead"), 200)
            .with("<option value=\"dead\" selected>"),
        Case::post("deleted", format!("{path}/delete"), Vec::new(), 303),
        Case::get("gone", "/console/webhooks", 200).with("No webhook yet"),
        Case::get("a deleted webhook", path.clone(), 404).with("role=\"alert\""),
    ];
    for case in &cases {
        check(http, base, Some(cookie), case).await;
    }
    assert_eq!(receiver.received.lock().unwrap().len(), 1, "the ping reached the receiver");
}
