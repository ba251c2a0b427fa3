//! docker-compose.yml as Debian's `docker-compose config` renders it (no engine
//! needed): the file is valid, every service restarts and reports its health, the
//! private signing keys reach the signer only, no secret passes in the environment
//! the file declares, and search spans two indexers (each its own volume and leaf
//! URL) and two query-apis.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

/// Each service's block of the rendered file, by name.
fn rendered_services() -> BTreeMap<String, String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let output = Command::new("docker-compose")
        .current_dir(&root)
        .args(["--env-file", ".env.example", "-f", "docker-compose.yml", "config"])
        .output()
        .expect("docker-compose runs (Debian's docker-compose package; .ci/run installs it)");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "docker-compose.yml is invalid: {stderr}");
    let rendered = String::from_utf8(output.stdout).unwrap();
    let mut services = BTreeMap::new();
    let mut current: Option<String> = None;
    let mut in_services = false;
    for line in rendered.lines() {
        if !line.starts_with(' ') {
            in_services = line == "services:";
            current = None;
            continue;
        }
        if in_services && line.len() > 2 && !line[2..].starts_with(' ') {
            current = Some(line.trim().trim_end_matches(':').to_owned());
            continue;
        }
        if let Some(name) = &current {
            services.entry(name.clone()).or_insert_with(String::new).push_str(&format!("{line}\n"));
        }
    }
    services
}

#[test]
fn the_compose_file_runs_every_service_healthy_and_keeps_secrets_in_files() {
    let services = rendered_services();
    let ours = [
        "ingestor",
        "vault",
        "tokenizer",
        "signer",
        "indexer-1",
        "indexer-2",
        "query-api-1",
        "query-api-2",
        "notifier",
    ];
    for name in ours.iter().chain(&["kafka", "postgres"]) {
        let block = services.get(*name).unwrap_or_else(|| panic!("{name} is a service"));
        assert!(block.contains("restart: unless-stopped"), "{name} restarts");
        assert!(block.contains("healthcheck:"), "{name} reports its health");
    }
    for (name, block) in &services {
        let mounts_keys = block.contains("source: signing-keys") || block.contains("signing-keys:/keys");
        assert_eq!(mounts_keys, name == "signer", "{name}: the private signing keys reach the signer only");
        for secret_variable in [
            "MASTER_KEY_HEX",
            "POSTGRES_PASSWORD:",
            "SERVICE_CREDENTIALS:",
            "VAULT_CREDENTIAL:",
            "LEAF_CREDENTIAL:",
            "LEAF_CREDENTIALS:",
        ] {
            assert!(!block.contains(secret_variable), "{name}: {secret_variable} is passed as a file");
        }
    }
    assert!(
        services["kafka"].contains("KAFKA_LOG_DIRS: /var/lib/kafka/data"),
        "the topics live on the volume"
    );
    for query_api in ["query-api-1", "query-api-2"] {
        assert!(services[query_api].contains("AUDIT_SIGNING_JWKS_FILE: /jwks/jwks.json"));
        assert!(
            services[query_api].contains("AUDIT_KAFKA: kafka:9092"),
            "{query_api} reads the shard claims"
        );
    }
    for (indexer, volume) in [("indexer-1", "index-1"), ("indexer-2", "index-2")] {
        let block = &services[indexer];
        assert!(
            block.contains(&format!("AUDIT_LEAF_URL: http://{indexer}:9110")),
            "{indexer} advertises its leaf"
        );
        assert!(block.contains(&format!("{volume}:/index")), "{indexer} keeps its shards on its own volume");
    }
    assert!(services["signer"].contains("AUDIT_PUBLISH_JWKS_FILE: /jwks/jwks.json"));
}
