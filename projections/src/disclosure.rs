//! Small-count protection (statistical disclosure control) for figures that leave the
//! system: the steering group's status and the funder's follow-up.
//!
//! In a small town "2 women aged 60–64 left for a job" identifies people, so counts
//! from 1 to `min - 1` are published as `"<min"` (*primary suppression*). That alone is
//! not enough: if a row shows `<5, 3, 10` and a total of 15, the hidden cell is 2.
//! *Secondary suppression* hides further cells (as `"x"`) until no hidden cell can be
//! worked out from what is shown.
//!
//! # What a reader knows
//!
//! - a shown cell exactly;
//! - a `Small` cell is in `1..=min-1` (zeros are always shown, so it is not 0);
//! - a `Protected` cell is at least `min` (only shown non-zero cells are ever chosen
//!   for secondary suppression, and every non-zero cell below `min` is already small);
//! - the line equations: each row adds up to its row total, each column to its column
//!   total, and the totals to the grand total.
//!
//! A hidden cell is *pinned* if only one value of it is consistent with all of that
//! (a `Small` cell with `min = 2` is always 1: that is the threshold's own choice, not
//! something secondary suppression can help, so it does not count as pinned).
//! Secondary suppression repeats, until no hidden cell is pinned: hide the smallest
//! shown non-zero cell on a line of some pinned cell (interior cells before margins;
//! if those lines have none left, anywhere in the table), check again. Every step hides one more cell, so it ends. If a cell is
//! still pinned when every non-zero cell is hidden, nothing more can be done within
//! these display rules (zeros are shown); that happens only for tables so small that
//! the threshold itself gives them away, e.g. `[<3, <3 | <3]`.
//!
//! Tables are protected one at a time. Where two tables share a total (all the
//! person breakdowns of a throughput report), [`crate::published`] hides the shared
//! total in all of them if any one hides it.

use std::fmt;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The threshold used when none is configured: Arbetsförmedlingen's "<5".
pub const DEFAULT_MIN_COUNT: u32 = 5;

/// A published count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cell {
    Shown(u32),
    /// Primary suppression: 1..=below-1 persons. Displays "<{below}".
    Small {
        below: u32,
    },
    /// Secondary suppression: hidden so a small cell can't be computed. Displays "x".
    Protected,
}

impl Cell {
    /// The count, if shown.
    pub fn value(&self) -> Option<u32> {
        match self {
            Cell::Shown(n) => Some(*n),
            _ => None,
        }
    }

    pub fn is_hidden(&self) -> bool {
        !matches!(self, Cell::Shown(_))
    }
}

impl fmt::Display for Cell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cell::Shown(n) => write!(f, "{n}"),
            Cell::Small { below } => write!(f, "<{below}"),
            Cell::Protected => f.write_str("x"),
        }
    }
}

/// A shown count is a JSON number (so spreadsheets and charts take it as is); a hidden
/// one is the string a reader sees: `"<5"` or `"x"`.
impl Serialize for Cell {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Cell::Shown(n) => s.serialize_u32(*n),
            hidden => s.collect_str(hidden),
        }
    }
}

impl<'de> Deserialize<'de> for Cell {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct CellVisitor;
        impl Visitor<'_> for CellVisitor {
            type Value = Cell;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a count, \"<N\" or \"x\"")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Cell, E> {
                u32::try_from(v).map(Cell::Shown).map_err(|_| E::custom(format!("count {v} out of range")))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Cell, E> {
                u32::try_from(v).map(Cell::Shown).map_err(|_| E::custom(format!("count {v} out of range")))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Cell, E> {
                if v == "x" {
                    return Ok(Cell::Protected);
                }
                v.strip_prefix('<')
                    .and_then(|n| n.parse().ok())
                    .map(|below| Cell::Small { below })
                    .ok_or_else(|| E::custom(format!("{v:?} is not a count, \"<N\" or \"x\"")))
            }
        }
        d.deserialize_any(CellVisitor)
    }
}

/// A one-way table. `additive`: the rows add up to `total` (every person in exactly one row),
/// so secondary suppression applies; non-additive (a person may be in several rows, e.g. sites)
/// gets primary suppression only and `total: None`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Breakdown {
    pub rows: Vec<BreakdownRow>,
    pub total: Option<Cell>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BreakdownRow {
    pub key: String,
    pub count: Cell,
}

/// A two-way table with both margins (e.g. age band × gender).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrossTable {
    pub columns: Vec<String>,
    pub rows: Vec<CrossRow>,
    pub column_totals: Vec<Cell>,
    pub total: Cell,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrossRow {
    pub key: String,
    pub cells: Vec<Cell>,
    pub total: Cell,
}

