//! Pipeline files: an experiment's sweep and one table per stage it runs, each table parsed
//! into the settings type its stage crate owns.
//!
//! A pipeline file is strict: an unknown key is an error naming the file, line and field, never
//! silently ignored.

use crate::cluster::SlurmSettings;
use glh_artifacts::config::{Sweep, toml_error};
use glh_artifacts::{Error, Result, Stage};
use glh_data::DataSettings;
use glh_data::stage::DataStage;
use glh_dynamics::DynamicsSettings;
use glh_dynamics::stage::{DynamicsStage, check_regime};
use glh_graphons::GraphonsSettings;
use glh_graphons::stage::GraphonsStage;
use glh_masks::MasksSettings;
use glh_masks::stage::MasksStage;
use glh_ntk::NtkSettings;
use glh_ntk::design::DesignSearch;
use glh_ntk::design_stage::DesignStage;
use glh_ntk::graphon_stage::GraphonNtkStage;
use glh_ntk::settings::GraphonNtkSettings;
use glh_ntk::stage::NtkStage;
use glh_training::TrainingSettings;
use glh_training::stage::TrainingStage;
use glh_trajectories::TrajectorySettings;
use glh_trajectories::stage::TrajectoryStage;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// An experiment: a sweep and the settings of the stages it runs. A stage runs when its table
/// is present.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pipeline {
    /// Short name of the experiment (used in reports).
    pub name: String,
    /// One sentence on what it shows.
    #[serde(default)]
    pub description: String,
    /// The grid.
    pub sweep: Sweep,
    /// The data stage (class-balanced subsets); present to run it.
    pub data: Option<DataSettings>,
    /// The masks stage; present to run it.
    pub masks: Option<MasksSettings>,
    /// The graphons stage (histograms of every mask, and their convergence); needs `masks`.
    pub graphons: Option<GraphonsSettings>,
    /// The design stage (graphon-guided pruning): every design of the sweep drawn at the
    /// target this search chooses at its sweep point; needs `masks`.
    pub design: Option<DesignSearch>,
    /// The ntk stage (kernels, spectra and metrics of every mask); needs `masks`.
    pub ntk: Option<NtkSettings>,
    /// The graphon_ntk stage (the paper's E3 kernel: the Graphon NTK of each configuration's
    /// seed-averaged graphon); needs `masks`.
    pub graphon_ntk: Option<GraphonNtkSettings>,
    /// The training stage (Adam on MNIST from each mask's initialisation, or gradient descent
    /// in the NTK regime); needs `masks`.
    pub training: Option<TrainingSettings>,
    /// The dynamics stage (kernel-predicted against observed gradient descent); needs
    /// `training` in the NTK regime.
    pub dynamics: Option<DynamicsSettings>,
    /// The trajectories stage (how the masks of IMP, SET and RigL move during training);
    /// needs `training` with a mask schedule.
    pub trajectories: Option<TrajectorySettings>,
    /// Where `glh run --executor slurm` submits the jobs (not part of any cache key).
    pub slurm: Option<SlurmSettings>,
}

impl Pipeline {
    /// Reads and validates a pipeline file.
    pub fn from_file(path: &Path) -> Result<Self> {
        let bytes = glh_artifacts::files::read_input(path, "pipeline file")?;
        let text = std::str::from_utf8(&bytes)
            .map_err(|_| Error::input(path, "a pipeline file is TOML, which is UTF-8"))?;
        Self::from_toml(text, &path.display().to_string())
    }

    /// Parses and validates pipeline TOML; `source_name` names it in errors.
    pub fn from_toml(text: &str, source_name: &str) -> Result<Self> {
        let pipeline: Pipeline =
            toml::from_str(text).map_err(|e| toml_error(&e, text, source_name))?;
        pipeline.validate(source_name)?;
        Ok(pipeline)
    }

    /// Replaces the sweep's seeds (`--seeds`) for every stage, training included, and checks
    /// the sweep again.
    pub fn set_seeds(&mut self, seeds: Vec<u64>) -> Result<()> {
        self.sweep.seeds = seeds;
        self.sweep.trained_seeds = None;
        self.validate("--seeds")
    }

    /// The pipeline as TOML: what the report shows and what a sweep freezes.
    pub fn to_toml(&self) -> Result<String> {
        toml::to_string(self).map_err(|e| {
            Error::Unsupported(format!("cannot write pipeline {} as TOML: {e}", self.name))
        })
    }

