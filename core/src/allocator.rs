//! The memory allocator of every binary of the trail, chosen and tuned here once because
//! every binary links this crate: services, `auditctl`, tests and benchmarks then all
//! run with the allocator production runs.
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

/// How long memory stays unused before mimalloc hands it back to the OS.
///
/// Its default, one second, is shorter than the gaps between the broker's and the
/// stages' bursts of large buffers: memory went back to the OS and was faulted in again,
/// zeroed by the kernel, batch after batch (about 15% of the tokenizer benchmark's CPU,
/// profiled). Ten seconds keeps a steady pipeline's working set, and memory a burst
/// left behind still returns to the OS.
pub const PURGE_DELAY_MS: std::ffi::c_long = 10_000;

/// mimalloc's `mi_option_purge_delay`: its place in the option enumeration, which
/// mimalloc keeps stable across versions (retired options keep their numbers).
pub const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Runs before `main` in every binary that links this crate (an ELF constructor, in
/// the same object as the allocator, so the linker never drops it), so the setting
/// holds from the start and no binary has to remember it.
#[cfg(target_os = "linux")]
#[used]
#[unsafe(link_section = ".init_array")]
static CONFIGURE: extern "C" fn() = configure;

#[cfg(target_os = "linux")]
extern "C" fn configure() {
    // SAFETY: sets a process-wide option; mimalloc reads options atomically and
    // initializes itself on first use, before or after this call.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS) }
}
