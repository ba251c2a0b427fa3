//! Exports of the trail and their offline verification (`auditctl verify`).
//!
//! An export is JSON lines, one signed record per line: the envelope published on
//! `audit.signed` (`tenantId`, `id`, `created`, `sequence`, `jws`) and optionally
//! `record`, the stored tokenized record. A line is validated when its JWS verifies
//! under the trusted keys, its envelope agrees with the signed payload and, when
//! present, its stored record is exactly the signed one: a field the signature does
//! not cover, even an extra one, is a mismatch. Unknown line fields make the line
//! unparsable, so nothing unsigned rides along unnoticed.
//!
//! The chain is checked per tenant in file order, anchored at each tenant's first
//! line: records cut from the start or the end of a tenant's run are not visible in
//! the export alone. A record whose signature verifies takes its place in the chain
//! even when its envelope or stored copy is wrong (the signed payload is authentic);
//! one whose signature fails cannot, so the next record of its tenant shows a gap.
//!
//! Verification never panics on input and keeps bounded memory: one batch of lines,
//! lines of at most [`MAX_LINE_BYTES`], one chain head per tenant, at most
//! [`MAX_REASONS`] distinct reasons with [`EXAMPLE_LINES`] line numbers each.

use std::io::{self, BufRead, Read};

use audit_schemas::{SignedRecord, TokenizedRecord};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub mod report;

pub use report::{
    ChainReport, EXAMPLE_LINES, ExportReport, Group, MAX_REASONS, OTHER_REASONS, Tally, Unparsable,
};

use super::verify::{ChainChecker, Failure, Verified, Verifier, check_envelope, check_stored};

/// Lines verified together by one Ed25519 batch equation.
pub const BATCH_LINES: usize = 256;
/// Longest line read; a longer one is skipped and reported unparsable.
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// One line of an export. `R` is the stored record's type: [`TokenizedRecord`] to
/// write, a raw JSON value to verify exactly what the file says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportLine<R = TokenizedRecord> {
    /// Tenant the record belongs to.
    #[serde(rename = "tenantId")]
    pub tenant_id: String,
    /// Record id.
    pub id: String,
    /// Milliseconds since the Unix epoch, UTC.
    pub created: i64,
    /// Position in the tenant's chain, from 1.
    pub sequence: i64,
    /// JWS compact serialization carrying the canonical payload.
    pub jws: String,
    /// The stored record, which must equal the signed payload's record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<R>,
}

impl<R> ExportLine<R> {
    /// The line of `envelope`, with the stored record or without.
    pub fn new(envelope: SignedRecord, record: Option<R>) -> ExportLine<R> {
        let SignedRecord { tenant_id, id, created, sequence, jws, .. } = envelope;
        ExportLine { tenant_id, id, created, sequence, jws, record }
    }

    /// The envelope and the stored record.
    pub fn into_parts(self) -> (SignedRecord, Option<R>) {
        let ExportLine { tenant_id, id, created, sequence, jws, record } = self;
        (SignedRecord { tenant_id, id, created, sequence, jws, tree_hashes: Vec::new() }, record)
    }
}

/// Whether chain continuity is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChainMode {
    /// Each tenant's records must follow one another, linked by hash.
    Check,
    /// Records are checked one by one only.
    Skip,
}

/// What [`verify_export`] checks beyond each record.
#[derive(Debug, Clone, Copy)]
pub struct ExportCheck {
    /// Chain continuity.
    pub chain: ChainMode,
}

/// Verifies every line of an export read from `reader` against `verifier`.
///
/// `progress` is called after each batch with the bytes read so far. Only reading
/// fails; whatever the lines hold ends up in the report.
pub fn verify_export(
    mut reader: impl BufRead,
    verifier: &Verifier,
    options: ExportCheck,
    mut progress: impl FnMut(u64),
) -> io::Result<ExportReport> {
    let mut run = Run::new(verifier, options);
    let mut buffer = Vec::new();
    let (mut bytes, mut number) = (0u64, 0u64);
    loop {
        let line = read_line(&mut reader, &mut buffer, &mut bytes)?;
        number += 1;
        match line {
            Line::End => break,
            Line::Oversized => run.unparsable(number, format!("line longer than {MAX_LINE_BYTES} bytes")),
            Line::Read => run.take(number, &buffer),
        }
        if run.batch.len() >= BATCH_LINES {
            run.flush();
            progress(bytes);
        }
    }
    run.flush();
    progress(bytes);
    Ok(run.finish())
}

enum Line {
    Read,
    Oversized,
    End,
}

/// Reads the next line, without its line ending, into `buffer`; a line longer than
/// [`MAX_LINE_BYTES`] is consumed without being kept.
fn read_line(reader: &mut impl BufRead, buffer: &mut Vec<u8>, bytes: &mut u64) -> io::Result<Line> {
    buffer.clear();
    let read = (&mut *reader).take(MAX_LINE_BYTES as u64 + 1).read_until(b'\n', buffer)?;
    *bytes += read as u64;
    if read == 0 {
        return Ok(Line::End);
    }
    let ended = buffer.last() == Some(&b'\n');
    if !ended && buffer.len() > MAX_LINE_BYTES {
        while !matches!(buffer.last(), Some(b'\n')) {
            buffer.clear();
            let read = (&mut *reader).take(64 * 1024).read_until(b'\n', buffer)?;
            *bytes += read as u64;
            if read == 0 {
                break;
            }
        }
        buffer.clear();
        return Ok(Line::Oversized);
    }
    while matches!(buffer.last(), Some(b'\n' | b'\r')) {
        buffer.pop();
    }
    Ok(Line::Read)
}

