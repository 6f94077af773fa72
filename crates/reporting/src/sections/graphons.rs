//! The report's `[graphons]` section, one part per (depth, level) laid out like the paper's
//! figures 1, 4 and 5: seed-averaged SAS heat maps per layer (rows: methods, columns: widths),
//! the paper's distance to the largest width against width with its seed spread, the
//! convergence claim checked per (hidden layer, method) with its exceptions, and the hidden
//! neurons each method cuts off (the paper's appendix figure 9).

use crate::claims::{Statement, Verdict, fmt};
use crate::document::Block;
use crate::experiment::{Experiment, GraphonsRuns, LayerDensityLaw};
use crate::experiments::e1::{
    self, ChainVerdict, ConvergenceCase, NEGLIGIBLE_FRACTION, paper_verdict,
};
use crate::figures::{Chart, Grid, HeatmapGrid, Line};
use crate::report::{Builder, MeanSd, RUN_COLUMNS, collect};
use crate::tables::{bools, f64s, strings};
use glh_artifacts::Result;
use glh_artifacts::config::Rescale;
use glh_artifacts::schemas::{
    CONVERGENCE, GRAPHON_HIDDEN_NEURONS, GRAPHON_HISTOGRAMS, MASKS_LAYERS,
};
use polars::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// What layer `l` of `depth` is, for titles: only hidden layers are the paper's.
fn layer_role(l: u32, depth: u32) -> &'static str {
    if l == 1 {
        "input layer, not in the paper's analysis"
    } else if l == depth {
        "output layer, not in the paper's analysis"
    } else {
        "hidden"
    }
}

