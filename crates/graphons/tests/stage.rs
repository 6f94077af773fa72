//! The graphons stage on stored masks: histograms equal the SAS histograms of the masks read
//! back, degree profiles are sorted, and the convergence table follows its definition.

use glh_artifacts::ArtifactStore;
use glh_artifacts::Job;
use glh_artifacts::config::{DensityLaw, Depth, Level, PruneMethod, Sparsity, Width};
use glh_artifacts::parquet_io::read_table;
use glh_artifacts::schemas::{CONVERGENCE, GRAPHON_DEGREES, GRAPHON_HISTOGRAMS};
use glh_data::DataSettings;
use glh_graphons::GraphonsSettings;
use glh_graphons::sas::sas_histogram;
use glh_graphons::settings::Rescale;
use glh_graphons::stage::{
    ConvergenceJob, GroupMember, MaskSource, hidden_neurons, read_histograms,
    read_scaled_histograms,
};
use glh_graphons::step::l2_distance;
use glh_masks::MasksSettings;
use glh_masks::stage::{MaskPoint, read_mask};
use std::path::Path;

fn point(width: u64, seed: u64) -> MaskPoint {
    MaskPoint {
        method: PruneMethod::Random,
        width: Width::try_from(width).unwrap(),
        sparsity: Sparsity::try_from(0.8).unwrap(),
        depth: Depth::try_from(3).unwrap(),
        seed,
    }
}

