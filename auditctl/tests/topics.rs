//! `auditctl topics ensure` against the embedded broker, as an operator runs it: the
//! first run creates the six topics, the second checks them and reports what differs
//! from the policy (this broker keeps every record, personal data included).

use std::process::Command;

fn ensure(bootstrap: &str) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_auditctl"))
        .args(["topics", "ensure", "--kafka", bootstrap, "--partitions", "2"])
        .output()
        .expect("auditctl runs");
    let stdout = String::from_utf8(output.stdout).unwrap();
    eprintln!("{stdout}{}", String::from_utf8_lossy(&output.stderr));
    (output.status.success(), stdout)
}

fn line<'a>(stdout: &'a str, topic: &str) -> &'a str {
    stdout
        .lines()
        .find(|line| line.starts_with(&format!("{topic} ")))
        .unwrap_or_else(|| panic!("{topic} listed"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ensure_creates_the_topics_then_checks_them_against_the_policy() {
    let (broker, _dir) = testkit::kafka::broker().await;
    let (succeeded, first) = ensure(&broker.bootstrap());
    assert!(succeeded, "a fresh cluster gets every topic");
    for topic in [
        "audit.raw",
        "audit.normalized",
        "audit.dlq",
        "audit.tokenized",
        "audit.signed",
        "audit.signer-checkpoints",
        "audit.checkpoints",
    ] {
        assert!(line(&first, topic).contains("created"), "{topic}");
    }

    let (succeeded, second) = ensure(&broker.bootstrap());
    assert!(succeeded, "the trail is kept forever: nothing at risk");
    for trail in ["audit.signed", "audit.signer-checkpoints", "audit.checkpoints"] {
        let row = line(&second, trail);
        assert!(row.contains(" ok ") && row.contains("forever") && row.contains("the trail"), "{row}");
    }
    let row = line(&second, "audit.raw");
    assert!(row.contains("differs") && row.contains("personal data"), "{row}");
    assert!(
        second.contains("audit.raw: keeps records forever (retention.ms=-1), the policy says 7 days"),
        "the warning says what is kept and what the policy wants"
    );
}
