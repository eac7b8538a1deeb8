//! `eligc run PROTOCOL DATA...`: screen patients. Records are read as a stream, evaluated in
//! parallel in batches, and written in input order.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use rayon::prelude::*;

use super::{EXIT_DATA, EXIT_OK, EXIT_USAGE};
use eligc::eval::PatientResult;
use eligc::eval::render::{self, Funnel};
use eligc::facts::{self, RecordError};

/// How many records are read before they are evaluated together: bounds memory.
const BATCH: usize = 1024;

/// How many bytes of records are read before they are evaluated together, if fewer than
/// [`BATCH`] records: FHIR Bundles are a thousand times the size of native records, so a
/// count alone does not bound memory (1,024 Synthea Bundles are 500 MB).
const BATCH_BYTES: usize = 32 << 20;

#[derive(Args, Debug)]
pub struct RunArgs {
    /// The protocol (`.elig`).
    protocol: PathBuf,
    /// Patient data: `.json` (one patient), `.jsonl` (one per line), folders of them, a FHIR
    /// Bulk Data export folder, or an OMOP CDM CSV export folder (docs/omop.md).
    #[arg(required_unless_present = "db")]
    data: Vec<PathBuf>,
    /// Screen the persons of an OMOP CDM database instead: `postgresql://USER@HOST/DB`. The
    /// protocol is compiled to SQL and run there; the persons explained (`--format json`,
    /// `--explain`) are also screened by the interpreter on their rows, and both must agree
    /// (docs/sql.md).
    #[arg(long, value_name = "URL", conflicts_with_all = ["data", "vocabulary", "complete", "input", "parse_only"])]
    db: Option<String>,
    #[command(flatten)]
    db_args: super::sql::DbArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    format: OutputFormat,
    /// Print the screening funnel: per criterion, how many patients it excludes or leaves unknown.
    #[arg(long)]
    summary: bool,
    /// Print the full explanation for this patient only.
    #[arg(long, value_name = "PATIENT_ID")]
    explain: Option<String>,
    /// Stop at the first malformed record.
    #[arg(long)]
    strict: bool,
    /// Worker threads (default: all cores; at most the number of cores, as more only
    /// compete for them).
    #[arg(long)]
    jobs: Option<usize>,
    /// Benchmark floor: read and validate the records, evaluate nothing (see docs/performance.md).
    #[arg(long, hide = true)]
    parse_only: bool,
    /// How to read the data: native JSON or FHIR R4 (default: detected per record, FHIR
    /// when the JSON has a `resourceType`). See docs/fhir.md.
    #[arg(long, value_enum, default_value_t = InputArg::Detect)]
    input: InputArg,
    /// An anchor date for every patient, `NAME=YYYY-MM-DD` (repeatable). A record's own
    /// anchors and the side file's come first.
    #[arg(long, value_name = "NAME=DATE")]
    anchor: Vec<String>,
    /// A side file of per-patient anchors and attestations (JSON Lines:
    /// `{"patient": ID, "anchors": {...}, "attestations": {...}}`; see docs/fhir.md).
    #[arg(long, value_name = "FILE")]
    side: Option<PathBuf>,
    /// An OMOP vocabulary folder (CONCEPT, CONCEPT_RELATIONSHIP, CONCEPT_ANCESTOR as Athena
    /// ships them): codes then match their ancestors' concepts, products their ingredients'.
    /// See docs/terminology.md.
    #[arg(long, value_name = "DIR")]
    vocabulary: Option<PathBuf>,
    /// The largest record, in bytes or with K, M, G: a JSON Lines line, a `.json` file, a
    /// FHIR Bundle, a side-file line, a Bulk Data patient. A larger one is rejected.
    #[arg(long, value_name = "SIZE", default_value = "64M", value_parser = super::parse_size)]
    max_record_bytes: u64,
    /// Read absent records of these domains as "none recorded": `all`, or a comma-separated
    /// list of observations, conditions, medications, immunizations, procedures, allergies,
    /// encounters, studies, family_history
    /// (an export known to be complete; see docs/patient-data.md).
    #[arg(long, value_name = "all|DOMAIN,...")]
    complete: Option<String>,
    /// The date the records are known up to: a condition, allergy or medication without an
    /// end lasts until then, not forever (default: each record's screening date, else
    /// today; see docs/language.md).
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = super::parse_as_of)]
    as_of: Option<chrono::NaiveDate>,
}