impl Builder<'_> {
    /// One (depth, level) part: its sweep has one depth and one level.
    pub(crate) fn graphons(
        &mut self,
        p: &Experiment,
        runs: GraphonsRuns,
        dir: &Path,
    ) -> Result<()> {
        self.blocks.push(Block::Heading(
            3,
            format!("SAS histograms and convergence with width: {}", p.name),
        ));
        if runs.rescale == Rescale::LayerDensity {
            self.blocks.push(Block::Paragraph(
                "Ours, beyond the paper: every histogram is divided by its layer's density \
                 (H / p_n, kept weights over all weights of the layer), the normalisation of \
                 sparse graph limits, before it is shown and before any distance is taken. A \
                 Random layer is then the constant 1 at every width."
                    .into(),
            ));
        }
        let methods: Vec<String> = p
            .sweep
            .methods
            .iter()
            .map(|m| m.name().to_string())
            .collect();
        self.heatmaps(p, runs, dir, &methods)?;
        // One read of the masks' layer densities serves the shape table and the density one.
        let measured = self.measured_densities(p)?;
        self.convergence(p, runs, dir, &methods, measured.as_ref())?;
        if let Some(measured) = &measured {
            self.layer_densities(p, dir, &methods, measured)?;
        }
        self.hidden_neurons(p, &methods)
    }

    /// Ours (issue #28): each layer's density (kept over all weights of the layer) per method
    /// and width, mean ± sd over seeds, beside the closed forms known (global Magnitude's), as
    /// a table and a figure per layer. Under global ranking it moves with the width, so the
    /// object a layer's histogram converges to is still moving where its density is.
    fn layer_densities(
        &mut self,
        p: &Experiment,
        dir: &Path,
        methods: &[String],
        measured: &MeasuredDensities,
    ) -> Result<()> {
        let widths = sorted_widths(p);
        let m = measured;
        let mut rows = layer_rows(methods, &widths, (&m.method, &m.layer, &m.width), |i| {
            format!("{} ± {}", fmt(m.mean[i]), fmt(m.sd[i]))
        });
        if rows.is_empty() {
            return Ok(());
        }
        let laws = DensityLaws::of_part(p);
        let layers: BTreeSet<u32> = measured.layer.iter().map(|&l| l as u32).collect();
        for row in &mut rows {
            row.push(String::new());
        }
        rows.extend(laws.rows(&layers, &widths));
        self.blocks.push(Block::Paragraph(
            "Ours: each layer's density (kept weights over the layer's weights), mean ± sd over \
             seeds. Under global ranking a method shares the kept weights out among the layers \
             differently at every width: where a layer's density still moves, the graphon its \
             histograms approach is still moving too, whatever the distances say. Magnitude's \
             densities follow in closed form from the initial weights' law (U(-a_l, a_l), a_l = \
             fan_in^(-1/2), one threshold on |w| for all layers; glh_masks::magnitude_law): its \
             rows give them at each width and in the limit n → ∞, where the input layer keeps \
             everything and every layer of fan-in n keeps the density, approached like 1 / n."
                .into(),
        ));
        let mut header = vec!["layer".to_string(), "method".to_string()];
        header.extend(widths.iter().map(|w| format!("n = {w}")));
        header.push("n → ∞".into());
        self.blocks.push(Block::Table(header, rows));
        for l in layers {
            self.layer_density_chart(p, dir, l, methods, measured, &laws)?;
        }
        Ok(())
    }

    /// Each layer's density per (method, layer, width), mean and sd over seeds, read once from
    /// the masks' `layers` tables; `None` without them.
    fn measured_densities(&self, p: &Experiment) -> Result<Option<MeasuredDensities>> {
        let Some(frame) = self.frame(&MASKS_LAYERS, p, &RUN_COLUMNS)? else {
            return Ok(None);
        };
        let df = collect(
            frame
                .group_by([col("method"), col("layer"), col("width")])
                .agg([
                    col("layer_density").mean().alias("mean"),
                    col("layer_density").std(1).alias("sd"),
                ])
                .sort(["method", "layer", "width"], SortMultipleOptions::default()),
            "layer densities",
        )?;
        Ok(Some(MeasuredDensities {
            method: strings(&df, "method")?,
            layer: f64s(&df, "layer")?,
            width: f64s(&df, "width")?,
            mean: f64s(&df, "mean")?,
            sd: f64s(&df, "sd")?
                .into_iter()
                .map(|v| if v.is_finite() { v } else { 0.0 })
                .collect(),
        }))
    }

    /// Layer `l`'s density against width, a line per method with its closed form dashed.
    fn layer_density_chart(
        &mut self,
        p: &Experiment,
        dir: &Path,
        l: u32,
        methods: &[String],
        measured: &MeasuredDensities,
        laws: &DensityLaws,
    ) -> Result<()> {
        let MeasuredDensities {
            width, mean, sd, ..
        } = measured;
        let lines = methods
            .iter()
            .filter_map(|m| {
                let at: Vec<usize> = measured.at(m, l).collect();
                (!at.is_empty()).then(|| Line {
                    name: m.clone(),
                    points: at.iter().map(|&i| (width[i], mean[i])).collect(),
                    band: at
                        .iter()
                        .map(|&i| (width[i], mean[i] - sd[i], mean[i] + sd[i]))
                        .collect(),
                    dashed: at
                        .iter()
                        .filter_map(|&i| laws.at(m, width[i], l).map(|d| (width[i], d)))
                        .collect(),
                })
            })
            .collect();
        let depth = p.sweep.depths[0].get();
        let chart = Chart {
            title: format!("{}: layer {l} ({}), density", p.name, layer_role(l, depth)),
            x_label: "hidden width n".into(),
            y_label: "kept weights / layer's weights (mean ± sd over seeds)".into(),
            lines,
            points_only: false,
        };
        self.figure(
            &chart,
            dir.join(format!("layer_density_layer{l}")),
            format!(
                "Layer {l} ({}): its density against width per method; a flat line is a layer \
                 whose kept share no longer moves, the precondition for its histograms to have \
                 one limit. Dashed: a closed form where one is known (Magnitude's, from the \
                 initial weights' law).",
                layer_role(l, depth)
            ),
        )
    }

    fn heatmaps(
        &mut self,
        p: &Experiment,
        runs: GraphonsRuns,
        dir: &Path,
        methods: &[String],
    ) -> Result<()> {
        let Some(frame) = self.frame(&GRAPHON_HISTOGRAMS, p, &RUN_COLUMNS)? else {
            self.missing("histograms");
            return Ok(());
        };
        let grids = seed_mean_grids(frame, runs)?;
        let k = runs.k;
        let widths = sorted_widths(p);
        let layers: BTreeSet<u32> = grids.keys().map(|k| k.0).collect();
        let depth = p.sweep.depths[0].get();
        let what = match runs.rescale {
            Rescale::None => "SAS histograms",
            Rescale::LayerDensity => "SAS histograms / layer density",
        };
        // Densities lie in [0, 1]. H / p has mean 1 and, where a method concentrates its
        // weights, values up to 1 / p: one scale for all methods would wash out every method
        // but the most concentrated, so each row (method) runs to its own largest value.
        let row_max = |l: u32| -> Vec<f64> {
            methods
                .iter()
                .map(|m| match runs.rescale {
                    Rescale::None => 1.0,
                    Rescale::LayerDensity => grids
                        .iter()
                        .filter(|((gl, gm, _), _)| *gl == l && gm == m)
                        .flat_map(|(_, g)| g.values.iter().copied())
                        .fold(0.0, f64::max)
                        .max(f64::MIN_POSITIVE),
                })
                .collect()
        };
        let legend = match runs.rescale {
            Rescale::None => "block density 0 (white) to 1 (dark); degree-sorted",
            Rescale::LayerDensity => "H / p from 0 (white) to the row's largest value (dark)",
        };
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
                title: format!("{}: layer {l} ({})", p.name, layer_role(l, depth)),
                row_labels: methods.to_vec(),
                col_labels: widths.iter().map(|w| format!("n = {w}")).collect(),
                cells,
                row_max: row_max(l),
                legend: legend.to_string(),
            };
            let scales = match runs.rescale {
                Rescale::None => String::new(),
                Rescale::LayerDensity => {
                    let maxima: Vec<String> = methods
                        .iter()
                        .zip(&figure.row_max)
                        .map(|(m, v)| format!("{m} {}", fmt(*v)))
                        .collect();
                    format!(" Each row's darkest value: {}.", maxima.join(", "))
                }
            };
            self.figure(
                &figure,
                dir.join(format!("heatmaps_layer{l}")),
                format!(
                    "Layer {l} ({}): seed-averaged {what}, K = {k} (rows: methods; columns: \
                     widths).{scales}",
                    layer_role(l, depth)
                ),
            )?;
        }
        if runs.rescale == Rescale::LayerDensity && layers.contains(&2) {
            self.rescaled_peaks(p, &grids, methods, &widths);
        }
        Ok(())
    }

    /// For rescaled histograms, the largest block of `H / p` per method and width in the first
    /// hidden layer: a bounded limit graphon keeps it bounded, while kept weights that gather
    /// on a vanishing block make it grow like `1 / p_n`, so that no bounded graphon is the
    /// limit however the distance to the largest width falls.
    fn rescaled_peaks(
        &mut self,
        p: &Experiment,
        grids: &BTreeMap<(u32, String, u32), Grid>,
        methods: &[String],
        widths: &[u32],
    ) {
        let (Some(&first), Some(&last)) =
            (p.sweep.widths.iter().min(), p.sweep.widths.iter().max())
        else {
            return;
        };
        let law = p.sweep.levels()[0].law();
        let peaks: Vec<String> = methods
            .iter()
            .map(|m| {
                let by_width: Vec<String> = widths
                    .iter()
                    .map(|&w| {
                        grids.get(&(2, m.clone(), w)).map_or("-".into(), |g| {
                            fmt(g.values.iter().copied().fold(0.0, f64::max))
                        })
                    })
                    .collect();
                format!("{m} {}", by_width.join(" / "))
            })
            .collect();
        self.blocks.push(Block::Paragraph(format!(
            "Largest block of H / p in layer 2 by width (n = {}): {}. A bounded limit graphon \
             keeps this bounded; weights that gather on a vanishing block make it grow like \
             1 / p_n, by {:.1}x from n = {first} to n = {last} here, and then no bounded \
             graphon is the limit however the distance to the largest width falls.",
            widths
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(" / "),
            peaks.join("; "),
            law.density(first) / law.density(last)
        )));
    }

    fn convergence(
        &mut self,
        p: &Experiment,
        runs: GraphonsRuns,
        dir: &Path,
        methods: &[String],
        measured: Option<&MeasuredDensities>,
    ) -> Result<()> {
        let Some(df) = self.convergence_frame(p, runs.k, runs.rescale)? else {
            self.missing("convergence tables");
            return Ok(());
        };
        let by_layer = distance_curves(&df)?;
        let mut rows = Vec::new();
        for (&l, per_method) in &by_layer {
            self.convergence_chart(p, dir, l, per_method, methods)?;
            for m in methods {
                if let Some(pts) = per_method.get(m) {
                    rows.push(
                        [format!("{l}"), m.clone()]
                            .into_iter()
                            .chain(pts.iter().map(|&CurvePoint { l2: (w, y, s), .. }| {
                                format!("n={w}: {} ± {}", fmt(y), fmt(s))
                            }))
                            .collect(),
                    );
                }
            }
        }
        let cases = e1::convergence_cases(&df, methods)?;
        self.convergence_verdicts(&cases, methods);
        self.paper_distances(&df, methods)?;
        self.noise_floors(&df, methods)?;
        // Ours: the L2 distance of the step graphons on every layer, input and output too.
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
        self.blocks.push(Block::Paragraph(
            "Ours, every layer (input and output too): the L2 distance of the two step \
             graphons, ||H_n - H_ref||_F / K, mean ± sd over seeds."
                .into(),
        ));
        self.blocks.push(Block::Table(header, rows));
        let statement = match runs.rescale {
            Rescale::None => Statement::Convergence,
            Rescale::LayerDensity => Statement::SparseConvergence,
        };
        self.claims
            .extend(e1::convergence(statement, &p.name, &cases));
        self.claims.extend(e1::chain_convergence(&p.name, &cases));
        if runs.rescale == Rescale::None {
            self.shapes(p, runs, methods, &cases, measured)?;
        }
        Ok(())
    }

    /// This part's convergence rows of histograms of `k` blocks compared as `rescale` says,
    /// sorted by method, layer and width: its level and settings only, since one store may hold
    /// groups of several. `None` without convergence runs.
    fn convergence_frame(
        &self,
        p: &Experiment,
        k: u32,
        rescale: Rescale,
    ) -> Result<Option<DataFrame>> {
        let Some(frame) = self.frame(&CONVERGENCE, p, &RUN_COLUMNS[..4])? else {
            return Ok(None);
        };
        let law = p.sweep.levels()[0].law();
        let filtered = frame
            .filter(
                col("k")
                    .eq(lit(k))
                    .and(col("rescale").eq(lit(rescale.name())))
                    .and(col("density_c").eq(lit(law.c)))
                    .and(col("density_a").eq(lit(law.a))),
            )
            .sort(["method", "layer", "width"], SortMultipleOptions::default());
        collect(filtered, "convergence").map(Some)
    }

    /// Ours (issue #28): the Cauchy chain of the shapes H / p beside the histograms', per
    /// hidden layer and method. A histogram still moving while its shape converges moves with
    /// its layer's density only (the density table above says how).
    fn shapes(
        &mut self,
        p: &Experiment,
        runs: GraphonsRuns,
        methods: &[String],
        histogram_cases: &[ConvergenceCase],
        measured: Option<&MeasuredDensities>,
    ) -> Result<()> {
        let Some(df) = self.convergence_frame(p, runs.k, Rescale::LayerDensity)? else {
            return Ok(());
        };
        let cases = e1::convergence_cases(&df, methods)?;
        let rows: Vec<Vec<String>> = cases
            .iter()
            .map(|c| {
                let histogram = histogram_cases
                    .iter()
                    .find(|h| h.layer == c.layer && h.method == c.method)
                    .map_or("–", |h| h.chain_verdict().word());
                let density = measured.map_or(String::new(), |m| {
                    let path: Vec<String> =
                        m.at(&c.method, c.layer).map(|i| fmt(m.mean[i])).collect();
                    path.join(" → ")
                });
                vec![
                    c.layer.to_string(),
                    c.method.clone(),
                    density,
                    c.links_text(),
                    c.chain_verdict().word().into(),
                    histogram.into(),
                ]
            })
            .collect();
        if rows.is_empty() {
            return Ok(());
        }
        self.blocks.push(Block::Paragraph(
            "Ours: shape and density apart. The layer's density by width (mean over seeds), and \
             the same Cauchy chain on each histogram divided by its layer's density (H / p, its \
             shape). A histogram still moving whose shape converges moves only with its layer's \
             density; a shape still moving is structure that has not settled."
                .into(),
        ));
        self.blocks.push(Block::Table(
            [
                "hidden layer",
                "method",
                "density by width",
                "shape H / p: D^2 between successive widths [95% CI]",
                "shape (ours)",
                "histogram (ours)",
            ]
            .map(String::from)
            .to_vec(),
            rows,
        ));
        Ok(())
    }

    /// The paper's distance to the largest width against width, for layer `l`, a line per
    /// method.
    fn convergence_chart(
        &mut self,
        p: &Experiment,
        dir: &Path,
        l: u32,
        per_method: &BTreeMap<String, Vec<CurvePoint>>,
        methods: &[String],
    ) -> Result<()> {
        let depth = p.sweep.depths[0].get();
        let lines = methods
            .iter()
            .filter_map(|m| per_method.get(m).map(|pts| (m, pts)))
            .map(|(m, pts)| Line {
                name: m.clone(),
                points: pts.iter().map(|c| (c.frobenius.0, c.frobenius.1)).collect(),
                band: pts
                    .iter()
                    .map(
                        |&CurvePoint {
                             frobenius: (w, y, s),
                             ..
                         }| (w, y - s, y + s),
                    )
                    .collect(),
                dashed: pts
                    .iter()
                    .filter(|c| c.noise_floor.is_finite())
                    .map(|c| (c.frobenius.0, c.noise_floor))
                    .collect(),
            })
            .collect();
        let chart = Chart {
            title: format!(
                "{}: layer {l} ({}), distance to the largest width",
                p.name,
                layer_role(l, depth)
            ),
            x_label: "hidden width n".into(),
            y_label: "||H_n - H_ref||_F, the paper's distance (mean ± sd over seeds)".into(),
            lines,
            points_only: false,
        };
        self.figure(
            &chart,
            dir.join(format!("convergence_layer{l}")),
            format!(
                "Layer {l} ({}): the paper's distance, the Frobenius norm of the histogram's \
                 difference to the seed-averaged histogram at the largest width; the band is \
                 ± one sd over seeds. Dashed, in each method's colour: its noise floor, the mean \
                 distance between two seeds' histograms at that width. Were a width's expected \
                 histogram the reference's, its distance would sit near 0.7 of the floor (one \
                 seed's noise against a seed mean's), and fall with it as 1 / n.",
                layer_role(l, depth)
            ),
        )
    }

    /// The claim per (hidden layer, method), and per method over its hidden layers.
    fn convergence_verdicts(&mut self, cases: &[ConvergenceCase], methods: &[String]) {
        if cases.is_empty() {
            return;
        }
        let rows = cases
            .iter()
            .map(|c| {
                let chain: Vec<String> = c.points.iter().map(|&(_, y, _)| fmt(y)).collect();
                let widths: Vec<String> = c.points.iter().map(|&(w, _, _)| w.to_string()).collect();
                let floor = c.links.last().map_or(f64::NAN, |l| l.noise_floor);
                vec![
                    c.layer.to_string(),
                    c.method.clone(),
                    format!("{}: {}", widths.join(" / "), chain.join(" / ")),
                    match paper_verdict([c]) {
                        Verdict::Supported => "yes",
                        Verdict::Refuted => "no",
                        Verdict::Inconclusive => "cannot tell (one width)",
                    }
                    .into(),
                    c.exceptions_text(),
                    c.links_text(),
                    fmt(floor),
                    c.chain_verdict().word().into(),
                ]
            })
            .collect();
        self.blocks.push(Block::Paragraph(format!(
            "Does the histogram converge? Two readings per hidden layer and method. The paper's: \
             does the seed-mean distance to the largest width fall monotonically (an exception \
             is a step up in width where it does not)? It falls from noise alone, since two \
             independent masks' histograms differ by about K sqrt(p(1-p)) / n. Ours, the Cauchy \
             chain: D^2, the bias-corrected squared distance between the expected histograms of \
             each width and the next smaller one, with its 95% seed-bootstrap interval (the \
             noise's share subtracted, so it may be negative). A case converges when the chain \
             falls (its last D^2 below its first, or no link ever above negligible) to a last \
             link whose interval reaches below ({NEGLIGIBLE_FRACTION} x the noise floor)^2; it \
             is still moving when the last link's interval lies above that; otherwise \
             undecided. Wider widths and more seeds narrow the intervals (`just reproduce 10`)."
        )));
        self.blocks.push(Block::Table(
            [
                "hidden layer",
                "method",
                "Frobenius distance by width",
                "falls monotonically? (paper)",
                "exceptions",
                "D^2 between successive widths [95% CI]",
                "noise floor at the largest width",
                "ours",
            ]
            .map(String::from)
            .to_vec(),
            rows,
        ));
        let per_method: Vec<String> = methods
            .iter()
            .filter_map(|m| {
                let mine: Vec<&ConvergenceCase> = cases.iter().filter(|c| c.method == *m).collect();
                let first = mine.first()?;
                let falling = mine.iter().filter(|c| c.falls()).count();
                let verdict = match paper_verdict(mine.iter().copied()) {
                    Verdict::Supported => "yes",
                    Verdict::Refuted => "no",
                    Verdict::Inconclusive => "cannot tell (one width below the largest)",
                };
                let (from, to) = (first.points.first()?, first.points.last()?);
                let ours = |v: ChainVerdict| mine.iter().filter(|c| c.chain_verdict() == v).count();
                Some(format!(
                    "{m}: paper's test {verdict}, {falling} of {} hidden layers fall (layer {}: \
                     {} at n = {} to {} at n = {}, {:.1}x smaller); ours: {} converge, {} still \
                     moving",
                    mine.len(),
                    first.layer,
                    fmt(from.1),
                    from.0,
                    fmt(to.1),
                    to.0,
                    from.1 / to.1,
                    ours(ChainVerdict::Converges),
                    ours(ChainVerdict::StillMoving),
                ))
            })
            .collect();
        self.blocks.push(Block::Paragraph(format!(
            "Per method: {}.",
            per_method.join("; ")
        )));
    }

    /// The paper's measure beside ours: the unnormalised Frobenius distance on the hidden
    /// layers only, with the cut distance's interval, per layer, method and width.
    fn paper_distances(&mut self, df: &DataFrame, methods: &[String]) -> Result<()> {
        let (method, layer, width) = (
            strings(df, "method")?,
            f64s(df, "layer")?,
            f64s(df, "width")?,
        );
        let (frobenius, frobenius_sd, low, high) = (
            f64s(df, "frobenius_mean")?,
            f64s(df, "frobenius_sd")?,
            f64s(df, "cut_low_mean")?,
            f64s(df, "cut_high_mean")?,
        );
        let rows: Vec<Vec<String>> = hidden_rows_below_reference(df, methods)?
            .into_iter()
            .map(|i| {
                vec![
                    format!("{}", layer[i] as u32),
                    method[i].clone(),
                    format!("{}", width[i] as u32),
                    format!("{} ± {}", fmt(frobenius[i]), fmt(frobenius_sd[i])),
                    format!("[{}, {}]", fmt(low[i]), fmt(high[i])),
                ]
            })
            .collect();
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

    /// Ours (issue #28): per hidden layer, method and width, the paper's distance beside the
    /// noise floor (two seeds' distance at that width) and the bias-corrected squared distance
    /// between the expected histograms, with its seed-bootstrap interval.
    fn noise_floors(&mut self, df: &DataFrame, methods: &[String]) -> Result<()> {
        let (method, layer, width) = (
            strings(df, "method")?,
            f64s(df, "layer")?,
            f64s(df, "width")?,
        );
        let (frobenius, floor) = (f64s(df, "frobenius_mean")?, f64s(df, "noise_floor")?);
        let (d2, low, high) = (
            f64s(df, "expected_sq_distance")?,
            f64s(df, "expected_sq_distance_low")?,
            f64s(df, "expected_sq_distance_high")?,
        );
        let rows: Vec<Vec<String>> = hidden_rows_below_reference(df, methods)?
            .into_iter()
            .map(|i| {
                let reading = if low[i].is_nan() || high[i].is_nan() {
                    "–"
                } else if low[i] > 0.0 {
                    "above the noise"
                } else {
                    "consistent with 0"
                };
                vec![
                    format!("{}", layer[i] as u32),
                    method[i].clone(),
                    format!("{}", width[i] as u32),
                    fmt(frobenius[i]),
                    fmt(floor[i]),
                    format!("{} [{}, {}]", fmt(d2[i]), fmt(low[i]), fmt(high[i])),
                    reading.to_string(),
                ]
            })
            .collect();
        if rows.is_empty() {
            return Ok(());
        }
        self.blocks.push(Block::Paragraph(
            "Ours: is the distance more than noise? The noise floor is the mean Frobenius \
             distance between two seeds' histograms at the same width: two independent masks are \
             that far apart with no difference in expectation. D^2 estimates the squared distance \
             between the expected histograms at this width and at the reference width without \
             the noise's bias (the squared distance of the seed means less each side's seed \
             variance over its seeds); it is negative when the widths differ by less than their \
             noise. Interval: 95% seed bootstrap. A paper's distance at or below the noise floor, \
             and a D^2 interval holding 0, say the histograms at this width are already the \
             reference's as far as these seeds can tell."
                .into(),
        ));
        self.blocks.push(Block::Table(
            [
                "hidden layer",
                "method",
                "width",
                "Frobenius distance (paper)",
                "noise floor",
                "D^2 to the reference [95% CI]",
                "reading",
            ]
            .map(String::from)
            .to_vec(),
            rows,
        ));
        Ok(())
    }

    /// The fraction of hidden neurons each method cuts off (no kept weight in or out), mean
    /// over seeds, per hidden layer and width: the paper's appendix figure 9 says SynFlow in
    /// 5-layer networks removes a large part of them.
    fn hidden_neurons(&mut self, p: &Experiment, methods: &[String]) -> Result<()> {
        let Some(frame) = self.frame(&GRAPHON_HIDDEN_NEURONS, p, &RUN_COLUMNS)? else {
            return Ok(());
        };
        // Histogram runs of other K of the same masks count the same neurons: once each.
        let keys = [
            "method",
            "width",
            "sparsity",
            "depth",
            "seed",
            "hidden_layer",
        ];
        let df = collect(
            frame
                .unique(Some(cols(keys)), UniqueKeepStrategy::First)
                .group_by([col("method"), col("hidden_layer"), col("width")])
                .agg([
                    col("removed_fraction").mean().alias("mean"),
                    col("removed_fraction").max().alias("max"),
                ])
                .sort(
                    ["method", "hidden_layer", "width"],
                    SortMultipleOptions::default(),
                ),
            "hidden neurons",
        )?;
        if df.height() == 0 {
            return Ok(());
        }
        let (method, layer, width) = (
            strings(&df, "method")?,
            f64s(&df, "hidden_layer")?,
            f64s(&df, "width")?,
        );
        let (mean, max) = (f64s(&df, "mean")?, f64s(&df, "max")?);
        let widths = sorted_widths(p);
        let rows = layer_rows(methods, &widths, (&method, &layer, &width), |i| {
            format!("{:.1}% (max {:.1}%)", 100.0 * mean[i], 100.0 * max[i])
        });
        let worst = (0..df.height()).max_by(|&a, &b| mean[a].total_cmp(&mean[b]));
        let mut text = "Hidden neurons cut off by the mask (no kept weight in, or none out), as a \
                        fraction of the width, mean over seeds (the largest over seeds in \
                        brackets); row h counts the neurons between layers h and h + 1. The \
                        paper notes that SynFlow in 5-layer networks removes many of them (its \
                        appendix figure 9)."
            .to_string();
        if let Some(i) = worst {
            text.push_str(&format!(
                " Most here: {} between layers {} and {} at n = {}, {:.1}%.",
                method[i],
                layer[i] as u32,
                layer[i] as u32 + 1,
                width[i] as u32,
                100.0 * mean[i]
            ));
        }
        self.blocks.push(Block::Paragraph(text));
        let mut header = vec!["neurons h".to_string(), "method".to_string()];
        header.extend(widths.iter().map(|w| format!("n = {w}")));
        self.blocks.push(Block::Table(header, rows));
        Ok(())
    }
}

