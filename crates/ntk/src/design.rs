//! Designing a mask's graphon for a kernel criterion (issue #32): the Graphon NTK of a
//! `graphon:<method>` design computed from its graphon alone, no mask drawn, and the search
//! over a target family's parameter for the value a spectral criterion prefers.
//!
//! A design's graphon is its inclusion probabilities
//! ([`glh_masks::methods::inclusion_probabilities`]) at its positions, averaged over K blocks
//! of each hidden side in position order (a design's degrees fall with its positions, so this
//! is the order a SAS histogram of its masks finds); pixels and outputs keep one position each,
//! as in every chain here. At K = n its kernel is the one the kernels of the masks a design
//! draws tend to (tested); at K blocks it costs one K-block recursion, so a search can afford
//! tens of them.

use crate::alignment::predicted_loss_ratio;
use crate::chain::GraphonChain;
use crate::recursion::graphon_ntk;
use crate::spectrum::{SpectralMetrics, eigen_ascending, spectral_metrics};
use faer::Mat;
use glh_graphons::sas::block_bounds;
use glh_masks::methods::{Shape, inclusion_probabilities, layer_positions};
use glh_masks::settings::GraphonTarget;
use serde::{Deserialize, Serialize};

/// The K-block chain of a design of `target` on layers of `shapes` (`(rows, cols)`, input
/// layer first, chained) keeping `kept[l]` weights each, the input's pixels placed by
/// `pixel_order` (most variable first).
pub fn design_chain(
    target: &GraphonTarget,
    shapes: &[(usize, usize)],
    kept: &[usize],
    pixel_order: &[usize],
    k: usize,
) -> Result<GraphonChain, String> {
    if shapes.is_empty() || shapes.len() != kept.len() {
        return Err(format!(
            "{} layers, {} kept counts",
            shapes.len(),
            kept.len()
        ));
    }
    if shapes.windows(2).any(|w| w[1].1 != w[0].0) {
        return Err("consecutive layers do not chain".to_owned());
    }
    if k == 0 {
        return Err("a design's chain needs at least one block".to_owned());
    }
    // A family's targets are closed-form; a histogram target's graphon is its table already.
    let shape = Shape::of(target).ok_or("a histogram target is not searched over")?;
    let depth = shapes.len();
    // Each side's blocks: the input's pixels and the outputs one each, hidden sides K blocks of
    // consecutive positions, with their measures.
    let side = |l: usize| -> Vec<usize> {
        let n = if l == 0 { shapes[0].1 } else { shapes[l - 1].0 };
        if l == 0 || l == depth {
            return (0..=n).collect();
        }
        block_bounds(n, k.min(n))
    };
    let bounds: Vec<Vec<usize>> = (0..=depth).map(side).collect();
    let measures: Vec<Vec<f64>> = bounds
        .iter()
        .map(|b| {
            let n = *b.last().expect("a side has positions") as f64;
            b.windows(2).map(|w| (w[1] - w[0]) as f64 / n).collect()
        })
        .collect();
    let layers = shapes
        .iter()
        .zip(kept)
        .enumerate()
        .map(|(l, (&(rows, cols), &kept))| {
            if kept > rows * cols {
                return Err(format!("layer {} keeps {kept} of {}", l + 1, rows * cols));
            }
            let (row_positions, columns) = layer_positions(l, rows, cols, pixel_order)?;
            let p = inclusion_probabilities(&row_positions, &columns, kept, shape);
            // The input layer's columns are pixels in their own index order, whatever their
            // positions: `p` is already laid out by pixel.
            Ok(block_average(&p, cols, &bounds[l + 1], &bounds[l]))
        })
        .collect::<Result<Vec<_>, String>>()?;
    GraphonChain::new(layers, measures)
}

/// The means of the row-major matrix `p` (`cols` columns) over the blocks cut by `row_bounds`
/// and `col_bounds`.
fn block_average(p: &[f64], cols: usize, row_bounds: &[usize], col_bounds: &[usize]) -> Mat<f64> {
    let (kr, kc) = (row_bounds.len() - 1, col_bounds.len() - 1);
    Mat::from_fn(kr, kc, |a, b| {
        let (r0, r1, c0, c1) = (
            row_bounds[a],
            row_bounds[a + 1],
            col_bounds[b],
            col_bounds[b + 1],
        );
        let sum: f64 = (r0..r1)
            .map(|r| p[r * cols + c0..r * cols + c1].iter().sum::<f64>())
            .sum();
        sum / ((r1 - r0) * (c1 - c0)) as f64
    })
}

