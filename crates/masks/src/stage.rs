//! The `masks` stage: one job prunes one MLP (method, width, sparsity, depth, seed) and writes
//! `masks.parquet` (one row per layer and output neuron, bits packed) and `layers.parquet`
//! (per-layer counts). The network is rebuilt from the seed, never stored: `glh-model`'s
//! initialisation is part of the contract.

use crate::methods::{BlockTable, KeySettings, Pruning, method_for};
use crate::packing::{pack_row, unpack_row};
use crate::scorers::ScoringData;
use crate::settings::{Family, GraphonTarget, MasksSettings};
use arrow::array::{BinaryArray, Float64Array, RecordBatch, UInt32Array, UInt64Array};
use glh_artifacts::config::{Classifier, Depth, PruneMethod, Scope, Sparsity, Width};
use glh_artifacts::parquet_io::column;
use glh_artifacts::schemas::{
    DESIGN_SEARCH, GRAPHON_HISTOGRAMS, MASKS_LAYERS, MASKS_ROWS, TARGET_TABLE, TRAINING_MASKS,
};
use glh_artifacts::seeding::stream;
use glh_artifacts::store::{InputRef, Verify};
use glh_artifacts::{
    ArtifactKey, ArtifactStore, Columns, Error, Job, JobOutcome, JobSpec, Plan, Result, RunColumns,
    Stage,
};
use glh_data::mnist::{CLASSES, MnistSplit, PIXELS, Split};
use glh_data::stage::{Subset, SubsetsJob, subset_images, subset_images_of};
use glh_data::{DataSettings, Normalisation};
use glh_model::backprop::examples_as_columns;
use glh_model::{Architecture, LayerMask, Mask, MaskCheckpoint, Mlp};
use rand_chacha::rand_core::Rng;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// The stage's name: its directory under the artifact root.
pub const STAGE: &str = "masks";
/// Bumped whenever the stage's output for the same parameters changes.
pub const VERSION: u32 = 1;

/// One point of the sweep: the network and how it is pruned.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MaskPoint {
    /// Pruning method.
    pub method: PruneMethod,
    /// Hidden width n.
    pub width: Width,
    /// Fraction of weights removed.
    pub sparsity: Sparsity,
    /// Number of Linear layers L.
    pub depth: Depth,
    /// Run seed.
    pub seed: u64,
}

impl MaskPoint {
    /// The network's architecture.
    pub fn architecture(&self) -> Architecture {
        let (width, depth) = (self.width.get() as usize, self.depth.get() as usize);
        Architecture::mlp(PIXELS, width, depth, CLASSES)
    }
}

/// Everything a mask depends on; settings a method does not read are left out of its key.
#[derive(Clone, Debug, Serialize)]
struct MaskParams {
    method: PruneMethod,
    depth: u32,
    width: u32,
    sparsity: f64,
    scope: Scope,
    seed: u64,
    allow_empty_layers: bool,
    /// Absent for the default (pruned), so that runs made before the setting keep their keys.
    #[serde(skip_serializing_if = "Classifier::is_pruned")]
    classifier: Classifier,
    /// The method's own settings ([`crate::methods::PruningMethod::key_settings`]).
    #[serde(flatten)]
    method_settings: KeySettings,
    #[serde(skip_serializing_if = "Option::is_none")]
    normalisation: Option<Normalisation>,
}

/// The scoring batch of `seed`: the data stage's `scoring` subset (computed if missing), with
/// the training images' pixel order when `pixel_order` is asked for (no target tables: see
/// [`compute_mask`]).
pub fn scoring_data(
    store: &ArtifactStore,
    data: &DataSettings,
    seed: u64,
    pixel_order: bool,
) -> Result<ScoringData> {
    // The training split is read once, for the batch and, when asked, the pixel order.
    let (images, pixel_order) = if pixel_order {
        let train = MnistSplit::load(&data.dir, Split::Train)?;
        let images = subset_images_of(store, data, seed, Subset::Scoring, &train)?;
        (images, Some(train.pixels_by_variance()))
    } else {
        (subset_images(store, data, seed, Subset::Scoring)?, None)
    };
    let d = PIXELS;
    Ok(ScoringData {
        x: examples_as_columns(&images.pixels, d),
        labels: images.labels,
        pixel_order,
        histograms: None,
    })
}

/// The graphons run of key `key`, as an input.
fn graphons_input(key: &str) -> Result<InputRef> {
    let key = ArtifactKey::parse(key).ok_or_else(|| {
        Error::config(
            "masks settings",
            "masks.graphon.graphons",
            format!("`{key}` is not a run key"),
        )
    })?;
    Ok(InputRef {
        stage: GRAPHON_HISTOGRAMS.stage.to_string(),
        key,
    })
}

