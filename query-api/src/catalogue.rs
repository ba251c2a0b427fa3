//! The attributes a filter may name, and which of them hold tokens.
//!
//! Names are case-insensitive: everything here works on lowercase dotted paths, the
//! same paths the index's keyword terms use. Attributes under the open maps
//! (`action.actionParameters.*`, `return_value.*`) are any one name deep, since event
//! codes are open-ended. Which attributes hold tokens follows the tokenizer's policy
//! (SPEC section 5) and is configured the same way.

use std::collections::BTreeSet;

/// The record schema a filter's attribute path may be prefixed with.
pub const RECORD_SCHEMA: &str = "urn:hid:scim:api:idp:2.0:auditrecord";

/// Plain attributes of a record (lowercase dotted paths).
const FIXED: [&str; 16] = [
    "id",
    "externalid",
    "tenantid",
    "eventid",
    "result",
    "message",
    "host",
    "action.actionname",
    "targetuserid.id",
    "targetuserid.immutableid",
    "targetuserid.session.id",
    "targetuserid.session.authenticationmethod",
    "actinguserid.id",
    "actinguserid.immutableid",
    "actinguserid.session.id",
    "actinguserid.session.authenticationmethod",
];

/// Maps whose keys are open-ended: one more name below them is an attribute.
const OPEN_MAPS: [&str; 2] = ["action.actionparameters.", "return_value."];

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
    whole: BTreeSet<String>,
    embedded: BTreeSet<String>,
}

impl Default for Catalogue {
    /// The tokenizer's default policy.
    fn default() -> Self {
        let whole = [
            "targetUserId.id",
            "actingUserId.id",
            "host",
            "action.actionParameters.USN",
            "action.actionParameters.ERI",
            "action.actionParameters.UER",
            "action.actionParameters.ATV",
        ];
        Catalogue::new(&whole, &["message", "action.actionParameters.ARP"])
    }
}

impl Catalogue {
    /// A catalogue where the attributes `whole` hold tokens and `embedded` hold text
    /// with tokens inside (any case; dotted paths).
    pub fn new(whole: &[impl AsRef<str>], embedded: &[impl AsRef<str>]) -> Catalogue {
        Catalogue {
            whole: whole.iter().map(|path| lowercase(path.as_ref())).collect(),
            embedded: embedded.iter().map(|path| lowercase(path.as_ref())).collect(),
        }
    }

    /// The kind of the attribute at lowercase `path`, `None` if there is no such attribute.
    pub fn kind(&self, path: &str) -> Option<Kind> {
        match path {
            "created" => return Some(Kind::Created),
            "verify" => return Some(Kind::Verify),
            _ => {}
        }
        let known = FIXED.contains(&path)
            || OPEN_MAPS.iter().any(|map| {
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

/// What an error says about the attributes one may use.
pub const KNOWN_ATTRIBUTES: &str = "id, externalId, tenantId, eventId, result, message, host, created, \
    action.actionName, action.actionParameters.<code>, return_value.<name>, \
    targetUserId.{id,immutableId,session.id,session.authenticationMethod}, \
    actingUserId.{id,immutableId,session.id,session.authenticationMethod}, verify";

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
