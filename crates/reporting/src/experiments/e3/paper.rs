//! The paper's E3 claims (a) to (e) (METHOD.md section 7), each reduced to one statistic with a
//! seed-bootstrap interval and a verdict.
//!
//! (a) to (c) are read off a kernel's spectral metrics, once per [`Reading`]: the paper's graphon
//! kernel and our mask-level kernel. (d) and (e) are read off the training runs, which both
//! protocols share. Only the paper's methods enter (Random, SNIP, SynFlow; GraSP is ours and is
//! reported apart), and the dense baseline enters as the configuration `("dense", 0)`.
//!
//! A statistic is a function of per-configuration means ([`Means`]), so the same function gives
//! the estimate (on the means over all seeds, or on the pooled graphon's values) and each
//! bootstrap resample (on the means over a resampled multiset of seeds, every configuration
//! resampled with the same seeds, since a seed's runs share its data draws). A verdict is
//! "yes" when the whole 95% interval lies on the claim's side of its threshold, "no" when it
//! lies wholly on the other side, and "inconclusive" otherwise; without seed values (a graphon
//! kernel without `seed_kernels`) the point estimate decides, and the reason says so.

use crate::claims::{Claim, Reading, Statement, Statistic, Verdict};
use crate::stats::{Interval, percentile_interval};
use rand::RngExt;
use std::collections::{BTreeMap, HashMap};

/// A configuration: method and the bits of its sparsity (non-negative, so the bits sort as the
/// numbers do). The dense baseline is `("dense", 0)`.
pub type Config = (String, u64);

/// Per configuration, the mean of each metric (in the order the sample was built with).
pub type Means = BTreeMap<Config, Vec<f64>>;

/// The dense baseline's method name in a sample.
pub const DENSE: &str = "dense";
/// The methods of the paper's E3.
const PAPER_METHODS: [&str; 3] = ["random", "snip", "synflow"];
/// The methods whose trends the paper contrasts with Random's.
const PRUNERS: [&str; 2] = ["snip", "synflow"];

/// The kernel metrics (a) to (c) read, in a sample's order: top-5 energy, trace / l_1,
/// l_1 / l_2 and the decay exponent (alpha is minus it).
pub const KERNEL_METRICS: [&str; 4] = [
    "top5_energy",
    "effective_rank_trace",
    "ratio_1_2",
    "decay_exponent",
];
const TOP5: usize = 0;
const RANK: usize = 1;
const GAP: usize = 2;

/// One value of each metric per (configuration, seed): what a seed bootstrap resamples.
#[derive(Clone, Debug, Default)]
pub struct SeedValues {
    cells: BTreeMap<Config, BTreeMap<u64, Vec<f64>>>,
}

impl SeedValues {
    /// Records a run's metrics (a second value for the same cell replaces the first).
    pub fn insert(&mut self, method: &str, sparsity: f64, seed: u64, values: Vec<f64>) {
        self.cells
            .entry((method.to_string(), sparsity.to_bits()))
            .or_default()
            .insert(seed, values);
    }

    /// Whether it holds no value.
    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    /// Every seed with a value, ascending.
    fn seeds(&self) -> Vec<u64> {
        let mut seeds: Vec<u64> = self
            .cells
            .values()
            .flat_map(|c| c.keys().copied())
            .collect();
        seeds.sort_unstable();
        seeds.dedup();
        seeds
    }

    /// The means over all seeds.
    pub fn means(&self) -> Means {
        self.means_over(&self.seeds())
    }

