//! The validated values that several stages share: the sweep of an experiment and its axes
//! ([`PruneMethod`], [`Width`], [`Depth`], [`Sparsity`] or a [`DensityLaw`], [`Scope`]), the
//! histogram scaling [`Rescale`] that the graphons stage applies and the report reads, and the
//! one-line TOML errors of every settings file. Each stage's own settings live in its crate.
//!
//! A value that passes through these types is valid: a [`Sparsity`] lies in `[0, 1)`, a
//! [`Width`] is at least 1, a [`Depth`] at least 2. The same parsers serve pipeline files and
//! command-line flags, so both report a bad value with the same words.

use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A pruning-at-initialisation method (METHOD.md section 2), or a control built on one.
///
/// Written as its name in configs, on the command line and in the `method` column; a control
/// names the method it is built on (`shuffled:snip`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PruneMethod {
    /// I.i.d. random scores.
    Random,
    /// `|w|`.
    Magnitude,
    /// `|g ⊙ w|` (Lee et al. 2019).
    Snip,
    /// `w ⊙ Hg` (Wang et al. 2020).
    Grasp,
    /// Iterative synaptic flow, data-free (Tanaka et al. 2020).
    Synflow,
    /// A control (ours): the mask of a scoring method with each layer's kept entries moved to
    /// uniformly random places of that layer, so it keeps the method's per-layer densities
    /// and nothing else of its structure.
    Shuffled(&'static PruneMethod),
    /// A control (ours): the mask of a scoring method with each layer's bipartite graph
    /// randomised by degree-preserving double-edge swaps, so it keeps the method's per-layer
    /// densities and its neurons' degrees and nothing else of its structure.
    Rewired(&'static PruneMethod),
    /// A design (ours, issue #32): each layer keeps the kept count of a scoring method's mask
    /// (so the method's per-layer density profile), placed by the target graphon of
    /// `[masks.graphon]` instead of by the method's scores.
    Graphon(&'static PruneMethod),
}

impl PruneMethod {
    /// The scoring methods, in a fixed order.
    pub const SCORED: [PruneMethod; 5] = [
        PruneMethod::Random,
        PruneMethod::Magnitude,
        PruneMethod::Snip,
        PruneMethod::Grasp,
        PruneMethod::Synflow,
    ];
    /// Every method: the scoring ones, then the shuffled control of each, then the rewired,
    /// then the graphon design at each one's density profile.
    pub const ALL: [PruneMethod; 20] = [
        PruneMethod::Random,
        PruneMethod::Magnitude,
        PruneMethod::Snip,
        PruneMethod::Grasp,
        PruneMethod::Synflow,
        PruneMethod::Shuffled(&Self::SCORED[0]),
        PruneMethod::Shuffled(&Self::SCORED[1]),
        PruneMethod::Shuffled(&Self::SCORED[2]),
        PruneMethod::Shuffled(&Self::SCORED[3]),
        PruneMethod::Shuffled(&Self::SCORED[4]),
        PruneMethod::Rewired(&Self::SCORED[0]),
        PruneMethod::Rewired(&Self::SCORED[1]),
        PruneMethod::Rewired(&Self::SCORED[2]),
        PruneMethod::Rewired(&Self::SCORED[3]),
        PruneMethod::Rewired(&Self::SCORED[4]),
        PruneMethod::Graphon(&Self::SCORED[0]),
        PruneMethod::Graphon(&Self::SCORED[1]),
        PruneMethod::Graphon(&Self::SCORED[2]),
        PruneMethod::Graphon(&Self::SCORED[3]),
        PruneMethod::Graphon(&Self::SCORED[4]),
    ];
    /// Their names, as written in configs, on the command line and in tables.
    pub const NAMES: [&'static str; 20] = [
        "random",
        "magnitude",
        "snip",
        "grasp",
        "synflow",
        "shuffled:random",
        "shuffled:magnitude",
        "shuffled:snip",
        "shuffled:grasp",
        "shuffled:synflow",
        "rewired:random",
        "rewired:magnitude",
        "rewired:snip",
        "rewired:grasp",
        "rewired:synflow",
        "graphon:random",
        "graphon:magnitude",
        "graphon:snip",
        "graphon:grasp",
        "graphon:synflow",
    ];

    /// Whether it is a design (`graphon:<method>`), drawn from a target graphon.
    pub fn is_design(self) -> bool {
        matches!(self, PruneMethod::Graphon(_))
    }

    /// The method's name.
    pub fn name(self) -> &'static str {
        let i = Self::ALL
            .iter()
            .position(|&m| m == self)
            .expect("a control or a design is built on a scoring method");
        Self::NAMES[i]
    }
}

impl Serialize for PruneMethod {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for PruneMethod {
    /// From its name; a bad name is an error at the value itself (TOML's line and column).
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Name;
        impl serde::de::Visitor<'_> for Name {
            type Value = PruneMethod;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "a method name: {}", PruneMethod::NAMES.join(", "))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<PruneMethod, E> {
                v.parse().map_err(E::custom)
            }
        }
        deserializer.deserialize_str(Name)
    }
}