/// The per-layer SAS histograms of the graphons run `input` (its `histograms` table), input
/// layer first, as the tables a histogram target draws from.
pub fn read_histogram_tables(store: &ArtifactStore, input: &InputRef) -> Result<Vec<BlockTable>> {
    let path = store.table_path(input, &GRAPHON_HISTOGRAMS);
    if store.find(&input.stage, &input.key)?.is_none() {
        let msg = format!(
            "no graphons run {} in the store (`glh ls graphons` lists them)",
            input.key
        );
        return Err(Error::config(
            "masks settings",
            "masks.graphon.graphons",
            msg,
        ));
    }
    let batch = store.read_run_table(input, &GRAPHON_HISTOGRAMS)?;
    let get = |name: &str| column::<UInt32Array>(&batch, name);
    let (layer, kr, kc) = (get("layer"), get("k_rows"), get("k_cols"));
    let (row, col) = (get("row_block"), get("col_block"));
    let value: &Float64Array = column(&batch, "block_density");
    let blocks = (0..batch.num_rows()).map(|i| TableBlock {
        layer: u64::from(layer.value(i)),
        grid: (kr.value(i) as usize, kc.value(i) as usize),
        block: (row.value(i) as usize, col.value(i) as usize),
        density: value.value(i),
    });
    block_tables(&path, blocks)
}

/// One row of a design's target table: `layer`'s block `block` of its `grid`.
struct TableBlock {
    layer: u64,
    grid: (usize, usize),
    block: (usize, usize),
    density: f64,
}

/// The per-layer tables of `blocks` (read from `path`, which names them in errors): layers
/// numbered 1, 2, ... without gaps, one grid a layer, every block of it exactly once.
fn block_tables(path: &Path, blocks: impl Iterator<Item = TableBlock>) -> Result<Vec<BlockTable>> {
    let mut layers: std::collections::BTreeMap<u64, (usize, usize, Vec<f64>)> =
        std::collections::BTreeMap::new();
    for (i, b) in blocks.enumerate() {
        let (r, c) = b.grid;
        let entry = layers
            .entry(b.layer)
            .or_insert_with(|| (r, c, vec![f64::NAN; r * c]));
        let (b_r, b_c) = b.block;
        if (entry.0, entry.1) != (r, c) || b_r >= r || b_c >= c {
            return Err(Error::input(
                path,
                format!("row {i}: a block outside its layer's grid"),
            ));
        }
        if !entry.2[b_r * c + b_c].is_nan() {
            let msg = format!(
                "row {i}: layer {}'s block ({b_r}, {b_c}) listed twice",
                b.layer
            );
            return Err(Error::input(path, msg));
        }
        entry.2[b_r * c + b_c] = b.density;
    }
    let numbered = layers.keys().copied().eq(1..=layers.len() as u64);
    if layers.is_empty() || !numbered {
        return Err(Error::input(
            path,
            "layers must be numbered 1, 2, ... without gaps",
        ));
    }
    layers
        .into_iter()
        .map(|(l, (r, c, values))| {
            if values.iter().any(|v| v.is_nan()) {
                return Err(Error::input(
                    path,
                    format!("layer {l}'s table misses blocks"),
                ));
            }
            BlockTable::new(r, c, values).map_err(|e| Error::input(path, format!("layer {l}: {e}")))
        })
        .collect()
}

/// A table target's file (`target = "table"`), read once when its job is planned: the tables
/// it draws, and the SHA-256 of the bytes they came from (the job's key holds the hash, never
/// the path: the file may change or move afterwards).
#[derive(Clone, Debug, PartialEq)]
pub struct TargetTableFile {
    /// SHA-256 of the file's bytes.
    pub sha256: String,
    /// Its layers' tables, input layer first.
    pub tables: std::sync::Arc<[BlockTable]>,
}

