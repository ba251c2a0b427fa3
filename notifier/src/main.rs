//! `notifier`: parse flags, start logs, run until SIGTERM.

use std::process::ExitCode;

use audit_service::telemetry;
use clap::Parser;
use notifier::NotifierArgs;

/// mimalloc, tuned: `audit-alloc` says why.
#[global_allocator]
static ALLOCATOR: audit_alloc::Tuned = audit_alloc::Tuned;

#[tokio::main]
async fn main() -> ExitCode {
    let args = NotifierArgs::parse();
    telemetry::init(&args.log);
    audit_service::serve(args.validate(), |config| config.listen, notifier::run).await
}