#[test]
fn histograms_degrees_and_convergence_follow_their_definitions() {
    let root = tempfile::tempdir().unwrap();
    let store = ArtifactStore::new(root.path());
    let data = DataSettings {
        dir: Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/mnist"),
        ..DataSettings::default()
    };
    let masks_settings = MasksSettings::default();
    let settings = GraphonsSettings {
        k: 6,
        ..GraphonsSettings::default()
    };
    let mut members = Vec::new();
    for (width, seed) in [(30, 0), (30, 1), (60, 0), (60, 1)] {
        let p = point(width, seed);
        let masks = glh_masks::stage::MasksJob::new(&masks_settings, &data, p)
            .unwrap()
            .run(&store, false, &mut |_, _| {})
            .unwrap();
        let masks_input = glh_artifacts::store::InputRef {
            stage: "masks".into(),
            key: masks.manifest.key,
        };
        let out = glh_graphons::stage::HistogramsJob::new(
            &settings,
            MaskSource::Stored(masks_input.clone()),
        )
        .run(&store, false, &mut |_, _| {})
        .unwrap();
        let input = glh_artifacts::store::InputRef {
            stage: "graphons".into(),
            key: out.manifest.key,
        };
        let stored = read_histograms(&store, &input).unwrap();
        let (_, mask) = read_mask(&store, &masks_input).unwrap();
        for (l, layer) in mask.layers().iter().enumerate() {
            let k_rows = 6.min(layer.rows());
            let expected = sas_histogram(layer, k_rows, 6).unwrap();
            assert_eq!(stored[&(l as u32 + 1)], expected, "layer {}", l + 1);
        }
        // Degree profiles: descending within each (layer, side), normalised into [0, 1].
        let degrees = read_table(
            &store.table_path(&input, &GRAPHON_DEGREES),
            &GRAPHON_DEGREES,
        )
        .unwrap()
        .batch;
        let degree = degrees
            .column_by_name("degree")
            .unwrap()
            .as_any()
            .downcast_ref::<arrow::array::UInt32Array>()
            .unwrap()
            .clone();
        let rank = degrees
            .column_by_name("rank")
            .unwrap()
            .as_any()
            .downcast_ref::<arrow::array::UInt32Array>()
            .unwrap()
            .clone();
        for i in 1..degrees.num_rows() {
            if rank.value(i) > 0 {
                assert!(degree.value(i) <= degree.value(i - 1));
            }
        }
        members.push(GroupMember {
            histograms: input,
            width: Width::try_from(width).unwrap(),
            seed,
        });
    }
    let level = Level::Fixed(Sparsity::try_from(0.8).unwrap());
    let out = ConvergenceJob::new(&settings, level, members.clone())
        .run(&store, false, &mut |_, _| {})
        .unwrap();
    let table = read_table(&out.dir.join("convergence.parquet"), &CONVERGENCE)
        .unwrap()
        .batch;
    assert_eq!(table.num_rows(), 3 * 2, "3 layers x 2 widths");
    let f64s = |name: &str| {
        table
            .column_by_name(name)
            .unwrap()
            .as_any()
            .downcast_ref::<arrow::array::Float64Array>()
            .unwrap()
            .clone()
    };
    let u32s = |name: &str| {
        table
            .column_by_name(name)
            .unwrap()
            .as_any()
            .downcast_ref::<arrow::array::UInt32Array>()
            .unwrap()
            .clone()
    };
    let (layer, width, l2_mean, frobenius_mean, cut_low, cut_high) = (
        u32s("layer"),
        u32s("width"),
        f64s("l2_mean"),
        f64s("frobenius_mean"),
        f64s("cut_low_mean"),
        f64s("cut_high_mean"),
    );
    // Recompute one row by hand: layer 2, width 30, against the mean of the width-60 histograms.
    let hist = |i: usize| read_histograms(&store, &members[i].histograms).unwrap()[&2].clone();
    let (h30a, h30b, h60a, h60b) = (hist(0), hist(1), hist(2), hist(3));
    let reference = glh_graphons::StepGraphon::new(
        h60a.rows,
        h60a.cols,
        h60a.values
            .iter()
            .zip(&h60b.values)
            .map(|(a, b)| a / 2.0 + b / 2.0)
            .collect(),
    )
    .unwrap();
    let expected = (l2_distance(&h30a, &reference) + l2_distance(&h30b, &reference)) / 2.0;
    let row = (0..table.num_rows())
        .find(|&i| layer.value(i) == 2 && width.value(i) == 30)
        .unwrap();
    assert!((l2_mean.value(row) - expected).abs() < 1e-12);
    // The paper's distance on the same row: the plain Frobenius norm of the difference.
    let frobenius = |h: &glh_graphons::StepGraphon| {
        h.values
            .iter()
            .zip(&reference.values)
            .map(|(a, b)| (a - b).powi(2))
            .sum::<f64>()
            .sqrt()
    };
    let expected = (frobenius(&h30a) + frobenius(&h30b)) / 2.0;
    assert!((frobenius_mean.value(row) - expected).abs() < 1e-12);
    // The noise floor: the two seeds' distance at width 30. The corrected squared distance:
    // the seed means' squared distance less each side's variance over its seeds, which for
    // two seeds is ||x_1 - x_2||^2 / 4 a side.
    let sq = |a: &glh_graphons::StepGraphon, b: &glh_graphons::StepGraphon| {
        a.values
            .iter()
            .zip(&b.values)
            .map(|(x, y)| (x - y).powi(2))
            .sum::<f64>()
    };
    assert!((f64s("noise_floor").value(row) - sq(&h30a, &h30b).sqrt()).abs() < 1e-12);
    let mean30 = glh_graphons::StepGraphon::new(
        h30a.rows,
        h30a.cols,
        h30a.values
            .iter()
            .zip(&h30b.values)
            .map(|(a, b)| a / 2.0 + b / 2.0)
            .collect(),
    )
    .unwrap();
    let corrected = sq(&mean30, &reference) - sq(&h30a, &h30b) / 4.0 - sq(&h60a, &h60b) / 4.0;
    let d2 = f64s("expected_sq_distance");
    assert!(
        (d2.value(row) - corrected).abs() < 1e-9,
        "{} vs {corrected}",
        d2.value(row)
    );
    let at_reference = (0..table.num_rows())
        .find(|&i| layer.value(i) == 2 && width.value(i) == 60)
        .unwrap();
    assert!(
        d2.value(at_reference).is_nan(),
        "a width against itself is not estimated"
    );
    // The Cauchy chain: width 60's previous link is width 30, and with two widths it is the
    // distance to the reference seen from the other end; width 30 has no previous link.
    let previous = table
        .column_by_name("previous_width")
        .unwrap()
        .as_any()
        .downcast_ref::<arrow::array::UInt32Array>()
        .unwrap()
        .clone();
    let successive = f64s("successive_sq_distance");
    assert_eq!((previous.value(at_reference), previous.value(row)), (30, 0));
    assert!((successive.value(at_reference) - corrected).abs() < 1e-9);
    assert!(successive.value(row).is_nan());
    let hidden = table
        .column_by_name("hidden")
        .unwrap()
        .as_any()
        .downcast_ref::<arrow::array::BooleanArray>()
        .unwrap()
        .clone();
    for i in 0..table.num_rows() {
        // K <= 24 here: the interval is the exact value.
        assert_eq!(cut_low.value(i), cut_high.value(i));
        assert!(
            cut_low.value(i) <= l2_mean.value(i) + 1e-12,
            "cut <= L1 <= L2 on [0,1]^2"
        );
        assert_eq!(
            hidden.value(i),
            layer.value(i) == 2,
            "depth 3: one hidden layer"
        );
    }
}

