//! Tokenizing a batch of several tenants' values with two writes in all: the new
//! subject keys of every tenant in one transaction, then the new tokens of every
//! tenant in another. A batch of the pipeline spans many tenants, and a commit per
//! tenant would make the database's durable writes, not the work, the cost. Finding
//! the tokens values have already reads the same way and writes nothing.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use audit_vault_api::{TenantValues, TokenizeItem};

use super::{Vault, owner_key, unique};
use crate::VaultError;
use crate::keyring::{SubjectKeys, TenantKeys, TenantSubjects};
use crate::keys::Context;
use crate::store::{BlindIndex, TenantRows, TokenRow, now_ms};

/// One tenant's part of a batch, from lookup to insert.
struct TenantBatch<'a> {
    tenant: &'a str,
    keys: Arc<TenantKeys>,
    /// The blind index of every item, in order.
    indexes: Vec<BlindIndex>,
    /// Tokens found or inserted so far, by blind index.
    tokens: HashMap<BlindIndex, String>,
    /// Items without a token yet, each value once, with the key of their owner.
    new_items: Vec<(&'a TokenizeItem, BlindIndex, Option<String>)>,
}

impl Vault {
    /// One token per item of one tenant, in order; values seen before keep their token.
    pub async fn tokenize(&self, tenant: &str, items: &[TokenizeItem]) -> Result<Vec<String>, VaultError> {
        let batch = [TenantValues { tenant: tenant.to_owned(), items: items.to_vec() }];
        Ok(self.tokenize_many(&batch).await?.pop().unwrap_or_default())
    }

    /// The tokens of every tenant's items, per tenant and in order.
    pub async fn tokenize_many(&self, batch: &[TenantValues]) -> Result<Vec<Vec<String>>, VaultError> {
        let mut tenants = self.look_up(batch).await?;
        let subjects: Vec<TenantSubjects> = tenants.iter().map(TenantBatch::subjects).collect();
        let subject_keys = SubjectKeys::load_or_create(&self.store, &subjects).await?;
        let now = now_ms();
        let mut new_rows = Vec::new();
        for (tenant, keys) in tenants.iter().zip(&subject_keys) {
            let rows = tenant.seal(keys, now)?;
            if !rows.is_empty() {
                new_rows.push(TenantRows { tenant: tenant.tenant.to_owned(), rows });
            }
        }
        if new_rows.is_empty() {
            return tenants.iter().map(TenantBatch::tokens).collect();
        }
        self.store.insert_tokens(new_rows).await?;
        // Read back: where another writer won the race, its token is the one.
        let inserted: Vec<TenantRows<BlindIndex>> = tenants
            .iter()
            .map(|tenant| TenantRows {
                tenant: tenant.tenant.to_owned(),
                rows: tenant.new_items.iter().map(|(_, index, _)| *index).collect(),
            })
            .collect();
        let winners = self.store.tokens_by_index(inserted).await?;
        for (tenant, winners) in tenants.iter_mut().zip(winners) {
            tenant.tokens.extend(winners);
        }
        tenants.iter().map(TenantBatch::tokens).collect()
    }

    /// The tokens every tenant's items have already, per tenant and in order; `None`
    /// for a value never tokenized. Creates nothing but missing tenant keys.
    pub async fn find_many(&self, batch: &[TenantValues]) -> Result<Vec<Vec<Option<String>>>, VaultError> {
        let tenants = self.look_up(batch).await?;
        Ok(tenants
            .iter()
            .map(|tenant| tenant.indexes.iter().map(|index| tenant.tokens.get(index).cloned()).collect())
            .collect())
    }

    /// Every tenant's keys, blind indexes and the tokens that exist already, read in
    /// one statement for the whole batch.
    async fn look_up<'a>(&self, batch: &'a [TenantValues]) -> Result<Vec<TenantBatch<'a>>, VaultError> {
        let mut wanted = Vec::with_capacity(batch.len());
        let mut tenants = Vec::with_capacity(batch.len());
        for values in batch {
            let keys = self.keyring.tenant(&self.store, &values.tenant).await?;
            let indexes: Vec<BlindIndex> =
                values.items.iter().map(|item| keys.blind_index(&item.value)).collect();
            wanted.push(TenantRows { tenant: values.tenant.clone(), rows: unique(&indexes) });
            tenants.push((values, keys, indexes));
        }
        let found = self.store.tokens_by_index(wanted).await?;
        Ok(tenants
            .into_iter()
            .zip(found)
            .map(|((values, keys, indexes), tokens)| {
                let mut seen = HashSet::new();
                let new_items = values
                    .items
                    .iter()
                    .zip(&indexes)
                    .filter(|(_, index)| !tokens.contains_key(*index) && seen.insert(**index))
                    .map(|(item, index)| (item, *index, owner_key(&keys, &item.owner)))
                    .collect();
                TenantBatch { tenant: &values.tenant, keys, indexes, tokens, new_items }
            })
            .collect())
    }
}

impl TenantBatch<'_> {
    /// The subjects of the new values, each once.
    fn subjects(&self) -> TenantSubjects<'_> {
        let mut seen = HashSet::new();
        let owners = self
            .new_items
            .iter()
            .filter_map(|(_, _, owner)| owner.as_deref())
            .filter(|owner| seen.insert(*owner))
            .collect();
        TenantSubjects { tenant: self.tenant, keys: &self.keys, owners }
    }

    /// Rows for the new values: a random token each, the value sealed under its
    /// subject's key and bound to tenant and token.
    fn seal(&self, subject_keys: &SubjectKeys, now: i64) -> Result<Vec<TokenRow>, VaultError> {
        let mut rows = Vec::with_capacity(self.new_items.len());
        for (item, index, owner) in &self.new_items {
            let token = uuid::Uuid::new_v4().to_string();
            let key = subject_keys
                .sealing_key(&self.keys, owner.as_deref())
                .ok_or(VaultError::SubjectKeyMissing)?;
            let sealed = key.seal_text(&Context::value(self.tenant, &token), &item.value);
            let owner_ext_index = item.owner.ext_id.as_deref().map(|ext| self.keys.blind_index(ext));
            rows.push(TokenRow {
                token,
                blind_index: Some(*index),
                owner_id: owner.clone(),
                owner_ext_index,
                sealed: Some(sealed),
                created_ms: now,
                erased_ms: None,
            });
        }
        Ok(rows)
    }

    /// The token of every item, in order.
    fn tokens(&self) -> Result<Vec<String>, VaultError> {
        self.indexes
            .iter()
            .map(|index| self.tokens.get(index).cloned().ok_or(VaultError::TokenNotStored))
            .collect()
    }
}
