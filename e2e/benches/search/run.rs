//! The measurements: for each query, PostgreSQL, the floor (and the naive range),
//! the query-api with and without `verify eq true`, and the vault alone revealing
//! that query's page; then the table, the vault's lines, where the query-api's time
//! goes, the targets and PostgreSQL's plans.
//!
//! The vault and the broker are also timed alone (the calls the query-api makes, with
//! the same sizes), so a search's time can be split between the index, the vault,
//! the broker's acknowledgement of the access event, and the rest.

use std::collections::HashMap;
use std::time::Duration;

use audit_index::search::ShardView;
use audit_runtime::config::KafkaConfig;
use audit_vault_api::{DetokenizeRequest, LookupRequest, Requester};
use rdkafka::producer::FutureRecord;
use tokio_postgres::Client;
use vault::{Access, AccessKind, event};

use crate::api::{Request, Stack, check, total_of};
use crate::floor::{PAGE, Search, bare, naive, page, plan_of};
use crate::measure::{Figures, Row, line, measure, measure_pair, table, targets};
use crate::queries::Query;
use crate::{peer, queries};

/// The searched tenant and Q4's target user.
pub struct Subject {
    /// Tenant id.
    pub tenant: String,
    /// The target's clear `targetUserId.id`.
    pub target: String,
    /// Its token.
    pub token: String,
}

/// What the measurements run against.
pub struct Context<'a> {
    /// The PostgreSQL peer.
    pub pg: &'a Client,
    /// The shards, for the floor.
    pub views: &'a [ShardView],
    /// The running services.
    pub stack: &'a Stack,
    /// Who is searched.
    pub subject: &'a Subject,
}

/// The vault alone on one query's page: tokens revealed and the call's figures.
struct VaultAlone {
    tokens: usize,
    detokenize: Figures,
}

/// The vault's and the broker's calls, each alone.
struct Alone {
    /// `/v1/detokenize` of each query's page.
    pages: Vec<VaultAlone>,
    /// `/v1/lookup` of Q4's target.
    lookup: Figures,
    /// One access event acknowledged.
    broker: Figures,
}

/// Measures every query in every engine and prints the figures; returns the search
/// path's, for the fan-out comparison.
pub async fn all(context: &Context<'_>) -> Vec<Figures> {
    let subject = context.subject;
    let queries = queries::all(&subject.target, &subject.token);
    let bearer = context.stack.bearer(&subject.tenant);
    let (mut rows, mut pages) = (Vec::new(), Vec::new());
    for query in &queries {
        let vault = vault_alone(context, query).await;
        rows.push(engines(context, query, &bearer, vault.detokenize).await);
        pages.push(vault);
    }
    let alone = Alone { pages, lookup: lookup_alone(context).await, broker: broker_alone(context).await };
    println!(
        "\nsearches of tenant {} ({} records of {}): page of {PAGE} by created + exact total, {} runs each",
        subject.tenant,
        crate::dataset::PER_TENANT,
        crate::dataset::PER_TENANT * crate::dataset::tenants(),
        crate::measure::ITERATIONS
    );
    for query in &queries {
        println!("  {}: {} ({:?})", query.name, query.filter, query.order);
    }
    println!();
    table(&rows);
    println!();
    print_alone(&queries, &alone);
    println!();
    breakdown(&rows, &alone);
    println!();
    targets(&rows);
    println!();
    plans(context, &queries).await;
    rows.iter().map(|row| row.tokens).collect()
}

/// The search path of every query, with the leaves running now.
pub async fn search_paths(context: &Context<'_>) -> Vec<Figures> {
    let subject = context.subject;
    let bearer = context.stack.bearer(&subject.tenant);
    let mut figures = Vec::new();
    for query in queries::all(&subject.target, &subject.token) {
        let request = Request {
            tenant: &subject.tenant,
            bearer: &bearer,
            filter: &query.filter,
            order: query.order,
            detokenize: false,
        };
        figures.push(search_path(context, &request).await.0);
    }
    figures
}

