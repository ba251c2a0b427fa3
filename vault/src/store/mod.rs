//! Vault storage: one interface, two engines.
//!
//! [`Store`] holds wrapped keys and sealed values, never a clear value or an unwrapped
//! key. SQLite (libSQL, embedded, one node) is the default; PostgreSQL serves several
//! vault replicas. Both apply the same numbered migrations on open ([`migrations`]),
//! and both enforce the invariant that makes tokens convergent under concurrency:
//! `UNIQUE (tenant_id, blind_index)`. Inserts that lose a race do nothing and the
//! caller reads the winner's token back ([`Store::insert_tokens`]).

mod migrations;
mod postgres;
mod sqlite;

use std::collections::HashMap;

pub use migrations::now_ms;
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

/// A 32-byte keyed blind index of a clear value.
pub type BlindIndex = [u8; 32];

/// Where the vault keeps its data.
pub type StoreLocation = audit_service::database::DatabaseLocation;

/// A token as stored: the clear value only sealed, and gone once erased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRow {
    /// Random UUID, the token itself.
    pub token: String,
    /// Keyed index of the clear value; `None` once erased.
    pub blind_index: Option<BlindIndex>,
    /// The data subject the value belongs to, if known.
    pub owner_id: Option<String>,
    /// Keyed index of the subject's external id, for `ownerExtId` searches.
    pub owner_ext_index: Option<BlindIndex>,
    /// The sealed clear value; `None` once erased.
    pub sealed: Option<Vec<u8>>,
    /// Milliseconds since the epoch.
    pub created_ms: i64,
    /// When the value was erased, if it was.
    pub erased_ms: Option<i64>,
}

/// New rows of one tenant; a write takes several tenants' rows in one transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantRows<T> {
    /// The tenant the rows belong to.
    pub tenant: String,
    /// The rows.
    pub rows: Vec<T>,
}

/// Equality conditions of a TokensVault search; all present ones must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenQuery {
    /// `token eq`.
    pub token: Option<String>,
    /// `value eq`, as its blind index.
    pub blind_index: Option<BlindIndex>,
    /// `ownerId eq`.
    pub owner_id: Option<String>,
    /// `ownerExtId eq`, as its blind index.
    pub owner_ext_index: Option<BlindIndex>,
    /// Rows to skip (SCIM `startIndex` - 1).
    pub offset: u64,
    /// Rows to return at most.
    pub limit: u64,
}

/// One page of a search and the number of rows matching in all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenPage {
    /// Matching rows in all pages.
    pub total: u64,
    /// This page, oldest first.
    pub rows: Vec<TokenRow>,
}

