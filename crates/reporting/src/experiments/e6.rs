//! E6 (ours, issue #33): the paper's question asked of masks that change during training. For
//! each scheduled configuration (method and starting sparsity, one schedule per pipeline) the
//! trajectories stage's convergence table gives, per checkpoint, hidden layer and width, the
//! Cauchy link to the next smaller width and the paired distance to the start. Two claims per
//! schedule, each tested on synthetic tables where it holds and where it fails:
//!
//! - [`Statement::ConvergesAtEveryCheckpoint`], every (configuration, checkpoint, hidden layer)
//!   chain reads "converges" (E1's [`ChainVerdict`]); refuted when one is "still moving";
//!   otherwise inconclusive.
//! - [`Statement::StructureMoves`], at the last checkpoint, at the largest width, some hidden
//!   layer's paired distance to the start lies above a negligible one (its interval's low end
//!   above `(NEGLIGIBLE_FRACTION x noise floor)^2`, E1's rule) in every configuration; refuted
//!   when it does in none; otherwise inconclusive.

use super::e1::{ChainLink, ChainVerdict};
use crate::claims::{Claim, Statement, Verdict, fmt};
use crate::tables::{bools, f64s, strings};
use glh_artifacts::Result;
use polars::prelude::DataFrame;
use std::collections::BTreeMap;

/// One hidden layer at one checkpoint of a configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerAtCheckpoint {
    /// The layer.
    pub layer: u32,
    /// Its Cauchy chain across widths.
    pub links: Vec<ChainLink>,
    /// Its paired distance to the start at the largest width, as a link from checkpoint 0.
    pub moved: ChainLink,
    /// The paired distance of the shapes `H / p` to the start's at the largest width:
    /// `(D^2, low, high)`.
    pub moved_shape: (f64, f64, f64),
    /// The seed-mean histogram's structure at the largest width.
    pub structure: f64,
    /// The mean fraction of the start's kept weights gone, at the largest width.
    pub changed_from_start: f64,
}

/// One checkpoint of a configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct Checkpoint {
    /// Its index and step.
    pub checkpoint: u32,
    /// Steps done when it took effect.
    pub step: u32,
    /// The whole mask's sparsity at the largest width (IMP's falls by level).
    pub sparsity_now: f64,
    /// The hidden layers.
    pub layers: Vec<LayerAtCheckpoint>,
}

/// One scheduled configuration: its method, starting sparsity and checkpoints.
#[derive(Clone, Debug, PartialEq)]
pub struct Configuration {
    /// The starting masks' method.
    pub method: String,
    /// The starting sparsity.
    pub sparsity: f64,
    /// The schedule.
    pub schedule: String,
    /// The largest width.
    pub widest: f64,
    /// Whether the whole mask's sparsity changes from the start to the last checkpoint (IMP):
    /// the histograms' distance then holds the density's change, and the shapes' the SAS
    /// sorting slope's, so neither tests the structure alone.
    pub density_changes: bool,
    /// In checkpoint order.
    pub checkpoints: Vec<Checkpoint>,
}

impl Configuration {
    /// `snip 80%`.
    pub fn label(&self) -> String {
        format!("{} {}%", self.method, (self.sparsity * 100.0).round())
    }
}