/// The seed-averaged histograms of the experiment's K (min(K, n_rows) row blocks), scaled as
/// `runs.rescale` says, as grids by (layer, method, width).
fn seed_mean_grids(
    frame: LazyFrame,
    runs: GraphonsRuns,
) -> Result<BTreeMap<(u32, String, u32), Grid>> {
    // Histograms of this experiment's K: min(K, n_rows) row blocks.
    let k = runs.k;
    let k_rows = when(col("n_rows").lt(lit(k)))
        .then(col("n_rows"))
        .otherwise(lit(k));
    let value = match runs.rescale {
        Rescale::None => col("block_density"),
        // An empty layer stays zero, as in the convergence jobs.
        Rescale::LayerDensity => when(col("layer_density").eq(lit(0.0)))
            .then(lit(0.0))
            .otherwise(col("block_density") / col("layer_density")),
    };
    let frame = frame
        .filter(col("k_rows").eq(k_rows))
        .with_column(value.alias("shown"));
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
            .agg([col("shown").mean()])
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
        f64s(&df, "shown")?,
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
    Ok(grids)
}

/// Per layer and method: (width, Frobenius mean, sd) and (width, L2 mean, sd).
/// One width of a distance curve.
#[derive(Clone, Copy)]
struct CurvePoint {
    /// `(width, mean, sd)` over seeds of the paper's Frobenius distance to the reference.
    frobenius: MeanSd,
    /// The same of our L2 distance.
    l2: MeanSd,
    /// The mean Frobenius distance between two seeds at this width (NaN with one seed).
    noise_floor: f64,
}

