//! Strict readers for patient data: what serde, chrono and rust_decimal would otherwise
//! accept leniently, refused here so that bad data is a rejected record, never a wrong fact.
//!
//! - Dates are exactly `YYYY-MM-DD` (chrono also takes `-2025-03-03`, `+12345-01-01`,
//!   `2025-3-3` and surrounding spaces).
//! - Numbers are JSON numbers held exactly ([`crate::number::parse`]): not text (`"7_1"`),
//!   never rounded beyond 28 significant digits.
//! - A key given twice in one JSON object is refused (`repeated key`): serde_json keeps the
//!   last, so `{"screening": ..., "screening": ...}` silently chose one. Struct fields were
//!   already refused twice by serde's derive; maps (anchors, attestations, side files) and
//!   FHIR resources (read as [`Value`]) go through here.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// The message for a text that is not a date.
pub(crate) const DATE_SYNTAX: &str = "expected a date written YYYY-MM-DD (e.g. 2026-03-31)";

/// The message for text where a number is expected.
pub(crate) const NOT_A_NUMBER: &str = "expected a decimal number of at most 28 digits (for a result such as `<20` write `\"value\": 20, \"comparator\": \"<\"`)";

/// The key serde_json uses to hand over a number's text with `arbitrary_precision`.
const NUMBER_TOKEN: &str = "$serde_json::private::Number";

/// `YYYY-MM-DD`, exactly: four digits, two, two, and a day that exists.
pub fn parse_date(text: &str) -> Result<NaiveDate, String> {
    let (year, month, day) = date_parts(text.as_bytes()).ok_or_else(|| DATE_SYNTAX.to_string())?;
    NaiveDate::from_ymd_opt(year, month, day).ok_or_else(|| format!("no such date: {DATE_SYNTAX}"))
}

/// The year, month and day of `YYYY-MM-DD`, its digits read in place (three `str::parse`
/// calls were half the time of a date); `None` for any other text. The native reader's fast
/// path (`super::fast`) reads its dates with it too.
#[inline]
pub(super) fn date_parts(text: &[u8]) -> Option<(i32, u32, u32)> {
    let &[y0, y1, y2, y3, b'-', m0, m1, b'-', d0, d1] = text else {
        return None;
    };
    let digit = |b: u8| {
        let d = b.wrapping_sub(b'0');
        (d < 10).then_some(u32::from(d))
    };
    let year = digit(y0)? * 1000 + digit(y1)? * 100 + digit(y2)? * 10 + digit(y3)?;
    let month = digit(m0)? * 10 + digit(m1)?;
    let day = digit(d0)? * 10 + digit(d1)?;
    Some((i32::try_from(year).ok()?, month, day))
}

struct DateVisitor;

impl Visitor<'_> for DateVisitor {
    type Value = NaiveDate;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a date written YYYY-MM-DD")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<NaiveDate, E> {
        parse_date(v).map_err(E::custom)
    }
}

/// A date field (`#[serde(deserialize_with = "strict::date")]`).
pub fn date<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveDate, D::Error> {
    d.deserialize_str(DateVisitor)
}

/// An optional date field; `null` is absent.
pub fn opt_date<'de, D: Deserializer<'de>>(d: D) -> Result<Option<NaiveDate>, D::Error> {
    d.deserialize_option(OptionOf(DateVisitor))
}

/// The text of a number, as written.
struct NumberVisitor;

