//! The Kafka requests the broker answers, and the versions of each it speaks.
//!
//! [`dispatch`] runs a request's ordered part at once (a produce's append, so appends
//! keep the order requests arrived in on a connection) and returns the rest as a future
//! (waiting for durability, new records, or the group), which the connection answers in
//! request order.

mod configs;
mod fetch;
mod groups;
mod metadata;
mod produce;

use std::{future::Future, pin::Pin, sync::Arc};

use kafka_protocol::{
    messages::{ApiKey, ApiVersionsResponse, RequestKind, ResponseKind, api_versions_response::ApiVersion},
    protocol::StrBytes,
};

use crate::Shared;

/// The part of an answer that waits.
pub(crate) type Reply = Pin<Box<dyn Future<Output = ResponseKind> + Send>>;

/// Each API with the oldest and newest version served. The newest stop before topic
/// ids replace topic names in requests, which no client here needs.
pub(crate) const SUPPORTED: &[(ApiKey, i16, i16)] = &[
    (ApiKey::Produce, 3, 9),
    (ApiKey::Fetch, 4, 12),
    (ApiKey::ListOffsets, 1, 7),
    (ApiKey::Metadata, 0, 12),
    (ApiKey::OffsetCommit, 2, 8),
    (ApiKey::OffsetFetch, 1, 7),
    (ApiKey::FindCoordinator, 0, 4),
    (ApiKey::JoinGroup, 0, 9),
    (ApiKey::Heartbeat, 0, 4),
    (ApiKey::LeaveGroup, 0, 5),
    (ApiKey::SyncGroup, 0, 5),
    (ApiKey::ApiVersions, 0, 3),
    (ApiKey::CreateTopics, 2, 7),
    (ApiKey::InitProducerId, 0, 4),
    (ApiKey::DescribeConfigs, 1, 4),
];

/// Whether `version` of `key` is served.
pub(crate) fn supports(key: ApiKey, version: i16) -> bool {
    SUPPORTED.iter().any(|(api, min, max)| *api == key && (*min..=*max).contains(&version))
}

/// Starts answering `request`, which was decoded at `version`.
pub(crate) fn dispatch(shared: &Arc<Shared>, request: RequestKind, version: i16, client_id: &str) -> Reply {
    let ready = |response: ResponseKind| -> Reply { Box::pin(std::future::ready(response)) };
    match request {
        RequestKind::ApiVersions(_) => ready(ResponseKind::ApiVersions(api_versions(0))),
        RequestKind::Metadata(request) => {
            ready(ResponseKind::Metadata(metadata::metadata(shared, &request, version)))
        }
        RequestKind::CreateTopics(request) => {
            ready(ResponseKind::CreateTopics(metadata::create_topics(shared, request)))
        }
        RequestKind::DescribeConfigs(request) => {
            ready(ResponseKind::DescribeConfigs(configs::describe_configs(shared, &request)))
        }
        RequestKind::FindCoordinator(request) => {
            ready(ResponseKind::FindCoordinator(metadata::find_coordinator(shared, &request, version)))
        }
        RequestKind::InitProducerId(request) => {
            ready(ResponseKind::InitProducerId(metadata::init_producer_id(shared, &request)))
        }
        RequestKind::ListOffsets(request) => {
            ready(ResponseKind::ListOffsets(metadata::list_offsets(shared, request)))
        }
        RequestKind::Produce(request) => produce::produce(shared, request),
        RequestKind::Fetch(request) => fetch::fetch(shared.clone(), request),
        RequestKind::JoinGroup(request) => groups::join(shared, request, client_id),
        RequestKind::SyncGroup(request) => groups::sync(shared, request),
        RequestKind::Heartbeat(request) => {
            ready(ResponseKind::Heartbeat(groups::heartbeat(shared, &request)))
        }
        RequestKind::LeaveGroup(request) => {
            ready(ResponseKind::LeaveGroup(groups::leave(shared, &request, version)))
        }
        RequestKind::OffsetCommit(request) => groups::offset_commit(shared.clone(), request),
        RequestKind::OffsetFetch(request) => {
            ready(ResponseKind::OffsetFetch(groups::offset_fetch(shared, &request)))
        }
        other => unreachable!("{:?} is not in SUPPORTED", std::mem::discriminant(&other)),
    }
}

/// The versions served, with `error` (UNSUPPORTED_VERSION when the client asked for an
/// ApiVersions version newer than ours).
pub(crate) fn api_versions(error: i16) -> ApiVersionsResponse {
    let api_keys = SUPPORTED
        .iter()
        .map(|(key, min, max)| {
            ApiVersion::default().with_api_key(*key as i16).with_min_version(*min).with_max_version(*max)
        })
        .collect();
    ApiVersionsResponse::default().with_error_code(error).with_api_keys(api_keys)
}

fn text(value: &str) -> StrBytes {
    StrBytes::from_string(value.to_owned())
}
