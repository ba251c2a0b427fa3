//! Service binaries run as child processes, so tests can kill them without warning.

use std::process::{Child, Command, Stdio};

use audit_runtime::config::KafkaConfig;

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
        Command::new("kill").args(["-TERM", &pid]).status().expect("kill runs");
        self.0.wait().expect("the child is ours to wait for")
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Starts the stage binary at `binary` against `kafka` the way crash tests run it
/// (free ops port, the test broker's partitions, a 6 s session, so a killed
/// predecessor's partitions come back 6 s after it died), with `args` added and its
/// logs to `log`.
pub fn spawn_stage(binary: &str, kafka: &KafkaConfig, args: &[&str], log: std::fs::File) -> ChildGuard {
    let partitions = crate::kafka::PARTITIONS.to_string();
    let common = ["--kafka", &kafka.bootstrap, "--ops-listen", "127.0.0.1:0", "--partitions", &partitions];
    let session = ["--session-timeout-ms", "6000"];
    let properties: Vec<String> =
        kafka.properties.iter().map(|(key, value)| format!("--kafka-property={key}={value}")).collect();
    let properties: Vec<&str> = properties.iter().map(String::as_str).collect();
    spawn(binary, &[&common[..], &session[..], &properties, args].concat(), log)
}

/// Starts the service binary at `binary` with `args`, its logs to `log`.
pub fn spawn(binary: &str, args: &[&str], log: std::fs::File) -> ChildGuard {
    let child = Command::new(binary)
        .args(args)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("the service binary starts");
    ChildGuard(child)
}
