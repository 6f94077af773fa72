//! Progress bars (indicatif) that `--quiet` silences, drawn on stderr so stdout stays parseable;
//! [`Bars`] draws what the executors report through `glh_pipeline::Progress`.

use glh_pipeline::{JobId, PlannedJob, Progress};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// A bar over `len` items of `what` (hidden when `quiet`).
pub fn bar(len: u64, what: &str, quiet: bool) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(len), target(quiet));
    bar.set_style(
        ProgressStyle::with_template(&format!(
            "{{spinner}} {what} [{{elapsed_precise}}] [{{wide_bar}}] {{pos}}/{{len}} {{msg}}"
        ))
        .expect("valid template")
        .progress_chars("=> "),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// A group of bars drawn together (the jobs of a sweep and the rounds of running jobs).
pub fn multi(quiet: bool) -> MultiProgress {
    MultiProgress::with_draw_target(target(quiet))
}

/// A bar over the `len` rounds or steps (`unit`) of one running job.
pub fn job_bar(len: u64, label: &str, unit: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template(&format!(
            "  {label} {unit} [{{bar:30}}] {{pos}}/{{len}} {{eta}}"
        ))
        .expect("valid template")
        .progress_chars("=> "),
    );
    bar
}

/// The executors' progress as bars: one over the jobs (or a followed sweep's Slurm tasks), and
/// one per running job that reports rounds or steps, created at its first report (jobs that
/// report none never show one) and removed when it ends.
pub struct Bars {
    multi: MultiProgress,
    what: &'static str,
    quiet: bool,
    main: Mutex<Option<ProgressBar>>,
    jobs: Mutex<HashMap<JobId, ProgressBar>>,
}

impl Bars {
    /// Bars counting `what` (`jobs`, `slurm jobs`); nothing is drawn when `quiet`.
    pub fn new(what: &'static str, quiet: bool) -> Self {
        Bars {
            multi: multi(quiet),
            what,
            quiet,
            main: Mutex::new(None),
            jobs: Mutex::new(HashMap::new()),
        }
    }

    fn with_main(&self, f: impl FnOnce(&ProgressBar)) {
        if let Some(bar) = self.main.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            f(bar);
        }
    }
}

impl Progress for Bars {
    fn started(&self, total: usize) {
        let bar = self.multi.add(bar(total as u64, self.what, self.quiet));
        *self.main.lock().unwrap_or_else(|e| e.into_inner()) = Some(bar);
    }

    fn job_started(&self, _id: JobId, job: &PlannedJob) {
        self.with_main(|bar| bar.set_message(format!("{} {}", job.stage(), job.label)));
    }

    fn job_advanced(&self, id: JobId, job: &PlannedJob, done: usize, total: usize) {
        let unit = job.job.progress_unit().unwrap_or("units");
        let mut jobs = self.jobs.lock().unwrap_or_else(|e| e.into_inner());
        jobs.entry(id)
            .or_insert_with(|| self.multi.add(job_bar(total as u64, &job.label, unit)))
            .set_position(done as u64);
    }

    fn job_finished(&self, id: JobId, _job: &PlannedJob) {
        if let Some(bar) = self
            .jobs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id)
        {
            bar.finish_and_clear();
            self.multi.remove(&bar);
        }
        self.with_main(|bar| bar.inc(1));
    }

    fn sweep_polled(&self, done: usize, status: &str) {
        self.with_main(|bar| {
            bar.set_position(done as u64);
            bar.set_message(status.to_string());
        });
    }

    fn finished(&self, ok: bool) {
        self.with_main(|bar| {
            if ok {
                bar.finish_and_clear();
            } else {
                bar.abandon();
            }
        });
    }
}

/// A spinner for work of unknown length (hidden when `quiet`).
pub fn spinner(message: &str, quiet: bool) -> ProgressBar {
    let spinner = ProgressBar::with_draw_target(None, target(quiet));
    spinner.set_style(ProgressStyle::with_template("{spinner} {msg} [{elapsed}]").expect("valid"));
    spinner.set_message(message.to_string());
    spinner.enable_steady_tick(Duration::from_millis(200));
    spinner
}

fn target(quiet: bool) -> ProgressDrawTarget {
    if quiet {
        ProgressDrawTarget::hidden()
    } else {
        ProgressDrawTarget::stderr()
    }
}
