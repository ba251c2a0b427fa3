//! The allocator the trail's binaries choose: mimalloc, tuned. Each binary opts in from
//! its own `main.rs`, so nothing that merely links a library inherits it:
//!
//! ```ignore
//! #[global_allocator]
//! static ALLOCATOR: audit_alloc::Tuned = audit_alloc::Tuned;
//! ```
//!
//! The stages allocate and free many short strings per record (decoded fields, tokens,
//! JSON bodies) from several threads. glibc's allocator spent about a third of the
//! tokenizer's and the vault's CPU on that traffic (profiled on the tokenizer
//! benchmark, mostly consolidating and unlinking free chunks); mimalloc's per-thread
//! free lists are made for it. Built without its secure mode, whose guard pages and
//! encrypted free lists protect C programs from heap overflows that safe Rust cannot
//! have.

use std::alloc::{GlobalAlloc, Layout};

use mimalloc::MiMalloc;

/// mimalloc with [`PURGE_DELAY_MS`], set before `main` runs.
pub struct Tuned;

// Not `#[inline]`: the binary's allocator shim then calls into this crate's object,
// which also holds the constructor below, so the linker keeps both together.
//
// SAFETY: every call is forwarded unchanged to mimalloc, itself a `GlobalAlloc`.
unsafe impl GlobalAlloc for Tuned {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract is mimalloc's.
        unsafe { MiMalloc.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract is mimalloc's.
        unsafe { MiMalloc.dealloc(ptr, layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract is mimalloc's.
        unsafe { MiMalloc.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller's contract is mimalloc's.
        unsafe { MiMalloc.realloc(ptr, layout, new_size) }
    }
}

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

/// Runs before `main` in every binary that chose [`Tuned`] (an ELF constructor in the
/// same object as its methods), so the setting holds from the first allocation.
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
