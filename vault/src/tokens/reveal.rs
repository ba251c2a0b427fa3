//! Revealing tokens in two steps: [`Vault::sealed`] does the reads (rows and subject
//! keys), [`Sealed::open`] the decryption. Between the two the caller knows how many
//! values will be revealed, so it can start recording the access in the trail and
//! have the broker acknowledge it while the values are decrypted; nothing is answered
//! before both are done.

use std::collections::HashMap;
use std::sync::Arc;

use audit_runtime::parallel::map_parts;
use audit_vault_api::Revealed;
use zeroize::Zeroizing;

use super::{RevealedToken, Vault, public_owner, unique_owners_of, unique_strs, unknown};
use crate::VaultError;
use crate::keyring::{SubjectKeyParams, SubjectKeys, TenantKeys};
use crate::keys::{Context, Key};
use crate::store::TokenRow;

/// Rows at or above which opening is split across the cores: below it, starting the
/// threads costs about what it saves.
const PARALLEL_FROM: usize = 256;

/// Tokens read with the keys that open their values, not yet opened.
pub struct Sealed {
    tenant: String,
    /// The tenant's keys; `None` when the tenant has none (every token unknown).
    keys: Option<Arc<TenantKeys>>,
    subject_keys: SubjectKeys,
    rows: Vec<TokenRow>,
    /// The tokens asked for, in order, duplicates included.
    asked: Vec<String>,
}

impl Vault {
    /// Reads what revealing `tokens` of `tenant` needs, without opening any value.
    pub async fn sealed(&self, tenant: &str, tokens: &[String]) -> Result<Sealed, VaultError> {
        let Some(keys) = self.keyring.existing_tenant(&self.store, tenant).await? else {
            let (subject_keys, rows, asked) = (SubjectKeys::default(), Vec::new(), tokens.to_vec());
            return Ok(Sealed { tenant: tenant.into(), keys: None, subject_keys, rows, asked });
        };
        let rows = self.store.tokens(tenant, &unique_strs(tokens)).await?;
        self.sealed_rows(tenant, keys, rows, tokens.to_vec()).await
    }

    /// What each token reveals, in order.
    pub async fn detokenize(
        &self,
        tenant: &str,
        tokens: &[String],
    ) -> Result<Vec<RevealedToken>, VaultError> {
        self.sealed(tenant, tokens).await?.open()
    }

    /// `rows` of `tenant` with the subject keys that open them; `asked` is the order of
    /// the answer.
    pub(super) async fn sealed_rows(
        &self,
        tenant: &str,
        keys: Arc<TenantKeys>,
        rows: Vec<TokenRow>,
        asked: Vec<String>,
    ) -> Result<Sealed, VaultError> {
        let owners: Vec<&str> = unique_owners_of(&rows);
        let params = SubjectKeyParams { store: &self.store, tenant, keys: &keys, owners: &owners };
        let subject_keys = SubjectKeys::load(params).await?;
        Ok(Sealed { tenant: tenant.to_owned(), keys: Some(keys), subject_keys, rows, asked })
    }
}

impl Sealed {
    /// How many values [`Sealed::open`] reveals: those still sealed under a key that
    /// exists. Erased and unknown tokens reveal nothing.
    pub fn revealable(&self) -> usize {
        let Some(opener) = self.opener() else { return 0 };
        let by_token: HashMap<&str, bool> =
            self.rows.iter().map(|row| (row.token.as_str(), opener.sealed_with_key(row).is_some())).collect();
        self.asked.iter().filter(|token| by_token.get(token.as_str()).copied().unwrap_or(false)).count()
    }

    /// Opens every value; the answer follows the order tokens were asked in. A value
    /// that does not authenticate fails the whole reveal.
    pub fn open(self) -> Result<Vec<RevealedToken>, VaultError> {
        let opened = self.opened()?;
        let by_token: HashMap<&str, &RevealedToken> =
            opened.iter().map(|entry| (entry.token.as_str(), entry)).collect();
        Ok(self
            .asked
            .iter()
            .map(|token| by_token.get(token.as_str()).map_or_else(|| unknown(token), |e| (*e).clone()))
            .collect())
    }

    /// The rows, opened in the order read (for answers that follow the store's order).
    pub fn open_rows(self) -> Result<Vec<RevealedToken>, VaultError> {
        self.opened()
    }

    fn opened(&self) -> Result<Vec<RevealedToken>, VaultError> {
        self.opener().map_or_else(|| Ok(Vec::new()), |opener| opener.open_all(&self.rows))
    }

    fn opener(&self) -> Option<Opener<'_>> {
        let keys = self.keys.as_deref()?;
        Some(Opener { tenant: &self.tenant, keys, subject_keys: &self.subject_keys })
    }
}

/// What opening values needs, shared by the threads that open them.
struct Opener<'a> {
    tenant: &'a str,
    keys: &'a TenantKeys,
    subject_keys: &'a SubjectKeys,
}

impl Opener<'_> {
    /// Opens `rows`, split across the cores when there are many: each value is a
    /// separate AEAD opening, and a page of a search reveals hundreds.
    fn open_all(&self, rows: &[TokenRow]) -> Result<Vec<RevealedToken>, VaultError> {
        map_parts(rows, PARALLEL_FROM, |part| part.iter().map(|row| self.open(row)).collect())
            .into_iter()
            .collect()
    }

    /// The sealed value of `row` with the key that opens it; `None` when erased.
    fn sealed_with_key<'r>(&self, row: &'r TokenRow) -> Option<(&'r [u8], &Key)> {
        let key = self.subject_keys.sealing_key(self.keys, row.owner_id.as_deref())?;
        Some((row.sealed.as_deref()?, key))
    }

    fn open(&self, row: &TokenRow) -> Result<RevealedToken, VaultError> {
        let revealed = match self.sealed_with_key(row) {
            Some((sealed, key)) => {
                let value: Zeroizing<String> =
                    key.open_text(&Context::value(self.tenant, &row.token), sealed)?;
                Revealed::Value { value: value.as_str().to_owned() }
            }
            None => Revealed::Erased,
        };
        Ok(RevealedToken { token: row.token.clone(), owner_id: public_owner(row.owner_id.clone()), revealed })
    }
}
