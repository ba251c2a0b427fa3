//! Who may call the APIs: bearer JWTs for users (SPEC section 7), credentials for
//! services.
//!
//! A bearer token is accepted only if its signature, issuer, audience, expiry and
//! `nbf` hold and its `tenant` claim equals the path's tenant. Which key checks it
//! follows from the header alone, so algorithm confusion cannot happen:
//! - a token with a `kid` must name a configured public key and use that key's one
//!   algorithm; an HMAC token with a `kid` is refused, so a public key never doubles
//!   as an HMAC secret;
//! - a token without a `kid` must be HS256 and is checked with the shared secret
//!   (development only); without one configured it is refused;
//! - `alg: none` is not an algorithm the decoder knows, so it never gets this far.
//!
//! A valid token without a privileged role is refused with 403; every other failure is
//! 401. Reasons go to logs; callers get a generic message.
//!
//! - [`args`]: the `--auth-*` flags and their validated [`AuthConfig`].
//! - [`shared`]: the [`SharedAuthenticator`] services hold, whose keys a JWK Set URL
//!   refreshes in the background.
//! - [`issuer`]: the local stack's own signing key, which mints tokens it accepts.
//! - [`service`]: service-to-service credentials (HTTP Basic, stored hashed).
#![warn(missing_docs)]

pub mod args;
pub mod issuer;
pub mod openapi;
pub mod service;
pub mod shared;

use std::collections::HashMap;

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

pub use args::{AuthArgs, AuthConfig, KeySource, SharedSecret};
pub use shared::SharedAuthenticator;

/// Roles that may read audit records and reveal tokens.
pub const PRIVILEGED_ROLES: [&str; 2] = ["ORG_ADMIN", "M2M_CLIENT"];
/// Clock skew tolerated on `exp` and `nbf`, in seconds.
const LEEWAY_SECONDS: u64 = 30;

/// Why a call is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No `Authorization` header.
    #[error("missing credentials")]
    Missing,
    /// The header is not `Bearer <jwt>` (or `Basic ...` for services).
    #[error("malformed authorization header")]
    Malformed,
    /// Signature, key, algorithm, issuer, audience or expiry failed.
    #[error("invalid token: {reason}")]
    InvalidToken {
        /// What failed, for logs.
        reason: String,
    },
    /// A valid token for another tenant.
    #[error("token is not valid for this tenant")]
    WrongTenant,
    /// A valid token without a privileged role.
    #[error("a privileged role is required")]
    NotPrivileged,
    /// Unknown service or wrong secret.
    #[error("invalid service credentials")]
    BadCredentials,
    /// A known service calling what its credential does not allow.
    #[error("service {service} may not call {scope}")]
    OutOfScope {
        /// The calling service.
        service: String,
        /// The call it made.
        scope: service::Scope,
    },
}

impl AuthError {
    /// 403 for an authenticated caller lacking rights, 401 otherwise.
    pub fn status(&self) -> u16 {
        match self {
            AuthError::WrongTenant | AuthError::NotPrivileged | AuthError::OutOfScope { .. } => 403,
            _ => 401,
        }
    }

    /// The SCIM error a refusal is answered with: a 403 says what is missing, a 401
    /// only that authentication is required (never why a credential failed).
    pub fn scim(&self) -> audit_scim::ScimError {
        match self.status() {
            403 => audit_scim::ScimError::new(axum::http::StatusCode::FORBIDDEN, self.to_string()),
            _ => audit_scim::ScimError::new(axum::http::StatusCode::UNAUTHORIZED, "authentication required"),
        }
    }
}

/// Invalid authentication settings.
#[derive(Debug, thiserror::Error)]
#[error("invalid auth settings: {0}")]
pub struct AuthConfigError(pub String);

/// An authenticated, authorized user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The token's `sub`.
    pub subject: String,
    /// The tenant the token is for.
    pub tenant: String,
    /// The token's roles.
    pub roles: Vec<String>,
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
    tenant: String,
    #[serde(default)]
    roles: Vec<String>,
}

/// What bearer tokens must satisfy.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// Required `iss`.
    pub issuer: String,
    /// Required `aud`.
    pub audience: String,
    /// Public keys tokens may be signed with, each with a `kid`.
    pub jwks: JwkSet,
    /// Development only: the secret HS256 tokens without a `kid` may be signed with.
    pub shared_secret: Option<SharedSecret>,
}

/// A key and the exact rules a token checked with it must meet.
struct Verifier {
    key: DecodingKey,
    validation: Validation,
}

/// Checks bearer tokens against one fixed set of keys.
pub struct Authenticator {
    keys: HashMap<String, Verifier>,
    shared: Option<Verifier>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Authenticator")
            .field("kids", &self.keys.keys())
            .field("shared_secret", &self.shared.is_some())
            .finish()
    }
}

