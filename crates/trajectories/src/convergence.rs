//! The paper's question at every checkpoint of one scheduled configuration (E6, issue #33):
//! pooled over the configuration's widths and seeds, do a checkpoint's masks converge with
//! width, and has the expected histogram moved from the start beyond noise?
//!
//! Both readings are `glh_graphons::noise`'s bias-corrected squared distances between expected
//! histograms. Across widths the seeds are independent (each width draws its own networks), so
//! the Cauchy chain uses [`corrected_sq_distance`]; a checkpoint and the start are two masks of
//! each seed's one run, so the movement uses [`paired_corrected_sq_distance`].

use glh_graphons::StepGraphon;
use glh_graphons::noise::{corrected_sq_distance, noise_floor, paired_corrected_sq_distance};

/// One checkpoint of one run, as its trajectory tables hold it.
#[derive(Clone, Debug, PartialEq)]
pub struct RunCheckpoint {
    /// Optimiser steps done when its mask took effect.
    pub step: u32,
    /// Each layer's SAS histogram.
    pub histograms: Vec<StepGraphon>,
    /// Each layer's kept fraction.
    pub layer_density: Vec<f64>,
    /// Each layer's kept weights and size.
    pub kept: Vec<(u64, u64)>,
    /// Each layer's fraction of the start's kept weights no longer kept.
    pub changed_from_start: Vec<f64>,
}

/// One run of the configuration: its width, seed and checkpoints (checkpoint 0 first).
#[derive(Clone, Debug, PartialEq)]
pub struct RunTrajectory {
    /// Hidden width n.
    pub width: u32,
    /// Run seed.
    pub seed: u64,
    /// Its checkpoints, in order.
    pub checkpoints: Vec<RunCheckpoint>,
}

/// One row of the convergence table (see `TRAJECTORY_CONVERGENCE`).
#[derive(Clone, Debug, PartialEq)]
pub struct CheckpointRow {
    /// The checkpoint and its step.
    pub checkpoint: u32,
    /// Steps done when it took effect.
    pub step: u32,
    /// Layer l (1-based).
    pub layer: u32,
    /// Whether both sides of the layer are hidden.
    pub hidden: bool,
    /// Width and its seed count.
    pub width: u32,
    /// Seeds at the width.
    pub seeds: u32,
    /// Means over seeds.
    pub layer_density: f64,
    /// The whole mask's sparsity, mean over seeds.
    pub sparsity_now: f64,
    /// Mean over seeds.
    pub changed_from_start: f64,
    /// Mean seed-to-seed Frobenius distance.
    pub noise_floor: f64,
    /// `||Hbar - mean(Hbar)||_F`.
    pub structure: f64,
    /// The next smaller width (0 for none).
    pub previous_width: u32,
    /// The Cauchy link to the previous width: `(D^2, low, high)`.
    pub successive: (f64, f64, f64),
    /// The paired distance to the start: `(D^2, low, high)`.
    pub moved: (f64, f64, f64),
    /// The noise floor of the shapes `H / p`.
    pub shape_noise_floor: f64,
    /// The paired distance of the shapes `H / p` to the start's: `(D^2, low, high)`.
    pub moved_shape: (f64, f64, f64),
}

