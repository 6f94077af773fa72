//! The `trajectories` stage (issue #33): how the mask of a training run under a mask schedule
//! (IMP with rewinding, SET, RigL: `glh_training::schedule`) moves during training, in the
//! graphon view. For each checkpoint of a run (the mask it started from, then one per update or
//! level): every layer's SAS histogram, its distance to the start and to the previous
//! checkpoint (the paper's Frobenius and the certified cut interval), the fraction of kept
//! weights that changed, and the spectral metrics of the checkpoint's histogram Graphon NTK.
//!
//! - [`settings`]: [`TrajectorySettings`], the `[trajectories]` table;
//! - [`trajectory`]: the computation on a run's checkpoint masks, a pure function;
//! - [`stage`]: the jobs ([`stage::TrajectoryJob`], one per scheduled training run;
//!   [`stage::TrajectoryStage`]) and their `layers`, `histograms` and `metrics` tables.
//!
//! The statistics across seeds and widths (does each checkpoint converge with width; does the
//! expected histogram move beyond noise) are the report's, from these tables and
//! `glh_graphons::noise`. It computes no histogram or kernel formula of its own (those are
//! `glh-graphons`' and `glh-ntk`'s) and trains nothing (that is `glh-training`'s).

pub mod settings;
pub mod stage;
pub mod trajectory;

pub use settings::TrajectorySettings;
