//! The report stage on the smoke pipeline's artifacts: every figure and table it promises is
//! written, every PNG decodes, the HTML is self-contained, and a failed report leaves the old
//! one in place.

use glh_reporting::claims::Statement;
use glh_reporting::{ReportSettings, write_report};
use glh_tests::{experiment, load_pipeline, run_pipeline};

/// The header of the table of the paper's E3 claims, one column per protocol.
const E3_CLAIMS_HEADER: &str = "| claim | experiment | statistic | the paper's text: masks drawn from the graphon; (d), (e): training runs | graphon kernel (our reconstruction) | graphon kernel, shared order | our mask-level kernel |";

/// How a claim shows in its table: its verdict column (`| yes |`), or, for a claim with a
/// statistic, its cell `| yes: estimate [low, high] |`.
fn cell(claim: &glh_reporting::claims::Claim) -> String {
    match &claim.statistic {
        Some(s) => format!("| {}: {} |", claim.verdict_text(), s.number()),
        None => format!("| {} |", claim.verdict_text()),
    }
}

#[test]
fn the_smoke_report_writes_every_figure_and_table() {
    let pipeline = load_pipeline("smoke.toml");
    let root = tempfile::tempdir().unwrap();
    run_pipeline(&pipeline, root.path(), false).unwrap();
    let store = glh_artifacts::ArtifactStore::new(root.path());
    let outside = tempfile::tempdir().unwrap();
    let out = outside.path().join("reports");
    let settings = ReportSettings {
        bootstrap: 200,
        ..Default::default()
    };
    let experiments = [experiment(&pipeline)];
    let report = write_report(&store, &experiments, &out, &settings).unwrap();

    // Smoke has depth 3 and one sparsity: 3 heat-map grids, 3 convergence charts, the Random
    // vs c^L x dense spectra, one normalised-spectra chart, one loss chart, one scatter, and
    // the mask-level kernel's four metrics as is and centred.
    let mut stems: Vec<String> = report
        .figures
        .iter()
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    stems.sort();
    let mut expected: Vec<String> = [
        "convergence_layer1",
        "convergence_layer2",
        "convergence_layer3",
        "graphon_kernel_decay_alpha_L3",
        "graphon_kernel_effective_rank_trace_L3",
        "graphon_kernel_ratio_1_2_L3",
        "graphon_kernel_top5_energy_L3",
        "heatmaps_layer1",
        "heatmaps_layer2",
        "heatmaps_layer3",
        "layer_density_layer1",
        "layer_density_layer2",
        "layer_density_layer3",
        "mask_kernel_decay_exponent_L3",
        "mask_kernel_effective_rank_trace_L3",
        "mask_kernel_ratio_1_2_L3",
        "mask_kernel_top5_energy_L3",
        "mask_kernel_decay_exponent_L3_centred",
        "mask_kernel_effective_rank_trace_L3_centred",
        "mask_kernel_ratio_1_2_L3_centred",
        "mask_kernel_top5_energy_L3_centred",
        "scatter_top5_vs_loss",
        "spectra_random_vs_scaled_dense",
        "spectra_s0.8",
        "training_loss_s0.8",
    ]
    .map(String::from)
    .to_vec();
    expected.sort();
    assert_eq!(stems, expected);
    for png in &report.figures {
        assert!(png.starts_with(out.join("smoke")), "{}", png.display());
        let decoder = png::Decoder::new(std::fs::File::open(png).unwrap());
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size()];
        let frame = reader.next_frame(&mut buf).unwrap();
        assert!(
            frame.width >= 400 && frame.height >= 300,
            "{}",
            png.display()
        );
        // Not a blank canvas: more than one colour.
        assert!(buf.iter().any(|&b| b != buf[0]));
        let svg = std::fs::read_to_string(png.with_extension("svg")).unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("</svg>"));
    }

    // Tables with their documented columns, and the claims with a verdict each.
    let md = std::fs::read_to_string(&report.markdown).unwrap();
    for header in [
        "| layer | method |",
        "| hidden layer | method | width | Frobenius distance (paper) | cut distance |",
        "| method | Linear layers | masked layers L | sparsity | runs | c^L | prod c_l | trace / dense |",
        "| method | sparsity | seeds | final test accuracy | mean training loss |",
        "| spectral metric | Spearman, pooled [95% CI] | Pearson, pooled [95% CI] | Spearman at sparsity 0.8 | Spearman within sparsity, pooled [95% CI] |",
        "| hidden layer | method | Frobenius distance by width | falls monotonically? (paper) | exceptions | D^2 between successive widths [95% CI] | noise floor at the largest width | ours |",
        "| hidden layer | method | width | Frobenius distance (paper) | noise floor | D^2 to the reference [95% CI] | reading |",
        "| hidden layer | method | density by width | shape H / p: D^2 between successive widths [95% CI] | shape (ours) | histogram (ours) |",
        "| neurons h | method | n = 16 | n = 32 |",
        "| layer | method | n = 16 | n = 32 |",
        "| L | kernel | view | top eigenvector: cosine with the mean image (abs.) | top-5 energy: cells beyond noise | trace / l_1: cells beyond noise | l_1 / l_2: cells beyond noise | decay exponent: cells beyond noise | (b) on this view | (c) on this view | (c) against Random on this view |",
        "| kernel | sigma_w^2 | L | sparsity | method | top-5 energy (paper) |",
        "| claim | experiment | our numbers | supported? |",
        E3_CLAIMS_HEADER,
    ] {
        assert!(md.contains(header), "missing table {header}");
    }
    // The two above, and the E3 claims side by side in the summary and in the section.
    assert_eq!(report.tables, 15);
    assert!(report.claims.len() >= 4, "{:?}", report.claims);
    for claim in &report.claims {
        assert_eq!(claim.experiment, "smoke");
        assert!(
            md.contains(&cell(claim)),
            "{claim:?} is not in a claims table"
        );
    }
    let html = std::fs::read_to_string(&report.html).unwrap();
    assert_eq!(
        html.matches("data:image/png;base64,").count(),
        report.figures.len()
    );
    assert!(!html.contains(".png\""), "the HTML must not link to files");

    // A report that fails (a pipeline whose data directory does not exist is fine, but an
    // unwritable output is not) leaves the previous report untouched.
    let before = std::fs::read(&report.markdown).unwrap();
    let blocked = outside.path().join("blocked");
    std::fs::write(&blocked, b"a file, not a directory").unwrap();
    assert!(write_report(&store, &experiments, &blocked.join("reports"), &settings).is_err());
    assert_eq!(std::fs::read(&report.markdown).unwrap(), before);
}

