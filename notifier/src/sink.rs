//! The notifier as a sink of the stage runtime: each signed record that an active
//! webhook of its tenant wants becomes a delivery in the outbox, one transaction per
//! batch. This is where the notifier's offsets are decided: a batch's deliveries are
//! committed to the database before its positions are handed to the runtime, so an
//! offset never passes a record whose deliveries are not durably queued (they are then
//! delivered, retried or dead-lettered by the dispatcher, whatever happens to Kafka).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use audit_integrity::CompactJws;
use audit_runtime::dlq::Rejection;
use audit_runtime::stage::{InputMessage, Sink, Written};
use audit_schemas::{Codec, SignedRecord};
use serde_json::{Value, json};
use tokio::sync::Notify;

use crate::NotifierError;
use crate::metrics::NotifierMetrics;
use crate::store::{NewDelivery, Store, Webhook};

/// Namespace of delivery ids (UUID v5 of webhook and record).
const DELIVERY_NAMESPACE: uuid::Uuid = uuid::Uuid::from_u128(0x6e6f_7469_6669_6572_2d64_656c_6976_6572);

/// Payload fields that are the chain's, not the record's.
const CHAIN_FIELDS: [&str; 2] = ["sequence", "prevHash"];

/// The outbox, written as a sink.
pub struct NotifySink {
    /// Webhooks and deliveries.
    pub store: Store,
    /// Woken when deliveries were queued.
    pub wake: Arc<Notify>,
    /// Counters.
    pub metrics: NotifierMetrics,
    /// Next offset per partition covered by committed writes, not yet flushed.
    pub positions: BTreeMap<i32, i64>,
    /// Reads `SignedRecord`s.
    pub codec: Codec<SignedRecord>,
}

impl Sink for NotifySink {
    type Error = NotifierError;

    async fn write(&mut self, batch: Arc<[InputMessage]>) -> Result<Vec<Written>, NotifierError> {
        let webhooks = self.store.active_webhooks().await?;
        let mut queued = Vec::new();
        let mut written = Vec::with_capacity(batch.len());
        for message in batch.iter() {
            written.push(match self.deliveries(message, &webhooks) {
                Ok(deliveries) if deliveries.is_empty() => Written::Skip { reason: "no_webhook" },
                Ok(deliveries) => {
                    queued.extend(deliveries);
                    Written::Stored
                }
                Err(rejection) => Written::Reject(rejection),
            });
        }
        self.store.queue(&queued, now_ms()).await?;
        self.metrics.queued.inc_by(queued.len() as u64);
        for message in batch.iter() {
            let next = self.positions.entry(message.partition).or_insert(0);
            *next = (*next).max(message.offset + 1);
        }
        if !queued.is_empty() {
            self.wake.notify_one();
        }
        Ok(written)
    }

    async fn flush(&mut self) -> Result<Vec<(i32, i64)>, NotifierError> {
        Ok(std::mem::take(&mut self.positions).into_iter().collect())
    }

    async fn leave(&mut self) -> Vec<(i32, i64)> {
        std::mem::take(&mut self.positions).into_iter().collect()
    }

    fn flush_interval(&self) -> Duration {
        // Every write is committed before it returns; flushing only hands positions over.
        Duration::from_millis(200)
    }
}

impl NotifySink {
    /// The deliveries `message` asks for, or why it cannot be read.
    fn deliveries(
        &self,
        message: &InputMessage,
        webhooks: &[Webhook],
    ) -> Result<Vec<NewDelivery>, Rejection> {
        let payload = message.payload.as_deref().unwrap_or_default();
        let envelope =
            self.codec.decode(payload).map_err(|error| Rejection::new("undecodable", error.to_string()))?;
        let wanted: Vec<&Webhook> =
            webhooks.iter().filter(|webhook| webhook.tenant == envelope.tenant_id).collect();
        if wanted.is_empty() {
            return Ok(Vec::new());
        }
        let (action, body) = notification(&envelope)?;
        Ok(wanted
            .into_iter()
            .filter(|webhook| webhook.wants(&action))
            .map(|webhook| NewDelivery {
                id: delivery_id(&webhook.id, &envelope.id),
                webhook_id: webhook.id.clone(),
                record_id: envelope.id.clone(),
                body: body.clone(),
            })
            .collect())
    }
}

/// The record's actionName and the notification body:
/// `{"type", "id", "tenantId", "created", "sequence", "jws", "record"}`.
pub fn notification(envelope: &SignedRecord) -> Result<(String, Vec<u8>), Rejection> {
    let unreadable = |detail: &str| Rejection::new("unreadable", detail.to_owned());
    let jws = CompactJws::parse(&envelope.jws).map_err(|error| unreadable(&error.to_string()))?;
    let mut record: Value =
        serde_json::from_slice(&jws.payload).map_err(|_| unreadable("payload is not json"))?;
    let action =
        record["action"]["actionName"].as_str().ok_or_else(|| unreadable("no actionName"))?.to_owned();
    if let Value::Object(fields) = &mut record {
        for field in CHAIN_FIELDS {
            fields.remove(field);
        }
    }
    let body = json!({
        "type": action,
        "id": envelope.id,
        "tenantId": envelope.tenant_id,
        "created": envelope.created,
        "sequence": envelope.sequence,
        "jws": envelope.jws,
        "record": record,
    });
    Ok((action, serde_json::to_vec(&body).expect("json serializes")))
}

/// The delivery id of record `record` to webhook `webhook`: the same whenever the
/// record is read again.
pub fn delivery_id(webhook: &str, record: &str) -> String {
    uuid::Uuid::new_v5(&DELIVERY_NAMESPACE, format!("{webhook}/{record}").as_bytes()).to_string()
}

/// Milliseconds since the epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_notification_carries_the_record_and_its_jws_and_ids_are_stable() {
        let (_, messages) = testkit::records::signed_messages(1, 1, "r");
        let codec = Codec::<SignedRecord>::published("SignedRecord").unwrap();
        let envelope = codec.decode(&messages[0].1).unwrap();
        let (action, body) = notification(&envelope).unwrap();
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(action, "login");
        assert_eq!((body["type"].as_str(), body["id"].as_str()), (Some("login"), Some("r-000000")));
        assert_eq!(body["jws"], envelope.jws);
        assert_eq!(body["record"]["host"], "tok-0", "the record is tokenized as signed");
        assert!(body["record"].get("prevHash").is_none());
        assert_eq!(delivery_id("w", "r"), delivery_id("w", "r"));
        assert_ne!(delivery_id("w", "r"), delivery_id("w2", "r"));
    }
}
