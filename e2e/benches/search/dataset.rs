//! The benchmark's clear records: `TENANTS` tenants of `PER_TENANT` records each,
//! shaped like the seed's (action names of the event catalogue, ~15% failures,
//! `created` spread over 30 days, ~400 users per tenant as `targetUserId.id` e-mails,
//! API clients and administrators acting, client IPs as `host`, an
//! `action.actionParameters` map with ATC/USN/ARP/...).
//!
//! Guarantee: deterministic for a tenant index, and each tenant's records come sorted
//! by `created`, the order they are chained in.

use std::collections::BTreeMap;

use audit_schemas::{Action, NormalizedRecord, Session, UserRef};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Records in the index unless `AUDIT_BENCH_RECORDS` says otherwise.
const RECORDS: usize = 1_000_000;
/// Tenants generated, tokenized and loaded at a time (memory stays bounded by them).
pub const CHUNK: usize = 50;

/// Tenants in the index: `AUDIT_BENCH_RECORDS` (1,000,000 by default) over tenants
/// of [`PER_TENANT`] records each, so a tenant's size stays fixed as the index grows.
pub fn tenants() -> usize {
    let records =
        std::env::var("AUDIT_BENCH_RECORDS").ok().and_then(|records| records.replace('_', "").parse().ok());
    records.unwrap_or(RECORDS).div_ceil(PER_TENANT).max(1)
}
/// Records of each tenant.
pub const PER_TENANT: usize = 20_000;
/// 2024-03-01T00:00:00Z in milliseconds: the first day of the data.
pub const BASE: i64 = 1_709_251_200_000;
/// One day in milliseconds.
pub const DAY: i64 = 86_400_000;
/// Days the records are spread over.
pub const DAYS: i64 = 30;
/// Users of each tenant (`targetUserId`).
const USERS: usize = 400;
/// API clients of each tenant (`actingUserId` of authentications).
const CLIENTS: usize = 12;
/// Administrators of each tenant (`actingUserId` of management events), among its users.
const ADMINS: usize = 6;

/// What kind of event an action is: decides its event codes and who acts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Group {
    Authentication,
    User,
    Device,
    Authenticator,
    Organization,
}

/// Actions with their relative frequency: authentications dominate a real trail.
const ACTIONS: [(&str, Group, u32); 30] = [
    ("indirectPrimaryAuthenticateUP", Group::Authentication, 220),
    ("primaryAuthenticateUP", Group::Authentication, 150),
    ("indirectPrimaryAuthenticateDevice", Group::Authentication, 60),
    ("primaryAuthenticateDevice", Group::Authentication, 50),
    ("indirectDeliverChallenge", Group::Authentication, 40),
    ("logout", Group::Authentication, 60),
    ("createUser", Group::User, 40),
    ("deleteUser", Group::User, 30),
    ("updateUser", Group::User, 40),
    ("updatePassword", Group::User, 30),
    ("changeUserPassword", Group::User, 20),
    ("updateUserAttributes", Group::User, 20),
    ("updateUserStatus", Group::User, 10),
    ("addRoleToUser", Group::User, 10),
    ("registerUserForOutOfBand", Group::User, 15),
    ("resetActivationCode", Group::User, 5),
    ("addDevice", Group::Device, 30),
    ("assignDeviceToUser", Group::Device, 20),
    ("updateDevice", Group::Device, 20),
    ("deleteDevices", Group::Device, 10),
    ("createCredential", Group::Device, 10),
    ("synchroniseDeviceAuto", Group::Device, 10),
    ("updateAuthenticatorStatus", Group::Authenticator, 20),
    ("createAuthenticator", Group::Authenticator, 10),
    ("updateUPAuthenticatorValidPeriod", Group::Authenticator, 10),
    ("resetAuthenticatorFailedAuthenticationCount", Group::Authenticator, 10),
    ("createUserGroup", Group::Organization, 10),
    ("updateUserGroupDetails", Group::Organization, 10),
    ("createRole", Group::Organization, 5),
    ("moveUserSubGroup", Group::Organization, 5),
];

const AUTH_TYPES: [&str; 6] = ["AT_STDPWD", "AT_EMPOOB", "AT_OTP", "AT_PUSH", "AT_FIDO", "AT_SMSOTP"];
const FIRST: [&str; 10] =
    ["anna", "bruno", "chloe", "david", "elena", "farid", "grace", "hugo", "ines", "jonas"];
