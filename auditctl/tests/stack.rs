//! `auditctl up` and `auditctl produce` as a user runs them: separate processes, a
//! fresh data directory, free loopback ports.

mod support;

use std::{
    process::{Command, Stdio},
    time::Duration,
};

use support::{free_port, metric, start_stack, start_stack_logging, tempfile_dir, terminate, wait_for};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_reaches_healthy_produce_flows_through_and_sigterm_commits() {
    let data_dir = tempfile_dir();
    let broker_port = free_port();
    let stack = start_stack(&data_dir, broker_port);
    let healthz = format!("http://{}/healthz", stack.ingestor_ops);
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
        metric(&stack.ingestor_ops, "ingestor_records_consumed_total").await == Some(500.0)
    })
    .await;
    let forwarded = metric(&stack.ingestor_ops, "ingestor_records_produced_total").await.unwrap();
    assert!((400.0..500.0).contains(&forwarded), "valid events reach audit.normalized: {forwarded}");
    terminate(stack);

    // Same data directory: topics, records and committed offsets survived, so the
    // restarted ingestor has nothing to redo.
    let stack = start_stack(&data_dir, broker_port);
    let ops = stack.ingestor_ops.clone();
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
    // The index directory is a file: the indexer cannot keep shards there and stops.
    std::fs::write(data_dir.join("index"), b"not a directory").unwrap();
    let mut stack = start_stack_logging(&data_dir, free_port(), Stdio::piped());
    let mut stderr = stack.child.stderr.take().expect("stderr is piped");
    let waited = tokio::task::spawn_blocking(move || {
        let mut log = String::new();
        std::io::Read::read_to_string(&mut stderr, &mut log).map(|_| log)
    });
    let log = tokio::time::timeout(Duration::from_secs(60), waited)
        .await
        .expect("the stack stops by itself")
        .unwrap()
        .unwrap();
    let status = stack.child.wait().unwrap();
    assert_eq!(status.code(), Some(1), "{log}");
    assert!(log.contains("a service stopped on its own; stopping the stack"), "{log}");
    assert!(log.contains("auditctl: indexer stopped: shard directory"), "{log}");
    std::fs::remove_dir_all(&data_dir).unwrap();
}