    /// The stages its tables ask for, in pipeline order (data, masks, design, graphons, ntk,
    /// graphon_ntk, training, dynamics, trajectories):
    /// what [`crate::plan`] plans. A new stage is a table above and one line here.
    pub fn stages(&self) -> Vec<Box<dyn Stage>> {
        let data = self.data.clone().unwrap_or_default();
        let mut stages: Vec<Box<dyn Stage>> = Vec::new();
        if let Some(settings) = &self.data {
            stages.push(Box::new(DataStage {
                settings: settings.clone(),
            }));
        }
        let Some(masks) = &self.masks else {
            return stages;
        };
        stages.push(Box::new(MasksStage {
            settings: masks.clone(),
            data: data.clone(),
            designs_searched: self.design.is_some(),
        }));
        if let Some(search) = &self.design {
            stages.push(Box::new(DesignStage {
                search: search.clone(),
                masks: masks.clone(),
                data: data.clone(),
            }));
        }
        if let Some(settings) = &self.graphons {
            stages.push(Box::new(GraphonsStage {
                settings: settings.clone(),
            }));
        }
        if let Some(settings) = &self.ntk {
            stages.push(Box::new(NtkStage {
                settings: settings.clone(),
                data: data.clone(),
            }));
        }
        if let Some(settings) = &self.graphon_ntk {
            stages.push(Box::new(GraphonNtkStage {
                settings: settings.clone(),
                data: data.clone(),
            }));
        }
        if let Some(settings) = &self.training {
            stages.push(Box::new(TrainingStage {
                settings: settings.clone(),
                data: data.clone(),
            }));
            if let Some(dynamics) = &self.dynamics {
                stages.push(Box::new(DynamicsStage {
                    settings: dynamics.clone(),
                }));
            }
            if let Some(trajectories) = &self.trajectories {
                stages.push(Box::new(TrajectoryStage {
                    settings: trajectories.clone(),
                }));
            }
        }
        stages
    }

