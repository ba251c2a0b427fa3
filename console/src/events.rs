//! Audit events: the filter builder, the table (time, event type, result, target,
//! actor, integrity), cursor paging in either order, and a record's page with every
//! attribute and its JSON. Records show tokens; clear values are revealed only when
//! the administrator asks, for one page or one record, through a form (a POST: a
//! reveal is an access the vault records in the trail, never a link a crawler or a
//! prefetch could follow).

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::Value;

use crate::client::{ApiError, PageRequest, encode};
use crate::filter::EventFilter;
use crate::page::{Section, badge, error, page, respond, text};
use crate::session::{Posted, Session, SignedIn};
use crate::{Console, signed_out_response};

/// Records per page.
const PAGE: u32 = 25;

/// The events page's query: the filter fields, the page's cursor, the order, verify.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct EventsQuery {
    /// The filter fields.
    #[serde(flatten)]
    pub filter: EventFilter,
    /// The cursor of this page (empty: the first).
    #[serde(default)]
    pub cursor: String,
    /// `desc` for newest first.
    #[serde(default)]
    pub order: String,
    /// `on` to verify each record's signature.
    #[serde(default)]
    pub verify: String,
}

impl EventsQuery {
    fn descending(&self) -> bool {
        self.order != "asc"
    }

    /// The search's fields by name, at `cursor`: what a page link and a reveal carry.
    fn fields<'a>(&'a self, cursor: &'a str) -> [(&'static str, &'a str); 10] {
        let filter = &self.filter;
        [
            ("type", &filter.event_type),
            ("result", &filter.result),
            ("from", &filter.from),
            ("to", &filter.to),
            ("target", &filter.target),
            ("actor", &filter.actor),
            ("filter", &filter.filter),
            ("order", &self.order),
            ("verify", &self.verify),
            ("cursor", cursor),
        ]
    }

    /// The query string of this search at `cursor`.
    fn link(&self, cursor: &str) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (name, value) in self.fields(cursor).into_iter().filter(|(_, value)| !value.is_empty()) {
            query.append_pair(name, value);
        }
        format!("/console/events?{}", query.finish())
    }
}

/// `GET /console/events`: the page with tokens.
pub async fn list(
    State(console): State<Console>,
    SignedIn(session): SignedIn,
    Query(query): Query<EventsQuery>,
) -> Response {
    render(&console, &session, query, false).await
}

/// `POST /console/events/reveal`: the same page, clear values revealed.
pub async fn reveal(
    State(console): State<Console>,
    Posted(session): Posted,
    Form(query): Form<EventsQuery>,
) -> Response {
    render(&console, &session, query, true).await
}

async fn render(console: &Console, session: &Session, query: EventsQuery, reveal: bool) -> Response {
    let filter = match query.filter.scim() {
        Ok(filter) => filter,
        Err(problem) => return events_page(session, &query, Err(problem.to_string()), reveal),
    };
    let filter = match (filter, query.verify == "on") {
        (Some(filter), true) => Some(format!("({filter}) and verify eq true")),
        (None, true) => Some("verify eq true".to_owned()),
        (filter, false) => filter,
    };
    let request = PageRequest {
        filter,
        cursor: query.cursor.clone(),
        descending: query.descending(),
        reveal,
        count: PAGE,
    };
    match console.apis.records(session, &request).await {
        Err(ApiError::SignedOut(reason)) => signed_out_response(&reason),
        answer => events_page(session, &query, answer.map_err(|error| error.to_string()), reveal),
    }
}

fn events_page(
    session: &Session,
    query: &EventsQuery,
    answer: Result<Value, String>,
    reveal: bool,
) -> Response {
    let body = html! {
        h1 { "Audit events" }
        (filter_form(query))
        @match &answer {
            Err(problem) => (error(problem)),
            Ok(found) => (results(query, found, reveal)),
        }
    };
    let status = if answer.is_ok() { StatusCode::OK } else { StatusCode::BAD_REQUEST };
    respond(status, page("Audit events", Section::Events, Some(session), body))
}