/// The configurations of a trajectories convergence table (hidden layers only), in method then
/// sparsity order.
pub fn configurations(df: &DataFrame) -> Result<Vec<Configuration>> {
    let (method, schedule) = (strings(df, "method")?, strings(df, "schedule")?);
    let hidden = bools(df, "hidden")?;
    let col = |n: &str| f64s(df, n);
    let (sparsity, checkpoint, step, layer, width) = (
        col("sparsity")?,
        col("checkpoint")?,
        col("step")?,
        col("layer")?,
        col("width")?,
    );
    let (previous, floor, structure) = (
        col("previous_width")?,
        col("noise_floor")?,
        col("structure")?,
    );
    let (changed, sparsity_now) = (col("changed_from_start")?, col("sparsity_now")?);
    let shape = (
        col("moved_shape_sq_distance")?,
        col("moved_shape_sq_distance_low")?,
        col("moved_shape_sq_distance_high")?,
    );
    let successive = (
        col("successive_sq_distance")?,
        col("successive_sq_distance_low")?,
        col("successive_sq_distance_high")?,
    );
    let moved = (
        col("moved_sq_distance")?,
        col("moved_sq_distance_low")?,
        col("moved_sq_distance_high")?,
    );
    // (method, sparsity bits) -> checkpoint -> layer -> rows by width.
    type Rows = BTreeMap<u32, BTreeMap<u32, Vec<usize>>>;
    let mut by: BTreeMap<(String, u64), (String, Rows)> = BTreeMap::new();
    for i in (0..df.height()).filter(|&i| hidden[i]) {
        let entry = by
            .entry((method[i].clone(), sparsity[i].to_bits()))
            .or_insert_with(|| (schedule[i].clone(), BTreeMap::new()));
        entry
            .1
            .entry(checkpoint[i] as u32)
            .or_default()
            .entry(layer[i] as u32)
            .or_default()
            .push(i);
    }
    let mut out = Vec::new();
    for ((m, s), (schedule, checkpoints)) in by {
        let mut widest = 0.0f64;
        let checkpoints = checkpoints
            .into_iter()
            .map(|(c, layers)| {
                let mut sparsity_at_widest = f64::NAN;
                let mut step_of = 0;
                let layers = layers
                    .into_iter()
                    .map(|(l, mut rows)| {
                        rows.sort_by(|&a, &b| width[a].total_cmp(&width[b]));
                        let top = *rows.last().expect("a layer has a row");
                        step_of = step[top] as u32;
                        widest = widest.max(width[top]);
                        sparsity_at_widest = sparsity_now[top];
                        let link =
                            |i: usize, from: f64, d: &(Vec<f64>, Vec<f64>, Vec<f64>)| ChainLink {
                                from,
                                to: width[i],
                                d2: d.0[i],
                                low: d.1[i],
                                high: d.2[i],
                                noise_floor: floor[i],
                            };
                        LayerAtCheckpoint {
                            layer: l,
                            links: rows
                                .iter()
                                .filter(|&&i| previous[i] > 0.0)
                                .map(|&i| link(i, previous[i], &successive))
                                .collect(),
                            moved: link(top, 0.0, &moved),
                            moved_shape: (shape.0[top], shape.1[top], shape.2[top]),
                            structure: structure[top],
                            changed_from_start: changed[top],
                        }
                    })
                    .collect();
                Checkpoint {
                    checkpoint: c,
                    step: step_of,
                    sparsity_now: sparsity_at_widest,
                    layers,
                }
            })
            .collect::<Vec<_>>();
        let density_changes = match (checkpoints.first(), checkpoints.last()) {
            (Some(a), Some(b)) => (a.sparsity_now - b.sparsity_now).abs() > 1e-9,
            _ => false,
        };
        out.push(Configuration {
            method: m,
            sparsity: f64::from_bits(s),
            schedule,
            widest,
            density_changes,
            checkpoints,
        });
    }
    Ok(out)
}

/// E1's verdict on every (checkpoint, hidden layer) chain of `c`.
pub fn chain_verdicts(c: &Configuration) -> Vec<(u32, u32, ChainVerdict)> {
    c.checkpoints
        .iter()
        .flat_map(|k| {
            k.layers
                .iter()
                .map(move |l| (k.checkpoint, l.layer, ChainVerdict::of(&l.links)))
        })
        .collect()
}

