//! `auditctl up` and `auditctl produce` as a user runs them: separate processes, a
//! fresh data directory, free loopback ports.

use std::{
    net::TcpListener,
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

struct Stack {
    child: Child,
    broker: String,
    ops: String,
}

fn start_stack(data_dir: &Path, broker_port: u16) -> Stack {
    start_stack_logging(data_dir, broker_port, Stdio::inherit())
}

fn start_stack_logging(data_dir: &Path, broker_port: u16, log: Stdio) -> Stack {
    let broker = format!("127.0.0.1:{broker_port}");
    let ops = format!("127.0.0.1:{}", free_port());
    let child = Command::new(env!("CARGO_BIN_EXE_auditctl"))
        .args(["up", "--data-dir", data_dir.to_str().unwrap(), "--broker-listen", &broker])
        .args(["--ingestor-ops-listen", &ops])
        .args(["--tokenizer-ops-listen", &format!("127.0.0.1:{}", free_port())])
        .args(["--signer-ops-listen", &format!("127.0.0.1:{}", free_port())])
        .args(["--indexer-ops-listen", &format!("127.0.0.1:{}", free_port())])
        .args(["--vault-listen", &format!("127.0.0.1:{}", free_port())])
        .args(["--query-listen", &format!("127.0.0.1:{}", free_port())])
        .args(["--notifier-listen", &format!("127.0.0.1:{}", free_port())])
        .args(["--notifier-ops-listen", &format!("127.0.0.1:{}", free_port())])
        // Variables a shell may hold for one service alone: `up` builds every service's
        // settings itself, so none of them may reroute or break the stack.
        .envs([
            ("AUDIT_INPUT_TOPIC", "audit.elsewhere"),
            ("AUDIT_OUTPUT_TOPIC", "audit.nowhere"),
            ("AUDIT_GROUP_ID", "one-group-for-every-stage"),
            ("AUDIT_INDEX_DIR", "/nonexistent/index"),
            ("AUDIT_OPS_LISTEN", "127.0.0.1:1"),
        ])
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("auditctl starts");
    Stack { child, broker, ops }
}

async fn metric(ops: &str, name: &str) -> Option<f64> {
    let body = reqwest::get(format!("http://{ops}/metrics")).await.ok()?.text().await.ok()?;
    body.lines().find_map(|line| line.strip_prefix(name)?.trim().parse().ok())
}

async fn wait_for<F: AsyncFn() -> bool>(what: &str, timeout: Duration, check: F) {
    let deadline = Instant::now() + timeout;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn terminate(mut stack: Stack) {
    let status = Command::new("kill").args(["-TERM", &stack.child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let exit = stack.child.wait().unwrap();
    assert!(exit.success(), "SIGTERM stops the stack cleanly: {exit}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_reaches_healthy_produce_flows_through_and_sigterm_commits() {
    let data_dir = tempfile_dir();
    let broker_port = free_port();
    let stack = start_stack(&data_dir, broker_port);
    let healthz = format!("http://{}/healthz", stack.ops);
    wait_for(
        "a healthy ingestor",
        Duration::from_secs(60),
        async || matches!(reqwest::get(&healthz).await, Ok(response) if response.status() == 200),
    )
    .await;

    let produced = Command::new(env!("CARGO_BIN_EXE_auditctl"))
        .args([
            "produce",
            "--kafka",
            &stack.broker,
            "--count",
            "500",
            "--seed",
            "3",
            "--malformed-ratio",
            "0.1",
        ])
        .stdout(Stdio::piped())
        .output()
        .unwrap();
    assert!(produced.status.success(), "{}", String::from_utf8_lossy(&produced.stderr));
    let summary = String::from_utf8(produced.stdout).unwrap();
    assert!(summary.contains("sent 500 events"), "{summary}");

    wait_for("500 consumed records", Duration::from_secs(60), async || {
        metric(&stack.ops, "ingestor_records_consumed_total").await == Some(500.0)
    })
    .await;
    let forwarded = metric(&stack.ops, "ingestor_records_produced_total").await.unwrap();
    assert!((400.0..500.0).contains(&forwarded), "valid events reach audit.normalized: {forwarded}");
    terminate(stack);

    // Same data directory: topics, records and committed offsets survived, so the
    // restarted ingestor has nothing to redo.
    let stack = start_stack(&data_dir, broker_port);
    let ops = stack.ops.clone();
    // The lag gauge appears once the consumer owns and has fetched its partitions.
    wait_for("the restarted ingestor to fetch", Duration::from_secs(60), async || {
        let body = reqwest::get(format!("http://{ops}/metrics")).await;
        let body = match body {
            Ok(response) => response.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        body.contains("ingestor_consumer_lag_records{partition=\"0\",topic=\"audit.raw\"} 0")
    })
    .await;
    assert_eq!(metric(&ops, "ingestor_records_consumed_total").await, Some(0.0), "nothing re-consumed");
    terminate(stack);
    std::fs::remove_dir_all(&data_dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_that_stops_on_its_own_stops_the_stack_with_its_reason() {
    let data_dir = tempfile_dir();
    // The index directory is a file: the query-api cannot read the shards and stops.
    std::fs::write(data_dir.join("index"), b"not a directory").unwrap();
    let stack = start_stack_logging(&data_dir, free_port(), Stdio::piped());
    let waited = tokio::task::spawn_blocking(move || stack.child.wait_with_output());
    let output = tokio::time::timeout(Duration::from_secs(60), waited)
        .await
        .expect("the stack stops by itself")
        .unwrap()
        .unwrap();
    let log = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{log}");
    assert!(log.contains("a service stopped on its own; stopping the stack"), "{log}");
    assert!(log.contains("auditctl: query-api stopped: cannot list the index directory"), "{log}");
    std::fs::remove_dir_all(&data_dir).unwrap();
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("auditctl-up-{}-{}", std::process::id(), free_port()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