impl<'de> Visitor<'de> for NumberVisitor {
    type Value = Decimal;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a number")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Decimal, E> {
        Ok(Decimal::from(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Decimal, E> {
        Ok(Decimal::from(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Decimal, E> {
        crate::number::parse(&v.to_string()).map_err(|e| E::custom(format!("{v}: {e}")))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Decimal, E> {
        Err(E::custom(if crate::number::parse(v).is_ok() {
            format!("{v:?} is text: write numbers without quotes (`71`, not `\"71\"`)")
        } else {
            // The message the guide lists for `"<20"` and other text.
            NOT_A_NUMBER.to_string()
        }))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Decimal, A::Error> {
        // serde_json with `arbitrary_precision` gives a number as a one-key map of its text
        // (taken as it is: through `Number` it was copied and formatted again).
        let mut map = map;
        // An object that is not a number: serde_json's own messages.
        match map.next_key::<Key<'de>>()? {
            Some(Key(key)) if key == NUMBER_TOKEN => {}
            Some(_) => return Err(de::Error::custom("expected field with custom name")),
            None => {
                return Err(de::Error::invalid_type(
                    de::Unexpected::Map,
                    &"a JSON number",
                ));
            }
        }
        let text: String = map.next_value()?;
        crate::number::parse(&text).map_err(|e| de::Error::custom(format!("{text}: {e}")))
    }
}

/// A number field, read exactly (`#[serde(deserialize_with = "strict::decimal")]`).
pub fn decimal<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
    d.deserialize_any(NumberVisitor)
}

/// An optional number field; `null` is absent.
///
/// Read from the number's text in the JSON (serde_json's `RawValue`, borrowed from the
/// record's text): with `arbitrary_precision`, serde_json would first copy the text of every
/// number into a new `String` (18 a patient). Anything but a number is refused with the
/// same messages as [`decimal`]'s.
pub fn opt_decimal<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
    if EXACT_ERRORS.get() {
        return d.deserialize_option(OptionOf(NumberVisitor));
    }
    d.deserialize_option(OptRawNumber)
}

thread_local! {
    /// Set while a record that failed is read again to name the field at fault
    /// ([`with_exact_errors`]).
    static EXACT_ERRORS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `read` with numbers read as serde_json gives them (`deserialize_any`), not from
/// their raw text: the errors, and the lines they are reported on, are then those of that
/// reading, whatever stood in the number's place (an object over three lines is reported on
/// its first, not its last). For the second reading of a record that failed.
pub(crate) fn with_exact_errors<T>(read: impl FnOnce() -> T) -> T {
    EXACT_ERRORS.set(true);
    let out = read();
    EXACT_ERRORS.set(false);
    out
}

/// A number read from its raw JSON text (see [`opt_decimal`]).
struct RawNumberVisitor;

impl<'de> Visitor<'de> for RawNumberVisitor {
    type Value = Decimal;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a number")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Decimal, A::Error> {
        // The protocol of serde_json's `RawValue`: one key, then the text.
        let mut map = map;
        if map.next_key::<RawKey>()?.is_none() {
            return Err(de::Error::invalid_type(de::Unexpected::Map, &self));
        }
        let raw: Key<'de> = map.next_value()?;
        raw_number(&raw.0)
    }
}

/// `null`, or a number read from its raw text.
struct OptRawNumber;

impl<'de> Visitor<'de> for OptRawNumber {
    type Value = Option<Decimal>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a number or null")
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_newtype_struct(RAW_VALUE_TOKEN, RawNumberVisitor)
            .map(Some)
    }
}

/// The name serde_json recognises to hand over a value's raw text.
const RAW_VALUE_TOKEN: &str = "$serde_json::private::RawValue";

/// The key of serde_json's raw value map, ignored.
struct RawKey;

impl<'de> Deserialize<'de> for RawKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<RawKey, D::Error> {
        d.deserialize_any(de::IgnoredAny).map(|_| RawKey)
    }
}

/// A number's text as serde_json hands it over with `arbitrary_precision` (and as messages
/// have always quoted it): the exponent written `e`, with its sign (`1E5` is `1e+5`).
fn as_serde_json_writes(raw: &str) -> std::borrow::Cow<'_, str> {
    let Some(at) = raw.find(['e', 'E']) else {
        return std::borrow::Cow::Borrowed(raw);
    };
    let (mantissa, exponent) = raw.split_at(at);
    let exponent = exponent.get(1..).unwrap_or_default();
    let sign = if exponent.starts_with(['+', '-']) {
        ""
    } else {
        "+"
    };
    std::borrow::Cow::Owned(format!("{mantissa}e{sign}{exponent}"))
}

/// A number field's raw JSON text as a decimal; anything else refused as [`NumberVisitor`]
/// refuses it.
fn raw_number<E: de::Error>(raw: &str) -> Result<Decimal, E> {
    match raw.as_bytes().first() {
        Some(b'-' | b'0'..=b'9') => crate::number::parse(raw)
            .map_err(|e| E::custom(format!("{}: {e}", as_serde_json_writes(raw)))),
        Some(b'"') => {
            let text: String = serde_json::from_str(raw).map_err(E::custom)?;
            NumberVisitor.visit_str(&text)
        }
        Some(b't') => Err(E::invalid_type(de::Unexpected::Bool(true), &NumberVisitor)),
        Some(b'f') => Err(E::invalid_type(de::Unexpected::Bool(false), &NumberVisitor)),
        Some(b'[') => Err(E::invalid_type(de::Unexpected::Seq, &NumberVisitor)),
        Some(b'{')
            if raw
                .get(1..)
                .is_some_and(|r| r.trim_start().starts_with('}')) =>
        {
            Err(E::invalid_type(de::Unexpected::Map, &"a JSON number"))
        }
        Some(b'{') => Err(E::custom("expected field with custom name")),
        _ => Err(E::invalid_type(de::Unexpected::Unit, &NumberVisitor)),
    }
}

/// `null` or the inner visitor's value.
struct OptionOf<V>(V);

impl<'de, V: Visitor<'de>> Visitor<'de> for OptionOf<V> {
    type Value = Option<V::Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.expecting(f)?;
        f.write_str(" or null")
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self.0).map(Some)
    }
}