#[test]
fn the_report_replaces_only_its_own_directories() {
    let root = tempfile::tempdir().unwrap();
    let store = glh_artifacts::ArtifactStore::new(root.path().join("artifacts"));
    let experiments = [experiment(&load_pipeline("smoke.toml"))];
    // The store is empty: these reports are partial (and say so), which is what is asked.
    let settings = ReportSettings {
        bootstrap: 100,
        allow_partial: true,
        ..Default::default()
    };
    // A directory of someone else's files, one that holds a report.md and a report.html but no
    // marker of ours, the artifact store itself, a directory inside it, a file, `.`, a path
    // through `..` and an ancestor of the working directory: refused, untouched, nothing else
    // left beside them.
    let foreign = root.path().join("notes");
    std::fs::create_dir_all(&foreign).unwrap();
    std::fs::write(foreign.join("keep.txt"), b"mine").unwrap();
    let lookalike = root.path().join("lookalike");
    std::fs::create_dir_all(&lookalike).unwrap();
    for f in ["report.md", "report.html"] {
        std::fs::write(lookalike.join(f), b"mine").unwrap();
    }
    std::fs::create_dir_all(root.path().join("artifacts/masks")).unwrap();
    let file = root.path().join("a-file");
    std::fs::write(&file, b"mine").unwrap();
    let cwd = std::env::current_dir().unwrap();
    for out in [
        foreign.clone(),
        lookalike.clone(),
        root.path().join("artifacts"),
        root.path().join("artifacts/reports"),
        file.clone(),
        std::path::PathBuf::from("."),
        root.path().join("notes/.."),
        cwd.parent().unwrap().to_path_buf(),
    ] {
        let err = write_report(&store, &experiments, &out, &settings).unwrap_err();
        assert!(err.is_bad_input(), "{err}");
        assert!(
            err.to_string().contains(&out.display().to_string()),
            "{err}"
        );
        assert_eq!(err.to_string().lines().count(), 1);
    }
    assert_eq!(std::fs::read(foreign.join("keep.txt")).unwrap(), b"mine");
    assert_eq!(std::fs::read(lookalike.join("report.md")).unwrap(), b"mine");
    assert!(root.path().join("artifacts/masks").is_dir());
    assert_eq!(std::fs::read(&file).unwrap(), b"mine");
    let mut names: Vec<String> = std::fs::read_dir(root.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["a-file", "artifacts", "lookalike", "notes"]);

    // A new directory, an empty one, and then our own report again: written, marked, replaced,
    // and said to be partial.
    let empty = root.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    for out in [root.path().join("fresh"), empty.clone(), empty] {
        let report = write_report(&store, &experiments, &out, &settings).unwrap();
        assert!(out.join(glh_reporting::report::REPORT_MARKER).is_file());
        let md = std::fs::read_to_string(&report.markdown).unwrap();
        assert!(md.contains("**Partial report**"), "{md}");
    }
    // Without --allow-partial, the missing runs are refused by name, and nothing is written.
    let strict = ReportSettings {
        bootstrap: 100,
        ..Default::default()
    };
    let out = root.path().join("strict");
    let err = write_report(&store, &experiments, &out, &strict)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("runs the pipelines plan are missing (first: "),
        "{err}"
    );
    assert!(err.contains("--allow-partial"), "{err}");
    assert!(!out.exists());
    // Two pipelines of one name would share their figures' directory: refused.
    let twice = [experiments[0].clone(), experiments[0].clone()];
    let err = write_report(&store, &twice, &out, &settings).unwrap_err();
    assert!(
        err.to_string().contains("two pipelines are named `smoke`"),
        "{err}"
    );
}

