//! `auditctl restore`: a backup written back into an empty data directory, after every
//! file was checked against the manifest (a changed, missing or unlisted file refuses
//! the whole restore, naming it) and the master keys against their digests.
//!
//! Nothing is written until every check passed. After a restore, `auditctl up` starts
//! on the directory: each stage resumes from its copied offsets, the signer continues
//! each tenant's chain from the copied `audit.signed`, and the indexer rebuilds the
//! index.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Args;

use crate::{
    backup::{MASTER_KEYS, copy_tree},
    manifest::{FileEntry, Manifest},
};

/// Flags of `auditctl restore`.
#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The backup directory (`auditctl backup --to`).
    #[arg(long)]
    from: PathBuf,
    /// Data directory to restore into; must not exist or be empty.
    #[arg(long, env = "AUDIT_DATA_DIR", default_value = "./data")]
    data_dir: PathBuf,
    /// Directory holding the master keys the backup left out (`--master-keys-to`).
    #[arg(long)]
    master_keys_from: Option<PathBuf>,
}

/// Checks the backup, then writes it into the data directory.
pub fn run(args: RestoreArgs) -> anyhow::Result<()> {
    let manifest = Manifest::read(&args.from)?;
    manifest.check(&args.from)?;
    let keys = master_keys(&manifest, args.master_keys_from.as_deref())?;
    if args.data_dir.exists() && std::fs::read_dir(&args.data_dir)?.next().is_some() {
        bail!("{} is not empty: restore into a new data directory", args.data_dir.display());
    }
    for part in ["broker", "vault", "notifier", "keys"] {
        copy_tree(&args.from.join(part), &args.data_dir.join(part))?;
    }
    for (source, relative) in keys {
        let target = args.data_dir.join(relative);
        std::fs::create_dir_all(target.parent().expect("a key has a directory"))?;
        std::fs::copy(&source, &target).with_context(|| format!("copying {}", source.display()))?;
    }
    println!(
        "restored {} files ({:.1} MB) from a backup of {} into {}; start the stack on it, the indexer rebuilds the index",
        manifest.files.len(),
        manifest.bytes() as f64 / 1e6,
        manifest.created,
        args.data_dir.display()
    );
    Ok(())
}

/// Each master key the backup names, found in `dir` and matching its digest, with
/// where it goes under the data directory.
fn master_keys(manifest: &Manifest, dir: Option<&Path>) -> anyhow::Result<Vec<(PathBuf, &'static str)>> {
    let mut found = Vec::new();
    for expected in &manifest.master_keys {
        let Some(dir) = dir else {
            bail!(
                "the backup was taken without its master keys: give --master-keys-from DIR holding {}",
                expected.path
            );
        };
        let path = dir.join(&expected.path);
        if !path.is_file() {
            bail!("{} is not in {}", expected.path, dir.display());
        }
        if FileEntry::of(Path::new(&expected.path), &path)? != *expected {
            bail!("{} is not the master key this backup was taken with", path.display());
        }
        let relative = MASTER_KEYS
            .iter()
            .find(|(name, _)| *name == expected.path)
            .map(|(_, relative)| *relative)
            .with_context(|| format!("unknown master key {}", expected.path))?;
        found.push((path, relative));
    }
    Ok(found)
}
