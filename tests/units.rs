//! Behaviour of `eligc::units`: parsing, dimensions, exact conversion and comparison.
#![allow(clippy::panic)] // test helpers fail the test by panicking

use eligc::units::*;
use proptest::prelude::*;
use rust_decimal::Decimal;
use std::cmp::Ordering;
use std::str::FromStr;

fn u(text: &str) -> Unit {
    match parse_unit(text) {
        Ok(unit) => unit,
        Err(e) => panic!("`{text}` should parse: {e:?}"),
    }
}

fn dec(text: &str) -> Decimal {
    match Decimal::from_str(text) {
        Ok(d) => d,
        Err(e) => panic!("bad decimal `{text}`: {e}"),
    }
}

fn err(text: &str) -> UnitError {
    match parse_unit(text) {
        Ok(unit) => panic!("`{text}` should be rejected, got {unit:?}"),
        Err(e) => e,
    }
}

fn converts(from: &str, value: &str, to: &str, expected: &str) {
    assert_eq!(
        u(from).convert(dec(value), &u(to)),
        Some(dec(expected)),
        "{value} {from} in {to}"
    );
    assert_eq!(
        u(from).compare(dec(value), &u(to), dec(expected)),
        Some(Ordering::Equal),
        "{value} {from} vs {expected} {to}"
    );
}

#[test]
fn bsa_normalised_spellings_are_the_same_unit() {
    assert_eq!(u("mL/min/1.73m2"), u("mL/min/{1.73_m2}"));
    assert_eq!(u("mL/min/1.73m2"), u("mL/min/1.73m^2"));
    assert_eq!(u("mL/min/1.73m2"), u("mL/min/1.73m²"));
    assert_ne!(u("mL/min/1.73m2"), u("mL/min/m2"));
}

#[test]
fn sixty_ml_per_min_equals_one_ml_per_second_exactly() {
    let per_min = u("mL/min/1.73m2");
    let per_s = u("mL/s/1.73m2");
    assert_eq!(
        per_min.compare(dec("60"), &per_s, dec("1")),
        Some(Ordering::Equal)
    );
    assert_eq!(
        per_min.compare(dec("30"), &per_s, dec("0.5")),
        Some(Ordering::Equal)
    );
    assert_eq!(
        u("mL/min/{1.73_m2}").compare(dec("30"), &per_s, dec("0.5000001")),
        Some(Ordering::Less)
    );
    assert_eq!(
        per_min.compare(dec("30.0000001"), &per_s, dec("0.5")),
        Some(Ordering::Greater)
    );
    converts("mL/min/1.73m2", "60", "mL/s/1.73m2", "1");
}

#[test]
fn compare_is_exact_where_decimal_division_would_round() {
    // 1 mL/min = 1/60 mL/s: not a finite decimal, so convert refuses rather than round...
    let per_min = u("mL/min");
    let per_s = u("mL/s");
    assert_eq!(per_min.convert(dec("1"), &per_s), None);
    // ...convert_rounded gives a display value...
    assert!(per_min.convert_rounded(dec("1"), &per_s).is_some());
    // ...and compare still decides exactly on either side of 1/60.
    assert_eq!(
        per_min.compare(dec("1"), &per_s, dec("0.0166666666666666666666666667")),
        Some(Ordering::Less)
    );
    assert_eq!(
        per_min.compare(dec("1"), &per_s, dec("0.0166666666666666666666666666")),
        Some(Ordering::Greater)
    );
}

#[test]
fn mass_concentrations_convert() {
    converts("mg/dL", "10", "g/L", "0.1");
    converts("g/L", "0.1", "mg/dL", "10");
    converts("g/dL", "1.5", "mg/mL", "15");
    converts("ug/L", "250", "ng/mL", "250");
}

#[test]
fn cell_counts_convert_one_to_one() {
    converts("10*9/L", "1.5", "10*3/uL", "1.5");
    converts("10^9/L", "1.5", "10*3/uL", "1.5");
    converts("x10^9/L", "100", "/nL", "100");
    converts("10⁹/L", "4", "10*3/mm3", "4");
    converts("{cells}/uL", "1500", "10*9/L", "1.5");
    converts("10*12/L", "4.5", "10*6/uL", "4.5");
}

#[test]
fn percent_is_a_hundredth_of_one() {
    converts("%", "55", "1", "0.55");
    converts("1", "0.55", "%", "55");
    assert_eq!(
        u("%").convert(dec("55"), &dimensionless()),
        Some(dec("0.55"))
    );
    assert!(u("%").dimension().is_dimensionless());
    assert_eq!(u("%").dimension().describe(), "dimensionless");
}

