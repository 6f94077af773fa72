//! What the report needs to know of an experiment: its name, its sweep, its settings as text
//! and which stages it ran. The command line builds it from a pipeline file, so the report
//! depends on no stage crate and no pipeline code.

use glh_artifacts::config::Sweep;

/// One reported experiment.
#[derive(Clone, Debug, PartialEq)]
pub struct Experiment {
    /// Its short name (section titles, figure directories).
    pub name: String,
    /// One sentence on what it shows.
    pub description: String,
    /// Its sweep: the report reads only runs inside it.
    pub sweep: Sweep,
    /// Its settings as TOML, shown under its section title.
    pub settings_toml: String,
    /// The K of its `[graphons]` table, if it has one (histograms and convergence runs): the
    /// report reads only runs of that K, since one store may hold several.
    pub graphons: Option<u32>,
    /// It has kernel runs (an `[ntk]` table).
    pub ntk: bool,
    /// It has training runs (a `[training]` table).
    pub training: bool,
}