/// Per layer and method, the curve's points by width.
type Curves = BTreeMap<u32, BTreeMap<String, Vec<CurvePoint>>>;

/// The distance curves of a convergence frame, below the reference width.
fn distance_curves(df: &DataFrame) -> Result<Curves> {
    let (method, layer, width) = (
        strings(df, "method")?,
        f64s(df, "layer")?,
        f64s(df, "width")?,
    );
    let (frobenius, frobenius_sd, l2, l2_sd, reference) = (
        f64s(df, "frobenius_mean")?,
        f64s(df, "frobenius_sd")?,
        f64s(df, "l2_mean")?,
        f64s(df, "l2_sd")?,
        f64s(df, "reference_width")?,
    );
    let noise_floor = f64s(df, "noise_floor")?;
    let mut by_layer: Curves = BTreeMap::new();
    for i in (0..df.height()).filter(|&i| width[i] < reference[i]) {
        by_layer
            .entry(layer[i] as u32)
            .or_default()
            .entry(method[i].clone())
            .or_default()
            .push(CurvePoint {
                frobenius: (width[i], frobenius[i], frobenius_sd[i]),
                l2: (width[i], l2[i], l2_sd[i]),
                noise_floor: noise_floor[i],
            });
    }
    Ok(by_layer)
}

