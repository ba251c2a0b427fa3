//! Timing and the printed figures: each search warmed up, then timed
//! [`ITERATIONS`] times one after another; p50 and p99 of the wall time per search.
//! One table with every engine side by side, then each target of the issue with
//! met/missed per query.

use std::time::{Duration, Instant};

/// Untimed runs first: caches, connections, lazily opened readers.
const WARMUP: usize = 20;
/// Timed runs per query and engine.
pub const ITERATIONS: usize = 200;

/// The search path must be this many times faster than PostgreSQL (p50).
const SPEEDUP_TARGET: f64 = 5.0;
/// The detokenized path may cost at most this multiple of its floor (the search path
/// plus the vault revealing the same tokens, p50).
const DETOKENIZED_TARGET: f64 = 1.3;
/// Largest p99 of a search, ms.
const P99_TARGET_MS: f64 = 20.0;
/// Largest p50 cost of `verify eq true` per page, ms.
const VERIFY_TARGET_MS: f64 = 3.0;

/// p50 and p99 of one series.
#[derive(Debug, Clone, Copy)]
pub struct Figures {
    /// Median.
    pub p50: Duration,
    /// 99th percentile.
    pub p99: Duration,
}

/// One search's timings and the total it gives (every run must give the same).
#[derive(Default)]
struct Series {
    samples: Vec<Duration>,
    total: Option<usize>,
}

impl Series {
    /// Runs `search` once, keeping its time if `timed`.
    async fn run<F: AsyncFnMut() -> usize>(&mut self, search: &mut F, timed: bool) {
        let started = Instant::now();
        let found = search().await;
        if timed {
            self.samples.push(started.elapsed());
        }
        assert!(self.total.is_none_or(|total| total == found), "a search changed its total");
        self.total = Some(found);
    }

    fn done(self) -> (Figures, usize) {
        (figures(self.samples), self.total.unwrap_or_default())
    }
}

/// Runs `search` [`WARMUP`] times, then [`ITERATIONS`] times timed; returns the
/// figures and the total it gave.
pub async fn measure(mut search: impl AsyncFnMut() -> usize) -> (Figures, usize) {
    let mut series = Series::default();
    for round in 0..WARMUP + ITERATIONS {
        series.run(&mut search, round >= WARMUP).await;
    }
    series.done()
}

/// As [`measure`], for two searches run alternately, so both see the same
/// conditions and their difference is the cost of what `second` adds.
pub async fn measure_pair(
    mut first: impl AsyncFnMut() -> usize,
    mut second: impl AsyncFnMut() -> usize,
) -> [(Figures, usize); 2] {
    let (mut firsts, mut seconds) = (Series::default(), Series::default());
    for round in 0..WARMUP + ITERATIONS {
        firsts.run(&mut first, round >= WARMUP).await;
        seconds.run(&mut second, round >= WARMUP).await;
    }
    [firsts.done(), seconds.done()]
}

/// p50 and p99 of `samples` (nearest rank).
pub fn figures(mut samples: Vec<Duration>) -> Figures {
    samples.sort_unstable();
    let at = |quantile: f64| {
        samples[((samples.len() as f64 * quantile).ceil() as usize).clamp(1, samples.len()) - 1]
    };
    Figures { p50: at(0.50), p99: at(0.99) }
}

/// One query's figures in every engine.
pub struct Row {
    /// `Q1` .. `Q5`.
    pub name: &'static str,
    /// PostgreSQL, page plus count.
    pub pg: Figures,
    /// Bare Tantivy with the query-api's plan.
    pub bare: Figures,
    /// Tantivy's own range on `created` (Q2, Q5 only).
    pub naive: Option<Figures>,
    /// The search path: the query-api over HTTP through its leaves, tokens left in place.
    pub tokens: Figures,
    /// The detokenized path: the same, values revealed by the vault.
    pub api: Figures,
    /// The detokenized path with `verify eq true`.
    pub verify: Figures,
    /// The vault alone revealing this page's tokens (the detokenized path's floor is
    /// the search path plus this).
    pub reveal: Figures,
    /// Totals of PostgreSQL, bare, (naive), search path, api, api+verify: all must agree.
    pub totals: Vec<usize>,
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1_000.0
}

