//! Settings of the Slurm executor (`glh run --executor slurm`): the `[slurm]` table of a
//! pipeline file, which command-line flags override.
//!
//! Values are checked here with Slurm's own grammar (time limits, memory sizes), so that a typo
//! fails at once with the file and field named, not minutes later in `sbatch`. None of these
//! settings enters a cache key: where a job runs never changes what it computes.

use glh_artifacts::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The most threads glh runs one job or one pipeline on (`--jobs`, a task's `cpus_per_task`):
/// past it a thread pool costs more than it gives, and an unbounded count would be allocated as
/// threads before any job starts.
pub const MAX_THREADS: u32 = 256;

/// The largest array index Slurm accepts by default (`MaxArraySize = 1001`): bigger levels are
/// split into several arrays.
pub const DEFAULT_ARRAY_LIMIT: u32 = 1000;

/// Resources of one array task (`sbatch` options); unset ones are left to the cluster.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SlurmResources {
    /// `--partition`.
    pub partition: Option<String>,
    /// `--time`, in Slurm's formats: `MM`, `MM:SS`, `HH:MM:SS`, `D-HH`, `D-HH:MM`, `D-HH:MM:SS`.
    pub time: Option<String>,
    /// `--mem`, per node: a whole number with an optional unit K, M, G or T (`4G`, `500M`).
    pub mem: Option<String>,
    /// `--cpus-per-task`; each task's job uses this many threads.
    pub cpus_per_task: Option<u32>,
    /// Further `sbatch` options, one per entry, each written as an `#SBATCH` line
    /// (`["--account=lab", "--qos=short"]`).
    pub sbatch_args: Vec<String>,
}

impl SlurmResources {
    /// These resources with every field that `over` sets replaced by its value; `sbatch_args`
    /// are appended.
    pub fn overridden_by(&self, over: &SlurmResources) -> SlurmResources {
        SlurmResources {
            partition: over.partition.clone().or_else(|| self.partition.clone()),
            time: over.time.clone().or_else(|| self.time.clone()),
            mem: over.mem.clone().or_else(|| self.mem.clone()),
            cpus_per_task: over.cpus_per_task.or(self.cpus_per_task),
            sbatch_args: self
                .sbatch_args
                .iter()
                .chain(&over.sbatch_args)
                .cloned()
                .collect(),
        }
    }

    /// Checks every set field; `prefix` is the table the fields sit in (`slurm`).
    pub fn validate(&self, source_name: &str, prefix: &str) -> Result<()> {
        let field = |name: &str| format!("{prefix}.{name}");
        if let Some(p) = &self.partition
            && (p.is_empty() || p.chars().any(|c| c.is_whitespace() || c == '\''))
        {
            let msg = format!("must be a partition name without spaces, got `{p}`");
            return Err(Error::config(source_name, field("partition"), msg));
        }
        if let Some(t) = &self.time
            && !is_slurm_time(t)
        {
            let msg = format!(
                "must be a Slurm time limit (MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS or \
                 UNLIMITED), got `{t}`"
            );
            return Err(Error::config(source_name, field("time"), msg));
        }
        if let Some(m) = &self.mem
            && !is_slurm_memory(m)
        {
            let msg =
                format!("must be a whole number with an optional unit K, M, G or T, got `{m}`");
            return Err(Error::config(source_name, field("mem"), msg));
        }
        if let Some(cpus) = self.cpus_per_task
            && !(1..=MAX_THREADS).contains(&cpus)
        {
            return Err(Error::config(
                source_name,
                field("cpus_per_task"),
                format!("must be 1 to {MAX_THREADS}, got {cpus}"),
            ));
        }
        if let Some(p) = &self.partition
            && (p.is_empty()
                || !p
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.,".contains(c)))
        {
            let msg = format!("must be Slurm partition names (letters, digits, `-_.,`), got {p:?}");
            return Err(Error::config(source_name, field("partition"), msg));
        }
        for arg in &self.sbatch_args {
            if !arg.starts_with('-') || arg.contains(['\n', '\r']) {
                let msg =
                    format!("each entry must be one sbatch option like `--qos=short`, got `{arg}`");
                return Err(Error::config(source_name, field("sbatch_args"), msg));
            }
        }
        Ok(())
    }
}

/// The `[slurm]` table: default resources, per-stage overrides and array limits.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SlurmSettings {
    /// `--partition` of every task.
    pub partition: Option<String>,
    /// `--time` of every task (see [`SlurmResources::time`]).
    pub time: Option<String>,
    /// `--mem` of every task (see [`SlurmResources::mem`]).
    pub mem: Option<String>,
    /// `--cpus-per-task` of every task.
    pub cpus_per_task: Option<u32>,
    /// Further `sbatch` options of every task.
    pub sbatch_args: Vec<String>,
    /// At most this many tasks of one array run at once (`--array=0-N%max_parallel`).
    pub max_parallel: Option<u32>,
    /// The most tasks one array holds; a bigger level is split (the cluster's `MaxArraySize`
    /// minus one).
    pub array_limit: u32,
    /// Resources of one stage's tasks, over the defaults above: `[slurm.stages.training]`.
    pub stages: BTreeMap<String, SlurmResources>,
}

