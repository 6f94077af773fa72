//! The E3 section's metrics that see the masks (issue #29): every kernel with per-seed values
//! (our mask-level kernel, and each graphon_ntk kernel's seed kernels) in each view (as is,
//! centred, top eigenpair removed), with how many of each metric's differences from Random
//! lie beyond seed noise ([`crate::experiments::e3::views`]) and which component the view's
//! top eigenvector is. Draws our mask-level kernel's centred metrics against sparsity beside
//! the as-is panels.

use super::graphon_ntk::of_these_runs;
use super::paper_e3::{seed_values, view_label};
use crate::claims::Statement;
use crate::claims::{Reading, fmt};
use crate::document::Block;
use crate::experiment::Experiment;
use crate::experiments::e3::paper::{KERNEL_METRICS, kernel_claims};
use crate::experiments::e3::views::separation;
use crate::report::{Builder, collect};
use crate::tables::{SweepColumn, f64s, in_sweep, in_view, of_kernel};
use glh_artifacts::Result;
use glh_artifacts::config::{KernelKind, KernelView, PruneMethod};
use glh_artifacts::schemas::{GRAPHON_NTK_SEED_METRICS, NTK_METRICS};
use polars::prelude::*;
use std::path::Path;

/// The kernels with one value per seed: their reading and their `kernel` column.
const SEEDED_KERNELS: [(Reading, KernelKind); 4] = [
    (Reading::DrawnMaskKernel, KernelKind::Drawn),
    (Reading::GraphonKernel, KernelKind::Graphon),
    (Reading::SharedOrderKernel, KernelKind::SharedOrder),
    (Reading::OurMaskKernel, KernelKind::Mask),
];

/// The paper's trend claims the views table reads on each view.
const TREND_CLAIMS: [Statement; 3] = [
    Statement::ConcentrationRisesWithSparsity,
    Statement::RankAndGapFallWithSparsity,
    Statement::RankAndGapBelowRandom,
];