impl fmt::Display for PruneMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for PruneMethod {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::NAMES
            .iter()
            .position(|&n| n == s)
            .map(|i| Self::ALL[i])
            .ok_or_else(|| {
                format!(
                    "unknown method `{s}`, expected one of: {}",
                    Self::NAMES.join(", ")
                )
            })
    }
}

/// The fraction of weights removed, in `[0, 1)`; density is `1 - sparsity`.
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd, Serialize, Deserialize)]
#[serde(try_from = "f64", into = "f64")]
pub struct Sparsity(f64);

impl Sparsity {
    /// The sparsity.
    pub fn value(self) -> f64 {
        self.0
    }
    /// The fraction of weights kept, `1 - sparsity`.
    pub fn density(self) -> f64 {
        1.0 - self.0
    }
}

impl TryFrom<f64> for Sparsity {
    type Error = String;
    fn try_from(s: f64) -> Result<Self, String> {
        if (0.0..1.0).contains(&s) {
            // -0.0 is 0.0: one sparsity, one key (`+ 0.0` turns -0.0 into +0.0 and keeps the
            // rest).
            Ok(Sparsity(s + 0.0))
        } else {
            Err(format!(
                "sparsity must be in [0, 1) (the fraction of weights removed), got {s}"
            ))
        }
    }
}

impl From<Sparsity> for f64 {
    fn from(s: Sparsity) -> f64 {
        s.0
    }
}

impl FromStr for Sparsity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let v: f64 = s
            .trim()
            .parse()
            .map_err(|_| format!("sparsity must be a number in [0, 1), got `{s}`"))?;
        Sparsity::try_from(v)
    }
}