/// What a design search optimises, read on the design's kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Criterion {
    /// The top-5 energy, the paper's measure of spectral concentration (maximised).
    Top5Energy,
    /// The kernel's trace, its scale, what predicted early speed in E3 (maximised).
    Trace,
    /// `L_T / L_0` of linearised gradient descent at the trace-normalised rate
    /// (`crate::alignment::predicted_loss_ratio`, T = [`PREDICTED_STEPS`]): scale-free,
    /// it reads how the labels sit in the spectrum (minimised).
    PredictedLossRatio,
}

/// The steps of the [`Criterion::PredictedLossRatio`] prediction: E3's 200.
pub const PREDICTED_STEPS: u32 = 200;

impl Criterion {
    /// Every criterion.
    pub const ALL: [Criterion; 3] = [
        Criterion::Top5Energy,
        Criterion::Trace,
        Criterion::PredictedLossRatio,
    ];

    /// Its name, as written on the command line and in tables.
    pub fn name(self) -> &'static str {
        match self {
            Criterion::Top5Energy => "top5_energy",
            Criterion::Trace => "trace",
            Criterion::PredictedLossRatio => "predicted_loss_ratio",
        }
    }

    /// Its value in `reading`.
    pub fn of(self, reading: &KernelReading) -> f64 {
        match self {
            Criterion::Top5Energy => reading.metrics.top5_energy,
            Criterion::Trace => reading.metrics.trace,
            Criterion::PredictedLossRatio => reading.predicted_loss_ratio,
        }
    }

    /// Its value with the sign that makes larger better.
    pub fn score(self, reading: &KernelReading) -> f64 {
        match self {
            Criterion::PredictedLossRatio => -self.of(reading),
            Criterion::Top5Energy | Criterion::Trace => self.of(reading),
        }
    }
}

/// What a design's kernel is read for: its spectral metrics and the loss ratio it predicts.
#[derive(Clone, Debug, PartialEq)]
pub struct KernelReading {
    /// The spectral metrics.
    pub metrics: SpectralMetrics,
    /// [`Criterion::PredictedLossRatio`]'s value.
    pub predicted_loss_ratio: f64,
}

/// The reading of the kernel of `chain` on the columns of `x` (labelled `labels`, of
/// `classes` classes) at `sigma_w2`.
pub fn read_kernel(
    chain: &GraphonChain,
    x: &Mat<f64>,
    labels: &[u8],
    classes: usize,
    sigma_w2: f64,
) -> Result<KernelReading, String> {
    let kernel = graphon_ntk(chain, x, sigma_w2);
    let (mut values, _) = eigen_ascending(&kernel)?;
    values.reverse();
    Ok(KernelReading {
        metrics: spectral_metrics(&values),
        predicted_loss_ratio: predicted_loss_ratio(&kernel, labels, classes, PREDICTED_STEPS)?,
    })
}

/// One evaluated point of a search.
#[derive(Clone, Debug, PartialEq)]
pub struct DesignPoint {
    /// The family searched.
    pub family: Family,
    /// The family's parameter.
    pub parameter: f64,
    /// Whether it came from the grid (else from the refinement).
    pub on_grid: bool,
    /// Its kernel's reading.
    pub reading: KernelReading,
}

/// What [`search`] needs of its grid and refinements, as `(field, message)`: a non-empty
/// ascending grid, and 0 or at least 2 refinements (the golden section's first two points).
fn search_shape(grid: &[f64], refinements: usize) -> Result<(), (&'static str, String)> {
    if grid.is_empty() || grid.windows(2).any(|w| w[0] >= w[1]) {
        return Err(("grid", "must be non-empty and ascending".to_owned()));
    }
    if refinements == 1 {
        let msg = "must be 0 or at least 2 (a golden-section search evaluates two points first)";
        return Err(("refinements", msg.to_owned()));
    }
    Ok(())
}

