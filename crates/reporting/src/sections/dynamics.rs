//! The report's `[dynamics]` section (E4, ours): observed against kernel-predicted
//! gradient-descent curves per method at one width, the curve error against width on log-log
//! axes with its fitted slope per method and kernel, the methods' speed orders, and E4's two
//! claims (`crate::experiments::e4`). The dense baseline is read from the store's sparsity-0 runs of
//! the same widths, depths, seeds and training settings (its own pipeline, `e4-dense`).

use crate::claims::fmt;
use crate::document::Block;
use crate::experiment::{DynamicsRuns, Experiment};
use crate::experiments::e4::{
    PREDICTS_WITHIN, PredictionRow, by_method_and_width, error_slopes, predicts_training,
    ranks_speeds, speed_orders,
};
use crate::figures::{Chart, Line};
use crate::report::{Builder, RUN_COLUMNS, collect};
use crate::tables::{f64s, strings};
use glh_artifacts::config::KernelKind;
use glh_artifacts::schemas::{DYNAMICS_CURVES, DYNAMICS_ERRORS};
use glh_artifacts::{Result, TableSchema};
use polars::prelude::*;
use std::collections::BTreeMap;
use std::path::Path;

/// The sources of a curve, in drawing order.
const SOURCES: [&str; 4] = [
    "observed",
    KernelKind::Empirical.name(),
    KernelKind::Mask.name(),
    KernelKind::Graphon.name(),
];