fn write_edges_i64(path: &Path, rows: &[[i64; 5]]) {
    use arrow::array::{ArrayRef, Int64Array};
    let names = ["layer", "row", "col", "n_rows", "n_cols"];
    let columns: Vec<(&str, ArrayRef)> = names
        .iter()
        .enumerate()
        .map(|(c, &n)| {
            (
                n,
                std::sync::Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r[c])))
                    as ArrayRef,
            )
        })
        .collect();
    write_parquet(path, columns);
}

/// A Parquet file of `columns`, written with the arrow crate's default properties.
fn write_parquet(path: &Path, columns: Vec<(&str, arrow::array::ArrayRef)>) {
    let batch = arrow::array::RecordBatch::try_from_iter(columns).unwrap();
    let file = std::fs::File::create(path).unwrap();
    let mut writer = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
}

/// UInt64 values of 2^63 and more were cast to Int64 as nulls and read back as 0: `row = 2^64 -
/// 1` gave the output of `row = 0`. They must be read as the numbers they are (here: outside
/// the layer).
#[test]
fn edge_list_uint64_values_above_2_pow_63_are_read_exactly() {
    use arrow::array::{ArrayRef, RecordBatch, UInt64Array};
    let root = tempfile::tempdir().unwrap();
    let path = root.path().join("edges.parquet");
    let column = |v: u64| std::sync::Arc::new(UInt64Array::from(vec![v])) as ArrayRef;
    let batch = RecordBatch::try_from_iter([
        ("layer", column(1)),
        ("row", column(u64::MAX)),
        ("col", column(0)),
        ("n_rows", column(2)),
        ("n_cols", column(3)),
    ])
    .unwrap();
    let file = std::fs::File::create(&path).unwrap();
    let mut writer = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    let err = glh_graphons::stage::read_edge_list(&path)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&format!("edge ({}, 0) outside", u64::MAX)),
        "{err}"
    );
}

