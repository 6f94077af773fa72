//! One function per subcommand: each turns parsed arguments into a call of a stage library and
//! prints the result. Errors travel up as `glh_artifacts::Error` and become one line in `main`.

use crate::args::{
    Cli, Command, CriterionArg, DataCommand, DesignArgs, Executor, ExportArgs, ExportFormat,
    FamilyArg, GcArgs, GraphonNtkArgs, GraphonsArgs, JobArgs, LsArgs, MaskSourceArgs, MasksAction,
    MasksArgs, NtkArgs, ReportArgs, RunArgs, SchemaArgs, SchemaFormat, SlurmArgs, SubsetsArgs,
    TargetKind, TrainArgs,
};
use crate::progress::{self, Bars};
use glh_artifacts::store::{EntryState, InputRef};
use glh_artifacts::{ArtifactStore, Error, Result, schemas};
use glh_data::DataSettings;
use glh_graphons::stage::MaskSource;
use glh_masks::MasksSettings;
use glh_masks::settings::GraphonTarget;
use glh_masks::stage::MaskPoint;
use glh_ntk::NtkSettings;
use glh_ntk::stage::KernelsJob;
use glh_pipeline::cluster::{SlurmResources, SlurmSettings};
use glh_pipeline::slurm::{self, SlurmOptions};
use glh_pipeline::{ExecOptions, Pipeline, sweeps};
use glh_training::TrainingSettings;
use serde_json::Value;
use std::io::Write;
use std::time::Instant;

/// `print!` whose failure (a full disk, a closed file behind `>`) is an error naming standard
/// output, not a panic. A closed pipe ends the process quietly instead (SIGPIPE, see `main`).
macro_rules! out {
    ($($arg:tt)*) => {
        write_stdout(format_args!($($arg)*))?
    };
}

/// `println!` as [`out!`] prints.
macro_rules! outln {
    () => { out!("\n") };
    ($($arg:tt)*) => {{
        out!($($arg)*);
        out!("\n");
    }};
}

/// Writes to standard output; see [`out!`].
fn write_stdout(args: std::fmt::Arguments) -> Result<()> {
    std::io::stdout()
        .lock()
        .write_fmt(args)
        .map_err(|e| Error::output("standard output", e))
}

/// Runs the parsed command.
pub fn dispatch(cli: Cli) -> Result<()> {
    let result = dispatch_command(cli);
    // What is still buffered must reach its file too, or fail loudly.
    let flushed = std::io::stdout()
        .flush()
        .map_err(|e| Error::output("standard output", e));
    result.and(flushed)
}

fn dispatch_command(cli: Cli) -> Result<()> {
    if let Some(bytes) = cli.memory_limit {
        glh_artifacts::memory::set_limit(bytes);
    }
    if !matches!(
        cli.command,
        Command::Schema(_) | Command::Data(DataCommand::Verify(_))
    ) {
        check_artifacts_path(&cli.artifacts)?;
    }
    let store = ArtifactStore::new(&cli.artifacts);
    match cli.command {
        Command::Data(DataCommand::Verify(args)) => data_verify(&args.data_dir, cli.quiet),
        Command::Data(DataCommand::Subsets(args)) => data_subsets(&store, args, cli.quiet),
        Command::Masks(cmd) => match cmd.action {
            Some(MasksAction::Export(args)) => masks_export(&store, args, cli.quiet),
            None => masks(&store, cmd.run, cli.quiet),
        },
        Command::Graphons(args) => graphons(&store, args, cli.quiet),
        Command::Ntk(args) => ntk(&store, args, cli.quiet),
        Command::GraphonNtk(args) => graphon_ntk(&store, args, cli.quiet),
        Command::Design(args) => design(&store, args, cli.quiet),
        Command::Train(args) => train(&store, args, cli.quiet),
        Command::Report(args) => report(&store, args, cli.quiet),
        Command::Run(args) => run(&store, args, cli.quiet),
        Command::Job(args) => job(&store, args, cli.quiet),
        Command::Ls(args) => ls(&store, args),
        Command::Verify => verify(&store, cli.quiet),
        Command::Gc(args) => gc(&store, args, cli.quiet),
        Command::Schema(args) => schema(args),
    }
}

