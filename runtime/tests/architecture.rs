//! The code map stays true: every workspace member has its heading in ARCHITECTURE.md,
//! and no service depends on another service, not even for its tests or benchmarks.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_owned()
}

fn members() -> Vec<String> {
    let manifest = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    let members_line = manifest.lines().find(|line| line.starts_with("members")).expect("workspace members");
    let members: Vec<String> = members_line.split('"').skip(1).step_by(2).map(str::to_owned).collect();
    assert!(members.len() >= 5, "{members:?}");
    members
}

/// A service is a member with a binary of its own; `auditctl` is the command line,
/// which runs every service in one process.
fn services() -> Vec<String> {
    let services: Vec<String> = members()
        .into_iter()
        .filter(|member| member != "auditctl" && root().join(member).join("src/main.rs").exists())
        .collect();
    assert!(services.len() >= 6, "{services:?}");
    services
}

/// Every crate `member`'s manifest names in any dependency table.
fn dependencies(member: &str) -> Vec<String> {
    let manifest = std::fs::read_to_string(root().join(member).join("Cargo.toml")).unwrap();
    let mut in_dependencies = false;
    let mut names = Vec::new();
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_dependencies = line.ends_with("dependencies]");
        } else if in_dependencies && let Some((name, _)) = line.split_once(['.', '=', ' ']) {
            names.push(name.trim().to_owned());
        }
    }
    names
}

#[test]
fn every_workspace_member_is_in_the_code_map() {
    let architecture = std::fs::read_to_string(root().join("ARCHITECTURE.md")).unwrap();
    for member in members() {
        let heading = format!("### `{member}`");
        assert!(
            architecture.lines().any(|line| line.starts_with(&heading)),
            "ARCHITECTURE.md has no heading for {member}"
        );
    }
}

#[test]
fn no_service_depends_on_another_service() {
    let services = services();
    for service in &services {
        for dependency in dependencies(service) {
            assert!(
                !services.contains(&dependency),
                "{service} depends on the service {dependency}: share a library crate instead"
            );
        }
    }
}
