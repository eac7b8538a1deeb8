//! `eligc fmt [--check] FILE...`: rewrite protocols in the canonical layout.

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::Args;

use super::{EXIT_ERRORS, EXIT_OK, EXIT_USAGE, EXIT_WOULD_REFORMAT, terminal_width};
use eligc::source::SourceMap;
use eligc::{fmt, report};

#[derive(Args, Debug)]
pub struct FmtArgs {
    /// Files to format (`.elig`).
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Change nothing: list the files that would change, and exit 5 if there are any.
    #[arg(long)]
    check: bool,
    /// Print the formatted text to standard output instead of rewriting the files.
    #[arg(long, conflicts_with = "check")]
    stdout: bool,
}

pub fn run(args: &FmtArgs) -> u8 {
    let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let mut io_error = false;
    let mut syntax_errors = false;
    let mut would_change = false;
    for path in &args.files {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("error: cannot read {}: {e}", path.display());
                io_error = true;
                continue;
            }
        };
        let mut sources = SourceMap::new();
        let id = sources.add(
            path.display().to_string(),
            Some(path.clone()),
            text.as_str(),
        );
        let Some(source) = sources.get(id) else {
            continue;
        };
        let formatted = match fmt::format(source) {
            Ok(f) => f,
            Err(diagnostics) => {
                eprint!(
                    "{}",
                    report::render_human(&diagnostics, &sources, terminal_width(), color)
                );
                eprintln!(
                    "{}: not formatted: {}",
                    path.display(),
                    report::summary(&diagnostics)
                );
                syntax_errors = true;
                continue;
            }
        };
        if args.stdout {
            if let Err(code) = super::write_stdout(&formatted) {
                return code;
            }
        } else if formatted != text {
            if args.check {
                if let Err(code) = super::write_stdout(&format!("{}\n", path.display())) {
                    return code;
                }
                would_change = true;
            } else if let Err(e) = fmt::write_in_place(path, &formatted) {
                eprintln!(
                    "error: cannot write {}: {e} (the file is unchanged)",
                    path.display()
                );
                io_error = true;
            } else {
                eprintln!("formatted {}", path.display());
            }
        }
    }
    if syntax_errors {
        EXIT_ERRORS
    } else if io_error {
        EXIT_USAGE
    } else if would_change {
        EXIT_WOULD_REFORMAT
    } else {
        EXIT_OK
    }
}