/// Optimises `criterion` of `evaluate(parameter)` over `grid` (ascending), then refines by
/// golden-section search between the best grid point's neighbours: `refinements` more
/// evaluations (0, or at least 2: the search's first two points).
/// Every evaluated point is returned, in the order evaluated; the best is the one the
/// criterion prefers (the first of equals).
pub fn search(
    family: Family,
    grid: &[f64],
    refinements: usize,
    criterion: Criterion,
    mut evaluate: impl FnMut(f64) -> Result<KernelReading, String>,
) -> Result<Vec<DesignPoint>, String> {
    if let Err((field, msg)) = search_shape(grid, refinements) {
        return Err(format!("{field} {msg}"));
    }
    let mut points = Vec::new();
    for &parameter in grid {
        let reading = evaluate(parameter)?;
        points.push(DesignPoint {
            family,
            parameter,
            on_grid: true,
            reading,
        });
    }
    let value = |p: &DesignPoint| criterion.score(&p.reading);
    let best = (0..points.len())
        .max_by(|&a, &b| {
            value(&points[a])
                .total_cmp(&value(&points[b]))
                .then(b.cmp(&a))
        })
        .expect("a non-empty grid");
    let (mut lo, mut hi) = (
        grid[best.saturating_sub(1)],
        grid[(best + 1).min(grid.len() - 1)],
    );
    let ratio = (5f64.sqrt() - 1.0) / 2.0;
    let mut probe = |x: f64, points: &mut Vec<DesignPoint>| -> Result<f64, String> {
        let reading = evaluate(x)?;
        let v = criterion.score(&reading);
        points.push(DesignPoint {
            family,
            parameter: x,
            on_grid: false,
            reading,
        });
        Ok(v)
    };
    if hi > lo && refinements > 0 {
        let (mut x1, mut x2) = (hi - ratio * (hi - lo), lo + ratio * (hi - lo));
        let (mut f1, mut f2) = (probe(x1, &mut points)?, probe(x2, &mut points)?);
        for _ in 2..refinements {
            if f1 >= f2 {
                hi = x2;
                (x2, f2) = (x1, f1);
                x1 = hi - ratio * (hi - lo);
                f1 = probe(x1, &mut points)?;
            } else {
                lo = x1;
                (x1, f1) = (x2, f2);
                x2 = lo + ratio * (hi - lo);
                f2 = probe(x2, &mut points)?;
            }
        }
    }
    Ok(points)
}

/// The point of `points` that `criterion` prefers (the first of equals).
pub fn best(points: &[DesignPoint], criterion: Criterion) -> Option<&DesignPoint> {
    points.iter().reduce(|a, b| {
        if criterion.score(&b.reading) > criterion.score(&a.reading) {
            b
        } else {
            a
        }
    })
}

pub use glh_masks::settings::Family;

/// Golden-section steps after the grid, by default.
pub const DEFAULT_REFINEMENTS: usize = 8;
/// The design kernel's sigma_w^2, by default: the paper's 1.
pub const DEFAULT_SIGMA_W2: f64 = 1.0;

/// One design search (`glh design`, and a pipeline's `[design]` table): the families, the
/// grid and refinements, the criterion, and the kernel it is read on (the paper's E3 kernel: K
/// blocks, 1024 images, sigma_w^2 = 1). Each family is searched over its grid; the best point
/// over all of them is the choice.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DesignSearch {
    /// The target families, each searched in turn.
    pub families: Vec<Family>,
    /// The parameter's grid, ascending, for a search of one family; empty: each family's
    /// default grid ([`Family::default_grid`], see [`DesignSearch::grids`]).
    pub grid: Vec<f64>,
    /// Golden-section steps after the grid (0: the grid alone).
    pub refinements: usize,
    /// What is maximised.
    pub criterion: Criterion,
    /// Blocks per hidden side of the design's chain.
    pub k: usize,
    /// Kernel images and their seed.
    pub kernel_size: u32,
    /// The seed of the kernel images' draw.
    pub kernel_seed: u64,
    /// The kernel's sigma_w^2.
    pub sigma_w2: f64,
}

impl Default for DesignSearch {
    fn default() -> Self {
        DesignSearch {
            families: vec![Family::Power],
            grid: Vec::new(),
            refinements: DEFAULT_REFINEMENTS,
            criterion: Criterion::Top5Energy,
            k: crate::settings::DEFAULT_GRAPHON_K as usize,
            kernel_size: crate::settings::DEFAULT_KERNEL_SIZE,
            kernel_seed: 0,
            sigma_w2: DEFAULT_SIGMA_W2,
        }
    }
}

impl DesignSearch {
    /// Each family with the grid it is searched over: `grid`, or the family's default where
    /// `grid` is empty. What runs, and what a design run's key holds.
    pub fn grids(&self) -> Vec<(Family, Vec<f64>)> {
        self.families
            .iter()
            .map(|&f| {
                let grid = match self.grid.is_empty() {
                    true => f.default_grid(),
                    false => self.grid.clone(),
                };
                (f, grid)
            })
            .collect()
    }

