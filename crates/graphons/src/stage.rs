//! The `graphons` stage and its `convergence` jobs.
//!
//! A `graphons` job reads one masks artifact and writes the SAS histogram (`K_r = min(K,
//! n_rows)`, `K_c = min(K, n_cols)`, so the 10-row classifier layer gets 10 row blocks) with its
//! layer's density, the degree profiles of every layer, and the hidden neurons the mask cuts
//! off. A `convergence` job reads the `graphons` jobs of one (method, depth, level) over all
//! widths and seeds, where a level is a fixed sparsity or a density law `c n^(-a)`, optionally
//! divides every histogram by its layer's density (`rescale`), takes the seed-averaged
//! histogram at the largest width as the reference `H_ref`, and writes per layer and width the
//! mean and spread over seeds of the paper's Frobenius distance, our L2 distance
//! `||H_n - H_ref||_F / K` and the cut distance's certified interval.

use crate::cut_bounds::cut_interval;
use crate::noise::{corrected_sq_distance, noise_floor};
use crate::sas::{degree_order, degree_profile, sas_histogram};
use crate::settings::{GraphonsSettings, Rescale};
use crate::step::{StepGraphon, frobenius_distance, l2_distance};
use arrow::array::{BooleanArray, Float64Array, StringArray, UInt32Array};
use glh_artifacts::config::{Level, PruneMethod, Sweep, Width};
use glh_artifacts::parquet_io::column;
use glh_artifacts::schemas::{
    CONVERGENCE, EDGE_LIST, GRAPHON_DEGREES, GRAPHON_HIDDEN_NEURONS, GRAPHON_HISTOGRAMS,
};
use glh_artifacts::store::{InputRef, Verify};
use glh_artifacts::{
    ArtifactStore, ArtifactWriter, Columns, Error, Job, JobOutcome, JobSpec, Plan, Result,
    RunColumns, Stage,
};
use glh_masks::stage::{
    MasksJob, external_run_columns, read_mask, read_schedule_mask, run_columns,
};
use glh_model::LayerMask;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// The histogram stage's name.
pub const STAGE: &str = "graphons";
/// The convergence stage's name.
pub const CONVERGENCE_STAGE: &str = "convergence";
/// Bumped whenever the histogram stage's outputs for the same parameters change. 2: the
/// histograms carry their layer's density, and a `hidden_neurons` table counts the neurons
/// each mask cuts off (the paper's appendix figure 9).
pub const VERSION: u32 = 2;
/// Bumped whenever the convergence stage's outputs for the same inputs change. 2: the paper's
/// unnormalised Frobenius distance, a `hidden` flag per layer, and the cut distance as a
/// certified interval (`cut_low_*`, `cut_high_*`, exact and equal where K <= 24) in place of
/// `cut_mean`/`cut_sd`, so that K = 64 works. 3: groups by level (a fixed sparsity or a
/// density law, `density_c`, `density_a`), with each width's own sparsity, and the `rescale`
/// setting. 4: the noise floor (seed-to-seed distance) and the bias-corrected squared distance
/// between expected histograms with its interval (`crate::noise`, issue #28). 5: the Cauchy
/// chain, the same corrected distance between each width and the next smaller one.
pub const CONVERGENCE_VERSION: u32 = 5;

/// The leading run columns of both tables, repeated `n` times.
fn layer_run_columns(labels: &RunColumns, layer: u32, shape: (usize, usize), n: usize) -> Columns {
    labels
        .columns(n)
        .with("layer", UInt32Array::from(vec![layer; n]))
        .with("n_rows", UInt32Array::from(vec![shape.0 as u32; n]))
        .with("n_cols", UInt32Array::from(vec![shape.1 as u32; n]))
}

/// Writes the histograms and degree profiles of `layers`.
fn write_tables(
    writer: &mut ArtifactWriter,
    settings: &GraphonsSettings,
    layers: &[LayerMask],
    labels: &RunColumns,
) -> Result<()> {
    let k = settings.k as usize;
    let (mut histograms, mut degrees) = (vec![], vec![]);
    for (l, layer) in layers.iter().enumerate() {
        let (rows, cols) = (layer.rows(), layer.cols());
        let (kr, kc) = (k.min(rows), k.min(cols));
        let h = sas_histogram(layer, kr, kc).map_err(Error::Unsupported)?;
        let cells = kr * kc;
        let columns = layer_run_columns(labels, l as u32 + 1, (rows, cols), cells)
            .with("k_rows", UInt32Array::from(vec![kr as u32; cells]))
            .with("k_cols", UInt32Array::from(vec![kc as u32; cells]))
            .with(
                "row_block",
                UInt32Array::from_iter_values((0..cells).map(|i| (i / kc) as u32)),
            )
            .with(
                "col_block",
                UInt32Array::from_iter_values((0..cells).map(|i| (i % kc) as u32)),
            )
            .with("block_density", Float64Array::from(h.values))
            .with(
                "layer_density",
                Float64Array::from(vec![layer.density(); cells]),
            );
        histograms.push(columns);

        for (side, degs, other) in [
            ("row", layer.row_degrees(), cols),
            ("col", layer.col_degrees(), rows),
        ] {
            let order = degree_order(&degs);
            let n = degs.len();
            let columns = layer_run_columns(labels, l as u32 + 1, (rows, cols), n)
                .with("side", StringArray::from(vec![side; n]))
                .with("rank", UInt32Array::from_iter_values(0..n as u32))
                .with(
                    "position",
                    Float64Array::from_iter_values((0..n).map(|r| (r as f64 + 0.5) / n as f64)),
                )
                .with(
                    "degree",
                    UInt32Array::from_iter_values(order.iter().map(|&i| degs[i] as u32)),
                )
                .with(
                    "normalised_degree",
                    Float64Array::from(degree_profile(&degs, other)),
                );
            degrees.push(columns);
        }
    }
    writer.write_table(&GRAPHON_HISTOGRAMS, Columns::concat(histograms)?)?;
    writer.write_table(&GRAPHON_DEGREES, Columns::concat(degrees)?)?;
    let counts = hidden_neurons(layers);
    let n = counts.len();
    let count = |f: fn(&HiddenNeurons) -> u32| UInt32Array::from_iter_values(counts.iter().map(f));
    let columns = labels
        .columns(n)
        .with("hidden_layer", UInt32Array::from_iter_values(1..=n as u32))
        .with("neurons", count(|c| c.neurons))
        .with("without_inputs", count(|c| c.without_inputs))
        .with("without_outputs", count(|c| c.without_outputs))
        .with("removed", count(|c| c.removed))
        .with(
            "removed_fraction",
            Float64Array::from_iter_values(counts.iter().map(HiddenNeurons::removed_fraction)),
        );
    writer.write_table(&GRAPHON_HIDDEN_NEURONS, columns)
}

