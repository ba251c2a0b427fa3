//! The vault's operations on one tenant's tokens: tokenize, look up, reveal, search,
//! match (by pattern, within bounds), erase. Pure logic over [`Store`] and [`Keyring`]; the HTTP
//! layer only translates.
//!
//! Guarantees: one clear value has one token per tenant, also under racing writers
//! (the store's unique blind index decides and the losers read the winner back); a
//! token is a random UUID v4 that says nothing about its value; a value is sealed
//! under its subject's key, bound to tenant and token.

mod matching;
pub mod pattern;
mod reveal;
mod tokenize;

use std::collections::HashSet;

use audit_vault_api::{Owner, Revealed};

use crate::VaultError;
use crate::keyring::{Keyring, TenantKeys};
use crate::store::{BlindIndex, Store, TokenQuery, TokenRow, now_ms};

pub use matching::{MatchBounds, MatchQuery};

/// One token as revealed to a privileged reader.
#[derive(Clone, PartialEq, Eq)]
pub struct RevealedToken {
    /// The token.
    pub token: String,
    /// Its data subject's internal id, if it has one.
    pub owner_id: Option<String>,
    /// The clear value, or why there is none.
    pub revealed: Revealed,
}

/// Equality conditions of a search, on clear values; all present ones must hold.
#[derive(Clone, Default)]
pub struct SearchFilter {
    /// `token eq`.
    pub token: Option<String>,
    /// `value eq` (clear).
    pub value: Option<String>,
    /// `ownerId eq`.
    pub owner_id: Option<String>,
    /// `ownerExtId eq` (clear).
    pub owner_ext_id: Option<String>,
}

/// The Token Vault over its store.
#[derive(Debug)]
pub struct Vault {
    store: Store,
    keyring: Keyring,
    bounds: MatchBounds,
}

impl Vault {
    /// A vault keeping its data in `store`, keys under `keyring`, matching within the
    /// default [`MatchBounds`].
    pub fn new(store: Store, keyring: Keyring) -> Vault {
        Vault { store, keyring, bounds: MatchBounds::default() }
    }

    /// The same vault matching within `bounds`.
    pub fn with_match_bounds(self, bounds: MatchBounds) -> Vault {
        Vault { bounds, ..self }
    }

    /// The token of each clear value, `None` where the tenant never saw the value.
    pub async fn lookup(&self, tenant: &str, values: &[String]) -> Result<Vec<Option<String>>, VaultError> {
        let Some(keys) = self.keyring.existing_tenant(&self.store, tenant).await? else {
            return Ok(vec![None; values.len()]);
        };
        let indexes: Vec<BlindIndex> = values.iter().map(|value| keys.blind_index(value)).collect();
        let tokens = self.store.tenant_tokens_by_index(tenant, &unique(&indexes)).await?;
        Ok(indexes.iter().map(|index| tokens.get(index).cloned()).collect())
    }

    /// One page of the tenant's tokens matching `filter`, and the total match count.
    pub async fn search(
        &self,
        tenant: &str,
        filter: &SearchFilter,
        page: Page,
    ) -> Result<(u64, Vec<RevealedToken>), VaultError> {
        let Some(keys) = self.keyring.existing_tenant(&self.store, tenant).await? else {
            return Ok((0, Vec::new()));
        };
        let query = TokenQuery {
            token: filter.token.clone(),
            blind_index: filter.value.as_deref().map(|value| keys.blind_index(value)),
            owner_id: filter.owner_id.clone(),
            owner_ext_index: filter.owner_ext_id.as_deref().map(|ext| keys.blind_index(ext)),
            offset: page.offset,
            limit: page.limit,
        };
        let found = self.store.search(tenant, &query).await?;
        let sealed = self.sealed_rows(tenant, keys, found.rows, Vec::new()).await?;
        Ok((found.total, sealed.open_rows()?))
    }

    /// Erases a data subject: their values become unrecoverable, their tokens stay.
    /// Returns how many values were erased.
    pub async fn erase(&self, tenant: &str, owner: &Owner) -> Result<u64, VaultError> {
        let Some(keys) = self.keyring.existing_tenant(&self.store, tenant).await? else {
            return Ok(0);
        };
        let owner = owner_key(&keys, owner).ok_or(VaultError::NoSubject)?;
        Ok(self.store.erase_subject(tenant, &owner, now_ms()).await?)
    }

    /// How many erasures each of `tenants` had, in order.
    pub async fn erasures(&self, tenants: &[String]) -> Result<Vec<u64>, VaultError> {
        Ok(self.store.erasures(tenants).await?)
    }
}

/// Which rows of a search to return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// Rows to skip.
    pub offset: u64,
    /// Rows to return at most.
    pub limit: u64,
}

/// Prefix of owner keys made from an external id, for subjects without an internal id.
const EXT_OWNER_PREFIX: &str = "ext:";

/// The key a subject's values are filed under: the internal id, or for subjects known
/// only by their (clear, personal) external id, its keyed blind index.
fn owner_key(keys: &TenantKeys, owner: &Owner) -> Option<String> {
    match (&owner.id, &owner.ext_id) {
        (Some(id), _) => Some(id.clone()),
        (None, Some(ext)) => Some(format!("{EXT_OWNER_PREFIX}{}", hex::encode(keys.blind_index(ext)))),
        (None, None) => None,
    }
}

/// Owner ids made from blind indexes are internal: readers see internal ids only.
fn public_owner(owner: Option<String>) -> Option<String> {
    owner.filter(|owner| !owner.starts_with(EXT_OWNER_PREFIX))
}

fn unknown(token: &str) -> RevealedToken {
    RevealedToken { token: token.to_owned(), owner_id: None, revealed: Revealed::Unknown }
}

fn unique(indexes: &[BlindIndex]) -> Vec<BlindIndex> {
    let mut seen = HashSet::with_capacity(indexes.len());
    indexes.iter().copied().filter(|index| seen.insert(*index)).collect()
}

fn unique_strs(values: &[String]) -> Vec<&str> {
    let mut seen = HashSet::with_capacity(values.len());
    values.iter().map(String::as_str).filter(|value| seen.insert(*value)).collect()
}

fn unique_owners_of(rows: &[TokenRow]) -> Vec<&str> {
    let mut seen = HashSet::new();
    rows.iter().filter_map(|row| row.owner_id.as_deref()).filter(|owner| seen.insert(*owner)).collect()
}
