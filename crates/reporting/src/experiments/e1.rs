//! E1 (the paper's): the masks' SAS histograms converge as the width grows. The claim per
//! (hidden layer, method) of one (depth, level), with its exceptions; tested on synthetic
//! convergence frames where it holds and where it fails.

use crate::claims::{Claim, Statement, Verdict, fmt};
use crate::tables::{f64s, strings};
use glh_artifacts::Result;
use polars::prelude::*;
use std::collections::BTreeMap;

/// `(width, mean, sd over seeds)` of a distance.
pub type WidthPoint = (f64, f64, f64);

/// One case of the convergence claim: a method's curve in one hidden layer of one (depth,
/// level), the paper's Frobenius distance to the reference at each width below it.
#[derive(Clone, Debug, PartialEq)]
pub struct ConvergenceCase {
    /// The hidden layer (2..L-1).
    pub layer: u32,
    /// The method.
    pub method: String,
    /// The distance at each width, by width.
    pub points: Vec<WidthPoint>,
    /// Each step up in width where the mean distance does not fall: `(n, n', d(n), d(n'))`.
    pub exceptions: Vec<(f64, f64, f64, f64)>,
}

impl ConvergenceCase {
    /// Whether the distance falls strictly at every step (a curve of one width trivially does).
    pub fn falls(&self) -> bool {
        self.exceptions.is_empty()
    }

    /// `n=500 → 1000: 16.53 → 17.02`, one per exception.
    pub fn exceptions_text(&self) -> String {
        self.exceptions
            .iter()
            .map(|&(a, b, da, db)| format!("n={a} → {b}: {} → {}", fmt(da), fmt(db)))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// The cases of the convergence claim in a convergence table of one (depth, level): one per
/// hidden layer (`hidden` column) and method with widths below the reference, in layer order,
/// each layer's methods in `methods`' order (the sweep's). The distance is the paper's,
/// `frobenius_mean` (our `l2_mean` is the same divided by K, so it orders the widths alike).
pub fn convergence_cases(df: &DataFrame, methods: &[String]) -> Result<Vec<ConvergenceCase>> {
    let (method, layer) = (strings(df, "method")?, f64s(df, "layer")?);
    let hidden = crate::tables::bools(df, "hidden")?;
    let (width, reference) = (f64s(df, "width")?, f64s(df, "reference_width")?);
    let (mean, sd) = (f64s(df, "frobenius_mean")?, f64s(df, "frobenius_sd")?);
    let rank = |m: &str| methods.iter().position(|x| x == m).unwrap_or(methods.len());
    let mut curves: BTreeMap<(u32, usize, String), Vec<WidthPoint>> = BTreeMap::new();
    for i in (0..df.height()).filter(|&i| hidden[i] && width[i] < reference[i]) {
        curves
            .entry((layer[i] as u32, rank(&method[i]), method[i].clone()))
            .or_default()
            .push((width[i], mean[i], sd[i]));
    }
    Ok(curves
        .into_iter()
        .map(|((layer, _, method), mut points)| {
            points.sort_by(|a, b| a.0.total_cmp(&b.0));
            let exceptions = points
                .windows(2)
                .filter(|w| w[1].1 >= w[0].1 || w[1].1.is_nan())
                .map(|w| (w[0].0, w[1].0, w[0].1, w[1].1))
                .collect();
            ConvergenceCase {
                layer,
                method,
                points,
                exceptions,
            }
        })
        .collect())
}

/// Convergence (the paper's claim, or its sparse-regime extension): in every hidden layer and
/// for every method the distance to the reference falls strictly as the width grows to the
/// reference width. The evidence counts the cases that fall and lists every exception. `None`
/// without a case.
pub fn convergence(
    statement: Statement,
    experiment: &str,
    cases: &[ConvergenceCase],
) -> Option<Claim> {
    if cases.is_empty() {
        return None;
    }
    let falling = cases.iter().filter(|c| c.falls()).count();
    let mut evidence = format!(
        "{falling} of {} (hidden layer, method) cases fall monotonically (Frobenius, the paper's)",
        cases.len()
    );
    let exceptions: Vec<String> = cases
        .iter()
        .filter(|c| !c.falls())
        .map(|c| format!("{} layer {}: {}", c.method, c.layer, c.exceptions_text()))
        .collect();
    if !exceptions.is_empty() {
        evidence.push_str("; exceptions: ");
        evidence.push_str(&exceptions.join("; "));
    }
    let (verdict, reason) = if falling == cases.len() {
        (Verdict::Supported, "")
    } else {
        (Verdict::Refuted, "not monotone everywhere")
    };
    Some(Claim {
        statement,
        experiment: experiment.to_string(),
        reading: None,
        statistic: None,
        evidence,
        verdict,
        reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Convergence tables of depth 3 (layer 2 is the only hidden one) with layer 2's distances.
    fn convergence_frame(layer2: [f64; 3]) -> DataFrame {
        df!(
            "method" => ["snip", "snip", "snip", "snip", "snip", "snip", "snip", "random"],
            "layer" => [1u32, 1, 2, 2, 2, 3, 3, 2],
            "hidden" => [false, false, true, true, true, false, false, true],
            "width" => [100u32, 500, 100, 500, 1000, 100, 500, 100],
            "reference_width" => [2000u32; 8],
            // Layers 1 and 3 rise: they must not count.
            "frobenius_mean" => [0.1, 0.2, layer2[0], layer2[1], layer2[2], 0.1, 0.3, 0.5],
            "frobenius_sd" => [0.01; 8],
        )
        .unwrap()
    }

    #[test]
    fn convergence_needs_every_hidden_curve_to_fall_and_lists_the_exceptions() {
        let order = ["random".to_string(), "snip".to_string()];
        let claim = |df: &DataFrame| {
            let cases = convergence_cases(df, &order).unwrap();
            convergence(Statement::Convergence, "e1", &cases)
        };
        let falls = convergence_frame([0.3, 0.2, 0.1]);
        let cases = convergence_cases(&falls, &order).unwrap();
        // Methods in the sweep's order, not the alphabet's; only the hidden layer.
        assert_eq!(
            cases
                .iter()
                .map(|c| (c.layer, c.method.as_str()))
                .collect::<Vec<_>>(),
            [(2, "random"), (2, "snip")]
        );
        assert_eq!(cases[1].points[2], (1000.0, 0.1, 0.01));
        assert_eq!(claim(&falls).unwrap().verdict, Verdict::Supported);
        assert_eq!(
            claim(&falls).unwrap().evidence,
            "2 of 2 (hidden layer, method) cases fall monotonically (Frobenius, the paper's)"
        );
        let rises = convergence_frame([0.3, 0.1, 0.2]);
        let refuted = claim(&rises).unwrap();
        assert_eq!(refuted.verdict, Verdict::Refuted);
        assert_eq!(
            refuted.evidence,
            "1 of 2 (hidden layer, method) cases fall monotonically (Frobenius, the paper's); \
             exceptions: snip layer 2: n=500 → 1000: 0.1000 → 0.2000"
        );
        // Equal is not a fall.
        let flat = convergence_frame([0.3, 0.2, 0.2]);
        assert_eq!(claim(&flat).unwrap().verdict, Verdict::Refuted);
        let no_hidden = falls
            .filter(&!falls.column("hidden").unwrap().bool().unwrap())
            .unwrap();
        assert!(claim(&no_hidden).is_none());
    }
}
