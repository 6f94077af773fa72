//! The report's `[graphon_ntk]` section: the paper's E3 kernel, the Graphon NTK of each
//! configuration's seed-averaged graphon on its kernel images, with the paper's four spectral
//! metrics beside ours at each sigma_w^2.

use crate::claims::fmt;
use crate::document::Block;
use crate::experiment::{Experiment, GraphonKernelRuns};
use crate::figures::{Chart, Line};
use crate::report::{Builder, RUN_COLUMNS, collect};
use crate::tables::{f64s, in_view, strings};
use glh_artifacts::Result;
use glh_artifacts::config::{KernelKind, KernelView};
use glh_artifacts::schemas::GRAPHON_NTK_METRICS;
use polars::prelude::*;
use std::collections::BTreeMap;
use std::path::Path;

/// The rows of a graphon_ntk table that an experiment's `[graphon_ntk]` settings made: one
/// store may hold kernels of several.
pub(crate) fn of_these_runs(frame: LazyFrame, runs: GraphonKernelRuns) -> LazyFrame {
    let k_used = when(col("width").lt(lit(runs.k)))
        .then(col("width"))
        .otherwise(lit(runs.k));
    frame.filter(
        col("k")
            .eq(k_used)
            .and(col("n_points").eq(lit(runs.kernel_size))),
    )
}

impl Builder<'_> {
    pub(crate) fn graphon_ntk(
        &mut self,
        p: &Experiment,
        runs: GraphonKernelRuns,
        dir: &Path,
    ) -> Result<()> {
        self.blocks.push(Block::Heading(
            3,
            "The paper's E3 kernel: Graphon NTK of each configuration's graphon".into(),
        ));
        let Some(frame) = self.frame(&GRAPHON_NTK_METRICS, p, &RUN_COLUMNS[..4])? else {
            self.missing("graphon kernels");
            return Ok(());
        };
        let frame = in_view(of_these_runs(frame, runs), KernelView::AsIs);
        let df = collect(
            frame.sort(
                ["kernel", "sigma_w2", "depth", "sparsity", "method"],
                SortMultipleOptions::default(),
            ),
            "graphon kernel metrics",
        )?;
        let get = |c: &str| f64s(&df, c);
        let first = |v: Vec<f64>| v.first().copied().unwrap_or(f64::NAN);
        self.blocks.push(Block::Paragraph(format!(
            "The paper's protocol (its section 6, METHOD.md section 7): each configuration's \
             graphon is the mean over its {} seeds of its masks' K = {} block histograms (hidden \
             sides degree-sorted and joined by degree rank; pixels and classes kept), and its \
             Graphon NTK is computed on {} MNIST training images, as class-balanced as that \
             count allows. The paper's four metrics come first: top-5 energy, effective rank \
             trace / l_1, spectral gap l_1 / l_2 and the decay rate alpha of l_k ~ k^-alpha; \
             then ours, the entropy effective rank, and the trace (the absolute scale). A \
             bias-free ReLU kernel is homogeneous of degree L in sigma_w^2, so the paper's 1 \
             and our 2 give the same scale-free metrics and traces 2^L apart.",
            first(get("seeds")?),
            first(get("k")?),
            first(get("n_points")?)
        )));
        self.blocks.push(metrics_table(&df)?);
        self.paper_figure_3(p, dir, &df)
    }

    /// The paper's figure 3, per depth and metric, on the graphon kernel at the largest width
    /// (the paper's n = 1024 is E3's only one) and the smallest sigma_w^2 (the scale-free
    /// metrics do not depend on it): the kernel of masks drawn from the graphon, the paper's
    /// text, where the pipeline draws them (`draw_masks`), else our reconstruction. Its claims
    /// (a) to (c) are `Builder::paper_e3_claims`'.
    fn paper_figure_3(&mut self, p: &Experiment, dir: &Path, df: &DataFrame) -> Result<()> {
        let (method, kernel) = (strings(df, "method")?, strings(df, "kernel")?);
        let get = |c: &str| f64s(df, c);
        let (depth, sparsity, sigma) = (get("depth")?, get("sparsity")?, get("sigma_w2")?);
        let (top5, rank_trace, gap, decay) = (
            get("top5_energy")?,
            get("effective_rank_trace")?,
            get("ratio_1_2")?,
            get("decay_exponent")?,
        );
        let sigma_min = sigma.iter().copied().fold(f64::INFINITY, f64::min);
        let width = get("width")?;
        let widest = width.iter().copied().fold(0.0, f64::max);
        let sigma0 = sigma_min;
        let (shown, reading) = if kernel.iter().any(|k| k == KernelKind::Drawn.name()) {
            (
                KernelKind::Drawn,
                "masks drawn from each configuration's graphon",
            )
        } else {
            (
                KernelKind::Graphon,
                "each configuration's graphon, our reconstruction",
            )
        };
        let metrics: [(&str, &[f64], &str); 4] = [
            ("top5_energy", &top5, "top-5 energy"),
            (
                "effective_rank_trace",
                &rank_trace,
                "effective rank trace / l_1",
            ),
            ("ratio_1_2", &gap, "spectral gap l_1 / l_2"),
            ("decay_alpha", &decay, "decay rate alpha"),
        ];
        let depths: Vec<u32> = p.sweep.depths.iter().map(|d| d.get()).collect();
        for &d in &depths {
            for (name, values, label) in metrics {
                let mut lines: BTreeMap<usize, Line> = BTreeMap::new();
                for i in (0..df.height()).filter(|&i| {
                    kernel[i] == shown.name()
                        && sigma[i] == sigma0
                        && depth[i] == f64::from(d)
                        && width[i] == widest
                }) {
                    let rank = p
                        .sweep
                        .methods
                        .iter()
                        .position(|m| m.name() == method[i])
                        .unwrap_or(usize::MAX);
                    let y = if name == "decay_alpha" {
                        -values[i]
                    } else {
                        values[i]
                    };
                    lines
                        .entry(rank)
                        .or_insert_with(|| Line {
                            dashed: Vec::new(),
                            name: method[i].clone(),
                            points: vec![],
                            band: vec![],
                        })
                        .points
                        .push((sparsity[i], y));
                }
                if lines.is_empty() {
                    continue;
                }
                let chart = Chart {
                    title: format!(
                        "{}: {label} of the {} kernel (L = {d}, n = {widest})",
                        p.name,
                        shown.name()
                    ),
                    x_label: "sparsity".into(),
                    y_label: format!("{label} (paper's metric)"),
                    lines: lines.into_values().collect(),
                    points_only: false,
                };
                self.figure(
                    &chart,
                    dir.join(format!("graphon_kernel_{name}_L{d}")),
                    format!(
                        "The paper's {label} of the Graphon NTK ({reading}) against sparsity \
                         (L = {d}, n = {widest}, sigma_w^2 = {}), one line per method.",
                        fmt(sigma0)
                    ),
                )?;
            }
        }
        Ok(())
    }
}

