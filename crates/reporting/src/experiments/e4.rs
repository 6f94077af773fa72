//! E4's two claims (ours, beyond the paper), each a function of the dynamics stage's `errors`
//! rows, tested on synthetic rows:
//!
//! - [`predicts_training`]: the mask-level Graphon NTK predicts gradient descent with an error
//!   falling with width. Per method, the least-squares slope of `ln(mean curve error)` on
//!   `ln(width)` over the widths (mean over seeds at each). Supported when every method's slope
//!   is negative and its error at the largest width is below [`PREDICTS_WITHIN`] of the initial
//!   loss; refuted when a slope is not negative; inconclusive otherwise (falling, but still
//!   above the threshold). A slope near -1/2 is what an O(1/sqrt(n)) finite-width correction
//!   gives: the mask-level kernel is then the right limit.
//! - [`ranks_speeds`]: at every width, the methods ordered by their mean observed relative area
//!   (`mean_t L_t / L_0`, smaller is faster) and by each kernel's predicted one. The verdict is
//!   the mask-level kernel's: supported when its order equals the observed one at every width,
//!   refuted when it differs at the largest width, inconclusive otherwise; the evidence lists
//!   every kernel.

use crate::claims::{Claim, Statement, Verdict, fmt};
use glh_artifacts::config::KernelKind;
use std::collections::BTreeMap;

/// The curve error below which a kernel is said to predict training: 5% of the initial loss.
pub const PREDICTS_WITHIN: f64 = 0.05;

/// One row of the `errors` table: one kernel's prediction of one training run.
#[derive(Clone, Debug, PartialEq)]
pub struct PredictionRow {
    /// The method (`dense` for the unpruned baseline).
    pub method: String,
    /// The hidden width n.
    pub width: f64,
    /// The run seed.
    pub seed: u64,
    /// `empirical`, `mask` or `graphon`.
    pub kernel: String,
    /// `max_t |L_obs - L_pred| / L_obs(0)`.
    pub curve_error: f64,
    /// `mean_t L_obs(t) / L_obs(0)`.
    pub observed_area: f64,
    /// `mean_t L_pred(t) / L_pred(0)`.
    pub predicted_area: f64,
}

/// `(mean, sd over seeds)` of `value` per (method, width), for one kernel.
pub fn by_method_and_width(
    rows: &[PredictionRow],
    kernel: &str,
    value: impl Fn(&PredictionRow) -> f64,
) -> BTreeMap<(String, u64), (f64, f64)> {
    let mut groups: BTreeMap<(String, u64), Vec<f64>> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.kernel == kernel) {
        groups
            .entry((r.method.clone(), r.width.to_bits()))
            .or_default()
            .push(value(r));
    }
    groups
        .into_iter()
        .map(|(k, v)| {
            let mean = v.iter().sum::<f64>() / v.len() as f64;
            let sd = if v.len() > 1 {
                (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (v.len() - 1) as f64).sqrt()
            } else {
                0.0
            };
            (k, (mean, sd))
        })
        .collect()
}

/// Per method (in `methods` order): the log-log slope of the mean curve error against width,
/// and the mean error at the largest width. Methods with fewer than two widths are left out.
pub fn error_slopes(
    rows: &[PredictionRow],
    kernel: &str,
    methods: &[String],
) -> Vec<(String, f64, f64)> {
    let means = by_method_and_width(rows, kernel, |r| r.curve_error);
    methods
        .iter()
        .filter_map(|m| {
            let points: Vec<(f64, f64)> = means
                .iter()
                .filter(|((method, _), _)| method == m)
                .map(|((_, w), (e, _))| (f64::from_bits(*w), *e))
                .collect();
            if points.len() < 2 {
                return None;
            }
            let xs: Vec<f64> = points.iter().map(|p| p.0.ln()).collect();
            let ys: Vec<f64> = points.iter().map(|p| p.1.ln()).collect();
            let (mx, my) = (
                xs.iter().sum::<f64>() / xs.len() as f64,
                ys.iter().sum::<f64>() / ys.len() as f64,
            );
            let sxy: f64 = xs.iter().zip(&ys).map(|(x, y)| (x - mx) * (y - my)).sum();
            let sxx: f64 = xs.iter().map(|x| (x - mx).powi(2)).sum();
            let last = points
                .iter()
                .max_by(|a, b| a.0.total_cmp(&b.0))
                .expect("two points")
                .1;
            Some((m.clone(), sxy / sxx, last))
        })
        .collect()
}

