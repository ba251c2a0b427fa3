//! `auditctl search`, `export` and `webhooks` as a user runs them against `auditctl up`:
//! separate processes, a fresh data directory, free loopback ports. A webhook is
//! registered for one event type; events with known personal values go into
//! `audit.raw`; once indexed, a search by a clear value gives them back in clear and
//! `validated`, an export passes `auditctl verify`, the webhook's receiver got its
//! events and the delivery log says so, and refusals exit 1 and wrong flags 2, each
//! with a message saying why.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use audit_runtime::config::KafkaConfig;
use serde_json::{Value, json};
use testkit::kafka::produce;

/// Events of [`TENANT`]; [`OTHER`] gets a quarter as many.
const EVENTS: usize = 40;
const TENANT: &str = "tquery-a";
const OTHER: &str = "tquery-b";
const CREATED: &str = r#"action.actionName eq "createUser""#;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A raw event of `tenant` full of personal data; `n % 20` picks the data subject.
fn event(tenant: &str, n: usize) -> Value {
    let subject = n % 20;
    json!({
        "tenantId": tenant,
        "created": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "eventId": format!("{tenant}-ev-{n}"),
        "id": "IDP-test-company",
        "action": {"actionName": "createUser", "actionParameters": {
            "ATC": "AT_STDPWD",
            "USN": format!("uname{subject}x"),
            "ARP": format!("HOSTADDRESS[10.7.{subject}.55] CONTEXT[{{\"OPENID\":{{\"clientid\":\"c1\"}}}}]"),
        }},
        "result": "RESPONSE_SUCCESS",
        "message": format!("password reset for person{subject}@query.example from 10.9.{subject}.77"),
        "host": format!("10.8.{subject}.66"),
        "targetUserId": {"id": format!("person{subject}@query.example"), "immutableId": format!("{subject}")},
        "actingUserId": {"id": format!("operator{}@query.example", n % 5), "immutableId": "90"},
    })
}

/// The stack and the data directory its tokens are minted from.
struct Stack {
    up: testkit::up::Up,
    data_dir: PathBuf,
}

fn start_stack(data_dir: &Path) -> Stack {
    let up = testkit::up::start(testkit::up::UpParams {
        binary: env!("CARGO_BIN_EXE_auditctl"),
        data_dir,
        broker_port: 0,
        global_args: &[],
        env: &[],
        log: Stdio::inherit(),
    });
    Stack { up, data_dir: data_dir.to_owned() }
}

fn auditctl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_auditctl")).args(args).output().expect("auditctl runs")
}

/// `auditctl <command> --tenant <tenant>` against the stack, token minted from its data directory.
fn against(stack: &Stack, command: &str, tenant: &str, extra: &[&str]) -> Output {
    let data_dir = stack.data_dir.to_str().unwrap();
    let mut args = vec![command, "--tenant", tenant, "--url", &stack.up.query, "--data-dir", data_dir];
    args.extend(extra);
    auditctl(&args)
}

/// `auditctl webhooks <command> --tenant <tenant>` against the stack's notifier.
fn webhooks(stack: &Stack, command: &str, tenant: &str, extra: &[&str]) -> Output {
    let data_dir = stack.data_dir.to_str().unwrap();
    let mut args =
        vec!["webhooks", command, "--tenant", tenant, "--url", &stack.up.notifier, "--data-dir", data_dir];
    args.extend(extra);
    auditctl(&args)
}