#[test]
fn pressures_convert() {
    converts("mmHg", "7.5", "kPa", "0.999915");
    converts("mm[Hg]", "100", "kPa", "13.3322");
    converts("cm[H2O]", "10", "Pa", "980.665");
    converts("cmH2O", "10", "cm[H2O]", "10");
    assert_eq!(u("mmHg"), u("mm[Hg]"));
    assert_eq!(u("kPa").dimension().describe(), "pressure");
}

#[test]
fn mcg_is_microgram_in_every_spelling() {
    assert_eq!(u("mcg"), u("ug"));
    assert_eq!(u("mcg/mL"), u("µg/mL"));
    assert_eq!(u("ug"), u("μg"));
    converts("mcg", "1000", "mg", "1");
    assert_eq!(u("/mcL"), u("/uL"));
}

#[test]
fn power_of_ten_spellings_agree() {
    for text in ["10^9/L", "x10^9/L", "×10^9/L", "10*9/L", "10⁹/L", "/nL"] {
        assert_eq!(u(text), u("10*9/L"), "{text}");
    }
    assert_eq!(u("10*-3"), u("0.001"));
    let e = err("1e9/L");
    assert!(e.message.contains("scientific notation"), "{}", e.message);
    assert_eq!(e.suggestion.as_deref(), Some("10*9/L"));
    let _ = err("10^^9/L");
}

#[test]
fn counted_things_are_suggested_as_annotations() {
    assert_eq!(err("cells/uL").suggestion.as_deref(), Some("{cells}/uL"));
    assert_eq!(u("{cells}/uL"), u("/uL"));
}

#[test]
fn units_serialise_as_their_text() {
    let json = serde_json::to_string(&u("mL/min/{1.73_m2}")).ok();
    assert_eq!(json.as_deref(), Some("\"mL/min/{1.73_m2}\""));
    let back: Option<Unit> = serde_json::from_str("\"mL/min/1.73m2\"").ok();
    assert_eq!(back, Some(u("mL/min/{1.73_m2}")));
    assert!(serde_json::from_str::<Unit>("\"mgg/dL\"").is_err());
}

#[test]
fn conversions_between_known_units_mostly_succeed() {
    let mut some = 0;
    for a in KNOWN {
        for b in KNOWN {
            if u(a).convert(dec("12.5"), &u(b)).is_some() {
                some += 1;
            }
        }
    }
    assert!(some > 100, "only {some} exact conversions");
}

#[test]
fn dose_per_weight_per_day_spellings_agree() {
    assert!(u("mg/kg/d").is_commensurable(&u("mg/kg/day")));
    assert_eq!(u("mg/kg/d"), u("mg/kg/day"));
    assert_eq!(u("mg/kg/d"), u("mg.kg-1.d-1"));
    assert!(!u("mg/kg/d").is_commensurable(&u("mg/d")));
    assert_eq!(u("mg/kg/d").compare(dec("1"), &u("mg/d"), dec("1")), None);
}

#[test]
fn mass_and_volume_are_incommensurable() {
    let (mg, ml) = (u("mg"), u("mL"));
    assert!(!mg.is_commensurable(&ml));
    assert_eq!(mg.convert(dec("1"), &ml), None);
    assert_eq!(mg.compare(dec("1"), &ml, dec("1")), None);
}

#[test]
fn points_and_percent_are_incommensurable() {
    assert!(!u("points").is_commensurable(&u("%")));
    assert_eq!(u("points").compare(dec("5"), &u("%"), dec("5")), None);
    assert_eq!(u("point"), u("points"));
    assert_eq!(u("points").dimension().describe(), "score points");
}

#[test]
fn international_units_are_not_mass() {
    assert!(!u("[IU]/mL").is_commensurable(&u("mg/mL")));
    assert_eq!(u("[IU]/mL").convert(dec("1"), &u("mg/mL")), None);
    assert_eq!(u("IU/L"), u("[IU]/L"));
    converts("mIU/mL", "5", "[IU]/L", "5");
    assert_eq!(
        u("[IU]/mL").dimension().describe(),
        "international units per volume"
    );
}

#[test]
fn enzyme_unit_is_micromole_per_minute() {
    assert_eq!(u("U"), u("umol/min"));
    converts("U/L", "60", "ukat/L", "1");
    assert!(!u("U/L").is_commensurable(&u("[IU]/L")));
}

