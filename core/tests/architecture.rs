//! The code map stays true: every workspace member has its heading in ARCHITECTURE.md.

use std::path::Path;

#[test]
fn every_workspace_member_is_in_the_code_map() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let architecture = std::fs::read_to_string(root.join("ARCHITECTURE.md")).unwrap();
    let members_line = manifest.lines().find(|line| line.starts_with("members")).expect("workspace members");
    let members: Vec<&str> = members_line.split('"').skip(1).step_by(2).collect();
    assert!(members.len() >= 5, "{members:?}");
    for member in members {
        let heading = format!("### `{member}`");
        assert!(
            architecture.lines().any(|line| line.starts_with(&heading)),
            "ARCHITECTURE.md has no heading for {member}"
        );
    }
}