impl Builder<'_> {
    /// A dynamics table of the experiment's runs and of its dense baseline (method `dense`).
    fn dynamics_frame(
        &self,
        p: &Experiment,
        runs: DynamicsRuns,
        table: &TableSchema,
    ) -> Result<Option<LazyFrame>> {
        let Some(pruned) = self.frame(table, p, &RUN_COLUMNS)? else {
            return Ok(None);
        };
        let ours = |frame: LazyFrame| {
            frame
                .filter(col("learning_rate").eq(lit(runs.learning_rate)))
                .filter(col("steps").eq(lit(runs.steps)))
                .filter(col("sigma_w2").eq(lit(runs.sigma_w2)))
        };
        let Some(dense) = self.dense_frame(table, p)? else {
            return Ok(Some(ours(pruned)));
        };
        let (pruned, dense) = (
            ours(pruned),
            ours(dense).with_column(lit("dense").alias("method")),
        );
        let both = concat([pruned, dense], UnionArgs::default())
            .map_err(crate::tables::polars_error("dynamics"))?;
        Ok(Some(both))
    }

    pub(crate) fn dynamics(
        &mut self,
        p: &Experiment,
        runs: DynamicsRuns,
        dir: &Path,
    ) -> Result<()> {
        self.blocks.push(Block::Heading(
            3,
            "Does the Graphon NTK predict gradient descent? (E4, ours)".into(),
        ));
        self.blocks.push(Block::Paragraph(format!(
            "Each network trains by full-batch gradient descent in the NTK regime (NTK \
             parameterisation at sigma_w^2 = {}, squared loss, eta = {}, T = {} steps) on the \
             data stage's kernel images. Linearised gradient descent predicts its whole loss \
             curve, L_t = |(I - eta K / N)^t r_0|^2 / (2N), from the observed initial residual \
             r_0 and a kernel K: `empirical`, the network's own NTK at initialisation (all 10N x \
             10N entries; its gap is the kernel's drift during training); `mask`, the \
             mask-level Graphon NTK of its mask, one block per output; `graphon`, the Graphon \
             NTK of its configuration's seed-averaged graphon, one block per output. The curve \
             error is max_t |L_obs - L_pred| / L_obs(0).",
            runs.sigma_w2, runs.learning_rate, runs.steps
        )));
        let Some(errors) = self.dynamics_frame(p, runs, &DYNAMICS_ERRORS)? else {
            self.missing("dynamics runs");
            return Ok(());
        };
        let rows = prediction_rows(&collect(errors, "dynamics errors")?)?;
        let mut methods: Vec<String> = p
            .sweep
            .methods
            .iter()
            .map(|m| m.name().to_string())
            .collect();
        if rows.iter().any(|r| r.method == "dense") {
            methods.push("dense".into());
        }
        let mut widths: Vec<f64> = rows.iter().map(|r| r.width).collect();
        widths.sort_by(f64::total_cmp);
        widths.dedup();
        // The curves at the width nearest 1024 (the paper's E3 width).
        if let Some(&shown) = widths.iter().min_by(|a, b| {
            (a.ln() - 1024f64.ln())
                .abs()
                .total_cmp(&(b.ln() - 1024f64.ln()).abs())
        }) {
            self.dynamics_curves(p, runs, dir, &methods, shown)?;
        }
        // Curve error against width, log-log, one chart per kernel.
        let kernels: Vec<&str> = SOURCES[1..]
            .iter()
            .copied()
            .filter(|k| rows.iter().any(|r| r.kernel == *k))
            .collect();
        for &k in &kernels {
            self.curve_error_chart(p, dir, &rows, &methods, k)?;
        }
        let (header, table) = slope_table(&rows, &kernels, &methods, &widths);
        self.blocks.push(Block::Paragraph(format!(
            "Curve error (mean ± sd over seeds) per kernel, method and width, and the \
             least-squares slope of ln(mean error) on ln(width). The claim below reads the \
             mask-level kernel: it predicts when its error is below {} of L_0 at the largest \
             width and falls with width.",
            fmt(PREDICTS_WITHIN)
        )));
        self.blocks.push(Block::Table(header, table));
        let order_rows = order_rows(&rows, &kernels);
        self.blocks.push(Block::Paragraph(
            "The methods ordered by speed, fastest first: by the mean over seeds of the relative \
             area mean_t L_t / L_0, observed and as each kernel predicts it."
                .into(),
        ));
        self.blocks.push(Block::Table(
            vec![
                "kernel".into(),
                "width".into(),
                "observed order".into(),
                "predicted order".into(),
                "same?".into(),
            ],
            order_rows,
        ));
        self.claims
            .extend(predicts_training(&p.name, &rows, &methods));
        self.claims.extend(ranks_speeds(&p.name, &rows));
        Ok(())
    }

    /// The curve error of kernel `k`'s predictions against width, log-log, a line per method.
    fn curve_error_chart(
        &mut self,
        p: &Experiment,
        dir: &Path,
        rows: &[PredictionRow],
        methods: &[String],
        k: &str,
    ) -> Result<()> {
        let means = by_method_and_width(rows, k, |r| r.curve_error);
        let lines = methods
            .iter()
            .filter_map(|m| {
                let pts: Vec<(f64, f64, f64)> = means
                    .iter()
                    .filter(|((method, _), _)| method == m)
                    .map(|((_, w), (mean, sd))| (f64::from_bits(*w), *mean, *sd))
                    .collect();
                (!pts.is_empty()).then(|| Line {
                    dashed: Vec::new(),
                    name: m.clone(),
                    points: pts
                        .iter()
                        .map(|&(w, e, _)| (w.log10(), e.log10()))
                        .collect(),
                    band: pts
                        .iter()
                        .map(|&(w, e, sd)| {
                            (w.log10(), (e - sd).max(e / 10.0).log10(), (e + sd).log10())
                        })
                        .collect(),
                })
            })
            .collect();
        let chart = Chart {
            title: format!("{}: curve error of the {k} kernel against width", p.name),
            x_label: "log10 width n".into(),
            y_label: "log10 max_t |L_obs - L_pred| / L_obs(0) (mean ± sd over seeds)".into(),
            lines,
            points_only: false,
        };
        self.figure(
            &chart,
            dir.join(format!("curve_error_{k}")),
            format!(
                "Curve error of the {k} kernel's prediction against width, log-log (band: ± \
                 one sd over seeds). A slope of -1/2 is an O(1/sqrt(n)) finite-width gap."
            ),
        )
    }

    /// One chart per method at width `shown`: the observed curve and each kernel's prediction,
    /// mean ± sd over seeds.
    fn dynamics_curves(
        &mut self,
        p: &Experiment,
        runs: DynamicsRuns,
        dir: &Path,
        methods: &[String],
        shown: f64,
    ) -> Result<()> {
        let Some(curves) = self.dynamics_frame(p, runs, &DYNAMICS_CURVES)? else {
            return Ok(());
        };
        let df = collect(
            curves
                .filter(col("width").cast(DataType::Float64).eq(lit(shown)))
                .group_by([col("method"), col("source"), col("step")])
                .agg([
                    col("loss").mean().alias("mean"),
                    col("loss").std(1).alias("sd"),
                ])
                .sort(["method", "source", "step"], SortMultipleOptions::default()),
            "dynamics curves",
        )?;
        let (m, source, step) = (
            strings(&df, "method")?,
            strings(&df, "source")?,
            f64s(&df, "step")?,
        );
        let (mean, sd) = (f64s(&df, "mean")?, f64s(&df, "sd")?);
        let mut lines: BTreeMap<(String, String), Line> = BTreeMap::new();
        for i in 0..df.height() {
            let line = lines
                .entry((m[i].clone(), source[i].clone()))
                .or_insert_with(|| Line {
                    dashed: Vec::new(),
                    name: source[i].clone(),
                    points: vec![],
                    band: vec![],
                });
            let sd = if sd[i].is_finite() { sd[i] } else { 0.0 };
            line.points.push((step[i], mean[i]));
            line.band.push((step[i], mean[i] - sd, mean[i] + sd));
        }
        for method in methods {
            let chart_lines: Vec<Line> = SOURCES
                .iter()
                .filter_map(|s| lines.get(&(method.clone(), s.to_string())).cloned())
                .collect();
            if chart_lines.is_empty() {
                continue;
            }
            let chart = Chart {
                title: format!(
                    "{}: {method} at n = {shown}, observed and predicted",
                    p.name
                ),
                x_label: "gradient-descent step t".into(),
                y_label: "training loss |f - y|^2 / (2N) (mean ± sd over seeds)".into(),
                lines: chart_lines,
                points_only: false,
            };
            self.figure(
                &chart,
                dir.join(format!("dynamics_{method}_n{shown}")),
                format!(
                    "{method} at n = {shown}: the observed gradient-descent loss and the curves \
                     the three kernels predict from the same initial residual (band: ± one sd \
                     over seeds)."
                ),
            )?;
        }
        Ok(())
    }
}

