//! Matching clear values against a pattern or a range (`/v1/match`).
//!
//! Blind indexes answer equality only, so a pattern is answered by decrypting the
//! tenant's values and testing each one. That costs a decryption per value, so it is
//! bounded twice ([`MatchBounds`]): a tenant with more values than the vault will scan
//! is refused before anything is decrypted, and a pattern matching more values than
//! the caller's limit is refused rather than answered in part, since a truncated list
//! of matches would silently drop records from a filter. Values of erased subjects
//! never match: their keys are gone. Only tokens leave this module, never a value.

use audit_vault_api::MatchOp;

use super::pattern::Pattern;
use super::{Vault, unique_owners_of};
use crate::VaultError;
use crate::keyring::{SubjectKeyParams, SubjectKeys, TenantKeys};
use crate::keys::Context;
use crate::store::{Store, TokenRow};

/// Most values of one tenant the vault decrypts for one match.
pub const MATCH_SCAN_LIMIT: usize = 100_000;
/// Most tokens one match returns; a request's `limit` is capped by it.
pub const MATCH_RESULT_LIMIT: usize = 1_000;
/// Values opened between two yields to the runtime, and subject keys read per query.
const CHUNK: usize = 1_000;

/// The bounds of one match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MatchBounds {
    /// Most values of the tenant decrypted; a tenant with more is refused.
    pub scan: usize,
    /// Most tokens returned, whatever the request asks for.
    pub results: usize,
}

impl Default for MatchBounds {
    fn default() -> MatchBounds {
        MatchBounds { scan: MATCH_SCAN_LIMIT, results: MATCH_RESULT_LIMIT }
    }
}

/// A match condition on clear values and how many matches the caller accepts.
pub struct MatchQuery<'a> {
    /// The compiled condition.
    pub pattern: Pattern<'a>,
    /// Most tokens wanted, capped by [`MatchBounds::results`]; more is an error.
    pub limit: usize,
}

impl<'a> MatchQuery<'a> {
    /// The query `value <op> operand`, returning at most `limit` tokens.
    pub fn new(op: MatchOp, operand: &'a str, limit: usize) -> MatchQuery<'a> {
        MatchQuery { pattern: Pattern::new(op, operand), limit }
    }
}

impl Vault {
    /// Tokens of the tenant's values that satisfy `query`, sorted. Refused with
    /// [`VaultError::MatchScanBound`] when the tenant holds more values than
    /// [`MatchBounds::scan`], and with [`VaultError::MatchResultBound`] when more
    /// values match than the query's capped limit.
    pub async fn match_values(
        &self,
        tenant: &str,
        query: &MatchQuery<'_>,
    ) -> Result<Vec<String>, VaultError> {
        let limit = query.limit.min(self.bounds.results);
        let Some(keys) = self.keyring.existing_tenant(&self.store, tenant).await? else {
            return Ok(Vec::new());
        };
        let bound = self.bounds.scan;
        // One row past the bound tells a tenant at the bound from one beyond it.
        let rows = self.store.sealed_tokens(tenant, bound.saturating_add(1)).await?;
        if rows.len() > bound {
            return Err(VaultError::MatchScanBound { bound });
        }
        let scan = Scan { store: &self.store, tenant, keys: &keys, pattern: &query.pattern };
        let mut matched = Vec::new();
        for chunk in rows.chunks(CHUNK) {
            matched.extend(scan.matching(chunk).await?);
            if matched.len() > limit {
                return Err(VaultError::MatchResultBound { limit });
            }
            // Decryption is CPU work: a large tenant must not hold a worker thread
            // for the whole scan.
            tokio::task::yield_now().await;
        }
        matched.sort_unstable();
        Ok(matched)
    }
}

/// What every chunk of one match shares.
struct Scan<'a> {
    store: &'a Store,
    tenant: &'a str,
    keys: &'a TenantKeys,
    pattern: &'a Pattern<'a>,
}

impl Scan<'_> {
    /// Tokens of the rows whose values match. Subject keys are read now, after the
    /// rows: a subject erased in between has no key and its values do not match.
    async fn matching(&self, rows: &[TokenRow]) -> Result<Vec<String>, VaultError> {
        let owners = unique_owners_of(rows);
        let subject_keys = SubjectKeys::load(SubjectKeyParams {
            store: self.store,
            tenant: self.tenant,
            keys: self.keys,
            owners: &owners,
        })
        .await?;
        let mut tokens = Vec::new();
        for row in rows {
            let key = subject_keys.sealing_key(self.keys, row.owner_id.as_deref());
            let (Some(sealed), Some(key)) = (row.sealed.as_deref(), key) else {
                continue;
            };
            let value = key.open_text(&Context::value(self.tenant, &row.token), sealed)?;
            if self.pattern.matches(&value) {
                tokens.push(row.token.clone());
            }
        }
        Ok(tokens)
    }
}
