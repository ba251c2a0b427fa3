//! The catalogue of every published schema version.
//!
//! A reader meets messages written by any version that was ever deployed, so it finds
//! the writer schema by the fingerprint in the message header. Versions are appended,
//! never edited or removed: a test pins the fingerprint of each published version.

use std::sync::OnceLock;

use apache_avro::{Schema, rabin::Rabin};

use crate::codec::CodecError;

/// One published version of a schema family, as shipped in `avro/`.
#[derive(Debug, Clone, Copy)]
pub struct SchemaVersion {
    /// Record family, e.g. `NormalizedRecord`.
    pub family: &'static str,
    /// 1, 2, ... in publication order.
    pub version: u32,
    /// The `.avsc` text.
    pub text: &'static str,
}

/// Every version this build knows, oldest first within a family.
pub const PUBLISHED: &[SchemaVersion] = &[
    SchemaVersion {
        family: "NormalizedRecord",
        version: 1,
        text: include_str!("../avro/normalized_record.v1.avsc"),
    },
    SchemaVersion {
        family: "TokenizedRecord",
        version: 1,
        text: include_str!("../avro/tokenized_record.v1.avsc"),
    },
    SchemaVersion { family: "SignedRecord", version: 1, text: include_str!("../avro/signed_record.v1.avsc") },
];

/// A parsed catalogue entry.
#[derive(Debug)]
pub struct Entry {
    /// Where the schema came from.
    pub version: SchemaVersion,
    /// The parsed schema.
    pub schema: Schema,
    /// Rabin fingerprint of the schema's parsing canonical form (little-endian).
    pub fingerprint: [u8; 8],
}

/// Parsed schema versions, looked up by fingerprint or family.
#[derive(Debug)]
pub struct Catalogue {
    entries: Vec<Entry>,
}

impl Catalogue {
    /// The catalogue of [`PUBLISHED`] versions, parsed once per process.
    pub fn published() -> &'static Catalogue {
        static PUBLISHED_CATALOGUE: OnceLock<Catalogue> = OnceLock::new();
        PUBLISHED_CATALOGUE.get_or_init(|| {
            Catalogue::try_new(PUBLISHED).expect("the published schemas are checked by tests")
        })
    }

    /// Parses `versions`; fails on an invalid schema or two versions with one fingerprint.
    pub fn try_new(versions: &[SchemaVersion]) -> Result<Catalogue, CodecError> {
        let mut entries: Vec<Entry> = Vec::with_capacity(versions.len());
        for version in versions {
            let schema = Schema::parse_str(version.text).map_err(|source| CodecError::InvalidSchema {
                family: version.family,
                version: version.version,
                detail: source.to_string(),
            })?;
            let fingerprint = fingerprint_of(&schema);
            if entries.iter().any(|entry| entry.fingerprint == fingerprint) {
                return Err(CodecError::DuplicateFingerprint {
                    family: version.family,
                    version: version.version,
                });
            }
            entries.push(Entry { version: *version, schema, fingerprint });
        }
        Ok(Catalogue { entries })
    }

    /// The entry whose schema has this fingerprint.
    pub fn by_fingerprint(&self, fingerprint: &[u8; 8]) -> Option<&Entry> {
        self.entries.iter().find(|entry| &entry.fingerprint == fingerprint)
    }

    /// All versions of a family, oldest first.
    pub fn versions(&self, family: &str) -> impl Iterator<Item = &Entry> {
        let family = family.to_owned();
        self.entries.iter().filter(move |entry| entry.version.family == family)
    }

    /// The newest version of a family: what writers use.
    pub fn latest(&self, family: &str) -> Option<&Entry> {
        let of_family = self.entries.iter().filter(|entry| entry.version.family == family);
        of_family.max_by_key(|entry| entry.version.version)
    }
}

/// The 8-byte Rabin fingerprint used in single-object headers.
pub fn fingerprint_of(schema: &Schema) -> [u8; 8] {
    let bytes = schema.fingerprint::<Rabin>().bytes;
    let mut fingerprint = [0u8; 8];
    fingerprint.copy_from_slice(&bytes[..8]);
    fingerprint
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fingerprints of published versions, hex. A published schema is immutable: if
    /// this test fails, the `.avsc` was edited in place instead of adding a version.
    const PINNED: &[(&str, u32, &str)] = &[
        ("NormalizedRecord", 1, "24d0ce6be429404a"),
        ("TokenizedRecord", 1, "26ef3710ac236dd2"),
        ("SignedRecord", 1, "89002be7de0dc5fb"),
    ];

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|byte| format!("{byte:02x}")).collect()
    }

    #[test]
    fn published_versions_keep_their_fingerprints() {
        let catalogue = Catalogue::published();
        for (family, version, expected) in PINNED {
            let entry = catalogue
                .versions(family)
                .find(|entry| entry.version.version == *version)
                .expect("pinned version is published");
            assert_eq!(&hex(&entry.fingerprint), expected, "{family} v{version}");
        }
        assert_eq!(PINNED.len(), PUBLISHED.len(), "every published version is pinned");
    }

    #[test]
    fn versions_are_numbered_in_order_without_gaps() {
        let catalogue = Catalogue::published();
        let mut families: Vec<&str> = PUBLISHED.iter().map(|version| version.family).collect();
        families.dedup();
        for family in families {
            let numbers: Vec<u32> = catalogue.versions(family).map(|entry| entry.version.version).collect();
            let expected: Vec<u32> = (1..=numbers.len() as u32).collect();
            assert_eq!(numbers, expected, "{family}");
        }
    }

    #[test]
    fn duplicate_fingerprints_are_refused() {
        let twice = [PUBLISHED[0], SchemaVersion { version: 2, ..PUBLISHED[0] }];
        let error = Catalogue::try_new(&twice).unwrap_err();
        assert!(matches!(error, CodecError::DuplicateFingerprint { version: 2, .. }));
    }
}