/// Declares a validated positive integer setting with its lower bound and error message.
macro_rules! bounded_count {
    ($(#[$doc:meta])* $name:ident, $min:expr, $what:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "u64", into = "u32")]
        pub struct $name(u32);

        impl $name {
            /// The smallest accepted value.
            pub const MIN: u32 = $min;
            /// The value.
            pub fn get(self) -> u32 {
                self.0
            }
        }

        impl TryFrom<u64> for $name {
            type Error = String;
            fn try_from(v: u64) -> Result<Self, String> {
                match u32::try_from(v) {
                    Ok(v) if v >= $min => Ok($name(v)),
                    Ok(_) => Err(format!("{} must be an integer of at least {}, got {}", $what, $min, v)),
                    Err(_) => Err(format!("{} must be at most {}, got {}", $what, u32::MAX, v)),
                }
            }
        }

        impl From<$name> for u32 {
            fn from(v: $name) -> u32 {
                v.0
            }
        }

        impl FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                let v: u64 = s.trim().parse().map_err(|_| {
                    format!("{} must be an integer from {} to {}, got `{}`", $what, $min, u32::MAX, s)
                })?;
                $name::try_from(v)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

bounded_count!(
    /// The hidden width n of an MLP (every hidden layer has n neurons).
    Width,
    1,
    "width"
);
bounded_count!(
    /// The number L of Linear layers of an MLP (`784 -> n -> ... -> n -> 10`); at least 2, so
    /// that there is a hidden layer.
    Depth,
    2,
    "depth"
);

/// The grid of an experiment: every stage job is one point of it (or of the part it uses).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sweep {
    /// Pruning methods.
    pub methods: Vec<PruneMethod>,
    /// Hidden widths n.
    pub widths: Vec<Width>,
    /// Sparsities (fractions removed), the same at every width.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sparsities: Vec<Sparsity>,
    /// Densities that fall with width (the sparse regime): each law is one more level of the
    /// sweep, beside the fixed sparsities.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub density_laws: Vec<DensityLaw>,
    /// Depths L (number of Linear layers).
    pub depths: Vec<Depth>,
    /// Run seeds; each seed is one independent run of every setting.
    pub seeds: Vec<u64>,
    /// Seeds the training stage runs: the first `trained_seeds` of `seeds` (masks and kernels
    /// take every seed). Kernels are cheap next to training, so a pipeline can give its kernel
    /// claims more seeds than its training runs have. Absent: every seed. `--seeds` replaces
    /// `seeds` and drops it, so training takes every seed given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trained_seeds: Option<u32>,
}

impl Sweep {
    /// The seeds the training stage runs (see `trained_seeds`).
    pub fn trained(&self) -> &[u64] {
        let n = self
            .trained_seeds
            .map_or(self.seeds.len(), |n| (n as usize).min(self.seeds.len()));
        &self.seeds[..n]
    }

    /// The sweep's levels: its fixed sparsities, then its density laws, in file order.
    pub fn levels(&self) -> Vec<Level> {
        let fixed = self.sparsities.iter().map(|&s| Level::Fixed(s));
        fixed
            .chain(self.density_laws.iter().map(|&l| Level::Law(l)))
            .collect()
    }
}

/// A density that falls with the hidden width n: `density(n) = c * n^(-a)`, the sparse regime
/// of graph limits (a = 0 is a fixed density c). Written `{ c = 2.0, a = 0.5 }`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DensityLaw {
    /// The density at n = 1; positive.
    pub c: f64,
    /// How fast the density falls with n; finite and at least 0.
    pub a: f64,
}

impl DensityLaw {
    /// `c * n^(-a)`.
    pub fn density(self, width: Width) -> f64 {
        self.c * f64::from(width.get()).powf(-self.a)
    }

    /// The sparsity `1 - c n^(-a)` at `width`; an error unless the density lies in (0, 1].
    pub fn sparsity(self, width: Width) -> Result<Sparsity, String> {
        let finite = self.c.is_finite() && self.a.is_finite();
        if !(finite && self.c > 0.0 && self.a >= 0.0) {
            return Err(format!(
                "a density law needs c > 0 and a >= 0, both finite, got c = {}, a = {}",
                self.c, self.a
            ));
        }
        let density = self.density(width);
        if density > 1.0 || density <= 0.0 {
            return Err(format!(
                "density {} * {}^-{} = {density} at width {width} is not in (0, 1]; raise a or \
                 lower c, or drop the width",
                self.c, width, self.a
            ));
        }
        Sparsity::try_from(1.0 - density)
    }
}

/// How much of each mask is kept at one level of a sweep: the same sparsity at every width,
/// or a density law.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Level {
    /// One sparsity at every width.
    Fixed(Sparsity),
    /// `density(n) = c n^(-a)`.
    Law(DensityLaw),
}

impl Level {
    /// The sparsity of the masks at `width` (an error for a law whose density leaves (0, 1]
    /// there; a validated sweep has none).
    pub fn sparsity_at(self, width: Width) -> Result<Sparsity, String> {
        match self {
            Level::Fixed(s) => Ok(s),
            Level::Law(law) => law.sparsity(width),
        }
    }

