//! Correlations and their bootstrap confidence intervals.
//!
//! Pearson's r on the values; Spearman's rho is Pearson's r on ranks, ties given their average
//! rank. Bootstrap intervals resample the points (or, for E3, whole seeds, each seed's points
//! together) with replacement from the stream `reporting/bootstrap` of a seed, and report the
//! 2.5% and 97.5% percentiles of the resampled statistic (resamples whose statistic is
//! undefined, a constant sample, are skipped and counted).

use glh_artifacts::seeding::stream;
use rand::RngExt;
use rand_chacha::ChaCha8Rng;

/// Pearson's correlation; NaN if either sample is constant or shorter than 2.
pub fn pearson(x: &[f64], y: &[f64]) -> f64 {
    assert_eq!(x.len(), y.len(), "paired samples");
    let n = x.len() as f64;
    if x.len() < 2 {
        return f64::NAN;
    }
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx) * (a - mx);
        syy += (b - my) * (b - my);
    }
    if sxx == 0.0 || syy == 0.0 {
        return f64::NAN;
    }
    sxy / (sxx * syy).sqrt()
}

/// 1-based ranks, ties sharing their average rank.
pub fn ranks(x: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..x.len()).collect();
    order.sort_by(|&a, &b| x[a].total_cmp(&x[b]));
    let mut r = vec![0.0; x.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && x[order[j + 1]] == x[order[i]] {
            j += 1;
        }
        let average = (i + j) as f64 / 2.0 + 1.0;
        for &k in &order[i..=j] {
            r[k] = average;
        }
        i = j + 1;
    }
    r
}

/// Spearman's rank correlation.
pub fn spearman(x: &[f64], y: &[f64]) -> f64 {
    pearson(&ranks(x), &ranks(y))
}

/// Ranks within each stratum (`strata[i]` is the stratum of sample i), each centred on its
/// stratum's mean rank: what is left of x once its stratum is accounted for. Pearson on two
/// such vectors is the within-strata (pooled) Spearman correlation, the partial rank
/// correlation that controls for a categorical variable such as the sparsity.
pub fn centred_ranks_within(x: &[f64], strata: &[u64]) -> Vec<f64> {
    assert_eq!(x.len(), strata.len(), "one stratum per sample");
    let mut out = vec![0.0; x.len()];
    let mut members: std::collections::BTreeMap<u64, Vec<usize>> = Default::default();
    for (i, &s) in strata.iter().enumerate() {
        members.entry(s).or_default().push(i);
    }
    for idx in members.values() {
        let values: Vec<f64> = idx.iter().map(|&i| x[i]).collect();
        let r = ranks(&values);
        let mean = (idx.len() as f64 + 1.0) / 2.0;
        for (k, &i) in idx.iter().enumerate() {
            out[i] = r[k] - mean;
        }
    }
    out
}

/// A statistic with its bootstrap percentile interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Interval {
    /// The statistic on the full sample.
    pub estimate: f64,
    /// 2.5% percentile of the resampled statistic.
    pub low: f64,
    /// 97.5% percentile.
    pub high: f64,
    /// Resamples used (undefined ones skipped).
    pub resamples: usize,
}

/// The bootstrap interval of `statistic(x, y)` resampling `groups` (indices into x and y; each
/// group is drawn whole) `b` times.
pub fn bootstrap(
    x: &[f64],
    y: &[f64],
    groups: &[Vec<usize>],
    statistic: fn(&[f64], &[f64]) -> f64,
    b: usize,
    seed: u64,
) -> Interval {
    percentile_interval(statistic(x, y), b, seed, |rng| {
        let (mut xs, mut ys) = (Vec::new(), Vec::new());
        for _ in 0..groups.len() {
            let g = &groups[rng.random_range(0..groups.len())];
            xs.extend(g.iter().map(|&i| x[i]));
            ys.extend(g.iter().map(|&i| y[i]));
        }
        Some(statistic(&xs, &ys))
    })
}

