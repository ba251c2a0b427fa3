//! The administrators' web console (`/console`): audit events in a table they can
//! filter and page, each record with its integrity, clear values revealed only on
//! request (each reveal an audit event of its own, recorded by the vault), the
//! tenant's checkpoint with offline bundles to download, and its webhooks.
//!
//! Server-rendered HTML (maud) and plain forms: no script and no asset fetched from
//! anywhere at run time, usable with a keyboard and a screen reader. The console holds
//! no data and no privilege of its own: it is a client of the product's APIs with the
//! signed-in user's bearer token, so it can show nothing the API would not.
//!
//! # Layout
//! - `session`: the token in a cookie, the tenant it names, same-origin forms.
//! - `filter`: the filter fields as one SCIM filter.
//! - `client`: the calls to the query-api and the notifier.
//! - `page`: the frame, the stylesheet, errors and integrity badges.
//! - `signin`, `events`, `integrity`, `webhooks`: the pages.

mod client;
mod events;
mod filter;
mod integrity;
mod page;
mod session;
mod signin;
mod webhooks;

use std::path::PathBuf;
use std::sync::Arc;

use audit_auth::issuer::Issuer;
use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};

pub use filter::{EventFilter, FilterError};

/// What the console needs.
#[derive(Debug, Clone)]
pub struct ConsoleConfig {
    /// Base URL of the query-api the console calls (its own server's, usually).
    pub query_url: String,
    /// Base URL of the notifier, whose webhooks the console manages.
    pub notifier_url: String,
    /// The local stack's token issuer key: offers a development sign-in that mints a
    /// token for any tenant. Never set in production.
    pub dev_issuer_key: Option<PathBuf>,
}

/// What every page shares.
#[derive(Clone)]
pub struct Console {
    apis: client::Apis,
    dev_issuer: Option<Arc<Issuer>>,
}

/// The console's routes, under `/console`.
pub fn router(config: &ConsoleConfig) -> std::io::Result<Router> {
    let dev_issuer = match &config.dev_issuer_key {
        Some(path) => Some(Arc::new(Issuer::load_or_create(path)?)),
        None => None,
    };
    let console = Console { apis: client::Apis::new(&config.query_url, &config.notifier_url), dev_issuer };
    Ok(Router::new()
        .route("/console", get(|| async { Redirect::to("/console/events") }))
        .route("/console/sign-in", get(signin::form).post(signin::submit))
        .route("/console/sign-out", post(signin::sign_out))
        .route("/console/events", get(events::list))
        .route("/console/events/reveal", post(events::reveal))
        .route("/console/events/{id}", get(events::record))
        .route("/console/events/{id}/reveal", post(events::reveal_record))
        .route("/console/integrity", get(integrity::overview))
        .route("/console/integrity/bundle", get(integrity::bundle))
        .route("/console/webhooks", get(webhooks::list).post(webhooks::create))
        .route("/console/webhooks/{id}", get(webhooks::show).post(webhooks::update))
        .route("/console/webhooks/{id}/ping", post(webhooks::ping))
        .route("/console/webhooks/{id}/delete", post(webhooks::delete))
        .route("/console/webhooks/{id}/deliveries/{delivery}/retry", post(webhooks::retry))
        .with_state(console))
}

/// Not signed in: to the sign-in page.
fn sign_in() -> Response {
    Redirect::to("/console/sign-in").into_response()
}

/// The API refused the token: signed out, with the API's reason.
fn signed_out_response(reason: &str) -> Response {
    let message = format!("Signed out: {reason}. Sign in again with a valid token.");
    let body = maud::html! { h1 { "Sign in" } (page::error(&message)) p { a href="/console/sign-in" { "Sign in" } } };
    let page = page::page("Signed out", page::Section::SignIn, None, body);
    (
        StatusCode::UNAUTHORIZED,
        [(header::SET_COOKIE, session::signed_out())],
        page::respond(StatusCode::UNAUTHORIZED, page),
    )
        .into_response()
}