/// The rows of a convergence frame that the paper reads: hidden layers at widths below the
/// reference, each method's in `methods`' order (frame order within a method).
fn hidden_rows_below_reference(df: &DataFrame, methods: &[String]) -> Result<Vec<usize>> {
    let method = strings(df, "method")?;
    let hidden = bools(df, "hidden")?;
    let (width, reference) = (f64s(df, "width")?, f64s(df, "reference_width")?);
    Ok(methods
        .iter()
        .flat_map(|m| {
            (0..df.height())
                .filter(|&i| hidden[i] && method[i] == *m && width[i] < reference[i])
                .collect::<Vec<_>>()
        })
        .collect())
}

/// The sweep's widths, ascending.
fn sorted_widths(p: &Experiment) -> Vec<u32> {
    let mut widths: Vec<u32> = p.sweep.widths.iter().map(|w| w.get()).collect();
    widths.sort_unstable();
    widths
}

/// A table's rows of one value per (layer, method) and width: for each method in `methods`'
/// order, each of its layers, then `cell(i)` of the frame row `i` at each width (empty where
/// there is none). `keys` are the frame's method, layer and width columns.
fn layer_rows(
    methods: &[String],
    widths: &[u32],
    keys: (&[String], &[f64], &[f64]),
    cell: impl Fn(usize) -> String,
) -> Vec<Vec<String>> {
    let (method, layer, width) = keys;
    let mut rows = Vec::new();
    for m in methods {
        let layers: BTreeSet<u32> = (0..method.len())
            .filter(|&i| method[i] == *m)
            .map(|i| layer[i] as u32)
            .collect();
        for l in layers {
            let mut row = vec![l.to_string(), m.clone()];
            row.extend(widths.iter().map(|&w| {
                (0..method.len())
                    .find(|&i| method[i] == *m && layer[i] as u32 == l && width[i] as u32 == w)
                    .map_or(String::new(), &cell)
            }));
            rows.push(row);
        }
    }
    rows
}