#[test]
fn an_edge_list_gives_the_same_histograms_as_the_stored_mask() {
    let root = tempfile::tempdir().unwrap();
    let store = ArtifactStore::new(root.path());
    let data = DataSettings {
        dir: Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/mnist"),
        ..DataSettings::default()
    };
    let settings = GraphonsSettings {
        k: 7,
        ..GraphonsSettings::default()
    };
    let p = MaskPoint {
        method: PruneMethod::Snip,
        ..point(40, 3)
    };
    let masks = glh_masks::stage::MasksJob::new(&MasksSettings::default(), &data, p)
        .unwrap()
        .run(&store, false, &mut |_, _| {})
        .unwrap();
    let masks_input = glh_artifacts::store::InputRef {
        stage: "masks".into(),
        key: masks.manifest.key,
    };
    let own =
        glh_graphons::stage::HistogramsJob::new(&settings, MaskSource::Stored(masks_input.clone()))
            .run(&store, false, &mut |_, _| {})
            .unwrap();
    let (_, mask) = read_mask(&store, &masks_input).unwrap();
    let outside = tempfile::tempdir().unwrap();
    let edges = outside.path().join("edges.parquet");
    glh_masks::export::export_edges(&store, &mask, &masks_input, &edges).unwrap();
    let external =
        glh_graphons::stage::HistogramsJob::new(&settings, MaskSource::edge_list(&edges).unwrap())
            .run(&store, false, &mut |_, _| {})
            .unwrap();
    let read = |key| {
        read_histograms(
            &store,
            &glh_artifacts::store::InputRef {
                stage: "graphons".into(),
                key,
            },
        )
        .unwrap()
    };
    assert_eq!(read(own.manifest.key.clone()), read(external.manifest.key));

    // The same mask as PyTorch loads it (our safetensors export: modules 0, 2, 4 with
    // `weight_orig`, `weight_mask` and `bias`): the same histograms, its layers in natural
    // order; other layers or another order are another key, and an unknown layer is refused.
    let net = outside.path().join("net.safetensors");
    glh_masks::export::export_safetensors(&store, &masks_input, &net).unwrap();
    let source = MaskSource::safetensors(&net, None).unwrap();
    let MaskSource::Safetensors(_, _, ref names) = source else {
        panic!("a safetensors source")
    };
    assert_eq!(names, &["0", "2", "4"]);
    let from_torch = glh_graphons::stage::HistogramsJob::new(&settings, source.clone());
    assert_eq!(
        from_torch.spec().params["safetensors_layers"].to_string(),
        r#"["0","2","4"]"#
    );
    let from_torch = from_torch.run(&store, false, &mut |_, _| {}).unwrap();
    assert_eq!(
        read(own.manifest.key),
        read(from_torch.manifest.key.clone())
    );
    let named: Vec<String> = ["0", "2"].map(String::from).to_vec();
    let two = MaskSource::safetensors(&net, Some(&named)).unwrap();
    let key_of = |s: MaskSource| {
        glh_graphons::stage::HistogramsJob::new(&settings, s)
            .spec()
            .key()
            .clone()
    };
    assert_ne!(key_of(two.clone()), from_torch.manifest.key);
    assert_eq!(two.layers(&store).unwrap(), mask.layers()[..2].to_vec());
    let err = MaskSource::safetensors(&net, Some(&["6".to_string()]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("no layer `6` (its layers: 0, 2, 4)"), "{err}");

    // Polars and pyarrow write Int64 by default: accepted, and the same tiny mask comes out.
    let tiny = root.path().join("tiny.parquet");
    write_edges_i64(&tiny, &[[1, 0, 1, 2, 3], [1, 1, 2, 2, 3], [2, 0, 0, 1, 2]]);
    let layers = glh_graphons::stage::read_edge_list(&tiny).unwrap();
    assert_eq!(layers.len(), 2);
    assert_eq!(
        layers[0].as_slice(),
        &[false, true, false, false, false, true]
    );
    assert_eq!(layers[1].as_slice(), &[true, false]);
    for (rows, needle) in [
        (
            vec![[1, 0, 1, 2, 3], [1, 0, 1, 2, 3]],
            "edge (0, 1) listed twice",
        ),
        (vec![[1, 0, 3, 2, 3]], "outside layer 1's 2x3"),
        (vec![[2, 0, 0, 2, 3]], "layer 1 has no edge"),
        // A huge layer number is refused before anything is sized by it.
        (
            vec![[1 << 40, 0, 0, 2, 3]],
            "layer 1 has no edge (layers 1..=1099511627776",
        ),
        (vec![[1, -1, 0, 2, 3]], "negative value -1"),
        (
            vec![[1, 0, 0, 2, 3], [1, 1, 1, 3, 3]],
            "layer 1 is 2x3 in one row and 3x3",
        ),
    ] {
        write_edges_i64(&tiny, &rows);
        let err = glh_graphons::stage::read_edge_list(&tiny)
            .unwrap_err()
            .to_string();
        assert!(err.contains(needle), "{err} lacks {needle}");
        assert!(err.starts_with(&tiny.display().to_string()), "{err}");
    }
}

/// Parquet as people write it: pyarrow's default snappy, and gzip, brotli, lz4, zstd and none
/// (tests/fixtures/README.md says how the files were made); each reads as the same mask.
#[test]
fn edge_lists_read_in_every_compression_pyarrow_writes() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    for codec in ["snappy", "gzip", "brotli", "lz4", "zstd", "none"] {
        let path = fixtures.join(format!("edges-pyarrow-{codec}.parquet"));
        let layers =
            glh_graphons::stage::read_edge_list(&path).unwrap_or_else(|e| panic!("{codec}: {e}"));
        let shapes: Vec<(usize, usize)> = layers.iter().map(|l| (l.rows(), l.cols())).collect();
        assert_eq!(shapes, [(3, 4), (2, 3)], "{codec}");
        let kept: Vec<usize> = layers.iter().map(|l| l.kept()).collect();
        assert_eq!(kept, [4, 2], "{codec}");
        assert!(
            layers[0].get(0, 3) && layers[0].get(2, 2) && layers[1].get(1, 2),
            "{codec}"
        );
        assert!(!layers[0].get(0, 1), "{codec}");
    }
}