/// The claim that the mask-level Graphon NTK predicts training; `None` without mask rows at
/// two widths.
pub fn predicts_training(
    experiment: &str,
    rows: &[PredictionRow],
    methods: &[String],
) -> Option<Claim> {
    let slopes = error_slopes(rows, KernelKind::Mask.name(), methods);
    if slopes.is_empty() {
        return None;
    }
    let rising = slopes.iter().any(|s| s.1 >= 0.0 || s.1.is_nan());
    let within = slopes.iter().all(|s| s.2 < PREDICTS_WITHIN);
    let (verdict, reason) = match (rising, within) {
        (true, _) => (Verdict::Refuted, "an error does not fall with width"),
        (false, true) => (
            Verdict::Supported,
            "every slope < 0, error < 5% at the largest width",
        ),
        (false, false) => (
            Verdict::Inconclusive,
            "falls with width, but above 5% of L_0",
        ),
    };
    let evidence = slopes
        .iter()
        .map(|(m, slope, last)| format!("{m}: slope {}, error {}", fmt(*slope), fmt(*last)))
        .collect::<Vec<_>>()
        .join("; ");
    Some(Claim {
        statement: Statement::KernelPredictsTraining,
        experiment: experiment.to_string(),
        reading: None,
        statistic: None,
        evidence: format!(
            "log-log slope of the curve error on width, and the error at the largest width: {evidence}"
        ),
        verdict,
        reason,
    })
}

/// The methods in order of increasing mean relative area (fastest first), at one width.
fn order(means: &BTreeMap<(String, u64), (f64, f64)>, width: u64) -> Vec<String> {
    let mut at: Vec<(&String, f64)> = means
        .iter()
        .filter(|((_, w), _)| *w == width)
        .map(|((m, _), (mean, _))| (m, *mean))
        .collect();
    at.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(b.0)));
    at.into_iter().map(|(m, _)| m.clone()).collect()
}

/// Per kernel and width: the observed order of the methods (fastest first), the kernel's, and
/// whether they agree.
pub fn speed_orders(rows: &[PredictionRow], kernel: &str) -> Vec<(f64, Vec<String>, Vec<String>)> {
    let observed = by_method_and_width(rows, kernel, |r| r.observed_area);
    let predicted = by_method_and_width(rows, kernel, |r| r.predicted_area);
    let mut widths: Vec<u64> = observed.keys().map(|(_, w)| *w).collect();
    widths.sort_by(|a, b| f64::from_bits(*a).total_cmp(&f64::from_bits(*b)));
    widths.dedup();
    widths
        .into_iter()
        .map(|w| (f64::from_bits(w), order(&observed, w), order(&predicted, w)))
        .collect()
}

