//! The report's `[training]` section: training-loss curves (mean and sd over seeds, the dense
//! run as baseline where one exists), the accuracy table, early training speed against each
//! spectral metric with bootstrap intervals over seeds, and the two training claims.

use crate::claims::{fmt, interval};
use crate::document::Block;
use crate::experiment::Experiment;
use crate::experiments::e3;
use crate::figures::{Chart, Line};
use crate::report::{Builder, RUN_COLUMNS, collect};
use crate::stats::{bootstrap, centred_ranks_within, pearson, spearman};
use crate::tables::{f64s, in_view, of_kernel, polars_error, strings};
use glh_artifacts::Result;
use glh_artifacts::config::{KernelKind, KernelView};
use glh_artifacts::schemas::{NTK_METRICS, TRAINING_HISTORY, TRAINING_SUMMARY};
use polars::prelude::*;
use std::collections::BTreeMap;
use std::path::Path;

impl Builder<'_> {
    pub(crate) fn training(&mut self, p: &Experiment, dir: &Path) -> Result<()> {
        self.blocks.push(Block::Heading(3, "Training".into()));
        // The sweep's runs, and its dense baseline's (sparsity 0, same widths, depths, seeds
        // and settings) where a reported pipeline plans them.
        let Some(history) = self.frame(&TRAINING_HISTORY, p, &RUN_COLUMNS)? else {
            self.missing("training runs");
            return Ok(());
        };
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
        let mut frames = vec![(collect(curves(history), "history")?, false)];
        if let Some(dense) = self.dense_frame(&TRAINING_HISTORY, p)? {
            frames.push((collect(curves(dense), "history")?, true));
        }
        let (by_sparsity, dense_line) = loss_lines(&frames)?;
        for (s_bits, mut lines) in by_sparsity {
            // Methods in the sweep's order (the paper's first, then ours), as every other
            // chart of the report draws them, so a method keeps its colour across figures.
            let rank = |name: &str| p.sweep.methods.iter().position(|m| m.name() == name);
            lines.sort_by_key(|l| rank(&l.name));
            if let Some(d) = &dense_line {
                lines.push(d.clone());
            }
            let s = f64::from_bits(s_bits);
            // On a log axis: GraSP's early losses (tens) would squash every other line into
            // one near 0 on a linear one.
            let chart = Chart {
                title: format!("{}: training loss at sparsity {}", p.name, fmt(s)),
                x_label: "Adam step".into(),
                y_label: "log10(training cross-entropy), mean ± sd over seeds".into(),
                lines: lines.into_iter().map(Line::log10_y).collect(),
                points_only: false,
            };
            self.figure(
                &chart,
                dir.join(format!("training_loss_s{s}")),
                format!(
                    "Training loss per step at sparsity {}, on a log axis (band: ± one sd over \
                     seeds, cut at a tenth of the mean where it would reach 0).",
                    fmt(s)
                ),
            )?;
        }
        self.training_summary(p, dir)
    }

    /// The accuracy table, and early training speed against each spectral metric.
    pub(crate) fn training_summary(&mut self, p: &Experiment, dir: &Path) -> Result<()> {
        let Some(summary) = self.frame(&TRAINING_SUMMARY, p, &RUN_COLUMNS)? else {
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
        self.blocks
            .push(accuracy_table(&m, &s, &acc, &mean_loss, &at50));
        // Early speed against each spectral metric of the mask-level kernel.
        let Some(metrics) = self.frame(&NTK_METRICS, p, &RUN_COLUMNS)? else {
            return Ok(());
        };
        let k_df = collect(
            of_kernel(in_view(metrics, KernelView::AsIs), KernelKind::Mask),
            "metrics",
        )?;
        let (km, ks, kseed) = (
            strings(&k_df, "method")?,
            f64s(&k_df, "sparsity")?,
            f64s(&k_df, "seed")?,
        );
        let names = [
            "top1_energy",
            "top5_energy",
            "top10_energy",
            "effective_rank_entropy",
            "effective_rank_trace",
            "ratio_1_2",
            "decay_exponent",
            "trace",
            "top1_eigenvalue",
            "top5_sum",
            "kernel_target_alignment",
            "predicted_loss_ratio",
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
        let runs = SpeedRuns {
            method: pairs.iter().map(|&(i, _)| m[i].clone()).collect(),
            sparsity: pairs.iter().map(|&(i, _)| s[i].to_bits()).collect(),
            seed: pairs.iter().map(|&(i, _)| seed[i]).collect(),
            loss: pairs.iter().map(|&(i, _)| mean_loss[i]).collect(),
        };
        let metrics: Vec<(&str, Vec<f64>)> = names
            .iter()
            .zip(&metric_values)
            .map(|(n, values)| (*n, pairs.iter().map(|&(_, j)| values[j]).collect()))
            .collect();
        self.speed_correlations(p, dir, &runs, &metrics)
    }

    /// The correlation of each spectral metric (`metrics`, one value per run of `runs`) with
    /// the runs' mean training loss: pooled, per sparsity and within sparsity; the energy
    /// claim and its scatter plot.
    fn speed_correlations(
        &mut self,
        p: &Experiment,
        dir: &Path,
        runs: &SpeedRuns,
        metrics: &[(&str, Vec<f64>)],
    ) -> Result<()> {
        let y = &runs.loss;
        let mut seed_groups: BTreeMap<u64, Vec<usize>> = BTreeMap::new();
        for (k, &seed) in runs.seed.iter().enumerate() {
            seed_groups.entry(seed as u64).or_default().push(k);
        }
        let groups: Vec<Vec<usize>> = seed_groups.into_values().collect();
        // Methods are compared at equal sparsity, as the paper compares them: per sparsity, and
        // pooled over sparsities after ranking within each (a partial rank correlation that
        // controls for sparsity, which otherwise drives both the metric and the speed).
        let strata = &runs.sparsity;
        let sparsities: Vec<u64> = strata
            .iter()
            .copied()
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let y_within = centred_ranks_within(y, strata);
        let (b, seed0) = (self.settings.bootstrap, self.settings.seed);
        let mut rows = Vec::new();
        for (n, x) in metrics {
            let rho = bootstrap(x, y, &groups, spearman, b, seed0);
            let r = bootstrap(x, y, &groups, pearson, b, seed0);
            let x_within = centred_ranks_within(x, strata);
            let partial = bootstrap(&x_within, &y_within, &groups, pearson, b, seed0);
            let per_sparsity: Vec<String> = sparsities
                .iter()
                .map(|&level| {
                    let at: Vec<usize> = (0..x.len()).filter(|&k| strata[k] == level).collect();
                    let xs: Vec<f64> = at.iter().map(|&k| x[k]).collect();
                    let ys: Vec<f64> = at.iter().map(|&k| y[k]).collect();
                    fmt(spearman(&xs, &ys))
                })
                .collect();
            if *n == "top5_energy" {
                self.energy_claim_and_scatter(p, dir, runs, x, rho.estimate)?;
            }
            rows.push(vec![
                n.to_string(),
                interval(&rho),
                interval(&r),
                per_sparsity.join(" / "),
                interval(&partial),
            ]);
        }
        let levels: Vec<String> = sparsities
            .iter()
            .map(|&b| f64::from_bits(b).to_string())
            .collect();
        self.blocks.push(Block::Paragraph(format!(
            "Correlation of each spectral metric with the mean training loss over {} runs \
             (negative: a larger value goes with faster training). Pooled over sparsities, \
             then within each sparsity ({}), then pooled after ranking within each sparsity \
             (controls for sparsity). The metrics are the paper's (top-5 energy, \
             effective_rank_trace, ratio_1_2, decay_exponent), ours (effective_rank_entropy) and \
             the absolute scale (trace, top1_eigenvalue, top5_sum), and two that read the \
             spectrum against the labels (ours, issue #17): kernel_target_alignment, and \
             predicted_loss_ratio, the loss after T steps of linearised gradient descent at the \
             rate N / trace (a positive correlation is the right sign for it). Intervals: 2.5% \
             and 97.5% \
             percentiles of {} bootstrap resamples of whole seeds.",
            y.len(),
            levels.join(", "),
            self.settings.bootstrap
        )));
        self.blocks.push(Block::Table(
            [
                "spectral metric".to_string(),
                "Spearman, pooled [95% CI]".to_string(),
                "Pearson, pooled [95% CI]".to_string(),
                format!("Spearman at sparsity {}", levels.join(" / ")),
                "Spearman within sparsity, pooled [95% CI]".to_string(),
            ]
            .to_vec(),
            rows,
        ));
        Ok(())
    }

    /// The claim that top-5 energy predicts early speed, and the scatter of `energy` against
    /// the runs' loss.
    fn energy_claim_and_scatter(
        &mut self,
        p: &Experiment,
        dir: &Path,
        runs: &SpeedRuns,
        energy: &[f64],
        spearman_estimate: f64,
    ) -> Result<()> {
        let (b, seed0) = (self.settings.bootstrap, self.settings.seed);
        let frame = df!(
            "top5_energy" => energy,
            "mean_train_loss" => runs.loss.as_slice(),
            "seed" => runs.seed.as_slice(),
        )
        .map_err(polars_error("metrics"))?;
        let (claim, _) = e3::energy_predicts_speed(&p.name, &frame, b, seed0)?;
        self.claims.push(claim);
        let mut by_method: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
        for (k, method) in runs.method.iter().enumerate() {
            by_method
                .entry(method.clone())
                .or_default()
                .push((energy[k], runs.loss[k]));
        }
        let chart = Chart {
            title: format!(
                "{}: early training speed vs top-5 energy (Spearman {})",
                p.name,
                fmt(spearman_estimate)
            ),
            x_label: "top-5 energy of the mask-level Graphon NTK".into(),
            y_label: "mean training loss over the run (lower = faster)".into(),
            lines: by_method
                .into_iter()
                .map(|(name, points)| Line {
                    dashed: Vec::new(),
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
        )
    }
}

/// The pruned runs that have both a training summary and mask-level kernel metrics.
struct SpeedRuns {
    method: Vec<String>,
    /// Sparsity bits: the strata of the within-sparsity correlation.
    sparsity: Vec<u64>,
    seed: Vec<f64>,
    /// Mean training loss over the run.
    loss: Vec<f64>,
}

/// The training-loss lines per sparsity bits, from curve frames (`method`, `sparsity`, `step`,
/// `mean`, `sd`; the flag marks the dense baseline's), and the dense line.
#[allow(clippy::type_complexity)]
fn loss_lines(frames: &[(DataFrame, bool)]) -> Result<(BTreeMap<u64, Vec<Line>>, Option<Line>)> {
    let mut by_sparsity: BTreeMap<u64, Vec<Line>> = BTreeMap::new();
    let mut dense_line = None;
    for (df, is_dense) in frames.iter().map(|(df, dense)| (df, *dense)) {
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
                    dashed: Vec::new(),
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
    Ok((by_sparsity, dense_line))
}

/// Per method and sparsity, the mean over seeds of the final test accuracy, the mean training
/// loss and the training loss at step 50.
fn accuracy_table(m: &[String], s: &[f64], acc: &[f64], mean_loss: &[f64], at50: &[f64]) -> Block {
    // Table: per method and sparsity, mean over seeds.
    let mut groups: BTreeMap<(String, u64), Vec<usize>> = BTreeMap::new();
    for i in 0..m.len() {
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
                fmt(mean_of(acc, idx)),
                fmt(mean_of(mean_loss, idx)),
                fmt(mean_of(at50, idx)),
            ]
        })
        .collect();
    Block::Table(
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
    )
}
