//! The measuring stick of the screening benchmark (docs/performance.md): a hand-written,
//! single-threaded Rust program that does what `eligc run protocols/sle-car-t/protocol.elig
//! DATA --format csv` does for the benchmark's data, without a language in between. The
//! protocol's 21 criteria (I4's four items included) are written out by hand below.
//!
//! It reads native JSON Lines with typed serde structs whose strings are borrowed from the
//! line (`&str`: a string with an escape is a rejected line, which the benchmark data never
//! has), dates parsed at fixed positions into day numbers, numbers as `f64`. Each record is
//! parsed and evaluated in full (three-valued logic, as eligc: a missing fact is unknown),
//! and one CSV line is written per patient, the same as `eligc run --format csv`:
//! `id,verdict,excluded_by,unknown,error`. The benchmark compares the two outputs.
//!
//! What it does not do, unlike eligc: codes (facts are named by `concept`; a fact given by
//! `code` matches nothing), units other than the protocol's own spelling (a result in
//! another unit is unknown), exact decimals, validation of the fields it does not use,
//! error messages naming a field, more than one thread.
//!
//! Usage: baseline FILE.jsonl > verdicts.csv
#![expect(
    clippy::indexing_slicing,
    reason = "fixed-size arrays indexed by the criteria's positions, and dates checked for length first"
)]

use std::io::{BufRead, BufWriter, Write};

use serde::Deserialize;

// ------------------------------------------------------------------------------------------
// Three-valued logic
// ------------------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Tri {
    No,
    Maybe,
    Yes,
}

impl Tri {
    fn of(b: bool) -> Tri {
        if b { Tri::Yes } else { Tri::No }
    }
    fn and(self, o: Tri) -> Tri {
        match (self, o) {
            (Tri::No, _) | (_, Tri::No) => Tri::No,
            (Tri::Yes, Tri::Yes) => Tri::Yes,
            _ => Tri::Maybe,
        }
    }
    fn or(self, o: Tri) -> Tri {
        match (self, o) {
            (Tri::Yes, _) | (_, Tri::Yes) => Tri::Yes,
            (Tri::No, Tri::No) => Tri::No,
            _ => Tri::Maybe,
        }
    }
    fn not(self) -> Tri {
        match self {
            Tri::Yes => Tri::No,
            Tri::No => Tri::Yes,
            Tri::Maybe => Tri::Maybe,
        }
    }
}

fn any(items: impl IntoIterator<Item = Tri>) -> Tri {
    items.into_iter().fold(Tri::No, Tri::or)
}

// ------------------------------------------------------------------------------------------
// Dates as day numbers (days since 1970-01-01), calendar months clamped at the month's end
// ------------------------------------------------------------------------------------------

type Day = i32;

fn days_from_civil(y: i32, m: u32, d: u32) -> Day {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = m as i32;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i32 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: Day) -> (i32, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn month_length(y: i32, m: u32) -> u32 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// `YYYY-MM-DD`, exactly, and a day that exists.
fn date(text: &str) -> Option<Day> {
    let b = text.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let digit = |i: usize| b[i].is_ascii_digit().then(|| u32::from(b[i] - b'0'));
    let y = digit(0)? * 1000 + digit(1)? * 100 + digit(2)? * 10 + digit(3)?;
    let m = digit(5)? * 10 + digit(6)?;
    let d = digit(8)? * 10 + digit(9)?;
    let y = y as i32;
    if !(1..=12).contains(&m) || d == 0 || d > month_length(y, m) {
        return None;
    }
    Some(days_from_civil(y, m, d))
}

/// `day` plus `months` calendar months (negative: before), clamped at the month's end.
fn add_months(day: Day, months: i32) -> Day {
    let (y, m, d) = civil_from_days(day);
    let total = y * 12 + (m as i32 - 1) + months;
    let (y, m) = (total.div_euclid(12), total.rem_euclid(12) as u32 + 1);
    days_from_civil(y, m, d.min(month_length(y, m)))
}

/// Whole years from `birth` to `at`.
fn age_years(birth: Day, at: Day) -> i32 {
    let (by, bm, _) = civil_from_days(birth);
    let (ay, am, _) = civil_from_days(at);
    let mut months = (ay - by) * 12 + am as i32 - bm as i32;
    if add_months(birth, months) > at {
        months -= 1;
    }
    months.div_euclid(12)
}

/// Whether the days `start..=end` last at least `months` calendar months.
fn lasts_months(start: Day, end: Day, months: i32) -> bool {
    add_months(start, months) <= end + 1
}

// ------------------------------------------------------------------------------------------
// The native record, as typed structs borrowing from the line
// ------------------------------------------------------------------------------------------

#[derive(Deserialize)]
struct Patient<'a> {
    id: &'a str,
    #[serde(default)]
    birth_date: Option<&'a str>,
    #[serde(default)]
    sex: Option<&'a str>,
    #[serde(default, borrow)]
    anchors: Anchors<'a>,
    #[serde(default, borrow)]
    observations: Option<Vec<Observation<'a>>>,
    #[serde(default, borrow)]
    conditions: Option<Vec<Condition<'a>>>,
    #[serde(default, borrow)]
    medications: Option<Vec<Medication<'a>>>,
    #[serde(default, borrow)]
    immunizations: Option<Vec<Immunization<'a>>>,
    #[serde(default, borrow)]
    procedures: Option<Vec<Procedure<'a>>>,
    #[serde(default)]
    attestations: Attestations,
}

#[derive(Deserialize, Default)]
struct Anchors<'a> {
    #[serde(default)]
    screening: Option<&'a str>,
    #[serde(default)]
    infusion: Option<&'a str>,
}

