//! Tenant and subject keys: created on first use, stored wrapped, unwrapped on demand.
//!
//! Tenant keys never change once stored, so they are cached unwrapped for the life of
//! the process. Subject keys are read from the store on every batch and never cached:
//! erasure on any replica deletes a subject key, and no replica may go on sealing new
//! values under a key that no longer exists.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use crate::VaultError;
use crate::keys::{Context, Key};
use crate::store::{BlindIndex, Store, TenantRows};

/// A tenant's unwrapped keys.
#[derive(Debug)]
pub struct TenantKeys {
    /// Seals values that have no data subject and wraps subject keys.
    pub data: Key,
    /// Keys the blind indexes of the tenant's values.
    pub index: Key,
}

impl TenantKeys {
    /// The blind index of a clear value.
    pub fn blind_index(&self, value: &str) -> BlindIndex {
        self.index.blind_index(value)
    }
}

/// The master key and the unwrapped tenant keys.
#[derive(Debug)]
pub struct Keyring {
    master: Key,
    tenants: RwLock<HashMap<String, Arc<TenantKeys>>>,
}

impl Keyring {
    /// A keyring under `master`.
    pub fn new(master: Key) -> Keyring {
        Keyring { master, tenants: RwLock::new(HashMap::new()) }
    }

    /// `tenant`'s keys, creating and storing them if the tenant is new.
    pub async fn tenant(&self, store: &Store, tenant: &str) -> Result<Arc<TenantKeys>, VaultError> {
        if let Some(keys) = self.cached(tenant) {
            return Ok(keys);
        }
        let wrapped = match store.tenant_key(tenant).await? {
            Some(wrapped) => wrapped,
            None => {
                let fresh = self.master.wrap(&Context::tenant_key(tenant), &Key::generate());
                // Another replica may have stored one first: the stored key wins.
                store.insert_tenant_key(tenant, &fresh).await?
            }
        };
        let data = self.master.unwrap_key(&Context::tenant_key(tenant), &wrapped)?;
        let keys = Arc::new(TenantKeys { index: data.derive("blind-index"), data });
        let mut tenants = self.tenants.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        Ok(tenants.entry(tenant.to_owned()).or_insert(keys).clone())
    }

    /// `tenant`'s keys if it has any, without creating them.
    pub async fn existing_tenant(
        &self,
        store: &Store,
        tenant: &str,
    ) -> Result<Option<Arc<TenantKeys>>, VaultError> {
        if let Some(keys) = self.cached(tenant) {
            return Ok(Some(keys));
        }
        if store.tenant_key(tenant).await?.is_none() {
            return Ok(None);
        }
        self.tenant(store, tenant).await.map(Some)
    }

    fn cached(&self, tenant: &str) -> Option<Arc<TenantKeys>> {
        let tenants = self.tenants.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        tenants.get(tenant).cloned()
    }
}

/// Unwrapped keys of the subjects one batch touches.
#[derive(Default)]
pub struct SubjectKeys(HashMap<String, Key>);

impl SubjectKeys {
    /// Existing keys of `owners`; an owner without one has been erased (or never
    /// had a value).
    pub async fn load(params: SubjectKeyParams<'_>) -> Result<SubjectKeys, VaultError> {
        let SubjectKeyParams { store, tenant, keys, owners } = params;
        let wrapped = store.subject_keys(tenant, owners).await?;
        unwrap_all(tenant, keys, wrapped)
    }

    /// Keys of the subjects of several tenants, creating missing ones: all new keys
    /// are stored in one transaction, then read back, because keys another writer
    /// stored first are the ones that count. One [`SubjectKeys`] per request, in order.
    pub async fn load_or_create(
        store: &Store,
        requests: &[TenantSubjects<'_>],
    ) -> Result<Vec<SubjectKeys>, VaultError> {
        let mut found = Vec::with_capacity(requests.len());
        let mut fresh = Vec::new();
        for request in requests {
            let wrapped = store.subject_keys(request.tenant, &request.owners).await?;
            let new_keys: Vec<(String, Vec<u8>)> = request
                .owners
                .iter()
                .filter(|owner| !wrapped.contains_key(**owner))
                .map(|owner| {
                    let context = Context::subject_key(request.tenant, owner);
                    ((*owner).to_owned(), request.keys.data.wrap(&context, &Key::generate()))
                })
                .collect();
            if !new_keys.is_empty() {
                fresh.push(TenantRows { tenant: request.tenant.to_owned(), rows: new_keys });
            }
            found.push(wrapped);
        }
        if !fresh.is_empty() {
            store.insert_subject_keys(fresh).await?;
        }
        let mut loaded = Vec::with_capacity(requests.len());
        for (request, mut wrapped) in requests.iter().zip(found) {
            let missing: Vec<&str> =
                request.owners.iter().copied().filter(|owner| !wrapped.contains_key(*owner)).collect();
            if !missing.is_empty() {
                wrapped.extend(store.subject_keys(request.tenant, &missing).await?);
            }
            loaded.push(unwrap_all(request.tenant, request.keys, wrapped)?);
        }
        Ok(loaded)
    }

    /// The key that seals `owner`'s values: their subject key, or the tenant's data
    /// key for values without a subject. `None` when the subject has no key (erased).
    pub fn sealing_key<'a>(&'a self, tenant: &'a TenantKeys, owner: Option<&str>) -> Option<&'a Key> {
        match owner {
            Some(owner) => self.0.get(owner),
            None => Some(&tenant.data),
        }
    }
}

fn unwrap_all(
    tenant: &str,
    keys: &TenantKeys,
    wrapped: HashMap<String, Vec<u8>>,
) -> Result<SubjectKeys, VaultError> {
    let mut unwrapped = HashMap::with_capacity(wrapped.len());
    for (owner, key) in wrapped {
        let key = keys.data.unwrap_key(&Context::subject_key(tenant, &owner), &key)?;
        unwrapped.insert(owner, key);
    }
    Ok(SubjectKeys(unwrapped))
}

/// Which subjects' keys [`SubjectKeys::load`] reads.
pub struct SubjectKeyParams<'a> {
    /// Where the wrapped keys live.
    pub store: &'a Store,
    /// The tenant of the subjects.
    pub tenant: &'a str,
    /// The tenant's keys, which wrap subject keys.
    pub keys: &'a TenantKeys,
    /// Subjects, without duplicates.
    pub owners: &'a [&'a str],
}

/// One tenant's subjects whose keys [`SubjectKeys::load_or_create`] reads or creates.
pub struct TenantSubjects<'a> {
    /// The tenant of the subjects.
    pub tenant: &'a str,
    /// The tenant's keys, which wrap subject keys.
    pub keys: &'a TenantKeys,
    /// Subjects, without duplicates.
    pub owners: Vec<&'a str>,
}
