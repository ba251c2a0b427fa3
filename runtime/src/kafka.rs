//! Kafka client settings shared by every stage, and cluster metadata.
//!
//! Consumers never let librdkafka store offsets on its own
//! (`enable.auto.offset.store=false`): the stage runtime stores an offset only after
//! the output it covers is acknowledged, and librdkafka's periodic commit then
//! commits only stored offsets. Producers are idempotent, so a retried send never
//! duplicates or reorders a partition.

use std::{sync::Mutex, time::Duration};

use rdkafka::{
    ClientConfig, ClientContext,
    config::RDKafkaLogLevel,
    consumer::{BaseConsumer, Consumer, ConsumerContext},
    error::KafkaError,
    producer::FutureProducer,
};

use crate::{RuntimeError, config::KafkaConfig};

/// Settings common to every client of `config`.
pub fn base_client_config(config: &KafkaConfig) -> ClientConfig {
    let mut client = ClientConfig::new();
    client.set("bootstrap.servers", &config.bootstrap);
    for (key, value) in &config.properties {
        client.set(key, value);
    }
    client
}

/// Consumer settings for `group_id`; the runtime stores offsets itself.
pub fn consumer_config(config: &KafkaConfig, group_id: &str) -> ClientConfig {
    let mut client = base_client_config(config);
    client
        .set("group.id", group_id)
        .set("enable.auto.commit", "true")
        .set("auto.commit.interval.ms", "1000")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("session.timeout.ms", config.session_timeout.as_millis().to_string())
        .set("statistics.interval.ms", "5000")
        // librdkafka prefetches up to 64 MiB per consumer by default; a stage holds
        // one batch (a few MiB) at a time, so a few batches ahead are plenty.
        .set("queued.max.messages.kbytes", "16384");
    client
}

/// An idempotent producer; keys are placed with Java's murmur2 partitioner so other
/// clients co-partition with us.
pub fn producer(config: &KafkaConfig) -> Result<FutureProducer, RuntimeError> {
    producer_lingering(config, "5")
}

/// A producer for single messages awaited on a request's critical path (the vault's
/// access events): each is sent at once, since waiting to batch it only adds latency.
pub fn immediate_producer(config: &KafkaConfig) -> Result<FutureProducer, RuntimeError> {
    producer_lingering(config, "0")
}

fn producer_lingering(config: &KafkaConfig, linger_ms: &str) -> Result<FutureProducer, RuntimeError> {
    let mut client = base_client_config(config);
    client.set("enable.idempotence", "true").set("linger.ms", linger_ms).set("partitioner", "murmur2_random");
    client.create().map_err(|source| RuntimeError::ClientCreation { role: "producer", source })
}

/// The partition Java's default partitioner (and librdkafka's `murmur2_random`) picks
/// for `key` among `partitions`: how every keyed topic places a tenant.
pub fn partition_for_key(key: &[u8], partitions: i32) -> i32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    let mut hash = SEED ^ key.len() as u32;
    let mut chunks = key.chunks_exact(4);
    for chunk in &mut chunks {
        let mut k = u32::from_le_bytes(chunk.try_into().expect("chunks of four"));
        k = k.wrapping_mul(M);
        k ^= k >> 24;
        k = k.wrapping_mul(M);
        hash = hash.wrapping_mul(M) ^ k;
    }
    let tail = chunks.remainder();
    if !tail.is_empty() {
        for (index, byte) in tail.iter().enumerate().rev() {
            hash ^= u32::from(*byte) << (8 * index);
        }
        hash = hash.wrapping_mul(M);
    }
    hash ^= hash >> 13;
    hash = hash.wrapping_mul(M);
    hash ^= hash >> 15;
    ((hash & 0x7fff_ffff) % partitions as u32) as i32
}

/// Partition count of each of `topics`, from the cluster's metadata (0 when missing).
pub async fn partition_counts(
    config: &KafkaConfig,
    topics: &[&str],
) -> Result<Vec<(String, usize)>, RuntimeError> {
    let existing = cluster_topics(config, topics).await?;
    Ok(topics
        .iter()
        .map(|name| {
            let count = existing.iter().find(|(topic, _)| topic == name).map_or(0, |(_, count)| *count);
            ((*name).to_owned(), count)
        })
        .collect())
}

