//! `auditctl export`: a tenant's signed records from the query-api as JSON lines, the
//! input of `auditctl verify`.
//!
//! The answer streams to the output chunk by chunk, so memory stays bounded whatever
//! the tenant's size. A file appears only complete: lines go to a temporary file
//! beside it, renamed over `--out` once the last line arrived and the count the
//! query-api announced (when it does) matches; a broken stream leaves nothing behind.
//! `--out -` writes to stdout, where a broken stream still fails the command. The
//! count goes to stderr. Exit codes are [`crate::api`]'s.

use std::ffi::OsString;
use std::io::{BufWriter, Stdout, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use serde_json::{Value, json};
use tempfile::NamedTempFile;

use audit_integrity::PublicKeys;

use crate::api::{Api, ApiArgs, Deadline, Failure};
use crate::saved::Saved;

/// Header of the export's answer announcing how many lines it holds.
const EXPORT_COUNT: &str = "x-audit-export-count";
/// The media type of an export.
const NDJSON: &str = "application/x-ndjson";
/// Output buffer; chunks arrive in a few hundred kilobytes at most.
const WRITE_BUFFER: usize = 1 << 20;

/// Flags of `auditctl export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    api: ApiArgs,
    /// File to write (replaced only once the export is complete); `-` for stdout.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// SCIM filter (RFC 7644) [default: every record]. A filtered export leaves gaps
    /// in the chain: verify it with `auditctl verify --no-chain`.
    #[arg(long, conflicts_with = "bundle")]
    filter: Option<String>,
    /// Write an offline bundle: the records with the tenant's latest signed
    /// checkpoint, the keys and the proofs that they are its log's (every record, or
    /// those of --from/--to with what proves the window complete).
    #[arg(long)]
    bundle: bool,
    /// Start of the bundle's `created` window, RFC 3339 (inclusive).
    #[arg(long, requires = "bundle")]
    from: Option<String>,
    /// End of the bundle's `created` window, RFC 3339 (exclusive).
    #[arg(long, requires = "bundle")]
    to: Option<String>,
    /// Checkpoints the tenant saved (`auditctl watch` keeps them): the bundle proves
    /// its tree extends each (the 16 largest).
    #[arg(long, value_name = "DIR", requires = "bundle")]
    checkpoints: Option<PathBuf>,
    /// JWK Set the saved checkpoints are checked with
    /// [default: <DATA_DIR>/keys/signing/jwks.json].
    #[arg(long, value_name = "JWKS_FILE", requires = "checkpoints")]
    jwks: Option<PathBuf>,
}

/// Exports and reports the count; the exit code says how it went (module docs).
pub async fn run(args: ExportArgs) -> ExitCode {
    match export(&args).await {
        Ok(lines) => {
            let destination =
                if is_stdout(&args.out) { "stdout".into() } else { args.out.display().to_string() };
            let what = if args.bundle { "a bundle of" } else { "exported" };
            eprintln!("{what} {lines} records of tenant {} to {destination}", args.api.tenant());
            if args.filter.is_some() && !is_stdout(&args.out) {
                eprintln!(
                    "a filtered export has gaps in the chain: auditctl verify {destination} --no-chain"
                );
            }
            ExitCode::SUCCESS
        }
        Err(failure) => failure.report(),
    }
}

async fn export(args: &ExportArgs) -> Result<u64, Failure> {
    let api = Api::new(&args.api, Deadline::Streaming)?;
    // Opened before asking, so a wrong --out fails without a request.
    let mut sink = Sink::open(&args.out)?;
    let (action, body) =
        if args.bundle { (".bundle", bundle_request(args)?) } else { (".export", filter(args)) };
    let mut response = api.post(action, &body).await?;
    check_media_type(&response)?;
    // A bundle's header line comes before the records the count announces.
    let header = u64::from(args.bundle);
    let announced = announced_count(&response).map(|records| records + header);
    let mut tally = Tally::default();
    while let Some(chunk) = response.chunk().await.map_err(|error| {
        Failure::Failed(format!(
            "the export broke after {} records: {}",
            tally.lines,
            api.unreachable(&error)
        ))
    })? {
        tally.add(&chunk);
        sink.write(&chunk)?;
    }
    tally.check(announced)?;
    sink.finish()?;
    Ok(tally.lines - header)
}

fn filter(args: &ExportArgs) -> Value {
    let mut body = json!({});
    if let Some(filter) = args.filter.as_deref().map(str::trim).filter(|filter| !filter.is_empty()) {
        body["filter"] = Value::from(filter);
    }
    body
}

/// The bundle's window and the sizes of the saved checkpoints (the largest 16).
fn bundle_request(args: &ExportArgs) -> Result<Value, Failure> {
    let mut body = json!({ "from": args.from, "to": args.to });
    if let Some(dir) = &args.checkpoints {
        let jwks = args.jwks.clone().unwrap_or_else(|| crate::keys::signing_jwks_file(args.api.data_dir()));
        let keys = PublicKeys::from_jwks_file(&jwks).map_err(|error| {
            Failure::Usage(format!("cannot read the jwk set {}: {error}", jwks.display()))
        })?;
        let saved = Saved::new(dir).checkpoints(args.api.tenant(), &keys).map_err(Failure::Usage)?;
        let sizes: Vec<u64> = saved.iter().rev().take(16).map(|checkpoint| checkpoint.size).collect();
        body["knownSizes"] = json!(sizes);
    }
    Ok(body)
}

