//! MNIST for graphon-lab: the IDX reader, checksum verification, standardisation, and the data
//! stage that draws seeded, class-balanced subsets.
//!
//! - [`idx`]: the IDX format (gzip or raw), decoded with its shape checked;
//! - [`mnist`]: the four MNIST files, verified against `SHA256SUMS` (of the decompressed bytes),
//!   and pixels as `f32` scaled to [0, 1] and optionally standardised (METHOD.md section 1);
//! - [`subsets`]: seeded class-balanced index subsets;
//! - [`settings`]: [`DataSettings`], the `[data]` table (read by several stages);
//! - [`stage`]: the `data` stage ([`stage::SubsetsJob`], [`stage::DataStage`]), which writes
//!   the subsets every later stage reads.

pub mod idx;
pub mod mnist;
pub mod settings;
pub mod stage;
pub mod subsets;

pub use mnist::{MnistSplit, Normalisation, Split};
pub use settings::DataSettings;