#[test]
fn times_and_rates() {
    converts("wk", "1", "d", "7");
    converts("a", "1", "d", "365.25");
    converts("mo", "12", "yr", "1");
    converts("h", "1.5", "min", "90");
    assert_eq!(u("/min"), u("{beats}/min"));
    assert_eq!(u("bpm"), u("/min"));
    assert_eq!(u("/min").dimension().describe(), "rate (per time)");
}

#[test]
fn dimensions_are_described_in_words() {
    assert_eq!(
        u("mg/dL").dimension().describe(),
        "mass concentration (mass/volume)"
    );
    assert_eq!(
        u("mL/min/1.73m2").dimension().describe(),
        "volume per time per area (or length per time)"
    );
    assert_eq!(u("d").dimension().describe(), "time");
    assert_eq!(
        u("mmol/L").dimension().describe(),
        "substance concentration (amount/volume)"
    );
    assert_eq!(
        u("10*9/L").dimension().describe(),
        "number concentration (count/volume)"
    );
    assert_eq!(u("g.m-4").dimension().describe(), "mass·length^-4");
}

#[test]
fn other_clinical_atoms() {
    converts("lb", "1", "kg", "0.45359237");
    converts("[lb_av]", "10", "g", "4535.9237");
    converts("[in_i]", "1", "cm", "2.54");
    converts("mEq/L", "140", "mmol/L", "140");
    converts("mM", "5", "mmol/L", "5");
    converts("mOsm/kg", "290", "mmol/kg", "290");
    assert!(!u("[pH]").is_commensurable(&dimensionless()));
    assert!(!u("copies/mL").is_commensurable(&u("/mL")));
    assert_eq!(u("{copies}/mL"), u("copies/mL"));
    assert_eq!(u("kg/m2").dimension().describe(), "mass per area");
}

#[test]
fn text_is_kept_and_equality_ignores_it() {
    let unit = u("mL/min/{1.73_m2}");
    assert_eq!(unit.text(), "mL/min/{1.73_m2}");
    assert_eq!(unit.to_string(), "mL/min/{1.73_m2}");
    assert_eq!(dimensionless().text(), "1");
    assert_eq!(u("mg/dL"), u("mg/dl"));
}

#[test]
fn unknown_atom_suggests_the_whole_unit() {
    let e = err("mgg/dL");
    assert!(
        e.message.contains("unknown unit atom `mgg`"),
        "{}",
        e.message
    );
    assert_eq!(e.suggestion.as_deref(), Some("mg/dL"));
    assert_eq!(e.help().as_deref(), Some("did you mean `mg/dL`?"));
    assert_eq!(err("MG/DL").suggestion.as_deref(), Some("mg/dL"));
    assert_eq!(
        err("mL/mn/1.73m2").suggestion.as_deref(),
        Some("mL/min/1.73m2")
    );
}

#[test]
fn unknown_atom_in_an_unusual_unit_suggests_a_fixed_atom() {
    assert_eq!(err("ng/mgg").suggestion.as_deref(), Some("ng/mg"));
}

#[test]
fn celsius_and_fahrenheit_convert_affinely_and_exactly() {
    // 37.8 Cel = 100.04 [degF] exactly: (37.8 + 273.15) = (100.04 + 459.67) * 5/9.
    assert_eq!(
        u("Cel").compare(dec("37.8"), &u("[degF]"), dec("100.04")),
        Some(std::cmp::Ordering::Equal)
    );
    assert_eq!(
        u("[degF]").compare(dec("100.03"), &u("Cel"), dec("37.8")),
        Some(std::cmp::Ordering::Less)
    );
    converts("Cel", "37.8", "[degF]", "100.04");
    converts("[degF]", "32", "Cel", "0");
    converts("[degF]", "-40", "Cel", "-40");
    converts("Cel", "0", "K", "273.15");
    converts("K", "0", "[degF]", "-459.67");
    // The common spellings are the same units.
    assert_eq!(u("degC"), u("Cel"));
    assert_eq!(u("°F"), u("[degF]"));
    assert_ne!(u("Cel"), u("K"));
    assert_eq!(u("Cel").dimension().describe(), "temperature");
}

#[test]
fn a_fahrenheit_value_not_exact_in_celsius_still_compares_exactly() {
    // 100 [degF] = 37.777... Cel: no decimal holds it, the comparison is still exact.
    assert_eq!(u("[degF]").convert(dec("100"), &u("Cel")), None);
    assert_eq!(
        u("[degF]").compare(dec("100"), &u("Cel"), dec("37.7777777")),
        Some(std::cmp::Ordering::Greater)
    );
    assert_eq!(
        u("[degF]").compare(dec("100"), &u("Cel"), dec("37.7777778")),
        Some(std::cmp::Ordering::Less)
    );
}

