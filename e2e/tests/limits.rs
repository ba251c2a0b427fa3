//! No event the ingestor accepts can stop a stage downstream. The largest accepted
//! event (`--max-message-bytes` at its ceiling, 512 KiB) with `message` and `ARP` full
//! of addresses, each of which the tokenizer turns into a longer token, is tokenized,
//! signed, indexed and verifies; one byte more is dead-lettered as `oversize_message`;
//! an ordinary event sent after both arrives too.

mod support;

use std::time::Duration;

use audit_runtime::kafka::producer;
use audit_runtime::topics::{Topic, ensure};
use audit_traffic::Generator;
use rdkafka::producer::FutureRecord;
use serde_json::Value;
use support::checks;
use support::stack::{Flags, Service, Stack};
use support::traffic::Expected;

/// The ingestor's ceiling for `--max-message-bytes`.
const CEILING: usize = 524_288;

/// `event` grown to exactly `size` bytes: `message` and the scanned event code `ARP`
/// full of the shortest addresses, then long parameters up to the size.
fn grown(mut event: Value, size: usize) -> Vec<u8> {
    event["message"] = Value::String("1.1.1.1 ".repeat(1_024).trim_end().to_owned());
    let parameters = event["action"]["actionParameters"].as_object_mut().unwrap();
    parameters.clear();
    parameters.insert("ARP".into(), Value::String("1.1.1.2 ".repeat(512).trim_end().to_owned()));
    // Long names too: 128 codes of 4,096 bytes alone would not quite reach the size.
    for n in 0.. {
        let name = format!("F{n:03}{}", "X".repeat(60));
        let bytes = serde_json::to_vec(&event).unwrap();
        let room = size.saturating_sub(bytes.len() + name.len() + r#","":"""#.len());
        if room == 0 {
            break;
        }
        event["action"]["actionParameters"][name] = Value::String("a".repeat(room.min(4_096)));
    }
    let bytes = serde_json::to_vec(&event).unwrap();
    assert_eq!(bytes.len(), size, "the event is grown to the byte");
    bytes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_largest_accepted_event_goes_through_every_stage_and_one_byte_more_is_dead_lettered() {
    let data_dir = tempfile::Builder::new().prefix("limits-").tempdir().unwrap();
    let ceiling = vec![format!("--max-message-bytes={CEILING}")];
    let stack = Stack::start_with(data_dir.path(), Flags([(Service::Ingestor, ceiling)].into())).await;
    let mut generator = Generator::new(testkit::kafka::traffic(5, 0.0, 0.0));
    let mut next = || serde_json::from_slice::<Value>(&generator.next_event().payload).unwrap();
    let events = [grown(next(), CEILING), grown(next(), CEILING + 1), serde_json::to_vec(&next()).unwrap()];

    ensure(&stack.kafka, &[Topic::personal("audit.raw")]).await.unwrap();
    let producer = producer(&stack.kafka).unwrap();
    let mut positions = Vec::new();
    for payload in &events {
        let key = serde_json::from_slice::<Value>(payload).unwrap()["tenantId"].as_str().unwrap().to_owned();
        let record = FutureRecord::to("audit.raw").key(&key).payload(payload);
        let delivered = producer.send_result(record).map_err(|(error, _)| error).unwrap().await.unwrap();
        let delivered = delivered.map_err(|(error, _)| error).unwrap();
        positions.push((key, delivered.partition, delivered.offset));
    }

    let mut expected = Expected::default();
    for (index, (key, partition, offset)) in positions.into_iter().enumerate() {
        if index == 1 {
            expected.malformed.insert((partition, offset), "oversize_message");
        } else {
            let id = serde_json::from_slice::<Value>(&events[index]).unwrap()["eventId"].to_string();
            expected.per_tenant.entry(key).or_default().insert(id);
        }
    }
    let mut failures = checks::totals_converge(&stack, &expected, Duration::from_secs(120)).await;
    failures.extend(checks::exports_verify(&stack, &expected));
    failures.extend(checks::dead_letters_match(&stack, &expected).await.0);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    stack.stop().await;
}
