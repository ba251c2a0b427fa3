//! Delivery: due notifications from the outbox POSTed to their targets, at least once.
//!
//! Targets are isolated from each other: each webhook has at most
//! `--target-concurrency` notifications in flight, every attempt has a timeout, a
//! webhook that failed five times in a row is paused as a whole (30 s, doubling to
//! 10 min), and the outbox is read without the busy and paused webhooks, so a slow,
//! hanging or failing target's backlog delays neither the others nor the topic (the
//! sink only queues). A failed attempt is retried with exponential back-off
//! and jitter until the retry horizon, then dead-lettered; a `410 Gone` deactivates the
//! webhook.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::changes::{COMPONENT, Change, ChangeKind, ChangeLog};
use crate::config::DeliveryConfig;
use crate::metrics::NotifierMetrics;
use crate::post::{DELETED, INACTIVE, Poster};
use crate::recorder::Recorder;
use crate::sink::now_ms;
use crate::store::{Attempt, Delivery, DeliveryStatus, DueQuery};

/// Failures in a row after which a webhook is paused.
const PAUSE_AFTER: u32 = 5;
/// Most due deliveries read per round.
const ROUND: i64 = 500;
/// How long past an attempt's timeout a replica keeps the deliveries it read.
const LEASE_MARGIN: Duration = Duration::from_secs(10);
/// How often the pending and dead deliveries are counted for the gauges.
const COUNT_EVERY: Duration = Duration::from_secs(5);
/// How long attempts in flight may take to finish at shutdown.
const DRAIN: Duration = Duration::from_secs(2);

/// What the dispatcher works with.
pub struct Dispatcher {
    /// Sends notifications; its store is the outbox.
    pub poster: Arc<Poster>,
    /// Timeouts, horizon, concurrency.
    pub config: DeliveryConfig,
    /// Counters.
    pub metrics: NotifierMetrics,
    /// Woken by the sink when deliveries were queued.
    pub wake: Arc<Notify>,
    /// Records the deactivation of a gone webhook.
    pub changes: Arc<ChangeLog>,
    /// Writes attempts' outcomes in groups.
    pub recorder: Recorder,
}

/// A webhook's failures in a row and until when it is paused.
#[derive(Debug, Default)]
struct Health {
    failures: u32,
    paused_until: Option<Instant>,
}

/// What the dispatcher knows of the attempts it started and the targets' health.
#[derive(Default)]
struct Bookkeeping {
    in_flight: HashSet<String>,
    slots: HashMap<String, Arc<Semaphore>>,
    health: HashMap<String, Health>,
}

impl Bookkeeping {
    fn finished(&mut self, done: Result<(Delivery, bool), tokio::task::JoinError>) {
        if let Ok((delivery, ok)) = done {
            self.in_flight.remove(&delivery.id);
            note(&mut self.health, &delivery.webhook_id, ok);
        }
    }
}

