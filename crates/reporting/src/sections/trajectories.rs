//! The report's `[trajectories]` section (E6, ours, issue #33): masks that change during
//! training. Per scheduled configuration (starting method and sparsity) and checkpoint: how far
//! the masks moved, whether they converge with width there, whether their expected histogram
//! left the start's beyond noise and where it goes (more structure, or towards the constant
//! graphon), the checkpoint kernel's trace and top-5 energy; the two claims of
//! `crate::experiments::e6`; whether a checkpoint's kernel predicts the speed of the training
//! that follows it; and the figures (distance to the start against step with its interval,
//! seed-mean histograms by checkpoint and width).

use crate::claims::fmt;
use crate::document::Block;
use crate::experiment::Experiment;
use crate::experiments::e1::ChainVerdict;
use crate::experiments::e6::{
    Configuration, chain_verdicts, configurations, converges_at_every_checkpoint, structure_moves,
};
use crate::figures::{Chart, Grid, HeatmapGrid, Line};
use crate::report::{Builder, collect};
use crate::stats::{Interval, bootstrap, centred_ranks_within, pearson};
use crate::tables::{f64s, scan, strings};
use glh_artifacts::Result;
use glh_artifacts::schemas::{
    TRAINING_HISTORY, TRAJECTORY_CONVERGENCE, TRAJECTORY_HISTOGRAMS, TRAJECTORY_METRICS,
};
use polars::prelude::*;
use std::collections::BTreeMap;
use std::path::Path;

/// Steps at each end of a segment whose mean batch loss measures its speed.
const SEGMENT_ENDS: usize = 5;

/// A run: method, sparsity's bits, width, seed.
type RunKey = (String, u64, u32, u64);

/// A checkpoint of a configuration: method, sparsity's bits, checkpoint.
type CheckpointKey = (String, u64, u32);

