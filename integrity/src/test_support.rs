//! Keys, verifiers and records shared by the integrity tests.

use std::collections::BTreeMap;

use audit_schemas::{Action, TokenizedRecord};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::SigningKey;

use super::Verifier;
use super::keys::{Jwk, Jwks, PublicKeys, SigningKeyPair, thumbprint};

/// A key from a fixed seed.
pub fn key(seed: u8) -> SigningKeyPair {
    let key = SigningKey::from_bytes(&[seed; 32]);
    SigningKeyPair { kid: thumbprint(&key.verifying_key()), key }
}

/// A verifier trusting exactly `keys`.
pub fn verifier(keys: &[&SigningKeyPair]) -> Verifier {
    let keys = keys
        .iter()
        .map(|pair| Jwk {
            kty: "OKP".into(),
            crv: "Ed25519".into(),
            x: URL_SAFE_NO_PAD.encode(pair.key.verifying_key().as_bytes()),
            kid: pair.kid.clone(),
            alg: None,
            key_use: None,
        })
        .collect();
    Verifier::new(PublicKeys::from_jwks(&Jwks { keys }).unwrap())
}

/// Record `n` of `tenant`.
pub fn record(tenant: &str, n: u64) -> TokenizedRecord {
    TokenizedRecord {
        id: format!("{tenant}-{n}"),
        tenant_id: tenant.into(),
        created: 1_700_000_000_000 + n as i64,
        action: Action {
            action_name: "createUser".into(),
            action_parameters: BTreeMap::from([("ATC".into(), n.to_string())]),
        },
        result: Some("RESPONSE_SUCCESS".into()),
        return_value: None,
        message: None,
        host: Some(format!("tok-{n}")),
        target_user: None,
        acting_user: None,
        external_id: None,
        event_id: None,
        tokenized_paths: vec!["host".into()],
    }
}
