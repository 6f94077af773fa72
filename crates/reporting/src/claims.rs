//! The vocabulary of the report's claims (METHOD.md section 6): what a claim says
//! ([`Statement`]), our [`Verdict`], the [`Reading`] a number comes from, and the [`Claim`]
//! the report prints. Each claim's logic lives in its experiment's module
//! (`crate::experiments`).

use crate::stats::Interval;
use glh_artifacts::config::KernelKind;
use std::fmt;

/// What a claim says (the paper's, as METHOD.md section 6 words it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Statement {
    /// SAS histograms converge as width grows.
    Convergence,
    /// In the sparse regime, histograms divided by their layer's density converge with width.
    SparseConvergence,
    /// Ours (issue #28): between successive widths the expected histograms stop moving.
    ChainConvergence,
    /// Random pruning scales the NTK by `c^L`.
    PowerLaw,
    /// SNIP and SynFlow concentrate more spectral energy than Random.
    EnergyConcentration,
    /// (d) of the paper's E3: SNIP and SynFlow train faster early than Random.
    EarlySpeed,
    /// The Graphon NTK's top-5 energy predicts early training speed.
    EnergyPredictsSpeed,
    /// (a) of the paper's E3: Random's spectral metrics stay about the same across sparsities.
    RandomMetricsStable,
    /// (b): SNIP's and SynFlow's top-5 energy rises with sparsity.
    ConcentrationRisesWithSparsity,
    /// (c): SNIP's and SynFlow's effective rank and spectral gap fall with sparsity.
    RankAndGapFallWithSparsity,
    /// (c), the other reading of the paper's sentence: SNIP's and SynFlow's effective rank and
    /// spectral gap lie below Random's at the same sparsity.
    RankAndGapBelowRandom,
    /// (e), first part: more sparsity slows training.
    SparsitySlowsTraining,
    /// (e), second part: the dense net trains fastest.
    DenseTrainsFastest,
    /// (e), third part: Random degrades most with sparsity.
    RandomDegradesMost,
    /// E4 (ours): the mask-level Graphon NTK predicts gradient descent, better with width.
    KernelPredictsTraining,
    /// E4 (ours): the kernels order the methods' speeds as training does.
    KernelsRankSpeeds,
    /// E3 with controls (ours): a method's early speed is more than its per-layer densities.
    GraphonBeyondDensity,
    /// E5 (ours, issue #32): within the power family of designs, where only the spectrum
    /// varies, the mask-level kernel's top-5 energy predicts early speed.
    SpectrumPredictsSpeedInFamily,
    /// E5 (ours, issue #32): a design trains faster early than Random, SNIP and SynFlow.
    DesignBeatsMethods,
    /// E5 (ours, issue #32): a design at a method's own per-layer densities trains faster early
    /// than the method and its shuffled control.
    DesignBeatsSourceAtItsProfile,
    /// E6 (ours, issue #33): under a mask schedule, the masks converge with width at every
    /// checkpoint.
    ConvergesAtEveryCheckpoint,
    /// E6 (ours, issue #33): under a mask schedule, the expected histogram moves from the start
    /// beyond noise.
    StructureMoves,
}

