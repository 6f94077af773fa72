//! Fuzzing the edge-list reader (issue #14): whatever a user's tool writes — any integer type,
//! extreme values, missing or extra columns, damaged bytes — `read_edge_list` answers with masks
//! or with an error, never a panic or an abort. Bounded (a few hundred cases) so CI runs it;
//! `PROPTEST_CASES=100000 cargo test --release --test fuzz_edge_list` runs it longer.

use arrow::array::{
    ArrayRef, Int8Array, Int32Array, Int64Array, UInt8Array, UInt16Array, UInt64Array,
};
use arrow::datatypes::{Field, Schema};
use arrow::record_batch::RecordBatch;
use glh_graphons::stage::read_edge_list;
use proptest::prelude::*;
use std::path::Path;
use std::sync::Arc;

const NAMES: [&str; 5] = ["layer", "row", "col", "n_rows", "n_cols"];

/// Values users write, and the ones that break naive readers.
fn value() -> impl Strategy<Value = u64> {
    prop_oneof![
        4 => 0u64..6,
        2 => 0u64..800,
        1 => Just(1u64 << 31),
        1 => Just(1u64 << 40),
        1 => Just(1u64 << 63),
        1 => Just(u64::MAX),
        1 => any::<u64>(),
    ]
}

/// A column of `values` as one of several Arrow integer types (wrapping, as a careless writer
/// would, so negative and truncated values appear too).
fn column(values: &[u64], kind: u8) -> ArrayRef {
    match kind % 6 {
        0 => Arc::new(UInt64Array::from_iter_values(values.iter().copied())),
        1 => Arc::new(Int64Array::from_iter_values(
            values.iter().map(|&v| v as i64),
        )),
        2 => Arc::new(Int32Array::from_iter_values(
            values.iter().map(|&v| v as i32),
        )),
        3 => Arc::new(UInt16Array::from_iter_values(
            values.iter().map(|&v| v as u16),
        )),
        4 => Arc::new(Int8Array::from_iter_values(values.iter().map(|&v| v as i8))),
        _ => Arc::new(UInt8Array::from_iter_values(
            values.iter().map(|&v| v as u8),
        )),
    }
}

fn write(path: &Path, rows: &[[u64; 5]], kinds: &[u8; 5], dropped: Option<usize>) {
    let mut fields = Vec::new();
    let mut columns = Vec::new();
    for c in 0..5 {
        if dropped == Some(c) {
            continue;
        }
        let values: Vec<u64> = rows.iter().map(|r| r[c]).collect();
        let array = column(&values, kinds[c]);
        fields.push(Field::new(NAMES[c], array.data_type().clone(), false));
        columns.push(array);
    }
    let schema = Arc::new(Schema::new(fields));
    let batch = RecordBatch::try_new(schema.clone(), columns).unwrap();
    let file = std::fs::File::create(path).unwrap();
    let mut writer = parquet::arrow::ArrowWriter::try_new(file, schema, None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
}

/// 300 cases (a bounded run for CI), or `PROPTEST_CASES` of them.
fn bounded() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(bounded())]

    #[test]
    fn any_edge_list_reads_or_is_refused(
        rows in prop::collection::vec(prop::array::uniform5(value()), 0..12),
        kinds in prop::array::uniform5(0u8..6),
        dropped in prop::option::weighted(0.1, 0usize..5),
        damage in prop::option::weighted(0.3, (any::<prop::sample::Index>(), any::<u8>())),
    ) {
        // A bounded limit: a file claiming huge layers is refused by the estimate, whatever
        // machine runs the test.
        glh_artifacts::memory::set_limit(1 << 30);
        glh_artifacts::parquet_io::quiet_guarded_panics();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("edges.parquet");
        write(&path, &rows, &kinds, dropped);
        if let Some((at, byte)) = damage {
            let mut bytes = std::fs::read(&path).unwrap();
            let i = at.index(bytes.len());
            bytes[i] ^= byte | 1;
            std::fs::write(&path, bytes).unwrap();
        }
        match read_edge_list(&path) {
            Ok(layers) => {
                // What was accepted is a chain of layers holding every listed edge once.
                prop_assert!(!layers.is_empty());
                for pair in layers.windows(2) {
                    prop_assert_eq!(pair[0].rows(), pair[1].cols());
                }
                let kept: usize = layers.iter().map(|m| m.kept()).sum();
                prop_assert!(damage.is_some() || kept == rows.len());
            }
            Err(e) => {
                let message = e.to_string();
                prop_assert!(message.contains("edges.parquet"), "{}", message);
                prop_assert!(!message.contains('\n'), "{}", message);
            }
        }
    }
}
