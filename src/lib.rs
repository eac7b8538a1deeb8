//! eligc: a compiler and interpreter for clinical-trial eligibility criteria.
//!
//! The pipeline, one module per stage:
//! [`syntax::parse`] text to [`ast`]; [`check::check`] AST to a typed [`check::Program`]
//! with diagnostics; the CLI in `main.rs` renders diagnostics with [`report`].
#![warn(missing_docs)]

pub mod ast;
pub mod diagnostic;
pub mod source;
pub mod syntax;