/// The JSON a successful command printed.
fn printed(output: &Output) -> Value {
    assert!(output.status.success(), "the command succeeds: {}", stderr(output));
    serde_json::from_slice(&output.stdout).expect("the command prints json")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The ListResponse printed by a successful `auditctl search`.
fn page(output: &Output) -> Value {
    assert!(output.status.success(), "search succeeds: {}", stderr(output));
    serde_json::from_slice(&output.stdout).expect("search prints json")
}

/// Polls until `count` of `tenant`'s records match `filter`, through `auditctl search`
/// itself (it fails while the stack is starting).
async fn wait_for_records(stack: &Stack, tenant: &str, filter: &str, count: usize) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let output = against(stack, "search", tenant, &["--filter", filter, "--count", "0"]);
        if output.status.success() && page(&output)["totalResults"] == count {
            return;
        }
        assert!(Instant::now() < deadline, "{count} records of {tenant} searchable: {}", stderr(&output));
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn produce_events(broker: &str) {
    let kafka = KafkaConfig::for_bootstrap(broker).unwrap();
    let events = (0..EVENTS).map(|n| event(TENANT, n)).chain((0..EVENTS / 4).map(|n| event(OTHER, n)));
    let messages: Vec<(Option<Vec<u8>>, Vec<u8>)> =
        events.map(|event| (None, serde_json::to_vec(&event).unwrap())).collect();
    produce(&kafka, "audit.raw", &messages).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_reveals_and_validates_export_verifies_refusals_exit_1() {
    let data_dir = tempfile::tempdir().unwrap();
    let mut stack = start_stack(data_dir.path());
    // The query-api answers once everything before it started, the broker included.
    wait_for_records(&stack, TENANT, CREATED, 0).await;
    let receiver = testkit::receiver::Receiver::start().await;
    let hook = receiver.url.clone();
    let webhook = printed(&webhooks(
        &stack,
        "create",
        TENANT,
        &["--target", &hook, "--insecure", "--event", "createUser"],
    ));
    produce_events(&stack.up.broker).await;
    wait_for_records(&stack, TENANT, CREATED, EVENTS).await;
    wait_for_records(&stack, OTHER, CREATED, EVENTS / 4).await;
    webhooks_deliver_and_log(&stack, &webhook, &receiver).await;

    search_by_clear_value_with_verify(&stack);
    search_pages_newest_first(&stack);
    refusals_exit_1_wrong_flags_exit_2(&stack);
    export_verifies(&stack, data_dir.path());
    filtered_export_to_stdout_verifies_without_chain(&stack, data_dir.path());
    watch_keeps_checkpoints_and_bundles_verify(&stack, data_dir.path()).await;

    let status = Command::new("kill").args(["-TERM", &stack.up.child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let exit = stack.up.child.wait().unwrap();
    assert!(exit.success(), "SIGTERM stops the stack and its query-api cleanly: {exit}");
}

/// The tenant's createUser records reached the webhook registered with `auditctl
/// webhooks create`; `list`, `deliveries` and `delete` show and remove it.
async fn webhooks_deliver_and_log(stack: &Stack, webhook: &Value, receiver: &testkit::receiver::Receiver) {
    assert!(webhook["secret"].as_str().unwrap().starts_with("whsec_"), "shown once: {webhook}");
    let id = webhook["id"].as_str().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while receiver.received.lock().unwrap().len() < EVENTS && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut ids = receiver.header("webhook-id");
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), EVENTS, "every createUser record of the tenant, no other");
    let listed = printed(&webhooks(stack, "list", TENANT, &[]));
    assert_eq!(listed["webhooks"][0]["id"], id);
    assert!(listed["webhooks"][0].get("secret").is_none(), "never shown again");
    let delivered = printed(&webhooks(stack, "deliveries", TENANT, &["--id", id, "--status", "delivered"]));
    assert_eq!(delivered["deliveries"].as_array().unwrap().len(), EVENTS);
    let other = webhooks(stack, "list", OTHER, &[]);
    assert_eq!(printed(&other)["webhooks"], json!([]), "another tenant sees none of it");
    let wrong = webhooks(stack, "deliveries", TENANT, &["--id", id, "--status", "lost"]);
    assert_eq!(wrong.status.code(), Some(2), "{}", stderr(&wrong));
    let deleted = webhooks(stack, "delete", TENANT, &["--id", id]);
    assert!(deleted.status.success(), "{}", stderr(&deleted));
    let gone = webhooks(stack, "delete", TENANT, &["--id", id]);
    assert_eq!(gone.status.code(), Some(1));
    assert!(stderr(&gone).contains("the notifier answered 404"), "{}", stderr(&gone));
}

/// Tokenized attributes come back in clear, found by their clear value, validated.
fn search_by_clear_value_with_verify(stack: &Stack) {
    let filter = r#"targetUserId.id eq "person3@query.example""#;
    let found = page(&against(stack, "search", TENANT, &["--filter", filter, "--verify"]));
    let resources = found["Resources"].as_array().unwrap();
    // Subjects 3 of 40 events: n = 3 and 23.
    assert_eq!((found["totalResults"].clone(), resources.len()), (json!(2), 2), "{found:#}");
    for record in resources {
        assert_eq!(record["integrityStatus"], "validated", "{record:#}");
        assert_eq!(record["tenantId"], TENANT);
        assert_eq!(record["targetUserId"]["id"], "person3@query.example");
        assert_eq!(record["host"], "10.8.3.66");
        assert_eq!(record["message"], "password reset for person3@query.example from 10.9.3.77");
        let parameters = &record["action"]["actionParameters"];
        assert_eq!(parameters["USN"], "uname3x");
        assert!(parameters["ARP"].as_str().unwrap().contains("HOSTADDRESS[10.7.3.55]"), "{parameters}");
    }
}

fn search_pages_newest_first(stack: &Stack) {
    let args = ["--filter", CREATED, "--count", "5", "--start-index", "2", "--sort-order", "desc"];
    let found = page(&against(stack, "search", TENANT, &args));
    assert_eq!((found["startIndex"].clone(), found["itemsPerPage"].clone()), (json!(2), json!(5)));
    let created: Vec<&str> = found["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|record| record["created"].as_str().unwrap())
        .collect();
    assert!(created.windows(2).all(|pair| pair[0] >= pair[1]), "newest first: {created:?}");
    for record in found["Resources"].as_array().unwrap() {
        assert_eq!(record["integrityStatus"], "unverified", "verified only when asked");
    }
}

fn refusals_exit_1_wrong_flags_exit_2(stack: &Stack) {
    let refused = against(stack, "search", TENANT, &["--token", "not-a-jwt"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(stderr(&refused).contains("the query-api refused the token (401"), "{}", stderr(&refused));

    let data_dir = stack.data_dir.to_str().unwrap();
    let minted = auditctl(&["token", "--data-dir", data_dir, "--tenant", OTHER, "--role", "ORG_ADMIN"]);
    let other_token = String::from_utf8(minted.stdout).unwrap();
    let forbidden = against(stack, "export", TENANT, &["--token", other_token.trim(), "--out", "-"]);
    assert_eq!(forbidden.status.code(), Some(1));
    let message = stderr(&forbidden);
    assert!(
        message.contains("refused access (403 forbidden): token is not valid for this tenant"),
        "{message}"
    );
    assert!(forbidden.stdout.is_empty(), "nothing exported");

    let bad_filter = against(stack, "search", TENANT, &["--filter", "host eq"]);
    assert_eq!(bad_filter.status.code(), Some(1));
    assert!(stderr(&bad_filter).contains("answered 400 invalidFilter: "), "{}", stderr(&bad_filter));

    for wrong in [&["--count", "101"][..], &["--sort-order", "sideways"], &["--start-index", "0"]] {
        let output = against(stack, "search", TENANT, wrong);
        assert_eq!(output.status.code(), Some(2), "{wrong:?}: {}", stderr(&output));
    }
}

/// The whole tenant, in chain order: `auditctl verify` checks signatures and chain.
fn export_verifies(stack: &Stack, data_dir: &Path) {
    let file = data_dir.join("export.jsonl");
    let exported = against(stack, "export", TENANT, &["--out", file.to_str().unwrap()]);
    assert!(exported.status.success(), "{}", stderr(&exported));
    let text = std::fs::read_to_string(&file).unwrap();
    let lines: Vec<Value> = text.lines().map(|line| serde_json::from_str(line).unwrap()).collect();
    // The searches' reveals are audited in the tenant too, so there can be more.
    assert!(lines.len() >= EVENTS, "{} lines", lines.len());
    assert!(stderr(&exported).contains(&format!("exported {} records of tenant {TENANT}", lines.len())));
    assert!(lines.iter().all(|line| line["tenantId"] == TENANT && line.get("record").is_none()));
    let sequences: Vec<i64> = lines.iter().map(|line| line["sequence"].as_i64().unwrap()).collect();
    assert_eq!(sequences, (1..=lines.len() as i64).collect::<Vec<_>>(), "the chain from its start");

    let jwks = data_dir.join("keys").join("signing").join("jwks.json");
    let verified = auditctl(&["verify", file.to_str().unwrap(), "--jwks", jwks.to_str().unwrap()]);
    assert!(verified.status.success(), "{}", String::from_utf8_lossy(&verified.stdout));
}

fn filtered_export_to_stdout_verifies_without_chain(stack: &Stack, data_dir: &Path) {
    let exported = against(stack, "export", OTHER, &["--filter", CREATED, "--out", "-"]);
    assert!(exported.status.success(), "{}", stderr(&exported));
    let text = String::from_utf8(exported.stdout.clone()).unwrap();
    assert_eq!(text.lines().count(), EVENTS / 4);
    assert!(
        stderr(&exported).contains(&format!("exported {} records of tenant {OTHER} to stdout", EVENTS / 4))
    );
    let file = data_dir.join("filtered.jsonl");
    std::fs::write(&file, text).unwrap();
    let jwks = data_dir.join("keys").join("signing").join("jwks.json");
    let args = ["verify", file.to_str().unwrap(), "--jwks", jwks.to_str().unwrap(), "--no-chain"];
    let verified = auditctl(&args);
    assert!(verified.status.success(), "{}", String::from_utf8_lossy(&verified.stdout));
}

/// `auditctl watch` keeps the signer's checkpoints, `export --bundle` proves the
/// records against them and `verify` checks the bundle; a fork, a rollback and a cut
/// bundle are caught.
async fn watch_keeps_checkpoints_and_bundles_verify(stack: &Stack, data_dir: &Path) {
    let kept = data_dir.join("checkpoints");
    let watch =
        |dir: &Path| against(stack, "watch", TENANT, &["--once", "--checkpoints", dir.to_str().unwrap()]);
    let deadline = Instant::now() + Duration::from_secs(60);
    let watched = loop {
        let output = watch(&kept);
        if output.status.success() || Instant::now() > deadline {
            break output;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert!(watched.status.success(), "a checkpoint within the signer's 10 s: {}", stderr(&watched));
    assert!(String::from_utf8_lossy(&watched.stdout).contains("consistent, kept"));
    let note = std::fs::read_dir(kept.join(TENANT)).unwrap().next().unwrap().unwrap().path();
    let size: u64 = note.file_stem().unwrap().to_str().unwrap().parse().unwrap();

    let bundle = data_dir.join("whole.bundle");
    let dir = kept.to_str().unwrap();
    let exported = against(
        stack,
        "export",
        TENANT,
        &["--bundle", "--out", bundle.to_str().unwrap(), "--checkpoints", dir],
    );
    assert!(exported.status.success(), "{}", stderr(&exported));
    let jwks = data_dir.join("keys").join("signing").join("jwks.json");
    let verify = |file: &Path, dir: &Path| {
        auditctl(&[
            "verify",
            file.to_str().unwrap(),
            "--jwks",
            jwks.to_str().unwrap(),
            "--checkpoints",
            dir.to_str().unwrap(),
        ])
    };
    let verified = verify(&bundle, &kept);
    let report = String::from_utf8_lossy(&verified.stdout).into_owned();
    assert!(verified.status.success(), "{report}");
    assert!(report.contains("saved checkpoints consistent: 1") && report.contains("valid"), "{report}");

    let text = std::fs::read_to_string(&bundle).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines.remove(lines.len() / 2);
    let cut = data_dir.join("cut.bundle");
    std::fs::write(&cut, lines.join("\n") + "\n").unwrap();
    let refused = verify(&cut, &kept);
    assert_eq!(refused.status.code(), Some(1), "{}", String::from_utf8_lossy(&refused.stdout));
    assert!(String::from_utf8_lossy(&refused.stdout).contains("was expected"));

    // Checkpoints the trail never signed that way, signed with its key as an operator could.
    let key =
        audit_integrity::KeyDir::open(&data_dir.join("keys").join("signing")).unwrap().signing_key().unwrap();
    let origin = audit_integrity::note::origin(audit_integrity::note::DEFAULT_TRAIL_NAME, TENANT);
    for (name, forged_size, alarm) in [("forked", size, "ALARM"), ("ahead", size + 1_000, "went back")] {
        let forged = data_dir.join(name);
        std::fs::create_dir_all(forged.join(TENANT)).unwrap();
        let checkpoint =
            audit_integrity::note::Checkpoint { origin: origin.clone(), size: forged_size, root: [7; 32] };
        std::fs::write(forged.join(TENANT).join(format!("{forged_size}.note")), checkpoint.sign(&key.key))
            .unwrap();
        let alarmed = watch(&forged);
        assert_eq!(alarmed.status.code(), Some(3), "{name}: {}", stderr(&alarmed));
        assert!(stderr(&alarmed).contains(alarm), "{name}: {}", stderr(&alarmed));
        let refused = verify(&bundle, &forged);
        assert_eq!(refused.status.code(), Some(1), "{name}: {}", String::from_utf8_lossy(&refused.stdout));
    }

    let window = data_dir.join("window.bundle");
    let args = [
        "--bundle",
        "--out",
        window.to_str().unwrap(),
        "--from",
        "2000-01-01T00:00:00Z",
        "--to",
        "2100-01-01T00:00:00Z",
    ];
    let exported = against(stack, "export", TENANT, &args);
    assert!(exported.status.success(), "{}", stderr(&exported));
    let verified = verify(&window, &kept);
    assert!(verified.status.success(), "{}", String::from_utf8_lossy(&verified.stdout));
}

/// Failures that need no stack: nothing listening, no issuer to mint with, bad flags.
#[test]
fn without_a_stack_unreachable_exits_1_unusable_flags_exit_2() {
    let data_dir = tempfile::tempdir().unwrap();
    let dir = data_dir.path().to_str().unwrap();
    let url = format!("http://127.0.0.1:{}", free_port());
    let token = ["--token", "a.b.c", "--url", &url, "--tenant", TENANT];

    let unreachable = auditctl(&[&["search"][..], &token[..]].concat());
    assert_eq!(unreachable.status.code(), Some(1));
    let message = stderr(&unreachable);
    assert!(
        message.contains(&format!("cannot reach the query-api at {url}: connection refused")),
        "{message}"
    );

    let no_issuer = auditctl(&["search", "--tenant", TENANT, "--url", &url, "--data-dir", dir]);
    assert_eq!(no_issuer.status.code(), Some(2));
    assert!(stderr(&no_issuer).contains("no local token issuer in"), "{}", stderr(&no_issuer));
    assert!(!data_dir.path().join("keys").exists(), "no issuer key made that no stack trusts");

    let missing_dir = data_dir.path().join("missing").join("export.jsonl");
    let bad_out = auditctl(&[&["export", "--out", missing_dir.to_str().unwrap()][..], &token[..]].concat());
    assert_eq!(bad_out.status.code(), Some(2));
    assert!(stderr(&bad_out).contains("cannot write in"), "{}", stderr(&bad_out));

    let bad_url = auditctl(&["search", "--tenant", TENANT, "--token", "a.b.c", "--url", "ftp://x"]);
    assert_eq!(bad_url.status.code(), Some(2));
    assert!(stderr(&bad_url).contains("must be an http:// or https:// url"), "{}", stderr(&bad_url));
}