    /// The level as a law: a fixed sparsity s is `c = 1 - s`, `a = 0`.
    pub fn law(self) -> DensityLaw {
        match self {
            Level::Fixed(s) => DensityLaw {
                c: s.density(),
                a: 0.0,
            },
            Level::Law(law) => law,
        }
    }

    /// `sparsity 0.8` or `density 2 n^-0.5`, for titles.
    pub fn label(self) -> String {
        match self {
            Level::Fixed(s) => format!("sparsity {}", s.value()),
            Level::Law(l) => format!("density {} n^-{}", l.c, l.a),
        }
    }

    /// `s0.8` or `d2n-0.5`: a directory name.
    pub fn slug(self) -> String {
        match self {
            Level::Fixed(s) => format!("s{}", s.value()),
            Level::Law(l) => format!("d{}n-{}", l.c, l.a),
        }
    }
}

/// How a histogram is scaled before its distance to the reference is taken.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rescale {
    /// Block densities in [0, 1], as stored (METHOD.md section 3; the paper's).
    #[default]
    None,
    /// `H / p`, each layer's histogram divided by the layer's density `p` (kept weights over
    /// all weights), so that every layer integrates to 1: the normalisation of sparse graph
    /// limits, under which a density that falls with width can still converge. An empty
    /// layer (p = 0) stays all zeros.
    LayerDensity,
}

impl Rescale {
    /// The name written in configs and the convergence table's `rescale` column.
    pub fn name(self) -> &'static str {
        match self {
            Rescale::None => "none",
            Rescale::LayerDensity => "layer_density",
        }
    }

    /// The rescale named `name` (`none`, `layer_density`).
    pub fn from_name(name: &str) -> Option<Rescale> {
        [Rescale::None, Rescale::LayerDensity]
            .into_iter()
            .find(|r| r.name() == name)
    }

    /// A block density `value` of a layer of density `density`, scaled.
    pub fn apply(self, value: f64, density: f64) -> f64 {
        match self {
            Rescale::None => value,
            // An empty layer has nothing to rescale: it stays all zeros.
            Rescale::LayerDensity if density == 0.0 => 0.0,
            Rescale::LayerDensity => value / density,
        }
    }
}

/// Which view of a kernel a row of a metrics table describes (its `view` column): the kernel
/// as computed, or with one component taken out, so that metrics dominated by what every image
/// shares can be read on what the masks change (METHOD.md section 8).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KernelView {
    /// The kernel `K` as computed.
    AsIs,
    /// `H K H` with `H = I - 11^T / N`: the kernel with its mean component removed (the kernel
    /// of the outputs' deviations from their mean over the images).
    Centred,
    /// `K - l_1 v_1 v_1^T`: the kernel with its top eigenpair removed; its spectrum is
    /// `l_2 .. l_N`.
    TopRemoved,
}

impl KernelView {
    /// Every view, in table order.
    pub const ALL: [KernelView; 3] = [
        KernelView::AsIs,
        KernelView::Centred,
        KernelView::TopRemoved,
    ];

    /// The name in tables.
    pub const fn name(self) -> &'static str {
        match self {
            KernelView::AsIs => "as_is",
            KernelView::Centred => "centred",
            KernelView::TopRemoved => "top_removed",
        }
    }
}

impl std::fmt::Display for KernelView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Which kernel a row of a kernel table holds (the `kernel` column of the ntk, graphon_ntk and
/// dynamics tables): written by the stages, read by the report, one spelling for both.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KernelKind {
    /// The dense network's Graphon NTK (W = 1).
    Dense,
    /// The mask-level Graphon NTK: the step graphon of the actual mask.
    Mask,
    /// The Graphon NTK of the mask's K-block SAS histograms.
    Histogram,
    /// The empirical NTK of the finite masked network.
    Empirical,
    /// The Graphon NTK of a configuration's seed-averaged graphon (the paper's E3 kernel).
    Graphon,
    /// The mask-level kernel of a finite mask drawn from a configuration's graphon at the
    /// masks' width: the paper's E3 kernel as its text describes it.
    Drawn,
    /// The Graphon NTK of a configuration's seed-averaged graphon with one order per hidden
    /// layer shared by both of its sides (`GraphonChain::of_histograms`), so consecutive
    /// layers stay joined neuron to neuron.
    SharedOrder,
}

