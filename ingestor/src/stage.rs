//! The ingestor stage: raw JSON events in, Avro `NormalizedRecord`s keyed by tenant out.
//!
//! Ids are derived, never random, so the same input always yields the same record:
//! from `(tenantId, eventId)` when the producer sent an eventId (its duplicates then
//! share one id), else from the raw message's topic, partition and offset (stable
//! under redelivery). Duplicates seen within the dedupe window are skipped; older
//! ones, or ones after a restart, still carry the same id for later stages to drop.

use std::collections::HashSet;

use audit_runtime::recent::RecentSet;
use audit_runtime::{
    dlq::Rejection,
    stage::{Acknowledged, InputMessage, Outcome, OutputRecord, Stage, TransientError},
};
use audit_schemas::{Codec, NormalizedRecord};
use uuid::Uuid;

use crate::{limits::Limits, validate::normalize};

/// Namespace of record ids (UUID v5); changing it would change every id.
const RECORD_ID_NAMESPACE: Uuid = uuid::uuid!("5f0b8a86-0a43-4c8e-9a36-0f8f6a0c2d71");

/// The record id for an event.
pub fn record_id(tenant: &str, event_id: Option<&str>, source: &InputMessage) -> Uuid {
    let name = match event_id {
        Some(event_id) => format!("event\u{0}{tenant}\u{0}{event_id}"),
        None => format!("offset\u{0}{}\u{0}{}\u{0}{}", source.topic, source.partition, source.offset),
    };
    Uuid::new_v5(&RECORD_ID_NAMESPACE, name.as_bytes())
}

/// Validates, normalizes, identifies and encodes raw events.
pub struct IngestStage {
    limits: Limits,
    codec: Codec<NormalizedRecord>,
    /// Recently forwarded ids, oldest first out.
    delivered: RecentSet<Uuid>,
    /// Ids forwarded by the batch in flight; they join `delivered` once acknowledged.
    in_flight: HashSet<Uuid>,
}

impl IngestStage {
    /// A stage with `limits` and a dedupe window of `dedupe_window` ids.
    pub fn new(limits: Limits, dedupe_window: usize, codec: Codec<NormalizedRecord>) -> Self {
        let delivered = RecentSet::new(dedupe_window);
        IngestStage { limits, codec, delivered, in_flight: HashSet::new() }
    }

    /// The outcome for one message.
    pub fn ingest(&mut self, message: &InputMessage) -> Outcome {
        let bytes = message.payload.as_deref().unwrap_or_default();
        let mut record = match normalize(bytes, &self.limits) {
            Ok(record) => record,
            Err(rejection) => return Outcome::Reject(rejection),
        };
        let id = record_id(&record.tenant_id, record.event_id.as_deref(), message);
        if self.delivered.contains(&id) || !self.in_flight.insert(id) {
            return Outcome::Skip { reason: "duplicate_event_id" };
        }
        record.id = id.to_string();
        match self.codec.encode(&record) {
            Ok(payload) => {
                Outcome::Forward(vec![OutputRecord { key: record.tenant_id.into_bytes(), payload }])
            }
            Err(error) => Outcome::Reject(Rejection::new("encoding_failed", error.to_string())),
        }
    }
}

impl Stage for IngestStage {
    async fn process(&mut self, batch: &[InputMessage]) -> Result<Vec<Outcome>, TransientError> {
        // A retried batch starts over: nothing of a failed attempt was delivered.
        self.in_flight.clear();
        Ok(batch.iter().map(|message| self.ingest(message)).collect())
    }

    fn on_delivered(&mut self, _acknowledged: &Acknowledged) {
        for id in self.in_flight.drain() {
            self.delivered.insert(id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            max_message_bytes: 65_536,
            min_created_ms: Limits::earliest_plausible_ms(),
            max_future_skew_ms: 3_600_000,
        }
    }

    fn stage(window: usize) -> IngestStage {
        IngestStage::new(limits(), window, Codec::published("NormalizedRecord").unwrap())
    }

    fn message(offset: i64, payload: &str) -> InputMessage {
        InputMessage {
            topic: "audit.raw".into(),
            partition: 2,
            offset,
            key: None,
            payload: Some(payload.as_bytes().to_vec()),
            timestamp_ms: None,
        }
    }

    const EVENT: &str = r#"{"tenantId":"tdf1808f3d368517208759","created":"2023-01-04T16:04:34.678Z",
        "action":{"actionName":"logout"},"eventId":"e-1"}"#;
    const NO_EVENT_ID: &str =
        r#"{"tenantId":"t1","created":"2023-01-04T16:04:34.678Z","action":{"actionName":"logout"}}"#;

    fn forwarded(outcome: Outcome) -> NormalizedRecord {
        let Outcome::Forward(records) = outcome else { panic!("not forwarded: {outcome:?}") };
        assert_eq!(records.len(), 1);
        Codec::<NormalizedRecord>::published("NormalizedRecord").unwrap().decode(&records[0].payload).unwrap()
    }

    #[test]
    fn ids_are_stable_under_redelivery_and_differ_by_position() {
        let first = forwarded(stage(0).ingest(&message(10, NO_EVENT_ID)));
        let again = forwarded(stage(0).ingest(&message(10, NO_EVENT_ID)));
        let elsewhere = forwarded(stage(0).ingest(&message(11, NO_EVENT_ID)));
        assert_eq!(first.id, again.id);
        assert_ne!(first.id, elsewhere.id);
    }

    #[test]
    fn event_id_duplicates_share_an_id_and_are_skipped_in_the_window() {
        let mut stage = stage(100);
        let batch = [message(1, EVENT), message(2, EVENT)];
        let outcomes = process_batch(&mut stage, &batch);
        assert!(matches!(outcomes[0], Outcome::Forward(_)));
        assert_eq!(outcomes[1], Outcome::Skip { reason: "duplicate_event_id" });
        stage.on_delivered(&Acknowledged::default());
        let later = process_batch(&mut stage, &[message(9, EVENT)]);
        assert_eq!(later[0], Outcome::Skip { reason: "duplicate_event_id" });
    }

    #[test]
    fn a_retried_batch_is_forwarded_again() {
        let mut stage = stage(100);
        let batch = [message(1, EVENT)];
        process_batch(&mut stage, &batch);
        let retried = process_batch(&mut stage, &batch);
        assert!(matches!(retried[0], Outcome::Forward(_)), "undelivered ids must not count as seen");
    }

    #[test]
    fn output_is_keyed_by_tenant() {
        let Outcome::Forward(records) = stage(0).ingest(&message(1, EVENT)) else { panic!() };
        assert_eq!(records[0].key, b"tdf1808f3d368517208759");
    }

    fn process_batch(stage: &mut IngestStage, batch: &[InputMessage]) -> Vec<Outcome> {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        runtime.block_on(stage.process(batch)).unwrap()
    }
}