    /// Checks every value types alone cannot (as loading does), naming `source_name` and the
    /// field in an error: for a pipeline changed after loading.
    pub fn validate(&self, source_name: &str) -> Result<()> {
        validate_name(&self.name).map_err(|msg| Error::config(source_name, "name", msg))?;
        let s = &self.sweep;
        let lists: [(&str, Vec<String>); 5] = [
            (
                "sweep.methods",
                s.methods.iter().map(|v| v.to_string()).collect(),
            ),
            (
                "sweep.widths",
                s.widths.iter().map(|v| v.to_string()).collect(),
            ),
            (
                "sweep.sparsities",
                s.sparsities.iter().map(|v| v.value().to_string()).collect(),
            ),
            (
                "sweep.depths",
                s.depths.iter().map(|v| v.to_string()).collect(),
            ),
            (
                "sweep.seeds",
                s.seeds.iter().map(|v| v.to_string()).collect(),
            ),
        ];
        for (field, values) in lists {
            // A sweep's levels are its sparsities and its density laws: either list may be
            // empty, not both.
            let other_levels = field == "sweep.sparsities" && !s.density_laws.is_empty();
            if values.is_empty() && !other_levels {
                let msg = if field == "sweep.sparsities" {
                    "must list at least one value, unless `sweep.density_laws` does"
                } else {
                    "must list at least one value"
                };
                return Err(Error::config(source_name, field, msg));
            }
            let mut seen = std::collections::HashSet::new();
            if let Some(v) = values.iter().find(|v| !seen.insert(*v)) {
                let msg = format!("{v} is listed twice");
                return Err(Error::config(source_name, field, msg));
            }
        }
        if let Some(n) = s.trained_seeds
            && !(1..=s.seeds.len()).contains(&(n as usize))
        {
            let msg = format!(
                "must be 1 to the number of `sweep.seeds` ({}), got {n}",
                s.seeds.len()
            );
            return Err(Error::config(source_name, "sweep.trained_seeds", msg));
        }
        let laws: Vec<String> = s.density_laws.iter().map(|l| format!("{l:?}")).collect();
        if let Some(i) = (0..laws.len()).find(|&i| laws[..i].contains(&laws[i])) {
            let l = s.density_laws[i];
            let msg = format!("{{ c = {}, a = {} }} is listed twice", l.c, l.a);
            return Err(Error::config(source_name, "sweep.density_laws", msg));
        }
        for law in &s.density_laws {
            for &width in &s.widths {
                law.sparsity(width)
                    .map_err(|msg| Error::config(source_name, "sweep.density_laws", msg))?;
            }
        }
        let points = [
            s.methods.len(),
            s.widths.len(),
            s.sparsities.len() + s.density_laws.len(),
            s.depths.len(),
            s.seeds.len(),
        ]
        .iter()
        .try_fold(1usize, |acc, &n| acc.checked_mul(n))
        .unwrap_or(usize::MAX);
        if points > MAX_SWEEP_POINTS {
            let msg = format!(
                "the sweep has {points} points (methods x widths x levels x depths x seeds), \
                 more than the {MAX_SWEEP_POINTS} one plan holds; split it into several pipelines"
            );
            return Err(Error::config(source_name, "sweep", msg));
        }
        if let Some(data) = &self.data {
            data.validate(source_name)?;
        }
        if let Some(masks) = &self.masks {
            masks.validate(source_name)?;
        }
        if let Some(graphons) = &self.graphons {
            graphons.validate(source_name)?;
            // A hidden side of n < K neurons has an n-block histogram: widths on both sides of
            // K would give histograms on different grids, which no distance compares.
            let k = graphons.k;
            let below = s.widths.iter().map(|w| w.get()).filter(|&w| w < k).min();
            if let Some(narrow) = below
                && s.widths.iter().any(|w| w.get() != narrow)
            {
                let msg = format!(
                    "{k} is above the width {narrow} but not above every width of the sweep, so \
                     the widths' histograms would lie on different grids; set `graphons.k` to at \
                     most {narrow}"
                );
                return Err(Error::config(source_name, "graphons.k", msg));
            }
            if self.masks.is_none() {
                let msg = "needs a [masks] table: histograms are taken of the sweep's masks";
                return Err(Error::config(source_name, "graphons", msg));
            }
        }
        if let Some(training) = &self.training {
            training.validate(source_name)?;
            if self.masks.is_none() {
                let msg = "needs a [masks] table: the sweep's masks are what is trained";
                return Err(Error::config(source_name, "training", msg));
            }
        }
        if let Some(dynamics) = &self.dynamics {
            dynamics.validate(source_name)?;
            let Some(training) = &self.training else {
                let msg =
                    "needs a [training] table in the NTK regime: its runs are what is predicted";
                return Err(Error::config(source_name, "dynamics", msg));
            };
            check_regime(training, source_name)?;
        }
        if let Some(trajectories) = &self.trajectories {
            trajectories.validate(source_name)?;
            let scheduled = self
                .training
                .as_ref()
                .is_some_and(|t| !t.schedule.is_static());
            if !scheduled {
                let msg = "needs a [training] table with a mask schedule ([training.schedule] \
                           rule = \"imp\", \"set\" or \"rigl\"): its masks are what moves";
                return Err(Error::config(source_name, "trajectories", msg));
            }
        }
        if let Some(slurm) = &self.slurm {
            slurm.validate(source_name)?;
        }
        if let Some(ntk) = &self.ntk {
            ntk.validate(source_name)?;
            if self.masks.is_none() {
                let msg = "needs a [masks] table: kernels are taken of the sweep's masks";
                return Err(Error::config(source_name, "ntk", msg));
            }
        }
        if let Some(search) = &self.design {
            search
                .validate(source_name)
                .map_err(|e| prefix_field(e, "design."))?;
            let Some(masks) = &self.masks else {
                let msg =
                    "needs a [masks] table: a search chooses the target of the sweep's designs";
                return Err(Error::config(source_name, "design", msg));
            };
            if !s.methods.iter().any(|m| m.is_design()) {
                let msg = "the sweep has no design (`graphon:<method>`) to draw at its choice";
                return Err(Error::config(source_name, "design", msg));
            }
            if masks.graphon != Default::default() {
                let msg = "the [design] search chooses the designs' target: drop [masks.graphon]";
                return Err(Error::config(source_name, "masks.graphon", msg));
            }
        }
        if let Some(graphon_ntk) = &self.graphon_ntk {
            graphon_ntk.validate(source_name)?;
            if self.masks.is_none() {
                let msg = "needs a [masks] table: the graphons are the sweep's masks averaged";
                return Err(Error::config(source_name, "graphon_ntk", msg));
            }
        }
        Ok(())
    }
}

/// The most points (methods x widths x sparsities x depths x seeds) one pipeline's sweep may
/// have: a plan holds a few jobs per point, each with its parameters (about 8 KB a point in
/// all, so 800 MB at the cap), and 100,000 points is already weeks of compute on one machine
/// (the paper's E1 with its 100 seeds is 12,000).
pub const MAX_SWEEP_POINTS: usize = 100_000;

/// Checks a pipeline's `name`: it names a directory (of sweeps, of report figures), so it is one
/// plain path component.
/// `e` with its field under `prefix` (`grid` -> `design.grid`), for settings validated on
/// their own and read as one table of a pipeline.
fn prefix_field(e: Error, prefix: &str) -> Error {
    match e {
        Error::Config {
            source_name,
            field,
            message,
        } => Error::Config {
            source_name,
            field: format!("{prefix}{field}"),
            message,
        },
        other => other,
    }
}