/// The neurons of one hidden layer that a mask cuts off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HiddenNeurons {
    /// Neurons in the layer.
    pub neurons: u32,
    /// Those with no kept weight in.
    pub without_inputs: u32,
    /// Those with no kept weight out.
    pub without_outputs: u32,
    /// Those with none in or none out: they take no part in the network's function.
    pub removed: u32,
}

impl HiddenNeurons {
    /// `removed / neurons`.
    pub fn removed_fraction(&self) -> f64 {
        f64::from(self.removed) / f64::from(self.neurons)
    }
}

/// Per hidden layer h = 1..L-1 (the outputs of Linear layer h, the inputs of layer h + 1): how
/// many neurons have no kept weight in, none out, or either. A chain of masks whose shapes do
/// not chain is cut at the first break.
pub fn hidden_neurons(layers: &[LayerMask]) -> Vec<HiddenNeurons> {
    layers
        .windows(2)
        .take_while(|pair| pair[0].rows() == pair[1].cols())
        .map(|pair| {
            let (ins, outs) = (pair[0].row_degrees(), pair[1].col_degrees());
            let count = |f: &dyn Fn(usize) -> bool| (0..ins.len()).filter(|&j| f(j)).count() as u32;
            HiddenNeurons {
                neurons: ins.len() as u32,
                without_inputs: count(&|j| ins[j] == 0),
                without_outputs: count(&|j| outs[j] == 0),
                removed: count(&|j| ins[j] == 0 || outs[j] == 0),
            }
        })
        .collect()
}

/// The per-layer histograms stored in the graphons run `input`.
pub fn read_histograms(
    store: &ArtifactStore,
    input: &InputRef,
) -> Result<BTreeMap<u32, StepGraphon>> {
    read_scaled_histograms(store, input, Rescale::None)
}

/// The per-layer histograms stored in the graphons run `input`, each scaled by `rescale`.
pub fn read_scaled_histograms(
    store: &ArtifactStore,
    input: &InputRef,
    rescale: Rescale,
) -> Result<BTreeMap<u32, StepGraphon>> {
    let path = store.table_path(input, &GRAPHON_HISTOGRAMS); // named in errors below
    let batch = store.read_run_table(input, &GRAPHON_HISTOGRAMS)?;
    let layer: &UInt32Array = column(&batch, "layer");
    let kr: &UInt32Array = column(&batch, "k_rows");
    let kc: &UInt32Array = column(&batch, "k_cols");
    let value: &Float64Array = column(&batch, "block_density");
    let density: &Float64Array = column(&batch, "layer_density");
    let mut values: BTreeMap<u32, (usize, usize, Vec<f64>)> = BTreeMap::new();
    for i in 0..batch.num_rows() {
        let entry = values
            .entry(layer.value(i))
            .or_insert_with(|| (kr.value(i) as usize, kc.value(i) as usize, Vec::new()));
        entry
            .2
            .push(rescale.apply(value.value(i), density.value(i)));
    }
    values
        .into_iter()
        .map(|(l, (r, c, v))| {
            StepGraphon::new(r, c, v).map(|g| (l, g)).ok_or_else(|| {
                Error::input(&path, format!("layer {l}: not a full {r}x{c} histogram"))
            })
        })
        .collect()
}

/// One histogram run of a convergence group.
#[derive(Clone, Debug)]
pub struct GroupMember {
    /// Its graphons artifact.
    pub histograms: InputRef,
    /// Its width (checked against its masks run when the convergence job runs).
    pub width: Width,
    /// Its seed (checked against its masks run when the convergence job runs).
    pub seed: u64,
}

#[derive(Serialize)]
struct ConvergenceParams {
    k: u32,
    rescale: Rescale,
    density_c: f64,
    density_a: f64,
    widths: Vec<u32>,
    seeds: Vec<u64>,
}

