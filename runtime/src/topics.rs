//! The product's topics and the settings each must have, declared once.
//!
//! A topic is of one [`TopicKind`], which fixes how long it keeps records:
//! - the trail (`audit.signed`) and the signer's checkpoints: forever unless the
//!   operator sets a trail retention, because reindex and chain recovery read them
//!   from the start;
//! - the topics with clear personal data (`audit.raw`, `audit.normalized`,
//!   `audit.dlq`): only as long as reprocessing needs them (7 days by default);
//! - `audit.tokenized` (tokens, no clear values): the same default, set apart.
//!
//! Services create missing topics with these settings ([`ensure`]) and check the ones
//! that exist ([`inspect`]): a trail topic that would expire or compact away records
//! stops the service with the reason, a personal-data topic kept longer than its
//! retention is reported. Deletion by size (`retention.bytes`) is never set: it would
//! drop records before their time.

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::Mutex,
    time::Duration,
};

use rdkafka::{
    admin::{AdminClient, AdminOptions, NewTopic, ResourceSpecifier, TopicReplication},
    client::DefaultClientContext,
    error::RDKafkaErrorCode,
};

use crate::{RuntimeError, config::KafkaConfig, kafka::base_client_config};

/// What a topic holds, which decides its retention.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopicKind {
    /// The signed trail and what recovers it: kept forever unless configured.
    Trail,
    /// Clear personal data: kept for the personal-data retention.
    PersonalData,
    /// Tokenized records: kept for the tokenized retention.
    Tokenized,
    /// The latest value per key (who owns which search shard): compacted, never
    /// expired.
    Registry,
}

/// A topic a service uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Topic<'a> {
    /// Its name.
    pub name: &'a str,
    /// What it holds.
    pub kind: TopicKind,
}

/// The product's topics under their default names.
pub const DEFAULT_TOPICS: &[Topic<'static>] = &[
    Topic { name: "audit.raw", kind: TopicKind::PersonalData },
    Topic { name: "audit.normalized", kind: TopicKind::PersonalData },
    Topic { name: "audit.dlq", kind: TopicKind::PersonalData },
    Topic { name: "audit.tokenized", kind: TopicKind::Tokenized },
    Topic { name: "audit.signed", kind: TopicKind::Trail },
    Topic { name: "audit.signer-checkpoints", kind: TopicKind::Trail },
    Topic { name: "audit.checkpoints", kind: TopicKind::Trail },
    Topic { name: "audit.index-owners", kind: TopicKind::Registry },
];