/// Primary suppression only, for a lone figure that no published equation ties to
/// other figures.
pub fn protect_count(n: u32, min: u32) -> Cell {
    if min > 1 && (1..min).contains(&n) {
        Cell::Small { below: min }
    } else {
        Cell::Shown(n)
    }
}

/// Protects a one-way table. `total: Some(t)` means the rows add up to `t` (additive:
/// secondary suppression applies); `None` means they need not (primary only).
pub fn protect_breakdown(rows: &[(String, u32)], total: Option<u32>, min: u32) -> Breakdown {
    protect_breakdown_with(rows, total, min, false)
}

/// As [`protect_breakdown`]; with `hide_total` the total is hidden from the start
/// (for tables that share a total with another table that had to hide it).
pub(crate) fn protect_breakdown_with(
    rows: &[(String, u32)],
    total: Option<u32>,
    min: u32,
    hide_total: bool,
) -> Breakdown {
    let Some(total) = total else {
        return Breakdown {
            rows: rows.iter().map(|(k, v)| BreakdownRow { key: k.clone(), count: protect_count(*v, min) }).collect(),
            total: None,
        };
    };
    debug_assert_eq!(
        rows.iter().map(|(_, v)| u64::from(*v)).sum::<u64>(),
        u64::from(total),
        "rows must add up to the total"
    );
    let mut values: Vec<u32> = rows.iter().map(|(_, v)| *v).collect();
    values.push(total);
    let n = rows.len();
    let forced: &[usize] = if hide_total { &[n] } else { &[] };
    let cells = suppress(&OneWay { rows: n }, &values, min, forced);
    Breakdown {
        rows: rows.iter().zip(&cells).map(|((k, _), c)| BreakdownRow { key: k.clone(), count: *c }).collect(),
        total: cells.get(n).copied(),
    }
}

/// Protects a two-way table; the margins are computed here from `counts`
/// (`counts[row][column]`; a short row counts as zeros).
pub fn protect_cross(row_keys: &[String], columns: &[String], counts: &[Vec<u32>], min: u32) -> CrossTable {
    protect_cross_with(row_keys, columns, counts, min, &[])
}

/// As [`protect_cross`]; the bottom-margin cells in `hide_bottom` (column totals by
/// column index, the grand total as index `columns.len()`) are hidden from the start
/// (for tables that share those margins with another table that had to hide them).
pub(crate) fn protect_cross_with(
    row_keys: &[String],
    columns: &[String],
    counts: &[Vec<u32>],
    min: u32,
    hide_bottom: &[usize],
) -> CrossTable {
    let (r, c) = (row_keys.len(), columns.len());
    let w = c + 1;
    let at = |i: usize, j: usize| counts.get(i).and_then(|row| row.get(j)).copied().unwrap_or(0);
    // (r+1) x (c+1), row-major: interior, row totals in the last column, column totals
    // in the last row, the grand total in the corner.
    let mut values = vec![0u32; (r + 1) * w];
    for i in 0..r {
        for j in 0..c {
            let v = at(i, j);
            values[i * w + j] = v;
            values[i * w + c] += v;
            values[r * w + j] += v;
            values[r * w + c] += v;
        }
    }
    let forced: Vec<usize> = hide_bottom.iter().filter(|&&j| j <= c).map(|j| r * w + j).collect();
    let cells = suppress(&TwoWay { rows: r, columns: c }, &values, min, &forced);
    CrossTable {
        columns: columns.to_vec(),
        rows: row_keys
            .iter()
            .enumerate()
            .map(|(i, k)| CrossRow { key: k.clone(), cells: cells[i * w..i * w + c].to_vec(), total: cells[i * w + c] })
            .collect(),
        column_totals: cells[r * w..r * w + c].to_vec(),
        total: cells[r * w + c],
    }
}

/// Protects two-way tables that share their bottom margin (the same column totals and
/// grand total, e.g. exits by SUS group and exits by support source): a margin cell
/// hidden in one is hidden in all, or the other table would give it away.
pub(crate) fn protect_cross_linked<const N: usize>(
    tables: [(&[String], &[Vec<u32>]); N],
    columns: &[String],
    min: u32,
) -> [CrossTable; N] {
    let mut forced: Vec<usize> = Vec::new();
    loop {
        let out = tables.map(|(rows, counts)| protect_cross_with(rows, columns, counts, min, &forced));
        let mut hidden: Vec<usize> = out
            .iter()
            .flat_map(|t| {
                t.column_totals.iter().chain([&t.total]).enumerate().filter(|(_, c)| c.is_hidden()).map(|(j, _)| j)
            })
            .collect();
        hidden.sort_unstable();
        hidden.dedup();
        // Forcing only ever adds hidden cells, so this settles.
        if hidden == forced {
            return out;
        }
        forced = hidden;
    }
}

