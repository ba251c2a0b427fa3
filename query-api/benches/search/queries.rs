//! The five searches of the issue, each as a SCIM filter (query-api and floor) and as
//! the SQL condition the PostgreSQL peer would run, over the same tokenized records.
//!
//! Times are chosen against the data: Q2 is one day of the thirty, Q5 the last week.

use chrono::{DateTime, SecondsFormat};
use query_api::search::SortOrder;

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
pub fn all(target: &str, token: &str) -> Vec<Query> {
    let (q2_start, q2_end, q5) = (time(Q2_DAY), time(Q2_DAY + DAY), time(Q5_AFTER));
    let containing = |json: &str| format!("record @> '{json}'");
    vec![
        Query {
            name: "Q1",
            filter: "result eq RESPONSE_FAILURE".into(),
            order: SortOrder::Descending,
            sql: containing(r#"{"result":"RESPONSE_FAILURE"}"#),
            range: None,
        },
        Query {
            name: "Q2",
            filter: format!("created ge {q2_start} and created lt {q2_end}"),
            order: SortOrder::Ascending,
            sql: format!("created >= '{q2_start}' AND created < '{q2_end}'"),
            range: Some((Q2_DAY, Q2_DAY + DAY)),
        },
        Query {
            name: "Q3",
            filter: r#"(action.actionName eq "createUser" or action.actionName eq "deleteUser") and result eq RESPONSE_SUCCESS"#.into(),
            order: SortOrder::Ascending,
            sql: format!(
                "({} OR {}) AND {}",
                containing(r#"{"action":{"actionName":"createUser"}}"#),
                containing(r#"{"action":{"actionName":"deleteUser"}}"#),
                containing(r#"{"result":"RESPONSE_SUCCESS"}"#)
            ),
            range: None,
        },
        Query {
            name: "Q4",
            filter: format!("targetUserId.id eq \"{target}\""),
            order: SortOrder::Ascending,
            sql: containing(&format!(r#"{{"targetUserId":{{"id":"{token}"}}}}"#)),
            range: None,
        },
        Query {
            name: "Q5",
            filter: format!("action.actionName sw \"update\" and created gt {q5}"),
            order: SortOrder::Ascending,
            sql: format!("record->'action'->>'actionName' LIKE 'update%' AND created > '{q5}'"),
            range: Some((Q5_AFTER + 1, i64::MAX)),
        },
    ]
}

/// `millis` as an RFC 3339 time.
pub fn time(millis: i64) -> String {
    DateTime::from_timestamp_millis(millis)
        .expect("a time in range")
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}