impl Default for SlurmSettings {
    fn default() -> Self {
        SlurmSettings {
            partition: None,
            time: None,
            mem: None,
            cpus_per_task: None,
            sbatch_args: Vec::new(),
            max_parallel: None,
            array_limit: DEFAULT_ARRAY_LIMIT,
            stages: BTreeMap::new(),
        }
    }
}

impl SlurmSettings {
    /// The resources every task gets unless its stage overrides them.
    pub fn defaults(&self) -> SlurmResources {
        SlurmResources {
            partition: self.partition.clone(),
            time: self.time.clone(),
            mem: self.mem.clone(),
            cpus_per_task: self.cpus_per_task,
            sbatch_args: self.sbatch_args.clone(),
        }
    }

    /// Puts `over`'s set fields over the default resources (command-line flags over the
    /// pipeline's table); `sbatch_args` are appended.
    pub fn override_defaults(&mut self, over: &SlurmResources) {
        let merged = self.defaults().overridden_by(over);
        self.partition = merged.partition;
        self.time = merged.time;
        self.mem = merged.mem;
        self.cpus_per_task = merged.cpus_per_task;
        self.sbatch_args = merged.sbatch_args;
    }

    /// The resources of `stage`'s tasks.
    pub fn resources(&self, stage: &str) -> SlurmResources {
        match self.stages.get(stage) {
            Some(over) => self.defaults().overridden_by(over),
            None => self.defaults(),
        }
    }

    /// Checks every field; `stages` must name stages that exist.
    pub fn validate(&self, source_name: &str) -> Result<()> {
        self.defaults().validate(source_name, "slurm")?;
        if self.max_parallel == Some(0) {
            return Err(Error::config(
                source_name,
                "slurm.max_parallel",
                "must be at least 1",
            ));
        }
        if self.array_limit == 0 {
            return Err(Error::config(
                source_name,
                "slurm.array_limit",
                "must be at least 1",
            ));
        }
        let known = stage_names();
        for (stage, resources) in &self.stages {
            if !known.contains(&stage.as_str()) {
                let msg = format!("unknown stage, expected one of: {}", known.join(", "));
                return Err(Error::config(
                    source_name,
                    format!("slurm.stages.{stage}"),
                    msg,
                ));
            }
            resources.validate(source_name, &format!("slurm.stages.{stage}"))?;
        }
        Ok(())
    }
}

/// The stages that write artifacts, in pipeline order.
pub fn stage_names() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = Vec::new();
    for table in glh_artifacts::schemas::ALL_TABLES {
        if !names.contains(&table.stage) {
            names.push(table.stage);
        }
    }
    names
}

/// Slurm's time-limit grammar: `MM`, `MM:SS`, `HH:MM:SS`, `D-HH`, `D-HH:MM`, `D-HH:MM:SS`, or
/// `UNLIMITED` / `INFINITE`.
pub fn is_slurm_time(s: &str) -> bool {
    if matches!(s, "UNLIMITED" | "INFINITE") {
        return true;
    }
    let number = |p: &str| !p.is_empty() && p.len() <= 6 && p.bytes().all(|b| b.is_ascii_digit());
    let (days, clock) = match s.split_once('-') {
        Some((d, rest)) => (Some(d), rest),
        None => (None, s),
    };
    if days.is_some_and(|d| !number(d)) {
        return false;
    }
    let parts: Vec<&str> = clock.split(':').collect();
    parts.len() <= 3 && parts.iter().all(|p| number(p))
}

