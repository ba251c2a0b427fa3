//! The embedded engine: one libSQL (SQLite) file, one writing connection and a few
//! reading ones.
//!
//! SQLite has one writer at a time, so one connection behind an async mutex does every
//! write, a batch in one transaction. The file runs
//! in WAL mode with `synchronous=FULL`: a token the vault answered is on disk before
//! any record carrying it can reach a topic. WAL lets readers work beside the writer,
//! so the pipeline's hot lookup ([`SqliteStore::tokens_by_index`]), detokenization and
//! search run on a pool of read-only connections and never queue behind a write. A
//! reader's transaction starts after the writer's last commit, so a token read back
//! after an insert is the winner's.
//!
//! Every statement runs on the blocking thread pool: libSQL's local engine does its
//! work synchronously inside its futures, and a batch insert of thousands of rows
//! would otherwise hold an async worker for tens of milliseconds.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use libsql::{Connection, Value, params_from_iter};
use tokio::sync::{Mutex, OwnedMutexGuard};

use super::migrations::{self, SCHEMA_TABLE, SQLITE};
use super::{BlindIndex, StoreError, TenantRows, TokenPage, TokenQuery, TokenRow};
use readers::{Reader, Readers};
use statements::text;

mod readers;
mod statements;

/// The SQLite store.
#[derive(Clone)]
pub struct SqliteStore {
    writer: Arc<Mutex<Connection>>,
    readers: Arc<Readers>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("SqliteStore")
    }
}

impl SqliteStore {
    /// Opens or creates the database file and applies pending migrations.
    pub async fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let database = libsql::Builder::new_local(path).build().await?;
        let writer = connect(&database).await?;
        // journal_mode answers with a row, so it is queried rather than executed.
        writer.query("PRAGMA journal_mode = WAL", ()).await?;
        writer.execute("PRAGMA synchronous = FULL", ()).await?;
        migrate(&writer).await?;
        let readers = Arc::new(Readers::open(&database).await?);
        Ok(SqliteStore { writer: Arc::new(Mutex::new(writer)), readers })
    }

    pub(super) async fn tenant_key(&self, tenant: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let tenant = tenant.to_owned();
        self.on_writer(move |connection| async move { statements::tenant_key(&connection, &tenant).await })
            .await
    }

    pub(super) async fn insert_tenant_key(
        &self,
        tenant: &str,
        wrapped: &[u8],
    ) -> Result<Vec<u8>, StoreError> {
        let (tenant, wrapped) = (tenant.to_owned(), wrapped.to_vec());
        self.on_writer(move |connection| async move {
            statements::insert_tenant_key(&connection, &tenant, wrapped).await
        })
        .await
    }

    pub(super) async fn subject_keys(
        &self,
        tenant: &str,
        owners: &[&str],
    ) -> Result<HashMap<String, Vec<u8>>, StoreError> {
        let tenant = tenant.to_owned();
        let owners: Vec<String> = owners.iter().map(|owner| (*owner).to_owned()).collect();
        self.on_writer(move |connection| async move {
            statements::subject_keys(&connection, &tenant, &owners).await
        })
        .await
    }

    pub(super) async fn insert_subject_keys(
        &self,
        keys: Vec<TenantRows<(String, Vec<u8>)>>,
    ) -> Result<(), StoreError> {
        self.on_writer(
            move |connection| async move { statements::insert_subject_keys(&connection, &keys).await },
        )
        .await
    }

    pub(super) async fn tokens_by_index(
        &self,
        wanted: Vec<TenantRows<BlindIndex>>,
    ) -> Result<Vec<HashMap<BlindIndex, String>>, StoreError> {
        self.on_reader(move |reader| async move { reader.tokens_by_index(&wanted).await }).await
    }

    pub(super) async fn insert_tokens(&self, rows: Vec<TenantRows<TokenRow>>) -> Result<(), StoreError> {
        self.on_writer(move |connection| async move { statements::insert_tokens(&connection, &rows).await })
            .await
    }

    pub(super) async fn tokens(&self, tenant: &str, tokens: &[&str]) -> Result<Vec<TokenRow>, StoreError> {
        let tenant = tenant.to_owned();
        let tokens: Vec<String> = tokens.iter().map(|token| (*token).to_owned()).collect();
        self.on_reader(move |reader| async move {
            statements::tokens(reader.connection(), &tenant, &tokens).await
        })
        .await
    }

    pub(super) async fn sealed_tokens(
        &self,
        tenant: &str,
        limit: usize,
    ) -> Result<Vec<TokenRow>, StoreError> {
        let tenant = tenant.to_owned();
        self.on_reader(move |reader| async move {
            statements::sealed_tokens(reader.connection(), &tenant, limit).await
        })
        .await
    }

    pub(super) async fn search(&self, tenant: &str, query: &TokenQuery) -> Result<TokenPage, StoreError> {
        let (tenant, query) = (tenant.to_owned(), query.clone());
        self.on_reader(
            move |reader| async move { statements::search(reader.connection(), &tenant, &query).await },
        )
        .await
    }

    pub(super) async fn erase_subject(
        &self,
        tenant: &str,
        owner: &str,
        now_ms: i64,
    ) -> Result<u64, StoreError> {
        let (tenant, owner) = (tenant.to_owned(), owner.to_owned());
        self.on_writer(move |connection| async move {
            statements::erase_subject(&connection, &tenant, &owner, now_ms).await
        })
        .await
    }

    pub(super) async fn erasures(&self, tenants: &[String]) -> Result<Vec<u64>, StoreError> {
        let tenants = tenants.to_vec();
        self.on_reader(move |reader| async move { statements::erasures(reader.connection(), &tenants).await })
            .await
    }

    /// Runs `work` with the writing connection, once it is free, on the blocking pool.
    async fn on_writer<T, W, F>(&self, work: W) -> Result<T, StoreError>
    where
        T: Send + 'static,
        W: FnOnce(OwnedMutexGuard<Connection>) -> F + Send + 'static,
        F: Future<Output = Result<T, StoreError>>,
    {
        blocking(self.writer.clone().lock_owned().await, work).await
    }

    /// Runs `work` with the next reader in turn, once it is free, on the blocking pool.
    async fn on_reader<T, W, F>(&self, work: W) -> Result<T, StoreError>
    where
        T: Send + 'static,
        W: FnOnce(OwnedMutexGuard<Reader>) -> F + Send + 'static,
        F: Future<Output = Result<T, StoreError>>,
    {
        blocking(self.readers.take().await, work).await
    }
}