/// One row of the convergence table before it becomes columns.
pub struct ConvergenceRow {
    /// The layer, 1 = input layer.
    pub layer: u32,
    /// A hidden-to-hidden layer (2..L-1): the only ones the paper analyses.
    pub hidden: bool,
    /// The width.
    pub width: u32,
    /// Seeds at this width.
    pub seeds: u32,
    /// (mean, sd) over seeds of the Frobenius distance, our normalised L2, and the cut
    /// distance's lower and upper bounds, in the table's column order.
    pub stats: [(f64, f64); 4],
    /// The mean Frobenius distance between two seeds' histograms at this width.
    pub noise_floor: f64,
    /// The bias-corrected squared distance of the expected histograms to the reference
    /// width's, and its interval (NaN at the reference width).
    pub expected_sq: (f64, f64, f64),
    /// The next smaller width of the group, the chain's previous link (0 at the smallest).
    pub previous_width: u32,
    /// The bias-corrected squared distance of the expected histograms to the previous width's,
    /// and its interval (NaN at the smallest width).
    pub successive_sq: (f64, f64, f64),
}

/// The names of [`ConvergenceRow::stats`]' (mean, sd) pairs, in order: the table's columns.
const CONVERGENCE_STATS: [(&str, &str); 4] = [
    ("frobenius_mean", "frobenius_sd"),
    ("l2_mean", "l2_sd"),
    ("cut_low_mean", "cut_low_sd"),
    ("cut_high_mean", "cut_high_sd"),
];

/// One per-row column of the convergence table.
pub enum RowColumn {
    /// A `UInt32` column.
    Counts(Vec<u32>),
    /// A `Boolean` column.
    Flags(Vec<bool>),
    /// A `Float64` column.
    Reals(Vec<f64>),
}

/// The columns of the convergence table that vary by row, by name: what the convergence job
/// writes beside its group's constants, and what `graphon_lab.convergence_table` returns.
pub fn convergence_row_columns(rows: &[ConvergenceRow]) -> Vec<(&'static str, RowColumn)> {
    let counts = |f: fn(&ConvergenceRow) -> u32| RowColumn::Counts(rows.iter().map(f).collect());
    let reals = |f: &dyn Fn(&ConvergenceRow) -> f64| RowColumn::Reals(rows.iter().map(f).collect());
    let mut columns = vec![
        ("layer", counts(|r| r.layer)),
        (
            "hidden",
            RowColumn::Flags(rows.iter().map(|r| r.hidden).collect()),
        ),
        ("width", counts(|r| r.width)),
        ("seeds", counts(|r| r.seeds)),
    ];
    for (which, (mean, sd)) in CONVERGENCE_STATS.into_iter().enumerate() {
        columns.push((mean, reals(&|r| r.stats[which].0)));
        columns.push((sd, reals(&|r| r.stats[which].1)));
    }
    columns.extend([
        ("noise_floor", reals(&|r| r.noise_floor)),
        ("expected_sq_distance", reals(&|r| r.expected_sq.0)),
        ("expected_sq_distance_low", reals(&|r| r.expected_sq.1)),
        ("expected_sq_distance_high", reals(&|r| r.expected_sq.2)),
        ("previous_width", counts(|r| r.previous_width)),
        ("successive_sq_distance", reals(&|r| r.successive_sq.0)),
        ("successive_sq_distance_low", reals(&|r| r.successive_sq.1)),
        ("successive_sq_distance_high", reals(&|r| r.successive_sq.2)),
    ]);
    columns
}

/// The convergence rows of one group: `by_width[w]` holds each seed's histograms by layer at
/// width w (one grid a layer); the reference is the largest width's seed mean. Per layer and
/// width: the distances' mean and sd over seeds, the noise floor, and the bias-corrected
/// squared distances to the reference and to the previous width. `depth` marks the hidden
/// layers (2..depth-1). The convergence job writes these rows; `graphon_lab` returns them.
pub fn convergence_rows(
    by_width: &BTreeMap<u32, Vec<BTreeMap<u32, StepGraphon>>>,
    depth: u32,
) -> Result<Vec<ConvergenceRow>> {
    let reference_width = *by_width
        .keys()
        .next_back()
        .ok_or_else(|| Error::Unsupported("a convergence group has no members".into()))?;
    // H_ref per layer: the mean over seeds at the largest width.
    let refs = &by_width[&reference_width];
    let grid = |run: &BTreeMap<u32, StepGraphon>| -> Vec<(u32, usize, usize)> {
        run.iter().map(|(&l, h)| (l, h.rows, h.cols)).collect()
    };
    let layers = refs.first().map(grid).unwrap_or_default();
    if by_width.values().any(|runs| runs.is_empty())
        || by_width.values().flatten().any(|run| grid(run) != layers)
    {
        let msg = "every seed at every width needs the reference's layers, each on one grid";
        return Err(Error::Unsupported(msg.into()));
    }
    let reference: BTreeMap<u32, StepGraphon> = refs[0]
        .iter()
        .map(|(&l, first)| {
            let mut values = vec![0.0; first.values.len()];
            for h in refs {
                values
                    .iter_mut()
                    .zip(&h[&l].values)
                    .for_each(|(a, b)| *a += b / refs.len() as f64);
            }
            (
                l,
                StepGraphon::new(first.rows, first.cols, values).expect("same shape"),
            )
        })
        .collect();
    let mut rows: Vec<ConvergenceRow> = Vec::new();
    let nan = (f64::NAN, f64::NAN, f64::NAN);
    for (&layer, h_ref) in &reference {
        let at_ref: Vec<&StepGraphon> = refs.iter().map(|r| &r[&layer]).collect();
        // The Cauchy chain's previous link: (width, its seeds' histograms of this layer).
        let mut previous: Option<(u32, Vec<&StepGraphon>)> = None;
        for (&width, runs) in by_width {
            let (mut l2, mut frobenius, mut cut_low, mut cut_high) =
                (vec![], vec![], vec![], vec![]);
            for run in runs {
                let h = &run[&layer];
                l2.push(l2_distance(h, h_ref));
                frobenius.push(frobenius_distance(h, h_ref));
                // Seed 0 for the local search: a pure function of the two histograms.
                let cut = cut_interval(h, h_ref, 0).map_err(Error::Unsupported)?;
                cut_low.push(cut.low);
                cut_high.push(cut.high);
            }
            let at_width: Vec<&StepGraphon> = runs.iter().map(|r| &r[&layer]).collect();
            let expected_sq = if width == reference_width {
                nan
            } else {
                corrected_sq_distance(&at_width, &at_ref)
            };
            let (previous_width, successive_sq) = match &previous {
                Some((w, before)) => (*w, corrected_sq_distance(before, &at_width)),
                None => (0, nan),
            };
            rows.push(ConvergenceRow {
                layer,
                hidden: layer > 1 && layer < depth,
                width,
                seeds: runs.len() as u32,
                noise_floor: noise_floor(&at_width),
                expected_sq,
                previous_width,
                successive_sq,
                stats: [
                    mean_sd(&frobenius),
                    mean_sd(&l2),
                    mean_sd(&cut_low),
                    mean_sd(&cut_high),
                ],
            });
            previous = Some((width, at_width));
        }
    }
    Ok(rows)
}