/// Refuses an `--artifacts` path no command could use (a file, an unreadable directory, or one
/// that cannot be created), with the same exit code whichever command was asked.
fn check_artifacts_path(path: &std::path::Path) -> Result<()> {
    let bad = |why: String| Error::config("command line", "--artifacts", why);
    let shown = path.display();
    match std::fs::metadata(path) {
        Ok(meta) if !meta.is_dir() => Err(bad(format!("`{shown}` exists and is not a directory"))),
        Ok(_) => std::fs::read_dir(path)
            .map(|_| ())
            .map_err(|e| bad(format!("`{shown}` cannot be read: {e}"))),
        Err(_) => {
            // Created on first write: the nearest existing ancestor must be a writable directory.
            let mut ancestor = path.parent();
            while let Some(a) = ancestor {
                let a = if a.as_os_str().is_empty() {
                    std::path::Path::new(".")
                } else {
                    a
                };
                match std::fs::metadata(a) {
                    Ok(meta) if meta.is_dir() && writable(a) => return Ok(()),
                    Ok(_) => {
                        return Err(bad(format!(
                            "`{shown}` cannot be created: `{}` is not a writable directory",
                            a.display()
                        )));
                    }
                    Err(_) => ancestor = a.parent(),
                }
            }
            Ok(())
        }
    }
}

/// Whether this process may create entries in the directory `dir`.
fn writable(dir: &std::path::Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c_path) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: `c_path` is a valid NUL-terminated string that outlives the call.
    unsafe { libc::access(c_path.as_ptr(), libc::W_OK | libc::X_OK) == 0 }
}

fn data_verify(dir: &std::path::Path, quiet: bool) -> Result<()> {
    let spinner = progress::spinner("verifying MNIST", quiet);
    let files = glh_data::mnist::verify(dir);
    spinner.finish_and_clear();
    for f in files? {
        if !quiet {
            outln!(
                "ok  {}  {:?}  sha256 {}",
                f.path.display(),
                f.dims,
                f.sha256
            );
        }
    }
    Ok(())
}

/// Runs one stage job through the executor's single-job path, on all the machine's cores.
fn run_job(
    store: &ArtifactStore,
    job: &dyn glh_artifacts::Job,
    force: bool,
    progress: &mut (dyn FnMut(usize, usize) + Send),
) -> Result<glh_artifacts::JobOutcome> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    glh_pipeline::execute_job(store, job, force, threads, progress)
}

fn data_subsets(store: &ArtifactStore, args: SubsetsArgs, quiet: bool) -> Result<()> {
    let settings = DataSettings {
        dir: args.data.data_dir,
        scoring_per_class: args.scoring_per_class,
        kernel_per_class: args.kernel_per_class,
        ..DataSettings::default()
    };
    let spinner = progress::spinner("drawing subsets", quiet);
    let job = glh_data::stage::SubsetsJob::new(&settings, args.seed)?;
    let outcome = run_job(store, &job, args.force, &mut |_, _| {});
    spinner.finish_and_clear();
    let outcome = outcome?;
    if !quiet {
        outln!("{}  {}", outcome.status, outcome.dir.display());
    }
    Ok(())
}

fn masks(store: &ArtifactStore, args: MasksArgs, quiet: bool) -> Result<()> {
    let settings = MasksSettings {
        scope: args.scope,
        synflow_rounds: args.synflow_rounds,
        grasp_temperature: args.grasp_temperature,
        allow_empty_layers: args.allow_empty_layers,
        classifier: args.classifier,
        graphon: match args.target {
            TargetKind::Constant => GraphonTarget::Constant,
            TargetKind::Power => GraphonTarget::Power { beta: args.beta },
            TargetKind::Block => GraphonTarget::Block {
                rows: args.block_rows,
                cols: args.block_cols,
            },
            TargetKind::Histogram => GraphonTarget::Histogram {
                graphons: args.histograms.clone().unwrap_or_default(),
            },
            TargetKind::Table => GraphonTarget::Table {
                file: args.table.clone().unwrap_or_default(),
            },
        }
        .into(),
    };
    settings.validate("command line")?;
    let data = DataSettings {
        dir: args.data_dir,
        standardise: !args.no_standardise,
        ..DataSettings::default()
    };
    let point = MaskPoint {
        method: args.method.expect("clap requires --method"),
        width: args.width.expect("clap requires --width"),
        sparsity: args.sparsity.expect("clap requires --sparsity"),
        depth: args.depth,
        seed: args.seed,
    };
    let bar = progress::bar(0, &format!("{} rounds", point.method), quiet);
    let job = glh_masks::stage::MasksJob::new(&settings, &data, point)?;
    let outcome = run_job(store, &job, args.force, &mut |e, rounds| {
        bar.set_length(rounds as u64);
        bar.set_position(e as u64);
    });
    bar.finish_and_clear();
    let outcome = outcome?;
    if !quiet {
        outln!("{}  {}", outcome.status, outcome.dir.display());
        let input = outcome.as_input();
        // The per-layer table, not the whole mask: it is small at any width.
        let layers = glh_masks::stage::read_layer_summary(store, &input)?;
        outln!(
            "{:>5} {:>11} {:>10} {:>9}",
            "layer",
            "shape",
            "kept",
            "density"
        );
        for l in &layers {
            let shape = format!("{}x{}", l.n_rows, l.n_cols);
            outln!(
                "{:>5} {:>11} {:>10} {:>9.4}",
                l.layer,
                shape,
                l.kept,
                l.density
            );
        }
        let total: u64 = layers.iter().map(|l| l.kept).sum();
        outln!("{:>5} {:>11} {:>10}", "all", "", total);
    }
    Ok(())
}

