//! `eligc check FILE...`: compile protocols and report all diagnostics.

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::Args;

use super::{DiagnosticFormat, EXIT_ERRORS, EXIT_OK, EXIT_USAGE, terminal_width};
use eligc::{check, report};

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// Protocol files (`.elig`).
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// How to print diagnostics.
    #[arg(long, value_enum, default_value_t = DiagnosticFormat::Human)]
    format: DiagnosticFormat,
    /// Treat warnings as errors for the exit code.
    #[arg(long)]
    deny_warnings: bool,
}

pub fn run(args: &CheckArgs) -> u8 {
    let mut exit = EXIT_OK;
    let mut json_files = Vec::new();
    let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    for path in &args.files {
        let compilation = match check::compile_file(path) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("error: cannot read {}: {e}", path.display());
                exit = exit.max(EXIT_USAGE);
                if args.format == DiagnosticFormat::Json {
                    json_files.push(serde_json::json!({ "file": path.display().to_string(), "io_error": e.to_string() }));
                }
                continue;
            }
        };
        let diagnostics = &compilation.diagnostics;
        let errors = diagnostics.iter().filter(|d| d.is_error()).count();
        if errors > 0 || (args.deny_warnings && !diagnostics.is_empty()) {
            exit = EXIT_ERRORS;
        }
        match args.format {
            DiagnosticFormat::Human => {
                eprint!(
                    "{}",
                    report::render_human(
                        diagnostics,
                        &compilation.sources,
                        terminal_width(),
                        color
                    )
                );
                eprintln!("{}: {}", path.display(), report::summary(diagnostics));
            }
            DiagnosticFormat::Json => json_files.push(serde_json::json!({
                "file": path.display().to_string(),
                "errors": errors,
                "warnings": diagnostics.len() - errors,
                "diagnostics": report::to_json(diagnostics, &compilation.sources),
            })),
        }
    }
    if args.format == DiagnosticFormat::Json {
        match serde_json::to_string_pretty(&json_files) {
            Ok(text) => {
                if let Err(code) = super::write_stdout(&format!("{text}\n")) {
                    return code;
                }
            }
            Err(e) => {
                eprintln!("error: {e}");
                return EXIT_USAGE;
            }
        }
    }
    exit
}
