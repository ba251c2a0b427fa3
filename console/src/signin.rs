//! Signing in: an administrator pastes a bearer token (SPEC section 7); the local
//! stack also offers a development sign-in that mints one for a tenant with its own
//! issuer key, as `auditctl token` does. The tenant comes from the token.

use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::html;
use serde::Deserialize;

use audit_auth::issuer::TokenSpec;

use crate::Console;
use crate::page::{Section, error, page, respond};
use crate::session::{CROSS_SITE, Session, same_origin, signed_out};

/// Lifetime of a development token.
const DEV_TOKEN_SECONDS: u64 = 8 * 3600;

/// The sign-in form.
#[derive(Debug, Default, Deserialize)]
pub struct SignIn {
    /// A pasted bearer token.
    #[serde(default)]
    token: String,
    /// The tenant of a development sign-in.
    #[serde(default)]
    tenant: String,
}

/// `GET /console/sign-in`.
pub async fn form(State(console): State<Console>) -> Response {
    sign_in_page(&console, None, StatusCode::OK)
}

/// `POST /console/sign-in`: a pasted token, or a development sign-in.
pub async fn submit(
    State(console): State<Console>,
    headers: HeaderMap,
    Form(form): Form<SignIn>,
) -> Response {
    if !same_origin(&headers) {
        return sign_in_page(&console, Some(CROSS_SITE), StatusCode::FORBIDDEN);
    }
    let token = match (&console.dev_issuer, form.tenant.trim()) {
        (Some(issuer), tenant) if !tenant.is_empty() && form.token.trim().is_empty() => {
            let roles = ["ORG_ADMIN".to_owned()];
            issuer.mint(&TokenSpec {
                subject: "console-developer",
                tenant,
                roles: &roles,
                ttl_seconds: DEV_TOKEN_SECONDS,
            })
        }
        _ => form.token,
    };
    match Session::of_token(&token) {
        Ok(session) => {
            let cookie = session.cookie();
            (
                StatusCode::SEE_OTHER,
                [
                    (header::LOCATION, "/console/events".parse().expect("a header")),
                    (header::SET_COOKIE, cookie),
                ],
            )
                .into_response()
        }
        Err(problem) => sign_in_page(&console, Some(&problem.to_string()), StatusCode::BAD_REQUEST),
    }
}

/// `POST /console/sign-out`.
pub async fn sign_out() -> Response {
    (
        StatusCode::SEE_OTHER,
        [
            (header::LOCATION, "/console/sign-in".parse().expect("a header")),
            (header::SET_COOKIE, signed_out()),
        ],
    )
        .into_response()
}

/// The sign-in page, with `problem` said above the form.
pub fn sign_in_page(console: &Console, problem: Option<&str>, status: StatusCode) -> Response {
    let body = html! {
        h1 { "Sign in" }
        @if let Some(problem) = problem { (error(problem)) }
        form.filters method="post" action="/console/sign-in" aria-label="Sign in with a bearer token" {
            label { "Bearer token (role ORG_ADMIN or M2M_CLIENT)"
                textarea name="token" rows="4" autocomplete="off" spellcheck="false" {}
            }
            div.actions { button type="submit" { "Sign in" } }
        }
        @if console.dev_issuer.is_some() {
            h2 { "Development sign-in" }
            p.muted { "This local stack mints a token for any tenant with its own issuer key (as auditctl token does)." }
            form.filters method="post" action="/console/sign-in" aria-label="Development sign-in" {
                label { "Tenant" input type="text" name="tenant" autocomplete="off" required; }
                div.actions { button type="submit" { "Sign in to this tenant" } }
            }
        }
    };
    respond(status, page("Sign in", Section::SignIn, None, body))
}
