//! The event catalogue of the seed document as traffic uses it: every actionName
//! (defined once in `audit_schemas::actions`), and the codes such events carry.

pub use audit_schemas::actions::{
    AUTHENTICATION, AUTHENTICATOR, DEVICE, ORGANIZATION, USER, seed_action_names as all_action_names,
};

/// Authentication type codes (`ATC`).
pub const AUTHENTICATION_TYPES: &[&str] =
    &["AT_STDPWD", "AT_SYSLOG", "AT_EMPOOB", "AT_OTP", "AT_PUSH", "AT_FIDO", "AT_SMSOTP"];

/// Channel codes (`CHC`).
pub const CHANNELS: &[&str] = &["CH_EXTRAPP", "OPERATOR", "CH_DIRECT", "CH_SELFSERVICE"];