/// `--input`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum InputArg {
    /// FHIR when the JSON has a `resourceType`, native otherwise.
    Detect,
    /// The native patient model.
    Native,
    /// FHIR R4: Bundles, NDJSON of Bundles, Bulk Data export folders.
    Fhir,
}

/// The read options from `--input`, `--anchor` and `--side`.
fn read_options(args: &RunArgs) -> Result<facts::ReadOptions, String> {
    let mut options = facts::ReadOptions {
        omop: facts::omop::OmopOptions {
            concepts_dir: args.vocabulary.clone(),
            local_vocabularies: args.db_args.local_vocabularies.clone(),
            ..facts::omop::OmopOptions::default()
        },
        format: match args.input {
            InputArg::Detect => facts::InputFormat::Detect,
            InputArg::Native => facts::InputFormat::Native,
            InputArg::Fhir => facts::InputFormat::Fhir,
        },
        max_record_bytes: args.max_record_bytes,
        ..facts::ReadOptions::default()
    };
    for text in &args.anchor {
        let (name, date) =
            facts::ReadOptions::parse_anchor(text).map_err(|e| format!("--anchor: {e}"))?;
        options.anchors.insert(name, date);
    }
    if let Some(text) = &args.complete {
        options.complete = facts::parse_complete(text).map_err(|e| format!("--complete: {e}"))?;
    }
    if let Some(side) = &args.side {
        options.side = facts::ReadOptions::read_side_file_capped(side, args.max_record_bytes)
            .map_err(|e| format!("--side: {e}"))?;
    }
    Ok(options)
}

/// Output formats for screening results.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// One line per patient: verdict, excluding and unknown criteria.
    Table,
    /// JSON Lines: one object per patient, with every criterion and its evidence.
    Json,
    /// CSV: id, verdict, excluded_by, unknown.
    Csv,
}

/// The worker threads for `--jobs asked`: at least one, and no more than the machine runs
/// at once (`cores`, or [`MAX_JOBS`] when unknown). Screening is computation: threads beyond
/// the cores only compete for them, and thousands of them took a minute to start and stop.
fn worker_threads(asked: usize, cores: Option<std::num::NonZeroUsize>) -> usize {
    let limit = cores.map_or(MAX_JOBS, std::num::NonZeroUsize::get);
    asked.clamp(1, limit.clamp(1, MAX_JOBS))
}

/// The most worker threads `--jobs` starts on any machine.
const MAX_JOBS: usize = 256;

