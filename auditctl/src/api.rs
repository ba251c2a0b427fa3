//! What the commands calling a service's API share (`search` and `export` the
//! query-api, `webhooks` the notifier): where the service is, the bearer token (given,
//! or minted from the local issuer like `auditctl token`), and one reading of the
//! service's refusals, so every command says the same thing and exits with the same
//! codes: 1 when the service could not be reached, refused or failed, 2 when the
//! command could not run as given (nothing was asked then).
//!
//! A token never prints, not even in an error.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use audit_auth::issuer::TokenSpec;
use clap::Args;
use reqwest::{Method, Response, StatusCode, Url};
use serde_json::Value;

/// Lifetime of a minted token: one command's worth.
const MINTED_TTL_SECONDS: u64 = 300;
/// Who a minted token says acts.
const MINTED_SUBJECT: &str = "auditctl";
/// The role a minted token claims: reads any record of its tenant.
const MINTED_ROLE: &str = "ORG_ADMIN";
/// Longest wait for a connection; an unreachable address fails fast.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Most characters of a non-SCIM error body quoted back (a proxy's error page).
const QUOTED_BODY_CHARS: usize = 200;

/// A service `auditctl` calls: its name in messages and the media type it reads.
#[derive(Debug, Clone, Copy)]
pub struct Service {
    /// As messages name it.
    pub name: &'static str,
    /// `Content-Type` of request bodies.
    pub content_type: &'static str,
}

/// The query-api (SCIM).
pub const QUERY_API: Service = Service { name: "query-api", content_type: "application/scim+json" };
/// The notifier's management API.
pub const NOTIFIER: Service = Service { name: "notifier", content_type: "application/json" };

/// Flags naming the tenant and the credentials, the same for every service.
#[derive(Debug, Args)]
pub struct Credentials {
    /// Tenant whose data is read or changed.
    #[arg(long)]
    tenant: String,
    /// Bearer token (tenant --tenant, role ORG_ADMIN or M2M_CLIENT) [default: one
    /// minted from the local issuer in --data-dir].
    #[arg(long, env = "AUDIT_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Data directory of the stack, whose local issuer mints the token.
    #[arg(long, env = "AUDIT_DATA_DIR", default_value = "./data")]
    data_dir: PathBuf,
}

impl Credentials {
    /// The tenant asked for.
    pub fn tenant(&self) -> &str {
        &self.tenant
    }
}

/// Flags naming the query-api, the tenant and the credentials.
#[derive(Debug, Args)]
pub struct ApiArgs {
    /// Tenant and credentials.
    #[command(flatten)]
    credentials: Credentials,
    /// Base URL of the query-api.
    #[arg(long, env = "AUDIT_QUERY_URL", default_value = "http://127.0.0.1:8080")]
    url: String,
}

impl ApiArgs {
    /// The tenant asked for.
    pub fn tenant(&self) -> &str {
        self.credentials.tenant()
    }

    /// The stack's data directory.
    pub fn data_dir(&self) -> &std::path::Path {
        &self.credentials.data_dir
    }
}

/// Where an [`Api`] points: a service, its base URL, the path of the resources the
/// command works on (the tenant in it) and the credentials.
pub struct Target<'a> {
    /// The service.
    pub service: Service,
    /// Its base URL as given.
    pub url: &'a str,
    /// Path segments of the resources under the base URL.
    pub path: &'a [&'a str],
    /// Tenant and token.
    pub credentials: &'a Credentials,
}

/// Why a command failed; decides the exit code.
#[derive(Debug)]
pub enum Failure {
    /// The command could not run as given; nothing was asked of the query-api.
    Usage(String),
    /// The query-api could not be reached, refused or failed, or the output could
    /// not be completed.
    Failed(String),
}

impl Failure {
    /// Prints the message and gives the exit code (2 for usage, 1 otherwise).
    pub fn report(self) -> ExitCode {
        let (message, code) = match self {
            Failure::Usage(message) => (message, 2),
            Failure::Failed(message) => (message, 1),
        };
        eprintln!("auditctl: {message}");
        ExitCode::from(code)
    }
}

/// How long one call may take in all.
#[derive(Debug, Clone, Copy)]
pub enum Deadline {
    /// At most this long, answer included.
    Within(Duration),
    /// As long as the answer streams (an export); connecting is still bounded.
    Streaming,
}

/// A client of one tenant's resources in one service.
pub struct Api {
    client: reqwest::Client,
    root: Url,
    authorization: String,
    service: Service,
}

