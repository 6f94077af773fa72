//! E1 (the paper's): the masks' SAS histograms converge as the width grows. Two readings per
//! (hidden layer, method) of one (depth, level), each tested on synthetic convergence frames
//! where it holds and where it fails:
//!
//! - the paper's: the distance to the largest width falls monotonically ([`convergence`]);
//! - ours (issue #28): the Cauchy chain, the bias-corrected squared distance between the
//!   expected histograms of each width and the next smaller one ([`ChainLink`]), read as
//!   "converges", "still moving" or "undecided" ([`ChainVerdict`], [`chain_convergence`]). A
//!   distance to one reference falls like `1 / n` from noise alone; the chain's distances do
//!   not, since the noise's share is subtracted.

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
    /// The Cauchy chain, by width: each width against the next smaller one.
    pub links: Vec<ChainLink>,
}

/// A link of the Cauchy chain is negligible when its squared distance is below the square of
/// this fraction of the noise floor: the expected histograms then differ by less than a tenth
/// of what two masks of one width differ by, which more seeds would resolve but no reading of
/// a histogram could see.
pub const NEGLIGIBLE_FRACTION: f64 = 0.1;

/// One link of a case's Cauchy chain: the bias-corrected squared Frobenius distance between
/// the expected histograms at `from` and at `to`, the next larger width (the convergence
/// table's `successive_sq_distance` with its interval), and the noise floor at `to`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ChainLink {
    /// The smaller width.
    pub from: f64,
    /// The larger width.
    pub to: f64,
    /// The estimate `D^2` (may be negative: a difference below the noise).
    pub d2: f64,
    /// Its 95% seed-bootstrap interval.
    pub low: f64,
    /// Its upper end.
    pub high: f64,
    /// The mean Frobenius distance between two seeds' histograms at `to`.
    pub noise_floor: f64,
}

impl ChainLink {
    /// Whether the link is significantly above a negligible distance: its interval's lower
    /// end exceeds `(NEGLIGIBLE_FRACTION x noise floor)^2`. A NaN never moves.
    pub fn moves(&self) -> bool {
        self.low > (NEGLIGIBLE_FRACTION * self.noise_floor).powi(2)
    }

    /// Whether the link's numbers exist (two seeds a side, a finite noise floor).
    fn measured(&self) -> bool {
        [self.d2, self.low, self.high, self.noise_floor]
            .iter()
            .all(|v| v.is_finite())
    }

    /// `1000→2000: 0.0512 [-1.1, 1.8]`.
    pub fn text(&self) -> String {
        format!(
            "{}→{}: {} [{}, {}]",
            self.from,
            self.to,
            fmt(self.d2),
            fmt(self.low),
            fmt(self.high)
        )
    }
}

/// Our verdict on one case's Cauchy chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChainVerdict {
    /// The last link is consistent with a negligible distance, and the chain fell to it (its
    /// last estimate below its first) or never moved at all.
    Converges,
    /// The last link, at the largest widths, is significantly above a negligible distance.
    StillMoving,
    /// Neither: fewer than two measured links, or a last link that rests after a chain that
    /// moved without falling.
    Undecided,
}

impl ChainVerdict {
    /// `converges`, `still moving` or `undecided`.
    pub fn word(self) -> &'static str {
        match self {
            ChainVerdict::Converges => "converges",
            ChainVerdict::StillMoving => "still moving",
            ChainVerdict::Undecided => "undecided",
        }
    }

    /// The verdict on a chain of links in width order.
    pub fn of(links: &[ChainLink]) -> ChainVerdict {
        let (Some(first), Some(last)) = (links.first(), links.last()) else {
            return ChainVerdict::Undecided;
        };
        if links.len() < 2 || !links.iter().all(ChainLink::measured) {
            ChainVerdict::Undecided
        } else if last.moves() {
            ChainVerdict::StillMoving
        } else if last.d2 < first.d2 || !links.iter().any(ChainLink::moves) {
            ChainVerdict::Converges
        } else {
            ChainVerdict::Undecided
        }
    }
}

