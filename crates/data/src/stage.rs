//! The `data` stage: draws the seeded class-balanced subsets of MNIST that later stages use
//! (the SNIP/GraSP scoring batch and the NTK kernel data) and writes them as
//! `data/<key>/subsets.parquet`.
//!
//! Its key covers the seed, the subset sizes and the checksums of the MNIST files, so other data
//! gives other keys while moving the data directory does not.

use crate::mnist::{CLASSES, MnistSplit, Split, read_checksums};
use crate::settings::DataSettings;
use crate::subsets::balanced_subset;
use arrow::array::{StringArray, UInt8Array, UInt32Array, UInt64Array};
use glh_artifacts::config::Sweep;
use glh_artifacts::parquet_io::column;
use glh_artifacts::schemas::DATA_SUBSETS;
use glh_artifacts::seeding::stream;
use glh_artifacts::store::InputRef;
use glh_artifacts::{ArtifactStore, Columns, Error, Job, JobOutcome, JobSpec, Plan, Result, Stage};
use serde::Serialize;
use std::collections::BTreeMap;

/// The stage's name: its directory under the artifact root.
pub const STAGE: &str = "data";
/// Bumped whenever the stage's output for the same parameters changes.
pub const VERSION: u32 = 1;

/// The subsets the stage draws.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subset {
    /// The scoring batch of SNIP and GraSP.
    Scoring,
    /// The data points of kernel matrices.
    Kernel,
}

impl Subset {
    /// Both subsets, in file order.
    pub const ALL: [Subset; 2] = [Subset::Scoring, Subset::Kernel];

    /// The name written in the `subset` column.
    pub fn name(self) -> &'static str {
        match self {
            Subset::Scoring => "scoring",
            Subset::Kernel => "kernel",
        }
    }

    fn per_class(self, params: &SubsetParams) -> u32 {
        match self {
            Subset::Scoring => params.scoring_per_class,
            Subset::Kernel => params.kernel_per_class,
        }
    }
}

/// Everything the subsets depend on.
#[derive(Clone, Debug, Serialize)]
pub struct SubsetParams {
    /// The run seed.
    pub seed: u64,
    /// Images per class in the scoring subset.
    pub scoring_per_class: u32,
    /// Images per class in the kernel subset.
    pub kernel_per_class: u32,
    /// SHA-256 of each MNIST file's decompressed bytes.
    pub mnist_sha256: BTreeMap<String, String>,
}

fn subset_params(settings: &DataSettings, seed: u64) -> Result<SubsetParams> {
    Ok(SubsetParams {
        seed,
        scoring_per_class: settings.scoring_per_class,
        kernel_per_class: settings.kernel_per_class,
        mnist_sha256: read_checksums(&settings.dir)?,
    })
}

/// The job that draws the subsets of one seed: the one door to a data run.
#[derive(Clone, Debug)]
pub struct SubsetsJob {
    settings: DataSettings,
    params: SubsetParams,
    spec: JobSpec,
}

impl SubsetsJob {
    /// The job of `seed` (reads only the checksum file, not the data).
    pub fn new(settings: &DataSettings, seed: u64) -> Result<Self> {
        let params = subset_params(settings, seed)?;
        Ok(SubsetsJob {
            spec: JobSpec::new(STAGE, VERSION, &params, vec![]),
            settings: settings.clone(),
            params,
        })
    }

    /// Its seed.
    pub fn seed(&self) -> u64 {
        self.params.seed
    }

    /// `seed=0`.
    pub fn label(&self) -> String {
        format!("seed={}", self.params.seed)
    }
}

impl Job for SubsetsJob {
    fn spec(&self) -> &JobSpec {
        &self.spec
    }

    /// Draws and writes the subsets, unless they are cached (or `force`).
    fn run(
        &self,
        store: &ArtifactStore,
        force: bool,
        _progress: &mut dyn FnMut(usize, usize),
    ) -> Result<JobOutcome> {
        let params = &self.params;
        store.run(&self.spec, force, |writer| {
            let train = MnistSplit::load(&self.settings.dir, Split::Train)?;
            let mut rows = SubsetRows::default();
            for subset in Subset::ALL {
                let per_class = subset.per_class(params) as usize;
                let mut rng = stream(params.seed, &format!("data/subset/{}", subset.name()));
                let indices = balanced_subset(&train.labels, CLASSES, per_class, &mut rng)
                    .map_err(|e| {
                        let field = format!("data.{}_per_class", subset.name());
                        Error::config("data settings", field, e.to_string())
                    })?;
                rows.push(subset, &indices, &train.labels);
            }
            writer.write_table(&DATA_SUBSETS, rows.into_columns(params))
        })
    }
}