impl Statement {
    /// The claim as the report's table words it.
    pub fn text(self) -> &'static str {
        match self {
            Statement::Convergence => {
                "SAS histograms converge with width: dist(n) to the largest width falls monotonically with n, for every method and hidden layer"
            }
            Statement::SparseConvergence => {
                "Sparse regime (ours, beyond the paper): with density c n^-a, the rescaled histograms H / p_n converge with width: dist(n) falls monotonically, for every method and hidden layer"
            }
            Statement::ChainConvergence => {
                "Ours: the expected histograms stop moving with width: between successive widths the bias-corrected D^2 falls to one consistent with 0 (or below a tenth of the noise floor), for every method and hidden layer"
            }
            Statement::PowerLaw => {
                "Random pruning at density c scales the NTK by c^L, L the masked Linear layers (mask-level Graphon NTK = c^L x dense)"
            }
            Statement::EnergyConcentration => {
                "SNIP and SynFlow concentrate more energy in the top eigenvalues than Random (top-5 energy, same sparsity)"
            }
            Statement::EarlySpeed => {
                "(d) SNIP and SynFlow lose loss faster early than Random at the same sparsity (mean training loss over the first steps)"
            }
            Statement::EnergyPredictsSpeed => {
                "Top-5 energy of the Graphon NTK predicts early training speed (rank correlation with mean training loss)"
            }
            Statement::RandomMetricsStable => {
                "(a) Random's spectral metrics stay about the same across sparsities (top-5 energy, trace / l_1, l_1 / l_2, alpha within 5%)"
            }
            Statement::ConcentrationRisesWithSparsity => {
                "(b) SNIP's and SynFlow's top-5 energy rises with sparsity"
            }
            Statement::RankAndGapFallWithSparsity => {
                "(c) SNIP's and SynFlow's effective rank (trace / l_1) and spectral gap (l_1 / l_2) fall with sparsity"
            }
            Statement::RankAndGapBelowRandom => {
                "(c) read against Random: SNIP's and SynFlow's effective rank (trace / l_1) and spectral gap (l_1 / l_2) lie below Random's at every sparsity"
            }
            Statement::SparsitySlowsTraining => {
                "(e) More sparsity slows training (Random, SNIP and SynFlow each)"
            }
            Statement::DenseTrainsFastest => "(e) The dense net trains fastest",
            Statement::RandomDegradesMost => "(e) Random degrades most with sparsity",
            Statement::KernelPredictsTraining => {
                "E4 (ours, beyond the paper): the mask-level Graphon NTK predicts gradient-descent training, with an error falling with width"
            }
            Statement::KernelsRankSpeeds => {
                "E4 (ours): the kernels rank the methods' gradient-descent speeds correctly"
            }
            Statement::SpectrumPredictsSpeedInFamily => {
                "E5 (ours, the paper's open question): within one family of designed masks (the power graphons, same per-layer densities, only the spectrum varies), the mask-level kernel's top-5 energy predicts early speed (rank correlation with mean training loss below 0)"
            }
            Statement::DesignBeatsMethods => {
                "E5 (ours, graphon-guided pruning): the design drawn at the target a kernel criterion chose trains faster early than Random, SNIP and SynFlow at the same sparsity"
            }
            Statement::DesignBeatsSourceAtItsProfile => {
                "E5 (ours): at a method's own per-layer densities, the design drawn at the chosen target trains faster early than the method itself and its shuffled control"
            }
            Statement::ConvergesAtEveryCheckpoint => {
                "E6 (ours, the paper's open question on dynamic pruning): under IMP, SET or RigL the masks converge with width at every checkpoint (the Cauchy chain of each hidden layer, as E1's, at each checkpoint)"
            }
            Statement::StructureMoves => {
                "E6 (ours): under IMP, SET or RigL the graphon moves during training: at the last checkpoint, the expected histogram of a hidden layer at the largest width lies beyond noise from the start's (paired bias-corrected D^2)"
            }
            Statement::GraphonBeyondDensity => {
                "Ours: the graphon matters beyond the density profile: the method trains faster early than its shuffled control (same per-layer densities) at every sparsity"
            }
        }
    }
}

/// Whether our numbers support a claim.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// They do.
    Supported,
    /// They contradict it.
    Refuted,
    /// They neither support nor contradict it (an interval that contains 0).
    Inconclusive,
}

impl Verdict {
    /// `yes`, `no` or `inconclusive`.
    pub fn word(self) -> &'static str {
        match self {
            Verdict::Supported => "yes",
            Verdict::Refuted => "no",
            Verdict::Inconclusive => "inconclusive",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.word())
    }
}