/// An optional list (`null` is absent), its vector sized for a typical record from the
/// start: grown from empty, a patient's 30 observations were copied four times over.
pub fn opt_list<'de, D, T>(d: D) -> Result<Option<Vec<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct List<T>(std::marker::PhantomData<T>);

    impl<'de, T: Deserialize<'de>> Visitor<'de> for List<T> {
        type Value = Vec<T>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a sequence")
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
            // About 8 KB: 32 observations, 24 medications.
            let size = std::mem::size_of::<T>().max(1);
            let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(8192 / size).min(4096));
            while let Some(item) = seq.next_element()? {
                out.push(item);
            }
            Ok(out)
        }
    }

    struct OptList<T>(std::marker::PhantomData<T>);

    impl<'de, T: Deserialize<'de>> Visitor<'de> for OptList<T> {
        type Value = Option<Vec<T>>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("option")
        }

        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_seq(List(std::marker::PhantomData)).map(Some)
        }
    }

    d.deserialize_option(OptList(std::marker::PhantomData))
}

/// A map from names, each name at most once: `anchors`, `attestations`. The names are
/// `String`s or the records' inline [`super::native::Text`].
pub fn unique_map<'de, D, K, T>(d: D) -> Result<BTreeMap<K, T>, D::Error>
where
    D: Deserializer<'de>,
    K: Deserialize<'de> + Ord + std::ops::Deref<Target = str>,
    T: Deserialize<'de>,
{
    struct UniqueMap<K, T>(std::marker::PhantomData<(K, T)>);

    impl<'de, K, T> Visitor<'de> for UniqueMap<K, T>
    where
        K: Deserialize<'de> + Ord + std::ops::Deref<Target = str>,
        T: Deserialize<'de>,
    {
        type Value = BTreeMap<K, T>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a map")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = BTreeMap::new();
            while let Some(key) = map.next_key::<K>()? {
                // One search for both the check and the insertion.
                match out.entry(key) {
                    std::collections::btree_map::Entry::Occupied(e) => {
                        return Err(de::Error::custom(repeated(e.key())));
                    }
                    std::collections::btree_map::Entry::Vacant(e) => {
                        e.insert(map.next_value()?);
                    }
                }
            }
            Ok(out)
        }
    }

    d.deserialize_map(UniqueMap(std::marker::PhantomData))
}

/// A date, read strictly, for use inside other types.
struct StrictDate(NaiveDate);

impl<'de> Deserialize<'de> for StrictDate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<StrictDate, D::Error> {
        date(d).map(StrictDate)
    }
}

