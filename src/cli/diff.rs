//! `eligc diff OLD NEW`: what an amendment changes in meaning, criterion by criterion, and
//! with `--patients`, whose verdict it changes.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use rayon::prelude::*;

use super::{EXIT_DATA, EXIT_OK, EXIT_USAGE, compile_plan, with_vocabulary};
use eligc::diff::impact::{self, Impact};
use eligc::diff::{self, render};
use eligc::eval::Plan;
use eligc::facts;

/// How many records are screened together ...
const BATCH: usize = 1024;

/// ... at most, and how many bytes of them (FHIR Bundles are large: see `run`).
const BATCH_BYTES: usize = 32 << 20;

#[derive(Args, Debug)]
pub struct DiffArgs {
    /// The old version (`.elig`).
    old: PathBuf,
    /// The new version (`.elig`).
    new: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = DiffFormat::Text)]
    format: DiffFormat,
    /// Re-screen these patients under both versions (files as `eligc run` takes them) and
    /// list those whose verdict changes.
    #[arg(long, num_args = 1.., value_name = "DATA")]
    patients: Vec<PathBuf>,
    /// An OMOP vocabulary folder (CONCEPT, CONCEPT_RELATIONSHIP, CONCEPT_ANCESTOR as Athena
    /// ships them): codes then match their ancestors' concepts, products their ingredients'.
    /// See docs/terminology.md.
    #[arg(long, value_name = "DIR")]
    vocabulary: Option<PathBuf>,
    /// The largest record of `--patients`, in bytes or with K, M, G: a JSON Lines line, a
    /// `.json` file, a FHIR Bundle, a Bulk Data patient. A larger one is rejected.
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

/// Output formats for differences.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DiffFormat {
    /// Readable text.
    Text,
    /// One JSON document.
    Json,
}

pub fn run(args: &DiffArgs) -> u8 {
    let vocabulary = args.vocabulary.as_deref();
    // Both protocols are compiled (and their errors shown) before the vocabulary is read.
    let (old, new) = match (compile_plan(&args.old), compile_plan(&args.new)) {
        (Ok(o), Ok(n)) => {
            let old = match with_vocabulary(o, vocabulary, &[]) {
                Ok(p) => p,
                Err(code) => return code,
            };
            match with_vocabulary(n, vocabulary, &[]) {
                Ok(new) => (old, new),
                Err(code) => return code,
            }
        }
        (Err(a), Err(b)) => return a.max(b),
        (Err(a), _) | (_, Err(a)) => return a,
    };
    let (old, new) = (old.with_as_of(args.as_of), new.with_as_of(args.as_of));
    let d = diff::diff(&old, &new);
    let mut exit = EXIT_OK;
    let impact = if args.patients.is_empty() {
        None
    } else {
        let complete = match args.complete.as_deref().map(facts::parse_complete) {
            None => Default::default(),
            Some(Ok(c)) => c,
            Some(Err(e)) => {
                eprintln!("error: --complete: {e}");
                return EXIT_USAGE;
            }
        };
        match screen(&old, &new, &args.patients, args.max_record_bytes, complete) {
            Ok(i) => {
                if i.rejected > 0 {
                    exit = EXIT_DATA;
                }
                Some(i)
            }
            Err(message) => {
                eprintln!("error: {message}");
                return EXIT_USAGE;
            }
        }
    };
    let text = match args.format {
        DiffFormat::Text => {
            let mut text = render::text(&d);
            if let Some(i) = &impact {
                text.push('\n');
                text.push_str(&render::impact_text(i));
            }
            text
        }
        DiffFormat::Json => {
            let value = render::json(&d, impact.as_ref());
            format!(
                "{}\n",
                serde_json::to_string_pretty(&value).unwrap_or_default()
            )
        }
    };
    match super::write_stdout(&text) {
        Ok(()) => exit,
        Err(code) => code,
    }
}

/// Screens every record under both versions.
fn screen(
    old: &Plan,
    new: &Plan,
    data: &[PathBuf],
    cap: u64,
    complete: std::collections::BTreeSet<&'static str>,
) -> Result<Impact, String> {
    let found = facts::data_files(data).map_err(|e| format!("cannot list the data: {e}"))?;
    found.report_skipped();
    let files = found.files;
    let options = std::sync::Arc::new(facts::ReadOptions {
        max_record_bytes: cap,
        complete,
        ..facts::ReadOptions::default()
    });
    let mut result = Impact::default();
    for file in &files {
        let records = facts::read_file_with(file, Some(options.clone()))
            .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
        let mut batch = Vec::with_capacity(BATCH);
        let mut records = records.peekable();
        while records.peek().is_some() {
            batch.clear();
            let mut bytes = 0;
            while batch.len() < BATCH && bytes < BATCH_BYTES {
                let Some(raw) = records.next() else { break };
                let raw = raw.map_err(|e| format!("cannot read {}: {e}", file.display()))?;
                bytes += raw.text.len();
                batch.push(raw);
            }
            let screened: Vec<impact::Screened> = batch
                .par_iter()
                .map(|raw| impact::screen_both(old, new, raw))
                .collect();
            for s in screened {
                if let Some(e) = result.add(s) {
                    eprintln!("rejected: {e}");
                }
            }
        }
    }
    result.finish();
    Ok(result)
}
