//! `auditctl search`: one page of a tenant's records from the query-api, printed as
//! the SCIM ListResponse (pretty JSON) on stdout, so it pipes into `jq`.
//!
//! The records come back as the API gives them: personal data revealed in clear,
//! and with `--verify` each one's signature and chain link checked
//! (`integrityStatus`). Exit codes are [`crate::api`]'s.

use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, ValueEnum};
use serde_json::{Value, json};

use crate::api::{Api, ApiArgs, Deadline, Failure};

/// SCIM SearchRequest schema.
const SEARCH_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
/// A search answers within the query-api's own time limit; this only guards a hung
/// connection.
const SEARCH_DEADLINE: Duration = Duration::from_secs(60);
/// The filter term that asks for verification.
const VERIFY: &str = "verify eq true";

/// Flags of `auditctl search`.
#[derive(Debug, Args)]
pub struct SearchArgs {
    #[command(flatten)]
    api: ApiArgs,
    /// SCIM filter (RFC 7644), e.g. 'action.actionName eq "createUser"'; tokenized
    /// attributes are searched by their clear value [default: every record].
    #[arg(long)]
    filter: Option<String>,
    /// Records on the page, at most 100 (0 gives only totalResults).
    #[arg(long, value_parser = clap::value_parser!(u32).range(0..=100))]
    count: Option<u32>,
    /// 1-based index of the first record on the page.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..), conflicts_with = "cursor")]
    start_index: Option<u32>,
    /// Page by cursor (RFC 9865): `''` for the first page, then the `nextCursor` the
    /// page before printed. A walk by cursor holds the records searchable when it
    /// began, whatever arrives meanwhile.
    #[arg(long)]
    cursor: Option<String>,
    /// Leave personal values as their tokens: no call to the vault, no reveal recorded.
    #[arg(long)]
    tokens: bool,
    /// Order by creation time [default: asc].
    #[arg(long, value_enum)]
    sort_order: Option<SortOrder>,
    /// Verify each record's signature and chain link: `integrityStatus` says
    /// `validated` or `tainted` (adds `and verify eq true` to the filter).
    #[arg(long)]
    verify: bool,
}

/// Order of the page by `created`.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum SortOrder {
    /// Oldest first.
    Asc,
    /// Newest first.
    Desc,
}

/// Searches and prints the page; the exit code says how it went (module docs).
pub async fn run(args: SearchArgs) -> ExitCode {
    match search(&args).await {
        Ok(page) => {
            // A ListResponse always serializes; printing it cannot fail short of a closed stdout.
            println!("{}", serde_json::to_string_pretty(&page).unwrap_or_default());
            ExitCode::SUCCESS
        }
        Err(failure) => failure.report(),
    }
}

async fn search(args: &SearchArgs) -> Result<Value, Failure> {
    let api = Api::new(&args.api, Deadline::Within(SEARCH_DEADLINE))?;
    let response = api.post(".search", &request(args)).await?;
    let page: Value = response.json().await.map_err(|error| {
        Failure::Failed(format!("the query-api's answer is not a list response: {error}"))
    })?;
    if page.get("Resources").is_none_or(|resources| !resources.is_array()) {
        return Err(Failure::Failed("the query-api's answer is not a list response: no Resources".into()));
    }
    Ok(page)
}

/// The SearchRequest body; absent flags stay absent, so the API's defaults apply.
fn request(args: &SearchArgs) -> Value {
    let mut body = json!({ "schemas": [SEARCH_REQUEST] });
    if let Some(filter) = filter(args.filter.as_deref(), args.verify) {
        body["filter"] = filter.into();
    }
    if let Some(count) = args.count {
        body["count"] = count.into();
    }
    if let Some(start_index) = args.start_index {
        body["startIndex"] = start_index.into();
    }
    if let Some(cursor) = &args.cursor {
        body["cursor"] = cursor.as_str().into();
    }
    if args.tokens {
        body["detokenize"] = false.into();
    }
    if let Some(order) = args.sort_order {
        body["sortBy"] = "created".into();
        body["sortOrder"] = match order {
            SortOrder::Asc => "ascending",
            SortOrder::Desc => "descending",
        }
        .into();
    }
    body
}

/// The filter sent: `verify eq true` joins at the top level, where the API looks for
/// it; the user's filter is bracketed so an `or` in it keeps its meaning.
fn filter(given: Option<&str>, verify: bool) -> Option<String> {
    let given = given.map(str::trim).filter(|filter| !filter.is_empty());
    match (given, verify) {
        (Some(filter), true) => Some(format!("({filter}) and {VERIFY}")),
        (Some(filter), false) => Some(filter.to_owned()),
        (None, true) => Some(VERIFY.to_owned()),
        (None, false) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verify_joins_the_filter_at_its_top_level() {
        assert_eq!(filter(None, false), None);
        assert_eq!(filter(Some("  "), false), None);
        assert_eq!(filter(None, true).as_deref(), Some("verify eq true"));
        assert_eq!(filter(Some("host eq \"h\""), false).as_deref(), Some("host eq \"h\""));
        assert_eq!(
            filter(Some("result eq \"x\" or host eq \"h\""), true).as_deref(),
            Some("(result eq \"x\" or host eq \"h\") and verify eq true")
        );
    }
}
