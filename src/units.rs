//! Units of measure for clinical quantities, UCUM-flavoured, with exact decimal arithmetic.
//!
//! Takes the unit text a protocol writer (or a patient record) gives — `mg/dL`,
//! `mL/min/1.73m2`, `mL/min/{1.73_m2}`, `10*9/L`, `x10^9/L`, `%`, `[IU]/mL`, `mmHg` — and
//! gives a [`Unit`]: its [`Dimension`] (integer exponents over mass, length, time, amount of
//! substance, temperature and a few non-convertible "arbitrary" dimensions such as
//! international units or score points) and its exact factor to the coherent base units
//! (g, m, s, mol, K) as a reduced rational number.
//!
//! * [`parse_unit`] parses, or returns a [`UnitError`] whose `message` is written for a
//!   protocol writer and whose `suggestion` is the closest known spelling ("did you mean").
//! * [`Unit::compare`] compares two quantities in commensurable units *exactly* by
//!   cross-multiplication of the rational factors (never dividing, never rounding).
//! * [`Unit::convert`] converts a value and returns `None` rather than an inexact result, so
//!   a conversion can never make a comparison wrong; [`Unit::convert_rounded`] is for display.
//!
//! Affine temperature units (`Cel`, `[degF]`) are rejected: only kelvin is supported.

use rust_decimal::Decimal;
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

// ---------------------------------------------------------------------------------------------
// Dimensions
// ---------------------------------------------------------------------------------------------

/// Number of base dimensions.
const N_BASE: usize = 10;

/// Short names of the base dimensions, in exponent order (used by [`Dimension::formula`]).
const BASE_NAMES: [&str; N_BASE] = [
    "mass",
    "length",
    "time",
    "amount",
    "temperature",
    "IU",
    "points",
    "copies",
    "arb. units",
    "pH",
];

/// The physical dimension of a unit: integer exponents over the base dimensions
/// mass (g), length (m), time (s), amount of substance (mol), temperature (K), and the
/// non-convertible dimensions international units (`[IU]`), score points (`points`),
/// copies (`copies`), arbitrary units (`[arb'U]`) and pH (`[pH]`).
///
/// Two units can be converted into each other exactly when their dimensions are equal.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct Dimension {
    exps: [i8; N_BASE],
}

const fn dim(exps: [i8; N_BASE]) -> Dimension {
    Dimension { exps }
}

