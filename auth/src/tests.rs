//! The bearer-token matrix of SPEC section 7 against one tenant path, with and without
//! a shared secret, plus service credentials. Flags and the JWK Set URL are tested in
//! `refresh_tests.rs`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{EncodingKey, Header};
use serde_json::{Value, json};

use super::issuer::{AUDIENCE, Issuer, LOCAL_ISSUER};
use super::service::{Scope, ServiceCredential, ServiceCredentials};
use super::*;

const TENANT: &str = "t1";
const SECRET: &[u8] = b"a development secret of more than 32 bytes";

/// What a call came to, with every invalid-token reason folded into one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Accepted,
    Missing,
    Malformed,
    Invalid,
    WrongTenant,
    NotPrivileged,
}

impl Outcome {
    fn of(result: &Result<Principal, AuthError>) -> Outcome {
        match result {
            Ok(_) => Outcome::Accepted,
            Err(AuthError::Missing) => Outcome::Missing,
            Err(AuthError::Malformed) => Outcome::Malformed,
            Err(AuthError::InvalidToken { .. }) => Outcome::Invalid,
            Err(AuthError::WrongTenant) => Outcome::WrongTenant,
            Err(AuthError::NotPrivileged) => Outcome::NotPrivileged,
            Err(AuthError::BadCredentials | AuthError::OutOfScope { .. }) => {
                panic!("bearer checks never answer service refusals")
            }
        }
    }

    fn status(self) -> u16 {
        match self {
            Outcome::Accepted => 200,
            Outcome::WrongTenant | Outcome::NotPrivileged => 403,
            _ => 401,
        }
    }
}

/// One request: its `Authorization` header and what each authenticator answers.
struct Case {
    name: &'static str,
    header: Option<String>,
    without_secret: Outcome,
    with_secret: Outcome,
}

fn case(name: &'static str, header: Option<String>, outcome: Outcome) -> Case {
    Case { name, header, without_secret: outcome, with_secret: outcome }
}

/// A token only the shared secret makes valid: refused outright without it.
fn secret_only(name: &'static str, header: Option<String>, with_secret: Outcome) -> Case {
    Case { name, header, without_secret: Outcome::Invalid, with_secret }
}

fn bearer(token: &str) -> Option<String> {
    Some(format!("Bearer {token}"))
}

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

/// Valid claims for the tenant, with `changes` applied (`null` removes a claim).
fn claims(changes: Value) -> Value {
    let mut claims = json!({"iss": LOCAL_ISSUER, "aud": AUDIENCE, "sub": "alice", "tenant": TENANT,
        "roles": ["ORG_ADMIN"], "iat": now(), "exp": now() + 600});
    for (name, value) in changes.as_object().expect("changes are an object") {
        match value {
            Value::Null => claims.as_object_mut().unwrap().remove(name),
            _ => claims.as_object_mut().unwrap().insert(name.clone(), value.clone()),
        };
    }
    claims
}

fn hmac(algorithm: Algorithm, kid: Option<&str>, secret: &[u8], claims: &Value) -> String {
    let mut header = Header::new(algorithm);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(secret)).unwrap()
}

fn eddsa(signer: &Issuer, kid: Option<&str>, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = kid.map(str::to_owned);
    signer.sign_with_header(&header, claims)
}

/// `header.payload.` with no signature, as an `alg: none` token is.
fn unsigned(kid: Option<&str>, claims: &Value) -> String {
    let header = match kid {
        Some(kid) => json!({"alg": "none", "typ": "JWT", "kid": kid}),
        None => json!({"alg": "none", "typ": "JWT"}),
    };
    format!("{}.{}.", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()))
}

fn authenticator(issuer: &Issuer, shared_secret: Option<&[u8]>) -> Authenticator {
    let settings = AuthSettings {
        issuer: LOCAL_ISSUER.into(),
        audience: AUDIENCE.into(),
        jwks: issuer.jwks(),
        shared_secret: shared_secret.map(|secret| SharedSecret::new(secret).unwrap()),
    };
    Authenticator::new(&settings).unwrap()
}

fn header_cases() -> Vec<Case> {
    vec![
        case("no header", None, Outcome::Missing),
        case("bearer alone", Some("Bearer".into()), Outcome::Malformed),
        case("bearer and a space", Some("Bearer ".into()), Outcome::Malformed),
        case("basic scheme", Some("Basic x".into()), Outcome::Malformed),
        case("garbage jwt", bearer("not.a.jwt"), Outcome::Invalid),
        case("two segments", bearer("abc.def"), Outcome::Invalid),
    ]
}

