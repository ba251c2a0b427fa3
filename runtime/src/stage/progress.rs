//! Stall detection: a consuming service knows whether its consumer group moves.
//!
//! Progress is read where it is durable, from the broker: every few seconds the watch
//! asks for the group's committed offsets and the input partitions' ends. A partition
//! is stalled when records wait on it (its end is past its committed offset) and its
//! committed offset has not moved for the stall timeout, whatever the cause: a member
//! that lost its partitions, a batch retried forever, a broker that stopped answering.
//! While any partition is stalled, `/healthz` answers 503 `stalled` with the reason,
//! the `<service>_stalled` gauge is 1, one WARN line names the partitions and since
//! when, and the runtime is asked to start its consumer over.

use std::{
    collections::BTreeMap,
    sync::Arc,
    time::{Duration, Instant},
};

use rdkafka::{
    TopicPartitionList,
    consumer::{BaseConsumer, Consumer},
};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use audit_service::ops::Health;

use crate::{config::KafkaConfig, metrics::StageMetrics};

/// One look at a partition: its committed offset (or none) and its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// The group's committed offset, `None` before the first commit.
    pub committed: Option<i64>,
    /// The partition's high watermark.
    pub end: i64,
}

#[derive(Debug, Clone, Copy)]
struct Seen {
    committed: Option<i64>,
    moved_at: Instant,
}

/// What the detector concluded from a look.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing waits, or it moves.
    Moving,
    /// These partitions have waiting records and have not moved since `since`.
    Stalled {
        /// Stalled partitions.
        partitions: Vec<i32>,
        /// When the earliest of them last moved.
        since: Instant,
    },
}

/// The pure part: per partition, when its committed offset last moved.
#[derive(Debug)]
pub struct StallDetector {
    timeout: Duration,
    seen: BTreeMap<i32, Seen>,
}

impl StallDetector {
    /// A detector that calls a partition stalled after `timeout` without movement.
    pub fn new(timeout: Duration) -> Self {
        StallDetector { timeout, seen: BTreeMap::new() }
    }

    /// Takes in one look at every partition.
    pub fn observe(&mut self, positions: &BTreeMap<i32, Position>, now: Instant) -> Verdict {
        let mut stalled = Vec::new();
        let mut since = now;
        for (partition, position) in positions {
            let seen =
                self.seen.entry(*partition).or_insert(Seen { committed: position.committed, moved_at: now });
            let waiting = position.end > position.committed.unwrap_or(0);
            if seen.committed != position.committed || !waiting {
                *seen = Seen { committed: position.committed, moved_at: now };
            } else if now.duration_since(seen.moved_at) >= self.timeout {
                stalled.push(*partition);
                since = since.min(seen.moved_at);
            }
        }
        if stalled.is_empty() { Verdict::Moving } else { Verdict::Stalled { partitions: stalled, since } }
    }
}

/// What the watch needs.
pub struct WatchParams {
    /// Service name, for the log line.
    pub service: &'static str,
    /// The group whose progress is watched.
    pub group_id: String,
    /// Its input topic.
    pub topic: String,
    /// Kafka settings (and the stall timeout).
    pub kafka: KafkaConfig,
    /// Where the gauge is.
    pub metrics: Arc<StageMetrics>,
    /// What `/healthz` reports.
    pub health: Health,
    /// Notified when the consumer should start over.
    pub restart: Arc<Notify>,
}

impl WatchParams {
    /// The watch of a stage run with `params`.
    pub fn of(params: &super::StageParams, restart: &Arc<Notify>) -> Self {
        WatchParams {
            service: params.service,
            group_id: params.group_id.clone(),
            topic: params.topics.input.clone(),
            kafka: params.kafka.clone(),
            metrics: params.metrics.clone(),
            health: params.health.clone(),
            restart: restart.clone(),
        }
    }
}