/// Runs `work` on `session` on the blocking pool, driven by this runtime: libSQL's
/// futures do their work synchronously when polled.
async fn blocking<S, T, W, F>(session: S, work: W) -> Result<T, StoreError>
where
    S: Send + 'static,
    T: Send + 'static,
    W: FnOnce(S) -> F + Send + 'static,
    F: Future<Output = Result<T, StoreError>>,
{
    let runtime = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || runtime.block_on(work(session)))
        .await
        .map_err(|error| StoreError::Interrupted(error.to_string()))?
}

/// A connection to `database` that waits for locks and caches pages generously.
async fn connect(database: &libsql::Database) -> Result<Connection, StoreError> {
    let connection = database.connect()?;
    connection.busy_timeout(std::time::Duration::from_secs(5))?;
    // Tokens are keyed by random values, so every batch touches pages all over the
    // indexes; a page cache of 64 MiB (SQLite's default is 2 MiB) keeps them in memory.
    connection.execute("PRAGMA cache_size = -65536", ()).await?;
    // Beyond its cache a connection reads the file through a mapping instead of copying
    // each page it misses: the readers then share pages through the OS's page cache.
    // mmap_size answers with a row, so it is queried.
    connection.query("PRAGMA mmap_size = 1073741824", ()).await?;
    Ok(connection)
}

async fn migrate(connection: &Connection) -> Result<(), StoreError> {
    connection.execute(SCHEMA_TABLE, ()).await?;
    let transaction = connection.transaction_with_behavior(libsql::TransactionBehavior::Immediate).await?;
    let mut rows = transaction.query("SELECT COALESCE(MAX(version), 0) FROM vault_schema", ()).await?;
    let applied = match rows.next().await? {
        Some(row) => row.get::<i64>(0)?,
        None => 0,
    };
    drop(rows);
    let known = migrations::latest(SQLITE);
    if applied > known {
        return Err(StoreError::SchemaTooNew { found: applied, known });
    }
    for migration in SQLITE.iter().filter(|migration| migration.version > applied) {
        transaction.execute_batch(migration.sql).await?;
        let params = vec![
            Value::Integer(migration.version),
            text(migration.name),
            Value::Integer(migrations::now_ms()),
        ];
        transaction
            .execute(
                "INSERT INTO vault_schema (version, name, applied_ms) VALUES (?1, ?2, ?3)",
                params_from_iter(params),
            )
            .await?;
    }
    transaction.commit().await?;
    Ok(())
}

#[cfg(test)]
#[path = "sqlite_tests.rs"]
mod tests;