fn claim_cases(issuer: &Issuer) -> Vec<Case> {
    let signed = |changes: Value| bearer(&issuer.sign(&claims(changes)));
    vec![
        case("org admin", signed(json!({})), Outcome::Accepted),
        case("m2m client", signed(json!({"roles": ["M2M_CLIENT", "X"]})), Outcome::Accepted),
        case(
            "lowercase scheme",
            Some(format!("bearer {}", issuer.sign(&claims(json!({}))))),
            Outcome::Accepted,
        ),
        case("expired", signed(json!({"exp": now() - 600})), Outcome::Invalid),
        case("nbf in the future", signed(json!({"nbf": now() + 600})), Outcome::Invalid),
        case("nbf within the leeway", signed(json!({"nbf": now() + 10})), Outcome::Accepted),
        case("wrong issuer", signed(json!({"iss": "someone-else"})), Outcome::Invalid),
        case("wrong audience", signed(json!({"aud": "another-api"})), Outcome::Invalid),
        case("no subject", signed(json!({"sub": null})), Outcome::Invalid),
        case("no tenant", signed(json!({"tenant": null})), Outcome::Invalid),
        case("wrong tenant", signed(json!({"tenant": "t2"})), Outcome::WrongTenant),
        case("unprivileged role", signed(json!({"roles": ["USER"]})), Outcome::NotPrivileged),
        case("no roles", signed(json!({"roles": null})), Outcome::NotPrivileged),
    ]
}

fn signature_cases(issuer: &Issuer) -> Vec<Case> {
    let kid = Some(issuer.kid());
    let good = claims(json!({}));
    let jwk = serde_json::to_value(issuer.jwks()).unwrap();
    let x_text = jwk["keys"][0]["x"].as_str().unwrap().to_owned();
    let x_raw = URL_SAFE_NO_PAD.decode(&x_text).unwrap();
    let impostor = Issuer::generate();
    vec![
        case("another key, same kid", bearer(&eddsa(&impostor, kid, &good)), Outcome::Invalid),
        case("eddsa without a kid", bearer(&eddsa(issuer, None, &good)), Outcome::Invalid),
        case("alg none with the kid", bearer(&unsigned(kid, &good)), Outcome::Invalid),
        case("alg none without a kid", bearer(&unsigned(None, &good)), Outcome::Invalid),
        case(
            "hs256, raw public key, kid",
            bearer(&hmac(Algorithm::HS256, kid, &x_raw, &good)),
            Outcome::Invalid,
        ),
        case("hs256, raw public key", bearer(&hmac(Algorithm::HS256, None, &x_raw, &good)), Outcome::Invalid),
        case(
            "hs256, base64 public key, kid",
            bearer(&hmac(Algorithm::HS256, kid, x_text.as_bytes(), &good)),
            Outcome::Invalid,
        ),
        case(
            "hs256, base64 public key",
            bearer(&hmac(Algorithm::HS256, None, x_text.as_bytes(), &good)),
            Outcome::Invalid,
        ),
        case("hs256, secret, kid", bearer(&hmac(Algorithm::HS256, kid, SECRET, &good)), Outcome::Invalid),
        case("hs384, secret", bearer(&hmac(Algorithm::HS384, None, SECRET, &good)), Outcome::Invalid),
        secret_only("hs256, secret", bearer(&hmac(Algorithm::HS256, None, SECRET, &good)), Outcome::Accepted),
    ]
}

/// What the shared secret adds still meets every claim rule.
fn secret_claim_cases() -> Vec<Case> {
    let signed = |changes: Value| bearer(&hmac(Algorithm::HS256, None, SECRET, &claims(changes)));
    vec![
        case("hs256 secret, expired", signed(json!({"exp": now() - 600})), Outcome::Invalid),
        case("hs256 secret, nbf in the future", signed(json!({"nbf": now() + 600})), Outcome::Invalid),
        case("hs256 secret, wrong audience", signed(json!({"aud": "another-api"})), Outcome::Invalid),
        secret_only("hs256 secret, wrong tenant", signed(json!({"tenant": "t2"})), Outcome::WrongTenant),
        secret_only("hs256 secret, unprivileged", signed(json!({"roles": ["USER"]})), Outcome::NotPrivileged),
    ]
}

#[test]
fn bearer_tokens_are_checked_as_specified() {
    let issuer = Issuer::generate();
    let without_secret = authenticator(&issuer, None);
    let with_secret = authenticator(&issuer, Some(SECRET));
    let cases = [header_cases(), claim_cases(&issuer), signature_cases(&issuer), secret_claim_cases()];
    for case in cases.into_iter().flatten() {
        for (authenticator, expected, label) in [
            (&without_secret, case.without_secret, "without secret"),
            (&with_secret, case.with_secret, "with secret"),
        ] {
            let result = authenticator.authorize(case.header.as_deref(), TENANT);
            assert_eq!(Outcome::of(&result), expected, "{} ({label}): {result:?}", case.name);
            if let Err(error) = &result {
                assert_eq!(error.status(), expected.status(), "{} ({label})", case.name);
            }
        }
    }
}