/// Protects one-way additive tables that share their total (e.g. persons by
/// municipality and persons by gender): if one must hide the total, all do.
pub(crate) fn protect_breakdowns_linked<const N: usize>(
    tables: [&[(String, u32)]; N],
    total: u32,
    min: u32,
) -> [Breakdown; N] {
    let out = tables.map(|rows| protect_breakdown_with(rows, Some(total), min, false));
    if out.iter().all(|b| b.total.is_some_and(|c| !c.is_hidden())) {
        return out;
    }
    tables.map(|rows| protect_breakdown_with(rows, Some(total), min, true))
}

/// What the reader can tell of a hidden cell's value: `lo..=hi`. "Unbounded" is a
/// number far above any count, so sums stay exact in `i128`.
const UNBOUNDED: i128 = 1 << 60;

fn bounds(cell: Cell, value: u32, min: u32) -> (i128, i128) {
    match cell {
        Cell::Shown(_) => (i128::from(value), i128::from(value)),
        Cell::Small { .. } => (1, i128::from(min) - 1),
        Cell::Protected => (i128::from(min), UNBOUNDED),
    }
}

/// The shape of a table: which cells share a line and how to tell a pinned cell.
trait Shape {
    /// Interior cell (not a margin): hidden first, since hiding a margin costs the
    /// reader more.
    fn is_interior(&self, idx: usize) -> bool;
    /// Cells sharing a line (row or column) with `idx`.
    fn on_lines_of(&self, idx: usize) -> Vec<usize>;
    /// Whether hidden cell `idx` has only one value consistent with what is shown.
    fn pinned(&self, b: &[(i128, i128)], values: &[u32], idx: usize) -> bool;
}

/// Primary suppression, then secondary until nothing is pinned (see the module doc).
fn suppress(shape: &impl Shape, values: &[u32], min: u32, forced: &[usize]) -> Vec<Cell> {
    if min <= 1 {
        return values.iter().map(|v| Cell::Shown(*v)).collect();
    }
    let mut cells: Vec<Cell> = values.iter().map(|v| protect_count(*v, min)).collect();
    for &i in forced {
        if values[i] > 0 && !cells[i].is_hidden() {
            cells[i] = Cell::Protected;
        }
    }
    let hideable = |cells: &[Cell], i: usize| !cells[i].is_hidden() && values[i] > 0;
    loop {
        let b: Vec<(i128, i128)> = cells.iter().zip(values).map(|(c, v)| bounds(*c, *v, min)).collect();
        // A cell whose bounds already allow one value only (`<2`) is the threshold's
        // doing; nothing hidden here would change it.
        let pinned: Vec<usize> = (0..cells.len())
            .filter(|&i| cells[i].is_hidden() && b[i].0 < b[i].1 && shape.pinned(&b, values, i))
            .collect();
        if pinned.is_empty() {
            return cells;
        }
        // The best cell on the lines of any pinned cell: looking at all of them, not
        // just the first, finds the interior rectangle `[<5 x | x x]` before it
        // reaches for a margin.
        let mut candidates: Vec<usize> =
            pinned.iter().flat_map(|&p| shape.on_lines_of(p)).filter(|&i| hideable(&cells, i)).collect();
        if candidates.is_empty() {
            candidates = (0..cells.len()).filter(|&i| hideable(&cells, i)).collect();
        }
        match candidates.into_iter().min_by_key(|&i| (!shape.is_interior(i), values[i], i)) {
            Some(i) => cells[i] = Cell::Protected,
            None => return cells,
        }
    }
}

/// `rows` cells, then the total at index `rows`: one equation, Σ rows = total.
struct OneWay {
    rows: usize,
}

impl Shape for OneWay {
    fn is_interior(&self, idx: usize) -> bool {
        idx < self.rows
    }

    fn on_lines_of(&self, idx: usize) -> Vec<usize> {
        (0..=self.rows).filter(|&i| i != idx).collect()
    }

