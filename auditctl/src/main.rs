//! `auditctl`: the audit trail's command line.

mod api;
mod backup;
mod backup_heads;
mod backup_metrics;
mod export;
mod keys;
mod manifest;
mod produce;
mod reindex;
mod restore;
mod saved;
mod search;
mod token;
mod topics;
mod up;
mod verify;
mod watch;
mod webhooks;

use std::process::ExitCode;

use audit_service::telemetry::{self, LogArgs};
use clap::{Parser, Subcommand};

/// The audit trail's command line.
#[derive(Debug, Parser)]
#[command(name = "auditctl", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    log: LogArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the whole stack in this process: broker (unless --kafka) and every service.
    Up(up::UpArgs),
    /// Generate realistic raw audit events into audit.raw.
    Produce(produce::ProduceArgs),
    /// Mint a bearer token the local stack accepts.
    Token(token::TokenArgs),
    /// Manage the record signing keys: list, rotate, print the JWK Set.
    Keys(keys::KeysArgs),
    /// Verify an export offline: signatures, stored records, each tenant's chain.
    ///
    /// Exit code 0 when every record validated and no chain broke, 1 when any did
    /// not, 2 when the check could not run (unreadable file, bad JWK Set).
    Verify(verify::VerifyArgs),
    /// Rebuild the search shards from audit.signed (stop the indexer first).
    Reindex(reindex::ReindexArgs),
    /// Search a tenant's records through the query-api; prints the SCIM ListResponse.
    ///
    /// Exit code 0 on an answer, 1 when the query-api could not be reached, refused
    /// or failed, 2 when the flags are wrong.
    Search(search::SearchArgs),
    /// Export a tenant's signed records through the query-api, for `auditctl verify`;
    /// with --bundle, an offline bundle with the signed checkpoint and proofs.
    ///
    /// Exit code 0 when the whole export was written, 1 when the query-api could not
    /// be reached, refused or failed, or the export broke off, 2 when the flags are
    /// wrong.
    Export(export::ExportArgs),
    /// Watch a tenant's signed checkpoints: keep each, check each extends the last,
    /// alarm on a fork, a rollback or a split view.
    ///
    /// Exit code 3 on an alarm, 1 when the query-api could not be asked (with --once;
    /// otherwise it retries), 2 when the flags are wrong.
    Watch(watch::WatchArgs),
    /// Manage a tenant's webhooks through the notifier: create, list, delete, ping,
    /// deliveries.
    ///
    /// Exit code 0 on an answer, 1 when the notifier could not be reached, refused or
    /// failed, 2 when the flags are wrong.
    Webhooks(webhooks::WebhooksArgs),
    /// Create the trail's topics with the retention each needs, or check them.
    ///
    /// Exit code 0 when every topic exists and the trail is safe, 1 when a trail topic
    /// would lose records or the cluster could not be reached.
    Topics(topics::TopicsArgs),
    /// Copy a running stack's durable parts (the trail, the vault, the notifier, the
    /// keys) to a new directory, with a manifest; the master keys go apart.
    Backup(backup::BackupArgs),
    /// Check a backup against its manifest and write it into an empty data directory.
    Restore(restore::RestoreArgs),
}

/// mimalloc, tuned: `audit-alloc` says why.
#[global_allocator]
static ALLOCATOR: audit_alloc::Tuned = audit_alloc::Tuned;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    telemetry::init(&cli.log);
    let result = match cli.command {
        Command::Up(args) => up::run(args).await,
        Command::Produce(args) => produce::run(args).await,
        Command::Token(args) => token::run(args),
        Command::Keys(args) => keys::run(args),
        Command::Reindex(args) => reindex::run(args).await,
        Command::Backup(args) => backup::run(args).await,
        Command::Restore(args) => restore::run(args),
        // Their own exit codes: 1 and 2 mean different failures.
        Command::Verify(args) => return verify::run(args),
        Command::Search(args) => return search::run(args).await,
        Command::Export(args) => return export::run(args).await,
        Command::Watch(args) => return watch::run(args).await,
        Command::Webhooks(args) => return webhooks::run(args).await,
        Command::Topics(args) => return topics::run(args).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("auditctl: {}", report(&error));
            ExitCode::FAILURE
        }
    }
}

/// `error` and its causes, each cause once: many of our errors already name their
/// source in their own message.
pub fn report(error: &anyhow::Error) -> String {
    let mut text = error.to_string();
    for cause in error.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text = format!("{text}: {cause}");
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::report;

    #[test]
    fn a_cause_already_in_the_message_is_not_repeated() {
        let io = std::io::Error::other("disk on fire");
        let repeated = anyhow::Error::new(io).context("cannot read key: disk on fire");
        assert_eq!(report(&repeated), "cannot read key: disk on fire");
        let io = std::io::Error::other("disk on fire");
        let separate = anyhow::Error::new(io).context("cannot read key");
        assert_eq!(report(&separate), "cannot read key: disk on fire");
    }
}
