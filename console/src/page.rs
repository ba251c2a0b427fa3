//! The frame every page shares: the document, the navigation, the signed-in tenant,
//! errors said in words, and the console's own stylesheet (no asset is fetched from
//! anywhere at run time).

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::{DOCTYPE, Markup, html};

use crate::session::Session;

/// The console's stylesheet: readable at a laptop's width, contrast above 4.5:1,
/// a visible focus ring for keyboard users.
pub const STYLESHEET: &str = r#"
:root { color-scheme: light; --ink: #1b1f24; --muted: #4a5562; --line: #c9d1d9; --accent: #0b5cad; --ok: #11632b; --bad: #a3111d; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, sans-serif; color: var(--ink); background: #f6f8fa; }
header { display: flex; gap: 1.5rem; align-items: center; padding: .6rem 1.2rem; background: #fff; border-bottom: 1px solid var(--line); flex-wrap: wrap; }
header .product { font-weight: 700; }
a, a:visited { color: var(--accent); }
nav a { margin-right: 1rem; }
nav a[aria-current="page"] { font-weight: 700; text-decoration: none; color: var(--ink); }
header .who { margin-left: auto; color: var(--muted); }
main { padding: 1rem 1.2rem; max-width: 1400px; }
h1 { font-size: 1.35rem; margin: .2rem 0 1rem; }
form.filters { display: grid; grid-template-columns: repeat(auto-fill, minmax(14rem, 1fr)); gap: .6rem 1rem; background: #fff; padding: .8rem; border: 1px solid var(--line); border-radius: 6px; }
label { display: flex; flex-direction: column; gap: .2rem; font-weight: 600; font-size: .9rem; }
input, select, textarea, button { font: inherit; padding: .35rem .5rem; border: 1px solid #8c959f; border-radius: 4px; background: #fff; color: var(--ink); }
button { cursor: pointer; background: var(--accent); color: #fff; border-color: var(--accent); }
button.secondary { background: #fff; color: var(--accent); }
/* A date field's focus sits on one of its parts: the ring goes around the whole field. */
:focus-visible, input:focus-within { outline: 3px solid #f0b400; outline-offset: 2px; }
.actions { display: flex; gap: .6rem; align-items: end; flex-wrap: wrap; margin: .8rem 0; }
table { width: 100%; border-collapse: collapse; background: #fff; border: 1px solid var(--line); }
th, td { text-align: left; padding: .4rem .6rem; border-bottom: 1px solid var(--line); vertical-align: top; overflow-wrap: break-word; }
td.nowrap { white-space: nowrap; }
td.value { overflow-wrap: anywhere; }
th { background: #eef1f4; font-size: .9rem; }
.badge { display: inline-block; white-space: nowrap; padding: 0 .45rem; border-radius: 3px; font-size: .85rem; font-weight: 600; border: 1px solid; }
.badge.validated { color: var(--ok); border-color: var(--ok); }
.badge.tainted { color: var(--bad); border-color: var(--bad); }
.badge.unverified { color: var(--muted); border-color: var(--muted); }
.error { border: 2px solid var(--bad); background: #fff5f5; color: var(--bad); padding: .6rem .8rem; border-radius: 6px; margin: .6rem 0; }
.notice { border: 1px solid var(--accent); background: #f0f6ff; padding: .6rem .8rem; border-radius: 6px; margin: .6rem 0; }
.muted { color: var(--muted); }
pre { background: #fff; border: 1px solid var(--line); padding: .8rem; overflow: auto; max-height: 32rem; }
dl.record { display: grid; grid-template-columns: minmax(10rem, max-content) 1fr; gap: .3rem 1rem; background: #fff; padding: .8rem; border: 1px solid var(--line); }
dl.record dt { font-weight: 600; }
dl.record dd { margin: 0; overflow-wrap: anywhere; }
"#;

/// The sections of the console, as the navigation names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// Audit events.
    Events,
    /// Checkpoints and bundles.
    Integrity,
    /// Webhooks.
    Webhooks,
    /// Sign-in.
    SignIn,
}

/// A whole page: `title`, the navigation with `section` current, `body`.
pub fn page(title: &str, section: Section, session: Option<&Session>, body: Markup) -> Markup {
    let current = |item: Section| (item == section).then_some("page");
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Audit trail console" }
                style { (maud::PreEscaped(STYLESHEET)) }
            }
            body {
                header {
                    span.product { "Audit trail" }
                    @if let Some(session) = session {
                        nav aria-label="Sections" {
                            a href="/console/events" aria-current=[current(Section::Events)] { "Audit events" }
                            a href="/console/integrity" aria-current=[current(Section::Integrity)] { "Integrity" }
                            a href="/console/webhooks" aria-current=[current(Section::Webhooks)] { "Webhooks" }
                        }
                        span.who { "Tenant " strong { (session.tenant) } " · " (session.subject) }
                        form method="post" action="/console/sign-out" {
                            button.secondary type="submit" { "Sign out" }
                        }
                    }
                }
                main { (body) }
            }
        }
    }
}

/// An error said in words, in an alert region so screen readers announce it.
pub fn error(message: &str) -> Markup {
    html! { div.error role="alert" { (message) } }
}

/// What a console page may load and do: its own inline styles and forms posting to
/// itself, nothing else (no script, no frame, no outside resource), so injected markup
/// could neither run nor send anything elsewhere.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// An HTML response, with the console's security headers.
pub fn respond(status: StatusCode, markup: Markup) -> Response {
    let headers = [
        (header::CONTENT_TYPE, "text/html; charset=utf-8"),
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::CACHE_CONTROL, "no-store"),
    ];
    (status, headers, markup.into_string()).into_response()
}

/// The integrity badge of a record's `integrityStatus`, in words as well as color.
pub fn badge(status: &str) -> Markup {
    let class = match status {
        "validated" => "validated",
        "tainted" => "tainted",
        _ => "unverified",
    };
    html! { span class={ "badge " (class) } { (class) } }
}

/// A JSON value as a page shows it: strings bare, nothing for null.
pub fn text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(text) => text.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}
