//! Masks that change during training (issue #33): iterative magnitude pruning with rewinding
//! (`imp`), Sparse Evolutionary Training (`set`) and RigL (`rigl`), as METHOD.md section 8
//! states the reference rules; `static` (the default) keeps the masks run's mask.
//!
//! This module owns the settings (`[training.schedule]`, `glh train --schedule`) and the rules
//! as pure functions of a mask, the weights and (RigL) the dense gradient: which weights leave
//! and which enter. The training loop (`crate::train`) decides when they run and applies them
//! to the network (`MaskedMlp::set_mask`, `MaskedMlp::rewind`).
//!
//! Every rule keeps an exact kept count: SET and RigL move `round(f kept_l)` weights of each
//! layer l (its count never changes), IMP removes `round(q kept)` of all layers' kept weights
//! together. Ties are broken by position (layer, then row-major index), so a rule is a function
//! of its inputs; the random draws come from the run seed's streams: SET's regrowth from
//! `training/schedule`, one draw after another in update order, and an ERK start's from
//! `training/schedule/erk`.

use glh_artifacts::{Error, Result};
use glh_model::{LayerMask, Mask};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;

/// The most masks a scheduled run records (its start and one per update or level): each is
/// held in memory until the run is written (a width-2000 network's mask is 9.6 MB).
pub const MAX_CHECKPOINTS: u32 = 256;

/// How a run's mask changes during training: the closed set of `[training.schedule] rule`
/// and `glh train --schedule`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
#[value(rename_all = "snake_case")]
pub enum ScheduleRule {
    /// The masks run's mask, unchanged (pruning at initialisation).
    #[default]
    Static,
    /// Iterative magnitude pruning with rewinding (Frankle et al. 2019, as OpenLTH runs it).
    Imp,
    /// Sparse Evolutionary Training (Mocanu et al. 2018).
    Set,
    /// Rigging the Lottery (Evci et al. 2020).
    Rigl,
}

impl ScheduleRule {
    /// The name in settings and tables.
    pub fn name(self) -> &'static str {
        match self {
            ScheduleRule::Static => "static",
            ScheduleRule::Imp => "imp",
            ScheduleRule::Set => "set",
            ScheduleRule::Rigl => "rigl",
        }
    }
}

/// The per-layer densities a RigL run keeps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
#[value(rename_all = "snake_case")]
pub enum LayerDensities {
    /// The starting mask's own kept count per layer **[our default]**: a PaI method's profile
    /// stays, so what moves is the structure within each layer.
    #[default]
    Start,
    /// Erdos-Renyi-Kernel (RigL's default): layer l's density proportional to
    /// `(fan_in + fan_out) / (fan_in fan_out)`, scaled to the starting mask's total kept count,
    /// capped at 1. Set before the first step: a layer above its ERK count drops its
    /// smallest-magnitude weights, one below grows random positions (stream
    /// `training/schedule/erk`) at their initial values.
    Erk,
}

/// IMP's settings (OpenLTH's defaults where it has them).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ImpSettings {
    /// q: the fraction of the remaining weights removed at each level, ranked by magnitude over
    /// all layers together (OpenLTH's `pruning_fraction`, 0.2).
    pub prune_fraction: f64,
    /// Levels of pruning after the first training; the mask of level i keeps
    /// `(1 - q)^i` of the start's weights, to rounding (1 **[our default]**; OpenLTH has none).
    pub levels: u32,
    /// k: the step whose weights the kept weights are rewound to (0: to initialisation, the
    /// original lottery ticket and OpenLTH's default). Each level then trains steps k+1..T on
    /// the same batches as the first training, with a fresh Adam state.
    pub rewind_step: u32,
}

impl Default for ImpSettings {
    fn default() -> Self {
        ImpSettings {
            prune_fraction: 0.2,
            levels: 1,
            rewind_step: 0,
        }
    }
}

/// SET's settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SetSettings {
    /// delta: steps between updates (100 **[our default]**: SET updates once an epoch, 469
    /// steps of 128 images on MNIST, longer than E3's runs).
    pub every: u32,
    /// zeta: the fraction of each layer's kept weights dropped (smallest magnitude) and regrown
    /// at random positions, zero-initialised (0.3, SET's).
    pub fraction: f64,
}