#[derive(Deserialize)]
struct Observation<'a> {
    #[serde(default)]
    concept: Option<&'a str>,
    date: &'a str,
    #[serde(default)]
    value: Option<f64>,
    #[serde(default)]
    unit: Option<&'a str>,
    #[serde(default)]
    comparator: Option<&'a str>,
    #[serde(default)]
    result: Option<&'a str>,
    #[serde(default)]
    interpretation: Option<&'a str>,
    #[serde(default)]
    reference_range: Option<Range>,
}

#[derive(Deserialize, Clone, Copy)]
struct Range {
    #[serde(default)]
    high: Option<f64>,
}

#[derive(Deserialize)]
struct Condition<'a> {
    #[serde(default)]
    concept: Option<&'a str>,
    #[serde(default)]
    onset: Option<&'a str>,
    #[serde(default)]
    end: Option<&'a str>,
    #[serde(default)]
    status: Option<&'a str>,
    #[serde(default)]
    verification: Option<&'a str>,
    #[serde(default)]
    grade: Option<f64>,
    #[serde(default)]
    severity: Option<&'a str>,
}

#[derive(Deserialize)]
struct Medication<'a> {
    #[serde(default)]
    concept: Option<&'a str>,
    start: &'a str,
    #[serde(default)]
    end: Option<&'a str>,
    #[serde(default)]
    dose: Option<f64>,
    #[serde(default)]
    dose_unit: Option<&'a str>,
    #[serde(default)]
    frequency_per_day: Option<f64>,
    #[serde(default)]
    daily_dose: Option<f64>,
    #[serde(default)]
    daily_dose_unit: Option<&'a str>,
    #[serde(default)]
    status: Option<&'a str>,
}

#[derive(Deserialize)]
struct Immunization<'a> {
    #[serde(default)]
    concept: Option<&'a str>,
    date: &'a str,
    #[serde(default)]
    status: Option<&'a str>,
}

#[derive(Deserialize)]
struct Procedure<'a> {
    #[serde(default)]
    concept: Option<&'a str>,
    date: &'a str,
    #[serde(default)]
    end: Option<&'a str>,
    #[serde(default)]
    status: Option<&'a str>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Attestations {
    moderate_to_severe_activity: Option<bool>,
    intolerant_to_standard_treatment: Option<bool>,
    ecg_abnormality_not_obvious: Option<bool>,
    meets_collection_standards: Option<bool>,
    no_leukapheresis_contraindication: Option<bool>,
    childbearing_potential: Option<bool>,
    agrees_to_contraception: Option<bool>,
    informed_consent: Option<bool>,
    kidney_disease_expected: Option<bool>,
    uncontrollable_infection: Option<bool>,
    mas_risk_ruled_out: Option<bool>,
    prior_car_t_risk_ruled_out: Option<bool>,
    other_study_within_3_months: Option<bool>,
    unsuitable_for_study: Option<bool>,
}

fn attested(a: Option<bool>) -> Tri {
    a.map_or(Tri::Maybe, Tri::of)
}

// ------------------------------------------------------------------------------------------
// The protocol's vocabulary (concept sets of `use std` and of the protocol)
// ------------------------------------------------------------------------------------------

const DMARD: &[&str] = &[
    "cyclophosphamide",
    "mycophenolate_mofetil",
    "azathioprine",
    "methotrexate",
    "cyclosporine",
    "tacrolimus",
    "sirolimus",
    "leflunomide",
    "telitacicept",
    "belimumab",
    "rituximab",
];
/// Glucocorticoids and their prednisone equivalence (mg prednisone per mg).
const GLUCOCORTICOID: &[(&str, f64)] = &[
    ("prednisone", 1.0),
    ("prednisolone", 1.0),
    ("methylprednisolone", 1.25),
    ("dexamethasone", 6.67),
    ("hydrocortisone", 0.25),
];
const SERIOUS_LUNG: &[&str] = &[
    "interstitial_lung_disease",
    "pulmonary_fibrosis",
    "pulmonary_hypertension",
    "lupus_lung_disease",
];
const SEVERE_ARRHYTHMIAS: &[&str] = &[
    "supraventricular_tachycardia",
    "ventricular_tachycardia",
    "ventricular_fibrillation",
    "complete_heart_block",
];
const VASOPRESSORS: &[&str] = &[
    "norepinephrine",
    "epinephrine",
    "dopamine",
    "dobutamine",
    "phenylephrine",
    "vasopressin",
];
const INFECTIONS: &[&str] = &[
    "infectious_disease",
    "pneumonia",
    "sepsis",
    "urinary_tract_infection",
    "cellulitis",
    "herpes_zoster",
    "cmv_infection",
    "influenza",
    "covid_19",
    "candidiasis",
    "acute_bronchitis",
    "viral_sinusitis",
    "acute_viral_pharyngitis",
    "tuberculosis",
    "pulmonary_tuberculosis",
];
const ANTI_INFECTIVES: &[&str] = &[
    "amoxicillin",
    "penicillin_v",
    "cephalexin",
    "ceftriaxone",
    "cefepime",
    "piperacillin",
    "meropenem",
    "vancomycin",
    "linezolid",
    "azithromycin",
    "erythromycin",
    "doxycycline",
    "ciprofloxacin",
    "levofloxacin",
    "moxifloxacin",
    "sulfamethoxazole",
    "metronidazole",
    "clindamycin",
    "amikacin",
    "acyclovir",
    "valacyclovir",
    "ganciclovir",
    "valganciclovir",
    "oseltamivir",
    "remdesivir",
    "fluconazole",
    "voriconazole",
    "posaconazole",
    "isavuconazole",
    "amphotericin_b",
    "isoniazid",
    "rifampin",
    "ethambutol",
    "pyrazinamide",
];
const RENAL_REPLACEMENT: &[&str] = &["hemodialysis", "peritoneal_dialysis", "renal_dialysis"];
const ORGAN_TRANSPLANTATION: &[&str] = &[
    "kidney_transplant",
    "liver_transplant",
    "heart_transplant",
    "lung_transplant",
    "organ_transplant",
];
const CAR_T_PRODUCTS: &[&str] = &[
    "axicabtagene_ciloleucel",
    "tisagenlecleucel",
    "ciltacabtagene_autoleucel",
    "brexucabtagene_autoleucel",
    "idecabtagene_vicleucel",
    "lisocabtagene_maraleucel",
];
const LIVE_VACCINES: &[&str] = &[
    "mmr",
    "mmrv",
    "measles",
    "mumps",
    "rubella",
    "measles_rubella",
    "rubella_mumps",
    "varicella",
    "zoster_live",
    "yellow_fever",
    "bcg",
    "typhoid_oral",
    "rotavirus",
    "influenza_live",
    "polio_oral",
    "cholera_live",
    "smallpox_vaccinia",
    "dengue",
    "hepatitis_a_live",
    "adenovirus_4_7",
    "vee_live",
    "ebola_zaire_live",
    "covid_19_live_non_us",
];