    /// Exact: with Σ sᵢxᵢ = 0 (s = +1 for rows, -1 for the total) and every other cell
    /// anywhere in its integer interval, their signed sum takes every integer in
    /// `[lo, hi]`, so the cell's feasible values are an interval too.
    fn pinned(&self, b: &[(i128, i128)], _values: &[u32], idx: usize) -> bool {
        let sign = |i: usize| if i < self.rows { 1 } else { -1 };
        let (mut lo, mut hi) = (0i128, 0i128);
        for (i, &(l, h)) in b.iter().enumerate().filter(|(i, _)| *i != idx) {
            if sign(i) > 0 {
                (lo, hi) = (lo + l, hi + h);
            } else {
                (lo, hi) = (lo - h, hi - l);
            }
        }
        // s·x + rest = 0.
        let (flo, fhi) = if sign(idx) > 0 { (-hi, -lo) } else { (lo, hi) };
        let (l, h) = b[idx];
        flo.max(l) >= fhi.min(h)
    }
}

/// An (R+1)×(C+1) table, row-major: interior `R×C`, row totals in column `C`, column
/// totals in row `R`, the grand total at `(R, C)`.
///
/// # The pin check
///
/// Write the table as `z`: `z = x` inside and at the grand total, `z = -x` at the row
/// and column totals. Then every row and every column of `z` sums to 0, so any other
/// table consistent with the shown cells differs from the true one by a *circulation*
/// `d` on the bipartite graph with a node per row, a node per column and an edge per
/// hidden cell (row sums and column sums of `d` are 0). By conformal decomposition, `d`
/// is a sum of simple cycles whose signs agree with `d` on every edge, and each such
/// cycle with unit steps alone is again within the reader's bounds (the bounds are
/// intervals, the steps only move toward the alternative). So a hidden cell is not
/// pinned exactly when some simple cycle through it can take a unit step: along the
/// cycle, edges alternate `+s` (leaving a row node) and `-s` (leaving a column node),
/// and a step on `z` is a step on `x` of the same sign inside, the opposite sign on a
/// margin. For each sign `s`: breadth-first search from the cell's column node back to
/// its row node over steps the bounds allow.
struct TwoWay {
    rows: usize,
    columns: usize,
}

impl TwoWay {
    fn width(&self) -> usize {
        self.columns + 1
    }

    /// +1 where `z = x`, -1 where `z = -x`.
    fn sign(&self, i: usize, j: usize) -> i128 {
        if (i < self.rows) == (j < self.columns) {
            1
        } else {
            -1
        }
    }

    /// Whether `z` of hidden cell (i, j) may move by `step` (±1) within its bounds.
    fn can_step(&self, b: &[(i128, i128)], values: &[u32], i: usize, j: usize, step: i128) -> bool {
        let idx = i * self.width() + j;
        let x = i128::from(values[idx]) + self.sign(i, j) * step;
        b[idx].0 < b[idx].1 && b[idx].0 <= x && x <= b[idx].1
    }
}

impl Shape for TwoWay {
    fn is_interior(&self, idx: usize) -> bool {
        idx / self.width() < self.rows && idx % self.width() < self.columns
    }

    fn on_lines_of(&self, idx: usize) -> Vec<usize> {
        let w = self.width();
        let (i, j) = (idx / w, idx % w);
        let row = (0..w).filter(|&c| c != j).map(|c| i * w + c);
        let column = (0..=self.rows).filter(|&r| r != i).map(|r| r * w + j);
        row.chain(column).collect()
    }

