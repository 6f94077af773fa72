//! Binary masks: which weights of a network are kept.
//!
//! A [`Mask`] exists only with the layer shapes of its architecture, and holds booleans, so a
//! mask that is not 0/1 or not of the network's shape cannot be built.

use crate::mlp::Architecture;

/// The mask of one layer, row-major `(rows, cols) = (out, in)` like its weights.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayerMask {
    rows: usize,
    cols: usize,
    keep: Vec<bool>,
}

impl LayerMask {
    /// A mask of `rows x cols` from row-major booleans; `None` if the length is wrong.
    pub fn new(rows: usize, cols: usize, keep: Vec<bool>) -> Option<Self> {
        (keep.len() == rows * cols).then_some(LayerMask { rows, cols, keep })
    }

    /// All kept.
    pub fn full(rows: usize, cols: usize) -> Self {
        LayerMask {
            rows,
            cols,
            keep: vec![true; rows * cols],
        }
    }

    /// Output size.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Input size.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Row-major flags.
    pub fn as_slice(&self) -> &[bool] {
        &self.keep
    }

    /// Whether weight `(r, c)` is kept.
    pub fn get(&self, r: usize, c: usize) -> bool {
        self.keep[r * self.cols + c]
    }

    /// Number of kept weights.
    pub fn kept(&self) -> usize {
        self.keep.iter().filter(|&&k| k).count()
    }

    /// Weights kept here that `other` (of the same shape) does not keep.
    pub fn kept_outside(&self, other: &LayerMask) -> usize {
        let flags = self.keep.iter().zip(&other.keep);
        flags.filter(|&(&x, &y)| x && !y).count()
    }

    /// Kept weights over all weights, in [0, 1].
    pub fn density(&self) -> f64 {
        if self.keep.is_empty() {
            return 0.0;
        }
        self.kept() as f64 / self.keep.len() as f64
    }

    /// Kept weights of row `r` (the out-degree of output neuron `r` towards the inputs).
    pub fn row_degree(&self, r: usize) -> usize {
        self.keep[r * self.cols..(r + 1) * self.cols]
            .iter()
            .filter(|&&k| k)
            .count()
    }

    /// Kept weights of column `c`.
    pub fn col_degree(&self, c: usize) -> usize {
        (0..self.rows).filter(|&r| self.get(r, c)).count()
    }

    /// Kept weights of every row.
    pub fn row_degrees(&self) -> Vec<usize> {
        (0..self.rows).map(|r| self.row_degree(r)).collect()
    }

    /// Kept weights of every column, in one row-major pass.
    pub fn col_degrees(&self) -> Vec<usize> {
        let mut degrees = vec![0usize; self.cols];
        for row in self.keep.chunks_exact(self.cols) {
            for (d, &k) in degrees.iter_mut().zip(row) {
                *d += usize::from(k);
            }
        }
        degrees
    }
}

/// The mask of a whole network, input layer first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mask {
    layers: Vec<LayerMask>,
}

impl Mask {
    /// Keeps every weight of `arch`.
    pub fn full(arch: &Architecture) -> Self {
        Mask {
            layers: arch
                .shapes()
                .into_iter()
                .map(|(r, c)| LayerMask::full(r, c))
                .collect(),
        }
    }

    /// A mask of `arch` from its layers; an error names the first layer of the wrong shape.
    pub fn from_layers(arch: &Architecture, layers: Vec<LayerMask>) -> Result<Self, String> {
        let shapes = arch.shapes();
        if layers.len() != shapes.len() {
            return Err(format!(
                "{} layers, the architecture has {}",
                layers.len(),
                shapes.len()
            ));
        }
        for (l, (layer, (rows, cols))) in layers.iter().zip(shapes).enumerate() {
            if (layer.rows, layer.cols) != (rows, cols) {
                return Err(format!(
                    "layer {} is {}x{}, the architecture needs {rows}x{cols}",
                    l + 1,
                    layer.rows,
                    layer.cols
                ));
            }
        }
        Ok(Mask { layers })
    }

    /// A mask of the same shapes as `self` with the flags of `layers`.
    pub fn with_layers(&self, layers: Vec<LayerMask>) -> Result<Self, String> {
        let same = layers.len() == self.layers.len()
            && layers
                .iter()
                .zip(&self.layers)
                .all(|(a, b)| (a.rows, a.cols) == (b.rows, b.cols));
        if same {
            Ok(Mask { layers })
        } else {
            Err("layer shapes differ from the mask's".to_string())
        }
    }

    /// The layers, input layer first.
    pub fn layers(&self) -> &[LayerMask] {
        &self.layers
    }

    /// Kept weights over all layers.
    pub fn kept(&self) -> usize {
        self.layers.iter().map(LayerMask::kept).sum()
    }

    /// Kept weights over all weights of all layers, in [0, 1] (0 for a mask of no weights).
    pub fn density(&self) -> f64 {
        let total: usize = self.layers.iter().map(|m| m.keep.len()).sum();
        if total == 0 {
            return 0.0;
        }
        self.kept() as f64 / total as f64
    }

    /// The fraction of `self`'s kept weights that `to` does not keep (0 when `self` keeps
    /// none): how much of a mask an update of dynamic sparse training or a level of iterative
    /// pruning moved. Shapes must agree.
    pub fn changed_fraction(&self, to: &Mask) -> f64 {
        let left: usize = self
            .layers
            .iter()
            .zip(&to.layers)
            .map(|(a, b)| a.kept_outside(b))
            .sum();
        match self.kept() {
            0 => 0.0,
            kept => left as f64 / kept as f64,
        }
    }

    /// Whether every kept weight of `self` is kept in `outer` (masks of iterative pruning nest).
    pub fn is_subset_of(&self, outer: &Mask) -> bool {
        self.layers
            .iter()
            .zip(&outer.layers)
            .all(|(a, b)| a.keep.iter().zip(&b.keep).all(|(&x, &y)| !x || y))
    }
}

/// A mask a training run under a mask schedule (IMP, SET, RigL) trained under.
#[derive(Clone, Debug, PartialEq)]
pub struct MaskCheckpoint {
    /// 0 for the mask the run starts from, then i after the i-th update (SET, RigL) or at
    /// level i (IMP).
    pub checkpoint: u32,
    /// Optimiser steps done when the mask took effect (the run's global step count; IMP's
    /// levels follow one another).
    pub step: u32,
    /// The mask.
    pub mask: Mask,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mask_density_weighs_each_layer_by_its_size() {
        // 3 of 6, 1 of 4 and 0 of 2 kept: 4 of 12 weights, where the plain mean of the
        // layers' densities would be (1/2 + 1/4 + 0) / 3 = 1/4.
        let arch = Architecture {
            input: 3,
            width: 2,
            depth: 3,
            classes: 1,
        };
        let layers = vec![
            LayerMask::new(2, 3, vec![true, false, true, false, true, false]).unwrap(),
            LayerMask::new(2, 2, vec![true, false, false, false]).unwrap(),
            LayerMask::new(1, 2, vec![false, false]).unwrap(),
        ];
        let mask = Mask::from_layers(&arch, layers).unwrap();
        assert_eq!(mask.density(), 4.0 / 12.0);
        assert_eq!(Mask::full(&arch).density(), 1.0);
    }
}