pub fn run(args: &RunArgs) -> u8 {
    if let Some(url) = &args.db {
        return run_db(args, url);
    }
    // An OMOP export with its vocabulary tables is its own vocabulary, unless one is given.
    let vocabulary = args.vocabulary.clone().or_else(|| {
        args.data
            .iter()
            .find(|d| facts::omop::is_export(d) && facts::omop::has_concepts(d))
            .cloned()
    });
    let plan = match super::load_plan(
        &args.protocol,
        vocabulary.as_deref(),
        &args.db_args.local_vocabularies,
    ) {
        // Explanations printed as text show computed numbers rounded; JSON keeps them exact.
        Ok(plan) => plan
            .round_for_reading(args.format != OutputFormat::Json)
            .with_as_of(args.as_of),
        Err(code) => return code,
    };
    if let Some(asked) = args.jobs {
        let jobs = worker_threads(asked, std::thread::available_parallelism().ok());
        if jobs < asked {
            eprintln!(
                "warning: --jobs {asked}: this machine runs {jobs} threads at once; using {jobs} worker threads"
            );
        }
        if let Err(e) = rayon::ThreadPoolBuilder::new()
            .num_threads(jobs)
            .build_global()
        {
            eprintln!("warning: cannot set {jobs} worker threads: {e}");
        }
    }
    let options = match read_options(args) {
        Ok(o) => std::sync::Arc::new(o),
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_USAGE;
        }
    };
    let reader_options = options.clone();
    let files = match facts::data_files(&args.data) {
        Ok(found) => {
            found.report_skipped();
            found.files
        }
        Err(e) => {
            eprintln!("error: cannot list the data: {e}");
            return EXIT_USAGE;
        }
    };
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout());
    let mut screen = Screen {
        args,
        funnel: Funnel::default(),
        explained: false,
        header_done: false,
        id_width: 16,
    };
    let mut exit = EXIT_OK;
    // Three stages run at once: a reader thread fills a batch, the workers evaluate the
    // previous one, and a writer thread prints the one before. Each channel holds one batch,
    // so memory stays bounded whatever the input size, and the output keeps input order.
    let (sender, batches) = std::sync::mpsc::sync_channel::<Input>(1);
    let reader = std::thread::spawn(move || read_batches(&files, &sender, &reader_options));
    let explain_all = args.format == OutputFormat::Json;
    let wanted = args.explain.as_deref();
    let stopped = std::sync::atomic::AtomicBool::new(false);
    let (to_writer, written) = std::sync::mpsc::sync_channel::<Output>(1);
    let write_failed = std::thread::scope(|scope| {
        let writer = scope.spawn(|| -> Result<(), std::io::Error> {
            for output in written {
                match output {
                    Output::Results(results) => {
                        if !screen.header_done {
                            screen.id_width = render::id_width(
                                results
                                    .iter()
                                    .filter_map(|r| r.as_ref().ok())
                                    .map(|r| r.id.as_str()),
                            );
                        }
                        for result in results {
                            if screen.emit(&mut out, result)? && args.strict {
                                stopped.store(true, std::sync::atomic::Ordering::SeqCst);
                                return Ok(());
                            }
                        }
                    }
                    Output::Parsed { read, rejected } => {
                        screen.funnel.read += read;
                        screen.funnel.rejected += rejected;
                    }
                }
            }
            Ok(())
        });
        for input in batches {
            if stopped.load(std::sync::atomic::Ordering::SeqCst) {
                break;
            }
            let batch = match input {
                Input::Batch(batch) => batch,
                Input::Failed(message) => {
                    eprintln!("error: {message}");
                    exit = EXIT_USAGE;
                    continue;
                }
            };
            let output = if args.parse_only {
                let parsed: usize = batch
                    .par_iter()
                    .map(|raw| usize::from(raw.parse().is_ok()))
                    .sum();
                Output::Parsed {
                    read: batch.len(),
                    rejected: batch.len() - parsed,
                }
            } else {
                Output::Results(
                    batch
                        .par_iter()
                        .map(|raw| plan.screen(raw, |id| explain_all || wanted == Some(id)))
                        .collect(),
                )
            };
            // The writer is gone only when it stopped (--strict) or failed.
            if to_writer.send(output).is_err() {
                break;
            }
        }
        drop(to_writer);
        writer.join().map_or(true, |written| written.is_err())
    });
    if write_failed {
        eprintln!("error: cannot write the results");
        return EXIT_USAGE;
    }
    if stopped.load(std::sync::atomic::Ordering::SeqCst) {
        exit = exit.max(EXIT_DATA);
    }
    // Dropping the receiver (on --strict) makes the reader's next send fail, so it stops.
    let _ = reader.join();
    let fhir = options.fhir_stats();
    if fhir.patients > 0 || fhir.resources > 0 {
        eprintln!("{}", fhir.summary());
    }
    if let Ok(omop) = options.omop.stats.lock() {
        if !omop.rows.is_empty() {
            eprintln!("{}", omop.summary());
        }
    }
    if let Err(e) = screen.finish(&mut out) {
        eprintln!("error: cannot write the results: {e}");
        return EXIT_USAGE;
    }
    if screen.funnel.rejected > 0 {
        exit = exit.max(EXIT_DATA);
    }
    if let Some(id) = &args.explain {
        if !screen.explained {
            eprintln!("error: no patient `{id}` in the data");
            exit = exit.max(EXIT_USAGE);
        }
    }
    exit
}

