//! `auditctl topics ensure`: the product's topics created with the settings their kind
//! needs, and the existing ones checked against them.
//!
//! The same declarations and checks the services run at start (`audit_runtime::topics`),
//! printed as a table an operator can act on, with the fix for each problem.

use std::process::ExitCode;

use audit_runtime::{
    config::KafkaArgs,
    topics::{DEFAULT_TOPICS, TopicKind, TopicState, create_missing, inspect},
};
use clap::{Args, Subcommand};

/// Flags of `auditctl topics`.
#[derive(Debug, Args)]
pub struct TopicsArgs {
    #[command(subcommand)]
    command: TopicsCommand,
}

#[derive(Debug, Subcommand)]
enum TopicsCommand {
    /// Create the missing topics with their settings and check the others: the trail
    /// kept forever (or `--trail-retention-hours`), clear personal data kept
    /// `--personal-data-retention-hours`.
    ///
    /// Exit code 0 when every topic exists and the trail is safe (warnings are
    /// printed), 1 when a trail topic would lose records or the cluster failed.
    Ensure(EnsureArgs),
}

#[derive(Debug, Args)]
struct EnsureArgs {
    /// Cluster, partitions, replication and retention settings.
    #[command(flatten)]
    kafka: KafkaArgs,
}

/// Runs the subcommand; its exit code.
pub async fn run(args: TopicsArgs) -> ExitCode {
    let TopicsCommand::Ensure(args) = args.command;
    match ensure(&args).await {
        Ok(code) => code,
        Err(error) => {
            eprintln!("auditctl: {}", crate::report(&error));
            ExitCode::FAILURE
        }
    }
}

async fn ensure(args: &EnsureArgs) -> anyhow::Result<ExitCode> {
    let config = args.kafka.validate()?;
    let created = create_missing(&config, DEFAULT_TOPICS).await?;
    let states = inspect(&config, DEFAULT_TOPICS).await?;
    println!("{:<26} {:<14} {:<8} {:<11} {:<10}", "TOPIC", "HOLDS", "STATE", "RETENTION", "MIN.ISR");
    for state in &states {
        let verdict = match () {
            _ if created.contains(&state.name) => "created",
            _ if !state.exists => "missing",
            _ if !state.refusals.is_empty() => "AT RISK",
            _ if !state.warnings.is_empty() => "differs",
            _ => "ok",
        };
        let setting = |key: &str| state.settings.get(key).map_or("?", String::as_str);
        let retention = match setting("retention.ms") {
            "-1" => "forever".to_owned(),
            millis => {
                millis.parse::<u64>().map_or(millis.to_owned(), |millis| format!("{} h", millis / 3_600_000))
            }
        };
        let holds = holds(state);
        println!(
            "{:<26} {holds:<14} {verdict:<8} {retention:<11} {:<10}",
            state.name,
            setting("min.insync.replicas")
        );
    }
    for state in &states {
        for refusal in &state.refusals {
            println!("{}: {refusal}", state.name);
        }
        for warning in &state.warnings {
            println!("{}: {warning}", state.name);
        }
    }
    let safe = states.iter().all(|state| state.exists && state.refusals.is_empty());
    Ok(if safe { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

fn holds(state: &TopicState) -> &'static str {
    match state.kind {
        TopicKind::Trail => "the trail",
        TopicKind::PersonalData => "personal data",
        TopicKind::Tokenized => "tokens",
        TopicKind::Registry => "shard owners",
    }
}
