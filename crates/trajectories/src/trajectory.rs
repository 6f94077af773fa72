//! A scheduled run's trajectory: what each checkpoint's mask looks like in the graphon view and
//! how far it moved, computed from the masks alone (and the kernel images for the kernels).

use faer::Mat;
use glh_graphons::StepGraphon;
use glh_graphons::cut_bounds::{CutInterval, cut_interval};
use glh_graphons::sas::sas_histogram;
use glh_graphons::step::frobenius_distance;
use glh_model::{LayerMask, MaskCheckpoint};
use glh_ntk::spectrum::{SpectralMetrics, eigenvalues_descending, spectral_metrics};
use glh_ntk::{GraphonChain, graphon_ntk};
use rayon::prelude::*;

/// One layer at one checkpoint.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerMove {
    /// The layer's output and input sizes.
    pub n_rows: u32,
    /// See `n_rows`.
    pub n_cols: u32,
    /// Kept weights.
    pub kept: usize,
    /// Kept over all weights of the layer.
    pub layer_density: f64,
    /// Fraction of the previous checkpoint's kept weights of the layer not kept now (0 at 0).
    pub changed_from_previous: f64,
    /// Fraction of checkpoint 0's kept weights of the layer not kept now.
    pub changed_from_start: f64,
    /// `||H_t - H_(t-1)||_F` (0 at checkpoint 0).
    pub frobenius_to_previous: f64,
    /// `||H_t - H_0||_F`.
    pub frobenius_to_start: f64,
    /// The cut distance to the previous checkpoint's histogram, when asked for.
    pub cut_to_previous: Option<CutInterval>,
    /// The cut distance to checkpoint 0's histogram, when asked for.
    pub cut_to_start: Option<CutInterval>,
}

/// One checkpoint of a trajectory.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckpointView {
    /// The checkpoint's index and step (as the training run's `masks` table has them).
    pub checkpoint: u32,
    /// Optimiser steps done when its mask took effect.
    pub step: u32,
    /// Each layer's SAS histogram, `min(K, rows) x min(K, cols)`.
    pub histograms: Vec<StepGraphon>,
    /// Each layer's movement.
    pub layers: Vec<LayerMove>,
    /// The spectral metrics of its K-block histogram Graphon NTK on the kernel images.
    pub metrics: SpectralMetrics,
}

/// The fraction of `from`'s kept weights that `to` does not keep (0 when `from` keeps none).
fn changed(from: &LayerMask, to: &LayerMask) -> f64 {
    match from.kept() {
        0 => 0.0,
        kept => from.kept_outside(to) as f64 / kept as f64,
    }
}

/// Each layer's SAS histogram with `min(k, size)` blocks a side.
fn histograms(layers: &[LayerMask], k: usize) -> Result<Vec<StepGraphon>, String> {
    layers
        .iter()
        .map(|m| sas_histogram(m, k.min(m.rows()), k.min(m.cols())))
        .collect()
}

