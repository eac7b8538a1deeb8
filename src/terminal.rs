//! Text from protocols and patient records made safe to print for people: every control
//! character (ESC, CR, newline, tab, C1 controls) and every bidirectional formatting
//! character is shown as an escape, so a patient id or a wording cannot move the cursor,
//! recolour the terminal, reorder what is shown or forge a table row.
//!
//! Human outputs (the table, `--explain`, `rejected:` lines, `eligc test` and `eligc diff`
//! text, and `check` diagnostics) pass user text through [`escape`]. JSON output is escaped
//! by serde instead; CSV keeps the data and neutralises formulas (`eval::render::csv_field`).

use std::borrow::Cow;

/// Whether `c` is a bidirectional formatting character: the embeddings and overrides
/// U+202A..U+202E, the isolates U+2066..U+2069, the marks U+200E, U+200F and U+061C. They
/// change the order in which text is displayed (the "Trojan Source" attack).
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
}

/// The escape that stands for `c` on a terminal, or `None` when `c` prints as itself.
/// Newline, CR and tab are `\n`, `\r`, `\t`; ESC is `\e`; other ASCII controls and DEL
/// are `\x1f`; C1 controls, bidirectional formatting characters and the line and paragraph
/// separators are `\u{202e}`.
pub fn escape_char(c: char) -> Option<String> {
    match c {
        '\n' => Some("\\n".to_string()),
        '\r' => Some("\\r".to_string()),
        '\t' => Some("\\t".to_string()),
        '\u{1b}' => Some("\\e".to_string()),
        '\0'..='\u{1f}' | '\u{7f}' => Some(format!("\\x{:02x}", u32::from(c))),
        '\u{80}'..='\u{9f}' | '\u{2028}' | '\u{2029}' => Some(format!("\\u{{{:x}}}", u32::from(c))),
        c if is_bidi_control(c) => Some(format!("\\u{{{:x}}}", u32::from(c))),
        _ => None,
    }
}

/// `text` with every character that [`escape_char`] escapes replaced by its escape.
/// Text without such characters is returned as is, without copying.
pub fn escape(text: &str) -> Cow<'_, str> {
    if !text.chars().any(|c| escape_char(c).is_some()) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match escape_char(c) {
            Some(e) => out.push_str(&e),
            None => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Like [`escape`], but keeps newlines: for text whose line breaks are eligc's own (help
/// with several lines) while the rest may hold user text.
pub fn escape_keeping_lines(text: &str) -> Cow<'_, str> {
    if !text.chars().any(|c| c != '\n' && escape_char(c).is_some()) {
        return Cow::Borrowed(text);
    }
    let escaped: Vec<Cow<'_, str>> = text.split('\n').map(escape).collect();
    Cow::Owned(escaped.join("\n"))
}
