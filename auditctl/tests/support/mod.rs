//! `auditctl up` as a separate process on a fresh data directory and free loopback
//! ports, with what the tests wait for and read from it.

#![allow(dead_code, reason = "each test binary uses part of the support")]

use std::{
    net::TcpListener,
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A running `auditctl up`; killed when dropped, so a failed test leaves no stack
/// behind.
pub struct Stack {
    pub child: Child,
    pub broker: String,
    /// The ingestor's ops address.
    pub ops: String,
    /// The indexer's ops address.
    pub indexer_ops: String,
    /// The query-api's base URL.
    pub query: String,
}

impl Drop for Stack {
    fn drop(&mut self) {
        // Nothing to do for a stack already stopped and reaped.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn start_stack(data_dir: &Path, broker_port: u16) -> Stack {
    start_stack_logging(data_dir, broker_port, Stdio::inherit())
}

/// `count` distinct free ports, held together while picked so none is given twice.
pub fn free_ports(count: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> = (0..count).map(|_| TcpListener::bind("127.0.0.1:0").unwrap()).collect();
    listeners.iter().map(|listener| listener.local_addr().unwrap().port()).collect()
}

pub fn start_stack_logging(data_dir: &Path, broker_port: u16, log: Stdio) -> Stack {
    let broker = format!("127.0.0.1:{broker_port}");
    let ports: Vec<String> = free_ports(9).into_iter().map(|port| format!("127.0.0.1:{port}")).collect();
    let [ops, tokenizer, signer, indexer_ops, leaf, vault, query, notifier, notifier_ops] =
        <[String; 9]>::try_from(ports).expect("nine ports");
    let child = Command::new(env!("CARGO_BIN_EXE_auditctl"))
        .args(["up", "--data-dir", data_dir.to_str().unwrap(), "--broker-listen", &broker])
        .args(["--ingestor-ops-listen", &ops])
        .args(["--tokenizer-ops-listen", &tokenizer])
        .args(["--signer-ops-listen", &signer])
        .args(["--indexer-ops-listen", &indexer_ops])
        .args(["--indexer-leaf-listen", &leaf])
        .args(["--vault-listen", &vault])
        .args(["--query-listen", &query])
        .args(["--notifier-listen", &notifier])
        .args(["--notifier-ops-listen", &notifier_ops])
        // Variables a shell may hold for one service alone: `up` builds every service's
        // settings itself, so none of them may reroute or break the stack.
        .envs([
            ("AUDIT_INPUT_TOPIC", "audit.elsewhere"),
            ("AUDIT_OUTPUT_TOPIC", "audit.nowhere"),
            ("AUDIT_GROUP_ID", "one-group-for-every-stage"),
            ("AUDIT_INDEX_DIR", "/nonexistent/index"),
            ("AUDIT_OPS_LISTEN", "127.0.0.1:1"),
            ("AUDIT_LEAF_LISTEN", "127.0.0.1:1"),
        ])
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("auditctl starts");
    Stack { child, broker, ops, indexer_ops, query: format!("http://{query}") }
}

pub async fn metric(ops: &str, name: &str) -> Option<f64> {
    let body = reqwest::get(format!("http://{ops}/metrics")).await.ok()?.text().await.ok()?;
    body.lines().find_map(|line| line.strip_prefix(name)?.trim().parse().ok())
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
