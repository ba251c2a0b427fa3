//! The allocator's tuning reaches a binary that links this crate as a dependency, as
//! every service, test and benchmark does.

#[cfg(target_os = "linux")]
#[test]
fn mimalloc_keeps_memory_for_the_purge_delay() {
    use audit_core::allocator::{MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS};
    // SAFETY: reads a process-wide option.
    let delay = unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) };
    assert_eq!(delay, PURGE_DELAY_MS);
}