fn pair(figures: Figures) -> String {
    format!("{:.2}/{:.2}", ms(figures.p50), ms(figures.p99))
}

/// Prints the table of `rows`.
pub fn table(rows: &[Row]) {
    println!(
        "{:<5} | {:>13} | {:>13} | {:>13} | {:>13} | {:>13} | {:>18} | {:>9} | {:>11} | {:>8} | {:>13}",
        "query",
        "PG p50/p99",
        "bare p50/p99",
        "naive p50/p99",
        "search p50/p99",
        "clear p50/p99",
        "clear+verify p50/p99",
        "PG÷search",
        "clear÷floor",
        "verify +",
        "total results"
    );
    for row in rows {
        let agree = row.totals.windows(2).all(|pair| pair[0] == pair[1]);
        let total = if agree { row.totals[0].to_string() } else { format!("MISMATCH {:?}", row.totals) };
        println!(
            "{:<5} | {:>13} | {:>13} | {:>13} | {:>14} | {:>13} | {:>20} | {:>8.1}x | {:>10.2}x | {:>5.2} ms | {:>13}",
            row.name,
            pair(row.pg),
            pair(row.bare),
            row.naive.map_or_else(|| "-".to_owned(), pair),
            pair(row.tokens),
            pair(row.api),
            pair(row.verify),
            speedup(row),
            detokenized_ratio(row),
            verify_cost(row),
            total
        );
    }
}

fn speedup(row: &Row) -> f64 {
    ms(row.pg.p50) / ms(row.tokens.p50)
}

/// The detokenized path against its floor: the search path plus the vault's reveal.
fn detokenized_ratio(row: &Row) -> f64 {
    ms(row.api.p50) / (ms(row.tokens.p50) + ms(row.reveal.p50))
}

fn verify_cost(row: &Row) -> f64 {
    ms(row.verify.p50) - ms(row.api.p50)
}

/// Prints each target with met/missed per query and overall.
pub fn targets(rows: &[Row]) {
    let target = |title: &str, verdicts: Vec<(String, bool)>| {
        let all = verdicts.iter().all(|(_, met)| *met);
        let each: Vec<String> = verdicts
            .iter()
            .map(|(figure, met)| format!("{figure} {}", if *met { "met" } else { "missed" }))
            .collect();
        println!("target: {title}: {} ({})", if all { "MET" } else { "MISSED" }, each.join(", "));
    };
    target(
        &format!("search path (HTTP, leaves, no vault) >= {SPEEDUP_TARGET}x faster than PostgreSQL, p50"),
        rows.iter()
            .map(|row| (format!("{} {:.1}x", row.name, speedup(row)), speedup(row) >= SPEEDUP_TARGET))
            .collect(),
    );
    target(
        &format!("detokenized path <= {DETOKENIZED_TARGET}x (search path + vault reveal of the page), p50"),
        rows.iter()
            .map(|row| {
                let ratio = detokenized_ratio(row);
                (format!("{} {ratio:.2}x", row.name), ratio <= DETOKENIZED_TARGET)
            })
            .collect(),
    );
    target(
        &format!("p99 <= {P99_TARGET_MS} ms, page of 100 (search path / detokenized)"),
        rows.iter()
            .map(|row| {
                (
                    format!("{} {:.1}/{:.1}", row.name, ms(row.tokens.p99), ms(row.api.p99)),
                    ms(row.tokens.p99) <= P99_TARGET_MS,
                )
            })
            .collect(),
    );
    target(
        &format!("verify eq true adds <= {VERIFY_TARGET_MS} ms per page of 100, p50"),
        rows.iter()
            .map(|row| {
                (format!("{} {:+.2} ms", row.name, verify_cost(row)), verify_cost(row) <= VERIFY_TARGET_MS)
            })
            .collect(),
    );
}

/// Prints one line of figures outside the table.
pub fn line(what: &str, figures: Figures) {
    println!("{what:<60} p50 {:>7.2} ms   p99 {:>7.2} ms", ms(figures.p50), ms(figures.p99));
}