/// The 2.5% and 97.5% percentiles of `b` resampled statistics around `estimate`: `resample`
/// draws one resample from the stream `reporting/bootstrap` of `seed` and returns its statistic
/// (`None` or a non-finite value when undefined: skipped, and not counted in `resamples`).
pub fn percentile_interval(
    estimate: f64,
    b: usize,
    seed: u64,
    mut resample: impl FnMut(&mut ChaCha8Rng) -> Option<f64>,
) -> Interval {
    let mut rng = stream(seed, "reporting/bootstrap");
    let mut values: Vec<f64> = (0..b)
        .filter_map(|_| resample(&mut rng))
        .filter(|v| v.is_finite())
        .collect();
    values.sort_by(f64::total_cmp);
    let pick = |q: f64| {
        if values.is_empty() {
            f64::NAN
        } else {
            values[((q * (values.len() - 1) as f64).round()) as usize]
        }
    };
    Interval {
        estimate,
        low: pick(0.025),
        high: pick(0.975),
        resamples: values.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monotone_data_has_spearman_one() {
        let x: Vec<f64> = (0..20).map(f64::from).collect();
        let y: Vec<f64> = x.iter().map(|v| v.powi(3) + 1.0).collect();
        assert!((spearman(&x, &y) - 1.0).abs() < 1e-15);
        let down: Vec<f64> = x.iter().map(|v| (-v).exp()).collect();
        assert!((spearman(&x, &down) + 1.0).abs() < 1e-15);
        assert!(pearson(&x, &y) < 1.0);
    }

    #[test]
    fn pearson_of_a_line_and_a_known_value() {
        let x = [1.0, 2.0, 3.0, 4.0];
        assert!((pearson(&x, &[3.0, 5.0, 7.0, 9.0]) - 1.0).abs() < 1e-15);
        // Hand computation: x - 2.5 = (-1.5, -.5, .5, 1.5), y - 2.5 = (-1.5, .5, -.5, 1.5):
        // sxy = 2.25 - .25 - .25 + 2.25 = 4, sxx = syy = 5, r = 0.8.
        assert!((pearson(&x, &[1.0, 3.0, 2.0, 4.0]) - 0.8).abs() < 1e-15);
        assert!(pearson(&x, &[1.0; 4]).is_nan());
    }

    #[test]
    fn within_strata_ranks_remove_a_confounding_stratum() {
        // Within each stratum y falls with x, but the strata shift y up as x grows: pooled,
        // the correlation is positive; within strata it is exactly -1.
        let x = [1.0, 2.0, 3.0, 11.0, 12.0, 13.0];
        let y = [3.0, 2.0, 1.0, 13.0, 12.0, 11.0];
        let strata = [0, 0, 0, 1, 1, 1];
        assert!(spearman(&x, &y) > 0.0);
        let (cx, cy) = (
            centred_ranks_within(&x, &strata),
            centred_ranks_within(&y, &strata),
        );
        assert_eq!(cx, [-1.0, 0.0, 1.0, -1.0, 0.0, 1.0]);
        assert!((pearson(&cx, &cy) + 1.0).abs() < 1e-15);
    }

    #[test]
    fn ties_share_average_ranks() {
        assert_eq!(ranks(&[10.0, 20.0, 10.0, 5.0]), vec![2.5, 4.0, 2.5, 1.0]);
    }

    #[test]
    fn bootstrap_interval_brackets_and_degenerates() {
        let x: Vec<f64> = (0..30).map(f64::from).collect();
        let y: Vec<f64> = x.iter().map(|v| v * 2.0).collect();
        let groups: Vec<Vec<usize>> = (0..30).map(|i| vec![i]).collect();
        let i = bootstrap(&x, &y, &groups, spearman, 500, 1);
        assert_eq!((i.estimate, i.low, i.high), (1.0, 1.0, 1.0));
        // Noisy data: the interval contains the estimate and is not a point.
        let noisy: Vec<f64> = x
            .iter()
            .map(|v| v + 15.0 * ((v * 12.9898).sin() * 43758.5453).fract())
            .collect();
        let j = bootstrap(&x, &noisy, &groups, pearson, 1000, 2);
        assert!(j.low < j.estimate && j.estimate < j.high, "{j:?}");
        assert_eq!(j, bootstrap(&x, &noisy, &groups, pearson, 1000, 2));
    }
}
