//! E3: the spectra and the speed of training. Ours here: the mask-level kernel's top-5 energy
//! predicts early training speed (a seed-bootstrap Spearman interval below 0); the paper's
//! claims (a) to (e) are [`paper`]'s. Each tested where it holds and where it fails.

pub mod controls;
pub mod paper;
pub mod views;

use crate::claims::{Claim, Statement, Verdict, interval};
use crate::stats::{Interval, bootstrap, pearson, spearman};
use crate::tables::f64s;
use glh_artifacts::Result;
use polars::prelude::*;
use std::collections::BTreeMap;

/// Energy predicts speed: the Spearman correlation between the mask-level kernel's top-5
/// energy and the mean training loss of the same run is negative with a 95% seed-bootstrap
/// interval below 0 (more energy, lower loss). `df` has one row per pruned run: `top5_energy`,
/// `mean_train_loss`, `seed` (the bootstrap resamples seeds). Returns the claim and the
/// Spearman interval.
pub fn energy_predicts_speed(
    experiment: &str,
    df: &DataFrame,
    resamples: usize,
    bootstrap_seed: u64,
) -> Result<(Claim, Interval)> {
    loss_falls_with(
        Statement::EnergyPredictsSpeed,
        experiment,
        df,
        "top5_energy",
        resamples,
        bootstrap_seed,
    )
}

/// `statement` holds where the mean training loss falls as `metric` rises: the Spearman
/// correlation of `df`'s `metric` and `mean_train_loss` (one row per run, with its `seed`) has a
/// 95% seed-bootstrap interval below 0; above 0 refutes it, an interval that holds 0 leaves it
/// open. Returns the claim and the Spearman interval.
pub fn loss_falls_with(
    statement: Statement,
    experiment: &str,
    df: &DataFrame,
    metric: &str,
    resamples: usize,
    bootstrap_seed: u64,
) -> Result<(Claim, Interval)> {
    let (x, y, seed) = (
        f64s(df, metric)?,
        f64s(df, "mean_train_loss")?,
        f64s(df, "seed")?,
    );
    let mut by_seed: BTreeMap<u64, Vec<usize>> = BTreeMap::new();
    for (k, &s) in seed.iter().enumerate() {
        by_seed.entry(s as u64).or_default().push(k);
    }
    let groups: Vec<Vec<usize>> = by_seed.into_values().collect();
    let rho = bootstrap(&x, &y, &groups, spearman, resamples, bootstrap_seed);
    let r = bootstrap(&x, &y, &groups, pearson, resamples, bootstrap_seed);
    let (verdict, reason) = if rho.high < 0.0 {
        (Verdict::Supported, "negative: higher metric, lower loss")
    } else if rho.low > 0.0 {
        (Verdict::Refuted, "positive correlation")
    } else {
        (Verdict::Inconclusive, "interval contains 0")
    };
    let claim = Claim {
        statement,
        experiment: experiment.to_string(),
        reading: None,
        statistic: None,
        evidence: format!(
            "Spearman {} (95% bootstrap over seeds), Pearson {}, {} runs",
            interval(&rho),
            interval(&r),
            x.len()
        ),
        verdict,
        reason,
    };
    Ok((claim, rho))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Convergence tables of depth 3 (layer 2 is the only hidden one) with layer 2's distances.
    /// Twelve runs over four seeds whose loss falls (`sign = -1`) or rises with the energy.
    fn speed_frame(sign: f64) -> DataFrame {
        let energy: Vec<f64> = (0..12).map(|i| 0.1 + 0.05 * i as f64).collect();
        let loss: Vec<f64> = energy.iter().map(|e| 1.0 + sign * e).collect();
        let seed: Vec<u64> = (0..12).map(|i| i % 4).collect();
        df!("top5_energy" => energy, "mean_train_loss" => loss, "seed" => seed).unwrap()
    }

    #[test]
    fn energy_predicts_speed_needs_a_negative_interval() {
        let (claim, rho) = energy_predicts_speed("e3", &speed_frame(-1.0), 200, 0).unwrap();
        assert_eq!(claim.verdict, Verdict::Supported);
        assert_eq!(rho.estimate, -1.0);
        let (claim, _) = energy_predicts_speed("e3", &speed_frame(1.0), 200, 0).unwrap();
        assert_eq!(claim.verdict, Verdict::Refuted);
        // No relation: the loss does not depend on the energy's order.
        let mut flat = speed_frame(-1.0);
        let zigzag: Vec<f64> = (0..12)
            .map(|i| if i % 2 == 0 { 1.0 } else { 2.0 })
            .collect();
        flat.replace(
            "mean_train_loss",
            Column::new("mean_train_loss".into(), zigzag),
        )
        .unwrap();
        let (claim, _) = energy_predicts_speed("e3", &flat, 200, 0).unwrap();
        assert_eq!(claim.verdict, Verdict::Inconclusive);
    }
}
