//! DescribeConfigs for topics: the settings this broker actually applies, so tools
//! that check a topic's retention (`auditctl topics ensure`, the services at start)
//! learn the truth here as on Apache Kafka.
//!
//! This broker has no retention and no replicas: every topic keeps every record, which
//! is what it reports (`retention.ms` -1), whatever a creator asked for.

use kafka_protocol::{
    ResponseError,
    messages::{
        DescribeConfigsRequest, DescribeConfigsResponse,
        describe_configs_response::{DescribeConfigsResourceResult, DescribeConfigsResult},
    },
};

use super::text;
use crate::Shared;

/// Kafka's resource type of a topic.
const TOPIC: i8 = 2;
/// Kafka's config source of a setting nobody set: the broker's default.
const DEFAULT_CONFIG: i8 = 5;

/// Every topic's settings: names and values as Apache Kafka spells them.
const TOPIC_SETTINGS: &[(&str, &str)] = &[
    ("cleanup.policy", "delete"),
    ("retention.ms", "-1"),
    ("retention.bytes", "-1"),
    ("min.insync.replicas", "1"),
];

pub(super) fn describe_configs(shared: &Shared, request: &DescribeConfigsRequest) -> DescribeConfigsResponse {
    let results = request
        .resources
        .iter()
        .map(|resource| {
            let result = DescribeConfigsResult::default()
                .with_resource_type(resource.resource_type)
                .with_resource_name(resource.resource_name.clone());
            if resource.resource_type != TOPIC {
                return result
                    .with_error_code(ResponseError::InvalidRequest.code())
                    .with_error_message(Some(text("this broker describes topics only")));
            }
            if shared.topics.get(&resource.resource_name).is_none() {
                return result.with_error_code(ResponseError::UnknownTopicOrPartition.code());
            }
            let wanted = |name: &str| match &resource.configuration_keys {
                Some(keys) => keys.iter().any(|key| key.as_str() == name),
                None => true,
            };
            let configs = TOPIC_SETTINGS
                .iter()
                .filter(|(name, _)| wanted(name))
                .map(|(name, value)| {
                    DescribeConfigsResourceResult::default()
                        .with_name(text(name))
                        .with_value(Some(text(value)))
                        .with_read_only(true)
                        .with_config_source(DEFAULT_CONFIG)
                })
                .collect();
            result.with_configs(configs)
        })
        .collect();
    DescribeConfigsResponse::default().with_results(results)
}
