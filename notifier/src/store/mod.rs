//! The notifier's durable state: webhooks (their API keys and signing secrets sealed)
//! and deliveries, the outbox between the topic and the targets. One interface, two
//! engines: SQLite (embedded, one notifier) by default, PostgreSQL for several replicas
//! sharing one database.
//!
//! A delivery's id is derived from its webhook and record, so a record read twice
//! (after a crash, or by two replicas across a rebalance) queues one delivery. On
//! PostgreSQL a replica leases the due deliveries it reads, so two replicas do not
//! attempt the same one at once; a lease that outlives its replica expires and the
//! delivery is attempted again (at least once).

mod postgres;
mod sqlite;

use audit_service::database::DatabaseLocation;

use crate::NotifierError;

pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

/// A webhook as stored and shown (never its key or secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    /// Random UUID.
    pub id: String,
    /// The tenant it belongs to.
    pub tenant: String,
    /// Target URL.
    pub url: String,
    /// actionNames that trigger it; `*` for all.
    pub events: Vec<String>,
    /// `http://` allowed.
    pub insecure: bool,
    /// Deliveries are made.
    pub active: bool,
    /// Free text.
    pub description: Option<String>,
    /// Milliseconds since the epoch.
    pub created_ms: i64,
}

impl Webhook {
    /// Whether a record of `action` triggers it.
    pub fn wants(&self, action: &str) -> bool {
        self.active && self.events.iter().any(|event| event == "*" || event == action)
    }
}

/// A webhook's sealed API key and signing secret.
#[derive(Clone)]
pub struct SealedSecrets {
    /// The API key, sealed.
    pub api_key: Vec<u8>,
    /// The signing secret, sealed.
    pub secret: Vec<u8>,
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    /// Waiting for its next attempt.
    Pending,
    /// The target answered 2xx.
    Delivered,
    /// Out of attempts, or the target is gone: in the dead letters.
    Dead,
}

impl DeliveryStatus {
    /// As stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Dead => "dead",
        }
    }

    fn parse(text: &str) -> DeliveryStatus {
        match text {
            "delivered" => DeliveryStatus::Delivered,
            "dead" => DeliveryStatus::Dead,
            _ => DeliveryStatus::Pending,
        }
    }
}

/// A delivery to queue.
#[derive(Debug, Clone)]
pub struct NewDelivery {
    /// Derived from webhook and record.
    pub id: String,
    /// The webhook.
    pub webhook_id: String,
    /// The record's id (the `webhook-id` header).
    pub record_id: String,
    /// The notification body.
    pub body: Vec<u8>,
}

/// A delivery as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// Its id.
    pub id: String,
    /// The webhook.
    pub webhook_id: String,
    /// The record's id.
    pub record_id: String,
    /// Where it stands.
    pub status: DeliveryStatus,
    /// Attempts made.
    pub attempts: i64,
    /// The last answer's status code.
    pub last_status: Option<i64>,
    /// The last failure without an answer (timeout, refused connection).
    pub last_error: Option<String>,
    /// When the next attempt is due, while pending.
    pub next_attempt_ms: Option<i64>,
    /// When it was queued.
    pub created_ms: i64,
}

/// What an attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// The new status.
    pub status: DeliveryStatus,
    /// The answer's status code, if any.
    pub code: Option<i64>,
    /// The failure without an answer, if any.
    pub error: Option<String>,
    /// When to try again, while pending.
    pub next_attempt_ms: Option<i64>,
}

/// Which due deliveries to read.
#[derive(Debug, Clone, Copy)]
pub struct DueQuery<'a> {
    /// Due at or before this time (ms since the epoch).
    pub now_ms: i64,
    /// At most this many, soonest first.
    pub limit: i64,
    /// Leaving out these webhooks' (busy or paused), so a blocked target's backlog
    /// never hides the others' deliveries.
    pub skip: &'a [String],
    /// Until when the deliveries read are kept from other replicas.
    pub lease_until_ms: i64,
}

