//! The report's section on the paper's E3 claims (a) to (e): it reads what each reading needs
//! (the paper's graphon kernel, pooled and per seed; our mask-level kernel per run; the training
//! runs with the dense baseline), hands it to `crate::paper_e3`, and lays the verdicts out
//! side by side, one column per protocol.

use super::graphon_ntk::of_these_runs;
use crate::claims::{Claim, Reading, Statement};
use crate::document::Block;
use crate::experiment::Experiment;
use crate::experiments::e3::paper::{
    DENSE, KERNEL_METRICS, Means, SeedValues, kernel_claims, training_claims,
};
use crate::figures::{Chart, Line};
use crate::report::{Builder, RUN_COLUMNS, collect};
use crate::tables::{SweepColumn, f64s, in_sweep, in_view, of_kernel, strings};
use glh_artifacts::config::{KernelKind, KernelView};
use glh_artifacts::schemas::{
    GRAPHON_NTK_METRICS, GRAPHON_NTK_SEED_METRICS, NTK_METRICS, TRAINING_SUMMARY,
};
use glh_artifacts::{Result, TableSchema};
use polars::prelude::*;
use std::collections::BTreeMap;
use std::path::Path;

/// The values of `metrics` per row of `df`, under its method, sparsity and seed; with `seeded`
/// false, a table without seeds (one pooled graphon per configuration), each row under seed 0.
pub(super) fn seed_values(df: &DataFrame, metrics: &[&str], seeded: bool) -> Result<SeedValues> {
    let (method, sparsity) = (strings(df, "method")?, f64s(df, "sparsity")?);
    let seed = if seeded {
        f64s(df, "seed")?
    } else {
        vec![0.0; df.height()]
    };
    let columns: Vec<Vec<f64>> = metrics.iter().map(|m| f64s(df, m)).collect::<Result<_>>()?;
    let mut values = SeedValues::default();
    for i in 0..df.height() {
        let row = columns.iter().map(|c| c[i]).collect();
        values.insert(&method[i], sparsity[i], seed[i] as u64, row);
    }
    Ok(values)
}

/// How the report names a view of a kernel.
pub(super) fn view_label(view: KernelView) -> &'static str {
    match view {
        KernelView::AsIs => "as is",
        KernelView::Centred => "centred (H K H)",
        KernelView::TopRemoved => "top eigenpair removed",
    }
}

/// The rows of one depth at the experiment's widest width (E3 has one): the claims compare
/// configurations of one network shape.
pub(super) fn at_depth_and_widest(frame: LazyFrame, p: &Experiment, depth: u32) -> LazyFrame {
    let widest = p.sweep.widths.iter().map(|w| w.get()).max().unwrap_or(0);
    frame.filter(
        col("depth")
            .eq(lit(depth))
            .and(col("width").eq(lit(widest))),
    )
}

