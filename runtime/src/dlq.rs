//! How a rejected input is written to the dead-letter topic.
//!
//! The DLQ message keeps the original key and the original bytes as its value, so
//! nothing of the input is lost, and says why in headers: `dlq.code` (a stable
//! snake_case reason), `dlq.message`, `dlq.stage`, and where the input came from
//! (`dlq.source.topic`, `dlq.source.partition`, `dlq.source.offset`).

use rdkafka::message::{Header, OwnedHeaders};

/// Why a stage refused an input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// Stable reason code, snake_case (a bounded set per stage: used as a metric label).
    pub code: &'static str,
    /// Human-readable detail; never contains clear personal data.
    pub message: String,
}

impl Rejection {
    /// A rejection with `code` and `message`.
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Rejection { code, message: message.into() }
    }
}

/// Where a rejected input was read.
#[derive(Debug, Clone, Copy)]
pub struct Source<'a> {
    /// Stage that rejected it.
    pub stage: &'a str,
    /// Input topic.
    pub topic: &'a str,
    /// Input partition.
    pub partition: i32,
    /// Input offset.
    pub offset: i64,
}

/// Header names, public so consumers of the DLQ (and tests) read the same names.
pub mod header {
    /// Reason code.
    pub const CODE: &str = "dlq.code";
    /// Reason detail.
    pub const MESSAGE: &str = "dlq.message";
    /// Rejecting stage.
    pub const STAGE: &str = "dlq.stage";
    /// Input topic.
    pub const SOURCE_TOPIC: &str = "dlq.source.topic";
    /// Input partition.
    pub const SOURCE_PARTITION: &str = "dlq.source.partition";
    /// Input offset.
    pub const SOURCE_OFFSET: &str = "dlq.source.offset";
}

/// The headers of the DLQ message for `rejection` of the input at `source`.
pub fn headers(rejection: &Rejection, source: Source<'_>) -> OwnedHeaders {
    let partition = source.partition.to_string();
    let offset = source.offset.to_string();
    [
        (header::CODE, rejection.code),
        (header::MESSAGE, rejection.message.as_str()),
        (header::STAGE, source.stage),
        (header::SOURCE_TOPIC, source.topic),
        (header::SOURCE_PARTITION, partition.as_str()),
        (header::SOURCE_OFFSET, offset.as_str()),
    ]
    .into_iter()
    .fold(OwnedHeaders::new(), |headers, (key, value)| headers.insert(Header { key, value: Some(value) }))
}

#[cfg(test)]
mod tests {
    use rdkafka::message::Headers;

    use super::*;

    #[test]
    fn headers_carry_reason_and_source() {
        let rejection = Rejection::new("invalid_json", "expected value at line 1 column 1");
        let source = Source { stage: "ingestor", topic: "audit.raw", partition: 3, offset: 42 };
        let headers = headers(&rejection, source);
        let pairs: Vec<(String, String)> = headers
            .iter()
            .map(|h| (h.key.to_owned(), String::from_utf8(h.value.unwrap().to_vec()).unwrap()))
            .collect();
        assert_eq!(pairs[0], (header::CODE.into(), "invalid_json".into()));
        assert!(pairs.contains(&(header::SOURCE_PARTITION.into(), "3".into())));
        assert!(pairs.contains(&(header::SOURCE_OFFSET.into(), "42".into())));
        assert!(pairs.contains(&(header::STAGE.into(), "ingestor".into())));
    }
}