impl Api {
    /// The query-api's AuditRecords of the flags' tenant; fails with
    /// [`Failure::Usage`] only.
    pub fn new(args: &ApiArgs, deadline: Deadline) -> Result<Api, Failure> {
        let tenant = args.credentials.tenant.as_str();
        let path = ["scim", tenant, "v2", "AuditRecords"];
        let target =
            Target { service: QUERY_API, url: &args.url, path: &path, credentials: &args.credentials };
        Api::connect(&target, deadline)
    }

    /// Checks the flags and gets the token; fails with [`Failure::Usage`] only.
    pub fn connect(target: &Target<'_>, deadline: Deadline) -> Result<Api, Failure> {
        let credentials = target.credentials;
        if credentials.tenant.trim().is_empty() {
            return Err(Failure::Usage("--tenant must not be empty".into()));
        }
        let root = resource_url(target.url, target.path)?;
        let token = match &credentials.token {
            Some(token) => given_token(token)?,
            None => minted_token(credentials)?,
        };
        let mut builder = reqwest::Client::builder().connect_timeout(CONNECT_TIMEOUT);
        if let Deadline::Within(limit) = deadline {
            builder = builder.timeout(limit);
        }
        let client = builder.build().map_err(|error| Failure::Usage(format!("no http client: {error}")))?;
        Ok(Api { client, root, authorization: format!("Bearer {token}"), service: target.service })
    }

    /// `POST {root}/{action}` with `body`.
    pub async fn post(&self, action: &str, body: &Value) -> Result<Response, Failure> {
        self.send(Method::POST, &[action], Some(body)).await
    }

    /// `method` on `{root}/{segments...}` with `body`; an answer other than 2xx is a
    /// [`Failure::Failed`] naming the status and the service's detail.
    pub async fn send(
        &self,
        method: Method,
        segments: &[&str],
        body: Option<&Value>,
    ) -> Result<Response, Failure> {
        let mut request = self.request(method, segments);
        if let Some(body) = body {
            request = request.header(reqwest::header::CONTENT_TYPE, self.service.content_type).json(body);
        }
        self.execute(request).await
    }

    /// `GET {root}/{segments...}?{query}`, answered as [`Api::send`] is.
    pub async fn get(&self, segments: &[&str], query: &[(&str, &str)]) -> Result<Response, Failure> {
        self.execute(self.request(Method::GET, segments).query(query)).await
    }

    fn request(&self, method: Method, segments: &[&str]) -> reqwest::RequestBuilder {
        let mut url = self.root.clone();
        url.path_segments_mut().expect("an http url has a path").extend(segments);
        self.client.request(method, url).header(reqwest::header::AUTHORIZATION, &self.authorization)
    }

    async fn execute(&self, request: reqwest::RequestBuilder) -> Result<Response, Failure> {
        let response = request.send().await.map_err(|error| Failure::Failed(self.unreachable(&error)))?;
        if response.status().is_success() {
            return Ok(response);
        }
        Err(Failure::Failed(refusal(response, self.service).await))
    }

    /// What a transport error means for the user.
    pub fn unreachable(&self, error: &reqwest::Error) -> String {
        let (base, name) = (self.base(), self.service.name);
        if error.is_timeout() {
            return format!("the {name} at {base} did not answer in time");
        }
        let cause = root_cause(error);
        if error.is_connect() {
            return format!("cannot reach the {name} at {base}: {cause} (is `auditctl up` running?)");
        }
        format!("the call to the {name} at {base} failed: {cause}")
    }

    /// Scheme, host and port: where the service is, without the tenant's path.
    fn base(&self) -> String {
        self.root.origin().ascii_serialization()
    }
}

/// `{url}/{path...}`, each segment escaped (a tenant is one segment).
fn resource_url(url: &str, path: &[&str]) -> Result<Url, Failure> {
    let bad = |reason: &str| Failure::Usage(format!("--url {url}: {reason}"));
    let mut parsed = Url::parse(url).map_err(|error| bad(&error.to_string()))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.cannot_be_a_base() {
        return Err(bad("must be an http:// or https:// url"));
    }
    parsed.set_query(None);
    parsed.set_fragment(None);
    parsed.path_segments_mut().expect("an http url has a path").pop_if_empty().extend(path);
    Ok(parsed)
}

