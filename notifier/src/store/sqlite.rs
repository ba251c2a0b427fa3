//! The embedded engine: one SQLite (libSQL) file, for one notifier. The file runs in
//! WAL mode with `synchronous=FULL`: a delivery is on disk before the offset of its
//! record moves.
//!
//! One connection behind an async mutex does all the work. libSQL's local engine works
//! synchronously inside its futures; the statements here are small (one row, or one
//! transaction per consumed batch), so they run on the async workers.

use std::path::Path;
use std::sync::Arc;

use libsql::{Connection, Value};
use tokio::sync::Mutex;

use super::{Attempt, Delivery, DeliveryStatus, DueQuery, NewDelivery, SealedSecrets, Webhook};
use crate::NotifierError;

/// The embedded store.
#[derive(Clone)]
pub struct SqliteStore {
    connection: Arc<Mutex<Connection>>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("SqliteStore")
    }
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS webhooks (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    url TEXT NOT NULL,
    events TEXT NOT NULL,
    api_key BLOB NOT NULL,
    secret BLOB NOT NULL,
    insecure INTEGER NOT NULL,
    active INTEGER NOT NULL,
    description TEXT,
    created_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS webhooks_by_tenant ON webhooks (tenant_id);
CREATE TABLE IF NOT EXISTS deliveries (
    id TEXT PRIMARY KEY,
    webhook_id TEXT NOT NULL,
    record_id TEXT NOT NULL,
    body BLOB NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    last_status INTEGER,
    last_error TEXT,
    next_attempt_ms INTEGER,
    created_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (status, next_attempt_ms);
CREATE INDEX IF NOT EXISTS deliveries_by_webhook ON deliveries (webhook_id, created_ms);
";

/// Pending and dead deliveries (the due index serves both).
const COUNTS: &str = "SELECT sum(status = 'pending'), sum(status = 'dead') FROM deliveries \
    WHERE status IN ('pending', 'dead')";
/// The pending deliveries of webhook `?1` become dead letters.
const DEAD_LETTER_PENDING: &str = "UPDATE deliveries SET status = 'dead', next_attempt_ms = NULL, \
    last_error = coalesce(last_error, 'webhook deactivated') WHERE webhook_id = ?1 AND status = 'pending'";
const WEBHOOK_COLUMNS: &str = "id, tenant_id, url, events, insecure, active, description, created_ms";
const DELIVERY_COLUMNS: &str =
    "id, webhook_id, record_id, status, attempts, last_status, last_error, next_attempt_ms, created_ms";

impl SqliteStore {
    /// Opens or creates the database file.
    pub async fn open(path: &Path) -> Result<SqliteStore, NotifierError> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|source| NotifierError::KeyFile { path: parent.to_owned(), source })?;
        }
        let database = libsql::Builder::new_local(path).build().await?;
        let connection = database.connect()?;
        connection.busy_timeout(std::time::Duration::from_secs(5))?;
        connection.query("PRAGMA journal_mode = WAL", ()).await?;
        connection.execute("PRAGMA synchronous = FULL", ()).await?;
        connection.execute_batch(SCHEMA).await?;
        Ok(SqliteStore { connection: Arc::new(Mutex::new(connection)) })
    }

    /// Stores a new webhook with its sealed secrets.
    pub(super) async fn insert_webhook(
        &self,
        webhook: &Webhook,
        secrets: &SealedSecrets,
    ) -> Result<(), NotifierError> {
        let events = serde_json::to_string(&webhook.events).expect("strings serialize");
        let params = vec![
            Value::from(webhook.id.clone()),
            Value::from(webhook.tenant.clone()),
            Value::from(webhook.url.clone()),
            Value::from(events),
            Value::from(secrets.api_key.clone()),
            Value::from(secrets.secret.clone()),
            Value::from(i64::from(webhook.insecure)),
            Value::from(i64::from(webhook.active)),
            webhook.description.clone().map_or(Value::Null, Value::from),
            Value::from(webhook.created_ms),
        ];
        let sql = "INSERT INTO webhooks (id, tenant_id, url, events, api_key, secret, insecure, active, \
                   description, created_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";
        self.execute(sql, params).await.map(|_| ())
    }

    /// `tenant`'s webhooks, oldest first.
    pub(super) async fn webhooks(&self, tenant: &str) -> Result<Vec<Webhook>, NotifierError> {
        let sql =
            format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE tenant_id = ?1 ORDER BY created_ms, id");
        self.webhook_rows(&sql, vec![Value::from(tenant.to_owned())]).await
    }

    /// Every active webhook, for matching records.
    pub(super) async fn active_webhooks(&self) -> Result<Vec<Webhook>, NotifierError> {
        let sql = format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE active = 1");
        self.webhook_rows(&sql, Vec::new()).await
    }

    /// `tenant`'s webhook `id`.
    pub(super) async fn webhook(&self, tenant: &str, id: &str) -> Result<Option<Webhook>, NotifierError> {
        let sql = format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE tenant_id = ?1 AND id = ?2");
        let params = vec![Value::from(tenant.to_owned()), Value::from(id.to_owned())];
        Ok(self.webhook_rows(&sql, params).await?.pop())
    }

    /// Deletes `tenant`'s webhook `id` and its deliveries; whether it existed.
    pub(super) async fn delete_webhook(&self, tenant: &str, id: &str) -> Result<bool, NotifierError> {
        let params = vec![Value::from(tenant.to_owned()), Value::from(id.to_owned())];
        let deleted = self.execute("DELETE FROM webhooks WHERE tenant_id = ?1 AND id = ?2", params).await?;
        if deleted > 0 {
            self.execute("DELETE FROM deliveries WHERE webhook_id = ?1", vec![Value::from(id.to_owned())])
                .await?;
        }
        Ok(deleted > 0)
    }

    /// Replaces the settings of `webhook` (same tenant and id) and, when given, its
    /// sealed API key or secret.
    pub(super) async fn update_webhook(
        &self,
        webhook: &Webhook,
        api_key: Option<Vec<u8>>,
        secret: Option<Vec<u8>>,
    ) -> Result<bool, NotifierError> {
        let events = serde_json::to_string(&webhook.events).expect("strings serialize");
        let sql = "UPDATE webhooks SET url = ?1, events = ?2, insecure = ?3, active = ?4, description = ?5, \
                   api_key = coalesce(?6, api_key), secret = coalesce(?7, secret) WHERE tenant_id = ?8 AND id = ?9";
        let params = vec![
            Value::from(webhook.url.clone()),
            Value::from(events),
            Value::from(i64::from(webhook.insecure)),
            Value::from(i64::from(webhook.active)),
            webhook.description.clone().map_or(Value::Null, Value::from),
            api_key.map_or(Value::Null, Value::from),
            secret.map_or(Value::Null, Value::from),
            Value::from(webhook.tenant.clone()),
            Value::from(webhook.id.clone()),
        ];
        Ok(self.execute(sql, params).await? > 0)
    }

    /// Puts dead delivery `id` of `webhook` back in the queue, due now, with a new
    /// retry horizon; whether there was such a dead delivery.
    pub(super) async fn requeue(&self, webhook: &str, id: &str, now_ms: i64) -> Result<bool, NotifierError> {
        let sql = "UPDATE deliveries SET status = 'pending', next_attempt_ms = ?1, created_ms = ?1 \
                   WHERE webhook_id = ?2 AND id = ?3 AND status = 'dead'";
        let params = vec![Value::from(now_ms), Value::from(webhook.to_owned()), Value::from(id.to_owned())];
        Ok(self.execute(sql, params).await? > 0)
    }

    pub(super) async fn deactivate(&self, id: &str) -> Result<(), NotifierError> {
        let connection = self.connection.lock().await;
        let transaction = connection.transaction().await?;
        transaction.execute("UPDATE webhooks SET active = 0 WHERE id = ?1", [id]).await?;
        transaction.execute(DEAD_LETTER_PENDING, [id]).await?;
        transaction.commit().await?;
        Ok(())
    }

    /// Webhook `id` of any tenant with its sealed secrets, for delivering.
    pub(super) async fn target(&self, id: &str) -> Result<Option<(Webhook, SealedSecrets)>, NotifierError> {
        // One read per attempt: the webhook and its sealed secrets together.
        let sql = format!("SELECT {WEBHOOK_COLUMNS}, api_key, secret FROM webhooks WHERE id = ?1");
        let connection = self.connection.lock().await;
        let mut rows = connection.query(&sql, vec![Value::from(id.to_owned())]).await?;
        let Some(row) = rows.next().await? else { return Ok(None) };
        let secrets = SealedSecrets { api_key: row.get(8)?, secret: row.get(9)? };
        Ok(Some((webhook(&row)?, secrets)))
    }

    /// Queues `deliveries` in one transaction; one already queued is left as it is.
    pub(super) async fn queue(&self, deliveries: &[NewDelivery], now_ms: i64) -> Result<(), NotifierError> {
        let connection = self.connection.lock().await;
        let transaction = connection.transaction().await?;
        let sql = "INSERT OR IGNORE INTO deliveries (id, webhook_id, record_id, body, status, attempts, \
                   next_attempt_ms, created_ms) VALUES (?1, ?2, ?3, ?4, 'pending', 0, ?5, ?5)";
        for delivery in deliveries {
            let params = vec![
                Value::from(delivery.id.clone()),
                Value::from(delivery.webhook_id.clone()),
                Value::from(delivery.record_id.clone()),
                Value::from(delivery.body.clone()),
                Value::from(now_ms),
            ];
            transaction.execute(sql, params).await?;
        }
        transaction.commit().await?;
        Ok(())
    }

    /// One process owns the file, so due deliveries need no lease: the dispatcher's
    /// own bookkeeping keeps an attempt from starting twice.
    pub(super) async fn due(&self, query: &DueQuery<'_>) -> Result<Vec<(Delivery, Vec<u8>)>, NotifierError> {
        let sql = format!(
            "SELECT {DELIVERY_COLUMNS}, body FROM deliveries WHERE status = 'pending' AND next_attempt_ms <= ?1 \
             AND webhook_id NOT IN (SELECT value FROM json_each(?3)) ORDER BY next_attempt_ms LIMIT ?2"
        );
        let skip = serde_json::to_string(query.skip).expect("strings serialize");
        let params = vec![Value::from(query.now_ms), Value::from(query.limit), Value::from(skip)];
        let connection = self.connection.lock().await;
        let mut rows = connection.query(&sql, params).await?;
        let mut due = Vec::new();
        while let Some(row) = rows.next().await? {
            due.push((delivery(&row)?, row.get::<Vec<u8>>(9)?));
        }
        Ok(due)
    }

    pub(super) async fn record(&self, attempts: &[(&str, &Attempt)]) -> Result<(), NotifierError> {
        let sql = "UPDATE deliveries SET status = ?1, attempts = attempts + 1, last_status = ?2, \
                   last_error = ?3, next_attempt_ms = ?4 WHERE id = ?5";
        let connection = self.connection.lock().await;
        let transaction = connection.transaction().await?;
        for (id, attempt) in attempts {
            let params = vec![
                Value::from(attempt.status.as_str()),
                attempt.code.map_or(Value::Null, Value::from),
                attempt.error.clone().map_or(Value::Null, Value::from),
                attempt.next_attempt_ms.map_or(Value::Null, Value::from),
                Value::from((*id).to_owned()),
            ];
            transaction.execute(sql, params).await?;
        }
        transaction.commit().await?;
        Ok(())
    }

    pub(super) async fn counts(&self) -> Result<(i64, i64), NotifierError> {
        let connection = self.connection.lock().await;
        let mut rows = connection.query(COUNTS, ()).await?;
        // An aggregate always has its one row.
        let Some(row) = rows.next().await? else { return Ok((0, 0)) };
        Ok((row.get::<Option<i64>>(0)?.unwrap_or(0), row.get::<Option<i64>>(1)?.unwrap_or(0)))
    }

    /// Webhook `webhook`'s deliveries, newest first, of `status` if given.
    pub(super) async fn deliveries(
        &self,
        webhook: &str,
        status: Option<DeliveryStatus>,
        limit: i64,
    ) -> Result<Vec<Delivery>, NotifierError> {
        let sql = format!(
            "SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE webhook_id = ?1 AND (?2 IS NULL OR status = ?2) \
             ORDER BY created_ms DESC, id LIMIT ?3"
        );
        let status = status.map_or(Value::Null, |status| Value::from(status.as_str()));
        let connection = self.connection.lock().await;
        let mut rows =
            connection.query(&sql, vec![Value::from(webhook.to_owned()), status, Value::from(limit)]).await?;
        let mut found = Vec::new();
        while let Some(row) = rows.next().await? {
            found.push(delivery(&row)?);
        }
        Ok(found)
    }

    async fn execute(&self, sql: &str, params: Vec<Value>) -> Result<u64, NotifierError> {
        let connection = self.connection.lock().await;
        Ok(connection.execute(sql, params).await?)
    }

    async fn webhook_rows(&self, sql: &str, params: Vec<Value>) -> Result<Vec<Webhook>, NotifierError> {
        let connection = self.connection.lock().await;
        let mut rows = connection.query(sql, params).await?;
        let mut found = Vec::new();
        while let Some(row) = rows.next().await? {
            found.push(webhook(&row)?);
        }
        Ok(found)
    }
}

/// A webhook from a row starting with [`WEBHOOK_COLUMNS`].
fn webhook(row: &libsql::Row) -> Result<Webhook, NotifierError> {
    let events: String = row.get(3)?;
    Ok(Webhook {
        id: row.get(0)?,
        tenant: row.get(1)?,
        url: row.get(2)?,
        events: serde_json::from_str(&events).unwrap_or_default(),
        insecure: row.get::<i64>(4)? != 0,
        active: row.get::<i64>(5)? != 0,
        description: row.get(6)?,
        created_ms: row.get(7)?,
    })
}

fn delivery(row: &libsql::Row) -> Result<Delivery, NotifierError> {
    Ok(Delivery {
        id: row.get(0)?,
        webhook_id: row.get(1)?,
        record_id: row.get(2)?,
        status: DeliveryStatus::parse(&row.get::<String>(3)?),
        attempts: row.get(4)?,
        last_status: row.get(5)?,
        last_error: row.get(6)?,
        next_attempt_ms: row.get(7)?,
        created_ms: row.get(8)?,
    })
}