impl ConvergenceCase {
    /// Whether the distance falls strictly at every step (a curve of one width trivially does:
    /// see [`Self::testable`]).
    pub fn falls(&self) -> bool {
        self.exceptions.is_empty()
    }

    /// Whether the paper's test can say anything: a fall needs two distances to the reference,
    /// so three widths or more.
    pub fn testable(&self) -> bool {
        self.points.len() >= 2
    }

    /// Our verdict on the case's Cauchy chain.
    pub fn chain_verdict(&self) -> ChainVerdict {
        ChainVerdict::of(&self.links)
    }

    /// The chain's links, `;`-separated.
    pub fn links_text(&self) -> String {
        self.links
            .iter()
            .map(ChainLink::text)
            .collect::<Vec<_>>()
            .join("; ")
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
/// `frobenius_mean` (our `l2_mean` is the same divided by K, so it orders the widths alike);
/// the chain's links are the rows with a previous width.
pub fn convergence_cases(df: &DataFrame, methods: &[String]) -> Result<Vec<ConvergenceCase>> {
    let (method, layer) = (strings(df, "method")?, f64s(df, "layer")?);
    let hidden = crate::tables::bools(df, "hidden")?;
    let (width, reference) = (f64s(df, "width")?, f64s(df, "reference_width")?);
    let (mean, sd) = (f64s(df, "frobenius_mean")?, f64s(df, "frobenius_sd")?);
    let (previous, floor) = (f64s(df, "previous_width")?, f64s(df, "noise_floor")?);
    let (d2, low, high) = (
        f64s(df, "successive_sq_distance")?,
        f64s(df, "successive_sq_distance_low")?,
        f64s(df, "successive_sq_distance_high")?,
    );
    let rank = |m: &str| methods.iter().position(|x| x == m).unwrap_or(methods.len());
    type Case = (Vec<WidthPoint>, Vec<ChainLink>);
    let mut curves: BTreeMap<(u32, usize, String), Case> = BTreeMap::new();
    for i in (0..df.height()).filter(|&i| hidden[i]) {
        let case = curves
            .entry((layer[i] as u32, rank(&method[i]), method[i].clone()))
            .or_default();
        if width[i] < reference[i] {
            case.0.push((width[i], mean[i], sd[i]));
        }
        if previous[i] > 0.0 {
            case.1.push(ChainLink {
                from: previous[i],
                to: width[i],
                d2: d2[i],
                low: low[i],
                high: high[i],
                noise_floor: floor[i],
            });
        }
    }
    Ok(curves
        .into_iter()
        .filter(|(_, (points, _))| !points.is_empty())
        .map(|((layer, _, method), (mut points, mut links))| {
            points.sort_by(|a, b| a.0.total_cmp(&b.0));
            links.sort_by(|a, b| a.to.total_cmp(&b.to));
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
                links,
            }
        })
        .collect())
}

/// The paper's test over `cases`: refuted when a case does not fall monotonically, else
/// inconclusive when a case has one width below the reference (a fall cannot be seen), else
/// supported. The one rule the claim, the table and the per-method sentence all read.
pub fn paper_verdict<'a>(cases: impl IntoIterator<Item = &'a ConvergenceCase>) -> Verdict {
    let mut verdict = Verdict::Supported;
    for c in cases {
        if !c.falls() {
            return Verdict::Refuted;
        }
        if !c.testable() {
            verdict = Verdict::Inconclusive;
        }
    }
    verdict
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
    let verdict = paper_verdict(cases);
    let reason = match verdict {
        Verdict::Refuted => "not monotone everywhere",
        Verdict::Inconclusive => {
            let untestable = cases.iter().filter(|c| !c.testable()).count();
            evidence.push_str(&format!(
                "; {untestable} with one width below the reference, where a fall cannot be seen"
            ));
            "a fall needs three widths or more"
        }
        Verdict::Supported => "",
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

/// Our convergence claim: every (hidden layer, method) case's Cauchy chain converges.
/// Supported when all do, refuted when any is still moving at the largest widths, inconclusive
/// otherwise; the evidence counts the three verdicts and names every case that is not
/// converging with its last link. `None` without a case.
pub fn chain_convergence(experiment: &str, cases: &[ConvergenceCase]) -> Option<Claim> {
    if cases.is_empty() {
        return None;
    }
    let count = |v: ChainVerdict| cases.iter().filter(|c| c.chain_verdict() == v).count();
    let (converging, moving) = (
        count(ChainVerdict::Converges),
        count(ChainVerdict::StillMoving),
    );
    let mut evidence = format!(
        "of {} (hidden layer, method) cases, {converging} converge, {moving} still moving, {} \
         undecided (bias-corrected D^2 between successive widths, 95% seed bootstrap)",
        cases.len(),
        cases.len() - converging - moving
    );
    let others: Vec<String> = cases
        .iter()
        .filter(|c| c.chain_verdict() != ChainVerdict::Converges)
        .map(|c| {
            let last = c
                .links
                .last()
                .map_or_else(|| "no link".into(), ChainLink::text);
            format!(
                "{} layer {}: {} ({last})",
                c.method,
                c.layer,
                c.chain_verdict().word()
            )
        })
        .collect();
    if !others.is_empty() {
        evidence.push_str("; ");
        evidence.push_str(&others.join("; "));
    }
    let (verdict, reason) = if converging == cases.len() {
        (Verdict::Supported, "")
    } else if moving > 0 {
        (Verdict::Refuted, "still moving at the largest widths")
    } else {
        (Verdict::Inconclusive, "some chains undecided")
    };
    Some(Claim {
        statement: Statement::ChainConvergence,
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
        let nan = f64::NAN;
        df!(
            "method" => ["snip", "snip", "snip", "snip", "snip", "snip", "snip", "random", "random"],
            "layer" => [1u32, 1, 2, 2, 2, 3, 3, 2, 2],
            "hidden" => [false, false, true, true, true, false, false, true, true],
            "width" => [100u32, 500, 100, 500, 1000, 100, 500, 100, 500],
            "reference_width" => [2000u32; 9],
            // Layers 1 and 3 rise: they must not count.
            "frobenius_mean" => [0.1, 0.2, layer2[0], layer2[1], layer2[2], 0.1, 0.3, 0.5, 0.4],
            "frobenius_sd" => [0.01; 9],
            "previous_width" => [0u32, 100, 0, 100, 500, 0, 100, 0, 100],
            "noise_floor" => [1.0; 9],
            "successive_sq_distance" => [nan, 0.0, nan, 0.0, 0.0, nan, 0.0, nan, 0.0],
            "successive_sq_distance_low" => [nan, -1.0, nan, -1.0, -1.0, nan, -1.0, nan, -1.0],
            "successive_sq_distance_high" => [nan, 1.0, nan, 1.0, 1.0, nan, 1.0, nan, 1.0],
        )
        .unwrap()
    }

    /// SNIP's layer 2 of a depth-3 table at widths 250, 500, 1000 (the reference), noise floor
    /// 1 everywhere, with the links 250→500 and 500→1000 as `(D^2, low, high)`; layer 1 moves
    /// at every link and must not count.
    fn chain_frame(links: [(f64, f64, f64); 2]) -> DataFrame {
        let [(a, a_low, a_high), (b, b_low, b_high)] = links;
        let nan = f64::NAN;
        df!(
            "method" => ["snip"; 6],
            "layer" => [1u32, 1, 1, 2, 2, 2],
            "hidden" => [false, false, false, true, true, true],
            "width" => [250u32, 500, 1000, 250, 500, 1000],
            "reference_width" => [1000u32; 6],
            "frobenius_mean" => [3.0, 2.0, 0.0, 3.0, 2.0, 0.0],
            "frobenius_sd" => [0.1; 6],
            "previous_width" => [0u32, 250, 500, 0, 250, 500],
            "noise_floor" => [1.0; 6],
            "successive_sq_distance" => [nan, 5.0, 5.0, nan, a, b],
            "successive_sq_distance_low" => [nan, 4.0, 4.0, nan, a_low, b_low],
            "successive_sq_distance_high" => [nan, 6.0, 6.0, nan, a_high, b_high],
        )
        .unwrap()
    }

    fn chain_verdict(links: [(f64, f64, f64); 2]) -> ChainVerdict {
        let order = ["snip".to_string()];
        let cases = convergence_cases(&chain_frame(links), &order).unwrap();
        assert_eq!(cases.len(), 1, "one hidden case");
        cases[0].chain_verdict()
    }

    #[test]
    fn a_chain_converges_when_it_falls_to_a_distance_consistent_with_zero() {
        use ChainVerdict::*;
        // Falls from a clear difference to one whose interval holds 0.
        assert_eq!(
            chain_verdict([(2.0, 1.0, 3.0), (0.1, -0.5, 0.7)]),
            Converges
        );
        // Or to one above 0 but below (0.1 x noise floor)^2 = 0.01: negligible.
        assert_eq!(
            chain_verdict([(2.0, 1.0, 3.0), (0.008, 0.005, 0.011)]),
            Converges
        );
        // Never moved: every link rests, whatever the order of the estimates.
        assert_eq!(
            chain_verdict([(-0.1, -0.6, 0.4), (0.2, -0.3, 0.7)]),
            Converges
        );
        // Still significantly above 0 at the largest widths, even though it falls.
        assert_eq!(
            chain_verdict([(2.0, 1.0, 3.0), (0.5, 0.02, 1.0)]),
            StillMoving
        );
        // Rising to a resting last link after a moving first: undecided.
        assert_eq!(
            chain_verdict([(0.5, 0.2, 0.8), (0.6, -0.1, 1.3)]),
            Undecided
        );
        // A missing interval (one seed) decides nothing.
        assert_eq!(
            chain_verdict([(2.0, 1.0, 3.0), (0.1, f64::NAN, f64::NAN)]),
            Undecided
        );
        // One link is not a chain.
        let one = ChainLink {
            from: 1.0,
            to: 2.0,
            d2: 0.0,
            low: -1.0,
            high: 1.0,
            noise_floor: 1.0,
        };
        assert_eq!(ChainVerdict::of(&[one]), Undecided);
        assert_eq!(ChainVerdict::of(&[]), Undecided);
    }

    #[test]
    fn the_chain_claim_counts_the_verdicts_and_can_say_no() {
        let claim = |links| {
            let order = ["snip".to_string()];
            let cases = convergence_cases(&chain_frame(links), &order).unwrap();
            chain_convergence("e1-cauchy", &cases).unwrap()
        };
        let converging = claim([(2.0, 1.0, 3.0), (0.1, -0.5, 0.7)]);
        assert_eq!(converging.verdict, Verdict::Supported);
        assert_eq!(
            converging.evidence,
            "of 1 (hidden layer, method) cases, 1 converge, 0 still moving, 0 undecided \
             (bias-corrected D^2 between successive widths, 95% seed bootstrap)"
        );
        let moving = claim([(2.0, 1.0, 3.0), (0.5, 0.02, 1.0)]);
        assert_eq!(moving.verdict, Verdict::Refuted);
        assert!(
            moving
                .evidence
                .ends_with("; snip layer 2: still moving (500→1000: 0.5000 [0.0200, 1.0000])"),
            "{}",
            moving.evidence
        );
        let undecided = claim([(0.5, 0.2, 0.8), (0.6, -0.1, 1.3)]);
        assert_eq!(undecided.verdict, Verdict::Inconclusive);
        // The paper's monotone test on the same frame says yes: the two readings differ.
        let order = ["snip".to_string()];
        let cases = convergence_cases(&chain_frame([(2.0, 1.0, 3.0), (0.5, 0.02, 1.0)]), &order);
        let paper = convergence(Statement::Convergence, "e1-cauchy", &cases.unwrap()).unwrap();
        assert_eq!(paper.verdict, Verdict::Supported);
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
        // One width below the reference: a single distance shows no fall, so no verdict.
        let one_width = falls
            .filter(&falls.column("width").unwrap().u32().unwrap().lt_eq(100))
            .unwrap();
        let untestable = claim(&one_width).unwrap();
        assert_eq!(untestable.verdict, Verdict::Inconclusive);
        assert!(
            untestable
                .evidence
                .ends_with("; 2 with one width below the reference, where a fall cannot be seen"),
            "{}",
            untestable.evidence
        );
    }
}