/// [`Statement::ConvergesAtEveryCheckpoint`] for one schedule's configurations; `None` without
/// one.
pub fn converges_at_every_checkpoint(experiment: &str, configs: &[Configuration]) -> Option<Claim> {
    let schedule = &configs.first()?.schedule;
    let mut parts = Vec::new();
    let (mut total, mut converging, mut moving) = (0, 0, 0);
    for c in configs {
        let verdicts = chain_verdicts(c);
        let conv = verdicts
            .iter()
            .filter(|v| v.2 == ChainVerdict::Converges)
            .count();
        let still: Vec<String> = verdicts
            .iter()
            .filter(|v| v.2 == ChainVerdict::StillMoving)
            .map(|v| format!("ckpt {} layer {}", v.0, v.1))
            .collect();
        total += verdicts.len();
        converging += conv;
        moving += still.len();
        let tail = match still.len() {
            0 => String::new(),
            n => format!(
                "; still moving: {}{}",
                still.iter().take(3).cloned().collect::<Vec<_>>().join(", "),
                if n > 3 {
                    format!(" and {} more", n - 3)
                } else {
                    String::new()
                }
            ),
        };
        parts.push(format!(
            "{}: converges in {conv} of {}{tail}",
            c.label(),
            verdicts.len()
        ));
    }
    let (verdict, reason) = if total > 0 && converging == total {
        (Verdict::Supported, "")
    } else if moving > 0 {
        (Verdict::Refuted, "a chain still moving")
    } else {
        (Verdict::Inconclusive, "undecided chains")
    };
    Some(Claim {
        statement: Statement::ConvergesAtEveryCheckpoint,
        experiment: experiment.to_string(),
        reading: None,
        statistic: None,
        evidence: format!("{schedule}: {}", parts.join("; ")),
        verdict,
        reason,
    })
}

/// Whether some hidden layer of the last checkpoint of `c` moved beyond a negligible distance
/// from the start, with the largest such distance's text.
pub fn moved_at_the_end(c: &Configuration) -> Option<(bool, String)> {
    let last = c.checkpoints.last()?;
    let layer = last
        .layers
        .iter()
        .max_by(|a, b| a.moved.d2.total_cmp(&b.moved.d2))?;
    let m = &layer.moved;
    Some((
        last.layers.iter().any(|l| l.moved.moves()),
        format!(
            "layer {} at ckpt {}: D^2 = {} [{}, {}] (noise floor {})",
            layer.layer,
            last.checkpoint,
            fmt(m.d2),
            fmt(m.low),
            fmt(m.high),
            fmt(m.noise_floor)
        ),
    ))
}

