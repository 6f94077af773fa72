//! The `glh` command line: argument parsing ([`args`]), one function per command that wires
//! arguments to the stage libraries and `glh-pipeline` ([`commands`]), and the terminal's
//! progress bars ([`progress`]). No numerical work and no scheduling happens here.

pub mod args;
pub mod commands;
pub mod progress;

use clap::Parser;
use std::ffi::OsString;

/// Exit code for bad input: an invalid argument, config value or input file.
pub const EXIT_BAD_INPUT: i32 = 2;
/// Exit code for every other failure.
pub const EXIT_FAILURE: i32 = 1;

/// Runs `glh` with `args` (program name first) and returns the process exit code.
pub fn main_with_args<I, T>(args: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    glh_artifacts::parquet_io::quiet_guarded_panics();
    let cli = match args::Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(err) => return report_clap_error(&err),
    };
    match commands::dispatch(cli) {
        Ok(()) => 0,
        Err(err) => {
            eprintln!("error: {err}");
            if err.is_bad_input() {
                EXIT_BAD_INPUT
            } else {
                EXIT_FAILURE
            }
        }
    }
}

/// Help and version go to stdout as clap renders them; a usage error becomes one line.
fn report_clap_error(err: &clap::Error) -> i32 {
    use clap::error::ErrorKind;
    match err.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            match write!(out, "{}", err.render()).and_then(|_| out.flush()) {
                Ok(()) => 0,
                Err(e) => {
                    eprintln!("error: standard output: {e}");
                    EXIT_FAILURE
                }
            }
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            eprint!("{}", err.render());
            EXIT_BAD_INPUT
        }
        _ => {
            eprintln!("{}", one_line(&err.render().to_string()));
            EXIT_BAD_INPUT
        }
    }
}

/// clap's message up to its usage hint, joined into one line.
fn one_line(rendered: &str) -> String {
    rendered
        .lines()
        .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clap_errors_become_one_line() {
        let text = "error: the following required arguments were not provided:\n  --method <METHOD>\n  --width <WIDTH>\n\nUsage: glh masks --method <METHOD>\n\nFor more information, try '--help'.\n";
        assert_eq!(
            one_line(text),
            "error: the following required arguments were not provided: --method <METHOD> --width <WIDTH>"
        );
    }
}