fn filter_form(query: &EventsQuery) -> Markup {
    let filter = &query.filter;
    html! {
        form.filters method="get" action="/console/events" aria-label="Filter audit events" {
            label { "Event type"
                select name="type" {
                    option value="" { "Any" }
                    @for name in event_types() {
                        option value=(name) selected[name == filter.event_type] { (name) }
                    }
                }
            }
            label { "Result"
                select name="result" {
                    option value="" { "Any" }
                    @for result in ["RESPONSE_SUCCESS", "RESPONSE_FAILURE"] {
                        option value=(result) selected[result == filter.result] { (result) }
                    }
                }
            }
            label { "From (UTC)" input type="datetime-local" name="from" value=(filter.from); }
            label { "To (UTC)" input type="datetime-local" name="to" value=(filter.to); }
            label { "Target user (clear value)" input type="text" name="target" value=(filter.target) autocomplete="off"; }
            label { "Acting user (clear value)" input type="text" name="actor" value=(filter.actor) autocomplete="off"; }
            label { "SCIM filter" input type="text" name="filter" value=(filter.filter) placeholder="message co \"reset\"" autocomplete="off"; }
            label { "Order"
                select name="order" {
                    option value="desc" selected[query.order != "asc"] { "Newest first" }
                    option value="asc" selected[query.order == "asc"] { "Oldest first" }
                }
            }
            label { "Verify signatures"
                select name="verify" {
                    option value="" { "No" }
                    option value="on" selected[query.verify == "on"] { "Yes" }
                }
            }
            div.actions { button type="submit" { "Search" } }
        }
    }
}

/// Every event type of the catalogue, for the filter's select.
fn event_types() -> Vec<&'static str> {
    let mut names: Vec<&str> = audit_schemas::actions::seed_action_names()
        .chain(audit_schemas::actions::TRAIL.iter().copied())
        .collect();
    names.sort_unstable();
    names
}

fn results(query: &EventsQuery, found: &Value, reveal: bool) -> Markup {
    let records = found["Resources"].as_array().cloned().unwrap_or_default();
    html! {
        div.actions {
            p { strong { (found["totalResults"]) } " matching records" }
            form method="post" action="/console/events/reveal" {
                (hidden(query))
                button.secondary type="submit" { "Reveal clear values on this page" }
            }
        }
        @if reveal {
            p.notice role="status" { "Clear values revealed. The vault recorded this reveal in the trail as a detokenizeTokens event." }
        }
        table {
            caption.muted { "Tokens stand for personal values until revealed" }
            thead { tr { th scope="col" { "Time (UTC)" } th scope="col" { "Event type" } th scope="col" { "Result" } th scope="col" { "Target" } th scope="col" { "Actor" } th scope="col" { "Integrity" } } }
            tbody {
                @for record in &records {
                    tr {
                        td.nowrap { (text(&record["created"])) }
                        td { a href={ "/console/events/" (encode(&text(&record["id"]))) } { (text(&record["action"]["actionName"])) } }
                        td.nowrap { (text(&record["result"])) }
                        td.value { (text(&record["targetUserId"]["id"])) }
                        td.value { (text(&record["actingUserId"]["id"])) }
                        td { (row_badge(record, query.verify == "on")) }
                    }
                }
            }
        }
        nav.actions aria-label="Pages" {
            @if !query.cursor.is_empty() { a href=(query.link("")) { "First page" } }
            @if let Some(next) = found["nextCursor"].as_str() { a href=(query.link(next)) rel="next" { "Next page" } }
        }
    }
}

/// A row's integrity: a search without verification checks no signature, which the
/// row says rather than show every record as if its check had failed.
fn row_badge(record: &Value, verified: bool) -> Markup {
    match record["integrityStatus"].as_str().unwrap_or_default() {
        "unverified" if !verified => html! {
            span.badge.unverified title="Choose Verify signatures: Yes to check them" { "not checked" }
        },
        status => badge(status),
    }
}