    /// Per configuration and metric, the mean and the sample sd over seeds (sd 0 for one seed).
    pub fn mean_sd(&self) -> BTreeMap<Config, Vec<(f64, f64)>> {
        self.cells
            .iter()
            .map(|(config, by_seed)| {
                let n = by_seed.len() as f64;
                let width = by_seed.values().next().map_or(0, Vec::len);
                let stats = (0..width)
                    .map(|i| {
                        let mean = by_seed.values().map(|v| v[i]).sum::<f64>() / n;
                        let ss = by_seed.values().map(|v| (v[i] - mean).powi(2)).sum::<f64>();
                        (
                            mean,
                            if n > 1.0 {
                                (ss / (n - 1.0)).sqrt()
                            } else {
                                0.0
                            },
                        )
                    })
                    .collect();
                (config.clone(), stats)
            })
            .collect()
    }

    /// The means over a multiset of seeds (a seed drawn twice counts twice); a configuration
    /// with none of the drawn seeds is left out.
    fn means_over(&self, seeds: &[u64]) -> Means {
        let mut means = Means::new();
        for (config, by_seed) in &self.cells {
            let drawn: Vec<&Vec<f64>> = seeds.iter().filter_map(|s| by_seed.get(s)).collect();
            let Some(first) = drawn.first() else { continue };
            let mean = (0..first.len())
                .map(|i| drawn.iter().map(|v| v[i]).sum::<f64>() / drawn.len() as f64)
                .collect();
            means.insert(config.clone(), mean);
        }
        means
    }
}

/// `statistic` at `point` with the percentile interval of `b` resamples of whole seeds of
/// `sample`; `None` when the statistic is undefined at `point`.
pub fn seed_bootstrap(
    sample: &SeedValues,
    point: &Means,
    statistic: impl Fn(&Means) -> Option<f64>,
    b: usize,
    seed: u64,
) -> Option<Interval> {
    let estimate = statistic(point)?;
    let seeds = sample.seeds();
    if seeds.is_empty() {
        return None;
    }
    // With few seeds most resamples repeat an earlier draw (3 seeds give 27 ordered draws, and
    // `b` is in the thousands): each distinct draw is then evaluated once. Keyed by the ordered
    // draw, not the multiset, because the means sum in draw order; the generator advances
    // exactly as without it, so the interval is the same to the bit. Only when there are at
    // most `b` distinct draws, so the memo never outgrows what it saves.
    let distinct = (seeds.len() as f64).powi(seeds.len().min(64) as i32);
    let mut evaluated: Option<HashMap<Vec<u64>, Option<f64>>> =
        (distinct <= b as f64).then(HashMap::new);
    Some(percentile_interval(estimate, b, seed, |rng| {
        let drawn: Vec<u64> = (0..seeds.len())
            .map(|_| seeds[rng.random_range(0..seeds.len())])
            .collect();
        match evaluated.as_mut() {
            Some(memo) => *memo
                .entry(drawn)
                .or_insert_with_key(|drawn| statistic(&sample.means_over(drawn))),
            None => statistic(&sample.means_over(&drawn)),
        }
    }))
}

/// One method's values of metric `i`, by ascending sparsity, the dense baseline left out.
fn curve(m: &Means, method: &str, i: usize) -> Vec<(f64, f64)> {
    m.iter()
        .filter(|((name, bits), _)| name == method && *bits != 0)
        .map(|((_, bits), v)| (f64::from_bits(*bits), v[i]))
        .collect()
}

/// The change of metric `i` from a method's lowest to its highest sparsity, if it has two.
fn end_to_end(m: &Means, method: &str, i: usize) -> Option<f64> {
    let c = curve(m, method, i);
    (c.len() >= 2).then(|| c[c.len() - 1].1 - c[0].1)
}

/// The smallest, or largest, of values every one of which must exist.
fn all_of(values: impl Iterator<Item = Option<f64>>, largest: bool) -> Option<f64> {
    let values: Vec<f64> = values.collect::<Option<_>>()?;
    let pick = if largest { f64::max } else { f64::min };
    values.into_iter().reduce(pick)
}