impl KernelKind {
    /// The name in tables and settings.
    pub const fn name(self) -> &'static str {
        match self {
            KernelKind::Dense => "dense",
            KernelKind::Mask => "mask",
            KernelKind::Histogram => "histogram",
            KernelKind::Empirical => "empirical",
            KernelKind::Graphon => "graphon",
            KernelKind::Drawn => "drawn",
            KernelKind::SharedOrder => "shared_order",
        }
    }
}

impl std::fmt::Display for KernelKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// How scores are ranked into a mask.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// All weight matrices ranked together (METHOD.md's default).
    Global,
    /// Each layer keeps the same fraction of its own weights.
    Layerwise,
}

impl Scope {
    /// The name written in configs and artifacts.
    pub fn name(self) -> &'static str {
        match self {
            Scope::Global => "global",
            Scope::Layerwise => "layerwise",
        }
    }
}

impl FromStr for Scope {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "global" => Ok(Scope::Global),
            "layerwise" => Ok(Scope::Layerwise),
            _ => Err(format!(
                "unknown scope `{s}`, expected one of: global, layerwise"
            )),
        }
    }
}

/// Whether the masks reach the classifier, the last Linear layer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Classifier {
    /// Pruned like every other layer: all L Linear layers are masked (METHOD.md's default).
    #[default]
    Pruned,
    /// Left dense: the method ranks and prunes the other L - 1 layers only, to the density
    /// asked of them, and the classifier keeps every weight. With the paper's L counting hidden
    /// layers, this is the network where its `c^L` holds exactly (METHOD.md section 8).
    Dense,
}

impl Classifier {
    /// The name written in configs and artifacts.
    pub fn name(self) -> &'static str {
        match self {
            Classifier::Pruned => "pruned",
            Classifier::Dense => "dense",
        }
    }

    /// Whether this is the default (pruned), which stays out of a masks run's key so that
    /// existing runs keep their keys.
    pub fn is_pruned(&self) -> bool {
        *self == Classifier::Pruned
    }

    /// How many of `depth` Linear layers are masked.
    pub fn masked_layers(self, depth: u32) -> u32 {
        match self {
            Classifier::Pruned => depth,
            Classifier::Dense => depth.saturating_sub(1),
        }
    }
}

impl std::fmt::Display for Classifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Classifier {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "pruned" => Ok(Classifier::Pruned),
            "dense" => Ok(Classifier::Dense),
            _ => Err(format!(
                "unknown classifier `{s}`, expected one of: pruned, dense"
            )),
        }
    }
}

