//! The attributes a filter may name, and which of them hold tokens.
//!
//! Names are case-insensitive: everything here works on lowercase dotted paths, the
//! same paths the index's keyword terms use. Attributes under the open maps
//! (`action.actionParameters.*`, `return_value.*`) are any one name deep, since event
//! codes are open-ended. The attributes and which of them hold tokens are the record's
//! own, defined once for the tokenizer and the query-api (`audit_schemas::fields`).

use std::collections::BTreeSet;
use std::sync::OnceLock;

use audit_schemas::PiiPolicy;
use audit_schemas::fields::{ATTRIBUTES, CREATED, OPEN_MAPS};

/// The record schema a filter's attribute path may be prefixed with.
pub const RECORD_SCHEMA: &str = "urn:hid:scim:api:idp:2.0:auditrecord";

/// How an attribute is searched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `created`: a time, compared in milliseconds.
    Created,
    /// `verify`: not an attribute, the request for verification.
    Verify,
    /// A string attribute, searched through its keyword terms.
    Keyword(Tokens),
}

/// Whether an attribute's stored values are tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tokens {
    /// Clear values.
    None,
    /// The whole value is a token.
    Whole,
    /// Tokens replace personal values inside the text (e-mail and IP addresses).
    Embedded,
}

/// The attributes and their token policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Catalogue {
    /// Every attribute, lowercase.
    fixed: BTreeSet<String>,
    /// The open maps, lowercase, each with its trailing dot.
    open_maps: Vec<String>,
    whole: BTreeSet<String>,
    embedded: BTreeSet<String>,
}

impl Default for Catalogue {
    /// The default policy's.
    fn default() -> Self {
        Catalogue::of(&PiiPolicy::default())
    }
}

impl Catalogue {
    /// The record's attributes, those `policy` names holding tokens.
    pub fn of(policy: &PiiPolicy) -> Catalogue {
        let lower = |paths: Vec<String>| paths.iter().map(|path| lowercase(path)).collect();
        Catalogue {
            fixed: ATTRIBUTES.iter().map(|path| lowercase(path)).collect(),
            open_maps: OPEN_MAPS.iter().map(|map| format!("{}.", lowercase(map))).collect(),
            whole: lower(policy.whole_paths()),
            embedded: lower(policy.embedded_paths()),
        }
    }

    /// The kind of the attribute at lowercase `path`, `None` if there is no such attribute.
    pub fn kind(&self, path: &str) -> Option<Kind> {
        match path {
            "created" => return Some(Kind::Created),
            "verify" => return Some(Kind::Verify),
            _ => {}
        }
        let known = self.fixed.contains(path)
            || self.open_maps.iter().any(|map| {
                path.strip_prefix(map).is_some_and(|name| !name.is_empty() && !name.contains('.'))
            });
        if !known {
            return None;
        }
        let tokens = if self.whole.contains(path) {
            Tokens::Whole
        } else if self.embedded.contains(path) {
            Tokens::Embedded
        } else {
            Tokens::None
        };
        Some(Kind::Keyword(tokens))
    }
}

/// The lowercase form of a dotted path.
pub fn lowercase(path: &str) -> String {
    path.chars().flat_map(char::to_lowercase).collect()
}

/// What an error says about the attributes one may use: every attribute of the record.
pub fn known_attributes() -> &'static str {
    static KNOWN: OnceLock<String> = OnceLock::new();
    KNOWN.get_or_init(|| {
        let maps = OPEN_MAPS.iter().map(|map| format!("{map}.<name>"));
        let all: Vec<String> = ATTRIBUTES
            .iter()
            .map(|path| (*path).to_owned())
            .chain([CREATED.to_owned()])
            .chain(maps)
            .chain(["verify".to_owned()])
            .collect();
        all.join(", ")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_resolve_with_their_token_policy() {
        let catalogue = Catalogue::default();
        let cases = [
            ("created", Some(Kind::Created)),
            ("verify", Some(Kind::Verify)),
            ("result", Some(Kind::Keyword(Tokens::None))),
            ("targetuserid.id", Some(Kind::Keyword(Tokens::Whole))),
            ("action.actionparameters.usn", Some(Kind::Keyword(Tokens::Whole))),
            ("action.actionparameters.arp", Some(Kind::Keyword(Tokens::Embedded))),
            ("message", Some(Kind::Keyword(Tokens::Embedded))),
            ("action.actionparameters.atc", Some(Kind::Keyword(Tokens::None))),
            ("return_value.response", Some(Kind::Keyword(Tokens::None))),
            ("actinguserid.session.authenticationmethod", Some(Kind::Keyword(Tokens::None))),
            ("action.actionparameters", None),
            ("action.actionparameters.a.b", None),
            ("password", None),
            ("targetuserid", None),
        ];
        for (path, expected) in cases {
            assert_eq!(catalogue.kind(path), expected, "{path}");
        }
    }
}