/// (a): the largest of Random's four metrics' range over sparsities relative to its mean.
fn random_spread(m: &Means) -> Option<f64> {
    all_of(
        (0..KERNEL_METRICS.len()).map(|i| {
            let v: Vec<f64> = curve(m, "random", i).into_iter().map(|p| p.1).collect();
            (v.len() >= 2).then(|| {
                let mean = v.iter().sum::<f64>() / v.len() as f64;
                let range = v.iter().copied().fold(f64::MIN, f64::max)
                    - v.iter().copied().fold(f64::MAX, f64::min);
                range / mean.abs()
            })
        }),
        true,
    )
}

/// (b): the smaller of SNIP's and SynFlow's rise in top-5 energy from the lowest to the highest
/// sparsity.
fn smallest_energy_rise(m: &Means) -> Option<f64> {
    all_of(PRUNERS.iter().map(|p| end_to_end(m, p, TOP5)), false)
}

/// (c): the largest relative change of SNIP's and SynFlow's trace / l_1 and l_1 / l_2 from the
/// lowest to the highest sparsity.
fn largest_rank_or_gap_change(m: &Means) -> Option<f64> {
    all_of(
        PRUNERS.iter().flat_map(|p| {
            [RANK, GAP].map(|i| {
                let first = curve(m, p, i).first()?.1;
                end_to_end(m, p, i).map(|d| d / first.abs())
            })
        }),
        true,
    )
}

/// (c) against Random: the largest relative difference of SNIP's or SynFlow's trace / l_1 or
/// l_1 / l_2 from Random's at the same sparsity, over the sparsities where both ran (each of
/// the two must have one).
fn largest_rank_or_gap_over_random(m: &Means) -> Option<f64> {
    let over_random = |pruner: &str| {
        m.iter()
            .filter(|((name, bits), _)| name == pruner && *bits != 0)
            .filter_map(|((_, bits), v)| {
                let random = m.get(&("random".to_string(), *bits))?;
                [RANK, GAP]
                    .map(|i| (v[i] - random[i]) / random[i].abs())
                    .into_iter()
                    .reduce(f64::max)
            })
            .reduce(f64::max)
    };
    all_of(PRUNERS.iter().map(|p| over_random(p)), true)
}

/// The mean training loss of a configuration (samples of training hold that one metric).
fn loss(m: &Means, method: &str, sparsity_bits: u64) -> Option<f64> {
    m.get(&(method.to_string(), sparsity_bits)).map(|v| v[0])
}

/// (d): the largest difference, SNIP's or SynFlow's mean training loss minus Random's, over
/// the sparsities where both ran.
fn largest_loss_over_random(m: &Means) -> Option<f64> {
    m.iter()
        .filter(|((name, bits), _)| PRUNERS.contains(&name.as_str()) && *bits != 0)
        .filter_map(|((_, bits), v)| loss(m, "random", *bits).map(|r| v[0] - r))
        .reduce(f64::max)
}

/// (e), first part: the smallest rise of a method's mean training loss from its lowest to its
/// highest sparsity (over the paper's methods that ran at two sparsities).
fn smallest_slowdown(m: &Means) -> Option<f64> {
    PAPER_METHODS
        .iter()
        .filter_map(|p| end_to_end(m, p, 0))
        .reduce(f64::min)
}

/// (e), second part: the smallest margin of a pruned net's mean training loss over the dense
/// net's.
fn smallest_margin_over_dense(m: &Means) -> Option<f64> {
    let dense = loss(m, DENSE, 0)?;
    m.iter()
        .filter(|((name, bits), _)| PAPER_METHODS.contains(&name.as_str()) && *bits != 0)
        .map(|(_, v)| v[0] - dense)
        .reduce(f64::min)
}

/// (e), third part: Random's slowdown from the lowest to the highest sparsity minus the larger
/// of SNIP's and SynFlow's.
fn random_slowdown_lead(m: &Means) -> Option<f64> {
    let random = end_to_end(m, "random", 0)?;
    Some(random - all_of(PRUNERS.iter().map(|p| end_to_end(m, p, 0)), true)?)
}

