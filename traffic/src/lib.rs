//! Realistic raw audit events, shaped like the records of the seed document.
//!
//! Deterministic for a given seed, so tests and benchmarks replay the same traffic.
//! Events carry personal data the way real ones do (e-mail addresses and user names
//! in `targetUserId.id` and `USN`, client addresses in `host` and `ARP`, external
//! references in `ERI`/`UER`), which is what the tokenizer has to remove. A share of
//! events can be malformed, each labelled with the reason code the ingestor gives it.

pub mod catalogue;
mod malformed;
mod population;

use rand::{Rng, SeedableRng, rngs::StdRng, seq::IndexedRandom};
use serde_json::{Map, Value, json};

pub use malformed::MALFORMED_KINDS;

/// How to generate.
#[derive(Debug, Clone)]
pub struct TrafficParams {
    /// Number of tenants events are spread over.
    pub tenants: usize,
    /// Share of malformed events, 0.0 to 1.0.
    pub malformed_ratio: f64,
    /// Share of events that repeat an earlier event's eventId (producer retries).
    pub duplicate_ratio: f64,
    /// Random seed.
    pub seed: u64,
    /// `created` of the first event, milliseconds since the epoch.
    pub start_ms: i64,
    /// People per tenant whose events recur, a few of them far more often than the
    /// rest, and clients with them; 0 draws a new person and client for every event.
    pub people_per_tenant: usize,
}

/// One generated Kafka message for `audit.raw`.
#[derive(Debug, Clone)]
pub struct RawEvent {
    /// Kafka key: the tenant id (producers may key as they like; valid events do).
    pub key: Option<Vec<u8>>,
    /// The message bytes.
    pub payload: Vec<u8>,
    /// For a malformed event, the reason code the ingestor must give it.
    pub malformed: Option<&'static str>,
    /// The eventId of a valid event.
    pub event_id: Option<String>,
    /// Whether this repeats an earlier event (same eventId and content).
    pub duplicate: bool,
}

/// A deterministic stream of raw events.
pub struct Generator {
    params: TrafficParams,
    rng: StdRng,
    tenants: Vec<String>,
    created_ms: i64,
    last_valid: Option<RawEvent>,
    population: population::Population,
}

impl Generator {
    /// A generator for `params`.
    pub fn new(params: TrafficParams) -> Self {
        let mut rng = StdRng::seed_from_u64(params.seed);
        let tenants: Vec<String> = (0..params.tenants.max(1)).map(|_| tenant_id(&mut rng)).collect();
        let created_ms = params.start_ms;
        let population = population::Population::new(&tenants, params.people_per_tenant, params.seed);
        Generator { params, rng, tenants, created_ms, last_valid: None, population }
    }

    /// The tenant ids events are spread over.
    pub fn tenants(&self) -> &[String] {
        &self.tenants
    }

    /// The next event.
    pub fn next_event(&mut self) -> RawEvent {
        self.created_ms += self.rng.random_range(0..40);
        if self.rng.random_bool(self.params.malformed_ratio.clamp(0.0, 1.0)) {
            let valid = self.valid_event();
            return malformed::corrupt(&mut self.rng, valid);
        }
        if let Some(previous) = &self.last_valid
            && self.rng.random_bool(self.params.duplicate_ratio.clamp(0.0, 1.0))
        {
            return RawEvent { duplicate: true, ..previous.clone() };
        }
        let event = self.valid_event();
        let tenant = event["tenantId"].as_str().unwrap_or_default().to_owned();
        let raw = RawEvent {
            key: Some(tenant.into_bytes()),
            payload: serde_json::to_vec(&event).expect("json values serialize"),
            malformed: None,
            event_id: event["eventId"].as_str().map(str::to_owned),
            duplicate: false,
        };
        self.last_valid = Some(raw.clone());
        raw
    }