/// Measured layer densities, one row per (method, layer, width): mean and sd over seeds (sd 0
/// for one seed).
struct MeasuredDensities {
    method: Vec<String>,
    layer: Vec<f64>,
    width: Vec<f64>,
    mean: Vec<f64>,
    sd: Vec<f64>,
}

impl MeasuredDensities {
    /// The rows of `method`'s layer `l`, by width.
    fn at<'a>(&'a self, method: &'a str, l: u32) -> impl Iterator<Item = usize> + 'a {
        (0..self.method.len())
            .filter(move |&i| self.method[i] == method && self.layer[i] as u32 == l)
    }
}

/// The closed-form layer densities of one part's (depth, level).
struct DensityLaws<'a>(Vec<&'a LayerDensityLaw>);

impl<'a> DensityLaws<'a> {
    fn of_part(p: &'a Experiment) -> Self {
        let (depth, level) = (p.sweep.depths[0].get(), p.sweep.levels()[0]);
        DensityLaws(
            p.layer_density_laws
                .iter()
                .filter(|law| law.depth == depth && law.level == level)
                .collect(),
        )
    }

    /// Method `m`'s closed-form density of layer `l` at width `w`.
    fn at(&self, m: &str, w: f64, l: u32) -> Option<f64> {
        self.0
            .iter()
            .find(|law| law.method.name() == m && f64::from(law.width) == w)
            .and_then(|law| law.densities.get(l as usize - 1).copied())
    }

    /// Its limit as the width grows.
    fn limit(&self, m: &str, l: u32) -> Option<f64> {
        self.0
            .iter()
            .find(|law| law.method.name() == m)
            .and_then(|law| law.limit.as_ref())
            .and_then(|limit| limit.get(l as usize - 1).copied())
    }

    /// The density table's rows of the closed forms: `<method> (closed form)` per layer, a
    /// value per width and the limit.
    fn rows(&self, layers: &BTreeSet<u32>, widths: &[u32]) -> Vec<Vec<String>> {
        let methods: BTreeSet<&str> = self.0.iter().map(|law| law.method.name()).collect();
        let mut rows = Vec::new();
        for m in methods {
            for &l in layers {
                let mut row = vec![l.to_string(), format!("{m} (closed form)")];
                row.extend(
                    widths
                        .iter()
                        .map(|&w| self.at(m, f64::from(w), l).map_or(String::new(), fmt)),
                );
                row.push(self.limit(m, l).map_or("–".into(), fmt));
                rows.push(row);
            }
        }
        rows
    }
}
