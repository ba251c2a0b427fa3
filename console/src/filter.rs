//! The events page's filter builder: the fields an administrator fills in (event
//! type, result, time range, target or acting user by clear value, a free SCIM
//! filter) become one SCIM filter for the query-api, which resolves clear values
//! through the vault and says what is wrong with a free filter.
//!
//! Guarantee: a value typed in a field is always one quoted SCIM string (quotes and
//! backslashes escaped), so no field can change the filter's structure; only the free
//! filter is SCIM syntax, and it is parenthesized whole.

use serde::{Deserialize, Serialize};

/// What the filter form holds; empty fields are absent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventFilter {
    /// `action.actionName`, from the catalogue.
    #[serde(default, rename = "type")]
    pub event_type: String,
    /// `result`.
    #[serde(default)]
    pub result: String,
    /// From (inclusive), `YYYY-MM-DDTHH:MM` as a browser's datetime field gives it, UTC.
    #[serde(default)]
    pub from: String,
    /// To (exclusive), as `from`.
    #[serde(default)]
    pub to: String,
    /// `targetUserId.id`, the clear value.
    #[serde(default)]
    pub target: String,
    /// `actingUserId.id`, the clear value.
    #[serde(default)]
    pub actor: String,
    /// Any SCIM filter, joined to the rest with `and`.
    #[serde(default)]
    pub filter: String,
}

/// A field that cannot become part of a filter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    /// A time field that is not a date and time.
    #[error("{field} is not a date and time (YYYY-MM-DDTHH:MM, UTC)")]
    BadTime {
        /// Which field.
        field: &'static str,
    },
}

impl EventFilter {
    /// The SCIM filter of the filled fields; `None` when all are empty.
    pub fn scim(&self) -> Result<Option<String>, FilterError> {
        let mut parts = Vec::new();
        let mut equal = |path: &str, value: &str| {
            if !value.trim().is_empty() {
                parts.push(format!("{path} eq {}", quoted(value.trim())));
            }
        };
        equal("action.actionName", &self.event_type);
        equal("result", &self.result);
        equal("targetUserId.id", &self.target);
        equal("actingUserId.id", &self.actor);
        if let Some(from) = instant(&self.from, "from")? {
            parts.push(format!("created ge {}", quoted(&from)));
        }
        if let Some(to) = instant(&self.to, "to")? {
            parts.push(format!("created lt {}", quoted(&to)));
        }
        if !self.filter.trim().is_empty() {
            parts.push(format!("({})", self.filter.trim()));
        }
        Ok((!parts.is_empty()).then(|| parts.join(" and ")))
    }
}

/// `value` as a SCIM string literal: a JSON string, control characters included.
fn quoted(value: &str) -> String {
    serde_json::Value::from(value).to_string()
}

/// A datetime field as RFC 3339, UTC; seconds optional.
pub(crate) fn instant(value: &str, field: &'static str) -> Result<Option<String>, FilterError> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    let parsed = chrono::NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M")
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M:%S"))
        .map_err(|_| FilterError::BadTime { field })?;
    Ok(Some(parsed.and_utc().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_become_one_filter_whose_structure_no_value_changes() {
        let cases = [
            (EventFilter::default(), Ok(None)),
            (
                EventFilter {
                    event_type: "createUser".into(),
                    result: "RESPONSE_SUCCESS".into(),
                    ..Default::default()
                },
                Ok(Some(r#"action.actionName eq "createUser" and result eq "RESPONSE_SUCCESS""#.into())),
            ),
            (
                EventFilter { target: r#"a" or "1" eq "1"#.into(), ..Default::default() },
                Ok(Some(r#"targetUserId.id eq "a\" or \"1\" eq \"1""#.into())),
            ),
            (
                EventFilter {
                    from: "2026-12-01T08:30".into(),
                    to: "2026-12-02T00:00:00".into(),
                    ..Default::default()
                },
                Ok(Some(r#"created ge "2026-12-01T08:30:00Z" and created lt "2026-12-02T00:00:00Z""#.into())),
            ),
            (
                EventFilter {
                    actor: "ops@corp".into(),
                    filter: "host pr or message co \"x\"".into(),
                    ..Default::default()
                },
                Ok(Some(r#"actingUserId.id eq "ops@corp" and (host pr or message co "x")"#.into())),
            ),
            (
                EventFilter { target: "tab\there".into(), ..Default::default() },
                Ok(Some(r#"targetUserId.id eq "tab\there""#.into())),
            ),
            (
                EventFilter { from: "yesterday".into(), ..Default::default() },
                Err(FilterError::BadTime { field: "from" }),
            ),
        ];
        for (filter, expected) in cases {
            assert_eq!(filter.scim(), expected, "{filter:?}");
        }
    }
}