/// An export's answer is JSON lines; anything else (an error page, a proxy's answer)
/// would be no export.
fn check_media_type(response: &reqwest::Response) -> Result<(), Failure> {
    let media = response.headers().get(reqwest::header::CONTENT_TYPE).and_then(|value| value.to_str().ok());
    let essence = media.and_then(|media| media.split(';').next()).map(str::trim);
    if essence.is_some_and(|essence| essence.eq_ignore_ascii_case(NDJSON)) {
        return Ok(());
    }
    Err(Failure::Failed(format!(
        "the query-api answered {}, not an export ({NDJSON})",
        media.unwrap_or("no content type")
    )))
}

fn announced_count(response: &reqwest::Response) -> Option<u64> {
    response.headers().get(EXPORT_COUNT)?.to_str().ok()?.trim().parse().ok()
}

/// Lines received and whether the last one ended.
#[derive(Debug, Default)]
struct Tally {
    lines: u64,
    open_line: bool,
}

impl Tally {
    fn add(&mut self, chunk: &[u8]) {
        self.lines += chunk.iter().filter(|&&byte| byte == b'\n').count() as u64;
        if let Some(&last) = chunk.last() {
            self.open_line = last != b'\n';
        }
    }

    /// A line cut short or fewer lines than announced: the stream ended early.
    fn check(&self, announced: Option<u64>) -> Result<(), Failure> {
        if self.open_line {
            return Err(Failure::Failed(format!(
                "the export ended inside a line after {} records",
                self.lines
            )));
        }
        match announced {
            Some(expected) if expected != self.lines => Err(Failure::Failed(format!(
                "the export ended after {} of the {expected} records announced",
                self.lines
            ))),
            _ => Ok(()),
        }
    }
}

/// Where the lines go.
enum Sink {
    Stdout(BufWriter<Stdout>),
    /// A temporary file beside `path`, deleted if dropped before [`Sink::finish`].
    File {
        temporary: BufWriter<NamedTempFile>,
        path: PathBuf,
    },
}

impl Sink {
    fn open(out: &Path) -> Result<Sink, Failure> {
        if is_stdout(out) {
            return Ok(Sink::Stdout(BufWriter::with_capacity(WRITE_BUFFER, std::io::stdout())));
        }
        let directory = match out.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        let mut prefix = OsString::from(".");
        prefix.push(out.file_name().unwrap_or_default());
        let temporary =
            tempfile::Builder::new().prefix(&prefix).suffix(".partial").tempfile_in(directory).map_err(
                |error| {
                    Failure::Usage(format!("cannot write in {}: {}", directory.display(), reason(&error)))
                },
            )?;
        Ok(Sink::File { temporary: BufWriter::with_capacity(WRITE_BUFFER, temporary), path: out.to_owned() })
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), Failure> {
        let written = match self {
            Sink::Stdout(stdout) => stdout.write_all(bytes),
            Sink::File { temporary, .. } => temporary.write_all(bytes),
        };
        written.map_err(|error| self.write_error(&error))
    }

    /// Flushes, and puts the file in place.
    fn finish(self) -> Result<(), Failure> {
        match self {
            Sink::Stdout(mut stdout) => stdout.flush().map_err(|error| write_error("stdout", &error)),
            Sink::File { temporary, path } => {
                let name = path.display().to_string();
                let file = temporary.into_inner().map_err(|error| write_error(&name, error.error()))?;
                file.as_file().sync_all().map_err(|error| write_error(&name, &error))?;
                file.persist(&path).map_err(|error| write_error(&name, &error.error))?;
                Ok(())
            }
        }
    }

    fn write_error(&self, error: &std::io::Error) -> Failure {
        match self {
            Sink::Stdout(_) => write_error("stdout", error),
            Sink::File { path, .. } => write_error(&path.display().to_string(), error),
        }
    }
}

fn is_stdout(out: &Path) -> bool {
    out.as_os_str() == "-"
}

fn write_error(what: &str, error: &std::io::Error) -> Failure {
    Failure::Failed(format!("cannot write {what}: {}", reason(error)))
}

/// The OS's message, lowercased like ours.
fn reason(error: &std::io::Error) -> String {
    crate::api::lowercase_first(&error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stream_cut_short_is_caught() {
        let mut tally = Tally::default();
        tally.add(b"{\"a\":1}\n{\"b\"");
        assert!(tally.check(None).is_err(), "inside a line");
        tally.add(b":2}\n");
        assert_eq!(tally.lines, 2);
        assert!(tally.check(Some(2)).is_ok());
        assert!(tally.check(None).is_ok());
        assert!(tally.check(Some(3)).is_err(), "fewer than announced");
    }

    #[test]
    fn a_file_appears_only_when_finished() {
        let directory = tempfile::tempdir().unwrap();
        let out = directory.path().join("export.jsonl");
        let mut sink = Sink::open(&out).unwrap();
        sink.write(b"line\n").unwrap();
        assert!(!out.exists());
        sink.finish().unwrap();
        assert_eq!(std::fs::read(&out).unwrap(), b"line\n");

        let abandoned = directory.path().join("abandoned.jsonl");
        let mut sink = Sink::open(&abandoned).unwrap();
        sink.write(b"half").unwrap();
        drop(sink);
        assert_eq!(std::fs::read_dir(directory.path()).unwrap().count(), 1, "only the finished file");
    }
}