impl Builder<'_> {
    /// The views table of an E3-shaped experiment, per depth, and our mask-level kernel's
    /// centred panels.
    pub(crate) fn kernel_views(&mut self, p: &Experiment, dir: &Path) -> Result<()> {
        let methods: Vec<&str> = p
            .sweep
            .methods
            .iter()
            .filter(|m| PruneMethod::SCORED.contains(m) && **m != PruneMethod::Random)
            .map(|m| m.name())
            .collect();
        if methods.is_empty() || !p.sweep.methods.contains(&PruneMethod::Random) {
            return Ok(());
        }
        let sparsities: Vec<f64> = p.sweep.sparsities.iter().map(|s| s.value()).collect();
        let (b, seed) = (self.settings.bootstrap, self.settings.seed);
        let mut rows = Vec::new();
        let mut centred_panels = Vec::new();
        for depth in p.sweep.depths.iter().map(|d| d.get()) {
            for (reading, kind) in SEEDED_KERNELS {
                let Some(df) = self.seeded_kernel_frame(p, depth, kind)? else {
                    continue;
                };
                for view in KernelView::ALL {
                    let in_this_view = collect(in_view(df.clone().lazy(), view), "kernel metrics")?;
                    if in_this_view.height() == 0 {
                        continue;
                    }
                    let cos = f64s(&in_this_view, "top_eigvec_mean_image_cos")?;
                    let mean = cos.iter().sum::<f64>() / cos.len() as f64;
                    let (low, high) = cos
                        .iter()
                        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &c| {
                            (l.min(c), h.max(c))
                        });
                    let mut row = vec![
                        depth.to_string(),
                        reading.label().to_string(),
                        view_label(view).to_string(),
                        format!("{} [{}, {}]", fmt(mean), fmt(low), fmt(high)),
                    ];
                    for metric in KERNEL_METRICS {
                        let sample = seed_values(&in_this_view, &[metric], true)?;
                        row.push(separation(&sample, &methods, &sparsities, b, seed).count_text());
                    }
                    // The paper's trend claims read on this view (estimate: the seed means).
                    let sample = seed_values(&in_this_view, &KERNEL_METRICS, true)?;
                    let claims = kernel_claims(&p.name, reading, &sample, &sample.means(), b, seed);
                    for statement in TREND_CLAIMS {
                        row.push(
                            claims
                                .iter()
                                .find(|c| c.statement == statement)
                                .and_then(|c| {
                                    let s = c.statistic.as_ref()?;
                                    Some(format!("{}: {}", c.verdict.word(), fmt(s.estimate)))
                                })
                                .unwrap_or_else(|| "no statistic".into()),
                        );
                    }
                    rows.push(row);
                    if kind == KernelKind::Mask && view == KernelView::Centred {
                        centred_panels.push((depth, sample));
                    }
                }
            }
        }
        if rows.is_empty() {
            return Ok(());
        }
        self.blocks.push(Block::Heading(
            3,
            "Metrics that see the masks: the kernels without their shared component".into(),
        ));
        self.blocks.push(Block::Paragraph(format!(
            "On standardised images every input shares the mean image, and a kernel's top \
             eigenvalue follows that shared component, which can make top-5 energy and the \
             spectral gap measure the data rather than the mask. Each kernel with one value per \
             seed is read as is, centred (H K H, H = I - 11^T / N: the mean over the images \
             removed) and with its top eigenpair removed (spectrum l_2 .. l_N). The cosine \
             column says which component each view's top eigenvector is: its |cosine| with the \
             images' projections on their mean image (near 1: the shared mean image), mean \
             [min, max] over the runs. Each metric column counts the (method, sparsity) cells \
             of {} against Random whose difference S(method) - S(random) has a 95% \
             seed-bootstrap interval ({} resamples of whole seeds) excluding 0: the methods \
             differ beyond seed noise where the count is high. With 3 seeds a bootstrap has \
             only 10 distinct resamples, so a count of 0 can be a lack of resolution. The last \
             columns read the paper's trend claims (b) and (c) (their statistics are the claims \
             table's) on the view: the verdict and the estimate on the seed means.",
            methods.join(", "),
            b
        )));
        let mut header: Vec<String> = [
            "L",
            "kernel",
            "view",
            "top eigenvector: cosine with the mean image (abs.)",
        ]
        .map(String::from)
        .to_vec();
        header.extend(
            ["top-5 energy", "trace / l_1", "l_1 / l_2", "decay exponent"]
                .map(|m| format!("{m}: cells beyond noise")),
        );
        header.extend(
            [
                "(b) on this view",
                "(c) on this view",
                "(c) against Random on this view",
            ]
            .map(String::from),
        );
        self.blocks.push(Block::Table(header, rows));
        for (depth, sample) in centred_panels {
            self.mask_kernel_panels(p, &sample, depth, KernelView::Centred, dir)?;
        }
        Ok(())
    }

    /// One kernel's per-seed metrics at one depth in every view, or `None` where the
    /// experiment has none: the ntk stage's `metrics` for our mask-level kernel, the
    /// graphon_ntk stage's `seed_metrics` at its first sigma_w^2 for the others.
    fn seeded_kernel_frame(
        &self,
        p: &Experiment,
        depth: u32,
        kind: KernelKind,
    ) -> Result<Option<DataFrame>> {
        let frame = if kind == KernelKind::Mask {
            self.e3_frame(&NTK_METRICS, p, depth)?
        } else {
            let Some(runs) = p.graphon_ntk else {
                return Ok(None);
            };
            self.e3_frame(&GRAPHON_NTK_SEED_METRICS, p, depth)?
                .map(|f| {
                    of_these_runs(f, runs).filter(col("sigma_w2").eq(lit(runs.first_sigma_w2)))
                })
        };
        let Some(frame) = frame else {
            return Ok(None);
        };
        let frame = in_sweep(of_kernel(frame, kind), &p.sweep, &[SweepColumn::Seed]);
        let df = collect(frame, "kernel metrics by view")?;
        // Every view of a kernel is there or none is.
        Ok((df.height() > 0).then_some(df))
    }
}