/// The complete masks run named by `run`: a key (as `glh ls` prints it) or a run directory.
/// The mask `--edges` (read now) or `--masks` names.
fn mask_source(store: &ArtifactStore, args: &MaskSourceArgs) -> Result<MaskSource> {
    if let (Some(run), Some(checkpoint)) = (&args.training, args.checkpoint) {
        let training = stage_run(store, run, "--training", glh_training::stage::STAGE)?;
        return MaskSource::checkpoint(store, training, checkpoint);
    }
    match (&args.edges, &args.safetensors, &args.masks) {
        (Some(path), _, _) => MaskSource::edge_list(path),
        (None, Some(path), _) => {
            let source = MaskSource::safetensors(path, args.layers.as_deref())?;
            if let MaskSource::Safetensors(_, _, layers) = &source {
                eprintln!(
                    "{}: layers, input first: {}",
                    path.display(),
                    layers.join(", ")
                );
            }
            Ok(source)
        }
        (None, None, Some(run)) => Ok(MaskSource::Stored(masks_run(store, run, "--masks")?)),
        (None, None, None) => unreachable!("clap requires --edges, --safetensors or --masks"),
    }
}

fn masks_run(store: &ArtifactStore, run: &str, flag: &str) -> Result<InputRef> {
    stage_run(store, run, flag, glh_masks::stage::STAGE)
}

/// The complete run of `stage` named by `run`: a key (as `glh ls` prints it) or a run
/// directory.
fn stage_run(store: &ArtifactStore, run: &str, flag: &str, stage: &str) -> Result<InputRef> {
    let as_dir = std::path::Path::new(run);
    let key = if as_dir.join(glh_artifacts::store::MANIFEST).is_file() {
        glh_artifacts::store::read_manifest(as_dir)?.key
    } else {
        glh_artifacts::ArtifactKey::parse(run).ok_or_else(|| {
            Error::config(
                "command line",
                flag,
                format!("`{run}` is neither a {stage} run directory nor a key (see `glh ls --stage {stage}`)"),
            )
        })?
    };
    let input = InputRef {
        stage: stage.to_string(),
        key,
    };
    if store.find(&input.stage, &input.key)?.is_none() {
        let dir = store.run_dir(&input.stage, &input.key);
        let msg = format!("no complete {stage} run here (see `glh ls --stage {stage}`)");
        return Err(Error::input(dir, msg));
    }
    Ok(input)
}

fn masks_export(store: &ArtifactStore, args: ExportArgs, quiet: bool) -> Result<()> {
    let input = masks_run(store, &args.run, "RUN")?;
    // The batch first: a run without one fails before anything is written.
    if let Some(path) = &args.scoring_batch {
        let images = glh_masks::export::export_scoring_batch(store, &input, &args.data_dir, path)?;
        if !quiet {
            outln!("{images} scoring images  {}", path.display());
        }
    }
    match args.format {
        ExportFormat::Edges => {
            let (_, mask) = glh_masks::stage::read_mask(store, &input)?;
            let edges = glh_masks::export::export_edges(store, &mask, &input, &args.out)?;
            if !quiet {
                outln!("{edges} edges  {}", args.out.display());
            }
        }
        ExportFormat::Safetensors => {
            let kept = glh_masks::export::export_safetensors(store, &input, &args.out)?;
            if !quiet {
                outln!("{kept} kept weights  {}", args.out.display());
            }
        }
    }
    Ok(())
}

fn graphons(store: &ArtifactStore, args: GraphonsArgs, quiet: bool) -> Result<()> {
    let settings = glh_graphons::GraphonsSettings {
        k: args.k,
        ..Default::default()
    };
    let job = glh_graphons::stage::HistogramsJob::new(&settings, mask_source(store, &args.mask)?);
    let outcome = run_job(store, &job, args.force, &mut |_, _| {})?;
    if !quiet {
        outln!("{}  {}", outcome.status, outcome.dir.display());
        let input = outcome.as_input();
        for (layer, h) in glh_graphons::stage::read_histograms(store, &input)? {
            let mean = h.values.iter().sum::<f64>() / h.values.len() as f64;
            let (lo, hi) = h
                .values
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
                    (a.min(v), b.max(v))
                });
            outln!(
                "layer {layer}: {}x{} blocks, density mean {mean:.4}, min {lo:.4}, max {hi:.4}",
                h.rows,
                h.cols
            );
        }
    }
    Ok(())
}