/// Dates by name, each name at most once: `anchors`.
pub fn unique_date_map<'de, D, K>(d: D) -> Result<BTreeMap<K, NaiveDate>, D::Error>
where
    D: Deserializer<'de>,
    K: Deserialize<'de> + Ord + std::ops::Deref<Target = str>,
{
    let map: BTreeMap<K, StrictDate> = unique_map(d)?;
    Ok(map.into_iter().map(|(k, v)| (k, v.0)).collect())
}

/// The message for a key given twice.
fn repeated(key: &str) -> String {
    format!("repeated key `{key}`: a key may appear once in an object")
}

/// A JSON value whose objects have no repeated key (FHIR resources, attestation objects).
pub struct UniqueValue(pub Value);

impl<'de> Deserialize<'de> for UniqueValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<UniqueValue, D::Error> {
        d.deserialize_any(ValueVisitor).map(UniqueValue)
    }
}

impl<'de> DeserializeSeed<'de> for ValueVisitor {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

/// Builds a [`Value`] as serde_json's own visitor does, refusing repeated keys.
#[derive(Clone, Copy)]
struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(v) = seq.next_element_seed(ValueVisitor)? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let Some(first) = map.next_key::<String>()? else {
            return Ok(Value::Object(Map::new()));
        };
        if first == NUMBER_TOKEN {
            let text: String = map.next_value()?;
            return Number::from_str(&text)
                .map(Value::Number)
                .map_err(de::Error::custom);
        }
        let mut out = Map::new();
        let value = map.next_value_seed(ValueVisitor)?;
        out.insert(first, value);
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(de::Error::custom(repeated(&key)));
            }
            let value = map.next_value_seed(ValueVisitor)?;
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}

/// Parses JSON text into a [`Value`] with no repeated key. On error: serde_json's error
/// and the JSON path of the object or field at fault (empty for the whole text).
pub fn value(text: &str) -> Result<Value, (serde_json::Error, String)> {
    match serde_json::from_str::<UniqueValue>(text) {
        Ok(v) => Ok(v.0),
        Err(plain) => {
            // Again, tracking the path: only for the record that failed.
            let mut de = serde_json::Deserializer::from_str(text);
            match serde_path_to_error::deserialize::<_, UniqueValue>(&mut de) {
                Err(e) => {
                    let path = e.path().to_string();
                    let path = if path == "." { String::new() } else { path };
                    Err((e.into_inner(), path))
                }
                Ok(_) => Err((plain, String::new())),
            }
        }
    }
}

/// A JSON value checked for repeated keys at any depth, and not kept: for the parts of a
/// FHIR Bundle eligc does not read (an Encounter, a Claim), so that they cost no memory.
pub struct Checked;

impl<'de> Deserialize<'de> for Checked {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Checked, D::Error> {
        d.deserialize_any(CheckVisitor)
    }
}

/// An object key, borrowed from the text when it has no escapes.
struct Key<'de>(std::borrow::Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Key<'de>, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(std::borrow::Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(std::borrow::Cow::Owned(v.to_string())))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

struct CheckVisitor;