#[test]
fn shifted_temperatures_stand_alone_without_a_suggestion() {
    // A rate or a prefixed Celsius would be a temperature difference: not converted.
    for text in ["Cel/h", "Cel2", "[degF].s", "mg/Cel"] {
        let e = err(text);
        assert!(e.message.contains("stands alone"), "{text}: {}", e.message);
        assert_eq!(e.suggestion, None, "{text}");
    }
    assert_eq!(u("K").dimension().describe(), "temperature");
}

#[test]
fn annotations_are_dimensionless_factors_of_one() {
    for text in ["{score}", "{points}", "1", "{ScoreTotal}"] {
        assert!(u(text).is_unity(), "{text}");
        assert_eq!(u(text), u("1"), "{text}");
    }
    assert_eq!(u("{cells}/uL"), u("/uL"));
    assert!(!u("%").is_unity());
    assert!(!u("points").is_unity());
}

#[test]
fn empty_whitespace_and_bad_syntax_are_rejected() {
    assert!(!err("").message.is_empty());
    let e = err("mL/min/1.73 m2");
    assert!(e.message.contains("whitespace"), "{}", e.message);
    assert_eq!(e.suggestion.as_deref(), Some("mL/min/1.73m2"));
    for text in [
        "mg/",
        "mg//dL",
        "/",
        "mg)",
        "m^",
        "{cells/uL",
        "[IU/L",
        "0/L",
        "mg%",
        "10*99",
    ] {
        let _ = err(text);
    }
    assert_eq!(err("mg%").suggestion.as_deref(), Some("mg/dL"));
    assert!(err("%%").message.contains("unknown unit atom"));
    converts("ppm", "5", "[ppm]", "5");
}

const KNOWN: &[&str] = &[
    "mg/dL",
    "g/L",
    "g/dL",
    "mg/L",
    "ug/mL",
    "ng/mL",
    "mmol/L",
    "umol/L",
    "mM",
    "mL/min/1.73m2",
    "mL/min/{1.73_m2}",
    "mL/s/1.73m2",
    "L/h/1.73m2",
    "10*9/L",
    "10*3/uL",
    "/uL",
    "/nL",
    "%",
    "1",
    "[ppm]",
    "mmHg",
    "kPa",
    "cm[H2O]",
    "mg/kg/d",
    "ug/kg/min",
    "/min",
    "/h",
    "U/L",
    "ukat/L",
    "min",
    "h",
    "d",
    "wk",
    "mo",
    "a",
    "lb",
    "kg",
    "[IU]/L",
    "mIU/mL",
    "points",
];

fn known_unit() -> impl Strategy<Value = &'static str> {
    proptest::sample::select(KNOWN)
}

fn decimal() -> impl Strategy<Value = Decimal> {
    (any::<i64>(), 0u32..=12).prop_map(|(m, s)| Decimal::new(m, s))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn parse_unit_never_panics_on_arbitrary_strings(text in any::<String>()) {
        let _ = parse_unit(&text);
    }

    #[test]
    fn parse_unit_never_panics_on_unit_like_strings(
        text in "[a-zA-Z0-9./*^{}\\[\\]%_'+\\-µμ²³⁻×x ]{0,24}"
    ) {
        if let Ok(unit) = parse_unit(&text) {
            prop_assert_eq!(unit.text(), text.as_str());
            let _ = unit.dimension().describe();
        }
    }

    #[test]
    fn converted_values_compare_equal(a in known_unit(), b in known_unit(), v in decimal()) {
        let (ua, ub) = (u(a), u(b));
        prop_assert_eq!(ua.is_commensurable(&ub), ua.dimension() == ub.dimension());
        match ua.convert(v, &ub) {
            Some(w) => {
                prop_assert!(ua.is_commensurable(&ub));
                prop_assert_eq!(ua.compare(v, &ub, w), Some(Ordering::Equal));
                prop_assert_eq!(ub.compare(w, &ua, v), Some(Ordering::Equal));
                prop_assert_eq!(ub.convert(w, &ua), Some(v.normalize()));
            }
            None if !ua.is_commensurable(&ub) => {
                prop_assert_eq!(ua.compare(v, &ub, v), None);
            }
            None => {}
        }
    }

    #[test]
    fn compare_in_one_unit_matches_decimal_order(a in known_unit(), x in decimal(), y in decimal()) {
        let ua = u(a);
        prop_assert_eq!(ua.compare(x, &ua, y), Some(x.cmp(&y)));
    }
}