/// The search path's p50/p99 per query over each number of leaf processes.
pub fn print_fanout(spread: &[(usize, Vec<Figures>)]) {
    let ms = |duration: Duration| duration.as_secs_f64() * 1_000.0;
    println!("\nsearch path (ms, p50/p99) over leaf processes, the 4 shards spread evenly:");
    let header: Vec<String> = spread.iter().map(|(leaves, _)| format!("{leaves} leaf processes")).collect();
    println!(
        "{:<5} | {}",
        "query",
        header.iter().map(|title| format!("{title:>20}")).collect::<Vec<_>>().join(" | ")
    );
    for (n, name) in ["Q1", "Q2", "Q3", "Q4", "Q5"].iter().enumerate() {
        let cells: Vec<String> = spread
            .iter()
            .map(|(_, figures)| {
                format!("{:>20}", format!("{:.2}/{:.2}", ms(figures[n].p50), ms(figures[n].p99)))
            })
            .collect();
        println!("{name:<5} | {}", cells.join(" | "));
    }
}

fn print_alone(queries: &[Query], alone: &Alone) {
    for (query, vault) in queries.iter().zip(&alone.pages) {
        let what = format!("vault alone: /v1/detokenize of {} tokens ({}'s page)", vault.tokens, query.name);
        line(&what, vault.detokenize);
    }
    line("vault alone: /v1/lookup of 1 value (Q4's target)", alone.lookup);
    line("broker alone: one access event acknowledged", alone.broker);
}

/// One query in every engine; `reveal`: the vault alone revealing its page.
async fn engines(context: &Context<'_>, query: &Query, bearer: &str, reveal: Figures) -> Row {
    let (tenant, views) = (context.subject.tenant.as_str(), context.views);
    let prepared = peer::prepare(context.pg, tenant, query).await;
    let (pg, pg_total) = measure(async || peer::search(context.pg, &prepared).await).await;
    let node = plan_of(&query.filter, resolved(context.subject));
    let floor_search = Search { tenant, node: &node, order: query.order };
    let (floor, floor_total) = measure(async || bare(views, floor_search)).await;
    let mut totals = vec![pg_total, floor_total];
    let mut naive_figures = None;
    if let Some(range) = query.range {
        let (figures, total) = measure(async || naive(views, floor_search, range)).await;
        naive_figures = Some(figures);
        totals.push(total);
    }
    let verified = format!("{} and verify eq true", query.filter);
    let tokens = Request { tenant, bearer, filter: &query.filter, order: query.order, detokenize: false };
    let (tokens, tokens_total) = search_path(context, &tokens).await;
    let plain = Request { tenant, bearer, filter: &query.filter, order: query.order, detokenize: true };
    let [(api, api_total), (verify, verify_total)] =
        http(context, &plain, &Request { filter: &verified, ..plain }).await;
    totals.extend([tokens_total, api_total, verify_total]);
    Row { name: query.name, pg, bare: floor, naive: naive_figures, tokens, api, verify, reveal, totals }
}

/// The search path: the query-api through its leaves, tokens left in place.
pub async fn search_path(context: &Context<'_>, request: &Request<'_>) -> (Figures, usize) {
    let (client, base) = (&context.stack.http, context.stack.base.as_deref().expect("the query-api runs"));
    check(&crate::api::search(client, base, request).await, false, false);
    measure(async || total_of(&crate::api::search(client, base, request).await)).await
}

/// What the vault answers for Q4's target, as the query-api would be told.
fn resolved(subject: &Subject) -> HashMap<String, String> {
    HashMap::from([(subject.target.clone(), subject.token.clone())])
}

/// The query-api over HTTP, without and with verification alternately, each answer
/// checked whole once before timing.
async fn http(context: &Context<'_>, plain: &Request<'_>, verified: &Request<'_>) -> [(Figures, usize); 2] {
    let (client, base) = (&context.stack.http, context.stack.base.as_deref().expect("the query-api runs"));
    check(&crate::api::search(client, base, plain).await, false, true);
    check(&crate::api::search(client, base, verified).await, true, true);
    measure_pair(
        async || total_of(&crate::api::search(client, base, plain).await),
        async || total_of(&crate::api::search(client, base, verified).await),
    )
    .await
}

