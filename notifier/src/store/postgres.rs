//! The replicated engine: PostgreSQL through a connection pool, shared by several
//! notifier replicas. A consumed batch's deliveries are queued in one statement
//! (`unnest`), and due deliveries are read with `FOR UPDATE SKIP LOCKED` and leased
//! (their next attempt moved past the attempt's timeout) in the same statement, so two
//! replicas never read the same delivery while one of them may still be attempting it.
//! The schema is created under a transaction-scoped advisory lock, so replicas starting
//! together create it once.

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::{NoTls, Row};

use super::{Attempt, Delivery, DeliveryStatus, DueQuery, NewDelivery, SealedSecrets, Webhook};
use crate::NotifierError;

const POOL_SIZE: usize = 8;
/// Arbitrary constant naming the notifier's schema lock.
const SCHEMA_LOCK: i64 = 0x6e6f_7469_6679_5f73;
/// The schema version this build writes and reads.
const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS notifier_schema (version BIGINT PRIMARY KEY, applied_ms BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS webhooks (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    url TEXT NOT NULL,
    events TEXT NOT NULL,
    api_key BYTEA NOT NULL,
    secret BYTEA NOT NULL,
    insecure BOOLEAN NOT NULL,
    active BOOLEAN NOT NULL,
    description TEXT,
    created_ms BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS webhooks_by_tenant ON webhooks (tenant_id);
CREATE TABLE IF NOT EXISTS deliveries (
    id TEXT PRIMARY KEY,
    webhook_id TEXT NOT NULL,
    record_id TEXT NOT NULL,
    body BYTEA NOT NULL,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    last_status BIGINT,
    last_error TEXT,
    next_attempt_ms BIGINT,
    created_ms BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (status, next_attempt_ms);
CREATE INDEX IF NOT EXISTS deliveries_by_webhook ON deliveries (webhook_id, created_ms);
";

const WEBHOOK_COLUMNS: &str = "id, tenant_id, url, events, insecure, active, description, created_ms";
const DELIVERY_COLUMNS: &str =
    "id, webhook_id, record_id, status, attempts, last_status, last_error, next_attempt_ms, created_ms";

/// The PostgreSQL store.
#[derive(Clone)]
pub struct PostgresStore {
    pool: Pool,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("PostgresStore")
    }
}

impl PostgresStore {
    /// Connects to `url` and creates the schema if it is missing.
    pub async fn open(url: &str) -> Result<PostgresStore, NotifierError> {
        let config: tokio_postgres::Config = url.parse()?;
        let manager_config = ManagerConfig { recycling_method: RecyclingMethod::Fast };
        let manager = Manager::from_config(config, NoTls, manager_config);
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .build()
            .map_err(|error| NotifierError::Pool(error.to_string()))?;
        let store = PostgresStore { pool };
        store.create_schema().await?;
        Ok(store)
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, NotifierError> {
        self.pool.get().await.map_err(|error| match error {
            deadpool_postgres::PoolError::Backend(error) => NotifierError::Postgres(error),
            other => NotifierError::Pool(other.to_string()),
        })
    }

    async fn create_schema(&self) -> Result<(), NotifierError> {
        let mut client = self.client().await?;
        let transaction = client.transaction().await?;
        transaction.execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK]).await?;
        transaction.batch_execute(SCHEMA).await?;
        let row = transaction.query_one("SELECT COALESCE(MAX(version), 0) FROM notifier_schema", &[]).await?;
        let found: i64 = row.get(0);
        if found > SCHEMA_VERSION {
            return Err(NotifierError::SchemaTooNew { found, known: SCHEMA_VERSION });
        }
        let sql = "INSERT INTO notifier_schema (version, applied_ms) VALUES ($1, $2) ON CONFLICT DO NOTHING";
        transaction.execute(sql, &[&SCHEMA_VERSION, &crate::sink::now_ms()]).await?;
        transaction.commit().await?;
        Ok(())
    }

    pub(super) async fn insert_webhook(
        &self,
        webhook: &Webhook,
        secrets: &SealedSecrets,
    ) -> Result<(), NotifierError> {
        let events = serde_json::to_string(&webhook.events).expect("strings serialize");
        let sql = "INSERT INTO webhooks (id, tenant_id, url, events, api_key, secret, insecure, active, \
                   description, created_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
        let client = self.client().await?;
        client
            .execute(
                sql,
                &[
                    &webhook.id,
                    &webhook.tenant,
                    &webhook.url,
                    &events,
                    &secrets.api_key,
                    &secrets.secret,
                    &webhook.insecure,
                    &webhook.active,
                    &webhook.description,
                    &webhook.created_ms,
                ],
            )
            .await?;
        Ok(())
    }

    pub(super) async fn webhooks(&self, tenant: &str) -> Result<Vec<Webhook>, NotifierError> {
        let sql =
            format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE tenant_id = $1 ORDER BY created_ms, id");
        let rows = self.client().await?.query(&sql, &[&tenant]).await?;
        rows.iter().map(webhook).collect()
    }

    pub(super) async fn active_webhooks(&self) -> Result<Vec<Webhook>, NotifierError> {
        let sql = format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE active");
        let rows = self.client().await?.query(&sql, &[]).await?;
        rows.iter().map(webhook).collect()
    }

    pub(super) async fn webhook(&self, tenant: &str, id: &str) -> Result<Option<Webhook>, NotifierError> {
        let sql = format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE tenant_id = $1 AND id = $2");
        let row = self.client().await?.query_opt(&sql, &[&tenant, &id]).await?;
        row.as_ref().map(webhook).transpose()
    }

    pub(super) async fn delete_webhook(&self, tenant: &str, id: &str) -> Result<bool, NotifierError> {
        let mut client = self.client().await?;
        let transaction = client.transaction().await?;
        let deleted = transaction
            .execute("DELETE FROM webhooks WHERE tenant_id = $1 AND id = $2", &[&tenant, &id])
            .await?;
        if deleted > 0 {
            transaction.execute("DELETE FROM deliveries WHERE webhook_id = $1", &[&id]).await?;
        }
        transaction.commit().await?;
        Ok(deleted > 0)
    }

    pub(super) async fn update_webhook(
        &self,
        webhook: &Webhook,
        api_key: Option<Vec<u8>>,
        secret: Option<Vec<u8>>,
    ) -> Result<bool, NotifierError> {
        let events = serde_json::to_string(&webhook.events).expect("strings serialize");
        let sql = "UPDATE webhooks SET url = $1, events = $2, insecure = $3, active = $4, description = $5, \
                   api_key = coalesce($6, api_key), secret = coalesce($7, secret) WHERE tenant_id = $8 AND id = $9";
        let client = self.client().await?;
        let updated = client
            .execute(
                sql,
                &[
                    &webhook.url,
                    &events,
                    &webhook.insecure,
                    &webhook.active,
                    &webhook.description,
                    &api_key,
                    &secret,
                    &webhook.tenant,
                    &webhook.id,
                ],
            )
            .await?;
        Ok(updated > 0)
    }

    pub(super) async fn requeue(&self, webhook: &str, id: &str, now_ms: i64) -> Result<bool, NotifierError> {
        let sql = "UPDATE deliveries SET status = 'pending', next_attempt_ms = $1, created_ms = $1 \
                   WHERE webhook_id = $2 AND id = $3 AND status = 'dead'";
        Ok(self.client().await?.execute(sql, &[&now_ms, &webhook, &id]).await? > 0)
    }

    pub(super) async fn deactivate(&self, id: &str) -> Result<(), NotifierError> {
        let mut client = self.client().await?;
        let transaction = client.transaction().await?;
        transaction.execute("UPDATE webhooks SET active = false WHERE id = $1", &[&id]).await?;
        let sql = "UPDATE deliveries SET status = 'dead', next_attempt_ms = NULL, \
                   last_error = coalesce(last_error, 'webhook deactivated') WHERE webhook_id = $1 AND status = 'pending'";
        transaction.execute(sql, &[&id]).await?;
        transaction.commit().await?;
        Ok(())
    }

    pub(super) async fn target(&self, id: &str) -> Result<Option<(Webhook, SealedSecrets)>, NotifierError> {
        let sql = format!("SELECT {WEBHOOK_COLUMNS}, api_key, secret FROM webhooks WHERE id = $1");
        let Some(row) = self.client().await?.query_opt(&sql, &[&id]).await? else { return Ok(None) };
        let secrets = SealedSecrets { api_key: row.try_get(8)?, secret: row.try_get(9)? };
        Ok(Some((webhook(&row)?, secrets)))
    }

    pub(super) async fn queue(&self, deliveries: &[NewDelivery], now_ms: i64) -> Result<(), NotifierError> {
        let column = |pick: fn(&NewDelivery) -> &str| deliveries.iter().map(pick).collect::<Vec<_>>();
        let (ids, webhooks, records) = (
            column(|delivery| &delivery.id),
            column(|delivery| &delivery.webhook_id),
            column(|delivery| &delivery.record_id),
        );
        let bodies: Vec<&[u8]> = deliveries.iter().map(|delivery| delivery.body.as_slice()).collect();
        let sql = "INSERT INTO deliveries (id, webhook_id, record_id, body, status, attempts, next_attempt_ms, \
                   created_ms) SELECT id, webhook, record, body, 'pending', 0, $5, $5 \
                   FROM unnest($1::text[], $2::text[], $3::text[], $4::bytea[]) AS new (id, webhook, record, body) \
                   ON CONFLICT (id) DO NOTHING";
        self.client().await?.execute(sql, &[&ids, &webhooks, &records, &bodies, &now_ms]).await?;
        Ok(())
    }

    pub(super) async fn due(&self, query: &DueQuery<'_>) -> Result<Vec<(Delivery, Vec<u8>)>, NotifierError> {
        // Read and lease in one statement: locked rows are another replica's.
        let sql = format!(
            "UPDATE deliveries SET next_attempt_ms = $4 WHERE id IN (SELECT id FROM deliveries \
             WHERE status = 'pending' AND next_attempt_ms <= $1 AND NOT (webhook_id = ANY($3)) \
             ORDER BY next_attempt_ms LIMIT $2 FOR UPDATE SKIP LOCKED) RETURNING {DELIVERY_COLUMNS}, body"
        );
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 4] =
            [&query.now_ms, &query.limit, &query.skip, &query.lease_until_ms];
        let rows = self.client().await?.query(&sql, &params).await?;
        rows.iter().map(|row| Ok((delivery(row)?, row.try_get(9)?))).collect()
    }

    pub(super) async fn release(&self, ids: &[String], now_ms: i64) -> Result<(), NotifierError> {
        let sql = "UPDATE deliveries SET next_attempt_ms = $2 WHERE id = ANY($1) AND status = 'pending'";
        self.client().await?.execute(sql, &[&ids, &now_ms]).await?;
        Ok(())
    }

    pub(super) async fn record(&self, attempts: &[(&str, &Attempt)]) -> Result<(), NotifierError> {
        let sql = "UPDATE deliveries SET status = $1, attempts = attempts + 1, last_status = $2, \
                   last_error = $3, next_attempt_ms = $4 WHERE id = $5";
        let mut client = self.client().await?;
        let transaction = client.transaction().await?;
        let statement = transaction.prepare(sql).await?;
        for (id, attempt) in attempts {
            let params: [&(dyn tokio_postgres::types::ToSql + Sync); 5] =
                [&attempt.status.as_str(), &attempt.code, &attempt.error, &attempt.next_attempt_ms, id];
            transaction.execute(&statement, &params).await?;
        }
        transaction.commit().await?;
        Ok(())
    }

    pub(super) async fn counts(&self) -> Result<(i64, i64), NotifierError> {
        let sql = "SELECT count(*) FILTER (WHERE status = 'pending'), count(*) FILTER (WHERE status = 'dead') \
                   FROM deliveries WHERE status IN ('pending', 'dead')";
        let row = self.client().await?.query_one(sql, &[]).await?;
        Ok((row.try_get(0)?, row.try_get(1)?))
    }

    pub(super) async fn deliveries(
        &self,
        webhook: &str,
        status: Option<DeliveryStatus>,
        limit: i64,
    ) -> Result<Vec<Delivery>, NotifierError> {
        let sql = format!(
            "SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE webhook_id = $1 AND ($2::text IS NULL OR status = $2) \
             ORDER BY created_ms DESC, id LIMIT $3"
        );
        let status = status.map(DeliveryStatus::as_str);
        let rows = self.client().await?.query(&sql, &[&webhook, &status, &limit]).await?;
        rows.iter().map(delivery).collect()
    }
}

/// A webhook from a row starting with [`WEBHOOK_COLUMNS`].
fn webhook(row: &Row) -> Result<Webhook, NotifierError> {
    let events: String = row.try_get(3)?;
    Ok(Webhook {
        id: row.try_get(0)?,
        tenant: row.try_get(1)?,
        url: row.try_get(2)?,
        events: serde_json::from_str(&events).unwrap_or_default(),
        insecure: row.try_get(4)?,
        active: row.try_get(5)?,
        description: row.try_get(6)?,
        created_ms: row.try_get(7)?,
    })
}

fn delivery(row: &Row) -> Result<Delivery, NotifierError> {
    Ok(Delivery {
        id: row.try_get(0)?,
        webhook_id: row.try_get(1)?,
        record_id: row.try_get(2)?,
        status: DeliveryStatus::parse(row.try_get(3)?),
        attempts: row.try_get(4)?,
        last_status: row.try_get(5)?,
        last_error: row.try_get(6)?,
        next_attempt_ms: row.try_get(7)?,
        created_ms: row.try_get(8)?,
    })
}
