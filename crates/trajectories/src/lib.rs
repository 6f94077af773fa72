//! The `trajectories` stage (issue #33): how the mask of a training run under a mask schedule
//! (IMP with rewinding, SET, RigL: `glh_training::schedule`) moves during training, in the
//! graphon view. For each checkpoint of a run (the mask it started from, then one per update or
//! level): every layer's SAS histogram, its distance to the start and to the previous
//! checkpoint (the paper's Frobenius and the certified cut interval), the fraction of kept
//! weights that changed, and the spectral metrics of the checkpoint's histogram Graphon NTK.
//!
//! - [`settings`]: [`TrajectorySettings`], the `[trajectories]` table;
//! - [`trajectory`]: the computation on a run's checkpoint masks, a pure function;
//! - [`convergence`]: the paper's question at every checkpoint, pooled over a configuration's
//!   widths and seeds (the Cauchy chain across widths, the paired distance to the start);
//! - [`stage`]: the jobs ([`stage::TrajectoryJob`], one per scheduled training run;
//!   [`stage::TrajectoryStage`]) and their `layers`, `histograms` and `metrics` tables.
//!
//! The report reads the verdicts off these tables. It computes no histogram or kernel formula of its own (those are
//! `glh-graphons`' and `glh-ntk`'s) and trains nothing (that is `glh-training`'s).

pub mod convergence;
pub mod settings;
pub mod stage;
pub mod trajectory;

pub use settings::TrajectorySettings;