/// The trajectory of `checkpoints` (in order, checkpoint 0 first): histograms with `k` blocks,
/// distances (cut intervals when `cut`, their local searches seeded by `seed`, the checkpoint
/// and the layer), and the metrics of each checkpoint's histogram Graphon NTK at `sigma_w2` on
/// the columns of `x` (`784 x N`). Checkpoints run in parallel; every number is a function of
/// its inputs alone, so the result does not depend on the thread count.
pub fn trajectory(
    checkpoints: &[MaskCheckpoint],
    k: usize,
    cut: bool,
    x: &Mat<f64>,
    sigma_w2: f64,
    seed: u64,
) -> Result<Vec<CheckpointView>, String> {
    let first = checkpoints
        .first()
        .ok_or("a trajectory needs a checkpoint")?;
    if first.checkpoint != 0 {
        return Err(format!(
            "the first checkpoint is {}, not 0",
            first.checkpoint
        ));
    }
    let all: Vec<Vec<StepGraphon>> = checkpoints
        .par_iter()
        .map(|c| histograms(c.mask.layers(), k))
        .collect::<Result<_, _>>()?;
    checkpoints
        .par_iter()
        .enumerate()
        .map(|(i, c)| {
            let previous = i.saturating_sub(1);
            let layers = c.mask.layers();
            let moves = (0..layers.len())
                .map(|l| {
                    let h = &all[i][l];
                    let (h_prev, h_start) = (&all[previous][l], &all[0][l]);
                    let cut_seed = seed ^ (u64::from(c.checkpoint) << 32) ^ l as u64;
                    let interval = |other: &StepGraphon| -> Result<Option<CutInterval>, String> {
                        cut.then(|| cut_interval(h, other, cut_seed)).transpose()
                    };
                    Ok(LayerMove {
                        n_rows: layers[l].rows() as u32,
                        n_cols: layers[l].cols() as u32,
                        kept: layers[l].kept(),
                        layer_density: layers[l].density(),
                        changed_from_previous: changed(
                            &checkpoints[previous].mask.layers()[l],
                            &layers[l],
                        ),
                        changed_from_start: changed(&first.mask.layers()[l], &layers[l]),
                        frobenius_to_previous: frobenius_distance(h, h_prev),
                        frobenius_to_start: frobenius_distance(h, h_start),
                        cut_to_previous: interval(h_prev)?,
                        cut_to_start: interval(h_start)?,
                    })
                })
                .collect::<Result<Vec<_>, String>>()?;
            let chain = GraphonChain::of_histograms(layers, k)?;
            let kernel = graphon_ntk(&chain, x, sigma_w2);
            let metrics = spectral_metrics(&eigenvalues_descending(&kernel)?);
            Ok(CheckpointView {
                checkpoint: c.checkpoint,
                step: c.step,
                histograms: all[i].clone(),
                layers: moves,
                metrics,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use glh_model::{Architecture, Mask};

    fn arch() -> Architecture {
        Architecture::mlp(6, 8, 3, 2)
    }

    /// A mask keeping the weights whose hash is below `keep_of_ten`, offset by `shift`.
    fn mask(keep_of_ten: usize, shift: usize) -> Mask {
        let arch = arch();
        let layers = arch
            .shapes()
            .iter()
            .map(|&(r, c)| {
                let keep = (0..r * c).map(|i| ((i + shift) * 7 + 3) % 10 < keep_of_ten);
                LayerMask::new(r, c, keep.collect()).unwrap()
            })
            .collect();
        Mask::from_layers(&arch, layers).unwrap()
    }

    fn images() -> Mat<f64> {
        Mat::from_fn(6, 5, |i, j| ((i * 3 + j * 5) % 7) as f64 / 7.0 - 0.3)
    }

    #[test]
    fn an_unchanged_mask_has_no_trajectory_and_a_moved_one_has_one() {
        let checkpoints = |masks: Vec<Mask>| -> Vec<MaskCheckpoint> {
            masks
                .into_iter()
                .enumerate()
                .map(|(i, mask)| MaskCheckpoint {
                    checkpoint: i as u32,
                    step: 10 * i as u32,
                    mask,
                })
                .collect()
        };
        let still = trajectory(
            &checkpoints(vec![mask(4, 0), mask(4, 0)]),
            4,
            true,
            &images(),
            2.0,
            0,
        )
        .unwrap();
        for layer in &still[1].layers {
            assert_eq!(
                (layer.changed_from_start, layer.frobenius_to_start),
                (0.0, 0.0)
            );
            assert_eq!(layer.cut_to_start.unwrap().high, 0.0);
        }
        assert_eq!(still[0].metrics, still[1].metrics);

        let moved = trajectory(
            &checkpoints(vec![mask(4, 0), mask(4, 1), mask(2, 1)]),
            4,
            true,
            &images(),
            2.0,
            0,
        )
        .unwrap();
        // Checkpoint 0 is the start: no movement.
        assert!(
            moved[0]
                .layers
                .iter()
                .all(|l| l.frobenius_to_previous == 0.0)
        );
        for (t, view) in moved.iter().enumerate().skip(1) {
            for (l, layer) in view.layers.iter().enumerate() {
                let start_mask = mask(4, 0);
                let start = &start_mask.layers()[l];
                let now = if t == 1 { mask(4, 1) } else { mask(2, 1) };
                let expected = start.kept_outside(&now.layers()[l]) as f64 / start.kept() as f64;
                assert_eq!(layer.changed_from_start, expected);
                let cut = layer.cut_to_start.unwrap();
                // K = 4 <= 24: exact, and the cut norm is at most the L1 = Frobenius-bounded gap.
                assert_eq!(cut.low, cut.high);
            }
        }
        // Checkpoint 2 keeps fewer weights: its histograms are lower and its kernel smaller.
        assert!(moved[2].metrics.trace < moved[1].metrics.trace);
        assert_eq!(moved[2].layers[0].kept, mask(2, 1).layers()[0].kept());
        // The thread count does not matter.
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let again = one
            .install(|| {
                trajectory(
                    &checkpoints(vec![mask(4, 0), mask(4, 1), mask(2, 1)]),
                    4,
                    true,
                    &images(),
                    2.0,
                    0,
                )
            })
            .unwrap();
        assert_eq!(again, moved);
    }
}
