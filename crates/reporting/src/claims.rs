//! The claims of METHOD.md section 6 as typed verdicts: each claim's logic is one function of
//! the polars frame the report already reads, so it is tested on small synthetic frames (one
//! where it must hold, one where it must not) apart from any figure.

use crate::stats::{Interval, bootstrap, pearson, spearman};
use crate::tables::{f64s, strings};
use glh_artifacts::Result;
use polars::prelude::*;
use std::collections::BTreeMap;
use std::fmt;

/// What a claim says (the paper's, as METHOD.md section 6 words it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Statement {
    /// SAS histograms converge as width grows.
    Convergence,
    /// In the sparse regime, histograms divided by their layer's density converge with width.
    SparseConvergence,
    /// Random pruning scales the NTK by `c^L`.
    PowerLaw,
    /// SNIP and SynFlow concentrate more spectral energy than Random.
    EnergyConcentration,
    /// (d) of the paper's E3: SNIP and SynFlow train faster early than Random.
    EarlySpeed,
    /// The Graphon NTK's top-5 energy predicts early training speed.
    EnergyPredictsSpeed,
    /// (a) of the paper's E3: Random's spectral metrics stay about the same across sparsities.
    RandomMetricsStable,
    /// (b): SNIP's and SynFlow's top-5 energy rises with sparsity.
    ConcentrationRisesWithSparsity,
    /// (c): SNIP's and SynFlow's effective rank and spectral gap fall with sparsity.
    RankAndGapFallWithSparsity,
    /// (e), first part: more sparsity slows training.
    SparsitySlowsTraining,
    /// (e), second part: the dense net trains fastest.
    DenseTrainsFastest,
    /// (e), third part: Random degrades most with sparsity.
    RandomDegradesMost,
    /// E4 (ours): the mask-level Graphon NTK predicts gradient descent, better with width.
    KernelPredictsTraining,
    /// E4 (ours): the kernels order the methods' speeds as training does.
    KernelsRankSpeeds,
}

impl Statement {
    /// The claim as the report's table words it.
    pub fn text(self) -> &'static str {
        match self {
            Statement::Convergence => {
                "SAS histograms converge with width: dist(n) to the largest width falls monotonically with n, for every method and hidden layer"
            }
            Statement::SparseConvergence => {
                "Sparse regime (ours, beyond the paper): with density c n^-a, the rescaled histograms H / p_n converge with width: dist(n) falls monotonically, for every method and hidden layer"
            }
            Statement::PowerLaw => {
                "Random pruning at density c scales the NTK by c^L (mask-level Graphon NTK = c^L x dense)"
            }
            Statement::EnergyConcentration => {
                "SNIP and SynFlow concentrate more energy in the top eigenvalues than Random (top-5 energy, same sparsity)"
            }
            Statement::EarlySpeed => {
                "(d) SNIP and SynFlow lose loss faster early than Random at the same sparsity (mean training loss over the first steps)"
            }
            Statement::EnergyPredictsSpeed => {
                "Top-5 energy of the Graphon NTK predicts early training speed (rank correlation with mean training loss)"
            }
            Statement::RandomMetricsStable => {
                "(a) Random's spectral metrics stay about the same across sparsities (top-5 energy, trace / l_1, l_1 / l_2, alpha within 5%)"
            }
            Statement::ConcentrationRisesWithSparsity => {
                "(b) SNIP's and SynFlow's top-5 energy rises with sparsity"
            }
            Statement::RankAndGapFallWithSparsity => {
                "(c) SNIP's and SynFlow's effective rank (trace / l_1) and spectral gap (l_1 / l_2) fall with sparsity"
            }
            Statement::SparsitySlowsTraining => {
                "(e) More sparsity slows training (Random, SNIP and SynFlow each)"
            }
            Statement::DenseTrainsFastest => "(e) The dense net trains fastest",
            Statement::RandomDegradesMost => "(e) Random degrades most with sparsity",
            Statement::KernelPredictsTraining => {
                "E4 (ours, beyond the paper): the mask-level Graphon NTK predicts gradient-descent training, with an error falling with width"
            }
            Statement::KernelsRankSpeeds => {
                "E4 (ours): the kernels rank the methods' gradient-descent speeds correctly"
            }
        }
    }
}

