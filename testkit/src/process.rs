//! Service binaries run as child processes, so tests can kill them without warning.

use std::process::Child;

/// A child process killed when the test ends, however it ends.
pub struct ChildGuard(pub Child);

impl ChildGuard {
    /// Kills the process at once (SIGKILL: no shutdown hook runs) and reaps it.
    pub fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }

    /// Asks the process to stop (SIGTERM) and waits for it; its exit status.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.0.id().to_string();
        std::process::Command::new("kill").args(["-TERM", &pid]).status().expect("kill runs");
        self.0.wait().expect("the child is ours to wait for")
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        self.kill();
    }
}
