//! Reading private key files: refused when anyone but their owner can read them.
//!
//! A master key, a signing key or an issuer key readable by the group or by everyone
//! has leaked to every account on the machine; like `ssh` with a private key, the
//! services then refuse to start and say how to fix it instead of using it.

use std::{
    io::{Error, ErrorKind},
    os::unix::fs::PermissionsExt,
    path::Path,
};

/// The text of the private file at `path`; see [`read_private`].
pub fn read_private_text(path: &Path) -> std::io::Result<String> {
    String::from_utf8(read_private(path)?)
        .map_err(|_| Error::new(ErrorKind::InvalidData, "key file is not utf-8"))
}

/// The bytes of the private file at `path`, refused when its mode lets the group or
/// others read or write it.
pub fn read_private(path: &Path) -> std::io::Result<Vec<u8>> {
    let file = std::fs::File::open(path)?;
    let mode = file.metadata()?.permissions().mode();
    if mode & 0o077 != 0 {
        let detail = format!(
            "{} is open to other users (mode {:o}): make it private with chmod 600",
            path.display(),
            mode & 0o777
        );
        return Err(Error::new(ErrorKind::PermissionDenied, detail));
    }
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut &file, &mut bytes)?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_owner_only_files_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        std::fs::write(&path, "00ff").unwrap();
        for (mode, readable) in [(0o600, true), (0o400, true), (0o640, false), (0o644, false), (0o602, false)]
        {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            match read_private_text(&path) {
                Ok(text) => assert!(readable && text == "00ff", "mode {mode:o}"),
                Err(error) => {
                    assert!(!readable, "mode {mode:o}: {error}");
                    assert_eq!(error.kind(), ErrorKind::PermissionDenied);
                    assert!(error.to_string().contains("chmod 600"), "{error}");
                }
            }
        }
    }
}
