//! Graphon designs (ours, issue #32): `graphon:<method>` keeps, in every layer, the kept count
//! of `<method>`'s mask (so its per-layer density profile) and places those weights by a chosen
//! target graphon ([`GraphonTarget`]) instead of by the method's scores. With the source's
//! densities held, a design and its source differ only in structure within layers, which is
//! what the paper's closing question (can a graphon chosen for its spectrum guide pruning?)
//! needs to vary.
//!
//! Positions: hidden neuron i of n sits at `(i + 1/2) / n` on both sides of its layers, so a
//! neuron's place is one latent position through the chain; classes sit in index order; the
//! input layer's pixels in the order of their variance over the training images, most variable
//! first ([`glh_data::mnist::MnistSplit::pixels_by_variance`]).
//!
//! The draw, with an exact count: entry (i, j) gets a uniform draw `E` from the stream
//! `masks/graphon` of the run seed and a key from it and the target; the layer keeps its count's
//! smallest keys (ties by index). For `power`, the key is `E / g(u_i, v_j)` with the target's
//! shape `g = ((1 - u)(1 - v))^beta`: this is order sampling with uniform order distributions
//! (Rosén 1997; Ohlsson's sequential Poisson sampling, 1998), whose inclusion probabilities are
//! `min(1, t g)` up to terms that vanish with the layer's size, t being the largest key kept.
//! So the kept weights are a W-random graph of `min(1, c g)` with c fixed by the
//! count, the cap and the scale solved together and nothing to tune. `constant` is the same with
//! g = 1 (a uniform k-subset); `block` keys the block's entries `E` and the others `1 + E`, so
//! the block fills first and the rest is uniform. `histogram` and `table` are `power`'s rule with g a
//! table of block densities ([`BlockTable`]: a stored SAS histogram's layer, or a file's); its empty blocks are keyed
//! `T + E`, T above every other key, so they fill last, uniformly.

use super::{KeySettings, Pruning, PruningMethod};
use crate::scorers::ScoringData;
use crate::settings::GraphonTarget;
use glh_artifacts::seeding::stream;
use glh_model::mlp::unit_f64;
use glh_model::{LayerMask, Mask, Mlp};
use rand_chacha::rand_core::Rng;

/// A layer's target as a step function: `rows x cols` blocks of densities in [0, 1], row-major,
/// position u in block `floor(u rows)` (a SAS histogram's layer, its blocks in degree order).
#[derive(Clone, Debug, PartialEq)]
pub struct BlockTable {
    rows: usize,
    cols: usize,
    values: Vec<f64>,
    /// Above every key `E / g` of a positive block: `1 / min g` (1 if every block is empty).
    empty_tier: f64,
}

impl BlockTable {
    /// The table of `values` (`rows x cols`, row-major, each in [0, 1]).
    pub fn new(rows: usize, cols: usize, values: Vec<f64>) -> Result<BlockTable, String> {
        if rows == 0 || cols == 0 || values.len() != rows * cols {
            return Err(format!(
                "{} values for {rows} x {cols} blocks",
                values.len()
            ));
        }
        if let Some(bad) = values.iter().find(|v| !(0.0..=1.0).contains(*v)) {
            return Err(format!("a block density of {bad}, outside [0, 1]"));
        }
        let smallest = smallest_positive(&values);
        let empty_tier = if smallest.is_finite() {
            1.0 / smallest
        } else {
            1.0
        };
        Ok(BlockTable {
            rows,
            cols,
            values,
            empty_tier,
        })
    }

    /// The density at `(u, v)`.
    pub fn at(&self, u: f64, v: f64) -> f64 {
        let block = |x: f64, n: usize| ((x * n as f64) as usize).min(n - 1);
        self.values[block(u, self.rows) * self.cols + block(v, self.cols)]
    }
}

/// What one layer is drawn from: a closed-form target, or a histogram target's table.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Shape<'a> {
    /// [`GraphonTarget::Constant`].
    Constant,
    /// [`GraphonTarget::Power`].
    Power {
        /// The exponent.
        beta: f64,
    },
    /// [`GraphonTarget::Block`].
    Block {
        /// The block's share of the rows.
        rows: f64,
        /// The block's share of the columns.
        cols: f64,
    },
    /// A layer of [`GraphonTarget::Histogram`] or [`GraphonTarget::Table`].
    Table(&'a BlockTable),
}

