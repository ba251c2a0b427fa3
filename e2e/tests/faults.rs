//! The whole pipeline under faults, each service its own process as in
//! docker-compose: while events flow at a steady rate (1% malformed, 1% producer
//! duplicates), the ingestor, the tokenizer, the signer, the indexer and the vault are
//! killed without warning at random moments, several times each, one kind at a time
//! and then mixed, and the broker restarts once. Afterwards every valid event is
//! searchable exactly once (SCIM `totalResults` per tenant), every tenant's export
//! verifies with `auditctl verify` (no gap, repeat or broken link), and `audit.dlq`
//! holds exactly the malformed events.
//!
//! `cargo test` runs 20,000 events and two kills of each service alone. The full form:
//!
//! ```text
//! AUDIT_FAULTS_EVENTS=100000 AUDIT_FAULTS_KILLS=3 \
//!   cargo test --release -p e2e --test faults -- --nocapture
//! ```
//!
//! `AUDIT_FAULTS_SEED` replays a run's faults and traffic (each run prints its seed).

mod support;

use std::time::{Duration, Instant};

use support::chaos;
use support::checks;
use support::stack::Stack;
use support::traffic::{self, SendParams};

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .map_or(default, |value| value.parse().unwrap_or_else(|_| panic!("{name}: not a number")))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_valid_event_is_searchable_once_and_verifies_after_kills_and_a_broker_restart() {
    let events = setting("AUDIT_FAULTS_EVENTS", 20_000) as usize;
    let kills = setting("AUDIT_FAULTS_KILLS", 2) as usize;
    let seed = setting("AUDIT_FAULTS_SEED", rand::random_range(0..1_000_000));
    eprintln!("fault suite: {events} events, {kills} kills of each service alone, seed {seed}");
    let data_dir = tempfile::Builder::new().prefix("faults-").tempdir().unwrap();
    let mut stack = Stack::start(data_dir.path()).await;

    let faults = chaos::plan(seed, kills);
    let rate = events as f64 / chaos::duration(&faults).as_secs_f64();
    let params =
        SendParams { events, rate_per_second: rate, seed, malformed_ratio: 0.01, duplicate_ratio: 0.01 };
    let kafka = stack.kafka.clone();
    let sender = tokio::spawn(async move { traffic::send(&kafka, params).await });
    let started = Instant::now();
    chaos::run(&mut stack, &faults).await;
    let expected = sender.await.unwrap();
    eprintln!(
        "sent {events} events at {rate:.0}/s in {:?}: {} valid, {} duplicates, {} malformed; {} faults",
        started.elapsed(),
        expected.valid(),
        expected.duplicates,
        expected.malformed.len(),
        faults.len()
    );

    let mut failures = checks::totals_converge(&stack, &expected, Duration::from_secs(600)).await;
    eprintln!("converged {:?} after the start", started.elapsed());
    failures.extend(checks::exports_verify(&stack, &expected));
    let (dead_letter_failures, repeats) = checks::dead_letters_match(&stack, &expected).await;
    failures.extend(dead_letter_failures);
    eprintln!("audit.dlq: {} malformed events, {repeats} dead-lettered twice", expected.malformed.len());
    if !failures.is_empty() {
        let kept = data_dir.keep();
        panic!("seed {seed}, logs in {}:\n{}", kept.join("logs").display(), failures.join("\n"));
    }
    stack.stop().await;
}
