//! Consumer group requests: membership through the coordinator, committed offsets
//! through the durable offset store.

use std::{sync::Arc, time::Duration};

use kafka_protocol::{
    ResponseError,
    messages::{
        GroupId, HeartbeatRequest, HeartbeatResponse, JoinGroupRequest, JoinGroupResponse, LeaveGroupRequest,
        LeaveGroupResponse, OffsetCommitRequest, OffsetCommitResponse, OffsetFetchRequest,
        OffsetFetchResponse, ResponseKind, SyncGroupRequest, SyncGroupResponse,
        join_group_response::JoinGroupResponseMember,
        leave_group_response::MemberResponse,
        offset_commit_response::{OffsetCommitResponsePartition, OffsetCommitResponseTopic},
        offset_fetch_response::{OffsetFetchResponsePartition, OffsetFetchResponseTopic},
    },
    protocol::StrBytes,
};

use super::{Reply, text};
use crate::{
    Shared,
    groups::{Join, Sync},
    offsets::Commit,
};

fn now() -> std::time::Instant {
    std::time::Instant::now()
}

fn millis(value: i32) -> Duration {
    Duration::from_millis(u64::try_from(value).unwrap_or(0))
}

pub(super) fn join(shared: &Arc<Shared>, request: JoinGroupRequest, client_id: &str) -> Reply {
    // Before version 1 there is no rebalance timeout: the session timeout serves.
    let rebalance_timeout = if request.rebalance_timeout_ms > 0 {
        request.rebalance_timeout_ms
    } else {
        request.session_timeout_ms
    };
    let join = Join {
        group: request.group_id.0.to_string(),
        member_id: request.member_id.to_string(),
        client_id: client_id.to_owned(),
        session_timeout: millis(request.session_timeout_ms),
        rebalance_timeout: millis(rebalance_timeout),
        protocol_type: request.protocol_type.to_string(),
        protocols: request
            .protocols
            .into_iter()
            .map(|protocol| (protocol.name.to_string(), protocol.metadata))
            .collect(),
    };
    let answer = shared.groups.join(join, now());
    Box::pin(async move {
        let joined = answer.await.unwrap_or_else(|_| crate::groups::Joined {
            error: ResponseError::RebalanceInProgress.code(),
            generation: -1,
            ..Default::default()
        });
        let members = joined
            .members
            .into_iter()
            .map(|(id, metadata)| {
                JoinGroupResponseMember::default().with_member_id(text(&id)).with_metadata(metadata)
            })
            .collect();
        ResponseKind::JoinGroup(
            JoinGroupResponse::default()
                .with_error_code(joined.error)
                .with_generation_id(joined.generation)
                .with_protocol_type(joined.protocol_type.as_deref().map(text))
                .with_protocol_name(joined.protocol_name.as_deref().map(text))
                .with_leader(text(&joined.leader))
                .with_member_id(text(&joined.member_id))
                .with_members(members),
        )
    })
}

pub(super) fn sync(shared: &Arc<Shared>, request: SyncGroupRequest) -> Reply {
    let sync = Sync {
        group: request.group_id.0.to_string(),
        generation: request.generation_id,
        member_id: request.member_id.to_string(),
        assignments: request
            .assignments
            .into_iter()
            .map(|assignment| (assignment.member_id.to_string(), assignment.assignment))
            .collect(),
    };
    let answer = shared.groups.sync(sync, now());
    Box::pin(async move {
        let synced = answer.await.unwrap_or_else(|_| crate::groups::Synced {
            error: ResponseError::RebalanceInProgress.code(),
            ..Default::default()
        });
        ResponseKind::SyncGroup(
            SyncGroupResponse::default()
                .with_error_code(synced.error)
                .with_protocol_type(synced.protocol_type.as_deref().map(text))
                .with_protocol_name(synced.protocol_name.as_deref().map(text))
                .with_assignment(synced.assignment),
        )
    })
}