fn validate_name(name: &str) -> std::result::Result<(), String> {
    let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    if name.is_empty() {
        Err("must not be empty".into())
    } else if name.len() > 64 {
        Err(format!("must be at most 64 characters, got {}", name.len()))
    } else if name.starts_with('.') || !name.chars().all(plain) {
        Err(format!(
            "`{name}` is not a plain name: use letters, digits, `-`, `_` and `.` (not first), \
             since it names directories of sweeps and report figures"
        ))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use glh_artifacts::config::PruneMethod;

    const GOOD: &str = r#"
name = "t"
[sweep]
methods = ["random", "snip"]
widths = [16, 32]
sparsities = [0.8]
depths = [4]
seeds = [0, 1]

[data]
scoring_per_class = 2
"#;

    fn err(text: &str) -> String {
        Pipeline::from_toml(text, "p.toml").unwrap_err().to_string()
    }

    #[test]
    fn parses_a_pipeline_with_defaults() {
        let p = Pipeline::from_toml(GOOD, "p.toml").unwrap();
        assert_eq!(
            p.sweep.methods,
            vec![PruneMethod::Random, PruneMethod::Snip]
        );
        assert_eq!(p.sweep.sparsities[0].density(), 1.0 - 0.8);
        let data = p.data.unwrap();
        assert_eq!(data.scoring_per_class, 2);
        assert_eq!(data.kernel_per_class, 20);
        assert!(data.standardise);
    }

    #[test]
    fn bad_values_name_file_line_and_field() {
        assert_eq!(
            err(&GOOD.replace("[0.8]", "[1.5]")),
            "p.toml:6:14: `sweep.sparsities`: sparsity must be in [0, 1) (the fraction of weights removed), got 1.5"
        );
        assert_eq!(
            err(&GOOD.replace("[16, 32]", "[0, 32]")),
            "p.toml:5:10: `sweep.widths`: width must be an integer of at least 1, got 0"
        );
        let unknown = err(&GOOD.replace("\"snip\"", "\"snipp\""));
        assert!(
            unknown.starts_with("p.toml:4:22: `sweep.methods`: unknown method `snipp`"),
            "{unknown}"
        );
        let typo = err(&GOOD.replace("widths", "widht"));
        assert!(
            typo.starts_with("p.toml:5:1: `sweep.widht`: unknown field `widht`"),
            "{typo}"
        );
        let section = err(&format!("{GOOD}\n[maskz]\nx = 1\n"));
        assert!(
            section.contains("`maskz`: unknown field `maskz`"),
            "{section}"
        );
        assert_eq!(
            err(&GOOD.replace("seeds = [0, 1]", "seeds = [1, 1]")),
            "p.toml: `sweep.seeds`: 1 is listed twice"
        );
        assert_eq!(
            err(&GOOD.replace("scoring_per_class = 2", "scoring_per_class = 0")),
            "p.toml: `data.scoring_per_class`: must be at least 1"
        );
        assert_eq!(
            err(&GOOD.replace("sparsities = [0.8]", "sparsities = []")),
            "p.toml: `sweep.sparsities`: must list at least one value, unless `sweep.density_laws` does"
        );
        let malformed = err("name = \"t\"\n[sweep\n");
        assert!(malformed.starts_with("p.toml:2:"), "{malformed}");
        for e in [malformed, unknown, typo] {
            assert_eq!(e.lines().count(), 1, "{e}");
        }
    }

    #[test]
    fn density_laws_are_levels_checked_at_every_width() {
        let sparse = GOOD.replace(
            "sparsities = [0.8]",
            "density_laws = [{ c = 2.0, a = 0.5 }]",
        );
        let p = Pipeline::from_toml(&sparse, "p.toml").unwrap();
        assert!(p.sweep.sparsities.is_empty());
        assert_eq!(p.sweep.levels().len(), 1);
        // It writes back as it was read (a sweep freezes its pipeline as TOML).
        let again = Pipeline::from_toml(&p.to_toml().unwrap(), "again").unwrap();
        assert_eq!(again, p);
        // 2 / sqrt(16) = 0.5 is fine; at width 1 the density would be 2.
        let too_dense = err(&sparse.replace("[16, 32]", "[1, 32]"));
        assert!(
            too_dense.starts_with("p.toml: `sweep.density_laws`: density 2 * 1^-0.5 = 2"),
            "{too_dense}"
        );
        let twice = err(&sparse.replace(
            "{ c = 2.0, a = 0.5 }]",
            "{ c = 2.0, a = 0.5 }, { c = 2.0, a = 0.5 }]",
        ));
        assert_eq!(
            twice,
            "p.toml: `sweep.density_laws`: { c = 2, a = 0.5 } is listed twice"
        );
        let unknown = err(&sparse.replace("a = 0.5", "b = 0.5"));
        assert!(unknown.contains("unknown field `b`"), "{unknown}");
    }
}
