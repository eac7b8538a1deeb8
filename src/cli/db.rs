//! `eligc run --db postgresql://...`: the SQL script run on a PostgreSQL server, its rows
//! read back as screening results (docs/sql.md). The client is the `postgres` crate (the
//! synchronous face of rust-postgres): one connection, plain text queries, no async runtime
//! to manage in a command-line tool.

use std::io::Write;

use eligc::facts::SideFile;

/// What the database gave: the column names and, per person, the values as text.
pub(crate) struct Rows {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Option<String>>>,
}

/// Runs `queries` in order on a connection, returning the rows of the last.
fn run_all(
    client: &mut postgres::Client,
    statements: &[String],
    last: &str,
) -> Result<Rows, String> {
    for s in statements {
        client
            .batch_execute(s)
            .map_err(|e| format!("the database refused the script: {}", describe(&e)))?;
    }
    let messages = client
        .simple_query(last)
        .map_err(|e| format!("the database refused the query: {}", describe(&e)))?;
    let mut out = Rows {
        columns: Vec::new(),
        rows: Vec::new(),
    };
    for m in messages {
        if let postgres::SimpleQueryMessage::Row(row) = m {
            if out.columns.is_empty() {
                out.columns = row.columns().iter().map(|c| c.name().to_string()).collect();
            }
            out.rows.push(
                (0..row.len())
                    .map(|i| row.get(i).map(str::to_string))
                    .collect(),
            );
        }
    }
    Ok(out)
}

/// The server's own message, with its detail, when it gives one.
fn describe(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!(
            "{}{}",
            db.message(),
            db.detail().map(|d| format!(" ({d})")).unwrap_or_default()
        ),
        None => e.to_string(),
    }
}

/// A connection to `url`. Dates are written `YYYY-MM-DD` and decimals exactly whatever the
/// server's defaults, so that rows copied out read as an export's CSV does.
pub(crate) fn connect(url: &str) -> Result<postgres::Client, String> {
    let mut client = postgres::Client::connect(url, postgres::NoTls)
        .map_err(|e| format!("cannot connect to the database: {}", describe(&e)))?;
    client
        .batch_execute("SET DateStyle = 'ISO, YMD'; SET extra_float_digits = 1")
        .map_err(|e| {
            format!(
                "the database refused the session settings: {}",
                describe(&e)
            )
        })?;
    Ok(client)
}

/// Runs statements that return no rows.
pub(crate) fn execute(client: &mut postgres::Client, statements: &str) -> Result<(), String> {
    client
        .batch_execute(statements)
        .map_err(|e| format!("the database refused a query: {}", describe(&e)))
}

/// The first column of the first row of `query`, as text (`None`: no row, or NULL).
pub(crate) fn value(client: &mut postgres::Client, query: &str) -> Result<Option<String>, String> {
    Ok(run_all(client, &[], query)?
        .rows
        .into_iter()
        .next()
        .and_then(|r| r.into_iter().next().flatten()))
}

/// The rows of `query`, as text.
pub(crate) fn rows(
    client: &mut postgres::Client,
    query: &str,
) -> Result<Vec<Vec<Option<String>>>, String> {
    Ok(run_all(client, &[], query)?.rows)
}

/// The first column of every row of `query` (NULLs left out).
pub(crate) fn column(client: &mut postgres::Client, query: &str) -> Result<Vec<String>, String> {
    Ok(run_all(client, &[], query)?
        .rows
        .into_iter()
        .filter_map(|r| r.into_iter().next().flatten())
        .collect())
}

/// Writes what a `COPY ... TO STDOUT` gives to a new file at `path`.
pub(crate) fn copy_to_file(
    client: &mut postgres::Client,
    copy: &str,
    path: &std::path::Path,
) -> Result<(), String> {
    let mut reader = client
        .copy_out(copy)
        .map_err(|e| format!("the database refused to copy rows: {}", describe(&e)))?;
    let file =
        std::fs::File::create(path).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    let mut writer = std::io::BufWriter::with_capacity(1 << 16, file);
    std::io::copy(&mut reader, &mut writer)
        .and_then(|_| writer.flush())
        .map_err(|e| format!("cannot copy rows into {}: {e}", path.display()))?;
    Ok(())
}

/// The distinct unit spellings of results in the database.
pub(crate) fn units(client: &mut postgres::Client, query: &str) -> Result<Vec<String>, String> {
    let rows = run_all(client, &[], query)?;
    Ok(rows
        .rows
        .into_iter()
        .filter_map(|r| r.into_iter().next().flatten())
        .collect())
}

/// How many result rows are fetched at a time: the rows of a million persons held at once
/// took 7 GB.
const FETCH: usize = 10_000;

