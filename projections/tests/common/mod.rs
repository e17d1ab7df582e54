//! An independent auditor for protected tables: plain constraint search over what a
//! reader knows (shown values, the bounds `"<N"` and `"x"` imply, the line equations),
//! deliberately *not* the cycle method of `disclosure.rs`.
//!
//! For each hidden cell it looks for a table consistent with everything shown in which
//! that cell has another value than the true one. Protected cells are capped at the
//! true grand total + 1: a cap only removes solutions, so a cell the auditor can move
//! can really be moved (the auditor can only err toward "pinned", never toward "safe").

#![allow(dead_code)]

use stod_projections::disclosure::{Breakdown, Cell, CrossTable};

/// Σ coef·x = 0 over the listed cells.
type Line = Vec<(usize, i64)>;

struct System {
    domains: Vec<(i64, i64)>,
    lines: Vec<Line>,
    /// Lines each cell is on.
    on: Vec<Vec<usize>>,
}

impl System {
    fn new(domains: Vec<(i64, i64)>, lines: Vec<Line>) -> Self {
        let mut on = vec![Vec::new(); domains.len()];
        for (l, line) in lines.iter().enumerate() {
            for (c, _) in line {
                on[*c].push(l);
            }
        }
        System { domains, lines, on }
    }

    /// Can the line still be satisfied, given the cells assigned so far?
    fn line_ok(&self, l: usize, assigned: &[Option<i64>]) -> bool {
        let (mut lo, mut hi) = (0i64, 0i64);
        for &(c, k) in &self.lines[l] {
            let (a, b) = match assigned[c] {
                Some(v) => (v, v),
                None => self.domains[c],
            };
            let (a, b) = if k > 0 { (k * a, k * b) } else { (k * b, k * a) };
            lo += a;
            hi += b;
        }
        lo <= 0 && 0 <= hi
    }

    fn search(&self, order: &[usize], at: usize, assigned: &mut Vec<Option<i64>>, truth: &[i64]) -> bool {
        let Some(&c) = order.get(at) else { return true };
        let (lo, hi) = self.domains[c];
        // Values nearest the true one first: an alternative is usually a small step.
        let mut values: Vec<i64> = (lo..=hi).collect();
        values.sort_by_key(|v| (v - truth[c]).abs());
        for v in values {
            assigned[c] = Some(v);
            if self.on[c].iter().all(|&l| self.line_ok(l, assigned)) && self.search(order, at + 1, assigned, truth) {
                return true;
            }
        }
        assigned[c] = None;
        false
    }

    /// Whether cell `c` can take a value other than `truth[c]`.
    fn movable(&self, c: usize, truth: &[i64]) -> bool {
        let free: Vec<usize> =
            (0..self.domains.len()).filter(|&i| i != c && self.domains[i].0 < self.domains[i].1).collect();
        let (lo, hi) = self.domains[c];
        let mut values: Vec<i64> = (lo..=hi).filter(|v| *v != truth[c]).collect();
        values.sort_by_key(|v| (v - truth[c]).abs());
        for v in values {
            let mut assigned: Vec<Option<i64>> =
                self.domains.iter().map(|(a, b)| if a == b { Some(*a) } else { None }).collect();
            assigned[c] = Some(v);
            if self.on[c].iter().all(|&l| self.line_ok(l, &assigned)) && self.search(&free, 0, &mut assigned, truth) {
                return true;
            }
        }
        false
    }
}

fn domain(cell: Cell, min: u32, cap: u32) -> (i64, i64) {
    match cell {
        Cell::Shown(v) => (i64::from(v), i64::from(v)),
        Cell::Small { below } => (1, i64::from(below) - 1),
        Cell::Protected => (i64::from(min), i64::from(cap.max(min))),
    }
}

