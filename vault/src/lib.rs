//! The Token Vault: the only component that ever holds clear personal data.
//!
//! # Layout
//! - [`keys`]: the key hierarchy and the cryptography over it: clear values sealed
//!   with XChaCha20-Poly1305, bound to their tenant and token; keyed blind indexes
//!   for convergent lookup; keys wrapped by the key above them, down from the master
//!   key, so destroying one key makes everything under it unrecoverable.
//! - [`keyring`]: tenant keys (created on first use, cached) and subject keys (read
//!   per batch, so an erasure anywhere takes effect everywhere).
//! - [`store`]: SQLite (embedded) or PostgreSQL (replicas) behind one interface,
//!   with migrations for both.
//! - [`tokens`]: tokenize, look up, reveal, search and erase: the vault's logic.

pub mod error;
pub mod keyring;
pub mod keys;
pub mod store;
pub mod tokens;

pub use error::VaultError;