impl<'a> Topic<'a> {
    /// `name` with the kind of the product's topic of that default name; a topic the
    /// product does not declare is kept as briefly as personal data. For tools and
    /// tests: a service knows what its topics hold whatever their names.
    pub fn named(name: &'a str) -> Topic<'a> {
        let kind = DEFAULT_TOPICS.iter().find(|topic| topic.name == name).map(|topic| topic.kind);
        Topic { name, kind: kind.unwrap_or(TopicKind::PersonalData) }
    }

    /// A trail topic.
    pub fn trail(name: &'a str) -> Topic<'a> {
        Topic { name, kind: TopicKind::Trail }
    }

    /// A topic with clear personal data.
    pub fn personal(name: &'a str) -> Topic<'a> {
        Topic { name, kind: TopicKind::PersonalData }
    }

    /// A topic of tokenized records.
    pub fn tokenized(name: &'a str) -> Topic<'a> {
        Topic { name, kind: TopicKind::Tokenized }
    }
}

/// How long each kind keeps records and how many replicas must acknowledge a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TopicPolicy {
    /// Retention of the trail; `None` keeps it forever.
    pub trail_retention: Option<Duration>,
    /// Retention of topics with clear personal data.
    pub personal_data_retention: Duration,
    /// Retention of tokenized records.
    pub tokenized_retention: Duration,
    /// `min.insync.replicas` of created topics.
    pub min_insync_replicas: i32,
}

impl TopicPolicy {
    /// How long `kind` keeps records; `None` is forever.
    pub fn retention(&self, kind: TopicKind) -> Option<Duration> {
        match kind {
            TopicKind::Trail | TopicKind::Registry => self.trail_retention,
            TopicKind::PersonalData => Some(self.personal_data_retention),
            TopicKind::Tokenized => Some(self.tokenized_retention),
        }
    }

    /// The topic settings of `kind`, as Kafka names them.
    pub fn settings(&self, kind: TopicKind) -> Vec<(&'static str, String)> {
        let cleanup = if kind == TopicKind::Registry { "compact" } else { "delete" };
        vec![
            ("cleanup.policy", cleanup.to_owned()),
            ("retention.ms", retention_ms(self.retention(kind)).to_string()),
            ("retention.bytes", "-1".to_owned()),
            ("min.insync.replicas", self.min_insync_replicas.to_string()),
        ]
    }
}

fn retention_ms(retention: Option<Duration>) -> i64 {
    retention.map_or(-1, |retention| i64::try_from(retention.as_millis()).unwrap_or(i64::MAX))
}

/// A topic as the cluster has it, and what is wrong with it.
#[derive(Debug, Clone)]
pub struct TopicState {
    /// Name.
    pub name: String,
    /// What it holds.
    pub kind: TopicKind,
    /// Whether it exists.
    pub exists: bool,
    /// Its settings as the cluster reports them (the ones this module sets).
    pub settings: BTreeMap<String, String>,
    /// Problems that stop a service: a trail that would lose records.
    pub refusals: Vec<String>,
    /// Problems to report: a retention other than the policy's.
    pub warnings: Vec<String>,
}

/// Creates each missing topic with its settings, then checks every one; fails when a
/// trail topic would lose records, and logs the warnings.
pub async fn ensure(config: &KafkaConfig, topics: &[Topic<'_>]) -> Result<Vec<TopicState>, RuntimeError> {
    create_missing(config, topics).await?;
    check(config, topics).await
}

/// Creates each of `topics` that does not exist with its kind's settings; the names
/// of those created (another client may have created one meanwhile: not an error).
pub async fn create_missing(config: &KafkaConfig, topics: &[Topic<'_>]) -> Result<Vec<String>, RuntimeError> {
    let names: Vec<&str> = topics.iter().map(|topic| topic.name).collect();
    let counts = crate::kafka::partition_counts(config, &names).await?;
    let missing: Vec<Topic<'_>> =
        topics.iter().zip(&counts).filter(|(_, (_, count))| *count == 0).map(|(topic, _)| *topic).collect();
    if !missing.is_empty() {
        create(&admin(config)?, config, &missing).await?;
    }
    Ok(missing.iter().map(|topic| topic.name.to_owned()).collect())
}

/// Checks `topics` without creating any; fails when a trail topic would lose records.
pub async fn check(config: &KafkaConfig, topics: &[Topic<'_>]) -> Result<Vec<TopicState>, RuntimeError> {
    refuse_or_warn(inspect(config, topics).await?)
}

/// The state of each of `topics`, without judging.
pub async fn inspect(config: &KafkaConfig, topics: &[Topic<'_>]) -> Result<Vec<TopicState>, RuntimeError> {
    inspect_with(&admin(config)?, config, topics).await
}

fn refuse_or_warn(states: Vec<TopicState>) -> Result<Vec<TopicState>, RuntimeError> {
    if let Some(state) = states.iter().find(|state| !state.refusals.is_empty()) {
        return Err(RuntimeError::TrailAtRisk {
            topic: state.name.clone(),
            reason: state.refusals.join("; "),
        });
    }
    // Services of one process (`auditctl up`) check the same topics: say it once.
    static WARNED: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());
    let mut warned = WARNED.lock().expect("never poisoned");
    for state in &states {
        for warning in &state.warnings {
            if warned.insert(format!("{}: {warning}", state.name)) {
                tracing::warn!(topic = %state.name, %warning, "topic settings differ from the policy");
            }
        }
    }
    Ok(states)
}

fn admin(config: &KafkaConfig) -> Result<AdminClient<DefaultClientContext>, RuntimeError> {
    base_client_config(config)
        .create()
        .map_err(|source| RuntimeError::ClientCreation { role: "admin", source })
}

async fn create(
    admin: &AdminClient<DefaultClientContext>,
    config: &KafkaConfig,
    topics: &[Topic<'_>],
) -> Result<(), RuntimeError> {
    let settings: Vec<Vec<(&str, String)>> =
        topics.iter().map(|topic| config.topic_policy.settings(topic.kind)).collect();
    let new_topics: Vec<NewTopic<'_>> = topics
        .iter()
        .zip(&settings)
        .map(|(topic, settings)| {
            let replication = TopicReplication::Fixed(config.replication_factor);
            let new = NewTopic::new(topic.name, config.partitions, replication);
            settings.iter().fold(new, |new, (key, value)| new.set(key, value))
        })
        .collect();
    let names = || topics.iter().map(|topic| topic.name).collect::<Vec<_>>().join(",");
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    let results = admin
        .create_topics(&new_topics, &options)
        .await
        .map_err(|error| RuntimeError::TopicCreation { topic: names(), detail: error.to_string() })?;
    for result in results {
        match result {
            // Another service may have created it meanwhile.
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => {
                return Err(RuntimeError::TopicCreation { topic, detail: code.to_string() });
            }
        }
    }
    Ok(())
}

async fn inspect_with(
    admin: &AdminClient<DefaultClientContext>,
    config: &KafkaConfig,
    topics: &[Topic<'_>],
) -> Result<Vec<TopicState>, RuntimeError> {
    let names: Vec<&str> = topics.iter().map(|topic| topic.name).collect();
    let counts = crate::kafka::partition_counts(config, &names).await?;
    let resources: Vec<ResourceSpecifier<'_>> =
        names.iter().map(|name| ResourceSpecifier::Topic(name)).collect();
    let options = AdminOptions::new().request_timeout(Some(Duration::from_secs(30)));
    let described = admin.describe_configs(&resources, &options).await.map_err(|error| {
        RuntimeError::TopicCreation { topic: names.join(","), detail: format!("cannot describe: {error}") }
    })?;
    let mut states = Vec::with_capacity(topics.len());
    for ((topic, (_, partitions)), described) in topics.iter().zip(counts).zip(described) {
        let settings = match (partitions, described) {
            (0, _) | (_, Err(RDKafkaErrorCode::UnknownTopicOrPartition)) => None,
            (_, Ok(resource)) => Some(
                resource.entries.into_iter().filter_map(|entry| Some((entry.name, entry.value?))).collect(),
            ),
            (_, Err(code)) => {
                let detail = format!("cannot describe: {code}");
                return Err(RuntimeError::TopicCreation { topic: topic.name.to_owned(), detail });
            }
        };
        states.push(judge(*topic, settings, &config.topic_policy));
    }
    Ok(states)
}

/// What is wrong with `topic` given its `settings` (`None`: it does not exist).
pub fn judge(
    topic: Topic<'_>,
    settings: Option<BTreeMap<String, String>>,
    policy: &TopicPolicy,
) -> TopicState {
    let exists = settings.is_some();
    let settings = settings.unwrap_or_default();
    let mut state = TopicState {
        name: topic.name.to_owned(),
        kind: topic.kind,
        exists,
        settings: BTreeMap::new(),
        refusals: Vec::new(),
        warnings: Vec::new(),
    };
    if !exists {
        return state;
    }
    let setting = |key: &str| settings.get(key).map(String::as_str);
    let wanted = retention_ms(policy.retention(topic.kind));
    let actual: Option<i64> = setting("retention.ms").and_then(|value| value.parse().ok());
    let cleanup = setting("cleanup.policy").unwrap_or("delete");
    let bytes: Option<i64> = setting("retention.bytes").and_then(|value| value.parse().ok());
    match topic.kind {
        TopicKind::Trail => {
            if cleanup != "delete" {
                state.refusals.push(format!(
                    "cleanup.policy is {cleanup}: compaction keeps one record per tenant and deletes the rest of the trail; set cleanup.policy=delete"
                ));
            }
            if let Some(actual) = actual.filter(|actual| *actual >= 0 && (wanted < 0 || *actual < wanted)) {
                state.refusals.push(format!(
                    "retention.ms is {actual}: records would expire after {}; set retention.ms={wanted}",
                    human(actual)
                ));
            }
            if let Some(bytes) = bytes.filter(|bytes| *bytes >= 0) {
                state.refusals.push(format!(
                    "retention.bytes is {bytes}: the oldest records would be deleted once the partition holds that much; set retention.bytes=-1"
                ));
            }
        }
        TopicKind::Registry => {
            if let Some(actual) = actual.filter(|actual| *actual >= 0 && !cleanup.contains("compact")) {
                state.warnings.push(format!(
                    "claims expire after {} (retention.ms={actual}) without compaction: search would miss shards until their owners claim them again; set cleanup.policy=compact",
                    human(actual)
                ));
            }
        }
        TopicKind::PersonalData | TopicKind::Tokenized => {
            if let Some(actual) = actual.filter(|actual| *actual != wanted) {
                let kept = if actual < 0 { "forever".to_owned() } else { human(actual) };
                state.warnings.push(format!(
                    "keeps records {kept} (retention.ms={actual}), the policy says {} (retention.ms={wanted})",
                    human(wanted)
                ));
            }
        }
    }
    let insync: Option<i32> = setting("min.insync.replicas").and_then(|value| value.parse().ok());
    if let Some(insync) = insync.filter(|insync| *insync < policy.min_insync_replicas) {
        state.warnings.push(format!(
            "min.insync.replicas is {insync}, the policy says {}: fewer replicas hold an acknowledged write",
            policy.min_insync_replicas
        ));
    }
    state.settings = settings;
    state
}

/// Milliseconds in words: "7 days", "36 hours", "90 minutes".
fn human(millis: i64) -> String {
    const MINUTE: i64 = 60_000;
    const HOUR: i64 = 60 * MINUTE;
    const DAY: i64 = 24 * HOUR;
    match millis {
        ..0 => "never".to_owned(),
        millis if millis >= DAY && millis % DAY == 0 => format!("{} days", millis / DAY),
        millis if millis >= HOUR => format!("{} hours", millis / HOUR),
        millis => format!("{} minutes", millis / MINUTE),
    }
}

#[cfg(test)]
#[path = "topics_tests.rs"]
mod tests;
