//! `auditctl verify`: offline verification of an export or a bundle against the
//! published keys.
//!
//! Needs nothing but the file and a JWK Set: no broker, no service. A bundle (its
//! first line says so) is checked against its signed checkpoint and proofs, and
//! against the checkpoints saved in `--checkpoints`. Prints the
//! report's summary on stdout and exits 0 when every record validated and no chain
//! broke, 1 when something did not verify, 2 when the check could not run at all
//! (unreadable file, bad JWK Set), so scripts can tell "tampered" from "not checked".

use std::fs::File;
use std::io::{BufRead, BufReader, IsTerminal};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use audit_integrity::bundle::{BUNDLE_FORMAT, BundleReport, Trusted, verify_bundle};
use audit_integrity::{ChainMode, ExportCheck, ExportReport, KeyError, PublicKeys, Verifier, verify_export};

use crate::saved::Saved;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

/// Flags of `auditctl verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The export: JSON lines, one signed record per line.
    file: PathBuf,
    /// JWK Set of the signing keys, current and retired
    /// [default: <DATA_DIR>/keys/signing/jwks.json].
    #[arg(long, value_name = "JWKS_FILE")]
    jwks: Option<PathBuf>,
    /// Check each record alone, not the order and links of each tenant's chain (for a
    /// filtered export or one not in log order).
    #[arg(long)]
    no_chain: bool,
    /// Checkpoints the tenant saved before (`auditctl watch` keeps them): a bundle's
    /// checkpoint must be consistent with each.
    #[arg(long, value_name = "DIR")]
    checkpoints: Option<PathBuf>,
    /// Data directory of the stack, where the default JWK Set is.
    #[arg(long, env = "AUDIT_DATA_DIR", default_value = "./data")]
    data_dir: PathBuf,
}

/// What was checked.
enum Checked {
    Export(ExportReport),
    Bundle(BundleReport),
}

/// Verifies and prints the summary; the exit code says how it went (module docs).
pub fn run(args: VerifyArgs) -> ExitCode {
    match verify(&args) {
        Ok(Checked::Export(report)) => {
            print!("{report}");
            if report.is_clean() { ExitCode::SUCCESS } else { ExitCode::from(1) }
        }
        Ok(Checked::Bundle(report)) => {
            print_bundle(&report);
            if report.is_valid() { ExitCode::SUCCESS } else { ExitCode::from(1) }
        }
        Err(message) => {
            eprintln!("auditctl: {message}");
            ExitCode::from(2)
        }
    }
}

fn verify(args: &VerifyArgs) -> Result<Checked, String> {
    let read_error =
        |error: std::io::Error| format!("cannot read {}: {}", args.file.display(), reason(&error));
    let file = File::open(&args.file).map_err(read_error)?;
    // A non-file (a pipe) has no length: the bar then counts bytes without an end.
    let size = file.metadata().map(|metadata| metadata.len()).unwrap_or(0);
    let jwks = args.jwks.clone().unwrap_or_else(|| crate::keys::signing_jwks_file(&args.data_dir));
    let keys = PublicKeys::from_jwks_file(&jwks).map_err(|error| jwks_error(&jwks, error))?;
    let mut reader = BufReader::with_capacity(1 << 20, file);
    if let Some(tenant) = bundle_tenant(&mut reader).map_err(read_error)? {
        return verify_bundle_file(args, reader, (&keys, &tenant)).map(Checked::Bundle);
    }
    if args.checkpoints.is_some() {
        return Err("--checkpoints checks a bundle (auditctl export --bundle), not an export".into());
    }
    let chain = if args.no_chain { ChainMode::Skip } else { ChainMode::Check };
    let progress = progress_bar(size);
    let report = verify_export(reader, &Verifier::new(keys), ExportCheck { chain }, |bytes| {
        progress.set_position(bytes);
    });
    progress.finish_and_clear();
    report.map(Checked::Export).map_err(read_error)
}

/// The tenant of a bundle, when the file's first line is a bundle's header (read
/// without consuming it).
fn bundle_tenant(reader: &mut impl BufRead) -> std::io::Result<Option<String>> {
    let buffered = reader.fill_buf()?;
    let first = buffered.split(|byte| *byte == b'\n').next().unwrap_or_default();
    let header = serde_json::from_slice::<serde_json::Value>(first).ok();
    let bundle = header.filter(|header| header.get("format").is_some_and(|format| format == BUNDLE_FORMAT));
    Ok(bundle.map(|header| header["tenantId"].as_str().unwrap_or_default().to_owned()))
}

fn verify_bundle_file(
    args: &VerifyArgs,
    reader: impl BufRead,
    (keys, tenant): (&PublicKeys, &str),
) -> Result<BundleReport, String> {
    let saved = match &args.checkpoints {
        Some(dir) => Saved::new(dir).checkpoints(tenant, keys)?,
        None => Vec::new(),
    };
    let trusted = Trusted { keys, saved: &saved };
    verify_bundle(reader, &trusted)
        .map_err(|error| format!("cannot read {}: {}", args.file.display(), reason(&error)))
}

fn print_bundle(report: &BundleReport) {
    println!("bundle of tenant {}: checkpoint of {} records", report.tenant, report.tree_size);
    println!("records: {} ({} in the window)", report.records, report.in_window);
    println!("saved checkpoints consistent: {}", report.consistent);
    if report.is_valid() {
        println!("valid: every record is signed, chained and in the signed tree");
        return;
    }
    println!("INVALID: {} failures", report.failures.len() as u64 + report.more_failures);
    for failure in &report.failures {
        println!("  {failure}");
    }
    if report.more_failures > 0 {
        println!("  and {} more", report.more_failures);
    }
}

fn jwks_error(path: &Path, error: KeyError) -> String {
    match error {
        KeyError::Io { source, .. } => {
            format!("cannot read the jwk set {}: {}", path.display(), reason(&source))
        }
        other => other.to_string(),
    }
}

/// The OS's message, lowercased like ours ("no such file or directory (os error 2)").
fn reason(error: &std::io::Error) -> String {
    let message = error.to_string();
    let mut chars = message.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => message,
    }
}

/// A bar by bytes on stderr, hidden when stderr is not a terminal so that logs and
/// captured output get only the summary.
fn progress_bar(size: u64) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let progress = ProgressBar::new(size);
    let style = ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    progress.set_style(style);
    progress
}
