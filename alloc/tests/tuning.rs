//! A binary that chooses the tuned allocator gets its tuning before `main`, though it
//! only links this crate as a dependency, as every service and benchmark does.

#[global_allocator]
static ALLOCATOR: audit_alloc::Tuned = audit_alloc::Tuned;

#[cfg(target_os = "linux")]
#[test]
fn mimalloc_keeps_memory_for_the_purge_delay() {
    use audit_alloc::{MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS};
    let boxed = Box::new([7u8; 64]);
    assert_eq!(boxed[63], 7);
    // SAFETY: reads a process-wide option.
    let delay = unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) };
    assert_eq!(delay, PURGE_DELAY_MS);
}