/// The convergence run of one (method, depth, level) group.
fn convergence_spec(settings: &GraphonsSettings, level: Level, members: &[GroupMember]) -> JobSpec {
    let mut widths: Vec<u32> = members.iter().map(|m| m.width.get()).collect();
    widths.sort_unstable();
    widths.dedup();
    let mut seeds: Vec<u64> = members.iter().map(|m| m.seed).collect();
    seeds.sort_unstable();
    seeds.dedup();
    let law = level.law();
    let params = ConvergenceParams {
        k: settings.k,
        rescale: settings.rescale,
        density_c: law.c,
        density_a: law.a,
        widths,
        seeds,
    };
    let inputs = members.iter().map(|m| m.histograms.clone()).collect();
    JobSpec::new(CONVERGENCE_STAGE, CONVERGENCE_VERSION, &params, inputs)
}

fn mean_sd(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let sd = if xs.len() > 1 {
        (xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
    } else {
        0.0
    };
    (mean, sd)
}

/// The run columns of the masks run that the histograms run `histograms` was taken of.
fn histograms_run_columns(store: &ArtifactStore, histograms: &InputRef) -> Result<RunColumns> {
    let dir = store.run_dir(&histograms.stage, &histograms.key);
    // Only the manifest is read here: its tables are hashed when they are read.
    let manifest = store
        .find_with(&histograms.stage, &histograms.key, Verify::Sizes)?
        .ok_or_else(|| Error::input(&dir, "no complete graphons run here"))?;
    match manifest.inputs.as_slice() {
        [masks] => run_columns(store, masks),
        _ => Err(Error::input(
            dir,
            "a histograms run of an edge list has no sweep point to group by",
        )),
    }
}

/// The run columns shared by a convergence group, read from its members' masks runs: an error
/// unless they agree on method, depth and scope, and each member's width, seed and sparsity
/// are those its masks run was made with (the sparsity the level gives at its width).
fn group_run_columns(
    store: &ArtifactStore,
    level: Level,
    members: &[GroupMember],
) -> Result<RunColumns> {
    let mut shared: Option<RunColumns> = None;
    for m in members {
        let run = histograms_run_columns(store, &m.histograms)?;
        let dir = store.run_dir(&m.histograms.stage, &m.histograms.key);
        if (run.width, run.seed) != (m.width, m.seed) {
            let msg = format!(
                "planned as width {} seed {}, but its masks run is width {} seed {}",
                m.width, m.seed, run.width, run.seed
            );
            return Err(Error::input(dir, msg));
        }
        let planned = level.sparsity_at(m.width).map_err(Error::Unsupported)?;
        if planned.value() != run.sparsity {
            let msg = format!(
                "planned at sparsity {} ({}), but its masks run has sparsity {}",
                planned.value(),
                level.label(),
                run.sparsity
            );
            return Err(Error::input(dir, msg));
        }
        if let Some(first) = &shared {
            let same =
                (first.method, first.depth, first.scope) == (run.method, run.depth, run.scope);
            if !same {
                let msg = "its masks run differs from the group's in method, depth or scope";
                return Err(Error::input(dir, msg));
            }
        } else {
            shared = Some(run);
        }
    }
    shared.ok_or_else(|| Error::Unsupported("a convergence group has no members".into()))
}

/// Writes the convergence table of one group (its members share method, depth, level and
/// scope, read from their masks runs), unless cached.
fn run_convergence(
    store: &ArtifactStore,
    spec: &JobSpec,
    settings: &GraphonsSettings,
    level: Level,
    members: &[GroupMember],
    force: bool,
) -> Result<JobOutcome> {
    store.run(spec, force, |writer| {
        let group = group_run_columns(store, level, members)?;
        let reference_width = members
            .iter()
            .map(|m| m.width.get())
            .max()
            .expect("a non-empty group");
        let mut by_width: BTreeMap<u32, Vec<BTreeMap<u32, StepGraphon>>> = BTreeMap::new();
        for m in members {
            by_width
                .entry(m.width.get())
                .or_default()
                .push(read_scaled_histograms(
                    store,
                    &m.histograms,
                    settings.rescale,
                )?);
        }
        let rows = convergence_rows(&by_width, group.depth)?;
        let n = rows.len();
        let sparsity_at = |width: u32| -> Result<f64> {
            let width = Width::try_from(u64::from(width)).map_err(Error::Unsupported)?;
            Ok(level
                .sparsity_at(width)
                .map_err(Error::Unsupported)?
                .value())
        };
        let sparsities: Vec<f64> = rows
            .iter()
            .map(|r| sparsity_at(r.width))
            .collect::<Result<_>>()?;
        let law = level.law();
        let mut columns = Columns::new()
            .with("method", StringArray::from(vec![group.method_name(); n]))
            .with("depth", UInt32Array::from(vec![group.depth; n]))
            .with(
                "density",
                Float64Array::from_iter_values(sparsities.iter().map(|s| 1.0 - s)),
            )
            .with("sparsity", Float64Array::from(sparsities))
            .with("density_c", Float64Array::from(vec![law.c; n]))
            .with("density_a", Float64Array::from(vec![law.a; n]))
            .with("scope", StringArray::from(vec![group.scope_name(); n]))
            .with("k", UInt32Array::from(vec![settings.k; n]))
            .with(
                "rescale",
                StringArray::from(vec![settings.rescale.name(); n]),
            )
            .with(
                "reference_width",
                UInt32Array::from(vec![reference_width; n]),
            );
        for (name, values) in convergence_row_columns(&rows) {
            match values {
                RowColumn::Counts(v) => columns.add(name, UInt32Array::from(v)),
                RowColumn::Flags(v) => columns.add(name, BooleanArray::from(v)),
                RowColumn::Reals(v) => columns.add(name, Float64Array::from(v)),
            };
        }
        writer.write_table(&CONVERGENCE, columns)
    })
}

/// Reads an edge list (`layer`, `row`, `col`, `n_rows`, `n_cols`; one row per kept weight,
/// layers numbered from 1) written by any tool: the columns may be of any integer type, and
/// other columns are ignored. Every layer from 1 to the largest must appear with one shape; rows
/// and columns must lie inside it; an edge listed twice is an error.
pub fn read_edge_list(path: &Path) -> Result<Vec<LayerMask>> {
    decode_edge_list(path, read_edge_list_bytes(path)?)
}

/// The bytes of the edge list `path`, read once (a regular file within the memory limit): a
/// job keyed by their hash decodes these bytes with [`decode_edge_list`], never the path again.
pub fn read_edge_list_bytes(path: &Path) -> Result<bytes::Bytes> {
    glh_artifacts::files::read_input(path, "edge list")
}

/// The most layers an edge list may have: deeper networks than any we study, and a bound on
/// the per-layer buffers (histograms, degree profiles) that no memory estimate of the file's
/// rows would cover.
pub const MAX_EDGE_LIST_LAYERS: u64 = 1024;

/// The masks of an edge list's `bytes` (read from `path`, which names them in errors); see
/// [`read_edge_list`].
pub fn decode_edge_list(path: &Path, bytes: bytes::Bytes) -> Result<Vec<LayerMask>> {
    // Each row is widened to five u64 and kept as an edge (two usize).
    let table =
        glh_artifacts::parquet_io::read_interchange_table(path, bytes, &EDGE_LIST, 5 * 8 + 2 * 8)?;
    let columns: Vec<&[u64]> = EDGE_LIST
        .columns
        .iter()
        .map(|c| table.integers(c.name))
        .collect();
    let bad = |message: String| Error::input(path, message);
    let depth = columns[0]
        .iter()
        .copied()
        .max()
        .ok_or_else(|| bad("no edges".into()))?;
    // Every layer from 1 to the largest holds an edge, so there are at least as many edges as
    // layers: checked before anything is sized by the largest layer number.
    if depth > columns[0].len() as u64 {
        let present: std::collections::BTreeSet<u64> = columns[0].iter().copied().collect();
        let missing = (1..)
            .find(|l| !present.contains(l))
            .expect("fewer layers than numbers");
        return Err(bad(format!(
            "layer {missing} has no edge (layers 1..={depth} must all appear)"
        )));
    }
    if depth > MAX_EDGE_LIST_LAYERS {
        return Err(bad(format!(
            "{depth} layers; an edge list may have at most {MAX_EDGE_LIST_LAYERS}"
        )));
    }
    let depth = depth as usize;
    let mut shapes: Vec<Option<(usize, usize)>> = vec![None; depth + 1];
    let mut edges: Vec<Vec<(usize, usize)>> = vec![Vec::new(); depth + 1];
    // `i` indexes all five columns at once and names the row in errors.
    #[allow(clippy::needless_range_loop)]
    for i in 0..columns[0].len() {
        let [layer, row, col, rows, cols] = std::array::from_fn(|c| columns[c][i] as usize);
        if layer == 0 {
            return Err(bad(format!("row {i}: layers are numbered from 1")));
        }
        match shapes[layer] {
            None => shapes[layer] = Some((rows, cols)),
            Some(shape) if shape != (rows, cols) => {
                return Err(bad(format!(
                    "layer {layer} is {}x{} in one row and {rows}x{cols} in row {i}",
                    shape.0, shape.1
                )));
            }
            Some(_) => {}
        }
        if row >= rows || col >= cols {
            return Err(bad(format!(
                "row {i}: edge ({row}, {col}) outside layer {layer}'s {rows}x{cols}"
            )));
        }
        edges[layer].push((row, col));
    }
    let mut total_weights = 0u64;
    for layer in 1..=depth {
        let (rows, cols) = shapes[layer].ok_or_else(|| {
            bad(format!(
                "layer {layer} has no edge (layers 1..={depth} must all appear)"
            ))
        })?;
        // Layer l + 1 reads what layer l writes: its inputs (n_cols) are layer l's outputs.
        if layer > 1
            && let Some((prev_rows, _)) = shapes[layer - 1]
            && prev_rows != cols
        {
            return Err(bad(format!(
                "layer {layer} has {cols} inputs (n_cols) but layer {} has {prev_rows} outputs \
                 (n_rows): the layers do not chain into one network",
                layer - 1
            )));
        }
        total_weights = total_weights
            .saturating_add(glh_artifacts::memory::product(&[rows as u64, cols as u64]));
    }
    // The masks are held densely (a flag per weight, and about as much again while read).
    let what = format!("reading {depth} layers of {total_weights} weights");
    glh_artifacts::memory::check(
        &path.display().to_string(),
        "n_rows, n_cols",
        &what,
        total_weights.saturating_mul(2),
    )?;
    (1..=depth)
        .map(|layer| {
            let (rows, cols) = shapes[layer].expect("checked above");
            let mut keep = vec![false; rows * cols];
            for &(r, c) in &edges[layer] {
                if std::mem::replace(&mut keep[r * cols + c], true) {
                    return Err(bad(format!("layer {layer}: edge ({r}, {c}) listed twice")));
                }
            }
            Ok(LayerMask::new(rows, cols, keep).expect("rows * cols flags"))
        })
        .collect()
}

/// Where a job's masks come from: a stored masks run, a checkpoint of a training run under a
/// mask schedule, or a file from any tool read once (the histograms and the kernels jobs take
/// any of them).
#[derive(Clone)]
pub enum MaskSource {
    /// A masks run of this store.
    Stored(InputRef),
    /// Checkpoint `checkpoint` of the training run `training` (issue #33: its `masks` table),
    /// whose network is that of the masks run `masks` (its run columns; the sparsity is the
    /// checkpoint's own).
    Checkpoint {
        /// The training run: an input of the job's key.
        training: InputRef,
        /// The masks run it trained from (read from its manifest).
        masks: InputRef,
        /// The checkpoint (0: the mask it started from).
        checkpoint: u32,
    },
    /// An edge list: its path (for messages) and the bytes its key hashed.
    EdgeList(PathBuf, bytes::Bytes),
    /// A safetensors file ([`crate::safetensors_masks`]): its path, the bytes its key hashed,
    /// and its layers in the order used (named by the user, else natural name order).
    Safetensors(PathBuf, bytes::Bytes, Vec<String>),
}

/// What a file source puts in its job's key: its bytes' hash (never its path), and for a
/// safetensors file the layers read, in order. Empty for a stored run (an input instead).
#[derive(Clone, Debug, Default, Serialize)]
pub struct SourceKey {
    #[serde(skip_serializing_if = "Option::is_none")]
    edge_list_sha256: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    safetensors_sha256: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    safetensors_layers: Option<Vec<String>>,
    /// A training run's checkpoint (the run itself is an input).
    #[serde(skip_serializing_if = "Option::is_none")]
    checkpoint: Option<u32>,
}

impl MaskSource {
    /// The edge list at `path`, read now (regular file, within the memory limit).
    pub fn edge_list(path: &Path) -> Result<Self> {
        Ok(MaskSource::EdgeList(
            path.to_path_buf(),
            read_edge_list_bytes(path)?,
        ))
    }

    /// The safetensors file at `path`, read now, with the layers `layers` (their name
    /// prefixes) or else every mask layer in natural name order.
    pub fn safetensors(path: &Path, layers: Option<&[String]>) -> Result<Self> {
        let bytes = glh_artifacts::files::read_input(path, "safetensors file")?;
        let names = crate::safetensors_masks::safetensors_layer_names(path, &bytes, layers)?;
        Ok(MaskSource::Safetensors(path.to_path_buf(), bytes, names))
    }

    /// Checkpoint `checkpoint` of the training run `training` of this store (a run under a
    /// mask schedule), checked now: the run must exist and have recorded that checkpoint.
    pub fn checkpoint(store: &ArtifactStore, training: InputRef, checkpoint: u32) -> Result<Self> {
        let dir = store.run_dir(&training.stage, &training.key);
        let Some(manifest) = store.find(&training.stage, &training.key)? else {
            return Err(Error::input(
                dir,
                "no such complete training run in the store",
            ));
        };
        let masks = manifest
            .inputs
            .iter()
            .find(|i| i.stage == glh_masks::stage::STAGE)
            .cloned()
            .ok_or_else(|| Error::input(&dir, "a training run without a masks run input"))?;
        // Refused now if the run did not record it, not when a job runs.
        read_schedule_mask(store, &training, checkpoint)?;
        Ok(MaskSource::Checkpoint {
            training,
            masks,
            checkpoint,
        })
    }

    /// The stored run it reads, an input of the job's key (a masks run, or a checkpoint's
    /// training run); `None` for a file.
    pub fn input(&self) -> Option<&InputRef> {
        match self {
            MaskSource::Stored(input) => Some(input),
            MaskSource::Checkpoint { training, .. } => Some(training),
            MaskSource::EdgeList(..) | MaskSource::Safetensors(..) => None,
        }
    }

    /// The masks run whose network the masks are of (its run columns and seed); `None` for a
    /// file.
    pub fn masks_run(&self) -> Option<&InputRef> {
        match self {
            MaskSource::Stored(input) | MaskSource::Checkpoint { masks: input, .. } => Some(input),
            MaskSource::EdgeList(..) | MaskSource::Safetensors(..) => None,
        }
    }

    /// The file it was read from; `None` for a stored run.
    pub fn file(&self) -> Option<&Path> {
        match self {
            MaskSource::Stored(_) | MaskSource::Checkpoint { .. } => None,
            MaskSource::EdgeList(path, _) | MaskSource::Safetensors(path, ..) => Some(path),
        }
    }

    /// The run columns of its masks: a stored run's from its manifest (a checkpoint's with its
    /// own sparsity, [`Self::own_run_columns`]), a file's `external`.
    pub fn run_columns(&self, store: &ArtifactStore, layers: &[LayerMask]) -> Result<RunColumns> {
        match (self.masks_run(), self.file()) {
            (Some(masks), _) => Ok(self.own_run_columns(run_columns(store, masks)?, layers)),
            (None, Some(path)) => external_run_columns(layers, path),
            (None, None) => unreachable!("every source without a masks run is a file"),
        }
    }

    /// The run columns of `layers`, this source's masks, from `start`, those of its masks run:
    /// `start` itself, or for a checkpoint `start` with the checkpoint's sparsity.
    pub fn own_run_columns(&self, start: RunColumns, layers: &[LayerMask]) -> RunColumns {
        match self {
            MaskSource::Checkpoint { .. } => {
                let kept: usize = layers.iter().map(LayerMask::kept).sum();
                let total: usize = layers.iter().map(|m| m.rows() * m.cols()).sum();
                RunColumns {
                    sparsity: 1.0 - kept as f64 / total as f64,
                    ..start
                }
            }
            _ => start,
        }
    }

    /// Its part of the job's key (see [`SourceKey`]).
    pub fn key(&self) -> SourceKey {
        let sha = |bytes: &[u8]| Some(glh_artifacts::key::sha256_hex(bytes));
        match self {
            MaskSource::Stored(_) => SourceKey::default(),
            MaskSource::Checkpoint { checkpoint, .. } => SourceKey {
                checkpoint: Some(*checkpoint),
                ..SourceKey::default()
            },
            MaskSource::EdgeList(_, bytes) => SourceKey {
                edge_list_sha256: sha(bytes),
                ..SourceKey::default()
            },
            MaskSource::Safetensors(_, bytes, layers) => SourceKey {
                safetensors_sha256: sha(bytes),
                safetensors_layers: Some(layers.clone()),
                ..SourceKey::default()
            },
        }
    }

    /// The mask's layers: a stored run's, or the file's bytes decoded (not the path again: it
    /// may have been replaced since the key hashed it).
    pub fn layers(&self, store: &ArtifactStore) -> Result<Vec<LayerMask>> {
        match self {
            MaskSource::Stored(input) => Ok(read_mask(store, input)?.1.layers().to_vec()),
            MaskSource::Checkpoint {
                training,
                checkpoint,
                ..
            } => Ok(read_schedule_mask(store, training, *checkpoint)?
                .mask
                .layers()
                .to_vec()),
            MaskSource::EdgeList(path, bytes) => decode_edge_list(path, bytes.clone()),
            MaskSource::Safetensors(path, bytes, layers) => {
                crate::safetensors_masks::decode_safetensors_masks(path, bytes, layers)
            }
        }
    }
}

impl fmt::Debug for MaskSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MaskSource::Stored(input) => write!(f, "Stored({input:?})"),
            MaskSource::Checkpoint {
                training,
                checkpoint,
                ..
            } => write!(f, "Checkpoint({training:?}, {checkpoint})"),
            MaskSource::EdgeList(path, bytes) => {
                write!(f, "EdgeList({}, {} bytes)", path.display(), bytes.len())
            }
            MaskSource::Safetensors(path, bytes, layers) => write!(
                f,
                "Safetensors({}, {} bytes, {layers:?})",
                path.display(),
                bytes.len()
            ),
        }
    }
}