/// The rows of one configuration's runs: every checkpoint, layer and width. The runs must
/// share their checkpoints (one schedule) and layers; they are grouped by width and ordered by
/// seed, so the rows do not depend on the order they come in.
pub fn convergence_rows(runs: &[RunTrajectory]) -> Result<Vec<CheckpointRow>, String> {
    let first = runs.first().ok_or("a configuration needs a run")?;
    let depth = first.checkpoints[0].histograms.len();
    let steps: Vec<u32> = first.checkpoints.iter().map(|c| c.step).collect();
    for run in runs {
        let own: Vec<u32> = run.checkpoints.iter().map(|c| c.step).collect();
        if own != steps || run.checkpoints.iter().any(|c| c.histograms.len() != depth) {
            return Err(format!(
                "the run of width {} and seed {} has other checkpoints or layers than the first",
                run.width, run.seed
            ));
        }
    }
    let mut widths: Vec<u32> = runs.iter().map(|r| r.width).collect();
    widths.sort_unstable();
    widths.dedup();
    let of_width = |w: u32| -> Vec<&RunTrajectory> {
        let mut v: Vec<&RunTrajectory> = runs.iter().filter(|r| r.width == w).collect();
        v.sort_by_key(|r| r.seed);
        v
    };
    let mut rows = Vec::new();
    for (c, &step) in steps.iter().enumerate() {
        for l in 0..depth {
            for (i, &w) in widths.iter().enumerate() {
                let members = of_width(w);
                let here = at(&members, c, l);
                let shapes = shapes_at(&members, c, l);
                let shapes_here: Vec<&StepGraphon> = shapes.iter().collect();
                let start_shapes = shapes_at(&members, 0, l);
                let start_shapes: Vec<&StepGraphon> = start_shapes.iter().collect();
                let mean = |f: &dyn Fn(&RunCheckpoint) -> f64| -> f64 {
                    members.iter().map(|r| f(&r.checkpoints[c])).sum::<f64>() / members.len() as f64
                };
                let (previous_width, successive) = match i {
                    0 => (0, (f64::NAN, f64::NAN, f64::NAN)),
                    _ => {
                        let below = of_width(widths[i - 1]);
                        (
                            widths[i - 1],
                            corrected_sq_distance(&at(&below, c, l), &here),
                        )
                    }
                };
                rows.push(CheckpointRow {
                    checkpoint: c as u32,
                    step,
                    layer: l as u32 + 1,
                    hidden: l > 0 && l + 1 < depth,
                    width: w,
                    seeds: members.len() as u32,
                    layer_density: mean(&|k| k.layer_density[l]),
                    sparsity_now: mean(&|k| {
                        let (kept, size) =
                            k.kept.iter().fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
                        1.0 - kept as f64 / size as f64
                    }),
                    changed_from_start: mean(&|k| k.changed_from_start[l]),
                    noise_floor: noise_floor(&here),
                    structure: structure(&here),
                    previous_width,
                    successive,
                    moved: paired_corrected_sq_distance(&here, &at(&members, 0, l)),
                    shape_noise_floor: noise_floor(&shapes_here),
                    moved_shape: paired_corrected_sq_distance(&shapes_here, &start_shapes),
                });
            }
        }
    }
    Ok(rows)
}

/// Layer `l`'s histograms of checkpoint `c` of `runs`.
fn at<'a>(runs: &[&'a RunTrajectory], c: usize, l: usize) -> Vec<&'a StepGraphon> {
    runs.iter()
        .map(|r| &r.checkpoints[c].histograms[l])
        .collect()
}

/// Layer `l`'s shapes `H / p` of checkpoint `c` of `runs` (each histogram over its own layer
/// density; an empty layer's shape is 0).
fn shapes_at(runs: &[&RunTrajectory], c: usize, l: usize) -> Vec<StepGraphon> {
    runs.iter()
        .map(|r| {
            let (h, p) = (
                &r.checkpoints[c].histograms[l],
                r.checkpoints[c].layer_density[l],
            );
            let scale = if p > 0.0 { 1.0 / p } else { 0.0 };
            let values = h.values.iter().map(|v| v * scale).collect();
            StepGraphon::new(h.rows, h.cols, values).expect("the histogram's own grid")
        })
        .collect()
}