#[test]
fn key_sets_are_checked_when_loaded() {
    let issuer = Issuer::generate();
    let key = serde_json::to_value(issuer.jwks()).unwrap()["keys"][0].clone();
    let with = |changes: Value| {
        let mut key = key.clone();
        key.as_object_mut().unwrap().extend(changes.as_object().unwrap().clone());
        key
    };
    let hmac_key = json!({"kty": "oct", "k": URL_SAFE_NO_PAD.encode(SECRET), "kid": "hmac", "alg": "HS256"});
    let encryption_key = with(json!({"kid": "enc", "use": "enc"}));
    let cases = [
        ("the issuer's set", json!([key]), true),
        ("an encryption key is skipped", json!([key, encryption_key]), true),
        ("no keys", json!([]), false),
        ("only an encryption key", json!([encryption_key]), false),
        ("no kid", json!([with(json!({"kid": null}))]), false),
        ("the same kid twice", json!([key, key]), false),
        ("a shared secret key", json!([key, hmac_key]), false),
        ("an ed25519 key declared rs256", json!([with(json!({"alg": "RS256"}))]), false),
        ("an ed25519 key declared hs256", json!([with(json!({"alg": "HS256"}))]), false),
    ];
    for (name, keys, valid) in cases {
        let jwks = serde_json::from_value(json!({"keys": keys})).unwrap();
        let settings = AuthSettings {
            issuer: LOCAL_ISSUER.into(),
            audience: AUDIENCE.into(),
            jwks,
            shared_secret: None,
        };
        assert_eq!(Authenticator::new(&settings).is_ok(), valid, "{name}");
    }
}

#[test]
fn service_credentials_accept_only_known_secrets() {
    let tokenizer = ServiceCredential::generate("tokenizer");
    let accepted = ServiceCredentials::new(std::slice::from_ref(&tokenizer));
    let find = Scope::Find;
    assert_eq!(accepted.verify(Some(&tokenizer.authorization()), find).unwrap(), "tokenizer");
    let impostor: ServiceCredential = "tokenizer:0123456789abcdef0123".parse().unwrap();
    assert_eq!(accepted.verify(Some(&impostor.authorization()), find), Err(AuthError::BadCredentials));
    let unknown = ServiceCredential::generate("query-api");
    assert_eq!(accepted.verify(Some(&unknown.authorization()), find), Err(AuthError::BadCredentials));
    assert_eq!(accepted.verify(None, find), Err(AuthError::Missing));
    assert_eq!(accepted.verify(Some("Basic !!!"), find), Err(AuthError::Malformed));
    assert!("short:secret".parse::<ServiceCredential>().is_err());
    assert!(!format!("{tokenizer:?}").contains(&tokenizer.expose()[10..]), "debug hides the secret");
}

/// Each service's credential makes its own calls only; none erases (not a scope).
#[test]
fn service_credentials_are_scoped_to_their_service() {
    let tokenizer = ServiceCredential::generate("tokenizer");
    let query = ServiceCredential::generate("query-api");
    let custom: ServiceCredential = "auditor:0123456789abcdef0123:lookup+detokenize".parse().unwrap();
    let accepted = ServiceCredentials::new(&[tokenizer.clone(), query.clone(), custom.clone()]);
    let all = Scope::ALL;
    let allowed: [(&ServiceCredential, &[Scope]); 3] = [
        (&tokenizer, &[Scope::Tokenize, Scope::Find]),
        (&query, &[Scope::Lookup, Scope::Match, Scope::Detokenize, Scope::Search]),
        (&custom, &[Scope::Lookup, Scope::Detokenize]),
    ];
    for (credential, scopes) in allowed {
        for scope in all {
            let answer = accepted.verify(Some(&credential.authorization()), scope);
            if scopes.contains(&scope) {
                assert_eq!(answer.unwrap(), credential.name, "{scope}");
            } else {
                let error = answer.unwrap_err();
                assert_eq!(error.status(), 403, "{} calling {scope}", credential.name);
                assert_eq!(error.to_string(), format!("service {} may not call {scope}", credential.name));
            }
        }
    }
    let declared: ServiceCredential = custom.declaration().parse().unwrap();
    assert_eq!(declared, custom, "a declaration parses back to the same credential");
    let unscoped = "notifier:0123456789abcdef0123".parse::<ServiceCredential>();
    assert_eq!(unscoped.unwrap_err(), "service notifier needs its scopes: notifier:SECRET:scope+scope");
    let unknown_scope = "auditor:0123456789abcdef0123:erase".parse::<ServiceCredential>();
    assert_eq!(unknown_scope.unwrap_err(), "unknown scope \"erase\" of service auditor");
}

#[test]
fn a_refusal_answers_a_scim_error_that_never_says_why_a_token_failed() {
    let invalid = AuthError::InvalidToken { reason: "signature of key k1 failed".into() };
    let answer = invalid.scim();
    assert_eq!((answer.status.as_u16(), answer.detail.as_str()), (401, "authentication required"));
    let answer = AuthError::WrongTenant.scim();
    assert_eq!((answer.status.as_u16(), answer.detail.as_str()), (403, "token is not valid for this tenant"));
}