impl Dispatcher {
    /// Delivers until `shutdown`; attempts in flight then get a moment to finish.
    pub async fn run(self, shutdown: CancellationToken) {
        let this = Arc::new(self);
        let mut book = Bookkeeping::default();
        let mut attempts: JoinSet<(Delivery, bool)> = JoinSet::new();
        let mut counted = Instant::now() - COUNT_EVERY;
        info!("dispatcher started");
        while !shutdown.is_cancelled() {
            while let Some(done) = attempts.try_join_next() {
                book.finished(done);
            }
            if counted.elapsed() >= COUNT_EVERY {
                this.count().await;
                counted = Instant::now();
            }
            this.start_due(&mut book, &mut attempts).await;
            tokio::select! {
                _ = shutdown.cancelled() => {}
                _ = this.wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_millis(200)) => {}
                Some(done) = attempts.join_next(), if !attempts.is_empty() => book.finished(done),
            }
        }
        // Attempts in flight get a moment to finish; the others stay pending and are
        // made again after the restart (at least once).
        let drained =
            tokio::time::timeout(DRAIN, async { while attempts.join_next().await.is_some() {} }).await;
        if drained.is_err() {
            attempts.abort_all();
        }
        info!("dispatcher stopped");
    }

    /// Sets the gauges of pending and dead deliveries.
    async fn count(&self) {
        match self.poster.store.counts().await {
            Ok((pending, dead)) => {
                self.metrics.pending.set(pending);
                self.metrics.dead.set(dead);
            }
            Err(error) => warn!(%error, "deliveries not counted"),
        }
    }

    /// Reads the due deliveries and starts those whose target has a free slot and is
    /// not paused; the leases of the others are given back at once.
    async fn start_due(self: &Arc<Self>, book: &mut Bookkeeping, attempts: &mut JoinSet<(Delivery, bool)>) {
        let skip = unavailable(&book.slots, &book.health);
        let now = now_ms();
        let lease_until_ms = now + (self.config.timeout + LEASE_MARGIN).as_millis() as i64;
        let query = DueQuery { now_ms: now, limit: ROUND, skip: &skip, lease_until_ms };
        let due = match self.poster.store.due(&query).await {
            Ok(due) => due,
            Err(error) => {
                warn!(%error, "due deliveries not read");
                return;
            }
        };
        let mut unstarted = Vec::new();
        for (delivery, body) in due {
            if book.in_flight.contains(&delivery.id) {
                continue;
            }
            let paused = book.health.get(&delivery.webhook_id).and_then(|state| state.paused_until);
            let slot = book
                .slots
                .entry(delivery.webhook_id.clone())
                .or_insert_with(|| Arc::new(Semaphore::new(self.config.target_concurrency)));
            let permit = match slot.clone().try_acquire_owned() {
                Ok(permit) if paused.is_none_or(|until| until <= Instant::now()) => permit,
                _ => {
                    unstarted.push(delivery.id);
                    continue;
                }
            };
            book.in_flight.insert(delivery.id.clone());
            let this = self.clone();
            attempts.spawn(async move {
                let ok = this.attempt(&delivery, body).await;
                drop(permit);
                (delivery, ok)
            });
        }
        if let Err(error) = self.poster.store.release(&unstarted, now).await {
            warn!(%error, "leases of deliveries not started were not given back; they wait for the lease");
        }
    }

    /// One attempt of `delivery`, recorded; whether the target took it.
    async fn attempt(&self, delivery: &Delivery, body: Vec<u8>) -> bool {
        let answer = self.poster.post(&delivery.webhook_id, &delivery.record_id, body).await;
        let outcome = self.judge(delivery, &answer);
        if let Err(error) = self.recorder.record(delivery.id.clone(), outcome.attempt.clone()).await {
            warn!(%error, "delivery attempt not recorded; it will be made again");
        }
        if outcome.label == "gone" {
            self.deactivate(&delivery.webhook_id).await;
        }
        self.metrics.attempts.with_label_values(&[outcome.label]).inc();
        if outcome.label == "delivered" {
            let waited = (now_ms() - delivery.created_ms).max(0) as f64 / 1000.0;
            self.metrics.latency.observe(waited);
        }
        outcome.label == "delivered"
    }

    /// Turns off a webhook whose target answered `410 Gone` and dead-letters its pending
    /// deliveries, recorded in the trail as a change made by the notifier. The target is gone either way, so the webhook is
    /// turned off even when the trail does not acknowledge the change (logged).
    async fn deactivate(&self, webhook: &str) {
        match self.poster.store.target(webhook).await {
            Ok(Some((mut found, _))) if found.active => {
                found.active = false;
                let change = Change { kind: ChangeKind::Update, webhook: &found, actor: COMPONENT };
                if let Err(error) = self.changes.record(change).await {
                    warn!(%error, "deactivation of a gone webhook not recorded in the trail");
                }
            }
            Ok(_) => return,
            Err(error) => warn!(%error, "gone webhook not read"),
        }
        if let Err(error) = self.poster.store.deactivate(webhook).await {
            warn!(%error, "gone webhook not deactivated");
        }
    }

    fn judge(&self, delivery: &Delivery, answer: &Result<u16, String>) -> Outcome {
        let attempts = delivery.attempts + 1;
        let (code, error) = match answer {
            Ok(code) => (Some(i64::from(*code)), None),
            Err(error) => (None, Some(error.clone())),
        };
        let settled = |status, label| Outcome {
            attempt: Attempt { status, code, error: error.clone(), next_attempt_ms: None },
            label,
        };
        match answer {
            Ok(code) if (200..300).contains(code) => return settled(DeliveryStatus::Delivered, "delivered"),
            Ok(410) => return settled(DeliveryStatus::Dead, "gone"),
            Err(reason) if reason == DELETED || reason == INACTIVE => {
                return settled(DeliveryStatus::Dead, "dead");
            }
            _ => {}
        }
        let next = now_ms() + backoff(attempts).as_millis() as i64;
        let horizon = delivery.created_ms + self.config.retry_horizon.as_millis() as i64;
        if next > horizon {
            return settled(DeliveryStatus::Dead, "dead");
        }
        Outcome {
            attempt: Attempt { status: DeliveryStatus::Pending, code, error, next_attempt_ms: Some(next) },
            label: "retry",
        }
    }
}