impl Default for SetSettings {
    fn default() -> Self {
        SetSettings {
            every: 100,
            fraction: 0.3,
        }
    }
}

/// RigL's settings (the paper's defaults).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RiglSettings {
    /// delta: steps between updates (100).
    pub every: u32,
    /// alpha: the update fraction at step 0, decayed by `alpha / 2 (1 + cos(pi t / T_end))`
    /// (0.3).
    pub fraction: f64,
    /// T_end as a fraction of the run's steps: no update after it (0.75).
    pub end: f64,
    /// The per-layer densities kept: the start's or ERK's.
    pub densities: LayerDensities,
}

impl Default for RiglSettings {
    fn default() -> Self {
        RiglSettings {
            every: 100,
            fraction: 0.3,
            end: 0.75,
            densities: LayerDensities::default(),
        }
    }
}

/// `[training.schedule]`: the rule and its settings, e.g. `rule = "rigl"`, `every = 100`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum MaskSchedule {
    /// The mask never changes.
    #[default]
    Static,
    /// Iterative magnitude pruning with rewinding.
    Imp(ImpSettings),
    /// Sparse Evolutionary Training.
    Set(SetSettings),
    /// RigL.
    Rigl(RiglSettings),
}

impl MaskSchedule {
    /// Its rule.
    pub fn rule(&self) -> ScheduleRule {
        match self {
            MaskSchedule::Static => ScheduleRule::Static,
            MaskSchedule::Imp(_) => ScheduleRule::Imp,
            MaskSchedule::Set(_) => ScheduleRule::Set,
            MaskSchedule::Rigl(_) => ScheduleRule::Rigl,
        }
    }

    /// Whether the mask never changes (then the key leaves the schedule out).
    pub fn is_static(&self) -> bool {
        *self == MaskSchedule::Static
    }

    /// The steps after whose update SET or RigL change the mask, for a run of `steps` steps:
    /// every `every` steps, before the last step (a weight grown then would never train) and,
    /// for RigL, before T_end (where its fraction reaches 0).
    pub fn update_steps(&self, steps: u32) -> Vec<u32> {
        let (every, last) = match self {
            MaskSchedule::Static | MaskSchedule::Imp(_) => return Vec::new(),
            MaskSchedule::Set(s) => (s.every, steps.saturating_sub(1)),
            MaskSchedule::Rigl(r) => (
                r.every,
                rigl_end_step(r, steps)
                    .saturating_sub(1)
                    .min(steps.saturating_sub(1)),
            ),
        };
        (1..=last / every).map(|i| i * every).collect()
    }

    /// The fraction of each layer's kept weights SET or RigL moves at update step `step` of a
    /// run of `steps` steps: SET's zeta, RigL's cosine-decayed alpha; 0 for the others.
    pub fn update_fraction(&self, step: u32, steps: u32) -> f64 {
        match self {
            MaskSchedule::Set(s) => s.fraction,
            MaskSchedule::Rigl(r) => rigl_fraction(r, step, steps),
            MaskSchedule::Static | MaskSchedule::Imp(_) => 0.0,
        }
    }

    /// Whether its updates regrow by the dense gradient (RigL), which a step then computes.
    pub fn grows_by_gradient(&self) -> bool {
        matches!(self, MaskSchedule::Rigl(_))
    }

    /// Optimiser steps of a run whose `[training] steps` is `steps`: IMP trains T steps, then
    /// T - k more per level.
    pub fn total_steps(&self, steps: u32) -> u64 {
        match self {
            MaskSchedule::Imp(imp) => {
                u64::from(steps) + u64::from(imp.levels) * u64::from(steps - imp.rewind_step)
            }
            _ => u64::from(steps),
        }
    }

    /// Masks the run records: the start and one per update (SET, RigL) or level (IMP).
    pub fn checkpoints(&self, steps: u32) -> usize {
        match self {
            MaskSchedule::Static => 0,
            MaskSchedule::Imp(imp) => imp.levels as usize + 1,
            _ => self.update_steps(steps).len() + 1,
        }
    }