/// The notifier's storage, whichever engine is configured.
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
    /// Opens (and creates or migrates) the store at `location`.
    pub async fn open(location: &DatabaseLocation) -> Result<Store, NotifierError> {
        Ok(match location {
            DatabaseLocation::Sqlite(path) => Store::Sqlite(SqliteStore::open(path).await?),
            DatabaseLocation::Postgres(url) => Store::Postgres(PostgresStore::open(url).await?),
        })
    }

    /// Stores a new webhook with its sealed secrets.
    pub async fn insert_webhook(
        &self,
        webhook: &Webhook,
        secrets: &SealedSecrets,
    ) -> Result<(), NotifierError> {
        dispatch!(self, engine => engine.insert_webhook(webhook, secrets).await)
    }

    /// `tenant`'s webhooks, oldest first.
    pub async fn webhooks(&self, tenant: &str) -> Result<Vec<Webhook>, NotifierError> {
        dispatch!(self, engine => engine.webhooks(tenant).await)
    }

    /// Every active webhook, for matching records.
    pub async fn active_webhooks(&self) -> Result<Vec<Webhook>, NotifierError> {
        dispatch!(self, engine => engine.active_webhooks().await)
    }

    /// `tenant`'s webhook `id`.
    pub async fn webhook(&self, tenant: &str, id: &str) -> Result<Option<Webhook>, NotifierError> {
        dispatch!(self, engine => engine.webhook(tenant, id).await)
    }

    /// Deletes `tenant`'s webhook `id` and its deliveries; whether it existed.
    pub async fn delete_webhook(&self, tenant: &str, id: &str) -> Result<bool, NotifierError> {
        dispatch!(self, engine => engine.delete_webhook(tenant, id).await)
    }

    /// Replaces the settings of `webhook` (same tenant and id) and, when given, its
    /// sealed API key or secret; whether it existed.
    pub async fn update_webhook(
        &self,
        webhook: &Webhook,
        api_key: Option<Vec<u8>>,
        secret: Option<Vec<u8>>,
    ) -> Result<bool, NotifierError> {
        dispatch!(self, engine => engine.update_webhook(webhook, api_key, secret).await)
    }

    /// Turns webhook `id` off and its pending deliveries into dead letters, in one
    /// transaction: nothing is kept waiting for a webhook that delivers nothing.
    pub async fn deactivate(&self, id: &str) -> Result<(), NotifierError> {
        dispatch!(self, engine => engine.deactivate(id).await)
    }

    /// Puts dead delivery `id` of `webhook` back in the queue, due now, with a new
    /// retry horizon; whether there was such a dead delivery.
    pub async fn requeue(&self, webhook: &str, id: &str, now_ms: i64) -> Result<bool, NotifierError> {
        dispatch!(self, engine => engine.requeue(webhook, id, now_ms).await)
    }

    /// Webhook `id` of any tenant with its sealed secrets, for delivering.
    pub async fn target(&self, id: &str) -> Result<Option<(Webhook, SealedSecrets)>, NotifierError> {
        dispatch!(self, engine => engine.target(id).await)
    }

    /// Queues `deliveries` in one transaction; one already queued is left as it is.
    pub async fn queue(&self, deliveries: &[NewDelivery], now_ms: i64) -> Result<(), NotifierError> {
        if deliveries.is_empty() {
            return Ok(());
        }
        dispatch!(self, engine => engine.queue(deliveries, now_ms).await)
    }

    /// Pending deliveries due per `query`, with their bodies.
    pub async fn due(&self, query: &DueQuery<'_>) -> Result<Vec<(Delivery, Vec<u8>)>, NotifierError> {
        dispatch!(self, engine => engine.due(query).await)
    }

    /// Gives back the leases of due deliveries read but not started (their target was
    /// busy or paused), due again at `now_ms`.
    pub async fn release(&self, ids: &[String], now_ms: i64) -> Result<(), NotifierError> {
        match self {
            // Nothing to give back: the embedded engine does not lease.
            Store::Sqlite(_) => Ok(()),
            Store::Postgres(_) if ids.is_empty() => Ok(()),
            Store::Postgres(engine) => engine.release(ids, now_ms).await,
        }
    }

    /// Records attempts (delivery id, outcome) in one transaction.
    pub async fn record(&self, attempts: &[(&str, &Attempt)]) -> Result<(), NotifierError> {
        if attempts.is_empty() {
            return Ok(());
        }
        dispatch!(self, engine => engine.record(attempts).await)
    }

    /// How many deliveries are pending and how many dead, in the whole database.
    pub async fn counts(&self) -> Result<(i64, i64), NotifierError> {
        dispatch!(self, engine => engine.counts().await)
    }

    /// Webhook `webhook`'s deliveries, newest first, of `status` if given.
    pub async fn deliveries(
        &self,
        webhook: &str,
        status: Option<DeliveryStatus>,
        limit: i64,
    ) -> Result<Vec<Delivery>, NotifierError> {
        dispatch!(self, engine => engine.deliveries(webhook, status, limit).await)
    }
}

#[cfg(test)]
mod tests;
