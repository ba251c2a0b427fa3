//! Who may call the APIs: bearer JWTs for users (SPEC section 7), credentials for
//! services.
//!
//! A bearer token is accepted only if its `kid` names a configured public key, its
//! `alg` is that key's one algorithm (so no `none` and no algorithm confusion), its
//! signature, issuer, audience and expiry hold, and its `tenant` claim equals the
//! path's tenant. A valid token without a privileged role is refused with 403; every
//! other failure is 401. Reasons go to logs; callers get a generic message.
//!
//! - [`issuer`]: the local stack's own signing key, which mints tokens it accepts.
//! - [`service`]: service-to-service credentials (HTTP Basic, stored hashed).

pub mod issuer;
pub mod service;

use std::collections::HashMap;

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

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
}

impl AuthError {
    /// 403 for an authenticated caller lacking rights, 401 otherwise.
    pub fn status(&self) -> u16 {
        match self {
            AuthError::WrongTenant | AuthError::NotPrivileged => 403,
            _ => 401,
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
}

/// Checks bearer tokens.
pub struct Authenticator {
    keys: HashMap<String, (DecodingKey, Validation)>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("Authenticator").field("kids", &self.keys.keys()).finish()
    }
}

impl Authenticator {
    /// An authenticator for `settings`; every key needs a `kid` and a public-key type.
    pub fn new(settings: &AuthSettings) -> Result<Authenticator, AuthConfigError> {
        let mut keys = HashMap::new();
        for jwk in &settings.jwks.keys {
            let kid = jwk.common.key_id.clone().ok_or_else(|| AuthConfigError("a key has no kid".into()))?;
            let algorithm = key_algorithm(&jwk.algorithm)
                .ok_or_else(|| AuthConfigError(format!("key {kid} is not a supported public key")))?;
            let key =
                DecodingKey::from_jwk(jwk).map_err(|error| AuthConfigError(format!("key {kid}: {error}")))?;
            let mut validation = Validation::new(algorithm);
            validation.set_issuer(&[&settings.issuer]);
            validation.set_audience(&[&settings.audience]);
            validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
            validation.leeway = LEEWAY_SECONDS;
            keys.insert(kid, (key, validation));
        }
        if keys.is_empty() {
            return Err(AuthConfigError("no public keys configured".into()));
        }
        Ok(Authenticator { keys })
    }

    /// The principal of `authorization` (the header's value) if it may act on `tenant`.
    pub fn authorize(&self, authorization: Option<&str>, tenant: &str) -> Result<Principal, AuthError> {
        let token = bearer(authorization)?;
        let invalid = |reason: String| AuthError::InvalidToken { reason };
        let header = jsonwebtoken::decode_header(token).map_err(|error| invalid(error.to_string()))?;
        let kid = header.kid.ok_or_else(|| invalid("no kid".into()))?;
        let (key, validation) = self.keys.get(&kid).ok_or_else(|| invalid(format!("unknown kid {kid}")))?;
        let data = jsonwebtoken::decode::<Claims>(token, key, validation)
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
}

fn bearer(authorization: Option<&str>) -> Result<&str, AuthError> {
    let value = authorization.ok_or(AuthError::Missing)?;
    let (scheme, token) = value.split_once(' ').ok_or(AuthError::Malformed)?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(AuthError::Malformed);
    }
    Ok(token.trim())
}

/// The one algorithm a public key is used with.
fn key_algorithm(parameters: &AlgorithmParameters) -> Option<Algorithm> {
    match parameters {
        AlgorithmParameters::OctetKeyPair(_) => Some(Algorithm::EdDSA),
        AlgorithmParameters::RSA(_) => Some(Algorithm::RS256),
        AlgorithmParameters::EllipticCurve(params) => match params.curve {
            EllipticCurve::P256 => Some(Algorithm::ES256),
            EllipticCurve::P384 => Some(Algorithm::ES384),
            _ => None,
        },
        // Shared secrets are refused: a public key must never double as an HMAC key.
        _ => None,
    }
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