pub(super) fn heartbeat(shared: &Shared, request: &HeartbeatRequest) -> HeartbeatResponse {
    let error =
        shared.groups.heartbeat(&request.group_id.0, &request.member_id, request.generation_id, now());
    HeartbeatResponse::default().with_error_code(error)
}

pub(super) fn leave(shared: &Shared, request: &LeaveGroupRequest, version: i16) -> LeaveGroupResponse {
    let ids: Vec<String> = if version < 3 {
        vec![request.member_id.to_string()]
    } else {
        request.members.iter().map(|member| member.member_id.to_string()).collect()
    };
    let errors = shared.groups.leave(&request.group_id.0, &ids, now());
    if version < 3 {
        return LeaveGroupResponse::default().with_error_code(errors[0]);
    }
    let members = ids
        .iter()
        .zip(&errors)
        .map(|(id, error)| MemberResponse::default().with_member_id(text(id)).with_error_code(*error))
        .collect();
    LeaveGroupResponse::default().with_members(members)
}

pub(super) fn offset_commit(shared: Arc<Shared>, request: OffsetCommitRequest) -> Reply {
    let group = request.group_id.0.to_string();
    let error = shared.groups.may_commit(&group, &request.member_id, request.generation_id_or_member_epoch);
    let commits: Vec<Commit> = request
        .topics
        .iter()
        .flat_map(|topic| {
            topic.partitions.iter().map(|partition| Commit {
                group: group.clone(),
                topic: topic.name.0.to_string(),
                partition: partition.partition_index,
                offset: partition.committed_offset,
                metadata: partition.committed_metadata.as_deref().map(str::to_owned),
            })
        })
        .collect();
    Box::pin(async move {
        let error = if error != 0 {
            error
        } else if let Err(failure) = shared.offsets.commit(commits).await {
            tracing::error!(%failure, "offsets not committed");
            ResponseError::KafkaStorageError.code()
        } else {
            0
        };
        let topics = request
            .topics
            .into_iter()
            .map(|topic| {
                let partitions = topic
                    .partitions
                    .iter()
                    .map(|partition| {
                        OffsetCommitResponsePartition::default()
                            .with_partition_index(partition.partition_index)
                            .with_error_code(error)
                    })
                    .collect();
                OffsetCommitResponseTopic::default().with_name(topic.name).with_partitions(partitions)
            })
            .collect();
        ResponseKind::OffsetCommit(OffsetCommitResponse::default().with_topics(topics))
    })
}

pub(super) fn offset_fetch(shared: &Shared, request: &OffsetFetchRequest) -> OffsetFetchResponse {
    let GroupId(group) = &request.group_id;
    let wanted: Vec<(String, Vec<i32>)> = match &request.topics {
        Some(topics) => {
            topics.iter().map(|topic| (topic.name.0.to_string(), topic.partition_indexes.clone())).collect()
        }
        None => {
            let mut by_topic: Vec<(String, Vec<i32>)> = Vec::new();
            for commit in shared.offsets.of_group(group) {
                match by_topic.last_mut() {
                    Some((topic, partitions)) if *topic == commit.topic => partitions.push(commit.partition),
                    _ => by_topic.push((commit.topic, vec![commit.partition])),
                }
            }
            by_topic
        }
    };
    let topics = wanted
        .into_iter()
        .map(|(topic, partitions)| {
            let partitions = partitions
                .into_iter()
                .map(|partition| {
                    let commit = shared.offsets.get(group, &topic, partition);
                    OffsetFetchResponsePartition::default()
                        .with_partition_index(partition)
                        .with_committed_offset(commit.as_ref().map_or(-1, |commit| commit.offset))
                        .with_metadata(Some(StrBytes::from_string(
                            commit.and_then(|commit| commit.metadata).unwrap_or_default(),
                        )))
                })
                .collect();
            OffsetFetchResponseTopic::default().with_name(text(&topic).into()).with_partitions(partitions)
        })
        .collect();
    OffsetFetchResponse::default().with_topics(topics)
}
