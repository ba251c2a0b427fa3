//! Integrity: the tenant's latest signed checkpoint (the tree of its records the
//! signer vouched for) and the download of an offline bundle, the whole trail or a
//! `created` window, which `auditctl verify` checks without the product.

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::html;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::client::ApiError;
use crate::filter::instant;
use crate::page::{Section, error, page, respond};
use crate::session::SignedIn;
use crate::{Console, signed_out_response};

/// `GET /console/integrity`.
pub async fn overview(State(console): State<Console>, SignedIn(session): SignedIn) -> Response {
    let answer = match console.apis.checkpoint(&session).await {
        Err(ApiError::SignedOut(reason)) => return signed_out_response(&reason),
        answer => answer,
    };
    let body = html! {
        h1 { "Integrity" }
        h2 { "Latest checkpoint" }
        @match &answer {
            Ok(checkpoint) => {
                p { "The signer vouches that the tenant's log holds " strong { (checkpoint["treeSize"]) } " records with this root." }
                dl.record {
                    dt { "Log" } dd { (checkpoint["origin"].as_str().unwrap_or_default()) }
                    dt { "Records" } dd { (checkpoint["treeSize"]) }
                    dt { "Root hash" } dd { code { (checkpoint["rootHash"].as_str().unwrap_or_default()) } }
                }
                h3 { "Signed note" }
                pre { (checkpoint["note"].as_str().unwrap_or_default()) }
            }
            Err(problem) => (error(&problem.to_string())),
        }
        h2 { "Offline bundle" }
        p.muted { "Records with the signed checkpoint, the keys and the proofs; check it with auditctl verify. Leave both times empty for the whole trail." }
        form.filters method="get" action="/console/integrity/bundle" aria-label="Download a bundle" {
            label { "From (UTC)" input type="datetime-local" name="from"; }
            label { "To (UTC)" input type="datetime-local" name="to"; }
            div.actions { button type="submit" { "Download bundle" } }
        }
    };
    respond(StatusCode::OK, page("Integrity", Section::Integrity, Some(&session), body))
}

/// The bundle form's window.
#[derive(Debug, Default, Deserialize)]
pub struct Window {
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
}

/// `GET /console/integrity/bundle`: the bundle, streamed as a download.
pub async fn bundle(
    State(console): State<Console>,
    SignedIn(session): SignedIn,
    Query(window): Query<Window>,
) -> Response {
    let body = match window_body(&window) {
        Ok(body) => body,
        Err(problem) => {
            return respond(
                StatusCode::BAD_REQUEST,
                page("Integrity", Section::Integrity, Some(&session), error(&problem)),
            );
        }
    };
    match console.apis.bundle(&session, body).await {
        Ok(response) => {
            let name = format!("attachment; filename=\"{}.bundle\"", session.tenant);
            let disposition = HeaderValue::from_str(&name).unwrap_or(HeaderValue::from_static("attachment"));
            let headers = [
                (header::CONTENT_TYPE, HeaderValue::from_static("application/x-ndjson")),
                (header::CONTENT_DISPOSITION, disposition),
            ];
            (headers, Body::from_stream(response.bytes_stream())).into_response()
        }
        Err(ApiError::SignedOut(reason)) => signed_out_response(&reason),
        Err(problem) => respond(
            problem.status(),
            page("Integrity", Section::Integrity, Some(&session), error(&problem.to_string())),
        ),
    }
}

/// The bundle request of the form's times (RFC 3339, UTC).
fn window_body(window: &Window) -> Result<Value, String> {
    let from = instant(&window.from, "from").map_err(|problem| problem.to_string())?;
    let to = instant(&window.to, "to").map_err(|problem| problem.to_string())?;
    Ok(json!({ "from": from, "to": to }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_forms_times_become_the_bundles_window() {
        let times = Window { from: "2026-12-01T00:00".into(), ..Window::default() };
        assert_eq!(window_body(&times), Ok(json!({"from": "2026-12-01T00:00:00Z", "to": null})));
        assert!(window_body(&Window { to: "soon".into(), ..Window::default() }).is_err());
    }
}
