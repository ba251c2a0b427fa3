//! The catalogue of every published schema version.
//!
//! A reader meets messages written by any version that was ever deployed, so it finds
//! the writer schema by the fingerprint in the message header. Versions are appended,
//! never edited or removed: a test pins the fingerprints of each published version.
//!
//! Writers use the specification's fingerprint (see [`crate::canonical`]). Messages
//! written before it carry `apache-avro`'s, which differs for schemas with logical
//! types; readers accept both, so nothing already on a topic becomes unreadable.

use std::sync::OnceLock;

use apache_avro::{Schema, rabin::Rabin};

use crate::{canonical::single_object_fingerprint, codec::CodecError};

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
    SchemaVersion { family: "SignedRecord", version: 2, text: include_str!("../avro/signed_record.v2.avsc") },
];

/// A parsed catalogue entry.
#[derive(Debug)]
pub struct Entry {
    /// Where the schema came from.
    pub version: SchemaVersion,
    /// The parsed schema.
    pub schema: Schema,
    /// CRC-64-AVRO of the schema's Parsing Canonical Form, little-endian: what writers use.
    pub fingerprint: [u8; 8],
    /// The fingerprint `apache-avro` 0.22 computed, written by earlier builds; read only.
    pub legacy_fingerprint: [u8; 8],
}

impl Entry {
    /// Every fingerprint a message of this version may carry.
    pub fn fingerprints(&self) -> [[u8; 8]; 2] {
        [self.fingerprint, self.legacy_fingerprint]
    }
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
            let fingerprint =
                single_object_fingerprint(version.text).map_err(|source| CodecError::InvalidSchema {
                    family: version.family,
                    version: version.version,
                    detail: source.to_string(),
                })?;
            let legacy_fingerprint = legacy_fingerprint_of(&schema);
            let taken = |entry: &Entry| {
                let theirs = entry.fingerprints();
                theirs.contains(&fingerprint) || theirs.contains(&legacy_fingerprint)
            };
            if entries.iter().any(taken) {
                return Err(CodecError::DuplicateFingerprint {
                    family: version.family,
                    version: version.version,
                });
            }
            entries.push(Entry { version: *version, schema, fingerprint, legacy_fingerprint });
        }
        Ok(Catalogue { entries })
    }

    /// The entry whose schema has this fingerprint.
    pub fn by_fingerprint(&self, fingerprint: &[u8; 8]) -> Option<&Entry> {
        self.entries.iter().find(|entry| entry.fingerprints().contains(fingerprint))
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

/// The fingerprint `apache-avro` computes from its own canonical form.
fn legacy_fingerprint_of(schema: &Schema) -> [u8; 8] {
    let bytes = schema.fingerprint::<Rabin>().bytes;
    let mut fingerprint = [0u8; 8];
    fingerprint.copy_from_slice(&bytes[..8]);
    fingerprint
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fingerprints of published versions, hex: the specification's, then the legacy
    /// one. A published schema is immutable: if this test fails, the `.avsc` was edited
    /// in place instead of adding a version.
    const PINNED: &[(&str, u32, &str, &str)] = &[
        ("NormalizedRecord", 1, "856987d85e563a8a", "24d0ce6be429404a"),
        ("TokenizedRecord", 1, "484a9d4c789a4417", "26ef3710ac236dd2"),
        ("SignedRecord", 1, "327de21e63e21371", "89002be7de0dc5fb"),
        ("SignedRecord", 2, "be052472a23c5b2b", "e30e39ed728c6569"),
    ];

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|byte| format!("{byte:02x}")).collect()
    }

    #[test]
    fn published_versions_keep_their_fingerprints() {
        let catalogue = Catalogue::published();
        for (family, version, expected, legacy) in PINNED {
            let entry = catalogue
                .versions(family)
                .find(|entry| entry.version.version == *version)
                .expect("pinned version is published");
            assert_eq!(&hex(&entry.fingerprint), expected, "{family} v{version}");
            assert_eq!(&hex(&entry.legacy_fingerprint), legacy, "{family} v{version} legacy");
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
