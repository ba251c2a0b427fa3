//! The head of each tenant's chain in a backup: its last sequence number and record,
//! read from the copied trail itself, so the manifest says exactly where each chain
//! of the backup ends and a restored stack's next record of that tenant follows it.
//!
//! The copy is read through an embedded broker started on it for the time of the
//! read, the same whether the stack it came from runs or not.

use std::{collections::BTreeMap, ops::ControlFlow, path::Path, time::Duration};

use anyhow::Context;
use audit_broker::{BrokerParams, EmbeddedBroker};
use audit_runtime::{
    config::KafkaConfig,
    kafka::base_client_config,
    range::{PartitionRange, read_range},
};
use audit_schemas::{Codec, SignedRecord};
use rdkafka::{Message, consumer::BaseConsumer};
use serde::{Deserialize, Serialize};

use crate::manifest::PartitionEntry;

/// The trail's topic.
const SIGNED: &str = "audit.signed";

/// The last record of one tenant's chain in the backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainHead {
    /// Tenant.
    pub tenant: String,
    /// Its last sequence number.
    pub sequence: i64,
    /// Id of that record.
    pub id: String,
}

/// The chain heads of the trail copied to `broker_dir`, by tenant.
pub async fn chain_heads(broker_dir: &Path, partitions: &[PartitionEntry]) -> anyhow::Result<Vec<ChainHead>> {
    let params = BrokerParams {
        listen: "127.0.0.1:0".parse().expect("an address"),
        data_dir: broker_dir.to_owned(),
        advertised: None,
    };
    let broker = EmbeddedBroker::start(params).await.context("opening the copied trail")?;
    let kafka = KafkaConfig::for_bootstrap(&broker.bootstrap())?;
    let ranges: Vec<(i32, i64)> = partitions
        .iter()
        .filter(|entry| entry.topic == SIGNED)
        .map(|entry| (entry.partition, entry.end_offset))
        .collect();
    let heads = tokio::task::spawn_blocking(move || read_heads(&kafka, &ranges)).await.expect("no panic");
    broker.stop().await;
    std::fs::remove_file(broker_dir.join("broker.lock")).context("unlocking the copied trail")?;
    Ok(heads?.into_values().collect())
}

fn read_heads(kafka: &KafkaConfig, ranges: &[(i32, i64)]) -> anyhow::Result<BTreeMap<String, ChainHead>> {
    let codec = Codec::<SignedRecord>::published("SignedRecord")?;
    let consumer: BaseConsumer = base_client_config(kafka)
        .set("group.id", "auditctl-backup")
        .set("enable.auto.commit", "false")
        .create()
        .context("reading the copied trail")?;
    let mut heads = BTreeMap::new();
    let mut failed = None;
    for (partition, end) in ranges {
        let range = PartitionRange { topic: SIGNED, partition: *partition, start: 0, end: *end };
        read_range(&consumer, range, Duration::from_secs(60), |message| {
            match codec.decode(message.payload().unwrap_or_default()) {
                Ok(record) => {
                    let head = ChainHead {
                        tenant: record.tenant_id.clone(),
                        sequence: record.sequence,
                        id: record.id,
                    };
                    heads.insert(record.tenant_id, head);
                    ControlFlow::Continue(())
                }
                Err(error) => {
                    failed = Some(format!("{SIGNED}/{partition}@{}: {error}", message.offset()));
                    ControlFlow::Break(())
                }
            }
        })?;
    }
    match failed {
        Some(detail) => anyhow::bail!("the copied trail holds a record that does not decode: {detail}"),
        None => Ok(heads),
    }
}