// ------------------------------------------------------------------------------------------
// Facts and windows
// ------------------------------------------------------------------------------------------

/// A window: first and last day, inclusive; `None` unbounded.
#[derive(Clone, Copy)]
struct Span {
    from: Option<Day>,
    to: Option<Day>,
}

impl Span {
    fn contains(&self, d: Day) -> bool {
        self.from.is_none_or(|f| f <= d) && self.to.is_none_or(|t| d <= t)
    }
}

#[derive(Clone, Copy, PartialEq)]
enum End {
    Known(Day),
    Ongoing,
    Unknown,
}

/// A dated event: first day (if known) and last day.
#[derive(Clone, Copy)]
struct Ev {
    start: Option<Day>,
    end: End,
}

fn in_window(e: Ev, s: Span) -> Tri {
    let Some(start) = e.start else {
        return match e.end {
            End::Known(end) if s.from.is_some_and(|f| end < f) => Tri::No,
            _ if s.from.is_none() && s.to.is_none() => Tri::Yes,
            _ => Tri::Maybe,
        };
    };
    if s.to.is_some_and(|t| start > t) {
        return Tri::No;
    }
    match e.end {
        End::Ongoing => Tri::Yes,
        End::Known(end) => Tri::of(s.from.is_none_or(|f| end >= f)),
        End::Unknown => {
            if s.from.is_none_or(|f| start >= f) {
                Tri::Yes
            } else {
                Tri::Maybe
            }
        }
    }
}

