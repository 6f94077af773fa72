//! The report: for every experiment, the sections its stages call for (`crate::sections`),
//! then the claims of METHOD.md section 6 (`crate::claims`) with what our numbers say.
//!
//! - `[graphons]`: a grid of seed-averaged SAS heat maps per layer (rows: methods, columns:
//!   widths) and the distance to the largest width against width, mean and sd over seeds;
//! - `[ntk]`: the mask-level spectra against the dense NTK's (scaled by the product of layer
//!   densities), normalised spectra per method and sparsity, the c^L table;
//! - `[training]`: training-loss curves (mean and sd over seeds, the dense run as baseline where
//!   one exists), accuracy table, and early training speed against each spectral metric with
//!   Spearman and Pearson correlations and bootstrap intervals over seeds;
//! - `[dynamics]`: observed against kernel-predicted gradient-descent curves, the curve error
//!   against width with its fitted slope, the speed orders, and E4's two claims.
//!
//! Everything lands in `<out>/` (figures under `<out>/<pipeline>/`), built in a temporary
//! directory beside it and renamed into place, so a failed report leaves the old one intact.

use crate::claims::Claim;
use crate::document::{Block, html, markdown};
use crate::experiment::{Experiment, PlannedRuns};
use crate::figures::save;
pub(crate) use crate::tables::RUN_COLUMNS;
use crate::tables::{SweepColumn, in_sweep, polars_error, scan};
use glh_artifacts::config::{Level, Sweep};
use glh_artifacts::files::within;
use glh_artifacts::store::Verify;
use glh_artifacts::store::{abandoned, unique_suffix};
use glh_artifacts::{ArtifactStore, Error, Result, TableSchema};
use polars::prelude::*;
use std::path::{Component, Path, PathBuf};

/// Settings of a report.
#[derive(Clone, Debug)]
pub struct ReportSettings {
    /// Bootstrap resamples per interval.
    pub bootstrap: usize,
    /// Seed of the bootstrap stream.
    pub seed: u64,
    /// Report even though planned runs are missing (the summary then says which); without it a
    /// report with a missing run is refused.
    pub allow_partial: bool,
}

/// The most bootstrap resamples a report takes: 100,000 resamples already put a 95% interval's
/// ends within about 0.1% of their limit, and each costs a pass over the seeds.
pub const MAX_BOOTSTRAP: u32 = 100_000;

impl Default for ReportSettings {
    fn default() -> Self {
        ReportSettings {
            bootstrap: 2000,
            seed: 0,
            allow_partial: false,
        }
    }
}

/// What a report wrote.
#[derive(Clone, Debug)]
pub struct ReportOutput {
    /// `<out>/report.md`.
    pub markdown: PathBuf,
    /// `<out>/report.html`, self-contained.
    pub html: PathBuf,
    /// Every PNG (each with an SVG beside it).
    pub figures: Vec<PathBuf>,
    /// Tables in the report.
    pub tables: usize,
    /// The claims, with their verdicts (the claims table's rows).
    pub claims: Vec<Claim>,
}

/// The report being built: its blocks, figures and claims, filled by the sections
/// (`crate::sections`).
pub(crate) struct Builder<'a> {
    pub(crate) store: &'a ArtifactStore,
    /// Every run the reported pipelines plan: a dense baseline is read only among these.
    pub(crate) planned: PlannedRuns,
    pub(crate) settings: &'a ReportSettings,
    pub(crate) blocks: Vec<Block>,
    pub(crate) figures: Vec<PathBuf>,
    pub(crate) claims: Vec<Claim>,
}

/// `(x, mean, sd)`.
pub(crate) type MeanSd = (f64, f64, f64);
/// A run's depth and its `(rank, eigenvalue)` points.
pub(crate) type Spectrum = (f64, Vec<(f64, f64)>);

pub(crate) fn collect(frame: LazyFrame, what: &str) -> Result<DataFrame> {
    frame.collect().map_err(polars_error(what))
}