    /// Kernels the search evaluates: each grid, and the refinements after each grid of two
    /// points or more.
    pub fn evaluations(&self) -> usize {
        self.grids()
            .iter()
            .map(|(_, g)| g.len() + if g.len() > 1 { self.refinements } else { 0 })
            .sum()
    }

    /// Checks the families (at least one, none twice, a `grid` only for one), each grid
    /// (non-empty, ascending, in its family's domain) and the refinements, a config error
    /// naming the field; [`run_search`] makes it before it reads anything.
    pub fn validate(&self, source_name: &str) -> glh_artifacts::Result<()> {
        use glh_artifacts::Error;
        let bad = |field: &str, msg: String| Err(Error::config(source_name, field, msg));
        let f = &self.families;
        if f.is_empty() || (1..f.len()).any(|i| f[..i].contains(&f[i])) {
            return bad(
                "families",
                "must name each family once, at least one".into(),
            );
        }
        if f.len() > 1 && !self.grid.is_empty() {
            let msg = "is one family's: leave it out to search several, each on its default grid";
            return bad("grid", msg.into());
        }
        for (family, grid) in self.grids() {
            search_shape(&grid, self.refinements)
                .map_err(|(field, msg)| Error::config(source_name, field, msg))?;
            if let Some(bad_value) = grid.iter().find(|&&p| !family.admits(p)) {
                let msg = match family {
                    Family::Power => format!("beta must be a number >= 0, got {bad_value}"),
                    Family::Block => {
                        format!("the block's share must be in (0, 1], got {bad_value}")
                    }
                };
                return bad("grid", msg);
            }
        }
        Ok(())
    }
}

/// Runs `search` for a network of `shapes` keeping `kept[l]` weights per layer: the one door
/// of `glh design`. Reads the training images' pixel order and the kernel images from `data`;
/// `on_point(parameter, metrics)` sees every evaluation as it ends (progress).
pub fn run_search(
    search_settings: &DesignSearch,
    data: &glh_data::DataSettings,
    shapes: &[(usize, usize)],
    kept: &[usize],
    on_point: &mut dyn FnMut(f64, &KernelReading),
) -> glh_artifacts::Result<Vec<DesignPoint>> {
    use glh_artifacts::Error;
    use glh_data::mnist::{MnistSplit, Split};
    let s = search_settings;
    s.validate("design search")?;
    let train = MnistSplit::load(&data.dir, Split::Train)?;
    let order = train.pixels_by_variance();
    let (x, labels) =
        crate::graphon_stage::kernel_images_of(&train, data, s.kernel_size, s.kernel_seed)?;
    drop(train);
    let classes = glh_data::mnist::CLASSES;
    let unsupported = |e: String| Error::Unsupported(format!("design: {e}"));
    let mut points = Vec::new();
    for (family, grid) in s.grids() {
        let mut evaluate = |parameter: f64| -> Result<KernelReading, String> {
            let chain = design_chain(&family.target(parameter), shapes, kept, &order, s.k)?;
            let reading = read_kernel(&chain, &x, &labels, classes, s.sigma_w2)?;
            on_point(parameter, &reading);
            Ok(reading)
        };
        points.extend(
            search(family, &grid, s.refinements, s.criterion, &mut evaluate)
                .map_err(unsupported)?,
        );
    }
    Ok(points)
}

/// The layers a search keeps the counts of: their shapes (`(rows, cols)`, input layer first)
/// and kept counts.
#[derive(Clone, Debug, PartialEq)]
pub struct KeptProfile {
    /// Each layer's `(rows, cols)`.
    pub shapes: Vec<(usize, usize)>,
    /// Each layer's kept count.
    pub kept: Vec<usize>,
}

impl KeptProfile {
    /// `mask`'s: a design at a method's own per-layer densities.
    pub fn of_mask(mask: &glh_model::Mask) -> KeptProfile {
        let (shapes, kept) = mask
            .layers()
            .iter()
            .map(|l| ((l.rows(), l.cols()), l.kept()))
            .unzip();
        KeptProfile { shapes, kept }
    }