#[derive(Serialize)]
struct HistogramParams {
    k: u32,
    /// For a file: its bytes' hash, not its path (a stored run is an input).
    #[serde(flatten)]
    source: SourceKey,
}

/// The job that takes the histograms and degree profiles of one mask: the one door to a
/// graphons run.
#[derive(Clone, Debug)]
pub struct HistogramsJob {
    settings: GraphonsSettings,
    source: MaskSource,
    spec: JobSpec,
}

impl HistogramsJob {
    /// The job of the masks in `source`; a stored run's run columns come from its manifest.
    pub fn new(settings: &GraphonsSettings, source: MaskSource) -> Self {
        let params = HistogramParams {
            k: settings.k,
            source: source.key(),
        };
        let inputs = source.input().into_iter().cloned().collect();
        HistogramsJob {
            spec: JobSpec::new(STAGE, VERSION, &params, inputs),
            settings: settings.clone(),
            source,
        }
    }
}

impl Job for HistogramsJob {
    fn spec(&self) -> &JobSpec {
        &self.spec
    }

    /// Writes the histograms and degree profiles, unless cached (or `force`).
    fn run(
        &self,
        store: &ArtifactStore,
        force: bool,
        _progress: &mut dyn FnMut(usize, usize),
    ) -> Result<JobOutcome> {
        store.run(&self.spec, force, |writer| {
            let layers = self.source.layers(store)?;
            let labels = self.source.run_columns(store, &layers)?;
            write_tables(writer, &self.settings, &layers, &labels)
        })
    }
}