#[test]
fn each_depth_and_sparsity_gets_its_own_figures_and_verdict() {
    // Two depths x two sparsities: four graphons, never averaged into one heat map or curve.
    let pipeline = glh_pipeline::Pipeline::from_toml(
        "name = \"grid\"\n[sweep]\nmethods = [\"random\", \"magnitude\"]\nwidths = [12, 24]\n\
         sparsities = [0.5, 0.8]\ndepths = [3, 4]\nseeds = [0]\n[masks]\n[graphons]\nk = 4\n",
        "grid.toml",
    )
    .unwrap();
    let (report, _dirs) = run_and_report(&pipeline);
    let out = report.markdown.parent().unwrap().to_path_buf();
    for part in ["L3-s0.5", "L3-s0.8", "L4-s0.5", "L4-s0.8"] {
        let dir = out.join("grid").join(part);
        assert!(dir.join("heatmaps_layer2.png").is_file(), "{part}");
        assert!(dir.join("convergence_layer2.png").is_file(), "{part}");
    }
    // Layers 1..=3 at depth 3 and 1..=4 at depth 4, heat maps, distance and density curves,
    // per sparsity.
    assert_eq!(report.figures.len(), 2 * 3 * (3 + 4));
    // Magnitude's closed-form densities beside its masks', with their limit: at depth 3 the
    // input layer tends to 1 and the others to the density.
    let md = std::fs::read_to_string(&report.markdown).unwrap();
    assert!(md.contains("| layer | method | n = 12 | n = 24 | n → ∞ |"));
    assert!(md.contains("| 1 | magnitude (closed form) |"), "{md}");
    for (layer, limit) in [(1, "1.0000"), (2, "0.2000"), (3, "0.2000")] {
        let row = md
            .lines()
            .filter(|l| l.starts_with(&format!("| {layer} | magnitude (closed form) |")))
            .find(|l| l.ends_with(&format!("| {limit} |")));
        assert!(row.is_some(), "layer {layer} at 80%: limit {limit}");
    }
    let names: Vec<&str> = report
        .claims
        .iter()
        .map(|c| c.experiment.as_str())
        .collect();
    // Two readings per part: the paper's monotone test and our Cauchy chain.
    assert_eq!(
        names,
        [
            "grid (L = 3, sparsity 0.5)",
            "grid (L = 3, sparsity 0.5)",
            "grid (L = 3, sparsity 0.8)",
            "grid (L = 3, sparsity 0.8)",
            "grid (L = 4, sparsity 0.5)",
            "grid (L = 4, sparsity 0.5)",
            "grid (L = 4, sparsity 0.8)",
            "grid (L = 4, sparsity 0.8)"
        ]
    );
    let statements: Vec<Statement> = report.claims.iter().map(|c| c.statement).collect();
    assert_eq!(
        statements,
        [Statement::Convergence, Statement::ChainConvergence].repeat(4)
    );
}

#[test]
fn a_density_law_is_its_own_part_with_the_sparse_regime_claim() {
    let pipeline = glh_pipeline::Pipeline::from_toml(
        "name = \"sparse\"\n[sweep]\nmethods = [\"random\", \"synflow\"]\nwidths = [16, 36, 64]\n\
         sparsities = [0.5]\ndensity_laws = [{ c = 2.0, a = 0.5 }]\ndepths = [4]\nseeds = [0, 1]\n\
         [masks]\nsynflow_rounds = 5\n[graphons]\nk = 4\nrescale = \"layer_density\"\n",
        "sparse.toml",
    )
    .unwrap();
    let (report, _dirs) = run_and_report(&pipeline);
    let out = report.markdown.parent().unwrap().to_path_buf();
    for part in ["L4-s0.5", "L4-d2n-0.5"] {
        let dir = out.join("sparse").join(part);
        assert!(dir.join("heatmaps_layer2.png").is_file(), "{part}");
        assert!(dir.join("convergence_layer3.png").is_file(), "{part}");
    }
    // Two parts, each with the paper's verdict on the rescaled histograms and our chain's:
    // 2 methods x 2 hidden layers.
    assert_eq!(report.claims.len(), 4);
    for (claim, statement) in report
        .claims
        .iter()
        .zip([Statement::SparseConvergence, Statement::ChainConvergence].repeat(2))
    {
        assert_eq!(claim.statement, statement);
        assert!(
            claim.evidence.contains("of 4 (hidden layer, method) cases"),
            "{}",
            claim.evidence
        );
    }
    assert_eq!(
        report.claims[3].experiment,
        "sparse (L = 4, density 2 n^-0.5)"
    );
    let md = std::fs::read_to_string(&report.markdown).unwrap();
    assert!(md.contains("Per method: random: "), "per-method statement");
    assert!(
        md.contains("| neurons h | method | n = 16 | n = 36 | n = 64 |"),
        "hidden neurons"
    );
    assert!(md.contains("Layer 2 (hidden): seed-averaged SAS histograms / layer density"));
}

