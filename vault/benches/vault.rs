//! Vault latency: batch tokenize of 1,000 values (new and known) and detokenize of 100
//! tokens, p50 and p99, on SQLite (target: p99 <= 2 ms for 100 tokens) and on a
//! private PostgreSQL. Measures the vault's logic and storage, without HTTP.

use std::time::{Duration, Instant};

use audit_vault_api::{Owner, TokenizeItem};
use vault::Key;
use vault::Keyring;
use vault::Vault;
use vault::{Store, StoreLocation};

const ROUNDS_TOKENIZE: usize = 40;
const ROUNDS_DETOKENIZE: usize = 1_000;

/// mimalloc, tuned: `audit-alloc` says why.
#[global_allocator]
static ALLOCATOR: audit_alloc::Tuned = audit_alloc::Tuned;

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let engines = [
        ("sqlite", StoreLocation::Sqlite(dir.path().join("bench.db"))),
        ("postgres", StoreLocation::Postgres(testkit::postgres::fresh_database().await)),
    ];
    for (name, location) in engines {
        let vault = Vault::new(Store::open(&location).await.unwrap(), Keyring::new(Key::generate()));
        bench(name, &vault).await;
    }
}

async fn bench(engine: &str, vault: &Vault) {
    let mut new_batches = Vec::new();
    let mut tokens = Vec::new();
    for round in 0..ROUNDS_TOKENIZE {
        let items = batch(round, 1_000);
        let started = Instant::now();
        let batch_tokens = vault.tokenize("bench-tenant", &items).await.unwrap();
        new_batches.push(started.elapsed());
        tokens.extend(batch_tokens);
    }
    let mut known_batches = Vec::new();
    for round in 0..ROUNDS_TOKENIZE {
        let items = batch(round, 1_000);
        let started = Instant::now();
        vault.tokenize("bench-tenant", &items).await.unwrap();
        known_batches.push(started.elapsed());
    }
    let mut reveals = Vec::new();
    for round in 0..ROUNDS_DETOKENIZE {
        let start = (round * 100) % (tokens.len() - 100);
        let asked = &tokens[start..start + 100];
        let started = Instant::now();
        let revealed = vault.detokenize("bench-tenant", asked).await.unwrap();
        reveals.push(started.elapsed());
        assert_eq!(revealed.len(), 100);
    }
    report(engine, "tokenize 1,000 new values", &mut new_batches);
    report(engine, "tokenize 1,000 known values", &mut known_batches);
    report(engine, "detokenize 100 tokens", &mut reveals);
}

/// 1,000 distinct values of 50 subjects, like one pipeline batch.
fn batch(round: usize, size: usize) -> Vec<TokenizeItem> {
    (0..size)
        .map(|n| {
            let subject = (round * size + n) % 50_000;
            TokenizeItem {
                value: format!("user{}-{n}@example.com", round * size),
                owner: Owner {
                    id: Some(format!("{}", subject / 20)),
                    ext_id: Some(format!("user{subject}")),
                },
            }
        })
        .collect()
}

fn report(engine: &str, what: &str, samples: &mut [Duration]) {
    samples.sort();
    let at = |quantile: f64| samples[((samples.len() as f64 * quantile) as usize).min(samples.len() - 1)];
    let ms = |duration: Duration| duration.as_secs_f64() * 1_000.0;
    println!(
        "{engine:<8} {what:<28} p50 {:>7.2} ms  p99 {:>7.2} ms  ({} runs)",
        ms(at(0.50)),
        ms(at(0.99)),
        samples.len()
    );
}
