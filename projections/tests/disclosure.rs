//! Small-count protection: hand examples worked out on paper, and properties checked
//! against an independent brute-force auditor (`common/mod.rs`).

// Test code: a failed unwrap is a failed test, with its backtrace.
#![allow(clippy::unwrap_used)]

mod common;

use proptest::prelude::*;
use stod_projections::disclosure::{protect_breakdown, protect_count, protect_cross, Breakdown, Cell, CrossTable};

use common::{audit_breakdown, audit_cross, cross_grid};

const SMALL: Cell = Cell::Small { below: 5 };
const X: Cell = Cell::Protected;

fn keyed(values: &[u32]) -> Vec<(String, u32)> {
    values.iter().enumerate().map(|(i, v)| (format!("r{i}"), *v)).collect()
}

fn counts_of(b: &Breakdown) -> Vec<Cell> {
    b.rows.iter().map(|r| r.count).collect()
}

fn keys(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i}")).collect()
}

fn cross(counts: &[Vec<u32>], min: u32) -> CrossTable {
    let columns = counts.first().map_or(0, Vec::len);
    protect_cross(&keys("r", counts.len()), &keys("c", columns), counts, min)
}

#[test]
fn two_small_cells_next_to_their_sum_are_protected_by_hiding_the_next_smallest() {
    // [1, 1, 10 | 12]: the two "<5" add up to 12 - 10 = 2, and each is at least 1, so
    // both are 1. Hide the 10 (the smallest shown row; rows go before the total):
    // now x0 + x1 + x2 = 12 with x0, x1 in 1..=4 and x2 >= 5 has (1, 1, 10),
    // (2, 1, 9), (1, 2, 9), ...: no cell is pinned. The total stays shown.
    let b = protect_breakdown(&keyed(&[1, 1, 10]), Some(12), 5);
    assert_eq!(counts_of(&b), [SMALL, SMALL, X]);
    assert_eq!(b.total, Some(Cell::Shown(12)));
    audit_breakdown(&[1, 1, 10], true, &b, 5);
}

#[test]
fn one_small_cell_in_a_two_way_table_costs_an_interior_rectangle() {
    // [3 10 | 13]
    // [8  9 | 17]
    // [11 19 | 30]
    // The 3 is 13 - 10. Hiding 8 (the smaller of its row/column neighbours) pins the
    // 8 as 17 - 9, so the 9 goes; then 3 is still 13 - 10, so the 10 goes. With all
    // four interior cells hidden, +1 -1 +1 -1 around the rectangle keeps every line:
    // (4, 9, 7, 10) is consistent with the margins, so nothing is pinned and every
    // margin stays shown.
    let t = cross(&[vec![3, 10], vec![8, 9]], 5);
    assert_eq!(t.rows[0].cells, [SMALL, X]);
    assert_eq!(t.rows[1].cells, [X, X]);
    assert_eq!((t.rows[0].total, t.rows[1].total), (Cell::Shown(13), Cell::Shown(17)));
    assert_eq!(t.column_totals, [Cell::Shown(11), Cell::Shown(19)]);
    assert_eq!(t.total, Cell::Shown(30));
    audit_cross(&[vec![3, 10], vec![8, 9]], &t, 5);
}

#[test]
fn a_threshold_of_one_shows_everything() {
    let b = protect_breakdown(&keyed(&[1, 2, 0]), Some(3), 1);
    assert_eq!(counts_of(&b), [Cell::Shown(1), Cell::Shown(2), Cell::Shown(0)]);
    assert_eq!(b.total, Some(Cell::Shown(3)));
    let t = cross(&[vec![1, 2], vec![0, 3]], 0);
    assert!(cross_grid(&t).iter().all(|c| !c.is_hidden()));
    assert_eq!(protect_count(1, 1), Cell::Shown(1));
    assert_eq!(protect_count(4, 5), SMALL);
    assert_eq!(protect_count(5, 5), Cell::Shown(5));
}

