//! The command-line grammar of `glh` (clap derive). Values are parsed with the validating
//! parsers of `glh_artifacts::config`, so a flag and a pipeline field reject a bad value with
//! the same words.

use clap::{Args, Parser, Subcommand, ValueEnum};
use glh_artifacts::config::{Classifier, Depth, PruneMethod, Scope, Sparsity, Width};
use std::path::PathBuf;

const ABOUT: &str = "graphon-lab: reproduce 'The Graphon Limit Hypothesis' (NeurIPS 2025).";

const LONG_ABOUT: &str = "\
graphon-lab: reproduce 'The Graphon Limit Hypothesis' (NeurIPS 2025).

The pipeline is data -> masks -> graphons -> ntk -> training -> reporting. Every stage run is a
pure function of its parameters and inputs; its outputs (Parquet tables and a manifest.json)
land in <ARTIFACTS>/<stage>/<key>/, where <key> hashes those parameters and inputs. A run whose
artifact is complete is never recomputed (pass --force to recompute it).

Start with `glh run pipelines/smoke.toml`, then `glh ls` to see what was written.";

const AFTER_HELP: &str = "\
Examples:
  glh data verify                      check the MNIST files against their checksums
  glh run pipelines/smoke.toml         run an experiment; cached runs are skipped
  glh run pipelines/e1.toml --seeds 100 --executor slurm --dry-run
                                       the paper's 100 seeds as Slurm job arrays (scripts only)
  glh ls                               list artifacts with their parameters and status, and
                                       the state of Slurm sweeps
  glh schema --format markdown         the columns of every Parquet table

Exit codes: 0 success, 1 failure, 2 bad input (argument, config field or input file).";

/// The `glh` command line.
#[derive(Debug, Parser)]
#[command(name = "glh", version, about = ABOUT, long_about = LONG_ABOUT, after_help = AFTER_HELP)]
#[command(
    arg_required_else_help = true,
    propagate_version = true,
    args_override_self = true
)]
pub struct Cli {
    /// Root directory of the artifact store.
    #[arg(long, global = true, value_name = "DIR", default_value = "artifacts")]
    pub artifacts: PathBuf,

    /// No progress bars and no summary: only errors are printed (for scripts).
    #[arg(long, short, global = true)]
    pub quiet: bool,

    /// Most memory a job may need (e.g. 16G, 512M): a job whose estimate exceeds it is refused
    /// before it allocates. Default: $GLH_MEMORY_LIMIT, else this machine's (or cgroup's) memory.
    #[arg(long, global = true, value_name = "SIZE", value_parser = glh_artifacts::memory::parse_size)]
    pub memory_limit: Option<u64>,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// MNIST: verify the files, draw the class-balanced subsets.
    #[command(subcommand)]
    Data(DataCommand),
    /// Score and prune an MLP at initialisation (the `masks` stage), or export a mask.
    #[command(long_about = "\
Score and prune an MLP at initialisation (the `masks` stage), or export a mask.

The network 784 -> n -> ... -> n -> 10 is initialised from --seed (U(-1/sqrt(fan_in),
1/sqrt(fan_in))); the method scores every weight and exactly round((1 - sparsity) * total)
weights with the largest scores are kept (ties broken by a seeded order). SNIP and GraSP score
on 100 MNIST training images, 10 per class, drawn by the seed (the data stage runs first if
needed). SynFlow prunes in --synflow-rounds rounds with an exponential schedule. The control
shuffled:<method> takes that method's mask and places each layer's kept weights uniformly at
random in the layer (seeded): the same per-layer densities, none of the method's structure. The
control rewired:<method> randomises each layer's graph by double-edge swaps (10 attempts per kept
weight, seeded): the same degree of every neuron, nothing else of the method's structure. The
design graphon:<method> keeps that method's kept count in every layer and places it by a target
graphon (--target): hidden neuron i of n at position (i + 1/2) / n, pixels by their variance over
the training images (most variable first), and each layer's count's smallest keys E / g(u, v)
kept (E uniform, g the target's shape), which draws min(1, c g) with c fixed by the count.

Examples:
  glh masks --method snip --width 500 --sparsity 0.8 --seed 0
  glh masks --method synflow --width 1000 --sparsity 0.9 --scope layerwise
  glh masks --method shuffled:synflow --width 1000 --sparsity 0.9
  glh masks --method rewired:snip --width 1000 --sparsity 0.9
  glh masks --method graphon:synflow --target power --beta 2 --width 1024 --sparsity 0.9
  glh masks --method graphon:random --target table --table w.parquet --width 512 --sparsity 0.9
                                    (layer, row_block, col_block, block_density: `glh schema`)
  glh masks export <KEY> --out snip.parquet     (edge list: layer, row, col, n_rows, n_cols)
  glh masks export <KEY> --format safetensors --out snip.safetensors --scoring-batch batch.safetensors
                                                (the pruned network for PyTorch, see below)

In PyTorch, the safetensors export loads into the same network under torch.nn.utils.prune:
  net = nn.Sequential(nn.Linear(784, n), nn.ReLU(), ..., nn.Linear(n, 10))
  for m in net[::2]: prune.identity(m, \"weight\")
  net.load_state_dict(safetensors.torch.load_file(\"snip.safetensors\"))")]
    Masks(MasksCommand),
    /// SAS histograms and degree profiles of one mask: a stored masks run or a file of yours.
    #[command(long_about = "\
SAS histograms and degree profiles of one mask: a stored masks run or a file of yours.

Rows and columns of every layer are sorted by degree (descending, ties by index) and cut into
K x K blocks (K capped by the layer's size); each entry is the block's density. The result is a
`graphons` artifact (histograms.parquet, degrees.parquet). Convergence with width over a sweep
runs through `glh run` with a [graphons] table (see pipelines/e1.toml).

A mask from your own pruned network (PyTorch, JAX, ...) is one command away: write its kept
weights as a Parquet edge list with integer columns layer (from 1), row, col, n_rows, n_cols, e.g.
  rows, cols = torch.nonzero(mask, as_tuple=True)  # for each Linear layer, then pl.DataFrame(...)
and run
  glh graphons --edges my_mask.parquet --k 20
A pruned checkpoint needs no conversion (p.weight_mask, else the zeros of a 2-D p.weight):
  glh graphons --safetensors pruned.safetensors --layers 0,2,4
or from Python, `graphon_lab.masks_from_pth`/`masks_from_state_dict` (README, From Python).

K is at most 24: the exact cut distance enumerates 2^K sets of row blocks.")]
    Graphons(GraphonsArgs),
    /// Graphon NTK, empirical NTK and spectra of one mask: a stored masks run or a file of yours.
    #[command(long_about = "\
Graphon NTK, empirical NTK and spectra of one mask: a stored masks run or a file of yours.

On the data stage's kernel subset (--kernel-per-class images per class of the MNIST training
set, drawn by --seed), computes in f64, NTK parameterisation, no biases, ReLU:
  dense      the standard NTK (every graphon W = 1);
  mask       the Graphon NTK of the masks' own step graphon (K = n), exact for these masks;
  histogram  the Graphon NTK of K-block SAS histograms (--histogram-k) with one shared neuron
             order per hidden layer;
  empirical  the NTK of the finite masked network, averaged over --empirical-draws N(0,1)
             weight draws (0 skips it).
and writes an `ntk` artifact: kernels.parquet (every matrix), spectra.parquet (all
eigenvalues), metrics.parquet (trace, top-k energy, effective rank, l1/l2, condition number,
decay exponent, negative eigenvalues, and the ratio to the dense kernel: the c^L law; each
kernel as is, centred and with its top eigenpair removed, in the `view` column).
Sweeps run through `glh run` with an [ntk] table (see pipelines/e2.toml).

Examples:
  glh ntk --masks <KEY>                          (keys: glh ls --stage masks)
  glh ntk --masks <KEY> --empirical-draws 4 --histogram-k 32
  glh ntk --edges my_mask.parquet --seed 0       (784 -> ... -> 10 masks from any tool)
  glh ntk --safetensors pruned.safetensors       (a PyTorch checkpoint of such a network)")]
    Ntk(NtkArgs),
    /// The paper's E3 kernel: the Graphon NTK of one configuration's seed-averaged graphon.
    #[command(
        name = "graphon-ntk",
        long_about = "\
The paper's E3 kernel: the Graphon NTK of one configuration's seed-averaged graphon.

Give the masks runs of one configuration (method, depth, width, sparsity), one per seed: their
K-block histograms are averaged into the configuration's graphon (hidden sides sorted by degree
and joined by rank; the 784 pixels and 10 classes kept; METHOD.md section 7), and its Graphon NTK
is computed on --kernel-size MNIST training images (as class-balanced as the count allows) at
each --sigma-w2 (kernel `graphon`), beside the same graphon with one order per hidden layer for
both its sides (`shared_order`). With --draw-masks, one finite mask drawn from the graphon gets
its mask-level kernel too (`drawn`, the paper's text; ~50 s at n = 1024 and 80% sparsity on
1024 images and 2 cores). Writes a `graphon_ntk` artifact: spectra.parquet and metrics.parquet (the paper's top-5
energy, trace / l_1, l_1 / l_2 and decay beside ours, each kernel as is, centred and with its
top eigenpair removed). Sweeps run through `glh run` with a [graphon_ntk] table (see
pipelines/e3.toml and e3-literal.toml).

Examples:
  glh graphon-ntk --masks <KEY0> --masks <KEY1> --masks <KEY2>   (keys: glh ls --stage masks)
  glh graphon-ntk --masks <KEY0> --sigma-w2 1 --kernel-size 256 --draw-masks"
    )]
    GraphonNtk(GraphonNtkArgs),
    /// Search a target family for the design a kernel criterion prefers (issue #32).
    #[command(long_about = "\
