//! The `eligc` command line: parses arguments, dispatches to a subcommand, exits with its
//! code. Exit codes are documented in README.md and docs/cli.md.

mod cli;

use std::process::ExitCode;

use clap::Parser;

/// mimalloc: screening allocates and frees many small values per patient on several threads
/// (see docs/performance.md); the system allocator spent a fifth of the run doing so.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
