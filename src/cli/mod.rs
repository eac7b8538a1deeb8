//! Subcommands, one file each. Each returns the process exit code.

mod check;
mod db;
mod db_explain;
mod diff;
mod doc;
mod fmt;
mod run;
mod sql;
mod test;

use std::io::IsTerminal;
use std::path::Path;

use clap::{Parser, Subcommand, ValueEnum};
use eligc::eval::Plan;
use eligc::report;

/// Exit code: success (warnings allowed).
pub const EXIT_OK: u8 = 0;
/// Exit code: bad usage, or a file could not be read or written.
pub const EXIT_USAGE: u8 = 1;
/// Exit code: the protocol has errors (or warnings, with `--deny-warnings`).
pub const EXIT_ERRORS: u8 = 2;
/// Exit code: some patient records were malformed and rejected (the rest were screened).
pub const EXIT_DATA: u8 = 3;
/// Exit code: `eligc test` found a patient whose result is not the expected one.
pub const EXIT_TEST_FAILED: u8 = 4;
/// Exit code: `eligc fmt --check` found files that are not in the canonical layout.
pub const EXIT_WOULD_REFORMAT: u8 = 5;

/// eligc: compile and run clinical-trial eligibility criteria.
#[derive(Parser, Debug)]
#[command(name = "eligc", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Check protocols: report every error and warning with its place, label, fix and code.
    Check(check::CheckArgs),
    /// Screen patients: eligible / ineligible / needs review, with reasons and what is missing.
    Run(run::RunArgs),
    /// Run the example patients beside a protocol against their expected results.
    Test(test::TestArgs),
    /// Rewrite protocols in the canonical layout (`--check`: only list files that would change).
    Fmt(fmt::FmtArgs),
    /// Compare two versions of a protocol in meaning; with --patients, whose verdict changes.
    Diff(diff::DiffArgs),
    /// The criteria as numbered prose for the protocol document (Markdown or HTML).
    Doc(doc::DocArgs),
    /// The protocol as one SQL script over an OMOP CDM database (PostgreSQL or Spark SQL).
    Sql(sql::SqlArgs),
}

/// Output formats for diagnostics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DiagnosticFormat {
    /// Source excerpts with labels and help, for people.
    Human,
    /// One JSON document, for tools.
    Json,
}

/// Runs the command.
pub fn run(cli: Cli) -> u8 {
    match cli.command {
        Command::Check(args) => check::run(&args),
        Command::Run(args) => run::run(&args),
        Command::Test(args) => test::run(&args),
        Command::Fmt(args) => fmt::run(&args),
        Command::Diff(args) => diff::run(&args),
        Command::Doc(args) => doc::run(&args),
        Command::Sql(args) => sql::run(&args),
    }
}

/// Writes `text` to standard output and flushes it. A closed pipe (`eligc doc | head -1`)
/// or a full disk is reported once on stderr and becomes exit code 1; `print!` would panic.
pub(crate) fn write_stdout(text: &str) -> Result<(), u8> {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => Ok(()),
        Err(e) => {
            eprintln!("error: cannot write to standard output: {e}");
            Err(EXIT_USAGE)
        }
    }
}

/// Reads a size in bytes for `--max-record-bytes`: `67108864`, or with a binary suffix
/// `512K`, `64M`, `1G` (also `KiB`, `MiB`, `GiB`, `KB`, `MB`, `GB`: all powers of 1024).
/// `--as-of YYYY-MM-DD`.
/// `--local-vocabulary`: an OMOP `vocabulary_id` that is a site's own.
pub(crate) fn parse_local_vocabulary(text: &str) -> Result<String, String> {
    eligc::vocab::check_local_vocabulary(text).map(|()| text.to_string())
}

pub(crate) fn parse_as_of(text: &str) -> Result<chrono::NaiveDate, String> {
    eligc::facts::strict::parse_date(text.trim())
        .map_err(|_| format!("`{text}` is not a date written YYYY-MM-DD"))
}

pub(crate) fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, suffix) = t.split_at(digits);
    let shift = match suffix.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 0,
        "K" | "KB" | "KIB" => 10,
        "M" | "MB" | "MIB" => 20,
        "G" | "GB" | "GIB" => 30,
        _ => {
            return Err(format!(
                "`{text}` is not a size: write bytes, or a number with K, M or G (e.g. 64M)"
            ));
        }
    };
    let n: u64 = number.parse().map_err(|_| {
        format!("`{text}` is not a size: write bytes, or a number with K, M or G (e.g. 64M)")
    })?;
    let bytes = n
        .checked_mul(1 << shift)
        .ok_or_else(|| format!("`{text}` is too large"))?;
    if bytes == 0 {
        return Err("the limit must be at least 1 byte".to_string());
    }
    Ok(bytes)
}

/// The width to wrap human output at.
fn terminal_width() -> usize {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse().ok())
        .filter(|w| *w >= 40)
        .unwrap_or(100)
}

/// Compiles a protocol for screening and reads the vocabulary it needs, reporting errors;
/// `Err` is the exit code. A vocabulary that cannot be read stops everything (exit 1):
/// screening without it would give different verdicts than the user asked for.
pub(crate) fn load_plan(
    path: &Path,
    vocabulary: Option<&Path>,
    local: &[String],
) -> Result<Plan, u8> {
    with_vocabulary(compile_plan(path)?, vocabulary, local)
}

/// Reads the vocabulary a compiled plan needs and adds it; `local` names the site
/// vocabularies of `local:` codes (`--local-vocabulary`); `Err` is the exit code.
pub(crate) fn with_vocabulary(
    plan: Plan,
    vocabulary: Option<&Path>,
    local: &[String],
) -> Result<Plan, u8> {
    let Some(dir) = vocabulary else {
        return Ok(plan);
    };
    match eligc::vocab::load(dir, plan.program(), local) {
        Ok(v) => {
            eprintln!("{}", v.summary());
            Ok(plan.with_vocabulary(v))
        }
        Err(e) => {
            eprintln!("error: cannot read the vocabulary: {e}");
            Err(EXIT_USAGE)
        }
    }
}

/// Compiles a protocol, reporting errors; `Err` is the exit code.
pub(crate) fn compile_plan(path: &Path) -> Result<Plan, u8> {
    let compilation = match eligc::check::compile_file(path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", path.display());
            return Err(EXIT_USAGE);
        }
    };
    if compilation.has_errors() {
        let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        eprint!(
            "{}",
            report::render_human(
                &compilation.diagnostics,
                &compilation.sources,
                terminal_width(),
                color
            )
        );
        eprintln!(
            "{}: {}",
            path.display(),
            report::summary(&compilation.diagnostics)
        );
        return Err(EXIT_ERRORS);
    }
    match compilation.program {
        Some(program) => Ok(Plan::new(program, compilation.sources)),
        None => Err(EXIT_ERRORS),
    }
}
