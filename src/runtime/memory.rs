//! Handing freed heap pages back to the kernel after a config was compiled.
//!
//! Compiling a config builds a KDL document several times the size of the plan it yields
//! (about 9 KiB per program, against about 2 KiB kept per supervised process). glibc's
//! malloc returns memory to the kernel only from the top of the heap, and the plan and the
//! processes allocated after the document sit above its freed chunks, so without help those
//! pages stay resident for the daemon's whole life (9 MiB of a 15 MiB RSS with 1,000
//! programs). `malloc_trim` gives back every whole free page wherever it lies.
//!
//! The document is built on the parser's own thread (see [`crate::parse`]), and glibc gives
//! each new thread an arena of its own: the freed document then stayed resident in the dead
//! thread's arena (10.5 of 19.5 MiB with 1,000 programs, measured with smaps). The daemon's
//! other threads (parser, compile worker, stderr writer) are short-lived or idle, so one
//! arena costs no contention and keeps every freed page where `malloc_trim` returns it.

/// Makes every thread allocate from the main arena; call before the first thread starts.
pub(crate) fn use_one_arena() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets a malloc tunable; M_ARENA_MAX with 1 is a documented value,
    // and a refusal (result 0) only leaves the default in place.
    unsafe {
        nix::libc::mallopt(nix::libc::M_ARENA_MAX, 1);
    }
}

/// Releases free heap pages; call after a burst of temporary allocation (start-up, a
/// reload or a diff), not on hot paths: it walks the whole heap.
pub(super) fn release_free_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only works on malloc's own arenas, under their locks; any pad
    // argument is valid, and its result (whether memory was released) needs no handling.
    unsafe {
        nix::libc::malloc_trim(0);
    }
}