/// Masks of `point`s at `widths` x `seeds`, their histogram runs as group members.
fn members_of(
    store: &ArtifactStore,
    settings: &GraphonsSettings,
    points: &[MaskPoint],
) -> Vec<GroupMember> {
    let data = DataSettings {
        dir: Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/mnist"),
        ..DataSettings::default()
    };
    points
        .iter()
        .map(|p| {
            let masks = glh_masks::stage::MasksJob::new(&MasksSettings::default(), &data, *p)
                .unwrap()
                .run(store, false, &mut |_, _| {})
                .unwrap();
            let masks = glh_artifacts::store::InputRef {
                stage: "masks".into(),
                key: masks.manifest.key,
            };
            GroupMember {
                histograms: glh_graphons::stage::HistogramsJob::new(
                    settings,
                    MaskSource::Stored(masks),
                )
                .run(store, false, &mut |_, _| {})
                .unwrap()
                .as_input(),
                width: p.width,
                seed: p.seed,
            }
        })
        .collect()
}

/// The sparse regime: a density law gives each width its own sparsity, the table says so per
/// row, and `rescale = layer_density` compares `H / p` (for Random, close to the constant 1).
#[test]
fn a_density_law_group_compares_histograms_divided_by_their_layer_density() {
    let root = tempfile::tempdir().unwrap();
    let store = ArtifactStore::new(root.path());
    let settings = GraphonsSettings {
        k: 4,
        rescale: Rescale::LayerDensity,
    };
    let law = DensityLaw { c: 2.0, a: 0.5 };
    let level = Level::Law(law);
    let points: Vec<MaskPoint> = [(16u64, 0u64), (16, 1), (64, 0), (64, 1)]
        .iter()
        .map(|&(w, seed)| {
            let width = Width::try_from(w).unwrap();
            MaskPoint {
                sparsity: law.sparsity(width).unwrap(),
                width,
                ..point(w, seed)
            }
        })
        .collect();
    let members = members_of(&store, &settings, &points);
    // H / p integrates to 1 on every layer (blocks of nearly equal size: close to 1).
    for m in &members {
        for (l, h) in read_scaled_histograms(&store, &m.histograms, Rescale::LayerDensity).unwrap()
        {
            let mean = h.values.iter().sum::<f64>() / h.values.len() as f64;
            assert!((mean - 1.0).abs() < 0.15, "layer {l}: mean {mean}");
        }
    }
    let out = ConvergenceJob::new(&settings, level, members.clone())
        .run(&store, false, &mut |_, _| {})
        .unwrap();
    let table = read_table(&out.dir.join("convergence.parquet"), &CONVERGENCE)
        .unwrap()
        .batch;
    let f64s = |name: &str| {
        table
            .column_by_name(name)
            .unwrap()
            .as_any()
            .downcast_ref::<arrow::array::Float64Array>()
            .unwrap()
            .clone()
    };
    let width = table
        .column_by_name("width")
        .unwrap()
        .as_any()
        .downcast_ref::<arrow::array::UInt32Array>()
        .unwrap()
        .clone();
    let (sparsity, c, a) = (f64s("sparsity"), f64s("density_c"), f64s("density_a"));
    for i in 0..table.num_rows() {
        // 2 / sqrt(16) = 0.5 kept at n = 16, 2 / sqrt(64) = 0.25 at n = 64.
        let kept = if width.value(i) == 16 { 0.5 } else { 0.25 };
        assert!((1.0 - sparsity.value(i) - kept).abs() < 1e-12);
        assert_eq!((c.value(i), a.value(i)), (2.0, 0.5));
    }
    // Layer 2, n = 16, recomputed from the rescaled histograms.
    let hist = |i: usize| {
        read_scaled_histograms(&store, &members[i].histograms, Rescale::LayerDensity).unwrap()[&2]
            .clone()
    };
    let (a16, b16, a64, b64) = (hist(0), hist(1), hist(2), hist(3));
    let reference = glh_graphons::StepGraphon::new(
        a64.rows,
        a64.cols,
        a64.values
            .iter()
            .zip(&b64.values)
            .map(|(x, y)| x / 2.0 + y / 2.0)
            .collect(),
    )
    .unwrap();
    let expected = (l2_distance(&a16, &reference) + l2_distance(&b16, &reference)) / 2.0;
    let layer = table
        .column_by_name("layer")
        .unwrap()
        .as_any()
        .downcast_ref::<arrow::array::UInt32Array>()
        .unwrap()
        .clone();
    let row = (0..table.num_rows())
        .find(|&i| layer.value(i) == 2 && width.value(i) == 16)
        .unwrap();
    assert!((f64s("l2_mean").value(row) - expected).abs() < 1e-12);

    // A member whose masks were made at another sparsity than the law's is refused by name.
    let fixed = Level::Fixed(Sparsity::try_from(0.5).unwrap());
    let err = ConvergenceJob::new(&settings, fixed, members.clone())
        .run(&store, false, &mut |_, _| {})
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("planned at sparsity 0.5 (sparsity 0.5)"),
        "{err}"
    );
}

