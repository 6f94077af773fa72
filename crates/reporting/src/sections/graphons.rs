//! The report's `[graphons]` section: seed-averaged SAS heat maps per layer (rows: methods,
//! columns: widths), the distance to the largest width against width, and the convergence
//! claim.

use crate::claims::{self, fmt};
use crate::document::Block;
use crate::experiment::Experiment;
use crate::figures::{Chart, Grid, HeatmapGrid, Line};
use crate::report::{Builder, MeanSd, RUN_COLUMNS, collect};
use crate::tables::{bools, f64s, strings};
use glh_artifacts::Result;
use polars::prelude::*;
use std::collections::BTreeMap;
use std::path::Path;

impl Builder<'_> {
    pub(crate) fn graphons(&mut self, p: &Experiment, k: u32, dir: &Path) -> Result<()> {
        self.blocks.push(Block::Heading(
            3,
            format!("SAS histograms and convergence with width: {}", p.name),
        ));
        let Some(frame) = self.frame("graphons", "histograms", p, &RUN_COLUMNS)? else {
            self.missing("histograms");
            return Ok(());
        };
        // Histograms of this experiment's K: min(K, n_rows) row blocks.
        let k_rows = when(col("n_rows").lt(lit(k)))
            .then(col("n_rows"))
            .otherwise(lit(k));
        let frame = frame.filter(col("k_rows").eq(k_rows));
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
        self.convergence(p, k, dir, &methods)
    }

    pub(crate) fn convergence(
        &mut self,
        p: &Experiment,
        k: u32,
        dir: &Path,
        methods: &[String],
    ) -> Result<()> {
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
            frame
                .filter(col("k").eq(lit(k)))
                .sort(["method", "layer", "width"], SortMultipleOptions::default()),
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
        self.paper_distances(&df, methods)?;
        self.claims
            .extend(claims::convergence(&p.name, &df, methods)?);
        Ok(())
    }

    /// The paper's measure beside ours: the unnormalised Frobenius distance on the hidden
    /// layers only, with the cut distance's interval, per layer, method and width.
    fn paper_distances(&mut self, df: &DataFrame, methods: &[String]) -> Result<()> {
        let (method, layer, width, reference) = (
            strings(df, "method")?,
            f64s(df, "layer")?,
            f64s(df, "width")?,
            f64s(df, "reference_width")?,
        );
        let hidden = bools(df, "hidden")?;
        let (frobenius, frobenius_sd, low, high) = (
            f64s(df, "frobenius_mean")?,
            f64s(df, "frobenius_sd")?,
            f64s(df, "cut_low_mean")?,
            f64s(df, "cut_high_mean")?,
        );
        let mut rows = Vec::new();
        for m in methods {
            for i in (0..df.height())
                .filter(|&i| hidden[i] && method[i] == *m && width[i] < reference[i])
            {
                rows.push(vec![
                    format!("{}", layer[i] as u32),
                    m.clone(),
                    format!("{}", width[i] as u32),
                    format!("{} ± {}", fmt(frobenius[i]), fmt(frobenius_sd[i])),
                    format!("[{}, {}]", fmt(low[i]), fmt(high[i])),
                ]);
            }
        }
        if rows.is_empty() {
            return Ok(());
        }
        self.blocks.push(Block::Paragraph(
            "The paper's measure (its section 4.3): the Euclidean distance ||H_n - H_ref||_F of \
             the hidden-to-hidden layers' histograms, unnormalised, mean ± sd over seeds; the \
             input and output layers are left out, as the paper leaves them out. Beside it the \
             cut distance, exact where K <= 24 and otherwise a certified interval [lower, upper]."
                .into(),
        ));
        self.blocks.push(Block::Table(
            vec![
                "hidden layer".into(),
                "method".into(),
                "width".into(),
                "Frobenius distance (paper)".into(),
                "cut distance".into(),
            ],
            rows,
        ));
        Ok(())
    }
}