impl Shape<'static> {
    /// A closed-form target's shape; `None` for a histogram or table target, whose layers'
    /// shapes are their tables ([`Shape::Table`]).
    pub fn of(target: &GraphonTarget) -> Option<Shape<'static>> {
        match *target {
            GraphonTarget::Constant => Some(Shape::Constant),
            GraphonTarget::Power { beta } => Some(Shape::Power { beta }),
            GraphonTarget::Block { rows, cols } => Some(Shape::Block { rows, cols }),
            GraphonTarget::Histogram { .. } | GraphonTarget::Table { .. } => None,
        }
    }
}

/// `graphon:<source>`: the source's per-layer kept counts, drawn from `target`.
pub(super) struct Designed {
    pub(super) source: Box<dyn PruningMethod>,
    pub(super) target: GraphonTarget,
}

impl PruningMethod for Designed {
    /// Always: the input layer's pixel order comes from the training images, so the MNIST
    /// files enter the key through the scoring batch's data run. (A design of a data-free
    /// source thus also keys the batch's settings, which it does not read: a wider key than
    /// its output, never a hole.)
    fn needs_data(&self) -> bool {
        true
    }

    fn needs_pixel_order(&self) -> bool {
        true
    }

    fn target_histograms(&self) -> Option<&str> {
        match &self.target {
            GraphonTarget::Histogram { graphons } => Some(graphons),
            _ => None,
        }
    }

    /// The source's settings and the target's, flat (`graphon_target = "power"`,
    /// `graphon_beta = 2.0`), so that `glh ls` and the reports' settings show them.
    fn key_settings(&self) -> KeySettings {
        let mut settings = self.source.key_settings();
        settings.insert("graphon_target", self.target.name().into());
        match &self.target {
            GraphonTarget::Constant => {}
            GraphonTarget::Power { beta } => {
                settings.insert("graphon_beta", (*beta).into());
            }
            GraphonTarget::Block { rows, cols } => {
                settings.insert("graphon_rows", (*rows).into());
                settings.insert("graphon_cols", (*cols).into());
            }
            // A run key names its content, so the key is the table's.
            GraphonTarget::Histogram { graphons } => {
                settings.insert("graphon_histograms", graphons.as_str().into());
            }
            // The file's hash, not its path: `MasksJob::new` reads the file and keys its bytes.
            GraphonTarget::Table { .. } => {}
        }
        settings
    }

    fn prune(
        &self,
        net: &Mlp,
        data: Option<&ScoringData>,
        how: &Pruning,
        on_round: &mut dyn FnMut(usize, usize, &Mask),
    ) -> Result<Mask, String> {
        // The source's rounds are the job's progress, as for the controls.
        let counts = self.source.prune(net, data, how, on_round)?;
        let pixels = data
            .and_then(|d| d.pixel_order.as_deref())
            .ok_or("a graphon design needs the pixel order of the training images")?;
        // A closed-form target is every layer's shape; a histogram target has a table a layer.
        let closed_form = Shape::of(&self.target);
        let tables: &[BlockTable] = match closed_form {
            Some(_) => &[],
            None => {
                let tables = data
                    .and_then(|d| d.histograms.as_deref())
                    .ok_or("a histogram or table target needs its tables")?;
                if tables.len() != counts.layers().len() {
                    return Err(format!(
                        "the target has {} layers, the network {}",
                        tables.len(),
                        counts.layers().len()
                    ));
                }
                tables
            }
        };
        let mut rng = stream(how.seed, "masks/graphon");
        let layers: Vec<LayerMask> = counts
            .layers()
            .iter()
            .enumerate()
            .map(|(l, layer)| {
                let (rows, columns) = layer_positions(l, layer.rows(), layer.cols(), pixels)?;
                let shape = closed_form.unwrap_or_else(|| Shape::Table(&tables[l]));
                Ok(draw_layer(&rows, &columns, layer.kept(), shape, &mut rng))
            })
            .collect::<Result<_, String>>()?;
        Mask::from_layers(&net.arch, layers)
    }
}