/// What went wrong in the database; messages carry no clear value or key.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The embedded database failed.
    #[error("sqlite store failed: {0}")]
    Sqlite(#[from] libsql::Error),
    /// PostgreSQL failed.
    #[error("postgres store failed: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    /// No PostgreSQL connection could be taken from the pool.
    #[error("postgres pool failed: {0}")]
    Pool(String),
    /// The database holds a schema newer than this build.
    #[error("database schema version {found} is newer than this build's {known}")]
    SchemaTooNew {
        /// Version in the database.
        found: i64,
        /// Newest version this build knows.
        known: i64,
    },
    /// A stored row does not have the expected shape.
    #[error("stored row is corrupt: {0}")]
    Corrupt(&'static str),
    /// A database call running on its own thread ended without an answer.
    #[error("database call was interrupted: {0}")]
    Interrupted(String),
}

/// The vault's storage, whichever engine is configured.
#[derive(Debug, Clone)]
pub enum Store {
    /// Embedded SQLite.
    Sqlite(SqliteStore),
    /// PostgreSQL.
    Postgres(PostgresStore),
}

macro_rules! dispatch {
    ($store:expr, $engine:ident => $call:expr) => {
        match $store {
            Store::Sqlite($engine) => $call,
            Store::Postgres($engine) => $call,
        }
    };
}

impl Store {
    /// Opens (and migrates) the store at `location`.
    pub async fn open(location: &StoreLocation) -> Result<Store, StoreError> {
        Ok(match location {
            StoreLocation::Sqlite(path) => Store::Sqlite(SqliteStore::open(path).await?),
            StoreLocation::Postgres(url) => Store::Postgres(PostgresStore::open(url).await?),
        })
    }

    /// The wrapped key of `tenant`, if it has one.
    pub async fn tenant_key(&self, tenant: &str) -> Result<Option<Vec<u8>>, StoreError> {
        dispatch!(self, engine => engine.tenant_key(tenant).await)
    }

    /// Stores `wrapped` as `tenant`'s key unless another writer stored one first;
    /// returns the key that won.
    pub async fn insert_tenant_key(&self, tenant: &str, wrapped: &[u8]) -> Result<Vec<u8>, StoreError> {
        dispatch!(self, engine => engine.insert_tenant_key(tenant, wrapped).await)
    }

    /// Wrapped keys of the given subjects that have one.
    pub async fn subject_keys(
        &self,
        tenant: &str,
        owners: &[&str],
    ) -> Result<HashMap<String, Vec<u8>>, StoreError> {
        dispatch!(self, engine => engine.subject_keys(tenant, owners).await)
    }

    /// Stores new subject keys (owner, wrapped key) of several tenants in one
    /// transaction; keys another writer stored first are kept. Read the winners back
    /// with [`Store::subject_keys`].
    pub async fn insert_subject_keys(
        &self,
        keys: Vec<TenantRows<(String, Vec<u8>)>>,
    ) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(engine) => engine.insert_subject_keys(keys).await,
            Store::Postgres(engine) => engine.insert_subject_keys(&keys).await,
        }
    }

    /// Tokens of the given blind indexes that exist, for several tenants in one
    /// statement: a map per entry of `wanted`, in order.
    pub async fn tokens_by_index(
        &self,
        wanted: Vec<TenantRows<BlindIndex>>,
    ) -> Result<Vec<HashMap<BlindIndex, String>>, StoreError> {
        match self {
            Store::Sqlite(engine) => engine.tokens_by_index(wanted).await,
            Store::Postgres(engine) => engine.tokens_by_index(&wanted).await,
        }
    }

    /// Tokens of the given blind indexes of one tenant that exist.
    pub async fn tenant_tokens_by_index(
        &self,
        tenant: &str,
        indexes: &[BlindIndex],
    ) -> Result<HashMap<BlindIndex, String>, StoreError> {
        let wanted = vec![TenantRows { tenant: tenant.to_owned(), rows: indexes.to_vec() }];
        Ok(self.tokens_by_index(wanted).await?.pop().unwrap_or_default())
    }

    /// Inserts new tokens of several tenants in one transaction; a row whose blind
    /// index exists already (another writer won the race) is skipped. Read the winners
    /// back with [`Store::tokens_by_index`].
    pub async fn insert_tokens(&self, rows: Vec<TenantRows<TokenRow>>) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(engine) => engine.insert_tokens(rows).await,
            Store::Postgres(engine) => engine.insert_tokens(&rows).await,
        }
    }

    /// The rows of the given tokens that exist in `tenant`.
    pub async fn tokens(&self, tenant: &str, tokens: &[&str]) -> Result<Vec<TokenRow>, StoreError> {
        dispatch!(self, engine => engine.tokens(tenant, tokens).await)
    }

    /// At most `limit` of the tenant's rows that still hold a sealed value, in no
    /// particular order.
    pub async fn sealed_tokens(&self, tenant: &str, limit: usize) -> Result<Vec<TokenRow>, StoreError> {
        dispatch!(self, engine => engine.sealed_tokens(tenant, limit).await)
    }

    /// Rows matching `query`, oldest first, one page.
    pub async fn search(&self, tenant: &str, query: &TokenQuery) -> Result<TokenPage, StoreError> {
        dispatch!(self, engine => engine.search(tenant, query).await)
    }

    /// Destroys a subject's key and every sealed value and blind index it owns, in one
    /// transaction; tokens stay. Returns how many values were erased.
    pub async fn erase_subject(&self, tenant: &str, owner: &str, now_ms: i64) -> Result<u64, StoreError> {
        dispatch!(self, engine => engine.erase_subject(tenant, owner, now_ms).await)
    }

    /// How many erasures each of `tenants` had, in order (counted with each erasure).
    pub async fn erasures(&self, tenants: &[String]) -> Result<Vec<u64>, StoreError> {
        dispatch!(self, engine => engine.erasures(tenants).await)
    }
}
