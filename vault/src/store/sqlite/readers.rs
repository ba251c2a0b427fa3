//! SQLite's reading connections: the pipeline's hot lookup, a token per blind index,
//! on read-only connections beside the one writer. WAL lets them read while it writes,
//! and a reader's transaction starts after the writer's last commit, so a token read
//! back after an insert is the winner's.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use libsql::{Connection, Value, params_from_iter};
use tokio::sync::{Mutex, OwnedMutexGuard};

use super::{connect, text};
use crate::store::{BlindIndex, StoreError, TenantRows};

/// The token of one blind index: the pipeline's hot lookup, prepared once per reader.
pub(super) const TOKEN_BY_INDEX: &str = "SELECT token FROM tokens WHERE tenant_id = ?1 AND blind_index = ?2";

/// Readers at most: lookups are CPU work, so more readers than cores only queue.
const MAX_READERS: usize = 4;

/// Read-only connections, taken in turn.
pub(super) struct Readers {
    sessions: Vec<Arc<Mutex<Reader>>>,
    next: AtomicUsize,
}

/// A read-only connection and its prepared lookup; used only under its lock, which
/// also keeps one lookup's statements from interleaving with another's.
pub(super) struct Reader {
    connection: Connection,
    token_by_index: libsql::Statement,
}

impl Readers {
    /// One reader per core, at least two and at most [`MAX_READERS`].
    pub(super) async fn open(database: &libsql::Database) -> Result<Readers, StoreError> {
        let count = std::thread::available_parallelism().map_or(2, usize::from).clamp(2, MAX_READERS);
        let mut sessions = Vec::with_capacity(count);
        for _ in 0..count {
            let connection = connect(database).await?;
            connection.execute("PRAGMA query_only = 1", ()).await?;
            let token_by_index = connection.prepare(TOKEN_BY_INDEX).await?;
            sessions.push(Arc::new(Mutex::new(Reader { connection, token_by_index })));
        }
        Ok(Readers { sessions, next: AtomicUsize::new(0) })
    }

    /// The next reader in turn, once it is free.
    pub(super) async fn take(&self) -> OwnedMutexGuard<Reader> {
        let turn = self.next.fetch_add(1, Ordering::Relaxed) % self.sessions.len();
        self.sessions[turn].clone().lock_owned().await
    }
}

impl Reader {
    /// The read-only connection, for statements other than the hot lookup.
    pub(super) fn connection(&self) -> &Connection {
        &self.connection
    }

    /// The token of each blind index that has one, per tenant of `wanted`.
    pub(super) async fn tokens_by_index(
        &self,
        wanted: &[TenantRows<BlindIndex>],
    ) -> Result<Vec<HashMap<BlindIndex, String>>, StoreError> {
        let mut found = Vec::with_capacity(wanted.len());
        // One prepared statement run per key, all in one read transaction: compiling an
        // `IN (...)` list per tenant of a batch cost more than the lookups, and a
        // statement outside a transaction takes and releases the WAL's file locks.
        let transaction = self.connection.transaction().await?;
        let statement = &self.token_by_index;
        for tenant in wanted {
            let mut tokens = HashMap::with_capacity(tenant.rows.len());
            for index in &tenant.rows {
                statement.reset();
                let params = [text(&tenant.tenant), Value::Blob(index.to_vec())];
                let mut rows = statement.query(params_from_iter(params)).await?;
                if let Some(row) = rows.next().await? {
                    tokens.insert(*index, row.get::<String>(0)?);
                }
            }
            found.push(tokens);
        }
        statement.reset();
        transaction.commit().await?;
        Ok(found)
    }
}