/// `(i + 1/2) / n` for i in 0..n.
pub fn grid_positions(n: usize) -> Vec<f64> {
    (0..n).map(|i| (i as f64 + 0.5) / n as f64).collect()
}

/// The positions of layer `l`'s rows and columns (`rows x cols`, input layer first): outputs
/// on the grid; the input layer's columns, pixels, by `pixel_order`; every other layer's columns
/// on the grid, so a hidden neuron has one position on both sides of its layers.
pub fn layer_positions(
    l: usize,
    rows: usize,
    cols: usize,
    pixel_order: &[usize],
) -> Result<(Vec<f64>, Vec<f64>), String> {
    let columns = if l == 0 {
        input_positions(pixel_order, cols)?
    } else {
        grid_positions(cols)
    };
    Ok((grid_positions(rows), columns))
}

/// The power target's shape `((1 - u)(1 - v))^beta`.
fn power_shape(beta: f64, u: f64, v: f64) -> f64 {
    ((1.0 - u) * (1.0 - v)).powf(beta)
}

/// Whether `(u, v)` lies in the block target's `[0, rows) x [0, cols)`.
fn in_block(rows: f64, cols: f64, u: f64, v: f64) -> bool {
    u < rows && v < cols
}

/// Each input's position: pixel `order[r]` sits at `(r + 1/2) / n`.
fn input_positions(order: &[usize], n: usize) -> Result<Vec<f64>, String> {
    if order.len() != n {
        return Err(format!(
            "the pixel order has {} pixels, the input layer {n}",
            order.len()
        ));
    }
    let grid = grid_positions(n);
    let mut positions = vec![f64::NAN; n];
    for (&pixel, &place) in order.iter().zip(&grid) {
        positions[pixel] = place;
    }
    if positions.iter().any(|p| p.is_nan()) {
        return Err("the pixel order is not a permutation".to_owned());
    }
    Ok(positions)
}

/// A `rows.len() x columns.len()` layer keeping exactly `kept` entries, drawn from `shape`
/// with rows at `rows` and columns at `columns` (see the module's doc), its uniform draws
/// taken from `rng` row by row.
pub fn draw_layer(
    rows: &[f64],
    columns: &[f64],
    kept: usize,
    shape: Shape,
    rng: &mut impl Rng,
) -> LayerMask {
    let cols = columns.len();
    let mut keys: Vec<(f64, u32)> = Vec::with_capacity(rows.len() * cols);
    for &u in rows {
        for &v in columns {
            let e = unit_f64(rng.next_u64());
            let key = match shape {
                Shape::Constant => e,
                // g = 0 only where beta > 0 meets u or v = 1, which no position reaches; an
                // infinite key is kept last.
                Shape::Power { beta } => e / power_shape(beta, u, v),
                Shape::Block { rows, cols } => {
                    if in_block(rows, cols, u, v) {
                        e
                    } else {
                        1.0 + e
                    }
                }
                Shape::Table(table) => match table.at(u, v) {
                    g if g > 0.0 => e / g,
                    _ => table.empty_tier + e,
                },
            };
            keys.push((key, keys.len() as u32));
        }
    }
    let mut keep = vec![false; keys.len()];
    if kept > 0 {
        let smallest = |a: &(f64, u32), b: &(f64, u32)| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1));
        keys.select_nth_unstable_by(kept - 1, smallest);
        for &(_, index) in &keys[..kept] {
            keep[index as usize] = true;
        }
    }
    LayerMask::new(rows.len(), cols, keep).expect("rows * cols flags")
}

