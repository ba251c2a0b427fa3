//! The search benchmark (`cargo bench -p e2e --bench search`): five searches over
//! 1,000,000 tokenized, signed records of 50 tenants (`AUDIT_BENCH_RECORDS=10000000`:
//! 500 tenants of the same size), each a page of 100 sorted by `created` plus the
//! exact total, in every engine side by side in one run:
//!
//! - PostgreSQL with the same records (`jsonb`, GIN `jsonb_path_ops`, B-tree on
//!   `(tenant, created)`): the peer a team would otherwise build ([`peer`]);
//! - the leaves' own search run in this process over every shard: the floor
//!   ([`floor`]);
//! - the search path: the query-api over HTTP fanning out to indexer processes
//!   serving the shards as leaves, tokens left in place (what PostgreSQL is
//!   compared with); then the detokenized path with the real vault, with and without
//!   `verify eq true`, against its own floor, the search path plus the vault
//!   revealing the same page ([`run`]);
//! - the search path again over 2 and 4 leaf processes;
//! - proofs through the query-api: inclusion, consistency, a whole bundle ([`proofs`]);
//! - the resident memory (PSS) of every process and the index's bytes per record.
//!
//! Records are made as the pipeline makes them ([`dataset`], [`tokens`], [`load`]),
//! 50 tenants at a time; the searches are in [`queries`], run in [`run`]; timing and
//! the printed figures in [`measure`]. Every engine must agree on every total, or
//! the table says MISMATCH.

mod api;
mod dataset;
mod floor;
mod load;
mod measure;
mod memory;
mod peer;
mod proofs;
mod queries;
mod run;
mod tokens;

use std::path::Path;
use std::time::Instant;

use audit_integrity::keys::KeyDir;

use crate::api::Stack;
use crate::dataset::Tenant;
use crate::tokens::Tokens;

/// mimalloc, tuned: `audit-alloc` says why.
#[global_allocator]
static ALLOCATOR: audit_alloc::Tuned = audit_alloc::Tuned;

#[tokio::main]
async fn main() {
    let _ = tracing_subscriber::fmt().with_env_filter("error").try_init();
    let started = Instant::now();
    let mut stack = Stack::start().await;
    let index_dir = stack.dir.path().join("index");
    let keys = stack.dir.path().join("keys");
    let pg = peer::connect().await;
    let subject = load(&stack, &pg, &index_dir, &keys).await;
    let records = dataset::tenants() * dataset::PER_TENANT;
    println!("index: {:.0} bytes per record", load::size_of(&index_dir) as f64 / records as f64);
    let topics = [audit_runtime::topics::Topic::trail("audit.signed")];
    let mut kafka =
        audit_runtime::config::KafkaConfig::for_bootstrap(&stack.bootstrap).expect("kafka settings");
    kafka.partitions = load::SHARDS;
    audit_runtime::topics::ensure(&kafka, &topics).await.expect("the signed topic");
    stack.start_query_api(&KeyDir::open(&keys).expect("signing keys").jwks_path()).await;
    stack.leaves(1, &index_dir, &subject.tenant).await;
    proofs::run(&stack, &subject.tenant, &keys).await;
    let views = floor::views(&index_dir);
    let one = {
        let context = run::Context { pg: &pg, views: &views, stack: &stack, subject: &subject };
        run::all(&context).await
    };
    memory::print(&stack);
    let mut spread = vec![(1, one)];
    for leaves in [2, 4] {
        stack.leaves(leaves, &index_dir, &subject.tenant).await;
        let context = run::Context { pg: &pg, views: &views, stack: &stack, subject: &subject };
        spread.push((leaves, run::search_paths(&context).await));
    }
    run::print_fanout(&spread);
    memory::print(&stack);
    keep(&index_dir);
    println!("wall time of the whole bench: {:.0} s", started.elapsed().as_secs_f64());
}

/// Moves the shards to `AUDIT_BENCH_KEEP_INDEX`, if set, so they can be studied
/// after the run (a profiler on the floor's searches, for instance).
fn keep(index_dir: &Path) {
    let Some(target) = std::env::var_os("AUDIT_BENCH_KEEP_INDEX") else { return };
    match std::fs::rename(index_dir, &target) {
        Ok(()) => println!("index kept in {}", Path::new(&target).display()),
        Err(error) => {
            println!("index not kept ({error}): the target must be new and on the same file system");
        }
    }
}

