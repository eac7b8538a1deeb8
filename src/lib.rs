//! eligc: a compiler and interpreter for clinical-trial eligibility criteria.
//!
//! The pipeline, one module per stage: [`syntax::parse`] turns text into an [`ast`];
//! [`check::compile_file`] loads what a protocol uses, resolves and types it into a
//! [`program::Program`], and collects every [`diagnostic`]; [`report`] renders diagnostics
//! for people (miette) and machines (JSON).
#![warn(missing_docs)]

pub mod ast;
pub mod check;
pub mod diagnostic;
pub mod diff;
pub mod doc;
pub mod eval;
pub mod facts;
pub mod fmt;
pub mod number;
pub mod program;
pub mod report;
pub mod source;
pub mod sql;
pub mod syntax;
pub mod terminal;
pub mod units;
pub mod vocab;