/// The tables holding rows the script cannot see: (table, id column, how many rows). A
/// table the database does not have is skipped: the script fails on its own if it reads it.
pub(crate) fn rows_without_ids(
    client: &mut postgres::Client,
    queries: &[(&str, String)],
) -> Result<Vec<(String, String, u64)>, String> {
    Ok(rows_of(client, queries)?
        .into_iter()
        .filter_map(|row| {
            let text = |i: usize| row.get(i).cloned().flatten().unwrap_or_default();
            let missing = text(2).parse::<u64>().unwrap_or(0);
            (missing > 0).then(|| (text(0), text(1), missing))
        })
        .collect())
}

/// The rows of each query, as text; a table the database does not have is skipped, as in
/// [`rows_without_ids`].
pub(crate) fn rows_of(
    client: &mut postgres::Client,
    queries: &[(&str, String)],
) -> Result<Vec<Vec<Option<String>>>, String> {
    let mut out = Vec::new();
    for (table, query) in queries {
        let messages = match client.simple_query(query) {
            Ok(m) => m,
            Err(e) if e.code() == Some(&postgres::error::SqlState::UNDEFINED_TABLE) => continue,
            Err(e) => {
                return Err(format!(
                    "the database refused the query on {table}: {}",
                    describe(&e)
                ));
            }
        };
        for m in messages {
            if let postgres::SimpleQueryMessage::Row(row) = m {
                out.push(
                    (0..row.len())
                        .map(|i| row.get(i).map(str::to_string))
                        .collect(),
                );
            }
        }
    }
    Ok(out)
}

/// Runs the script's setup, fills the session's parameter tables from a side file, and
/// reads the result through a cursor, `FETCH` rows at a time, handing each batch to `each`.
pub(crate) fn screen(
    client: &mut postgres::Client,
    script: &eligc::sql::Script,
    side: &SideFile,
    each: impl FnMut(&mut postgres::Client, Rows) -> Result<(), String>,
) -> Result<(), String> {
    run_all(client, &script.setup, "SELECT 1")?;
    // One COPY per table, written as the side file is read again: a row at a time took
    // minutes for 100,000 persons, and the rows of a million held at once would take GBs.
    let mut patients = Vec::with_capacity(side.len());
    for patient in side.patients() {
        match patient.trim().parse::<i64>() {
            Ok(person) => patients.push((person, patient)),
            Err(_) => eprintln!(
                "warning: --side: patient `{patient}` is not a person_id (a whole number); left out"
            ),
        }
    }
    if patients.is_empty() {
        return fetch(client, script, each);
    }
    let quote = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    copy_rows(
        client,
        "eligc_anchor",
        "person_id, anchor, anchor_date",
        |out| {
            for (person, patient) in &patients {
                for (name, date) in side.get(patient).map(|e| e.anchors).unwrap_or_default() {
                    writeln!(out, "{person},{},{date}", quote(&name))?;
                }
            }
            Ok(())
        },
    )?;
    copy_rows(
        client,
        "eligc_attestation",
        "person_id, attestation, value",
        |out| {
            for (person, patient) in &patients {
                for (name, value) in side
                    .get(patient)
                    .map(|e| e.attestations)
                    .unwrap_or_default()
                {
                    let value = match value.value() {
                        Some(true) => "t",
                        Some(false) => "f",
                        None => "",
                    };
                    writeln!(out, "{person},{},{value}", quote(&name))?;
                }
            }
            Ok(())
        },
    )?;
    fetch(client, script, each)
}

/// Reads the script's result through a cursor, `FETCH` rows at a time.
fn fetch(
    client: &mut postgres::Client,
    script: &eligc::sql::Script,
    mut each: impl FnMut(&mut postgres::Client, Rows) -> Result<(), String>,
) -> Result<(), String> {
    // A cursor lives in a transaction; the script's temporary objects were made before it.
    let statements = [
        "BEGIN".to_string(),
        format!(
            "DECLARE eligc_rows NO SCROLL CURSOR FOR {}",
            script.result_query
        ),
    ];
    run_all(client, &statements, "SELECT 1")?;
    loop {
        let rows = run_all(
            client,
            &[],
            &format!("FETCH FORWARD {FETCH} FROM eligc_rows"),
        )?;
        let last = rows.rows.len() < FETCH;
        if !rows.rows.is_empty() {
            each(client, rows)?;
        }
        if last {
            break;
        }
    }
    run_all(client, &["CLOSE eligc_rows".to_string()], "COMMIT").map(|_| ())
}

/// Rows in CSV, written by `rows`, appended to a table with COPY.
fn copy_rows(
    client: &mut postgres::Client,
    table: &str,
    columns: &str,
    rows: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<(), String> {
    let fail = |e: &postgres::Error| format!("cannot fill {table}: {}", describe(e));
    let mut writer = client
        .copy_in(&format!(
            "COPY {table} ({columns}) FROM STDIN WITH (FORMAT csv)"
        ))
        .map_err(|e| fail(&e))?;
    let mut buffered = std::io::BufWriter::with_capacity(1 << 16, &mut writer);
    rows(&mut buffered)
        .and_then(|()| buffered.flush())
        .map_err(|e| format!("cannot fill {table}: {e}"))?;
    drop(buffered);
    writer.finish().map_err(|e| fail(&e))?;
    Ok(())
}