/// The probability that [`draw_layer`] keeps each entry, row-major, in the limit of a large
/// layer: `min(1, c g)` with c solved so that they sum to `kept`, where a shape's empty entries
/// (g = 0: outside a block, a table's empty blocks) share evenly what its others cannot hold
/// ([`filled`]). The design's graphon at these positions, so a design's kernel can be computed
/// without drawing a mask.
pub fn inclusion_probabilities(
    rows: &[f64],
    columns: &[f64],
    kept: usize,
    shape: Shape,
) -> Vec<f64> {
    let size = rows.len() * columns.len();
    assert!(kept <= size, "{kept} kept of {size}");
    let weights = |g: &dyn Fn(f64, f64) -> f64| -> Vec<f64> {
        rows.iter()
            .flat_map(|&u| columns.iter().map(move |&v| g(u, v)))
            .collect()
    };
    match shape {
        Shape::Constant => filled(&vec![1.0; size], kept),
        Shape::Block { rows: a, cols: b } => filled(
            &weights(&|u, v| f64::from(u8::from(in_block(a, b, u, v)))),
            kept,
        ),
        Shape::Table(table) => filled(&weights(&|u, v| table.at(u, v)), kept),
        // Power's scale is always solved by bisection, beta = 0 (g = 1) included: the stored
        // design searches' kernels were computed so.
        Shape::Power { .. } if kept == size => vec![1.0; size],
        Shape::Power { beta } => capped(&weights(&|u, v| power_shape(beta, u, v)), kept as f64),
    }
}

/// `min(1, c g)` summing to `kept`: where the count covers g's support, every positive entry
/// (1) and the rest spread evenly over g's zeros; where g takes one value on its support, `kept
/// / support` there (exact); otherwise c solved by [`capped`].
fn filled(g: &[f64], kept: usize) -> Vec<f64> {
    let size = g.len();
    let support = g.iter().filter(|&&x| x > 0.0).count();
    if kept >= support {
        let rest = if size == support {
            0.0
        } else {
            (kept - support) as f64 / (size - support) as f64
        };
        return g
            .iter()
            .map(|&x| if x > 0.0 { 1.0 } else { rest })
            .collect();
    }
    let first = g.iter().copied().find(|&x| x > 0.0);
    if g.iter().all(|&x| x == 0.0 || Some(x) == first) {
        let p = kept as f64 / support as f64;
        return g.iter().map(|&x| if x > 0.0 { p } else { 0.0 }).collect();
    }
    capped(g, kept as f64)
}

/// The smallest positive value of `values` (+inf if none).
fn smallest_positive(values: &[f64]) -> f64 {
    values
        .iter()
        .copied()
        .filter(|&x| x > 0.0)
        .fold(f64::INFINITY, f64::min)
}