/// Checks one published cell against its true value: (a) nothing shown in 1..min-1,
/// (b) shown = true, small in 1..=min-1, protected >= min.
pub fn assert_cell(cell: Cell, truth: u32, min: u32) {
    match cell {
        Cell::Shown(v) => {
            assert_eq!(v, truth);
            assert!(min <= 1 || v == 0 || v >= min, "{v} shown below {min}");
        }
        Cell::Small { below } => {
            assert_eq!(below, min);
            assert!((1..min).contains(&truth), "<{min} hides {truth}");
        }
        Cell::Protected => assert!(truth >= min, "x hides {truth} below {min}"),
    }
}

/// (a), (b) for every cell and (c): every hidden cell can take two values, unless its
/// own bounds allow one only (`<2`) or every non-zero cell is hidden (then nothing more
/// could be hidden; what remains is the threshold's own doing).
fn audit(cells: &[Cell], truth: &[u32], lines: Vec<Line>, min: u32, cap: u32) {
    assert_eq!(cells.len(), truth.len());
    for (c, t) in cells.iter().zip(truth) {
        assert_cell(*c, *t, min);
    }
    if cells.iter().zip(truth).all(|(c, t)| c.is_hidden() || *t == 0) {
        return;
    }
    let system = System::new(cells.iter().map(|c| domain(*c, min, cap)).collect(), lines);
    let truth: Vec<i64> = truth.iter().map(|t| i64::from(*t)).collect();
    for (i, c) in cells.iter().enumerate() {
        let (lo, hi) = system.domains[i];
        if c.is_hidden() && lo < hi {
            assert!(
                system.movable(i, &truth),
                "cell {i} ({c}, truly {}) can be worked out: {cells:?} truth {truth:?}",
                truth[i]
            );
        }
    }
}

/// Cells of a cross table as an (R+1)×(C+1) grid, row-major, margins last.
pub fn cross_grid(t: &CrossTable) -> Vec<Cell> {
    let mut out = Vec::new();
    for r in &t.rows {
        out.extend(&r.cells);
        out.push(r.total);
    }
    out.extend(&t.column_totals);
    out.push(t.total);
    out
}

/// True values in the same layout as [`cross_grid`].
pub fn true_grid(counts: &[Vec<u32>], columns: usize) -> Vec<u32> {
    let mut out = Vec::new();
    let mut bottom = vec![0u32; columns + 1];
    for row in counts {
        let total: u32 = row.iter().sum();
        out.extend(row);
        out.push(total);
        for (j, v) in row.iter().chain([&total]).enumerate() {
            bottom[j] += v;
        }
    }
    out.extend(bottom);
    out
}

pub fn audit_cross(counts: &[Vec<u32>], t: &CrossTable, min: u32) {
    let (r, c) = (counts.len(), t.columns.len());
    assert_eq!(t.rows.len(), r);
    let w = c + 1;
    let mut lines = Vec::new();
    for i in 0..=r {
        let mut line: Line = (0..c).map(|j| (i * w + j, 1)).collect();
        line.push((i * w + c, -1));
        lines.push(line);
    }
    for j in 0..=c {
        let mut line: Line = (0..r).map(|i| (i * w + j, 1)).collect();
        line.push((r * w + j, -1));
        lines.push(line);
    }
    let truth = true_grid(counts, c);
    let cap = truth.last().copied().unwrap_or(0) + 1;
    audit(&cross_grid(t), &truth, lines, min, cap);
}

pub fn audit_breakdown(values: &[u32], additive: bool, b: &Breakdown, min: u32) {
    assert_eq!(b.rows.len(), values.len());
    let mut cells: Vec<Cell> = b.rows.iter().map(|r| r.count).collect();
    let mut truth = values.to_vec();
    let mut lines = Vec::new();
    let total: u32 = values.iter().sum();
    if additive {
        let t = b.total.expect("an additive table has a total");
        cells.push(t);
        truth.push(total);
        let mut line: Line = (0..values.len()).map(|i| (i, 1)).collect();
        line.push((values.len(), -1));
        lines.push(line);
    } else {
        assert_eq!(b.total, None);
    }
    audit(&cells, &truth, lines, min, total + 1);
}
