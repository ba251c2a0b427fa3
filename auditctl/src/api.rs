//! What `auditctl search` and `auditctl export` share: where the query-api is, the
//! bearer token (given, or minted from the local issuer like `auditctl token`), and
//! one reading of the query-api's refusals, so both commands say the same thing and
//! exit with the same codes: 1 when the query-api could not be reached, refused or
//! failed, 2 when the command could not run as given (nothing was asked then).
//!
//! A token never prints, not even in an error.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use audit_auth::issuer::TokenSpec;
use clap::Args;
use reqwest::{Response, StatusCode, Url};
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

/// Flags naming the query-api, the tenant and the credentials.
#[derive(Debug, Args)]
pub struct ApiArgs {
    /// Tenant whose records are read.
    #[arg(long)]
    tenant: String,
    /// Base URL of the query-api.
    #[arg(long, env = "AUDIT_QUERY_URL", default_value = "http://127.0.0.1:8080")]
    url: String,
    /// Bearer token (tenant --tenant, role ORG_ADMIN or M2M_CLIENT) [default: one
    /// minted from the local issuer in --data-dir].
    #[arg(long, env = "AUDIT_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Data directory of the stack, whose local issuer mints the token.
    #[arg(long, env = "AUDIT_DATA_DIR", default_value = "./data")]
    data_dir: PathBuf,
}

impl ApiArgs {
    /// The tenant asked for.
    pub fn tenant(&self) -> &str {
        &self.tenant
    }
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

/// A client of one tenant's AuditRecords API.
pub struct Api {
    client: reqwest::Client,
    records: Url,
    authorization: String,
}

impl Api {
    /// Checks the flags and gets the token; fails with [`Failure::Usage`] only.
    pub fn new(args: &ApiArgs, deadline: Deadline) -> Result<Api, Failure> {
        if args.tenant.trim().is_empty() {
            return Err(Failure::Usage("--tenant must not be empty".into()));
        }
        let records = records_url(&args.url, &args.tenant)?;
        let token = match &args.token {
            Some(token) => given_token(token)?,
            None => minted_token(args)?,
        };
        let mut builder = reqwest::Client::builder().connect_timeout(CONNECT_TIMEOUT);
        if let Deadline::Within(limit) = deadline {
            builder = builder.timeout(limit);
        }
        let client = builder.build().map_err(|error| Failure::Usage(format!("no http client: {error}")))?;
        Ok(Api { client, records, authorization: format!("Bearer {token}") })
    }

    /// `POST .../AuditRecords/{action}` with `body`; an answer other than 2xx is a
    /// [`Failure::Failed`] naming the status and the query-api's detail.
    pub async fn post(&self, action: &str, body: &Value) -> Result<Response, Failure> {
        let mut url = self.records.clone();
        url.path_segments_mut().expect("an http url has a path").push(action);
        let response = self
            .client
            .post(url)
            .header(reqwest::header::AUTHORIZATION, &self.authorization)
            .header(reqwest::header::CONTENT_TYPE, "application/scim+json")
            .json(body)
            .send()
            .await
            .map_err(|error| Failure::Failed(self.unreachable(&error)))?;
        if response.status().is_success() {
            return Ok(response);
        }
        Err(Failure::Failed(refusal(response).await))
    }

    /// What a transport error means for the user.
    pub fn unreachable(&self, error: &reqwest::Error) -> String {
        let base = self.base();
        if error.is_timeout() {
            return format!("the query-api at {base} did not answer in time");
        }
        let cause = root_cause(error);
        if error.is_connect() {
            return format!("cannot reach the query-api at {base}: {cause} (is `auditctl up` running?)");
        }
        format!("the call to the query-api at {base} failed: {cause}")
    }

    /// Scheme, host and port: where the query-api is, without the tenant's path.
    fn base(&self) -> String {
        self.records.origin().ascii_serialization()
    }
}

/// `{url}/scim/{tenant}/v2/AuditRecords`, the tenant escaped as a path segment.
fn records_url(url: &str, tenant: &str) -> Result<Url, Failure> {
    let bad = |reason: &str| Failure::Usage(format!("--url {url}: {reason}"));
    let mut parsed = Url::parse(url).map_err(|error| bad(&error.to_string()))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.cannot_be_a_base() {
        return Err(bad("must be an http:// or https:// url"));
    }
    parsed.set_query(None);
    parsed.set_fragment(None);
    parsed.path_segments_mut().expect("an http url has a path").pop_if_empty().extend([
        "scim",
        tenant,
        "v2",
        "AuditRecords",
    ]);
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
fn minted_token(args: &ApiArgs) -> Result<String, Failure> {
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
async fn refusal(response: Response) -> String {
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
            "the query-api refused the token ({status_text}: {detail}); pass a valid --token, or \
             leave it out to mint one from the stack's --data-dir"
        ),
        StatusCode::FORBIDDEN => format!("the query-api refused access ({status_text}): {detail}"),
        _ => format!("the query-api answered {status_text}: {detail}"),
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
        let url = records_url("http://127.0.0.1:8080/", "a b/c").unwrap();
        assert_eq!(url.as_str(), "http://127.0.0.1:8080/scim/a%20b%2Fc/v2/AuditRecords");
        let url = records_url("https://audit.example/api?x=1", "t1").unwrap();
        assert_eq!(url.as_str(), "https://audit.example/api/scim/t1/v2/AuditRecords");
        assert!(matches!(records_url("ftp://x", "t1"), Err(Failure::Usage(_))));
        assert!(matches!(records_url("127.0.0.1:8080", "t1"), Err(Failure::Usage(_))));
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