/// A report reads exactly the runs its pipeline plans. Runs of other settings at the same
/// sweep points (a pipeline that differs in `[masks] scope` or in its learning rate), and a run
/// of an older stage version, may share the store: the report's bytes do not move.
#[test]
fn the_report_reads_only_its_planned_runs() {
    use arrow::array::StringArray;
    use glh_artifacts::JobSpec;
    use glh_artifacts::config::Scope;
    use glh_artifacts::schema::{Column, ColumnType, TableSchema};
    let pipeline = load_pipeline("smoke.toml");
    let root = tempfile::tempdir().unwrap();
    run_pipeline(&pipeline, root.path(), false).unwrap();
    let store = glh_artifacts::ArtifactStore::new(root.path());
    let settings = ReportSettings {
        bootstrap: 50,
        ..Default::default()
    };
    let outside = tempfile::tempdir().unwrap();
    let report = |name: &str| {
        let out = outside.path().join(name);
        let report = write_report(&store, &[experiment(&pipeline)], &out, &settings).unwrap();
        let mut files = vec![std::fs::read(&report.markdown).unwrap()];
        files.extend(report.figures.iter().map(|f| std::fs::read(f).unwrap()));
        (files, report.claims)
    };
    let (alone, claims) = report("alone");

    // The same sweep points with other settings, into the same store.
    let mut layerwise = pipeline.clone();
    layerwise.name = "smokelw".into();
    layerwise.masks.as_mut().unwrap().scope = Scope::Layerwise;
    run_pipeline(&layerwise, root.path(), false).unwrap();
    let mut faster = pipeline.clone();
    faster.name = "smokelr".into();
    faster.graphons = None;
    faster.ntk = None;
    faster.graphon_ntk = None;
    faster.training.as_mut().unwrap().learning_rate = 0.05;
    run_pipeline(&faster, root.path(), false).unwrap();
    // A version-1 convergence run with a column the current table lacks.
    const OLD: TableSchema = TableSchema {
        stage: "convergence",
        name: "convergence",
        row: "an old row",
        stored: true,
        columns: &[Column {
            name: "cut_mean",
            dtype: ColumnType::String,
            doc: "gone since version 2",
        }],
    };
    let spec = JobSpec::new("convergence", 1, &serde_json::json!({"old": true}), vec![]);
    store
        .run(&spec, false, |w| {
            let columns =
                glh_artifacts::Columns::new().with("cut_mean", StringArray::from(vec!["x"]));
            w.write_table(&OLD, columns)
        })
        .unwrap();

    let (shared, shared_claims) = report("shared");
    assert_eq!(shared_claims, claims);
    assert!(
        alone == shared,
        "the smoke report moved when other runs joined its store"
    );
    assert!(
        claims
            .iter()
            .any(|c| c.statement == glh_reporting::claims::Statement::Convergence)
    );
    // The variants' own reports do differ: the test can fail.
    let out = outside.path().join("variant");
    let variant = write_report(&store, &[experiment(&layerwise)], &out, &settings).unwrap();
    assert_ne!(std::fs::read(&variant.markdown).unwrap(), alone[0]);
}