/// `||Hbar - mean(Hbar)||_F` of the mean of `histograms` (one grid): how far the seed-mean
/// histogram is from the constant graphon at its own density.
fn structure(histograms: &[&StepGraphon]) -> f64 {
    let cells = histograms[0].values.len();
    let mean: Vec<f64> = (0..cells)
        .map(|j| histograms.iter().map(|h| h.values[j]).sum::<f64>() / histograms.len() as f64)
        .collect();
    let level = mean.iter().sum::<f64>() / cells as f64;
    mean.iter().map(|v| (v - level).powi(2)).sum::<f64>().sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;
    use glh_graphons::sampling::sample_mask;
    use glh_model::LayerMask;

    /// A run of three n x n layers: each checkpoint's masks drawn from its graphon in
    /// `graphons` (one W per checkpoint), from seeds of its own.
    fn run(width: u32, seed: u64, graphons: &[&dyn Fn(f64, f64) -> f64]) -> RunTrajectory {
        let n = width as usize;
        let checkpoints = graphons
            .iter()
            .enumerate()
            .map(|(c, w)| {
                let layers: Vec<LayerMask> = (0..3)
                    .map(|l| sample_mask(n, n, w, seed * 1000 + c as u64 * 10 + l))
                    .collect();
                let histograms = layers
                    .iter()
                    .map(|m| glh_graphons::sas::sas_histogram(m, 8, 8).unwrap())
                    .collect();
                RunCheckpoint {
                    step: 10 * c as u32,
                    histograms,
                    layer_density: layers.iter().map(LayerMask::density).collect(),
                    kept: layers
                        .iter()
                        .map(|m| (m.kept() as u64, (n * n) as u64))
                        .collect(),
                    changed_from_start: vec![0.0; 3],
                }
            })
            .collect();
        RunTrajectory {
            width,
            seed,
            checkpoints,
        }
    }

    #[test]
    fn the_shape_takes_most_of_a_density_change_out_but_not_the_sorting_slope() {
        // IMP's reading: the same constant graphon at 0.6 then at 0.2 density. The histograms
        // differ by the density (0.4 a cell); the shapes H / p only by the SAS sorting slope,
        // of order sqrt((1 - p) / (p n)) a cell, which grows as the density falls: a shape
        // distance across densities is not zero for one graphon, only much smaller.
        let dense = |_: f64, _: f64| 0.6;
        let sparse = |_: f64, _: f64| 0.2;
        let runs: Vec<RunTrajectory> = (0..4).map(|s| run(400, s, &[&dense, &sparse])).collect();
        let rows = convergence_rows(&runs).unwrap();
        let r = rows
            .iter()
            .find(|r| r.checkpoint == 1 && r.layer == 2)
            .unwrap();
        // 64 cells of 0.4: 10.24.
        assert!((r.moved.0 - 10.24).abs() < 0.2, "{r:?}");
        assert!(r.moved_shape.0 < 0.1 * r.moved.0, "{r:?}");
        assert!(r.moved_shape.0 > 0.0, "{r:?}");
    }

    #[test]
    fn a_still_structure_converges_and_does_not_move_and_a_moving_one_moves() {
        let constant = |_: f64, _: f64| 0.3;
        let block = |u: f64, v: f64| if u < 0.5 && v < 0.5 { 0.9 } else { 0.1 };
        let mut still = Vec::new();
        let mut moving = Vec::new();
        for width in [100, 200, 400] {
            for seed in 0..4 {
                still.push(run(width, seed, &[&constant, &constant]));
                moving.push(run(width, seed, &[&constant, &block]));
            }
        }
        let rows = convergence_rows(&still).unwrap();
        assert_eq!(rows.len(), 2 * 3 * 3);
        let row = |rows: &[CheckpointRow], c: u32, l: u32, w: u32| -> CheckpointRow {
            let found = rows
                .iter()
                .find(|r| (r.checkpoint, r.layer, r.width) == (c, l, w));
            found.unwrap().clone()
        };
        for r in rows.iter().filter(|r| r.checkpoint == 1) {
            // The same graphon before and after: no movement beyond noise.
            assert!(r.moved.1 <= 0.0 && 0.0 <= r.moved.2, "{r:?}");
        }
        // Sorting by degree gives a constant graphon's histogram a slope of order
        // sqrt(p (1 - p) / n) a cell: the expected histograms differ between widths by a
        // distance that falls with width (the Cauchy chain's reading), not by zero.
        let (first, last) = (row(&rows, 1, 2, 200), row(&rows, 1, 2, 400));
        assert!(last.successive.0 < first.successive.0, "{first:?} {last:?}");
        let rows = convergence_rows(&moving).unwrap();
        let moved = rows
            .iter()
            .find(|r| r.hidden && r.width == 400 && r.checkpoint == 1)
            .unwrap();
        // ||block - constant|| on an 8 x 8 grid: about 0.35 a cell (in SAS order), far above 0.
        assert!(moved.moved.1 > 1.0, "{moved:?}");
        assert!(moved.moved_shape.1 > 1.0, "{moved:?}");
        // The block is structure; the constant's sorting slope is a tenth of it.
        let constant_structure = row(&rows, 0, 2, 400).structure;
        assert!(moved.structure > 5.0 * constant_structure, "{moved:?}");
        let start = rows
            .iter()
            .find(|r| r.checkpoint == 0 && r.width == 400)
            .unwrap();
        assert_eq!(start.moved, (0.0, 0.0, 0.0));
        // Runs in another order give the same rows.
        let mut reversed = moving.clone();
        reversed.reverse();
        // (NaN != NaN: compared as printed.)
        let printed = |rows: &[CheckpointRow]| format!("{rows:?}");
        assert_eq!(
            printed(&convergence_rows(&reversed).unwrap()),
            printed(&rows)
        );
    }
}
