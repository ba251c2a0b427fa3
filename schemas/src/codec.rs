//! Avro single-object encoding of one record family.
//!
//! Writes with the family's newest schema. Reads any version in the catalogue: the
//! current one directly into the Rust type through its [`Datum`] mapping, older ones
//! by decoding with the writer schema, resolving to the current schema (Avro's schema
//! resolution) and reading the resolved datum the same way. Readers and writers are
//! built once per codec.
//!
//! Every record of a steady pipeline takes the direct path, which writes and reads
//! without the per-field lookups and allocations of `apache-avro`'s serde path (they
//! dominated the stages' codec time); the compatibility tests check both write the
//! same bytes. `apache-avro` keeps the catalogue and the resolution of older versions.

use std::{collections::HashMap, marker::PhantomData};

use apache_avro::{reader::datum::GenericDatumReader, writer::datum::GenericDatumWriter};

use crate::{
    binary::{Datum, Reader},
    catalogue::{Catalogue, Entry},
};

/// The two marker bytes that open every single-object encoded message.
pub const MAGIC: [u8; 2] = [0xC3, 0x01];
/// Marker plus fingerprint.
pub const HEADER_LEN: usize = 10;

/// What can go wrong encoding or decoding a record.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// A catalogue schema does not parse.
    #[error("schema {family} v{version} is invalid: {detail}")]
    InvalidSchema { family: &'static str, version: u32, detail: String },
    /// Two catalogue versions are the same schema.
    #[error("schema {family} v{version} duplicates the fingerprint of another version")]
    DuplicateFingerprint { family: &'static str, version: u32 },
    /// The catalogue has no version of the family.
    #[error("no schema of family {family} in the catalogue")]
    UnknownFamily { family: String },
    /// The message does not start with the single-object header.
    #[error("message is not avro single-object encoded")]
    NotSingleObject,
    /// The header names a schema this build does not know.
    #[error("unknown schema fingerprint {fingerprint}")]
    UnknownFingerprint { fingerprint: String },
    /// The header names a schema of another family.
    #[error("message has schema {found}, expected {expected}")]
    WrongFamily { found: &'static str, expected: String },
    /// The datum does not match its schema.
    #[error("avro {operation} failed: {detail}")]
    Avro { operation: &'static str, detail: String },
}

/// Encoder and decoder of one record family.
pub struct Codec<T> {
    family: String,
    current: &'static Entry,
    /// Re-encodes a resolved older datum with the current schema.
    current_writer: GenericDatumWriter<'static>,
    /// One reader per older version, keyed by each fingerprint it was written under.
    readers: HashMap<[u8; 8], GenericDatumReader<'static>>,
    record_type: PhantomData<fn(T) -> T>,
}

impl<T: Datum> Codec<T> {
    /// A codec for `family` from the published catalogue.
    pub fn published(family: &str) -> Result<Self, CodecError> {
        Self::try_new(Catalogue::published(), family)
    }

    /// A codec for `family` from `catalogue`.
    pub fn try_new(catalogue: &'static Catalogue, family: &str) -> Result<Self, CodecError> {
        let unknown = || CodecError::UnknownFamily { family: family.to_owned() };
        let current = catalogue.latest(family).ok_or_else(unknown)?;
        let current_writer = GenericDatumWriter::builder(&current.schema).build().map_err(avro("writer"))?;
        let mut readers = HashMap::new();
        for entry in catalogue.versions(family).filter(|entry| entry.fingerprint != current.fingerprint) {
            for fingerprint in entry.fingerprints() {
                let reader = GenericDatumReader::builder(&entry.schema)
                    .reader_schema(&current.schema)
                    .build()
                    .map_err(avro("reader"))?;
                readers.insert(fingerprint, reader);
            }
        }
        Ok(Codec { family: family.to_owned(), current, current_writer, readers, record_type: PhantomData })
    }

    /// The fingerprint this codec writes.
    pub fn fingerprint(&self) -> [u8; 8] {
        self.current.fingerprint
    }

    /// Encodes `record` with the current schema, header included.
    pub fn encode(&self, record: &T) -> Result<Vec<u8>, CodecError> {
        let mut buffer = Vec::with_capacity(512);
        buffer.extend_from_slice(&MAGIC);
        buffer.extend_from_slice(&self.current.fingerprint);
        record.write(&mut buffer);
        Ok(buffer)
    }

    /// Decodes a message written by any catalogued version of the family.
    pub fn decode(&self, message: &[u8]) -> Result<T, CodecError> {
        let fingerprint = read_header(message)?;
        let mut datum = &message[HEADER_LEN..];
        if self.current.fingerprints().contains(&fingerprint) {
            return read_datum(datum);
        }
        let Some(reader) = self.readers.get(&fingerprint) else {
            return Err(self.foreign_fingerprint(fingerprint));
        };
        let value = reader.read_value(&mut datum).map_err(avro("decode"))?;
        let resolved = self.current_writer.write_value_to_vec(value).map_err(avro("decode"))?;
        read_datum(&resolved)
    }

    fn foreign_fingerprint(&self, fingerprint: [u8; 8]) -> CodecError {
        match Catalogue::published().by_fingerprint(&fingerprint) {
            Some(entry) => {
                CodecError::WrongFamily { found: entry.version.family, expected: self.family.clone() }
            }
            None => CodecError::UnknownFingerprint { fingerprint: hex(&fingerprint) },
        }
    }
}

fn read_datum<T: Datum>(datum: &[u8]) -> Result<T, CodecError> {
    let mut reader = Reader::new(datum);
    let record = T::read(&mut reader).and_then(|record| reader.finish().map(|()| record));
    record.map_err(|error| CodecError::Avro { operation: "decode", detail: error.to_string() })
}

/// The fingerprint in a single-object header.
pub fn read_header(message: &[u8]) -> Result<[u8; 8], CodecError> {
    if message.len() < HEADER_LEN || message[..2] != MAGIC {
        return Err(CodecError::NotSingleObject);
    }
    let mut fingerprint = [0u8; 8];
    fingerprint.copy_from_slice(&message[2..HEADER_LEN]);
    Ok(fingerprint)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn avro(operation: &'static str) -> impl Fn(apache_avro::Error) -> CodecError {
    move |error| CodecError::Avro { operation, detail: error.to_string() }
}