/// One `/v1/detokenize` of the tokens of `query`'s page, as the query-api sends it.
async fn vault_alone(context: &Context<'_>, query: &Query) -> VaultAlone {
    let tenant = &context.subject.tenant;
    let node = plan_of(&query.filter, resolved(context.subject));
    let records = page(context.views, Search { tenant, node: &node, order: query.order });
    let tokens = query_api::engine::tokens(&query_api::engine::resources(&records, tenant));
    let requester = Requester { subject: "auditor@corp".into(), reason: "search".into() };
    let request = DetokenizeRequest { tenant: tenant.clone(), tokens, on_behalf_of: requester };
    let vault = context.stack.vault();
    let (detokenize, _) =
        measure(async || vault.detokenize(&request).await.expect("detokenized").values.len()).await;
    VaultAlone { tokens: request.tokens.len(), detokenize }
}

/// One `/v1/lookup` of Q4's target, as the query-api sends it.
async fn lookup_alone(context: &Context<'_>) -> Figures {
    let request = LookupRequest {
        tenant: context.subject.tenant.clone(),
        values: vec![context.subject.target.clone()],
    };
    let vault = context.stack.vault();
    measure(async || vault.lookup(&request).await.expect("looked up").tokens.len()).await.0
}

/// One access event written to the raw topic and acknowledged, as the vault does
/// before each detokenize answers: the broker alone.
async fn broker_alone(context: &Context<'_>) -> Figures {
    let kafka = KafkaConfig::for_bootstrap(&context.stack.bootstrap).expect("kafka settings");
    let producer = audit_runtime::kafka::immediate_producer(&kafka).expect("a producer");
    let access = Access {
        tenant: &context.subject.tenant,
        kind: AccessKind::Detokenize,
        subject: "auditor@corp",
        service: Some("query-api"),
        reason: "search",
        count: 300,
        erased_owner_id: None,
    };
    let payload = event(&access).expect("a valid tenant").to_string();
    let figures = measure(async || {
        let record = FutureRecord::to("audit.raw").key(access.tenant).payload(&payload);
        producer
            .send(record, Duration::from_secs(10))
            .await
            .map_err(|(error, _)| error)
            .expect("acknowledged");
        1
    })
    .await
    .0;
    // Dropping a Kafka client blocks while it shuts down: not on an async worker.
    tokio::task::block_in_place(|| drop(producer));
    figures
}

/// Where the query-api's p50 goes: the floor's search, the leaf hop (HTTP to the
/// leaves and back), the vault's calls (measured alone), and the rest (HTTP,
/// authorization, rendering, JSON).
fn breakdown(rows: &[Row], alone: &Alone) {
    let ms = |figures: Figures| figures.p50.as_secs_f64() * 1_000.0;
    println!(
        "where the p50 goes (ms): search path = bare search + leaf hop and rest; clear = search path + vault calls + rendering"
    );
    for (row, vault) in rows.iter().zip(&alone.pages) {
        let lookups = if row.name == "Q4" { ms(alone.lookup) } else { 0.0 };
        let rest = ms(row.api) - ms(row.tokens) - ms(vault.detokenize) - lookups;
        println!(
            "  {}: search {:.2} = bare {:.2} + hops {:.2}; clear {:.2} = search + detokenize {:.2} (of which broker ack ~{:.2}) + lookup {:.2} + rest {:.2}; verify adds {:.2}",
            row.name,
            ms(row.tokens),
            ms(row.bare),
            ms(row.tokens) - ms(row.bare),
            ms(row.api),
            ms(vault.detokenize),
            ms(alone.broker),
            lookups,
            rest,
            ms(row.verify) - ms(row.api)
        );
    }
}

/// PostgreSQL's plans, so its figures can be explained.
async fn plans(context: &Context<'_>, queries: &[Query]) {
    println!("PostgreSQL plans (page / count):");
    for query in queries {
        for plan in peer::plans(context.pg, &context.subject.tenant, query).await {
            println!("  {}: {plan}", query.name);
        }
    }
}
