//! The query-api benchmark (`cargo bench -p query-api --bench search`): five searches
//! over 1,000,000 tokenized, signed records of 50 tenants, each a page of 100 sorted
//! by `created` plus the exact total, in every engine side by side in one run:
//!
//! - PostgreSQL with the same records (`jsonb`, GIN `jsonb_path_ops`, B-tree on
//!   `(tenant, created)`): the peer a team would otherwise build ([`peer`]);
//! - bare Tantivy running the query-api's own plan: the floor ([`floor`]);
//! - the query-api over HTTP with the real vault, with and without `verify eq true`
//!   ([`api`]); and the vault and broker alone, to show where a search's time goes.
//!
//! Records are made as the pipeline makes them ([`dataset`], [`tokens`], [`load`]);
//! the searches are in [`queries`], run in [`run`]; timing and the printed figures
//! in [`measure`]. Every engine must agree on every total, or the table says
//! MISMATCH. Everything runs in this one process on a shared runtime (the client
//! too), plus the PostgreSQL server: figures include that contention, as on a
//! small host running the whole stack.

mod api;
mod dataset;
mod floor;
mod load;
mod measure;
mod peer;
mod queries;
mod run;
mod tokens;

use std::path::Path;
use std::time::Instant;

use audit_integrity::keys::KeyDir;
use audit_schemas::SignedRecord;
use query_api::engine::Shards;

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
    let (signed, subject) = load_index(&stack, &index_dir, &keys).await;
    let pg = peer::connect().await;
    load_peer(&pg, &signed).await;
    // The records now live in the shards and the table; free their memory.
    drop(signed);
    stack.start_query_api(&index_dir, &KeyDir::open(&keys).expect("signing keys").jwks_path()).await;
    let shards = Shards::open(&index_dir).expect("shards open");
    let context = run::Context { pg: &pg, shards: &shards, stack: &stack, subject: &subject };
    run::all(&context).await;
    println!("wall time of the whole bench: {:.0} s", started.elapsed().as_secs_f64());
}

/// Copies the records into PostgreSQL and indexes them, printing how long it took.
async fn load_peer(pg: &tokio_postgres::Client, signed: &[SignedRecord]) {
    let began = Instant::now();
    let times = peer::load(pg, signed).await;
    println!(
        "load  PostgreSQL: COPY {:.1} s, GIN + B-tree {:.1} s, VACUUM ANALYZE {:.1} s ({:.1} s), table + indexes {:.2} GB",
        times.copy.as_secs_f64(),
        times.indexes.as_secs_f64(),
        times.vacuum.as_secs_f64(),
        began.elapsed().as_secs_f64(),
        times.bytes as f64 / 1e9
    );
}

/// Generates, tokenizes, signs and indexes every record, printing how long each
/// step took; returns the signed records and who is searched.
async fn load_index(stack: &Stack, index_dir: &Path, keys: &Path) -> (Vec<SignedRecord>, run::Subject) {
    let (tenants, tokens, subject) = tokenized(stack).await;
    let key = KeyDir::open_or_create(keys).and_then(|dir| dir.signing_key()).expect("a signing key");
    let began = Instant::now();
    let signed = tokio::task::block_in_place(|| load::seal_all(tenants, &tokens, &key));
    println!("load  apply tokens, seal and chain (2 threads): {:.1} s", began.elapsed().as_secs_f64());
    let began = Instant::now();
    tokio::task::block_in_place(|| load::index(index_dir, &signed));
    println!(
        "load  index into {} shards (commit, merges): {:.1} s; index {:.2} GB; segments per shard {:?}",
        load::SHARDS,
        began.elapsed().as_secs_f64(),
        load::size_of(index_dir) as f64 / 1e9,
        load::segments(index_dir)
    );
    (signed, subject)
}

/// The clear records and the tokens of their personal values, from the vault; the
/// first tenant is the one searched, Q4 looking for the target of its middle record.
async fn tokenized(stack: &Stack) -> (Vec<Tenant>, Vec<Tokens>, run::Subject) {
    let began = Instant::now();
    let mut tenants = tokio::task::block_in_place(dataset::all);
    let records: usize = tenants.iter().map(|tenant| tenant.records.len()).sum();
    let took = began.elapsed().as_secs_f64();
    println!("load  generate {records} clear records of {} tenants: {took:.1} s", tenants.len());
    let middle = &tenants[0].records[dataset::PER_TENANT / 2];
    let target = middle.target_user.as_ref().and_then(|user| user.id.clone()).expect("a target user");
    let began = Instant::now();
    let (tokens, calls) = tokens::tokenize(&stack.vault(), &mut tenants).await;
    let values: usize = tokens.iter().map(|tokens| tokens.len()).sum();
    println!(
        "load  tokenize {values} distinct personal values through the vault ({calls} calls of <= {}): {:.1} s",
        tokens::BATCH,
        began.elapsed().as_secs_f64()
    );
    let subject = run::Subject { tenant: tenants[0].id.clone(), token: tokens[0][&target].clone(), target };
    (tenants, tokens, subject)
}