Search a target family for the design a kernel criterion prefers (issue #32).

A design graphon:<method> places each layer's kept weights by a target graphon (see glh masks
--help). This evaluates, for each value of the family's parameter (power: beta; block: the
block's share of both sides), the Graphon NTK of the design's graphon itself, no mask drawn:
its inclusion probabilities min(1, c g) at the design's positions, K blocks per hidden side,
on --kernel-size MNIST training images (the paper's E3 kernel). The grid first, then
--refinements golden-section steps between the best grid point's neighbours. Prints every
evaluated point and the best. Per-layer kept counts: global Random's expected profile at
--sparsity (every layer at its density), or those of a stored masks run (--masks), so a design
can be searched at a method's own density profile. --out writes the points as a Parquet table.
In a pipeline, a [design] table with these settings runs the same search at every sweep point
and draws the sweep's designs at its choice (pipelines/e5-design.toml).

Examples:
  glh design --density 0.1 --criterion top5_energy
  glh design --masks <SYNFLOW_KEY> --family power,block --criterion trace --out points.parquet")]
    Design(DesignArgs),
    /// Train one pruned MLP on MNIST with candle (Adam from the mask's own initialisation).
    #[command(long_about = "\
Train one pruned MLP on MNIST with candle (Adam from the mask's own initialisation).

The network of a stored masks run is rebuilt from its seed (the same f32 weights the mask was
scored on), pruned weights are set to zero and stay exactly zero (their gradient is masked and
Adam skips them), so the net computes with w * m throughout. Adam (lr 1e-3, betas 0.9/0.999, eps 1e-8, no weight decay) on cross-entropy, batches of
--batch-size drawn by the seed, --steps steps. Writes a `training` artifact: history.parquet
(every step's batch loss; test loss and accuracy before training, every --eval-every steps and
at the end) and summary.parquet (final losses and accuracy, loss at steps 50 and 100, mean
loss, steps to --loss-threshold). Sweeps run through `glh run` with a [training] table (see
pipelines/e3.toml).

The NTK regime (--parameterisation ntk --loss mse --optimizer gd) trains METHOD.md section 4's
network instead: N(0, 1) weights (the ntk stage's empirical draw 0 of the seed) scaled by
sqrt(--sigma-w2 / fan_in), no biases, full-batch gradient descent at rate --learning-rate on
the data stage's kernel images (--kernel-per-class per digit), and also writes outputs.parquet
(the outputs on those images at step 0, --output-steps and the last). A loss that stops being
finite is an error: choose eta below 2N / l_1 of the network's kernel (pipelines/e4-*.toml,
whose dynamics stage checks it).

--device cuda or metal needs a build with that feature:
  cargo build --release -p glh-cli --features cuda      (or: --features metal)

Examples:
  glh train --masks <KEY>                        (keys: glh ls --stage masks)
  glh train --masks <KEY> --steps 1000 --eval-every 100
  glh train --masks <KEY> --parameterisation ntk --loss mse --optimizer gd --learning-rate 0.25 \\
            --steps 500 --kernel-per-class 25 --output-steps 100")]
    Train(TrainArgs),
    /// Figures and the report of finished experiments (reads the artifacts with polars).
    #[command(long_about = "\
Figures and the report of finished experiments (reads the artifacts with polars).

For each pipeline file, the runs of its sweep are read from the artifact store and its stages'
sections are written: SAS heat-map grids and convergence curves ([graphons]), Graphon NTK spectra
and the c^L table ([ntk]), training curves, accuracy table and early speed against every
spectral metric with Spearman/Pearson correlations and bootstrap intervals over seeds
([training]); for an experiment that trains, the paper's E3 claims (a) to (e), each one
statistic with a seed-bootstrap interval and a verdict, under the paper's graphon kernel
([graphon_ntk]) and our mask-level kernel ([ntk]) side by side; then the claims of METHOD.md
section 6 with our numbers and a verdict. Output: <out>/report.md, <out>/report.html
(self-contained) and <out>/<pipeline>/*.png|svg. The directory is replaced atomically; nothing
is recomputed.

Examples:
  glh report                       (pipelines/e1.toml e1-sparse.toml e1-cauchy.toml e2.toml
                                    e2-dense-classifier.toml e3.toml e3-l5.toml e3-controls.toml
                                    e3-dense.toml)
  glh report pipelines/smoke.toml --out reports/smoke")]
    Report(ReportArgs),
    /// Run an experiment: expand a pipeline file into stage jobs and run what is not cached.
    #[command(long_about = "\
Run an experiment: expand a pipeline file into stage jobs and run what is not cached.

A pipeline file (TOML, see pipelines/) names a sweep (methods, widths, sparsities, depths, seeds;
`density_laws = [{ c = 2.0, a = 0.5 }]` adds levels whose density c n^-a falls with the width,
see pipelines/e1-sparse.toml) and one table per stage to run, with its settings. Jobs whose artifacts are complete are reported
as cached; the others run, independent jobs in parallel on --jobs threads. Unknown keys, empty
lists and out-of-range values are errors that name the file, line and field.

With --executor slurm the same jobs are submitted to a Slurm cluster instead: one job array per
dependency level and stage, chained with --dependency=afterok, each task running one job
(`glh job`) against the artifact root, which must be on a filesystem the nodes share. Cached jobs
are not submitted, so running the same command again after a failure or `scancel` submits only
what is missing. Scripts, logs and the sweep's record go to <ARTIFACTS>/.sweeps/<id>/; `glh ls`
shows each sweep's state (done, cached, running, pending, failed with its log). Resources come
from the pipeline's [slurm] table (partition, time, mem, cpus_per_task, sbatch_args,
max_parallel, array_limit, and [slurm.stages.<stage>] overrides) and from the flags below.

Examples:
  glh run pipelines/e1.toml --seeds 100                       (the paper's 100 runs, here)
  glh run pipelines/e1.toml --seeds 100 --executor slurm --dry-run
  glh run pipelines/e1.toml --seeds 100 --executor slurm --partition cpu --time 1:00:00 --mem 4G
  glh ls --sweeps")]
    Run(RunArgs),
    /// Run one job of a pipeline's plan: what each Slurm array task does.
    #[command(long_about = "\
Run one job of a pipeline's plan: what each Slurm array task does.

The pipeline is planned as `glh run` plans it and the job named by --job (`<stage>/<key>`, as
the sweep scripts list them) runs alone, after a check that every artifact it reads is complete.
A complete job is reported as cached and not recomputed (unless --force).

Example:
  glh job pipelines/smoke.toml --job masks/0123456789abcdef --jobs 2")]
    Job(JobArgs),
    /// List the artifacts under the root with their parameters and status, and the state of
    /// Slurm sweeps.
    Ls(LsArgs),
    /// Check every run's files against the sizes and SHA-256 its manifest recorded.
    #[command(long_about = "\
Check every run's files against the sizes and SHA-256 its manifest recorded, and that each run's
directory name is its manifest's key.

`glh ls` checks sizes only (fast at any store size); reading a run as an input or serving it from
cache checks its hashes. A damaged run is never read: the next `glh run` that needs it moves it
aside (to `.damaged-<key>-...`, nothing is deleted) and computes it again. Exit code 2 if any run
is damaged.")]
    Verify,
    /// Remove the directories that interrupted runs and reports left behind (never a complete
    /// artifact, never a run in progress).
    Gc(GcArgs),
    /// Print the schema of every Parquet table the stages write.
    Schema(SchemaArgs),
}

/// `glh data ...`.
#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// Check the four MNIST files against SHA256SUMS (of the decompressed bytes) and their shapes.
    Verify(DataDirArgs),
    /// Draw the seeded, class-balanced subsets of one seed (the `data` stage).
    Subsets(SubsetsArgs),
}

/// Where MNIST lives.
#[derive(Debug, Args)]
pub struct DataDirArgs {
    /// Directory with the IDX files (`.gz` or raw) and SHA256SUMS.
    #[arg(long, value_name = "DIR", default_value = glh_data::settings::DEFAULT_DIR, alias = "dir")]
    pub data_dir: PathBuf,
}

/// `glh data subsets`.
#[derive(Debug, Args)]
pub struct SubsetsArgs {
    #[command(flatten)]
    pub data: DataDirArgs,
    /// Run seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Images per class in the SNIP/GraSP scoring batch.
    #[arg(long, default_value_t = glh_data::settings::DEFAULT_SCORING_PER_CLASS, value_parser = clap::value_parser!(u32).range(1..))]
    pub scoring_per_class: u32,
    /// Images per class in the NTK kernel data.
    #[arg(long, default_value_t = glh_data::settings::DEFAULT_KERNEL_PER_CLASS, value_parser = clap::value_parser!(u32).range(1..))]
    pub kernel_per_class: u32,
    /// Recompute even if the artifact is complete.
    #[arg(long)]
    pub force: bool,
}

/// `glh masks [export]`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct MasksCommand {
    /// Export instead of pruning.
    #[command(subcommand)]
    pub action: Option<MasksAction>,
    /// The configuration to prune.
    #[command(flatten)]
    pub run: MasksArgs,
}

/// `glh masks <action>`.
#[derive(Debug, Subcommand)]
pub enum MasksAction {
    /// Write a stored mask in a format any tool reads.
    Export(ExportArgs),
}

/// `glh masks export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The masks run: its key (as `glh ls` shows it) or its directory.
    pub run: String,
    /// Output format: `edges` is a Parquet edge list (layer, row, col, n_rows, n_cols), one row
    /// per kept weight, layers numbered from 1; `safetensors` is the pruned network as PyTorch's
    /// `torch.nn.utils.prune` holds it: `<2(l-1)>.weight_orig` (the initial f32 weight, unpruned
    /// values), `<2(l-1)>.weight_mask` (0/1 f32) and `<2(l-1)>.bias` for layer l.
    #[arg(long, value_enum, default_value_t = ExportFormat::Edges)]
    pub format: ExportFormat,
    /// Output file.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Also write the images a SNIP or GraSP run was scored on, as safetensors: `x` (f32,
    /// (images, 784), normalised as the run normalised them) and `y` (i64 labels).
    #[arg(long, value_name = "FILE")]
    pub scoring_batch: Option<PathBuf>,
    /// MNIST directory the scoring batch's images are read from.
    #[arg(long, value_name = "DIR", default_value = glh_data::settings::DEFAULT_DIR)]
    pub data_dir: PathBuf,
}

/// Formats of `glh masks export`.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ExportFormat {
    /// Parquet edge list.
    Edges,
    /// The pruned network for PyTorch.
    Safetensors,
}

/// The kinds of `glh_masks::settings::GraphonTarget`, as `--target` names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum TargetKind {
    /// W = p.
    Constant,
    /// W = min(1, c ((1-u)(1-v))^beta).
    Power,
    /// 1 on a top-left block, a floor elsewhere.
    Block,
    /// A stored graphons run's SAS histograms (--histograms), layer by layer.
    Histogram,
    /// A Parquet file's block densities per layer (--table; `glh schema` shows its columns).
    Table,
}

/// `glh masks`: one pruning configuration.
#[derive(Debug, Args)]
pub struct MasksArgs {
    /// Pruning method, a control (`shuffled:<method>`, `rewired:<method>`) or a graphon design
    /// (`graphon:<method>`: the method's per-layer kept counts placed by --target).
    #[arg(long, required = true, value_parser = method_parser())]
    pub method: Option<PruneMethod>,
    /// Hidden width n (at least 1).
    #[arg(long, required = true, value_parser = parse_width)]
    pub width: Option<Width>,
    /// Fraction of weights removed, in [0, 1).
    #[arg(long, required = true, value_parser = parse_sparsity, allow_negative_numbers = true)]
    pub sparsity: Option<Sparsity>,
    /// Number of Linear layers L (at least 2).
    #[arg(long, value_parser = parse_depth, default_value = "4")]
    pub depth: Depth,
    /// Run seed (initial weights, scoring batch, Random's scores, tie order).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Rank all layers together (`global`) or each layer alone (`layerwise`).
    #[arg(long, value_parser = parse_scope, default_value = "global")]
    pub scope: Scope,
    /// Rounds of SynFlow's exponential schedule.
    #[arg(long, default_value_t = glh_masks::settings::DEFAULT_SYNFLOW_ROUNDS, value_parser = clap::value_parser!(u32).range(1..))]
    pub synflow_rounds: u32,
    /// Temperature dividing the logits in GraSP's loss.
    #[arg(long, default_value_t = glh_masks::settings::DEFAULT_GRASP_TEMPERATURE)]
    pub grasp_temperature: f64,
    /// A graphon design's target (`graphon:<method>` only): `constant`; `power`,
    /// `W = min(1, c ((1-u)(1-v))^beta)`; `block`, a dense top-left block and a floor;
    /// `histogram`, a stored graphons run's histograms; `table`, a file's block densities.
    #[arg(long, value_enum, default_value_t = TargetKind::Constant)]
    pub target: TargetKind,
    /// The power target's exponent (0 is constant).
    #[arg(long, default_value_t = 1.0)]
    pub beta: f64,
    /// The block target's share of each layer's rows (outputs), in (0, 1].
    #[arg(long, default_value_t = 0.25)]
    pub block_rows: f64,
    /// The block target's share of each layer's columns (inputs), in (0, 1].
    #[arg(long, default_value_t = 0.25)]
    pub block_cols: f64,
    /// The histogram target's graphons run (its key: `glh ls graphons`), whose per-layer SAS
    /// histograms the design is drawn from at this width.
    #[arg(long, value_name = "KEY", required_if_eq("target", "histogram"))]
    pub histograms: Option<String>,
    /// The table target's Parquet file: `layer`, `row_block`, `col_block`, `block_density`
    /// (integers of any type; a graphons run's histograms.parquet is one), read once.
    #[arg(long, value_name = "FILE", required_if_eq("target", "table"))]
    pub table: Option<std::path::PathBuf>,
    /// Accept masks that remove every weight of a layer.
    #[arg(long)]
    pub allow_empty_layers: bool,
    /// `pruned`: every Linear layer is masked; `dense`: the classifier (last layer) keeps all
    /// its weights and the sparsity applies to the other layers.
    #[arg(long, value_parser = parse_classifier, default_value_t)]
    pub classifier: Classifier,
    /// Keep pixels in [0, 1] instead of standardising them (SNIP and GraSP).
    #[arg(long)]
    pub no_standardise: bool,
    /// Directory of the MNIST files.
    #[arg(long, value_name = "DIR", default_value = glh_data::settings::DEFAULT_DIR)]
    pub data_dir: PathBuf,
    /// Recompute even if the artifact is complete.
    #[arg(long)]
    pub force: bool,
}

/// The one mask `glh graphons` and `glh ntk` analyse: an edge list, a safetensors file or a
/// stored masks run.
#[derive(Debug, Args)]
pub struct MaskSourceArgs {
    /// A Parquet edge list (layer, row, col, n_rows, n_cols; any integer types; layers from 1).
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with_all = ["masks", "safetensors"],
        required_unless_present_any = ["masks", "safetensors", "training"]
    )]
    pub edges: Option<PathBuf>,
    /// A safetensors file (PyTorch's, Wanda's, SparseGPT's, `glh masks export`'s): layer p's
    /// mask is `p.weight_mask`, else the nonzero pattern of a 2-D `p.weight`; layers in natural
    /// name order (2 before 10) unless --layers names them. The order used is printed.
    #[arg(long, value_name = "FILE", conflicts_with = "masks")]
    pub safetensors: Option<PathBuf>,
    /// The safetensors file's layers, input layer first, by name prefix (`0,2,4` for an
    /// `nn.Sequential`; `model.layers.0.mlp.up_proj,...`).
    #[arg(
        long,
        value_name = "NAMES",
        value_delimiter = ',',
        requires = "safetensors"
    )]
    pub layers: Option<Vec<String>>,
    /// A masks run of this artifact store: its key, as `glh ls --stage masks` shows it.
    #[arg(long, value_name = "KEY")]
    pub masks: Option<String>,
    /// A training run under a mask schedule (IMP, SET, RigL) of this store, with --checkpoint:
    /// the mask it trained under at that checkpoint (`glh train` lists them).
    #[arg(long, value_name = "KEY", requires = "checkpoint", conflicts_with_all = ["masks", "edges", "safetensors"])]
    pub training: Option<String>,
    /// The checkpoint of --training: 0 for the mask it started from, i after its i-th update
    /// (SET, RigL) or at level i (IMP).
    #[arg(long, value_name = "N", requires = "training")]
    pub checkpoint: Option<u32>,
}

/// `glh graphons`.
#[derive(Debug, Args)]
pub struct GraphonsArgs {
    /// The mask.
    #[command(flatten)]
    pub mask: MaskSourceArgs,
    /// Histogram blocks per side (capped by each layer's size), 1 to 256; the paper's is 64.
    /// The cut distance is exact up to 24 and a certified interval above.
    #[arg(long, default_value_t = glh_graphons::settings::DEFAULT_K, value_parser = clap::value_parser!(u32).range(1..=i64::from(glh_graphons::settings::MAX_K)))]
    pub k: u32,
    /// Recompute even if the artifact is complete.
    #[arg(long)]
    pub force: bool,
}

/// `glh ntk`.
#[derive(Debug, Args)]
pub struct NtkArgs {
    /// The mask (of a 784 -> ... -> 10 network).
    #[command(flatten)]
    pub mask: MaskSourceArgs,
    /// Seed of the kernel subset for an edge list (a masks run uses its own seed).
    #[arg(long, default_value_t = 0, conflicts_with = "masks")]
    pub seed: u64,
    /// sigma_w^2 of the NTK parameterisation.
    #[arg(long, default_value_t = glh_ntk::settings::DEFAULT_SIGMA_W2)]
    pub sigma_w2: f64,
    /// Blocks per hidden layer of the histogram-level kernel (capped by the width).
    #[arg(long, default_value_t = glh_ntk::settings::DEFAULT_HISTOGRAM_K, value_parser = clap::value_parser!(u32).range(1..))]
    pub histogram_k: u32,
    /// Weight draws of the empirical NTK; 0 skips it.
    #[arg(long, default_value_t = glh_ntk::settings::DEFAULT_EMPIRICAL_DRAWS, value_parser = clap::value_parser!(u32).range(0..=i64::from(glh_ntk::settings::MAX_EMPIRICAL_DRAWS)))]
    pub empirical_draws: u32,
    /// Images per class in the kernel data set.
    #[arg(long, default_value_t = glh_data::settings::DEFAULT_KERNEL_PER_CLASS, value_parser = clap::value_parser!(u32).range(1..))]
    pub kernel_per_class: u32,
    /// Directory of the MNIST files.
    #[arg(long, value_name = "DIR", default_value = glh_data::settings::DEFAULT_DIR)]
    pub data_dir: PathBuf,
    /// Recompute even if the artifact is complete.
    #[arg(long)]
    pub force: bool,
}

/// `glh graphon-ntk`.
#[derive(Debug, Args)]
pub struct GraphonNtkArgs {
    /// A masks run of the configuration (repeat for each seed): its key, as `glh ls --stage
    /// masks` shows it.
    #[arg(long, value_name = "KEY", required = true)]
    pub masks: Vec<String>,
    /// Blocks per hidden side of the graphon (capped by the width).
    #[arg(long, default_value_t = glh_ntk::settings::DEFAULT_GRAPHON_K, value_parser = clap::value_parser!(u32).range(1..))]
    pub k: u32,
    /// sigma_w^2 values, comma-separated (the paper's 1, our 2).
    #[arg(long, value_delimiter = ',', default_values_t = [1.0, 2.0])]
    pub sigma_w2: Vec<f64>,
    /// Kernel images.
    #[arg(long, default_value_t = glh_ntk::settings::DEFAULT_KERNEL_SIZE)]
    pub kernel_size: u32,
    /// Seed of the draw of the kernel images.
    #[arg(long, default_value_t = 0)]
    pub kernel_seed: u64,
    /// Also the mask-level kernel of one finite mask drawn from the graphon.
    #[arg(long)]
    pub draw_masks: bool,
    /// Seed of the drawn mask.
    #[arg(long, default_value_t = 0)]
    pub draw_seed: u64,
    /// Also the kernel of each seed's own graphon, at the first --sigma-w2 (written to
    /// seed_metrics.parquet; the report's seed-bootstrap intervals use it).
    #[arg(long)]
    pub seed_kernels: bool,
    /// Directory of the MNIST files.
    #[arg(long, value_name = "DIR", default_value = glh_data::settings::DEFAULT_DIR)]
    pub data_dir: PathBuf,
    /// Recompute even if the artifact is complete.
    #[arg(long)]
    pub force: bool,
}

/// `glh design`.
#[derive(Debug, Args)]
pub struct DesignArgs {
    /// Fraction of weights removed, every layer alike (global Random's expected profile).
    #[arg(long, value_parser = parse_sparsity, required_unless_present_any = ["masks", "density"], conflicts_with_all = ["masks", "density"])]
    pub sparsity: Option<Sparsity>,
    /// Fraction of weights kept, every layer alike: `--density 0.1` is `--sparsity 0.9`.
    #[arg(long, value_parser = parse_density, conflicts_with = "masks")]
    pub density: Option<Sparsity>,
    /// A stored masks run whose per-layer kept counts (and width and depth) the design keeps.
    #[arg(long, value_name = "KEY")]
    pub masks: Option<String>,
    /// Hidden width n (with --sparsity).
    #[arg(long, value_parser = parse_width, default_value = "1024")]
    pub width: Width,
    /// Number of Linear layers L (with --sparsity).
    #[arg(long, value_parser = parse_depth, default_value = "4")]
    pub depth: Depth,
    /// The target families searched, comma-separated (each on its grid; the best point over
    /// all of them is the choice).
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [FamilyArg::Power])]
    pub family: Vec<FamilyArg>,
    /// The parameter's grid, ascending, comma-separated, for one family (default: power
    /// 0,0.5,1,2,4,8; block 0.05,0.1,0.2,0.4,0.7,1).
    #[arg(long, value_delimiter = ',')]
    pub grid: Vec<f64>,
    /// Golden-section steps after the grid (0: the grid alone).
    #[arg(long, default_value_t = glh_ntk::design::DEFAULT_REFINEMENTS)]
    pub refinements: usize,
    /// What is maximised.
    #[arg(long, value_enum, default_value_t = CriterionArg::Top5Energy)]
    pub criterion: CriterionArg,
    /// Blocks per hidden side of the design's graphon.
    #[arg(long, default_value_t = glh_ntk::settings::DEFAULT_GRAPHON_K, value_parser = clap::value_parser!(u32).range(1..))]
    pub k: u32,
    /// Kernel images.
    #[arg(long, default_value_t = glh_ntk::settings::DEFAULT_KERNEL_SIZE, value_parser = clap::value_parser!(u32).range(2..))]
    pub kernel_size: u32,
    /// Seed of the draw of the kernel images.
    #[arg(long, default_value_t = 0)]
    pub kernel_seed: u64,
    /// The kernel's sigma_w^2 (the paper's 1).
    #[arg(long, default_value_t = glh_ntk::design::DEFAULT_SIGMA_W2)]
    pub sigma_w2: f64,
    /// Also write every point as a Parquet table (`design_points`; `glh schema` describes it):
    /// a regular file outside the store, replaced whole.
    #[arg(long, value_name = "FILE.parquet")]
    pub out: Option<PathBuf>,
    /// Directory of the MNIST files.
    #[arg(long, value_name = "DIR", default_value = glh_data::settings::DEFAULT_DIR)]
    pub data_dir: PathBuf,
}

/// `glh_ntk::design::Family`, as `--family` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FamilyArg {
    /// W = min(1, c ((1-u)(1-v))^beta), the parameter beta.
    Power,
    /// A dense top-left block of the parameter's share of both sides.
    Block,
}

/// `glh_ntk::design::Criterion`, as `--criterion` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CriterionArg {
    /// The kernel's top-5 energy.
    #[value(name = "top5_energy")]
    Top5Energy,
    /// The kernel's trace.
    Trace,
    /// The loss ratio linearised gradient descent predicts after 200 steps at the
    /// trace-normalised rate (minimised).
    #[value(name = "predicted_loss_ratio")]
    PredictedLossRatio,
}

/// `glh train`.
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// A masks run of this artifact store: its key, as `glh ls --stage masks` shows it.
    #[arg(long, value_name = "KEY", required = true)]
    pub masks: Option<String>,
    /// Optimiser steps.
    #[arg(long, default_value_t = glh_training::settings::DEFAULT_STEPS, value_parser = clap::value_parser!(u32).range(1..))]
    pub steps: u32,
    /// Examples per step.
    #[arg(long, default_value_t = glh_training::settings::DEFAULT_BATCH_SIZE, value_parser = clap::value_parser!(u32).range(1..))]
    pub batch_size: u32,
    /// The learning rate (Adam's, or gradient descent's eta on the NTK parameters).
    #[arg(long, default_value_t = glh_training::settings::DEFAULT_LEARNING_RATE)]
    pub learning_rate: f64,
    /// `standard` (the masks run's own initialisation) or `ntk` (N(0, 1) weights scaled by
    /// sqrt(sigma_w^2 / fan_in), no biases; needs --optimizer gd).
    #[arg(long, value_enum, default_value_t)]
    pub parameterisation: glh_training::Parameterisation,
    /// `cross_entropy` or `mse` (squared error on one-hot targets, / 2 per example), as in a
    /// pipeline's `[training] loss` (`cross-entropy` is accepted too).
    #[arg(long, value_enum, default_value_t)]
    pub loss: glh_training::Loss,
    /// `adam` (mini-batches of MNIST) or `gd` (full-batch gradient descent on the data stage's
    /// kernel images of the run's seed; writes the outputs on them too).
    #[arg(long, value_enum, default_value_t)]
    pub optimizer: glh_training::Optimizer,
    /// sigma_w^2 of the NTK parameterisation.
    #[arg(long, default_value_t = glh_training::settings::DEFAULT_SIGMA_W2)]
    pub sigma_w2: f64,
    /// Images per class of the kernel set that `--optimizer gd` trains on.
    #[arg(long, default_value_t = glh_data::settings::DEFAULT_KERNEL_PER_CLASS, value_parser = clap::value_parser!(u32).range(1..))]
    pub kernel_per_class: u32,
    /// Steps after which `--optimizer gd` also writes the outputs (besides 0 and the last),
    /// comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub output_steps: Vec<u32>,
    /// Steps between test-set evaluations.
    #[arg(long, default_value_t = glh_training::settings::DEFAULT_EVAL_EVERY, value_parser = clap::value_parser!(u32).range(1..))]
    pub eval_every: u32,
    /// Training loss whose first crossing is reported.
    #[arg(long, default_value_t = glh_training::settings::DEFAULT_LOSS_THRESHOLD)]
    pub loss_threshold: f64,
    /// Where it trains: cpu, or cuda or metal in a build with that cargo feature.
    #[arg(long, value_enum, default_value_t)]
    pub device: glh_training::Device,
    /// How the mask changes during training: `static` (the masks run's, unchanged), `imp`
    /// (iterative magnitude pruning with rewinding: --steps, then --levels rounds of removing
    /// --prune-fraction of the kept weights globally, rewinding to --rewind-step and training
    /// again), `set` (every --every steps each layer drops --update-fraction of its kept
    /// weights by magnitude and regrows as many at random) or `rigl` (the same, regrowing the
    /// largest dense gradients, the fraction cosine-decayed to 0 at --end of the run). The
    /// masks go to the run's `masks.parquet`. As `[training.schedule]` in a pipeline.
    #[arg(long, value_enum, default_value_t, help_heading = "Mask schedule")]
    pub schedule: glh_training::schedule::ScheduleRule,
    /// imp: the fraction of the kept weights removed at each level [default: 0.2].
    #[arg(long, help_heading = "Mask schedule")]
    pub prune_fraction: Option<f64>,
    /// imp: levels of pruning after the first training [default: 1].
    #[arg(long, help_heading = "Mask schedule")]
    pub levels: Option<u32>,
    /// imp: the step whose weights each level rewinds to (0: initialisation) [default: 0].
    #[arg(long, help_heading = "Mask schedule")]
    pub rewind_step: Option<u32>,
    /// set, rigl: steps between mask updates [default: 100].
    #[arg(long, help_heading = "Mask schedule")]
    pub every: Option<u32>,
    /// set: the fraction of each layer's kept weights moved per update; rigl: that fraction at
    /// step 0 [default: 0.3].
    #[arg(long, help_heading = "Mask schedule")]
    pub update_fraction: Option<f64>,
    /// rigl: the fraction of the run after which the mask stays [default: 0.75].
    #[arg(long, help_heading = "Mask schedule")]
    pub end: Option<f64>,
    /// rigl: the per-layer densities kept, `start` (the masks run's) or `erk` [default: start].
    #[arg(long, value_enum, help_heading = "Mask schedule")]
    pub layer_densities: Option<glh_training::schedule::LayerDensities>,
    /// Keep pixels in [0, 1] instead of standardising them.
    #[arg(long)]
    pub no_standardise: bool,
    /// Directory of the MNIST files.
    #[arg(long, value_name = "DIR", default_value = glh_data::settings::DEFAULT_DIR)]
    pub data_dir: PathBuf,
    /// Recompute even if the artifact is complete.
    #[arg(long)]
    pub force: bool,
}

impl TrainArgs {
    /// The mask schedule the flags ask for; a flag the rule does not read is an error naming it.
    pub fn schedule(&self) -> glh_artifacts::Result<glh_training::schedule::MaskSchedule> {
        use glh_training::schedule::{
            ImpSettings, MaskSchedule, RiglSettings, ScheduleRule, SetSettings,
        };
        let given = [
            (
                "--prune-fraction",
                self.prune_fraction.is_some(),
                [ScheduleRule::Imp; 2],
            ),
            ("--levels", self.levels.is_some(), [ScheduleRule::Imp; 2]),
            (
                "--rewind-step",
                self.rewind_step.is_some(),
                [ScheduleRule::Imp; 2],
            ),
            (
                "--every",
                self.every.is_some(),
                [ScheduleRule::Set, ScheduleRule::Rigl],
            ),
            (
                "--update-fraction",
                self.update_fraction.is_some(),
                [ScheduleRule::Set, ScheduleRule::Rigl],
            ),
            ("--end", self.end.is_some(), [ScheduleRule::Rigl; 2]),
            (
                "--layer-densities",
                self.layer_densities.is_some(),
                [ScheduleRule::Rigl; 2],
            ),
        ];
        if let Some((flag, _, rules)) = given
            .iter()
            .find(|(_, set, rules)| *set && !rules.contains(&self.schedule))
        {
            let msg = format!(
                "is read by --schedule {} only, not by --schedule {}",
                rules[0].name(),
                self.schedule.name()
            );
            return Err(glh_artifacts::Error::config("command line", *flag, msg));
        }
        Ok(match self.schedule {
            ScheduleRule::Static => MaskSchedule::Static,
            ScheduleRule::Imp => {
                let d = ImpSettings::default();
                MaskSchedule::Imp(ImpSettings {
                    prune_fraction: self.prune_fraction.unwrap_or(d.prune_fraction),
                    levels: self.levels.unwrap_or(d.levels),
                    rewind_step: self.rewind_step.unwrap_or(d.rewind_step),
                })
            }
            ScheduleRule::Set => {
                let d = SetSettings::default();
                MaskSchedule::Set(SetSettings {
                    every: self.every.unwrap_or(d.every),
                    fraction: self.update_fraction.unwrap_or(d.fraction),
                })
            }
            ScheduleRule::Rigl => {
                let d = RiglSettings::default();
                MaskSchedule::Rigl(RiglSettings {
                    every: self.every.unwrap_or(d.every),
                    fraction: self.update_fraction.unwrap_or(d.fraction),
                    end: self.end.unwrap_or(d.end),
                    densities: self.layer_densities.unwrap_or(d.densities),
                })
            }
        })
    }
}

/// `glh report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Pipeline files whose runs to report, in order. The report reads exactly the runs these
    /// plan (never other runs of the store at the same sweep points), and a pipeline's dense
    /// baseline (e3-dense for E3, e4-dense for E4) only where it is one of them.
    #[arg(value_name = "PIPELINE.toml", default_values = ["pipelines/e1.toml", "pipelines/e1-sparse.toml", "pipelines/e1-cauchy.toml", "pipelines/e2.toml", "pipelines/e2-dense-classifier.toml", "pipelines/e3.toml", "pipelines/e3-l5.toml", "pipelines/e3-controls.toml", "pipelines/e3-dense.toml"])]
    pub pipelines: Vec<PathBuf>,
    /// Output directory, replaced whole: a new or empty directory, or an earlier report's
    /// (never `.`, `..`, the working directory or one of its ancestors, nor the store).
    #[arg(long, value_name = "DIR", default_value = "reports")]
    pub out: PathBuf,
    /// Report even though some planned runs are missing from the store; the report's summary
    /// names them. Without it, a missing run is an error that names it.
    #[arg(long)]
    pub allow_partial: bool,
    /// Report these run seeds instead of the pipelines' (as `glh run --seeds`): N or A..B.
    #[arg(long, value_name = "N|A..B", value_parser = parse_seeds)]
    pub seeds: Option<Seeds>,
    /// Bootstrap resamples per confidence interval (100 to 100000).
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u32).range(100..=glh_reporting::report::MAX_BOOTSTRAP as i64))]
    pub bootstrap: u32,
}

/// `glh run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The pipeline file (TOML), e.g. pipelines/smoke.toml.
    pub pipeline: PathBuf,
    /// Recompute every job, even those whose artifacts are complete.
    #[arg(long)]
    pub force: bool,
    /// Jobs run at once (default: the number of cores; at most 256). Stages parallelise inside a
    /// job on the same threads, so cores are never oversubscribed.
    #[arg(long, short, value_parser = clap::value_parser!(u32).range(1..=glh_pipeline::cluster::MAX_THREADS as i64))]
    pub jobs: Option<u32>,
    /// Run seeds instead of the pipeline's: a count N (seeds 0..N) or a range A..B (A to B-1),
    /// for every stage (training too, whatever the sweep's `trained_seeds`). `--seeds 100` is
    /// the paper's 100 runs per setting.
    #[arg(long, value_name = "N|A..B", value_parser = parse_seeds)]
    pub seeds: Option<Seeds>,
    /// Where the jobs run: `local` (this machine) or `slurm` (job arrays on a cluster).
    #[arg(long, value_enum, default_value_t = Executor::Local)]
    pub executor: Executor,
    /// Slurm: resources and submission.
    #[command(flatten)]
    pub slurm: SlurmArgs,
}

/// Where `glh run` runs the jobs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Executor {
    /// On this machine, independent jobs in parallel.
    Local,
    /// As Slurm job arrays against a shared artifact root (see `glh run --help`).
    Slurm,
}

/// The flags of `--executor slurm`; they override the pipeline's `[slurm]` table.
#[derive(Debug, Default, Args)]
#[command(next_help_heading = "Slurm (--executor slurm)")]
pub struct SlurmArgs {
    /// Write the sweep's sbatch scripts (and submit.sh) without submitting them.
    #[arg(long)]
    pub dry_run: bool,
    /// Wait until the sweep ends, showing progress; exit 1 if a job failed.
    #[arg(long, conflicts_with = "dry_run")]
    pub wait: bool,
    /// Partition of every task.
    #[arg(long)]
    pub partition: Option<String>,
    /// Time limit of every task (Slurm's formats: MM, HH:MM:SS, D-HH:MM, ...).
    #[arg(long)]
    pub time: Option<String>,
    /// Memory of every task (4G, 500M, ...).
    #[arg(long)]
    pub mem: Option<String>,
    /// CPUs of every task (at most 256); the task's job uses as many threads.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=glh_pipeline::cluster::MAX_THREADS as i64))]
    pub cpus_per_task: Option<u32>,
    /// At most this many tasks of one array at once.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_parallel: Option<u32>,
    /// One more sbatch option for every task (repeatable): --sbatch-arg=--qos=short.
    #[arg(long, value_name = "OPTION", allow_hyphen_values = true)]
    pub sbatch_arg: Vec<String>,
    /// The glh binary the tasks run (default: this one); it must be visible on the nodes.
    #[arg(long, value_name = "PATH")]
    pub glh_bin: Option<PathBuf>,
}

impl SlurmArgs {
    /// The first Slurm flag that is set, for rejecting it under `--executor local`.
    pub fn first_set(&self) -> Option<&'static str> {
        [
            (self.dry_run, "--dry-run"),
            (self.wait, "--wait"),
            (self.partition.is_some(), "--partition"),
            (self.time.is_some(), "--time"),
            (self.mem.is_some(), "--mem"),
            (self.cpus_per_task.is_some(), "--cpus-per-task"),
            (self.max_parallel.is_some(), "--max-parallel"),
            (!self.sbatch_arg.is_empty(), "--sbatch-arg"),
            (self.glh_bin.is_some(), "--glh-bin"),
        ]
        .into_iter()
        .find_map(|(set, flag)| set.then_some(flag))
    }
}

/// `glh job`.
#[derive(Debug, Args)]
pub struct JobArgs {
    /// The pipeline file whose plan holds the job.
    pub pipeline: PathBuf,
    /// The job: `<stage>/<key>`, as the sweep scripts list them.
    #[arg(long, value_name = "STAGE/KEY")]
    pub job: String,
    /// Threads of the job (at most 256).
    #[arg(long, short, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=glh_pipeline::cluster::MAX_THREADS as i64))]
    pub jobs: u32,
    /// Recompute the job even if its artifact is complete.
    #[arg(long)]
    pub force: bool,
}

/// `glh ls`.
#[derive(Debug, Args)]
pub struct LsArgs {
    /// Only this stage.
    #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(glh_artifacts::schemas::stages()))]
    pub stage: Option<String>,
    /// Only the state of Slurm sweeps (no artifact list).
    #[arg(long)]
    pub sweeps: bool,
    /// Every job of this sweep with its state (the id `glh ls --sweeps` shows).
    #[arg(long, value_name = "ID")]
    pub sweep: Option<String>,
}

/// `glh gc`.
#[derive(Debug, Args)]
pub struct GcArgs {
    /// Also remove the damaged runs that `glh run` set aside (`.damaged-*`).
    #[arg(long)]
    pub damaged: bool,
}

/// `glh schema`.
#[derive(Debug, Args)]
pub struct SchemaArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = SchemaFormat::Markdown)]
    pub format: SchemaFormat,
}

/// How `glh schema` prints.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum SchemaFormat {
    /// Markdown tables, as in ARCHITECTURE.md.
    Markdown,
    /// JSON: `[{stage, name, file, columns: [{name, dtype, doc}]}]`, dtypes as polars names them.
    Json,
}

/// A method by one of `PruneMethod::NAMES`, which `--help` lists.
fn method_parser() -> impl clap::builder::TypedValueParser<Value = PruneMethod> {
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(PruneMethod::NAMES)
        .try_map(|name| name.parse::<PruneMethod>())
}
fn parse_width(s: &str) -> Result<Width, String> {
    s.parse()
}
fn parse_sparsity(s: &str) -> Result<Sparsity, String> {
    s.parse()
}
/// A density, as the sparsity `1 - density` (`--density 0.1` is `--sparsity 0.9`).
fn parse_density(s: &str) -> Result<Sparsity, String> {
    let density: f64 = s.parse().map_err(|_| format!("`{s}` is not a number"))?;
    if !(density > 0.0 && density <= 1.0) {
        return Err(format!("a density is in (0, 1], got {s}"));
    }
    Sparsity::try_from(1.0 - density)
}
fn parse_depth(s: &str) -> Result<Depth, String> {
    s.parse()
}
fn parse_scope(s: &str) -> Result<Scope, String> {
    s.parse()
}
fn parse_classifier(s: &str) -> Result<Classifier, String> {
    s.parse()
}

/// The most seeds `--seeds` accepts: the sweep of one seed setting is bounded by
/// `glh_pipeline::pipeline::MAX_SWEEP_POINTS` anyway, and this stops a typo before it allocates.
pub const MAX_SEEDS: u64 = glh_pipeline::pipeline::MAX_SWEEP_POINTS as u64;

/// Run seeds given on the command line (`--seeds`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seeds(pub Vec<u64>);

/// `N` is seeds `0..N`; `A..B` is seeds `A..B` (B excluded).
pub fn parse_seeds(s: &str) -> Result<Seeds, String> {
    let number = |t: &str| {
        t.trim()
            .parse::<u64>()
            .map_err(|_| format!("expected a count N or a range A..B of seeds, got `{s}`"))
    };
    let (a, b) = match s.split_once("..") {
        Some((a, b)) => (number(a)?, number(b)?),
        None => (0, number(s)?),
    };
    if a >= b {
        return Err(format!("the seed range `{s}` is empty"));
    }
    if b - a > MAX_SEEDS {
        return Err(format!(
            "`{s}` asks for {} seeds, more than the {MAX_SEEDS} one sweep may have",
            b - a
        ));
    }
    Ok(Seeds((a..b).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_grammar_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn seeds_parse_through_clap() {
        let cli = Cli::try_parse_from(["glh", "run", "p.toml", "--seeds", "2..4"]).unwrap();
        let Command::Run(args) = cli.command else {
            panic!("not run")
        };
        assert_eq!(args.seeds, Some(Seeds(vec![2, 3])));
        let cli = Cli::try_parse_from(["glh", "report", "--seeds", "2"]).unwrap();
        let Command::Report(args) = cli.command else {
            panic!("not report")
        };
        assert_eq!(args.seeds, Some(Seeds(vec![0, 1])));
    }

    #[test]
    fn seeds_are_a_count_or_a_range() {
        assert_eq!(parse_seeds("3").unwrap().0, [0, 1, 2]);
        assert_eq!(parse_seeds("10..12").unwrap().0, [10, 11]);
        assert_eq!(parse_seeds("100").unwrap().0.len(), 100);
        assert!(parse_seeds("0").unwrap_err().contains("empty"));
        assert!(parse_seeds("5..5").is_err());
        assert!(parse_seeds("x").unwrap_err().contains("got `x`"));
    }
}
