//! Cursors (RFC 9865): where the next page starts, as an opaque string.
//!
//! A cursor holds the key of the last record returned and the snapshot the paging
//! started from: the tenant's highest sequence when the first page was read. Later
//! pages take only records up to that sequence and strictly after the key, so records
//! that arrive meanwhile are neither returned nor able to shift a page: no record is
//! skipped or repeated, and `totalResults` stays that of the first page. A tenant's
//! records are indexed in sequence order, so the snapshot is exactly what was
//! searchable then. Cursors never expire. They also carry a digest of the filter and
//! the order they were made for, and are refused with another.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use audit_index::search::{Key, Order};

use crate::QueryError;

/// Where a page continues.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// The snapshot: the highest sequence paged through.
    #[serde(rename = "h")]
    pub head: u64,
    /// The last key returned.
    #[serde(rename = "a")]
    pub after: Key,
    /// What the cursor was made for.
    #[serde(rename = "f")]
    pub made_for: u64,
}

impl Cursor {
    /// The cursor as sent to clients.
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).expect("a cursor serializes"))
    }

    /// Reads `text`, which must have been made for `made_for`.
    pub fn decode(text: &str, made_for: u64) -> Result<Cursor, QueryError> {
        let invalid = |detail: &str| QueryError::InvalidCursor(detail.to_owned());
        let bytes = URL_SAFE_NO_PAD
            .decode(text.trim())
            .map_err(|_| invalid("the cursor is not one this service gave"))?;
        let cursor: Cursor =
            serde_json::from_slice(&bytes).map_err(|_| invalid("the cursor is not one this service gave"))?;
        if cursor.made_for != made_for {
            return Err(invalid("the cursor belongs to another filter or sort order; send the same ones"));
        }
        Ok(cursor)
    }
}

/// The digest a cursor carries: of the filter as sent and of the order.
pub fn made_for(filter: Option<&str>, order: Order) -> u64 {
    let mut digest = Sha256::new();
    digest.update(filter.unwrap_or_default().as_bytes());
    digest.update([u8::from(order == Order::Descending)]);
    u64::from_be_bytes(digest.finalize()[..8].try_into().expect("8 bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_reads_back_only_for_its_filter_and_order() {
        let made = made_for(Some("actionName eq \"login\""), Order::Ascending);
        let cursor =
            Cursor { head: 42, after: Key { created: 7, sequence: 3, partition: 1 }, made_for: made };
        assert_eq!(Cursor::decode(&cursor.encode(), made).unwrap(), cursor);
        let other = made_for(Some("actionName eq \"logout\""), Order::Ascending);
        assert!(matches!(Cursor::decode(&cursor.encode(), other), Err(QueryError::InvalidCursor(_))));
        let reversed = made_for(Some("actionName eq \"login\""), Order::Descending);
        assert!(matches!(Cursor::decode(&cursor.encode(), reversed), Err(QueryError::InvalidCursor(_))));
        for garbage in ["", "!!", "e30", "bm90IGpzb24"] {
            assert!(matches!(Cursor::decode(garbage, made), Err(QueryError::InvalidCursor(_))), "{garbage}");
        }
    }
}
