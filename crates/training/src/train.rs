//! The training loops, their data on the device, and their history: Adam on mini-batches of
//! MNIST ([`train`]), and full-batch gradient descent on a fixed set of images
//! ([`train_full_batch`], the NTK regime), which also records the network's outputs on that set.

use crate::batches::batch_order;
use crate::masked_mlp::MaskedMlp;
use crate::settings::TrainingSettings;
use candle_core::{Device, Result, Tensor};
use glh_data::DataSettings;
use glh_data::mnist::{MnistSplit, Normalisation, PIXELS, Split};

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

/// Trains `model` in place for `settings.steps` Adam steps on batches drawn by `seed`;
/// `on_step(done, total)` is called after every step.
pub fn train(
    model: &mut MaskedMlp,
    data: &MnistTensors,
    settings: &TrainingSettings,
    seed: u64,
    on_step: &mut dyn FnMut(usize, usize),
) -> Result<History> {
    let adam = settings.adam();
    let steps = settings.steps as usize;
    let batches = batch_order(data.train_len(), settings.batch_size as usize, steps, seed);
    let device = data.train_x.device();
    let test = |model: &MaskedMlp, step: u32| -> Result<Evaluation> {
        let (loss, correct) = model.loss_and_correct(&data.test_x, &data.test_y)?;
        evaluation(step, &loss, &correct, data.test_y.dims1()?)
    };
    let mut history = History {
        train: Vec::with_capacity(steps),
        test: vec![test(model, 0)?],
    };
    for (i, batch) in batches.iter().enumerate() {
        let step = i as u32 + 1;
        let index = Tensor::from_slice(batch, batch.len(), device)?;
        let x = data.train_x.index_select(&index, 0)?;
        let y = data.train_y.index_select(&index, 0)?;
        let gradients = model.backward(&x, &y)?;
        model.adam_step(&adam, &gradients)?;
        history.train.push(evaluation(
            step,
            &gradients.loss,
            &gradients.correct,
            batch.len(),
        )?);
        if step.is_multiple_of(settings.eval_every) || i + 1 == steps {
            history.test.push(test(model, step)?);
        }
        on_step(i + 1, steps);
    }
    Ok(history)
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