/// An attempt's record and its metric label.
struct Outcome {
    attempt: Attempt,
    label: &'static str,
}

/// Wait before attempt `attempts + 1`: 1 s doubling to an hour, with jitter so
/// deliveries that failed together do not retry together.
pub fn backoff(attempts: i64) -> Duration {
    let exponent = u32::try_from(attempts.clamp(1, 13) - 1).unwrap_or(0);
    let base = Duration::from_secs(1u64 << exponent).min(Duration::from_secs(3600));
    base.mul_f64(rand::random_range(0.5..1.5))
}

/// Webhooks whose deliveries cannot start now: every slot taken, or paused.
fn unavailable(slots: &HashMap<String, Arc<Semaphore>>, health: &HashMap<String, Health>) -> Vec<String> {
    let busy =
        slots.iter().filter(|(_, slot)| slot.available_permits() == 0).map(|(webhook, _)| webhook.clone());
    let now = Instant::now();
    let paused = health
        .iter()
        .filter(|(_, state)| state.paused_until.is_some_and(|until| until > now))
        .map(|(webhook, _)| webhook.clone());
    busy.chain(paused).collect()
}

fn note(health: &mut HashMap<String, Health>, webhook: &str, ok: bool) {
    let state = health.entry(webhook.to_owned()).or_default();
    if ok {
        *state = Health::default();
        return;
    }
    state.failures += 1;
    if state.failures >= PAUSE_AFTER {
        let doublings = (state.failures - PAUSE_AFTER).min(5);
        let pause = Duration::from_secs(30 << doublings).min(Duration::from_secs(600));
        state.paused_until = Some(Instant::now() + pause);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_off_doubles_with_jitter_up_to_an_hour_and_a_failing_target_is_paused() {
        for (attempts, base) in [(1, 1.0), (2, 2.0), (5, 16.0), (40, 3600.0)] {
            let wait = backoff(attempts).as_secs_f64();
            assert!((base * 0.5..=base * 1.5).contains(&wait), "{attempts}: {wait}");
        }
        let mut health = HashMap::new();
        for _ in 0..PAUSE_AFTER - 1 {
            note(&mut health, "w", false);
        }
        assert!(health["w"].paused_until.is_none());
        note(&mut health, "w", false);
        assert!(health["w"].paused_until.is_some_and(|until| until > Instant::now()));
        note(&mut health, "w", true);
        assert_eq!(health["w"].failures, 0);
    }
}
