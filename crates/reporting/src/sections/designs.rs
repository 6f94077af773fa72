//! The design-family section (ours, issue #32): a pipeline that draws one design from several
//! targets of the power family (`pipelines/e5-spectra.toml`: `graphon:random` at beta = 0,
//! 0.5, 1, 2 and 4, so every run has Random's per-layer kept counts and only the placement, so
//! the spectrum, varies), per sparsity: each target's kernel metrics (mask level, as is and
//! centred; graphon level) beside its early speed, each metric's within-family rank correlation
//! with the mean training loss, and the verdict on top-5 energy
//! (`crate::experiments::e3::loss_falls_with`, the rule E3's own claim uses). And the design
//! comparison of a pipeline that trains designs beside the methods: each design search's
//! choice, and each design's early-speed gaps with their verdicts (`crate::experiments::e5`).

use super::paper_e3::{at_depth_and_widest, seed_values};
use crate::claims::{Statement, fmt, interval};
use crate::document::Block;
use crate::experiment::Experiment;
use crate::experiments::e3::loss_falls_with;
use crate::experiments::e5::{DesignGap, design_beats, design_gaps};
use crate::figures::{Chart, Line};
use crate::report::{Builder, RUN_COLUMNS, collect};
use crate::stats::{bootstrap, pearson, spearman};
use crate::tables::{
    bools, f64s, in_view, of_kernel, scan, scan_with_keys, scan_with_targets, strings,
};
use glh_artifacts::Result;
use glh_artifacts::config::{KernelKind, KernelView, PruneMethod};
use glh_artifacts::schema::TableSchema;
use glh_artifacts::schemas::{
    DESIGN_SEARCH, GRAPHON_NTK_SEED_METRICS, MASKS_LAYERS, NTK_METRICS, TRAINING_SUMMARY,
};
use polars::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// A run of the family: its beta's, sparsity's bits and its seed.
type RunKey = (u64, u64, u64);

/// The metrics set beside the speed: the name the report gives, the table, column, kernel and
/// view each is read from. The paper's four (top-5 energy, trace / l_1, l_1 / l_2, the decay
/// exponent), the centred ones that still separate methods once the shared mean image is gone
/// (`sections::kernel_views`), the trace, the kernel-predicted loss ratio and the cheap
/// graphon-level top-5 energy that `glh design` searches on.
const METRICS: [(&str, &TableSchema, &str, KernelKind, KernelView); 9] = [
    (
        "top-5 energy",
        &NTK_METRICS,
        "top5_energy",
        KernelKind::Mask,
        KernelView::AsIs,
    ),
    (
        "trace / l_1",
        &NTK_METRICS,
        "effective_rank_trace",
        KernelKind::Mask,
        KernelView::AsIs,
    ),
    (
        "l_1 / l_2",
        &NTK_METRICS,
        "ratio_1_2",
        KernelKind::Mask,
        KernelView::AsIs,
    ),
    (
        "decay exponent",
        &NTK_METRICS,
        "decay_exponent",
        KernelKind::Mask,
        KernelView::AsIs,
    ),
    (
        "top-5 energy, centred",
        &NTK_METRICS,
        "top5_energy",
        KernelKind::Mask,
        KernelView::Centred,
    ),
    (
        "decay exponent, centred",
        &NTK_METRICS,
        "decay_exponent",
        KernelKind::Mask,
        KernelView::Centred,
    ),
    (
        "trace / dense",
        &NTK_METRICS,
        "trace_ratio_to_dense",
        KernelKind::Mask,
        KernelView::AsIs,
    ),
    (
        "predicted loss ratio",
        &NTK_METRICS,
        "predicted_loss_ratio",
        KernelKind::Mask,
        KernelView::AsIs,
    ),
    (
        "top-5 energy, graphon level",
        &GRAPHON_NTK_SEED_METRICS,
        "top5_energy",
        KernelKind::Graphon,
        KernelView::AsIs,
    ),
];

