//! The training loops, their data on the device, and their history: Adam on mini-batches of
//! MNIST ([`train`]), and full-batch gradient descent on a fixed set of images
//! ([`train_full_batch`], the NTK regime), which also records the network's outputs on that set.

use crate::batches::batch_order;
use crate::masked_mlp::MaskedMlp;
use crate::schedule::{
    Grow, ImpSettings, MaskSchedule, moved_count, prune_global_magnitude, rebuild, schedule_stream,
    update_layer,
};
use crate::settings::TrainingSettings;
use crate::sparse::ProductRoute;
use candle_core::{Device, Result, Tensor};
use glh_data::DataSettings;
use glh_data::mnist::{MnistSplit, Normalisation, PIXELS, Split};
use glh_model::{Mask, MaskCheckpoint};

/// MNIST's training and test sets as tensors on one device.
pub struct MnistTensors {
    /// `(60000, 784)` normalised pixels.
    pub train_x: Tensor,
    /// `(60000,)` labels, u32.
    pub train_y: Tensor,
    /// `(10000, 784)` normalised pixels.
    pub test_x: Tensor,
    /// `(10000,)` labels, u32.
    pub test_y: Tensor,
}

impl MnistTensors {
    /// Loads and verifies both splits from `data.dir`, normalised as `data` says.
    pub fn load(data: &DataSettings, device: &Device) -> glh_artifacts::Result<Self> {
        let norm = Normalisation::from(data);
        let tensors = |split| -> glh_artifacts::Result<(Tensor, Tensor)> {
            let set = MnistSplit::load(&data.dir, split)?;
            let all: Vec<u32> = (0..set.len() as u32).collect();
            let x = Tensor::from_vec(set.inputs(&all, &norm), (set.len(), PIXELS), device);
            let labels: Vec<u32> = set.labels.iter().map(|&l| u32::from(l)).collect();
            let y = Tensor::from_vec(labels, set.len(), device);
            x.and_then(|x| y.map(|y| (x, y)))
                .map_err(|e| glh_artifacts::Error::Unsupported(format!("MNIST on the device: {e}")))
        };
        let (train_x, train_y) = tensors(Split::Train)?;
        let (test_x, test_y) = tensors(Split::Test)?;
        Ok(MnistTensors {
            train_x,
            train_y,
            test_x,
            test_y,
        })
    }

    /// Number of training examples.
    pub fn train_len(&self) -> usize {
        self.train_y.dims()[0]
    }
}

/// One evaluation: after `step` updates (test) or of step `step`'s batch (train).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Evaluation {
    /// The step.
    pub step: u32,
    /// Mean cross-entropy.
    pub loss: f64,
    /// Fraction correct.
    pub accuracy: f64,
}

/// The curves of one run.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct History {
    /// Every step's batch loss, before its update.
    pub train: Vec<Evaluation>,
    /// The test set before step 1, every `eval_every` steps, and at the end.
    pub test: Vec<Evaluation>,
}

/// What a run yields: its curves and, under a schedule other than `static`, every mask it
/// trained under.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Trained {
    /// The loss curves (IMP's levels one after another, steps numbered on).
    pub history: History,
    /// The masks, in order (empty for `static`).
    pub checkpoints: Vec<MaskCheckpoint>,
}

/// Trains `model` in place with Adam on batches drawn by `seed`: `settings.steps` steps, its
/// mask changed as `settings.schedule` says (SET, RigL: after the update of every update step;
/// IMP: `settings.steps` steps, then per level a pruning, a rewind and steps k+1..T again, on
/// the same batches). `on_step(done, total)` is called after every step.
pub fn train(
    model: &mut MaskedMlp,
    data: &MnistTensors,
    settings: &TrainingSettings,
    seed: u64,
    on_step: &mut dyn FnMut(usize, usize),
) -> Result<Trained> {
    let steps = settings.steps as usize;
    let batches = batch_order(data.train_len(), settings.batch_size as usize, steps, seed);
    let mut run = AdamRun {
        data,
        settings,
        adam: settings.adam(),
        total: settings.schedule.total_steps(settings.steps) as usize,
        done: 0,
        history: History {
            train: Vec::with_capacity(steps),
            test: vec![test_evaluation(model, data, 0)?],
        },
        on_step,
    };
    let checkpoints = match &settings.schedule {
        MaskSchedule::Static => {
            for batch in &batches {
                run.step(model, batch, false)?;
                run.after_step(model, false)?;
            }
            Vec::new()
        }
        MaskSchedule::Set(_) | MaskSchedule::Rigl(_) => {
            train_evolving(model, &mut run, &batches, seed)?
        }
        MaskSchedule::Imp(imp) => train_imp(model, &mut run, &batches, imp)?,
    };
    Ok(Trained {
        history: run.history,
        checkpoints,
    })
}

