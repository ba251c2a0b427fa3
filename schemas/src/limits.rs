//! The bounds of a raw event the ingestor accepts, owned here so that whoever builds
//! events (the trail's own, in [`crate::trail`]) builds them within the same bounds the
//! ingestor checks.

/// Deepest nesting of objects and arrays a valid event has is 3
/// (`targetUserId.session.id`); a little slack, then refuse.
pub const MAX_DEPTH: usize = 6;
/// Most event codes in `action.actionParameters`.
pub const MAX_PARAMETERS: usize = 128;
/// Longest event code name.
pub const MAX_PARAMETER_NAME: usize = 64;
/// Longest value of an event code.
pub const MAX_PARAMETER_VALUE: usize = 4096;
/// Longest identifier-like field (ids, tenant, result, host, ...).
pub const MAX_IDENTIFIER: usize = 512;
/// Longest free-text `message`.
pub const MAX_MESSAGE: usize = 8192;
/// Most entries in `return_value`.
pub const MAX_RETURN_VALUES: usize = 32;
/// The smallest largest-message setting an ingestor accepts: every trail event fits.
pub const MIN_MESSAGE_BYTES: usize = 64 * 1024;

/// Tenant ids appear in URLs and Kafka keys: 1 to 64 of `[A-Za-z0-9_-]`.
pub fn is_tenant_id(tenant: &str) -> bool {
    (1..=64).contains(&tenant.len())
        && tenant.bytes().all(|byte| byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-')
}

/// Action names are identifiers: 1 to 128 of `[A-Za-z0-9_.:-]`.
pub fn is_action_name(name: &str) -> bool {
    (1..=128).contains(&name.len())
        && name.bytes().all(|byte| byte.is_ascii_alphanumeric() || b"_.:-".contains(&byte))
}

/// Event code names: 1 to 64 of `[A-Za-z0-9_]`.
pub fn is_parameter_name(name: &str) -> bool {
    (1..=MAX_PARAMETER_NAME).contains(&name.len())
        && name.bytes().all(|byte| byte.is_ascii_alphanumeric() || byte == b'_')
}
