//! `glh`: the graphon-lab command line. Parses arguments, runs the command, and turns any error
//! into one line on stderr with exit code 2 (bad input or config) or 1 (anything else).

use mimalloc::MiMalloc;

// candle allocates a fresh buffer per op; glibc malloc makes it about 3x slower (RUST-NOTES.md).
#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

/// mimalloc's `mi_option_purge_delay` (its place in `mi_option_e`, mimalloc.h; the sys crate
/// names no constant for it). A test below reads its default back.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Tells mimalloc never to hand freed pages back to the kernel. candle allocates every
/// activation afresh, and with purging each reuse page-faulted its pages in again: a quarter of
/// a training step (issue #18). (Test-set evaluations also run in row blocks, since buffers
/// over mimalloc's size for large objects come from the kernel afresh whatever this says.) The
/// price is that memory freed at a peak stays mapped.
/// `benches/fixtures.rs` does the same for the benchmarks.
fn keep_freed_memory() {
    // SAFETY: sets an option value; mimalloc's options may be set at any time.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) }
}

fn main() {
    // SAFETY: first in `main`, before any other thread exists.
    unsafe { glh_training::device::candle_ops_on_the_calling_thread() };
    keep_freed_memory();
    // `glh ls | head` must end quietly when head closes the pipe, as Unix tools do, instead of
    // panicking on the failed write: restore the default SIGPIPE action that Rust's runtime
    // sets to "ignore".
    #[cfg(unix)]
    // SAFETY: called before any other thread exists; SIG_DFL is a valid action for SIGPIPE.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    std::process::exit(glh_cli::main_with_args(std::env::args_os()));
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_purge_delay_option_is_the_one_we_set() {
        // mimalloc 3's options.c sets purge_delay's default to 1000 ms; a wrong option index
        // would read some other option's value.
        // SAFETY: reads an option value.
        let delay = unsafe { libmimalloc_sys::mi_option_get(super::MI_OPTION_PURGE_DELAY) };
        assert_eq!(delay, 1000);
        super::keep_freed_memory();
        // SAFETY: as above.
        assert_eq!(
            unsafe { libmimalloc_sys::mi_option_get(super::MI_OPTION_PURGE_DELAY) },
            -1
        );
    }
}