/// The state of an Adam run across its steps (and IMP's levels).
struct AdamRun<'a> {
    data: &'a MnistTensors,
    settings: &'a TrainingSettings,
    adam: crate::adam::AdamParams,
    /// Steps of the whole run, and steps done.
    total: usize,
    done: usize,
    history: History,
    on_step: &'a mut dyn FnMut(usize, usize),
}

impl AdamRun<'_> {
    /// One step on `batch`: its loss into the history, Adam's update, and (when asked) the
    /// dense weight gradients of the batch before the update, on the host.
    fn step(
        &mut self,
        model: &mut MaskedMlp,
        batch: &[u32],
        dense_gradient: bool,
    ) -> Result<Option<Vec<Vec<f32>>>> {
        let device = self.data.train_x.device();
        let index = Tensor::from_slice(batch, batch.len(), device)?;
        let x = self.data.train_x.index_select(&index, 0)?;
        let y = self.data.train_y.index_select(&index, 0)?;
        let gradients = model.backward(&x, &y)?;
        let dense = if dense_gradient {
            Some(dense_gradient_on_host(model, &x, &y, &gradients)?)
        } else {
            None
        };
        model.adam_step(&self.adam, &gradients)?;
        self.done += 1;
        self.history.train.push(evaluation(
            self.done as u32,
            &gradients.loss,
            &gradients.correct,
            batch.len(),
        )?);
        Ok(dense)
    }

    /// After a step (and any mask change it brought): the test set every `eval_every` steps
    /// and where `last` (a level's or the run's end), and the progress.
    fn after_step(&mut self, model: &MaskedMlp, last: bool) -> Result<()> {
        let step = self.done as u32;
        if step.is_multiple_of(self.settings.eval_every) || last || self.done == self.total {
            let evaluation = test_evaluation(model, self.data, step)?;
            self.history.test.push(evaluation);
        }
        (self.on_step)(self.done, self.total);
        Ok(())
    }
}

/// The test set's loss and accuracy of `model` after `step` steps.
fn test_evaluation(model: &MaskedMlp, data: &MnistTensors, step: u32) -> Result<Evaluation> {
    let (loss, correct) = model.loss_and_correct(&data.test_x, &data.test_y)?;
    evaluation(step, &loss, &correct, data.test_y.dims1()?)
}

/// SET or RigL: the run's steps, and after each update step's Adam update, every layer drops
/// `round(f kept_l)` of its smallest-magnitude weights and grows as many (SET: at random from
/// the stream `training/schedule`; RigL: the largest dense-gradient magnitudes of that step's
/// batch, before its update), with `f` SET's zeta or RigL's cosine-decayed alpha.
fn train_evolving(
    model: &mut MaskedMlp,
    run: &mut AdamRun<'_>,
    batches: &[Vec<u32>],
    seed: u64,
) -> Result<Vec<MaskCheckpoint>> {
    let schedule = &run.settings.schedule;
    let update_steps = schedule.update_steps(run.settings.steps);
    let mut rng = schedule_stream(seed);
    let mut checkpoints = vec![MaskCheckpoint {
        checkpoint: 0,
        step: 0,
        mask: model.mask().clone(),
    }];
    for batch in batches {
        let step = run.done as u32 + 1;
        let update = update_steps.contains(&step);
        let gradient = run.step(model, batch, update && schedule.grows_by_gradient())?;
        if update {
            let fraction = schedule.update_fraction(step, run.settings.steps);
            let mask = evolve_mask(model, fraction, gradient.as_deref(), &mut rng)?;
            checkpoints.push(MaskCheckpoint {
                checkpoint: checkpoints.len() as u32,
                step,
                mask,
            });
        }
        run.after_step(model, false)?;
    }
    Ok(checkpoints)
}