/// The hidden-neuron counts against a brute-force reading of a hand-made mask.
#[test]
fn hidden_neurons_counts_match_brute_force() {
    use glh_model::LayerMask;
    // 784 -> 5 -> 5 -> 2 shaped down to 3 -> 4 -> 4 -> 2 for the test.
    let bits = |rows: usize, cols: usize, f: &dyn Fn(usize, usize) -> bool| {
        LayerMask::new(
            rows,
            cols,
            (0..rows * cols).map(|i| f(i / cols, i % cols)).collect(),
        )
        .unwrap()
    };
    let layers = vec![
        // Hidden 1: neuron 0 gets no input.
        bits(4, 3, &|r, c| (r != 0 && (r + c) % 2 == 0) || r == 3),
        // Hidden 1 neuron 2 sends nothing; hidden 2 neuron 1 gets nothing.
        bits(4, 4, &|r, c| c != 2 && r != 1),
        // Hidden 2 neurons 1 and 3 send nothing.
        bits(2, 4, &|_, c| c == 0 || c == 2),
    ];
    let counts = hidden_neurons(&layers);
    assert_eq!(counts.len(), 2);
    for (h, count) in counts.iter().enumerate() {
        let (into, out) = (&layers[h], &layers[h + 1]);
        let no_in: Vec<bool> = (0..into.rows())
            .map(|j| (0..into.cols()).all(|c| !into.get(j, c)))
            .collect();
        let no_out: Vec<bool> = (0..out.cols())
            .map(|j| (0..out.rows()).all(|r| !out.get(r, j)))
            .collect();
        let n = |v: Vec<bool>| v.into_iter().filter(|&b| b).count() as u32;
        assert_eq!(count.neurons, 4);
        assert_eq!(count.without_inputs, n(no_in.clone()), "hidden {}", h + 1);
        assert_eq!(count.without_outputs, n(no_out.clone()), "hidden {}", h + 1);
        let either = no_in.iter().zip(&no_out).map(|(a, b)| *a || *b).collect();
        assert_eq!(count.removed, n(either), "hidden {}", h + 1);
    }
    // The hand count: hidden 1 loses neurons 0 (no input) and 2 (no output); hidden 2 loses 1
    // (no input, no output) and 3 (no output).
    assert_eq!((counts[0].removed, counts[1].removed), (2, 2));
    assert_eq!(counts[1].removed_fraction(), 0.5);
}