/// Reads the table target `path` (`glh schema` documents `target_table`): integer columns of
/// any type, block densities in [0, 1]; layer l's grid is its largest `row_block` + 1 by its
/// largest `col_block` + 1, every block listed once. A graphons run's `histograms.parquet`
/// reads as one.
pub fn read_target_table(path: &Path) -> Result<TargetTableFile> {
    let bytes = glh_artifacts::files::read_input(path, "target table")?;
    let sha256 = glh_artifacts::key::sha256_hex(&bytes);
    // Per row: its four columns and, in the tables, one f64.
    let table =
        glh_artifacts::parquet_io::read_interchange_table(path, bytes, &TARGET_TABLE, 5 * 8)?;
    let (layer, row, col) = (
        table.integers("layer"),
        table.integers("row_block"),
        table.integers("col_block"),
    );
    let density = table.reals("block_density");
    // Each layer's grid from its largest block indices; its blocks must fill it exactly, so a
    // grid is never larger than the file's rows (nothing is sized by a stray huge index).
    let mut grids: std::collections::BTreeMap<u64, (u64, u64, u64)> = Default::default();
    for i in 0..table.num_rows() {
        let grid = grids.entry(layer[i]).or_default();
        *grid = (grid.0.max(row[i] + 1), grid.1.max(col[i] + 1), grid.2 + 1);
    }
    for (l, &(rows, cols, listed)) in &grids {
        if rows.saturating_mul(cols) != listed {
            let msg = format!(
                "layer {l} lists {listed} blocks, but its largest row_block and col_block \
                 make a {rows} x {cols} grid (every block once)"
            );
            return Err(Error::input(path, msg));
        }
    }
    let blocks = (0..table.num_rows()).map(|i| {
        let (rows, cols, _) = grids[&layer[i]];
        TableBlock {
            layer: layer[i],
            grid: (rows as usize, cols as usize),
            block: (row[i] as usize, col[i] as usize),
            density: density[i],
        }
    });
    Ok(TargetTableFile {
        sha256,
        tables: block_tables(path, blocks)?.into(),
    })
}

/// Computes the mask of `point` with its method, without writing anything. A table target
/// draws `target_table`, its file as read when the job was planned ([`read_target_table`]).
pub fn compute_mask(
    store: &ArtifactStore,
    masks: &MasksSettings,
    data: &DataSettings,
    point: &MaskPoint,
    target_table: Option<&TargetTableFile>,
    on_round: &mut dyn FnMut(usize, usize, &Mask),
) -> Result<Mask> {
    let net = Mlp::init(point.architecture(), point.seed);
    let method = method_for(point.method, masks, point.seed);
    let batch = if method.needs_data() {
        let mut batch = scoring_data(store, data, point.seed, method.needs_pixel_order())?;
        // A design's target tables, from the one place its target keeps them: a stored
        // graphons run (histogram), or the file its job read when planned (table).
        batch.histograms = match (method.target_histograms(), target_table) {
            (Some(key), _) => Some(read_histogram_tables(store, &graphons_input(key)?)?),
            (None, Some(file)) => Some(file.tables.to_vec()),
            (None, None) => None,
        };
        Some(batch)
    } else {
        None
    };
    let how = Pruning {
        density: point.sparsity.density(),
        scope: masks.scope,
        seed: point.seed,
        tie_seed: stream(point.seed, "masks/ties").next_u64(),
        allow_empty_layers: masks.allow_empty_layers,
        classifier: masks.classifier,
    };
    method
        .prune(&net, batch.as_ref(), &how, on_round)
        .map_err(|e| Error::Unsupported(format!("{} mask: {e}", point.method)))
}

/// Bytes per weight in [`memory_estimate`]: its f64 value, its f64 score, an f64 gradient and
/// Hessian-vector product (SNIP, GraSP), the rank sort's (score, index) pair and the mask flag,
/// rounded up.
const BYTES_PER_WEIGHT: u64 = 64;
/// Bytes per scoring image and neuron: f64 activations of the forward and backward passes.
const BYTES_PER_ACTIVATION: u64 = 32;

/// An upper sketch of the memory a masks job of `point` needs (see `glh_artifacts::memory`):
/// [`BYTES_PER_WEIGHT`] per weight of the MLP, and [`BYTES_PER_ACTIVATION`] per neuron of
/// every layer for each image of the scoring batch.
pub fn memory_estimate(point: &MaskPoint, data: &DataSettings) -> u64 {
    use glh_artifacts::memory::product;
    let n = u64::from(point.width.get());
    let (pixels, classes) = (PIXELS as u64, CLASSES as u64);
    let weights = glh_model::mlp::weight_count(pixels, n, u64::from(point.depth.get()), classes);
    let batch = product(&[classes, u64::from(data.scoring_per_class)]);
    let neurons = product(&[n, u64::from(point.depth.get())]).saturating_add(pixels);
    product(&[weights, BYTES_PER_WEIGHT]).saturating_add(product(&[
        batch,
        neurons,
        BYTES_PER_ACTIVATION,
    ]))
}

/// The job that prunes one sweep point's network: the one door to a masks run (the planner,
/// `glh masks` and the tests build it and call [`Job::run`]).
#[derive(Clone, Debug)]
pub struct MasksJob {
    settings: MasksSettings,
    data: DataSettings,
    point: MaskPoint,
    /// The data job of the scoring batch, for the methods that read it.
    scoring: Option<SubsetsJob>,
    /// A design drawn at the target a `design` run chose (its key is an input): see
    /// [`MasksJob::chosen`].
    chosen_by: Option<InputRef>,
    /// A table target's file, read when the job was planned (its hash is in the key).
    target_table: Option<TargetTableFile>,
    spec: JobSpec,
}

