//! A fast reader of the native format for the records that are written plainly, as nearly
//! all are: each field read straight into its place, with no error reporting of its own.
//!
//! [`read`] gives `None` for anything it does not take in its stride (an escape in a string,
//! an unknown or repeated key, a value of the wrong kind, a malformed number or date, an
//! attestation with details, `studies`, `family_history`, trailing text): the record is then
//! read by serde_json exactly as before, so that what is accepted, what is refused, and
//! every message and line of a refusal stay those of the serde path. When it gives a record,
//! it is the one serde_json would have given (`tests` below compares both on every sample).
//!
//! Why by hand: serde_json spent about half the instructions of a screening on scanning
//! strings and keys and on moving the large records through serde's derived code (about
//! three copies of each); a SIMD JSON crate speeds up the scanning only, and cannot hand
//! over a number's raw text the way serde_json's `RawValue` does, which exact decimals need.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rust_decimal::Decimal;

use super::native::{
    AttestationRecord, ConditionRecord, EncounterRecord, ImmunizationRecord, MedicationRecord,
    ObservationRecord, PatientRecord, ProcedureRecord, RangeRecord, RecordedSex, Text,
};

/// The record, if it is written plainly; `None` sends it to the serde path.
pub(super) fn read(text: &str) -> Option<PatientRecord<'_>> {
    let mut c = Cursor {
        s: text,
        b: text.as_bytes(),
        i: 0,
    };
    let record = c.patient()?;
    c.ws();
    (c.i == c.b.len()).then_some(record)
}

/// A position in the record's text.
struct Cursor<'a> {
    s: &'a str,
    b: &'a [u8],
    i: usize,
}

/// Marks field `bit` as seen; `None` if it was already (a repeated key).
fn once(seen: &mut u32, bit: u32) -> Option<()> {
    let mask = 1u32 << bit;
    if *seen & mask != 0 {
        return None;
    }
    *seen |= mask;
    Some(())
}

/// The length of a string's text up to its closing quote; `None` if an escape (kept for
/// serde) or a control character (refused there) comes first, or no quote.
fn string_len(rest: &[u8]) -> Option<usize> {
    // Eight bytes at a time: a byte is flagged when it is a quote, a backslash or under
    // 0x20 (the lowest flag of each test is exact; false ones only follow a true one).
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let chunks = rest.chunks_exact(8);
    let at = rest.len() - chunks.remainder().len();
    for (n, chunk) in chunks.enumerate() {
        let x = u64::from_le_bytes(<[u8; 8]>::try_from(chunk).ok()?);
        let quote = x ^ (ONES * u64::from(b'"'));
        let slash = x ^ (ONES * u64::from(b'\\'));
        let found = (quote.wrapping_sub(ONES) & !quote
            | slash.wrapping_sub(ONES) & !slash
            | x.wrapping_sub(ONES * 0x20) & !x)
            & HIGH;
        if found != 0 {
            let at = n * 8 + (found.trailing_zeros() / 8) as usize;
            return (rest.get(at) == Some(&b'"')).then_some(at);
        }
    }
    let len = at
        + rest
            .get(at..)?
            .iter()
            .position(|&b| b == b'"' || b == b'\\' || b < 0x20)?;
    (rest.get(len) == Some(&b'"')).then_some(len)
}

/// Room for a list's items once it has one, as serde's reading makes (about 8 KB); an
/// empty list allocates nothing (a patient's empty lists took two 8 KB blocks each).
fn reserve<T>(list: &mut Vec<T>) {
    if list.capacity() == 0 {
        list.reserve_exact((8192 / std::mem::size_of::<T>().max(1)).min(4096));
    }
}

impl<'a> Cursor<'a> {
    /// The cursor, once field `bit` is marked seen ([`once`]); `None` for a repeated key.
    fn first(&mut self, seen: &mut u32, bit: u32) -> Option<&mut Self> {
        once(seen, bit)?;
        Some(self)
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    /// Skips JSON's whitespace.
    fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.peek() {
            self.i += 1;
        }
    }

