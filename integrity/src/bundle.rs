//! Offline bundles: a run of one tenant's records with everything needed to check,
//! without the product, that they are exactly what the tenant's signed log holds.
//!
//! A bundle is JSON lines: a [`BundleHeader`] (the tenant's signed checkpoint, the
//! JWK Set, the run's place in the tree, its range proof, consistency proofs from
//! checkpoints the tenant saved earlier, the time window asked for), then one
//! [`ExportLine`] per record, in sequence order.
//!
//! [`verify_bundle`] checks, against keys the caller trusts: the checkpoint's C2SP
//! signature; each record's signature and envelope; that sequences run from `first`
//! without a gap and each record links to the one before; that the run is exactly
//! leaves `[first - 1, first - 1 + count)` of the checkpoint's tree (one range proof
//! over every record's leaf hash); that the run covers the whole tree when no window
//! was asked, or is bounded by records outside the window (or the tree's ends) when
//! one was; and that every saved checkpoint of the tenant is consistent with the
//! bundle's (same size: same root; smaller: a consistency proof; larger: the bundle
//! shows an older tree than one already seen). Every failure is named.
//!
//! What it does not prove: that no record of the window was signed outside the run.
//! `created` is the event's own time, and records are signed in arrival order, so a
//! record that arrived later than its neighbours by more than the run lies outside it;
//! a bundle of the whole tree has no such limit.

use std::io::{self, BufRead};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use audit_schemas::SignedRecord;

use crate::export::ExportLine;
use crate::jws::CompactJws;
use crate::keys::{Jwks, PublicKeys};
use crate::merkle::{Hash, leaf_hash, verify_consistency, verify_range};
use crate::note::{Checkpoint, NoteKey, open};
use crate::verify::{ChainChecker, Verifier, check_envelope};

/// The format name in every bundle's header.
pub const BUNDLE_FORMAT: &str = "audit-trail-bundle/1";
/// Failures named at most; more are counted.
pub const MAX_FAILURES: usize = 20;

/// The first line of a bundle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BundleHeader {
    /// [`BUNDLE_FORMAT`].
    pub format: String,
    /// The tenant.
    pub tenant_id: String,
    /// The tenant's checkpoint the run is proven against: a C2SP signed note.
    pub checkpoint: String,
    /// The signing keys when the bundle was made (informative: verify with keys you
    /// trust).
    pub keys: Jwks,
    /// The `created` window asked for, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<Window>,
    /// Sequence of the run's first record (leaf `first - 1`); 0 when the run is empty.
    pub first: u64,
    /// Records in the run.
    pub count: u64,
    /// The run's range proof in the checkpoint's tree, base64 hashes.
    pub range_proof: Vec<String>,
    /// Consistency proofs from smaller trees the tenant saw before.
    #[serde(default)]
    pub consistency: Vec<Consistency>,
}

/// A `created` window, milliseconds, `[from, to)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    /// First millisecond in.
    pub from: i64,
    /// First millisecond out.
    pub to: i64,
}

impl Window {
    /// Whether `created` lies in the window.
    pub fn contains(&self, created: i64) -> bool {
        (self.from..self.to).contains(&created)
    }
}

/// A consistency proof from the tree of `size` leaves to the checkpoint's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Consistency {
    /// The older tree's size.
    pub size: u64,
    /// RFC 9162 consistency proof, base64 hashes.
    pub proof: Vec<String>,
}

/// Base64 of each hash.
pub fn encode_hashes(hashes: &[Hash]) -> Vec<String> {
    hashes.iter().map(|hash| STANDARD.encode(hash)).collect()
}

/// The hashes of `encoded`; `None` if one is not base64 of 32 bytes.
pub fn decode_hashes(encoded: &[String]) -> Option<Vec<Hash>> {
    encoded.iter().map(|hash| STANDARD.decode(hash).ok()?.try_into().ok()).collect()
}

/// What a bundle check found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BundleReport {
    /// The tenant.
    pub tenant: String,
    /// The checkpoint's tree size (0 when it could not be read).
    pub tree_size: u64,
    /// Records read.
    pub records: u64,
    /// Of which in the window (all of them without a window).
    pub in_window: u64,
    /// Saved checkpoints found consistent.
    pub consistent: u64,
    /// Every failure, the first [`MAX_FAILURES`] named.
    pub failures: Vec<String>,
    /// Failures beyond those named.
    pub more_failures: u64,
}

