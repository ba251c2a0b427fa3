//! Cluster metadata, topic creation, coordinators, producer ids and offset lookups:
//! the requests answered at once from the broker's state.
//!
//! This broker is the whole cluster: node 1 leads every partition, coordinates every
//! group, and has no replicas, so a replication factor above 1 is refused.

use std::sync::atomic::Ordering;

use kafka_protocol::{
    ResponseError,
    messages::{
        BrokerId, CreateTopicsRequest, CreateTopicsResponse, FindCoordinatorRequest, FindCoordinatorResponse,
        InitProducerIdRequest, InitProducerIdResponse, ListOffsetsRequest, ListOffsetsResponse,
        MetadataRequest, MetadataResponse, ProducerId, TopicName,
        create_topics_response::CreatableTopicResult,
        find_coordinator_response::Coordinator,
        list_offsets_response::{ListOffsetsPartitionResponse, ListOffsetsTopicResponse},
        metadata_response::{MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic},
    },
};

use super::text;
use crate::{
    Shared,
    topics::{CreateError, Topic},
};

const NODE: BrokerId = BrokerId(crate::NODE_ID);
/// ListOffsets' special timestamps.
const LATEST: i64 = -1;
const EARLIEST: i64 = -2;

pub(super) fn metadata(shared: &Shared, request: &MetadataRequest, version: i16) -> MetadataResponse {
    let all = match &request.topics {
        None => true,
        Some(topics) => topics.is_empty() && version == 0,
    };
    let topics = if all {
        shared.topics.all().iter().map(|topic| describe(topic)).collect()
    } else {
        request
            .topics
            .iter()
            .flatten()
            .filter_map(|topic| topic.name.as_ref())
            .map(|name| match shared.topics.get(name) {
                Some(topic) => describe(&topic),
                None => MetadataResponseTopic::default()
                    .with_name(Some(name.clone()))
                    .with_error_code(ResponseError::UnknownTopicOrPartition.code()),
            })
            .collect()
    };
    let broker = MetadataResponseBroker::default()
        .with_node_id(NODE)
        .with_host(text(&shared.node.host))
        .with_port(shared.node.port);
    MetadataResponse::default()
        .with_brokers(vec![broker])
        .with_cluster_id(Some(text(&shared.cluster_id)))
        .with_controller_id(NODE)
        .with_topics(topics)
}

fn describe(topic: &Topic) -> MetadataResponseTopic {
    let partitions = (0..topic.partitions.len() as i32)
        .map(|index| {
            MetadataResponsePartition::default()
                .with_partition_index(index)
                .with_leader_id(NODE)
                .with_leader_epoch(0)
                .with_replica_nodes(vec![NODE])
                .with_isr_nodes(vec![NODE])
        })
        .collect();
    MetadataResponseTopic::default()
        .with_name(Some(TopicName(text(&topic.name))))
        .with_topic_id(topic.id)
        .with_partitions(partitions)
}

pub(super) fn create_topics(shared: &Shared, request: CreateTopicsRequest) -> CreateTopicsResponse {
    let results = request
        .topics
        .into_iter()
        .map(|creatable| {
            let partitions = if creatable.num_partitions == -1 { 1 } else { creatable.num_partitions };
            let result = CreatableTopicResult::default().with_name(creatable.name.clone());
            if !matches!(creatable.replication_factor, -1 | 1) {
                return result
                    .with_error_code(ResponseError::InvalidReplicationFactor.code())
                    .with_error_message(Some(text(
                        "this broker has no replicas: use a replication factor of 1",
                    )));
            }
            if request.validate_only {
                return result.with_num_partitions(partitions).with_replication_factor(1);
            }
            match shared.topics.create(&creatable.name, partitions) {
                Ok(topic) => {
                    result.with_topic_id(topic.id).with_num_partitions(partitions).with_replication_factor(1)
                }
                Err(error) => {
                    let code = match &error {
                        CreateError::Exists => ResponseError::TopicAlreadyExists,
                        CreateError::InvalidName => ResponseError::InvalidTopicException,
                        CreateError::InvalidPartitions(_) => ResponseError::InvalidPartitions,
                        CreateError::Storage(detail) => {
                            tracing::error!(%detail, "topic not created");
                            ResponseError::KafkaStorageError
                        }
                    };
                    result.with_error_code(code.code()).with_error_message(Some(text(&error.to_string())))
                }
            }
        })
        .collect();
    CreateTopicsResponse::default().with_topics(results)
}

pub(super) fn find_coordinator(
    shared: &Shared,
    request: &FindCoordinatorRequest,
    version: i16,
) -> FindCoordinatorResponse {
    // Key type 0 is a consumer group; transactions (1) are not offered.
    let error = if request.key_type == 0 { 0 } else { ResponseError::CoordinatorNotAvailable.code() };
    let host = text(&shared.node.host);
    let response = FindCoordinatorResponse::default().with_error_code(error);
    if version < 4 {
        return response.with_node_id(NODE).with_host(host).with_port(shared.node.port);
    }
    let coordinators = request
        .coordinator_keys
        .iter()
        .map(|key| {
            Coordinator::default()
                .with_key(key.clone())
                .with_node_id(NODE)
                .with_host(host.clone())
                .with_port(shared.node.port)
                .with_error_code(error)
        })
        .collect();
    response.with_coordinators(coordinators)
}

pub(super) fn init_producer_id(shared: &Shared, request: &InitProducerIdRequest) -> InitProducerIdResponse {
    if request.transactional_id.is_some() {
        return InitProducerIdResponse::default()
            .with_error_code(ResponseError::TransactionalIdAuthorizationFailed.code());
    }
    let id = shared.next_producer_id.fetch_add(1, Ordering::Relaxed);
    InitProducerIdResponse::default().with_producer_id(ProducerId(id)).with_producer_epoch(0)
}

pub(super) fn list_offsets(shared: &Shared, request: ListOffsetsRequest) -> ListOffsetsResponse {
    let topics = request
        .topics
        .into_iter()
        .map(|wanted| {
            let topic = shared.topics.get(&wanted.name);
            let partitions = wanted
                .partitions
                .iter()
                .map(|partition| {
                    let answer = ListOffsetsPartitionResponse::default()
                        .with_partition_index(partition.partition_index);
                    let Some(log) =
                        topic.as_deref().and_then(|topic| topic.partition(partition.partition_index))
                    else {
                        return answer.with_error_code(ResponseError::UnknownTopicOrPartition.code());
                    };
                    let offset = match partition.timestamp {
                        LATEST => log.high_watermark(),
                        EARLIEST => 0,
                        timestamp => log.offset_for_timestamp(timestamp).unwrap_or(-1),
                    };
                    answer.with_offset(offset).with_timestamp(-1).with_leader_epoch(0)
                })
                .collect();
            ListOffsetsTopicResponse::default().with_name(wanted.name).with_partitions(partitions)
        })
        .collect();
    ListOffsetsResponse::default().with_topics(topics)
}
