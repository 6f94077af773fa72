//! The report: for every pipeline, the sections its stages call for, then the claims of
//! METHOD.md section 6 with what our numbers say.
//!
//! - `[graphons]`: a grid of seed-averaged SAS heat maps per layer (rows: methods, columns:
//!   widths) and the distance to the largest width against width, mean and sd over seeds;
//! - `[ntk]`: the mask-level spectra against the dense NTK's (scaled by the product of layer
//!   densities), normalised spectra per method and sparsity, the c^L table;
//! - `[training]`: training-loss curves (mean and sd over seeds, the dense run as baseline where
//!   one exists), accuracy table, and early training speed against each spectral metric with
//!   Spearman and Pearson correlations and bootstrap intervals over seeds.
//!
//! Everything lands in `<out>/` (figures under `<out>/<pipeline>/`), built in a temporary
//! directory beside it and renamed into place, so a failed report leaves the old one intact.

use crate::claims::{self, Claim, fmt, interval};
use crate::document::{Block, html, markdown};
use crate::experiment::Experiment;
use crate::figures::{Chart, Grid, HeatmapGrid, Line, save};
use crate::stats::{bootstrap, pearson, spearman};
use crate::tables::{f64s, in_sweep, polars_error, scan, strings};
use glh_artifacts::{ArtifactStore, Error, Result};
use polars::prelude::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Settings of a report.
#[derive(Clone, Debug)]
pub struct ReportSettings {
    /// Bootstrap resamples per interval.
    pub bootstrap: usize,
    /// Seed of the bootstrap stream.
    pub seed: u64,
}