#[test]
fn a_histogram_target_draws_a_stored_graphon_at_another_width() {
    // A steep power design's histograms at n = 24 (K = 4) drawn as `graphon:random`'s target at
    // n = 48: the design keeps Random's kept counts, its key names the graphons run (an input
    // too), and its masks' own histograms keep the target's shape, which Random's do not.
    use glh_masks::settings::GraphonTarget;
    let root = tempfile::tempdir().unwrap();
    let store = ArtifactStore::new(root.path());
    let data = DataSettings {
        dir: Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/mnist"),
        ..DataSettings::default()
    };
    let settings = GraphonsSettings {
        k: 4,
        ..GraphonsSettings::default()
    };
    let run = |masks: &MasksSettings, p: MaskPoint| {
        let job = glh_masks::stage::MasksJob::new(masks, &data, p).unwrap();
        let input = job.spec().as_input();
        job.run(&store, false, &mut |_, _| {}).unwrap();
        let graphons =
            glh_graphons::stage::HistogramsJob::new(&settings, MaskSource::Stored(input.clone()));
        let out = graphons.spec().as_input();
        graphons.run(&store, false, &mut |_, _| {}).unwrap();
        (job, input, out)
    };
    let steep = MasksSettings::default().with_target(GraphonTarget::Power { beta: 3.0 });
    let source = MaskPoint {
        method: PruneMethod::Graphon(&PruneMethod::Random),
        ..point(24, 0)
    };
    let (_, _, target_run) = run(&steep, source);
    let target = GraphonTarget::Histogram {
        graphons: target_run.key.to_string(),
    };
    let design_settings = MasksSettings::default().with_target(target.clone());
    let design = MaskPoint {
        method: PruneMethod::Graphon(&PruneMethod::Random),
        ..point(48, 1)
    };
    let (job, design_masks, design_graphons) = run(&design_settings, design);
    assert!(job.spec().inputs.contains(&target_run));
    assert_eq!(
        job.spec().params["graphon_histograms"],
        target_run.key.as_str()
    );
    let (_, random_masks, random_graphons) = run(&MasksSettings::default(), point(48, 1));
    let kept = |input| -> Vec<usize> {
        let (_, mask) = read_mask(&store, input).unwrap();
        mask.layers().iter().map(|l| l.kept()).collect()
    };
    assert_eq!(kept(&design_masks), kept(&random_masks));
    // The hidden layer's shape, its scale set aside: each histogram divided by its mean.
    let shape = |input| {
        let h = read_histograms(&store, input).unwrap()[&2].clone();
        let values: Vec<f64> = (0..16).map(|i| h.get(i / 4, i % 4)).collect();
        let mean = values.iter().sum::<f64>() / 16.0;
        glh_graphons::step::StepGraphon::new(4, 4, values.iter().map(|v| v / mean).collect())
            .unwrap()
    };
    let aim = shape(&target_run);
    let (ours, random) = (shape(&design_graphons), shape(&random_graphons));
    let (d_ours, d_random) = (l2_distance(&ours, &aim), l2_distance(&random, &aim));
    assert!(
        d_ours < 0.5 * d_random,
        "design {d_ours}, random {d_random}"
    );
    // A network of another depth has no table for every layer: an error, not a guess.
    let deeper = MaskPoint {
        depth: Depth::try_from(4).unwrap(),
        ..design
    };
    let err = glh_masks::stage::MasksJob::new(&design_settings, &data, deeper)
        .unwrap()
        .run(&store, false, &mut |_, _| {})
        .unwrap_err()
        .to_string();
    assert!(err.contains("3 layers, the network 4"), "{err}");

    // The same tables from a file draw the same bits: the graphons run's own
    // histograms.parquet, and its blocks as polars writes them (Int64, only the four columns,
    // rows reversed). The key holds the file's hash: a moved file keeps it, other bytes do not.
    let files = tempfile::tempdir().unwrap();
    let table_target = |file: &Path| {
        MasksSettings::default().with_target(GraphonTarget::Table {
            file: file.to_path_buf(),
        })
    };
    let bits = |input| read_mask(&store, input).unwrap().1;
    let stored_file = store.table_path(&target_run, &GRAPHON_HISTOGRAMS);
    let copy = files.path().join("histograms.parquet");
    std::fs::copy(&stored_file, &copy).unwrap();
    let (table_job, table_masks, _) = run(&table_target(&copy), design);
    assert_eq!(bits(&table_masks), bits(&design_masks));
    let sha = glh_artifacts::key::sha256_hex(&std::fs::read(&copy).unwrap());
    assert_eq!(
        table_job.spec().params["graphon_table_sha256"],
        sha.as_str()
    );
    let moved = files.path().join("moved.parquet");
    std::fs::rename(&copy, &moved).unwrap();
    let key_of = |file: &Path| {
        glh_masks::stage::MasksJob::new(&table_target(file), &data, design)
            .unwrap()
            .spec()
            .key()
            .clone()
    };
    assert_eq!(key_of(&moved), table_job.spec().key());
    let blocks = read_table(&stored_file, &GRAPHON_HISTOGRAMS).unwrap().batch;
    let ints = |name: &str| -> Vec<i64> {
        let c = glh_artifacts::parquet_io::column::<arrow::array::UInt32Array>(&blocks, name);
        c.values().iter().rev().map(|&v| i64::from(v)).collect()
    };
    let densities: Vec<f64> =
        glh_artifacts::parquet_io::column::<arrow::array::Float64Array>(&blocks, "block_density")
            .values()
            .iter()
            .rev()
            .copied()
            .collect();
    let polars = files.path().join("polars.parquet");
    let rows: Vec<TableRow> = (0..densities.len())
        .map(|i| {
            let (l, r, c) = (ints("layer"), ints("row_block"), ints("col_block"));
            (l[i], r[i], c[i], densities[i])
        })
        .collect();
    write_target_table(&polars, &rows);
    assert_ne!(key_of(&polars), table_job.spec().key());
    let (_, polars_masks, _) = run(&table_target(&polars), design);
    assert_eq!(bits(&polars_masks), bits(&design_masks));
}