/// Generates, tokenizes, signs and loads every record into the shards and into
/// PostgreSQL, a chunk of tenants at a time, printing how long each step took;
/// returns who is searched.
async fn load(stack: &Stack, pg: &tokio_postgres::Client, index_dir: &Path, keys: &Path) -> run::Subject {
    let key = KeyDir::open_or_create(keys).and_then(|dir| dir.signing_key()).expect("a signing key");
    let mut writers = load::Writers::create(index_dir);
    peer::create(pg).await;
    let (mut times, mut subject) = (LoadTimes::default(), None);
    let tenants = dataset::tenants();
    for first in (0..tenants).step_by(dataset::CHUNK) {
        let (chunk, tokens, searched) =
            tokenized(stack, first..(first + dataset::CHUNK).min(tenants), &mut times).await;
        subject = subject.or(searched);
        let began = Instant::now();
        let signed = tokio::task::block_in_place(|| load::seal_all(chunk, &tokens, &key));
        times.seal += began.elapsed();
        let began = Instant::now();
        tokio::task::block_in_place(|| writers.add(&signed));
        times.index += began.elapsed();
        times.copy += peer::copy_chunk(pg, &signed).await;
    }
    let began = Instant::now();
    tokio::task::block_in_place(|| writers.finish());
    times.index += began.elapsed();
    times.print(index_dir);
    let began = Instant::now();
    let loaded = peer::finish(pg, times.copy).await;
    println!(
        "load  PostgreSQL: COPY {:.1} s, GIN + B-tree {:.1} s, VACUUM ANALYZE {:.1} s ({:.1} s after the copies), table + indexes {:.2} GB",
        loaded.copy.as_secs_f64(),
        loaded.indexes.as_secs_f64(),
        loaded.vacuum.as_secs_f64(),
        began.elapsed().as_secs_f64(),
        loaded.bytes as f64 / 1e9
    );
    subject.expect("the first chunk has the searched tenant")
}

/// How long each load step took, over every chunk.
#[derive(Default)]
struct LoadTimes {
    generate: std::time::Duration,
    tokenize: std::time::Duration,
    calls: usize,
    values: usize,
    seal: std::time::Duration,
    index: std::time::Duration,
    copy: std::time::Duration,
}

impl LoadTimes {
    fn print(&self, index_dir: &Path) {
        let records = dataset::tenants() * dataset::PER_TENANT;
        println!(
            "load  generate {records} clear records of {} tenants: {:.1} s",
            dataset::tenants(),
            self.generate.as_secs_f64()
        );
        println!(
            "load  tokenize {} distinct personal values through the vault ({} calls of <= {}): {:.1} s",
            self.values,
            self.calls,
            tokens::BATCH,
            self.tokenize.as_secs_f64()
        );
        println!("load  apply tokens, seal and chain (2 threads): {:.1} s", self.seal.as_secs_f64());
        println!(
            "load  index into {} shards (commit, merges): {:.1} s; index {:.2} GB; segments per shard {:?}",
            load::SHARDS,
            self.index.as_secs_f64(),
            load::size_of(index_dir) as f64 / 1e9,
            load::segments(index_dir)
        );
    }
}

/// The clear records of the tenants in `range` and the tokens of their personal
/// values, from the vault; in the first chunk, who is searched: its first tenant,
/// Q4 looking for the target of its middle record.
async fn tokenized(
    stack: &Stack,
    range: std::ops::Range<usize>,
    times: &mut LoadTimes,
) -> (Vec<Tenant>, Vec<Tokens>, Option<run::Subject>) {
    let began = Instant::now();
    let first = range.start == 0;
    let mut tenants = tokio::task::block_in_place(|| dataset::some(range));
    times.generate += began.elapsed();
    let target = first.then(|| {
        let middle = &tenants[0].records[dataset::PER_TENANT / 2];
        middle.target_user.as_ref().and_then(|user| user.id.clone()).expect("a target user")
    });
    let began = Instant::now();
    let (tokens, calls) = tokens::tokenize(&stack.vault(), &mut tenants).await;
    times.tokenize += began.elapsed();
    times.calls += calls;
    times.values += tokens.iter().map(|tokens| tokens.len()).sum::<usize>();
    let subject = target.map(|target| run::Subject {
        tenant: tenants[0].id.clone(),
        token: tokens[0][&target].clone(),
        target,
    });
    (tenants, tokens, subject)
}
