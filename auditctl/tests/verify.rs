//! `auditctl keys` and `auditctl verify` as a user runs them: separate processes on a
//! fresh data directory. An export signed across a key rotation verifies (exit 0);
//! each tampered copy fails with its precise reason (exit 1); a check that cannot
//! run is a usage error (exit 2).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use audit_integrity::{ChainLink, ExportLine, KeyDir, PayloadHash, SigningKeyPair, seal};
use audit_schemas::{Action, TokenizedRecord};
use serde_json::{Value, json};

const TENANTS: [&str; 3] = ["t1", "t2", "t3"];
/// Records per tenant; the key rotates after half of them.
const PER_TENANT: u64 = 120;

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn auditctl(args: &[&str]) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_auditctl")).args(args).output().expect("auditctl runs");
    Run {
        code: output.status.code().expect("auditctl exits"),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

fn record(tenant: &str, n: u64) -> TokenizedRecord {
    TokenizedRecord {
        id: format!("{tenant}-{n}"),
        tenant_id: tenant.into(),
        created: 1_700_000_000_000 + n as i64,
        action: Action {
            action_name: "createUser".into(),
            action_parameters: BTreeMap::from([("USN".into(), format!("tok-{n}"))]),
        },
        result: Some("RESPONSE_SUCCESS".into()),
        return_value: None,
        message: Some(format!("record {n} of {tenant}")),
        host: Some(format!("tok-host-{n}")),
        target_user: None,
        acting_user: None,
        external_id: None,
        event_id: None,
        tokenized_paths: vec!["action.actionParameters.USN".into(), "host".into()],
    }
}

/// The lines of an export in the making, tenants interleaved, with each payload's hash.
#[derive(Default)]
struct Export {
    lines: Vec<Value>,
    hashes: Vec<PayloadHash>,
    heads: BTreeMap<String, PayloadHash>,
}

impl Export {
    /// Appends sequences `from..=to` of every tenant, signed by `signer`; every
    /// seventh line carries no stored record, as an export may.
    fn sign(&mut self, signer: &SigningKeyPair, from: u64, to: u64) {
        for sequence in from..=to {
            for tenant in TENANTS {
                let record = record(tenant, sequence);
                let prev_hash = self.heads.get(tenant).copied();
                let sealed = seal(signer, &record, ChainLink { sequence, prev_hash });
                self.heads.insert(tenant.into(), sealed.hash);
                self.hashes.push(sealed.hash);
                let stored = (self.lines.len() % 7 != 6).then_some(record);
                self.lines.push(serde_json::to_value(ExportLine::new(sealed.envelope, stored)).unwrap());
            }
        }
    }
}

fn write_export(dir: &Path, name: &str, lines: &[Value]) -> PathBuf {
    let path = dir.join(name);
    let text: String = lines.iter().map(|line| format!("{line}\n")).collect();
    std::fs::write(&path, text).unwrap();
    path
}

fn signing_key(data_dir: &Path) -> SigningKeyPair {
    KeyDir::open(&data_dir.join("keys/signing")).unwrap().signing_key().unwrap()
}

type Tamper = Box<dyn Fn(&mut Vec<Value>)>;
/// A tampering: its name, the change, and what the summary must say.
type Case = (&'static str, Tamper, String);

/// Verifies a tampered copy of `good`: exit code 1 and the precise reason on stdout.
fn check_tampered(data_dir: &Path, good: &[Value], (name, tamper, expected): Case) {
    let mut lines = good.to_vec();
    tamper(&mut lines);
    let file = write_export(data_dir, &format!("{}.jsonl", name.replace(' ', "-")), &lines);
    let run = auditctl(&["verify", file.to_str().unwrap(), "--data-dir", data_dir.to_str().unwrap()]);
    assert_eq!(run.code, 1, "{name}: {}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains(&expected), "{name}: expected {expected:?} in\n{}", run.stdout);
}

/// Changes to single records. Line i holds sequence i / 3 + 1 of tenant TENANTS[i % 3].
fn record_tamperings(export: &Export, stranger: &SigningKeyPair) -> Vec<Case> {
    // The same record at the same place in the chain, signed by a key nobody published.
    let link = ChainLink { sequence: 84, prev_hash: Some(export.hashes[246]) };
    let forged = seal(stranger, &record("t1", 84), link).envelope;
    let forged = serde_json::to_value(ExportLine::new(forged, Some(record("t1", 84)))).unwrap();
    vec![
        (
            "edited record field",
            Box::new(|lines| lines[100]["record"]["result"] = json!("RESPONSE_FAILURE")),
            "1 × stored record differs from the signed payload in result (line 101)".into(),
        ),
        (
            "edited envelope",
            Box::new(|lines| lines[200]["created"] = json!(lines[200]["created"].as_i64().unwrap() + 1)),
            "1 × envelope field created differs from the signed payload (line 201)".into(),
        ),
        (
            "record signed by a key not in the jwks",
            Box::new(move |lines| lines[249] = forged.clone()),
            format!("1 × signed by unknown key {} (line 250)", stranger.kid),
        ),
        (
            "unparsable line",
            Box::new(|lines| lines[5] = json!("not a record")),
            "unparsable line 6: invalid type: string".into(),
        ),
    ]
}

/// Changes to the order of records; the key rotated after line 180.
fn chain_tamperings() -> Vec<Case> {
    vec![
        (
            "removed line",
            Box::new(|lines| {
                lines.remove(30);
            }),
            "1 × tenant t1: sequence 12 follows 10, records are missing (line 33)".into(),
        ),
        (
            "swapped lines across the rotation",
            Box::new(|lines| lines.swap(177, 180)),
            "1 × tenant t1: sequence 60 comes after 61, out of order (line 181)".into(),
        ),
    ]
}

/// Builds the export through the CLI's key management: create, sign, rotate, sign.
fn build_export(data_dir: &Path) -> (Export, [String; 2]) {
    let dir = data_dir.to_str().unwrap();
    let missing = auditctl(&["keys", "list", "--data-dir", dir]);
    assert_eq!(missing.code, 1);
    assert!(
        missing.stderr.contains("no key ring in") && missing.stderr.contains("--create"),
        "{}",
        missing.stderr
    );
    assert_eq!(auditctl(&["keys", "rotate", "--data-dir", dir]).code, 1, "rotate alone does not create");
    let first = auditctl(&["keys", "rotate", "--create", "--data-dir", dir]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let mut export = Export::default();
    export.sign(&signing_key(data_dir), 1, PER_TENANT / 2);
    let second = auditctl(&["keys", "rotate", "--data-dir", dir]);
    assert_eq!(second.code, 0, "{}", second.stderr);
    export.sign(&signing_key(data_dir), PER_TENANT / 2 + 1, PER_TENANT);
    let kids = [first.stdout.trim().to_owned(), second.stdout.trim().to_owned()];
    assert_ne!(kids[0], kids[1]);
    (export, kids)
}

#[test]
fn keys_list_and_jwks_show_every_key_after_rotation() {
    let data_dir = tempfile::tempdir().unwrap();
    let (_, [first, second]) = build_export(data_dir.path());
    let dir = data_dir.path().to_str().unwrap();
    let list = auditctl(&["keys", "list", "--data-dir", dir]);
    assert_eq!(list.code, 0, "{}", list.stderr);
    let rows: Vec<&str> = list.stdout.lines().collect();
    assert_eq!(rows.len(), 3, "{}", list.stdout);
    assert!(rows[1].starts_with(&first) && rows[1].contains("retired 20"), "{}", list.stdout);
    assert!(rows[2].starts_with(&second) && rows[2].ends_with("active"), "{}", list.stdout);
    let jwks = auditctl(&["keys", "jwks", "--data-dir", dir]);
    assert_eq!(jwks.code, 0, "{}", jwks.stderr);
    let printed: Value = serde_json::from_str(&jwks.stdout).unwrap();
    let kids: Vec<&str> =
        printed["keys"].as_array().unwrap().iter().map(|key| key["kid"].as_str().unwrap()).collect();
    assert_eq!(kids, [first.as_str(), second.as_str()]);
    let published: Value =
        serde_json::from_slice(&std::fs::read(data_dir.path().join("keys/signing/jwks.json")).unwrap())
            .unwrap();
    assert_eq!(printed, published);
    let elsewhere =
        auditctl(&["keys", "jwks", "--dir", data_dir.path().join("keys/signing").to_str().unwrap()]);
    assert_eq!(elsewhere.stdout, jwks.stdout);
}

#[test]
fn an_export_across_a_rotation_verifies() {
    let data_dir = tempfile::tempdir().unwrap();
    let path = data_dir.path();
    let (export, _) = build_export(path);
    let file = write_export(path, "export.jsonl", &export.lines);
    let run = auditctl(&["verify", file.to_str().unwrap(), "--data-dir", path.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(run.stdout, "360 records: 360 validated, 0 failed\nchain: 3 tenants, no breaks\n");
    let jwks = path.join("keys/signing/jwks.json");
    let explicit = auditctl(&["verify", file.to_str().unwrap(), "--jwks", jwks.to_str().unwrap()]);
    assert_eq!((explicit.code, explicit.stdout.as_str()), (0, run.stdout.as_str()));
    let mut reordered = export.lines.clone();
    reordered.swap(177, 180);
    let reordered = write_export(path, "reordered.jsonl", &reordered);
    let unchained =
        auditctl(&["verify", reordered.to_str().unwrap(), "--no-chain", "--jwks", jwks.to_str().unwrap()]);
    let expected = "360 records: 360 validated, 0 failed\nchain: not checked\n";
    assert_eq!((unchained.code, unchained.stdout.as_str()), (0, expected));
}

#[test]
fn every_tampering_is_named_and_exits_1() {
    let data_dir = tempfile::tempdir().unwrap();
    let (export, _) = build_export(data_dir.path());
    let stranger_dir = tempfile::tempdir().unwrap();
    let stranger = KeyDir::open_or_create(stranger_dir.path()).unwrap().signing_key().unwrap();
    for case in record_tamperings(&export, &stranger).into_iter().chain(chain_tamperings()) {
        check_tampered(data_dir.path(), &export.lines, case);
    }
}

#[test]
fn a_check_that_cannot_run_exits_2_with_one_lowercase_line() {
    let data_dir = tempfile::tempdir().unwrap();
    let path = data_dir.path();
    let dir = path.to_str().unwrap();
    auditctl(&["keys", "rotate", "--create", "--data-dir", dir]);
    let export = write_export(path, "export.jsonl", &[]);
    let export = export.to_str().unwrap();
    let missing = path.join("missing.jsonl");
    let cases: [(Vec<&str>, &str); 4] = [
        (vec![missing.to_str().unwrap(), "--data-dir", dir], "cannot read"),
        (vec![dir, "--data-dir", dir], "is a directory"),
        (vec![export, "--jwks", export], "invalid jwk set"),
        (vec![export, "--data-dir", missing.to_str().unwrap()], "cannot read the jwk set"),
    ];
    for (args, expected) in cases {
        let run = auditctl(&[&["verify"], args.as_slice()].concat());
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(run.stdout.is_empty(), "{args:?}: {}", run.stdout);
        let message = run.stderr.strip_prefix("auditctl: ").unwrap_or_default();
        assert!(message.contains(expected), "{args:?}: {}", run.stderr);
        assert_eq!(message.lines().count(), 1, "{args:?}: {}", run.stderr);
        assert!(
            message.starts_with(char::is_lowercase) && !message.trim_end().ends_with('.'),
            "{}",
            run.stderr
        );
    }
}
