//! `eligc sql`: the protocol as one SQL script over the tables of an OMOP CDM database.

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use eligc::report;
use eligc::sql::{Dialect, Options};

use super::{EXIT_ERRORS, EXIT_OK, EXIT_USAGE};

#[derive(Args, Debug)]
pub struct SqlArgs {
    /// The protocol (`.elig`).
    pub protocol: PathBuf,
    /// The SQL dialect.
    #[arg(long, value_enum, default_value_t = DialectArg::Postgresql)]
    pub dialect: DialectArg,
    #[command(flatten)]
    pub db: DbArgs,
    /// An anchor date for every person, `NAME=YYYY-MM-DD` (repeatable); the parameter
    /// table's own date for a person comes first.
    #[arg(long, value_name = "NAME=DATE")]
    pub anchor: Vec<String>,
    /// The date the records are known up to (default: each person's screening date, else
    /// the database's current date).
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = super::parse_as_of)]
    pub as_of: Option<chrono::NaiveDate>,
}

/// Where the tables are and what every person shares; also used by `eligc run --db`.
#[derive(Args, Debug, Clone)]
pub struct DbArgs {
    /// The schema of the CDM tables (PERSON, MEASUREMENT, ...); default: the search path.
    #[arg(long, value_name = "SCHEMA")]
    pub schema: Option<String>,
    /// The schema of the vocabulary tables (CONCEPT, CONCEPT_ANCESTOR,
    /// CONCEPT_RELATIONSHIP); default: the CDM schema.
    #[arg(long, value_name = "SCHEMA")]
    pub vocabulary_schema: Option<String>,
    /// The schema of the parameter tables `eligc_anchor` and `eligc_attestation`
    /// (docs/sql.md); default: session tables the script creates.
    #[arg(long, value_name = "SCHEMA")]
    pub params_schema: Option<String>,
    /// A unit spelling the data use, beyond those eligc lists (repeatable; docs/sql.md).
    #[arg(long = "unit", value_name = "UNIT")]
    pub units: Vec<String>,
    /// A site's own OMOP vocabulary (`vocabulary_id`; its concept ids from 2,000,000,000)
    /// whose concepts are the protocol's `local:` codes: a concept coded `sledai-2k` in it is
    /// `local:sledai-2k` (repeatable; also for OMOP folders; docs/omop.md).
    #[arg(long = "local-vocabulary", value_name = "VOCABULARY_ID", value_parser = super::parse_local_vocabulary)]
    pub local_vocabularies: Vec<String>,
}

/// `--dialect`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DialectArg {
    /// PostgreSQL 12 or later.
    Postgresql,
    /// Spark SQL 3 (Databricks).
    Spark,
}

/// The options of `eligc sql` or `eligc run --db`.
pub(crate) fn options(
    dialect: Dialect,
    db: &DbArgs,
    anchors: &[String],
    as_of: Option<chrono::NaiveDate>,
) -> Result<Options, String> {
    let mut o = Options::new(dialect);
    o.cdm_schema = db.schema.clone();
    o.vocabulary_schema = db.vocabulary_schema.clone();
    o.params_schema = db.params_schema.clone();
    o.units = db.units.clone();
    o.local_vocabularies = db.local_vocabularies.clone();
    o.as_of = as_of;
    for text in anchors {
        let (name, date) =
            eligc::facts::ReadOptions::parse_anchor(text).map_err(|e| format!("--anchor: {e}"))?;
        o.anchors.insert(name, date);
    }
    Ok(o)
}

/// A compiled script with the program and files it came from.
pub(crate) struct Compiled {
    pub script: eligc::sql::Script,
    pub program: eligc::program::Program,
    pub sources: eligc::source::SourceMap,
}

/// Compiles the protocol to a script, reporting what cannot be compiled; `Err` is the exit
/// code.
pub(crate) fn compile(path: &std::path::Path, options: &Options) -> Result<Compiled, u8> {
    let compilation = match eligc::check::compile_file(path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", path.display());
            return Err(EXIT_USAGE);
        }
    };
    let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let Some(program) = compilation
        .program
        .as_ref()
        .filter(|_| !compilation.has_errors())
    else {
        eprint!(
            "{}",
            report::render_human(
                &compilation.diagnostics,
                &compilation.sources,
                super::terminal_width(),
                color
            )
        );
        eprintln!(
            "{}: {}",
            path.display(),
            report::summary(&compilation.diagnostics)
        );
        return Err(EXIT_ERRORS);
    };
    match eligc::sql::compile(program, options) {
        Ok(script) => Ok(Compiled {
            script,
            program: program.clone(),
            sources: compilation.sources.clone(),
        }),
        Err(diagnostics) => {
            eprint!(
                "{}",
                report::render_human(
                    &diagnostics,
                    &compilation.sources,
                    super::terminal_width(),
                    color
                )
            );
            eprintln!("{}: {}", path.display(), report::summary(&diagnostics));
            Err(EXIT_ERRORS)
        }
    }
}

pub fn run(args: &SqlArgs) -> u8 {
    let dialect = match args.dialect {
        DialectArg::Postgresql => Dialect::Postgresql,
        DialectArg::Spark => Dialect::Spark,
    };
    let options = match options(dialect, &args.db, &args.anchor, args.as_of) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_USAGE;
        }
    };
    let Compiled {
        script, program, ..
    } = match compile(&args.protocol, &options) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let title = program.title;
    let header = format!(
        "{title}: eligibility in SQL ({}), compiled by eligc {} from {}.\nRun it whole: the view eligc_result holds one row per person; then the result, the funnel\nand the unit spellings it could not convert. Anchors and attestations: docs/sql.md.",
        dialect.name(),
        env!("CARGO_PKG_VERSION"),
        args.protocol.display()
    );
    match super::write_stdout(&script.text(&header)) {
        Ok(()) => EXIT_OK,
        Err(code) => code,
    }
}