/// Turns a TOML error into one line: `file:line:col: `table.key`: message`.
pub fn toml_error(err: &toml::de::Error, text: &str, source_name: &str) -> Error {
    let message = err.message().trim().replace('\n', " ");
    let Some(span) = err.span() else {
        return Error::config(source_name, "(file)", message);
    };
    let before = &text[..span.start.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    Error::config(
        format!("{source_name}:{line}:{column}"),
        field_at(text, span.start),
        message,
    )
}

/// The dotted name of the key whose line contains byte `offset`, found from the nearest
/// `[table]` header above it (good enough for the flat files we write; `(file)` otherwise).
fn field_at(text: &str, offset: usize) -> String {
    let offset = offset.min(text.len());
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line = text[line_start..].lines().next().unwrap_or("").trim();
    let table = text[..line_start]
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('[') && !l.starts_with("[["))
        .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim().to_string());
    if line.starts_with('[') {
        return line
            .trim_matches(|c| c == '[' || c == ']')
            .trim()
            .to_string();
    }
    let key = line.split('=').next().unwrap_or("").trim();
    match (table, key.is_empty()) {
        (_, true) => "(file)".to_string(),
        (Some(t), false) => format!("{t}.{key}"),
        (None, false) => key.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_line_parsers_share_the_rules() {
        assert_eq!("0.8".parse::<Sparsity>().unwrap().value(), 0.8);
        assert!("1".parse::<Sparsity>().is_err());
        assert!("-0.1".parse::<Sparsity>().is_err());
        // -0 is the sparsity 0, so `[0.0, -0.0]` is one value listed twice, not two keys.
        let zero = "-0.0".parse::<Sparsity>().unwrap().value();
        assert!(zero == 0.0 && zero.is_sign_positive());
        assert!("NaN".parse::<Sparsity>().is_err());
        assert!("0".parse::<Width>().is_err());
        assert_eq!(
            "5000000000".parse::<Width>().unwrap_err(),
            "width must be at most 4294967295, got 5000000000"
        );
        assert_eq!("2000".parse::<Width>().unwrap().get(), 2000);
        assert!("1".parse::<Depth>().is_err());
        assert_eq!("grasp".parse::<PruneMethod>().unwrap(), PruneMethod::Grasp);
        assert_eq!(
            "prune".parse::<PruneMethod>().unwrap_err(),
            "unknown method `prune`, expected one of: random, magnitude, snip, grasp, synflow, \
             shuffled:random, shuffled:magnitude, shuffled:snip, shuffled:grasp, shuffled:synflow, \
             rewired:random, rewired:magnitude, rewired:snip, rewired:grasp, rewired:synflow, \
             graphon:random, graphon:magnitude, graphon:snip, graphon:grasp, graphon:synflow"
        );
        assert_eq!(
            "graphon:synflow".parse::<PruneMethod>().unwrap(),
            PruneMethod::Graphon(&PruneMethod::Synflow)
        );
        assert_eq!(
            "rewired:synflow".parse::<PruneMethod>().unwrap(),
            PruneMethod::Rewired(&PruneMethod::Synflow)
        );
        assert_eq!(
            "shuffled:snip".parse::<PruneMethod>().unwrap(),
            PruneMethod::Shuffled(&PruneMethod::Snip)
        );
        // Serialised as its name: the keys of the scoring methods are those of before.
        assert_eq!(
            serde_json::to_string(&PruneMethod::Snip).unwrap(),
            "\"snip\""
        );
        for m in PruneMethod::ALL {
            assert_eq!(m.name().parse::<PruneMethod>().unwrap(), m);
        }
    }

    #[test]
    fn a_density_law_gives_c_n_to_the_minus_a() {
        let w = |n: u64| Width::try_from(n).unwrap();
        let law = DensityLaw { c: 2.0, a: 0.5 };
        // 2 / sqrt(n): 0.2 at n = 100, 2 / sqrt(2000) = 0.0447... at n = 2000.
        assert!((law.density(w(100)) - 0.2).abs() < 1e-15);
        assert!((law.sparsity(w(100)).unwrap().value() - 0.8).abs() < 1e-15);
        let s2000 = law.sparsity(w(2000)).unwrap().value();
        assert!((s2000 - (1.0 - 2.0 / 2000f64.sqrt())).abs() < 1e-15);
        // A fixed sparsity is the law with a = 0, and keeps its exact value.
        let fixed = Level::Fixed(Sparsity::try_from(0.8).unwrap());
        assert_eq!(fixed.sparsity_at(w(500)).unwrap().value(), 0.8);
        assert_eq!(fixed.law().a, 0.0);
        assert!((fixed.law().c - 0.2).abs() < 1e-15);
        // Density above 1 (n = 1: 2), or c <= 0, or a < 0, is refused.
        assert!(law.sparsity(w(1)).unwrap_err().contains("not in (0, 1]"));
        for bad in [
            DensityLaw { c: 0.0, a: 0.5 },
            DensityLaw { c: 1.0, a: -0.1 },
            DensityLaw {
                c: f64::NAN,
                a: 0.5,
            },
        ] {
            assert!(
                bad.sparsity(w(100)).unwrap_err().contains("c > 0"),
                "{bad:?}"
            );
        }
        assert_eq!(Level::Law(law).slug(), "d2n-0.5");
    }
}
