//! `glh`: the graphon-lab command line. Parses arguments, runs the command, and turns any error
//! into one line on stderr with exit code 2 (bad input or config) or 1 (anything else).

use mimalloc::MiMalloc;

// candle allocates a fresh buffer per op; glibc malloc makes it about 3x slower (RUST-NOTES.md).
#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

fn main() {
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
