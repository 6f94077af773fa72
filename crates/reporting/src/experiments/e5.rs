//! E5 (ours, issue #32): designs against the methods. A design `graphon:M` drawn at the target
//! a search chose is compared at each sparsity with other methods by its early-speed gap
//!
//! ```text
//! gap(X) = S(X) - S(graphon:M)        above 0: the design trains faster early than X
//! ```
//!
//! with S the mean over seeds of the mean training loss (lower is faster) and a 95%
//! seed-bootstrap interval (whole seeds resampled, since a design of seed s keeps the counts of
//! M's mask of seed s). Two claims, each per design and sparsity:
//!
//! - [`Statement::DesignBeatsMethods`]: the design is faster than every method named (Random,
//!   SNIP, SynFlow where the sweep has them): every gap's interval above 0; refuted when some
//!   gap's interval lies at or below 0; otherwise inconclusive.
//! - [`Statement::DesignBeatsSourceAtItsProfile`]: at M's own per-layer densities, the design
//!   is faster than M and than M's shuffled control, by the same rule.

use super::e3::paper::{Means, SeedValues, seed_bootstrap};
use crate::claims::{Claim, Statement, Verdict, fmt, interval};
use crate::stats::Interval;

/// One design's early-speed gap to one other method at one sparsity.
#[derive(Clone, Debug, PartialEq)]
pub struct DesignGap {
    /// The design (`graphon:<method>`).
    pub design: String,
    /// What it is compared with.
    pub other: String,
    /// The sparsity.
    pub sparsity: f64,
    /// `S(other) - S(design)`, above 0 when the design is faster.
    pub gap: Interval,
}

/// The gaps of `design` to each of `others` at `sparsity` (metric 0 of `sample`), those with
/// runs of both.
pub fn design_gaps(
    sample: &SeedValues,
    design: &str,
    others: &[String],
    sparsity: f64,
    b: usize,
    seed: u64,
) -> Vec<DesignGap> {
    let point = sample.means();
    others
        .iter()
        .filter_map(|other| {
            let (a, z) = (other.clone(), design.to_string());
            let at = move |m: &Means, name: &str| {
                m.get(&(name.to_string(), sparsity.to_bits())).map(|v| v[0])
            };
            let gap = seed_bootstrap(
                sample,
                &point,
                move |m: &Means| Some(at(m, &a)? - at(m, &z)?),
                b,
                seed,
            )?;
            Some(DesignGap {
                design: design.to_string(),
                other: other.clone(),
                sparsity,
                gap,
            })
        })
        .collect()
}

/// `statement` for one design at one sparsity, from its gaps (see the module doc); `None`
/// without a gap.
pub fn design_beats(statement: Statement, experiment: &str, gaps: &[DesignGap]) -> Option<Claim> {
    let first = gaps.first()?;
    let parts: Vec<String> = gaps
        .iter()
        .map(|g| format!("vs {}: {}", g.other, interval(&g.gap)))
        .collect();
    let (verdict, reason) = if gaps.iter().all(|g| g.gap.low > 0.0) {
        (Verdict::Supported, "")
    } else if gaps.iter().any(|g| g.gap.high <= 0.0) {
        (Verdict::Refuted, "a method trains as fast or faster")
    } else {
        (Verdict::Inconclusive, "an interval holds 0")
    };
    Some(Claim {
        statement,
        experiment: format!(
            "{experiment} ({} at sparsity {})",
            first.design,
            fmt(first.sparsity)
        ),
        reading: None,
        statistic: None,
        evidence: format!(
            "S(method) - S(design), mean training loss, 95% seed bootstrap: {}",
            parts.join("; ")
        ),
        verdict,
        reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three seeds of a design and two methods at sparsity 0.9: the methods' losses are the
    /// design's plus `shift` (per method) plus a little seed noise.
    fn sample(shifts: [f64; 2]) -> SeedValues {
        let mut s = SeedValues::default();
        for seed in 0..3u64 {
            let noise = 0.01 * seed as f64;
            s.insert("graphon:random", 0.9, seed, vec![1.0 + noise]);
            s.insert("random", 0.9, seed, vec![1.0 + shifts[0] + noise]);
            s.insert("snip", 0.9, seed, vec![1.0 + shifts[1] - noise]);
        }
        s
    }

    fn claim(shifts: [f64; 2]) -> Claim {
        let others = ["random".to_string(), "snip".into(), "synflow".into()];
        let gaps = design_gaps(&sample(shifts), "graphon:random", &others, 0.9, 200, 0);
        // SynFlow has no runs: no gap to it.
        assert_eq!(gaps.len(), 2);
        design_beats(Statement::DesignBeatsMethods, "e5", &gaps).unwrap()
    }

    #[test]
    fn a_design_beats_the_methods_only_when_every_gap_is_above_zero() {
        let beats = claim([0.2, 0.3]);
        assert_eq!(beats.verdict, Verdict::Supported);
        assert_eq!(beats.experiment, "e5 (graphon:random at sparsity 0.9000)");
        assert!(
            beats.evidence.contains("vs snip: 0.2800"),
            "{}",
            beats.evidence
        );
        // SNIP faster than the design: refuted, whatever Random does.
        assert_eq!(claim([0.2, -0.3]).verdict, Verdict::Refuted);
        // SNIP's gap straddles 0 (its seed noise runs against the design's): open.
        assert_eq!(claim([0.2, 0.01]).verdict, Verdict::Inconclusive);
    }
}
