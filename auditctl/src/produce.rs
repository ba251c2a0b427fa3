//! `auditctl produce`: realistic raw events into `audit.raw`, at a rate, with a
//! progress bar; optionally malformed or duplicated ones to exercise the DLQ and
//! the dedupe.

use std::time::{Duration, Instant};

use anyhow::Context;
use audit_runtime::{
    config::KafkaConfig,
    kafka::producer,
    topics::{Topic, ensure},
};
use audit_traffic::{Generator, TrafficParams};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use rdkafka::producer::{DeliveryFuture, FutureRecord};

/// Flags of `auditctl produce`.
#[derive(Debug, Args)]
pub struct ProduceArgs {
    /// Bootstrap servers.
    #[arg(long, env = "AUDIT_KAFKA", default_value = "127.0.0.1:9092")]
    kafka: String,
    /// Topic to write raw events to.
    #[arg(long, env = "AUDIT_INPUT_TOPIC", default_value = "audit.raw")]
    topic: String,
    /// Number of events.
    #[arg(long, default_value_t = 10_000)]
    count: u64,
    /// Events per second; 0 sends as fast as the broker takes them.
    #[arg(long, default_value_t = 0)]
    rate: u64,
    /// Number of tenants.
    #[arg(long, default_value_t = 5)]
    tenants: usize,
    /// Share of malformed events, 0 to 1.
    #[arg(long, default_value_t = 0.0)]
    malformed_ratio: f64,
    /// Share of events repeating the previous one (producer retries), 0 to 1.
    #[arg(long, default_value_t = 0.0)]
    duplicate_ratio: f64,
    /// People per tenant whose events recur (a few far more often); 0 makes someone new
    /// act in every event.
    #[arg(long, default_value_t = 0)]
    people_per_tenant: usize,
    /// Random seed; the same seed sends the same events.
    #[arg(long)]
    seed: Option<u64>,
    /// Partitions of the topic if it has to be created.
    #[arg(long, env = "AUDIT_PARTITIONS", default_value_t = 4)]
    partitions: i32,
}

/// Sends the events and waits until the broker acknowledged all of them.
pub async fn run(args: ProduceArgs) -> anyhow::Result<()> {
    anyhow::ensure!((0.0..=1.0).contains(&args.malformed_ratio), "--malformed-ratio must be between 0 and 1");
    anyhow::ensure!((0.0..=1.0).contains(&args.duplicate_ratio), "--duplicate-ratio must be between 0 and 1");
    let mut kafka = KafkaConfig::for_bootstrap(&args.kafka)?;
    kafka.partitions = args.partitions;
    ensure(&kafka, &[Topic::personal(&args.topic)]).await.context("creating the topic")?;
    let producer = producer(&kafka)?;
    let mut generator = Generator::new(TrafficParams {
        tenants: args.tenants,
        malformed_ratio: args.malformed_ratio,
        duplicate_ratio: args.duplicate_ratio,
        seed: args.seed.unwrap_or_else(rand::random),
        start_ms: first_created_ms(args.count),
        people_per_tenant: args.people_per_tenant,
    });
    let progress = progress_bar(args.count);
    let started = Instant::now();
    let mut pending: Vec<DeliveryFuture> = Vec::new();
    let (mut malformed, mut duplicates) = (0u64, 0u64);
    for sent in 0..args.count {
        let event = generator.next_event();
        malformed += u64::from(event.malformed.is_some());
        duplicates += u64::from(event.duplicate);
        let mut record = FutureRecord::<[u8], [u8]>::to(&args.topic).payload(&event.payload);
        record.key = event.key.as_deref();
        pending.push(enqueue(&producer, record).await?);
        if pending.len() >= 10_000 {
            settle(&mut pending).await?;
        }
        pace(args.rate, sent + 1, started).await;
        progress.inc(1);
    }
    settle(&mut pending).await?;
    progress.finish();
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "sent {} events to {} ({malformed} malformed, {duplicates} duplicates) in {elapsed:.1} s, {:.0} events/s",
        args.count,
        args.topic,
        args.count as f64 / elapsed.max(1e-9)
    );
    // Users sign in to a tenant (a token, the console) and must learn its id somewhere.
    println!("tenants: {}", tenant_list(generator.tenants()));
    Ok(())
}

/// The tenants' ids, the first ten of a long list.
fn tenant_list(tenants: &[String]) -> String {
    const SHOWN: usize = 10;
    let shown = tenants[..tenants.len().min(SHOWN)].join(", ");
    match tenants.len().saturating_sub(SHOWN) {
        0 => shown,
        more => format!("{shown} and {more} more"),
    }
}

async fn enqueue(
    producer: &rdkafka::producer::FutureProducer,
    mut record: FutureRecord<'_, [u8], [u8]>,
) -> anyhow::Result<DeliveryFuture> {
    loop {
        match producer.send_result(record) {
            Ok(delivery) => return Ok(delivery),
            Err((
                rdkafka::error::KafkaError::MessageProduction(rdkafka::types::RDKafkaErrorCode::QueueFull),
                back,
            )) => {
                record = back;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            Err((error, _)) => return Err(error).context("sending an event"),
        }
    }
}

async fn settle(pending: &mut Vec<DeliveryFuture>) -> anyhow::Result<()> {
    for delivery in pending.drain(..) {
        match delivery.await {
            Ok(Ok(_)) => {}
            Ok(Err((error, _))) => return Err(error).context("the broker refused an event"),
            Err(_) => anyhow::bail!("the producer closed before delivery"),
        }
    }
    Ok(())
}

/// Sleeps so that `sent` events take at least `sent / rate` seconds.
async fn pace(rate: u64, sent: u64, started: Instant) {
    if rate == 0 {
        return;
    }
    let due = Duration::from_secs_f64(sent as f64 / rate as f64);
    if let Some(ahead) = due.checked_sub(started.elapsed()) {
        tokio::time::sleep(ahead).await;
    }
}

/// `created` of the first event: far enough back that the last of `count` events
/// (the generator steps 20 ms on average) is about now, since the ingestor refuses
/// events more than an hour in the future; never later than an hour ago.
fn first_created_ms(count: u64) -> i64 {
    let span_ms = i64::try_from(count).unwrap_or(i64::MAX / 40).saturating_mul(20);
    chrono::Utc::now().timestamp_millis() - span_ms.max(3_600_000)
}

fn progress_bar(count: u64) -> ProgressBar {
    let progress = ProgressBar::new(count);
    let style = ProgressStyle::with_template("{bar:40} {pos}/{len} events {per_sec} eta {eta}")
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    progress.set_style(style);
    progress
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tenants_are_named_the_first_ten_of_many() {
        let tenants: Vec<String> = (0..12).map(|n| format!("t{n}")).collect();
        assert_eq!(tenant_list(&tenants[..2]), "t0, t1");
        assert_eq!(tenant_list(&tenants), "t0, t1, t2, t3, t4, t5, t6, t7, t8, t9 and 2 more");
    }
}