fn design(store: &ArtifactStore, args: DesignArgs, quiet: bool) -> Result<()> {
    use glh_ntk::design::{Criterion, DesignSearch, Family, KeptProfile, best, run_search};
    let families: Vec<Family> = args
        .family
        .iter()
        .map(|f| match f {
            FamilyArg::Power => Family::Power,
            FamilyArg::Block => Family::Block,
        })
        .collect();
    let criterion = match args.criterion {
        CriterionArg::Top5Energy => Criterion::Top5Energy,
        CriterionArg::Trace => Criterion::Trace,
        CriterionArg::PredictedLossRatio => Criterion::PredictedLossRatio,
    };
    let mut profile = "uniform".to_owned();
    let kept_profile = match (&args.masks, args.sparsity.or(args.density)) {
        (Some(run), _) => {
            let input = masks_run(store, run, "--masks")?;
            let (_, mask) = glh_masks::stage::read_mask(store, &input)?;
            profile = input.key.to_string();
            KeptProfile::of_mask(&mask)
        }
        (None, Some(sparsity)) => KeptProfile::uniform(
            u64::from(args.width.get()),
            args.depth.get(),
            sparsity.density(),
        ),
        (None, None) => unreachable!("clap requires --sparsity, --density or --masks"),
    };
    let (shapes, kept) = (&kept_profile.shapes, &kept_profile.kept);
    let settings = DesignSearch {
        families,
        grid: args.grid.clone(),
        refinements: args.refinements,
        criterion,
        k: args.k as usize,
        kernel_size: args.kernel_size,
        kernel_seed: args.kernel_seed,
        sigma_w2: args.sigma_w2,
    };
    let data = DataSettings {
        dir: args.data_dir.clone(),
        ..DataSettings::default()
    };
    let evaluations = settings.evaluations();
    let bar = progress::bar(evaluations as u64, "kernels", quiet);
    let points = run_search(&settings, &data, shapes, kept, &mut |_, _| bar.inc(1));
    bar.finish_and_clear();
    let points = points?;
    if let Some(out) = &args.out {
        let context = kept_profile.context(profile);
        glh_ntk::design::write_points(&points, &settings, &context, store.root(), out)?;
    }
    if !quiet {
        outln!(
            "{:>7} {:>10} {:>6} {:>9} {:>12} {:>9} {:>9} {:>10}",
            "family",
            "parameter",
            "grid",
            "top5",
            "trace",
            "trace/l_1",
            "l_1/l_2",
            "loss T/0"
        );
        for p in &points {
            let m = &p.reading.metrics;
            outln!(
                "{:>7} {:>10.4} {:>6} {:>9.5} {:>12.5e} {:>9.3} {:>9.3} {:>10.5}",
                p.family.name(),
                p.parameter,
                if p.on_grid { "yes" } else { "" },
                m.top5_energy,
                m.trace,
                m.effective_rank_trace,
                m.ratio_1_2,
                p.reading.predicted_loss_ratio
            );
        }
        let top = best(&points, criterion).expect("a search evaluates the grid");
        let grids = settings.grids();
        let grid = &grids
            .iter()
            .find(|(f, _)| *f == top.family)
            .expect("searched")
            .1;
        let at_edge =
            grid.len() > 1 && (top.parameter == grid[0] || top.parameter == grid[grid.len() - 1]);
        outln!(
            "best: {} {} = {:.4} ({} = {:.6}){}",
            top.family.name(),
            top.family.parameter_name(),
            top.parameter,
            criterion.name(),
            criterion.of(&top.reading),
            if at_edge {
                "; at the grid's edge, so the optimum may lie beyond it: widen --grid"
            } else {
                ""
            }
        );
    }
    Ok(())
}