    fn valid_event(&mut self) -> Value {
        let rng = &mut self.rng;
        let tenant = self.tenants.choose(rng).expect("at least one tenant").clone();
        let group = *[
            catalogue::AUTHENTICATION,
            catalogue::AUTHENTICATION,
            catalogue::AUTHENTICATION,
            catalogue::USER,
            catalogue::DEVICE,
            catalogue::AUTHENTICATOR,
            catalogue::ORGANIZATION,
        ]
        .choose(rng)
        .expect("groups are not empty");
        let action = *group.choose(rng).expect("group is not empty");
        let user = self.population.person(rng, &tenant);
        let success = rng.random_bool(0.85);
        let mut event = json!({
            "eventId": uuid::Builder::from_random_bytes(rng.random()).into_uuid().to_string(),
            "tenantId": tenant,
            "id": *["IDP-test-company", "API-test-company", "ADM-test-company"].choose(rng).expect("not empty"),
            "created": chrono::DateTime::from_timestamp_millis(self.created_ms)
                .expect("generated times are in range")
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "action": { "actionName": action, "actionParameters": parameters(rng, action, group, &user) },
            "result": if success { "RESPONSE_SUCCESS" } else { "RESPONSE_FAILURE" },
            "return_value": { "response": if success { "SUCCESS" } else { "FAILURE" } },
            "host": user.address,
            "targetUserId": user.reference(rng),
            "actingUserId": self.population.client(rng, &tenant).reference(rng),
        });
        if let Some(message) = message(rng, action, success, &user) {
            event["message"] = Value::String(message);
        }
        event
    }
}

/// A data subject with the personal data real events carry.
#[derive(Debug, Clone)]
struct Person {
    email: String,
    username: String,
    address: String,
    immutable_id: u32,
}

const FIRST_NAMES: &[&str] =
    &["anna", "bruno", "chloe", "david", "elena", "farid", "grace", "hugo", "ines", "jonas"];
const LAST_NAMES: &[&str] =
    &["martin", "schmidt", "rossi", "garcia", "nowak", "dubois", "jensen", "silva", "kowalski"];
const DOMAINS: &[&str] = &["company.com", "example.org", "bank.example", "corp.example.net"];

impl Person {
    fn random(rng: &mut StdRng) -> Person {
        let first = FIRST_NAMES.choose(rng).expect("not empty");
        let last = LAST_NAMES.choose(rng).expect("not empty");
        let number: u16 = rng.random_range(1..500);
        Person {
            email: format!("{first}.{last}{number}@{}", DOMAINS.choose(rng).expect("not empty")),
            username: format!("{first}{last}{number}"),
            address: format!(
                "10.{}.{}.{}",
                rng.random::<u8>(),
                rng.random::<u8>(),
                rng.random_range(1..255u8)
            ),
            immutable_id: rng.random_range(10_000..99_999),
        }
    }

    fn reference(&self, rng: &mut StdRng) -> Value {
        let id = if rng.random_bool(0.6) { &self.email } else { &self.username };
        json!({
            "id": id,
            "immutableId": self.immutable_id.to_string(),
            "session": { "id": hex_string(rng, 32), "authenticationMethod": AUTH_TYPES.choose(rng) },
        })
    }
}

/// An application acting for users.
#[derive(Debug, Clone)]
struct Client {
    id: String,
    immutable_id: u32,
}

impl Client {
    fn random(rng: &mut StdRng) -> Client {
        Client { id: alphanumeric(rng, 24), immutable_id: rng.random_range(100..20_000u32) }
    }

    fn reference(&self, rng: &mut StdRng) -> Value {
        json!({
            "id": self.id,
            "immutableId": self.immutable_id.to_string(),
            "session": { "id": hex_string(rng, 32) },
        })
    }
}

const AUTH_TYPES: &[&str] = catalogue::AUTHENTICATION_TYPES;

