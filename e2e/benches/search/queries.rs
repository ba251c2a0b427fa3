//! The five searches of the issue, each as a SCIM filter (query-api and floor) and as
//! the SQL condition the PostgreSQL peer would run, over the same tokenized records.
//!
//! Times are chosen against the data: Q2 is one day of the thirty, Q5 the last week.

use audit_index::search::Order as SortOrder;
use chrono::{DateTime, SecondsFormat};

use crate::dataset::{BASE, DAY};

/// Q2's day: the fifteenth of thirty.
const Q2_DAY: i64 = BASE + 14 * DAY;
/// Q5's lower bound: the last seven days remain after it.
const Q5_AFTER: i64 = BASE + 23 * DAY;

/// One search, in each engine's terms.
pub struct Query {
    /// `Q1` .. `Q5`.
    pub name: &'static str,
    /// The SCIM filter.
    pub filter: String,
    /// Order by `created`.
    pub order: SortOrder,
    /// The SQL condition, ANDed with the tenant's.
    pub sql: String,
    /// For the naive floor: the `created` range `[start, end)` in ms, if the query has one.
    pub range: Option<(i64, i64)>,
}

/// The five searches; Q4 looks for `target` (clear in the filter, its `token` in SQL).
/// Q1 is newest first, Q2 oldest first as the issue says; the others use the API's
/// default order (ascending).
pub fn all(target: &str, token: &str) -> Vec<Query> {
    vec![failures(), one_day(), user_changes(), by_target(target, token), recent_updates()]
}

fn containing(json: &str) -> String {
    format!("record @> '{json}'")
}

fn failures() -> Query {
    Query {
        name: "Q1",
        filter: "result eq RESPONSE_FAILURE".into(),
        order: SortOrder::Descending,
        sql: containing(r#"{"result":"RESPONSE_FAILURE"}"#),
        range: None,
    }
}

fn one_day() -> Query {
    let (start, end) = (time(Q2_DAY), time(Q2_DAY + DAY));
    Query {
        name: "Q2",
        filter: format!("created ge {start} and created lt {end}"),
        order: SortOrder::Ascending,
        sql: format!("created >= '{start}' AND created < '{end}'"),
        range: Some((Q2_DAY, Q2_DAY + DAY)),
    }
}

fn user_changes() -> Query {
    let action = r#"action.actionName eq "createUser" or action.actionName eq "deleteUser""#;
    Query {
        name: "Q3",
        filter: format!("({action}) and result eq RESPONSE_SUCCESS"),
        order: SortOrder::Ascending,
        sql: format!(
            "({} OR {}) AND {}",
            containing(r#"{"action":{"actionName":"createUser"}}"#),
            containing(r#"{"action":{"actionName":"deleteUser"}}"#),
            containing(r#"{"result":"RESPONSE_SUCCESS"}"#)
        ),
        range: None,
    }
}

fn by_target(target: &str, token: &str) -> Query {
    Query {
        name: "Q4",
        filter: format!("targetUserId.id eq \"{target}\""),
        order: SortOrder::Ascending,
        // PostgreSQL holds the tokenized records: it is asked for the token.
        sql: containing(&format!(r#"{{"targetUserId":{{"id":"{token}"}}}}"#)),
        range: None,
    }
}

fn recent_updates() -> Query {
    let after = time(Q5_AFTER);
    Query {
        name: "Q5",
        filter: format!("action.actionName sw \"update\" and created gt {after}"),
        order: SortOrder::Ascending,
        sql: format!("record->'action'->>'actionName' LIKE 'update%' AND created > '{after}'"),
        range: Some((Q5_AFTER + 1, i64::MAX)),
    }
}

/// `millis` as an RFC 3339 time.
pub fn time(millis: i64) -> String {
    DateTime::from_timestamp_millis(millis)
        .expect("a time in range")
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}