/// Which side of its threshold a claim's statistic must lie on.
#[derive(Clone, Copy)]
enum Side {
    Above(f64),
    Below(f64),
}

/// One claim of the paper's E3 as a statistic.
struct Definition {
    statement: Statement,
    /// What the number is, as the report says it.
    statistic_text: &'static str,
    statistic: fn(&Means) -> Option<f64>,
    holds: Side,
}

const KERNEL_CLAIMS: [Definition; 4] = [
    Definition {
        statement: Statement::RandomMetricsStable,
        statistic_text: "largest range over sparsities / mean of Random's four metrics (holds at most 0.05)",
        statistic: random_spread,
        holds: Side::Below(0.05),
    },
    Definition {
        statement: Statement::ConcentrationRisesWithSparsity,
        statistic_text: "smaller of SNIP's and SynFlow's change in top-5 energy, lowest to highest sparsity (holds above 0)",
        statistic: smallest_energy_rise,
        holds: Side::Above(0.0),
    },
    Definition {
        statement: Statement::RankAndGapFallWithSparsity,
        statistic_text: "largest relative change of SNIP's and SynFlow's trace / l_1 and l_1 / l_2, lowest to highest sparsity (holds below 0)",
        statistic: largest_rank_or_gap_change,
        holds: Side::Below(0.0),
    },
    Definition {
        statement: Statement::RankAndGapBelowRandom,
        statistic_text: "largest relative difference of SNIP's or SynFlow's trace / l_1 or l_1 / l_2 from Random's at one sparsity (holds below 0)",
        statistic: largest_rank_or_gap_over_random,
        holds: Side::Below(0.0),
    },
];

const TRAINING_CLAIMS: [Definition; 4] = [
    Definition {
        statement: Statement::EarlySpeed,
        statistic_text: "largest (SNIP or SynFlow) minus Random mean training loss at one sparsity (holds below 0)",
        statistic: largest_loss_over_random,
        holds: Side::Below(0.0),
    },
    Definition {
        statement: Statement::SparsitySlowsTraining,
        statistic_text: "smallest rise of a method's mean training loss, lowest to highest sparsity (holds above 0)",
        statistic: smallest_slowdown,
        holds: Side::Above(0.0),
    },
    Definition {
        statement: Statement::DenseTrainsFastest,
        statistic_text: "smallest pruned minus dense mean training loss (holds above 0)",
        statistic: smallest_margin_over_dense,
        holds: Side::Above(0.0),
    },
    Definition {
        statement: Statement::RandomDegradesMost,
        statistic_text: "Random's rise in mean training loss, lowest to highest sparsity, minus the larger of SNIP's and SynFlow's (holds above 0)",
        statistic: random_slowdown_lead,
        holds: Side::Above(0.0),
    },
];

/// The verdict of an estimate and its interval.
fn verdict(holds: Side, estimate: f64, interval: Option<&Interval>) -> (Verdict, &'static str) {
    let on_side = |v: f64| match holds {
        Side::Above(t) => v > t,
        Side::Below(t) => v < t,
    };
    let off_side = |v: f64| match holds {
        Side::Above(t) => v < t,
        Side::Below(t) => v > t,
    };
    match interval {
        Some(i) if on_side(i.low) && on_side(i.high) => (Verdict::Supported, ""),
        Some(i) if off_side(i.low) && off_side(i.high) => (Verdict::Refuted, ""),
        Some(_) => (
            Verdict::Inconclusive,
            "the 95% interval straddles the threshold",
        ),
        None if on_side(estimate) => (Verdict::Supported, "one graphon: no interval"),
        None => (Verdict::Refuted, "one graphon: no interval"),
    }
}

