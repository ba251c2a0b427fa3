//! The trail's own events. A service that changes or reveals what the trail protects
//! (a vault reveal or erasure, a change to a webhook) writes an event about it to the
//! raw topic, as any platform service would, and answers only once the broker has
//! acknowledged it.
//!
//! Fail closed: an event the broker did not acknowledge within [`ACK_TIMEOUT`] fails the
//! request. The event may still arrive later, so the trail can hold an action that was
//! refused, never miss one that was done.

use std::time::Duration;

use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord};

use crate::RuntimeError;
use crate::config::KafkaConfig;

/// Longest wait for the broker's acknowledgement of one event.
pub const ACK_TIMEOUT: Duration = Duration::from_secs(10);

/// Writes trail events (JSON, keyed by tenant) to the raw topic.
pub struct TrailWriter {
    producer: FutureProducer,
    topic: String,
}

impl TrailWriter {
    /// A writer to `topic` that sends each event at once (no linger).
    pub fn new(kafka: &KafkaConfig, topic: &str) -> Result<TrailWriter, RuntimeError> {
        Ok(TrailWriter { producer: crate::kafka::immediate_producer(kafka)?, topic: topic.to_owned() })
    }

    /// Hands `tenant`'s `event` to the producer without waiting: the caller does its
    /// work while the broker acknowledges, and answers only once
    /// [`PendingEvent::acknowledged`].
    pub fn begin(&self, tenant: &str, event: &[u8]) -> PendingEvent {
        let record = FutureRecord::to(&self.topic).key(tenant).payload(event);
        match self.producer.send_result(record) {
            Ok(delivery) => PendingEvent(Ok(delivery)),
            Err((error, _)) => PendingEvent(Err(error.to_string())),
        }
    }

    /// Writes `tenant`'s `event` and waits for the acknowledgement.
    pub async fn record(&self, tenant: &str, event: &[u8]) -> Result<(), RuntimeError> {
        self.begin(tenant, event).acknowledged().await
    }
}

/// A trail event handed to the producer, not yet acknowledged.
pub struct PendingEvent(Result<DeliveryFuture, String>);

impl PendingEvent {
    /// Waits for the broker's acknowledgement, at most [`ACK_TIMEOUT`].
    pub async fn acknowledged(self) -> Result<(), RuntimeError> {
        let unacknowledged = |reason: String| RuntimeError::Unacknowledged { reason };
        let delivery = self.0.map_err(unacknowledged)?;
        match tokio::time::timeout(ACK_TIMEOUT, delivery).await {
            Ok(Ok(Ok(_))) => Ok(()),
            Ok(Ok(Err((error, _)))) => Err(unacknowledged(error.to_string())),
            Ok(Err(_)) => Err(unacknowledged("the producer dropped the event".into())),
            Err(_) => Err(unacknowledged(format!("not acknowledged within {ACK_TIMEOUT:?}"))),
        }
    }
}