    /// Checks the settings against the run's `steps`; errors name the field.
    pub fn validate(&self, source_name: &str, steps: u32) -> Result<()> {
        let fraction = |field: &str, v: f64| -> Result<()> {
            if v > 0.0 && v < 1.0 {
                Ok(())
            } else {
                let msg = format!("must be in (0, 1), got {v}");
                Err(Error::config(source_name, field, msg))
            }
        };
        let every = |v: u32| -> Result<()> {
            if v == 0 {
                Err(Error::config(
                    source_name,
                    "training.schedule.every",
                    "must be at least 1",
                ))
            } else {
                Ok(())
            }
        };
        match self {
            MaskSchedule::Static => {}
            MaskSchedule::Imp(imp) => {
                fraction("training.schedule.prune_fraction", imp.prune_fraction)?;
                if imp.rewind_step >= steps {
                    let msg = format!(
                        "must be below the steps of a level ({steps}), got {}",
                        imp.rewind_step
                    );
                    return Err(Error::config(
                        source_name,
                        "training.schedule.rewind_step",
                        msg,
                    ));
                }
                if imp.levels == 0 {
                    let msg = "must be at least 1 (0 levels is `rule = \"static\"`)";
                    return Err(Error::config(source_name, "training.schedule.levels", msg));
                }
                let total = self.total_steps(steps);
                if total > u64::from(crate::settings::MAX_STEPS) {
                    let msg = format!(
                        "{} levels of {} steps make {total} steps, more than {}",
                        imp.levels,
                        steps - imp.rewind_step,
                        crate::settings::MAX_STEPS
                    );
                    return Err(Error::config(source_name, "training.schedule.levels", msg));
                }
            }
            MaskSchedule::Set(set) => {
                every(set.every)?;
                fraction("training.schedule.fraction", set.fraction)?;
            }
            MaskSchedule::Rigl(rigl) => {
                every(rigl.every)?;
                fraction("training.schedule.fraction", rigl.fraction)?;
                if !(rigl.end > 0.0 && rigl.end <= 1.0) {
                    let msg = format!("must be in (0, 1], got {}", rigl.end);
                    return Err(Error::config(source_name, "training.schedule.end", msg));
                }
            }
        }
        let checkpoints = self.checkpoints(steps);
        if checkpoints > MAX_CHECKPOINTS as usize {
            let msg = format!(
                "{checkpoints} masks would be recorded (the start and one per update or level), \
                 more than {MAX_CHECKPOINTS}: update less often"
            );
            let field = match self {
                MaskSchedule::Imp(_) => "training.schedule.levels",
                _ => "training.schedule.every",
            };
            return Err(Error::config(source_name, field, msg));
        }
        if matches!(self, MaskSchedule::Set(_) | MaskSchedule::Rigl(_))
            && self.update_steps(steps).is_empty()
        {
            let msg = format!("no update falls within the run's {steps} steps");
            return Err(Error::config(source_name, "training.schedule.every", msg));
        }
        Ok(())
    }
}

/// T_end in steps: `round(end * steps)`.
fn rigl_end_step(rigl: &RiglSettings, steps: u32) -> u32 {
    (rigl.end * f64::from(steps)).round() as u32
}

/// RigL's update fraction at `step`: `alpha / 2 (1 + cos(pi step / T_end))`.
pub fn rigl_fraction(rigl: &RiglSettings, step: u32, steps: u32) -> f64 {
    let end = f64::from(rigl_end_step(rigl, steps).max(1));
    rigl.fraction / 2.0 * (1.0 + (std::f64::consts::PI * f64::from(step) / end).cos())
}

/// How many of `kept` weights an update fraction moves: `round(fraction kept)`.
pub fn moved_count(fraction: f64, kept: usize) -> usize {
    ((fraction * kept as f64).round() as usize).min(kept)
}

/// The `count` positions with the smallest `key` among `candidates`, ties by position: a
/// total order, so the choice is a function of the inputs.
fn smallest_by_key(mut candidates: Vec<(f32, usize)>, count: usize) -> Vec<usize> {
    let order = |a: &(f32, usize), b: &(f32, usize)| -> Ordering {
        a.0.total_cmp(&b.0).then(a.1.cmp(&b.1))
    };
    if count < candidates.len() {
        if count > 0 {
            candidates.select_nth_unstable_by(count - 1, order);
        }
        candidates.truncate(count);
    }
    candidates.into_iter().map(|(_, i)| i).collect()
}

