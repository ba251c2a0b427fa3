//! The Token Vault: the only component that ever holds clear personal data.
//!
//! # Layout
//! - [`keys`]: the key hierarchy and the cryptography over it: clear values sealed
//!   with XChaCha20-Poly1305, bound to their tenant and token; keyed blind indexes
//!   for convergent lookup; keys wrapped by the key above them, down from the master
//!   key, so destroying one key makes everything under it unrecoverable.
//!
//! Storage (SQLite, PostgreSQL), the TokensVault HTTP API and erasure build on it.

pub mod keys;