/// The claim that the kernels rank the methods' speeds; `None` without mask rows of two
/// methods.
pub fn ranks_speeds(experiment: &str, rows: &[PredictionRow]) -> Option<Claim> {
    let mask = speed_orders(rows, KernelKind::Mask.name());
    if mask.iter().all(|(_, o, _)| o.len() < 2) {
        return None;
    }
    let agrees = |orders: &[(f64, Vec<String>, Vec<String>)]| -> Vec<f64> {
        orders
            .iter()
            .filter(|(_, o, p)| o == p)
            .map(|(w, _, _)| *w)
            .collect()
    };
    let all_agree = mask.iter().all(|(_, o, p)| o == p);
    let last_agrees = mask.last().is_some_and(|(_, o, p)| o == p);
    let (verdict, reason) = match (all_agree, last_agrees) {
        (true, _) => (
            Verdict::Supported,
            "mask-level kernel: same order at every width",
        ),
        (false, false) => (
            Verdict::Refuted,
            "mask-level kernel: another order at the largest width",
        ),
        (false, true) => (
            Verdict::Inconclusive,
            "mask-level kernel: right at the largest width only",
        ),
    };
    let mut kernels: Vec<&str> = rows.iter().map(|r| r.kernel.as_str()).collect();
    kernels.sort_unstable();
    kernels.dedup();
    let per_kernel = kernels
        .iter()
        .map(|k| {
            let orders = speed_orders(rows, k);
            let widths: Vec<String> = agrees(&orders).iter().map(|w| format!("{w}")).collect();
            format!(
                "{k}: same order at {} of {} widths ({})",
                widths.len(),
                orders.len(),
                if widths.is_empty() {
                    "none".to_string()
                } else {
                    widths.join(", ")
                }
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    let observed = mask
        .last()
        .map(|(w, o, _)| format!("observed at n = {w}, fastest first: {}", o.join(" > ")))
        .unwrap_or_default();
    Some(Claim {
        statement: Statement::KernelsRankSpeeds,
        experiment: experiment.to_string(),
        reading: None,
        statistic: None,
        evidence: format!("{observed}; {per_kernel}"),
        verdict,
        reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(
        method: &str,
        width: f64,
        seed: u64,
        kernel: &str,
        err: f64,
        obs: f64,
        pred: f64,
    ) -> PredictionRow {
        PredictionRow {
            method: method.into(),
            width,
            seed,
            kernel: kernel.into(),
            curve_error: err,
            observed_area: obs,
            predicted_area: pred,
        }
    }

    /// Errors `c / sqrt(n)` give a slope of exactly -1/2.
    #[test]
    fn slope_of_an_inverse_square_root_is_minus_one_half() {
        let rows: Vec<PredictionRow> = [128.0, 512.0, 2048.0]
            .iter()
            .flat_map(|&n: &f64| {
                (0..3).map(move |s| {
                    row(
                        "snip",
                        n,
                        s,
                        "mask",
                        0.8 / n.sqrt() * (1.0 + 0.1 * (s as f64 - 1.0)),
                        0.5,
                        0.5,
                    )
                })
            })
            .collect();
        let slopes = error_slopes(&rows, "mask", &["snip".into()]);
        assert!((slopes[0].1 + 0.5).abs() < 1e-12, "{slopes:?}");
        let claim = predicts_training("e4", &rows, &["snip".into()]).unwrap();
        assert_eq!(claim.verdict, Verdict::Supported);
    }

    #[test]
    fn a_rising_error_refutes_and_a_high_one_is_inconclusive() {
        let rising = vec![
            row("random", 128.0, 0, "mask", 0.01, 0.5, 0.5),
            row("random", 512.0, 0, "mask", 0.02, 0.5, 0.5),
        ];
        let claim = predicts_training("e4", &rising, &["random".into()]).unwrap();
        assert_eq!(claim.verdict, Verdict::Refuted);
        let high = vec![
            row("random", 128.0, 0, "mask", 0.4, 0.5, 0.5),
            row("random", 512.0, 0, "mask", 0.2, 0.5, 0.5),
        ];
        let claim = predicts_training("e4", &high, &["random".into()]).unwrap();
        assert_eq!(claim.verdict, Verdict::Inconclusive);
        assert!(predicts_training("e4", &high[..1], &["random".into()]).is_none());
    }

    #[test]
    fn speed_orders_compare_observed_and_predicted() {
        // At 128 the kernel swaps snip and dense; at 512 it agrees.
        let rows = vec![
            row("dense", 128.0, 0, "mask", 0.0, 0.2, 0.3),
            row("snip", 128.0, 0, "mask", 0.0, 0.25, 0.25),
            row("random", 128.0, 0, "mask", 0.0, 0.9, 0.9),
            row("dense", 512.0, 0, "mask", 0.0, 0.2, 0.2),
            row("snip", 512.0, 0, "mask", 0.0, 0.25, 0.26),
            row("random", 512.0, 0, "mask", 0.0, 0.9, 0.8),
        ];
        let orders = speed_orders(&rows, "mask");
        assert_eq!(orders[0].1, vec!["dense", "snip", "random"]);
        assert_eq!(orders[0].2, vec!["snip", "dense", "random"]);
        assert_eq!(orders[1].1, orders[1].2);
        let claim = ranks_speeds("e4", &rows).unwrap();
        assert_eq!(claim.verdict, Verdict::Inconclusive);
        let agreeing: Vec<PredictionRow> =
            rows.iter().filter(|r| r.width == 512.0).cloned().collect();
        assert_eq!(
            ranks_speeds("e4", &agreeing).unwrap().verdict,
            Verdict::Supported
        );
        let swapped: Vec<PredictionRow> =
            rows.iter().filter(|r| r.width == 128.0).cloned().collect();
        assert_eq!(
            ranks_speeds("e4", &swapped).unwrap().verdict,
            Verdict::Refuted
        );
    }
}