/// Drops the `count` kept entries of `keep` with the smallest `|weights|` (ties by position);
/// returns their positions.
pub fn drop_smallest_magnitude(keep: &mut [bool], weights: &[f32], count: usize) -> Vec<usize> {
    let kept: Vec<(f32, usize)> = (0..keep.len())
        .filter(|&i| keep[i])
        .map(|i| (weights[i].abs(), i))
        .collect();
    let dropped = smallest_by_key(kept, count);
    for &i in &dropped {
        keep[i] = false;
    }
    dropped
}

/// Keeps `count` more entries of `keep`, those with the largest `|scores|` among the entries
/// not kept (ties by position); returns their positions.
pub fn grow_largest(keep: &mut [bool], scores: &[f32], count: usize) -> Vec<usize> {
    // The largest |s| are the smallest -|s|.
    let free: Vec<(f32, usize)> = (0..keep.len())
        .filter(|&i| !keep[i])
        .map(|i| (-scores[i].abs(), i))
        .collect();
    let grown = smallest_by_key(free, count);
    for &i in &grown {
        keep[i] = true;
    }
    grown
}

/// Keeps `count` more entries of `keep`, a uniformly random set of the entries not kept;
/// returns their positions, ascending.
pub fn grow_random(keep: &mut [bool], count: usize, rng: &mut ChaCha8Rng) -> Vec<usize> {
    let free: Vec<usize> = (0..keep.len()).filter(|&i| !keep[i]).collect();
    let mut grown: Vec<usize> = glh_masks::methods::uniform_subset(free.len(), count, rng)
        .into_iter()
        .map(|j| free[j])
        .collect();
    grown.sort_unstable();
    for &i in &grown {
        keep[i] = true;
    }
    grown
}

/// IMP's pruning: `mask` less the `round(q kept)` kept weights of smallest `|weights|` over all
/// layers together (ties by layer, then position). The result is inside `mask`.
pub fn prune_global_magnitude(mask: &Mask, weights: &[Vec<f32>], q: f64) -> Mask {
    let count = moved_count(q, mask.kept());
    // One index over all layers: layer offsets in order, so ties fall by layer then position.
    let mut offsets = Vec::with_capacity(mask.layers().len());
    let mut candidates = Vec::with_capacity(mask.kept());
    let mut offset = 0;
    for (layer, w) in mask.layers().iter().zip(weights) {
        offsets.push(offset);
        let flags = layer.as_slice();
        candidates.extend(
            (0..flags.len())
                .filter(|&i| flags[i])
                .map(|i| (w[i].abs(), offset + i)),
        );
        offset += flags.len();
    }
    let mut flags: Vec<Vec<bool>> = mask
        .layers()
        .iter()
        .map(|l| l.as_slice().to_vec())
        .collect();
    for i in smallest_by_key(candidates, count) {
        let l = offsets.partition_point(|&o| o <= i) - 1;
        flags[l][i - offsets[l]] = false;
    }
    rebuild(mask, flags)
}

/// `mask`'s shapes with `flags`.
pub fn rebuild(mask: &Mask, flags: Vec<Vec<bool>>) -> Mask {
    let layers = mask
        .layers()
        .iter()
        .zip(flags)
        .map(|(l, f)| LayerMask::new(l.rows(), l.cols(), f).expect("the layer's own size"))
        .collect();
    mask.with_layers(layers).expect("the mask's own shapes")
}

