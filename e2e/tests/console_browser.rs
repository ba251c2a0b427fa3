//! The console in a real browser, on the stack a user runs: `auditctl up` on free
//! ports, events from `auditctl produce`, headless Chromium from Debian's packages
//! clicking through the pages. It walks what an administrator does: sign in, filter,
//! page, open a record, reveal its clear values and find that reveal in the trail,
//! verify signatures, look at the checkpoint, register a webhook and see its ping reach
//! a local receiver, and meet an error said in words. Every page is checked for
//! labels, keyboard reach, focus rings, contrast and width (`browser_support`), and
//! photographed into `<target>/tmp/console-screenshots/` for people to look at.

mod browser_support;

use std::process::Command;
use std::time::{Duration, Instant};

use browser_support::Browser;
use fantoccini::Locator;

/// Events sent: enough for several pages and a checkpoint of each tenant.
const EVENTS: u64 = 3000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_walks_the_console_in_chromium() {
    let data_dir = tempfile::tempdir().unwrap();
    let log = std::fs::File::create(data_dir.path().join("stack.log")).unwrap();
    let stack = testkit::up::start(testkit::up::UpParams {
        binary: env!("CARGO_BIN_EXE_e2e-auditctl"),
        data_dir: data_dir.path(),
        broker_port: 0,
        global_args: &[],
        env: &[],
        log: log.into(),
    });
    let tenant = produce(&stack.broker).await;
    wait_indexed(&stack.indexer_ops, EVENTS as f64).await;
    let shots = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("console-screenshots");
    let _ = std::fs::remove_dir_all(&shots);
    let mut browser = Browser::start(&shots).await;
    let console = format!("{}/console", stack.query);

    sign_in(&mut browser, &console, &tenant).await;
    filter_and_page(&mut browser).await;
    let record = open_and_reveal(&mut browser).await;
    find_the_reveal_in_the_trail(&mut browser, &console).await;
    verify(&mut browser, &console).await;
    integrity(&mut browser, &console, data_dir.path()).await;
    webhook_ping(&mut browser, &console).await;
    errors_in_words(&mut browser, &console, &record).await;
    browser.click("Sign out").await;
    assert!(browser.text().await.contains("Bearer token"), "signed out, back at the sign-in");
    eprintln!("screenshots in {}", shots.display());
}