/// What the workers hand to the writer thread.
enum Output {
    /// A batch's results, in input order.
    Results(Vec<Result<PatientResult, RecordError>>),
    /// `--parse-only`: how many records were read and how many rejected.
    Parsed { read: usize, rejected: usize },
}

/// What the reader thread sends.
enum Input {
    /// Up to [`BATCH`] records (and about [`BATCH_BYTES`] bytes), in file order.
    Batch(Vec<facts::RawRecord>),
    /// A file that could not be opened or read.
    Failed(String),
}

/// Reads every file in order, sending batches; stops when the receiver is gone.
fn read_batches(
    files: &[PathBuf],
    sender: &std::sync::mpsc::SyncSender<Input>,
    options: &std::sync::Arc<facts::ReadOptions>,
) {
    for file in files {
        let records = match facts::read_file_with(file, Some(options.clone())) {
            Ok(r) => r,
            Err(e) => {
                if sender
                    .send(Input::Failed(format!(
                        "cannot read {}: {e}",
                        file.display()
                    )))
                    .is_err()
                {
                    return;
                }
                continue;
            }
        };
        let mut batch = Vec::with_capacity(BATCH);
        let mut bytes = 0;
        for raw in records {
            match raw {
                Ok(raw) => {
                    bytes += raw.text.len();
                    batch.push(raw);
                }
                Err(e) => {
                    let _ = sender.send(Input::Failed(format!(
                        "cannot read {}: {e}",
                        file.display()
                    )));
                    break;
                }
            }
            if batch.len() == BATCH || bytes >= BATCH_BYTES {
                bytes = 0;
            } else {
                continue;
            }
            if sender
                .send(Input::Batch(std::mem::replace(
                    &mut batch,
                    Vec::with_capacity(BATCH),
                )))
                .is_err()
            {
                return;
            }
        }
        if !batch.is_empty() && sender.send(Input::Batch(batch)).is_err() {
            return;
        }
    }
}

struct Screen<'a> {
    args: &'a RunArgs,
    funnel: Funnel,
    explained: bool,
    header_done: bool,
    /// The table's patient column, sized from the first batch (the header comes first).
    id_width: usize,
}

impl Screen<'_> {
    /// Writes one result; returns whether the record was rejected.
    fn emit(
        &mut self,
        out: &mut impl Write,
        result: Result<PatientResult, RecordError>,
    ) -> std::io::Result<bool> {
        let r = match result {
            Ok(r) => r,
            Err(e) => {
                self.funnel.reject();
                eprintln!("rejected: {e}");
                match self.args.format {
                    OutputFormat::Json if self.args.explain.is_none() => {
                        writeln!(out, "{}", serde_json::json!({ "rejected": e }))?
                    }
                    OutputFormat::Csv if self.args.explain.is_none() => {
                        self.header(out)?;
                        let id = e.patient.clone().unwrap_or_default();
                        writeln!(
                            out,
                            "{},rejected,,,{}",
                            render::csv_field(&id),
                            render::csv_field(&e.to_string())
                        )?;
                    }
                    _ => {}
                }
                return Ok(true);
            }
        };
        // The per-criterion rows are printed only with --summary; the totals always.
        if self.args.summary {
            self.funnel.add(&r);
        } else {
            self.funnel.count(&r);
        }
        if let Some(id) = &self.args.explain {
            if *id == r.id {
                self.explained = true;
                match self.args.format {
                    OutputFormat::Json => {
                        writeln!(out, "{}", serde_json::to_string(&r).unwrap_or_default())?
                    }
                    _ => write!(out, "{}", render::explanation(&r))?,
                }
            }
            return Ok(false);
        }
        match self.args.format {
            OutputFormat::Table => {
                self.header(out)?;
                writeln!(out, "{}", render::table_line(&r, self.id_width))?;
            }
            OutputFormat::Json => {
                writeln!(out, "{}", serde_json::to_string(&r).unwrap_or_default())?
            }
            OutputFormat::Csv => {
                self.header(out)?;
                render::write_csv_field(out, &[&r.id])?;
                out.write_all(b",")?;
                render::write_csv_field(out, &[r.verdict.word()])?;
                out.write_all(b",")?;
                render::write_csv_field(out, &r.excluding())?;
                out.write_all(b",")?;
                render::write_csv_field(out, &r.unknown())?;
                out.write_all(b",\n")?;
            }
        }
        Ok(false)
    }

    fn header(&mut self, out: &mut impl Write) -> std::io::Result<()> {
        if !self.header_done {
            self.header_done = true;
            match self.args.format {
                OutputFormat::Table => writeln!(out, "{}", render::table_header(self.id_width))?,
                OutputFormat::Csv => writeln!(out, "id,verdict,excluded_by,unknown,error")?,
                OutputFormat::Json => {}
            }
        }
        Ok(())
    }

    fn finish(&mut self, out: &mut impl Write) -> std::io::Result<()> {
        if self.args.summary {
            match self.args.format {
                OutputFormat::Json => {
                    writeln!(out, "{}", serde_json::json!({ "summary": self.funnel }))?
                }
                OutputFormat::Table => write!(out, "\n{}", self.funnel.render())?,
                OutputFormat::Csv => eprint!("{}", self.funnel.render()),
            }
        }
        out.flush()?;
        eprintln!("{}", self.funnel.totals());
        Ok(())
    }
}

