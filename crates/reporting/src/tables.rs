//! Reading the artifact store with polars: the planned runs' copies of a table, as one lazy
//! frame, and filters on a sweep's values within them.
//!
//! A report reads exactly the runs its pipelines plan ([`crate::experiment::PlannedRuns`]),
//! never every run of the store that matches a column filter: a store shared with pipelines of
//! other settings at the same sweep points would otherwise change its numbers. Each run is
//! verified by hash first; a damaged run is an error naming it, never a row silently missing
//! from a correlation. The sweep filter ([`in_sweep`]) only splits a pipeline's own runs into
//! parts (a depth, a level, the dense baseline).

use crate::experiment::{DesignTargets, PlannedRuns};
use glh_artifacts::config::{KernelKind, KernelView, Level, Sweep};
use glh_artifacts::{ArtifactKey, ArtifactStore, Error, Result, TableSchema};
use polars::prelude::*;

/// Turns a polars error into ours (an artifact that does not read is a damaged input).
pub fn polars_error(context: &str) -> impl Fn(PolarsError) -> Error + '_ {
    move |e| Error::Unsupported(format!("{context}: {e}"))
}

/// The `<stage>/<key>/<table>.parquet` of every run of `stage` in `runs` that is complete in the
/// store and has that table, concatenated in key order; `None` if there is none. A damaged run
/// is an error; a missing one is left out (the report checks its plan is complete before it
/// reads, see `crate::report::missing_runs`).
pub fn scan(
    store: &ArtifactStore,
    schema: &TableSchema,
    runs: &PlannedRuns,
) -> Result<Option<LazyFrame>> {
    scan_runs(store, schema, runs, |_, frame| frame)
}

/// [`scan`], with each run's design target beside its rows: `target` (its label) and `beta`
/// (the power family's exponent), both null for a run that is not a design's.
pub fn scan_with_targets(
    store: &ArtifactStore,
    schema: &TableSchema,
    runs: &PlannedRuns,
    targets: &DesignTargets,
) -> Result<Option<LazyFrame>> {
    scan_runs(store, schema, runs, |key, frame| {
        let target = targets.get(key);
        let label = target.map_or(lit(NULL), |t| lit(t.label.clone()));
        let beta = target.and_then(|t| t.power_beta).map_or(lit(NULL), lit);
        frame.with_columns([
            label.cast(DataType::String).alias("target"),
            beta.cast(DataType::Float64).alias("beta"),
        ])
    })
}

/// [`scan`], with each run's key beside its rows (`run_key`).
pub fn scan_with_keys(
    store: &ArtifactStore,
    schema: &TableSchema,
    runs: &PlannedRuns,
) -> Result<Option<LazyFrame>> {
    scan_runs(store, schema, runs, |key, frame| {
        frame.with_column(lit(key.as_str().to_string()).alias("run_key"))
    })
}

fn scan_runs(
    store: &ArtifactStore,
    schema: &TableSchema,
    runs: &PlannedRuns,
    with_run: impl Fn(&ArtifactKey, LazyFrame) -> LazyFrame,
) -> Result<Option<LazyFrame>> {
    let (stage, table) = (schema.stage, schema.name);
    let mut frames = Vec::new();
    let file = schema.file_name();
    for key in runs.keys(stage) {
        let Some(manifest) = store.find(stage, key)? else {
            continue;
        };
        if !manifest.files.iter().any(|f| f.file == file) {
            continue;
        }
        let path = store.run_dir(stage, key).join(&file);
        let source = PlRefPath::try_from_path(&path).map_err(polars_error(table))?;
        let frame = LazyFrame::scan_parquet(source, Default::default())
            .map_err(|e| Error::input(&path, format!("not a readable Parquet table: {e}")))?;
        frames.push(with_run(key, frame));
    }
    if frames.is_empty() {
        return Ok(None);
    }
    // Filters stay above the union: pushed into each of hundreds of scans, polars plans a
    // predicate per scan, and that planning took longer than reading the tables (profile of
    // `just reproduce`'s report, issue #30).
    Ok(Some(
        concat(frames, UnionArgs::default())
            .map_err(polars_error(table))?
            .with_predicate_pushdown(false),
    ))
}

/// A swept column of the run tables: the closed set [`in_sweep`] filters on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SweepColumn {
    /// `method`.
    Method,
    /// `width`.
    Width,
    /// `sparsity`: stands for the sweep's levels (see [`in_sweep`]).
    Sparsity,
    /// `depth`.
    Depth,
    /// `seed`.
    Seed,
}