    /// Every layer of the MLP of `width` and `depth` at `density` (global Random's expected
    /// profile), its count rounded.
    pub fn uniform(width: u64, depth: u32, density: f64) -> KeptProfile {
        let (shapes, kept) = crate::stage::mlp_shapes(width, depth)
            .into_iter()
            .map(|(r, c)| {
                let size = (r * c) as f64;
                ((r as usize, c as usize), (density * size).round() as usize)
            })
            .unzip();
        KeptProfile { shapes, kept }
    }

    /// The context columns of a search on it, the profile named `profile`.
    pub fn context(&self, profile: String) -> SearchContext {
        let weights: usize = self.shapes.iter().map(|(r, c)| r * c).sum();
        SearchContext {
            depth: self.shapes.len() as u32,
            width: self.shapes[0].0 as u32,
            density: self.kept.iter().sum::<usize>() as f64 / weights as f64,
            profile,
        }
    }
}

/// What a search ran on, beside its settings: the `design_points` table's context columns.
#[derive(Clone, Debug, PartialEq)]
pub struct SearchContext {
    /// Number of Linear layers L.
    pub depth: u32,
    /// Hidden width n.
    pub width: u32,
    /// Fraction of weights kept over all layers.
    pub density: f64,
    /// `uniform`, or the masks run key the per-layer counts came from.
    pub profile: String,
}

/// `points` as the `design_points` table (`glh_artifacts::schemas::DESIGN_POINTS`), the
/// chosen point marked, written with its schema's metadata to `out` (a regular file outside
/// the store at `store_root`, replaced atomically).
pub fn write_points(
    points: &[DesignPoint],
    search: &DesignSearch,
    context: &SearchContext,
    store_root: &std::path::Path,
    out: &std::path::Path,
) -> glh_artifacts::Result<()> {
    use glh_artifacts::schemas::DESIGN_POINTS;
    let metadata = vec![("glh.table".to_string(), DESIGN_POINTS.name.to_string())];
    let columns = points_columns(points, search, context)?;
    let (bytes, _) = glh_artifacts::parquet_io::encode_table(&DESIGN_POINTS, columns, &metadata)?;
    glh_artifacts::files::write_output(out, store_root, &bytes)
}

