//! The report's `[ntk]` section: the mask-level kernel's metrics table, its spectra against
//! the dense NTK's scaled by the product of layer densities, normalised spectra per method and
//! sparsity, and the c^L and energy-concentration claims.

use crate::claims::fmt;
use crate::document::Block;
use crate::experiment::Experiment;
use crate::experiments::e2;
use crate::figures::{Chart, Line};
use crate::report::{Builder, RUN_COLUMNS, Spectrum, collect};
use crate::tables::{f64s, in_view, of_kernel, polars_error, strings};
use glh_artifacts::Result;
use glh_artifacts::config::{Classifier, KernelKind, KernelView};
use glh_artifacts::schemas::{NTK_METRICS, NTK_SPECTRA};
use polars::prelude::*;
use std::collections::BTreeMap;
use std::path::Path;

impl Builder<'_> {
    pub(crate) fn ntk(&mut self, p: &Experiment, dir: &Path) -> Result<()> {
        self.blocks.push(Block::Heading(
            3,
            format!("Graphon NTK spectra: {}", p.name),
        ));
        let Some(frame) = self.frame(&NTK_METRICS, p, &RUN_COLUMNS)? else {
            self.missing("kernel metrics");
            return Ok(());
        };
        let df = collect(
            of_kernel(in_view(frame, KernelView::AsIs), KernelKind::Mask)
                .group_by([col("method"), col("sparsity"), col("depth")])
                .agg([
                    len().alias("runs"),
                    col("density_product").mean(),
                    col("trace_ratio_to_dense").mean(),
                    col("rel_error_to_scaled_dense").mean(),
                    col("top5_energy").mean(),
                    col("top5_energy").std(1).alias("top5_sd"),
                    col("effective_rank_entropy").mean(),
                    col("effective_rank_trace").mean(),
                    col("decay_exponent").mean(),
                    col("negative_count").max(),
                ])
                .sort(
                    ["depth", "sparsity", "method"],
                    SortMultipleOptions::default(),
                ),
            "metrics",
        )?;
        let get = |c: &str| f64s(&df, c);
        let (method, sparsity, depth) = (strings(&df, "method")?, get("sparsity")?, get("depth")?);
        let (runs, product, ratio, err) = (
            get("runs")?,
            get("density_product")?,
            get("trace_ratio_to_dense")?,
            get("rel_error_to_scaled_dense")?,
        );
        let rank_trace = get("effective_rank_trace")?;
        let (top5, top5_sd, rank, decay, negative) = (
            get("top5_energy")?,
            get("top5_sd")?,
            get("effective_rank_entropy")?,
            get("decay_exponent")?,
            get("negative_count")?,
        );
        let masked: Vec<f64> = depth
            .iter()
            .map(|&d| f64::from(p.classifier.masked_layers(d as u32)))
            .collect();
        let rows = (0..df.height())
            .map(|i| {
                let c = 1.0 - sparsity[i];
                vec![
                    method[i].clone(),
                    format!("{}", depth[i]),
                    format!("{}", masked[i]),
                    fmt(sparsity[i]),
                    format!("{}", runs[i]),
                    fmt(c.powf(masked[i])),
                    fmt(product[i]),
                    fmt(ratio[i]),
                    fmt(err[i]),
                    format!("{} ± {}", fmt(top5[i]), fmt(top5_sd[i])),
                    fmt(rank[i]),
                    fmt(rank_trace[i]),
                    fmt(decay[i]),
                    format!("{}", negative[i]),
                ]
            })
            .collect();
        self.blocks.push(Block::Paragraph(
            "Mask-level Graphon NTK on the kernel images, mean over seeds. The c^L law predicts \
             trace ratio = c^L (exactly: the product of the layer densities), L counting the \
             masked Linear layers: every layer of the network unless its classifier is left \
             dense (`[masks] classifier = \"dense\"`). The paper's L counts hidden layers, so \
             with all its L + 1 weight layers masked its factor is c^(L+1); its c^L holds exactly \
             in the network with a dense classifier (METHOD.md section 8)."
                .into(),
        ));
        self.blocks.push(Block::Table(
            [
                "method",
                "Linear layers",
                "masked layers L",
                "sparsity",
                "runs",
                "c^L",
                "prod c_l",
                "trace / dense",
                "rel. error vs prod c_l x dense",
                "top-5 energy",
                "effective rank (entropy, ours)",
                "effective rank (trace / l_1, paper)",
                "decay exponent",
                "max negative eigenvalues",
            ]
            .map(String::from)
            .to_vec(),
            rows,
        ));
        let with_masked = df
            .clone()
            .with_column(Column::new("masked_layers".into(), masked))
            .map_err(polars_error("masked_layers"))?
            .clone();
        self.claims.extend(e2::power_law(&p.name, &with_masked)?);
        self.spectra(p, dir, &method, &sparsity, &top5)
    }

    pub(crate) fn spectra(
        &mut self,
        p: &Experiment,
        dir: &Path,
        method: &[String],
        sparsity: &[f64],
        top5: &[f64],
    ) -> Result<()> {
        let Some(frame) = self.frame(&NTK_SPECTRA, p, &RUN_COLUMNS)? else {
            return Ok(());
        };
        let df = collect(
            frame
                .filter(
                    col("kernel")
                        .eq(lit(KernelKind::Mask.name()))
                        .or(col("kernel").eq(lit(KernelKind::Dense.name()))),
                )
                .group_by([
                    col("method"),
                    col("sparsity"),
                    col("depth"),
                    col("kernel"),
                    col("rank"),
                ])
                .agg([col("eigenvalue").mean()])
                .sort(
                    ["sparsity", "method", "kernel", "rank"],
                    SortMultipleOptions::default(),
                ),
            "spectra",
        )?;
        let curves = mean_spectra(&df)?;
        let lines = random_against_scaled_dense(&curves, p.classifier);
        if !lines.is_empty() {
            let chart = Chart {
                title: format!("{}: Random-pruned Graphon NTK vs c^L x dense", p.name),
                x_label: "log10(rank)".into(),
                y_label: "log10(eigenvalue), mean over seeds".into(),
                lines,
                points_only: false,
            };
            self.figure(&chart, dir.join("spectra_random_vs_scaled_dense"), "Eigenvalues of the mask-level Graphon NTK of Random pruning beside c^L times the dense NTK's (each pair should overlap).".into())?;
        }
        // Every method: spectra normalised by their trace, one figure per sparsity.
        let sparsities: std::collections::BTreeSet<u64> = curves.keys().map(|k| k.0).collect();
        for s_bits in sparsities {
            let lines: Vec<Line> = curves
                .iter()
                .filter(|((sb, _, k), _)| *sb == s_bits && k == KernelKind::Mask.name())
                .map(|((_, m, _), (_, pts))| {
                    let total: f64 = pts.iter().map(|q| q.1).sum();
                    Line {
                        dashed: Vec::new(),
                        name: m.clone(),
                        points: pts
                            .iter()
                            .filter(|q| q.1 > 0.0)
                            .map(|&(r, v)| (r.log10(), (v / total).log10()))
                            .collect(),
                        band: vec![],
                    }
                })
                .collect();
            let s_value = f64::from_bits(s_bits);
            let chart = Chart {
                title: format!(
                    "{}: Graphon NTK spectra at sparsity {}",
                    p.name,
                    fmt(s_value)
                ),
                x_label: "log10(rank)".into(),
                y_label: "log10(eigenvalue / trace), mean over seeds".into(),
                lines,
                points_only: false,
            };
            self.figure(&chart, dir.join(format!("spectra_s{s_value}")), format!("Normalised eigenvalues of the mask-level Graphon NTK per method at sparsity {}.", fmt(s_value)))?;
        }
        let frame = df!("method" => method, "sparsity" => sparsity, "top5_energy" => top5)
            .map_err(polars_error("metrics"))?;
        self.claims
            .extend(e2::energy_concentration(&p.name, &frame)?);
        Ok(())
    }
}

