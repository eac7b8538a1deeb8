//! Lines of a file read with a size cap: a line longer than the cap is never held in memory
//! (it is skipped to its end), so a hostile or broken file (`/dev/zero`, a file with no
//! line end) cannot grow memory without bound.

use std::io::{BufRead, Read};

/// The default largest record: a JSON Lines line, a `.json` file, a FHIR Bundle, a
/// side-file line, an assembled Bulk Data patient (`--max-record-bytes`).
pub const DEFAULT_MAX_RECORD_BYTES: u64 = 64 << 20;

/// The reason given for a record over the cap.
pub fn too_large(cap: u64) -> String {
    format!("the record is larger than {cap} bytes (the limit; raise it with --max-record-bytes)")
}

/// One line as read by [`next_line`].
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// The line's bytes, without its line end (`\n` or `\r\n`).
    Text(Vec<u8>),
    /// The line is longer than the cap; it was skipped up to its end (`ended`), or up to
    /// the cap only when the file is not one that surely ends (`ended` false: reading
    /// should stop).
    TooLong {
        /// Whether the rest of the line was skipped.
        ended: bool,
    },
}

/// Reads the next line of `reader`, `None` at the end. A line longer than `cap` bytes is
/// skipped without being kept when `skip` is true (a regular file, which ends); otherwise
/// reading stops after the cap (a device or a pipe may never send a line end).
pub fn next_line(reader: &mut impl BufRead, cap: u64, skip: bool) -> std::io::Result<Option<Line>> {
    // The common case: the whole line is in the buffer. It is copied once, at its size
    // (growing a vector byte chunk by byte chunk cost a tenth of the screening time).
    let available = reader.fill_buf()?;
    if let Some(end) = memchr::memchr(b'\n', available) {
        let mut len = end;
        if len > 0 && available.get(len - 1) == Some(&b'\r') {
            len -= 1;
        }
        if len as u64 <= cap {
            let bytes = available.get(..len).unwrap_or_default().to_vec();
            reader.consume(end + 1);
            return Ok(Some(Line::Text(bytes)));
        }
    }
    let mut bytes = Vec::new();
    // One byte more than the cap, so that a line of exactly the cap (plus its end) fits.
    let read = reader
        .by_ref()
        .take(cap.saturating_add(2))
        .read_until(b'\n', &mut bytes)?;
    if read == 0 {
        return Ok(None);
    }
    let ended = bytes.last() == Some(&b'\n');
    if ended {
        bytes.pop();
        if bytes.last() == Some(&b'\r') {
            bytes.pop();
        }
    }
    if bytes.len() as u64 <= cap {
        // Shorter than the cap and no line end: the end of the file.
        return Ok(Some(Line::Text(bytes)));
    }
    if ended || !skip {
        return Ok(Some(Line::TooLong { ended }));
    }
    drop(bytes);
    // Skip the rest of the line in chunks, keeping none of it.
    loop {
        let available = reader.fill_buf()?;
        if available.is_empty() {
            return Ok(Some(Line::TooLong { ended: true }));
        }
        match available.iter().position(|b| *b == b'\n') {
            Some(i) => {
                reader.consume(i + 1);
                return Ok(Some(Line::TooLong { ended: true }));
            }
            None => {
                let n = available.len();
                reader.consume(n);
            }
        }
    }
}

/// Reads a whole file of at most `cap` bytes as text: `Ok(None)` when it is larger (never
/// reading more than one byte past the cap).
pub fn read_capped(reader: impl Read, cap: u64) -> std::io::Result<Option<Vec<u8>>> {
    let mut bytes = Vec::new();
    reader.take(cap.saturating_add(1)).read_to_end(&mut bytes)?;
    Ok((bytes.len() as u64 <= cap).then_some(bytes))
}

/// Whether `path` is a regular file (which ends), following links.
pub fn is_regular(path: &std::path::Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file())
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;

    fn lines(text: &[u8], cap: u64, skip: bool) -> Vec<Line> {
        let mut reader = std::io::BufReader::with_capacity(4, text);
        let mut out = Vec::new();
        while let Some(line) = next_line(&mut reader, cap, skip).unwrap() {
            let stop = line == Line::TooLong { ended: false };
            out.push(line);
            if stop {
                break;
            }
        }
        out
    }

    #[test]
    fn a_line_over_the_cap_is_skipped_to_its_end_and_reading_goes_on() {
        let got = lines(b"abc\r\nabcdefghij\nabcde\n\nxy", 5, true);
        assert_eq!(
            got,
            vec![
                Line::Text(b"abc".to_vec()),
                Line::TooLong { ended: true },
                Line::Text(b"abcde".to_vec()),
                Line::Text(Vec::new()),
                Line::Text(b"xy".to_vec()),
            ]
        );
    }

    #[test]
    fn a_line_over_the_cap_of_a_file_that_may_not_end_stops_reading() {
        let got = lines(b"abcdefghij\nabc\n", 5, false);
        assert_eq!(got, vec![Line::TooLong { ended: false }]);
    }

    #[test]
    fn a_whole_file_over_the_cap_is_not_read() {
        assert_eq!(
            read_capped(&b"abcdef"[..], 6).unwrap(),
            Some(b"abcdef".to_vec())
        );
        assert_eq!(read_capped(&b"abcdefg"[..], 6).unwrap(), None);
    }
}
