//! Who is signed in: the bearer token an administrator pasted (or the local stack
//! minted), kept in a cookie the browser sends back to the console only
//! (`HttpOnly`, `SameSite=Strict`, path `/console`). The console reads the token's
//! tenant and subject to address the APIs and greet the user; it verifies nothing
//! itself: every API it calls checks the token (SPEC section 7), and a refusal signs
//! the user out with the API's reason.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::page::{Section, error, page, respond};

/// The cookie holding the token.
const COOKIE: &str = "audit_console_token";

/// A signed-in administrator.
#[derive(Clone, PartialEq, Eq)]
pub struct Session {
    /// The bearer token, as given.
    pub token: String,
    /// Its `tenant` claim.
    pub tenant: String,
    /// Its `sub` claim.
    pub subject: String,
}

/// The token is never printed.
impl std::fmt::Debug for Session {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Session")
            .field("tenant", &self.tenant)
            .field("subject", &self.subject)
            .finish()
    }
}

/// Why a token cannot start a session.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    /// Not three base64url parts with a JSON payload.
    #[error("this is not a bearer token (a JWT of three dot-separated parts)")]
    NotAToken,
    /// No `tenant` claim.
    #[error("the token names no tenant")]
    NoTenant,
}

#[derive(serde::Deserialize)]
struct Claims {
    tenant: Option<String>,
    sub: Option<String>,
}

impl Session {
    /// The session of `token`, read without verification (the APIs verify it).
    pub fn of_token(token: &str) -> Result<Session, SessionError> {
        let token = token.trim();
        let mut parts = token.split('.');
        let (Some(_), Some(payload), Some(_), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(SessionError::NotAToken);
        };
        let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| SessionError::NotAToken)?;
        let claims: Claims = serde_json::from_slice(&payload).map_err(|_| SessionError::NotAToken)?;
        let tenant = claims.tenant.filter(|tenant| !tenant.is_empty()).ok_or(SessionError::NoTenant)?;
        Ok(Session { token: token.to_owned(), tenant, subject: claims.sub.unwrap_or_default() })
    }

    /// The session the request's cookie holds, if any.
    pub fn of_request(headers: &HeaderMap) -> Option<Session> {
        let cookies = headers.get_all(header::COOKIE).into_iter().filter_map(|value| value.to_str().ok());
        let token = cookies
            .flat_map(|line| line.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find_map(|(name, value)| (name == COOKIE).then_some(value))?;
        Session::of_token(token).ok()
    }

    /// The `Set-Cookie` value that keeps this session.
    pub fn cookie(&self) -> HeaderValue {
        let cookie = format!("{COOKIE}={}; Path=/console; HttpOnly; SameSite=Strict", self.token);
        HeaderValue::from_str(&cookie).unwrap_or_else(|_| signed_out())
    }
}

/// The `Set-Cookie` value that ends a session.
pub fn signed_out() -> HeaderValue {
    HeaderValue::from_static("audit_console_token=; Path=/console; HttpOnly; SameSite=Strict; Max-Age=0")
}

/// Whether a form was posted from the console's own pages: browsers name the origin of
/// a cross-site POST, which is refused (with the `SameSite=Strict` cookie, a second
/// line against cross-site requests).
pub fn same_origin(headers: &HeaderMap) -> bool {
    let site = headers.get("sec-fetch-site").and_then(|value| value.to_str().ok());
    if let Some(site) = site {
        return site == "same-origin" || site == "none";
    }
    let host = headers.get(header::HOST).and_then(|value| value.to_str().ok());
    match (headers.get(header::ORIGIN).and_then(|value| value.to_str().ok()), host) {
        (Some(origin), Some(host)) => origin.split_once("://").is_some_and(|(_, rest)| rest == host),
        (None, _) => true,
        _ => false,
    }
}

/// A request of a signed-in user; without a session, the answer is the sign-in page.
pub struct SignedIn(pub Session);

impl<S: Send + Sync> FromRequestParts<S> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<SignedIn, Response> {
        Session::of_request(&parts.headers).map(SignedIn).ok_or_else(crate::sign_in)
    }
}

/// A form a signed-in user posted from the console's own pages; one sent from another
/// site is refused before the handler runs, so no handler can forget the check.
pub struct Posted(pub Session);

/// Said when a form comes from another site.
pub const CROSS_SITE: &str = "This form was sent from another site; open the console and try again.";

impl<S: Send + Sync> FromRequestParts<S> for Posted {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Posted, Response> {
        let SignedIn(session) = SignedIn::from_request_parts(parts, state).await?;
        if same_origin(&parts.headers) {
            return Ok(Posted(session));
        }
        let section = if parts.uri.path().starts_with("/console/webhooks") {
            Section::Webhooks
        } else {
            Section::Events
        };
        Err(respond(StatusCode::FORBIDDEN, page("Refused", section, Some(&session), error(CROSS_SITE))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(payload: &str) -> String {
        format!("e30.{}.c2ln", URL_SAFE_NO_PAD.encode(payload))
    }

    #[test]
    fn a_token_gives_its_tenant_and_subject_and_travels_in_the_cookie() {
        let session = Session::of_token(&token(r#"{"tenant":"t1","sub":"ann"}"#)).unwrap();
        assert_eq!((session.tenant.as_str(), session.subject.as_str()), ("t1", "ann"));
        let mut headers = HeaderMap::new();
        let cookie = session.cookie();
        let pair = cookie.to_str().unwrap().split(';').next().unwrap().to_owned();
        headers.insert(header::COOKIE, HeaderValue::from_str(&format!("other=1; {pair}")).unwrap());
        assert_eq!(Session::of_request(&headers), Some(session.clone()));
        assert!(!format!("{session:?}").contains(&session.token), "the token is never printed");
        assert_eq!(Session::of_token("not a token"), Err(SessionError::NotAToken));
        assert_eq!(Session::of_token(&token(r#"{"sub":"ann"}"#)), Err(SessionError::NoTenant));
    }

    #[test]
    fn only_the_consoles_own_pages_may_post() {
        let headers = |pairs: &[(&'static str, &str)]| {
            let mut map = HeaderMap::new();
            for (name, value) in pairs {
                map.insert(*name, HeaderValue::from_str(value).unwrap());
            }
            map
        };
        assert!(same_origin(&headers(&[("sec-fetch-site", "same-origin")])));
        assert!(!same_origin(&headers(&[("sec-fetch-site", "cross-site")])));
        assert!(same_origin(&headers(&[("origin", "http://127.0.0.1:8080"), ("host", "127.0.0.1:8080")])));
        assert!(!same_origin(&headers(&[("origin", "http://evil.example"), ("host", "127.0.0.1:8080")])));
    }
}
