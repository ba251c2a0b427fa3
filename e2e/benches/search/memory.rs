//! Resident memory of every process of the bench: proportional set size (PSS, from
//! `/proc/PID/smaps_rollup`), so memory shared between processes (PostgreSQL's
//! shared buffers, the shards' mapped files) is counted once in all, split between
//! the processes that map it.

use crate::api::Stack;

/// Prints each process's PSS in MB.
pub fn print(stack: &Stack) {
    let mut processes = vec![("bench (vault, broker, floor, client)".to_owned(), std::process::id())];
    processes.extend(stack.processes());
    let mut line = Vec::new();
    for (name, pid) in processes {
        line.push(format!("{name} {:.0}", pss_kb(pid) as f64 / 1_000.0));
    }
    let postgres: u64 = postgres_pids().into_iter().map(pss_kb).sum();
    line.push(format!("PostgreSQL (every process) {:.0}", postgres as f64 / 1_000.0));
    println!("memory (PSS, MB): {}", line.join(", "));
}

/// Proportional set size of `pid` in kB (0 when unreadable).
fn pss_kb(pid: u32) -> u64 {
    let Ok(rollup) = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")) else { return 0 };
    let line = rollup.lines().find(|line| line.starts_with("Pss:"));
    line.and_then(|line| line.split_whitespace().nth(1)?.parse().ok()).unwrap_or(0)
}

/// Every process named `postgres`.
fn postgres_pids() -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|comm| comm.trim() == "postgres")
        })
        .collect()
}