/// Slurm's memory grammar: a whole number with an optional unit K, M, G or T.
pub fn is_slurm_memory(s: &str) -> bool {
    let digits = s.trim_end_matches(['K', 'M', 'G', 'T']);
    s.len() - digits.len() <= 1 && !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slurm_time_and_memory_grammar() {
        for good in [
            "30",
            "30:00",
            "01:30:00",
            "2-0",
            "2-12",
            "2-12:30",
            "2-12:30:00",
            "UNLIMITED",
        ] {
            assert!(is_slurm_time(good), "{good}");
        }
        for bad in [
            "",
            "1h",
            "1:2:3:4",
            "-1",
            "2-",
            "1.5",
            "2-1:2:3:4",
            "30 min",
        ] {
            assert!(!is_slurm_time(bad), "{bad}");
        }
        for good in ["4G", "500M", "1024", "2T"] {
            assert!(is_slurm_memory(good), "{good}");
        }
        for bad in ["", "G", "4GB", "4.5G", "-1G", "4 G"] {
            assert!(!is_slurm_memory(bad), "{bad}");
        }
    }

    #[test]
    fn stage_resources_override_the_defaults() {
        let settings = SlurmSettings {
            partition: Some("cpu".into()),
            time: Some("10".into()),
            sbatch_args: vec!["--account=lab".into()],
            stages: BTreeMap::from([(
                "training".to_string(),
                SlurmResources {
                    partition: Some("gpu".into()),
                    sbatch_args: vec!["--gres=gpu:1".into()],
                    ..SlurmResources::default()
                },
            )]),
            ..SlurmSettings::default()
        };
        let training = settings.resources("training");
        assert_eq!(training.partition.as_deref(), Some("gpu"));
        assert_eq!(training.time.as_deref(), Some("10"));
        assert_eq!(training.sbatch_args, ["--account=lab", "--gres=gpu:1"]);
        assert_eq!(settings.resources("masks"), settings.defaults());

        // Flags over the table: set fields win, unset ones keep the table's, arguments add up.
        let mut flagged = settings.clone();
        flagged.override_defaults(&SlurmResources {
            time: Some("20".into()),
            sbatch_args: vec!["--qos=short".into()],
            ..SlurmResources::default()
        });
        let masks = flagged.resources("masks");
        assert_eq!(masks.partition.as_deref(), Some("cpu"));
        assert_eq!(masks.time.as_deref(), Some("20"));
        assert_eq!(masks.sbatch_args, ["--account=lab", "--qos=short"]);
        assert_eq!(
            flagged.resources("training").partition.as_deref(),
            Some("gpu")
        );
    }

    #[test]
    fn bad_settings_name_the_field() {
        let err = |s: SlurmSettings| s.validate("p.toml").unwrap_err().to_string();
        assert_eq!(
            err(SlurmSettings {
                time: Some("1h".into()),
                ..SlurmSettings::default()
            }),
            "p.toml: `slurm.time`: must be a Slurm time limit (MM, MM:SS, HH:MM:SS, D-HH, \
             D-HH:MM, D-HH:MM:SS or UNLIMITED), got `1h`"
        );
        let stages = BTreeMap::from([("trainig".to_string(), SlurmResources::default())]);
        assert!(
            err(SlurmSettings {
                stages,
                ..SlurmSettings::default()
            })
            .starts_with(
                "p.toml: `slurm.stages.trainig`: unknown stage, expected one of: data, masks"
            )
        );
        let stages = BTreeMap::from([(
            "ntk".to_string(),
            SlurmResources {
                mem: Some("4GB".into()),
                ..SlurmResources::default()
            },
        )]);
        assert!(
            err(SlurmSettings {
                stages,
                ..SlurmSettings::default()
            })
            .starts_with("p.toml: `slurm.stages.ntk.mem`: must be a whole number")
        );
        assert!(
            err(SlurmSettings {
                sbatch_args: vec!["qos=short".into()],
                ..SlurmSettings::default()
            })
            .starts_with("p.toml: `slurm.sbatch_args`: each entry must be one sbatch option")
        );
    }
}