/// The token as given; `Bearer ` in front is tolerated (a pasted header value).
fn given_token(token: &str) -> Result<String, Failure> {
    let token = token.trim();
    let token = match token.split_once(' ') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
        _ => token,
    };
    if token.is_empty() || token.contains(char::is_whitespace) {
        return Err(Failure::Usage("--token must be one bearer token (a JWT)".into()));
    }
    Ok(token.to_owned())
}

/// A short-lived token of the local issuer, which must already exist: a key made
/// here would sign tokens no running stack trusts.
fn minted_token(args: &Credentials) -> Result<String, Failure> {
    let path = crate::up::local_issuer_path(&args.data_dir);
    if !path.exists() {
        return Err(Failure::Usage(format!(
            "no local token issuer in {} (start `auditctl up --data-dir {0}` once, or pass --token)",
            args.data_dir.display()
        )));
    }
    let issuer =
        crate::up::local_issuer(&args.data_dir).map_err(|error| Failure::Usage(format!("{error:#}")))?;
    let roles = [MINTED_ROLE.to_owned()];
    let spec = TokenSpec {
        subject: MINTED_SUBJECT,
        tenant: &args.tenant,
        roles: &roles,
        ttl_seconds: MINTED_TTL_SECONDS,
    };
    Ok(issuer.mint(&spec))
}

/// The message of a refusal: the status, what it means here, the SCIM detail.
async fn refusal(response: Response, service: Service) -> String {
    let name = service.name;
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    let scim: Option<Value> = serde_json::from_str(&text).ok();
    let field = |name: &str| scim.as_ref().and_then(|body| body[name].as_str()).map(str::to_owned);
    let detail = field("detail").unwrap_or_else(|| quoted(&text));
    // "400 invalidFilter", else "503 service unavailable".
    let status_text = match (field("scimType"), status.canonical_reason()) {
        (Some(scim_type), _) => format!("{} {scim_type}", status.as_u16()),
        (None, Some(reason)) => format!("{} {}", status.as_u16(), reason.to_lowercase()),
        (None, None) => status.as_u16().to_string(),
    };
    match status {
        StatusCode::UNAUTHORIZED => format!(
            "the {name} refused the token ({status_text}: {detail}); pass a valid --token, or \
             leave it out to mint one from the stack's --data-dir"
        ),
        StatusCode::FORBIDDEN => format!("the {name} refused access ({status_text}): {detail}"),
        _ => format!("the {name} answered {status_text}: {detail}"),
    }
}

/// The start of a non-SCIM body, on one line.
fn quoted(text: &str) -> String {
    let line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match line.char_indices().nth(QUOTED_BODY_CHARS) {
        Some((end, _)) => format!("{}...", &line[..end]),
        None if line.is_empty() => "no detail given".into(),
        None => line,
    }
}

/// The innermost cause, lowercased like our messages ("connection refused").
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    lowercase_first(&cause.to_string())
}

/// `message` with a lowercase first letter, as our messages are ("no such file").
pub fn lowercase_first(message: &str) -> String {
    let mut chars = message.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tenant_is_one_escaped_path_segment() {
        let records = |tenant| ["scim", tenant, "v2", "AuditRecords"];
        let url = resource_url("http://127.0.0.1:8080/", &records("a b/c")).unwrap();
        assert_eq!(url.as_str(), "http://127.0.0.1:8080/scim/a%20b%2Fc/v2/AuditRecords");
        let url = resource_url("https://audit.example/api?x=1", &records("t1")).unwrap();
        assert_eq!(url.as_str(), "https://audit.example/api/scim/t1/v2/AuditRecords");
        assert!(matches!(resource_url("ftp://x", &records("t1")), Err(Failure::Usage(_))));
        assert!(matches!(resource_url("127.0.0.1:8080", &records("t1")), Err(Failure::Usage(_))));
    }

    #[test]
    fn a_pasted_header_value_is_a_token() {
        assert_eq!(given_token("Bearer abc.def.ghi").unwrap(), "abc.def.ghi");
        assert_eq!(given_token(" abc.def.ghi\n").unwrap(), "abc.def.ghi");
        assert!(given_token("two words").is_err());
        assert!(given_token("").is_err());
    }

    #[test]
    fn long_error_pages_are_cut() {
        let quoted = quoted(&format!("<html>\n{}</html>", "x".repeat(500)));
        assert!(quoted.len() < 210 && quoted.ends_with("..."), "{quoted}");
        assert_eq!(super::quoted("  "), "no detail given");
    }
}
