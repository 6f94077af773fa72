//! The report's controls section (ours, issue #29): where a pipeline trains a method beside
//! Random and both its controls (`shuffled:<method>`, `rewired:<method>`), its early-speed
//! advantage over Random per sparsity split into the per-layer densities' part, the degrees'
//! and the rest of the structure's (`crate::experiments::e3::controls`), and the verdict on
//! "the graphon matters beyond the density profile"; the same split of the mask-level
//! kernel's trace and the paper's four metrics.

use super::paper_e3::{at_depth_and_widest, seed_values};
use crate::claims::{fmt, interval};
use crate::document::Block;
use crate::experiment::Experiment;
use crate::experiments::e3::controls::{Decomposition, decompose, graphon_matters};
use crate::report::{Builder, RUN_COLUMNS, collect};
use crate::tables::{in_view, of_kernel};
use glh_artifacts::Result;
use glh_artifacts::config::{KernelKind, KernelView, PruneMethod};
use glh_artifacts::schema::TableSchema;
use glh_artifacts::schemas::{NTK_METRICS, TRAINING_SUMMARY};

/// What a decomposition splits: a name, the table and column it reads, and for the kernels'
/// table (whose mask-level rows are read) the view of the kernel. The centred top-5 energy and
/// decay exponent are the metrics that still separate the methods once the component every
/// image shares is gone (`sections::kernel_views`).
const MEASURES: [(&str, &TableSchema, &str, KernelView); 8] = [
    (
        "mean training loss",
        &TRAINING_SUMMARY,
        "mean_train_loss",
        KernelView::AsIs,
    ),
    (
        "kernel trace / dense",
        &NTK_METRICS,
        "trace_ratio_to_dense",
        KernelView::AsIs,
    ),
    (
        "top-5 energy",
        &NTK_METRICS,
        "top5_energy",
        KernelView::AsIs,
    ),
    (
        "trace / l_1",
        &NTK_METRICS,
        "effective_rank_trace",
        KernelView::AsIs,
    ),
    ("l_1 / l_2", &NTK_METRICS, "ratio_1_2", KernelView::AsIs),
    (
        "decay exponent",
        &NTK_METRICS,
        "decay_exponent",
        KernelView::AsIs,
    ),
    (
        "top-5 energy, centred",
        &NTK_METRICS,
        "top5_energy",
        KernelView::Centred,
    ),
    (
        "decay exponent, centred",
        &NTK_METRICS,
        "decay_exponent",
        KernelView::Centred,
    ),
];

impl Builder<'_> {
    pub(crate) fn controls(&mut self, p: &Experiment) -> Result<()> {
        let bases = controlled_methods(p);
        if bases.is_empty() {
            return Ok(());
        }
        let (b, seed) = (self.settings.bootstrap, self.settings.seed);
        let mut rows = Vec::new();
        for depth in p.sweep.depths.iter().map(|d| d.get()) {
            for (measure, table, column, view) in MEASURES {
                let Some(frame) = self.frame(table, p, &RUN_COLUMNS)? else {
                    continue;
                };
                let frame = if table.stage == NTK_METRICS.stage {
                    of_kernel(in_view(frame, view), KernelKind::Mask)
                } else {
                    frame
                };
                let df = collect(at_depth_and_widest(frame, p, depth), measure)?;
                let sample = seed_values(&df, &[column], true)?;
                for base in &bases {
                    let decompositions: Vec<Decomposition> = p
                        .sweep
                        .sparsities
                        .iter()
                        .filter_map(|s| decompose(&sample, base.name(), s.value(), b, seed))
                        .collect();
                    rows.extend(decompositions.iter().map(|d| {
                        let mut row = vec![
                            depth.to_string(),
                            measure.to_string(),
                            d.method.clone(),
                            fmt(d.sparsity),
                        ];
                        let parts = [&d.total, &d.density, &d.degrees, &d.structure];
                        row.extend(parts.into_iter().map(interval));
                        row.push(interval(&d.beyond_density));
                        row
                    }));
                    // The verdict is on speed; the kernel metrics show where it comes from.
                    if table.stage == TRAINING_SUMMARY.stage {
                        let name = format!("{} (L = {depth})", p.name);
                        self.claims.extend(graphon_matters(&name, &decompositions));
                    }
                }
            }
        }
        if rows.is_empty() {
            return Ok(());
        }
        self.blocks.push(Block::Heading(
            3,
            format!("Graphon or density profile? {}", p.name),
        ));
        self.blocks.push(Block::Paragraph(
            "Ours: for each measure S (mean over seeds), each method's difference from Random \
             (S(random) - S(method); for the mean training loss, above 0 is faster) split by its \
             controls into three parts that sum to it: the per-layer densities' (S(random) - \
             S(shuffled)), what the neurons' degrees add (S(shuffled) - S(rewired)) and what the \
             rest of the structure adds (S(rewired) - S(method)). The kernel measures are our \
             mask-level kernel's, as is, and centred (H K H) where named. Estimates with 95% seed-bootstrap intervals (whole seeds \
             resampled). The last column, degrees and structure together, is what the graphon \
             adds beyond the density profile."
                .into(),
        ));
        self.blocks.push(Block::Table(
            [
                "L",
                "measure",
                "method",
                "sparsity",
                "difference from Random",
                "densities",
                "degrees",
                "rest of the structure",
                "beyond the densities",
            ]
            .map(String::from)
            .to_vec(),
            rows,
        ));
        Ok(())
    }
}

/// The scoring methods other than Random that the sweep runs with both their controls, if it
/// runs Random too.
fn controlled_methods(p: &Experiment) -> Vec<PruneMethod> {
    let methods = &p.sweep.methods;
    if !methods.contains(&PruneMethod::Random) {
        return Vec::new();
    }
    PruneMethod::SCORED
        .iter()
        .filter(|&&m| m != PruneMethod::Random && methods.contains(&m))
        .filter(|&m| {
            methods.contains(&PruneMethod::Shuffled(m))
                && methods.contains(&PruneMethod::Rewired(m))
        })
        .copied()
        .collect()
}
