//! The `eligc` command line: parses arguments, dispatches to a subcommand, exits with its
//! code. Exit codes are documented in README.md and docs/cli.md.

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    ExitCode::from(cli::run(args))
}