/// [`Statement::StructureMoves`] for one schedule's configurations; `None` without one.
pub fn structure_moves(experiment: &str, configs: &[Configuration]) -> Option<Claim> {
    let schedule = &configs.first()?.schedule;
    let readings: Vec<(String, bool, String)> = configs
        .iter()
        .filter(|c| !c.density_changes)
        .filter_map(|c| moved_at_the_end(c).map(|(m, t)| (c.label(), m, t)))
        .collect();
    if readings.is_empty() {
        // Only configurations whose density changes (IMP): not testable by these distances.
        let c = configs.first()?;
        let (_, text) = moved_at_the_end(c)?;
        return Some(Claim {
            statement: Statement::StructureMoves,
            experiment: experiment.to_string(),
            reading: None,
            statistic: None,
            evidence: format!(
                "{schedule}, n = {}: the sparsity changes from checkpoint to checkpoint, so the \
                 histograms' distance to the start holds the density's fall ({}: {text}) and the \
                 shapes' the sorting slope's growth; read the structure column against Random's \
                 at the same density",
                c.widest,
                c.label()
            ),
            verdict: Verdict::Inconclusive,
            reason: "the density changes",
        });
    }
    let moved = readings.iter().filter(|r| r.1).count();
    let (verdict, reason) = if moved == readings.len() {
        (Verdict::Supported, "")
    } else if moved == 0 {
        (Verdict::Refuted, "within noise everywhere")
    } else {
        (Verdict::Inconclusive, "moves in some configurations")
    };
    let parts: Vec<String> = readings
        .iter()
        .map(|(label, m, t)| {
            format!(
                "{label}: {} ({t})",
                if *m { "moves" } else { "within noise" }
            )
        })
        .collect();
    Some(Claim {
        statement: Statement::StructureMoves,
        experiment: experiment.to_string(),
        reading: None,
        statistic: None,
        evidence: format!(
            "{schedule}, n = {}: {}",
            configs[0].widest,
            parts.join("; ")
        ),
        verdict,
        reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(from: f64, to: f64, d2: f64, low: f64, high: f64) -> ChainLink {
        ChainLink {
            from,
            to,
            d2,
            low,
            high,
            noise_floor: 1.0,
        }
    }

    /// A configuration of two checkpoints, one hidden layer, whose last chain link is
    /// `(d2, low, high)` and whose movement at the end is `moved`.
    fn config(last_link: (f64, f64, f64), moved: (f64, f64, f64)) -> Configuration {
        let layer = |moved: (f64, f64, f64)| LayerAtCheckpoint {
            layer: 2,
            links: vec![
                link(250.0, 500.0, 0.5, 0.3, 0.7),
                link(500.0, 1000.0, last_link.0, last_link.1, last_link.2),
            ],
            moved: link(0.0, 1000.0, moved.0, moved.1, moved.2),
            moved_shape: moved,
            structure: 1.0,
            changed_from_start: 0.3,
        };
        Configuration {
            method: "snip".into(),
            sparsity: 0.8,
            schedule: "set".into(),
            widest: 1000.0,
            density_changes: false,
            checkpoints: vec![
                Checkpoint {
                    checkpoint: 0,
                    step: 0,
                    sparsity_now: 0.8,
                    layers: vec![layer((0.0, 0.0, 0.0))],
                },
                Checkpoint {
                    checkpoint: 1,
                    step: 25,
                    sparsity_now: 0.8,
                    layers: vec![layer(moved)],
                },
            ],
        }
    }

    #[test]
    fn convergence_at_every_checkpoint_holds_fails_and_straddles() {
        let converging = config((0.001, -0.01, 0.01), (0.0, 0.0, 0.0));
        let claim =
            converges_at_every_checkpoint("e6-set", std::slice::from_ref(&converging)).unwrap();
        assert_eq!(claim.verdict, Verdict::Supported, "{}", claim.evidence);
        let moving = config((0.4, 0.2, 0.6), (0.0, 0.0, 0.0));
        let claim = converges_at_every_checkpoint("e6-set", &[converging.clone(), moving]).unwrap();
        assert_eq!(claim.verdict, Verdict::Refuted, "{}", claim.evidence);
        assert!(
            claim.evidence.contains("still moving: ckpt 0 layer 2"),
            "{}",
            claim.evidence
        );
        // A last link at rest after a chain that rose: undecided, neither verdict.
        let rose = config((0.6, -0.1, 1.3), (0.0, 0.0, 0.0));
        let claim = converges_at_every_checkpoint("e6-set", &[rose]).unwrap();
        assert_eq!(claim.verdict, Verdict::Inconclusive, "{}", claim.evidence);
    }

    #[test]
    fn movement_beyond_noise_holds_fails_and_is_mixed() {
        let still = config((0.001, -0.01, 0.01), (0.001, -0.002, 0.004));
        let moved = config((0.001, -0.01, 0.01), (0.5, 0.3, 0.8));
        let claim = structure_moves("e6-rigl", std::slice::from_ref(&moved)).unwrap();
        assert_eq!(claim.verdict, Verdict::Supported, "{}", claim.evidence);
        let claim = structure_moves("e6-rigl", std::slice::from_ref(&still)).unwrap();
        assert_eq!(claim.verdict, Verdict::Refuted, "{}", claim.evidence);
        // Above zero but below a negligible distance (0.1 noise floor)^2 = 0.01: not movement.
        let tiny = config((0.001, -0.01, 0.01), (0.008, 0.005, 0.011));
        let claim = structure_moves("e6-rigl", &[tiny]).unwrap();
        assert_eq!(claim.verdict, Verdict::Refuted, "{}", claim.evidence);
        let claim = structure_moves("e6-rigl", &[still.clone(), moved.clone()]).unwrap();
        assert_eq!(claim.verdict, Verdict::Inconclusive, "{}", claim.evidence);
        assert!(structure_moves("e6-rigl", &[]).is_none());
        // IMP: the density falls, the distances cannot say; a static-density configuration
        // beside it is read alone.
        let imp = Configuration {
            density_changes: true,
            ..moved.clone()
        };
        let claim = structure_moves("e6-imp", std::slice::from_ref(&imp)).unwrap();
        assert_eq!(claim.verdict, Verdict::Inconclusive, "{}", claim.evidence);
        let claim = structure_moves("e6", &[imp, still]).unwrap();
        assert_eq!(claim.verdict, Verdict::Refuted, "{}", claim.evidence);
    }
}
