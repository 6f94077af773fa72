//! The command-line grammar of `glh` (clap derive). Values are parsed with the validating
//! parsers of `glh_artifacts::config`, so a flag and a pipeline field reject a bad value with
//! the same words.

use clap::{Args, Parser, Subcommand, ValueEnum};
use glh_artifacts::config::{Depth, PruneMethod, Sparsity, Width};
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
  glh ls                               list artifacts with their parameters and status
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
    /// Score and prune MLPs at initialisation (issue #3; not implemented yet).
    Masks(MasksArgs),
    /// SAS histograms and their convergence with width (issue #4; not implemented yet).
    Graphons,
    /// Graphon NTK, empirical NTK and spectra (issue #5; not implemented yet).
    Ntk,
    /// Train the pruned MLPs on MNIST (issue #6; not implemented yet).
    Train,
    /// Figures and the report (issue #7; not implemented yet).
    Report,
    /// Run an experiment: expand a pipeline file into stage jobs and run what is not cached.
    #[command(long_about = "\
Run an experiment: expand a pipeline file into stage jobs and run what is not cached.

A pipeline file (TOML, see pipelines/) names a sweep (methods, widths, sparsities, depths, seeds)
and one table per stage to run, with its settings. Jobs whose artifacts are complete are reported
as cached; the others run, independent jobs in parallel on --jobs threads. Unknown keys, empty
lists and out-of-range values are errors that name the file, line and field.")]
    Run(RunArgs),
    /// List the artifacts under the root with their parameters and status.
    Ls(LsArgs),
    /// Remove the directories that interrupted runs left behind (never a complete artifact).
    Gc,
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
    #[arg(long, value_name = "DIR", default_value = "data/mnist")]
    pub dir: PathBuf,
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
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    pub scoring_per_class: u32,
    /// Images per class in the NTK kernel data.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..))]
    pub kernel_per_class: u32,
    /// Recompute even if the artifact is complete.
    #[arg(long)]
    pub force: bool,
}

/// `glh masks`: one pruning configuration.
#[derive(Debug, Args)]
pub struct MasksArgs {
    /// Pruning method.
    #[arg(long, value_parser = parse_method, value_name = "random|magnitude|snip|grasp|synflow")]
    pub method: PruneMethod,
    /// Hidden width n (at least 1).
    #[arg(long, value_parser = parse_width)]
    pub width: Width,
    /// Fraction of weights removed, in [0, 1).
    #[arg(long, value_parser = parse_sparsity, allow_negative_numbers = true)]
    pub sparsity: Sparsity,
    /// Number of Linear layers L (at least 2).
    #[arg(long, value_parser = parse_depth, default_value = "4")]
    pub depth: Depth,
    /// Run seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

/// `glh run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The pipeline file (TOML), e.g. pipelines/smoke.toml.
    pub pipeline: PathBuf,
    /// Recompute every job, even those whose artifacts are complete.
    #[arg(long)]
    pub force: bool,
    /// Jobs run at once (default: the number of cores). Stages parallelise inside a job on the
    /// same threads, so cores are never oversubscribed.
    #[arg(long, short, value_parser = clap::value_parser!(u32).range(1..))]
    pub jobs: Option<u32>,
}

/// `glh ls`.
#[derive(Debug, Args)]
pub struct LsArgs {
    /// Only this stage.
    #[arg(long)]
    pub stage: Option<String>,
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

fn parse_method(s: &str) -> Result<PruneMethod, String> {
    s.parse()
}
fn parse_width(s: &str) -> Result<Width, String> {
    s.parse()
}
fn parse_sparsity(s: &str) -> Result<Sparsity, String> {
    s.parse()
}
fn parse_depth(s: &str) -> Result<Depth, String> {
    s.parse()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_grammar_is_consistent() {
        Cli::command().debug_assert();
    }
}