impl Builder<'_> {
    /// The E6 section of a pipeline whose training runs under a mask schedule.
    pub(crate) fn trajectories(&mut self, p: &Experiment, dir: &Path) -> Result<()> {
        self.blocks.push(Block::Heading(
            3,
            "How do the masks move during training? (E6, ours)".into(),
        ));
        self.blocks.push(Block::Paragraph(
            "Each run records every mask it trains under (its checkpoints: the start, then one \
             per update or level). Per configuration (starting method and sparsity) and \
             checkpoint, at the largest width and over the hidden layers: the fraction of the \
             start's kept weights gone; the paired bias-corrected D^2 between the expected \
             histogram at the checkpoint and at the start (each seed's checkpoint against its \
             own start; moved when its 95% interval lies above (0.1 x noise floor)^2, E1's \
             negligible distance), and the same for the shapes H / p (IMP's density falls \
             level by level: the shapes take most of that out, though not the SAS sorting \
             slope, which grows as the density falls); the structure ||Hbar - mean(Hbar)||_F of the seed-mean \
             histogram (0 for a constant graphon: falling means towards constant); E1's Cauchy \
             chain across widths at the checkpoint (how many hidden layers converge); and the \
             K-block histogram Graphon NTK's trace and top-5 energy (mean over seeds)."
                .into(),
        ));
        let Some(frame) = scan(self.store, &TRAJECTORY_CONVERGENCE, &p.runs)? else {
            self.missing("trajectories");
            return Ok(());
        };
        let configs = configurations(&collect(frame, "trajectories convergence")?)?;
        let kernels = self.checkpoint_kernels(p)?;
        let mut rows = Vec::new();
        for c in &configs {
            let verdicts = chain_verdicts(c);
            for k in &c.checkpoints {
                let hidden = k.layers.len().max(1) as f64;
                let mean = |f: fn(&crate::experiments::e6::LayerAtCheckpoint) -> f64| {
                    k.layers.iter().map(f).sum::<f64>() / hidden
                };
                let moved: Vec<String> = k
                    .layers
                    .iter()
                    .map(|l| {
                        let m = &l.moved;
                        let mark = if m.moves() { " *" } else { "" };
                        format!(
                            "l{}: {} [{}, {}]{mark}",
                            l.layer,
                            fmt(m.d2),
                            fmt(m.low),
                            fmt(m.high)
                        )
                    })
                    .collect();
                let shape: Vec<String> = k
                    .layers
                    .iter()
                    .map(|l| format!("l{}: {}", l.layer, fmt(l.moved_shape.0)))
                    .collect();
                let converging = verdicts
                    .iter()
                    .filter(|v| v.0 == k.checkpoint && v.2 == ChainVerdict::Converges)
                    .count();
                let still = verdicts
                    .iter()
                    .filter(|v| v.0 == k.checkpoint && v.2 == ChainVerdict::StillMoving)
                    .count();
                let kernel = kernels.get(&(c.method.clone(), c.sparsity.to_bits(), k.checkpoint));
                rows.push(vec![
                    c.label(),
                    k.checkpoint.to_string(),
                    k.step.to_string(),
                    fmt(k.sparsity_now),
                    fmt(mean(|l| l.changed_from_start)),
                    moved.join("; "),
                    shape.join("; "),
                    fmt(mean(|l| l.structure)),
                    format!("{converging} / {} ({still} still moving)", k.layers.len()),
                    kernel.map_or("".into(), |v| fmt(v.0)),
                    kernel.map_or("".into(), |v| fmt(v.1)),
                ]);
            }
        }
        self.blocks.push(Block::Table(
            [
                "configuration",
                "checkpoint",
                "step",
                "sparsity",
                "changed from start",
                "D^2 to start, n max (* moved)",
                "D^2 of H / p to start",
                "structure",
                "converging layers",
                "kernel trace",
                "top-5 energy",
            ]
            .map(String::from)
            .to_vec(),
            rows,
        ));
        let schedule_configs: BTreeMap<&str, Vec<Configuration>> =
            configs.iter().fold(BTreeMap::new(), |mut m, c| {
                m.entry(c.schedule.as_str()).or_default().push(c.clone());
                m
            });
        for (schedule, group) in &schedule_configs {
            let claims = [
                converges_at_every_checkpoint(&p.name, group),
                structure_moves(&p.name, group),
            ];
            for claim in claims.into_iter().flatten() {
                self.blocks.push(Block::Paragraph(format!(
                    "{schedule}: {} — **{}**. {}",
                    claim.statement.text(),
                    claim.verdict_text(),
                    claim.evidence
                )));
                self.claims.push(claim);
            }
            self.moved_figure(schedule, group, dir)?;
        }
        self.speed_after_checkpoints(p)?;
        if let Some(c) = configs
            .iter()
            .max_by(|a, b| a.sparsity.total_cmp(&b.sparsity))
        {
            self.checkpoint_histograms(p, c, dir)?;
        }
        Ok(())
    }

    /// The mean over seeds, at the largest width, of each checkpoint kernel's trace and top-5
    /// energy, by (method, sparsity bits, checkpoint).
    fn checkpoint_kernels(&self, p: &Experiment) -> Result<BTreeMap<CheckpointKey, (f64, f64)>> {
        let Some(frame) = scan(self.store, &TRAJECTORY_METRICS, &p.runs)? else {
            return Ok(BTreeMap::new());
        };
        let widest = p.sweep.widths.iter().map(|w| w.get()).max().unwrap_or(0);
        let df = collect(
            frame
                .filter(col("width").eq(lit(widest)))
                .group_by([col("method"), col("sparsity"), col("checkpoint")])
                .agg([col("trace").mean(), col("top5_energy").mean()]),
            "trajectories metrics",
        )?;
        let (method, sparsity, checkpoint) = (
            strings(&df, "method")?,
            f64s(&df, "sparsity")?,
            f64s(&df, "checkpoint")?,
        );
        let (trace, top5) = (f64s(&df, "trace")?, f64s(&df, "top5_energy")?);
        Ok((0..df.height())
            .map(|i| {
                let key = (
                    method[i].clone(),
                    sparsity[i].to_bits(),
                    checkpoint[i] as u32,
                );
                (key, (trace[i], top5[i]))
            })
            .collect())
    }

    /// The paired D^2 to the start against step, per configuration and hidden layer, with its
    /// interval as a band.
    fn moved_figure(
        &mut self,
        schedule: &str,
        configs: &[Configuration],
        dir: &Path,
    ) -> Result<()> {
        let mut lines = Vec::new();
        for c in configs {
            let layers: Vec<u32> = c.checkpoints[0].layers.iter().map(|l| l.layer).collect();
            for layer in layers {
                let at = |k: &crate::experiments::e6::Checkpoint| {
                    k.layers
                        .iter()
                        .find(|l| l.layer == layer)
                        .map(|l| (f64::from(k.step), l.moved))
                };
                let points: Vec<_> = c.checkpoints.iter().filter_map(at).collect();
                lines.push(Line {
                    name: format!("{} layer {layer}", c.label()),
                    points: points.iter().map(|(x, m)| (*x, m.d2)).collect(),
                    band: points.iter().map(|(x, m)| (*x, m.low, m.high)).collect(),
                    dashed: points
                        .iter()
                        .map(|(x, m)| (*x, (0.1 * m.noise_floor).powi(2)))
                        .collect(),
                });
            }
        }
        let widest = configs.first().map_or(0.0, |c| c.widest);
        let chart = Chart {
            title: format!("{schedule}: how far the graphon moved from the start (n = {widest})"),
            x_label: "optimiser step".into(),
            y_label: "paired bias-corrected D^2 to the start".into(),
            lines,
            points_only: false,
        };
        self.figure(
            &chart,
            dir.join(format!("moved_{schedule}")),
            format!(
                "{schedule}: the paired bias-corrected squared distance between each checkpoint's \
                 expected SAS histogram and the start's, per configuration and hidden layer, at \
                 n = {widest} (band: 95% seed-bootstrap interval; dashed: the negligible distance \
                 (0.1 x noise floor)^2)."
            ),
        )
    }

    /// Seed-mean histograms of hidden layer 2 of `c` by checkpoint (rows: the start, the
    /// middle one and the last) and width.
    fn checkpoint_histograms(
        &mut self,
        p: &Experiment,
        c: &Configuration,
        dir: &Path,
    ) -> Result<()> {
        let Some(frame) = scan(self.store, &TRAJECTORY_HISTOGRAMS, &p.runs)? else {
            return Ok(());
        };
        let last = c.checkpoints.len() - 1;
        let mut shown = vec![0, last / 2, last];
        shown.dedup();
        let df = collect(
            frame
                .filter(col("method").eq(lit(c.method.clone())))
                .filter(col("sparsity").eq(lit(c.sparsity)))
                .filter(col("layer").eq(lit(2u32)))
                .group_by([
                    col("checkpoint"),
                    col("width"),
                    col("k_rows"),
                    col("k_cols"),
                    col("row_block"),
                    col("col_block"),
                ])
                .agg([col("block_density").mean()])
                .sort(
                    ["checkpoint", "width", "row_block", "col_block"],
                    SortMultipleOptions::default(),
                ),
            "trajectories histograms",
        )?;
        let (checkpoint, width) = (f64s(&df, "checkpoint")?, f64s(&df, "width")?);
        let (kr, kc, value) = (
            f64s(&df, "k_rows")?,
            f64s(&df, "k_cols")?,
            f64s(&df, "block_density")?,
        );
        let mut widths: Vec<u32> = p.sweep.widths.iter().map(|w| w.get()).collect();
        widths.sort_unstable();
        let mut cells = vec![vec![None; widths.len()]; shown.len()];
        for (r, &k) in shown.iter().enumerate() {
            for (w_i, &w) in widths.iter().enumerate() {
                let idx: Vec<usize> = (0..df.height())
                    .filter(|&i| checkpoint[i] as usize == k && width[i] as u32 == w)
                    .collect();
                if let Some(&first) = idx.first() {
                    cells[r][w_i] = Some(Grid {
                        rows: kr[first] as usize,
                        cols: kc[first] as usize,
                        values: idx.iter().map(|&i| value[i]).collect(),
                    });
                }
            }
        }
        let row_max: Vec<f64> = cells
            .iter()
            .map(|row| {
                row.iter()
                    .flatten()
                    .flat_map(|g| g.values.iter().copied())
                    .fold(1e-12, f64::max)
            })
            .collect();
        let grid = HeatmapGrid {
            title: format!(
                "{} under {}: hidden layer 2 by checkpoint and width",
                c.label(),
                c.schedule
            ),
            row_labels: shown
                .iter()
                .map(|&k| format!("ckpt {k}, step {}", c.checkpoints[k].step))
                .collect(),
            col_labels: widths.iter().map(|w| format!("n = {w}")).collect(),
            cells,
            row_max,
            legend: "block density, seed mean (0 to the row's largest)".into(),
        };
        self.figure(
            &grid,
            dir.join(format!("histograms_{}_{}", c.method, c.schedule)),
            format!(
                "{} under {}: the seed-mean SAS histogram of hidden layer 2 at the start, a middle \
                 checkpoint and the last, at every width.",
                c.label(),
                c.schedule
            ),
        )
    }

    /// Whether a checkpoint's kernel predicts the speed of the training that follows it: the
    /// rank correlation, within checkpoints, between its trace (or top-5 energy) and the
    /// relative fall of the batch loss over the following segment (the mean of its first and
    /// of its last [`SEGMENT_ENDS`] steps), with a bootstrap interval resampling runs.
    fn speed_after_checkpoints(&mut self, p: &Experiment) -> Result<()> {
        let (Some(metrics), Some(history)) = (
            scan(self.store, &TRAJECTORY_METRICS, &p.runs)?,
            scan(self.store, &TRAINING_HISTORY, &p.runs)?,
        ) else {
            return Ok(());
        };
        let m = collect(metrics, "trajectories metrics")?;
        let h = collect(
            history.filter(col("split").eq(lit("train"))),
            "training history",
        )?;
        let run = |df: &DataFrame| -> Result<Vec<RunKey>> {
            let (method, sparsity) = (strings(df, "method")?, f64s(df, "sparsity")?);
            let (width, seed) = (f64s(df, "width")?, f64s(df, "seed")?);
            Ok((0..df.height())
                .map(|i| {
                    (
                        method[i].clone(),
                        sparsity[i].to_bits(),
                        width[i] as u32,
                        seed[i] as u64,
                    )
                })
                .collect())
        };
        let mut losses: BTreeMap<RunKey, BTreeMap<u32, f64>> = BTreeMap::new();
        let (h_run, h_step, h_loss) = (run(&h)?, f64s(&h, "step")?, f64s(&h, "loss")?);
        for i in 0..h.height() {
            losses
                .entry(h_run[i].clone())
                .or_default()
                .insert(h_step[i] as u32, h_loss[i]);
        }
        let (m_run, m_step, m_ckpt) = (run(&m)?, f64s(&m, "step")?, f64s(&m, "checkpoint")?);
        let (trace, top5) = (f64s(&m, "trace")?, f64s(&m, "top5_energy")?);
        // Each run's checkpoint steps, to bound its segments.
        let mut starts: BTreeMap<RunKey, Vec<u32>> = BTreeMap::new();
        for i in 0..m.height() {
            starts
                .entry(m_run[i].clone())
                .or_default()
                .push(m_step[i] as u32);
        }
        let (mut xs_trace, mut xs_top5, mut ys, mut strata, mut runs) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for i in 0..m.height() {
            let key = &m_run[i];
            let Some(curve) = losses.get(key) else {
                continue;
            };
            let start = m_step[i] as u32;
            let end = starts[key]
                .iter()
                .copied()
                .filter(|&s| s > start)
                .min()
                .unwrap_or_else(|| curve.keys().copied().max().unwrap_or(start));
            let segment: Vec<f64> = curve.range(start + 1..=end).map(|(_, &l)| l).collect();
            if segment.len() < 2 * SEGMENT_ENDS {
                continue;
            }
            let head = segment[..SEGMENT_ENDS].iter().sum::<f64>() / SEGMENT_ENDS as f64;
            let tail =
                segment[segment.len() - SEGMENT_ENDS..].iter().sum::<f64>() / SEGMENT_ENDS as f64;
            xs_trace.push(trace[i]);
            xs_top5.push(top5[i]);
            ys.push((head - tail) / head);
            strata.push((m_ckpt[i] as u32, key.1, key.2));
            runs.push(key.clone());
        }
        if ys.len() < 4 {
            return Ok(());
        }
        // Groups of the bootstrap: each run's segments together.
        let mut groups: BTreeMap<&RunKey, Vec<usize>> = BTreeMap::new();
        for (i, r) in runs.iter().enumerate() {
            groups.entry(r).or_default().push(i);
        }
        let groups: Vec<Vec<usize>> = groups.into_values().collect();
        // Strata: (checkpoint, sparsity, width), numbered in order.
        let numbers: BTreeMap<(u32, u64, u32), u64> = strata
            .iter()
            .copied()
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .zip(0..)
            .collect();
        let strata: Vec<u64> = strata.iter().map(|s| numbers[s]).collect();
        let within = |x: &[f64]| centred_ranks_within(x, &strata);
        let y = within(&ys);
        let rho = |x: &[f64]| -> Interval { bootstrap(&within(x), &y, &groups, pearson, 1000, 0) };
        let show = |i: Interval| format!("{} [{}, {}]", fmt(i.estimate), fmt(i.low), fmt(i.high));
        self.blocks.push(Block::Paragraph(format!(
            "Does a checkpoint's kernel predict the speed of the training that follows it? Over \
             {} segments (each run's steps from a checkpoint to the next, or to its level's end), \
             the rank correlation within (checkpoint, starting sparsity, width) between the \
             checkpoint kernel's metric and the segment's relative fall of the batch loss (first \
             {SEGMENT_ENDS} steps' mean against the last {SEGMENT_ENDS}'), 95% bootstrap \
             interval over runs: trace {}, top-5 energy {}. Above 0: a larger value goes with \
             faster training.",
            ys.len(),
            show(rho(&xs_trace)),
            show(rho(&xs_top5)),
        )));
        Ok(())
    }
}
