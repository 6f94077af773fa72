//! Masks sampled from a known graphon: row i gets a position `u_i`, column j a position `v_j`,
//! both i.i.d. uniform, and weight (i, j) is kept with probability `W(u_i, v_j)`, all from the
//! seed's `graphons/sample` streams (the W-random bipartite graph).

use glh_artifacts::seeding::stream;
use glh_model::LayerMask;
use glh_model::mlp::unit_f64;
use rand_chacha::rand_core::Rng;

/// A `rows x cols` mask sampled from the graphon `w` (values in [0, 1]) with `seed`.
pub fn sample_mask(rows: usize, cols: usize, w: impl Fn(f64, f64) -> f64, seed: u64) -> LayerMask {
    let mut positions = stream(seed, "graphons/sample/positions");
    let u: Vec<f64> = (0..rows).map(|_| unit_f64(positions.next_u64())).collect();
    let v: Vec<f64> = (0..cols).map(|_| unit_f64(positions.next_u64())).collect();
    let mut edges = stream(seed, "graphons/sample/edges");
    let keep = u
        .iter()
        .flat_map(|&ui| v.iter().map(move |&vj| (ui, vj)))
        .map(|(ui, vj)| unit_f64(edges.next_u64()) < w(ui, vj))
        .collect();
    LayerMask::new(rows, cols, keep).expect("rows * cols flags")
}