    /// Skips whitespace, then takes `byte`.
    fn expect(&mut self, byte: u8) -> Option<()> {
        self.ws();
        (self.peek() == Some(byte)).then(|| self.i += 1)
    }

    /// Skips whitespace, then takes `null` if it is there.
    fn null(&mut self) -> bool {
        self.ws();
        let found = self.b.get(self.i..self.i + 4) == Some(b"null");
        if found {
            self.i += 4;
        }
        found
    }

    /// A string without escapes, borrowed.
    fn str(&mut self) -> Option<&'a str> {
        self.expect(b'"')?;
        let start = self.i;
        let len = string_len(self.b.get(start..)?)?;
        self.i = start + len + 1;
        self.s.get(start..start + len)
    }

    fn text(&mut self) -> Option<Text<'a>> {
        self.str().map(Text::from)
    }

    fn opt_text(&mut self) -> Option<Option<Text<'a>>> {
        if self.null() {
            return Some(None);
        }
        self.text().map(Some)
    }

    /// A date string `"YYYY-MM-DD"`, read in place: the only text [`super::strict::parse_date`]
    /// takes, with the same day (`None` for any other text, which serde then reads).
    fn date(&mut self) -> Option<NaiveDate> {
        self.ws();
        let (b'"', b'"') = (*self.b.get(self.i)?, *self.b.get(self.i + 11)?) else {
            return None;
        };
        let (year, month, day) = super::strict::date_parts(self.b.get(self.i + 1..self.i + 11)?)?;
        let date = NaiveDate::from_ymd_opt(year, month, day)?;
        self.i += 12;
        Some(date)
    }

    fn opt_date(&mut self) -> Option<Option<NaiveDate>> {
        if self.null() {
            return Some(None);
        }
        self.date().map(Some)
    }

    /// A number in JSON's syntax, read exactly: digits and a fraction of at most 18 digits
    /// in all, as they are scanned (the value and scale [`crate::number::parse`] gives
    /// them); anything longer, or with an exponent, by that function.
    fn opt_decimal(&mut self) -> Option<Option<Decimal>> {
        if self.null() {
            return Some(None);
        }
        let start = self.i;
        let negative = self.peek() == Some(b'-');
        if negative {
            self.i += 1;
        }
        let mut mantissa = 0i64;
        let mut count = 0u32;
        match self.peek()? {
            b'0' => {
                self.i += 1;
                count = 1;
            }
            b'1'..=b'9' => self.digits(&mut mantissa, &mut count),
            _ => return None,
        }
        let mut scale = 0;
        if self.peek() == Some(b'.') {
            self.i += 1;
            let before = count;
            self.digits(&mut mantissa, &mut count);
            scale = count - before;
            if scale == 0 {
                return None;
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.i += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.i += 1;
            }
            let before = count;
            self.digits(&mut mantissa, &mut count);
            if count == before {
                return None;
            }
        } else if count <= 18 {
            let signed = if negative { -mantissa } else { mantissa };
            return Decimal::try_new(signed, scale).ok().map(Some);
        }
        crate::number::parse(self.s.get(start..self.i)?)
            .ok()
            .map(Some)
    }

    /// Skips digits, adding them to `mantissa` (meaningful while `count`, the digits read
    /// so far, is at most 18).
    fn digits(&mut self, mantissa: &mut i64, count: &mut u32) {
        while let Some(d) = self
            .peek()
            .map(|b| b.wrapping_sub(b'0'))
            .filter(|d| *d < 10)
        {
            *mantissa = mantissa.wrapping_mul(10).wrapping_add(i64::from(d));
            *count += 1;
            self.i += 1;
        }
    }

    /// `true`, `false` or `null`.
    fn opt_bool(&mut self) -> Option<Option<bool>> {
        if self.null() {
            return Some(None);
        }
        let rest = self.b.get(self.i..)?;
        if rest.starts_with(b"true") {
            self.i += 4;
            Some(Some(true))
        } else if rest.starts_with(b"false") {
            self.i += 5;
            Some(Some(false))
        } else {
            None
        }
    }

    /// The members of an object, each handed to `member` with its key.
    fn object(&mut self, mut member: impl FnMut(&mut Self, &'a str) -> Option<()>) -> Option<()> {
        self.expect(b'{')?;
        self.ws();
        if self.peek() == Some(b'}') {
            self.i += 1;
            return Some(());
        }
        loop {
            let key = self.str()?;
            self.expect(b':')?;
            self.ws();
            member(self, key)?;
            self.ws();
            match self.peek()? {
                b',' => {
                    self.i += 1;
                    self.ws();
                }
                b'}' => {
                    self.i += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// The items of an array, each read by `item`.
    fn array(&mut self, mut item: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        self.expect(b'[')?;
        self.ws();
        if self.peek() == Some(b']') {
            self.i += 1;
            return Some(());
        }
        loop {
            item(self)?;
            self.ws();
            match self.peek()? {
                b',' => self.i += 1,
                b']' => {
                    self.i += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// `null` or a list of records.
    fn opt_list<T>(&mut self, read: fn(&mut Self) -> Option<T>) -> Option<Option<Vec<T>>> {
        if self.null() {
            return Some(None);
        }
        let mut out = Vec::new();
        self.array(|c| {
            reserve(&mut out);
            out.push(read(c)?);
            Some(())
        })?;
        Some(Some(out))
    }

    /// `null` or a list of strings (`also`, `body_site`, `reason`).
    fn opt_texts(&mut self) -> Option<Option<Vec<Text<'a>>>> {
        if self.null() {
            return Some(None);
        }
        let mut out = Vec::new();
        self.array(|c| {
            out.push(c.text()?);
            Some(())
        })?;
        Some(Some(out))
    }

    fn patient(&mut self) -> Option<PatientRecord<'a>> {
        let mut seen = 0;
        let mut id = None;
        let mut birth_date = None;
        let mut sex = None;
        let mut anchors = BTreeMap::new();
        let mut observations = None;
        let mut conditions = None;
        let mut medications = None;
        let mut immunizations = None;
        let mut procedures = None;
        let mut allergies = None;
        let mut encounters = None;
        let mut attestations = BTreeMap::new();
        self.object(|c, key| {
            match key {
                "id" => id = Some(c.first(&mut seen, 0)?.text()?),
                "birth_date" => birth_date = c.first(&mut seen, 1)?.opt_date()?,
                "sex" => sex = c.first(&mut seen, 2)?.sex()?,
                "anchors" => {
                    once(&mut seen, 3)?;
                    c.object(|c, name| {
                        let date = c.date()?;
                        anchors
                            .insert(Text::from(name), date)
                            .is_none()
                            .then_some(())
                    })?;
                }
                "observations" => {
                    observations = c.first(&mut seen, 4)?.opt_list(Cursor::observation)?
                }
                "conditions" => conditions = c.first(&mut seen, 5)?.opt_list(Cursor::condition)?,
                "medications" => {
                    medications = c.first(&mut seen, 6)?.opt_list(Cursor::medication)?
                }
                "immunizations" => {
                    immunizations = c.first(&mut seen, 7)?.opt_list(Cursor::immunization)?
                }
                "procedures" => procedures = c.first(&mut seen, 8)?.opt_list(Cursor::procedure)?,
                "allergies" => allergies = c.first(&mut seen, 9)?.opt_list(Cursor::condition)?,
                "encounters" => encounters = c.first(&mut seen, 10)?.opt_list(Cursor::encounter)?,
                // Rare: only their absence is read here.
                "studies" | "family_history" => {
                    once(&mut seen, if key == "studies" { 11 } else { 12 })?;
                    c.null().then_some(())?;
                }
                "attestations" => {
                    once(&mut seen, 13)?;
                    let mut list = Vec::with_capacity(32);
                    c.object(|c, name| {
                        // Details (`{"value": ..., "date": ...}`) are left to serde.
                        list.push((Text::from(name), AttestationRecord::Value(c.opt_bool()?)));
                        Some(())
                    })?;
                    // Built from a sorted list at once (fewer comparisons of the long names
                    // than one insertion each); a name given twice leaves fewer entries.
                    let count = list.len();
                    attestations = BTreeMap::from_iter(list);
                    (attestations.len() == count).then_some(())?;
                }
                _ => return None,
            }
            Some(())
        })?;
        Some(PatientRecord {
            id: id?,
            birth_date,
            sex,
            anchors,
            observations,
            conditions,
            medications,
            immunizations,
            procedures,
            allergies,
            encounters,
            studies: None,
            family_history: None,
            attestations,
            completed: Vec::new(),
        })
    }

    fn sex(&mut self) -> Option<Option<RecordedSex>> {
        if self.null() {
            return Some(None);
        }
        Some(Some(match self.str()? {
            "female" => RecordedSex::Female,
            "male" => RecordedSex::Male,
            "other" => RecordedSex::Other,
            "unknown" => RecordedSex::Unknown,
            _ => return None,
        }))
    }

    fn range(&mut self) -> Option<Option<RangeRecord>> {
        if self.null() {
            return Some(None);
        }
        let mut seen = 0;
        let mut range = RangeRecord {
            low: None,
            high: None,
        };
        self.object(|c, key| {
            match key {
                "low" => range.low = c.first(&mut seen, 0)?.opt_decimal()?,
                "high" => range.high = c.first(&mut seen, 1)?.opt_decimal()?,
                _ => return None,
            }
            Some(())
        })?;
        Some(Some(range))
    }

    fn observation(&mut self) -> Option<ObservationRecord<'a>> {
        let mut seen = 0;
        let mut date = None;
        let mut o = ObservationRecord {
            id: None,
            concept: None,
            code: None,
            also: None,
            date: NaiveDate::MIN,
            value: None,
            unit: None,
            comparator: None,
            result: None,
            interpretation: None,
            reference_range: None,
        };
        self.object(|c, key| {
            match key {
                "id" => o.id = c.first(&mut seen, 0)?.opt_text()?,
                "concept" => o.concept = c.first(&mut seen, 1)?.opt_text()?,
                "code" => o.code = c.first(&mut seen, 2)?.opt_text()?,
                "also" => o.also = c.first(&mut seen, 3)?.opt_texts()?,
                "date" => date = Some(c.first(&mut seen, 4)?.date()?),
                "value" => o.value = c.first(&mut seen, 5)?.opt_decimal()?,
                "unit" => o.unit = c.first(&mut seen, 6)?.opt_text()?,
                "comparator" => o.comparator = c.first(&mut seen, 7)?.opt_text()?,
                "result" => o.result = c.first(&mut seen, 8)?.opt_text()?,
                "interpretation" => o.interpretation = c.first(&mut seen, 9)?.opt_text()?,
                "reference_range" => o.reference_range = c.first(&mut seen, 10)?.range()?,
                _ => return None,
            }
            Some(())
        })?;
        o.date = date?;
        Some(o)
    }

    fn condition(&mut self) -> Option<ConditionRecord<'a>> {
        let mut seen = 0;
        let mut r = ConditionRecord {
            id: None,
            concept: None,
            code: None,
            also: None,
            display: None,
            onset: None,
            end: None,
            status: None,
            verification: None,
            grade: None,
            severity: None,
            body_site: None,
            laterality: None,
            stage: None,
        };
        self.object(|c, key| {
            match key {
                "id" => r.id = c.first(&mut seen, 0)?.opt_text()?,
                "concept" => r.concept = c.first(&mut seen, 1)?.opt_text()?,
                "code" => r.code = c.first(&mut seen, 2)?.opt_text()?,
                "also" => r.also = c.first(&mut seen, 3)?.opt_texts()?,
                "display" => r.display = c.first(&mut seen, 4)?.opt_text()?,
                "onset" => r.onset = c.first(&mut seen, 5)?.opt_date()?,
                "end" => r.end = c.first(&mut seen, 6)?.opt_date()?,
                "status" => r.status = c.first(&mut seen, 7)?.opt_text()?,
                "verification" => r.verification = c.first(&mut seen, 8)?.opt_text()?,
                "grade" => r.grade = c.first(&mut seen, 9)?.opt_decimal()?,
                "severity" => r.severity = c.first(&mut seen, 10)?.opt_text()?,
                "body_site" => r.body_site = c.first(&mut seen, 11)?.opt_texts()?,
                "laterality" => r.laterality = c.first(&mut seen, 12)?.opt_text()?,
                "stage" => r.stage = c.first(&mut seen, 13)?.opt_text()?,
                _ => return None,
            }
            Some(())
        })?;
        Some(r)
    }

    fn medication(&mut self) -> Option<MedicationRecord<'a>> {
        let mut seen = 0;
        let mut start = None;
        let mut r = MedicationRecord {
            id: None,
            concept: None,
            code: None,
            also: None,
            display: None,
            start: NaiveDate::MIN,
            end: None,
            dose: None,
            dose_unit: None,
            frequency_per_day: None,
            daily_dose: None,
            daily_dose_unit: None,
            route: None,
            status: None,
            reason: None,
            status_reason: None,
        };
        self.object(|c, key| {
            match key {
                "id" => r.id = c.first(&mut seen, 0)?.opt_text()?,
                "concept" => r.concept = c.first(&mut seen, 1)?.opt_text()?,
                "code" => r.code = c.first(&mut seen, 2)?.opt_text()?,
                "also" => r.also = c.first(&mut seen, 3)?.opt_texts()?,
                "display" => r.display = c.first(&mut seen, 4)?.opt_text()?,
                "start" => start = Some(c.first(&mut seen, 5)?.date()?),
                "end" => r.end = c.first(&mut seen, 6)?.opt_date()?,
                "dose" => r.dose = c.first(&mut seen, 7)?.opt_decimal()?,
                "dose_unit" => r.dose_unit = c.first(&mut seen, 8)?.opt_text()?,
                "frequency_per_day" => {
                    r.frequency_per_day = c.first(&mut seen, 9)?.opt_decimal()?
                }
                "daily_dose" => r.daily_dose = c.first(&mut seen, 10)?.opt_decimal()?,
                "daily_dose_unit" => r.daily_dose_unit = c.first(&mut seen, 11)?.opt_text()?,
                "route" => r.route = c.first(&mut seen, 12)?.opt_text()?,
                "status" => r.status = c.first(&mut seen, 13)?.opt_text()?,
                "reason" => r.reason = c.first(&mut seen, 14)?.opt_texts()?,
                "status_reason" => r.status_reason = c.first(&mut seen, 15)?.opt_texts()?,
                _ => return None,
            }
            Some(())
        })?;
        r.start = start?;
        Some(r)
    }

    fn immunization(&mut self) -> Option<ImmunizationRecord<'a>> {
        let mut seen = 0;
        let mut date = None;
        let mut r = ImmunizationRecord {
            id: None,
            concept: None,
            code: None,
            also: None,
            display: None,
            date: NaiveDate::MIN,
            status: None,
        };
        self.object(|c, key| {
            match key {
                "id" => r.id = c.first(&mut seen, 0)?.opt_text()?,
                "concept" => r.concept = c.first(&mut seen, 1)?.opt_text()?,
                "code" => r.code = c.first(&mut seen, 2)?.opt_text()?,
                "also" => r.also = c.first(&mut seen, 3)?.opt_texts()?,
                "display" => r.display = c.first(&mut seen, 4)?.opt_text()?,
                "date" => date = Some(c.first(&mut seen, 5)?.date()?),
                "status" => r.status = c.first(&mut seen, 6)?.opt_text()?,
                _ => return None,
            }
            Some(())
        })?;
        r.date = date?;
        Some(r)
    }

    fn procedure(&mut self) -> Option<ProcedureRecord<'a>> {
        let mut seen = 0;
        let mut date = None;
        let mut r = ProcedureRecord {
            id: None,
            concept: None,
            code: None,
            also: None,
            display: None,
            date: NaiveDate::MIN,
            end: None,
            status: None,
            body_site: None,
            laterality: None,
            reason: None,
        };
        self.object(|c, key| {
            match key {
                "id" => r.id = c.first(&mut seen, 0)?.opt_text()?,
                "concept" => r.concept = c.first(&mut seen, 1)?.opt_text()?,
                "code" => r.code = c.first(&mut seen, 2)?.opt_text()?,
                "also" => r.also = c.first(&mut seen, 3)?.opt_texts()?,
                "display" => r.display = c.first(&mut seen, 4)?.opt_text()?,
                "date" => date = Some(c.first(&mut seen, 5)?.date()?),
                "end" => r.end = c.first(&mut seen, 6)?.opt_date()?,
                "status" => r.status = c.first(&mut seen, 7)?.opt_text()?,
                "body_site" => r.body_site = c.first(&mut seen, 8)?.opt_texts()?,
                "laterality" => r.laterality = c.first(&mut seen, 9)?.opt_text()?,
                "reason" => r.reason = c.first(&mut seen, 10)?.opt_texts()?,
                _ => return None,
            }
            Some(())
        })?;
        r.date = date?;
        Some(r)
    }

    fn encounter(&mut self) -> Option<EncounterRecord<'a>> {
        let mut seen = 0;
        let mut start = None;
        let mut r = EncounterRecord {
            id: None,
            concept: None,
            code: None,
            also: None,
            display: None,
            start: NaiveDate::MIN,
            end: None,
            status: None,
            discharge: None,
        };
        self.object(|c, key| {
            match key {
                "id" => r.id = c.first(&mut seen, 0)?.opt_text()?,
                "concept" => r.concept = c.first(&mut seen, 1)?.opt_text()?,
                "code" => r.code = c.first(&mut seen, 2)?.opt_text()?,
                "also" => r.also = c.first(&mut seen, 3)?.opt_texts()?,
                "display" => r.display = c.first(&mut seen, 4)?.opt_text()?,
                "start" => start = Some(c.first(&mut seen, 5)?.date()?),
                "end" => r.end = c.first(&mut seen, 6)?.opt_date()?,
                "status" => r.status = c.first(&mut seen, 7)?.opt_text()?,
                "discharge" => r.discharge = c.first(&mut seen, 8)?.opt_text()?,
                _ => return None,
            }
            Some(())
        })?;
        r.start = start?;
        Some(r)
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, clippy::panic, reason = "tests")]
mod tests {
    use super::*;