    fn pinned(&self, b: &[(i128, i128)], values: &[u32], idx: usize) -> bool {
        let w = self.width();
        let (n_rows, n_cols) = (self.rows + 1, self.columns + 1);
        let (ei, ej) = (idx / w, idx % w);
        // Shown cells have lo == hi, so `can_step` also says "hidden".
        for s in [1i128, -1] {
            if !self.can_step(b, values, ei, ej, s) {
                continue;
            }
            // Nodes: rows 0..n_rows, then columns n_rows..n_rows+n_cols.
            let mut seen = vec![false; n_rows + n_cols];
            let mut queue = std::collections::VecDeque::from([n_rows + ej]);
            seen[n_rows + ej] = true;
            while let Some(node) = queue.pop_front() {
                let next: Vec<usize> = if node < n_rows {
                    // Row node: leave along (node, c) with +s.
                    (0..n_cols)
                        .filter(|&c| (node, c) != (ei, ej) && self.can_step(b, values, node, c, s))
                        .map(|c| n_rows + c)
                        .collect()
                } else {
                    // Column node: leave along (r, c) with -s.
                    let c = node - n_rows;
                    (0..n_rows).filter(|&r| (r, c) != (ei, ej) && self.can_step(b, values, r, c, -s)).collect()
                };
                for m in next {
                    if m == ei {
                        return false;
                    }
                    if !seen[m] {
                        seen[m] = true;
                        queue.push_back(m);
                    }
                }
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Every value each cell takes over all tables consistent with what the reader
    /// knows (Protected capped at `cap`), by plain enumeration with line pruning.
    fn brute_force(w: usize, r: usize, b: &[(i128, i128)], cap: i128) -> Vec<std::collections::BTreeSet<i128>> {
        let c = w - 1;
        let lines: Vec<Vec<(usize, i128)>> = (0..=r)
            .map(|i| (0..=c).map(|j| (i * w + j, if j == c { -1 } else { 1 })).collect())
            .chain((0..=c).map(|j| (0..=r).map(|i| (i * w + j, if i == r { -1 } else { 1 })).collect()))
            .collect();
        let dom: Vec<(i128, i128)> = b.iter().map(|&(l, h)| (l, h.min(cap))).collect();
        let mut seen = vec![std::collections::BTreeSet::new(); b.len()];
        let mut x: Vec<Option<i128>> = vec![None; b.len()];
        fn go(
            k: usize,
            dom: &[(i128, i128)],
            lines: &[Vec<(usize, i128)>],
            x: &mut Vec<Option<i128>>,
            seen: &mut [std::collections::BTreeSet<i128>],
        ) {
            let ok = |x: &[Option<i128>]| {
                lines.iter().all(|line| {
                    let (mut lo, mut hi) = (0, 0);
                    for &(i, s) in line {
                        let (a, b) = x[i].map_or(dom[i], |v| (v, v));
                        let (a, b) = if s > 0 { (a, b) } else { (-b, -a) };
                        (lo, hi) = (lo + a, hi + b);
                    }
                    lo <= 0 && 0 <= hi
                })
            };
            if k == dom.len() {
                for (i, v) in x.iter().enumerate() {
                    seen[i].extend(*v);
                }
                return;
            }
            for v in dom[k].0..=dom[k].1 {
                x[k] = Some(v);
                if ok(x) {
                    go(k + 1, dom, lines, x, seen);
                }
            }
            x[k] = None;
        }
        go(0, &dom, &lines, &mut x, &mut seen);
        seen
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// The cycle test is exact: for any pattern of hidden cells, a cell is pinned
        /// by it iff enumeration finds a single value.
        #[test]
        fn the_cycle_pin_check_agrees_with_enumeration(
            (r, c, values, hide, min) in (1usize..=2, 1usize..=2, 2u32..=4).prop_flat_map(|(r, c, min)| {
                let n = (r + 1) * (c + 1);
                (Just(r), Just(c), prop::collection::vec(0u32..=5, r * c), prop::collection::vec(any::<bool>(), n), Just(min))
            })
        ) {
            let w = c + 1;
            let mut grid = vec![0u32; (r + 1) * w];
            for i in 0..r {
                for j in 0..c {
                    let v = values[i * c + j];
                    grid[i * w + j] = v;
                    grid[i * w + c] += v;
                    grid[r * w + j] += v;
                    grid[r * w + c] += v;
                }
            }
            let cells: Vec<Cell> = grid.iter().zip(&hide).map(|(&v, &h)| match protect_count(v, min) {
                Cell::Shown(v) if h && v > 0 => Cell::Protected,
                other => other,
            }).collect();
            let b: Vec<(i128, i128)> = cells.iter().zip(&grid).map(|(c, v)| bounds(*c, *v, min)).collect();
            let cap = i128::from(grid[(r + 1) * w - 1]) + 1;
            let seen = brute_force(w, r, &b, cap);
            let shape = TwoWay { rows: r, columns: c };
            for i in 0..grid.len() {
                if cells[i].is_hidden() && b[i].0 < b[i].1 {
                    prop_assert_eq!(shape.pinned(&b, &grid, i), seen[i].len() == 1, "cell {} of {:?} {:?}", i, cells, grid);
                }
            }
        }
    }

    #[test]
    fn cells_display_and_round_trip_through_json() {
        let cells = [Cell::Shown(12), Cell::Shown(0), Cell::Small { below: 5 }, Cell::Protected];
        let shown: Vec<String> = cells.iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["12", "0", "<5", "x"]);
        let json = serde_json::to_string(&cells).unwrap_or_default();
        assert_eq!(json, r#"[12,0,"<5","x"]"#);
        let back: Vec<Cell> = serde_json::from_str(&json).unwrap_or_default();
        assert_eq!(back, cells);
        assert!(serde_json::from_str::<Cell>(r#""5""#).is_err());
        assert!(serde_json::from_str::<Cell>("-1").is_err());
    }
}