/// Watches the group until `shutdown`.
pub async fn watch(params: WatchParams, shutdown: CancellationToken) {
    let timeout = params.kafka.stall_timeout;
    let period = (timeout / 4).clamp(Duration::from_millis(200), Duration::from_secs(5));
    let mut detector = StallDetector::new(timeout);
    let mut reported = false;
    let mut restarted_at: Option<Instant> = None;
    let client = match crate::kafka::base_client_config(&params.kafka)
        .set("group.id", &params.group_id)
        .set("enable.auto.commit", "false")
        .create::<BaseConsumer>()
    {
        Ok(client) => Arc::new(client),
        Err(error) => return warn!(%error, "stall watch not started"),
    };
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(period) => {}
        }
        let (client, topic) = (client.clone(), params.topic.clone());
        let Ok(Ok(positions)) = tokio::task::spawn_blocking(move || positions(&client, &topic)).await else {
            continue;
        };
        match detector.observe(&positions, Instant::now()) {
            Verdict::Moving => {
                if reported {
                    info!(service = params.service, "progress resumed");
                    reported = false;
                    restarted_at = None;
                }
                params.metrics.stalled.set(0);
                params.health.set_stalled(None);
            }
            Verdict::Stalled { partitions, since } => {
                let seconds = since.elapsed().as_secs();
                let reason = format!(
                    "no progress on partitions {partitions:?} of {} for {seconds} s while records wait",
                    params.topic
                );
                if !reported {
                    warn!(service = params.service, topic = %params.topic, ?partitions, stalled_for_s = seconds, "stalled: starting the consumer over");
                    reported = true;
                }
                params.metrics.stalled.set(1);
                params.health.set_stalled(Some(reason));
                // Once per stall timeout at most: a restart takes a moment to show.
                if restarted_at.is_none_or(|at| at.elapsed() >= timeout) {
                    params.restart.notify_one();
                    restarted_at = Some(Instant::now());
                }
            }
        }
    }
}

/// The committed offset and end of every partition of `topic`.
fn positions(
    client: &BaseConsumer,
    topic: &str,
) -> Result<BTreeMap<i32, Position>, rdkafka::error::KafkaError> {
    let timeout = Duration::from_secs(5);
    let metadata = client.fetch_metadata(Some(topic), timeout)?;
    let partitions: Vec<i32> = metadata
        .topics()
        .iter()
        .flat_map(|topic| topic.partitions().iter().map(|partition| partition.id()))
        .collect();
    let mut list = TopicPartitionList::new();
    for partition in &partitions {
        list.add_partition(topic, *partition);
    }
    let committed = client.committed_offsets(list, timeout)?;
    let mut positions = BTreeMap::new();
    for element in committed.elements() {
        let (_, end) = client.fetch_watermarks(topic, element.partition(), timeout)?;
        let committed = element.offset().to_raw().filter(|offset| *offset >= 0);
        positions.insert(element.partition(), Position { committed, end });
    }
    Ok(positions)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMEOUT: Duration = Duration::from_secs(30);

    fn look(entries: &[(i32, Option<i64>, i64)]) -> BTreeMap<i32, Position> {
        entries
            .iter()
            .map(|(partition, committed, end)| (*partition, Position { committed: *committed, end: *end }))
            .collect()
    }

    #[test]
    fn waiting_records_that_do_not_move_are_a_stall() {
        let start = Instant::now();
        let mut detector = StallDetector::new(TIMEOUT);
        assert_eq!(detector.observe(&look(&[(0, Some(10), 50), (1, Some(5), 5)]), start), Verdict::Moving);
        let later = start + TIMEOUT;
        let verdict = detector.observe(&look(&[(0, Some(10), 80), (1, Some(5), 5)]), later);
        assert_eq!(verdict, Verdict::Stalled { partitions: vec![0], since: start });
    }

    #[test]
    fn movement_or_nothing_waiting_is_progress() {
        let start = Instant::now();
        let mut detector = StallDetector::new(TIMEOUT);
        detector.observe(&look(&[(0, Some(10), 50), (1, None, 0)]), start);
        let later = start + TIMEOUT;
        assert_eq!(detector.observe(&look(&[(0, Some(11), 50), (1, None, 0)]), later), Verdict::Moving);
        assert_eq!(detector.observe(&look(&[(0, Some(11), 50)]), later + TIMEOUT / 2), Verdict::Moving);
        assert!(matches!(
            detector.observe(&look(&[(0, Some(11), 50)]), later + TIMEOUT),
            Verdict::Stalled { .. }
        ));
    }

    #[test]
    fn a_group_that_never_committed_but_has_input_stalls() {
        let start = Instant::now();
        let mut detector = StallDetector::new(TIMEOUT);
        detector.observe(&look(&[(0, None, 3)]), start);
        assert!(matches!(detector.observe(&look(&[(0, None, 3)]), start + TIMEOUT), Verdict::Stalled { .. }));
    }
}
