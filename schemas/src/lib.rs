//! Avro schemas of the records that travel between services, and their codec.
//!
//! Owns the wire format: every record on an internal topic is Avro single-object
//! encoded (`C3 01`, the writer schema's 8-byte CRC-64-AVRO fingerprint of its Parsing
//! Canonical Form as the Avro specification defines it, then the datum),
//! so a reader always knows which schema wrote a message. The [`catalogue`] lists
//! every published version of every schema; published `.avsc` files are never edited,
//! a change is a new version that current readers resolve against old writers.
//! [`fields`] names the record's attributes and which of them hold personal data, once
//! for the tokenizer and the query-api. [`limits`] are a raw event's bounds, which the
//! ingestor checks and [`trail`] builds the trail's own events within.

pub mod actions;
pub mod binary;
pub mod canonical;
pub mod catalogue;
pub mod codec;
pub mod fields;
pub mod limits;
pub mod normalized;
pub mod signed;
pub mod tokenized;
pub mod trail;

pub use binary::Datum;
pub use catalogue::{Catalogue, SchemaVersion};
pub use codec::{Codec, CodecError};
pub use fields::{PiiPolicy, PiiPolicyArgs};
pub use normalized::{Action, NormalizedRecord, Session, UserRef};
pub use signed::SignedRecord;
pub use tokenized::TokenizedRecord;
