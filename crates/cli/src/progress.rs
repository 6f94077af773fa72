//! Progress bars (indicatif) that `--quiet` silences, drawn on stderr so stdout stays parseable.

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
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

/// The bar of one running job under the sweep's bar: created at the first report of progress
/// (jobs that report none never show one) and removed when dropped.
pub struct JobBar<'a> {
    multi: &'a MultiProgress,
    label: &'a str,
    unit: &'static str,
    bar: Option<ProgressBar>,
}

impl<'a> JobBar<'a> {
    /// A bar for the job `label`, counting `unit` (rounds, steps).
    pub fn new(multi: &'a MultiProgress, label: &'a str, unit: &'static str) -> Self {
        JobBar {
            multi,
            label,
            unit,
            bar: None,
        }
    }

    /// `done` of `total` units are done.
    pub fn set(&mut self, done: usize, total: usize) {
        let (multi, label, unit) = (self.multi, self.label, self.unit);
        self.bar
            .get_or_insert_with(|| multi.add(job_bar(total as u64, label, unit)))
            .set_position(done as u64);
    }
}

impl Drop for JobBar<'_> {
    fn drop(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
            self.multi.remove(&bar);
        }
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