/// The dense weight gradients of the batch `(x, labels)` on the host, row-major `(out, in)`
/// per layer (RigL's regrowth scores): `gradients`' own on the dense route, a dense pass on
/// the sparse one (the same bits, tested).
pub fn dense_gradient_on_host(
    model: &MaskedMlp,
    x: &Tensor,
    labels: &Tensor,
    gradients: &crate::masked_mlp::Gradients,
) -> Result<Vec<Vec<f32>>> {
    let weights: Vec<Tensor> = match model.route() {
        ProductRoute::Dense => gradients.layers.iter().map(|(w, _)| w.clone()).collect(),
        ProductRoute::Sparse => model.dense_weight_gradients(x, labels)?,
    };
    weights
        .iter()
        .map(|w| w.flatten_all()?.to_vec1::<f32>())
        .collect()
}

/// One SET or RigL update of `model`: every layer drops `round(fraction kept_l)` of its
/// smallest-magnitude weights and grows as many, at the largest `|gradient|` (RigL, dense
/// gradients as [`dense_gradient_on_host`] gives them) or at random from `rng` (SET, when
/// `gradient` is `None`); grown weights start at 0. Returns the new mask.
pub fn evolve_mask(
    model: &mut MaskedMlp,
    fraction: f64,
    gradient: Option<&[Vec<f32>]>,
    rng: &mut rand_chacha::ChaCha8Rng,
) -> Result<Mask> {
    let weights = model.weights()?;
    let flags: Vec<Vec<bool>> = (0..weights.len())
        .map(|l| {
            let layer = &model.mask().layers()[l];
            let mut keep = layer.as_slice().to_vec();
            let count = moved_count(fraction, layer.kept());
            let grow = match gradient {
                Some(g) => Grow::Gradient(&g[l]),
                None => Grow::Random(rng),
            };
            update_layer(&mut keep, &weights[l], count, grow);
            keep
        })
        .collect();
    let mask = rebuild(model.mask(), flags);
    model.set_mask(&mask)?;
    Ok(mask)
}

/// IMP with rewinding (OpenLTH's lottery runs): train steps 1..T, keeping every parameter as it
/// is after step k; then per level, remove `round(q kept)` of the kept weights with the
/// smallest magnitude over all layers, rewind to the step-k parameters under the new mask
/// with a fresh Adam, and train steps k+1..T again (the same batches).
fn train_imp(
    model: &mut MaskedMlp,
    run: &mut AdamRun<'_>,
    batches: &[Vec<u32>],
    imp: &ImpSettings,
) -> Result<Vec<MaskCheckpoint>> {
    let k = imp.rewind_step as usize;
    let mut rewind_to = (k == 0).then(|| model.snapshot()).transpose()?;
    let mut checkpoints = vec![MaskCheckpoint {
        checkpoint: 0,
        step: 0,
        mask: model.mask().clone(),
    }];
    for (i, batch) in batches.iter().enumerate() {
        run.step(model, batch, false)?;
        if i + 1 == k {
            rewind_to = Some(model.snapshot()?);
        }
        run.after_step(model, i + 1 == batches.len())?;
    }
    let rewind_to = rewind_to.expect("k < T: the snapshot is taken");
    for level in 1..=imp.levels {
        let mask = prune_global_magnitude(model.mask(), &model.weights()?, imp.prune_fraction);
        model.rewind(&rewind_to, &mask)?;
        checkpoints.push(MaskCheckpoint {
            checkpoint: level,
            step: run.done as u32,
            mask,
        });
        for (i, batch) in batches.iter().enumerate().skip(k) {
            run.step(model, batch, false)?;
            run.after_step(model, i + 1 == batches.len())?;
        }
    }
    Ok(checkpoints)
}

/// The network's outputs on the training images after some updates.
#[derive(Clone, Debug, PartialEq)]
pub struct Outputs {
    /// Updates done (0 = at initialisation).
    pub step: u32,
    /// `N x classes`, row-major: output k of image i at `values[i * classes + k]`.
    pub values: Vec<f32>,
}