/// The `graphon_target` a design drawn at a search's choice keys (its `design` run is an input).
const CHOSEN: &str = "chosen";

impl MasksJob {
    /// The job of `point`. Its method says whether it reads the scoring batch (and so whether
    /// the key has the data run as an input) and which of its settings enter the key.
    pub fn new(settings: &MasksSettings, data: &DataSettings, point: MaskPoint) -> Result<Self> {
        if point.method.is_design() && settings.graphon.all().len() > 1 {
            return Err(Error::config(
                "masks settings",
                "masks.graphon",
                "a masks job draws one target; the masks stage plans one job per target",
            ));
        }
        let method = method_for(point.method, settings, point.seed);
        let scoring = if method.needs_data() {
            Some(SubsetsJob::new(data, point.seed)?)
        } else {
            None
        };
        let mut method_settings = method.key_settings();
        let target_table = match settings.graphon.first() {
            GraphonTarget::Table { file } if point.method.is_design() => {
                let table = read_target_table(file).map_err(|e| {
                    Error::config("masks settings", "masks.graphon.file", e.to_string())
                })?;
                method_settings.insert("graphon_table_sha256", table.sha256.as_str().into());
                Some(table)
            }
            _ => None,
        };
        let params = MaskParams {
            method: point.method,
            depth: point.depth.get(),
            width: point.width.get(),
            sparsity: point.sparsity.value(),
            scope: settings.scope,
            seed: point.seed,
            allow_empty_layers: settings.allow_empty_layers,
            classifier: settings.classifier,
            method_settings,
            normalisation: scoring.as_ref().map(|_| Normalisation::from(data)),
        };
        let mut inputs: Vec<InputRef> = scoring.iter().map(|s| s.spec().as_input()).collect();
        // A histogram target's graphons run: its key is in the settings already; as an input it
        // is recorded in the run's manifest beside the scoring batch, the run's lineage.
        if let Some(key) = method.target_histograms() {
            inputs.push(graphons_input(key)?);
        }
        Ok(MasksJob {
            spec: JobSpec::new(STAGE, VERSION, &params, inputs),
            settings: settings.clone(),
            data: data.clone(),
            point,
            scoring,
            chosen_by: None,
            target_table,
        })
    }

    /// The job of a design `point` drawn at the target the `design` run `search` chose
    /// (`glh_ntk::design_stage`): its key holds that run in place of a target, and the job
    /// reads the chosen point's family and parameter ([`read_chosen_target`]) when it runs.
    pub fn chosen(
        settings: &MasksSettings,
        data: &DataSettings,
        point: MaskPoint,
        search: InputRef,
    ) -> Result<Self> {
        if !point.method.is_design() {
            return Err(Error::Unsupported(format!(
                "bug: {} is not a design, and draws at no chosen target",
                point.method
            )));
        }
        // Its key: the one a constant target would have, `graphon_target = "chosen"` in place
        // of `"constant"`, and the search run as one more input.
        let mut job = MasksJob::new(&settings.with_target(GraphonTarget::Constant), data, point)?;
        let mut params: serde_json::Value = job.spec.params.clone();
        let fields = params.as_object_mut().expect("masks params are an object");
        fields.insert("graphon_target".into(), CHOSEN.into());
        let mut inputs = job.spec.inputs.clone();
        inputs.push(search.clone());
        job.spec = JobSpec {
            params,
            inputs,
            ..job.spec
        };
        job.chosen_by = Some(search);
        Ok(job)
    }

    /// The `design` run whose choice it draws at, for a design of [`MasksJob::chosen`].
    pub fn chosen_by(&self) -> Option<&InputRef> {
        self.chosen_by.as_ref()
    }

    /// Its sweep point.
    pub fn point(&self) -> &MaskPoint {
        &self.point
    }

    /// The target graphon it draws, if its method is a design (`graphon:<method>`) with a
    /// target of its own (`None` for one drawn at a search's choice, known when it runs).
    pub fn design_target(&self) -> Option<GraphonTarget> {
        (self.point.method.is_design() && self.chosen_by.is_none())
            .then(|| self.settings.graphon.first().clone())
    }

    /// How a report names its target: [`GraphonTarget::label`], `chosen` for one drawn at a
    /// search's choice, `None` for a method that is not a design.
    pub fn design_label(&self) -> Option<String> {
        match (&self.chosen_by, self.design_target()) {
            (Some(_), _) => Some(CHOSEN.into()),
            (None, target) => target.map(|t| t.label()),
        }
    }