/// Whether our numbers support a claim.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// They do.
    Supported,
    /// They contradict it.
    Refuted,
    /// They neither support nor contradict it (an interval that contains 0).
    Inconclusive,
}

impl Verdict {
    /// `yes`, `no` or `inconclusive`.
    pub fn word(self) -> &'static str {
        match self {
            Verdict::Supported => "yes",
            Verdict::Refuted => "no",
            Verdict::Inconclusive => "inconclusive",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.word())
    }
}

/// Which protocol a claim's number comes from, where the paper's and ours differ (METHOD.md
/// section 7).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Reading {
    /// The paper's E3 kernel: the Graphon NTK of each configuration's seed-averaged K = 64
    /// graphon on 1024 images, at its sigma_w^2 = 1.
    PaperGraphonKernel,
    /// Ours: the exact mask-level Graphon NTK of each actual mask on 200 images, sigma_w^2 = 2.
    OurMaskKernel,
    /// The training runs themselves, which both protocols share (no kernel).
    Training,
}

impl Reading {
    /// How the report names it.
    pub fn label(self) -> &'static str {
        match self {
            Reading::PaperGraphonKernel => "the paper's graphon kernel",
            Reading::OurMaskKernel => "our mask-level kernel",
            Reading::Training => "training runs",
        }
    }
}

/// The number a claim is reduced to.
#[derive(Clone, Debug, PartialEq)]
pub struct Statistic {
    /// What it is, and on which side of which threshold the claim holds.
    pub text: &'static str,
    /// Its value on all the seeds (or on the pooled graphon).
    pub estimate: f64,
    /// Its seed-bootstrap interval; `None` where there is one value only (a pooled graphon
    /// without seed kernels).
    pub interval: Option<Interval>,
}

impl Statistic {
    /// `estimate [low, high]`, or the estimate alone.
    pub fn number(&self) -> String {
        self.interval
            .as_ref()
            .map_or_else(|| fmt(self.estimate), interval)
    }
}

/// A claim checked against one experiment's numbers.
#[derive(Clone, Debug, PartialEq)]
pub struct Claim {
    /// What is claimed.
    pub statement: Statement,
    /// The experiment whose runs were read.
    pub experiment: String,
    /// The protocol the number comes from, for claims the paper's protocol and ours read apart;
    /// `None` for the others.
    pub reading: Option<Reading>,
    /// The one number the verdict rests on, for claims reduced to one.
    pub statistic: Option<Statistic>,
    /// Our numbers, as one line.
    pub evidence: String,
    /// The verdict.
    pub verdict: Verdict,
    /// Why, in a few words (`within 5%`, `not monotone everywhere`).
    pub reason: &'static str,
}

impl Claim {
    /// The verdict with its reason: `yes (within 5%)`.
    pub fn verdict_text(&self) -> String {
        if self.reason.is_empty() {
            self.verdict.word().to_string()
        } else {
            format!("{} ({})", self.verdict, self.reason)
        }
    }

    /// The claims table's row: claim, experiment, our numbers, verdict.
    pub fn row(&self) -> Vec<String> {
        vec![
            self.statement.text().to_string(),
            self.experiment.clone(),
            self.evidence.clone(),
            self.verdict_text(),
        ]
    }
}

/// A number as the report prints it: four decimals, scientific outside [1e-3, 1e4).
pub fn fmt(v: f64) -> String {
    if !v.is_finite() {
        return format!("{v}");
    }
    let a = v.abs();
    if a != 0.0 && !(1e-3..1e4).contains(&a) {
        format!("{v:.3e}")
    } else {
        format!("{v:.4}")
    }
}

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
    let (x, y, seed) = (
        f64s(df, "top5_energy")?,
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
        (Verdict::Supported, "negative: more energy, lower loss")
    } else if rho.low > 0.0 {
        (Verdict::Refuted, "positive correlation")
    } else {
        (Verdict::Inconclusive, "interval contains 0")
    };
    let claim = Claim {
        statement: Statement::EnergyPredictsSpeed,
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

/// `estimate [low, high]`.
pub fn interval(i: &Interval) -> String {
    format!("{} [{}, {}]", fmt(i.estimate), fmt(i.low), fmt(i.high))
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