/// `--db URL`: the protocol compiled to SQL (with every unit spelling the database holds),
/// run on the server, its rows printed as a run on files prints its results.
fn run_db(args: &RunArgs, url: &str) -> u8 {
    let mut options = match super::sql::options(
        eligc::sql::Dialect::Postgresql,
        &args.db_args,
        &args.anchor,
        args.as_of,
    ) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_USAGE;
        }
    };
    if args.side.is_some() && options.params_schema.is_some() {
        eprintln!(
            "error: --side fills the session's parameter tables; with --params-schema, fill {}.eligc_anchor and eligc_attestation yourself",
            options.params_schema.as_deref().unwrap_or_default()
        );
        return EXIT_USAGE;
    }
    let side = match &args.side {
        Some(path) => {
            match facts::ReadOptions::read_side_file_capped(path, args.max_record_bytes) {
                Ok(side) => side,
                Err(e) => {
                    eprintln!("error: --side: {e}");
                    return EXIT_USAGE;
                }
            }
        }
        None => Default::default(),
    };
    let mut client = match super::db::connect(url) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_USAGE;
        }
    };
    match super::db::units(&mut client, &eligc::sql::distinct_units_query(&options)) {
        Ok(units) => options.units.extend(units),
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_USAGE;
        }
    }
    match super::db::rows_without_ids(&mut client, &eligc::sql::rows_without_ids(&options)) {
        Ok(found) if found.is_empty() => {}
        Ok(found) => {
            for (table, id, n) in found {
                let rows = if n == 1 { "row" } else { "rows" };
                eprintln!(
                    "error: {table} has {n} {rows} without {id} or person_id: the SQL script tells rows apart by their id and screens per person_id, so it would leave them out without a word, where `eligc run` on the export reads them (docs/sql.md#known-differences)"
                );
            }
            eprintln!(
                "help: load the tables with the CDM's NOT NULL ids, or screen the export with `eligc run PROTOCOL DIR`"
            );
            return EXIT_USAGE;
        }
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_USAGE;
        }
    }
    let mut rejected = match Rejected::find(&mut client, &options) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_USAGE;
        }
    };
    let compiled = match super::sql::compile(&args.protocol, &options) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let shape = ResultShape::of(&compiled);
    let mut side = Some(side);
    // The persons to explain are screened by the interpreter too, on their rows.
    let explain_all = args.format == OutputFormat::Json;
    let explainer = if explain_all || args.explain.is_some() {
        let read = facts::ReadOptions {
            omop: facts::omop::OmopOptions {
                local_vocabularies: options.local_vocabularies.clone(),
                ..facts::omop::OmopOptions::default()
            },
            anchors: options.anchors.clone(),
            side: side.take().unwrap_or_default(),
            max_record_bytes: args.max_record_bytes,
            ..facts::ReadOptions::default()
        };
        match super::db_explain::Explainer::new(
            &mut client,
            &compiled,
            &options,
            std::sync::Arc::new(read),
            !explain_all,
        ) {
            Ok(e) => Some(e),
            Err(e) => {
                eprintln!("error: {e}");
                return EXIT_USAGE;
            }
        }
    } else {
        None
    };
    let side = side.unwrap_or_default();
    let side = match &explainer {
        Some(e) => &e.options().side,
        None => &side,
    };
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout());
    let mut screen = Screen {
        args,
        funnel: Funnel::default(),
        explained: false,
        header_done: false,
        id_width: 0,
    };
    // `--explain ID --format json` prints one person: only that one is fetched.
    let wanted = |id: &str| match args.explain.as_deref() {
        Some(asked) => asked == id,
        None => explain_all,
    };
    let mut write_failed = None;
    // Rows of persons PERSON lacks are records of their own, first (as the reader puts
    // its rejected rows first).
    for (_, e) in std::mem::take(&mut rejected.orphans) {
        if let Err(e) = screen.emit(&mut out, Err(e)) {
            eprintln!("error: cannot write the results: {e}");
            return EXIT_USAGE;
        }
    }
    let streamed = super::db::screen(&mut client, &compiled.script, side, |client, rows| {
        let results = shape
            .results(&rows)
            .map_err(|e| format!("the database's result is not the script's: {e}"))?;
        if !screen.header_done {
            // The table's patient column is sized from the first batch, as a run on files.
            screen.id_width = render::id_width(results.iter().map(|r| r.id.as_str()));
        }
        let mut results = results.into_iter();
        loop {
            // The persons eligc run would reject are rejected records, not verdicts.
            let chunk: Vec<Result<PatientResult, RecordError>> = results
                .by_ref()
                .take(BATCH)
                .map(|r| rejected.instead(r))
                .collect();
            if chunk.is_empty() {
                break;
            }
            let outputs = match &explainer {
                Some(explainer) => explain(client, explainer, chunk, &wanted)?,
                None => chunk,
            };
            for r in outputs {
                if let Err(e) = screen.emit(&mut out, r) {
                    write_failed = Some(e.to_string());
                    return Err("the results could not be written".to_string());
                }
            }
        }
        Ok(())
    });
    if let Some(e) = write_failed {
        eprintln!("error: cannot write the results: {e}");
        return EXIT_USAGE;
    }
    if let Err(e) = streamed {
        let _ = out.flush();
        eprintln!("error: {e}");
        return EXIT_USAGE;
    }
    if let Some(explainer) = &explainer {
        if let Ok(omop) = explainer.options().omop.stats.lock() {
            if !omop.rows.is_empty() {
                eprintln!("{}", omop.summary());
            }
        }
    }
    if let Err(e) = screen.finish(&mut out) {
        eprintln!("error: cannot write the results: {e}");
        return EXIT_USAGE;
    }
    let mut exit = EXIT_OK;
    if screen.funnel.rejected > 0 {
        exit = EXIT_DATA;
    }
    if let Some(id) = &args.explain {
        if !screen.explained {
            eprintln!("error: no person `{id}` in the database");
            exit = exit.max(EXIT_USAGE);
        }
    }
    exit
}