impl Builder<'_> {
    /// A lazy frame of `stage/table` restricted to the experiment's sweep at one depth and its
    /// widest width.
    pub(super) fn e3_frame(
        &self,
        table: &TableSchema,
        p: &Experiment,
        depth: u32,
    ) -> Result<Option<LazyFrame>> {
        Ok(self
            .frame(table, p, &RUN_COLUMNS[..4])?
            .map(|f| at_depth_and_widest(f, p, depth)))
    }

    /// (a) to (c) on each graphon_ntk kernel the runs have (the drawn masks, our
    /// reconstruction, the shared order) at one depth: the pooled graphon's metrics as the
    /// estimate, each seed's own graphon's for the interval.
    fn graphon_kernel_claims(&self, p: &Experiment, name: &str, depth: u32) -> Result<Vec<Claim>> {
        let Some(runs) = p.graphon_ntk else {
            return Ok(Vec::new());
        };
        let at_sigma = col("sigma_w2").eq(lit(runs.first_sigma_w2));
        let Some(pooled) = self.e3_frame(&GRAPHON_NTK_METRICS, p, depth)? else {
            return Ok(Vec::new());
        };
        let pooled =
            in_view(of_these_runs(pooled, runs), KernelView::AsIs).filter(at_sigma.clone());
        let pooled = collect(pooled, "graphon kernel metrics")?;
        let seeds = match self.e3_frame(&GRAPHON_NTK_SEED_METRICS, p, depth)? {
            Some(f) => {
                let f = in_sweep(
                    in_view(of_these_runs(f, runs), KernelView::AsIs).filter(at_sigma),
                    &p.sweep,
                    &[SweepColumn::Seed],
                );
                Some(collect(f, "graphon seed kernel metrics")?)
            }
            None => None,
        };
        let of_kind = |df: &DataFrame, kind: KernelKind| -> Result<DataFrame> {
            collect(of_kernel(df.clone().lazy(), kind), "graphon kernel metrics")
        };
        let (b, seed) = (self.settings.bootstrap, self.settings.seed);
        let mut claims = Vec::new();
        for kind in [
            KernelKind::Drawn,
            KernelKind::Graphon,
            KernelKind::SharedOrder,
        ] {
            let reading = Reading::of_graphon_kernel(kind).expect("a graphon_ntk kernel");
            let point: Means =
                seed_values(&of_kind(&pooled, kind)?, &KERNEL_METRICS, false)?.means();
            if point.is_empty() {
                continue;
            }
            let sample = match &seeds {
                Some(df) => seed_values(&of_kind(df, kind)?, &KERNEL_METRICS, true)?,
                None => SeedValues::default(),
            };
            claims.extend(kernel_claims(name, reading, &sample, &point, b, seed));
        }
        Ok(claims)
    }

    /// (a) to (c) on our mask-level kernel at one depth: one value per masks run. Draws the
    /// four metrics against sparsity (mean and sd over seeds), as the paper's figure 3 does for
    /// its kernel.
    fn mask_kernel_claims(
        &mut self,
        p: &Experiment,
        name: &str,
        depth: u32,
        dir: &Path,
    ) -> Result<Vec<Claim>> {
        let Some(frame) = self.e3_frame(&NTK_METRICS, p, depth)? else {
            return Ok(Vec::new());
        };
        let frame = in_sweep(
            of_kernel(in_view(frame, KernelView::AsIs), KernelKind::Mask),
            &p.sweep,
            &[SweepColumn::Seed],
        );
        let sample = seed_values(&collect(frame, "ntk metrics")?, &KERNEL_METRICS, true)?;
        let (b, seed) = (self.settings.bootstrap, self.settings.seed);
        let claims = kernel_claims(
            name,
            Reading::OurMaskKernel,
            &sample,
            &sample.means(),
            b,
            seed,
        );
        self.mask_kernel_panels(p, &sample, depth, KernelView::AsIs, dir)?;
        Ok(claims)
    }

    /// One chart per metric of [`KERNEL_METRICS`]: our mask-level kernel's value in one view
    /// against sparsity, a line per method (the sweep's order) with a band of one sd over seeds.
    pub(super) fn mask_kernel_panels(
        &mut self,
        p: &Experiment,
        sample: &SeedValues,
        depth: u32,
        view: KernelView,
        dir: &Path,
    ) -> Result<()> {
        let (of_view, stem_suffix) = match view {
            KernelView::AsIs => (String::new(), String::new()),
            other => (
                format!(", {}", view_label(other)),
                format!("_{}", other.name()),
            ),
        };
        let stats = sample.mean_sd();
        let labels = [
            "top-5 energy",
            "effective rank trace / l_1",
            "spectral gap l_1 / l_2",
            "decay rate alpha",
        ];
        for (i, label) in labels.into_iter().enumerate() {
            // alpha is minus the fitted slope.
            let sign = if KERNEL_METRICS[i] == "decay_exponent" {
                -1.0
            } else {
                1.0
            };
            let lines: Vec<Line> = p
                .sweep
                .methods
                .iter()
                .filter_map(|m| {
                    let at: Vec<(f64, f64, f64)> = stats
                        .iter()
                        .filter(|((name, _), _)| name == m.name())
                        .map(|((_, bits), v)| (f64::from_bits(*bits), sign * v[i].0, v[i].1))
                        .collect();
                    (!at.is_empty()).then(|| Line {
                        dashed: Vec::new(),
                        name: m.name().to_string(),
                        points: at.iter().map(|&(s, mean, _)| (s, mean)).collect(),
                        band: at
                            .iter()
                            .map(|&(s, mean, sd)| (s, mean - sd, mean + sd))
                            .collect(),
                    })
                })
                .collect();
            if lines.is_empty() {
                continue;
            }
            let chart = Chart {
                title: format!(
                    "{}: {label} of the mask-level kernel{of_view} (L = {depth})",
                    p.name
                ),
                x_label: "sparsity".into(),
                y_label: format!("{label} (ours: mean ± sd over seeds)"),
                lines,
                points_only: false,
            };
            self.figure(
                &chart,
                dir.join(format!(
                    "mask_kernel_{}_L{depth}{stem_suffix}",
                    KERNEL_METRICS[i]
                )),
                format!(
                    "Our reading beside the paper's figure 3: the {label} of the exact mask-level \
                     Graphon NTK of each actual mask{of_view} (the data stage's kernel images, our \
                     sigma_w^2) against sparsity, L = {depth}; band: ± one sd over seeds."
                ),
            )?;
        }
        Ok(())
    }

    /// (d) and (e) at one depth: each run's mean training loss, the dense runs (sparsity 0, same
    /// width, depth and seeds) as the baseline.
    fn training_claims(&self, p: &Experiment, name: &str, depth: u32) -> Result<Vec<Claim>> {
        let Some(summary) = self.frame(&TRAINING_SUMMARY, p, &RUN_COLUMNS)? else {
            return Ok(Vec::new());
        };
        let at = |f: LazyFrame| at_depth_and_widest(f, p, depth);
        let pruned = collect(at(summary), "training summary")?;
        let mut runs = seed_values(&pruned, &["mean_train_loss"], true)?;
        if let Some(dense) = self.dense_frame(&TRAINING_SUMMARY, p)? {
            let dense = collect(at(dense), "training summary")?;
            let (loss, seed) = (f64s(&dense, "mean_train_loss")?, f64s(&dense, "seed")?);
            for (l, s) in loss.iter().zip(&seed) {
                runs.insert(DENSE, 0.0, *s as u64, vec![*l]);
            }
        }
        let (b, seed) = (self.settings.bootstrap, self.settings.seed);
        Ok(training_claims(name, &runs, b, seed))
    }

    /// The paper's E3 claims of an experiment, per depth, under each reading it has; a table of
    /// them in its section, and the claims into the summary.
    pub(crate) fn paper_e3_claims(&mut self, p: &Experiment, dir: &Path) -> Result<()> {
        // The heading, the text and the table go before the figures drawn on the way.
        let at = self.blocks.len();
        let mut claims = Vec::new();
        for depth in p.sweep.depths.iter().map(|d| d.get()) {
            let name = if p.sweep.depths.len() == 1 {
                p.name.clone()
            } else {
                format!("{} (L = {depth})", p.name)
            };
            claims.extend(self.graphon_kernel_claims(p, &name, depth)?);
            claims.extend(self.mask_kernel_claims(p, &name, depth, dir)?);
            claims.extend(self.training_claims(p, &name, depth)?);
        }
        if claims.is_empty() {
            return Ok(());
        }
        let heading = Block::Heading(3, "The paper's E3 claims (a) to (e), one by one".into());
        let text = Block::Paragraph(format!(
            "Each claim of the paper's section 6 (METHOD.md section 7) as one statistic with a 95% \
             seed-bootstrap interval ({} resamples of whole seeds) and a verdict: yes when the \
             interval lies on the claim's side of its threshold, no when it lies on the other, \
             inconclusive when it straddles it. Only the paper's methods enter (Random, SNIP, \
             SynFlow); GraSP is ours and is shown apart in the tables above. (a) to (c) are read \
             on every kernel the pipeline computes, one column each: the paper's kernel as its \
             text describes it (the mask-level kernel of masks drawn at the masks' width from \
             each configuration's graphon, `draw_masks`), our reconstruction of its graphon \
             kernel (each hidden side sorted by its own degree, consecutive layers joined by \
             rank), the same graphon with one order per hidden layer for both of its sides, all \
             three on 1024 images with estimate the pooled graphon of all seeds and interval \
             from the kernel of each seed's own graphon; and our mask-level kernel (each run's \
             exact kernel; estimate: the mean over seeds). (d) and (e) are read off the training \
             runs, which every protocol shares; \"early\" is the mean training loss over the \
             run's steps.",
            self.settings.bootstrap
        ));
        let table = side_by_side(&claims);
        self.blocks.splice(at..at, [heading, text, table]);
        self.claims.extend(claims);
        Ok(())
    }
}

