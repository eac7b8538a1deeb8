//! Where a field is in JSON text: the line an error names when a record spans many lines (a
//! pretty-printed `.json` file, a FHIR Bundle). Used only to report an error, so it scans
//! the text again rather than keeping positions while parsing.

/// One step of a path: a key or a list position.
#[derive(Debug, PartialEq)]
enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

/// Splits `observations[0].end`, `entry[3].resource.code.coding[1]` into steps; `None`
/// when the path is not one (a key with `.` or `[` in it cannot be told apart).
fn steps(path: &str) -> Option<Vec<Step<'_>>> {
    let mut out = Vec::new();
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let (key, mut rest) = part.split_at(part.find('[').unwrap_or(part.len()));
        if !key.is_empty() {
            out.push(Step::Key(key));
        }
        while let Some(inner) = rest.strip_prefix('[') {
            let end = inner.find(']')?;
            out.push(Step::Index(inner.get(..end)?.parse().ok()?));
            rest = inner.get(end + 1..)?;
        }
        if !rest.is_empty() {
            return None;
        }
    }
    Some(out)
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while matches!(b.get(i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        i += 1;
    }
    i
}

/// The index after the string that starts (with its quote) at `i`.
fn string_end(b: &[u8], i: usize) -> Option<usize> {
    let mut j = i + 1;
    loop {
        match b.get(j)? {
            b'\\' => j += 2,
            b'"' => return Some(j + 1),
            _ => j += 1,
        }
    }
}

/// The index after the value that starts at `i`.
fn value_end(b: &[u8], i: usize) -> Option<usize> {
    match b.get(i)? {
        b'"' => string_end(b, i),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut j = i;
            loop {
                match b.get(j)? {
                    b'"' => j = string_end(b, j)?,
                    b'{' | b'[' => {
                        depth += 1;
                        j += 1;
                    }
                    b'}' | b']' => {
                        depth = depth.saturating_sub(1);
                        j += 1;
                        if depth == 0 {
                            return Some(j);
                        }
                    }
                    _ => j += 1,
                }
            }
        }
        _ => {
            let mut j = i;
            while b
                .get(j)
                .is_some_and(|c| !matches!(c, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'))
            {
                j += 1;
            }
            Some(j)
        }
    }
}

/// The offset of the value at `steps` in the value that starts at (or after blanks from) `i`.
fn find(text: &str, i: usize, steps: &[Step<'_>]) -> Option<usize> {
    let b = text.as_bytes();
    let i = skip_ws(b, i);
    let Some((first, rest)) = steps.split_first() else {
        return Some(i);
    };
    match (first, b.get(i)?) {
        (Step::Key(wanted), b'{') => {
            let mut j = i + 1;
            loop {
                j = skip_ws(b, j);
                if *b.get(j)? != b'"' {
                    return None;
                }
                let end = string_end(b, j)?;
                let raw = text.get(j + 1..end - 1)?;
                let matches = raw == *wanted
                    || (raw.contains('\\')
                        && serde_json::from_str::<String>(text.get(j..end)?)
                            .ok()
                            .as_deref()
                            == Some(*wanted));
                j = skip_ws(b, end);
                if *b.get(j)? != b':' {
                    return None;
                }
                j = skip_ws(b, j + 1);
                if matches {
                    return find(text, j, rest);
                }
                j = skip_ws(b, value_end(b, j)?);
                if *b.get(j)? != b',' {
                    return None;
                }
                j += 1;
            }
        }
        (Step::Index(n), b'[') => {
            let mut j = i + 1;
            for _ in 0..*n {
                j = skip_ws(b, j);
                if *b.get(j)? == b']' {
                    return None;
                }
                j = skip_ws(b, value_end(b, j)?);
                if *b.get(j)? != b',' {
                    return None;
                }
                j += 1;
            }
            j = skip_ws(b, j);
            if *b.get(j)? == b']' {
                return None;
            }
            find(text, j, rest)
        }
        _ => None,
    }
}

/// The byte offset of the value at `path` (`observations[0].end`) in the JSON `text`;
/// `None` when it is not there.
pub fn offset_of(text: &str, path: &str) -> Option<usize> {
    find(text, 0, &steps(path)?)
}

/// How many lines `text` has before `offset` (0 for the first line).
pub fn lines_before(text: &str, offset: usize) -> usize {
    let b = text.as_bytes();
    b.get(..offset.min(b.len()))
        .map_or(0, |head| head.iter().filter(|c| **c == b'\n').count())
}

/// The byte offset of serde_json's 1-based line and column in `text`.
pub fn offset_at(text: &str, line: usize, column: usize) -> usize {
    let mut start = 0;
    for _ in 1..line {
        match text.get(start..).and_then(|t| t.find('\n')) {
            Some(i) => start += i + 1,
            None => break,
        }
    }
    (start + column.saturating_sub(1)).min(text.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "{\n  \"id\": \"a\",\n  \"x\\\"y\": [1, {\"a\": \"]}\"}],\n  \"observations\": [\n    {\"date\": \"2020\"},\n    {\n      \"code\": \"loinc:1\",\n      \"end\": \"2019\"\n    }\n  ]\n}";

    fn line_of(path: &str) -> Option<usize> {
        offset_of(TEXT, path).map(|o| lines_before(TEXT, o) + 1)
    }

    #[test]
    fn a_path_is_found_at_its_line_past_strings_and_nested_values() {
        assert_eq!(line_of(""), Some(1));
        assert_eq!(line_of("id"), Some(2));
        assert_eq!(line_of("x\"y[1].a"), Some(3));
        assert_eq!(line_of("observations[0]"), Some(5));
        assert_eq!(line_of("observations[1]"), Some(6));
        assert_eq!(line_of("observations[1].end"), Some(8));
    }

    #[test]
    fn a_path_that_is_not_there_is_not_found() {
        assert_eq!(line_of("observations[2]"), None);
        assert_eq!(line_of("observations[1].start"), None);
        assert_eq!(line_of("id.x"), None);
        assert_eq!(line_of("observations[x]"), None);
        assert_eq!(offset_of("{\"a\": [1, 2", "a[5]"), None);
    }

    #[test]
    fn serde_positions_become_offsets() {
        assert_eq!(offset_at("ab\ncd\nef", 3, 2), 7);
        assert_eq!(offset_at("ab", 9, 9), 2);
    }
}