/// The search's fields as hidden inputs, so a reveal shows the same page.
fn hidden(query: &EventsQuery) -> Markup {
    let fields = query.fields(&query.cursor);
    html! { @for (name, value) in fields { input type="hidden" name=(name) value=(value); } }
}

/// `GET /console/events/{id}`: one record, tokens in place, its signature checked.
pub async fn record(
    State(console): State<Console>,
    SignedIn(session): SignedIn,
    Path(id): Path<String>,
) -> Response {
    record_page(&console, &session, &id, false).await
}

/// `POST /console/events/{id}/reveal`: the record with clear values.
pub async fn reveal_record(
    State(console): State<Console>,
    Posted(session): Posted,
    Path(id): Path<String>,
) -> Response {
    record_page(&console, &session, &id, true).await
}

async fn record_page(console: &Console, session: &Session, id: &str, reveal: bool) -> Response {
    let answer = match console.apis.record(session, id, reveal).await {
        Err(ApiError::SignedOut(reason)) => return signed_out_response(&reason),
        answer => answer,
    };
    let body = html! {
        p { a href="/console/events" { "← Audit events" } }
        @match &answer {
            Err(problem) => { h1 { "Record" } (error(&problem.to_string())) }
            Ok(record) => {
                h1 { (text(&record["action"]["actionName"])) " · " (text(&record["created"])) }
                div.actions {
                    (badge(record["integrityStatus"].as_str().unwrap_or_default()))
                    form method="post" action={ "/console/events/" (encode(id)) "/reveal" } {
                        button.secondary type="submit" { "Reveal clear values" }
                    }
                }
                @if reveal { p.notice role="status" { "Clear values revealed; the reveal is recorded in the trail." } }
                dl.record { @for (path, value) in attributes(record) { dt { (path) } dd { (value) } } }
                h2 { "JSON" }
                pre { (serde_json::to_string_pretty(record).unwrap_or_default()) }
            }
        }
    };
    let status = answer.as_ref().map_or_else(ApiError::status, |_| StatusCode::OK);
    respond(status, page("Record", Section::Events, Some(session), body))
}

/// Every scalar attribute of `record` with its dotted path, in document order.
pub fn attributes(record: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    walk("", record, &mut out);
    out
}

fn walk(prefix: &str, value: &Value, out: &mut Vec<(String, String)>) {
    match value {
        Value::Object(members) => {
            for (name, member) in members {
                let path = if prefix.is_empty() { name.clone() } else { format!("{prefix}.{name}") };
                walk(&path, member, out);
            }
        }
        Value::Array(items) => {
            let joined = items.iter().map(text).collect::<Vec<_>>().join(", ");
            out.push((prefix.to_owned(), joined));
        }
        Value::Null => {}
        scalar => out.push((prefix.to_owned(), text(scalar))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_lists_every_attribute_by_path() {
        let record = serde_json::json!({
            "id": "r1", "action": {"actionName": "createUser", "actionParameters": {"USN": "tok"}},
            "schemas": ["a", "b"], "message": null,
        });
        let paths: Vec<(String, String)> = attributes(&record);
        let expected = [
            ("action.actionName", "createUser"),
            ("action.actionParameters.USN", "tok"),
            ("id", "r1"),
            ("schemas", "a, b"),
        ];
        assert_eq!(paths, expected.map(|(path, value)| (path.to_owned(), value.to_owned())));
    }

    #[test]
    fn a_page_link_keeps_the_search_and_moves_the_cursor() {
        let query = EventsQuery {
            filter: EventFilter {
                event_type: "createUser".into(),
                target: "a b@c".into(),
                ..Default::default()
            },
            order: "asc".into(),
            ..Default::default()
        };
        assert_eq!(query.link("xyz"), "/console/events?type=createUser&target=a+b%40c&order=asc&cursor=xyz");
        assert!(!query.descending());
        assert!(EventsQuery::default().descending(), "newest first by default");
    }
}