/// The `[data]` table: the subsets of every seed of the sweep, whether or not a later stage
/// reads them (stages that do add the ones they need themselves).
#[derive(Clone, Debug)]
pub struct DataStage {
    /// The stage's settings.
    pub settings: DataSettings,
}

impl Stage for DataStage {
    fn plan(&self, sweep: &Sweep, plan: &mut Plan) -> Result<()> {
        for &seed in &sweep.seeds {
            let job = SubsetsJob::new(&self.settings, seed)?;
            let label = job.label();
            plan.push(job, label, vec![]);
        }
        Ok(())
    }
}

/// The column buffers of `subsets.parquet`.
#[derive(Default)]
struct SubsetRows {
    subset: Vec<&'static str>,
    position: Vec<u32>,
    index: Vec<u32>,
    label: Vec<u8>,
}

impl SubsetRows {
    fn push(&mut self, subset: Subset, indices: &[u32], labels: &[u8]) {
        for (position, &i) in indices.iter().enumerate() {
            self.subset.push(subset.name());
            self.position.push(position as u32);
            self.index.push(i);
            self.label.push(labels[i as usize]);
        }
    }

    fn into_columns(self, params: &SubsetParams) -> Columns {
        let n = self.index.len();
        Columns::new()
            .with("seed", UInt64Array::from(vec![params.seed; n]))
            .with(
                "scoring_per_class",
                UInt32Array::from(vec![params.scoring_per_class; n]),
            )
            .with(
                "kernel_per_class",
                UInt32Array::from(vec![params.kernel_per_class; n]),
            )
            .with("subset", StringArray::from(self.subset))
            .with("split", StringArray::from(vec![Split::Train.name(); n]))
            .with("position", UInt32Array::from(self.position))
            .with("index", UInt32Array::from(self.index))
            .with("label", UInt8Array::from(self.label))
    }
}

/// The training-set indices of `subset` in the data artifact `input`, in subset order.
pub fn read_subset(store: &ArtifactStore, input: &InputRef, subset: Subset) -> Result<Vec<u32>> {
    let table = store.read_run_table(input, &DATA_SUBSETS)?;
    let names: &StringArray = column(&table, "subset");
    let index: &UInt32Array = column(&table, "index");
    let chosen: Vec<u32> = (0..table.num_rows())
        .filter(|&r| names.value(r) == subset.name())
        .map(|r| index.value(r))
        .collect();
    if chosen.is_empty() {
        return Err(Error::input(
            store.table_path(input, &DATA_SUBSETS),
            format!("no row of subset `{}`", subset.name()),
        ));
    }
    Ok(chosen)
}

/// The images of one subset, in subset order.
#[derive(Clone, Debug)]
pub struct SubsetImages {
    /// The data artifact the subset was read from.
    pub input: InputRef,
    /// MNIST training-set index of every image.
    pub indices: Vec<u32>,
    /// The digit of every image.
    pub labels: Vec<u8>,
    /// Normalised pixels, one row of [`crate::mnist::PIXELS`] per image.
    pub pixels: Vec<f32>,
}

/// The images of `subset` for `seed`, running the data job first if it is not cached.
pub fn subset_images(
    store: &ArtifactStore,
    data: &DataSettings,
    seed: u64,
    subset: Subset,
) -> Result<SubsetImages> {
    let train = MnistSplit::load(&data.dir, Split::Train)?;
    subset_images_of(store, data, seed, subset, &train)
}

/// [`subset_images`] from the training split `train`, already loaded from `data.dir` (for a
/// caller that reads more of it).
pub fn subset_images_of(
    store: &ArtifactStore,
    data: &DataSettings,
    seed: u64,
    subset: Subset,
    train: &MnistSplit,
) -> Result<SubsetImages> {
    let outcome = SubsetsJob::new(data, seed)?.run(store, false, &mut |_, _| {})?;
    let input = outcome.as_input();
    let indices = read_subset(store, &input, subset)?;
    let pixels = train.inputs(&indices, &crate::mnist::Normalisation::from(data));
    let labels = train.labels_of(&indices);
    Ok(SubsetImages {
        input,
        indices,
        labels,
        pixels,
    })
}
