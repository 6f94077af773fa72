//! What a report needs of a pipeline: [`experiment`] turns a parsed pipeline file into the
//! report's [`Experiment`], with the exact runs its plan names and those of its dense baseline.
//! The command line and the end-to-end tests both report through it, so the tests check the
//! adapter `glh report` uses.

use crate::{Pipeline, plan};
use glh_artifacts::Result;
use glh_artifacts::config::PruneMethod;
use glh_artifacts::{Job, Plan};
use glh_data::mnist::{CLASSES, PIXELS};
use glh_masks::magnitude_law;
use glh_masks::settings::GraphonTarget;
use glh_masks::stage::MasksJob;
use glh_model::Architecture;
use glh_reporting::experiment::{DesignTarget, DesignTargets, LayerDensityLaw, PlannedRuns};
use glh_reporting::{DynamicsRuns, Experiment, GraphonKernelRuns, GraphonsRuns};

/// The runs of `pipeline`'s plan, by stage and key.
pub fn planned_runs(pipeline: &Pipeline) -> Result<PlannedRuns> {
    Ok(runs_of(&plan(pipeline)?))
}

fn runs_of(plan: &Plan) -> PlannedRuns {
    let mut runs = PlannedRuns::new();
    for job in plan.jobs() {
        runs.insert(job.stage(), job.key());
    }
    runs
}

/// The target of every design run of `plan`: each design's masks job's, then every job that
/// reads such a run inherits it (a job comes after its inputs in the plan; a job that pools
/// several masks runs pools one target's, see `glh_masks::stage::Configuration`).
fn design_targets(plan: &Plan) -> DesignTargets {
    let mut targets = DesignTargets::new();
    for (_, job) in plan.jobs_of::<MasksJob>() {
        if let Some(label) = job.design_label() {
            let power_beta = match job.design_target() {
                Some(GraphonTarget::Power { beta }) => Some(beta),
                _ => None,
            };
            targets.insert(job.spec().key(), DesignTarget { label, power_beta });
        }
    }
    for planned in plan.jobs() {
        let inputs = &planned.job.spec().inputs;
        if let Some(target) = inputs.iter().find_map(|i| targets.get(&i.key)).cloned() {
            targets.insert(planned.key(), target);
        }
    }
    targets
}

/// Global and layer-wise Magnitude's layer densities in closed form at every sweep point of
/// `pipeline` with Magnitude (none without it).
fn magnitude_densities(pipeline: &Pipeline) -> Vec<LayerDensityLaw> {
    let sweep = &pipeline.sweep;
    if !sweep.methods.contains(&PruneMethod::Magnitude) {
        return Vec::new();
    }
    let masks = pipeline.masks.clone().unwrap_or_default();
    let mut laws = Vec::new();
    for depth in &sweep.depths {
        let depth = depth.get();
        for level in sweep.levels() {
            for width in &sweep.widths {
                // A level with no sparsity at this width plans no masks there.
                let Ok(sparsity) = level.sparsity_at(*width) else {
                    continue;
                };
                let arch = Architecture::mlp(PIXELS, width.get() as usize, depth as usize, CLASSES);
                let density = sparsity.density();
                laws.push(LayerDensityLaw {
                    method: PruneMethod::Magnitude,
                    depth,
                    level,
                    width: width.get(),
                    densities: magnitude_law::layer_densities(
                        &arch,
                        density,
                        masks.scope,
                        masks.classifier,
                    ),
                    // The limit of a fixed sparsity (a density law's density tends to 0).
                    limit: matches!(level, glh_artifacts::config::Level::Fixed(_))
                        .then(|| {
                            magnitude_law::limit_layer_densities(
                                depth as usize,
                                density,
                                masks.scope,
                                masks.classifier,
                            )
                        })
                        .flatten(),
                });
            }
        }
    }
    laws
}

/// The report's view of `pipeline`: its name, sweep, settings, stages and planned runs.
pub fn experiment(pipeline: &Pipeline) -> Result<Experiment> {
    let mut dense = pipeline.clone();
    dense.sweep = glh_reporting::tables::dense_baseline(&pipeline.sweep);
    let plan = plan(pipeline)?;
    Ok(Experiment {
        name: pipeline.name.clone(),
        description: pipeline.description.clone(),
        sweep: pipeline.sweep.clone(),
        runs: runs_of(&plan),
        design_targets: design_targets(&plan),
        dense_runs: planned_runs(&dense)?,
        settings_toml: pipeline.to_toml()?,
        classifier: pipeline
            .masks
            .as_ref()
            .map_or_else(Default::default, |m| m.classifier),
        layer_density_laws: magnitude_densities(pipeline),
        graphons: pipeline.graphons.as_ref().map(|g| GraphonsRuns {
            k: g.k,
            rescale: g.rescale,
        }),
        ntk: pipeline.ntk.is_some(),
        graphon_ntk: pipeline.graphon_ntk.as_ref().map(|g| GraphonKernelRuns {
            k: g.k,
            kernel_size: g.kernel_size,
            first_sigma_w2: g.sigma_w2[0],
        }),
        training: pipeline.training.is_some(),
        trajectories: pipeline.trajectories.is_some(),
        dynamics: pipeline
            .dynamics
            .as_ref()
            .zip(pipeline.training.as_ref())
            .map(|(_, t)| DynamicsRuns {
                learning_rate: t.learning_rate,
                steps: t.steps,
                sigma_w2: t.sigma_w2,
            }),
    })
}