impl Builder<'_> {
    /// Each of `columns` of `table` for every power-family run of `p` (optionally one kernel in
    /// one view), by run: one scan of the table for all of them.
    fn family_values(
        &self,
        p: &Experiment,
        table: &TableSchema,
        columns: &[&str],
        kernel: Option<(KernelKind, KernelView)>,
    ) -> Result<Vec<BTreeMap<RunKey, f64>>> {
        let Some(frame) = scan_with_targets(self.store, table, &p.runs, &p.design_targets)? else {
            return Ok(vec![BTreeMap::new(); columns.len()]);
        };
        let frame = frame.filter(col("beta").is_not_null());
        let frame = match kernel {
            Some((kind, view)) => of_kernel(in_view(frame, view), kind),
            None => frame,
        };
        let df = collect(frame, table.name)?;
        let (beta, sparsity, seed) = (
            f64s(&df, "beta")?,
            f64s(&df, "sparsity")?,
            f64s(&df, "seed")?,
        );
        let keys: Vec<RunKey> = (0..df.height())
            .map(|i| (beta[i].to_bits(), sparsity[i].to_bits(), seed[i] as u64))
            .collect();
        columns
            .iter()
            .map(|column| Ok(keys.iter().copied().zip(f64s(&df, column)?).collect()))
            .collect()
    }

    /// The design-family section of `p`, whose designs were drawn from several targets.
    pub(crate) fn design_family(&mut self, p: &Experiment, dir: &Path) -> Result<()> {
        let speed = ["mean_train_loss", "final_test_accuracy"];
        let [loss, accuracy]: [BTreeMap<RunKey, f64>; 2] = self
            .family_values(p, &TRAINING_SUMMARY, &speed, None)?
            .try_into()
            .expect("one map per column");
        // The metrics, each table read once per kernel and view.
        let mut metrics: Vec<(&str, BTreeMap<RunKey, f64>)> =
            METRICS.iter().map(|m| (m.0, BTreeMap::new())).collect();
        let mut read = [false; METRICS.len()];
        for (i, &(_, table, _, kind, view)) in METRICS.iter().enumerate() {
            if read[i] {
                continue;
            }
            let group: Vec<usize> = (i..METRICS.len())
                .filter(|&j| {
                    let (_, t, _, k, v) = METRICS[j];
                    t.name == table.name && t.stage == table.stage && (k, v) == (kind, view)
                })
                .collect();
            let columns: Vec<&str> = group.iter().map(|&j| METRICS[j].2).collect();
            let values = self.family_values(p, table, &columns, Some((kind, view)))?;
            for (j, v) in group.into_iter().zip(values) {
                (read[j], metrics[j].1) = (true, v);
            }
        }
        // The runs with a speed and every metric (a partial report may lack some).
        let runs: Vec<RunKey> = loss
            .keys()
            .filter(|k| metrics.iter().all(|(_, m)| m.contains_key(k)))
            .copied()
            .collect();
        self.blocks
            .push(Block::Heading(3, format!("Designed spectra: {}", p.name)));
        if runs.is_empty() {
            self.missing("power-family design runs with training and kernels");
            return Ok(());
        }
        self.blocks.push(Block::Paragraph(
            "Ours (issue #32, the paper's open question): masks drawn from the power graphons \
             W(u, v) = min(1, c ((1 - u)(1 - v))^beta) with each layer's kept count fixed (the \
             same per-layer densities at every beta; beta = 0 places them uniformly), so that \
             within the family only the structure, hence the spectrum, varies. Per target, the \
             mean over seeds of the early speed (mean training loss over E3's steps; lower is \
             faster), the final test accuracy and the kernels' metrics (the mask-level Graphon \
             NTK of each mask; the graphon-level kernel of each seed's own K-block graphon)."
                .into(),
        ));
        // Sparsities and betas are at least 0, where the bits order as the values do.
        let sparsities: BTreeSet<u64> = runs.iter().map(|r| r.1).collect();
        // The per-target means.
        let mut header = vec![
            "sparsity".to_string(),
            "beta".into(),
            "seeds".into(),
            "mean training loss".into(),
            "test accuracy".into(),
        ];
        header.extend(METRICS.iter().map(|m| m.0.to_string()));
        let mut rows = Vec::new();
        let mut by_target: BTreeMap<(u64, u64), Vec<RunKey>> = BTreeMap::new();
        for &run in &runs {
            by_target.entry((run.1, run.0)).or_default().push(run);
        }
        let mean = |values: &BTreeMap<RunKey, f64>, members: &[RunKey]| {
            members.iter().map(|k| values[k]).sum::<f64>() / members.len() as f64
        };
        let mut loss_lines: BTreeMap<u64, Line> = BTreeMap::new();
        let mut energy_lines: BTreeMap<u64, Line> = BTreeMap::new();
        for (&(sparsity, beta), members) in &by_target {
            let (s, b) = (f64::from_bits(sparsity), f64::from_bits(beta));
            let mut row = vec![
                fmt(s),
                fmt(b),
                members.len().to_string(),
                fmt(mean(&loss, members)),
                fmt(mean(&accuracy, members)),
            ];
            row.extend(metrics.iter().map(|(_, m)| fmt(mean(m, members))));
            rows.push(row);
            for (lines, values) in [(&mut loss_lines, &loss), (&mut energy_lines, &metrics[0].1)] {
                let seeds: Vec<f64> = members.iter().map(|k| values[k]).collect();
                let line = lines.entry(sparsity).or_insert_with(|| Line {
                    name: format!("sparsity {}", fmt(s)),
                    points: Vec::new(),
                    band: Vec::new(),
                    dashed: Vec::new(),
                });
                line.points.push((b, mean(values, members)));
                let low = seeds.iter().copied().fold(f64::INFINITY, f64::min);
                let high = seeds.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                line.band.push((b, low, high));
            }
        }
        self.blocks.push(Block::Table(header, rows));
        for (lines, stem, y_label, caption) in [
            (
                loss_lines,
                "design_family_speed",
                "mean training loss",
                "Early speed along the power family (mean training loss over E3's steps; lower is faster): the mean over seeds, the band their range.",
            ),
            (
                energy_lines,
                "design_family_top5",
                "top-5 energy (mask level)",
                "Top-5 energy of the mask-level Graphon NTK along the power family: the mean over seeds, the band their range.",
            ),
        ] {
            let chart = Chart {
                title: format!("{}: {y_label} against beta", p.name),
                x_label: "beta (power-family exponent)".into(),
                y_label: y_label.into(),
                lines: lines.into_values().collect(),
                points_only: false,
            };
            self.figure(&chart, dir.join(stem), caption.into())?;
        }
        // Within the family, per sparsity: each metric against the speed.
        self.blocks.push(Block::Paragraph(
            "Within the family, at each sparsity: the rank (Spearman) and linear (Pearson) \
             correlation of each metric with the mean training loss over the runs (every beta \
             and seed), with 95% bootstrap intervals resampling whole seeds. A metric that \
             predicts speed the way E3 reads top-5 energy has its interval below 0 (more of it, \
             lower loss); the predicted loss ratio, smaller when faster, above 0."
                .into(),
        ));
        let (resamples, bootstrap_seed) = (self.settings.bootstrap, self.settings.seed);
        let mut rows = Vec::new();
        for &sparsity in &sparsities {
            let members: Vec<RunKey> = runs.iter().filter(|r| r.1 == sparsity).copied().collect();
            let y: Vec<f64> = members.iter().map(|k| loss[k]).collect();
            let seeds: Vec<u64> = members.iter().map(|k| k.2).collect();
            let mut by_seed: BTreeMap<u64, Vec<usize>> = BTreeMap::new();
            for (i, &seed) in seeds.iter().enumerate() {
                by_seed.entry(seed).or_default().push(i);
            }
            let groups: Vec<Vec<usize>> = by_seed.into_values().collect();
            for (name, values) in &metrics {
                let x: Vec<f64> = members.iter().map(|k| values[k]).collect();
                let rho = bootstrap(&x, &y, &groups, spearman, resamples, bootstrap_seed);
                let r = bootstrap(&x, &y, &groups, pearson, resamples, bootstrap_seed);
                rows.push(vec![
                    fmt(f64::from_bits(sparsity)),
                    name.to_string(),
                    interval(&rho),
                    interval(&r),
                    members.len().to_string(),
                ]);
            }
            let top5: Vec<f64> = members.iter().map(|k| metrics[0].1[k]).collect();
            let df = df!(
                "top5_energy" => top5,
                "mean_train_loss" => y,
                "seed" => seeds,
            )
            .map_err(crate::tables::polars_error("design family"))?;
            let experiment = format!("{} (sparsity {})", p.name, fmt(f64::from_bits(sparsity)));
            let (claim, _) = loss_falls_with(
                Statement::SpectrumPredictsSpeedInFamily,
                &experiment,
                &df,
                "top5_energy",
                resamples,
                bootstrap_seed,
            )?;
            self.claims.push(claim);
        }
        self.blocks.push(Block::Table(
            ["sparsity", "metric", "Spearman", "Pearson", "runs"]
                .map(String::from)
                .to_vec(),
            rows,
        ));
        Ok(())
    }
}

