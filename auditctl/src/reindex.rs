//! `auditctl reindex`: rebuilds the search shards from `audit.signed`, e.g. after a
//! schema change or a lost disk. Stop the indexer first: each shard is rebuilt under
//! its writer lock, so a running indexer makes this fail instead of racing it.

use std::path::PathBuf;

use anyhow::Context;
use audit_runtime::config::KafkaConfig;
use clap::Args;
use indexer::{ReindexParams, WriterBudget, reindex};
use indicatif::{ProgressBar, ProgressStyle};

/// Flags of `auditctl reindex`.
#[derive(Debug, Args)]
pub struct ReindexArgs {
    /// Bootstrap servers.
    #[arg(long, env = "AUDIT_KAFKA", default_value = "127.0.0.1:9092")]
    kafka: String,
    /// Topic of signed records.
    #[arg(long, env = "AUDIT_INPUT_TOPIC", default_value = "audit.signed")]
    topic: String,
    /// Directory for all durable state; the shards are under `<DATA_DIR>/index`.
    #[arg(long, env = "AUDIT_DATA_DIR", default_value = "./data")]
    data_dir: PathBuf,
    /// Shard directory [default: <DATA_DIR>/index].
    #[arg(long)]
    index_dir: Option<PathBuf>,
}

/// Rebuilds every shard with a progress bar, then prints what it did.
pub async fn run(args: ReindexArgs) -> anyhow::Result<()> {
    let params = ReindexParams {
        kafka: KafkaConfig::for_bootstrap(&args.kafka)?,
        topic: args.topic.clone(),
        root: args.index_dir.clone().unwrap_or_else(|| args.data_dir.join("index")),
        budget: WriterBudget { heap_bytes: 64_000_000, threads: 1 },
    };
    let bar = ProgressBar::new(0);
    let style = ProgressStyle::with_template("{bar:40} {pos}/{len} records {per_sec} eta {eta}")
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    let progress_bar = bar.clone();
    let report = tokio::task::spawn_blocking(move || {
        reindex(&params, |done, total| {
            progress_bar.set_length(total);
            progress_bar.set_position(done);
        })
    })
    .await
    .context("reindex task")?
    .context("reindexing")?;
    bar.finish_and_clear();
    println!(
        "rebuilt {} shards: {} records indexed, {} messages skipped (not signed records)",
        report.shards, report.indexed, report.skipped
    );
    Ok(())
}
