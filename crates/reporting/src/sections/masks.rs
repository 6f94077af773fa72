//! The report's masks section for pipelines that do not analyse graphons (E3): each layer's
//! density per method and sparsity, mean ± sd over seeds. Under global ranking the methods
//! differ first in how they share the kept weights out among the layers; this table is what a
//! per-layer density profile (the `shuffled` control) keeps of a method (issue #29).

use crate::claims::fmt;
use crate::document::Block;
use crate::experiment::Experiment;
use crate::report::{Builder, RUN_COLUMNS, collect};
use crate::tables::{f64s, strings};
use glh_artifacts::Result;
use glh_artifacts::schemas::MASKS_LAYERS;
use polars::prelude::*;
use std::collections::BTreeSet;

impl Builder<'_> {
    pub(crate) fn masks_by_sparsity(&mut self, p: &Experiment) -> Result<()> {
        let Some(frame) = self.frame(&MASKS_LAYERS, p, &RUN_COLUMNS)? else {
            return Ok(());
        };
        let df = collect(
            frame
                .group_by([col("method"), col("depth"), col("layer"), col("sparsity")])
                .agg([
                    col("layer_density").mean().alias("mean"),
                    col("layer_density").std(1).alias("sd"),
                ])
                .sort(
                    ["depth", "method", "layer", "sparsity"],
                    SortMultipleOptions::default(),
                ),
            "layer densities by sparsity",
        )?;
        let (method, depth, layer) = (
            strings(&df, "method")?,
            f64s(&df, "depth")?,
            f64s(&df, "layer")?,
        );
        let (sparsity, mean, sd) = (f64s(&df, "sparsity")?, f64s(&df, "mean")?, f64s(&df, "sd")?);
        let mut sparsities: Vec<f64> = sparsity.clone();
        sparsities.sort_by(f64::total_cmp);
        sparsities.dedup();
        let depths: BTreeSet<u32> = depth.iter().map(|&d| d as u32).collect();
        let mut rows = Vec::new();
        for d in depths {
            for m in p.sweep.methods.iter().map(|m| m.name()) {
                let layers: BTreeSet<u32> = (0..df.height())
                    .filter(|&i| method[i] == m && depth[i] as u32 == d)
                    .map(|i| layer[i] as u32)
                    .collect();
                for l in layers {
                    let mut row = vec![d.to_string(), l.to_string(), m.to_string()];
                    row.extend(sparsities.iter().map(|&s| {
                        (0..df.height())
                            .find(|&i| {
                                method[i] == m
                                    && depth[i] as u32 == d
                                    && layer[i] as u32 == l
                                    && sparsity[i] == s
                            })
                            .map_or(String::new(), |i| {
                                let sd = if sd[i].is_finite() { sd[i] } else { 0.0 };
                                format!("{} ± {}", fmt(mean[i]), fmt(sd))
                            })
                    }));
                    rows.push(row);
                }
            }
        }
        if rows.is_empty() {
            return Ok(());
        }
        self.blocks.push(Block::Heading(
            3,
            format!("Per-layer densities: {}", p.name),
        ));
        self.blocks.push(Block::Paragraph(
            "Ours: each layer's density (kept weights over the layer's weights) per method and \
             sparsity, mean ± sd over seeds. At one global sparsity the methods share the kept \
             weights out among the layers differently; a control that keeps these densities \
             and nothing else (`shuffled:<method>`) separates their effect from the graphon's."
                .into(),
        ));
        let mut header = ["L", "layer", "method"].map(String::from).to_vec();
        header.extend(sparsities.iter().map(|s| format!("sparsity {}", fmt(*s))));
        self.blocks.push(Block::Table(header, rows));
        Ok(())
    }
}