/// The job that measures one (method, depth, level) group's convergence over widths.
#[derive(Clone, Debug)]
pub struct ConvergenceJob {
    settings: GraphonsSettings,
    level: Level,
    members: Vec<GroupMember>,
    spec: JobSpec,
}

impl ConvergenceJob {
    /// The job of the histogram runs `members`, all of the level `level`.
    pub fn new(settings: &GraphonsSettings, level: Level, members: Vec<GroupMember>) -> Self {
        ConvergenceJob {
            spec: convergence_spec(settings, level, &members),
            settings: settings.clone(),
            level,
            members,
        }
    }
}

impl Job for ConvergenceJob {
    fn spec(&self) -> &JobSpec {
        &self.spec
    }

    fn run(
        &self,
        store: &ArtifactStore,
        force: bool,
        _progress: &mut dyn FnMut(usize, usize),
    ) -> Result<JobOutcome> {
        run_convergence(
            store,
            &self.spec,
            &self.settings,
            self.level,
            &self.members,
            force,
        )
    }
}

/// The `[graphons]` table: a histograms job per masks job of the plan, then a convergence job
/// per (method, depth, level) of the sweep over all its widths and seeds.
#[derive(Clone, Debug)]
pub struct GraphonsStage {
    /// The stage's settings.
    pub settings: GraphonsSettings,
}

