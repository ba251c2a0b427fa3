//! A private PostgreSQL server for one test process, and a fresh database per test.
//!
//! The server is Debian's PostgreSQL (`initdb` and `postgres` from
//! `/usr/lib/postgresql/*/bin`), initialised in a temporary directory and listening
//! on a free loopback port. It runs under a small shell guard that reads the test
//! process's pipe: when the test process exits, however it exits, the pipe closes and
//! the guard stops the server and removes its directory, so no server outlives its
//! tests. `AUDIT_TEST_POSTGRES_URL` (an admin URL) uses an existing server instead.
//! PostgreSQL refuses to run as root, so under root the cluster belongs to the
//! `postgres` user.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Env variable naming an existing server's admin URL.
pub const URL_ENV: &str = "AUDIT_TEST_POSTGRES_URL";
const SYSTEM_USER: &str = "postgres";

struct Server {
    admin_url: String,
    // Held so the guard's stdin stays open for the life of the process.
    _guard: Option<Mutex<Child>>,
}

/// A database of its own for the calling test: its connection URL.
pub async fn fresh_database() -> String {
    let server = SERVER.get_or_init(|| start().unwrap_or_else(|error| panic!("postgres for tests: {error}")));
    let name = format!("test_{}", uuid::Uuid::new_v4().simple());
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match create_database(&server.admin_url, &name).await {
            Ok(()) => break,
            Err(error) if Instant::now() < deadline => {
                let _ = error;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(error) => panic!("postgres for tests did not accept connections: {error}"),
        }
    }
    database_url(&server.admin_url, &name)
}

static SERVER: OnceLock<Server> = OnceLock::new();

async fn create_database(admin_url: &str, name: &str) -> Result<(), tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::connect(admin_url, tokio_postgres::NoTls).await?;
    let connection = tokio::spawn(connection);
    let result = client.batch_execute(&format!("CREATE DATABASE {name}")).await;
    drop(client);
    let _ = connection.await;
    result
}

/// The admin URL with its database replaced by `name`.
fn database_url(admin_url: &str, name: &str) -> String {
    let base = admin_url.rsplit_once('/').map_or(admin_url, |(base, _)| base);
    format!("{base}/{name}")
}

fn start() -> Result<Server, String> {
    if let Ok(url) = std::env::var(URL_ENV) {
        return Ok(Server { admin_url: url, _guard: None });
    }
    let bin = find_bin_dir()?;
    let dir = tempfile::Builder::new().prefix("audit-pg-").tempdir().map_err(|e| e.to_string())?.keep();
    let as_root = is_root();
    if as_root {
        chown_to_system_user(&dir)?;
    }
    let initdb = format!(
        "{} -D {} -U postgres --auth=trust --no-sync -E UTF8 --locale=C.UTF-8 >/dev/null",
        bin.join("initdb").display(),
        dir.display()
    );
    run_shell(&initdb, as_root)?;
    let port = free_port()?;
    let guard = spawn_guarded(&bin, &dir, port, as_root)?;
    let admin_url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
    Ok(Server { admin_url, _guard: Some(Mutex::new(guard)) })
}

/// Starts the server under a guard that stops it once our end of its stdin closes.
/// The guard signals the postmaster by the pid it records, since `runuser` does not
/// pass signals on.
fn spawn_guarded(bin: &Path, dir: &Path, port: u16, as_root: bool) -> Result<Child, String> {
    let postgres = format!(
        "{} -D {dir} -p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={dir} \
         -c fsync=off -c max_connections=200",
        bin.join("postgres").display(),
        dir = dir.display()
    );
    let server = if as_root { format!("runuser -u {SYSTEM_USER} -- {postgres}") } else { postgres };
    let script = format!(
        "{server} >{log} 2>&1 & pid=$!; cat >/dev/null; \
         kill -INT $(head -n 1 {dir}/postmaster.pid) 2>/dev/null; wait $pid; rm -rf {dir} {log}",
        log = dir.with_extension("log").display(),
        dir = dir.display()
    );
    Command::new("sh")
        .arg("-c")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|error| format!("cannot start postgres: {error}"))
}

fn run_shell(command: &str, as_root: bool) -> Result<(), String> {
    let command =
        if as_root { format!("runuser -u {SYSTEM_USER} -- sh -c '{command}'") } else { command.into() };
    let status = Command::new("sh").arg("-c").arg(&command).status().map_err(|e| e.to_string())?;
    status.success().then_some(()).ok_or_else(|| format!("`{command}` failed: {status}"))
}

fn find_bin_dir() -> Result<PathBuf, String> {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map_err(|_| "PostgreSQL is not installed (apt-get install postgresql)".to_owned())?
        .filter_map(|entry| entry.ok().map(|entry| entry.path().join("bin")))
        .filter(|bin| bin.join("initdb").exists())
        .collect();
    found.sort();
    found.pop().ok_or_else(|| "no initdb under /usr/lib/postgresql/*/bin".to_owned())
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|output| output.stdout.trim_ascii() == b"0")
}

fn chown_to_system_user(dir: &Path) -> Result<(), String> {
    let status = Command::new("chown")
        .arg(format!("{SYSTEM_USER}:"))
        .arg(dir)
        .status()
        .map_err(|error| error.to_string())?;
    status.success().then_some(()).ok_or_else(|| format!("chown {} failed", dir.display()))
}

fn free_port() -> Result<u16, String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|error| error.to_string())?;
    Ok(listener.local_addr().map_err(|error| error.to_string())?.port())
}