    /// What serde_json makes of the record: the reading the fast one must agree with.
    fn serde(text: &str) -> Option<PatientRecord<'_>> {
        serde_json::from_str(text).ok()
    }

    /// The fast reader either declines or gives exactly serde's record.
    fn agrees(text: &str) -> bool {
        match read(text) {
            None => false,
            Some(fast) => match serde(text) {
                Some(slow) => {
                    assert_eq!(fast, slow, "{text}");
                    true
                }
                None => panic!("the fast reader took what serde refuses: {text}"),
            },
        }
    }

    fn sample_lines() -> Vec<String> {
        let root = env!("CARGO_MANIFEST_DIR");
        [
            "protocols/sle-car-t/patients.jsonl",
            "tests/fixtures/data/mixed.jsonl",
            "tests/fixtures/diff/amendment-patients.jsonl",
            "tests/fixtures/explain/patients.jsonl",
        ]
        .iter()
        .flat_map(|f| {
            std::fs::read_to_string(format!("{root}/{f}"))
                .unwrap()
                .lines()
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect()
    }

    #[test]
    fn the_fast_reader_gives_serdes_record_for_every_sample_patient() {
        let lines = sample_lines();
        let taken = lines.iter().filter(|l| agrees(l)).count();
        // The sample patients are written plainly: nearly all go the fast way.
        let plain = lines.iter().filter(|l| serde(l).is_some()).count();
        assert!(taken * 10 >= plain * 9, "{taken} of {plain}");
    }

    #[test]
    fn every_one_character_change_of_a_patient_is_read_as_serde_reads_it_or_left_to_it() {
        let lines = sample_lines();
        let line = lines
            .iter()
            .filter(|l| read(l).is_some())
            .find(|l| l.contains("reference_range") && l.contains("medications"))
            .unwrap();
        let mut taken = 0;
        for (at, _) in line.char_indices() {
            let mut cut = line.clone();
            cut.remove(at);
            taken += usize::from(agrees(&cut));
            for c in [' ', '"', '\\', '0', '.', ',', '}', 'x', '\u{1}'] {
                let mut changed = line.clone();
                changed.insert(at, c);
                taken += usize::from(agrees(&changed));
            }
        }
        // Some changes keep a valid record (a space, a digit in a value or a name).
        assert!(taken > 0);
    }

    #[test]
    fn records_written_plainly_are_read_fast_with_serdes_values() {
        for text in [
            r#"{"id":"p"}"#,
            " {\n\t\"id\" : \"p\" , \"sex\" : null , \"birth_date\" : null } \n",
            r#"{"id":"p","observations":[],"conditions":null,"anchors":{},"attestations":{}}"#,
            r#"{"id":"p","observations":[{"concept":"x","date":"2024-02-29","value":-0.5e-3,"reference_range":{"low":0,"high":1E2}}]}"#,
            r#"{"id":"p","observations":[{"code":"loinc:1-8","also":["a","b"],"date":"2024-01-01","value":null,"result":"positive","reference_range":null}]}"#,
            r#"{"id":"p","medications":[{"concept":"m","start":"2024-01-01","end":null,"dose":1.50,"dose_unit":"mg","frequency_per_day":2,"reason":[],"status_reason":null}]}"#,
            r#"{"id":"é ✓","sex":"unknown","attestations":{"a":true,"b":false,"c":null},"studies":null,"family_history":null}"#,
            r#"{"id":"p","conditions":[{"concept":"c","onset":"2020-01-01","grade":2,"body_site":["snomed:1"],"stage":"IA"}],"allergies":[{"code":"rxnorm:1"}]}"#,
            r#"{"id":"p","immunizations":[{"concept":"v","date":"2020-01-01"}],"procedures":[{"concept":"q","date":"2020-01-01","end":"2020-01-02"}],"encounters":[{"code":"actcode:IMP","start":"2020-01-01","discharge":"home"}]}"#,
        ] {
            assert!(agrees(text), "not read fast: {text}");
        }
    }

    #[test]
    fn every_date_is_read_as_serde_reads_it() {
        let mut taken = 0;
        for year in [
            "0000", "0001", "1900", "2000", "2023", "2024", "9999", "20x4",
        ] {
            for month in 0..=13 {
                for day in 0..=32 {
                    let date = format!("{year}-{month:02}-{day:02}");
                    for text in [
                        format!(r#"{{"id":"p","birth_date":"{date}"}}"#),
                        format!(r#"{{"id":"p","anchors":{{"s": "{date}" }}}}"#),
                        format!(r#"{{"id":"p","birth_date":"{date} "}}"#),
                        format!(r#"{{"id":"p","birth_date":"{date}"#),
                    ] {
                        let read_fast = agrees(&text);
                        // A date serde takes is taken here too.
                        assert_eq!(read_fast, serde(&text).is_some(), "{text}");
                        taken += usize::from(read_fast);
                    }
                }
            }
        }
        // Seven years of days (two leap years and the proleptic year 0), read two ways.
        assert_eq!(taken, 2 * (7 * 365 + 3));
    }

    #[test]
    fn every_number_is_read_with_serdes_value_and_scale() {
        let mut taken = 0;
        for number in [
            "0",
            "-0",
            "0.0",
            "-0.0",
            "7",
            "-7",
            "102.3",
            "-0.50",
            "1.500",
            "10",
            "100.000",
            "123456789012345678",
            "-123456789012345678",
            "1234567890123456789",
            "0.00000000000000001",
            "0.000000000000000001",
            "99999999999999999.9",
            "9999999999999999999999999999",
            "79228162514264337593543950335",
            "79228162514264337593543950336",
            "1.0000000000000000000000000001",
            "1e2",
            "1E+2",
            "-1.5e-3",
            "0e0",
            "2.50e1",
            "1e30",
            "1e-30",
            "1.",
            ".5",
            "01",
            "-",
            "1e",
            "1e+",
            "+1",
            "- 1",
            "1.5.2",
            "0x10",
            "1_0",
            "--1",
            "-01",
            "00",
        ] {
            for text in [
                format!(
                    r#"{{"id":"p","observations":[{{"concept":"x","date":"2020-01-01","value":{number},"unit":"u"}}]}}"#
                ),
                format!(
                    r#"{{"id":"p","medications":[{{"concept":"m","start":"2020-01-01","dose":{number} }}]}}"#
                ),
            ] {
                let read_fast = agrees(&text);
                assert_eq!(read_fast, serde(&text).is_some(), "{text}");
                if read_fast {
                    // Equal decimals may differ in scale (1.5, 1.50), which output shows.
                    assert_eq!(
                        format!("{:?}", read(&text)),
                        format!("{:?}", serde(&text)),
                        "{text}"
                    );
                    taken += 1;
                }
            }
        }
        assert!(taken >= 40, "{taken}");
    }

    #[test]
    fn anything_unusual_is_left_to_serde() {
        for text in [
            // An escape, a repeated key, an unknown key, a missing id or date.
            r#"{"id":"a\"b"}"#,
            r#"{"id":"p","id":"q"}"#,
            r#"{"id":"p","anchors":{"s":"2020-01-01","s":"2020-01-02"}}"#,
            r#"{"id":"p","attestations":{"a":true,"a":false}}"#,
            r#"{"id":"p","colour":"blue"}"#,
            r#"{"birth_date":"2020-01-01"}"#,
            r#"{"id":"p","observations":[{"concept":"x"}]}"#,
            r#"{"id":null}"#,
            // Numbers JSON or eligc refuses, dates that are not YYYY-MM-DD.
            r#"{"id":"p","observations":[{"concept":"x","date":"2020-01-01","value":01}]}"#,
            r#"{"id":"p","observations":[{"concept":"x","date":"2020-01-01","value":1.}]}"#,
            r#"{"id":"p","observations":[{"concept":"x","date":"2020-01-01","value":"1"}]}"#,
            r#"{"id":"p","observations":[{"concept":"x","date":"2020-01-01","value":1.00000000000000000000000000001}]}"#,
            r#"{"id":"p","birth_date":"2020-02-30"}"#,
            r#"{"id":"p","sex":"f"}"#,
            r#"{"id":"p","anchors":null}"#,
            // Details of an attestation, studies, family history: rare, read by serde.
            r#"{"id":"p","attestations":{"a":{"value":true}}}"#,
            r#"{"id":"p","studies":[]}"#,
            // A control character, trailing text, a record that is not an object.
            "{\"id\":\"a\u{1}b\"}",
            r#"{"id":"p"} x"#,
            r#"["p"]"#,
        ] {
            assert!(read(text).is_none(), "read fast: {text}");
        }
    }
}
