//! `auditctl up` as a separate process on a fresh data directory and free loopback
//! ports, with what the tests wait for and read from it.

#![allow(dead_code, reason = "each test binary uses part of the support")]

use std::{
    net::TcpListener,
    path::Path,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub use testkit::up::{Up as Stack, metric};

pub fn start_stack(data_dir: &Path, broker_port: u16) -> Stack {
    start_stack_logging(data_dir, broker_port, Stdio::inherit())
}

/// Variables a shell may hold for one service alone: `up` builds every service's
/// settings itself, so none of them may reroute or break the stack.
const STRAY_ENV: [(&str, &str); 6] = [
    ("AUDIT_INPUT_TOPIC", "audit.elsewhere"),
    ("AUDIT_OUTPUT_TOPIC", "audit.nowhere"),
    ("AUDIT_GROUP_ID", "one-group-for-every-stage"),
    ("AUDIT_INDEX_DIR", "/nonexistent/index"),
    ("AUDIT_OPS_LISTEN", "127.0.0.1:1"),
    ("AUDIT_LEAF_LISTEN", "127.0.0.1:1"),
];

pub fn start_stack_logging(data_dir: &Path, broker_port: u16, log: Stdio) -> Stack {
    testkit::up::start(testkit::up::UpParams {
        binary: env!("CARGO_BIN_EXE_auditctl"),
        data_dir,
        broker_port,
        global_args: &[],
        env: &STRAY_ENV,
        log,
    })
}

pub async fn wait_for<F: AsyncFn() -> bool>(what: &str, timeout: Duration, check: F) {
    let deadline = Instant::now() + timeout;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

pub fn terminate(mut stack: Stack) {
    let status = Command::new("kill").args(["-TERM", &stack.child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let exit = stack.child.wait().unwrap();
    assert!(exit.success(), "SIGTERM stops the stack cleanly: {exit}");
}

pub fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("auditctl-up-{}-{}", std::process::id(), free_port()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