impl Builder<'_> {
    /// The design comparison of `p` (a pipeline that trains designs with one target each:
    /// `pipelines/e5-design.toml`): the target each design search chose, and each design's
    /// early-speed gaps to the methods and to its source and the source's shuffled control,
    /// with their verdicts (`crate::experiments::e5`).
    pub(crate) fn design_comparison(&mut self, p: &Experiment) -> Result<()> {
        let designs: Vec<PruneMethod> = p
            .sweep
            .methods
            .iter()
            .copied()
            .filter(|m| m.is_design())
            .collect();
        if designs.is_empty() || !p.training {
            return Ok(());
        }
        self.blocks.push(Block::Heading(
            3,
            format!("Designs against the methods: {}", p.name),
        ));
        self.chosen_targets(p)?;
        let Some(frame) = self.frame(&TRAINING_SUMMARY, p, &RUN_COLUMNS)? else {
            self.missing("training runs");
            return Ok(());
        };
        let (b, seed) = (self.settings.bootstrap, self.settings.seed);
        let in_sweep = |m: PruneMethod| p.sweep.methods.contains(&m);
        let mut rows = Vec::new();
        for depth in p.sweep.depths.iter().map(|d| d.get()) {
            let df = collect(at_depth_and_widest(frame.clone(), p, depth), "training")?;
            let sample = seed_values(&df, &["mean_train_loss"], true)?;
            for &design in &designs {
                let PruneMethod::Graphon(&source) = design else {
                    unreachable!("a design is graphon:<method>");
                };
                let methods: Vec<String> =
                    [PruneMethod::Random, PruneMethod::Snip, PruneMethod::Synflow]
                        .into_iter()
                        .filter(|&m| in_sweep(m))
                        .map(|m| m.name().to_string())
                        .collect();
                // At the source's own profile: the source and its shuffled control, where the
                // sweep has the control (the same densities, placed at random).
                let shuffled = PruneMethod::Shuffled(
                    PruneMethod::SCORED
                        .iter()
                        .find(|&&m| m == source)
                        .expect("a design's source is a scoring method"),
                );
                let own: Vec<String> = if in_sweep(shuffled) {
                    vec![source.name().to_string(), shuffled.name().to_string()]
                } else {
                    Vec::new()
                };
                let mut others = methods.clone();
                others.extend(own.iter().filter(|m| !methods.contains(m)).cloned());
                for sparsity in p.sweep.sparsities.iter().map(|s| s.value()) {
                    let experiment = format!("{} (L = {depth})", p.name);
                    let gaps = design_gaps(&sample, design.name(), &others, sparsity, b, seed);
                    rows.extend(gaps.iter().map(|g| {
                        vec![
                            depth.to_string(),
                            fmt(g.sparsity),
                            g.design.clone(),
                            g.other.clone(),
                            interval(&g.gap),
                        ]
                    }));
                    for (statement, named) in [
                        (Statement::DesignBeatsMethods, &methods),
                        (Statement::DesignBeatsSourceAtItsProfile, &own),
                    ] {
                        let of: Vec<DesignGap> = gaps
                            .iter()
                            .filter(|g| named.contains(&g.other))
                            .cloned()
                            .collect();
                        self.claims
                            .extend(design_beats(statement, &experiment, &of));
                    }
                }
            }
        }
        self.blocks.push(Block::Paragraph(
            "Ours: each design's early-speed gap S(method) - S(design) (S: the mean over seeds of \
             the mean training loss; above 0, the design trains faster), with 95% seed-bootstrap \
             intervals (whole seeds resampled), against Random, SNIP and SynFlow, then against \
             its source method and the source's shuffled control (the same per-layer densities: \
             the decomposition above, one row more)."
                .into(),
        ));
        self.blocks.push(Block::Table(
            [
                "L",
                "sparsity",
                "design",
                "against",
                "S(method) - S(design)",
            ]
            .map(String::from)
            .to_vec(),
            rows,
        ));
        Ok(())
    }

    /// The table of each planned design search's chosen point: the source whose counts it
    /// kept, the density, the family's parameter, the criterion's value, and whether the
    /// choice sits at an end of the grid (a wider grid might choose beyond it).
    fn chosen_targets(&mut self, p: &Experiment) -> Result<()> {
        let Some(points) = scan(self.store, &DESIGN_SEARCH, &p.runs)? else {
            return Ok(());
        };
        let points = collect(points, DESIGN_SEARCH.name)?;
        // The source method of each profile (a masks run key).
        let mut source_of: BTreeMap<String, String> = BTreeMap::new();
        if let Some(layers) = scan_with_keys(self.store, &MASKS_LAYERS, &p.runs)? {
            let layers = collect(layers, MASKS_LAYERS.name)?;
            for (key, method) in strings(&layers, "run_key")?
                .into_iter()
                .zip(strings(&layers, "method")?)
            {
                source_of.insert(key, method);
            }
        }
        let (profile, family, criterion) = (
            strings(&points, "profile")?,
            strings(&points, "family")?,
            strings(&points, "criterion")?,
        );
        let (parameter, density) = (f64s(&points, "parameter")?, f64s(&points, "density")?);
        let (chosen, on_grid) = (bools(&points, "chosen")?, bools(&points, "on_grid")?);
        let mut rows = Vec::new();
        // By source, then density.
        let mut order: Vec<usize> = (0..points.height()).filter(|&i| chosen[i]).collect();
        let source = |i: usize| source_of.get(&profile[i]).cloned().unwrap_or_default();
        order.sort_by(|&i, &j| {
            (source(i), density[i].to_bits()).cmp(&(source(j), density[j].to_bits()))
        });
        for i in order {
            let grid: Vec<f64> = (0..points.height())
                .filter(|&j| profile[j] == profile[i] && on_grid[j])
                .map(|j| parameter[j])
                .collect();
            let edge = grid.iter().copied().fold(f64::INFINITY, f64::min) == parameter[i]
                || grid.iter().copied().fold(f64::NEG_INFINITY, f64::max) == parameter[i];
            let score = f64s(&points, &criterion[i])?[i];
            rows.push(vec![
                source_of
                    .get(&profile[i])
                    .cloned()
                    .unwrap_or_else(|| profile[i].clone()),
                fmt(density[i]),
                family[i].clone(),
                fmt(parameter[i]),
                format!("{} = {}", criterion[i], fmt(score)),
                if edge { "yes" } else { "no" }.into(),
            ]);
        }
        self.blocks.push(Block::Paragraph(
            "The target each design search chose (`[design]`: a grid, then a golden-section \
             search, on the Graphon NTK of the design's own graphon at its source's per-layer \
             kept counts, the source's first seed); the designs of that sparsity are drawn \
             from it. A choice at an end of the grid may lie beyond it."
                .into(),
        ));
        self.blocks.push(Block::Table(
            [
                "source",
                "density",
                "family",
                "parameter",
                "criterion",
                "at the grid's end",
            ]
            .map(String::from)
            .to_vec(),
            rows,
        ));
        Ok(())
    }
}