impl Authenticator {
    /// An authenticator for `settings`. Every signing key needs a `kid`, a public-key
    /// type and no more than one entry per `kid`; keys marked for encryption are
    /// skipped; at least one public key must remain.
    pub fn new(settings: &AuthSettings) -> Result<Authenticator, AuthConfigError> {
        let mut keys = HashMap::new();
        let signing = settings.jwks.keys.iter().filter(|jwk| !is_for_encryption(jwk));
        for jwk in signing {
            let kid = jwk.common.key_id.clone().ok_or_else(|| AuthConfigError("a key has no kid".into()))?;
            let algorithm = key_algorithm(jwk)
                .ok_or_else(|| AuthConfigError(format!("key {kid} is not a supported public key")))?;
            let key =
                DecodingKey::from_jwk(jwk).map_err(|error| AuthConfigError(format!("key {kid}: {error}")))?;
            let verifier = Verifier { key, validation: validation(algorithm, settings) };
            if keys.insert(kid.clone(), verifier).is_some() {
                return Err(AuthConfigError(format!("two keys have the kid {kid}")));
            }
        }
        if keys.is_empty() {
            return Err(AuthConfigError("no public keys configured".into()));
        }
        let shared = settings.shared_secret.as_ref().map(|secret| Verifier {
            key: DecodingKey::from_secret(secret.expose()),
            validation: validation(Algorithm::HS256, settings),
        });
        Ok(Authenticator { keys, shared })
    }

    /// The principal of `authorization` (the header's value) if it may act on `tenant`.
    pub fn authorize(&self, authorization: Option<&str>, tenant: &str) -> Result<Principal, AuthError> {
        let token = bearer(authorization)?;
        let invalid = |reason: String| AuthError::InvalidToken { reason };
        let header = jsonwebtoken::decode_header(token).map_err(|error| invalid(error.to_string()))?;
        let verifier = self.verifier(header.alg, header.kid.as_deref()).map_err(invalid)?;
        let data = jsonwebtoken::decode::<Claims>(token, &verifier.key, &verifier.validation)
            .map_err(|error| invalid(error.to_string()))?;
        let claims = data.claims;
        if claims.tenant != tenant {
            return Err(AuthError::WrongTenant);
        }
        if !claims.roles.iter().any(|role| PRIVILEGED_ROLES.contains(&role.as_str())) {
            return Err(AuthError::NotPrivileged);
        }
        Ok(Principal { subject: claims.sub, tenant: claims.tenant, roles: claims.roles })
    }

    /// The one key a token with this header may be checked with (see the module doc).
    fn verifier(&self, algorithm: Algorithm, kid: Option<&str>) -> Result<&Verifier, String> {
        let hmac = algorithm.family() == jsonwebtoken::AlgorithmFamily::Hmac;
        match (kid, hmac) {
            (Some(kid), true) => Err(format!("{algorithm:?} token names the public key {kid}")),
            (Some(kid), false) => self.keys.get(kid).ok_or_else(|| format!("unknown kid {kid}")),
            (None, false) => Err(format!("{algorithm:?} token without a kid")),
            (None, true) if algorithm != Algorithm::HS256 => {
                Err(format!("{algorithm:?} token: only HS256 may use the shared secret"))
            }
            (None, true) => self.shared.as_ref().ok_or_else(|| "HS256 token but no shared secret".into()),
        }
    }
}

/// The rules every token meets, whatever key checks it.
fn validation(algorithm: Algorithm, settings: &AuthSettings) -> Validation {
    let mut validation = Validation::new(algorithm);
    validation.set_issuer(&[&settings.issuer]);
    validation.set_audience(&[&settings.audience]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    validation.validate_nbf = true;
    validation.leeway = LEEWAY_SECONDS;
    validation
}

fn bearer(authorization: Option<&str>) -> Result<&str, AuthError> {
    let value = authorization.ok_or(AuthError::Missing)?;
    let (scheme, token) = value.split_once(' ').ok_or(AuthError::Malformed)?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(AuthError::Malformed);
    }
    Ok(token.trim())
}

fn is_for_encryption(jwk: &Jwk) -> bool {
    jwk.common.public_key_use == Some(PublicKeyUse::Encryption)
}

/// The one algorithm a public key is used with: the one its `alg` declares if that
/// fits the key, else the key type's usual one.
fn key_algorithm(jwk: &Jwk) -> Option<Algorithm> {
    let usual = match &jwk.algorithm {
        AlgorithmParameters::OctetKeyPair(params) if params.curve == EllipticCurve::Ed25519 => {
            Algorithm::EdDSA
        }
        AlgorithmParameters::RSA(_) => Algorithm::RS256,
        AlgorithmParameters::EllipticCurve(params) => match params.curve {
            EllipticCurve::P256 => Algorithm::ES256,
            EllipticCurve::P384 => Algorithm::ES384,
            _ => return None,
        },
        // Shared secrets (`oct`) are refused too: a published key must never double as
        // an HMAC key.
        _ => return None,
    };
    let Some(declared) = jwk.common.key_algorithm else { return Some(usual) };
    let declared = Algorithm::try_from(declared).ok()?;
    // RSA keys sign with any RSA algorithm; EC and Ed keys only with their curve's.
    let fits = declared == usual || (usual == Algorithm::RS256 && declared.family() == usual.family());
    fits.then_some(declared)
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;

#[cfg(test)]
#[path = "refresh_tests.rs"]
mod refresh_tests;