/// The SQL results of a chunk of persons, those `wanted` replaced by the interpreter's
/// explained results on their rows, in the same order. A difference in a verdict or an
/// outcome stops the run with every difference of the chunk named: one of the two is wrong.
fn explain(
    client: &mut postgres::Client,
    explainer: &super::db_explain::Explainer,
    chunk: Vec<Result<PatientResult, RecordError>>,
    wanted: &impl Fn(&str) -> bool,
) -> Result<Vec<Result<PatientResult, facts::RecordError>>, String> {
    let persons: Vec<&str> = chunk
        .iter()
        .filter_map(|r| r.as_ref().ok())
        .map(|r| r.id.as_str())
        .filter(|id| wanted(id))
        .collect();
    if persons.is_empty() {
        return Ok(chunk);
    }
    let mut explained: std::collections::HashMap<String, super::db_explain::Explained> =
        std::collections::HashMap::with_capacity(persons.len());
    for r in explainer.screen(client, &persons)? {
        let id = match &r {
            Ok(r) => Some(r.id.clone()),
            Err(e) => e.patient.clone(),
        };
        if let Some(id) = id {
            explained.insert(id, r);
        }
    }
    let mut out = Vec::with_capacity(chunk.len());
    let mut differences = Vec::new();
    for sql in chunk {
        // Rejected already (`Rejected::instead`).
        let sql = match sql {
            Ok(sql) => sql,
            Err(e) => {
                out.push(Err(e));
                continue;
            }
        };
        if !wanted(&sql.id) {
            out.push(Ok(sql));
            continue;
        }
        match explained.remove(&sql.id) {
            Some(Ok(r)) => {
                differences.extend(super::db_explain::disagreements(&sql, &r));
                out.push(Ok(r));
            }
            // A person whose rows cannot be read is rejected, as `eligc run` on the export
            // rejects them.
            Some(Err(e)) => out.push(Err(e)),
            None => differences.push(format!(
                "person {}: the SQL script screened them, the interpreter got no record from their rows",
                sql.id
            )),
        }
    }
    if differences.is_empty() {
        Ok(out)
    } else {
        Err(format!(
            "the SQL script and the interpreter disagree, which is a bug in eligc (please report it with the protocol); these persons are not printed:\n  {}",
            differences.join("\n  ")
        ))
    }
}