fn parameters(rng: &mut StdRng, action: &str, group: &[&str], user: &Person) -> Map<String, Value> {
    let mut codes = Map::new();
    let mut put = |code: &str, value: String| codes.insert(code.to_owned(), Value::String(value));
    put("Action", action.to_owned());
    put("CHC", catalogue::CHANNELS.choose(rng).expect("not empty").to_string());
    if std::ptr::eq(group, catalogue::AUTHENTICATION) {
        let client = alphanumeric(rng, 24);
        put("ATC", AUTH_TYPES.choose(rng).expect("not empty").to_string());
        put("USN", user.username.clone());
        put("ANS", "false".into());
        put("AUS", "ENABLED".into());
        let context = format!(r#"CONTEXT[{{"OPENID":{{"clientid":"{client}","scope":"openid profile"}}}}]"#);
        put("ARP", format!("{context},HOSTADDRESS[{}]", user.address));
    } else if std::ptr::eq(group, catalogue::USER) {
        put("USN", user.username.clone());
        put("ERI", format!("EXT-{}", user.immutable_id));
        if action == "updateUserExternalReference" {
            put("UER", format!("EXT-{}", rng.random_range(100_000..999_999u32)));
        }
        put("ATA", "EMAIL".into());
        put("ATV", user.email.clone());
    } else if std::ptr::eq(group, catalogue::DEVICE) {
        put("DSN", rng.random_range(10_000..99_999u32).to_string());
        put("DID", rng.random_range(10_000..99_999u32).to_string());
        put("DTC", ["DT_OTP", "DT_PUSH", "DT_FIDO"].choose(rng).expect("not empty").to_string());
        put("STS", ["ACTIVE", "SUSPENDED", "PENDING"].choose(rng).expect("not empty").to_string());
    } else if std::ptr::eq(group, catalogue::AUTHENTICATOR) {
        put("ATC", AUTH_TYPES.choose(rng).expect("not empty").to_string());
        put("AUS", ["ENABLED", "DISABLED"].choose(rng).expect("not empty").to_string());
        put("AVF", "2024-01-01".into());
        put("AVT", "2027-12-31".into());
    } else {
        put("GRC", format!("GRP{}", rng.random_range(1..400u32)));
        put(
            "GRN",
            ["Finance", "Support", "Admins", "Contractors"].choose(rng).expect("not empty").to_string(),
        );
        put("ROC", ["ORG_ADMIN", "HELPDESK", "AUDITOR"].choose(rng).expect("not empty").to_string());
    }
    codes
}

fn message(rng: &mut StdRng, action: &str, success: bool, user: &Person) -> Option<String> {
    match (action, success) {
        ("registerUserForOutOfBand", true) => Some("Registration successful".into()),
        (_, false) if rng.random_bool(0.7) => {
            Some(format!("Authentication failed for {} from {}", user.email, user.address))
        }
        _ if rng.random_bool(0.1) => Some(format!("Notification sent to {}", user.email)),
        _ => None,
    }
}

fn tenant_id(rng: &mut StdRng) -> String {
    format!("t{}", hex_string(rng, 10))
}

fn hex_string(rng: &mut StdRng, bytes: usize) -> String {
    (0..bytes).map(|_| format!("{:02x}", rng.random::<u8>())).collect()
}

fn alphanumeric(rng: &mut StdRng, length: usize) -> String {
    rng.sample_iter(rand::distr::Alphanumeric).take(length).map(char::from).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(malformed_ratio: f64) -> TrafficParams {
        TrafficParams {
            tenants: 3,
            malformed_ratio,
            duplicate_ratio: 0.0,
            seed: 7,
            start_ms: 1_700_000_000_000,
            people_per_tenant: 0,
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_traffic() {
        let first: Vec<Vec<u8>> = (0..50)
            .map({
                let mut generator = Generator::new(params(0.1));
                move |_| generator.next_event().payload
            })
            .collect();
        let mut generator = Generator::new(params(0.1));
        let second: Vec<Vec<u8>> = (0..50).map(|_| generator.next_event().payload).collect();
        assert_eq!(first, second);
    }

    #[test]
    fn valid_events_carry_the_required_fields_and_pii() {
        let mut generator = Generator::new(params(0.0));
        for _ in 0..200 {
            let event: Value = serde_json::from_slice(&generator.next_event().payload).unwrap();
            assert!(event["tenantId"].as_str().unwrap().starts_with('t'));
            assert!(event["action"]["actionName"].is_string());
            assert!(event["created"].as_str().unwrap().ends_with('Z'));
            assert!(event["host"].as_str().unwrap().starts_with("10."));
        }
    }

    #[test]
    fn malformed_share_is_close_to_the_ratio_and_labelled() {
        let mut generator = Generator::new(params(0.2));
        let events: Vec<RawEvent> = (0..2000).map(|_| generator.next_event()).collect();
        let malformed = events.iter().filter(|event| event.malformed.is_some()).count();
        assert!((300..500).contains(&malformed), "{malformed}");
    }
}