impl<'de> Visitor<'de> for CheckVisitor {
    type Value = Checked;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_none<E: de::Error>(self) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Checked, D::Error> {
        Checked::deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Checked, A::Error> {
        while seq.next_element::<Checked>()?.is_some() {}
        Ok(Checked)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Checked, A::Error> {
        // Few keys: compared in a list; many: in a set (a hostile object has 100,000).
        let mut keys: Vec<std::borrow::Cow<'de, str>> = Vec::new();
        let mut many: std::collections::HashSet<std::borrow::Cow<'de, str>> =
            std::collections::HashSet::new();
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            if key == NUMBER_TOKEN && keys.is_empty() {
                map.next_value::<de::IgnoredAny>()?;
                continue;
            }
            let seen = if many.is_empty() {
                keys.contains(&key)
            } else {
                many.contains(&key)
            };
            if seen {
                return Err(de::Error::custom(repeated(&key)));
            }
            if keys.len() < 32 {
                keys.push(key);
            } else {
                if many.is_empty() {
                    many.extend(keys.iter().cloned());
                }
                many.insert(key);
            }
            map.next_value::<Checked>()?;
        }
        Ok(Checked)
    }
}

/// Checks that JSON text has no repeated key, as [`value`] does, without keeping it.
pub fn check(text: &str) -> Result<(), (serde_json::Error, String)> {
    match serde_json::from_str::<Checked>(text) {
        Ok(Checked) => Ok(()),
        Err(plain) => {
            let mut de = serde_json::Deserializer::from_str(text);
            match serde_path_to_error::deserialize::<_, Checked>(&mut de) {
                Err(e) => {
                    let path = e.path().to_string();
                    let path = if path == "." { String::new() } else { path };
                    Err((e.into_inner(), path))
                }
                Ok(_) => Err((plain, String::new())),
            }
        }
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;

    #[test]
    fn dates_are_exactly_year_month_day() {
        assert_eq!(
            parse_date("2025-03-03").unwrap(),
            NaiveDate::from_ymd_opt(2025, 3, 3).unwrap()
        );
        for bad in [
            "-2025-03-03",
            "+12345-01-01",
            "2025-03-03 ",
            " 2025-03-03",
            "2025-3-3",
            "2025-03-03T00:00",
            "20250303",
            "２０２５-03-03",
        ] {
            assert!(parse_date(bad).is_err(), "{bad}");
        }
        assert!(
            parse_date("2025-02-30")
                .unwrap_err()
                .starts_with("no such date")
        );
    }

    #[test]
    fn repeated_keys_are_refused_at_any_depth() {
        let (e, path) = value(r#"{"a": {"b": 1, "c": [{"d": 1, "d": 2}]}}"#).unwrap_err();
        assert!(e.to_string().contains("repeated key `d`"), "{e}");
        assert_eq!(path, "a.c[0]");
        assert!(value(r#"{"a": 1, "b": {"a": 2}}"#).is_ok());
    }

    #[test]
    fn checking_refuses_repeated_keys_as_reading_does() {
        let (e, path) = check(r#"{"a": {"b": 1, "c": [{"d": 1, "d": 2}]}}"#).unwrap_err();
        assert!(e.to_string().contains("repeated key `d`"), "{e}");
        assert_eq!(path, "a.c[0]");
        assert!(check(r#"{"a": 1, "b": {"a": 2}, "n": 1.5, "s": "x\"y"}"#).is_ok());
        let many: Vec<String> = (0..100).map(|i| format!("\"k{i}\": {i}")).collect();
        assert!(check(&format!("{{{}}}", many.join(","))).is_ok());
        let (e, _) = check(&format!("{{{}, \"k7\": 0}}", many.join(","))).unwrap_err();
        assert!(e.to_string().contains("repeated key `k7`"), "{e}");
    }

    #[test]
    fn numbers_are_read_exactly_from_their_raw_text() {
        #[derive(Deserialize)]
        struct R {
            #[serde(default, deserialize_with = "opt_decimal")]
            v: Option<Decimal>,
        }
        let read = |text: &str| serde_json::from_str::<R>(text).map(|r| r.v);
        assert_eq!(
            read(r#"{"v": 0.10000000000000000000001}"#)
                .unwrap()
                .unwrap()
                .to_string(),
            "0.10000000000000000000001"
        );
        assert_eq!(read(r#"{"v": 1.5E2}"#).unwrap().unwrap().to_string(), "150");
        assert_eq!(read(r#"{"v": null}"#).unwrap(), None);
        assert_eq!(read("{}").unwrap(), None);
        // The messages quote the number as they always did.
        let e = read(r#"{"v": 1E400}"#).unwrap_err().to_string();
        assert!(e.starts_with("1e+400: more than 28"), "{e}");
        let e = read(r#"{"v": "7\u0031"}"#).unwrap_err().to_string();
        assert!(e.starts_with("\"71\" is text"), "{e}");
        let e = read(r#"{"v": true}"#).unwrap_err().to_string();
        assert!(
            e.starts_with("invalid type: boolean `true`, expected a number"),
            "{e}"
        );
    }

    #[test]
    fn values_keep_numbers_exactly() {
        let v = value(r#"{"n": 0.10000000000000000000001}"#).unwrap();
        assert_eq!(v.get("n").unwrap().to_string(), "0.10000000000000000000001");
    }
}