#[test]
fn an_e3_shaped_sweep_reports_every_claim_of_the_papers_e3_under_every_kernel() {
    use glh_artifacts::config::{PruneMethod, Sparsity};
    use glh_reporting::claims::{Reading, Statement};
    // Smoke's sizes with E3's shape: the paper's three methods at two sparsities, three seeds,
    // and the dense baseline beside it.
    let mut e3 = load_pipeline("smoke.toml");
    e3.name = "e3-tiny".into();
    e3.graphons = None;
    e3.sweep.methods = vec![PruneMethod::Random, PruneMethod::Snip, PruneMethod::Synflow];
    e3.sweep.widths.truncate(1);
    e3.sweep.sparsities = [0.5, 0.9].map(|s| Sparsity::try_from(s).unwrap()).to_vec();
    e3.sweep.seeds = vec![0, 1, 2];
    let mut dense = e3.clone();
    dense.name = "e3-tiny-dense".into();
    dense.graphon_ntk = None;
    dense.sweep.methods = vec![PruneMethod::Random];
    dense.sweep.sparsities = vec![Sparsity::try_from(0.0).unwrap()];
    let root = tempfile::tempdir().unwrap();
    run_pipeline(&e3, root.path(), false).unwrap();
    run_pipeline(&dense, root.path(), false).unwrap();
    let store = glh_artifacts::ArtifactStore::new(root.path());
    let settings = ReportSettings {
        bootstrap: 200,
        ..Default::default()
    };
    let outside = tempfile::tempdir().unwrap();
    let out = outside.path().join("reports");
    // The dense baseline is read where its pipeline is reported too.
    let both = [experiment(&e3), experiment(&dense)];
    let report = write_report(&store, &both, &out, &settings).unwrap();

    let read = |statement: Statement, reading: Reading| {
        report
            .claims
            .iter()
            .find(|c| {
                c.statement == statement && c.reading == Some(reading) && c.experiment == "e3-tiny"
            })
            .unwrap_or_else(|| panic!("no {statement:?} under {reading:?}: {:?}", report.claims))
    };
    let md = std::fs::read_to_string(&report.markdown).unwrap();
    assert_eq!(
        md.matches(E3_CLAIMS_HEADER).count(),
        2,
        "summary and section"
    );
    let kernel_claims = [
        Statement::RandomMetricsStable,
        Statement::ConcentrationRisesWithSparsity,
        Statement::RankAndGapFallWithSparsity,
        Statement::RankAndGapBelowRandom,
    ];
    for statement in kernel_claims {
        for reading in [
            Reading::DrawnMaskKernel,
            Reading::GraphonKernel,
            Reading::SharedOrderKernel,
            Reading::OurMaskKernel,
        ] {
            let claim = read(statement, reading);
            let interval = claim.statistic.as_ref().unwrap().interval.unwrap();
            // Every resample of whole seeds keeps every configuration, so none is undefined.
            assert_eq!(interval.resamples, 200, "{claim:?}");
            // The seeds differ, so resampling them moves the statistic: a bootstrap that
            // resampled nothing (or one seed) would give a point.
            assert!(interval.low < interval.high, "{claim:?}");
            assert!(md.contains(&cell(claim)), "{claim:?}");
        }
    }
    for statement in [
        Statement::EarlySpeed,
        Statement::SparsitySlowsTraining,
        Statement::DenseTrainsFastest,
        Statement::RandomDegradesMost,
    ] {
        let claim = read(statement, Reading::Training);
        assert!(md.contains(&cell(claim)), "{claim:?}");
    }
    assert!(
        report
            .claims
            .iter()
            .any(|c| c.statement == Statement::DenseTrainsFastest && c.experiment == "e3-tiny")
    );
    // Reported without its dense pipeline, (e)'s dense part is left out, nothing else, though
    // the dense runs are in the store: the report reads only what its pipelines plan.
    let report = write_report(
        &store,
        &[experiment(&e3)],
        &outside.path().join("r"),
        &settings,
    )
    .unwrap();
    let statements: Vec<Statement> = report.claims.iter().map(|c| c.statement).collect();
    assert!(!statements.contains(&Statement::DenseTrainsFastest));
    assert!(statements.contains(&Statement::RandomDegradesMost));
}

/// The shipped pipelines' dense baselines are found: the training (and dynamics) runs of each
/// pruned pipeline's dense plan are runs its dense pipeline plans, so `just reproduce` and
/// `just e4` report them.
#[test]
fn the_shipped_dense_pipelines_plan_the_baselines_their_experiments_read() {
    for (pruned, dense) in [
        ("e3.toml", "e3-dense.toml"),
        ("e3-l5.toml", "e3-dense.toml"),
        ("e4-finite-width.toml", "e4-dense.toml"),
    ] {
        let wanted = experiment(&load_pipeline(pruned)).dense_runs;
        let planned = experiment(&load_pipeline(dense)).runs;
        for stage in ["training", "dynamics"] {
            let keys: Vec<_> = wanted.keys(stage).collect();
            if stage == "training" {
                assert!(!keys.is_empty(), "{pruned}");
            }
            for key in keys {
                assert!(
                    planned.contains(stage, key),
                    "{pruned}: its dense {stage} run {key} is not planned by {dense}"
                );
            }
        }
    }
}

#[test]
fn an_experiment_that_trains_without_graphons_tables_its_layer_densities_by_sparsity() {
    let data = glh_tests::repo_root().join("data/mnist");
    let text = format!(
        "name = \"trains\"\n[sweep]\nmethods = [\"random\", \"snip\"]\nwidths = [16]\n\
         sparsities = [0.5, 0.8]\ndepths = [3]\nseeds = [0, 1]\n[data]\ndir = {:?}\n[masks]\n\
         [training]\nsteps = 4\nbatch_size = 16\neval_every = 2\n",
        data.display().to_string()
    );
    let pipeline = glh_pipeline::Pipeline::from_toml(&text, "trains.toml").unwrap();
    let (report, _dirs) = run_and_report(&pipeline);
    let md = std::fs::read_to_string(&report.markdown).unwrap();
    let header = "| L | layer | method | sparsity 0.5000 | sparsity 0.8000 |";
    assert!(md.contains(header), "{md}");
    // Two methods x three layers, each with a mean ± sd at both sparsities, in [0, 1].
    let rows = table_rows(&md, header);
    assert_eq!(rows.len(), 2 * 3, "{rows:?}");
    for row in rows {
        let cells: Vec<&str> = row.trim_matches('|').split('|').map(str::trim).collect();
        for cell in &cells[3..] {
            let mean: f64 = cell.split(" ± ").next().unwrap().parse().unwrap();
            assert!((0.0..=1.0).contains(&mean), "{row}");
        }
    }
}

