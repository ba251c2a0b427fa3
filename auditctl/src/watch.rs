//! `auditctl watch`: a tenant's own monitor of its trail. It asks the query-api for
//! the tenant's latest checkpoint every `--interval-ms`, checks its signature with
//! keys the tenant trusts, and keeps every checkpoint it accepted in `--checkpoints`.
//! A new checkpoint must extend the largest one kept (a consistency proof, asked of
//! the query-api and checked here); a different root for a size already seen is a
//! fork, a smaller tree a rollback or a replayed old checkpoint, and a proof that
//! fails a split view. Any of them is an alarm: said on stderr, exit code 3, so a
//! supervisor pages someone. Exit 1 when the query-api could not be asked (only with
//! `--once`: otherwise the watch retries), 2 when the flags are wrong.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use audit_integrity::PublicKeys;
use audit_integrity::bundle::decode_hashes;
use audit_integrity::merkle::verify_consistency;
use audit_integrity::note::{Checkpoint, NoteKey, open};
use clap::Args;
use serde_json::Value;

use crate::api::{Api, ApiArgs, Deadline, Failure};
use crate::saved::{Judgement, Saved, judge};

/// How long one call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// The exit code of an alarm.
const ALARM: u8 = 3;

/// Flags of `auditctl watch`.
#[derive(Debug, Args)]
pub struct WatchArgs {
    #[command(flatten)]
    api: ApiArgs,
    /// Where the checkpoints seen are kept (one directory per tenant).
    #[arg(long, value_name = "DIR")]
    checkpoints: PathBuf,
    /// JWK Set the checkpoints must verify with [default: <DATA_DIR>/keys/signing/jwks.json].
    #[arg(long, value_name = "JWKS_FILE")]
    jwks: Option<PathBuf>,
    /// Milliseconds between two looks.
    #[arg(long, default_value_t = 10_000)]
    interval_ms: u64,
    /// Look once and exit.
    #[arg(long)]
    once: bool,
}

/// Why a look ended.
enum Stop {
    /// The flags or the files cannot work.
    Failure(Failure),
    /// The trail showed an inconsistent history.
    Alarm(String),
}

impl From<Failure> for Stop {
    fn from(failure: Failure) -> Stop {
        Stop::Failure(failure)
    }
}

/// Watches until an alarm, or once; the exit code says how it went (module docs).
pub async fn run(args: WatchArgs) -> ExitCode {
    let watch = match Watch::new(&args) {
        Ok(watch) => watch,
        Err(failure) => return failure.report(),
    };
    loop {
        match watch.look().await {
            Ok(seen) => println!("{seen}"),
            Err(Stop::Alarm(alarm)) => {
                eprintln!("auditctl: ALARM for tenant {}: {alarm}", args.api.tenant());
                return ExitCode::from(ALARM);
            }
            Err(Stop::Failure(failure)) if args.once => return failure.report(),
            Err(Stop::Failure(Failure::Failed(message))) => eprintln!("auditctl: {message}; trying again"),
            Err(Stop::Failure(usage)) => return usage.report(),
        }
        if args.once {
            return ExitCode::SUCCESS;
        }
        tokio::time::sleep(Duration::from_millis(args.interval_ms)).await;
    }
}

struct Watch<'a> {
    api: Api,
    tenant: &'a str,
    keys: PublicKeys,
    saved: Saved,
}

impl<'a> Watch<'a> {
    fn new(args: &'a WatchArgs) -> Result<Watch<'a>, Failure> {
        let jwks = args.jwks.clone().unwrap_or_else(|| crate::keys::signing_jwks_file(args.api.data_dir()));
        let keys = PublicKeys::from_jwks_file(&jwks).map_err(|error| {
            Failure::Usage(format!("cannot read the jwk set {}: {error}", jwks.display()))
        })?;
        let api = Api::new(&args.api, Deadline::Within(CALL_TIMEOUT))?;
        Ok(Watch { api, tenant: args.api.tenant(), keys, saved: Saved::new(&args.checkpoints) })
    }

    /// One look: the latest checkpoint, judged against those kept.
    async fn look(&self) -> Result<String, Stop> {
        let body: Value = json(self.api.get(&[".checkpoint"], &[]).await?).await?;
        let note = body["note"].as_str().unwrap_or_default();
        let origin = note.split('\n').next().unwrap_or_default();
        if !origin.ends_with(&format!("/{}", self.tenant)) {
            return Err(Stop::Alarm(format!("the checkpoint served is of another log ({origin:?})")));
        }
        let checkpoint = open(note, &NoteKey::all(origin, &self.keys)).map_err(|error| {
            Stop::Alarm(format!("the checkpoint served does not verify with the trusted keys: {error}"))
        })?;
        let saved = self.saved.checkpoints(self.tenant, &self.keys).map_err(Failure::Usage)?;
        let size = checkpoint.size;
        match judge(&saved, &checkpoint) {
            Judgement::Known => return Ok(format!("checkpoint of {size} records, seen before")),
            Judgement::Fork(size) => {
                return Err(Stop::Alarm(format!("a fork: another root for the {size} records seen before")));
            }
            Judgement::Rollback(seen) => {
                return Err(Stop::Alarm(format!(
                    "a checkpoint of {size} records after one of {seen}: the log went back or an old checkpoint was replayed"
                )));
            }
            Judgement::Extends(old) => self.consistent(&old, &checkpoint).await?,
            Judgement::First => {}
        }
        self.saved.save(self.tenant, size, note).map_err(Failure::Failed)?;
        Ok(format!("checkpoint of {size} records: consistent, kept"))
    }

    /// The query-api's consistency proof from `old` to `new` verifies.
    async fn consistent(&self, old: &Checkpoint, new: &Checkpoint) -> Result<(), Stop> {
        let (first, second) = (old.size.to_string(), new.size.to_string());
        let query = [("first", first.as_str()), ("second", second.as_str())];
        let body: Value = json(self.api.get(&[".consistency"], &query).await?).await?;
        let proof: Vec<String> = serde_json::from_value(body["proof"].clone()).unwrap_or_default();
        let proof = decode_hashes(&proof)
            .ok_or_else(|| Stop::Alarm("a consistency proof that is not hashes".into()))?;
        verify_consistency((old.size, &old.root), (new.size, &new.root), &proof).map_err(|error| {
            Stop::Alarm(format!(
                "the checkpoint of {} records does not extend the one of {} kept: a split view ({error})",
                new.size, old.size
            ))
        })
    }
}

async fn json(response: reqwest::Response) -> Result<Value, Failure> {
    response
        .json()
        .await
        .map_err(|error| Failure::Failed(format!("the query-api's answer is not json: {error}")))
}
