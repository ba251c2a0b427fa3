//! Fetch: whole stored batches from each requested offset, waiting up to the client's
//! `max_wait_ms` for `min_bytes` to arrive.
//!
//! A read is an index lookup plus one positioned file read, so its cost does not grow
//! with how far behind the reader is. A waiting fetch sleeps until an append anywhere
//! wakes it (then reads again) or its wait is over, and is answered as soon as records
//! arrive: never later than it must.

use std::{sync::Arc, time::Duration};

use kafka_protocol::{
    ResponseError,
    messages::{
        FetchRequest, FetchResponse, ResponseKind,
        fetch_response::{FetchableTopicResponse, PartitionData},
    },
};
use tokio::time::Instant;

use super::Reply;
use crate::Shared;

/// The longest a fetch waits, whatever it asks.
const MAX_WAIT: Duration = Duration::from_secs(30);
/// Bytes one response carries when the request sets no limit (versions before 3).
const DEFAULT_MAX_BYTES: usize = 50 * 1024 * 1024;

pub(super) fn fetch(shared: Arc<Shared>, request: FetchRequest) -> Reply {
    Box::pin(async move {
        let wait = Duration::from_millis(u64::try_from(request.max_wait_ms).unwrap_or(0)).min(MAX_WAIT);
        let deadline = Instant::now() + wait;
        let min_bytes = usize::try_from(request.min_bytes).unwrap_or(0);
        loop {
            let appended = shared.topics.appended.notified();
            tokio::pin!(appended);
            // Registered before reading, so an append during the read still wakes us.
            appended.as_mut().enable();
            let (responses, bytes, failed) = read(&shared, &request);
            if bytes >= min_bytes.max(1) || failed || Instant::now() >= deadline || min_bytes == 0 {
                return ResponseKind::Fetch(FetchResponse::default().with_responses(responses));
            }
            tokio::select! {
                _ = &mut appended => {}
                _ = tokio::time::sleep_until(deadline) => {}
            }
        }
    })
}

/// Reads every requested partition: the answers, the record bytes found, and whether
/// any partition failed (which is answered at once).
fn read(shared: &Shared, request: &FetchRequest) -> (Vec<FetchableTopicResponse>, usize, bool) {
    let mut budget =
        usize::try_from(request.max_bytes).ok().filter(|bytes| *bytes > 0).unwrap_or(DEFAULT_MAX_BYTES);
    let mut total = 0;
    let mut failed = false;
    let responses = request
        .topics
        .iter()
        .map(|wanted| {
            let topic = shared.topics.get(&wanted.topic);
            let partitions = wanted
                .partitions
                .iter()
                .map(|partition| {
                    let answer = PartitionData::default()
                        .with_partition_index(partition.partition)
                        .with_aborted_transactions(Some(Vec::new()))
                        // librdkafka reads a null record set as a protocol error.
                        .with_records(Some(Default::default()))
                        .with_preferred_read_replica((-1).into());
                    let Some(log) = topic.as_deref().and_then(|topic| topic.partition(partition.partition))
                    else {
                        failed = true;
                        return answer.with_error_code(ResponseError::UnknownTopicOrPartition.code());
                    };
                    let limit = usize::try_from(partition.partition_max_bytes).unwrap_or(0).min(budget);
                    // Only the first partition with records may exceed the limits, by one batch.
                    let read = if total > 0 && limit == 0 {
                        Ok(crate::log::Slice {
                            records: Default::default(),
                            high_watermark: log.high_watermark(),
                        })
                    } else {
                        log.read(partition.fetch_offset, limit)
                    };
                    match read {
                        Ok(slice) => {
                            let size = slice.records.len();
                            budget = budget.saturating_sub(size);
                            total += size;
                            answer
                                .with_high_watermark(slice.high_watermark)
                                .with_last_stable_offset(slice.high_watermark)
                                .with_log_start_offset(0)
                                .with_records(Some(slice.records))
                        }
                        Err(_) => {
                            failed = true;
                            let high_watermark = log.high_watermark();
                            answer
                                .with_error_code(ResponseError::OffsetOutOfRange.code())
                                .with_high_watermark(high_watermark)
                                .with_last_stable_offset(high_watermark)
                                .with_log_start_offset(0)
                        }
                    }
                })
                .collect();
            FetchableTopicResponse::default().with_topic(wanted.topic.clone()).with_partitions(partitions)
        })
        .collect();
    (responses, total, failed)
}
