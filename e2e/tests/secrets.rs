//! Secrets given through the environment never show: every binary's `--help` (which
//! clap fills with the environment's values) is run with each secret variable set to
//! a marker, and no marker may appear in what it prints.

use std::process::Command;

/// The variables that may hold a secret, each set to a marker of its own.
const SECRETS: [&str; 9] = [
    "AUDIT_KAFKA_PROPERTY",
    "AUDIT_LEAF_CREDENTIALS",
    "AUDIT_LEAF_CREDENTIAL",
    "AUDIT_VAULT_DATABASE",
    "AUDIT_VAULT_SERVICE_CREDENTIALS",
    "AUDIT_VAULT_CREDENTIAL",
    "AUDIT_NOTIFIER_DATABASE",
    "AUDIT_TOKEN",
    "AUDIT_WEBHOOK_API_KEY",
];

/// Each binary with the command line whose help holds its secret flags.
const BINARIES: [(&str, &[&str]); 10] = [
    (env!("CARGO_BIN_EXE_e2e-ingestor"), &[]),
    (env!("CARGO_BIN_EXE_e2e-tokenizer"), &[]),
    (env!("CARGO_BIN_EXE_e2e-signer"), &[]),
    (env!("CARGO_BIN_EXE_e2e-indexer"), &[]),
    (env!("CARGO_BIN_EXE_e2e-vault"), &[]),
    (env!("CARGO_BIN_EXE_e2e-query-api"), &[]),
    (env!("CARGO_BIN_EXE_e2e-notifier"), &[]),
    (env!("CARGO_BIN_EXE_e2e-auditctl"), &["search"]),
    (env!("CARGO_BIN_EXE_e2e-auditctl"), &["webhooks", "create"]),
    (env!("CARGO_BIN_EXE_e2e-auditctl"), &["up"]),
];

fn marker(variable: &str) -> String {
    format!("secret-{}-value", variable.to_lowercase())
}

#[test]
fn help_never_shows_a_secret_from_the_environment() {
    for (binary, args) in BINARIES {
        let mut command = Command::new(binary);
        command.args(args).arg("--help");
        for variable in SECRETS {
            command.env(variable, marker(variable));
        }
        let output = command.output().expect("the binary runs");
        assert!(output.status.success(), "{binary} {args:?} --help");
        let printed = String::from_utf8_lossy(&output.stdout);
        for variable in SECRETS {
            assert!(!printed.contains(&marker(variable)), "{binary} {args:?} --help shows {variable}");
        }
    }
}