fn graphon_ntk(store: &ArtifactStore, args: GraphonNtkArgs, quiet: bool) -> Result<()> {
    let settings = glh_ntk::settings::GraphonNtkSettings {
        k: args.k,
        sigma_w2: args.sigma_w2.clone(),
        kernel_size: args.kernel_size,
        kernel_seed: args.kernel_seed,
        draw_masks: args.draw_masks,
        draw_seed: args.draw_seed,
        seed_kernels: args.seed_kernels,
    };
    settings.validate("command line")?;
    let data = DataSettings {
        dir: args.data_dir.clone(),
        ..DataSettings::default()
    };
    let masks = args
        .masks
        .iter()
        .map(|run| masks_run(store, run, "--masks"))
        .collect::<Result<Vec<_>>>()?;
    let job = glh_ntk::graphon_stage::GraphonNtkJob::new(&settings, &data, masks)?;
    let spinner = progress::spinner("computing graphon kernels", quiet);
    let outcome = run_job(store, &job, args.force, &mut |_, _| {});
    spinner.finish_and_clear();
    let outcome = outcome?;
    if !quiet {
        outln!("{}  {}", outcome.status, outcome.dir.display());
        outln!(
            "{:<12} {:>9} {:>8} {:>11} {:>9} {:>7} {:>12} {:>11}",
            "kernel",
            "sigma_w2",
            "top5",
            "trace/l_1",
            "l_1/l_2",
            "alpha",
            "trace",
            "vs graphon"
        );
        for row in glh_ntk::graphon_stage::read_metrics(store, &outcome.as_input())? {
            let m = &row.metrics;
            outln!(
                "{:<12} {:>9} {:>8.4} {:>11.3} {:>9.3} {:>7.3} {:>12.5e} {:>11.2e}",
                row.kernel,
                row.sigma_w2,
                m.top5_energy,
                m.effective_rank_trace,
                m.ratio_1_2,
                -m.decay_exponent,
                m.trace,
                row.rel_error_to_graphon
            );
        }
    }
    Ok(())
}

fn ntk(store: &ArtifactStore, args: NtkArgs, quiet: bool) -> Result<()> {
    let settings = NtkSettings {
        sigma_w2: args.sigma_w2,
        histogram_k: args.histogram_k,
        empirical_draws: args.empirical_draws,
        ..NtkSettings::default()
    };
    settings.validate("command line")?;
    let data = DataSettings {
        dir: args.data_dir.clone(),
        kernel_per_class: args.kernel_per_class,
        ..DataSettings::default()
    };
    let source = mask_source(store, &args.mask)?;
    let job = KernelsJob::of_source(store, &settings, &data, source, args.seed)?;
    let spinner = progress::spinner("computing kernels", quiet);
    let outcome = run_job(store, &job, args.force, &mut |_, _| {});
    spinner.finish_and_clear();
    let outcome = outcome?;
    if !quiet {
        outln!("{}  {}", outcome.status, outcome.dir.display());
        let input = outcome.as_input();
        outln!(
            "{:<10} {:>6} {:>12} {:>8} {:>9} {:>10} {:>11} {:>9}",
            "kernel",
            "blocks",
            "trace",
            "top5",
            "eff.rank",
            "decay",
            "/dense",
            "vs mask"
        );
        for m in glh_ntk::stage::read_metrics(store, &input)? {
            outln!(
                "{:<10} {:>6} {:>12.5e} {:>8.4} {:>9.2} {:>10.3} {:>11.4e} {:>9.2e}",
                m.kernel,
                m.blocks,
                m.metrics.trace,
                m.metrics.top5_energy,
                m.metrics.effective_rank_entropy,
                m.metrics.decay_exponent,
                m.trace_ratio_to_dense,
                m.rel_error_to_mask
            );
        }
    }
    Ok(())
}

fn train(store: &ArtifactStore, args: TrainArgs, quiet: bool) -> Result<()> {
    let settings = TrainingSettings {
        parameterisation: args.parameterisation,
        loss: args.loss,
        optimizer: args.optimizer,
        sigma_w2: args.sigma_w2,
        output_steps: args.output_steps.clone(),
        steps: args.steps,
        batch_size: args.batch_size,
        learning_rate: args.learning_rate,
        eval_every: args.eval_every,
        loss_threshold: args.loss_threshold,
        device: args.device,
        schedule: args.schedule()?,
        ..TrainingSettings::default()
    };
    settings.validate("command line")?;
    let data = DataSettings {
        dir: args.data_dir.clone(),
        standardise: !args.no_standardise,
        kernel_per_class: args.kernel_per_class,
        ..DataSettings::default()
    };
    let run = args.masks.as_deref().expect("clap requires --masks");
    let input = masks_run(store, run, "--masks")?;
    let total_steps = settings.schedule.total_steps(settings.steps);
    let bar = progress::bar(total_steps, "steps", quiet);
    let job = glh_training::stage::TrainingJob::of_stored(store, &settings, &data, input)?;
    let outcome = run_job(store, &job, args.force, &mut |done, _| {
        bar.set_position(done as u64)
    });
    bar.finish_and_clear();
    let outcome = outcome?;
    if !quiet {
        outln!("{}  {}", outcome.status, outcome.dir.display());
        let input = outcome.as_input();
        let history = glh_training::stage::read_history(store, &input)?;
        outln!("{:>6} {:>10} {:>10}", "step", "test loss", "accuracy");
        for e in &history.test {
            outln!("{:>6} {:>10.4} {:>10.4}", e.step, e.loss, e.accuracy);
        }
        if !settings.schedule.is_static() {
            let checkpoints = glh_masks::stage::read_schedule_masks(store, &input)?;
            outln!(
                "{:>10} {:>6} {:>10} {:>8}",
                "checkpoint",
                "step",
                "kept",
                "changed"
            );
            for (i, c) in checkpoints.iter().enumerate() {
                let changed = match i {
                    0 => 0.0,
                    _ => checkpoints[i - 1].mask.changed_fraction(&c.mask),
                };
                outln!(
                    "{:>10} {:>6} {:>10} {:>8.4}",
                    c.checkpoint,
                    c.step,
                    c.mask.kept(),
                    changed
                );
            }
        }
        let s = history.summary(settings.loss_threshold);
        outln!(
            "mean training loss {:.4}; training loss at step 50: {:.4}, at 100: {:.4}; first step <= {}: {}",
            s.mean_train_loss,
            s.train_loss_at_50,
            s.train_loss_at_100,
            settings.loss_threshold,
            s.steps_to_threshold
        );
    }
    Ok(())
}