#[test]
fn a_method_with_both_controls_gets_its_advantage_decomposed() {
    let data = glh_tests::repo_root().join("data/mnist");
    let text = format!(
        "name = \"controls\"\n[sweep]\nmethods = [\"random\", \"snip\", \"shuffled:snip\", \
         \"rewired:snip\", \"shuffled:synflow\"]\nwidths = [16]\nsparsities = [0.5, 0.8]\n\
         depths = [3]\nseeds = [0, 1, 2]\n[data]\ndir = {:?}\n[masks]\nsynflow_rounds = 4\n\
         [ntk]\nhistogram_k = 4\nempirical_draws = 0\n\
         [training]\nsteps = 4\nbatch_size = 16\neval_every = 2\n",
        data.display().to_string()
    );
    let pipeline = glh_pipeline::Pipeline::from_toml(&text, "controls.toml").unwrap();
    let (report, _dirs) = run_and_report(&pipeline);
    let md = std::fs::read_to_string(&report.markdown).unwrap();
    let header = "| L | measure | method | sparsity | difference from Random | densities | \
                  degrees | rest of the structure | beyond the densities |";
    assert!(md.contains(header), "{md}");
    // SNIP at both sparsities, for the training loss, the five kernel measures as is and two
    // centred; SynFlow has one control only and is not split.
    let rows = table_rows(&md, header);
    assert_eq!(rows.len(), 2 * 8, "{rows:?}");
    assert!(rows.iter().all(|r| r.contains(" | snip | ")), "{rows:?}");
    assert!(rows[0].starts_with("| 3 | mean training loss | snip | 0.5000 |"));
    assert!(rows[2].starts_with("| 3 | kernel trace / dense | snip | 0.5000 |"));
    assert!(rows[12].starts_with("| 3 | top-5 energy, centred | snip | 0.5000 |"));
    let claims: Vec<_> = report
        .claims
        .iter()
        .filter(|c| c.statement == Statement::GraphonBeyondDensity)
        .collect();
    assert_eq!(claims.len(), 1);
    assert_eq!(claims[0].experiment, "controls (L = 3) (snip)");
}

#[test]
fn a_design_drawn_from_several_targets_is_reported_by_target() {
    let data = glh_tests::repo_root().join("data/mnist");
    let text = format!(
        "name = \"family\"\n[sweep]\nmethods = [\"graphon:random\"]\nwidths = [16]\n\
         sparsities = [0.5, 0.8]\ndepths = [3]\nseeds = [0, 1, 2]\n[data]\ndir = {:?}\n\
         [[masks.graphon]]\ntarget = \"power\"\nbeta = 0.0\n\
         [[masks.graphon]]\ntarget = \"power\"\nbeta = 3.0\n\
         [ntk]\nhistogram_k = 4\nempirical_draws = 0\n\
         [graphon_ntk]\nk = 4\nsigma_w2 = [2.0]\nkernel_size = 20\nseed_kernels = true\n\
         [training]\nsteps = 4\nbatch_size = 16\neval_every = 4\n",
        data.display().to_string()
    );
    let pipeline = glh_pipeline::Pipeline::from_toml(&text, "family.toml").unwrap();
    // One masks, kernel and training job per target and point, one graphon kernel job per
    // target and sparsity (its seeds pooled, never two targets).
    let plan = glh_pipeline::plan(&pipeline).unwrap();
    let count = |stage: &str| plan.jobs().iter().filter(|j| j.stage() == stage).count();
    assert_eq!(count("masks"), 2 * 2 * 3);
    assert_eq!(count("ntk"), 2 * 2 * 3);
    assert_eq!(count("training"), 2 * 2 * 3);
    assert_eq!(count("graphon_ntk"), 2 * 2);
    let e = experiment(&pipeline);
    assert!(e.sweeps_design_targets());
    let betas: std::collections::BTreeSet<u64> = e
        .design_targets
        .values()
        .map(|t| t.power_beta.unwrap().to_bits())
        .collect();
    assert_eq!(betas.len(), 2);
    let (report, _dirs) = run_and_report(&pipeline);
    let md = std::fs::read_to_string(&report.markdown).unwrap();
    let header = "| sparsity | beta | seeds | mean training loss |";
    let rows = table_rows(&md, header);
    assert_eq!(rows.len(), 2 * 2, "{md}");
    assert!(rows[0].starts_with("| 0.5000 | 0.0000 | 3 |"), "{rows:?}");
    assert!(rows[1].starts_with("| 0.5000 | 3.0000 | 3 |"), "{rows:?}");
    // Nine metrics at each sparsity, each over the six runs of its sparsity.
    let rows = table_rows(&md, "| sparsity | metric | Spearman | Pearson | runs |");
    assert_eq!(rows.len(), 2 * 9, "{md}");
    assert!(rows.iter().all(|r| r.ends_with("| 6 |")), "{rows:?}");
    let claims: Vec<_> = report
        .claims
        .iter()
        .filter(|c| c.statement == Statement::SpectrumPredictsSpeedInFamily)
        .collect();
    assert_eq!(claims.len(), 2);
    assert_eq!(claims[0].experiment, "family (sparsity 0.5000)");
    // The pooling sections stay out: no section mixes the two targets as one method's seeds.
    assert!(!md.contains("Graphon or density profile?"));
}

