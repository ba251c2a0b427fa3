//! What a user checks after the storm, with the user's tools: each tenant's total
//! through SCIM search, each tenant's export verified by `auditctl verify`, and the
//! dead letters read back from `audit.dlq`. Each check returns what it found wrong,
//! in words, so one run reports every failure at once.

use std::collections::{BTreeMap, HashMap};
use std::process::Command;
use std::time::{Duration, Instant};

use audit_runtime::dlq::header;
use testkit::kafka::read_topic;

use super::stack::{AUDITCTL, Stack};
use super::traffic::Expected;

/// A tenant's `totalResults` through the query-api, if it answered.
pub async fn total(stack: &Stack, client: &reqwest::Client, tenant: &str) -> Option<usize> {
    let url = format!("http://{}/scim/{tenant}/v2/AuditRecords?count=0", stack.query_listen);
    let response = client.get(url).bearer_auth(stack.token(tenant)).send().await.ok()?;
    let body: serde_json::Value = response.json().await.ok()?;
    body["totalResults"].as_u64().map(|total| total as usize)
}

/// Waits until every tenant's total is what it must be, up to `timeout`; says which
/// tenants ended elsewhere, or at once which went above their due (a record twice).
pub async fn totals_converge(stack: &Stack, expected: &Expected, timeout: Duration) -> Vec<String> {
    let client = reqwest::Client::new();
    let due = expected.totals();
    let started = Instant::now();
    let mut last_report = Instant::now();
    loop {
        let mut seen = BTreeMap::new();
        for tenant in due.keys() {
            seen.insert(tenant.clone(), total(stack, &client, tenant).await.unwrap_or(0));
        }
        let over: Vec<String> = seen
            .iter()
            .filter(|(tenant, total)| **total > due[*tenant])
            .map(|(tenant, total)| {
                format!("tenant {tenant}: {total} records searchable, {} due", due[tenant])
            })
            .collect();
        if !over.is_empty() {
            return over;
        }
        if seen == due {
            eprintln!(
                "all {} valid events searchable {:?} after the last was sent",
                expected.valid(),
                started.elapsed()
            );
            return Vec::new();
        }
        if started.elapsed() > timeout {
            let missing = due.iter().filter(|(tenant, total)| seen[*tenant] != **total);
            return missing
                .map(|(tenant, total)| {
                    format!("tenant {tenant}: {} records searchable, {total} due", seen[tenant])
                })
                .collect();
        }
        if last_report.elapsed() > Duration::from_secs(10) {
            eprintln!("searchable: {} of {}", seen.values().sum::<usize>(), expected.valid());
            last_report = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Exports every tenant with `auditctl export` and checks it with `auditctl verify`.
pub fn exports_verify(stack: &Stack, expected: &Expected) -> Vec<String> {
    let exports = stack.data_dir.join("exports");
    std::fs::create_dir_all(&exports).unwrap();
    let mut failures = Vec::new();
    for (tenant, due) in expected.totals() {
        let file = exports.join(format!("{tenant}.jsonl"));
        let url = format!("http://{}", stack.query_listen);
        let export = auditctl(&[
            "export",
            "--tenant",
            &tenant,
            "--url",
            &url,
            "--out",
            path(&file),
            "--data-dir",
            path(&stack.data_dir),
        ]);
        if !export.status.success() {
            failures.push(format!("auditctl export of {tenant} failed: {}", stderr(&export)));
            continue;
        }
        let lines = std::fs::read_to_string(&file).unwrap().lines().count();
        if lines != due {
            failures.push(format!("export of {tenant}: {lines} records, {due} due"));
        }
        let verify = auditctl(&["verify", path(&file), "--data-dir", path(&stack.data_dir)]);
        if !verify.status.success() {
            let report = String::from_utf8_lossy(&verify.stdout);
            failures.push(format!("auditctl verify of {tenant}: {report}{}", stderr(&verify)));
        }
    }
    failures
}

/// Reads `audit.dlq` and compares it with the malformed events sent: each exactly
/// where it was sent, with its reason, and nothing else. A malformed event may be
/// dead-lettered twice when the ingestor died after writing it and before its
/// offset was committed; such repeats are counted, not failed.
pub async fn dead_letters_match(stack: &Stack, expected: &Expected) -> (Vec<String>, usize) {
    let letters =
        read_topic(&stack.kafka, "audit.dlq", expected.malformed.len(), Duration::from_secs(60)).await;
    let mut found: HashMap<(i32, i64), usize> = HashMap::new();
    let mut failures = Vec::new();
    for letter in &letters {
        let source = |name: &str| letter.headers.get(name).cloned().unwrap_or_default();
        let position = (
            source(header::SOURCE_PARTITION).parse().unwrap_or(-1),
            source(header::SOURCE_OFFSET).parse().unwrap_or(-1),
        );
        let (topic, code) = (source(header::SOURCE_TOPIC), source(header::CODE));
        match expected.malformed.get(&position) {
            Some(reason) if topic == "audit.raw" && code == *reason => {
                *found.entry(position).or_default() += 1;
            }
            Some(reason) => {
                failures.push(format!("{topic} {position:?}: dead-lettered as {code}, {reason} due"));
            }
            None => failures.push(format!("{topic} {position:?} dead-lettered ({code}) but not malformed")),
        }
    }
    let missing = expected.malformed.keys().filter(|position| !found.contains_key(position)).count();
    if missing > 0 {
        failures.push(format!(
            "{missing} of {} malformed events missing from audit.dlq",
            expected.malformed.len()
        ));
    }
    let repeats = found.values().map(|count| count - 1).sum();
    (failures, repeats)
}

fn auditctl(args: &[&str]) -> std::process::Output {
    Command::new(AUDITCTL).args(args).output().expect("auditctl runs")
}

fn path(path: &std::path::Path) -> &str {
    path.to_str().expect("test paths are UTF-8")
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).trim().to_owned()
}