fn report(store: &ArtifactStore, args: ReportArgs, quiet: bool) -> Result<()> {
    let mut pipelines = args
        .pipelines
        .iter()
        .map(|p| Pipeline::from_file(p))
        .collect::<Result<Vec<_>>>()?;
    if let Some(seeds) = &args.seeds {
        for p in &mut pipelines {
            p.set_seeds(seeds.0.clone())?;
        }
    }
    let experiments = pipelines
        .iter()
        .map(glh_pipeline::report_plan::experiment)
        .collect::<Result<Vec<_>>>()?;
    let settings = glh_reporting::ReportSettings {
        bootstrap: args.bootstrap as usize,
        allow_partial: args.allow_partial,
        ..Default::default()
    };
    let spinner = progress::spinner("writing the report", quiet);
    let output = glh_reporting::write_report(store, &experiments, &args.out, &settings);
    spinner.finish_and_clear();
    let output = output?;
    if !quiet {
        for claim in &output.claims {
            outln!(
                "{:<4} {}  ({})",
                claim.verdict,
                claim.statement.text(),
                claim.experiment
            );
        }
        outln!(
            "{} figures, {} tables; report: {} (and {})",
            output.figures.len(),
            output.tables,
            output.markdown.display(),
            output.html.display()
        );
    }
    Ok(())
}

fn run(store: &ArtifactStore, args: RunArgs, quiet: bool) -> Result<()> {
    let started = Instant::now();
    let mut pipeline = Pipeline::from_file(&args.pipeline)?;
    if let Some(seeds) = &args.seeds {
        pipeline.set_seeds(seeds.0.clone())?;
    }
    let plan = glh_pipeline::plan(&pipeline)?;
    if args.executor == Executor::Slurm {
        return run_on_slurm(store, &pipeline, &args, &plan, quiet);
    }
    if let Some(flag) = args.slurm.first_set() {
        let msg = "applies to --executor slurm only";
        return Err(Error::config("command line", flag, msg));
    }
    let jobs = args.jobs.map_or_else(
        || std::thread::available_parallelism().map_or(1, |n| n.get()),
        |j| j as usize,
    );
    let options = ExecOptions {
        force: args.force,
        jobs,
    };
    let reports = glh_pipeline::execute(store, &plan, options, &Bars::new("jobs", quiet))?;
    if !quiet {
        out!("{}", glh_pipeline::local::summary(store, &reports, started));
    }
    Ok(())
}

/// The pipeline's `[slurm]` table with the command line's flags over it.
fn slurm_settings(pipeline: &Pipeline, flags: &SlurmArgs) -> Result<SlurmSettings> {
    let mut settings = pipeline.slurm.clone().unwrap_or_default();
    let over = SlurmResources {
        partition: flags.partition.clone(),
        time: flags.time.clone(),
        mem: flags.mem.clone(),
        cpus_per_task: flags.cpus_per_task,
        sbatch_args: flags.sbatch_arg.clone(),
    };
    over.validate("command line", "slurm")
        .map_err(|e| match e {
            // Name the flag, not the pipeline field it stands for.
            Error::Config {
                source_name,
                field,
                message,
            } => {
                let flag = match field.trim_start_matches("slurm.") {
                    "sbatch_args" => "--sbatch-arg".to_string(),
                    name => format!("--{}", name.replace('_', "-")),
                };
                Error::config(source_name, flag, message)
            }
            other => other,
        })?;
    settings.override_defaults(&over);
    settings.max_parallel = flags.max_parallel.or(settings.max_parallel);
    Ok(settings)
}