/// The persons of a database `eligc run` would reject when reading its export
/// (`eligc::sql::rejections_queries`), reported as rejected records in place of the
/// script's verdicts: a verdict from rows eligc cannot read would be presented as right.
/// Held for the whole run: as many as the database has bad persons.
#[derive(Default)]
struct Rejected {
    /// By person id: the first row the reader cannot read.
    persons: std::collections::HashMap<String, (u8, Option<i64>, u8, RecordError)>,
    /// By person id: the error for each PERSON row after the first, and how many of the
    /// person's result rows were seen.
    duplicates: std::collections::HashMap<String, (RecordError, usize)>,
    /// Rows of persons PERSON lacks, by table and row id.
    orphans: Vec<((u8, Option<i64>), RecordError)>,
}

impl Rejected {
    fn find(
        client: &mut postgres::Client,
        options: &eligc::sql::Options,
    ) -> Result<Rejected, String> {
        let rows = super::db::rows_of(client, &eligc::sql::rejections_queries(options))?;
        let mut out = Rejected::default();
        for row in rows {
            let Some(r) = eligc::sql::judge(&row)? else {
                continue;
            };
            let person = r.person.to_string();
            match r.kind {
                eligc::sql::RejectionKind::Orphan => {
                    out.orphans.push(((r.order.0, r.order.1), r.error));
                }
                eligc::sql::RejectionKind::Duplicate(_) => {
                    out.duplicates.insert(person, (r.error, 0));
                }
                eligc::sql::RejectionKind::Person => {
                    let (t, id, rank) = r.order;
                    let first = out
                        .persons
                        .get(&person)
                        .is_none_or(|(t0, id0, rank0, _)| (t, id, rank) < (*t0, *id0, *rank0));
                    if first {
                        out.persons.insert(person, (t, id, rank, r.error));
                    }
                }
            }
        }
        // In table, then row order, as the reader reports them.
        out.orphans.sort_by_key(|(order, _)| *order);
        Ok(out)
    }

    /// The result to print for one of the script's rows: its own, or the rejection.
    fn instead(&mut self, r: PatientResult) -> Result<PatientResult, RecordError> {
        if let Some((error, seen)) = self.duplicates.get_mut(&r.id) {
            *seen += 1;
            if *seen > 1 {
                return Err(error.clone());
            }
        }
        match self.persons.get(&r.id) {
            Some((_, _, _, error)) => Err(error.clone()),
            None => Ok(r),
        }
    }
}

/// The criteria of a compiled protocol in the program's order, to read the database's
/// result rows as screening results. Checks are not computed in SQL; unused facts are not
/// counted (0); unplaced criteria and facts are (`Script::result_query`).
struct ResultShape {
    criteria: Vec<Shape>,
    /// The result's columns: person_id, verdict, one per criterion, unplaced_criteria,
    /// unplaced_facts.
    columns: Vec<String>,
}