impl Default for ReportSettings {
    fn default() -> Self {
        ReportSettings {
            bootstrap: 2000,
            seed: 0,
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

struct Builder<'a> {
    store: &'a ArtifactStore,
    settings: &'a ReportSettings,
    blocks: Vec<Block>,
    figures: Vec<PathBuf>,
    claims: Vec<Claim>,
}

/// `(x, mean, sd)`.
type MeanSd = (f64, f64, f64);
/// A run's depth and its `(rank, eigenvalue)` points.
type Spectrum = (f64, Vec<(f64, f64)>);

const RUN_COLUMNS: [&str; 5] = ["method", "width", "sparsity", "depth", "seed"];

fn collect(frame: LazyFrame, what: &str) -> Result<DataFrame> {
    frame.collect().map_err(polars_error(what))
}

/// Writes the report of `pipelines` under `out`.
pub fn write_report(
    store: &ArtifactStore,
    pipelines: &[Experiment],
    out: &Path,
    settings: &ReportSettings,
) -> Result<ReportOutput> {
    let parent = out.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| Error::output(parent, e))?;
    let name = out
        .file_name()
        .map_or("reports".into(), |n| n.to_string_lossy().into_owned());
    let tmp = parent.join(format!(".tmp-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let result = build(store, pipelines, &tmp, settings);
    match result {
        Ok(mut output) => {
            if out.exists() {
                std::fs::remove_dir_all(out).map_err(|e| Error::output(out, e))?;
            }
            std::fs::rename(&tmp, out).map_err(|e| Error::output(out, e))?;
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

fn build(
    store: &ArtifactStore,
    pipelines: &[Experiment],
    dir: &Path,
    settings: &ReportSettings,
) -> Result<ReportOutput> {
    std::fs::create_dir_all(dir).map_err(|e| Error::output(dir, e))?;
    let mut b = Builder {
        store,
        settings,
        blocks: vec![Block::Heading(
            1,
            "graphon-lab report: The Graphon Limit Hypothesis, reproduced".into(),
        )],
        figures: Vec::new(),
        claims: Vec::new(),
    };
    b.blocks.push(Block::Paragraph(format!(
        "Artifacts read from `{}`. Every number below is computed from them; the settings of \
         each experiment follow its section title. Figures are PNG with an SVG beside them.",
        store.root().display()
    )));
    for pipeline in pipelines {
        let fig_dir = dir.join(&pipeline.name);
        std::fs::create_dir_all(&fig_dir).map_err(|e| Error::output(&fig_dir, e))?;
        b.blocks.push(Block::Heading(
            2,
            format!("{}: {}", pipeline.name, pipeline.description),
        ));
        b.blocks
            .push(Block::Code("toml".into(), pipeline.settings_toml.clone()));
        if pipeline.graphons {
            b.graphons(pipeline, &fig_dir)?;
        }
        if pipeline.ntk {
            b.ntk(pipeline, &fig_dir)?;
        }
        if pipeline.training {
            b.training(pipeline, &fig_dir)?;
        }
    }
    b.blocks
        .push(Block::Heading(2, "Claims of METHOD.md section 6".into()));
    if b.claims.is_empty() {
        b.blocks.push(Block::Paragraph(
            "No experiment with the stages a claim needs was reported.".into(),
        ));
    } else {
        b.blocks.push(Block::Table(
            vec![
                "claim".into(),
                "experiment".into(),
                "our numbers".into(),
                "supported?".into(),
            ],
            b.claims.iter().map(Claim::row).collect(),
        ));
    }
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

impl Builder<'_> {
    fn figure(
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

    fn frame(
        &self,
        stage: &str,
        table: &str,
        pipeline: &Experiment,
        columns: &[&str],
    ) -> Result<Option<LazyFrame>> {
        Ok(scan(self.store, stage, table)?.map(|f| in_sweep(f, &pipeline.sweep, columns)))
    }

    fn missing(&mut self, what: &str) {
        self.blocks.push(Block::Paragraph(format!(
            "No {what} of this experiment in the store yet (run `glh run` on its pipeline file)."
        )));
    }

    fn graphons(&mut self, p: &Experiment, dir: &Path) -> Result<()> {
        self.blocks.push(Block::Heading(
            3,
            "SAS histograms and convergence with width".into(),
        ));
        let Some(frame) = self.frame("graphons", "histograms", p, &RUN_COLUMNS)? else {
            self.missing("histograms");
            return Ok(());
        };
        let df = collect(
            frame
                .group_by([
                    col("method"),
                    col("width"),
                    col("layer"),
                    col("k_rows"),
                    col("k_cols"),
                    col("row_block"),
                    col("col_block"),
                ])
                .agg([col("block_density").mean()])
                .sort(
                    ["method", "width", "layer", "row_block", "col_block"],
                    SortMultipleOptions::default(),
                ),
            "histograms",
        )?;
        let (method, width, layer) = (
            strings(&df, "method")?,
            f64s(&df, "width")?,
            f64s(&df, "layer")?,
        );
        let (kr, kc, value) = (
            f64s(&df, "k_rows")?,
            f64s(&df, "k_cols")?,
            f64s(&df, "block_density")?,
        );
        let mut grids: BTreeMap<(u32, String, u32), Grid> = BTreeMap::new();
        for i in 0..df.height() {
            let grid = grids
                .entry((layer[i] as u32, method[i].clone(), width[i] as u32))
                .or_insert_with(|| Grid {
                    rows: kr[i] as usize,
                    cols: kc[i] as usize,
                    values: Vec::new(),
                });
            grid.values.push(value[i]);
        }
        let methods: Vec<String> = p
            .sweep
            .methods
            .iter()
            .map(|m| m.name().to_string())
            .collect();
        let mut widths: Vec<u32> = p.sweep.widths.iter().map(|w| w.get()).collect();
        widths.sort_unstable();
        let layers: Vec<u32> = grids
            .keys()
            .map(|k| k.0)
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        for &l in &layers {
            let cells = methods
                .iter()
                .map(|m| {
                    widths
                        .iter()
                        .map(|&w| grids.get(&(l, m.clone(), w)).cloned())
                        .collect()
                })
                .collect();
            let figure = HeatmapGrid {
                title: format!("{}: SAS histograms of layer {l}, mean over seeds", p.name),
                row_labels: methods.clone(),
                col_labels: widths.iter().map(|w| format!("n = {w}")).collect(),
                cells,
            };
            self.figure(
                &figure,
                dir.join(format!("heatmaps_layer{l}")),
                format!(
                    "Layer {l}: seed-averaged SAS histograms (rows: methods; columns: widths)."
                ),
            )?;
        }
        self.convergence(p, dir, &methods)
    }

    fn convergence(&mut self, p: &Experiment, dir: &Path, methods: &[String]) -> Result<()> {
        let Some(frame) = self.frame(
            "convergence",
            "convergence",
            p,
            &["method", "width", "sparsity", "depth"],
        )?
        else {
            self.missing("convergence tables");
            return Ok(());
        };
        let df = collect(
            frame.sort(["method", "layer", "width"], SortMultipleOptions::default()),
            "convergence",
        )?;
        let (method, layer, width) = (
            strings(&df, "method")?,
            f64s(&df, "layer")?,
            f64s(&df, "width")?,
        );
        let (mean, sd, reference) = (
            f64s(&df, "l2_mean")?,
            f64s(&df, "l2_sd")?,
            f64s(&df, "reference_width")?,
        );
        let mut by_layer: BTreeMap<u32, BTreeMap<String, Vec<MeanSd>>> = BTreeMap::new();
        for i in 0..df.height() {
            if width[i] < reference[i] {
                by_layer
                    .entry(layer[i] as u32)
                    .or_default()
                    .entry(method[i].clone())
                    .or_default()
                    .push((width[i], mean[i], sd[i]));
            }
        }
        let mut rows = Vec::new();
        for (&l, per_method) in &by_layer {
            let lines = methods
                .iter()
                .filter_map(|m| per_method.get(m).map(|pts| (m, pts)))
                .map(|(m, pts)| Line {
                    name: m.clone(),
                    points: pts.iter().map(|&(w, y, _)| (w, y)).collect(),
                    band: pts.iter().map(|&(w, y, s)| (w, y - s, y + s)).collect(),
                })
                .collect();
            let chart = Chart {
                title: format!("{}: layer {l}, distance to the largest width", p.name),
                x_label: "hidden width n".into(),
                y_label: "||H_n - H_ref||_F / K (mean ± sd over seeds)".into(),
                lines,
                points_only: false,
            };
            self.figure(
                &chart,
                dir.join(format!("convergence_layer{l}")),
                format!("Layer {l}: L2 distance of the SAS histogram to the seed-averaged histogram at the largest width."),
            )?;
            for m in methods {
                if let Some(pts) = per_method.get(m) {
                    rows.push(
                        [format!("{l}"), m.clone()]
                            .into_iter()
                            .chain(
                                pts.iter()
                                    .map(|&(w, y, s)| format!("n={w}: {} ± {}", fmt(y), fmt(s))),
                            )
                            .collect(),
                    );
                }
            }
        }
        let n_cols = rows.iter().map(Vec::len).max().unwrap_or(2);
        let mut header = vec!["layer".to_string(), "method".to_string()];
        header.extend((2..n_cols).map(|i| format!("width {}", i - 1)));
        let rows = rows
            .into_iter()
            .map(|mut r| {
                r.resize(n_cols, String::new());
                r
            })
            .collect();
        self.blocks.push(Block::Table(header, rows));
        self.claims.extend(claims::convergence(&p.name, &df)?);
        Ok(())
    }

    fn ntk(&mut self, p: &Experiment, dir: &Path) -> Result<()> {
        self.blocks
            .push(Block::Heading(3, "Graphon NTK spectra".into()));
        let Some(frame) = self.frame("ntk", "metrics", p, &RUN_COLUMNS)? else {
            self.missing("kernel metrics");
            return Ok(());
        };
        let df = collect(
            frame
                .filter(col("kernel").eq(lit("mask")))
                .group_by([col("method"), col("sparsity"), col("depth")])
                .agg([
                    len().alias("runs"),
                    col("density_product").mean(),
                    col("trace_ratio_to_dense").mean(),
                    col("rel_error_to_scaled_dense").mean(),
                    col("top5_energy").mean(),
                    col("top5_energy").std(1).alias("top5_sd"),
                    col("effective_rank").mean(),
                    col("decay_exponent").mean(),
                    col("negative_count").max(),
                ])
                .sort(["sparsity", "method"], SortMultipleOptions::default()),
            "metrics",
        )?;
        let get = |c: &str| f64s(&df, c);
        let (method, sparsity, depth) = (strings(&df, "method")?, get("sparsity")?, get("depth")?);
        let (runs, product, ratio, err) = (
            get("runs")?,
            get("density_product")?,
            get("trace_ratio_to_dense")?,
            get("rel_error_to_scaled_dense")?,
        );
        let (top5, top5_sd, rank, decay, negative) = (
            get("top5_energy")?,
            get("top5_sd")?,
            get("effective_rank")?,
            get("decay_exponent")?,
            get("negative_count")?,
        );
        let rows = (0..df.height())
            .map(|i| {
                let c = 1.0 - sparsity[i];
                vec![
                    method[i].clone(),
                    fmt(sparsity[i]),
                    format!("{}", runs[i]),
                    fmt(c.powf(depth[i])),
                    fmt(product[i]),
                    fmt(ratio[i]),
                    fmt(err[i]),
                    format!("{} ± {}", fmt(top5[i]), fmt(top5_sd[i])),
                    fmt(rank[i]),
                    fmt(decay[i]),
                    format!("{}", negative[i]),
                ]
            })
            .collect();
        self.blocks.push(Block::Paragraph(
            "Mask-level Graphon NTK on the kernel images, mean over seeds. The c^L law predicts \
             trace ratio = c^L (exactly: the product of the layer densities)."
                .into(),
        ));
        self.blocks.push(Block::Table(
            [
                "method",
                "sparsity",
                "runs",
                "c^L",
                "prod c_l",
                "trace / dense",
                "rel. error vs prod c_l x dense",
                "top-5 energy",
                "effective rank",
                "decay exponent",
                "max negative eigenvalues",
            ]
            .map(String::from)
            .to_vec(),
            rows,
        ));
        self.claims.extend(claims::power_law(&p.name, &df)?);
        self.spectra(p, dir, &method, &sparsity, &top5)
    }

    fn spectra(
        &mut self,
        p: &Experiment,
        dir: &Path,
        method: &[String],
        sparsity: &[f64],
        top5: &[f64],
    ) -> Result<()> {
        let Some(frame) = self.frame("ntk", "spectra", p, &RUN_COLUMNS)? else {
            return Ok(());
        };
        let df = collect(
            frame
                .filter(
                    col("kernel")
                        .eq(lit("mask"))
                        .or(col("kernel").eq(lit("dense"))),
                )
                .group_by([
                    col("method"),
                    col("sparsity"),
                    col("depth"),
                    col("kernel"),
                    col("rank"),
                ])
                .agg([col("eigenvalue").mean()])
                .sort(
                    ["sparsity", "method", "kernel", "rank"],
                    SortMultipleOptions::default(),
                ),
            "spectra",
        )?;
        let (m, s, d, k) = (
            strings(&df, "method")?,
            f64s(&df, "sparsity")?,
            f64s(&df, "depth")?,
            strings(&df, "kernel")?,
        );
        let (rank, value) = (f64s(&df, "rank")?, f64s(&df, "eigenvalue")?);
        let mut curves: BTreeMap<(u64, String, String), Spectrum> = BTreeMap::new();
        for i in 0..df.height() {
            curves
                .entry((s[i].to_bits(), m[i].clone(), k[i].clone()))
                .or_insert_with(|| (d[i], Vec::new()))
                .1
                .push((rank[i], value[i]));
        }
        // Random: eigenvalues beside c^L x the dense ones, per density.
        let mut lines = Vec::new();
        for ((s_bits, m, k), (depth, pts)) in &curves {
            if m != "random" || k != "mask" {
                continue;
            }
            let c = 1.0 - f64::from_bits(*s_bits);
            let scale = c.powf(*depth);
            lines.push(Line {
                name: format!("Random, c = {}", fmt(c)),
                points: pts
                    .iter()
                    .filter(|q| q.1 > 0.0)
                    .map(|&(r, v)| (r.log10(), v.log10()))
                    .collect(),
                band: vec![],
            });
            if let Some((_, dense)) = curves.get(&(*s_bits, m.clone(), "dense".into())) {
                lines.push(Line {
                    name: format!("c^L x dense, c = {}", fmt(c)),
                    points: dense
                        .iter()
                        .filter(|q| q.1 > 0.0)
                        .map(|&(r, v)| (r.log10(), (scale * v).log10()))
                        .collect(),
                    band: vec![],
                });
            }
        }
        if !lines.is_empty() {
            let chart = Chart {
                title: format!("{}: Random-pruned Graphon NTK vs c^L x dense", p.name),
                x_label: "log10(rank)".into(),
                y_label: "log10(eigenvalue), mean over seeds".into(),
                lines,
                points_only: false,
            };
            self.figure(&chart, dir.join("spectra_random_vs_scaled_dense"), "Eigenvalues of the mask-level Graphon NTK of Random pruning beside c^L times the dense NTK's (each pair should overlap).".into())?;
        }
        // Every method: spectra normalised by their trace, one figure per sparsity.
        let sparsities: std::collections::BTreeSet<u64> = curves.keys().map(|k| k.0).collect();
        for s_bits in sparsities {
            let lines: Vec<Line> = curves
                .iter()
                .filter(|((sb, _, k), _)| *sb == s_bits && k == "mask")
                .map(|((_, m, _), (_, pts))| {
                    let total: f64 = pts.iter().map(|q| q.1).sum();
                    Line {
                        name: m.clone(),
                        points: pts
                            .iter()
                            .filter(|q| q.1 > 0.0)
                            .map(|&(r, v)| (r.log10(), (v / total).log10()))
                            .collect(),
                        band: vec![],
                    }
                })
                .collect();
            let s_value = f64::from_bits(s_bits);
            let chart = Chart {
                title: format!(
                    "{}: Graphon NTK spectra at sparsity {}",
                    p.name,
                    fmt(s_value)
                ),
                x_label: "log10(rank)".into(),
                y_label: "log10(eigenvalue / trace), mean over seeds".into(),
                lines,
                points_only: false,
            };
            self.figure(&chart, dir.join(format!("spectra_s{s_value}")), format!("Normalised eigenvalues of the mask-level Graphon NTK per method at sparsity {}.", fmt(s_value)))?;
        }
        let frame = df!("method" => method, "sparsity" => sparsity, "top5_energy" => top5)
            .map_err(polars_error("metrics"))?;
        self.claims
            .extend(claims::energy_concentration(&p.name, &frame)?);
        Ok(())
    }

    fn training(&mut self, p: &Experiment, dir: &Path) -> Result<()> {
        self.blocks.push(Block::Heading(3, "Training".into()));
        // The sweep, plus sparsity-0 runs of the same widths, depths and seeds as the baseline.
        let Some(history) = scan(self.store, "training", "history")? else {
            self.missing("training runs");
            return Ok(());
        };
        let mut with_dense = p.sweep.clone();
        with_dense.methods = vec![glh_artifacts::config::PruneMethod::Random];
        with_dense.sparsities =
            vec![glh_artifacts::config::Sparsity::try_from(0.0).expect("0 is a sparsity")];
        let curves = |frame: LazyFrame| {
            frame
                .filter(col("split").eq(lit("train")))
                .group_by([col("method"), col("sparsity"), col("step")])
                .agg([
                    col("loss").mean().alias("mean"),
                    col("loss").std(1).alias("sd"),
                ])
                .sort(
                    ["sparsity", "method", "step"],
                    SortMultipleOptions::default(),
                )
        };
        let pruned = collect(
            curves(in_sweep(history.clone(), &p.sweep, &RUN_COLUMNS)),
            "history",
        )?;
        let dense = collect(
            curves(in_sweep(history, &with_dense, &RUN_COLUMNS)),
            "history",
        )?;
        let mut by_sparsity: BTreeMap<u64, Vec<Line>> = BTreeMap::new();
        let mut dense_line = None;
        for (df, is_dense) in [(&pruned, false), (&dense, true)] {
            let (m, s, step) = (
                strings(df, "method")?,
                f64s(df, "sparsity")?,
                f64s(df, "step")?,
            );
            let (mean, sd) = (f64s(df, "mean")?, f64s(df, "sd")?);
            let mut lines: BTreeMap<(u64, String), Line> = BTreeMap::new();
            for i in 0..df.height() {
                let line = lines
                    .entry((s[i].to_bits(), m[i].clone()))
                    .or_insert_with(|| Line {
                        name: if is_dense {
                            "dense".into()
                        } else {
                            m[i].clone()
                        },
                        points: vec![],
                        band: vec![],
                    });
                let sd = if sd[i].is_finite() { sd[i] } else { 0.0 };
                line.points.push((step[i], mean[i]));
                line.band.push((step[i], mean[i] - sd, mean[i] + sd));
            }
            for ((s_bits, _), line) in lines {
                if is_dense {
                    dense_line = Some(line);
                } else if f64::from_bits(s_bits) > 0.0 {
                    by_sparsity.entry(s_bits).or_default().push(line);
                }
            }
        }
        for (s_bits, mut lines) in by_sparsity {
            if let Some(d) = &dense_line {
                lines.push(d.clone());
            }
            let s = f64::from_bits(s_bits);
            let chart = Chart {
                title: format!("{}: training loss at sparsity {}", p.name, fmt(s)),
                x_label: "Adam step".into(),
                y_label: "training cross-entropy (mean ± sd over seeds)".into(),
                lines,
                points_only: false,
            };
            self.figure(
                &chart,
                dir.join(format!("training_loss_s{s}")),
                format!(
                    "Training loss per step at sparsity {} (band: ± one sd over seeds).",
                    fmt(s)
                ),
            )?;
        }
        self.training_summary(p, dir)
    }

    fn training_summary(&mut self, p: &Experiment, dir: &Path) -> Result<()> {
        let Some(summary) = self.frame("training", "summary", p, &RUN_COLUMNS)? else {
            return Ok(());
        };
        let s_df = collect(
            summary.sort(
                ["method", "sparsity", "seed"],
                SortMultipleOptions::default(),
            ),
            "summary",
        )?;
        let (m, s, seed) = (
            strings(&s_df, "method")?,
            f64s(&s_df, "sparsity")?,
            f64s(&s_df, "seed")?,
        );
        let (acc, mean_loss, at50) = (
            f64s(&s_df, "final_test_accuracy")?,
            f64s(&s_df, "mean_train_loss")?,
            f64s(&s_df, "train_loss_at_50")?,
        );
        // Table: per method and sparsity, mean over seeds.
        let mut groups: BTreeMap<(String, u64), Vec<usize>> = BTreeMap::new();
        for i in 0..s_df.height() {
            groups
                .entry((m[i].clone(), s[i].to_bits()))
                .or_default()
                .push(i);
        }
        let mean_of =
            |v: &[f64], idx: &[usize]| idx.iter().map(|&i| v[i]).sum::<f64>() / idx.len() as f64;
        let rows = groups
            .iter()
            .map(|((method, sb), idx)| {
                vec![
                    method.clone(),
                    fmt(f64::from_bits(*sb)),
                    format!("{}", idx.len()),
                    fmt(mean_of(&acc, idx)),
                    fmt(mean_of(&mean_loss, idx)),
                    fmt(mean_of(&at50, idx)),
                ]
            })
            .collect();
        self.blocks.push(Block::Table(
            [
                "method",
                "sparsity",
                "seeds",
                "final test accuracy",
                "mean training loss",
                "training loss at step 50",
            ]
            .map(String::from)
            .to_vec(),
            rows,
        ));
        self.claims.extend(claims::early_speed(&p.name, &s_df)?);
        // Early speed against each spectral metric of the mask-level kernel.
        let Some(metrics) = self.frame("ntk", "metrics", p, &RUN_COLUMNS)? else {
            return Ok(());
        };
        let k_df = collect(metrics.filter(col("kernel").eq(lit("mask"))), "metrics")?;
        let (km, ks, kseed) = (
            strings(&k_df, "method")?,
            f64s(&k_df, "sparsity")?,
            f64s(&k_df, "seed")?,
        );
        let names = [
            "top1_energy",
            "top5_energy",
            "top10_energy",
            "effective_rank",
            "ratio_1_2",
            "decay_exponent",
        ];
        let metric_values: Vec<Vec<f64>> = names
            .iter()
            .map(|n| f64s(&k_df, n))
            .collect::<Result<_>>()?;
        let key = |method: &str, sparsity: f64, seed: f64| {
            (method.to_string(), sparsity.to_bits(), seed as u64)
        };
        let lookup: BTreeMap<_, usize> = (0..k_df.height())
            .map(|i| (key(&km[i], ks[i], kseed[i]), i))
            .collect();
        let pairs: Vec<(usize, usize)> = (0..s_df.height())
            .filter(|&i| s[i] > 0.0)
            .filter_map(|i| lookup.get(&key(&m[i], s[i], seed[i])).map(|&j| (i, j)))
            .collect();
        if pairs.len() < 3 {
            return Ok(());
        }
        let y: Vec<f64> = pairs.iter().map(|&(i, _)| mean_loss[i]).collect();
        let mut seed_groups: BTreeMap<u64, Vec<usize>> = BTreeMap::new();
        for (k, &(i, _)) in pairs.iter().enumerate() {
            seed_groups.entry(seed[i] as u64).or_default().push(k);
        }
        let groups: Vec<Vec<usize>> = seed_groups.into_values().collect();
        let mut rows = Vec::new();
        for (n, values) in names.iter().zip(&metric_values) {
            let x: Vec<f64> = pairs.iter().map(|&(_, j)| values[j]).collect();
            let (b, seed0) = (self.settings.bootstrap, self.settings.seed);
            let rho = bootstrap(&x, &y, &groups, spearman, b, seed0);
            let r = bootstrap(&x, &y, &groups, pearson, b, seed0);
            if *n == "top5_energy" {
                let run_seeds: Vec<f64> = pairs.iter().map(|&(i, _)| seed[i]).collect();
                let frame = df!(
                    "top5_energy" => x.as_slice(),
                    "mean_train_loss" => y.as_slice(),
                    "seed" => run_seeds,
                )
                .map_err(polars_error("metrics"))?;
                let (claim, _) = claims::energy_predicts_speed(&p.name, &frame, b, seed0)?;
                self.claims.push(claim);
                let mut by_method: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
                for (k, &(i, _)) in pairs.iter().enumerate() {
                    by_method
                        .entry(m[i].clone())
                        .or_default()
                        .push((x[k], y[k]));
                }
                let chart = Chart {
                    title: format!(
                        "{}: early training speed vs top-5 energy (Spearman {})",
                        p.name,
                        fmt(rho.estimate)
                    ),
                    x_label: "top-5 energy of the mask-level Graphon NTK".into(),
                    y_label: "mean training loss over the run (lower = faster)".into(),
                    lines: by_method
                        .into_iter()
                        .map(|(name, points)| Line {
                            name,
                            points,
                            band: vec![],
                        })
                        .collect(),
                    points_only: true,
                };
                self.figure(
                    &chart,
                    dir.join("scatter_top5_vs_loss"),
                    "Each point is one run (method, sparsity, seed).".into(),
                )?;
            }
            rows.push(vec![n.to_string(), interval(&rho), interval(&r)]);
        }
        let _ = dir;
        self.blocks.push(Block::Paragraph(format!(
            "Correlation of each spectral metric with the mean training loss over {} runs; \
             intervals: 2.5% and 97.5% percentiles of {} bootstrap resamples of whole seeds.",
            y.len(),
            self.settings.bootstrap
        )));
        self.blocks.push(Block::Table(
            ["spectral metric", "Spearman [95% CI]", "Pearson [95% CI]"]
                .map(String::from)
                .to_vec(),
            rows,
        ));
        Ok(())
    }
}