/// Which protocol a claim's number comes from, where the paper's and ours differ (METHOD.md
/// section 7).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Reading {
    /// The paper's E3 kernel as its text describes it: the mask-level kernel of masks drawn at
    /// the masks' width from each configuration's graphon, on 1024 images, sigma_w^2 = 1.
    DrawnMaskKernel,
    /// Our reconstruction of the paper's E3 kernel: the Graphon NTK of each configuration's
    /// seed-averaged K = 64 graphon (each hidden side sorted by its own degree) on 1024
    /// images, at its sigma_w^2 = 1.
    GraphonKernel,
    /// The same with one order per hidden layer shared by both of its sides.
    SharedOrderKernel,
    /// Ours: the exact mask-level Graphon NTK of each actual mask on 200 images, sigma_w^2 = 2.
    OurMaskKernel,
    /// The training runs themselves, which both protocols share (no kernel).
    Training,
}

impl Reading {
    /// The reading of a graphon_ntk kernel; `None` for the ntk stage's kernels.
    pub fn of_graphon_kernel(kind: KernelKind) -> Option<Reading> {
        match kind {
            KernelKind::Drawn => Some(Reading::DrawnMaskKernel),
            KernelKind::Graphon => Some(Reading::GraphonKernel),
            KernelKind::SharedOrder => Some(Reading::SharedOrderKernel),
            _ => None,
        }
    }

    /// How the report names it.
    pub fn label(self) -> &'static str {
        match self {
            Reading::DrawnMaskKernel => "the paper's text: masks drawn from the graphon",
            Reading::GraphonKernel => "graphon kernel (our reconstruction)",
            Reading::SharedOrderKernel => "graphon kernel, shared order",
            Reading::OurMaskKernel => "our mask-level kernel",
            Reading::Training => "training runs",
        }
    }
}

/// The number a claim is reduced to.
#[derive(Clone, Debug, PartialEq)]
pub struct Statistic {
    /// What it is, and on which side of which threshold the claim holds.
    pub text: &'static str,
    /// Its value on all the seeds (or on the pooled graphon).
    pub estimate: f64,
    /// Its seed-bootstrap interval; `None` where there is one value only (a pooled graphon
    /// without seed kernels).
    pub interval: Option<Interval>,
}

impl Statistic {
    /// `estimate [low, high]`, or the estimate alone.
    pub fn number(&self) -> String {
        self.interval
            .as_ref()
            .map_or_else(|| fmt(self.estimate), interval)
    }
}

/// A claim checked against one experiment's numbers.
#[derive(Clone, Debug, PartialEq)]
pub struct Claim {
    /// What is claimed.
    pub statement: Statement,
    /// The experiment whose runs were read.
    pub experiment: String,
    /// The protocol the number comes from, for claims the paper's protocol and ours read apart;
    /// `None` for the others.
    pub reading: Option<Reading>,
    /// The one number the verdict rests on, for claims reduced to one.
    pub statistic: Option<Statistic>,
    /// Our numbers, as one line.
    pub evidence: String,
    /// The verdict.
    pub verdict: Verdict,
    /// Why, in a few words (`within 5%`, `not monotone everywhere`).
    pub reason: &'static str,
}

impl Claim {
    /// The verdict with its reason: `yes (within 5%)`.
    pub fn verdict_text(&self) -> String {
        if self.reason.is_empty() {
            self.verdict.word().to_string()
        } else {
            format!("{} ({})", self.verdict, self.reason)
        }
    }

    /// The claims table's row: claim, experiment, our numbers, verdict.
    pub fn row(&self) -> Vec<String> {
        vec![
            self.statement.text().to_string(),
            self.experiment.clone(),
            self.evidence.clone(),
            self.verdict_text(),
        ]
    }
}

/// A number as the report prints it: four decimals, scientific outside [1e-3, 1e4).
pub fn fmt(v: f64) -> String {
    if !v.is_finite() {
        return format!("{v}");
    }
    let a = v.abs();
    if a != 0.0 && !(1e-3..1e4).contains(&a) {
        format!("{v:.3e}")
    } else {
        format!("{v:.4}")
    }
}

/// `estimate [low, high]`.
pub fn interval(i: &Interval) -> String {
    format!("{} [{}, {}]", fmt(i.estimate), fmt(i.low), fmt(i.high))
}
