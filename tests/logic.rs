#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)] // tests fail by panicking
//! Kleene's three-valued logic: the laws that hold for it, checked over every combination.

use eligc::eval::Truth;
use proptest::prelude::*;

fn truth() -> impl Strategy<Value = Truth> {
    prop_oneof![Just(Truth::True), Just(Truth::False), Just(Truth::Unknown)]
}

proptest! {
    #[test]
    fn and_and_or_are_commutative(a in truth(), b in truth()) {
        prop_assert_eq!(a.and(b), b.and(a));
        prop_assert_eq!(a.or(b), b.or(a));
    }

    #[test]
    fn and_and_or_are_associative(a in truth(), b in truth(), c in truth()) {
        prop_assert_eq!(a.and(b).and(c), a.and(b.and(c)));
        prop_assert_eq!(a.or(b).or(c), a.or(b.or(c)));
    }

    #[test]
    fn de_morgan_holds(a in truth(), b in truth()) {
        prop_assert_eq!(a.and(b).not(), a.not().or(b.not()));
        prop_assert_eq!(a.or(b).not(), a.not().and(b.not()));
    }

    #[test]
    fn double_negation_is_identity(a in truth()) {
        prop_assert_eq!(a.not().not(), a);
    }

    #[test]
    fn and_and_or_distribute(a in truth(), b in truth(), c in truth()) {
        prop_assert_eq!(a.and(b.or(c)), a.and(b).or(a.and(c)));
        prop_assert_eq!(a.or(b.and(c)), a.or(b).and(a.or(c)));
    }

    #[test]
    fn absorption_holds(a in truth(), b in truth()) {
        prop_assert_eq!(a.and(a.or(b)), a);
        prop_assert_eq!(a.or(a.and(b)), a);
    }

    #[test]
    fn true_and_false_are_identities(a in truth()) {
        prop_assert_eq!(a.and(Truth::True), a);
        prop_assert_eq!(a.or(Truth::False), a);
        prop_assert_eq!(a.and(Truth::False), Truth::False);
        prop_assert_eq!(a.or(Truth::True), Truth::True);
    }

    #[test]
    fn all_and_any_fold_like_and_and_or(items in proptest::collection::vec(truth(), 0..6)) {
        let folded_and = items.iter().fold(Truth::True, |acc, t| acc.and(*t));
        let folded_or = items.iter().fold(Truth::False, |acc, t| acc.or(*t));
        prop_assert_eq!(Truth::all(items.clone()), folded_and);
        prop_assert_eq!(Truth::any(items), folded_or);
    }
}

#[test]
fn the_tables_are_kleenes() {
    use Truth::{False as F, True as T, Unknown as U};
    // and: false dominates, then unknown.
    let and = [[T, F, U], [F, F, F], [U, F, U]];
    let or = [[T, T, T], [T, F, U], [T, U, U]];
    for (i, a) in [T, F, U].into_iter().enumerate() {
        for (j, b) in [T, F, U].into_iter().enumerate() {
            assert_eq!(a.and(b), and[i][j], "{a:?} and {b:?}");
            assert_eq!(a.or(b), or[i][j], "{a:?} or {b:?}");
        }
    }
    assert_eq!(U.not(), U);
    // Excluded middle fails: "unknown or not unknown" is unknown.
    assert_eq!(U.or(U.not()), U);
}