/// One row per kernel, sigma_w^2, depth, sparsity and method: the paper's four metrics, then
/// ours and the trace.
fn metrics_table(df: &DataFrame) -> Result<Block> {
    let (method, kernel) = (strings(df, "method")?, strings(df, "kernel")?);
    let get = |c: &str| f64s(df, c);
    let (depth, sparsity, sigma) = (get("depth")?, get("sparsity")?, get("sigma_w2")?);
    let (top5, rank_trace, gap, decay, rank_entropy, trace) = (
        get("top5_energy")?,
        get("effective_rank_trace")?,
        get("ratio_1_2")?,
        get("decay_exponent")?,
        get("effective_rank_entropy")?,
        get("trace")?,
    );
    let rows = (0..df.height())
        .map(|i| {
            vec![
                kernel[i].clone(),
                fmt(sigma[i]),
                format!("{}", depth[i]),
                fmt(sparsity[i]),
                method[i].clone(),
                fmt(top5[i]),
                fmt(rank_trace[i]),
                fmt(gap[i]),
                fmt(-decay[i]),
                fmt(rank_entropy[i]),
                fmt(trace[i]),
            ]
        })
        .collect();
    Ok(Block::Table(
        [
            "kernel",
            "sigma_w^2",
            "L",
            "sparsity",
            "method",
            "top-5 energy (paper)",
            "effective rank trace / l_1 (paper)",
            "spectral gap l_1 / l_2 (paper)",
            "decay alpha (paper)",
            "effective rank, entropy (ours)",
            "trace",
        ]
        .map(String::from)
        .to_vec(),
        rows,
    ))
}
