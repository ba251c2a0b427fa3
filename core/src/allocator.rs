//! The memory allocator of every binary of the trail, chosen here once because every
//! binary links this crate: services, `auditctl`, tests and benchmarks then all run
//! with the allocator production runs.
//!
//! The stages allocate and free many short strings per record (decoded fields, tokens,
//! JSON bodies) from several threads. glibc's allocator spent about a third of the
//! tokenizer's and the vault's CPU on that traffic (profiled on the tokenizer
//! benchmark, mostly consolidating and unlinking free chunks); mimalloc's per-thread
//! free lists are made for it. Built without its secure mode, whose guard pages and
//! encrypted free lists protect C programs from heap overflows that safe Rust cannot
//! have.

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
