//! `eligc run --db postgresql://...`: the SQL script run on a PostgreSQL server, its rows
//! read back as screening results (docs/sql.md). The client is the `postgres` crate (the
//! synchronous face of rust-postgres): one connection, plain text queries, no async runtime
//! to manage in a command-line tool.

use eligc::facts::SideEntry;

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

/// A connection to `url`.
pub(crate) fn connect(url: &str) -> Result<postgres::Client, String> {
    postgres::Client::connect(url, postgres::NoTls)
        .map_err(|e| format!("cannot connect to the database: {}", describe(&e)))
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

/// Runs the script's setup, fills the session's parameter tables from a side file, and
/// reads the result.
pub(crate) fn screen(
    client: &mut postgres::Client,
    script: &eligc::sql::Script,
    side: &std::collections::HashMap<String, SideEntry>,
) -> Result<Rows, String> {
    run_all(client, &script.setup, "SELECT 1")?;
    // One COPY per table: a row at a time took minutes for 100,000 persons.
    let mut entries: Vec<&SideEntry> = side.values().collect();
    entries.sort_by(|a, b| a.patient.cmp(&b.patient));
    let quote = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    let (mut anchors, mut attestations) = (String::new(), String::new());
    for entry in entries {
        let Ok(person) = entry.patient.trim().parse::<i64>() else {
            eprintln!(
                "warning: --side: patient `{}` is not a person_id (a whole number); left out",
                entry.patient
            );
            continue;
        };
        for (name, date) in &entry.anchors {
            anchors.push_str(&format!("{person},{},{date}\n", quote(name)));
        }
        for (name, value) in &entry.attestations {
            let value = match value.value() {
                Some(true) => "t",
                Some(false) => "f",
                None => "",
            };
            attestations.push_str(&format!("{person},{},{value}\n", quote(name)));
        }
    }
    for (table, columns, rows) in [
        ("eligc_anchor", "person_id, anchor, anchor_date", anchors),
        (
            "eligc_attestation",
            "person_id, attestation, value",
            attestations,
        ),
    ] {
        if rows.is_empty() {
            continue;
        }
        copy_rows(client, table, columns, &rows)?;
    }
    run_all(client, &[], &script.result_query)
}

/// Rows in CSV appended to a table with COPY.
fn copy_rows(
    client: &mut postgres::Client,
    table: &str,
    columns: &str,
    rows: &str,
) -> Result<(), String> {
    let fail = |e: &postgres::Error| format!("cannot fill {table}: {}", describe(e));
    let mut writer = client
        .copy_in(&format!(
            "COPY {table} ({columns}) FROM STDIN WITH (FORMAT csv)"
        ))
        .map_err(|e| fail(&e))?;
    std::io::Write::write_all(&mut writer, rows.as_bytes())
        .map_err(|e| format!("cannot fill {table}: {e}"))?;
    writer.finish().map_err(|e| fail(&e))?;
    Ok(())
}