/// The claims of `definitions` that `point` has the values for: the statistic at `point`, its
/// interval from `sample` (when it has seed values) and the verdict.
fn judge(
    definitions: &[Definition],
    experiment: &str,
    reading: Reading,
    sample: &SeedValues,
    point: &Means,
    b: usize,
    seed: u64,
) -> Vec<Claim> {
    definitions
        .iter()
        .filter_map(|d| {
            // The bootstrap evaluates the statistic at `point` itself; without seed values it
            // is evaluated here.
            let interval = seed_bootstrap(sample, point, d.statistic, b, seed);
            let estimate = match &interval {
                Some(i) => i.estimate,
                None => (d.statistic)(point)?,
            };
            let (verdict, reason) = verdict(d.holds, estimate, interval.as_ref());
            let statistic = Statistic {
                text: d.statistic_text,
                estimate,
                interval,
            };
            Some(Claim {
                statement: d.statement,
                experiment: experiment.to_string(),
                reading: Some(reading),
                evidence: format!("{}: {}", d.statistic_text, statistic.number()),
                statistic: Some(statistic),
                verdict,
                reason,
            })
        })
        .collect()
}

/// (a) to (c) on one kernel: `point` holds each configuration's [`KERNEL_METRICS`] (the means
/// over seeds for our kernel, the pooled graphon's values for the paper's), `sample` the
/// per-seed values the interval resamples (empty: no interval).
pub fn kernel_claims(
    experiment: &str,
    reading: Reading,
    sample: &SeedValues,
    point: &Means,
    b: usize,
    seed: u64,
) -> Vec<Claim> {
    judge(&KERNEL_CLAIMS, experiment, reading, sample, point, b, seed)
}

