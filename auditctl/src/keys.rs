//! `auditctl keys`: the record signing key ring under the data directory.
//!
//! `list` shows every key and whether it signs or since when it is retired, `rotate`
//! makes a new active key (the old one stays published, so older records keep
//! verifying, and its private half is deleted), `jwks` prints the JWK Set verifiers
//! need. Only `rotate --create` creates a key ring: a mistyped `--dir` must fail
//! rather than start a new key ring nobody publishes.

use std::path::{Path, PathBuf};

use anyhow::Context;
use audit_integrity::keys::KeyEntry;
use audit_integrity::{KeyDir, KeyError};
use clap::{Args, Subcommand};

/// Flags of `auditctl keys`.
#[derive(Debug, Args)]
pub struct KeysArgs {
    #[command(subcommand)]
    command: KeysCommand,
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// List every signing key: id, creation time, active or retired since when.
    List(KeyDirArgs),
    /// Make a new active signing key and retire the current one; prints the new key id.
    ///
    /// The retired key stays in the JWK Set, so every record it signed keeps verifying,
    /// including those a running signer signs before it picks up the new key; its
    /// private half is deleted.
    Rotate(RotateArgs),
    /// Print the JWK Set of every signing key, active and retired.
    Jwks(KeyDirArgs),
}

/// Where the key ring is.
#[derive(Debug, Args)]
struct KeyDirArgs {
    /// Data directory of the stack.
    #[arg(long, env = "AUDIT_DATA_DIR", default_value = "./data")]
    data_dir: PathBuf,
    /// Key directory [default: <DATA_DIR>/keys/signing].
    #[arg(long)]
    dir: Option<PathBuf>,
}

impl KeyDirArgs {
    fn dir(&self) -> PathBuf {
        self.dir.clone().unwrap_or_else(|| signing_key_dir(&self.data_dir))
    }
}

#[derive(Debug, Args)]
struct RotateArgs {
    #[command(flatten)]
    location: KeyDirArgs,
    /// Create the key ring with its first key if the directory holds none yet
    /// (nothing is retired then); without it a missing key ring is an error.
    #[arg(long)]
    create: bool,
}

/// The signing key directory of the stack on `data_dir`.
pub fn signing_key_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("keys").join("signing")
}

/// The JWK Set the key directory on `data_dir` publishes (`KeyDir::jwks_path`).
pub fn signing_jwks_file(data_dir: &Path) -> PathBuf {
    signing_key_dir(data_dir).join("jwks.json")
}

/// Runs the subcommand.
pub fn run(args: KeysArgs) -> anyhow::Result<()> {
    match args.command {
        KeysCommand::List(location) => list(&open(&location.dir())?),
        KeysCommand::Rotate(rotate_args) => rotate(&rotate_args),
        KeysCommand::Jwks(location) => {
            let jwks = open(&location.dir())?.jwks();
            println!("{}", serde_json::to_string_pretty(&jwks).context("printing the jwk set")?);
            Ok(())
        }
    }
}

fn list(keys: &KeyDir) -> anyhow::Result<()> {
    let width = keys.entries().iter().map(|entry| entry.kid.len()).max().unwrap_or(0).max(3);
    println!("{:<width$}  {:<20}  STATUS", "KID", "CREATED");
    for entry in keys.entries() {
        println!("{:<width$}  {:<20}  {}", entry.kid, time(entry.created), status(keys, entry));
    }
    Ok(())
}

fn status(keys: &KeyDir, entry: &KeyEntry) -> String {
    match entry.retired {
        Some(retired) => format!("retired {}", time(retired)),
        None if entry.kid == keys.active_kid() => "active".to_owned(),
        // Only a hand-edited key ring gets here; say so rather than guess.
        None => "not retired, not active".to_owned(),
    }
}

fn rotate(args: &RotateArgs) -> anyhow::Result<()> {
    let dir = args.location.dir();
    let kid = match KeyDir::open(&dir) {
        Ok(mut keys) => {
            let retired = keys.active_kid().to_owned();
            let kid = keys.rotate()?;
            eprintln!("retired {retired}; the jwk set in {} lists both", keys.jwks_path().display());
            kid
        }
        Err(error) if args.create && is_missing(&error) => {
            let keys = KeyDir::open_or_create(&dir)?;
            eprintln!("created a key ring in {}", dir.display());
            keys.active_kid().to_owned()
        }
        Err(error) => return Err(explain(error, &dir)),
    };
    println!("{kid}");
    Ok(())
}

/// Opens an existing key ring; a missing one is an error that says how to make one.
fn open(dir: &Path) -> anyhow::Result<KeyDir> {
    KeyDir::open(dir).map_err(|error| explain(error, dir))
}

fn explain(error: KeyError, dir: &Path) -> anyhow::Error {
    if is_missing(&error) {
        return anyhow::anyhow!(
            "no key ring in {} (`auditctl up` creates it, or `auditctl keys rotate --create`)",
            dir.display()
        );
    }
    error.into()
}

fn is_missing(error: &KeyError) -> bool {
    matches!(error, KeyError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
}

/// Milliseconds since the epoch as RFC 3339 UTC, to the second.
fn time(millis: i64) -> String {
    match chrono::DateTime::from_timestamp_millis(millis) {
        Some(time) => time.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        None => format!("{millis} ms"),
    }
}