/// A parsed line waiting for its batch.
struct Pending {
    line: u64,
    envelope: SignedRecord,
    record: Option<(TokenizedRecord, Value)>,
}

/// The state of one verification run.
struct Run<'a> {
    verifier: &'a Verifier,
    chain: Option<ChainChecker>,
    batch: Vec<Pending>,
    report: ExportReport,
}

impl<'a> Run<'a> {
    fn new(verifier: &'a Verifier, options: ExportCheck) -> Run<'a> {
        let checking = options.chain == ChainMode::Check;
        let report = ExportReport { chain: checking.then(ChainReport::default), ..ExportReport::default() };
        let chain = checking.then(ChainChecker::default);
        Run { verifier, chain, batch: Vec::with_capacity(BATCH_LINES), report }
    }

    /// Parses line `number`; blank lines are not records and are passed over.
    fn take(&mut self, number: u64, bytes: &[u8]) {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return;
        }
        match parse_line(bytes) {
            Ok((envelope, record)) => self.batch.push(Pending { line: number, envelope, record }),
            Err(error) => self.unparsable(number, error),
        }
    }

    fn unparsable(&mut self, number: u64, error: String) {
        self.report.lines += 1;
        self.report.failed += 1;
        self.report.unparsable.add(number, error);
    }

    fn flush(&mut self) {
        let results = {
            let jws: Vec<&str> = self.batch.iter().map(|pending| pending.envelope.jws.as_str()).collect();
            self.verifier.verify_batch(&jws)
        };
        let batch = std::mem::take(&mut self.batch);
        for (pending, result) in batch.into_iter().zip(results) {
            self.settle(pending, result);
        }
    }

    fn settle(&mut self, pending: Pending, result: Result<Verified, Failure>) {
        self.report.lines += 1;
        let checked = result.and_then(|verified| {
            if let (Some(chain), Some(report)) = (&mut self.chain, &mut self.report.chain)
                && let Err(broken) = chain.push(&verified)
            {
                report.breaks.add(broken.to_string(), pending.line);
            }
            check_line(&pending, &verified)
        });
        match checked {
            Ok(()) => self.report.validated += 1,
            Err(failure) => {
                self.report.failed += 1;
                self.report.failures.add(failure.to_string(), pending.line);
            }
        }
    }

    fn finish(mut self) -> ExportReport {
        if let (Some(chain), Some(report)) = (&self.chain, &mut self.report.chain) {
            report.tenants = chain.heads().count() as u64;
        }
        self.report
    }
}

fn parse_line(bytes: &[u8]) -> Result<(SignedRecord, Option<(TokenizedRecord, Value)>), String> {
    let line: ExportLine<Value> = serde_json::from_slice(bytes).map_err(|error| parse_error(&error))?;
    let (envelope, raw) = line.into_parts();
    let record = match raw {
        None => None,
        Some(raw) => {
            let record = TokenizedRecord::deserialize(&raw).map_err(|error| format!("record: {error}"))?;
            Some((record, raw))
        }
    };
    Ok((envelope, record))
}

/// serde_json's message, positioned by column only: every line is one JSON document,
/// and its "line 1" would read as the file's line 1.
fn parse_error(error: &serde_json::Error) -> String {
    let text = error.to_string();
    let position = format!(" at line {} column {}", error.line(), error.column());
    match text.strip_suffix(&position) {
        Some(message) => format!("{message} at column {}", error.column()),
        None => text,
    }
}

/// The checks beyond the signature: envelope, then the stored record if any.
fn check_line(pending: &Pending, verified: &Verified) -> Result<(), Failure> {
    check_envelope(&pending.envelope, verified)?;
    let Some((record, raw)) = &pending.record else {
        return Ok(());
    };
    check_stored(record, verified)?;
    check_unsigned_fields(raw, record)
}

/// The typed record drops fields it does not know; the file's record must not have
/// any, or it would carry content no signature covers.
fn check_unsigned_fields(raw: &Value, record: &TokenizedRecord) -> Result<(), Failure> {
    let typed = serde_json::to_value(record).unwrap_or_default();
    if same(raw, &typed) {
        return Ok(());
    }
    let mut fields: Vec<String> = match (raw, &typed) {
        (Value::Object(raw), Value::Object(typed)) => raw
            .iter()
            .filter(|(name, value)| !typed.get(*name).is_some_and(|typed| same(value, typed)))
            .map(|(name, _)| name.clone())
            .collect(),
        _ => Vec::new(),
    };
    if fields.is_empty() {
        fields.push("encoding".into());
    }
    Err(Failure::RecordMismatch { fields })
}

/// Equal JSON, except that a field the typed side has as `null` may be absent.
fn same(raw: &Value, typed: &Value) -> bool {
    match (raw, typed) {
        (Value::Object(raw), Value::Object(typed)) => {
            raw.iter().all(|(name, value)| typed.get(name).is_some_and(|typed| same(value, typed)))
                && typed.iter().all(|(name, value)| value.is_null() || raw.contains_key(name))
        }
        (Value::Array(raw), Value::Array(typed)) => {
            raw.len() == typed.len() && raw.iter().zip(typed).all(|(raw, typed)| same(raw, typed))
        }
        _ => raw == typed,
    }
}

#[cfg(test)]
#[path = "export_tests.rs"]
mod tests;
