//! `eligc doc FILE`: the criteria as numbered prose for the protocol document.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::EXIT_OK;
use eligc::doc;

#[derive(Args, Debug)]
pub struct DocArgs {
    /// The protocol (`.elig`).
    protocol: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = DocFormat::Md)]
    format: DocFormat,
}

/// Output formats for the document.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DocFormat {
    /// Markdown.
    Md,
    /// One self-contained HTML file (inline CSS, prints well).
    Html,
}

pub fn run(args: &DocArgs) -> u8 {
    let plan = match super::load_plan(&args.protocol, None, &[]) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let document = doc::document(plan.program());
    let text = match args.format {
        DocFormat::Md => doc::markdown(&document),
        DocFormat::Html => doc::html(&document),
    };
    match super::write_stdout(&text) {
        Ok(()) => EXIT_OK,
        Err(code) => code,
    }
}