/// Full-batch gradient descent: `settings.steps` steps of rate `settings.learning_rate` on all
/// of `(x, labels)` at once, with the test set of `data` evaluated like [`train`] does and the
/// outputs on `x` kept after each of `settings.recorded_output_steps()`. History rows: step s's
/// "batch" loss is the loss on `x` before update s. A loss that stops being finite is an error
/// naming the learning rate: gradient descent diverged.
pub fn train_full_batch(
    model: &mut MaskedMlp,
    x: &Tensor,
    labels: &Tensor,
    test: &MnistTensors,
    settings: &TrainingSettings,
    on_step: &mut dyn FnMut(usize, usize),
) -> glh_artifacts::Result<(History, Vec<Outputs>)> {
    let candle =
        |e: candle_core::Error| glh_artifacts::Error::Unsupported(format!("training: {e}"));
    let steps = settings.steps as usize;
    let record = settings.recorded_output_steps();
    let n = labels.dims1().map_err(candle)?;
    let evaluate_test = |model: &MaskedMlp, step: u32| -> Result<Evaluation> {
        let (loss, correct) = model.loss_and_correct(&test.test_x, &test.test_y)?;
        evaluation(step, &loss, &correct, test.test_y.dims1()?)
    };
    let outputs_of = |model: &MaskedMlp, step: u32| -> Result<Outputs> {
        let values = model.forward(x)?.flatten_all()?.to_vec1::<f32>()?;
        Ok(Outputs { step, values })
    };
    let mut history = History {
        train: Vec::with_capacity(steps),
        test: vec![evaluate_test(model, 0).map_err(candle)?],
    };
    let mut outputs = vec![outputs_of(model, 0).map_err(candle)?];
    for i in 0..steps {
        let step = i as u32 + 1;
        let gradients = model.backward(x, labels).map_err(candle)?;
        let loss = evaluation(step, &gradients.loss, &gradients.correct, n).map_err(candle)?;
        if !loss.loss.is_finite() {
            let msg = format!(
                "gradient descent diverged: the training loss is {} at step {step}; choose a \
                 smaller learning rate than {} (stable below 2 N / l_1 of the network's kernel)",
                loss.loss, settings.learning_rate
            );
            return Err(glh_artifacts::Error::config(
                "training settings",
                "learning_rate",
                msg,
            ));
        }
        history.train.push(loss);
        model
            .gd_step(settings.learning_rate, &gradients)
            .map_err(candle)?;
        if record.contains(&step) {
            outputs.push(outputs_of(model, step).map_err(candle)?);
        }
        if step.is_multiple_of(settings.eval_every) || i + 1 == steps {
            history
                .test
                .push(evaluate_test(model, step).map_err(candle)?);
        }
        on_step(i + 1, steps);
    }
    Ok((history, outputs))
}

/// An evaluation from a loss and a count of correct predictions (scalar tensors) of `len`
/// examples.
fn evaluation(step: u32, loss: &Tensor, correct: &Tensor, len: usize) -> Result<Evaluation> {
    Ok(Evaluation {
        step,
        loss: f64::from(loss.to_scalar::<f32>()?),
        accuracy: f64::from(correct.to_scalar::<f32>()?) / len as f64,
    })
}

/// The summary numbers of a history (see the `summary` table's schema).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Summary {
    /// Last step's batch loss.
    pub final_train_loss: f64,
    /// Test loss at the end.
    pub final_test_loss: f64,
    /// Test accuracy at the end.
    pub final_test_accuracy: f64,
    /// Step 50's batch loss (NaN if shorter).
    pub train_loss_at_50: f64,
    /// Step 100's batch loss (NaN if shorter).
    pub train_loss_at_100: f64,
    /// Mean batch loss over all steps.
    pub mean_train_loss: f64,
    /// First step with batch loss <= threshold; 0 if none.
    pub steps_to_threshold: u32,
}

impl History {
    /// Its summary under `threshold`.
    pub fn summary(&self, threshold: f64) -> Summary {
        let at = |s: usize| self.train.get(s - 1).map_or(f64::NAN, |e| e.loss);
        let last_test = self.test.last().expect("evaluated at step 0");
        Summary {
            final_train_loss: self.train.last().map_or(f64::NAN, |e| e.loss),
            final_test_loss: last_test.loss,
            final_test_accuracy: last_test.accuracy,
            train_loss_at_50: at(50),
            train_loss_at_100: at(100),
            mean_train_loss: self.train.iter().map(|e| e.loss).sum::<f64>()
                / self.train.len() as f64,
            steps_to_threshold: self
                .train
                .iter()
                .find(|e| e.loss <= threshold)
                .map_or(0, |e| e.step),
        }
    }
}