/// A target table's row: layer, row block, column block, density.
type TableRow = (i64, i64, i64, f64);

/// A design's target table as polars writes it: Int64 block indices, Float64 densities.
fn write_target_table(path: &Path, rows: &[TableRow]) {
    use arrow::array::{ArrayRef, Float64Array, Int64Array};
    use std::sync::Arc;
    let ints = |pick: fn(&TableRow) -> i64| {
        Arc::new(Int64Array::from_iter_values(rows.iter().map(pick))) as ArrayRef
    };
    let densities = Float64Array::from_iter_values(rows.iter().map(|r| r.3));
    write_parquet(
        path,
        vec![
            ("layer", ints(|r| r.0)),
            ("row_block", ints(|r| r.1)),
            ("col_block", ints(|r| r.2)),
            ("block_density", Arc::new(densities) as ArrayRef),
        ],
    );
}

/// A target table is checked when its job is planned: each refusal names the file and says
/// what is wrong, before anything runs.
#[test]
fn bad_target_tables_are_refused_with_the_file_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("target.parquet");
    let full =
        |l: i64| -> Vec<TableRow> { (0..4).map(|i| (l, i / 2, i % 2, 0.25 * i as f64)).collect() };
    let good: Vec<_> = full(1).into_iter().chain(full(2)).collect();
    write_target_table(&path, &good);
    let tables = glh_masks::stage::read_target_table(&path).unwrap();
    assert_eq!(tables.tables.len(), 2);
    assert_eq!(tables.tables[1].at(0.75, 0.25), 0.5);
    let cases: Vec<(Vec<TableRow>, &str)> = vec![
        (good[1..].to_vec(), "layer 1 lists 3 blocks, but"),
        (
            [good.clone(), vec![(1, 0, 0, 0.5)]].concat(),
            "lists 5 blocks",
        ),
        (
            {
                let mut twice = good.clone();
                twice[1] = twice[0];
                twice
            },
            "listed twice",
        ),
        (
            {
                let mut high = good.clone();
                high[2].3 = 1.5;
                high
            },
            "layer 1: a block density of 1.5",
        ),
        (full(2), "layers must be numbered 1, 2, ..."),
        (vec![(1, 1 << 40, 0, 0.5)], "1099511627777 x 1 grid"),
        (vec![(1, -1, 0, 0.5)], "negative value -1"),
        (vec![], "layers must be numbered"),
    ];
    for (rows, needle) in cases {
        write_target_table(&path, &rows);
        let err = glh_masks::stage::read_target_table(&path)
            .unwrap_err()
            .to_string();
        assert!(err.contains(needle), "{err} lacks {needle}");
        assert!(err.starts_with(&path.display().to_string()), "{err}");
    }
    let err = glh_masks::stage::read_target_table(&dir.path().join("absent.parquet"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("absent.parquet"), "{err}");
}