/// `points` as the columns of the `design_points` table (the chosen point marked): what
/// `glh design --out` and a `design` run write.
pub fn points_columns(
    points: &[DesignPoint],
    search: &DesignSearch,
    context: &SearchContext,
) -> glh_artifacts::Result<glh_artifacts::Columns> {
    use arrow::array::{BooleanArray, Float64Array, StringArray, UInt32Array};
    use glh_artifacts::Columns;
    let chosen =
        best(points, search.criterion).and_then(|b| points.iter().position(|p| std::ptr::eq(p, b)));
    let rows = points
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let mut columns = Columns::new()
                .with("family", StringArray::from(vec![p.family.name()]))
                .with("parameter", Float64Array::from(vec![p.parameter]))
                .with("on_grid", BooleanArray::from(vec![p.on_grid]))
                .with(
                    "criterion",
                    StringArray::from(vec![search.criterion.name()]),
                )
                .with("chosen", BooleanArray::from(vec![chosen == Some(i)]))
                .with("depth", UInt32Array::from(vec![context.depth]))
                .with("width", UInt32Array::from(vec![context.width]))
                .with("density", Float64Array::from(vec![context.density]))
                .with("profile", StringArray::from(vec![context.profile.as_str()]))
                .with("k", UInt32Array::from(vec![search.k as u32]))
                .with("n_points", UInt32Array::from(vec![search.kernel_size]))
                .with("sigma_w2", Float64Array::from(vec![search.sigma_w2]));
            p.reading.metrics.add_columns(&mut columns);
            columns.add(
                "predicted_loss_ratio",
                Float64Array::from(vec![p.reading.predicted_loss_ratio]),
            );
            columns
        })
        .collect();
    Columns::concat(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use glh_masks::methods::draw_layer;
    use glh_model::LayerMask;
    use rand_chacha::ChaCha8Rng;
    use rand_chacha::rand_core::SeedableRng;

    /// A small chain: 12 inputs, two hidden layers of 48, 3 outputs.
    const SHAPES: [(usize, usize); 3] = [(48, 12), (48, 48), (3, 48)];

    fn images(n: usize) -> Mat<f64> {
        Mat::from_fn(12, n, |i, j| ((i * 7 + j * 13) % 11) as f64 / 5.0 - 1.0)
    }

    #[test]
    fn a_constant_design_is_the_constant_chain_of_its_density() {
        // Every layer at the same density p: the chain is W = p everywhere, whose kernel is
        // p^L times the dense one for bias-free ReLU (each layer's integral scales by p).
        let kept: Vec<usize> = SHAPES.iter().map(|&(r, c)| r * c / 4).collect();
        let order: Vec<usize> = (0..12).collect();
        let chain = design_chain(&GraphonTarget::Constant, &SHAPES, &kept, &order, 8).unwrap();
        let x = images(6);
        let design = graphon_ntk(&chain, &x, 2.0);
        let dense = graphon_ntk(&GraphonChain::dense(12, 3), &x, 2.0);
        for (a, b) in design.col_iter().zip(dense.col_iter()) {
            for (u, v) in a.iter().zip(b.iter()) {
                assert!(
                    (u - v * 0.25f64.powi(3)).abs() < 1e-12 * v.abs().max(1.0),
                    "{u} {v}"
                );
            }
        }
    }

    #[test]
    fn drawn_masks_kernels_tend_to_the_designs_kernel() {
        // Masks drawn by the design at growing width: their mask-level kernel approaches the
        // design chain's at full resolution (K = n; relative Frobenius error falls, and is small
        // at the largest width).
        let target = GraphonTarget::Power { beta: 2.0 };
        let x = images(8);
        let error = |n: usize| -> f64 {
            let shapes = [(n, 12), (n, n), (3, n)];
            let kept: Vec<usize> = shapes.iter().map(|&(r, c)| r * c * 3 / 10).collect();
            let order: Vec<usize> = (0..12).rev().collect();
            let chain = design_chain(&target, &shapes, &kept, &order, n).unwrap();
            let want = graphon_ntk(&chain, &x, 2.0);
            let mut rng = ChaCha8Rng::seed_from_u64(n as u64);
            let masks: Vec<LayerMask> = shapes
                .iter()
                .zip(&kept)
                .enumerate()
                .map(|(l, (&(r, c), &k))| {
                    let (rows, columns) = layer_positions(l, r, c, &order).unwrap();
                    draw_layer(&rows, &columns, k, Shape::of(&target).unwrap(), &mut rng)
                })
                .collect();
            let got = graphon_ntk(&GraphonChain::of_masks(&masks).unwrap(), &x, 2.0);
            (&got - &want).norm_l2() / want.norm_l2()
        };
        // Measured: 0.051 at n = 64, 0.040 at 128, 0.027 at 512 (the finite net's sums over its
        // kept inputs fluctuate about their expectations like 1 / sqrt(p n)).
        let (small, large) = (error(64), error(512));
        assert!(large < 0.04, "n = 512: {large}");
        assert!(large < 0.7 * small, "n = 64: {small}, n = 512: {large}");
    }

    #[test]
    fn the_search_finds_a_known_maximum_and_records_every_point() {
        // A criterion with its maximum at 1.3 (a fake metric): the grid brackets it, the
        // refinement closes in, and every evaluation is a point.
        let fake = |x: f64| {
            let mut metrics = spectral_metrics(&[2.0, 1.0]);
            metrics.trace = -(x - 1.3).powi(2);
            KernelReading {
                metrics,
                predicted_loss_ratio: (x - 2.6).powi(2),
            }
        };
        let mut calls = 0;
        let points = search(
            Family::Power,
            &[0.0, 1.0, 2.0, 4.0],
            20,
            Criterion::Trace,
            |x| {
                calls += 1;
                Ok(fake(x))
            },
        )
        .unwrap();
        assert_eq!(points.len(), calls);
        assert_eq!(points.iter().filter(|p| p.on_grid).count(), 4);
        let top = best(&points, Criterion::Trace).unwrap();
        assert!((top.parameter - 1.3).abs() < 1e-3, "{}", top.parameter);
        // A criterion that is minimised: the smallest predicted loss ratio, at 2.6.
        let points = search(
            Family::Power,
            &[0.0, 1.0, 2.0, 4.0],
            20,
            Criterion::PredictedLossRatio,
            |x| Ok(fake(x)),
        )
        .unwrap();
        let top = best(&points, Criterion::PredictedLossRatio).unwrap();
        assert!((top.parameter - 2.6).abs() < 1e-3, "{}", top.parameter);
        assert!(
            search(Family::Power, &[1.0, 0.0], 3, Criterion::Trace, |x| Ok(
                fake(x)
            ))
            .is_err()
        );
    }
}