/// Every topic of the cluster with its partition count; `topics` name the request in
/// errors.
async fn cluster_topics(config: &KafkaConfig, topics: &[&str]) -> Result<Vec<(String, usize)>, RuntimeError> {
    let metadata_error = |detail: String| RuntimeError::TopicCreation {
        topic: topics.join(","),
        detail: format!("cannot read cluster metadata: {detail}"),
    };
    let client_config = base_client_config(config);
    // Metadata requests block: keep them off the async workers.
    tokio::task::spawn_blocking(move || {
        let client: BaseConsumer<ReportingContext> = client_config
            .create_with_context(ReportingContext::default())
            .map_err(|error| error.to_string())?;
        let metadata = client.fetch_metadata(None, Duration::from_secs(30)).map_err(|error| {
            // Serves the error events librdkafka queued meanwhile.
            let _ = client.poll(Duration::ZERO);
            match client.context().last_error.lock().expect("never poisoned").take() {
                Some(reason) => format!("{error}; the client reported: {reason}"),
                None => error.to_string(),
            }
        })?;
        Ok(metadata
            .topics()
            .iter()
            .map(|topic| (topic.name().to_owned(), topic.partitions().len()))
            .collect())
    })
    .await
    .map_err(|error| metadata_error(error.to_string()))?
    .map_err(metadata_error)
}

/// Keeps what librdkafka last reported about the cluster (an unreachable or untrusted
/// broker, refused credentials), which its request errors do not carry, so a failed
/// request can say why.
#[derive(Default)]
struct ReportingContext {
    last_error: Mutex<Option<String>>,
}

impl ClientContext for ReportingContext {
    // A failed handshake or authentication comes as a log line, served by the poll
    // after the failed request.
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        if (level as i32) <= (RDKafkaLogLevel::Error as i32) {
            *self.last_error.lock().expect("never poisoned") = Some(format!("{facility}: {message}"));
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        *self.last_error.lock().expect("never poisoned") = Some(format!("{error}: {reason}"));
    }
}

impl ConsumerContext for ReportingContext {}

#[cfg(test)]
mod tests {
    use rdkafka::producer::BaseProducer;

    use super::*;

    /// librdkafka refuses, when the client is created, a protocol, mechanism or codec it
    /// was built without: these are the settings of production clusters.
    #[test]
    fn clients_accept_tls_sasl_and_zstd_settings() {
        let clusters: &[&[(&str, &str)]] = &[
            &[("security.protocol", "ssl"), ("ssl.endpoint.identification.algorithm", "https")],
            &[
                ("security.protocol", "sasl_ssl"),
                ("sasl.mechanism", "PLAIN"),
                ("sasl.username", "audit"),
                ("sasl.password", "secret"),
            ],
            &[
                ("security.protocol", "sasl_ssl"),
                ("sasl.mechanism", "SCRAM-SHA-512"),
                ("sasl.username", "audit"),
                ("sasl.password", "secret"),
            ],
            &[
                ("security.protocol", "sasl_ssl"),
                ("sasl.mechanism", "OAUTHBEARER"),
                ("enable.sasl.oauthbearer.unsecure.jwt", "true"),
                ("sasl.oauthbearer.config", "principal=audit-trail"),
            ],
            &[("compression.type", "zstd")],
        ];
        for properties in clusters {
            let mut config = KafkaConfig::for_bootstrap("127.0.0.1:9").unwrap();
            config.properties =
                properties.iter().map(|(key, value)| ((*key).into(), (*value).into())).collect();
            let created = base_client_config(&config).create::<BaseProducer>();
            assert!(created.is_ok(), "{properties:?}: {:?}", created.err());
        }
    }

    #[test]
    fn keys_land_where_java_clients_put_them() {
        // Java: Utils.toPositive(Utils.murmur2(key)) % partitions, with murmur2 values
        // from Kafka's own tests.
        let java_murmur2: [(&str, i32); 6] = [
            ("21", -973_932_308),
            ("foobar", -790_332_482),
            ("a-little-bit-long-string", -985_981_536),
            ("a-little-bit-longer-string", -1_486_304_829),
            ("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58_897_971),
            ("abc", 479_470_107),
        ];
        for (key, murmur2) in java_murmur2 {
            let positive = (murmur2 & 0x7fff_ffff) as i64;
            for partitions in [1, 4, 7, 100] {
                let expected = (positive % partitions as i64) as i32;
                assert_eq!(
                    partition_for_key(key.as_bytes(), partitions),
                    expected,
                    "{key} over {partitions}"
                );
            }
        }
    }
}