/// ERK's kept count per layer of `shapes` (`(out, in)`), summing to `total`: densities
/// proportional to `(in + out) / (in out)`, the largest scaled to at most 1 (a capped layer is
/// dense and the rest re-scaled, as RigL does), then whole counts by largest remainder (ties by
/// layer).
pub fn erk_counts(shapes: &[(usize, usize)], total: usize) -> Vec<usize> {
    let sizes: Vec<usize> = shapes.iter().map(|&(r, c)| r * c).collect();
    assert!(total <= sizes.iter().sum(), "more kept than weights");
    let raw: Vec<f64> = shapes
        .iter()
        .map(|&(r, c)| (r + c) as f64 / (r * c) as f64)
        .collect();
    let mut dense = vec![false; shapes.len()];
    let densities = loop {
        let budget = total as f64
            - (0..shapes.len())
                .filter(|&l| dense[l])
                .map(|l| sizes[l] as f64)
                .sum::<f64>();
        let weight: f64 = (0..shapes.len())
            .filter(|&l| !dense[l])
            .map(|l| raw[l] * sizes[l] as f64)
            .sum();
        let scale = budget / weight;
        let densities: Vec<f64> = (0..shapes.len())
            .map(|l| if dense[l] { 1.0 } else { raw[l] * scale })
            .collect();
        match (0..shapes.len()).find(|&l| !dense[l] && densities[l] > 1.0) {
            Some(l) => dense[l] = true,
            None => break densities,
        }
    };
    let exact: Vec<f64> = densities
        .iter()
        .zip(&sizes)
        .map(|(d, &s)| (d * s as f64).min(s as f64))
        .collect();
    let mut counts: Vec<usize> = exact.iter().map(|e| e.floor() as usize).collect();
    let mut short = total - counts.iter().sum::<usize>();
    let mut by_remainder: Vec<usize> = (0..shapes.len()).collect();
    by_remainder.sort_by(|&a, &b| {
        let (ra, rb) = (exact[a] - exact[a].floor(), exact[b] - exact[b].floor());
        rb.total_cmp(&ra).then(a.cmp(&b))
    });
    for &l in by_remainder.iter().cycle() {
        if short == 0 {
            break;
        }
        if counts[l] < sizes[l] {
            counts[l] += 1;
            short -= 1;
        }
    }
    counts
}

/// One SET or RigL update of layer `keep` (flags, changed in place): drop the `count` kept
/// weights of smallest magnitude, then grow `count` of the entries not kept after the drop
/// (RigL: largest `|gradient|`; SET: at random). A dropped entry may be grown again, as in
/// both papers. Returns the grown positions (zero-initialised by the caller).
pub fn update_layer(
    keep: &mut [bool],
    weights: &[f32],
    count: usize,
    grow: Grow<'_>,
) -> Vec<usize> {
    // A layer with fewer free entries than `count` (a dense or nearly dense one) moves only
    // as many as it can regrow, so its count stays exact.
    let free = keep.iter().filter(|&&k| !k).count();
    let count = count.min(free);
    drop_smallest_magnitude(keep, weights, count);
    match grow {
        Grow::Random(rng) => grow_random(keep, count, rng),
        Grow::Gradient(g) => grow_largest(keep, g, count),
    }
}