// Exponent order: [mass, length, time, amount, temperature, IU, points, copies, arb, pH].
const NONE: Dimension = dim([0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
const MASS: Dimension = dim([1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
const LENGTH: Dimension = dim([0, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
const TIME: Dimension = dim([0, 0, 1, 0, 0, 0, 0, 0, 0, 0]);
const AMOUNT: Dimension = dim([0, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
const MASS_PER_AMOUNT: Dimension = dim([1, 0, 0, -1, 0, 0, 0, 0, 0, 0]);
const TEMPERATURE: Dimension = dim([0, 0, 0, 0, 1, 0, 0, 0, 0, 0]);
const IU: Dimension = dim([0, 0, 0, 0, 0, 1, 0, 0, 0, 0]);
const POINTS: Dimension = dim([0, 0, 0, 0, 0, 0, 1, 0, 0, 0]);
const COPIES: Dimension = dim([0, 0, 0, 0, 0, 0, 0, 1, 0, 0]);
const ARBITRARY: Dimension = dim([0, 0, 0, 0, 0, 0, 0, 0, 1, 0]);
const PH: Dimension = dim([0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
const AREA: Dimension = dim([0, 2, 0, 0, 0, 0, 0, 0, 0, 0]);
const VOLUME: Dimension = dim([0, 3, 0, 0, 0, 0, 0, 0, 0, 0]);
const PER_TIME: Dimension = dim([0, 0, -1, 0, 0, 0, 0, 0, 0, 0]);
const PRESSURE: Dimension = dim([1, -1, -2, 0, 0, 0, 0, 0, 0, 0]);
const CATALYTIC: Dimension = dim([0, 0, -1, 1, 0, 0, 0, 0, 0, 0]);
const MOLAR: Dimension = dim([0, -3, 0, 1, 0, 0, 0, 0, 0, 0]);

/// Human names for the dimensions that occur in clinical practice.
const NAMED_DIMENSIONS: &[(Dimension, &str)] = &[
    (NONE, "dimensionless"),
    (MASS, "mass"),
    (LENGTH, "length"),
    (TIME, "time"),
    (AMOUNT, "amount of substance"),
    (TEMPERATURE, "temperature"),
    (IU, "international units"),
    (POINTS, "score points"),
    (COPIES, "copies"),
    (ARBITRARY, "arbitrary units"),
    (PH, "pH"),
    (AREA, "area"),
    (VOLUME, "volume"),
    (PER_TIME, "rate (per time)"),
    (PRESSURE, "pressure"),
    (CATALYTIC, "catalytic activity (amount/time)"),
    (MOLAR, "substance concentration (amount/volume)"),
    (
        dim([1, -3, 0, 0, 0, 0, 0, 0, 0, 0]),
        "mass concentration (mass/volume)",
    ),
    (
        dim([0, -3, 0, 0, 0, 0, 0, 0, 0, 0]),
        "number concentration (count/volume)",
    ),
    (dim([0, 3, -1, 0, 0, 0, 0, 0, 0, 0]), "volume per time"),
    // L³·T⁻¹·L⁻² = L·T⁻¹: a body-surface-normalised flow (eGFR), but also ESR (mm/h).
    (
        dim([0, 1, -1, 0, 0, 0, 0, 0, 0, 0]),
        "volume per time per area (or length per time)",
    ),
    (
        dim([1, -3, -1, 0, 0, 0, 0, 0, 0, 0]),
        "mass concentration per time",
    ),
    (
        dim([-1, 3, -1, 0, 0, 0, 0, 0, 0, 0]),
        "volume per mass per time",
    ),
    (
        dim([0, -3, -1, 1, 0, 0, 0, 0, 0, 0]),
        "catalytic concentration (activity/volume)",
    ),
    (dim([-1, 0, 0, 1, 0, 0, 0, 0, 0, 0]), "amount per mass"),
    (dim([1, 0, -1, 0, 0, 0, 0, 0, 0, 0]), "mass per time"),
    (dim([1, -2, 0, 0, 0, 0, 0, 0, 0, 0]), "mass per area"),
    (
        dim([1, -2, -1, 0, 0, 0, 0, 0, 0, 0]),
        "mass per area per time",
    ),
    (dim([-1, 3, 0, 0, 0, 0, 0, 0, 0, 0]), "volume per mass"),
];

/// Physical denominators used to name "arbitrary per physical" dimensions (`[IU]/mL`).
const PER_NAMES: &[(Dimension, &str)] = &[
    (dim([0, -3, 0, 0, 0, 0, 0, 0, 0, 0]), "volume"),
    (dim([-1, 0, 0, 0, 0, 0, 0, 0, 0, 0]), "mass"),
    (dim([0, 0, -1, 0, 0, 0, 0, 0, 0, 0]), "time"),
    (dim([0, -3, -1, 0, 0, 0, 0, 0, 0, 0]), "volume per time"),
    (dim([-1, 0, -1, 0, 0, 0, 0, 0, 0, 0]), "mass per time"),
];

impl Dimension {
    /// The dimension of pure numbers (`1`, `%`).
    pub const DIMENSIONLESS: Dimension = NONE;

    /// Human words for this dimension, e.g. `"mass concentration (mass/volume)"`,
    /// `"volume per time per area (or length per time)"`, `"dimensionless"`, `"time"`,
    /// `"score points"`,
    /// `"international units per volume"`; unnamed ones fall back to [`Self::formula`].
    pub fn describe(&self) -> String {
        if let Some((_, name)) = NAMED_DIMENSIONS.iter().find(|(d, _)| d == self) {
            return (*name).to_string();
        }
        // One arbitrary dimension (IU, points, copies, ...) over a named physical one.
        let (arbitrary, physical) = self.split_arbitrary();
        if let Some((_, arb_name)) = NAMED_DIMENSIONS.iter().find(|(d, _)| *d == arbitrary) {
            if let Some((_, per)) = PER_NAMES.iter().find(|(d, _)| *d == physical) {
                return format!("{arb_name} per {per}");
            }
        }
        self.formula()
    }

    /// The dimension as a formula over base dimensions, positive exponents first, e.g.
    /// `"mass·length^-3"`; `"1"` for dimensionless.
    pub fn formula(&self) -> String {
        let all = || self.exps.iter().zip(BASE_NAMES.iter());
        let parts: Vec<String> = all()
            .filter(|(e, _)| **e > 0)
            .chain(all().filter(|(e, _)| **e < 0))
            .map(|(e, name)| {
                if *e == 1 {
                    (*name).to_string()
                } else {
                    format!("{name}^{e}")
                }
            })
            .collect();
        if parts.is_empty() {
            "1".to_string()
        } else {
            parts.join("·")
        }
    }

    /// True for pure numbers (`1`, `%`, `[ppm]`, annotations such as `{ratio}`).
    pub fn is_dimensionless(&self) -> bool {
        *self == NONE
    }

    /// Split into (arbitrary part, physical part): the first five exponents are physical.
    fn split_arbitrary(&self) -> (Dimension, Dimension) {
        let mut arbitrary = *self;
        let mut physical = *self;
        for (i, (a, p)) in arbitrary
            .exps
            .iter_mut()
            .zip(physical.exps.iter_mut())
            .enumerate()
        {
            if i < 5 {
                *a = 0;
            } else {
                *p = 0;
            }
        }
        (arbitrary, physical)
    }

    /// The dimension of a product (`None` if an exponent overflows).
    pub fn times(self, other: Dimension) -> Option<Dimension> {
        self.mul(other)
    }

    /// The dimension of a quotient (`None` if an exponent overflows).
    pub fn per(self, other: Dimension) -> Option<Dimension> {
        self.mul(other.pow(-1)?)
    }

    fn mul(self, other: Dimension) -> Option<Dimension> {
        let mut out = self;
        for (o, x) in out.exps.iter_mut().zip(other.exps.iter()) {
            *o = o.checked_add(*x)?;
        }
        Some(out)
    }

    fn pow(self, e: i32) -> Option<Dimension> {
        let mut out = self;
        for o in out.exps.iter_mut() {
            *o = i8::try_from(i32::from(*o).checked_mul(e)?).ok()?;
        }
        Some(out)
    }
}

impl fmt::Display for Dimension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

// ---------------------------------------------------------------------------------------------
// Exact rationals
// ---------------------------------------------------------------------------------------------

/// A positive rational `num/den` in lowest terms (both ≥ 1).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
struct Ratio {
    num: u128,
    den: u128,
}

fn gcd(mut a: u128, mut b: u128) -> u128 {
    while b != 0 {
        let r = a % b;
        a = b;
        b = r;
    }
    a
}

impl Ratio {
    const ONE: Ratio = Ratio { num: 1, den: 1 };

    /// `num/den` reduced; `None` if either is zero.
    fn new(num: u128, den: u128) -> Option<Ratio> {
        if num == 0 || den == 0 {
            return None;
        }
        let g = gcd(num, den);
        Some(Ratio {
            num: num.checked_div(g)?,
            den: den.checked_div(g)?,
        })
    }

    fn mul(self, o: Ratio) -> Option<Ratio> {
        // Cross-reduce first so that the products stay as small as possible.
        let g1 = gcd(self.num, o.den);
        let g2 = gcd(o.num, self.den);
        let num = self
            .num
            .checked_div(g1)?
            .checked_mul(o.num.checked_div(g2)?)?;
        let den = self
            .den
            .checked_div(g2)?
            .checked_mul(o.den.checked_div(g1)?)?;
        Some(Ratio { num, den })
    }

    fn inv(self) -> Ratio {
        Ratio {
            num: self.den,
            den: self.num,
        }
    }

    fn pow(self, e: i32) -> Option<Ratio> {
        let base = if e < 0 { self.inv() } else { self };
        let mut out = Ratio::ONE;
        for _ in 0..e.unsigned_abs() {
            out = out.mul(base)?;
        }
        Some(out)
    }

    /// A non-zero decimal as an exact ratio (its absolute value).
    fn from_decimal(d: Decimal) -> Option<Ratio> {
        Ratio::new(d.mantissa().unsigned_abs(), pow10(d.scale())?)
    }
}

fn pow10(e: u32) -> Option<u128> {
    10u128.checked_pow(e)
}

/// Little-endian base-2^64 product of the given factors (exact, cannot overflow).
fn big_product(factors: &[u128]) -> Vec<u64> {
    let mut acc: Vec<u64> = vec![1];
    for f in factors {
        // Splitting a u128 into its two 64-bit halves is the intended truncation.
        let limbs = [*f as u64, (*f >> 64) as u64];
        let mut out = vec![0u64; acc.len() + limbs.len()];
        for (i, x) in acc.iter().enumerate() {
            let mut carry: u128 = 0;
            let row = limbs.iter().chain(std::iter::once(&0u64));
            for (slot, y) in out.iter_mut().skip(i).zip(row) {
                // (2^64-1)^2 + 2·(2^64-1) = 2^128-1: never overflows.
                let p = u128::from(*x) * u128::from(*y) + u128::from(*slot) + carry;
                *slot = p as u64;
                carry = p >> 64;
            }
        }
        while out.last() == Some(&0) && out.len() > 1 {
            out.pop();
        }
        acc = out;
    }
    acc
}

fn big_cmp(a: &[u64], b: &[u64]) -> Ordering {
    a.len()
        .cmp(&b.len())
        .then_with(|| a.iter().rev().cmp(b.iter().rev()))
}

// ---------------------------------------------------------------------------------------------
// Units
// ---------------------------------------------------------------------------------------------

/// A parsed unit: its dimension, its exact factor to the coherent base units
/// (g, m, s, mol, K; arbitrary dimensions count 1 each) and the text as written.
///
/// Equality compares dimension, factor and offset, not text: `mL/min/{1.73_m2}` ==
/// `mL/min/1.73m2`.
///
/// A temperature on a shifted scale (`Cel`, `[degF]`) is affine: its value in kelvin is
/// `(value + offset) · factor` (`[degF]`: offset 459.67, factor 5/9). Such a unit stands
/// alone (no prefix, exponent or product), so only temperatures themselves convert, never
/// differences or rates.
#[derive(Clone, Debug)]
pub struct Unit {
    dimension: Dimension,
    factor: Ratio,
    /// Added to a value before scaling by `factor`; zero except for affine temperatures.
    offset: Decimal,
    text: String,
}

impl PartialEq for Unit {
    fn eq(&self, other: &Unit) -> bool {
        self.dimension == other.dimension
            && self.factor == other.factor
            && self.offset == other.offset
    }
}

impl Eq for Unit {}

impl Hash for Unit {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.dimension.hash(state);
        self.factor.hash(state);
        self.offset.normalize().hash(state);
    }
}

impl fmt::Display for Unit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Serialised as its text, exactly as written.
impl serde::Serialize for Unit {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

/// Deserialised by [`parse_unit`].
impl<'de> serde::Deserialize<'de> for Unit {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Unit, D::Error> {
        let text = String::deserialize(deserializer)?;
        parse_unit(&text).map_err(serde::de::Error::custom)
    }
}

impl FromStr for Unit {
    type Err = UnitError;
    fn from_str(s: &str) -> Result<Unit, UnitError> {
        parse_unit(s)
    }
}

impl Unit {
    /// The dimension of this unit.
    pub fn dimension(&self) -> Dimension {
        self.dimension
    }

    /// The unit text exactly as the user wrote it.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The exact factor to the coherent base units as `(numerator, denominator)` in lowest
    /// terms, e.g. `mg/dL` → `(10, 1)` (g/m³), `min` → `(60, 1)`, `mmHg` → `(133322, 1)`.
    pub fn factor(&self) -> (u128, u128) {
        (self.factor.num, self.factor.den)
    }

    /// True if this unit is a pure number (`1`, `%`, ...).
    pub fn is_dimensionless(&self) -> bool {
        self.dimension.is_dimensionless()
    }

    /// True if this unit is the number 1: `1` or annotations only (`{score}`, `{points}`),
    /// which UCUM defines as dimensionless factors of one. A score's result in such a unit
    /// reads as points.
    pub fn is_unity(&self) -> bool {
        self.dimension == NONE && self.factor == Ratio::ONE && self.offset.is_zero()
    }

    /// The offset added to a value before scaling by [`Unit::factor`]: zero except for
    /// affine temperatures (`[degF]`: 459.67). The SQL compiler writes comparisons with it.
    pub fn offset(&self) -> Decimal {
        self.offset
    }

    /// True for a temperature on a shifted scale (`Cel`, `[degF]`).
    pub fn is_affine(&self) -> bool {
        !self.offset.is_zero()
    }

    /// True if values in `self` and `other` can be converted into each other.
    pub fn is_commensurable(&self, other: &Unit) -> bool {
        self.dimension == other.dimension
    }

    /// `value` (in `self`) converted into `to`, exactly. `None` if the units are
    /// incommensurable, on overflow, or if the exact result is not representable as a
    /// `Decimal` (e.g. 1 mL/min in mL/s = 1/60): use [`Self::compare`] for decisions and
    /// [`Self::convert_rounded`] for display.
    pub fn convert(&self, value: Decimal, to: &Unit) -> Option<Decimal> {
        if self == to {
            return Some(value);
        }
        let (n, d) = self.conversion_factor(to)?;
        let shifted = value.checked_add(self.offset)?;
        let candidates = [
            shifted.checked_mul(n).and_then(|x| x.checked_div(d)),
            shifted.checked_div(d).and_then(|x| x.checked_mul(n)),
        ];
        candidates
            .into_iter()
            .flatten()
            .filter_map(|c| c.checked_sub(to.offset))
            .find(|c| self.compare(value, to, *c) == Some(Ordering::Equal))
            .map(|c| c.normalize())
    }

    /// `value` (in `self`) converted into `to`, rounded to `Decimal` precision (28 significant
    /// digits) when not exact. For display only; `None` if incommensurable or on overflow.
    pub fn convert_rounded(&self, value: Decimal, to: &Unit) -> Option<Decimal> {
        if let Some(exact) = self.convert(value, to) {
            return Some(exact);
        }
        let (n, d) = self.conversion_factor(to)?;
        value
            .checked_add(self.offset)?
            .checked_mul(n)
            .and_then(|x| x.checked_div(d))
            .and_then(|x| x.checked_sub(to.offset))
            .map(|x| x.normalize())
    }

    /// The factor `self → to` as decimals `(n, d)`, `value_in_to = value · n / d`.
    fn conversion_factor(&self, to: &Unit) -> Option<(Decimal, Decimal)> {
        if !self.is_commensurable(to) {
            return None;
        }
        let r = self.factor.mul(to.factor.inv())?;
        let n = Decimal::try_from_i128_with_scale(i128::try_from(r.num).ok()?, 0).ok()?;
        let d = Decimal::try_from_i128_with_scale(i128::try_from(r.den).ok()?, 0).ok()?;
        Some((n, d))
    }

    /// Compare `a` (in `self`) with `b` (in `b_unit`) exactly, by cross-multiplication of the
    /// rational factors in arbitrary precision (no division, no rounding), so that
    /// 30 mL/min/1.73m2 vs 0.5 mL/s/1.73m2 compares `Equal`. `None` if incommensurable.
    /// Affine temperatures are shifted first (exact decimal addition), so 37.8 `Cel` equals
    /// 100.04 `[degF]`.
    pub fn compare(&self, a: Decimal, b_unit: &Unit, b: Decimal) -> Option<Ordering> {
        if !self.is_commensurable(b_unit) {
            return None;
        }
        // The common case, the same unit on both sides: no scaling.
        if self.factor == b_unit.factor && self.offset == b_unit.offset {
            return Some(a.cmp(&b));
        }
        let a = a.checked_add(self.offset)?;
        let b = b.checked_add(b_unit.offset)?;
        if self.factor == b_unit.factor {
            return Some(a.cmp(&b));
        }
        let (ma, mb) = (a.mantissa(), b.mantissa());
        let (sign_a, sign_b) = (ma.signum(), mb.signum());
        if sign_a != sign_b || sign_a == 0 {
            return Some(sign_a.cmp(&sign_b));
        }
        // a·na/da ? b·nb/db  ⇔  |ma|·na·db·10^sb ? |mb|·nb·da·10^sa  (all positive).
        let lhs = big_product(&[
            ma.unsigned_abs(),
            self.factor.num,
            b_unit.factor.den,
            pow10(b.scale())?,
        ]);
        let rhs = big_product(&[
            mb.unsigned_abs(),
            b_unit.factor.num,
            self.factor.den,
            pow10(a.scale())?,
        ]);
        let ord = big_cmp(&lhs, &rhs);
        Some(if sign_a < 0 { ord.reverse() } else { ord })
    }
}

/// An analyte's molar mass (`molar mass 113.12 g/mol`): converts between its mass
/// concentration (`mg/dL`) and its substance concentration (`umol/L`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MolarMass {
    /// The value, positive.
    pub value: Decimal,
    /// Its unit, a mass per amount of substance (`g/mol`).
    pub unit: Unit,
}

impl MolarMass {
    /// True if `unit` is a mass per amount of substance (commensurable with `g/mol`).
    pub fn is_mass_per_amount(unit: &Unit) -> bool {
        unit.dimension == MASS_PER_AMOUNT
    }

    /// True if values in `a` and `b` can be compared through a molar mass: one is the
    /// other times mass per amount (`mg/dL` and `umol/L`).
    pub fn bridges(a: &Unit, b: &Unit) -> bool {
        b.dimension.mul(MASS_PER_AMOUNT) == Some(a.dimension)
            || a.dimension.mul(MASS_PER_AMOUNT) == Some(b.dimension)
    }
}

impl Unit {
    /// Compare `a` (in `self`) with `b` (in `b_unit`), through the analyte's molar mass
    /// when the units differ by a mass per amount (`mg/dL` vs `umol/L`). Exact: the molar
    /// mass enters the same arbitrary-precision cross-multiplication as the unit factors, so
    /// nothing is divided or rounded. `None` if no conversion applies or on overflow.
    pub fn compare_via(
        &self,
        a: Decimal,
        b_unit: &Unit,
        b: Decimal,
        molar: Option<&MolarMass>,
    ) -> Option<Ordering> {
        if self.is_commensurable(b_unit) {
            return self.compare(a, b_unit, b);
        }
        let m = molar?;
        if b_unit.dimension.mul(m.unit.dimension) == Some(self.dimension) {
            // a (mass side) ? b·M
            compare_scaled(a, self, b, b_unit, m)
        } else if self.dimension.mul(m.unit.dimension) == Some(b_unit.dimension) {
            // a·M ? b (mass side)  ⇔  reverse of  b ? a·M
            compare_scaled(b, b_unit, a, self, m).map(Ordering::reverse)
        } else {
            None
        }
    }
}

impl Unit {
    /// `value` (in `self`) expressed in `to`, for showing a reader the number a comparison
    /// used: directly when commensurable, else through the analyte's molar mass (100 umol/L
    /// creatinine = 1.1312 mg/dL). The flag says whether the number is exact (it may be
    /// rounded to 28 significant digits). Decisions use [`Unit::compare_via`], never this.
    pub fn convert_for_display(
        &self,
        value: Decimal,
        to: &Unit,
        molar: Option<&MolarMass>,
    ) -> Option<(Decimal, bool)> {
        let shown = if self.is_commensurable(to) {
            self.convert_rounded(value, to)?
        } else {
            let m = molar?;
            let mass = Ratio::from_decimal(m.value)?.mul(m.unit.factor)?;
            let (n, d) = if to.dimension.mul(m.unit.dimension) == Some(self.dimension) {
                // self is the mass side: divide by the molar mass.
                let r = self.factor.mul(mass.inv())?.mul(to.factor.inv())?;
                (r.num, r.den)
            } else if self.dimension.mul(m.unit.dimension) == Some(to.dimension) {
                let r = self.factor.mul(mass)?.mul(to.factor.inv())?;
                (r.num, r.den)
            } else {
                return None;
            };
            let n = Decimal::try_from_i128_with_scale(i128::try_from(n).ok()?, 0).ok()?;
            let d = Decimal::try_from_i128_with_scale(i128::try_from(d).ok()?, 0).ok()?;
            let x = value
                .checked_mul(n)
                .and_then(|x| x.checked_div(d))
                .or_else(|| value.checked_div(d).and_then(|x| x.checked_mul(n)))?;
            x.normalize()
        };
        let exact = self.compare_via(value, to, shown, molar) == Some(Ordering::Equal);
        Some((shown, exact))
    }
}

/// `a` (in `a_unit`) compared with `b·M` (in `b_unit · M.unit`), exactly.
fn compare_scaled(
    a: Decimal,
    a_unit: &Unit,
    b: Decimal,
    b_unit: &Unit,
    m: &MolarMass,
) -> Option<Ordering> {
    let (ma, mb, mm) = (a.mantissa(), b.mantissa(), m.value.mantissa());
    let sign_a = ma.signum();
    let sign_b = mb.signum() * mm.signum();
    if sign_a != sign_b || sign_a == 0 {
        return Some(sign_a.cmp(&sign_b));
    }
    // a·fa ? b·fb·m·fm  ⇔  |ma|·fa.num·fb.den·fm.den·10^(sb+sm) ? |mb|·|mm|·fb.num·fm.num·fa.den·10^sa
    let lhs = big_product(&[
        ma.unsigned_abs(),
        a_unit.factor.num,
        b_unit.factor.den,
        m.unit.factor.den,
        pow10(b.scale())?,
        pow10(m.value.scale())?,
    ]);
    let rhs = big_product(&[
        mb.unsigned_abs(),
        mm.unsigned_abs(),
        b_unit.factor.num,
        m.unit.factor.num,
        a_unit.factor.den,
        pow10(a.scale())?,
    ]);
    let ord = big_cmp(&lhs, &rhs);
    Some(if sign_a < 0 { ord.reverse() } else { ord })
}

/// The dimensionless unit `1`.
pub fn dimensionless() -> Unit {
    Unit {
        dimension: NONE,
        factor: Ratio::ONE,
        offset: Decimal::ZERO,
        text: "1".to_string(),
    }
}

/// Why a unit text was rejected. `Display` shows `message` only; render `suggestion`
/// separately (e.g. as "did you mean `mg/dL`?" help), see [`UnitError::help`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct UnitError {
    /// What is wrong, in words for a protocol writer, e.g. "unknown unit atom `mgg`".
    pub message: String,
    /// The closest known unit spelling (the whole unit when possible, e.g. `mg/dL`).
    pub suggestion: Option<String>,
}

impl UnitError {
    /// "did you mean `mg/dL`?" when there is a suggestion.
    pub fn help(&self) -> Option<String> {
        self.suggestion
            .as_ref()
            .map(|s| format!("did you mean `{s}`?"))
    }
}

// ---------------------------------------------------------------------------------------------
// Atoms
// ---------------------------------------------------------------------------------------------

struct Atom {
    name: &'static str,
    /// Accepts SI prefixes.
    metric: bool,
    dimension: Dimension,
    num: u128,
    den: u128,
}

const fn atom(
    name: &'static str,
    metric: bool,
    dimension: Dimension,
    num: u128,
    den: u128,
) -> Atom {
    Atom {
        name,
        metric,
        dimension,
        num,
        den,
    }
}

/// Base units: g, m, s, mol, K. Pressure in g·m⁻¹·s⁻², so 1 Pa = 1000.
const ATOMS: &[Atom] = &[
    atom("g", true, MASS, 1, 1),
    atom("m", true, LENGTH, 1, 1),
    atom("L", true, VOLUME, 1, 1000),
    atom("l", true, VOLUME, 1, 1000),
    atom("s", true, TIME, 1, 1),
    atom("min", false, TIME, 60, 1),
    atom("h", false, TIME, 3600, 1),
    atom("hr", false, TIME, 3600, 1),
    atom("d", false, TIME, 86_400, 1),
    atom("day", false, TIME, 86_400, 1),
    atom("wk", false, TIME, 604_800, 1),
    atom("mo", false, TIME, 2_629_800, 1), // a/12
    atom("a", false, TIME, 31_557_600, 1), // 365.25 d (Julian year)
    atom("yr", false, TIME, 31_557_600, 1),
    atom("mol", true, AMOUNT, 1, 1),
    atom("eq", true, AMOUNT, 1, 1),
    atom("Eq", true, AMOUNT, 1, 1),
    atom("osm", true, AMOUNT, 1, 1),
    atom("Osm", true, AMOUNT, 1, 1),
    atom("M", true, MOLAR, 1000, 1), // mol/L
    atom("K", true, TEMPERATURE, 1, 1),
    atom("[IU]", true, IU, 1, 1),
    atom("IU", true, IU, 1, 1),
    atom("[iU]", true, IU, 1, 1),
    atom("U", true, CATALYTIC, 1, 60_000_000), // umol/min
    atom("kat", true, CATALYTIC, 1, 1),
    atom("Pa", true, PRESSURE, 1000, 1),
    atom("bar", true, PRESSURE, 100_000_000, 1),
    atom("m[Hg]", true, PRESSURE, 133_322_000, 1), // mm[Hg] = 133.322 Pa
    atom("mmHg", false, PRESSURE, 133_322, 1),
    atom("m[H2O]", true, PRESSURE, 9_806_650, 1), // cm[H2O] = 98.0665 Pa
    atom("cmH2O", false, PRESSURE, 196_133, 2),
    atom("[lb_av]", false, MASS, 45_359_237, 100_000),
    atom("lb", false, MASS, 45_359_237, 100_000),
    atom("[in_i]", false, LENGTH, 127, 5000),
    atom("mcg", false, MASS, 1, 1_000_000),
    // "gm" is a common clinical spelling of gram; suggesting `mg` for `gm/dL` would be 1000x off.
    atom("gm", false, MASS, 1, 1),
    atom("points", false, POINTS, 1, 1),
    atom("point", false, POINTS, 1, 1),
    atom("copies", false, COPIES, 1, 1),
    atom("[arb'U]", false, ARBITRARY, 1, 1),
    atom("[pH]", false, PH, 1, 1),
    atom("%", false, NONE, 1, 100),
    atom("[ppm]", false, NONE, 1, 1_000_000),
    atom("[ppb]", false, NONE, 1, 1_000_000_000),
    atom("ppm", false, NONE, 1, 1_000_000),
    atom("ppb", false, NONE, 1, 1_000_000_000),
    atom("bpm", false, PER_TIME, 1, 60),
];

/// SI prefixes as (spelling, exponent of ten); every one that matches is tried.
const PREFIXES: &[(&str, i32)] = &[
    ("da", 1),
    ("k", 3),
    ("h", 2),
    ("d", -1),
    ("c", -2),
    ("m", -3),
    ("u", -6),
    ("mc", -6), // US clinical spelling: mcg, mcL
    ("\u{b5}", -6),
    ("\u{3bc}", -6),
    ("n", -9),
    ("p", -12),
    ("f", -15),
];

/// Temperatures on shifted scales, each standing alone as a whole unit: spellings, the
/// offset added before scaling (in the unit's own degrees) and the factor to kelvin.
/// Celsius: K = C + 273.15; Fahrenheit: K = (F + 459.67)·5/9; Réaumur: K = (Re + 218.52)·5/4.
const AFFINE: &[(&str, &str, u128, u128)] = &[
    ("Cel", "273.15", 1, 1),
    ("degC", "273.15", 1, 1),
    ("[degC]", "273.15", 1, 1),
    ("°C", "273.15", 1, 1),
    ("℃", "273.15", 1, 1),
    ("[degF]", "459.67", 5, 9),
    ("degF", "459.67", 5, 9),
    ("°F", "459.67", 5, 9),
    ("℉", "459.67", 5, 9),
    ("[degRe]", "218.52", 5, 4),
];

/// The affine temperature unit `text` stands for, if it is one.
fn affine(text: &str) -> Option<(Ratio, Decimal)> {
    let (_, offset, num, den) = AFFINE.iter().find(|(name, ..)| *name == text)?;
    Some((
        Ratio::new(*num, *den)?,
        Decimal::from_str_exact(offset).ok()?,
    ))
}

/// The dimension of time (`s`, `d`, `wk`), which durations such as `3 days` have.
pub fn time_dimension() -> Dimension {
    TIME
}

/// Whole units that protocol writers commonly use: the "did you mean" candidates.
const COMMON_UNITS: &str = "\
    mg/dL g/dL g/L mg/L ug/L ng/mL pg/mL ug/mL mmol/L umol/L nmol/L pmol/L mEq/L \
    mL/min/1.73m2 mL/min/{1.73_m2} mL/min mL/s 10*9/L 10*12/L 10*3/uL 10*6/uL /uL /mm3 U/L \
    IU/L [IU]/L mIU/mL [IU]/mL % 1 mg/kg mg/kg/d mg/m2 mg/d ug/kg/min kg g mg ug kg/m2 cm m \
    mm mmHg mm[Hg] kPa cm[H2O] /min {beats}/min s min h d wk mo a points copies/mL fL pg \
    mOsm/kg mmol/mol mg/g mL L K Cel [degF]";

/// Words protocol writers use as if they were units; UCUM writes them as annotations.
const COUNT_WORDS: &str = "\
    cells cell beats beat breaths breath events event episodes episode lesions lesion \
    tablets tablet cigarettes drinks drink";

/// Prefixed atoms offered as suggestions besides the bare atoms.
const COMMON_PREFIXED: &str = "\
    mg ug ng pg kg mL uL dL fL mmol umol nmol pmol mEq mOsm kPa mIU uIU mU kU mm cm km ms \
    mm[Hg] cm[H2O]";

fn lookup_atom(name: &str) -> Option<(Dimension, Ratio)> {
    if let Some(a) = ATOMS.iter().find(|a| a.name == name) {
        return Some((a.dimension, Ratio::new(a.num, a.den)?));
    }
    for (prefix, exp) in PREFIXES {
        let Some(rest) = name.strip_prefix(prefix) else {
            continue;
        };
        if let Some(a) = ATOMS.iter().find(|a| a.metric && a.name == rest) {
            let p = Ratio::new(10, 1)?.pow(*exp)?;
            return Some((a.dimension, Ratio::new(a.num, a.den)?.mul(p)?));
        }
    }
    None
}

/// The spellings of every known atom (without SI prefixes), for documentation and tooling.
pub fn known_atoms() -> Vec<&'static str> {
    ATOMS.iter().map(|a| a.name).collect()
}

/// The common whole units offered as "did you mean" suggestions.
pub fn common_units() -> Vec<&'static str> {
    COMMON_UNITS.split_whitespace().collect()
}

// ---------------------------------------------------------------------------------------------
// Parser
// ---------------------------------------------------------------------------------------------

/// How to find a suggestion for a failure.
enum Hint {
    /// Match the whole text against common units.
    Whole,
    /// The bad atom spans these byte offsets: whole-text match, else fix the atom.
    Atom(usize, usize),
    /// Use this suggestion (possibly none).
    Given(Option<String>),
}

struct Fail {
    message: String,
    hint: Hint,
}

fn fail<T>(message: String, hint: Hint) -> Result<T, Fail> {
    Err(Fail { message, hint })
}

type Term = (Dimension, Ratio);

struct Cursor<'a> {
    text: &'a str,
    rest: &'a str,
}

fn superscript_digit(c: char) -> Option<char> {
    match c {
        '\u{2070}' => Some('0'),
        '\u{b9}' => Some('1'),
        '\u{b2}' => Some('2'),
        '\u{b3}' => Some('3'),
        '\u{2074}'..='\u{2079}' => char::from_u32(u32::from(c) - 0x2074 + u32::from('4')),
        _ => None,
    }
}

fn is_atom_char(c: char) -> bool {
    c.is_alphabetic() || matches!(c, '%' | '\'' | '°' | '℃' | '℉' | '[')
}

impl<'a> Cursor<'a> {
    fn pos(&self) -> usize {
        self.text.len() - self.rest.len()
    }

    fn peek(&self) -> Option<char> {
        self.rest.chars().next()
    }

    fn peek2(&self) -> Option<char> {
        self.rest.chars().nth(1)
    }

    fn bump(&mut self) -> Option<char> {
        let mut it = self.rest.chars();
        let c = it.next()?;
        self.rest = it.as_str();
        Some(c)
    }

    /// Consume characters while `f` holds and return them.
    fn take_while(&mut self, f: impl Fn(char) -> bool) -> &'a str {
        let end = self.rest.find(|c: char| !f(c)).unwrap_or(self.rest.len());
        match self.rest.split_at_checked(end) {
            Some((taken, rest)) => {
                self.rest = rest;
                taken
            }
            None => "",
        }
    }

    /// `digits [. digits]` as an exact decimal.
    fn number(&mut self) -> Result<Decimal, Fail> {
        let start = self.rest;
        self.take_while(|c| c.is_ascii_digit());
        if self.peek() == Some('.') && self.peek2().is_some_and(|c| c.is_ascii_digit()) {
            self.bump();
            self.take_while(|c| c.is_ascii_digit());
        }
        let len = start.len() - self.rest.len();
        let s = start.get(..len).unwrap_or_default();
        match Decimal::from_str_exact(s) {
            Ok(d) if !d.is_zero() => Ok(d),
            Ok(_) => fail(format!("a unit cannot have the factor `{s}`"), Hint::Whole),
            Err(_) => fail(
                format!("the number `{s}` in the unit is too long"),
                Hint::Whole,
            ),
        }
    }

    /// An optional exponent: `[^][+|-]digits` or superscripts (`²`, `⁻¹`).
    fn exponent(&mut self) -> Result<Option<i32>, Fail> {
        let caret = self.peek() == Some('^');
        if caret {
            self.bump();
        }
        let mut s = String::new();
        match self.peek() {
            Some(c @ ('+' | '-')) => {
                self.bump();
                s.push(c);
            }
            Some(c @ ('\u{207a}' | '\u{207b}')) => {
                self.bump();
                s.push(if c == '\u{207a}' { '+' } else { '-' });
            }
            _ => {}
        }
        while let Some(c) = self.peek() {
            let digit = if c.is_ascii_digit() {
                Some(c)
            } else {
                superscript_digit(c)
            };
            let Some(d) = digit else { break };
            self.bump();
            s.push(d);
        }
        if s.is_empty() && !caret {
            return Ok(None);
        }
        if !s.chars().any(|c| c.is_ascii_digit()) {
            return fail(
                "an exponent (`^`, `+` or `-`) must be followed by digits".to_string(),
                Hint::Whole,
            );
        }
        match s.parse::<i32>() {
            Ok(e) if e.abs() <= 64 => Ok(Some(e)),
            _ => fail(format!("the exponent `{s}` is too large"), Hint::Whole),
        }
    }

    /// An optional `{annotation}`: dimensionless, except `{1.73_m2}` and `{copies}`.
    fn annotation(&mut self) -> Result<Term, Fail> {
        if self.peek() != Some('{') {
            return Ok((NONE, Ratio::ONE));
        }
        self.bump();
        let content = self.take_while(|c| c != '}' && c != '{');
        if self.bump() != Some('}') {
            return fail(
                "unclosed `{` annotation in the unit".to_string(),
                Hint::Whole,
            );
        }
        match content {
            "1.73_m2" | "1.73m2" => Ok((AREA, Ratio::new(173, 100).ok_or_else(overflow)?)),
            "copies" | "copy" => Ok((COPIES, Ratio::ONE)),
            _ => Ok((NONE, Ratio::ONE)),
        }
    }

    /// One factor of the product: annotation, power of ten, number, or
    /// `[multiplier] atom [exponent]`, each optionally followed by an annotation.
    fn term(&mut self) -> Result<Term, Fail> {
        let Some(first) = self.peek() else {
            return fail("the unit ends with an operator".to_string(), Hint::Whole);
        };
        if first == '{' {
            return self.annotation();
        }
        // `x10^9`, `×10*9`: the "times ten to the" spelling of powers of ten.
        if matches!(first, 'x' | 'X' | '×') {
            let mut after = self.rest.chars().skip(1);
            let ten = after.next() == Some('1') && after.next() == Some('0');
            if ten
                && after
                    .next()
                    .is_some_and(|c| matches!(c, '*' | '^') || superscript_digit(c).is_some())
            {
                self.bump();
            }
        }
        let mut term: Term = (NONE, Ratio::ONE);
        if self.peek().is_some_and(|c| c.is_ascii_digit()) {
            let n = self.number()?;
            let power_marker = matches!(self.peek(), Some('*' | '^'))
                && self.peek2().is_some_and(|c| {
                    c.is_ascii_digit() || matches!(c, '+' | '-') || superscript_digit(c).is_some()
                });
            let superscript = self.peek().is_some_and(|c| superscript_digit(c).is_some());
            if n == Decimal::TEN && n.scale() == 0 && (power_marker || superscript) {
                if self.peek() == Some('*') {
                    self.bump();
                }
                let e = self.exponent()?.unwrap_or(1);
                let f = Ratio::new(10, 1).ok_or_else(overflow)?.pow(e);
                term.1 = f.ok_or_else(overflow)?;
                return self.with_annotation(term);
            }
            if matches!(self.peek(), Some('e' | 'E'))
                && self.peek2().is_some_and(|c| c.is_ascii_digit() || c == '-')
            {
                return self.scientific(n);
            }
            term.1 = Ratio::from_decimal(n).ok_or_else(overflow)?;
            if !self.peek().is_some_and(is_atom_char) {
                return self.with_annotation(term);
            }
        }
        let start = self.pos();
        let name = self.atom_name()?;
        let end = self.pos();
        if name.is_empty() {
            let found = self.peek().map(String::from).unwrap_or_default();
            return fail(
                format!("expected a unit (such as `mg` or `L`) but found `{found}`"),
                Hint::Whole,
            );
        }
        if AFFINE.iter().any(|(a, ..)| *a == name) {
            return fail(
                format!(
                    "`{name}` is a temperature on a shifted scale: it stands alone as the \
                     whole unit (eligc converts temperatures, not their differences or rates)"
                ),
                Hint::Given(None),
            );
        }
        let Some((d, f)) = lookup_atom(name) else {
            let before_percent = name
                .strip_suffix('%')
                .filter(|b| lookup_atom(b).is_some_and(|(d, _)| d == MASS));
            if let Some(mass) = before_percent {
                let fixed = format!("{mass}/dL");
                return fail(
                    format!(
                        "`{name}` is ambiguous (it historically meant per decilitre): \
                         write the unit explicitly, e.g. `{fixed}`"
                    ),
                    Hint::Given(Some(fixed)),
                );
            }
            if COUNT_WORDS.split_whitespace().any(|w| w == name) {
                let fixed = self.text.get(..start).zip(self.text.get(end..));
                return fail(
                    format!(
                        "unknown unit atom `{name}`: counted things are annotations in braces, \
                         `{{{name}}}`"
                    ),
                    Hint::Given(fixed.map(|(a, b)| format!("{a}{{{name}}}{b}"))),
                );
            }
            return fail(
                format!("unknown unit atom `{name}`"),
                Hint::Atom(start, end),
            );
        };
        let e = self.exponent()?.unwrap_or(1);
        let d = d.pow(e).ok_or_else(overflow)?;
        let f = f.pow(e).ok_or_else(overflow)?;
        term = (d, term.1.mul(f).ok_or_else(overflow)?);
        self.with_annotation(term)
    }

    /// `1e9`: not UCUM; explain and suggest `10*9` in its place.
    fn scientific<T>(&mut self, n: Decimal) -> Result<T, Fail> {
        let end_of_number = self.pos();
        self.bump();
        let exp = self.take_while(|c| c.is_ascii_digit() || c == '-');
        let fixed = if n == Decimal::ONE && n.scale() == 0 {
            let before = self.text.get(..end_of_number.saturating_sub(1));
            before.map(|b| format!("{b}10*{exp}{}", self.rest))
        } else {
            None
        };
        fail(
            format!(
                "scientific notation `{n}e{exp}` is not allowed in a unit: \
                 write powers of ten as `10*{exp}` or `10^{exp}`"
            ),
            Hint::Given(fixed),
        )
    }

    fn with_annotation(&mut self, term: Term) -> Result<Term, Fail> {
        let (d, f) = self.annotation()?;
        Ok((
            term.0.mul(d).ok_or_else(overflow)?,
            term.1.mul(f).ok_or_else(overflow)?,
        ))
    }

    /// Letters, `%`, `'`, `°` and `[...]` groups (`mm[Hg]`, `[IU]`); also `cmH2O`.
    fn atom_name(&mut self) -> Result<&'a str, Fail> {
        let start = self.rest;
        if let Some(after) = start.strip_prefix("cmH2O") {
            if !after.chars().next().is_some_and(char::is_alphanumeric) {
                self.rest = after;
                return Ok("cmH2O");
            }
        }
        while let Some(c) = self.peek() {
            if c == '[' {
                self.take_while(|c| c != ']');
                if self.bump() != Some(']') {
                    return fail("unclosed `[` in the unit".to_string(), Hint::Whole);
                }
            } else if is_atom_char(c) {
                self.bump();
            } else {
                break;
            }
        }
        let len = start.len() - self.rest.len();
        Ok(start.get(..len).unwrap_or_default())
    }
}

fn overflow() -> Fail {
    Fail {
        message: "the unit's scale factor is too large or too small to handle exactly".to_string(),
        hint: Hint::Given(None),
    }
}

fn parse_inner(text: &str) -> Result<Term, Fail> {
    if text.is_empty() {
        return fail(
            "empty unit: write `1` for a dimensionless quantity".to_string(),
            Hint::Given(None),
        );
    }
    if text.chars().any(char::is_whitespace) {
        let joined: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        let suggestion = parse_inner(&joined).ok().map(|_| joined);
        return fail(
            "whitespace is not allowed inside a unit".to_string(),
            Hint::Given(suggestion),
        );
    }
    let mut cur = Cursor { text, rest: text };
    let mut acc: Term = (NONE, Ratio::ONE);
    let mut divide = false;
    if cur.peek() == Some('/') {
        cur.bump();
        divide = true;
    }
    loop {
        let (d, f) = cur.term()?;
        let (d, f) = if divide {
            (d.pow(-1).ok_or_else(overflow)?, f.inv())
        } else {
            (d, f)
        };
        acc = (
            acc.0.mul(d).ok_or_else(overflow)?,
            acc.1.mul(f).ok_or_else(overflow)?,
        );
        match cur.bump() {
            None => return Ok(acc),
            Some('.' | '*') => divide = false,
            Some('/') => divide = true,
            Some(c) => {
                let before = text.get(..cur.pos().saturating_sub(c.len_utf8()));
                return fail(
                    format!(
                        "unexpected `{c}` after `{}`: join units with `.`, `*` or `/`",
                        before.unwrap_or_default()
                    ),
                    Hint::Whole,
                );
            }
        }
    }
}

fn best_match<'c>(
    word: &str,
    candidates: impl IntoIterator<Item = &'c str>,
    threshold: f64,
) -> Option<&'c str> {
    let lower = word.to_lowercase();
    let mut best: Option<(&str, f64)> = None;
    for c in candidates {
        let exact = strsim::normalized_damerau_levenshtein(word, c);
        let folded = strsim::normalized_damerau_levenshtein(&lower, &c.to_lowercase()) * 0.99;
        let score = exact.max(folded);
        if c != word && score >= threshold && best.is_none_or(|(_, s)| score > s) {
            best = Some((c, score));
        }
    }
    best.map(|(c, _)| c)
}

fn suggest(text: &str, hint: Hint) -> Option<String> {
    let whole = || best_match(text, COMMON_UNITS.split_whitespace(), 0.75).map(str::to_string);
    match hint {
        Hint::Given(s) => s,
        Hint::Whole => whole(),
        Hint::Atom(start, end) => whole().or_else(|| {
            let bad = text.get(start..end)?;
            // Common spellings first: ties go to the earlier candidate.
            let atoms = COMMON_PREFIXED
                .split_whitespace()
                .chain(ATOMS.iter().map(|a| a.name));
            let fix = best_match(bad, atoms, 0.6)?;
            let fixed = format!("{}{fix}{}", text.get(..start)?, text.get(end..)?);
            if parse_inner(&fixed).is_ok() {
                Some(fixed)
            } else {
                Some(fix.to_string())
            }
        }),
    }
}

/// Parse a unit text (UCUM subset plus common clinical spellings).
///
/// Syntax: atoms joined by `.` or `*` (multiply) and `/` (divide, left-associative:
/// `mg/kg/d` = mg·kg⁻¹·d⁻¹); a leading `/` (`/uL`); integer exponents (`m2`, `s-1`, `m^2`,
/// `m²`); powers of ten `10*9`, `10^9`, `x10^9`, `10⁹`; a decimal multiplier on an atom
/// (`1.73m2`); SI prefixes k h da d c m u µ μ mc n p f on metric atoms; brace annotations
/// are dimensionless factors of one, as UCUM defines them (`{cells}/uL` = `/uL`, `{score}` =
/// `1`), except `{1.73_m2}` (= `1.73m2`) and `{copies}` (= `copies`). Temperatures on
/// shifted scales (`Cel`, `[degF]`, `degC`, `°F`, ...) are whole units on their own. No
/// whitespace. See [`known_atoms`] for the atoms.
pub fn parse_unit(text: &str) -> Result<Unit, UnitError> {
    if let Some((factor, offset)) = affine(text) {
        return Ok(Unit {
            dimension: TEMPERATURE,
            factor,
            offset,
            text: text.to_string(),
        });
    }
    match parse_inner(text) {
        Ok((dimension, factor)) => Ok(Unit {
            dimension,
            factor,
            offset: Decimal::ZERO,
            text: text.to_string(),
        }),
        Err(Fail { message, hint }) => Err(UnitError {
            message,
            suggestion: suggest(text, hint),
        }),
    }
}