    /// The configuration it is one seed of: the runs a graphon kernel pools, and the seeds a
    /// dynamics job reads beside its own.
    pub fn configuration(&self) -> Configuration {
        let p = &self.point;
        Configuration {
            method: p.method.name(),
            depth: p.depth.get(),
            width: p.width.get(),
            sparsity_bits: p.sparsity.value().to_bits(),
            design_target: self.design_label(),
        }
    }

    /// The data job whose scoring batch it reads, if its method reads one.
    pub fn scoring_job(&self) -> Option<&SubsetsJob> {
        self.scoring.as_ref()
    }

    /// `snip L=4 n=100 s=0.8 seed=0`; a design's target follows its method
    /// (`graphon:random power(beta=2) L=4 ...`).
    pub fn label(&self) -> String {
        let p = &self.point;
        let target = self
            .design_label()
            .map_or(String::new(), |t| format!(" {t}"));
        format!(
            "{}{target} L={} n={} s={} seed={}",
            p.method,
            p.depth,
            p.width,
            p.sparsity.value(),
            p.seed
        )
    }
}

impl Job for MasksJob {
    fn spec(&self) -> &JobSpec {
        &self.spec
    }

    fn progress_unit(&self) -> Option<&'static str> {
        Some("rounds")
    }

    fn run(
        &self,
        store: &ArtifactStore,
        force: bool,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<JobOutcome> {
        let point = &self.point;
        store.run(&self.spec, force, |writer| {
            let what = format!(
                "pruning with {} at width {} and depth {}",
                point.method, point.width, point.depth
            );
            let estimate = memory_estimate(point, &self.data);
            glh_artifacts::memory::check("memory", "width", &what, estimate)?;
            // Single-shot methods have one round: no bar for them.
            let mut on_round = |e: usize, rounds: usize, _: &Mask| {
                if rounds > 1 {
                    progress(e, rounds);
                }
            };
            let settings = match &self.chosen_by {
                Some(search) => self
                    .settings
                    .with_target(read_chosen_target(store, search)?),
                None => self.settings.clone(),
            };
            let table = self.target_table.as_ref();
            let mask = compute_mask(store, &settings, &self.data, point, table, &mut on_round)?;
            let run = point_run_columns(point, self.settings.scope);
            writer.write_table(&MASKS_ROWS, mask_rows(&run, &mask))?;
            writer.write_table(&MASKS_LAYERS, layer_rows(&run, &mask))
        })
    }
}

/// The masks runs that differ only in their seed, as the stages that pool seeds group them.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Configuration {
    /// The method's name.
    pub method: &'static str,
    /// Linear layers L.
    pub depth: u32,
    /// Hidden width n.
    pub width: u32,
    /// The sparsity's bits.
    pub sparsity_bits: u64,
    /// A design's target ([`GraphonTarget::label`]); `None` for every other method.
    pub design_target: Option<String>,
}

/// The `[masks]` table: one job per point of the sweep (method, depth, width, level, seed),
/// each after the data job of its seed when its method scores on data.
#[derive(Clone, Debug)]
pub struct MasksStage {
    /// The stage's settings.
    pub settings: MasksSettings,
    /// The pipeline's data settings (SNIP's and GraSP's scoring batch).
    pub data: DataSettings,
    /// The designs are drawn at a search's choice: the `design` stage plans their jobs
    /// (`[design]` table), this stage the other methods'.
    pub designs_searched: bool,
}