/// The kernel readings in the order of the claims table's columns: the paper's text first,
/// then our reconstructions of its graphon kernel, then our mask-level kernel.
const KERNEL_READINGS: [Reading; 4] = [
    Reading::DrawnMaskKernel,
    Reading::GraphonKernel,
    Reading::SharedOrderKernel,
    Reading::OurMaskKernel,
];

/// The table of claims that carry a reading: one row per (claim, experiment), one column per
/// kernel reading the claims have, each cell `verdict: estimate [low, high]`. A training claim
/// (no kernel) fills the first column and names the shared runs in the others.
pub(crate) fn side_by_side(claims: &[Claim]) -> Block {
    let mut rows: Vec<(Statement, String, &'static str)> = Vec::new();
    let mut cells: BTreeMap<(usize, Reading), String> = BTreeMap::new();
    for c in claims {
        let (Some(reading), Some(statistic)) = (c.reading, &c.statistic) else {
            continue;
        };
        let row = rows
            .iter()
            .position(|r| (r.0, &r.1) == (c.statement, &c.experiment))
            .unwrap_or_else(|| {
                rows.push((c.statement, c.experiment.clone(), statistic.text));
                rows.len() - 1
            });
        let cell = format!("{}: {}", c.verdict_text(), statistic.number());
        cells.insert((row, reading), cell);
    }
    let present: Vec<Reading> = KERNEL_READINGS
        .into_iter()
        .filter(|r| cells.keys().any(|(_, reading)| reading == r))
        .collect();
    let cell = |row: usize, reading: Reading| cells.get(&(row, reading)).cloned();
    let table_rows = rows
        .iter()
        .enumerate()
        .map(|(i, (statement, experiment, statistic))| {
            let mut row = vec![
                statement.text().to_string(),
                experiment.clone(),
                statistic.to_string(),
            ];
            match cell(i, Reading::Training) {
                Some(training) => {
                    row.push(training);
                    row.extend(
                        (1..present.len().max(1)).map(|_| "the same runs (no kernel)".to_string()),
                    );
                }
                None => row.extend(
                    present
                        .iter()
                        .map(|&r| cell(i, r).unwrap_or_else(|| "not run".into())),
                ),
            }
            row
        })
        .collect();
    let mut header: Vec<String> = ["claim", "experiment", "statistic"]
        .map(String::from)
        .to_vec();
    let trained = cells.keys().any(|(_, r)| *r == Reading::Training);
    let mut labels: Vec<String> = present.iter().map(|r| r.label().to_string()).collect();
    match labels.first_mut() {
        // A training claim's cell is the first column's: its header says so.
        Some(first) if trained => {
            *first = format!("{first}; (d), (e): {}", Reading::Training.label())
        }
        Some(_) => {}
        None => labels.push(Reading::Training.label().to_string()),
    }
    header.extend(labels);
    Block::Table(header, table_rows)
}