/// The experiment split into one part per (depth, level) of its sweep, each with its own
/// figure directory: histograms and distances of different depths, sparsities or density laws
/// are different graphons and must not be averaged into one heat map or one curve (the paper's
/// figures 1, 4 and 5 are one panel each). A sweep of one depth and one level is one part.
fn by_depth_and_level(p: &Experiment, dir: &Path) -> Result<Vec<(Experiment, PathBuf)>> {
    let levels = p.sweep.levels();
    if p.sweep.depths.len() * levels.len() == 1 {
        return Ok(vec![(p.clone(), dir.to_path_buf())]);
    }
    let mut parts = Vec::new();
    for &depth in &p.sweep.depths {
        for &level in &levels {
            let label = format!("L = {depth}, {}", level.label());
            parts.push(part(
                p,
                dir,
                &label,
                &format!("L{depth}-{}", level.slug()),
                |s| {
                    s.depths = vec![depth];
                    (s.sparsities, s.density_laws) = match level {
                        Level::Fixed(x) => (vec![x], vec![]),
                        Level::Law(law) => (vec![], vec![law]),
                    };
                },
            )?);
        }
    }
    Ok(parts)
}

/// A part of `p`: its sweep narrowed by `narrow`, named `<name> (<label>)`, with its figures in
/// `dir/<sub>` (created).
fn part(
    p: &Experiment,
    dir: &Path,
    label: &str,
    sub: &str,
    narrow: impl FnOnce(&mut Sweep),
) -> Result<(Experiment, PathBuf)> {
    let mut part = p.clone();
    part.name = format!("{} ({label})", p.name);
    narrow(&mut part.sweep);
    let part_dir = dir.join(sub);
    std::fs::create_dir_all(&part_dir).map_err(|e| Error::output(&part_dir, e))?;
    Ok((part, part_dir))
}

/// The experiment split by depth, each part with its figures' directory (`L<depth>`); an
/// experiment of one depth is its own part, in `dir`. Kernel sections compare sparsities and
/// methods at one depth: spectra of two depths on one axis would be two laws mixed.
fn by_depth(p: &Experiment, dir: &Path) -> Result<Vec<(Experiment, PathBuf)>> {
    if p.sweep.depths.len() == 1 {
        return Ok(vec![(p.clone(), dir.to_path_buf())]);
    }
    p.sweep
        .depths
        .iter()
        .map(|&depth| {
            part(p, dir, &format!("L = {depth}"), &format!("L{depth}"), |s| {
                s.depths = vec![depth]
            })
        })
        .collect()
}

/// The file that marks a directory as a report of ours, which a later report may replace.
pub const REPORT_MARKER: &str = ".glh-report";

/// Why `out` may not be a report's output directory, if it may not. A report replaces its
/// output directory whole, so only a missing path, an empty directory or a directory holding
/// our marker qualifies, and never `.`, `..`, the working directory or one of its ancestors, the
/// store, a directory inside it or one of its ancestors: `--out` pointing at an artifact store,
/// a home directory or `.` loses nothing.
fn refuse_to_replace(out: &Path, store: &ArtifactStore) -> Option<String> {
    if out.as_os_str().is_empty()
        || out
            .components()
            .any(|c| matches!(c, Component::CurDir | Component::ParentDir))
    {
        return Some(
            "contains `.` or `..`; name the report's directory by a plain path (it replaces \
             the directory whole)"
                .into(),
        );
    }
    if let Ok(cwd) = std::env::current_dir()
        && within(&cwd, out)
    {
        return Some(
            "is the working directory or one of its ancestors; the report replaces its output \
             directory whole, so choose a new or empty one"
                .into(),
        );
    }
    if within(store.root(), out) || within(out, store.root()) {
        return Some(format!(
            "is the artifact store {} or inside it, or one of its ancestors; choose a directory \
             outside the store",
            store.root().display()
        ));
    }
    let meta = match std::fs::symlink_metadata(out) {
        Ok(meta) => meta,
        Err(_) => return None,
    };
    if !meta.is_dir() {
        return Some("exists and is not a directory; choose another output directory".into());
    }
    let is_report = std::fs::symlink_metadata(out.join(REPORT_MARKER)).is_ok_and(|m| m.is_file());
    let empty = std::fs::read_dir(out).is_ok_and(|mut entries| entries.next().is_none());
    if is_report || empty {
        None
    } else {
        Some(format!(
            "is a non-empty directory that holds no report of ours (no {REPORT_MARKER}); the \
             report replaces its output directory, so choose a new or empty one"
        ))
    }
}

