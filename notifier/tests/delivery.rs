//! The notifier through `run()` on the real broker, with real receivers on loopback:
//! only the chosen event types arrive, each with its API key, a Standard Webhooks
//! signature and the record's JWS; a receiver failing its first attempts still gets
//! everything; the management API refuses what it must.

mod support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use serde_json::{Value, json};
use support::{hanging_receiver, receiver, start, start_with, wait_for};
use testkit::kafka::{broker, kafka, produce};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chosen_events_arrive_signed_with_their_key_and_jws_even_after_failures() {
    let (broker, _storage) = broker().await;
    let kafka = kafka(&broker);
    let notifier = start(&kafka.bootstrap).await;
    let (all_url, all) = receiver(0).await;
    let (chosen_url, chosen) = receiver(3).await;
    let (status, everything) =
        notifier.create("tenant-0", json!({"url": all_url, "events": ["*"], "insecure": true})).await;
    assert_eq!(status, StatusCode::CREATED, "{everything}");
    let (status, created_only) = notifier
        .create("tenant-1", json!({"url": chosen_url, "events": ["createUser"], "insecure": true, "apiKey": "k-0123456789abcdef"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created_only}");
    assert!(created_only["secret"].as_str().unwrap().starts_with("whsec_"));

    // 200 records over two tenants: tenant-0 has the even indices, tenant-1 the odd
    // ones, of which every second is a createUser (index 1, 5, 9, ...).
    let (_, messages) = testkit::records::signed_messages(200, 2, "r");
    produce(&kafka, "audit.signed", &messages).await;
    wait_for(&all, 100, Duration::from_secs(60)).await;
    wait_for(&chosen, 50, Duration::from_secs(60)).await;

    for (received, webhook, count) in [(&all, &everything, 100), (&chosen, &created_only, 50)] {
        let received = received.0.lock().unwrap().clone();
        let ids: HashMap<String, usize> = received.iter().fold(HashMap::new(), |mut ids, (headers, _)| {
            *ids.entry(headers["webhook-id"].to_str().unwrap().to_owned()).or_default() += 1;
            ids
        });
        assert_eq!(ids.len(), count, "every chosen record arrived");
        for (headers, body) in &received {
            assert_eq!(headers["x-api-key"], webhook["apiKey"].as_str().unwrap());
            let id = headers["webhook-id"].to_str().unwrap();
            let timestamp: i64 = headers["webhook-timestamp"].to_str().unwrap().parse().unwrap();
            let expected = notifier::sign(webhook["secret"].as_str().unwrap(), id, timestamp, body).unwrap();
            assert_eq!(headers["webhook-signature"], expected.as_str());
            let body: Value = serde_json::from_slice(body).unwrap();
            assert_eq!(body["id"], id);
            assert!(body["jws"].as_str().unwrap().split('.').count() == 3);
            if webhook == &created_only {
                assert_eq!(body["type"], "createUser", "only the chosen event type arrives");
            }
        }
    }
    let url = format!(
        "{}/v1/tenants/tenant-1/webhooks/{}/deliveries?status=delivered",
        notifier.base,
        created_only["id"].as_str().unwrap()
    );
    let log: Value = notifier
        .http
        .get(url)
        .bearer_auth(notifier.token("tenant-1", "ORG_ADMIN"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(log["deliveries"].as_array().unwrap().len(), 50);
    assert!(
        log["deliveries"].as_array().unwrap().iter().any(|delivery| delivery["attempts"].as_i64() > Some(1)),
        "the first ones were retried"
    );
    notifier.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_target_does_not_delay_a_healthy_one() {
    let (broker, _storage) = broker().await;
    let kafka = kafka(&broker);
    // Attempts time out after a minute: had the hanging target held the healthy one
    // up, the healthy one could not have had everything sooner.
    let notifier = start_with(&kafka.bootstrap, &["--delivery-timeout-ms=60000"]).await;
    let (healthy_url, healthy) = receiver(0).await;
    for url in [hanging_receiver().await, healthy_url] {
        let (status, answer) =
            notifier.create("tenant-0", json!({"url": url, "events": ["*"], "insecure": true})).await;
        assert_eq!(status, StatusCode::CREATED, "{answer}");
    }
    // More records than the dispatcher reads per round, so the hanging target's
    // backlog alone could fill a round.
    let (_, messages) = testkit::records::signed_messages(1_200, 1, "h");
    let started = Instant::now();
    produce(&kafka, "audit.signed", &messages).await;
    wait_for(&healthy, 1_200, Duration::from_secs(60)).await;
    let took = started.elapsed();
    println!("healthy target got 1,200 notifications in {} ms while the other hung", took.as_millis());
    assert_eq!(healthy.0.lock().unwrap().len(), 1_200);
    assert!(took < Duration::from_secs(60), "the healthy target waited {took:?}");
    notifier.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_management_api_refuses_what_it_must() {
    let (broker, _storage) = broker().await;
    let notifier = start(&kafka(&broker).bootstrap).await;
    let cases = [
        (json!({"url": "http://crm.example.com/h", "events": ["*"]}), "url"),
        (json!({"url": "https://user:pw@crm.example.com/h", "events": ["*"]}), "url"),
        (json!({"url": "https://crm.example.com/h", "events": ["notAnEvent"]}), "events"),
        (json!({"url": "https://crm.example.com/h", "events": []}), "events"),
        (json!({"url": "https://crm.example.com/h", "events": ["*"], "apiKey": "short"}), "apiKey"),
    ];
    for (body, field) in cases {
        let (status, answer) = notifier.create("t1", body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        assert!(answer["detail"].as_str().unwrap().starts_with(field), "{body}: {answer}");
        assert!(!answer.to_string().contains("pw@"), "no value is echoed");
    }
    // A tenant the trail cannot name: no change is made in it.
    let (status, answer) =
        notifier.create("t.1", json!({"url": "https://crm.example.com/h", "events": ["*"]})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert!(answer["detail"].as_str().unwrap().starts_with("tenant"), "{answer}");
    auth_matrix_on_every_endpoint(&notifier).await;
    notifier.stop().await;
}

/// Every endpoint, as (method, path under the tenant) with a webhook of t1 and another
/// of t2: no token is 401; a token of another tenant or without a privileged role is
/// 403; t2's webhook under t1 is 404 (tenant isolation); t1's M2M client is let
/// through.
async fn auth_matrix_on_every_endpoint(notifier: &support::Notifier) {
    let (_, mine) = notifier.create("t1", json!({"url": "https://crm.example.com/h", "events": ["*"]})).await;
    let (_, theirs) =
        notifier.create("t2", json!({"url": "https://crm.example.com/h", "events": ["*"]})).await;
    let endpoints = |id: &str| {
        [
            ("POST", String::new()),
            ("GET", String::new()),
            ("GET", format!("/{id}")),
            ("PATCH", format!("/{id}")),
            ("POST", format!("/{id}/rotate-secret")),
            ("POST", format!("/{id}/ping")),
            ("GET", format!("/{id}/deliveries")),
            ("POST", format!("/{id}/deliveries/00000000-0000-0000-0000-000000000000/retry")),
            ("DELETE", format!("/{id}")),
        ]
    };
    let call = |method: &str, path: &str, token: Option<String>| {
        let url = format!("{}/v1/tenants/t1/webhooks{path}", notifier.base);
        let mut request = notifier.http.request(method.parse().unwrap(), url).json(&json!({}));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        async move { request.send().await.unwrap().status() }
    };
    let (mine, theirs) = (mine["id"].as_str().unwrap(), theirs["id"].as_str().unwrap());
    for (method, path) in endpoints(mine) {
        let cases = [
            (None, StatusCode::UNAUTHORIZED),
            (Some(notifier.token("t2", "ORG_ADMIN")), StatusCode::FORBIDDEN),
            (Some(notifier.token("t1", "VIEWER")), StatusCode::FORBIDDEN),
        ];
        for (token, expected) in cases {
            assert_eq!(call(method, &path, token).await, expected, "{method} {path}");
        }
        if path.ends_with("/ping") {
            // Admitted, it would send to the (unreachable) target; the other tests ping.
            continue;
        }
        let admitted = call(method, &path, Some(notifier.token("t1", "M2M_CLIENT"))).await;
        assert!(![401, 403].contains(&admitted.as_u16()), "{method} {path}: {admitted}");
    }
    for (method, path) in endpoints(theirs).into_iter().filter(|(_, path)| !path.is_empty()) {
        let status = call(method, &path, Some(notifier.token("t1", "ORG_ADMIN"))).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: another tenant's webhook");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_is_changed_its_secret_rotated_and_a_gone_target_deactivates_it() {
    let (broker, _storage) = broker().await;
    let kafka = kafka(&broker);
    let notifier = start(&kafka.bootstrap).await;
    let admin = notifier.token("tenant-0", "ORG_ADMIN");
    let (status, created) =
        notifier.create("tenant-0", json!({"url": "https://crm.example.com/h", "events": ["*"]})).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let webhook =
        format!("{}/v1/tenants/tenant-0/webhooks/{}", notifier.base, created["id"].as_str().unwrap());
    let patch = |body: Value| notifier.http.patch(&webhook).bearer_auth(&admin).json(&body).send();
    let changed: Value =
        patch(json!({"events": ["deleteUser"], "description": "crm"})).await.unwrap().json().await.unwrap();
    assert_eq!(
        (changed["events"].clone(), changed["description"].clone()),
        (json!(["deleteUser"]), json!("crm"))
    );
    assert!(changed.get("secret").is_none() && changed.get("apiKey").is_none(), "never shown again");
    let refused = patch(json!({"url": "http://crm.example.com/h"})).await.unwrap();
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let rotated: Value = notifier
        .http
        .post(format!("{webhook}/rotate-secret"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(rotated["secret"].as_str().unwrap().starts_with("whsec_"));
    assert_ne!(rotated["secret"], created["secret"]);

    // A target answering 410 Gone: its delivery is dead and the webhook deactivated.
    let gone = axum::Router::new().route("/hook", axum::routing::post(|| async { StatusCode::GONE }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, gone).await });
    let moved: Value =
        patch(json!({"url": url, "insecure": true, "events": ["*"]})).await.unwrap().json().await.unwrap();
    assert_eq!(moved["url"], url.as_str());
    let pinged: Value = notifier
        .http
        .post(format!("{webhook}/ping"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (pinged["delivered"].clone(), pinged["status"].clone()),
        (json!(false), json!(410)),
        "{pinged}"
    );
    let (_, messages) = testkit::records::signed_messages(1, 1, "g");
    produce(&kafka, "audit.signed", &messages).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let dead = loop {
        let log: Value = notifier
            .http
            .get(format!("{webhook}/deliveries?status=dead"))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if !log["deliveries"].as_array().unwrap().is_empty() || Instant::now() > deadline {
            break log["deliveries"][0].clone();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(dead["lastStatus"], 410, "{dead}");
    // The attempt is recorded before the webhook is turned off: wait for the second step.
    let deadline = Instant::now() + Duration::from_secs(10);
    let now = loop {
        let now: Value =
            notifier.http.get(&webhook).bearer_auth(&admin).send().await.unwrap().json().await.unwrap();
        if now["active"] == false || Instant::now() > deadline {
            break now;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(now["active"], false, "a gone target deactivates its webhook");
    let retry = format!("{webhook}/deliveries/{}/retry", dead["id"].as_str().unwrap());
    let requeued = notifier.http.post(&retry).bearer_auth(&admin).send().await.unwrap();
    assert_eq!(requeued.status(), StatusCode::ACCEPTED);
    let again = notifier.http.post(&retry).bearer_auth(&admin).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::NOT_FOUND, "only a dead delivery is retried");
    let deleted = notifier.http.delete(&webhook).bearer_auth(&admin).send().await.unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    notifier.stop().await;

    // Every change is in the trail, in order, the 410's deactivation included, and no
    // event holds the key or a secret.
    let events = testkit::kafka::read_topic(&kafka, "audit.raw", 6, Duration::from_secs(30)).await;
    let events: Vec<Value> =
        events.iter().map(|event| serde_json::from_slice(&event.payload).unwrap()).collect();
    let changes: Vec<(&str, &str)> = events
        .iter()
        .map(|event| {
            (event["action"]["actionName"].as_str().unwrap(), event["actingUserId"]["id"].as_str().unwrap())
        })
        .collect();
    let admin_did = |action| (action, "admin@corp");
    assert_eq!(
        changes,
        [
            admin_did("createWebhook"),
            admin_did("updateWebhook"),
            admin_did("rotateWebhookSecret"),
            admin_did("updateWebhook"),
            ("updateWebhook", "webhook-notifier"),
            admin_did("deleteWebhook"),
        ]
    );
    for secret in [&created["apiKey"], &created["secret"], &rotated["secret"]] {
        assert!(events.iter().all(|event| !event.to_string().contains(secret.as_str().unwrap())));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_the_document_allows_gets_an_answer_it_describes() {
    let (broker, _storage) = broker().await;
    let notifier = start(&kafka(&broker).bootstrap).await;
    let mut ids = Vec::new();
    for _ in 0..5 {
        let (_, created) =
            notifier.create("t1", json!({"url": "https://crm.example.com/h", "events": ["*"]})).await;
        ids.push(created["id"].as_str().unwrap().to_owned());
    }
    let document: Value = notifier
        .http
        .get(format!("{}/openapi.json", notifier.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let strings =
        ["https://crm.example.com/h", "http://crm.example.com/h", "createUser", "*", "k-0123456789abcdef"];
    let check = testkit::openapi::Conformance {
        base: notifier.base.clone(),
        document,
        credentials: HashMap::from([(
            "bearer".to_owned(),
            format!("Bearer {}", notifier.token("t1", "ORG_ADMIN")),
        )]),
        path_values: HashMap::from([("tenant".to_owned(), vec!["t1".to_owned()]), ("id".to_owned(), ids)]),
        strings: strings.iter().map(|text| (*text).to_owned()).collect(),
        rounds: 40,
        seed: rand_seed(),
    };
    let report = check.check().await;
    for (operation, statuses) in &report.statuses {
        println!("{operation}: {statuses:?}");
    }
    for failure in report.failures.iter().take(10) {
        eprintln!("{failure:?}");
    }
    assert!(report.failures.is_empty(), "{} answers the document does not describe", report.failures.len());
    notifier.stop().await;
}

/// A seed for generated requests, printed; `AUDIT_OPENAPI_SEED` replays one.
fn rand_seed() -> u64 {
    let seed = std::env::var("AUDIT_OPENAPI_SEED").ok().and_then(|seed| seed.parse().ok());
    let seed = seed.unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64
    });
    println!("AUDIT_OPENAPI_SEED={seed}");
    seed
}