#[test]
fn zeros_are_shown() {
    // [0, 3, 0 | 3]: the 3 and the total are "<5"; the zeros stay. Reader: x = t, both
    // 1..=4, so x is not pinned (1 = 1, 2 = 2, ...).
    let b = protect_breakdown(&keyed(&[0, 3, 0]), Some(3), 5);
    assert_eq!(counts_of(&b), [Cell::Shown(0), SMALL, Cell::Shown(0)]);
    assert_eq!(b.total, Some(SMALL));
    assert_eq!(protect_count(0, 5), Cell::Shown(0));
    let t = cross(&[vec![0, 0], vec![0, 7]], 5);
    assert!(cross_grid(&t).iter().all(|c| !c.is_hidden()));
}

#[test]
fn a_table_of_small_counts_hides_them_all() {
    // [1, 2, 1 | 4]: all "<5". x0 = t - x1 - x2 <= 4 - 2 = 2, so x0 is 1 or 2: not
    // pinned; likewise the others (and t in 3..=4).
    let b = protect_breakdown(&keyed(&[1, 2, 1]), Some(4), 5);
    assert_eq!(counts_of(&b), [SMALL; 3]);
    assert_eq!(b.total, Some(SMALL));
    audit_breakdown(&[1, 2, 1], true, &b, 5);

    // Two-way, all interior small, grand total 5 shown.
    let counts = [vec![1, 2], vec![1, 1]];
    let t = cross(&counts, 5);
    assert!(t.rows.iter().all(|r| r.cells.iter().all(Cell::is_hidden)));
    audit_cross(&counts, &t, 5);
}

#[test]
fn where_the_threshold_itself_gives_a_table_away_everything_non_zero_is_hidden() {
    // [1, 1 | 2] with min 3: x0, x1, t all in 1..=2 and x0 + x1 = t force all three to
    // (1, 1, 2). Zeros are shown and nothing else is left to hide; the table is
    // published fully hidden (documented limit of the display rules).
    let b = protect_breakdown(&keyed(&[1, 1]), Some(2), 3);
    assert_eq!(counts_of(&b), [Cell::Small { below: 3 }; 2]);
    assert_eq!(b.total, Some(Cell::Small { below: 3 }));
}

#[test]
fn non_additive_tables_get_primary_suppression_only() {
    let b = protect_breakdown(&keyed(&[1, 9, 12]), None, 5);
    assert_eq!(counts_of(&b), [SMALL, Cell::Shown(9), Cell::Shown(12)]);
    assert_eq!(b.total, None);
}

#[test]
fn published_tables_round_trip_through_json() {
    let t = cross(&[vec![3, 10], vec![8, 9]], 5);
    let json = serde_json::to_string(&t).unwrap();
    assert!(json.contains(r#""cells":["<5","x"]"#), "{json}");
    assert_eq!(serde_json::from_str::<CrossTable>(&json).unwrap(), t);
    let b = protect_breakdown(&keyed(&[1, 1, 10]), Some(12), 5);
    assert_eq!(serde_json::from_str::<Breakdown>(&serde_json::to_string(&b).unwrap()).unwrap(), b);
}

fn table() -> impl Strategy<Value = (Vec<Vec<u32>>, u32)> {
    (1usize..=4, 1usize..=3, 2u32..=6)
        .prop_flat_map(|(r, c, min)| (prop::collection::vec(prop::collection::vec(0u32..=12, c), r), Just(min)))
}

fn one_way() -> impl Strategy<Value = (Vec<u32>, u32)> {
    (prop::collection::vec(0u32..=12, 1..=6), 2u32..=6)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn cross_tables_hide_small_counts_and_cannot_be_worked_out((counts, min) in table()) {
        let t = cross(&counts, min);
        audit_cross(&counts, &t, min);
    }

    #[test]
    fn additive_breakdowns_hide_small_counts_and_cannot_be_worked_out((values, min) in one_way()) {
        let total = values.iter().sum();
        let b = protect_breakdown(&keyed(&values), Some(total), min);
        audit_breakdown(&values, true, &b, min);
    }

    #[test]
    fn non_additive_breakdowns_hide_small_counts((values, min) in one_way()) {
        let b = protect_breakdown(&keyed(&values), None, min);
        audit_breakdown(&values, false, &b, min);
    }
}
