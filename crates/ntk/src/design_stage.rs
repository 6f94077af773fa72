//! The `design` stage (issue #32): graphon-guided pruning in a pipeline. A `[design]` table
//! (a [`DesignSearch`]) makes every design of the sweep (`graphon:<method>`) drawn at the
//! target its search chooses: per sweep point one [`DesignJob`] runs the search at the source
//! method's per-layer kept counts (its first seed's mask) and stores every evaluated point
//! (`points.parquet`, `glh_artifacts::schemas::DESIGN_SEARCH`); the point's masks jobs, one per
//! seed, key that run and draw at its chosen point ([`glh_masks::stage::MasksJob::chosen`]).
//! `glh design` runs the same search ([`crate::design::run_search`]) without storing it.

use crate::design::{DesignSearch, KeptProfile, points_columns, run_search};
use glh_artifacts::config::{PruneMethod, Sweep};
use glh_artifacts::schemas::DESIGN_SEARCH;
use glh_artifacts::store::InputRef;
use glh_artifacts::{ArtifactStore, Error, Job, JobOutcome, JobSpec, Plan, Result, Stage};
use glh_data::{DataSettings, Normalisation};
use glh_masks::settings::{Family, MasksSettings};
use glh_masks::stage::{MaskPoint, MasksJob, read_mask};
use serde::Serialize;

/// The stage's name: its directory under the artifact root.
pub const STAGE: &str = "design";
/// Bumped whenever the stage's output for the same parameters changes.
/// Version 2: the recursion of ntk version 6 (last-bit differences in the designs' kernels,
/// which may move a search's choice between two nearly equal candidates).
pub const VERSION: u32 = 2;

/// Everything a search's points depend on: the search and each family's grid (a default grid
/// included, so a changed default is a new key), the data's normalisation (the kernel images),
/// and the source mask whose kept counts it keeps (an input).
#[derive(Clone, Debug, Serialize)]
struct DesignParams {
    search: DesignSearch,
    grids: Vec<(Family, Vec<f64>)>,
    normalisation: Normalisation,
}

/// One design search at the per-layer kept counts of a stored masks run: the one door to a
/// `design` run.
#[derive(Clone, Debug)]
pub struct DesignJob {
    search: DesignSearch,
    data: DataSettings,
    profile: InputRef,
    spec: JobSpec,
}

impl DesignJob {
    /// The search `search` at the kept counts of the masks run `profile`.
    pub fn new(search: &DesignSearch, data: &DataSettings, profile: InputRef) -> Result<Self> {
        search.validate("design")?;
        let params = DesignParams {
            search: search.clone(),
            grids: search.grids(),
            normalisation: Normalisation::from(data),
        };
        Ok(DesignJob {
            spec: JobSpec::new(STAGE, VERSION, &params, vec![profile.clone()]),
            search: search.clone(),
            data: data.clone(),
            profile,
        })
    }
}

impl Job for DesignJob {
    fn spec(&self) -> &JobSpec {
        &self.spec
    }

    fn progress_unit(&self) -> Option<&'static str> {
        Some("kernels")
    }

    fn run(
        &self,
        store: &ArtifactStore,
        force: bool,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<JobOutcome> {
        store.run(&self.spec, force, |writer| {
            let (_, mask) = read_mask(store, &self.profile)?;
            let profile = KeptProfile::of_mask(&mask);
            let total = self.search.evaluations();
            let mut done = 0;
            let (shapes, kept) = (&profile.shapes, &profile.kept);
            let points = run_search(&self.search, &self.data, shapes, kept, &mut |_, _| {
                done += 1;
                progress(done, total);
            })?;
            let context = profile.context(self.profile.key.to_string());
            writer.write_table(
                &DESIGN_SEARCH,
                points_columns(&points, &self.search, &context)?,
            )
        })
    }
}

/// The `[design]` table: per design method, depth, width and level of the sweep, a search at
/// the source method's first seed's kept counts, then the design's masks jobs at its choice,
/// one per seed. Planned right after the masks stage (which leaves the designs to it), so the
/// stages after find the designs' masks jobs as any other.
#[derive(Clone, Debug)]
pub struct DesignStage {
    /// The search.
    pub search: DesignSearch,
    /// The masks stage's settings (the designs' and their sources' jobs).
    pub masks: MasksSettings,
    /// The pipeline's data settings.
    pub data: DataSettings,
}

impl Stage for DesignStage {
    fn plan(&self, sweep: &Sweep, plan: &mut Plan) -> Result<()> {
        let Some(&first_seed) = sweep.seeds.first() else {
            return Ok(());
        };
        for &method in sweep.methods.iter().filter(|m| m.is_design()) {
            let PruneMethod::Graphon(&source) = method else {
                unreachable!("a design is graphon:<method>");
            };
            for &depth in &sweep.depths {
                for &width in &sweep.widths {
                    for level in sweep.levels() {
                        let sparsity = level
                            .sparsity_at(width)
                            .map_err(|msg| Error::config("pipeline", "sweep.density_laws", msg))?;
                        let point = |method, seed| MaskPoint {
                            method,
                            width,
                            sparsity,
                            depth,
                            seed,
                        };
                        // The source's first seed: planned already if the sweep has it (if not,
                        // planned here, and so read by the later stages too).
                        let profile =
                            MasksJob::new(&self.masks, &self.data, point(source, first_seed))?;
                        let mut profile_deps = Vec::new();
                        if let Some(data) = profile.scoring_job() {
                            profile_deps.push(plan.ensure(data.clone(), data.label()));
                        }
                        let label = profile.label();
                        let profile_input = profile.spec().as_input();
                        let profile_id = plan.push(profile, label, profile_deps);
                        let search = DesignJob::new(&self.search, &self.data, profile_input)?;
                        let search_input = search.spec().as_input();
                        let search_label = format!(
                            "design {} {} L={depth} n={width} s={}",
                            self.search.criterion.name(),
                            method,
                            sparsity.value()
                        );
                        let search_id = plan.push(search, search_label, vec![profile_id]);
                        for &seed in &sweep.seeds {
                            let job = MasksJob::chosen(
                                &self.masks,
                                &self.data,
                                point(method, seed),
                                search_input.clone(),
                            )?;
                            let mut depends_on = vec![search_id];
                            if let Some(data) = job.scoring_job() {
                                depends_on.push(plan.ensure(data.clone(), data.label()));
                            }
                            let label = job.label();
                            plan.push(job, label, depends_on);
                        }
                    }
                }
            }
        }
        Ok(())
    }
}