impl BundleReport {
    /// Whether nothing failed.
    pub fn is_valid(&self) -> bool {
        self.failures.is_empty()
    }

    fn fail(&mut self, reason: String) {
        if self.failures.len() < MAX_FAILURES {
            self.failures.push(reason);
        } else {
            self.more_failures += 1;
        }
    }
}

/// What a bundle is checked against.
pub struct Trusted<'a> {
    /// The signing keys the caller trusts.
    pub keys: &'a PublicKeys,
    /// Checkpoints the caller saw before (any tenant's: others are ignored).
    pub saved: &'a [Checkpoint],
}

/// Checks the bundle read from `reader`. Only reading fails; what the bundle holds
/// ends up in the report.
pub fn verify_bundle(mut reader: impl BufRead, trusted: &Trusted<'_>) -> io::Result<BundleReport> {
    let mut report = BundleReport::default();
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let header: BundleHeader = match serde_json::from_str(&line) {
        Ok(header) => header,
        Err(error) => {
            report.fail(format!("the first line is not a bundle header: {error}"));
            return Ok(report);
        }
    };
    report.tenant = header.tenant_id.clone();
    if header.format != BUNDLE_FORMAT {
        report.fail(format!("unknown bundle format {}", header.format));
        return Ok(report);
    }
    let checkpoint = match checkpoint(&header, trusted.keys) {
        Ok(checkpoint) => checkpoint,
        Err(reason) => {
            report.fail(reason);
            return Ok(report);
        }
    };
    report.tree_size = checkpoint.size;
    let run = read_run(reader, &header, trusted.keys, &mut report)?;
    check_run(&header, &checkpoint, &run, &mut report);
    check_saved(&header, &checkpoint, trusted.saved, &mut report);
    Ok(report)
}

/// The bundle's checkpoint, once its signature verifies under the tenant's origin.
fn checkpoint(header: &BundleHeader, keys: &PublicKeys) -> Result<Checkpoint, String> {
    let origin = header.checkpoint.split('\n').next().unwrap_or_default();
    if !origin.ends_with(&format!("/{}", header.tenant_id)) {
        return Err(format!(
            "the checkpoint's origin {origin:?} is not a log of tenant {}",
            header.tenant_id
        ));
    }
    open(&header.checkpoint, &NoteKey::all(origin, keys))
        .map_err(|error| format!("checkpoint refused: {error}"))
}

/// What the record lines held.
#[derive(Default)]
struct Run {
    leaves: Vec<Hash>,
    /// `created` of the first and the last record.
    ends: Option<(i64, i64)>,
}

/// Reads and checks every record line: signature, envelope, tenant, sequence, link.
fn read_run(
    reader: impl BufRead,
    header: &BundleHeader,
    keys: &PublicKeys,
    report: &mut BundleReport,
) -> io::Result<Run> {
    let verifier = Verifier::new(keys.clone());
    let mut chain = ChainChecker::default();
    let mut run = Run::default();
    let mut next = header.first;
    for (position, line) in reader.lines().enumerate() {
        let (line, number) = (line?, position as u64 + 2);
        if line.trim().is_empty() {
            continue;
        }
        let expected = next;
        report.records += 1;
        let parsed: ExportLine<Value> = match serde_json::from_str(&line) {
            Ok(parsed) => parsed,
            Err(error) => {
                report.fail(format!("line {number}: not a record line: {error}"));
                continue;
            }
        };
        if parsed.tenant_id != header.tenant_id {
            report.fail(format!("line {number}: a record of another tenant"));
        }
        if parsed.sequence != expected as i64 {
            report.fail(format!(
                "line {number}: sequence {} where {expected} was expected: a record missing, added or reordered",
                parsed.sequence
            ));
        }
        // One record missing is one failure, not one per record after it.
        next = u64::try_from(parsed.sequence).unwrap_or(expected).saturating_add(1);
        let created = parsed.created;
        run.ends = Some((run.ends.map_or(created, |(first, _)| first), created));
        if header.window.is_none_or(|window| window.contains(created)) {
            report.in_window += 1;
        }
        let leaf = CompactJws::parse(&parsed.jws).map(|jws| leaf_hash(&jws.payload));
        run.leaves.push(leaf.unwrap_or([0; 32]));
        let (envelope, _) = parsed.into_parts();
        check_record(&verifier, &mut chain, &envelope).unwrap_or_else(|reason| {
            report.fail(format!("line {number} (sequence {}): {reason}", envelope.sequence));
        });
    }
    Ok(run)
}