impl Stage for MasksStage {
    fn plan(&self, sweep: &glh_artifacts::config::Sweep, plan: &mut Plan) -> Result<()> {
        for &method in &sweep.methods {
            if method.is_design() && self.designs_searched {
                continue;
            }
            for &depth in &sweep.depths {
                for &width in &sweep.widths {
                    for level in sweep.levels() {
                        // A density law's sparsity depends on the width; two levels that give
                        // the same sparsity share their masks jobs (the plan keys them).
                        let sparsity = level
                            .sparsity_at(width)
                            .map_err(|msg| Error::config("pipeline", "sweep.density_laws", msg))?;
                        for &seed in &sweep.seeds {
                            let point = MaskPoint {
                                method,
                                width,
                                sparsity,
                                depth,
                                seed,
                            };
                            // A design is drawn once per target; every other method once.
                            let targets = match method.is_design() {
                                true => self.settings.graphon.all(),
                                false => &self.settings.graphon.all()[..1],
                            };
                            for target in targets {
                                let settings = self.settings.with_target(target.clone());
                                let job = MasksJob::new(&settings, &self.data, point)?;
                                let depends_on = match job.scoring_job() {
                                    Some(data) => vec![plan.ensure(data.clone(), data.label())],
                                    None => vec![],
                                };
                                let label = job.label();
                                plan.push(job, label, depends_on);
                            }
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// The target a `design` run chose: its `points` table's one `chosen` row, read as its
/// family at its parameter.
pub fn read_chosen_target(store: &ArtifactStore, search: &InputRef) -> Result<GraphonTarget> {
    use arrow::array::{BooleanArray, StringArray};
    let path = store.table_path(search, &DESIGN_SEARCH);
    let batch = store.read_run_table(search, &DESIGN_SEARCH)?;
    let chosen: &BooleanArray = column(&batch, "chosen");
    let rows: Vec<usize> = (0..batch.num_rows()).filter(|&i| chosen.value(i)).collect();
    let [row] = rows[..] else {
        let msg = format!("{} chosen rows, want exactly 1", rows.len());
        return Err(Error::input(&path, msg));
    };
    let family = column::<StringArray>(&batch, "family").value(row);
    let parameter = column::<Float64Array>(&batch, "parameter").value(row);
    let family = Family::from_name(family)
        .filter(|f| f.admits(parameter))
        .ok_or_else(|| Error::input(&path, format!("no target {family} at {parameter}")))?;
    Ok(family.target(parameter))
}

/// The run columns of a sweep point, as every table of its masks run writes them.
pub fn point_run_columns(point: &MaskPoint, scope: Scope) -> RunColumns {
    RunColumns {
        method: Some(point.method),
        depth: point.depth.get(),
        width: point.width,
        sparsity: point.sparsity.value(),
        scope: Some(scope),
        seed: point.seed,
    }
}

/// The run columns of the stored masks run `input`, from its manifest: what every stage that
/// reads a masks run writes, so that nothing a caller passes can change them.
pub fn run_columns(store: &ArtifactStore, input: &InputRef) -> Result<RunColumns> {
    let (point, scope) = read_point(store, input)?;
    Ok(point_run_columns(&point, scope))
}

/// [`run_columns`] of a masks run a downstream job was built for with seed `seed`: a run of
/// another seed is refused, since the job's key (its data input) was derived from that seed.
pub fn run_columns_of_seed(
    store: &ArtifactStore,
    input: &InputRef,
    seed: u64,
    job: &str,
) -> Result<RunColumns> {
    let labels = run_columns(store, input)?;
    if labels.seed != seed {
        return Err(Error::Unsupported(format!(
            "bug: {job} built for seed {seed} reads the masks run {} of seed {}",
            input.key, labels.seed
        )));
    }
    Ok(labels)
}

/// The run columns of masks read from an edge list (`path`): method and scope `external`,
/// seed 0, width the output size of layer 1.
pub fn external_run_columns(layers: &[LayerMask], path: &Path) -> Result<RunColumns> {
    let total: usize = layers.iter().map(|m| m.rows() * m.cols()).sum();
    let kept: usize = layers.iter().map(LayerMask::kept).sum();
    let rows = layers.first().map_or(0, |m| m.rows() as u64);
    let width = Width::try_from(rows).map_err(|e| Error::input(path, format!("layer 1: {e}")))?;
    Ok(RunColumns {
        method: None,
        depth: layers.len() as u32,
        width,
        sparsity: 1.0 - kept as f64 / total as f64,
        scope: None,
        seed: 0,
    })
}

fn mask_rows(run: &RunColumns, mask: &Mask) -> Columns {
    mask_row_columns(mask, |n| run.columns(n))
}

/// The `layer`, `n_rows`, `n_cols`, `row`, `degree` and `bits` columns of `mask` (one row per
/// layer and output neuron, as `masks.parquet` holds them) after the columns `leading(rows)`
/// gives: the masks table, and the training stage's table of a schedule's masks.
pub fn mask_row_columns(mask: &Mask, leading: impl FnOnce(usize) -> Columns) -> Columns {
    let (mut layer, mut n_rows, mut n_cols, mut row, mut degree, mut bits) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    for (l, m) in mask.layers().iter().enumerate() {
        for r in 0..m.rows() {
            let flags = &m.as_slice()[r * m.cols()..(r + 1) * m.cols()];
            layer.push(l as u32 + 1);
            n_rows.push(m.rows() as u32);
            n_cols.push(m.cols() as u32);
            row.push(r as u32);
            degree.push(m.row_degree(r) as u32);
            bits.push(pack_row(flags));
        }
    }
    leading(layer.len())
        .with("layer", UInt32Array::from(layer))
        .with("n_rows", UInt32Array::from(n_rows))
        .with("n_cols", UInt32Array::from(n_cols))
        .with("row", UInt32Array::from(row))
        .with("degree", UInt32Array::from(degree))
        .with("bits", BinaryArray::from_iter_values(bits))
}

fn layer_rows(run: &RunColumns, mask: &Mask) -> Columns {
    let layers = mask.layers();
    let shapes = |f: fn(&LayerMask) -> usize| {
        UInt32Array::from_iter_values(layers.iter().map(|m| f(m) as u32))
    };
    run.columns(layers.len())
        .with(
            "layer",
            UInt32Array::from_iter_values(1..=layers.len() as u32),
        )
        .with("n_rows", shapes(LayerMask::rows))
        .with("n_cols", shapes(LayerMask::cols))
        .with(
            "kept",
            UInt64Array::from_iter_values(layers.iter().map(|m| m.kept() as u64)),
        )
        .with(
            "layer_density",
            Float64Array::from_iter_values(layers.iter().map(LayerMask::density)),
        )
}

/// One row of a run's `layers` table.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerSummary {
    /// Layer index, from 1.
    pub layer: u32,
    /// Output size.
    pub n_rows: u32,
    /// Input size.
    pub n_cols: u32,
    /// Kept weights.
    pub kept: u64,
    /// `kept / (n_rows n_cols)`.
    pub density: f64,
}

/// The per-layer summary of the stored masks run `input` (its `layers` table).
pub fn read_layer_summary(store: &ArtifactStore, input: &InputRef) -> Result<Vec<LayerSummary>> {
    let batch = store.read_run_table(input, &MASKS_LAYERS)?;
    let layer: &UInt32Array = column(&batch, "layer");
    let n_rows: &UInt32Array = column(&batch, "n_rows");
    let n_cols: &UInt32Array = column(&batch, "n_cols");
    let kept: &UInt64Array = column(&batch, "kept");
    let density: &Float64Array = column(&batch, "layer_density");
    Ok((0..batch.num_rows())
        .map(|i| LayerSummary {
            layer: layer.value(i),
            n_rows: n_rows.value(i),
            n_cols: n_cols.value(i),
            kept: kept.value(i),
            density: density.value(i),
        })
        .collect())
}

/// The manifest of the masks run `input`, its parameters read as `T`, and its path. Only the
/// manifest is read: the run's tables are hashed when they are read.
pub(crate) fn read_manifest<T: serde::de::DeserializeOwned>(
    store: &ArtifactStore,
    input: &InputRef,
) -> Result<(T, glh_artifacts::store::Manifest, std::path::PathBuf)> {
    let manifest = store
        .find_with(&input.stage, &input.key, Verify::Sizes)?
        .ok_or_else(|| {
            Error::input(
                store.run_dir(&input.stage, &input.key),
                "no complete masks run here",
            )
        })?;
    let path = store
        .run_dir(&input.stage, &input.key)
        .join(glh_artifacts::store::MANIFEST);
    let params = serde_json::from_value(manifest.params.clone())
        .map_err(|e| Error::input(&path, format!("not the manifest of a masks run: {e}")))?;
    Ok((params, manifest, path))
}

/// The sweep point and scope of the stored masks run `input`, from its manifest.
pub fn read_point(store: &ArtifactStore, input: &InputRef) -> Result<(MaskPoint, Scope)> {
    #[derive(serde::Deserialize)]
    struct Stored {
        method: PruneMethod,
        depth: Depth,
        width: Width,
        sparsity: Sparsity,
        seed: u64,
        scope: Scope,
    }
    let (s, _, _): (Stored, _, _) = read_manifest(store, input)?;
    let point = MaskPoint {
        method: s.method,
        width: s.width,
        sparsity: s.sparsity,
        depth: s.depth,
        seed: s.seed,
    };
    Ok((point, s.scope))
}

/// The mask stored in the masks artifact `input`, with its architecture.
pub fn read_mask(store: &ArtifactStore, input: &InputRef) -> Result<(Architecture, Mask)> {
    let path = store.table_path(input, &MASKS_ROWS); // named in errors below
    let batch = store.read_run_table(input, &MASKS_ROWS)?;
    mask_of_rows(&batch, &path)
}

/// A scheduled training run's `masks` table (the training stage writes it with
/// [`mask_row_columns`]), its path, and each checkpoint's `(step, first row, rows)`, in order:
/// the one reading of that table, so that a reader decodes only the masks it needs. An error
/// names the file for a run without the table (a `static` run) or with checkpoints out of
/// order.
struct ScheduleMasks {
    path: PathBuf,
    batch: RecordBatch,
    checkpoints: Vec<(u32, usize, usize)>,
}

impl ScheduleMasks {
    fn read(store: &ArtifactStore, input: &InputRef) -> Result<Self> {
        let batch = store.read_optional_run_table(
            input,
            &TRAINING_MASKS,
            "no masks: only a training run under a mask schedule (`[training.schedule]`) records them",
        )?;
        let path = store.table_path(input, &TRAINING_MASKS); // named in errors below
        let checkpoint: &UInt32Array = column(&batch, "checkpoint");
        let step: &UInt32Array = column(&batch, "step");
        let mut checkpoints: Vec<(u32, usize, usize)> = Vec::new();
        let mut start = 0;
        for r in 1..=batch.num_rows() {
            if r < batch.num_rows() && checkpoint.value(r) == checkpoint.value(start) {
                continue;
            }
            let index = checkpoint.value(start);
            if index as usize != checkpoints.len() {
                let msg = format!(
                    "checkpoint {index} is out of order (expected {})",
                    checkpoints.len()
                );
                return Err(Error::input(path, msg));
            }
            checkpoints.push((step.value(start), start, r - start));
            start = r;
        }
        Ok(ScheduleMasks {
            path,
            batch,
            checkpoints,
        })
    }

    /// Checkpoint `c`, decoded; an error naming the file if the run did not record it.
    fn decode(&self, c: usize) -> Result<MaskCheckpoint> {
        let Some(&(step, first, rows)) = self.checkpoints.get(c) else {
            let msg = format!(
                "checkpoint {c} was not recorded (0..{} were)",
                self.checkpoints.len()
            );
            return Err(Error::input(&self.path, msg));
        };
        let (_, mask) = mask_of_rows(&self.batch.slice(first, rows), &self.path)?;
        Ok(MaskCheckpoint {
            checkpoint: c as u32,
            step,
            mask,
        })
    }
}

/// The masks a training run under a mask schedule (`[training.schedule]`) trained under, in
/// order, from its `masks.parquet`; an error naming the file for a run without them (a `static`
/// run).
pub fn read_schedule_masks(store: &ArtifactStore, input: &InputRef) -> Result<Vec<MaskCheckpoint>> {
    let table = ScheduleMasks::read(store, input)?;
    (0..table.checkpoints.len())
        .map(|c| table.decode(c))
        .collect()
}

/// Checkpoint `checkpoint` of the scheduled training run `input` alone (the others are not
/// decoded); an error naming the file if the run did not record it.
pub fn read_schedule_mask(
    store: &ArtifactStore,
    input: &InputRef,
    checkpoint: u32,
) -> Result<MaskCheckpoint> {
    ScheduleMasks::read(store, input)?.decode(checkpoint as usize)
}

/// The mask in `batch`, rows of [`mask_row_columns`] with the run columns `depth` and `width`
/// (one whole mask, in (layer, row) order), with its architecture; errors name `path`.
pub fn mask_of_rows(batch: &RecordBatch, path: &Path) -> Result<(Architecture, Mask)> {
    if batch.num_rows() == 0 {
        return Err(Error::input(path, "no rows"));
    }
    let depth = column::<UInt32Array>(batch, "depth").value(0) as usize;
    let width = column::<UInt32Array>(batch, "width").value(0) as usize;
    let arch = Architecture::mlp(PIXELS, width, depth, CLASSES);
    let layer: &UInt32Array = column(batch, "layer");
    let row: &UInt32Array = column(batch, "row");
    let bits: &BinaryArray = column(batch, "bits");
    let mut flags: Vec<Vec<bool>> = arch
        .shapes()
        .iter()
        .map(|(r, c)| Vec::with_capacity(r * c))
        .collect();
    let shapes = arch.shapes();
    for i in 0..batch.num_rows() {
        let l = layer.value(i) as usize;
        let bad = |what: String| Error::input(path, format!("row {i}: {what}"));
        if l == 0 || l > depth {
            return Err(bad(format!("layer {l} outside 1..={depth}")));
        }
        let (rows, cols) = shapes[l - 1];
        if row.value(i) as usize != flags[l - 1].len() / cols || flags[l - 1].len() / cols >= rows {
            return Err(bad("rows are not in (layer, row) order".into()));
        }
        let unpacked = unpack_row(bits.value(i), cols)
            .ok_or_else(|| bad(format!("`bits` is not a packed row of {cols} columns")))?;
        flags[l - 1].extend(unpacked);
    }
    let layers = flags
        .into_iter()
        .zip(&shapes)
        .map(|(f, &(r, c))| {
            LayerMask::new(r, c, f).ok_or_else(|| Error::input(path, "a layer has missing rows"))
        })
        .collect::<Result<Vec<_>>>()?;
    let mask = Mask::from_layers(&arch, layers).map_err(|e| Error::input(path, e))?;
    Ok((arch, mask))
}
