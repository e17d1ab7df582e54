//! Small statistics helpers, integer-only so reports are exactly reproducible (the
//! median of a histogram is in `throughput.rs`).

/// `part / whole` in whole percent, rounded half up; `None` when `whole` is 0.
pub fn percent(part: u32, whole: u32) -> Option<u32> {
    (whole > 0).then(|| (part * 200 + whole) / (2 * whole))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percents() {
        assert_eq!(percent(1, 3), Some(33));
        assert_eq!(percent(2, 3), Some(67));
        assert_eq!(percent(1, 0), None);
    }
}