impl Stage for GraphonsStage {
    fn plan(&self, sweep: &Sweep, plan: &mut Plan) -> Result<()> {
        // Each planned masks job, found by its point: (method, depth, width, sparsity, seed).
        type PointKey = (PruneMethod, u32, u32, u64, u64);
        let mut masks: BTreeMap<PointKey, (usize, InputRef, String)> = BTreeMap::new();
        for (id, job) in plan.jobs_of::<MasksJob>() {
            let p = job.point();
            let key = (
                p.method,
                p.depth.get(),
                p.width.get(),
                p.sparsity.value().to_bits(),
                p.seed,
            );
            if masks
                .insert(key, (id, job.spec().as_input(), job.label()))
                .is_some()
            {
                // Convergence is read per method; several targets of one design would be
                // pooled as one method's seeds.
                return Err(Error::config(
                    "pipeline",
                    "masks.graphon",
                    "a [graphons] table takes one design target; give each target its own pipeline",
                ));
            }
        }
        for &method in &sweep.methods {
            for &depth in &sweep.depths {
                for level in sweep.levels() {
                    let (mut depends_on, mut members) = (Vec::new(), Vec::new());
                    for &width in &sweep.widths {
                        let sparsity = level
                            .sparsity_at(width)
                            .map_err(|msg| Error::config("pipeline", "sweep.density_laws", msg))?;
                        for &seed in &sweep.seeds {
                            let key = (
                                method,
                                depth.get(),
                                width.get(),
                                sparsity.value().to_bits(),
                                seed,
                            );
                            // The masks stage plans every point of the sweep.
                            let Some((id, input, label)) = masks.get(&key) else {
                                continue;
                            };
                            let job = HistogramsJob::new(
                                &self.settings,
                                MaskSource::Stored(input.clone()),
                            );
                            members.push(GroupMember {
                                histograms: job.spec().as_input(),
                                width,
                                seed,
                            });
                            depends_on.push(plan.push(
                                job,
                                format!("histograms {label}"),
                                vec![*id],
                            ));
                        }
                    }
                    if members.is_empty() {
                        continue;
                    }
                    let label = format!("{method} L={depth} {}", level.label());
                    // Shape and density apart (issue #28): where the histograms are compared
                    // as they are, their shapes H / p are compared too, so that a histogram
                    // that moves only because its layer's density does shows as such.
                    if self.settings.rescale == Rescale::None {
                        let shapes = GraphonsSettings {
                            rescale: Rescale::LayerDensity,
                            ..self.settings.clone()
                        };
                        plan.push(
                            ConvergenceJob::new(&shapes, level, members.clone()),
                            format!("{label} (shape H/p)"),
                            depends_on.clone(),
                        );
                    }
                    plan.push(
                        ConvergenceJob::new(&self.settings, level, members),
                        label,
                        depends_on,
                    );
                }
            }
        }
        Ok(())
    }
}