/// Every run the pipelines plan.
fn all_planned(pipelines: &[Experiment]) -> PlannedRuns {
    let mut planned = PlannedRuns::new();
    for p in pipelines {
        planned.extend(&p.runs);
    }
    planned
}

/// The runs of `planned` that the store does not hold complete, as `stage/key`; a damaged run
/// is an error naming it.
pub fn missing_runs(store: &ArtifactStore, planned: &PlannedRuns) -> Result<Vec<String>> {
    let mut missing = Vec::new();
    for (stage, key) in planned.iter() {
        if store.find_with(stage, key, Verify::Sizes)?.is_none() {
            missing.push(format!("{stage}/{key}"));
        }
    }
    Ok(missing)
}

/// Refuses two pipelines of one name: their figures would share a directory.
fn check_names(pipelines: &[Experiment]) -> Result<()> {
    let mut seen = std::collections::BTreeSet::new();
    for p in pipelines {
        if !seen.insert(p.name.as_str()) {
            return Err(Error::config(
                "command line",
                "pipelines",
                format!(
                    "two pipelines are named `{}`; their figures would share one directory, so \
                     report them apart or rename one (its `name` field)",
                    p.name
                ),
            ));
        }
    }
    Ok(())
}

/// Writes the report of `pipelines` under `out`, replacing a previous report there; refuses
/// (before writing anything) to replace anything else, and to report while a planned run is
/// missing unless `settings.allow_partial`.
pub fn write_report(
    store: &ArtifactStore,
    pipelines: &[Experiment],
    out: &Path,
    settings: &ReportSettings,
) -> Result<ReportOutput> {
    check_names(pipelines)?;
    if let Some(why) = refuse_to_replace(out, store) {
        return Err(Error::input(out, why));
    }
    if settings.bootstrap == 0 || settings.bootstrap > MAX_BOOTSTRAP as usize {
        return Err(Error::config(
            "command line",
            "bootstrap",
            format!(
                "must be 1 to {MAX_BOOTSTRAP} resamples, got {}",
                settings.bootstrap
            ),
        ));
    }
    if !store.root().is_dir() {
        return Err(Error::input(
            store.root(),
            "no artifact store here: run the pipelines first (`glh run <pipeline>`), or name \
             the store with --artifacts",
        ));
    }
    let planned = all_planned(pipelines);
    let missing = missing_runs(store, &planned)?;
    if !missing.is_empty() && !settings.allow_partial {
        return Err(Error::input(
            store.root(),
            format!(
                "{} of the {} runs the pipelines plan are missing (first: {}); run the \
                 pipelines with the same --seeds first, or pass --allow-partial for a report \
                 marked partial",
                missing.len(),
                planned.len(),
                missing
                    .iter()
                    .take(3)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(parent).map_err(|e| Error::output(parent, e))?;
    let name = out
        .file_name()
        .map_or("reports".into(), |n| n.to_string_lossy().into_owned());
    let suffix = unique_suffix();
    let tmp = parent.join(format!(".tmp-{name}-{suffix}"));
    // A record in the store names the temporary directory, so that `glh gc` finds it if this
    // process is killed before it renames or removes it.
    let record = ReportRecord::write(store, &suffix, &tmp);
    let result = build(store, pipelines, planned, &missing, &tmp, settings).and_then(|output| {
        let marker = tmp.join(REPORT_MARKER);
        std::fs::write(
            &marker,
            "written by glh report; a later glh report may replace this directory\n",
        )
        .map_err(|e| Error::output(&marker, e))?;
        Ok(output)
    });
    let result = result.and_then(|output| {
        replace_dir(&tmp, out, &parent.join(format!(".old-{name}-{suffix}")))?;
        Ok(output)
    });
    record.remove();
    match result {
        Ok(mut output) => {
            let moved = |p: &PathBuf| out.join(p.strip_prefix(&tmp).unwrap_or(p));
            output.figures = output.figures.iter().map(moved).collect();
            output.markdown = moved(&output.markdown);
            output.html = moved(&output.html);
            Ok(output)
        }
        Err(e) => {
            let _ = std::fs::remove_dir_all(&tmp);
            Err(e)
        }
    }
}

/// Puts the directory `new` at `out`: a previous `out` is renamed to `aside` first and removed
/// only once `new` is in place (it is put back if that fails), so a failure loses nothing.
fn replace_dir(new: &Path, out: &Path, aside: &Path) -> Result<()> {
    let had_old = std::fs::symlink_metadata(out).is_ok();
    if had_old {
        std::fs::rename(out, aside).map_err(|e| Error::output(out, e))?;
    }
    if let Err(e) = std::fs::rename(new, out) {
        if had_old {
            let _ = std::fs::rename(aside, out);
        }
        return Err(Error::output(out, e));
    }
    if had_old {
        std::fs::remove_dir_all(aside).map_err(|e| Error::output(aside, e))?;
    }
    Ok(())
}

/// Where `glh report` records the temporary directories of reports being written.
const REPORTS_IN_PROGRESS: &str = ".reports-in-progress";

/// The record of one report being written: a file named by its process's unique suffix whose
/// text is the temporary directory's path. Best effort: a store the user cannot write to
/// still gets its report, only without the record.
struct ReportRecord(Option<PathBuf>);

impl ReportRecord {
    fn write(store: &ArtifactStore, suffix: &str, tmp: &Path) -> Self {
        let dir = store.root().join(REPORTS_IN_PROGRESS);
        let path = dir.join(suffix);
        let tmp = std::path::absolute(tmp).unwrap_or_else(|_| tmp.to_path_buf());
        let written = std::fs::create_dir_all(&dir)
            .and_then(|_| std::fs::write(&path, tmp.to_string_lossy().as_bytes()));
        ReportRecord(written.ok().map(|_| path))
    }

    fn remove(&self) {
        if let Some(path) = &self.0 {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Removes the temporary directories of reports whose process was killed (and their records);
/// returns the directories removed. Reports still being written, or written by another host,
/// are left alone.
pub fn remove_abandoned_reports(store: &ArtifactStore) -> Result<Vec<PathBuf>> {
    let dir = store.root().join(REPORTS_IN_PROGRESS);
    let Ok(records) = std::fs::read_dir(&dir) else {
        return Ok(Vec::new());
    };
    let mut removed = Vec::new();
    for record in records.filter_map(|r| r.ok()) {
        let name = record.file_name().to_string_lossy().into_owned();
        if !abandoned(&name) {
            continue;
        }
        let path = record.path();
        let tmp =
            PathBuf::from(std::fs::read_to_string(&path).map_err(|e| Error::read(&path, &e))?);
        // Only ever a temporary directory of ours, whatever the record says.
        let ours = tmp.file_name().is_some_and(|n| {
            n.to_string_lossy().starts_with(".tmp-") && n.to_string_lossy().ends_with(&name)
        });
        if ours && tmp.is_dir() {
            std::fs::remove_dir_all(&tmp).map_err(|e| Error::output(&tmp, e))?;
            removed.push(tmp);
        }
        std::fs::remove_file(&path).map_err(|e| Error::output(&path, e))?;
    }
    Ok(removed)
}

fn build(
    store: &ArtifactStore,
    pipelines: &[Experiment],
    planned: PlannedRuns,
    missing: &[String],
    dir: &Path,
    settings: &ReportSettings,
) -> Result<ReportOutput> {
    std::fs::create_dir_all(dir).map_err(|e| Error::output(dir, e))?;
    let mut b = Builder {
        store,
        planned,
        settings,
        blocks: vec![Block::Heading(
            1,
            "graphon-lab report: The Graphon Limit Hypothesis, reproduced".into(),
        )],
        figures: Vec::new(),
        claims: Vec::new(),
    };
    b.blocks.push(Block::Paragraph(format!(
        "Artifacts read from `{}`. Every number below is computed from them; each experiment's \
         settings are folded under its section title. Figures are PNG with an SVG beside them. \
         Where our protocol differs from the paper's (METHOD.md section 7), both readings are \
         shown and named: \"(paper)\" or \"(ours)\".",
        store.root().display()
    )));
    // The claims table goes here, once every section has made its claims.
    let summary_at = b.blocks.len();
    for pipeline in pipelines {
        let fig_dir = dir.join(&pipeline.name);
        std::fs::create_dir_all(&fig_dir).map_err(|e| Error::output(&fig_dir, e))?;
        b.blocks.push(Block::Heading(
            2,
            format!("{}: {}", pipeline.name, pipeline.description),
        ));
        b.blocks.push(Block::Details(
            format!("Settings of {} (pipeline TOML)", pipeline.name),
            "toml".into(),
            pipeline.settings_toml.clone(),
        ));
        if pipeline.sweeps_design_targets() {
            // Its runs share their run columns across targets: the pooling sections would mix
            // them, so the design section alone reads them, by target.
            b.design_family(pipeline, &fig_dir)?;
            continue;
        }
        if pipeline.trajectories {
            // Masks that change during training: E3's training sections would read its runs as
            // pruning at initialisation.
            b.trajectories(pipeline, &fig_dir)?;
            continue;
        }
        if let Some(runs) = pipeline.graphons {
            for (part, part_dir) in by_depth_and_level(pipeline, &fig_dir)? {
                b.graphons(&part, runs, &part_dir)?;
            }
        } else if pipeline.training {
            // The graphons section tables the densities by width; an experiment that trains
            // at one width compares them by sparsity.
            b.masks_by_sparsity(pipeline)?;
        }
        if pipeline.ntk {
            for (part, part_dir) in by_depth(pipeline, &fig_dir)? {
                b.ntk(&part, &part_dir)?;
            }
        }
        if let Some(runs) = pipeline.graphon_ntk {
            b.graphon_ntk(pipeline, runs, &fig_dir)?;
        }
        if let Some(runs) = pipeline.dynamics {
            b.dynamics(pipeline, runs, &fig_dir)?;
        } else {
            if pipeline.training {
                b.training(pipeline, &fig_dir)?;
            }
            // E3's kernel claims read the graphon kernels alone (e3-literal has no training);
            // a pipeline of designs reads E3's runs of the methods for another question.
            let designs = pipeline.sweep.methods.iter().any(|m| m.is_design());
            if (pipeline.training || pipeline.graphon_ntk.is_some()) && !designs {
                b.paper_e3_claims(pipeline, &fig_dir)?;
                b.kernel_views(pipeline, &fig_dir)?;
            }
            if pipeline.training {
                b.controls(pipeline)?;
                b.design_comparison(pipeline)?;
            }
        }
    }
    // A reader opens the report for its verdicts: the claims table first, then the contents.
    let mut summary = summary_blocks(&b.claims, missing);
    summary.push(Block::Heading(2, "Contents".into()));
    summary.push(Block::Contents);
    b.blocks.splice(summary_at..summary_at, summary);
    let markdown_path = dir.join("report.md");
    let html_path = dir.join("report.html");
    std::fs::write(&markdown_path, markdown(&b.blocks, dir))
        .map_err(|e| Error::output(&markdown_path, e))?;
    let page = html(&b.blocks, "graphon-lab report").map_err(|e| Error::output(&html_path, e))?;
    std::fs::write(&html_path, page).map_err(|e| Error::output(&html_path, e))?;
    let tables = b
        .blocks
        .iter()
        .filter(|x| matches!(x, Block::Table(..)))
        .count();
    Ok(ReportOutput {
        markdown: markdown_path,
        html: html_path,
        figures: b.figures,
        tables,
        claims: b.claims,
    })
}

/// The summary's blocks: the partial notice (when runs are missing), the claims table and the
/// paper's E3 claims side by side.
fn summary_blocks(claims: &[Claim], missing: &[String]) -> Vec<Block> {
    let mut summary = vec![Block::Heading(
        2,
        "Summary: the claims and our verdicts".into(),
    )];
    if !missing.is_empty() {
        const LISTED: usize = 12;
        let more = match missing.len().saturating_sub(LISTED) {
            0 => String::new(),
            n => format!(" and {n} more (`glh run` on the pipelines with the same --seeds)"),
        };
        summary.push(Block::Paragraph(format!(
            "**Partial report** (`--allow-partial`): {} planned runs are missing from the store \
             and every number below leaves them out: {}{more}.",
            missing.len(),
            missing
                .iter()
                .take(LISTED)
                .map(|m| format!("`{m}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    if claims.is_empty() {
        summary.push(Block::Paragraph(
            "No experiment with the stages a claim needs was reported.".into(),
        ));
    } else {
        let (read_apart, others): (Vec<&Claim>, Vec<&Claim>) =
            claims.iter().partition(|c| c.reading.is_some());
        if !others.is_empty() {
            summary.push(Block::Table(
                vec![
                    "claim".into(),
                    "experiment".into(),
                    "our numbers".into(),
                    "supported?".into(),
                ],
                others.into_iter().map(Claim::row).collect(),
            ));
        }
        if !read_apart.is_empty() {
            summary.push(Block::Paragraph(
                "The paper's E3 claims, each reduced to one statistic with its 95% \
                 seed-bootstrap interval, under the paper's protocol and ours side by side \
                 (the sections below say how each is read):"
                    .into(),
            ));
            summary.push(crate::sections::side_by_side(claims));
        }
    }
    summary
}

impl Builder<'_> {
    pub(crate) fn figure(
        &mut self,
        figure: &impl crate::figures::Figure,
        stem: PathBuf,
        caption: String,
    ) -> Result<()> {
        let png = save(figure, &stem)?;
        self.figures.push(png.clone());
        self.blocks.push(Block::Figure(png, caption));
        Ok(())
    }

    pub(crate) fn frame(
        &self,
        table: &TableSchema,
        pipeline: &Experiment,
        columns: &[SweepColumn],
    ) -> Result<Option<LazyFrame>> {
        Ok(scan(self.store, table, &pipeline.runs)?.map(|f| in_sweep(f, &pipeline.sweep, columns)))
    }

    /// The dense baseline's copies of `table`: the runs of `pipeline.dense_runs` that a
    /// reported pipeline plans.
    pub(crate) fn dense_frame(
        &self,
        table: &TableSchema,
        pipeline: &Experiment,
    ) -> Result<Option<LazyFrame>> {
        scan(
            self.store,
            table,
            &pipeline.dense_runs.intersection(&self.planned),
        )
    }

    pub(crate) fn missing(&mut self, what: &str) {
        self.blocks.push(Block::Paragraph(format!(
            "No {what} of this experiment in the store yet (run `glh run` on its pipeline file)."
        )));
    }
}
