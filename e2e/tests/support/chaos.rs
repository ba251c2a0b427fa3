//! Faults at random moments, drawn from a seed so a failing run can be replayed: each
//! killable service killed several times on its own, then the broker restarted once,
//! then kills of one or two services at a time, mixed.

use std::time::Duration;

use rand::{Rng, SeedableRng, rngs::StdRng, seq::IndexedRandom};

use super::stack::{Service, Stack};

/// What the suite kills; the query-api only reads, so killing it proves nothing here.
pub const KILLABLE: [Service; 5] =
    [Service::Ingestor, Service::Tokenizer, Service::Signer, Service::Indexer, Service::Vault];

/// One fault.
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    /// Wait before it, after the previous fault ended.
    pub after: Duration,
    pub what: Target,
    /// How long what was stopped stays down.
    pub down: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// Killed with SIGKILL, then started again.
    Kill(Vec<Service>),
    /// Stopped, then started again on the same storage.
    Broker,
}

/// The faults for `kills_per_service` kills of each service alone, then as many again
/// mixed.
pub fn plan(seed: u64, kills_per_service: usize) -> Vec<Fault> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut faults = Vec::new();
    for service in KILLABLE {
        for _ in 0..kills_per_service {
            faults.push(fault(&mut rng, Target::Kill(vec![service])));
        }
    }
    faults.push(fault(&mut rng, Target::Broker));
    for _ in 0..kills_per_service * 2 {
        let first = *KILLABLE.choose(&mut rng).expect("not empty");
        let mut services = vec![first];
        if rng.random_bool(0.5) {
            let second = *KILLABLE.choose(&mut rng).expect("not empty");
            if second != first {
                services.push(second);
            }
        }
        faults.push(fault(&mut rng, Target::Kill(services)));
    }
    faults
}

fn fault(rng: &mut StdRng, what: Target) -> Fault {
    // Gaps both shorter and longer than the 6 s session timeout, so kills land on
    // members still waiting for their partitions as well as on ones mid-batch.
    let after = Duration::from_millis(rng.random_range(1_000..8_000));
    let down = Duration::from_millis(rng.random_range(0..1_500));
    Fault { after, what, down }
}

/// How long `faults` take, downtime included.
pub fn duration(faults: &[Fault]) -> Duration {
    faults.iter().map(|fault| fault.after + fault.down).sum()
}

/// Applies `faults` to `stack` in order.
pub async fn run(stack: &mut Stack, faults: &[Fault]) {
    for (number, fault) in faults.iter().enumerate() {
        tokio::time::sleep(fault.after).await;
        eprintln!("fault {}/{}: {:?}, down {:?}", number + 1, faults.len(), fault.what, fault.down);
        match &fault.what {
            Target::Broker => stack.restart_broker(fault.down).await,
            Target::Kill(services) => {
                services.iter().for_each(|service| stack.kill(*service));
                tokio::time::sleep(fault.down).await;
                services.iter().for_each(|service| stack.spawn(*service));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_service_is_killed_alone_then_mixed_and_the_broker_restarts_once() {
        let faults = plan(7, 3);
        assert_eq!(faults.len(), 5 * 3 + 1 + 6);
        for (index, service) in KILLABLE.iter().enumerate() {
            for fault in &faults[index * 3..index * 3 + 3] {
                assert_eq!(fault.what, Target::Kill(vec![*service]));
            }
        }
        assert_eq!(faults[15].what, Target::Broker);
        assert!(faults[16..].iter().all(|fault| matches!(&fault.what, Target::Kill(s) if !s.is_empty())));
        assert_eq!(plan(7, 3), faults, "a seed replays the same faults");
    }
}
