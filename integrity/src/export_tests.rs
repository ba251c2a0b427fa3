//! Export verification: a clean run, each tampering named in the report, unparsable
//! lines, chain checking off, and the report's bounds and summary.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::report::thousands;
use super::*;
use crate::keys::SigningKeyPair;
use crate::test_support::{key, record, verifier};
use crate::{ChainLink, seal};

/// `count` records per tenant, tenants interleaved, as JSON values of export lines.
fn export(signer: &SigningKeyPair, tenants: &[&str], count: u64) -> Vec<Value> {
    let mut heads: BTreeMap<&str, [u8; 32]> = BTreeMap::new();
    let mut lines = Vec::new();
    for sequence in 1..=count {
        for tenant in tenants {
            let record = record(tenant, sequence);
            let sealed = seal(signer, &record, ChainLink { sequence, prev_hash: heads.get(tenant).copied() });
            heads.insert(tenant, sealed.hash);
            lines.push(serde_json::to_value(ExportLine::new(sealed.envelope, Some(record))).unwrap());
        }
    }
    lines
}

fn text(lines: &[Value]) -> String {
    lines.iter().map(|line| format!("{line}\n")).collect()
}

fn run(verifier: &Verifier, text: &str, chain: ChainMode) -> ExportReport {
    verify_export(text.as_bytes(), verifier, ExportCheck { chain }, |_| {}).unwrap()
}

#[test]
fn a_clean_export_validates_in_batches_and_reports_progress() {
    let signer = key(1);
    let lines = export(&signer, &["a", "b", "c"], 200);
    let text = text(&lines);
    let mut seen = Vec::new();
    let report = verify_export(
        text.as_bytes(),
        &verifier(&[&signer]),
        ExportCheck { chain: ChainMode::Check },
        |bytes| seen.push(bytes),
    )
    .unwrap();
    assert!(report.is_clean(), "{report}");
    assert_eq!((report.lines, report.validated, report.failed), (600, 600, 0));
    assert_eq!(report.chain.as_ref().unwrap().tenants, 3);
    assert_eq!(seen.len(), 600 / BATCH_LINES + 1);
    assert_eq!(seen.last(), Some(&(text.len() as u64)));
    assert_eq!(report.to_string(), "600 records: 600 validated, 0 failed\nchain: 3 tenants, no breaks\n");
}

type Tamper = Box<dyn Fn(&mut Vec<Value>)>;

/// Changes to single records. Lines alternate tenants: index 4 is a-3, index 6 is a-4.
fn record_tamperings(stranger: SigningKeyPair) -> Vec<(&'static str, Tamper, &'static str)> {
    let forged = seal(&stranger, &record("a", 3), ChainLink { sequence: 3, prev_hash: None }).envelope;
    let forged = serde_json::to_value(ExportLine::new(forged, None::<TokenizedRecord>)).unwrap();
    vec![
        (
            "edited stored record",
            Box::new(|lines| lines[4]["record"]["result"] = json!("RESPONSE_FAILURE")),
            "1 × stored record differs from the signed payload in result (line 5)",
        ),
        (
            "unsigned field in the stored record",
            Box::new(|lines| lines[4]["record"]["note"] = json!("x")),
            "1 × stored record differs from the signed payload in note (line 5)",
        ),
        (
            "unsigned nested field",
            Box::new(|lines| lines[4]["record"]["action"]["extra"] = json!(1)),
            "1 × stored record differs from the signed payload in action (line 5)",
        ),
        (
            "edited envelope",
            Box::new(|lines| lines[4]["created"] = json!(1)),
            "1 × envelope field created differs from the signed payload (line 5)",
        ),
        (
            "record by an unknown key",
            Box::new(move |lines| lines[4] = forged.clone()),
            "1 × signed by unknown key",
        ),
        (
            "forged signature",
            Box::new(|lines| {
                let jws = lines[4]["jws"].as_str().unwrap().to_owned();
                let other = lines[6]["jws"].as_str().unwrap().rsplit_once('.').unwrap().1.to_owned();
                lines[4]["jws"] = json!(format!("{}.{other}", jws.rsplit_once('.').unwrap().0));
            }),
            "1 × signature does not verify under key",
        ),
    ]
}

/// Changes to the order of records.
fn chain_tamperings() -> Vec<(&'static str, Tamper, &'static str)> {
    vec![
        (
            "removed line",
            Box::new(|lines| {
                lines.remove(4);
            }),
            "1 × tenant a: sequence 4 follows 2, records are missing (line 6)",
        ),
        (
            "swapped lines",
            Box::new(|lines| lines.swap(4, 6)),
            "1 × tenant a: sequence 3 comes after 4, out of order (line 7)",
        ),
        (
            "duplicated line",
            Box::new(|lines| lines.insert(5, lines[4].clone())),
            "1 × tenant a: sequence 3 appears again (line 6)",
        ),
    ]
}

