//! Produce: batches checked and appended in the order requests arrive, acknowledged
//! once on disk.
//!
//! With `acks` 0 the connection sends no answer (`server`); with 1 or all (there are no
//! replicas, so they mean the same) the answer waits for the partition's `fsync`, shared with every other
//! request waiting on it. A damaged batch is refused with CORRUPT_MESSAGE and nothing
//! of its partition is written; transactional batches are refused, since this broker
//! offers no transactions.

use std::sync::Arc;

use kafka_protocol::{
    ResponseError,
    messages::{
        ProduceRequest, ProduceResponse, ResponseKind,
        produce_response::{PartitionProduceResponse, TopicProduceResponse},
    },
};

use super::{Reply, text};
use crate::{Shared, batch, log::PartitionLog};

pub(super) fn produce(shared: &Arc<Shared>, request: ProduceRequest) -> Reply {
    let mut pending: Vec<(Arc<crate::topics::Topic>, i32, u64)> = Vec::new();
    let mut responses = Vec::with_capacity(request.topic_data.len());
    for topic_data in request.topic_data {
        let topic = shared.topics.get(&topic_data.name);
        let mut partitions = Vec::with_capacity(topic_data.partition_data.len());
        for data in topic_data.partition_data {
            let answer = PartitionProduceResponse::default().with_index(data.index);
            let Some(log) = topic.as_deref().and_then(|topic| topic.partition(data.index)) else {
                partitions.push(answer.with_error_code(ResponseError::UnknownTopicOrPartition.code()));
                continue;
            };
            match append(log, data.records.as_deref().unwrap_or_default()) {
                Ok(appended) => {
                    pending.push((topic.clone().expect("found above"), data.index, appended.end));
                    partitions.push(answer.with_base_offset(appended.base_offset).with_log_start_offset(0));
                }
                Err((error, message)) => {
                    partitions
                        .push(answer.with_error_code(error.code()).with_error_message(Some(text(&message))));
                }
            }
        }
        responses.push(
            TopicProduceResponse::default().with_name(topic_data.name).with_partition_responses(partitions),
        );
    }
    if !pending.is_empty() {
        shared.topics.appended.notify_waiters();
    }
    Box::pin(async move {
        for (topic, partition, end) in &pending {
            let log = topic.partition(*partition).expect("appended to it");
            if let Err(error) = log.sync_to(*end).await {
                tracing::error!(%error, "produced records not synced");
                mark_failed(&mut responses, &topic.name, *partition);
            }
        }
        ResponseKind::Produce(ProduceResponse::default().with_responses(responses))
    })
}

fn append(log: &PartitionLog, records: &[u8]) -> Result<crate::log::Appended, (ResponseError, String)> {
    let batches =
        batch::split(records).map_err(|error| (ResponseError::CorruptMessage, error.to_string()))?;
    if batches.iter().any(|(header, _)| header.transactional || header.control) {
        return Err((ResponseError::InvalidRecord, "transactions are not supported".into()));
    }
    log.append(&batches).map_err(|error| {
        tracing::error!(%error, "records not appended");
        (ResponseError::KafkaStorageError, "storage error".into())
    })
}

fn mark_failed(responses: &mut [TopicProduceResponse], topic: &str, partition: i32) {
    let answers = responses.iter_mut().filter(|response| &*response.name.0 == topic);
    for answer in answers.flat_map(|response| response.partition_responses.iter_mut()) {
        if answer.index == partition {
            answer.error_code = ResponseError::KafkaStorageError.code();
        }
    }
}