/// `auditctl produce` into the stack's broker once it takes connections; the first
/// tenant `produce` names.
async fn produce(broker: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    let count = EVENTS.to_string();
    let args = ["produce", "--kafka", broker, "--count", &count, "--tenants", "2", "--seed", "25"];
    let output = loop {
        let output = Command::new(env!("CARGO_BIN_EXE_e2e-auditctl")).args(args).output().unwrap();
        if output.status.success() || Instant::now() > deadline {
            break output;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let printed = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "produce: {printed} {}", String::from_utf8_lossy(&output.stderr));
    let tenants =
        printed.lines().find_map(|line| line.strip_prefix("tenants: ")).expect("produce names them");
    tenants.split(", ").next().unwrap().to_owned()
}

async fn wait_indexed(ops: &str, count: f64) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let indexed = testkit::up::metric(ops, "indexer_records_consumed_total").await;
        if indexed.is_some_and(|indexed| indexed >= count) {
            return;
        }
        assert!(Instant::now() < deadline, "indexed {indexed:?} of {count} records");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Checks the page a user now sees and photographs it.
async fn look(browser: &mut Browser, name: &str) {
    browser.shot(name).await;
    let barriers = browser.barriers().await;
    assert!(barriers.is_empty(), "{name}: {barriers:#?}");
}

async fn sign_in(browser: &mut Browser, console: &str, tenant: &str) {
    browser.goto(console).await;
    assert!(browser.text().await.contains("Development sign-in"), "{}", browser.text().await);
    look(browser, "sign-in").await;
    browser.fill("tenant", tenant).await;
    browser.click("Sign in to this tenant").await;
    let text = browser.text().await;
    assert!(text.contains("Audit events") && text.contains(&format!("Tenant {tenant}")), "{text}");
    look(browser, "events").await;
}

/// The rows' event types (second column).
async fn event_types(browser: &Browser) -> Vec<String> {
    let cells = browser.client.find_all(Locator::Css("tbody tr td:nth-child(2)")).await.unwrap();
    let mut types = Vec::new();
    for cell in cells {
        types.push(cell.text().await.unwrap());
    }
    types
}

async fn total(browser: &Browser) -> u64 {
    let text = browser.text().await;
    let line = text.lines().find(|line| line.ends_with("matching records")).expect("a total");
    line.split_whitespace().next().unwrap().parse().unwrap()
}

async fn filter_and_page(browser: &mut Browser) {
    for badge in browser.client.find_all(Locator::Css("tbody .badge")).await.unwrap() {
        assert_eq!(badge.text().await.unwrap(), "not checked", "no signature checked unless asked");
    }
    let all = total(browser).await;
    let first = event_types(browser).await;
    assert_eq!(first.len(), 25, "a full first page");
    browser.click("Next page").await;
    let second = event_types(browser).await;
    assert!(browser.client.current_url().await.unwrap().as_str().contains("cursor="));
    assert_eq!(total(browser).await, all, "the same search, one page on");
    look(browser, "events-page-2").await;
    browser.click("First page").await;
    assert_eq!(event_types(browser).await, first, "back to the first page");
    assert!(!second.is_empty());

    let chosen = first[0].clone();
    browser.choose("type", &chosen).await;
    browser.choose("order", "asc").await;
    browser.click("Search").await;
    let filtered = event_types(browser).await;
    assert!(!filtered.is_empty() && filtered.iter().all(|name| *name == chosen), "{filtered:?}");
    assert!(total(browser).await < all, "the filter narrows the search");
    look(browser, "events-filtered").await;
}

/// Opens the first record, reveals it; its id.
async fn open_and_reveal(browser: &mut Browser) -> String {
    let link = browser.find("tbody tr td:nth-child(2) a").await;
    link.click().await.unwrap();
    let url = browser.client.current_url().await.unwrap();
    let record = url.path().rsplit('/').next().unwrap().to_owned();
    let tokenized = attribute(browser, "targetUserId.id").await;
    assert!(browser.text().await.contains("JSON"));
    look(browser, "record").await;
    browser.click("Reveal clear values").await;
    let text = browser.text().await;
    assert!(text.contains("the reveal is recorded in the trail"), "{text}");
    let clear = attribute(browser, "targetUserId.id").await;
    assert_ne!(clear, tokenized, "the token gave way to its clear value");
    look(browser, "record-revealed").await;
    record
}

/// The value shown for attribute `path` on a record's page.
async fn attribute(browser: &Browser, path: &str) -> String {
    let xpath = format!("//dt[normalize-space()='{path}']/following-sibling::dd[1]");
    let value = browser.client.find(Locator::XPath(&xpath)).await;
    value.unwrap_or_else(|_| panic!("no attribute {path}")).text().await.unwrap()
}

/// The reveal is an audit event of its own: it reaches the signed, searchable trail.
async fn find_the_reveal_in_the_trail(browser: &mut Browser, console: &str) {
    browser.goto(&format!("{console}/events")).await;
    browser.choose("type", "detokenizeTokens").await;
    browser.fill("actor", "console-developer").await;
    browser.click("Search").await;
    let text =
        browser.reload_until(|text| !text.contains("\n0 matching records"), Duration::from_secs(90)).await;
    assert!(!text.contains("\n0 matching records"), "the reveal never reached the trail: {text}");
    assert!(event_types(browser).await.iter().all(|name| name == "detokenizeTokens"));
    look(browser, "reveal-in-the-trail").await;
}

async fn verify(browser: &mut Browser, console: &str) {
    browser.goto(&format!("{console}/events")).await;
    browser.choose("verify", "on").await;
    browser.click("Search").await;
    let badges = browser.client.find_all(Locator::Css("tbody .badge")).await.unwrap();
    assert_eq!(badges.len(), 25);
    for badge in badges {
        assert_eq!(badge.text().await.unwrap(), "validated");
    }
    browser.click("Reveal clear values on this page").await;
    assert!(browser.text().await.contains("Clear values revealed"));
    look(browser, "events-verified-and-revealed").await;
}

async fn integrity(browser: &mut Browser, console: &str, data_dir: &std::path::Path) {
    browser.goto(&format!("{console}/integrity")).await;
    let text = browser.reload_until(|text| text.contains("Root hash"), Duration::from_secs(60)).await;
    assert!(text.contains("Root hash") && text.contains("Signed note"), "{text}");
    look(browser, "integrity").await;
    // The whole trail's bundle, saved by the browser, verifies offline.
    browser.click_only("Download bundle").await;
    let bundle = browser.downloaded(Duration::from_secs(30)).await;
    let verified = Command::new(env!("CARGO_BIN_EXE_e2e-auditctl"))
        .args(["verify", bundle.to_str().unwrap(), "--data-dir", data_dir.to_str().unwrap()])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&verified.stdout);
    assert!(verified.status.success(), "the downloaded bundle verifies: {said}");
}

/// Registers a webhook to a receiver on loopback and sends it a ping.
async fn webhook_ping(browser: &mut Browser, console: &str) {
    let receiver = testkit::receiver::Receiver::start().await;
    let target = receiver.url.clone();
    browser.goto(&format!("{console}/webhooks")).await;
    look(browser, "webhooks").await;
    browser.fill("url", &target).await;
    browser.fill("events", "createUser, deleteUser").await;
    browser.fill("description", "CRM").await;
    browser.find("input[name=insecure]").await.click().await.unwrap();
    browser.click("Register").await;
    let text = browser.text().await;
    assert!(text.contains("shown this once") && text.contains("whsec_"), "{text}");
    look(browser, "webhook-registered").await;
    browser.click("Open the webhook").await;
    browser.click("Send a ping").await;
    let text = browser.text().await;
    assert!(text.contains("Ping delivered"), "{text}");
    let signed = receiver.header("webhook-signature").iter().any(|signature| !signature.is_empty());
    assert!(signed, "the signed ping reached the receiver");
    look(browser, "webhook-pinged").await;
}

async fn errors_in_words(browser: &mut Browser, console: &str, record: &str) {
    browser.goto(&format!("{console}/events")).await;
    browser.fill("filter", "host eq").await;
    browser.click("Search").await;
    let Ok(alert) = browser.client.find(Locator::Css("[role=alert]")).await else {
        panic!("no error shown: {}", browser.text().await);
    };
    let alert = alert.text().await.unwrap();
    assert!(alert.starts_with("This filter is not valid: "), "the error is said in words: {alert}");
    look(browser, "filter-error").await;
    browser.goto(&format!("{console}/events/{record}-missing")).await;
    let alert = browser.find("[role=alert]").await.text().await.unwrap();
    assert!(alert.contains("not found"), "{alert}");
}
