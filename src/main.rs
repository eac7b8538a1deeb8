//! The `eligc` command line: parses arguments, dispatches to a subcommand, exits with its
//! code. Exit codes are documented in README.md and docs/cli.md.

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    match cli::Cli::try_parse() {
        Ok(args) => ExitCode::from(cli::run(args)),
        Err(e) => {
            // --help and --version are not errors; bad usage exits 1 as documented.
            let code = if e.use_stderr() {
                cli::EXIT_USAGE
            } else {
                cli::EXIT_OK
            };
            let _ = e.print();
            ExitCode::from(code)
        }
    }
}