/// (d) and (e) on the training runs: one value per run, its mean training loss; the dense
/// runs under [`DENSE`] at sparsity 0.
pub fn training_claims(experiment: &str, runs: &SeedValues, b: usize, seed: u64) -> Vec<Claim> {
    let point = runs.means();
    judge(
        &TRAINING_CLAIMS,
        experiment,
        Reading::Training,
        runs,
        &point,
        b,
        seed,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPARSITIES: [f64; 3] = [0.5, 0.7, 0.9];

    /// Kernel metrics over three seeds: Random flat; SNIP's and SynFlow's top-5 energy moves by
    /// `rise` per sparsity step, their rank and gap fall. Seed noise of size `noise` tilts each
    /// seed's top-5 curve (seed 0 down, seed 2 up), so the seed means are the noiseless ones.
    fn kernel_sample(rise: f64, noise: f64) -> SeedValues {
        let mut s = SeedValues::default();
        for seed in 0..3u64 {
            let jitter = noise * (seed as f64 - 1.0);
            for (m, moves) in [
                ("random", 0.0),
                ("snip", 1.0),
                ("synflow", 1.0),
                ("grasp", -5.0),
            ] {
                for (k, &sp) in SPARSITIES.iter().enumerate() {
                    let k = k as f64;
                    s.insert(
                        m,
                        sp,
                        seed,
                        vec![
                            0.4 + moves * (rise * k + jitter * (k - 1.0)),
                            3.0 - moves * 0.1 * (k + 1.0),
                            14.0 - moves * 0.5 * (k + 1.0),
                            -0.78,
                        ],
                    );
                }
            }
        }
        s
    }

    fn verdicts(claims: &[Claim]) -> Vec<(Statement, Verdict)> {
        claims.iter().map(|c| (c.statement, c.verdict)).collect()
    }

    #[test]
    fn kernel_claims_hold_fail_and_stay_open_as_the_interval_says() {
        let judge = |s: &SeedValues| {
            let claims = kernel_claims("e3", Reading::OurMaskKernel, s, &s.means(), 500, 0);
            verdicts(&claims)
        };
        // A rise of 0.01 per step, no seed noise: everything holds.
        assert_eq!(
            judge(&kernel_sample(0.01, 0.0)),
            [
                (Statement::RandomMetricsStable, Verdict::Supported),
                (
                    Statement::ConcentrationRisesWithSparsity,
                    Verdict::Supported
                ),
                (Statement::RankAndGapFallWithSparsity, Verdict::Supported),
                (Statement::RankAndGapBelowRandom, Verdict::Supported),
            ]
        );
        // Top-5 energy falls: (b) is refuted (GraSP's steeper fall must not matter to (a)).
        assert_eq!(
            judge(&kernel_sample(-0.01, 0.0))[1],
            (Statement::ConcentrationRisesWithSparsity, Verdict::Refuted)
        );
        // A rise of 0.002 per step against seeds whose own rise from 50% to 90% differs by 0.1:
        // the estimate (on the seed means) is positive, the interval straddles 0.
        let noisy = kernel_sample(0.002, 0.05);
        let claims = kernel_claims("e3", Reading::OurMaskKernel, &noisy, &noisy.means(), 500, 0);
        let b = &claims[1];
        assert_eq!(b.verdict, Verdict::Inconclusive);
        let i = b.statistic.as_ref().unwrap().interval.unwrap();
        assert!((i.estimate - 0.004).abs() < 1e-12, "{i:?}");
        assert!(i.low < 0.0 && i.high > 0.0, "{i:?}");
    }

    #[test]
    fn the_statistics_match_hand_computations() {
        let m = kernel_sample(0.01, 0.0).means();
        // Random is flat: spread 0. SNIP's top-5 energy rises 0.02 from 50% to 90%.
        assert_eq!(random_spread(&m), Some(0.0));
        assert!((smallest_energy_rise(&m).unwrap() - 0.02).abs() < 1e-15);
        // Trace / l_1 falls 2.9 -> 2.7 (-6.90%), the gap 13.5 -> 12.5 (-7.41%): the larger is
        // -6.90%. Against Random's flat 3 and 14: SNIP is 2.9 vs 3 at 50% (-3.33%), its gap
        // 13.5 vs 14 (-3.57%): the largest is -3.33%.
        assert!((largest_rank_or_gap_change(&m).unwrap() + 0.2 / 2.9).abs() < 1e-15);
        assert!((largest_rank_or_gap_over_random(&m).unwrap() + 0.1 / 3.0).abs() < 1e-15);
        // Without SynFlow, (b) and (c) have no statistic and are left out.
        let mut no_synflow = m.clone();
        no_synflow.retain(|(name, _), _| name != "synflow");
        assert_eq!(smallest_energy_rise(&no_synflow), None);
        let claims = kernel_claims(
            "e3",
            Reading::OurMaskKernel,
            &SeedValues::default(),
            &no_synflow,
            100,
            0,
        );
        assert_eq!(
            verdicts(&claims),
            [(Statement::RandomMetricsStable, Verdict::Supported)]
        );
        // Without seed values the point decides, and says so.
        assert_eq!(claims[0].reason, "one graphon: no interval");
        assert_eq!(claims[0].statistic.as_ref().unwrap().interval, None);
    }

    /// Training losses over three seeds: per method, its loss at 50/70/90% sparsity.
    fn training_sample(losses: &[(&str, [f64; 3])], dense: f64) -> SeedValues {
        let mut s = SeedValues::default();
        for seed in 0..3u64 {
            let noise = 0.001 * seed as f64;
            for (m, l) in losses {
                for (k, &sp) in SPARSITIES.iter().enumerate() {
                    s.insert(m, sp, seed, vec![l[k] + noise]);
                }
            }
            s.insert(DENSE, 0.0, seed, vec![dense + noise]);
        }
        s
    }

    #[test]
    fn training_claims_follow_the_papers_story_and_its_negation() {
        let story = training_sample(
            &[
                ("random", [1.0, 1.3, 1.9]),
                ("snip", [0.9, 1.0, 1.2]),
                ("synflow", [0.95, 1.05, 1.3]),
                // GraSP is not the paper's: its huge losses must not enter (d) or (e).
                ("grasp", [9.0, 0.1, 9.0]),
            ],
            0.8,
        );
        let claims = training_claims("e3", &story, 500, 0);
        assert_eq!(
            verdicts(&claims),
            [
                (Statement::EarlySpeed, Verdict::Supported),
                (Statement::SparsitySlowsTraining, Verdict::Supported),
                (Statement::DenseTrainsFastest, Verdict::Supported),
                (Statement::RandomDegradesMost, Verdict::Supported),
            ]
        );
        // (d): of the six differences to Random, SynFlow's at 50% (-0.05) is the largest.
        let estimate = |c: &Claim| c.statistic.as_ref().unwrap().estimate;
        assert!((estimate(&claims[0]) + 0.05).abs() < 1e-12);
        // (e) Random's slowdown 0.9 minus SynFlow's 0.35 (the larger of the pruners').
        assert!((estimate(&claims[3]) - 0.55).abs() < 1e-12);
        assert_eq!(claims[0].reading, Some(Reading::Training));
        let against = training_sample(
            &[
                ("random", [1.0, 1.0, 1.1]),
                ("snip", [1.2, 1.1, 1.3]),
                ("synflow", [1.2, 1.3, 1.4]),
            ],
            1.05,
        );
        assert_eq!(
            verdicts(&training_claims("e3", &against, 500, 0)),
            [
                (Statement::EarlySpeed, Verdict::Refuted),
                (Statement::SparsitySlowsTraining, Verdict::Supported),
                (Statement::DenseTrainsFastest, Verdict::Refuted),
                (Statement::RandomDegradesMost, Verdict::Refuted),
            ]
        );
    }

    /// Kernel metrics over three seeds, per method `(name, rise, fall)`: top-5 energy rising
    /// by `rise` per sparsity step, trace / l_1 and l_1 / l_2 falling by `fall` times 0.1 and
    /// 0.5 per step.
    fn moving_sample(methods: &[(&str, f64, f64)]) -> SeedValues {
        let mut s = SeedValues::default();
        for seed in 0..3u64 {
            for &(m, rise, fall) in methods {
                for (k, &sp) in SPARSITIES.iter().enumerate() {
                    let k = k as f64;
                    let v = vec![
                        0.4 + rise * k,
                        3.0 - 0.1 * fall * (k + 1.0),
                        14.0 - 0.5 * fall * (k + 1.0),
                        -0.78,
                    ];
                    s.insert(m, sp, seed, v);
                }
            }
        }
        s
    }

    #[test]
    fn each_kernel_claim_is_refuted_by_a_sample_against_it() {
        let judge = |s: &SeedValues| {
            verdicts(&kernel_claims(
                "e3",
                Reading::OurMaskKernel,
                s,
                &s.means(),
                500,
                0,
            ))
        };
        let holding = [
            ("random", 0.0, 0.0),
            ("snip", 0.01, 1.0),
            ("synflow", 0.01, 1.0),
        ];
        assert!(
            judge(&moving_sample(&holding))
                .iter()
                .all(|(_, v)| *v == Verdict::Supported)
        );
        // (a): Random's trace / l_1 falls 3.0 -> 2.8, a spread of 6.9% of its mean (> 5%).
        let mut random_moves = holding;
        random_moves[0] = ("random", 0.0, 1.0);
        assert_eq!(
            judge(&moving_sample(&random_moves))[0],
            (Statement::RandomMetricsStable, Verdict::Refuted)
        );
        // (c): SynFlow's rank and gap rise with sparsity.
        let mut rank_rises = holding;
        rank_rises[2] = ("synflow", 0.01, -1.0);
        let verdicts = judge(&moving_sample(&rank_rises));
        assert_eq!(
            verdicts[2],
            (Statement::RankAndGapFallWithSparsity, Verdict::Refuted)
        );
        // ... and so lie above Random's: (c) against Random is refuted too.
        assert_eq!(
            verdicts[3],
            (Statement::RankAndGapBelowRandom, Verdict::Refuted)
        );
        // (c) against Random can fail while (c) along sparsity holds: SNIP's rank and gap
        // fall with sparsity from above Random's and end above it.
        let mut above_random = moving_sample(&holding);
        for seed in 0..3u64 {
            for (k, &sp) in SPARSITIES.iter().enumerate() {
                let k = k as f64;
                let v = vec![0.4 + 0.01 * k, 4.0 - 0.1 * k, 16.0 - 0.5 * k, -0.78];
                above_random.insert("snip", sp, seed, v);
            }
        }
        let verdicts = judge(&above_random);
        assert_eq!(
            verdicts[2],
            (Statement::RankAndGapFallWithSparsity, Verdict::Supported)
        );
        assert_eq!(
            verdicts[3],
            (Statement::RankAndGapBelowRandom, Verdict::Refuted)
        );
    }

    #[test]
    fn sparsity_that_speeds_training_refutes_the_slowdown_claim() {
        // Every method's loss falls from 50% to 90%: (e)'s first part is refuted.
        let faster = training_sample(
            &[
                ("random", [1.9, 1.3, 1.0]),
                ("snip", [1.2, 1.0, 0.9]),
                ("synflow", [1.3, 1.05, 0.95]),
            ],
            0.8,
        );
        assert_eq!(
            verdicts(&training_claims("e3", &faster, 500, 0))[1],
            (Statement::SparsitySlowsTraining, Verdict::Refuted)
        );
    }

    #[test]
    fn a_bootstrap_resamples_whole_seeds_across_configurations() {
        // Seed 1 makes every configuration +1: the resampled means move together, so a
        // difference between configurations has a point interval.
        let mut s = SeedValues::default();
        for seed in 0..2u64 {
            s.insert("random", 0.5, seed, vec![seed as f64]);
            s.insert("snip", 0.5, seed, vec![seed as f64 - 0.5]);
        }
        let i = seed_bootstrap(&s, &s.means(), largest_loss_over_random, 200, 0).unwrap();
        assert_eq!((i.estimate, i.low, i.high), (-0.5, -0.5, -0.5));
        assert_eq!(i.resamples, 200);
        // The mean of one configuration does move.
        fn random_loss(m: &Means) -> Option<f64> {
            loss(m, "random", 0.5f64.to_bits())
        }
        let j = seed_bootstrap(&s, &s.means(), random_loss, 200, 0).unwrap();
        assert_eq!((j.estimate, j.low, j.high), (0.5, 0.0, 1.0));
    }

    #[test]
    fn a_memoised_bootstrap_equals_the_plain_one_to_the_bit() {
        // Values whose means round differently in different orders (0.1 + 0.2 + 0.3 is not
        // 0.3 + 0.2 + 0.1): a memo keyed by the multiset, not the ordered draw, would differ.
        let mut s = SeedValues::default();
        for (seed, v) in [0.1, 0.2, 0.3].into_iter().enumerate() {
            s.insert("random", 0.5, seed as u64, vec![v]);
            s.insert("snip", 0.5, seed as u64, vec![v * 3.0 + 1e-3]);
        }
        // The plain bootstrap, written out: every resample evaluated.
        let seeds = [0u64, 1, 2];
        let plain = percentile_interval(0.0, 500, 7, |rng| {
            let drawn: Vec<u64> = (0..3).map(|_| seeds[rng.random_range(0..3)]).collect();
            largest_loss_over_random(&s.means_over(&drawn))
        });
        // 3^3 = 27 distinct draws <= 500: the memo is on.
        let memoised = seed_bootstrap(&s, &s.means(), largest_loss_over_random, 500, 7).unwrap();
        assert_eq!(
            (plain.low.to_bits(), plain.high.to_bits(), plain.resamples),
            (
                memoised.low.to_bits(),
                memoised.high.to_bits(),
                memoised.resamples
            )
        );
    }
}