/// `min(1, c g)` with c solved by bisection so that they sum to `kept` (below the number of
/// positive g).
fn capped(g: &[f64], kept: f64) -> Vec<f64> {
    let expected = |c: f64| g.iter().map(|&x| (c * x).min(1.0)).sum::<f64>();
    let smallest = smallest_positive(g);
    // expected(c) rises from 0 to the support's size as c runs over (0, 1 / min g]: bisect.
    let (mut lo, mut hi) = (0.0, 1.0 / smallest);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if mid <= lo || mid >= hi {
            break;
        }
        if expected(mid) < kept {
            lo = mid
        } else {
            hi = mid
        }
    }
    let c = 0.5 * (lo + hi);
    g.iter().map(|&x| (c * x).min(1.0)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha8Rng;
    use rand_chacha::rand_core::SeedableRng;

    /// A target of each kind, the block lopsided.
    const ONE_OF_EACH: [Shape<'static>; 3] = [
        Shape::Constant,
        Shape::Power { beta: 2.0 },
        Shape::Block {
            rows: 0.3,
            cols: 0.5,
        },
    ];

    fn rng(seed: u64) -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(seed)
    }

    /// The kept fraction of the entries whose row and column positions are in the given halves.
    fn quadrant(mask: &LayerMask, top: bool, left: bool) -> f64 {
        let (r, c) = (mask.rows(), mask.cols());
        let rows = if top { 0..r / 2 } else { r / 2..r };
        let (mut kept, mut all) = (0usize, 0usize);
        for i in rows {
            for j in 0..c {
                if (j < c / 2) == left {
                    kept += usize::from(mask.get(i, j));
                    all += 1;
                }
            }
        }
        kept as f64 / all as f64
    }

    #[test]
    fn every_target_keeps_the_count_exactly() {
        let (rows, cols) = (grid_positions(37), grid_positions(23));
        for target in ONE_OF_EACH {
            for kept in [0, 1, 100, 37 * 23 - 1, 37 * 23] {
                let mask = draw_layer(&rows, &cols, kept, target, &mut rng(3));
                assert_eq!(mask.kept(), kept, "{target:?}");
                assert_eq!(mask, draw_layer(&rows, &cols, kept, target, &mut rng(3)));
            }
        }
    }

    #[test]
    fn a_block_fills_first_then_the_rest_evenly() {
        // 20 x 20, block 10 x 10 = 100 entries, 160 kept: the block full, 60 of the other 300.
        let grid = grid_positions(20);
        let target = Shape::Block {
            rows: 0.5,
            cols: 0.5,
        };
        let mask = draw_layer(&grid, &grid, 160, target, &mut rng(1));
        assert_eq!(quadrant(&mask, true, true), 1.0);
        let outside = (quadrant(&mask, true, false) + 2.0 * quadrant(&mask, false, true)) / 3.0;
        assert!((outside - 0.2).abs() < 0.1, "{outside}");
        // Fewer than the block: all inside it.
        let mask = draw_layer(&grid, &grid, 40, target, &mut rng(1));
        assert_eq!(quadrant(&mask, true, true), 0.4);
    }

    #[test]
    fn beta_moves_the_kept_weights_to_the_first_positions() {
        // Power family at density 0.2: beta = 0 spreads evenly; at beta = 2, c = 0.2 * 9 and the
        // top-left quadrant's limit density is about 0.61 against the bottom-right's 0.0125 (the
        // histogram's convergence to the target is tested in the graphons stage).
        let grid = grid_positions(200);
        let kept = 8000;
        let flat = draw_layer(&grid, &grid, kept, Shape::Power { beta: 0.0 }, &mut rng(2));
        let steep = draw_layer(&grid, &grid, kept, Shape::Power { beta: 2.0 }, &mut rng(2));
        let ratio = |m: &LayerMask| quadrant(m, true, true) / quadrant(m, false, false);
        assert!((ratio(&flat) - 1.0).abs() < 0.1, "{}", ratio(&flat));
        assert!(ratio(&steep) > 10.0, "{}", ratio(&steep));
    }

    #[test]
    fn the_draws_average_to_the_inclusion_probabilities() {
        // 200 draws of a 30 x 40 layer at 25% for each target: every quadrant's mean kept
        // fraction within 4 standard errors of its inclusion probabilities' mean, and the
        // probabilities sum to the count.
        let (rows, cols) = (grid_positions(30), grid_positions(40));
        let kept = 300;
        for target in ONE_OF_EACH {
            let p = inclusion_probabilities(&rows, &cols, kept, target);
            assert!(
                (p.iter().sum::<f64>() - kept as f64).abs() < 1e-6,
                "{target:?}"
            );
            assert!(p.iter().all(|&x| (0.0..=1.0).contains(&x)));
            let draws = 200;
            let mut counts = vec![0usize; p.len()];
            let mut r = rng(11);
            for _ in 0..draws {
                let mask = draw_layer(&rows, &cols, kept, target, &mut r);
                for (c, &k) in counts.iter_mut().zip(mask.as_slice()) {
                    *c += usize::from(k);
                }
            }
            for (top, left) in [(true, true), (true, false), (false, true), (false, false)] {
                let cells: Vec<usize> = (0..p.len())
                    .filter(|&i| ((i / 40) < 15) == top && ((i % 40) < 20) == left)
                    .collect();
                let expected: f64 = cells.iter().map(|&i| p[i]).sum::<f64>() / cells.len() as f64;
                let seen = cells.iter().map(|&i| counts[i]).sum::<usize>() as f64
                    / (cells.len() * draws) as f64;
                let se = (expected * (1.0 - expected) / (cells.len() * draws) as f64).sqrt();
                assert!(
                    (seen - expected).abs() <= 4.0 * se + 1e-12,
                    "{target:?} quadrant ({top}, {left}): {seen} vs {expected} (se {se})"
                );
            }
        }
    }

    #[test]
    fn input_positions_follow_the_pixel_order() {
        let positions = input_positions(&[2, 0, 1], 3).unwrap();
        assert_eq!(positions, vec![0.5, 5.0 / 6.0, 1.0 / 6.0]);
        assert!(input_positions(&[0, 0, 1], 3).is_err());
        assert!(input_positions(&[0, 1], 3).is_err());
    }
}
