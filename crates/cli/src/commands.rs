//! One function per subcommand: each turns parsed arguments into a call of a stage library and
//! prints the result. Errors travel up as `glh_artifacts::Error` and become one line in `main`.

use crate::args::{
    Cli, Command, DataCommand, LsArgs, RunArgs, SchemaArgs, SchemaFormat, SubsetsArgs,
};
use crate::pipeline::{self, ExecOptions};
use crate::progress;
use glh_artifacts::config::{DataSettings, Pipeline};
use glh_artifacts::store::EntryState;
use glh_artifacts::{ArtifactStore, Error, Result, schemas};
use serde_json::Value;
use std::time::Instant;

/// Runs the parsed command.
pub fn dispatch(cli: Cli) -> Result<()> {
    let store = ArtifactStore::new(&cli.artifacts);
    match cli.command {
        Command::Data(DataCommand::Verify(args)) => data_verify(&args.dir, cli.quiet),
        Command::Data(DataCommand::Subsets(args)) => data_subsets(&store, args, cli.quiet),
        Command::Masks(_) => not_yet("masks", 3),
        Command::Graphons => not_yet("graphons", 4),
        Command::Ntk => not_yet("ntk", 5),
        Command::Train => not_yet("training", 6),
        Command::Report => not_yet("reporting", 7),
        Command::Run(args) => run(&store, args, cli.quiet),
        Command::Ls(args) => ls(&store, args),
        Command::Gc => gc(&store, cli.quiet),
        Command::Schema(args) => schema(args),
    }
}

fn not_yet(stage: &str, issue: u32) -> Result<()> {
    Err(Error::Unsupported(format!(
        "the {stage} stage is not implemented yet (issue #{issue}); its arguments were valid"
    )))
}

fn data_verify(dir: &std::path::Path, quiet: bool) -> Result<()> {
    let spinner = progress::spinner("verifying MNIST", quiet);
    let files = glh_data::mnist::verify(dir);
    spinner.finish_and_clear();
    for f in files? {
        if !quiet {
            println!(
                "ok  {}  {:?}  sha256 {}",
                f.path.display(),
                f.dims,
                f.sha256
            );
        }
    }
    Ok(())
}

fn data_subsets(store: &ArtifactStore, args: SubsetsArgs, quiet: bool) -> Result<()> {
    let settings = DataSettings {
        dir: args.data.dir,
        scoring_per_class: args.scoring_per_class,
        kernel_per_class: args.kernel_per_class,
        ..DataSettings::default()
    };
    let spinner = progress::spinner("drawing subsets", quiet);
    let outcome = glh_data::stage::run(store, &settings, args.seed, args.force);
    spinner.finish_and_clear();
    let outcome = outcome?;
    if !quiet {
        println!("{}  {}", outcome.status, outcome.dir.display());
    }
    Ok(())
}

fn run(store: &ArtifactStore, args: RunArgs, quiet: bool) -> Result<()> {
    let started = Instant::now();
    let pipeline = Pipeline::from_file(&args.pipeline)?;
    let plan = pipeline::plan(&pipeline)?;
    let jobs = args.jobs.map_or_else(
        || std::thread::available_parallelism().map_or(1, |n| n.get()),
        |j| j as usize,
    );
    let options = ExecOptions {
        force: args.force,
        jobs,
        quiet,
    };
    let reports = pipeline::execute(store, &plan, options)?;
    if !quiet {
        print!("{}", pipeline::summary(store, &reports, started));
    }
    Ok(())
}

fn ls(store: &ArtifactStore, args: LsArgs) -> Result<()> {
    let entries = store.entries()?;
    println!(
        "{:<10} {:<18} {:<10} {:>8} {:>8}  parameters",
        "stage", "key", "status", "rows", "wall_s"
    );
    for e in entries
        .iter()
        .filter(|e| args.stage.as_ref().is_none_or(|s| *s == e.stage))
    {
        let name = e
            .dir
            .file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default();
        match &e.state {
            EntryState::Complete(m) => {
                let rows: u64 = m.files.iter().map(|f| f.rows).sum();
                println!(
                    "{:<10} {:<18} {:<10} {:>8} {:>8.2}  {}",
                    e.stage,
                    name,
                    "complete",
                    rows,
                    m.wall_seconds,
                    scalar_params(&m.params)
                );
            }
            EntryState::Incomplete => {
                println!(
                    "{:<10} {:<18} {:<10} {:>8} {:>8}  (interrupted run; `glh gc` removes it)",
                    e.stage,
                    truncate(&name, 18),
                    "incomplete",
                    "-",
                    "-"
                );
            }
            EntryState::Damaged(why) => {
                println!(
                    "{:<10} {:<18} {:<10} {:>8} {:>8}  {why}",
                    e.stage, name, "damaged", "-", "-"
                );
            }
        }
    }
    Ok(())
}

/// `key=value` for the scalar parameters of a run (nested ones, like checksums, are omitted).
fn scalar_params(params: &Value) -> String {
    let Value::Object(map) = params else {
        return params.to_string();
    };
    let mut pairs: Vec<String> = map
        .iter()
        .filter(|(_, v)| !v.is_object() && !v.is_array())
        .map(|(k, v)| match v {
            Value::String(s) => format!("{k}={s}"),
            other => format!("{k}={other}"),
        })
        .collect();
    pairs.sort();
    pairs.join(" ")
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        s.chars().take(n - 1).chain(std::iter::once('…')).collect()
    }
}

fn gc(store: &ArtifactStore, quiet: bool) -> Result<()> {
    let removed = store.remove_incomplete()?;
    if !quiet {
        for dir in &removed {
            println!("removed {}", dir.display());
        }
        println!("{} incomplete directories removed", removed.len());
    }
    Ok(())
}

fn schema(args: SchemaArgs) -> Result<()> {
    match args.format {
        SchemaFormat::Markdown => print!("{}", schemas::markdown()),
        SchemaFormat::Json => {
            let tables: Vec<Value> = schemas::ALL_TABLES
                .iter()
                .map(|t| {
                    let columns: Vec<Value> = t
                        .columns
                        .iter()
                        .map(|c| serde_json::json!({"name": c.name, "dtype": c.dtype.polars_name(), "doc": c.doc}))
                        .collect();
                    serde_json::json!({"stage": t.stage, "name": t.name, "file": t.file_name(), "columns": columns})
                })
                .collect();
            println!("{}", serde_json::to_string_pretty(&tables).expect("json"));
        }
    }
    Ok(())
}