fn run_on_slurm(
    store: &ArtifactStore,
    pipeline: &Pipeline,
    args: &RunArgs,
    plan: &glh_pipeline::Plan,
    quiet: bool,
) -> Result<()> {
    if args.jobs.is_some() {
        let msg = "sets local threads; with --executor slurm use --cpus-per-task";
        return Err(Error::config("command line", "--jobs", msg));
    }
    let glh = match &args.slurm.glh_bin {
        Some(path) => path.clone(),
        None => std::env::current_exe().map_err(|e| {
            Error::Unsupported(format!("cannot find this glh binary ({e}); pass --glh-bin"))
        })?,
    };
    let options = SlurmOptions {
        settings: slurm_settings(pipeline, &args.slurm)?,
        glh,
        dry_run: args.slurm.dry_run,
        force: args.force,
    };
    let (dir, record) = slurm::submit(store, pipeline, &args.pipeline, plan, &options)?;
    if !quiet {
        print_sweep(&dir, &record, args.slurm.dry_run)?;
    }
    if args.slurm.wait && !args.slurm.dry_run && !record.arrays.is_empty() {
        let seconds = slurm::wait_for(store, &dir, &record, &Bars::new("slurm jobs", quiet))?;
        if !quiet {
            let total: usize = record.arrays.iter().map(|a| a.tasks.len()).sum();
            eprintln!("sweep {}: {total} jobs done in {seconds:.1} s", record.id);
        }
    }
    Ok(())
}

/// What a submission (or dry run) wrote: the arrays, their Slurm job ids and dependencies, and
/// where the scripts are.
fn print_sweep(dir: &std::path::Path, record: &sweeps::SweepRecord, dry_run: bool) -> Result<()> {
    let submitted: usize = record.arrays.iter().map(|a| a.tasks.len()).sum();
    outln!(
        "sweep {}: {submitted} jobs in {} arrays, {} cached (not submitted)",
        record.id,
        record.arrays.len(),
        record.cached.len()
    );
    for a in &record.arrays {
        let after: Vec<String> = a
            .depends_on
            .iter()
            .map(|&d| record.arrays[d].name.clone())
            .collect();
        outln!(
            "  {:<22} {:>6} tasks  {:<12} {}",
            a.name,
            a.tasks.len(),
            a.slurm_job_id
                .as_deref()
                .map_or_else(|| "-".to_string(), |id| format!("job {id}")),
            if after.is_empty() {
                String::new()
            } else {
                format!("after {}", after.join(", "))
            }
        );
    }
    if dry_run {
        outln!(
            "dry run: scripts in {}/ (not submitted; `bash {}/submit.sh` submits them)",
            dir.display(),
            dir.display()
        );
    } else {
        outln!(
            "scripts and logs in {}/; follow it with `glh ls --sweeps`",
            dir.display()
        );
    }
    Ok(())
}

fn job(store: &ArtifactStore, args: JobArgs, quiet: bool) -> Result<()> {
    let pipeline = Pipeline::from_file(&args.pipeline)?;
    let plan = glh_pipeline::plan(&pipeline)?;
    let index = plan
        .jobs()
        .iter()
        .position(|j| format!("{}/{}", j.stage(), j.key()) == args.job)
        .ok_or_else(|| {
            Error::input(
                &args.pipeline,
                format!(
                    "its plan has no job `{}` (expected <stage>/<key> as the sweep scripts list them)",
                    args.job
                ),
            )
        })?;
    let options = ExecOptions {
        force: args.force,
        jobs: args.jobs as usize,
    };
    let started = Instant::now();
    let progress = Bars::new("jobs", quiet);
    let outcome = glh_pipeline::execute_one(store, &plan, index, options, &progress)?;
    if !quiet {
        outln!(
            "{} {} ({}) in {:.1} s: {}",
            outcome.status,
            args.job,
            plan[index].label,
            started.elapsed().as_secs_f64(),
            outcome.dir.display()
        );
    }
    Ok(())
}