/// Mean spectra by (sparsity bits, method, kernel): the depth and the (rank, eigenvalue)
/// points.
type Spectra = BTreeMap<(u64, String, String), Spectrum>;

/// The mean spectra of a grouped spectra frame.
fn mean_spectra(df: &DataFrame) -> Result<Spectra> {
    let (m, s, d, k) = (
        strings(df, "method")?,
        f64s(df, "sparsity")?,
        f64s(df, "depth")?,
        strings(df, "kernel")?,
    );
    let (rank, value) = (f64s(df, "rank")?, f64s(df, "eigenvalue")?);
    let mut curves = Spectra::new();
    for i in 0..df.height() {
        curves
            .entry((s[i].to_bits(), m[i].clone(), k[i].clone()))
            .or_insert_with(|| (d[i], Vec::new()))
            .1
            .push((rank[i], value[i]));
    }
    Ok(curves)
}

/// Random's mask-level spectrum beside c^L times the dense one (L the masked layers), per
/// density, log-log.
fn random_against_scaled_dense(curves: &Spectra, classifier: Classifier) -> Vec<Line> {
    let mut lines = Vec::new();
    for ((s_bits, m, k), (depth, pts)) in curves {
        if m != "random" || k != KernelKind::Mask.name() {
            continue;
        }
        let c = 1.0 - f64::from_bits(*s_bits);
        let scale = c.powi(classifier.masked_layers(*depth as u32) as i32);
        lines.push(Line {
            dashed: Vec::new(),
            name: format!("Random, c = {}", fmt(c)),
            points: pts
                .iter()
                .filter(|q| q.1 > 0.0)
                .map(|&(r, v)| (r.log10(), v.log10()))
                .collect(),
            band: vec![],
        });
        if let Some((_, dense)) = curves.get(&(*s_bits, m.clone(), KernelKind::Dense.name().into()))
        {
            lines.push(Line {
                dashed: Vec::new(),
                name: format!("c^L x dense, c = {}", fmt(c)),
                points: dense
                    .iter()
                    .filter(|q| q.1 > 0.0)
                    .map(|&(r, v)| (r.log10(), (scale * v).log10()))
                    .collect(),
                band: vec![],
            });
        }
    }
    lines
}