struct Shape {
    id: std::sync::Arc<str>,
    kind: eligc::ast::CriterionKind,
    wording: std::sync::Arc<str>,
    parent: Option<std::sync::Arc<str>>,
    depth: usize,
    line: usize,
    quantifier: Option<eligc::program::Quantifier>,
}

impl ResultShape {
    fn of(compiled: &super::sql::Compiled) -> Self {
        fn walk(
            c: &eligc::program::Criterion,
            parent: Option<&std::sync::Arc<str>>,
            depth: usize,
            sources: &eligc::source::SourceMap,
            out: &mut Vec<Shape>,
        ) {
            let line = sources
                .get(c.span.file)
                .map_or(0, |f| f.line_col(c.span.start).0);
            out.push(Shape {
                id: c.id.clone(),
                kind: c.kind,
                wording: c.wording.clone(),
                parent: parent.cloned(),
                depth,
                line,
                quantifier: c.quantifier,
            });
            if let eligc::program::CriterionBody::Group(children) = &c.body {
                for child in children {
                    walk(child, Some(&c.id), depth + 1, sources, out);
                }
            }
        }
        let mut criteria = Vec::new();
        for c in &compiled.program.criteria {
            walk(c, None, 0, &compiled.sources, &mut criteria);
        }
        let columns = ["person_id".to_string(), "verdict".to_string()]
            .into_iter()
            .chain(criteria.iter().map(|s| s.id.to_string()))
            .chain([
                "unplaced_criteria".to_string(),
                "unplaced_facts".to_string(),
            ])
            .collect();
        ResultShape { criteria, columns }
    }

    /// One batch of result rows as screening results.
    fn results(&self, rows: &super::db::Rows) -> Result<Vec<PatientResult>, String> {
        use eligc::eval::{CriterionResult, Outcome, Verdict};
        if !rows.rows.is_empty() && rows.columns != self.columns {
            return Err(format!(
                "columns {:?}, expected {:?}",
                rows.columns, self.columns
            ));
        }
        let outcome = |w: Option<&str>| match w {
            Some("met") => Ok(Outcome::Met),
            Some("not met") => Ok(Outcome::NotMet),
            Some("unknown") => Ok(Outcome::Unknown),
            Some("not applicable") => Ok(Outcome::NotApplicable),
            other => Err(format!("outcome {other:?}")),
        };
        let mut out = Vec::with_capacity(rows.rows.len());
        for row in &rows.rows {
            let id = row.first().cloned().flatten().unwrap_or_default();
            let verdict = match row.get(1).cloned().flatten().as_deref() {
                Some("eligible") => Verdict::Eligible,
                Some("ineligible") => Verdict::Ineligible,
                Some("needs review") => Verdict::NeedsReview,
                other => return Err(format!("verdict {other:?} for person {id}")),
            };
            let n = self.criteria.len();
            let unplaced: Vec<&str> = row
                .get(n + 2)
                .and_then(|v| v.as_deref())
                .map(|v| v.split_whitespace().collect())
                .unwrap_or_default();
            let unplaced_facts = row
                .get(n + 3)
                .and_then(|v| v.as_deref())
                .map(|v| v.parse::<usize>())
                .transpose()
                .map_err(|e| format!("unplaced_facts for person {id}: {e}"))?
                .unwrap_or(0);
            let mut criteria = Vec::with_capacity(n);
            for (i, s) in self.criteria.iter().enumerate() {
                criteria.push(CriterionResult {
                    id: s.id.clone(),
                    kind: s.kind,
                    wording: s.wording.clone(),
                    parent: s.parent.clone(),
                    depth: s.depth,
                    outcome: outcome(row.get(i + 2).and_then(|v| v.as_deref()))?,
                    line: s.line,
                    checks: Vec::new(),
                    logic: Vec::new(),
                    unplaced: unplaced.contains(&&*s.id),
                    quantifier: s.quantifier,
                });
            }
            out.push(PatientResult {
                id,
                verdict,
                criteria,
                unused_facts: 0,
                unplaced_facts,
                to_settle: Vec::new(),
                completed: Vec::new(),
            });
        }
        Ok(out)
    }
}