/// Every swept column, in the run columns' order.
pub const RUN_COLUMNS: [SweepColumn; 5] = [
    SweepColumn::Method,
    SweepColumn::Width,
    SweepColumn::Sparsity,
    SweepColumn::Depth,
    SweepColumn::Seed,
];

/// The rows of a kernel table (ntk, graphon_ntk and dynamics) of one kernel.
pub fn of_kernel(frame: LazyFrame, kind: KernelKind) -> LazyFrame {
    frame.filter(col("kernel").eq(lit(kind.name())))
}

/// The rows of a kernel metrics table (ntk `metrics`, graphon_ntk `metrics` and
/// `seed_metrics`) in one view of the kernel.
pub fn in_view(frame: LazyFrame, view: KernelView) -> LazyFrame {
    frame.filter(col("view").eq(lit(view.name())))
}

/// `frame` restricted to the sweep's values of `columns` (a table without seeds, say, is
/// filtered on the others). `Sparsity` stands for the sweep's levels: its sparsities and the
/// sparsities its density laws give each width.
pub fn in_sweep(frame: LazyFrame, sweep: &Sweep, columns: &[SweepColumn]) -> LazyFrame {
    fn any_of(column: &str, values: Vec<Expr>) -> Expr {
        values
            .into_iter()
            .map(|v| col(column).eq(v))
            .reduce(|a, b| a.or(b))
            .unwrap_or(lit(false))
    }
    let mut frame = frame;
    for &column in columns {
        let (name, values): (&str, Vec<Expr>) = match column {
            SweepColumn::Sparsity => {
                frame = frame.filter(in_levels(sweep));
                continue;
            }
            SweepColumn::Method => (
                "method",
                sweep.methods.iter().map(|m| lit(m.name())).collect(),
            ),
            SweepColumn::Width => ("width", sweep.widths.iter().map(|w| lit(w.get())).collect()),
            SweepColumn::Depth => ("depth", sweep.depths.iter().map(|d| lit(d.get())).collect()),
            SweepColumn::Seed => ("seed", sweep.seeds.iter().map(|&s| lit(s)).collect()),
        };
        frame = frame.filter(any_of(name, values));
    }
    frame
}

/// The sweep of a sweep's dense baseline: its widths, depths and seeds, unpruned (Random at
/// sparsity 0 keeps every weight), as `pipelines/e3-dense.toml` runs it.
pub fn dense_baseline(sweep: &Sweep) -> Sweep {
    let mut dense = sweep.clone();
    dense.methods = vec![glh_artifacts::config::PruneMethod::Random];
    dense.density_laws = Vec::new();
    dense.sparsities =
        vec![glh_artifacts::config::Sparsity::try_from(0.0).expect("0 is a sparsity")];
    dense
}

/// Rows at one of the sweep's levels: a fixed sparsity at any width, or a density law's
/// sparsity at the width it gives it (so a law's rows need a `width` column).
fn in_levels(sweep: &Sweep) -> Expr {
    sweep
        .levels()
        .into_iter()
        .flat_map(|level| match level {
            Level::Fixed(s) => vec![col("sparsity").eq(lit(s.value()))],
            Level::Law(law) => sweep
                .widths
                .iter()
                .filter_map(|&w| {
                    let s = law.sparsity(w).ok()?;
                    Some(
                        col("width")
                            .eq(lit(w.get()))
                            .and(col("sparsity").eq(lit(s.value()))),
                    )
                })
                .collect(),
        })
        .reduce(|a, b| a.or(b))
        .unwrap_or(lit(false))
}

/// A column as f64 values (nulls are NaN; integer columns are cast).
pub fn f64s(df: &DataFrame, name: &str) -> Result<Vec<f64>> {
    let column = df
        .column(name)
        .and_then(|c| c.cast(&DataType::Float64))
        .map_err(polars_error(name))?;
    Ok(column
        .f64()
        .map_err(polars_error(name))?
        .iter()
        .map(|v| v.unwrap_or(f64::NAN))
        .collect())
}

/// A Boolean column (nulls are false).
pub fn bools(df: &DataFrame, name: &str) -> Result<Vec<bool>> {
    let column = df.column(name).map_err(polars_error(name))?;
    Ok(column
        .bool()
        .map_err(polars_error(name))?
        .iter()
        .map(|v| v.unwrap_or(false))
        .collect())
}

/// A string column.
pub fn strings(df: &DataFrame, name: &str) -> Result<Vec<String>> {
    let column = df.column(name).map_err(polars_error(name))?;
    Ok(column
        .str()
        .map_err(polars_error(name))?
        .iter()
        .map(|v| v.unwrap_or_default().to_string())
        .collect())
}
