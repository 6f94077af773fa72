//! The report's controls section (ours, issue #29): where a pipeline trains a method beside
//! Random and both its controls (`shuffled:<method>`, `rewired:<method>`), its early-speed
//! advantage over Random per sparsity split into the per-layer densities' part, the degrees'
//! and the rest of the structure's (`crate::experiments::e3::controls`), and the verdict on
//! "the graphon matters beyond the density profile".

use super::paper_e3::{at_depth_and_widest, seed_values};
use crate::claims::{fmt, interval};
use crate::document::Block;
use crate::experiment::Experiment;
use crate::experiments::e3::controls::{Decomposition, decompose, graphon_matters};
use crate::report::{Builder, RUN_COLUMNS, collect};
use glh_artifacts::Result;
use glh_artifacts::config::PruneMethod;
use glh_artifacts::schemas::TRAINING_SUMMARY;

impl Builder<'_> {
    pub(crate) fn controls(&mut self, p: &Experiment) -> Result<()> {
        let methods = &p.sweep.methods;
        // The scoring methods whose two controls the sweep trains too, Random aside.
        let bases: Vec<PruneMethod> = PruneMethod::SCORED
            .iter()
            .enumerate()
            .filter(|(_, m)| **m != PruneMethod::Random && methods.contains(m))
            .filter(|(i, _)| {
                methods.contains(&PruneMethod::Shuffled(&PruneMethod::SCORED[*i]))
                    && methods.contains(&PruneMethod::Rewired(&PruneMethod::SCORED[*i]))
            })
            .map(|(_, m)| *m)
            .collect();
        if bases.is_empty() || !methods.contains(&PruneMethod::Random) {
            return Ok(());
        }
        let Some(summary) = self.frame(&TRAINING_SUMMARY, p, &RUN_COLUMNS)? else {
            return Ok(());
        };
        let (b, seed) = (self.settings.bootstrap, self.settings.seed);
        let mut rows = Vec::new();
        for depth in p.sweep.depths.iter().map(|d| d.get()) {
            let df = collect(
                at_depth_and_widest(summary.clone(), p, depth),
                "training summary",
            )?;
            let sample = seed_values(&df, &["mean_train_loss"], true)?;
            for base in &bases {
                let decompositions: Vec<Decomposition> = p
                    .sweep
                    .sparsities
                    .iter()
                    .filter_map(|s| decompose(&sample, base.name(), s.value(), b, seed))
                    .collect();
                for d in &decompositions {
                    rows.push(vec![
                        depth.to_string(),
                        d.method.clone(),
                        fmt(d.sparsity),
                        interval(&d.total),
                        interval(&d.density),
                        interval(&d.degrees),
                        interval(&d.structure),
                        interval(&d.beyond_density),
                    ]);
                }
                let name = format!("{} (L = {depth})", p.name);
                self.claims.extend(graphon_matters(&name, &decompositions));
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
            "Ours: each method's early-speed advantage over Random (S(random) - S(method), S the \
             mean training loss over all steps, mean over seeds; above 0 is faster) split by its \
             controls into three parts that sum to it: the per-layer densities' (S(random) - \
             S(shuffled)), what the neurons' degrees add (S(shuffled) - S(rewired)) and what the \
             rest of the structure adds (S(rewired) - S(method)). Estimates with 95% seed-\
             bootstrap intervals (whole seeds resampled). The last column, degrees and structure \
             together, is what the graphon adds beyond the density profile."
                .into(),
        ));
        self.blocks.push(Block::Table(
            [
                "L",
                "method",
                "sparsity",
                "advantage over Random",
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