/// A record that cannot be read, with why.
struct Bad(&'static str);

fn opt_date(text: Option<&str>) -> Result<Option<Day>, Bad> {
    text.map(|t| date(t).ok_or(Bad("bad date"))).transpose()
}

/// One patient, ready to evaluate: dates parsed, void records left out.
struct Facts<'p, 'a> {
    p: &'p Patient<'a>,
    screening: Option<Day>,
    infusion: Option<Day>,
    obs_dates: Vec<Day>,
    conditions: Option<Vec<(&'a str, Ev, &'p Condition<'a>)>>,
    medications: Option<Vec<(&'a str, Ev, &'p Medication<'a>)>>,
    immunizations: Option<Vec<(&'a str, Ev)>>,
    procedures: Option<Vec<(&'a str, Ev)>>,
}

fn facts<'p, 'a>(p: &'p Patient<'a>) -> Result<Facts<'p, 'a>, Bad> {
    let screening = opt_date(p.anchors.screening)?;
    let infusion = opt_date(p.anchors.infusion)?;
    opt_date(p.birth_date)?;
    let obs_dates = p
        .observations
        .iter()
        .flatten()
        .map(|o| date(o.date).ok_or(Bad("bad date")))
        .collect::<Result<Vec<Day>, Bad>>()?;
    let conditions = p
        .conditions
        .as_ref()
        .map(|list| {
            let mut out = Vec::with_capacity(list.len());
            for c in list {
                let onset = opt_date(c.onset)?;
                let end = match (opt_date(c.end)?, c.status) {
                    (Some(e), _) => End::Known(e),
                    (None, Some("resolved" | "inactive" | "remission")) => End::Unknown,
                    (None, _) => End::Ongoing,
                };
                if matches!(c.verification, Some("refuted" | "entered-in-error")) {
                    continue;
                }
                if let Some(name) = c.concept {
                    out.push((name, Ev { start: onset, end }, c));
                }
            }
            Ok(out)
        })
        .transpose()?;
    let medications = p
        .medications
        .as_ref()
        .map(|list| {
            let mut out = Vec::with_capacity(list.len());
            for m in list {
                let start = date(m.start).ok_or(Bad("bad date"))?;
                let end = match (opt_date(m.end)?, m.status) {
                    (Some(e), _) => End::Known(e),
                    (None, Some("completed" | "stopped")) => End::Unknown,
                    (None, _) => End::Ongoing,
                };
                if m.status == Some("entered-in-error") {
                    continue;
                }
                if let Some(name) = m.concept {
                    out.push((
                        name,
                        Ev {
                            start: Some(start),
                            end,
                        },
                        m,
                    ));
                }
            }
            Ok(out)
        })
        .transpose()?;
    let immunizations = p
        .immunizations
        .as_ref()
        .map(|list| {
            let mut out = Vec::with_capacity(list.len());
            for v in list {
                let d = date(v.date).ok_or(Bad("bad date"))?;
                if matches!(v.status, Some("not-done" | "entered-in-error")) {
                    continue;
                }
                if let Some(name) = v.concept {
                    let end = End::Known(d);
                    out.push((
                        name,
                        Ev {
                            start: Some(d),
                            end,
                        },
                    ));
                }
            }
            Ok(out)
        })
        .transpose()?;
    let procedures = p
        .procedures
        .as_ref()
        .map(|list| {
            let mut out = Vec::with_capacity(list.len());
            for x in list {
                let d = date(x.date).ok_or(Bad("bad date"))?;
                let end = End::Known(opt_date(x.end)?.unwrap_or(d));
                if matches!(x.status, Some("not-done" | "entered-in-error")) {
                    continue;
                }
                if let Some(name) = x.concept {
                    out.push((
                        name,
                        Ev {
                            start: Some(d),
                            end,
                        },
                    ));
                }
            }
            Ok(out)
        })
        .transpose()?;
    Ok(Facts {
        p,
        screening,
        infusion,
        obs_dates,
        conditions,
        medications,
        immunizations,
        procedures,
    })
}

/// `within N days before screening`, `before screening`, `at screening`, ...
enum W {
    Days(i32),
    Months(i32),
    UpTo,
    At,
}

impl Facts<'_, '_> {
    fn span_of(&self, anchor: Option<Day>, w: W) -> Option<Span> {
        let a = anchor?;
        Some(match w {
            W::Days(n) => Span {
                from: Some(a - n),
                to: Some(a),
            },
            W::Months(n) => Span {
                from: Some(add_months(a, -n)),
                to: Some(a),
            },
            W::UpTo => Span {
                from: None,
                to: Some(a),
            },
            W::At => Span {
                from: Some(a),
                to: Some(a),
            },
        })
    }

    fn span(&self, w: W) -> Option<Span> {
        self.span_of(self.screening, w)
    }

    /// The latest result of `concept` in the window (the last of a day's, in record order).
    fn latest(&self, concept: &str, w: W) -> Option<&Observation<'_>> {
        let obs = self.p.observations.as_ref()?;
        let span = self.span(w)?;
        let mut best: Option<(Day, &Observation<'_>)> = None;
        for (o, d) in obs.iter().zip(&self.obs_dates) {
            if o.concept == Some(concept) && span.contains(*d) && best.is_none_or(|(b, _)| *d >= b)
            {
                best = Some((*d, o));
            }
        }
        best.map(|(_, o)| o)
    }

    /// `latest CONCEPT WINDOW >= / <= threshold UNIT` (a result in another unit: unknown).
    fn compare(&self, concept: &str, w: W, ge: bool, threshold: f64, unit: Option<&str>) -> Tri {
        let Some(o) = self.latest(concept, w) else {
            return Tri::Maybe;
        };
        let Some(v) = o.value else { return Tri::Maybe };
        let unit_ok = match unit {
            // A score: points, written or not.
            None => o.unit.is_none(),
            Some(u) => o.unit == Some(u),
        };
        if !unit_ok {
            return Tri::Maybe;
        }
        let ord = v
            .partial_cmp(&threshold)
            .unwrap_or(std::cmp::Ordering::Equal);
        bounded(ge, o.comparator, ord)
    }

    /// `latest CONCEPT WINDOW <= factor x ULN`.
    fn uln(&self, concept: &str, w: W, factor: f64) -> Tri {
        let Some(o) = self.latest(concept, w) else {
            return Tri::Maybe;
        };
        let (Some(v), Some(high)) = (o.value, o.reference_range.and_then(|r| r.high)) else {
            return Tri::Maybe;
        };
        let ord = v
            .partial_cmp(&(factor * high))
            .unwrap_or(std::cmp::Ordering::Equal);
        bounded(false, o.comparator, ord)
    }

    /// `latest CONCEPT WINDOW is WORD`.
    fn is(&self, concept: &str, w: W, wanted: Qual) -> Tri {
        let Some(o) = self.latest(concept, w) else {
            return Tri::Maybe;
        };
        if let Some(q) = o.result.and_then(qualitative) {
            return Tri::of(q == wanted);
        }
        use Qual::*;
        let presence = |q: Qual| Tri::of(q == wanted);
        match (o.interpretation, wanted) {
            (Some("positive"), Positive | Negative) => presence(Positive),
            (Some("negative"), Positive | Negative) => presence(Negative),
            (Some("indeterminate"), Positive | Negative) => presence(Indeterminate),
            (Some("normal"), Normal) => presence(Normal),
            (Some("abnormal" | "high" | "low"), Normal) => presence(Abnormal),
            _ => Tri::Maybe,
        }
    }

    /// `latest CONCEPT WINDOW is above normal range`.
    fn above_normal(&self, concept: &str, w: W) -> Tri {
        let Some(o) = self.latest(concept, w) else {
            return Tri::Maybe;
        };
        let reading = match o.interpretation {
            Some("high") => Some(Tri::Yes),
            Some("low" | "normal") => Some(Tri::No),
            _ => None,
        };
        match (o.value, o.reference_range.and_then(|r| r.high)) {
            (Some(v), Some(high)) => {
                let ord = v.partial_cmp(&high).unwrap_or(std::cmp::Ordering::Equal);
                let t = match (o.comparator, ord) {
                    (None, ord) => Tri::of(ord.is_gt()),
                    (Some(">" | ">="), std::cmp::Ordering::Greater) => Tri::Yes,
                    (Some(">"), std::cmp::Ordering::Equal) => Tri::Yes,
                    (Some("<" | "<="), std::cmp::Ordering::Less | std::cmp::Ordering::Equal) => {
                        Tri::No
                    }
                    _ => Tri::Maybe,
                };
                if t == Tri::Maybe {
                    reading.unwrap_or(Tri::Maybe)
                } else {
                    t
                }
            }
            _ => reading.unwrap_or(Tri::Maybe),
        }
    }

    /// `condition [in SET] WINDOW [where ...]`.
    fn condition(&self, names: &[&str], w: W, filter: impl Fn(&Condition<'_>) -> Tri) -> Tri {
        let Some(list) = &self.conditions else {
            return Tri::Maybe;
        };
        let Some(span) = self.span(w) else {
            return Tri::Maybe;
        };
        any(list
            .iter()
            .filter(|(n, _, _)| names.contains(n))
            .map(|(_, ev, c)| in_window(*ev, span).and(filter(c))))
    }

    fn medication(&self, names: &[&str], w: W) -> Tri {
        let Some(list) = &self.medications else {
            return Tri::Maybe;
        };
        let Some(span) = self.span(w) else {
            return Tri::Maybe;
        };
        any(list
            .iter()
            .filter(|(n, _, _)| names.contains(n))
            .map(|(_, ev, _)| in_window(*ev, span)))
    }

    fn event_in(list: &Option<Vec<(&str, Ev)>>, names: &[&str], span: Option<Span>) -> Tri {
        let (Some(list), Some(span)) = (list, span) else {
            return Tri::Maybe;
        };
        any(list
            .iter()
            .filter(|(n, _)| names.contains(n))
            .map(|(_, ev)| in_window(*ev, span)))
    }

    /// `medication X taken for >= N months before screening`, for the events `evs`.
    fn taken_for(&self, evs: &[Ev], span: Span, months: i32) -> Tri {
        let Some(as_of) = self.screening else {
            return Tri::Maybe;
        };
        let intervals = |definite: bool| -> Vec<(Day, Option<Day>)> {
            let mut out = Vec::new();
            for ev in evs {
                let t = in_window(*ev, span);
                if t == Tri::No || (definite && t == Tri::Maybe) {
                    continue;
                }
                let Some(start) = ev.start else { continue };
                let end = match (ev.end, definite) {
                    (End::Known(e), _) => e,
                    (End::Ongoing, true) => open_end(start, as_of, span).0,
                    (End::Ongoing, false) => open_end(start, as_of, span).1,
                    (End::Unknown, true) => start,
                    (End::Unknown, false) => ended_by(start, as_of, span),
                };
                let start = span.from.map_or(start, |f| start.max(f));
                let end = match span.to {
                    Some(t) => end.min(t),
                    None => end,
                };
                if end >= start {
                    out.push((start, Some(end)));
                }
            }
            out.sort_by_key(|(s, _)| *s);
            let mut merged: Vec<(Day, Option<Day>)> = Vec::new();
            for (s, e) in out {
                if let Some(last) = merged.last_mut() {
                    if last.1.is_none_or(|le| s <= le + 1) {
                        last.1 = match (last.1, e) {
                            (Some(a), Some(b)) => Some(a.max(b)),
                            _ => None,
                        };
                        continue;
                    }
                }
                merged.push((s, e));
            }
            merged
        };
        let some_run = |runs: &[(Day, Option<Day>)]| {
            runs.iter()
                .any(|(s, e)| e.is_none_or(|e| lasts_months(*s, e, months)))
        };
        if some_run(&intervals(true)) {
            Tri::Yes
        } else if some_run(&intervals(false)) {
            Tri::Maybe
        } else {
            Tri::No
        }
    }

    fn meds_of(&self, names: &[&str]) -> Vec<Ev> {
        self.medications
            .iter()
            .flatten()
            .filter(|(n, _, _)| names.contains(n))
            .map(|(_, ev, _)| *ev)
            .collect()
    }

    /// `dose glucocorticoid as prednisone >= 1 mg/kg/d sustained 3 months before screening`.
    fn glucocorticoid_dose(&self) -> Tri {
        let Some(list) = &self.medications else {
            return Tri::Maybe;
        };
        let (Some(span), Some(as_of)) = (self.span(W::UpTo), self.screening) else {
            return Tri::Maybe;
        };
        let events: Vec<(f64, Ev, &Medication<'_>)> = list
            .iter()
            .filter_map(|(n, ev, m)| {
                GLUCOCORTICOID
                    .iter()
                    .find(|(g, _)| g == n)
                    .map(|(_, f)| (*f, *ev, *m))
            })
            .collect();
        // 1 mg/kg/d times the latest body weight on or before the window's end.
        let weight = self.p.observations.as_ref().and_then(|obs| {
            let mut best: Option<(Day, &Observation<'_>)> = None;
            for (o, d) in obs.iter().zip(&self.obs_dates) {
                if o.concept == Some("body_weight")
                    && span.to.is_none_or(|t| *d <= t)
                    && best.is_none_or(|(b, _)| *d >= b)
                {
                    best = Some((*d, o));
                }
            }
            best.map(|(_, o)| o)
        });
        let threshold = weight.and_then(|w| match (w.value, w.comparator, w.unit) {
            (Some(v), None, Some("kg")) => Some(v),
            _ => None,
        });
        let Some(threshold) = threshold else {
            return if events
                .iter()
                .any(|(_, ev, _)| in_window(*ev, span) != Tri::No)
            {
                Tri::Maybe
            } else {
                Tri::No
            };
        };
        let mut pieces = Vec::new();
        for (factor, ev, m) in &events {
            if in_window(*ev, span) == Tri::No {
                continue;
            }
            let Some(start) = ev.start else { continue };
            let start = span.from.map_or(start, |f| start.max(f));
            let (definite, possible) = match ev.end {
                End::Known(t) => (t, t),
                End::Ongoing => open_end(start, as_of, span),
                End::Unknown => (start, ended_by(start, as_of, span)),
            };
            let clip = |t: Day| span.to.map_or(t, |to| t.min(to));
            pieces.push(Piece {
                start,
                definite_end: clip(definite),
                possible_end: clip(possible),
                mg: daily_mg(m).map(|mg| mg * factor),
            });
        }
        sustained_at_least(&pieces, threshold, 3)
    }
}

fn open_end(start: Day, as_of: Day, span: Span) -> (Day, Day) {
    let known = start.max(as_of);
    (known, span.to.map_or(known, |t| t.max(known)))
}

fn ended_by(start: Day, as_of: Day, span: Span) -> Day {
    let known = start.max(as_of);
    span.to.map_or(known, |t| t.min(known))
}

fn daily_mg(m: &Medication<'_>) -> Option<f64> {
    if let Some(daily) = m.daily_dose {
        return match m.daily_dose_unit.unwrap_or("mg/d") {
            "mg/d" | "mg" => Some(daily),
            "g/d" | "g" => Some(daily * 1000.0),
            _ => None,
        };
    }
    match (m.dose, m.dose_unit, m.frequency_per_day) {
        (Some(dose), Some("mg"), Some(f)) => Some(dose * f),
        (Some(dose), Some("g"), Some(f)) => Some(dose * 1000.0 * f),
        _ => None,
    }
}

struct Piece {
    start: Day,
    definite_end: Day,
    possible_end: Day,
    mg: Option<f64>,
}

/// Whether some run of `months` months has, every day, a total dose >= `threshold`.
fn sustained_at_least(pieces: &[Piece], threshold: f64, months: i32) -> Tri {
    let mut points: Vec<Day> = Vec::with_capacity(pieces.len() * 3);
    for p in pieces {
        points.push(p.start);
        points.push(p.definite_end + 1);
        points.push(p.possible_end + 1);
    }
    points.sort_unstable();
    points.dedup();
    let mut segments: Vec<(Day, Option<Day>, Tri)> = Vec::with_capacity(points.len());
    for (i, start) in points.iter().enumerate() {
        let end = points.get(i + 1).map(|n| n - 1);
        let mut lo = 0.0;
        let mut uncertain = false;
        let mut any = false;
        for p in pieces.iter().filter(|p| p.start <= *start) {
            if *start <= p.definite_end {
                any = true;
                match p.mg {
                    Some(mg) => lo += mg,
                    None => uncertain = true,
                }
            } else if *start <= p.possible_end {
                any = true;
                uncertain = true;
            }
        }
        let value = if !any {
            Tri::No
        } else if lo >= threshold {
            Tri::Yes
        } else if uncertain {
            Tri::Maybe
        } else {
            Tri::No
        };
        segments.push((*start, end, value));
    }
    let has_run = |accept: &dyn Fn(Tri) -> bool| {
        let mut run: Option<Day> = None;
        for (start, end, value) in &segments {
            if accept(*value) {
                let s = *run.get_or_insert(*start);
                match end {
                    Some(e) if lasts_months(s, *e, months) => return true,
                    None => return true,
                    _ => {}
                }
            } else {
                run = None;
            }
        }
        false
    };
    if has_run(&|t| t == Tri::Yes) {
        Tri::Yes
    } else if has_run(&|t| t != Tri::No) {
        Tri::Maybe
    } else {
        Tri::No
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Qual {
    Positive,
    Negative,
    Indeterminate,
    Normal,
    Abnormal,
}

fn qualitative(word: &str) -> Option<Qual> {
    Some(match word {
        "positive" | "pos" | "detected" | "reactive" | "present" => Qual::Positive,
        "negative" | "neg" | "not detected" | "non-reactive" | "nonreactive" | "absent" => {
            Qual::Negative
        }
        "indeterminate" | "equivocal" | "borderline" | "inconclusive" => Qual::Indeterminate,
        "normal" => Qual::Normal,
        "abnormal" => Qual::Abnormal,
        _ => return None,
    })
}

/// `>=` (`ge`) or `<=` for a value that may be a bound (`<10`).
fn bounded(ge: bool, comparator: Option<&str>, ord: std::cmp::Ordering) -> Tri {
    use std::cmp::Ordering::{Equal, Greater, Less};
    let holds = |o: std::cmp::Ordering| if ge { o != Less } else { o != Greater };
    let possible: &[std::cmp::Ordering] = match (comparator, ord) {
        (None, o) => return Tri::of(holds(o)),
        (Some("<"), Less | Equal) | (Some("<="), Less) => &[Less],
        (Some("<="), Equal) => &[Less, Equal],
        (Some(">"), Greater | Equal) | (Some(">="), Greater) => &[Greater],
        (Some(">="), Equal) => &[Greater, Equal],
        _ => &[Less, Equal, Greater],
    };
    if possible.iter().all(|o| holds(*o)) {
        Tri::Yes
    } else if possible.iter().all(|o| !holds(*o)) {
        Tri::No
    } else {
        Tri::Maybe
    }
}

// ------------------------------------------------------------------------------------------
// The criteria
// ------------------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Met,
    NotMet,
    Unknown,
    NotApplicable,
}

fn outcome(t: Tri) -> Outcome {
    match t {
        Tri::Yes => Outcome::Met,
        Tri::No => Outcome::NotMet,
        Tri::Maybe => Outcome::Unknown,
    }
}

/// A criterion with `applies if`: the body's outcome, as eligc settles an unknown
/// applicability (it stands when it cannot exclude anyone).
fn applies(inclusion: bool, applies: Tri, body: impl FnOnce() -> Tri) -> Outcome {
    match applies {
        Tri::No => Outcome::NotApplicable,
        Tri::Yes => outcome(body()),
        Tri::Maybe => match (inclusion, outcome(body())) {
            (true, Outcome::Met) => Outcome::Met,
            (false, Outcome::NotMet) => Outcome::NotMet,
            _ => Outcome::Unknown,
        },
    }
}

/// `condition ... unless attested X`.
fn unless(holds: Tri, attested_: Tri) -> Tri {
    holds.and(attested_.not())
}

const IDS: [&str; 25] = [
    "I1", "I2", "I3", "I4", "I4.1", "I4.2", "I4.3", "I4.4", "I5", "I6", "I7", "E1", "E2", "E3",
    "E4", "E5", "E6", "E7", "E8", "E9", "E10", "E11", "E12", "E13", "E14",
];
/// Index of I4 (a group over the next four) and of the first exclusion.
const GROUP: usize = 3;
const FIRST_EXCLUSION: usize = 11;

fn evaluate(f: &Facts<'_, '_>) -> [Outcome; 25] {
    let a = &f.p.attestations;
    let mut o = [Outcome::Unknown; 25];
    // I1
    o[0] = outcome(match (f.p.birth_date.and_then(date), f.screening) {
        (Some(b), Some(s)) => Tri::of(age_years(b, s) >= 5),
        _ => Tri::Maybe,
    });
    // I2
    o[1] = outcome({
        let mut t = f
            .condition(&["sle"], W::UpTo, |_| Tri::Yes)
            .and(f.compare("eular_acr_2019_sle", W::UpTo, true, 10.0, None))
            .and(attested(a.moderate_to_severe_activity));
        if t != Tri::No {
            let intolerant = attested(a.intolerant_to_standard_treatment);
            let treated = if intolerant == Tri::Yes {
                Tri::Yes
            } else {
                let span = f.span(W::UpTo);
                let history = match (&f.medications, span) {
                    (Some(_), Some(span)) => {
                        let dose = f.glucocorticoid_dose();
                        let hcq = || f.taken_for(&f.meds_of(&["hydroxychloroquine"]), span, 3);
                        let dmards = || {
                            let truths: Vec<Tri> = DMARD
                                .iter()
                                .map(|d| {
                                    let evs = f.meds_of(&[d]);
                                    if evs.is_empty() {
                                        Tri::No
                                    } else {
                                        f.taken_for(&evs, span, 3)
                                    }
                                })
                                .collect();
                            let lo = truths.iter().filter(|t| **t == Tri::Yes).count();
                            let hi = lo + truths.iter().filter(|t| **t == Tri::Maybe).count();
                            if lo >= 2 {
                                Tri::Yes
                            } else if hi < 2 {
                                Tri::No
                            } else {
                                Tri::Maybe
                            }
                        };
                        if dose == Tri::No {
                            Tri::No
                        } else {
                            let h = dose.and(hcq());
                            if h == Tri::No {
                                Tri::No
                            } else {
                                h.and(dmards())
                            }
                        }
                    }
                    _ => Tri::Maybe,
                };
                history.or(intolerant)
            };
            t = t.and(treated);
        }
        t
    });
    // I3
    o[2] = outcome(f.compare("sledai_2k", W::Days(30), true, 8.0, None));
    // I4.1 .. I4.4
    o[4] = outcome(
        f.compare("lvef", W::Days(28), true, 55.0, Some("%")).and(
            f.is("ecg_interpretation", W::Days(28), Qual::Normal)
                .or(attested(a.ecg_abnormality_not_obvious)),
        ),
    );
    o[5] = outcome(f.compare("egfr", W::Days(28), true, 30.0, Some("mL/min/1.73m2")));
    o[6] = outcome(
        f.uln("ast", W::Days(28), 3.0)
            .and(f.uln("alt", W::Days(28), 3.0))
            .and(f.uln("bilirubin_total", W::Days(28), 2.0)),
    );
    o[7] = outcome(
        f.condition(SERIOUS_LUNG, W::At, |_| Tri::Yes)
            .not()
            .and(f.compare("spo2", W::Days(28), true, 92.0, Some("%"))),
    );
    // I4: all of its applicable items.
    o[GROUP] = {
        let items: Vec<Tri> = o[4..8]
            .iter()
            .filter_map(|x| match x {
                Outcome::Met => Some(Tri::Yes),
                Outcome::NotMet => Some(Tri::No),
                Outcome::Unknown => Some(Tri::Maybe),
                Outcome::NotApplicable => None,
            })
            .collect();
        if items.is_empty() {
            Outcome::NotApplicable
        } else {
            outcome(items.into_iter().fold(Tri::Yes, Tri::and))
        }
    };
    let female = match f.p.sex {
        Some("female") => Tri::Yes,
        Some("male" | "other") => Tri::No,
        _ => Tri::Maybe,
    };
    let childbearing = female.and(attested(a.childbearing_potential));
    // I5 .. I7
    o[8] = outcome(
        attested(a.meets_collection_standards).and(attested(a.no_leukapheresis_contraindication)),
    );
    o[9] = applies(true, childbearing, || {
        f.is("hcg_serum", W::Days(7), Qual::Negative)
            .or(f.is("hcg_urine", W::Days(7), Qual::Negative))
            .and(attested(a.agrees_to_contraception))
    });
    o[10] = outcome(attested(a.informed_consent));
    // E1 .. E14
    o[11] = outcome(f.condition(&["neuropsychiatric_lupus"], W::Days(60), |_| Tri::Yes));
    o[12] = outcome(
        Facts::event_in(
            &f.procedures,
            RENAL_REPLACEMENT,
            f.span_of(f.infusion, W::Months(3)),
        )
        .or(attested(a.kidney_disease_expected)),
    );
    o[13] = outcome({
        let severity = |s: &'static str| {
            move |c: &Condition<'_>| c.severity.map_or(Tri::Maybe, |x| Tri::of(x == s))
        };
        f.condition(&["congenital_heart_disease"], W::UpTo, |_| Tri::Yes)
            .or(f.condition(SEVERE_ARRHYTHMIAS, W::UpTo, |_| Tri::Yes))
            .or(f.condition(&["pericardial_effusion"], W::At, severity("moderate")))
            .or(f.condition(&["pericardial_effusion"], W::At, severity("severe")))
            .or(f.condition(&["cardiac_tamponade"], W::At, |_| Tri::Yes))
            .or(f.condition(&["myocarditis"], W::At, severity("severe")))
            .or(f.medication(VASOPRESSORS, W::At))
    });
    o[14] = outcome(
        attested(a.uncontrollable_infection).or(f
            .condition(INFECTIONS, W::Months(3), |_| Tri::Yes)
            .and(f.medication(ANTI_INFECTIVES, W::Months(3)))),
    );
    o[15] = outcome(
        Facts::event_in(&f.procedures, ORGAN_TRANSPLANTATION, f.span(W::Months(3)))
            .or(Facts::event_in(
                &f.procedures,
                &["hsct"],
                f.span(W::Months(3)),
            ))
            .or(
                f.condition(&["graft_versus_host_disease"], W::Days(14), |c| {
                    c.grade.map_or(Tri::Maybe, |g| Tri::of(g >= 2.0))
                }),
            ),
    );
    o[16] = outcome({
        let pos = |c: &str| f.is(c, W::Days(28), Qual::Positive);
        pos("hbsag")
            .or(pos("anti_hbc"))
            .and(f.above_normal("hbv_dna", W::Days(28)))
            .or(pos("anti_hcv").and(f.above_normal("hcv_rna", W::Days(28))))
            .or(pos("hiv_ab"))
            .or(pos("syphilis_test"))
    });
    o[17] = outcome(unless(
        f.condition(&["macrophage_activation_syndrome"], W::Months(1), |_| {
            Tri::Yes
        }),
        attested(a.mas_risk_ruled_out),
    ));
    o[18] = outcome(unless(
        Facts::event_in(&f.procedures, &["car_t_therapy"], f.span(W::UpTo))
            .or(f.medication(CAR_T_PRODUCTS, W::UpTo))
            .or(f.condition(&["car_t_history"], W::UpTo, |_| Tri::Yes)),
        attested(a.prior_car_t_risk_ruled_out),
    ));
    o[19] = outcome(f.condition(&["pulmonary_tuberculosis"], W::At, |c| {
        c.status.map_or(Tri::Maybe, |s| Tri::of(s == "active"))
    }));
    o[20] = outcome(Facts::event_in(
        &f.immunizations,
        LIVE_VACCINES,
        f.span(W::Days(28)),
    ));
    o[21] = applies(false, childbearing, || {
        f.is("hcg_serum", W::Days(7), Qual::Positive)
    });
    o[22] = outcome(f.condition(&["malignancy"], W::UpTo, |_| Tri::Yes));
    o[23] = outcome(attested(a.other_study_within_3_months));
    o[24] = outcome(attested(a.unsuitable_for_study));
    o
}

fn excludes(i: usize, o: Outcome) -> bool {
    if i < FIRST_EXCLUSION {
        o == Outcome::NotMet
    } else {
        o == Outcome::Met
    }
}

/// Writes `id,verdict,excluded_by,unknown,` (the most specific criteria: I4's items, not I4).
fn write_line(out: &mut impl Write, id: &str, o: &[Outcome; 25]) -> std::io::Result<()> {
    let top = |i: usize| i <= GROUP || i >= 8;
    let excluded = (0..25).any(|i| top(i) && excludes(i, o[i]));
    let unknown = (0..25).any(|i| top(i) && o[i] == Outcome::Unknown);
    let verdict = if excluded {
        "ineligible"
    } else if unknown {
        "needs review"
    } else {
        "eligible"
    };
    let list = |out: &mut dyn Write, pick: &dyn Fn(usize) -> bool| -> std::io::Result<()> {
        let mut first = true;
        for (i, criterion) in IDS.iter().enumerate() {
            // I4 is listed only when none of its items is.
            let specific = i != GROUP || !(4..8).any(pick);
            if pick(i) && specific {
                if !first {
                    out.write_all(b" ")?;
                }
                out.write_all(criterion.as_bytes())?;
                first = false;
            }
        }
        Ok(())
    };
    if id.starts_with(['=', '+', '-', '@', '\t', '\r']) || id.contains([',', '"', '\n', '\r']) {
        // eligc quotes such ids; the benchmark's ids never need it.
        write!(out, "\"{}\"", id.replace('"', "\"\""))?;
    } else {
        out.write_all(id.as_bytes())?;
    }
    write!(out, ",{verdict},")?;
    list(out, &|i| excludes(i, o[i]))?;
    out.write_all(b",")?;
    list(out, &|i| o[i] == Outcome::Unknown)?;
    out.write_all(b",\n")
}

fn main() -> std::io::Result<()> {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: baseline FILE.jsonl");
        std::process::exit(2);
    };
    let file = std::fs::File::open(&path)?;
    let mut reader = std::io::BufReader::with_capacity(1 << 20, file);
    let stdout = std::io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    out.write_all(b"id,verdict,excluded_by,unknown,error\n")?;
    let mut line = String::new();
    let (mut eligible, mut ineligible, mut review, mut rejected) = (0, 0, 0, 0);
    while reader.read_line(&mut line)? > 0 {
        let text = line.trim_end_matches(['\n', '\r']);
        if !text.trim().is_empty() {
            let parsed = serde_json::from_str::<Patient<'_>>(text)
                .map_err(|_| Bad("not a patient record"))
                .and_then(|p| {
                    let o = facts(&p).map(|f| evaluate(&f))?;
                    Ok((p.id, o))
                });
            match parsed {
                Ok((id, o)) => {
                    write_line(&mut out, id, &o)?;
                    let top = |i: usize| i <= GROUP || i >= 8;
                    if (0..25).any(|i| top(i) && excludes(i, o[i])) {
                        ineligible += 1;
                    } else if (0..25).any(|i| top(i) && o[i] == Outcome::Unknown) {
                        review += 1;
                    } else {
                        eligible += 1;
                    }
                }
                Err(Bad(why)) => {
                    rejected += 1;
                    writeln!(out, ",rejected,,,{why}")?;
                }
            }
        }
        line.clear();
    }
    out.flush()?;
    eprintln!(
        "read {}: {eligible} eligible, {ineligible} ineligible, {review} needs review, {rejected} rejected",
        eligible + ineligible + review + rejected
    );
    Ok(())
}
