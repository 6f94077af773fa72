//! Do the methods' kernel metrics differ beyond seed noise once the component every image
//! shares is gone? (ours, issue #29). For one metric in one view of a kernel (as is, centred,
//! top removed: `glh_ntk::views`), each method's difference from Random at each sparsity,
//! `S(M) - S(random)` on the means over seeds, gets a 95% seed-bootstrap interval; a cell lies
//! beyond seed noise when its interval excludes 0. The report counts those cells: a metric
//! that separates the methods as is but not once centred measured the shared component, not
//! the masks.

use super::paper::{Means, SeedValues, seed_bootstrap};
use crate::stats::Interval;

/// One metric's differences from Random in one view.
#[derive(Clone, Debug, PartialEq)]
pub struct Separation {
    /// `(method, sparsity, S(method) - S(random) [interval])`, in the order asked.
    pub cells: Vec<(String, f64, Interval)>,
}

impl Separation {
    /// The cells whose interval excludes 0.
    pub fn beyond_noise(&self) -> usize {
        self.cells
            .iter()
            .filter(|(_, _, i)| i.low > 0.0 || i.high < 0.0)
            .count()
    }

    /// `beyond / cells`, as the report writes it.
    pub fn count_text(&self) -> String {
        format!("{} / {}", self.beyond_noise(), self.cells.len())
    }
}

/// Metric 0 of `sample`: each of `methods`' difference from Random at each of `sparsities`
/// where both have values.
pub fn separation(
    sample: &SeedValues,
    methods: &[&str],
    sparsities: &[f64],
    b: usize,
    seed: u64,
) -> Separation {
    let point = sample.means();
    let at = |m: &Means, name: &str, s: f64| m.get(&(name.to_string(), s.to_bits())).map(|v| v[0]);
    let mut cells = Vec::new();
    for &method in methods {
        for &s in sparsities {
            let difference = |m: &Means| Some(at(m, method, s)? - at(m, "random", s)?);
            if let Some(i) = seed_bootstrap(sample, &point, difference, b, seed) {
                cells.push((method.to_string(), s, i));
            }
        }
    }
    Separation { cells }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three seeds of Random and SNIP at two sparsities: SNIP is `gap` above Random, each seed
    /// shifted by `noise` (seed - 1), the same shift for both methods or opposite ones.
    fn sample(gap: f64, noise: f64, shared: bool) -> SeedValues {
        let mut s = SeedValues::default();
        for sparsity in [0.5, 0.9] {
            for seed in 0..3u64 {
                let shift = noise * (seed as f64 - 1.0);
                s.insert("random", sparsity, seed, vec![1.0 + shift]);
                let own = if shared { shift } else { -shift };
                s.insert("snip", sparsity, seed, vec![1.0 + gap + own]);
            }
        }
        s
    }

    #[test]
    fn a_gap_beyond_the_seed_noise_is_counted_and_one_within_it_is_not() {
        let count = |s: &SeedValues| separation(s, &["snip"], &[0.5, 0.9], 500, 0).beyond_noise();
        // A shift every method of a seed shares cancels in the difference.
        assert_eq!(count(&sample(0.01, 0.5, true)), 2);
        // Opposite shifts of 0.5 swamp a gap of 0.01: every resample's sign can flip.
        assert_eq!(count(&sample(0.01, 0.5, false)), 0);
        // No gap, no noise: the interval is the point 0, not beyond it.
        assert_eq!(count(&sample(0.0, 0.0, true)), 0);
        // A method or sparsity without runs gives no cell.
        let s = separation(
            &sample(0.1, 0.0, true),
            &["snip", "synflow"],
            &[0.5, 0.7],
            100,
            0,
        );
        assert_eq!(s.cells.len(), 1);
        assert_eq!(s.count_text(), "1 / 1");
        assert!((s.cells[0].2.estimate - 0.1).abs() < 1e-12);
    }
}
