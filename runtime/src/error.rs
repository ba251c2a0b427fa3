//! Errors of the shared runtime, named for what happened.

use rdkafka::error::KafkaError;

/// What can stop a stage or a shared helper.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// A setting is invalid; the message names it.
    #[error("invalid setting {name}: {reason}")]
    InvalidSetting {
        /// Flag name without dashes.
        name: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A Kafka client could not be created.
    #[error("cannot create kafka {role}: {source}")]
    ClientCreation {
        /// `consumer`, `producer` or `admin`.
        role: &'static str,
        /// The client's error.
        source: KafkaError,
    },
    /// Topics could not be created or checked.
    #[error("cannot create topic {topic}: {detail}")]
    TopicCreation {
        /// Topic name.
        topic: String,
        /// Broker answer.
        detail: String,
    },
    /// A trail topic exists with settings that would delete records.
    #[error("topic {topic} would lose trail records: {reason}")]
    TrailAtRisk {
        /// Topic name.
        topic: String,
        /// Which settings, and what to set instead.
        reason: String,
    },
    /// The consumer failed in a way retrying the poll cannot fix.
    #[error("consumer failed: {source}")]
    Consume {
        /// The client's error.
        source: KafkaError,
    },
    /// A produced record was not acknowledged: its input offsets stay uncommitted.
    #[error("delivery to {topic} failed: {source}")]
    Delivery {
        /// Target topic.
        topic: String,
        /// The client's error.
        source: KafkaError,
    },
    /// Committing offsets failed at shutdown; the uncommitted work will be redone.
    #[error("commit failed: {source}")]
    Commit {
        /// The client's error.
        source: KafkaError,
    },
    /// A stage broke its contract (one outcome per input).
    #[error("stage {stage} returned {outcomes} outcomes for {inputs} inputs")]
    OutcomeCount {
        /// Stage name.
        stage: &'static str,
        /// Outcomes returned.
        outcomes: usize,
        /// Inputs given.
        inputs: usize,
    },
    /// A trail event was not acknowledged by the broker: the action it records fails.
    #[error("trail event not acknowledged: {reason}")]
    Unacknowledged {
        /// The producer's or broker's answer.
        reason: String,
    },
}
