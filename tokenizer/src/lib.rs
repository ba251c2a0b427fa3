//! The tokenizer: personal data out of every record before it is stored.
//!
//! # Layout
//! - [`detect`]: where personal data sits inside free text and event codes: e-mail
//!   addresses, IPv4 and IPv6 addresses, and the addresses in `HOSTADDRESS[...]`.
//!
//! The PII policy, the vault round trip and the stage follow (issue 3).

pub mod detect;
pub mod policy;