fn check_record(
    verifier: &Verifier,
    chain: &mut ChainChecker,
    envelope: &SignedRecord,
) -> Result<(), String> {
    let verified = verifier.verify_jws(&envelope.jws).map_err(|failure| failure.to_string())?;
    check_envelope(envelope, &verified).map_err(|failure| failure.to_string())?;
    chain.push(&verified).map_err(|failure| failure.to_string())
}

/// The run is the checkpoint's leaves it claims to be, and as wide as it must be.
fn check_run(header: &BundleHeader, checkpoint: &Checkpoint, run: &Run, report: &mut BundleReport) {
    if report.records != header.count {
        report.fail(format!("{} records where the header announces {}", report.records, header.count));
    }
    let size = checkpoint.size;
    let last = header.first + report.records.saturating_sub(1);
    if run.leaves.is_empty() {
        if header.window.is_none() && size > 0 {
            report.fail(format!("no record, but the checkpoint covers {size}"));
        }
        return;
    }
    let proven = decode_hashes(&header.range_proof)
        .ok_or_else(|| "the range proof holds a hash that is not base64 of 32 bytes".to_owned())
        .and_then(|proof| {
            verify_range(header.first.wrapping_sub(1), &run.leaves, size, &proof, &checkpoint.root).map_err(
                |error| {
                    format!("the records are not leaves {}..{last} of the checkpoint: {error}", header.first)
                },
            )
        });
    if let Err(reason) = proven {
        report.fail(reason);
    }
    let Some((first_created, last_created)) = run.ends else { return };
    let (first, window) = (header.first, header.window);
    let reason = match window {
        None if first != 1 => Some(format!("the records start at sequence {first}, not 1")),
        None if last != size => Some(format!(
            "the records end at sequence {last} but the checkpoint covers {size}: the tail is cut"
        )),
        Some(window) if first > 1 && window.contains(first_created) => Some(format!(
            "the run starts inside the window at sequence {first}: records before it may be missing"
        )),
        Some(window) if last < size && window.contains(last_created) => {
            Some(format!("the run ends inside the window at sequence {last} of {size}: the tail is cut"))
        }
        _ => None,
    };
    if let Some(reason) = reason {
        report.fail(reason);
    }
}

/// Every saved checkpoint of the tenant agrees with the bundle's.
fn check_saved(
    header: &BundleHeader,
    checkpoint: &Checkpoint,
    saved: &[Checkpoint],
    report: &mut BundleReport,
) {
    for old in saved.iter().filter(|old| old.origin == checkpoint.origin) {
        let result = if old.size > checkpoint.size {
            Err(format!(
                "the bundle's checkpoint covers {} records, fewer than the {} of one seen before: an old checkpoint replayed or the log rolled back",
                checkpoint.size, old.size
            ))
        } else if old.size == checkpoint.size {
            (old.root == checkpoint.root).then_some(()).ok_or_else(|| {
                format!("a fork: two checkpoints of {} records with different roots", old.size)
            })
        } else {
            consistent(header, old, checkpoint)
        };
        match result {
            Ok(()) => report.consistent += 1,
            Err(reason) => report.fail(reason),
        }
    }
}

fn consistent(header: &BundleHeader, old: &Checkpoint, new: &Checkpoint) -> Result<(), String> {
    let entry = header.consistency.iter().find(|entry| entry.size == old.size).ok_or_else(|| {
        format!("no consistency proof from the saved checkpoint of {} records (export with it)", old.size)
    })?;
    let proof = decode_hashes(&entry.proof).ok_or("a consistency proof hash is not base64 of 32 bytes")?;
    verify_consistency((old.size, &old.root), (new.size, &new.root), &proof).map_err(|error| {
        format!(
            "the checkpoint of {} records is not an extension of the saved one of {}: a split view ({error})",
            new.size, old.size
        )
    })
}

#[cfg(test)]
#[path = "bundle_tests.rs"]
mod tests;