const LAST: [&str; 9] =
    ["martin", "schmidt", "rossi", "garcia", "nowak", "dubois", "jensen", "silva", "kowalski"];
const DOMAINS: [&str; 3] = ["company.com", "example.org", "bank.example"];

/// One tenant's clear records, sorted by `created`.
pub struct Tenant {
    /// Tenant id.
    pub id: String,
    /// The records, clear.
    pub records: Vec<NormalizedRecord>,
}

/// A data subject: the personal values its events carry.
struct Person {
    email: String,
    username: String,
    immutable_id: String,
    addresses: [String; 2],
}

/// Who acts and is acted on in one tenant.
struct Directory {
    users: Vec<Person>,
    /// `(client id, immutable id)` of the API clients.
    clients: Vec<(String, String)>,
}

/// Tenants `range`, in index order, generated on two threads.
pub fn some(range: std::ops::Range<usize>) -> Vec<Tenant> {
    let mut tenants: Vec<(usize, Tenant)> = std::thread::scope(|scope| {
        let halves = [0, 1].map(|half| {
            let range = range.clone();
            scope.spawn(move || {
                (range.start + half..range.end)
                    .step_by(2)
                    .map(|index| (index, tenant(index)))
                    .collect::<Vec<_>>()
            })
        });
        halves.into_iter().flat_map(|half| half.join().expect("a generating thread")).collect()
    });
    tenants.sort_by_key(|(index, _)| *index);
    tenants.into_iter().map(|(_, tenant)| tenant).collect()
}

/// Tenant number `index`, deterministic.
pub fn tenant(index: usize) -> Tenant {
    let mut rng = StdRng::seed_from_u64(0x5eed_0000 + index as u64);
    let id = format!("t{}", hex(&mut rng, 10));
    let directory = directory(&mut rng, index);
    let mut times: Vec<i64> = (0..PER_TENANT).map(|_| BASE + rng.random_range(0..DAYS * DAY)).collect();
    times.sort_unstable();
    let records = times.into_iter().map(|created| record(&mut rng, &id, &directory, created)).collect();
    Tenant { id, records }
}

fn directory(rng: &mut StdRng, tenant: usize) -> Directory {
    let users = (0..USERS)
        .map(|n| {
            let (first, last) =
                (FIRST[rng.random_range(0..FIRST.len())], LAST[rng.random_range(0..LAST.len())]);
            let domain = DOMAINS[rng.random_range(0..DOMAINS.len())];
            Person {
                // The user number keeps e-mails distinct within the tenant.
                email: format!("{first}.{last}{n}@{domain}"),
                username: format!("{first}{last}{n}"),
                immutable_id: format!("{}", 10_000 + tenant * USERS + n),
                addresses: [address(rng), address(rng)],
            }
        })
        .collect();
    let clients = (0..CLIENTS).map(|n| (alphanumeric(rng, 24), format!("{}", 900 + n))).collect();
    Directory { users, clients }
}

fn record(rng: &mut StdRng, tenant: &str, directory: &Directory, created: i64) -> NormalizedRecord {
    let (action, group) = pick_action(rng);
    let user = &directory.users[rng.random_range(0..directory.users.len())];
    let address = &user.addresses[rng.random_range(0..2)];
    let success = rng.random_bool(0.85);
    let response = if success { "SUCCESS" } else { "FAILURE" };
    let target = UserRef {
        id: Some(user.email.clone()),
        immutable_id: Some(user.immutable_id.clone()),
        session: (group == Group::Authentication).then(|| Session {
            id: Some(hex(rng, 16)),
            authentication_method: Some(AUTH_TYPES[rng.random_range(0..AUTH_TYPES.len())].to_owned()),
        }),
    };
    NormalizedRecord {
        id: uuid(rng),
        tenant_id: tenant.to_owned(),
        created,
        action: Action {
            action_name: action.to_owned(),
            action_parameters: parameters(rng, group, user, address),
        },
        result: Some(format!("RESPONSE_{response}")),
        return_value: Some(BTreeMap::from([("response".to_owned(), response.to_owned())])),
        message: message(rng, action, success, user, address),
        host: Some(address.clone()),
        target_user: Some(target),
        acting_user: Some(acting(rng, directory, group)),
        external_id: Some(
            ["IDP-test-company", "API-test-company", "ADM-test-company"][rng.random_range(0..3)].into(),
        ),
        event_id: Some(uuid(rng)),
    }
}