#[test]
fn every_tampering_is_reported_with_its_reason_and_line() {
    let signer = key(1);
    let good = export(&signer, &["a", "b"], 5);
    let verifier = verifier(&[&signer]);
    for (name, tamper, expected) in record_tamperings(key(2)).into_iter().chain(chain_tamperings()) {
        let mut lines = good.clone();
        tamper(&mut lines);
        let report = run(&verifier, &text(&lines), ChainMode::Check);
        assert!(!report.is_clean(), "{name}: {report}");
        assert!(report.to_string().contains(expected), "{name}: {report}");
    }
}

#[test]
fn unparsable_lines_are_reported_and_the_rest_still_verifies() {
    let signer = key(1);
    let lines = export(&signer, &["a"], 3);
    let mut with_junk: Vec<String> = lines.iter().map(Value::to_string).collect();
    with_junk.insert(1, "not json".into());
    with_junk.insert(2, String::new());
    let mut unknown = lines[0].clone();
    unknown["integrityStatus"] = json!("validated");
    with_junk.push(unknown.to_string());
    let mut text = with_junk.join("\r\n");
    text.push_str("\n\u{0}\u{ff}{\"tenantId\":");
    let report = run(&verifier(&[&signer]), &text, ChainMode::Check);
    assert_eq!((report.lines, report.validated, report.failed), (6, 3, 3), "{report}");
    let lines: Vec<u64> = report.unparsable.examples.iter().map(|(line, _)| *line).collect();
    assert_eq!(lines, vec![2, 6, 7]);
    let summary = report.to_string();
    assert!(summary.contains("unparsable line 2: expected ident at column 2\n"), "{summary}");
    assert!(summary.contains("unparsable line 6: unknown field `integrityStatus`"), "{summary}");
    assert!(summary.contains("chain: 1 tenant, no breaks"), "{summary}");
}

#[test]
fn a_line_too_long_is_skipped_without_being_kept() {
    let signer = key(1);
    let lines = export(&signer, &["a"], 2);
    let text = format!("{}\n{}\n{}\n", lines[0], "x".repeat(MAX_LINE_BYTES + 10), lines[1]);
    let report = run(&verifier(&[&signer]), &text, ChainMode::Check);
    assert_eq!((report.validated, report.failed), (2, 1), "{report}");
    assert_eq!(report.unparsable.examples[0].0, 2);
    assert!(!report.is_clean() && report.chain.unwrap().breaks.total == 0);
}

#[test]
fn with_the_chain_off_only_records_are_checked() {
    let signer = key(1);
    let mut lines = export(&signer, &["a"], 4);
    lines.remove(1);
    lines.swap(0, 1);
    let report = run(&verifier(&[&signer]), &text(&lines), ChainMode::Skip);
    assert!(report.is_clean(), "{report}");
    assert_eq!(report.to_string(), "3 records: 3 validated, 0 failed\nchain: not checked\n");
    assert!(!run(&verifier(&[&signer]), &text(&lines), ChainMode::Check).is_clean());
}

#[test]
fn reasons_are_bounded_and_counted_in_full() {
    let mut tally = Tally::default();
    for line in 1..=1000 {
        tally.add(format!("reason {}", line % 100), line);
    }
    assert_eq!(tally.total, 1000);
    assert_eq!(tally.groups.len(), MAX_REASONS + 1);
    assert_eq!(
        tally.groups[0],
        Group { reason: "reason 1".into(), count: 10, lines: vec![1, 101, 201, 301, 401] }
    );
    let other = tally.groups.last().unwrap();
    assert_eq!((other.reason.as_str(), other.count), (OTHER_REASONS, 1000 - 10 * MAX_REASONS as u64));
    assert!(tally.groups.iter().all(|group| group.lines.len() <= EXAMPLE_LINES));
}

#[test]
fn the_summary_groups_failures_by_reason() {
    let signer = key(1);
    let mut lines = export(&signer, &["a"], 8);
    for index in [1, 2, 3, 4, 5, 6] {
        lines[index]["created"] = json!(7);
    }
    let report = run(&verifier(&[&signer]), &text(&lines), ChainMode::Check);
    assert_eq!(
        report.to_string(),
        "8 records: 2 validated, 6 failed\n  \
         6 × envelope field created differs from the signed payload (lines 2, 3, 4, 5, 6, …)\n\
         chain: 1 tenant, no breaks\n"
    );
    assert_eq!(thousands(12_000), "12,000");
    assert_eq!(thousands(1_234_567), "1,234,567");
    assert_eq!(thousands(999), "999");
}