/// Where a layer's update regrows.
pub enum Grow<'a> {
    /// Uniformly at random (SET), from this stream.
    Random(&'a mut ChaCha8Rng),
    /// The largest dense-gradient magnitudes (RigL), row-major like the weights.
    Gradient(&'a [f32]),
}

/// The stream of a run's schedule draws.
pub fn schedule_stream(seed: u64) -> ChaCha8Rng {
    glh_artifacts::seeding::stream(seed, "training/schedule")
}

/// ERK's start: `mask` with layer l holding `counts[l]` weights, a layer above its count
/// dropping its smallest `|weights|`, one below growing uniformly random positions (drawn from
/// `rng`, layer by layer). Returns the mask and, per layer, the grown positions (which keep
/// their initial weights).
pub fn rebalance(
    mask: &Mask,
    weights: &[Vec<f32>],
    counts: &[usize],
    rng: &mut ChaCha8Rng,
) -> (Mask, Vec<Vec<usize>>) {
    let mut grown = Vec::with_capacity(counts.len());
    let flags: Vec<Vec<bool>> = mask
        .layers()
        .iter()
        .zip(weights)
        .zip(counts)
        .map(|((layer, w), &count)| {
            let mut keep = layer.as_slice().to_vec();
            let kept = layer.kept();
            if kept > count {
                drop_smallest_magnitude(&mut keep, w, kept - count);
                grown.push(Vec::new());
            } else {
                grown.push(grow_random(&mut keep, count - kept, rng));
            }
            keep
        })
        .collect();
    (rebuild(mask, flags), grown)
}

#[cfg(test)]
mod tests {
    use super::*;
    use glh_model::Architecture;

    fn arch() -> Architecture {
        Architecture::mlp(12, 8, 3, 3)
    }

    /// A mask keeping every third weight and weights with distinct magnitudes.
    fn start() -> (Mask, Vec<Vec<f32>>) {
        let arch = arch();
        let layers = arch
            .shapes()
            .into_iter()
            .map(|(r, c)| LayerMask::new(r, c, (0..r * c).map(|i| i % 3 != 1).collect()).unwrap())
            .collect();
        let weights = arch
            .shapes()
            .into_iter()
            .enumerate()
            .map(|(l, (r, c))| {
                (0..r * c)
                    .map(|i| ((i * 37 + l * 11) % 101) as f32 / 50.0 - 1.0)
                    .collect()
            })
            .collect();
        (Mask::from_layers(&arch, layers).unwrap(), weights)
    }

    #[test]
    fn a_set_update_moves_round_zeta_kept_of_each_layer_and_keeps_its_count() {
        let (mask, weights) = start();
        let mut rng = schedule_stream(3);
        for (layer, w) in mask.layers().iter().zip(&weights) {
            let mut keep = layer.as_slice().to_vec();
            let count = moved_count(0.3, layer.kept());
            let grown = update_layer(&mut keep, w, count, Grow::Random(&mut rng));
            assert_eq!(grown.len(), count);
            assert_eq!(keep.iter().filter(|&&k| k).count(), layer.kept());
            // Every kept weight of the old mask that survived had a magnitude at least that of
            // every dropped one.
            let dropped: Vec<usize> = (0..keep.len())
                .filter(|&i| layer.as_slice()[i] && !keep[i] && !grown.contains(&i))
                .collect();
            let survivors = (0..keep.len()).filter(|&i| layer.as_slice()[i] && keep[i]);
            let largest_dropped = dropped.iter().map(|&i| w[i].abs()).fold(0.0, f32::max);
            for i in survivors.filter(|i| !grown.contains(i)) {
                assert!(w[i].abs() >= largest_dropped);
            }
        }
    }

    #[test]
    fn a_dense_layer_moves_nothing_and_a_nearly_dense_one_moves_what_it_can_regrow() {
        let weights = [0.5, -0.1, 0.2, 0.3];
        let mut keep = vec![true; 4];
        let grown = update_layer(
            &mut keep,
            &weights,
            2,
            Grow::Random(&mut schedule_stream(0)),
        );
        assert!(grown.is_empty() && keep.iter().all(|&k| k));
        let mut keep = vec![true, true, false, true];
        let grown = update_layer(&mut keep, &weights, 3, Grow::Gradient(&[0.0; 4]));
        assert_eq!(grown.len(), 1);
        assert_eq!(keep.iter().filter(|&&k| k).count(), 3);
    }

    #[test]
    fn rigl_grows_the_largest_gradients_among_the_free_entries() {
        let mut keep = vec![true, true, false, false, true, false];
        let weights = [0.5, -0.1, 0.0, 0.0, 0.3, 0.0];
        let gradient = [9.0, 9.0, -0.2, 0.7, 9.0, 0.7];
        let grown = update_layer(&mut keep, &weights, 2, Grow::Gradient(&gradient));
        // Dropped: entries 1 (0.1) and 4 (0.3); free then: 1, 2, 3, 4, 5, whose |g| are
        // 9, 0.2, 0.7, 9, 0.7: entries 1 and 4 come back (a dropped entry may regrow).
        assert_eq!(grown, vec![1, 4]);
        assert_eq!(keep, vec![true, true, false, false, true, false]);
        // Ties by position: 3 before 5.
        let mut keep = vec![true, false, false, false, false, false];
        let grown = grow_largest(&mut keep, &gradient.map(|g: f32| g.min(0.7)), 1);
        assert_eq!(grown, vec![1]);
    }

    #[test]
    fn imp_removes_round_q_kept_globally_and_its_masks_nest() {
        let (mut mask, weights) = start();
        for _ in 0..4 {
            let next = prune_global_magnitude(&mask, &weights, 0.2);
            assert_eq!(next.kept(), mask.kept() - moved_count(0.2, mask.kept()));
            assert!(next.is_subset_of(&mask));
            // Global: the largest removed magnitude is at most the smallest kept one.
            let mut removed_max = 0f32;
            let mut kept_min = f32::INFINITY;
            for ((a, b), w) in mask.layers().iter().zip(next.layers()).zip(&weights) {
                for ((&was, &is), w) in a.as_slice().iter().zip(b.as_slice()).zip(w) {
                    if was && !is {
                        removed_max = removed_max.max(w.abs());
                    }
                    if is {
                        kept_min = kept_min.min(w.abs());
                    }
                }
            }
            assert!(removed_max <= kept_min);
            mask = next;
        }
    }

    #[test]
    fn erk_counts_sum_to_the_budget_favour_small_layers_and_cap_at_dense() {
        let shapes = [(1000, 784), (1000, 1000), (10, 1000)];
        let total = 300_000;
        let counts = erk_counts(&shapes, total);
        assert_eq!(counts.iter().sum::<usize>(), total);
        let density = |l: usize| counts[l] as f64 / (shapes[l].0 * shapes[l].1) as f64;
        // The classifier's raw ERK density (1010 / 10000) is ~45x the hidden layer's: capped.
        assert_eq!(density(2), 1.0);
        // Uncapped layers keep ERK's ratio (1784/784000 : 2000/1e6), to rounding.
        let ratio = density(0) / density(1);
        assert!(
            (ratio - (1784.0 / 784_000.0) / (2000.0 / 1e6)).abs() < 1e-4,
            "{ratio}"
        );
        assert_eq!(erk_counts(&[(4, 4), (4, 4)], 32), vec![16, 16]);
    }

    #[test]
    fn rebalancing_to_erk_reaches_its_counts_exactly() {
        let (mask, weights) = start();
        let shapes = arch().shapes();
        let counts = erk_counts(&shapes, mask.kept());
        let (balanced, grown) = rebalance(&mask, &weights, &counts, &mut schedule_stream(1));
        let kept: Vec<usize> = balanced.layers().iter().map(LayerMask::kept).collect();
        assert_eq!(kept, counts);
        for ((g, before), after) in grown.iter().zip(mask.layers()).zip(balanced.layers()) {
            assert!(
                g.iter()
                    .all(|&i| !before.as_slice()[i] && after.as_slice()[i])
            );
        }
    }

    #[test]
    fn update_steps_stop_before_the_last_step_and_at_rigl_s_end() {
        let set = MaskSchedule::Set(SetSettings {
            every: 50,
            fraction: 0.3,
        });
        assert_eq!(set.update_steps(200), vec![50, 100, 150]);
        assert_eq!(set.update_steps(201), vec![50, 100, 150, 200]);
        let rigl = MaskSchedule::Rigl(RiglSettings {
            every: 50,
            ..RiglSettings::default()
        });
        assert_eq!(rigl.update_steps(200), vec![50, 100]);
        assert_eq!(rigl.checkpoints(200), 3);
        let r = RiglSettings::default();
        assert!((rigl_fraction(&r, 0, 200) - 0.3).abs() < 1e-15);
        assert!((rigl_fraction(&r, 75, 200) - 0.15).abs() < 1e-15);
        assert!(rigl_fraction(&r, 150, 200).abs() < 1e-15);
    }

    #[test]
    fn schedules_parse_from_toml_and_name_a_bad_field() {
        let s: MaskSchedule =
            toml::from_str("rule = \"rigl\"\nevery = 25\ndensities = \"erk\"").unwrap();
        let MaskSchedule::Rigl(r) = &s else {
            panic!("{s:?}")
        };
        assert_eq!(
            (r.every, r.densities, r.fraction),
            (25, LayerDensities::Erk, 0.3)
        );
        let imp: MaskSchedule = toml::from_str("rule = \"imp\"\nlevels = 7").unwrap();
        assert_eq!(imp.total_steps(200), 200 + 7 * 200);
        assert!(toml::from_str::<MaskSchedule>("rule = \"set\"\nlevels = 2").is_err());
        let err = MaskSchedule::Set(SetSettings {
            every: 100,
            fraction: 1.5,
        })
        .validate("e6.toml", 200)
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("e6.toml") && err.contains("training.schedule.fraction"),
            "{err}"
        );
        let every_step = MaskSchedule::Set(SetSettings {
            every: 1,
            fraction: 0.3,
        });
        assert!(every_step.validate("x", 1000).is_err());
        assert!(
            MaskSchedule::Imp(ImpSettings {
                rewind_step: 200,
                ..ImpSettings::default()
            })
            .validate("x", 200)
            .is_err()
        );
    }
}
