//! E2 (the paper's): the Graphon NTK of pruned masks. Random's kernel is `c^L` times the
//! dense one, and SNIP's and SynFlow's concentrate more energy in their top eigenvalues than
//! Random's at the same sparsity; each tested on synthetic frames where it holds and fails.

use crate::claims::{Claim, Statement, Verdict, fmt};
use crate::tables::{f64s, strings};
use glh_artifacts::Result;
use polars::prelude::*;

/// The `c^L` law: for Random, the mask-level kernel equals `prod c_l` times the dense one
/// within 5% relative Frobenius error at every sparsity. `df` has one row per (method,
/// sparsity): `method`, `density_product`, `trace_ratio_to_dense`,
/// `rel_error_to_scaled_dense`. `None` without Random rows.
pub fn power_law(experiment: &str, df: &DataFrame) -> Result<Option<Claim>> {
    let method = strings(df, "method")?;
    let (product, ratio, err) = (
        f64s(df, "density_product")?,
        f64s(df, "trace_ratio_to_dense")?,
        f64s(df, "rel_error_to_scaled_dense")?,
    );
    let random: Vec<usize> = (0..df.height())
        .filter(|&i| method[i] == "random")
        .collect();
    if random.is_empty() {
        return Ok(None);
    }
    let worst_err = random.iter().map(|&i| err[i]).fold(0.0, f64::max);
    let worst_ratio = random
        .iter()
        .map(|&i| (ratio[i] / product[i] - 1.0).abs())
        .fold(0.0, f64::max);
    let (verdict, reason) = if worst_err < 0.05 {
        (Verdict::Supported, "within 5%")
    } else {
        (Verdict::Refuted, "")
    };
    Ok(Some(Claim {
        statement: Statement::PowerLaw,
        experiment: experiment.to_string(),
        reading: None,
        statistic: None,
        evidence: format!(
            "max over densities: abs(trace ratio / prod c_l - 1) = {}, rel. Frobenius error {}",
            fmt(worst_ratio),
            fmt(worst_err)
        ),
        verdict,
        reason,
    }))
}

/// The pairs (SNIP or SynFlow row, Random row at the same sparsity) of rows `i` of a frame.
fn against_random(method: &[String], sparsity: &[f64]) -> Vec<(usize, usize)> {
    (0..method.len())
        .filter(|&i| method[i] == "snip" || method[i] == "synflow")
        .filter_map(|i| {
            (0..method.len())
                .find(|&j| method[j] == "random" && sparsity[j] == sparsity[i])
                .map(|j| (i, j))
        })
        .collect()
}

/// Energy concentration: SNIP's and SynFlow's mean top-5 energy exceeds Random's at every
/// sparsity. `df` has one row per (method, sparsity): `method`, `sparsity`, `top5_energy`.
/// `None` without a SNIP or SynFlow row beside a Random one.
pub fn energy_concentration(experiment: &str, df: &DataFrame) -> Result<Option<Claim>> {
    let (method, sparsity, top5) = (
        strings(df, "method")?,
        f64s(df, "sparsity")?,
        f64s(df, "top5_energy")?,
    );
    let pairs = against_random(&method, &sparsity);
    if pairs.is_empty() {
        return Ok(None);
    }
    let all_higher = pairs.iter().all(|&(i, r)| top5[i] > top5[r]);
    let diffs: Vec<String> = pairs
        .iter()
        .map(|&(i, r)| {
            format!(
                "{} s={}: {:+.4}",
                method[i],
                fmt(sparsity[i]),
                top5[i] - top5[r]
            )
        })
        .collect();
    let (verdict, reason) = if all_higher {
        (Verdict::Supported, "")
    } else {
        (Verdict::Refuted, "not for every method and sparsity")
    };
    Ok(Some(Claim {
        statement: Statement::EnergyConcentration,
        experiment: experiment.to_string(),
        reading: None,
        statistic: None,
        evidence: format!("top-5 energy minus Random's: {}", diffs.join("; ")),
        verdict,
        reason,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(claim: Result<Option<Claim>>) -> Verdict {
        claim
            .unwrap()
            .expect("the frame has what the claim needs")
            .verdict
    }

    /// Convergence tables of depth 3 (layer 2 is the only hidden one) with layer 2's distances.
    fn kernels_frame(random_error: f64) -> DataFrame {
        df!(
            "method" => ["random", "random", "snip"],
            "sparsity" => [0.5, 0.9, 0.5],
            "density_product" => [0.125, 0.001, 0.125],
            "trace_ratio_to_dense" => [0.125, 0.001, 0.5],
            "rel_error_to_scaled_dense" => [0.01, random_error, 3.0],
            "top5_energy" => [0.5, 0.6, 0.7],
        )
        .unwrap()
    }

    #[test]
    fn the_power_law_reads_random_only_and_allows_five_percent() {
        // SNIP's error of 3.0 is not Random's: it must not count.
        assert_eq!(
            verdict(power_law("e2", &kernels_frame(0.049))),
            Verdict::Supported
        );
        assert_eq!(
            verdict(power_law("e2", &kernels_frame(0.051))),
            Verdict::Refuted
        );
        let no_random = kernels_frame(0.0).slice(2, 1);
        assert!(power_law("e2", &no_random).unwrap().is_none());
    }

    #[test]
    fn energy_concentration_compares_at_the_same_sparsity() {
        // SNIP at 0.5 (0.7) beats Random at 0.5 (0.5), though not Random at 0.9 (0.6)...
        assert_eq!(
            verdict(energy_concentration("e3", &kernels_frame(0.0))),
            Verdict::Supported
        );
        // ... and loses once its energy is below Random's at 0.5.
        let mut lower = kernels_frame(0.0);
        lower
            .replace(
                "top5_energy",
                Column::new("top5_energy".into(), [0.5, 0.6, 0.4]),
            )
            .unwrap();
        assert_eq!(
            verdict(energy_concentration("e3", &lower)),
            Verdict::Refuted
        );
    }
}
