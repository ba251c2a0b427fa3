//! `auditctl up` as a child process on a data directory and free loopback ports: the
//! stack exactly as users start it, with every address known to the test. The process
//! is killed when dropped, so a failed test leaves no stack behind holding its ports.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// How to start the stack.
pub struct UpParams<'a> {
    /// The `auditctl` binary (a test's `CARGO_BIN_EXE_…`).
    pub binary: &'a str,
    /// Its `--data-dir`.
    pub data_dir: &'a Path,
    /// The embedded broker's port; 0 picks a free one. A test restarting the stack on
    /// the same data gives the same port, since the broker's storage remembers it.
    pub broker_port: u16,
    /// Flags before `up` (`--log-format json`).
    pub global_args: &'a [&'a str],
    /// Variables set for the process.
    pub env: &'a [(&'a str, &'a str)],
    /// Where its log (stderr) goes.
    pub log: Stdio,
}

/// A running `auditctl up`. Addresses are `HOST:PORT`, except the two HTTP APIs whose
/// fields are base URLs.
pub struct Up {
    pub child: Child,
    pub broker: String,
    pub ingestor_ops: String,
    pub tokenizer_ops: String,
    pub signer_ops: String,
    pub indexer_ops: String,
    pub vault: String,
    /// `http://…` of the query-api (and the console under `/console`).
    pub query: String,
    /// `http://…` of the notifier's webhooks API.
    pub notifier: String,
}

impl Drop for Up {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The value of the unlabelled metric `name` at the ops server `ops` (`HOST:PORT`);
/// `None` while the server does not answer or has not registered it.
pub async fn metric(ops: &str, name: &str) -> Option<f64> {
    let body = reqwest::get(format!("http://{ops}/metrics")).await.ok()?.text().await.ok()?;
    body.lines().find_map(|line| line.strip_prefix(name)?.trim().parse().ok())
}

/// `count` distinct free ports, held together while picked so none is given twice.
pub fn free_ports(count: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> = (0..count).map(|_| TcpListener::bind("127.0.0.1:0").unwrap()).collect();
    listeners.iter().map(|listener| listener.local_addr().unwrap().port()).collect()
}

/// Starts `auditctl up`; it is not ready yet (see its services' `/healthz`).
pub fn start(params: UpParams<'_>) -> Up {
    let mut ports = free_ports(10).into_iter().map(|port| format!("127.0.0.1:{port}"));
    let mut next = || ports.next().expect("ten ports");
    let broker = match params.broker_port {
        0 => next(),
        port => format!("127.0.0.1:{port}"),
    };
    let [ingestor_ops, tokenizer_ops, signer_ops, indexer_ops, leaf, vault, query, notifier, notifier_ops] =
        std::array::from_fn(|_| next());
    let child = Command::new(params.binary)
        .args(params.global_args)
        .args(["up", "--data-dir", params.data_dir.to_str().unwrap(), "--broker-listen", &broker])
        .args(["--ingestor-ops-listen", &ingestor_ops, "--tokenizer-ops-listen", &tokenizer_ops])
        .args(["--signer-ops-listen", &signer_ops, "--indexer-ops-listen", &indexer_ops])
        .args(["--indexer-leaf-listen", &leaf, "--vault-listen", &vault, "--query-listen", &query])
        .args(["--notifier-listen", &notifier, "--notifier-ops-listen", &notifier_ops])
        .envs(params.env.iter().copied())
        .stdout(Stdio::null())
        .stderr(params.log)
        .spawn()
        .expect("auditctl starts");
    Up {
        child,
        broker,
        ingestor_ops,
        tokenizer_ops,
        signer_ops,
        indexer_ops,
        vault,
        query: format!("http://{query}"),
        notifier: format!("http://{notifier}"),
    }
}