#[test]
fn one_target_table_and_an_array_of_them_read_and_write_back() {
    let data = glh_tests::repo_root().join("data/mnist");
    let base = format!(
        "name = \"t\"\n[sweep]\nmethods = [\"graphon:random\", \"random\"]\nwidths = [16]\n\
         sparsities = [0.5]\ndepths = [3]\nseeds = [0]\n[data]\ndir = {:?}\n",
        data.display().to_string()
    );
    let one = format!("{base}[masks.graphon]\ntarget = \"power\"\nbeta = 2.0\n");
    let pipeline = glh_pipeline::Pipeline::from_toml(&one, "one.toml").unwrap();
    // Random is drawn once whatever the targets; the design once per target.
    let masks_jobs = |p: &glh_pipeline::Pipeline| {
        let plan = glh_pipeline::plan(p).unwrap();
        plan.jobs().iter().filter(|j| j.stage() == "masks").count()
    };
    assert_eq!(masks_jobs(&pipeline), 2);
    let back = glh_pipeline::Pipeline::from_toml(&pipeline.to_toml().unwrap(), "b.toml").unwrap();
    assert_eq!(back, pipeline);
    let many = format!(
        "{base}[[masks.graphon]]\ntarget = \"power\"\nbeta = 2.0\n\
         [[masks.graphon]]\ntarget = \"block\"\nrows = 0.5\ncols = 0.25\n"
    );
    let pipeline = glh_pipeline::Pipeline::from_toml(&many, "many.toml").unwrap();
    assert_eq!(masks_jobs(&pipeline), 3);
    let back = glh_pipeline::Pipeline::from_toml(&pipeline.to_toml().unwrap(), "b.toml").unwrap();
    assert_eq!(back, pipeline);
    // A bad field of one target is named by the target's own message.
    let bad = format!("{base}[[masks.graphon]]\ntarget = \"power\"\nbeta = 2.0\ngamma = 1\n");
    let err = glh_pipeline::Pipeline::from_toml(&bad, "bad.toml")
        .unwrap_err()
        .to_string();
    assert!(err.contains("gamma") && err.contains("bad.toml"), "{err}");
    // A [graphons] table cannot pool two targets of one design as one method's seeds.
    let graphons = format!("{many}[graphons]\nk = 4\n");
    let err = glh_pipeline::Pipeline::from_toml(&graphons, "g.toml")
        .and_then(|p| glh_pipeline::plan(&p).map(|_| ()))
        .unwrap_err()
        .to_string();
    assert!(err.contains("masks.graphon"), "{err}");
}