fn ls(store: &ArtifactStore, args: LsArgs) -> Result<()> {
    let sweeps = sweeps::read_sweeps(store)?;
    if args.sweeps || args.sweep.is_some() {
        let chosen: Vec<_> = match &args.sweep {
            Some(id) => sweeps.into_iter().filter(|(_, r)| r.id == *id).collect(),
            None => sweeps,
        };
        if let (Some(id), true) = (&args.sweep, chosen.is_empty()) {
            let dir = store.root().join(sweeps::SWEEPS_DIR);
            return Err(Error::input(
                dir,
                format!("no sweep `{id}` (see `glh ls --sweeps`)"),
            ));
        }
        let queue = sweeps::Queue::read();
        out!(
            "{}",
            sweeps::render(store, &chosen, &queue, args.sweep.is_some())?
        );
        return Ok(());
    }
    let entries = store.entries()?;
    outln!(
        "{:<10} {:<18} {:<10} {:>8} {:>8}  parameters",
        "stage",
        "key",
        "status",
        "rows",
        "wall_s"
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
                outln!(
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
                outln!(
                    "{:<10} {:<18} {:<10} {:>8} {:>8}  (interrupted run; `glh gc` removes it)",
                    e.stage,
                    truncate(&name, 18),
                    "incomplete",
                    "-",
                    "-"
                );
            }
            EntryState::InProgress(why) => {
                outln!(
                    "{:<10} {:<18} {:<10} {:>8} {:>8}  (a run in progress: {why})",
                    e.stage,
                    truncate(&name, 18),
                    "running",
                    "-",
                    "-"
                );
            }
            EntryState::Damaged(why) => {
                outln!(
                    "{:<10} {:<18} {:<10} {:>8} {:>8}  {why}; `glh run` sets it aside and recomputes it",
                    e.stage,
                    name,
                    "damaged",
                    "-",
                    "-"
                );
            }
            EntryState::SetAside => {
                outln!(
                    "{:<10} {:<18} {:<10} {:>8} {:>8}  (a damaged copy, kept for inspection; `glh gc --damaged` removes it)",
                    e.stage,
                    truncate(&name, 18),
                    "set-aside",
                    "-",
                    "-"
                );
            }
        }
    }
    if !sweeps.is_empty() {
        outln!();
        out!(
            "{}",
            sweeps::render(store, &sweeps, &sweeps::Queue::read(), false)?
        );
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

fn gc(store: &ArtifactStore, args: GcArgs, quiet: bool) -> Result<()> {
    // A running task's temporary directory looks like an abandoned one: never sweep under a
    // live Slurm sweep.
    let sweeps = sweeps::read_sweeps(store)?;
    if sweeps.iter().any(|(_, r)| r.submitted) {
        let queue = sweeps::Queue::read();
        for (dir, record) in &sweeps {
            let states = sweeps::task_states(store, dir, record, &queue)?;
            let live = states
                .iter()
                .filter(|(_, s)| matches!(s.word(), "running" | "pending" | "unknown"))
                .count();
            if live > 0 {
                return Err(Error::Unsupported(format!(
                    "sweep {} has {live} jobs queued or running (or Slurm's queue is unreadable); \
                     gc would delete their work in progress: run it when the sweep has ended",
                    record.id
                )));
            }
        }
    }
    let mut removed = store.remove_incomplete(args.damaged)?;
    removed.extend(glh_reporting::report::remove_abandoned_reports(store)?);
    if !quiet {
        for dir in &removed {
            outln!("removed {}", dir.display());
        }
        let kept = store
            .entries()?
            .into_iter()
            .filter(|e| matches!(e.state, EntryState::InProgress(_)))
            .count();
        outln!(
            "{} directories removed, {kept} of runs in progress kept",
            removed.len()
        );
    }
    Ok(())
}

/// `glh verify`: every run's files against its manifest's sizes and SHA-256.
fn verify(store: &ArtifactStore, quiet: bool) -> Result<()> {
    let spinner = progress::spinner("hashing every artifact", quiet);
    let entries = store.entries_with(glh_artifacts::store::Verify::Hashes);
    spinner.finish_and_clear();
    let entries = entries?;
    // Only the stages this version writes are runs; another folder of the root (a user's
    // backup with key-named directories) is reported, not judged.
    let stages: std::collections::BTreeSet<&str> =
        schemas::ALL_TABLES.iter().map(|t| t.stage).collect();
    let mut foreign = std::collections::BTreeSet::new();
    let mut complete = 0;
    let mut damaged = Vec::new();
    for e in &entries {
        if !stages.contains(e.stage.as_str()) {
            foreign.insert(store.root().join(&e.stage));
            continue;
        }
        match &e.state {
            EntryState::Complete(_) => complete += 1,
            EntryState::Damaged(why) => {
                outln!("damaged  {}  {why}", e.dir.display());
                damaged.push(e);
            }
            _ => {}
        }
    }
    if !quiet {
        for dir in &foreign {
            outln!("skipped  {}  not a stage of this store", dir.display());
        }
        outln!(
            "{complete} complete runs verified (every file's size and SHA-256), {} damaged",
            damaged.len()
        );
    }
    match damaged.first() {
        None => Ok(()),
        Some(first) => Err(Error::input(
            &first.dir,
            format!(
                "{} damaged run{} (listed above); `glh run` sets each aside and computes it again",
                damaged.len(),
                if damaged.len() == 1 { "" } else { "s" }
            ),
        )),
    }
}

fn schema(args: SchemaArgs) -> Result<()> {
    match args.format {
        SchemaFormat::Markdown => out!("{}", schemas::markdown()),
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
            outln!("{}", serde_json::to_string_pretty(&tables).expect("json"));
        }
    }
    Ok(())
}
