//! Raw events sent at a steady rate, and what they must become: every valid event
//! once in its tenant's trail (producer duplicates repeat an eventId), every malformed
//! one in the DLQ with its reason, known by where it landed in `audit.raw`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use audit_runtime::config::KafkaConfig;
use audit_runtime::kafka::producer;
use audit_runtime::topics::{Topic, ensure};
use audit_traffic::Generator;
use rdkafka::producer::FutureRecord;

/// What the pipeline owes for the traffic sent.
#[derive(Debug, Default)]
pub struct Expected {
    /// Distinct valid eventIds per tenant.
    pub per_tenant: BTreeMap<String, BTreeSet<String>>,
    /// Reason code of each malformed event, by its `audit.raw` partition and offset.
    pub malformed: HashMap<(i32, i64), &'static str>,
    /// Valid events sent again (same eventId).
    pub duplicates: usize,
}

impl Expected {
    /// Records each tenant must end with.
    pub fn totals(&self) -> BTreeMap<String, usize> {
        self.per_tenant.iter().map(|(tenant, ids)| (tenant.clone(), ids.len())).collect()
    }

    pub fn valid(&self) -> usize {
        self.per_tenant.values().map(BTreeSet::len).sum()
    }
}

/// How to send.
pub struct SendParams {
    pub events: usize,
    pub rate_per_second: f64,
    pub seed: u64,
    pub malformed_ratio: f64,
    pub duplicate_ratio: f64,
}

/// Sends `params.events` events to `audit.raw` at the rate asked, waits for every
/// acknowledgement (across broker restarts: the producer is idempotent and retries),
/// and returns what the pipeline owes.
pub async fn send(kafka: &KafkaConfig, params: SendParams) -> Expected {
    ensure(kafka, &[Topic::personal("audit.raw")]).await.unwrap();
    let producer = producer(kafka).unwrap();
    let mut generator =
        Generator::new(testkit::kafka::traffic(params.seed, params.malformed_ratio, params.duplicate_ratio));
    let mut expected = Expected::default();
    let mut deliveries = Vec::with_capacity(params.events);
    let started = Instant::now();
    for sent in 0..params.events {
        let due = started + Duration::from_secs_f64(sent as f64 / params.rate_per_second);
        tokio::time::sleep_until(due.into()).await;
        let event = generator.next_event();
        let mut record = FutureRecord::<[u8], [u8]>::to("audit.raw").payload(&event.payload);
        record.key = event.key.as_deref();
        let delivery = producer.send_result(record).map_err(|(error, _)| error).unwrap();
        match (event.malformed, &event.event_id, &event.key) {
            (Some(_), _, _) => {}
            (None, Some(id), Some(tenant)) => {
                let tenant = String::from_utf8(tenant.clone()).unwrap();
                let fresh = expected.per_tenant.entry(tenant).or_default().insert(id.clone());
                expected.duplicates += usize::from(!fresh);
            }
            (None, _, _) => unreachable!("valid generated events have a tenant key and an eventId"),
        }
        deliveries.push((event.malformed, delivery));
    }
    for (malformed, delivery) in deliveries {
        let delivered =
            delivery.await.unwrap().map_err(|(error, _)| error).expect("every event is acknowledged");
        if let Some(reason) = malformed {
            expected.malformed.insert((delivered.partition, delivered.offset), reason);
        }
    }
    expected
}