fn pick_action(rng: &mut StdRng) -> (&'static str, Group) {
    let total: u32 = ACTIONS.iter().map(|(_, _, weight)| weight).sum();
    let mut pick = rng.random_range(0..total);
    for (name, group, weight) in ACTIONS {
        if pick < weight {
            return (name, group);
        }
        pick -= weight;
    }
    (ACTIONS[0].0, ACTIONS[0].1)
}

/// Authentications are done by an API client; everything else by an administrator.
fn acting(rng: &mut StdRng, directory: &Directory, group: Group) -> UserRef {
    let session = Some(Session { id: Some(hex(rng, 16)), authentication_method: None });
    if group == Group::Authentication {
        let (id, immutable_id) = &directory.clients[rng.random_range(0..directory.clients.len())];
        return UserRef { id: Some(id.clone()), immutable_id: Some(immutable_id.clone()), session };
    }
    let admin = &directory.users[rng.random_range(0..ADMINS)];
    UserRef { id: Some(admin.email.clone()), immutable_id: Some(admin.immutable_id.clone()), session }
}

fn parameters(rng: &mut StdRng, group: Group, user: &Person, address: &str) -> BTreeMap<String, String> {
    let mut codes = BTreeMap::new();
    let mut put = |code: &str, value: String| codes.insert(code.to_owned(), value);
    put("CHC", ["WEB", "API", "MOBILE"][rng.random_range(0..3)].to_owned());
    match group {
        Group::Authentication => {
            put("ATC", AUTH_TYPES[rng.random_range(0..AUTH_TYPES.len())].to_owned());
            put("USN", user.username.clone());
            put("AUS", "ENABLED".to_owned());
            let client = alphanumeric(rng, 24);
            let context =
                format!(r#"CONTEXT[{{"OPENID":{{"clientid":"{client}","scope":"openid profile"}}}}]"#);
            put("ARP", format!("{context},HOSTADDRESS[{address}]"));
        }
        Group::User => {
            put("USN", user.username.clone());
            put("ERI", format!("EXT-{}", user.immutable_id));
            put("ATA", "EMAIL".to_owned());
            put("ATV", user.email.clone());
        }
        Group::Device => {
            put("DSN", rng.random_range(10_000..99_999u32).to_string());
            put("DTC", ["DT_OTP", "DT_PUSH", "DT_FIDO"][rng.random_range(0..3)].to_owned());
            put("STS", ["ACTIVE", "SUSPENDED", "PENDING"][rng.random_range(0..3)].to_owned());
        }
        Group::Authenticator => {
            put("ATC", AUTH_TYPES[rng.random_range(0..AUTH_TYPES.len())].to_owned());
            put("AUS", ["ENABLED", "DISABLED"][rng.random_range(0..2)].to_owned());
        }
        Group::Organization => {
            put("GRC", format!("GRP{}", rng.random_range(1..40u32)));
            put("ROC", ["ORG_ADMIN", "HELPDESK", "AUDITOR"][rng.random_range(0..3)].to_owned());
        }
    }
    codes
}

fn message(rng: &mut StdRng, action: &str, success: bool, user: &Person, address: &str) -> Option<String> {
    match (action, success) {
        ("registerUserForOutOfBand", true) => Some("Registration successful".into()),
        (_, false) if rng.random_bool(0.7) => {
            Some(format!("Authentication failed for {} from {address}", user.email))
        }
        _ if rng.random_bool(0.1) => Some(format!("Notification sent to {}", user.email)),
        _ => None,
    }
}

fn address(rng: &mut StdRng) -> String {
    format!("10.{}.{}.{}", rng.random::<u8>(), rng.random::<u8>(), rng.random_range(1..255u8))
}

fn uuid(rng: &mut StdRng) -> String {
    let hex = hex(rng, 16);
    format!("{}-{}-4{}-a{}-{}", &hex[..8], &hex[8..12], &hex[13..16], &hex[17..20], &hex[20..])
}

fn hex(rng: &mut StdRng, bytes: usize) -> String {
    (0..bytes).map(|_| format!("{:02x}", rng.random::<u8>())).collect()
}

fn alphanumeric(rng: &mut StdRng, length: usize) -> String {
    rng.sample_iter(rand::distr::Alphanumeric).take(length).map(char::from).collect()
}
