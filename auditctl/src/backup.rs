//! `auditctl backup`: an online, consistent copy of a running stack's durable parts,
//! with a manifest that `auditctl restore` checks before it writes anything.
//!
//! Order is what makes the copy consistent without stopping anything:
//! 1. the broker's storage, committed offsets before logs, topics from the pipeline's
//!    end to its start (`audit_broker::backup`): every copied offset is covered by the
//!    copied logs and every copied record's sources are in the copy, so each stage
//!    resumes after a restore exactly where its copied offset says, `audit.raw` is the
//!    one cut of the backup, and nothing acknowledged before the backup began is lost;
//!    each tenant's chain head is then read back from the copy (`backup_heads`);
//! 2. the vault's and the notifier's databases, after the trail, through SQLite's
//!    `VACUUM INTO` (a transactionally consistent copy): every token a copied record
//!    holds was created before that record was written, so the copy has it;
//! 3. the signing keys and the token issuer's key.
//!
//! The master keys are never written beside the data they protect: to
//! `--master-keys-to` (another disk, a secret store's import directory) or not at
//! all, with a word on where they must be kept. The index is not copied: the indexer
//! rebuilds it from `audit.signed` when it starts without one.

use std::{
    path::{Path, PathBuf},
    time::Instant,
};

use anyhow::{Context, bail};
use audit_broker::backup::copy_storage;
use clap::Args;

use crate::{
    backup_heads::chain_heads,
    manifest::{self, FileEntry, Manifest, PartitionEntry, Trail},
};

/// Flags of `auditctl backup`.
#[derive(Debug, Args)]
pub struct BackupArgs {
    /// Data directory of the running stack.
    #[arg(long, env = "AUDIT_DATA_DIR", default_value = "./data")]
    data_dir: PathBuf,
    /// Directory to write the backup to; must not exist or be empty.
    #[arg(long)]
    to: PathBuf,
    /// Directory to write the master keys to, apart from the backup; without it they
    /// are left out and must be kept safe where they are.
    #[arg(long)]
    master_keys_to: Option<PathBuf>,
    /// Prometheus text file to write the backup's time, duration and size to (for
    /// node_exporter's textfile collector), replaced after each successful backup.
    #[arg(long, env = "AUDIT_BACKUP_METRICS_FILE")]
    metrics_file: Option<PathBuf>,
}

/// The master keys under a data directory, by the name they take apart from it.
pub const MASTER_KEYS: [(&str, &str); 2] =
    [("vault.master.key", "vault/master.key"), ("notifier.master.key", "notifier/master.key")];

/// The pipeline's topics from its end to its start: each copied after the records made
/// from it, so `audit.raw` is the one cut of the whole backup (see
/// `audit_broker::backup`).
const DOWNSTREAM_FIRST: [&str; 7] = [
    "audit.checkpoints",
    "audit.signer-checkpoints",
    "audit.signed",
    "audit.tokenized",
    "audit.normalized",
    "audit.dlq",
    "audit.raw",
];

/// The databases copied with `VACUUM INTO`.
const DATABASES: [&str; 2] = ["vault/vault.db", "notifier/notifier.db"];

/// Takes the backup and prints what it holds.
pub async fn run(args: BackupArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    prepare_empty(&args.to)?;
    let trail = copy_trail(&args.data_dir, &args.to).await?;
    for database in DATABASES {
        let source = args.data_dir.join(database);
        if source.exists() {
            step(&format!("database {database}"));
            vacuum_into(&source, &args.to.join(database)).await?;
        }
    }
    step("keys");
    copy_tree(&args.data_dir.join("keys"), &args.to.join("keys"))?;
    let master_keys = store_master_keys(&args)?;
    let files = manifest::describe(&args.to)?;
    let manifest = Manifest::new(trail, files, master_keys, started.elapsed());
    manifest.write(&args.to)?;
    if let Some(path) = &args.metrics_file {
        crate::backup_metrics::write(path, &manifest)?;
    }
    println!("{}", manifest.summary(&args.to));
    Ok(())
}

fn step(what: &str) {
    eprintln!("backing up {what}");
}

fn prepare_empty(dir: &Path) -> anyhow::Result<()> {
    if dir.exists() && std::fs::read_dir(dir)?.next().is_some() {
        bail!("{} is not empty: a backup goes to a new directory", dir.display());
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))
}

/// The embedded broker's storage; none when the stack runs on a Kafka cluster, whose
/// own replication keeps the trail.
async fn copy_trail(data_dir: &Path, to: &Path) -> anyhow::Result<Trail> {
    let source = data_dir.join("broker");
    if !source.exists() {
        eprintln!("no broker storage under {}: the Kafka cluster keeps the trail", data_dir.display());
        return Ok(Trail::default());
    }
    step("the broker's storage (the trail)");
    let copied = copy_storage(&source, &to.join("broker"), &DOWNSTREAM_FIRST)
        .context("copying the broker's storage")?;
    let partitions: Vec<PartitionEntry> = copied.into_iter().map(PartitionEntry::from).collect();
    step("each tenant's chain head");
    let chains = chain_heads(&to.join("broker"), &partitions).await?;
    Ok(Trail { partitions, chains })
}

/// A transactionally consistent copy of the SQLite database at `source`, private.
async fn vacuum_into(source: &Path, target: &Path) -> anyhow::Result<()> {
    let parent = target.parent().expect("a database path has a directory");
    std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    let database = libsql::Builder::new_local(source).build().await.context("opening the database")?;
    let connection = database.connect().context("connecting to the database")?;
    let quoted = target.display().to_string().replace('\'', "''");
    connection
        .execute(&format!("VACUUM INTO '{quoted}'"), ())
        .await
        .with_context(|| format!("copying {}", source.display()))?;
    private(target)
}

fn private(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("making {} private", path.display()))
}

/// Copies the files under `from` to `to`, modes included (keys stay private).
pub fn copy_tree(from: &Path, to: &Path) -> anyhow::Result<()> {
    if !from.exists() {
        return Ok(());
    }
    std::fs::create_dir_all(to).with_context(|| format!("creating {}", to.display()))?;
    for entry in std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let path = entry?.path();
        let target = to.join(path.file_name().expect("a directory entry has a name"));
        if path.is_dir() {
            copy_tree(&path, &target)?;
        } else {
            std::fs::copy(&path, &target).with_context(|| format!("copying {}", path.display()))?;
        }
    }
    Ok(())
}

/// Writes the master keys to `--master-keys-to`, or says where they must stay.
fn store_master_keys(args: &BackupArgs) -> anyhow::Result<Vec<FileEntry>> {
    let present: Vec<(&str, PathBuf)> = MASTER_KEYS
        .iter()
        .map(|(name, relative)| (*name, args.data_dir.join(relative)))
        .filter(|(_, path)| path.exists())
        .collect();
    let mut entries = Vec::new();
    for (name, path) in &present {
        entries.push(FileEntry::of(Path::new(name), path)?);
        match &args.master_keys_to {
            Some(dir) => {
                std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
                std::fs::copy(path, dir.join(name)).with_context(|| format!("copying {}", path.display()))?;
            }
            None => eprintln!(
                "not in the backup: {} (keep it safe apart from the backup; restore needs it)",
                path.display()
            ),
        }
    }
    Ok(entries)
}
