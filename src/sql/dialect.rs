//! What differs between the SQL dialects the compiler writes: quoting, date arithmetic,
//! inline tables and the parameter tables' DDL. Everything else is standard SQL that both
//! PostgreSQL and Spark SQL read the same way.

use rust_decimal::Decimal;

/// The SQL dialect to write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// PostgreSQL 12 or later.
    Postgresql,
    /// Spark SQL 3 (Databricks).
    Spark,
}

impl Dialect {
    /// The dialect's name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Postgresql => "postgresql",
            Dialect::Spark => "spark",
        }
    }

    /// A string literal. Spark reads backslashes in literals as escapes.
    pub fn lit(self, s: &str) -> String {
        match self {
            Dialect::Postgresql => format!("'{}'", s.replace('\'', "''")),
            Dialect::Spark => format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'")),
        }
    }

    /// A quoted identifier (criterion ids as column names).
    pub fn ident(self, s: &str) -> String {
        match self {
            Dialect::Postgresql => format!("\"{}\"", s.replace('"', "\"\"")),
            Dialect::Spark => format!("`{}`", s.replace('`', "``")),
        }
    }

    /// A date literal.
    pub fn date(self, d: chrono::NaiveDate) -> String {
        format!("DATE '{d}'")
    }

    /// A decimal literal, exact.
    pub fn num(self, d: Decimal) -> String {
        let t = d.normalize().to_string();
        match self {
            Dialect::Postgresql => t,
            // A literal with a point is a DECIMAL in Spark; an integer literal an INT or
            // BIGINT. Both compare exactly with DECIMAL columns.
            Dialect::Spark => t,
        }
    }

    /// `d` plus `n` days (`n` may be negative).
    pub fn add_days(self, d: &str, n: i64) -> String {
        if n == 0 {
            return d.to_string();
        }
        match self {
            Dialect::Postgresql => format!("({d} + ({n}))"),
            Dialect::Spark => format!("date_add({d}, {n})"),
        }
    }

    /// `d` plus one day, `d` an expression.
    pub fn next_day(self, d: &str) -> String {
        self.add_days(d, 1)
    }

    /// `d` plus `n` calendar months, clamped to the end of the month (as chrono does).
    pub fn add_months(self, d: &str, n: i64) -> String {
        if n == 0 {
            return d.to_string();
        }
        match self {
            Dialect::Postgresql => {
                if n > 0 {
                    format!("CAST({d} + INTERVAL '{n} months' AS DATE)")
                } else {
                    format!("CAST({d} - INTERVAL '{} months' AS DATE)", -n)
                }
            }
            Dialect::Spark => format!("add_months({d}, {n})"),
        }
    }

    /// `d` plus a number of months given by an expression.
    pub fn add_months_expr(self, d: &str, n: &str) -> String {
        match self {
            Dialect::Postgresql => {
                format!("CAST({d} + make_interval(months => CAST({n} AS INT)) AS DATE)")
            }
            Dialect::Spark => format!("add_months({d}, CAST({n} AS INT))"),
        }
    }

    /// Days from `a` to `b` (`b - a`).
    pub fn days_between(self, a: &str, b: &str) -> String {
        match self {
            Dialect::Postgresql => format!("({b} - {a})"),
            Dialect::Spark => format!("datediff({b}, {a})"),
        }
    }

    /// `floor(a / b)` for whole numbers.
    pub fn floor_div(self, a: &str, b: i64) -> String {
        match self {
            Dialect::Postgresql => format!("FLOOR(CAST({a} AS NUMERIC) / {b})"),
            Dialect::Spark => format!("FLOOR(CAST({a} AS DOUBLE) / {b})"),
        }
    }

    /// A column read as an exact decimal.
    pub fn decimal(self, e: &str) -> String {
        match self {
            Dialect::Postgresql => format!("CAST({e} AS NUMERIC)"),
            Dialect::Spark => format!("CAST({e} AS DECIMAL(38, 12))"),
        }
    }

    /// A column of whole numbers read as an exact decimal of scale 0 (unit factors).
    pub fn integer(self, e: &str) -> String {
        match self {
            Dialect::Postgresql => format!("CAST({e} AS NUMERIC)"),
            Dialect::Spark => format!("CAST({e} AS DECIMAL(38, 0))"),
        }
    }

    /// An inline table: `rows` already written as `(a, b, ...)` tuples; `columns` the names
    /// and `empty` a row of typed NULLs for an empty table.
    pub fn values(self, columns: &[&str], rows: &[String], empty: &str) -> String {
        if rows.is_empty() {
            return format!(
                "SELECT * FROM (SELECT {empty}) AS e({}) WHERE 1 = 0",
                columns.join(", ")
            );
        }
        match self {
            Dialect::Postgresql => format!(
                "SELECT * FROM (VALUES {}) AS v({})",
                rows.join(", "),
                columns.join(", ")
            ),
            Dialect::Spark => format!(
                "SELECT * FROM VALUES {} AS v({})",
                rows.join(", "),
                columns.join(", ")
            ),
        }
    }

    /// The parameter tables (anchors and attestations per person), created when absent.
    pub fn parameter_tables(self, prefix: &str) -> Vec<String> {
        let (temp, using, text) = match self {
            Dialect::Postgresql if prefix.is_empty() => ("TEMPORARY ", "", "VARCHAR"),
            Dialect::Postgresql => ("", "", "VARCHAR"),
            Dialect::Spark => ("", " USING parquet", "STRING"),
        };
        let mut out = Vec::new();
        if self == Dialect::Postgresql {
            // The plan of one large query costs so much by the planner's estimates that
            // PostgreSQL would spend most of a run compiling its expressions (37 s of 37.5 s
            // on 28 persons): its JIT is switched off for the session.
            out.push("SET jit = off".to_string());
        }
        out.extend([
            format!(
                "CREATE {temp}TABLE IF NOT EXISTS {prefix}eligc_anchor (person_id BIGINT, anchor {text}, anchor_date DATE){using}"
            ),
            format!(
                "CREATE {temp}TABLE IF NOT EXISTS {prefix}eligc_attestation (person_id BIGINT, attestation {text}, value BOOLEAN){using}"
            ),
        ]);
        out
    }
}