/// The rows of a dynamics `errors` frame.
fn prediction_rows(df: &DataFrame) -> Result<Vec<PredictionRow>> {
    let (method, width, seed, kernel) = (
        strings(df, "method")?,
        f64s(df, "width")?,
        f64s(df, "seed")?,
        strings(df, "kernel")?,
    );
    let (err, obs, pred) = (
        f64s(df, "curve_error")?,
        f64s(df, "observed_area")?,
        f64s(df, "predicted_area")?,
    );
    Ok((0..df.height())
        .map(|i| PredictionRow {
            method: method[i].clone(),
            width: width[i],
            seed: seed[i] as u64,
            kernel: kernel[i].clone(),
            curve_error: err[i],
            observed_area: obs[i],
            predicted_area: pred[i],
        })
        .collect())
}

/// Per kernel and method: the curve error (mean ± sd over seeds) at each width, and its
/// log-log slope on width; the table's header and rows.
fn slope_table(
    rows: &[PredictionRow],
    kernels: &[&str],
    methods: &[String],
    widths: &[f64],
) -> (Vec<String>, Vec<Vec<String>>) {
    let mut table = Vec::new();
    for &k in kernels {
        let means = by_method_and_width(rows, k, |r| r.curve_error);
        for (m, slope, _) in error_slopes(rows, k, methods) {
            let per_width: Vec<String> = widths
                .iter()
                .map(|w| {
                    means
                        .get(&(m.clone(), w.to_bits()))
                        .map_or("–".into(), |(e, sd)| {
                            format!("{} ± {}", fmt(*e), fmt(*sd))
                        })
                })
                .collect();
            let mut row = vec![k.to_string(), m.clone()];
            row.extend(per_width);
            row.push(fmt(slope));
            table.push(row);
        }
    }
    let mut header = vec!["kernel".to_string(), "method".to_string()];
    header.extend(widths.iter().map(|w| format!("n = {w}")));
    header.push("log-log slope".into());
    (header, table)
}

/// Per kernel and width: the observed and predicted speed orders, and whether they agree.
fn order_rows(rows: &[PredictionRow], kernels: &[&str]) -> Vec<Vec<String>> {
    let mut order_rows = Vec::new();
    for &k in kernels {
        for (w, observed, predicted) in speed_orders(rows, k) {
            order_rows.push(vec![
                k.to_string(),
                format!("{w}"),
                observed.join(" > "),
                predicted.join(" > "),
                if observed == predicted { "yes" } else { "no" }.to_string(),
            ]);
        }
    }
    order_rows
}
