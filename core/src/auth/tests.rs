use super::issuer::{AUDIENCE, Issuer, LOCAL_ISSUER, TokenSpec};
use super::service::{ServiceCredential, ServiceCredentials};
use super::*;
use base64::Engine;

fn authenticator(issuer: &Issuer) -> Authenticator {
    let settings =
        AuthSettings { issuer: LOCAL_ISSUER.into(), audience: AUDIENCE.into(), jwks: issuer.jwks() };
    Authenticator::new(&settings).unwrap()
}

fn mint(issuer: &Issuer, tenant: &str, roles: &[&str]) -> String {
    let roles: Vec<String> = roles.iter().map(|role| role.to_string()).collect();
    issuer.mint(&TokenSpec { subject: "alice", tenant, roles: &roles, ttl_seconds: 300 })
}

/// A token signed by `issuer` with arbitrary claims, for the failure cases.
fn forge(issuer_key: &Issuer, claims: serde_json::Value, algorithm: Algorithm) -> String {
    let mut header = jsonwebtoken::Header::new(algorithm);
    header.kid = Some(issuer_key.kid().to_owned());
    let secret = jsonwebtoken::EncodingKey::from_secret(b"attacker-chosen-secret");
    match algorithm {
        Algorithm::HS256 => jsonwebtoken::encode(&header, &claims, &secret).unwrap(),
        _ => unreachable!("only used to forge hmac tokens"),
    }
}

#[test]
fn bearer_tokens_are_checked_as_specified() {
    let issuer = Issuer::generate();
    let stranger = Issuer::generate();
    let auth = authenticator(&issuer);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let expired = serde_json::json!({"iss": LOCAL_ISSUER, "aud": AUDIENCE, "sub": "a", "tenant": "t1",
        "roles": ["ORG_ADMIN"], "exp": now - 600});
    let good_claims = serde_json::json!({"iss": LOCAL_ISSUER, "aud": AUDIENCE, "sub": "a", "tenant": "t1",
        "roles": ["ORG_ADMIN"], "exp": now + 600});
    let unsigned = format!(
        "{}.{}.",
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(format!(r#"{{"alg":"none","kid":"{}"}}"#, issuer.kid())),
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(good_claims.to_string())
    );
    let cases: Vec<(&str, Option<String>, Result<&str, AuthError>)> = vec![
        ("admin", Some(format!("Bearer {}", mint(&issuer, "t1", &["ORG_ADMIN"]))), Ok("alice")),
        ("m2m client", Some(format!("bearer {}", mint(&issuer, "t1", &["M2M_CLIENT", "X"]))), Ok("alice")),
        ("no header", None, Err(AuthError::Missing)),
        ("not bearer", Some("Token abc".into()), Err(AuthError::Malformed)),
        ("empty bearer", Some("Bearer ".into()), Err(AuthError::Malformed)),
        (
            "wrong tenant",
            Some(format!("Bearer {}", mint(&issuer, "t2", &["ORG_ADMIN"]))),
            Err(AuthError::WrongTenant),
        ),
        (
            "no role",
            Some(format!("Bearer {}", mint(&issuer, "t1", &["USER"]))),
            Err(AuthError::NotPrivileged),
        ),
    ];
    for (name, header, expected) in cases {
        let result = auth.authorize(header.as_deref(), "t1").map(|principal| principal.subject);
        assert_eq!(result.as_deref().map_err(Clone::clone), expected, "{name}");
    }
    let refused: Vec<(&str, String)> = vec![
        ("garbage", "Bearer not.a.jwt".into()),
        ("other key", format!("Bearer {}", mint(&stranger, "t1", &["ORG_ADMIN"]))),
        ("alg none", format!("Bearer {unsigned}")),
        (
            "hmac with the public key's kid",
            format!("Bearer {}", forge(&issuer, good_claims, Algorithm::HS256)),
        ),
        ("expired", format!("Bearer {}", sign_claims(&issuer, &expired))),
    ];
    for (name, header) in refused {
        let error = auth.authorize(Some(&header), "t1").unwrap_err();
        assert!(matches!(error, AuthError::InvalidToken { .. }), "{name}: {error:?}");
        assert_eq!(error.status(), 401, "{name}");
    }
    assert_eq!(AuthError::NotPrivileged.status(), 403);
    assert_eq!(AuthError::WrongTenant.status(), 403);
}

fn sign_claims(issuer: &Issuer, claims: &serde_json::Value) -> String {
    issuer.sign(claims)
}

#[test]
fn service_credentials_accept_only_known_secrets() {
    let tokenizer = ServiceCredential::generate("tokenizer");
    let accepted = ServiceCredentials::new(std::slice::from_ref(&tokenizer));
    assert_eq!(accepted.verify(Some(&tokenizer.authorization())).unwrap(), "tokenizer");
    let impostor: ServiceCredential = "tokenizer:0123456789abcdef0123".parse().unwrap();
    assert_eq!(accepted.verify(Some(&impostor.authorization())), Err(AuthError::BadCredentials));
    let unknown = ServiceCredential::generate("query-api");
    assert_eq!(accepted.verify(Some(&unknown.authorization())), Err(AuthError::BadCredentials));
    assert_eq!(accepted.verify(None), Err(AuthError::Missing));
    assert_eq!(accepted.verify(Some("Basic !!!")), Err(AuthError::Malformed));
    assert!("short:secret".parse::<ServiceCredential>().is_err());
    assert!(!format!("{tokenizer:?}").contains(&tokenizer.expose()[10..]), "debug hides the secret");
}