#[test]
fn designs_drawn_at_a_searchs_choice_are_compared_with_the_methods() {
    use glh_artifacts::Job;
    let data = glh_tests::repo_root().join("data/mnist");
    let text = format!(
        "name = \"chosen\"\n[sweep]\nmethods = [\"random\", \"snip\", \"synflow\", \
         \"shuffled:synflow\", \"graphon:random\", \"graphon:synflow\"]\nwidths = [16]\n\
         sparsities = [0.5, 0.8]\ndepths = [3]\nseeds = [0, 1, 2]\n[data]\ndir = {:?}\n\
         [masks]\nsynflow_rounds = 4\n\
         [design]\nfamilies = [\"power\"]\ngrid = [0.0, 1.0, 3.0]\nrefinements = 2\n\
         criterion = \"trace\"\nk = 4\nkernel_size = 20\n\
         [training]\nsteps = 4\nbatch_size = 16\neval_every = 4\n",
        data.display().to_string()
    );
    let pipeline = glh_pipeline::Pipeline::from_toml(&text, "chosen.toml").unwrap();
    let plan = glh_pipeline::plan(&pipeline).unwrap();
    let count = |stage: &str| plan.jobs().iter().filter(|j| j.stage() == stage).count();
    // A search per design and sparsity; every method's masks at every point, once.
    assert_eq!(count("design"), 2 * 2);
    assert_eq!(count("masks"), 6 * 2 * 3);
    let (report, dirs) = run_and_report(&pipeline);
    // Each design run draws at its search's choice: the same mask as a job given that target.
    let store = glh_artifacts::ArtifactStore::new(dirs[0].path());
    let masks = pipeline.masks.clone().unwrap();
    let data_settings = pipeline.data.clone().unwrap();
    for (_, job) in plan.jobs_of::<glh_masks::stage::MasksJob>() {
        let Some(search) = job.chosen_by() else {
            continue;
        };
        let target = glh_masks::stage::read_chosen_target(&store, search).unwrap();
        let explicit = glh_masks::stage::MasksJob::new(
            &masks.with_target(target),
            &data_settings,
            *job.point(),
        )
        .unwrap();
        assert_ne!(explicit.spec().key(), job.spec().key());
        explicit.run(&store, false, &mut |_, _| {}).unwrap();
        let (_, drawn) = glh_masks::stage::read_mask(&store, &job.spec().as_input()).unwrap();
        let (_, direct) = glh_masks::stage::read_mask(&store, &explicit.spec().as_input()).unwrap();
        assert_eq!(drawn, direct, "{}", job.label());
    }
    let md = std::fs::read_to_string(&report.markdown).unwrap();
    let chosen = table_rows(&md, "| source | density | family | parameter | criterion |");
    assert_eq!(chosen.len(), 2 * 2, "{md}");
    assert!(
        chosen
            .iter()
            .any(|r| r.starts_with("| synflow | 0.2000 | power |")),
        "{chosen:?}"
    );
    // Per design and sparsity: Random, SNIP, SynFlow, and for graphon:synflow its shuffled
    // control too (graphon:random's is not in the sweep).
    let gaps = table_rows(&md, "| L | sparsity | design | against |");
    assert_eq!(gaps.len(), 2 * 3 + 2 * 4, "{gaps:?}");
    let claims = |statement| {
        report
            .claims
            .iter()
            .filter(|c| c.statement == statement)
            .count()
    };
    assert_eq!(claims(Statement::DesignBeatsMethods), 2 * 2);
    assert_eq!(claims(Statement::DesignBeatsSourceAtItsProfile), 2);
    assert!(chosen[0].starts_with("| random | 0.2000 |"), "{chosen:?}");
}

/// `pipeline` run into a fresh store and reported (50 bootstrap resamples) into a fresh
/// directory; both directories live as long as the returned guards.
fn run_and_report(
    pipeline: &glh_pipeline::Pipeline,
) -> (glh_reporting::ReportOutput, [tempfile::TempDir; 2]) {
    let root = tempfile::tempdir().unwrap();
    run_pipeline(pipeline, root.path(), false).unwrap();
    let store = glh_artifacts::ArtifactStore::new(root.path());
    let settings = ReportSettings {
        bootstrap: 50,
        ..Default::default()
    };
    let outside = tempfile::tempdir().unwrap();
    let out = outside.path().join("reports");
    let report = write_report(&store, &[experiment(pipeline)], &out, &settings).unwrap();
    (report, [root, outside])
}

/// The body rows of the Markdown table under `header` (its separator line skipped).
fn table_rows<'a>(md: &'a str, header: &str) -> Vec<&'a str> {
    md.lines()
        .skip_while(|l| !l.starts_with(header))
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .collect()
}

#[test]
fn a_scheduled_pipeline_gets_the_trajectories_section_and_its_two_claims() {
    let pipeline = load_pipeline("smoke-schedules.toml");
    let root = tempfile::tempdir().unwrap();
    run_pipeline(&pipeline, root.path(), false).unwrap();
    let store = glh_artifacts::ArtifactStore::new(root.path());
    let outside = tempfile::tempdir().unwrap();
    let out = outside.path().join("reports");
    let settings = ReportSettings {
        bootstrap: 200,
        ..Default::default()
    };
    let report = write_report(&store, &[experiment(&pipeline)], &out, &settings).unwrap();
    let statements: Vec<Statement> = report.claims.iter().map(|c| c.statement).collect();
    assert_eq!(
        statements,
        vec![
            Statement::ConvergesAtEveryCheckpoint,
            Statement::StructureMoves
        ]
    );
    let mut stems: Vec<String> = report
        .figures
        .iter()
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    stems.sort();
    assert_eq!(stems, vec!["histograms_snip_rigl", "moved_rigl"]);
    let text = std::fs::read_to_string(&report.markdown).unwrap();
    assert!(text.contains("How do the masks move during training? (E6, ours)"));
    // E3's sections would read these runs as pruning at initialisation: none of them.
    assert!(!text.contains("### Training") && !text.contains("The paper's E3 claims (a) to (e)"));
    assert!(text.contains("| random 80% | 2 | 10 |"), "{text}");
}
