//! Parquet files of the artifact store: deterministic writing and validated reading.
//!
//! Files are zstd-compressed (level 3) and carry the run's identity as key-value metadata
//! (`glh.stage`, `glh.stage_version`, `glh.key`, `glh.params`, `glh.inputs`), never a timestamp, so
//! the same run always gives the same bytes. Timings live in `manifest.json` instead.

use crate::{Columns, Error, Result, TableSchema};
use arrow::array::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use std::collections::BTreeMap;
use std::path::Path;

/// zstd level of every file: level 3 is zstd's default, fast and within a few percent of the
/// best ratio on our integer-heavy tables.
const ZSTD_LEVEL: i32 = 3;

/// Encodes one table as Parquet bytes after placing its named columns under the schema's
/// columns of those names ([`Columns::in_schema_order`]).
///
/// `metadata` is written as the file's key-value metadata, in the given order.
pub fn encode_table(
    schema: &TableSchema,
    columns: Columns,
    metadata: &[(String, String)],
) -> Result<(Vec<u8>, usize)> {
    let arrow_schema = schema.arrow_schema();
    let columns = columns.in_schema_order(schema)?;
    let batch = RecordBatch::try_new(arrow_schema.clone(), columns).map_err(|e| {
        Error::Unsupported(format!(
            "bug: table `{}` does not match its schema: {e}",
            schema.name
        ))
    })?;
    let kv = metadata
        .iter()
        .map(|(k, v)| KeyValue::new(k.clone(), v.clone()))
        .collect();
    let level = ZstdLevel::try_new(ZSTD_LEVEL).expect("valid zstd level");
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(level))
        .set_key_value_metadata(Some(kv))
        .build();
    let mut bytes = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut bytes, arrow_schema, Some(props))
        .map_err(|e| Error::Unsupported(format!("parquet writer: {e}")))?;
    writer
        .write(&batch)
        .and_then(|_| writer.close().map(|_| ()))
        .map_err(|e| Error::Unsupported(format!("parquet writer: {e}")))?;
    Ok((bytes, batch.num_rows()))
}

/// A table read back from Parquet, with its file's key-value metadata.
#[derive(Debug)]
pub struct ReadTable {
    /// All rows, in file order.
    pub batch: RecordBatch,
    /// The key-value metadata (the `glh.*` identity of the run and Arrow's own entries).
    pub metadata: BTreeMap<String, String>,
}

/// Reads a whole Parquet table and checks it against `schema`.
pub fn read_table(path: &Path, schema: &TableSchema) -> Result<ReadTable> {
    let bytes = std::fs::read(path).map_err(|e| Error::read(path, &e))?;
    read_table_bytes(path, bytes.into(), schema)
}

/// [`read_table`] of bytes already read from `path` (which names them in errors): how the
/// store decodes a file whose hash it has just checked, without reading it twice.
pub fn read_table_bytes(
    path: &Path,
    file: bytes::Bytes,
    schema: &TableSchema,
) -> Result<ReadTable> {
    guarded(path, || decode_table(path, file, schema))
}

fn decode_table(path: &Path, file: bytes::Bytes, schema: &TableSchema) -> Result<ReadTable> {
    let not_parquet = |e: parquet::errors::ParquetError| {
        Error::input(path, format!("not a readable Parquet file: {e}"))
    };
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(not_parquet)?;
    schema.validate(path, builder.schema())?;
    let metadata = builder
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .into_iter()
        .flatten()
        .map(|kv| (kv.key.clone(), kv.value.clone().unwrap_or_default()))
        .collect();
    let arrow_schema = builder.schema().clone();
    let batches = builder
        .build()
        .map_err(not_parquet)?
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::input(path, format!("corrupt Parquet data: {e}")))?;
    let batch = arrow::compute::concat_batches(&arrow_schema, &batches)
        .map_err(|e| Error::input(path, format!("corrupt Parquet data: {e}")))?;
    Ok(ReadTable { batch, metadata })
}

thread_local! {
    /// Whether this thread is inside [`guarded`] (its panics are errors, not news).
    static GUARDED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `read`, a parquet-crate call on bytes from outside, so that a panic inside that crate
/// becomes an error naming `path`: on some damaged metadata (a negative column offset, found by
/// the edge-list fuzz test) it asserts instead of returning an error.
pub fn guarded<T>(path: &Path, read: impl FnOnce() -> Result<T>) -> Result<T> {
    let was = GUARDED.replace(true);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(read));
    GUARDED.set(was);
    result.unwrap_or_else(|payload| {
        let why = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "the reader failed".into());
        Err(Error::input(
            path,
            format!("not a readable Parquet file: damaged metadata ({why})"),
        ))
    })
}

/// Installs a panic hook that keeps quiet about the panics [`guarded`] turns into errors and
/// reports every other panic as the previous hook did (what the CLI calls first).
pub fn quiet_guarded_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !GUARDED.get() {
                previous(info);
            }
        }));
    });
}

/// Column `name` of a batch read with [`read_table`], as its Arrow array type `T`.
///
/// Reading validated the schema, so a missing column or another type is a bug in the caller
/// (asking for the wrong name or type), not bad input: it panics.
pub fn column<'a, T: arrow::array::Array + 'static>(batch: &'a RecordBatch, name: &str) -> &'a T {
    batch
        .column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<T>())
        .unwrap_or_else(|| {
            panic!(
                "bug: column `{name}` is not a {}",
                std::any::type_name::<T>()
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Column, ColumnType};
    use arrow::array::{StringArray, UInt32Array};

    const TABLE: TableSchema = TableSchema {
        stage: "test",
        name: "pairs",
        row: "pair",
        stored: true,
        columns: &[
            Column {
                name: "i",
                dtype: ColumnType::UInt32,
                doc: "index",
            },
            Column {
                name: "name",
                dtype: ColumnType::String,
                doc: "name",
            },
        ],
    };

    fn columns() -> Columns {
        Columns::new()
            .with("i", UInt32Array::from(vec![1, 2, 3]))
            .with("name", StringArray::from(vec!["a", "b", "c"]))
    }

    #[test]
    fn round_trip_keeps_rows_and_metadata() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pairs.parquet");
        let meta = vec![("glh.key".to_string(), "0123".to_string())];
        let (bytes, rows) = encode_table(&TABLE, columns(), &meta).unwrap();
        assert_eq!(rows, 3);
        std::fs::write(&path, &bytes).unwrap();
        let read = read_table(&path, &TABLE).unwrap();
        assert_eq!(read.batch.num_rows(), 3);
        assert_eq!(read.metadata["glh.key"], "0123");
        let names = read
            .batch
            .column(1)
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap();
        assert_eq!(names.value(2), "c");
    }

    #[test]
    fn same_table_same_bytes() {
        let a = encode_table(&TABLE, columns(), &[]).unwrap().0;
        let b = encode_table(&TABLE, columns(), &[]).unwrap().0;
        assert_eq!(a, b);
    }

    #[test]
    fn wrong_columns_are_refused_before_writing() {
        let bad = Columns::new()
            .with("i", StringArray::from(vec!["x"]))
            .with("name", StringArray::from(vec!["a"]));
        assert!(encode_table(&TABLE, bad, &[]).is_err());
    }

    #[test]
    fn reading_a_file_of_another_schema_names_file_and_column() {
        const OTHER: TableSchema = TableSchema {
            stage: "test",
            name: "pairs",
            row: "pair",
            stored: true,
            columns: &[
                Column {
                    name: "i",
                    dtype: ColumnType::UInt64,
                    doc: "index",
                },
                Column {
                    name: "name",
                    dtype: ColumnType::String,
                    doc: "name",
                },
            ],
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pairs.parquet");
        std::fs::write(&path, encode_table(&TABLE, columns(), &[]).unwrap().0).unwrap();
        let err = read_table(&path, &OTHER).unwrap_err();
        assert!(err.is_bad_input());
        assert_eq!(
            err.to_string(),
            format!(
                "{}: column `i`: expected type UInt64, found UInt32",
                path.display()
            )
        );
        std::fs::write(&path, b"not parquet").unwrap();
        let err = read_table(&path, &TABLE).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!("{}: not a readable Parquet file", path.display())),
            "{err}"
        );
        assert_eq!(err.lines().count(), 1);
    }
}

/// The columns of an interchange table ([`TableSchema::stored`] false: an edge list, a design's
/// target table) read from a file any tool wrote: see [`read_interchange_table`].
#[derive(Debug, Default)]
pub struct InterchangeColumns {
    columns: Vec<(&'static str, InterchangeColumn)>,
}

/// One column as read: a float column of the schema as f64, any other as u64.
#[derive(Debug)]
enum InterchangeColumn {
    Integers(Vec<u64>),
    Reals(Vec<f64>),
}

impl InterchangeColumns {
    /// Rows read.
    pub fn num_rows(&self) -> usize {
        self.columns.first().map_or(0, |(_, c)| match c {
            InterchangeColumn::Integers(v) => v.len(),
            InterchangeColumn::Reals(v) => v.len(),
        })
    }

    /// Integer column `name` of the schema, widened to u64.
    pub fn integers(&self, name: &str) -> &[u64] {
        match self.column(name) {
            InterchangeColumn::Integers(v) => v,
            InterchangeColumn::Reals(_) => panic!("bug: `{name}` is no integer column"),
        }
    }

    /// Float column `name` of the schema, as f64.
    pub fn reals(&self, name: &str) -> &[f64] {
        match self.column(name) {
            InterchangeColumn::Reals(v) => v,
            InterchangeColumn::Integers(_) => panic!("bug: `{name}` is no float column"),
        }
    }

    fn column(&self, name: &str) -> &InterchangeColumn {
        self.columns
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, c)| c)
            .unwrap_or_else(|| panic!("bug: `{name}` is no column of the schema"))
    }
}

/// Reads the columns of `schema`, an interchange table, from `bytes` (read from `path`, which
/// names them in errors), as people write Parquet: integer columns of any width and sign
/// (polars and pyarrow write Int64 by default) widened losslessly, a negative value refused;
/// float columns of any width (or integers); other columns ignored; no nulls. The row count from the
/// file's metadata is checked against the memory limit at `bytes_per_row` (what the caller
/// holds per row, at least the 8 bytes of each column) before a row is decoded.
pub fn read_interchange_table(
    path: &Path,
    bytes: bytes::Bytes,
    schema: &TableSchema,
    bytes_per_row: u64,
) -> Result<InterchangeColumns> {
    guarded(path, || {
        read_interchange_unguarded(path, bytes, schema, bytes_per_row)
    })
}

fn read_interchange_unguarded(
    path: &Path,
    bytes: bytes::Bytes,
    schema: &TableSchema,
    bytes_per_row: u64,
) -> Result<InterchangeColumns> {
    use crate::ColumnType;
    use arrow::array::{Float64Array, Int64Array, UInt64Array};
    use arrow::datatypes::DataType;
    let builder = ParquetRecordBatchReaderBuilder::try_new(bytes)
        .map_err(|e| Error::input(path, format!("not a readable Parquet file: {e}")))?;
    // Rows from the file's metadata, checked before a row is decoded: a few megabytes of zstd
    // can hold 10^8 rows.
    let rows = u64::try_from(builder.metadata().file_metadata().num_rows()).unwrap_or(0);
    let per_row = bytes_per_row.max(8 * schema.columns.len() as u64);
    crate::memory::check(
        &path.display().to_string(),
        "rows",
        &format!("decoding {} rows of {}", rows, schema.name),
        rows.saturating_mul(per_row),
    )?;
    let reader = builder
        .build()
        .map_err(|e| Error::input(path, format!("not a readable Parquet file: {e}")))?;
    let mut out = InterchangeColumns {
        columns: schema
            .columns
            .iter()
            .map(|c| {
                let column = match c.dtype {
                    ColumnType::Float64 => InterchangeColumn::Reals(Vec::new()),
                    _ => InterchangeColumn::Integers(Vec::new()),
                };
                (c.name, column)
            })
            .collect(),
    };
    let all_names: Vec<&str> = schema.columns.iter().map(|c| c.name).collect();
    let all_names = all_names.join(", ");
    let schema_error = |column: &str, message: String| Error::Schema {
        path: path.to_path_buf(),
        column: column.to_string(),
        message,
    };
    for batch in reader {
        let batch = batch.map_err(|e| Error::input(path, format!("corrupt Parquet data: {e}")))?;
        for (name, values) in &mut out.columns {
            let name: &str = name;
            let column = batch.column_by_name(name).ok_or_else(|| {
                schema_error(name, format!("missing (a {} has {all_names})", schema.row))
            })?;
            if column.null_count() > 0 {
                return Err(schema_error(name, "has nulls".into()));
            }
            let values = match values {
                InterchangeColumn::Reals(values) => {
                    // Whole numbers are fine too (a 0/1 table written from a Python list).
                    let numeric =
                        column.data_type().is_floating() || column.data_type().is_integer();
                    if !numeric {
                        let found = column.data_type();
                        return Err(schema_error(
                            name,
                            format!("expected numbers, found {found}"),
                        ));
                    }
                    let cast = arrow::compute::cast(column, &DataType::Float64).map_err(|e| {
                        schema_error(name, format!("not representable as f64: {e}"))
                    })?;
                    let reals = cast
                        .as_any()
                        .downcast_ref::<Float64Array>()
                        .expect("cast to Float64");
                    values.extend(reals.values().iter().copied());
                    continue;
                }
                InterchangeColumn::Integers(values) => values,
            };
            if !column.data_type().is_integer() {
                let found = column.data_type();
                return Err(schema_error(
                    name,
                    format!("expected non-null integers, found {found}"),
                ));
            }
            // Unsigned columns widen to u64 and signed ones to i64, both losslessly: a cast of
            // UInt64 to Int64 would turn values >= 2^63 into nulls, read back as 0.
            let unsigned = matches!(
                column.data_type(),
                DataType::UInt8 | DataType::UInt16 | DataType::UInt32 | DataType::UInt64
            );
            let target = if unsigned {
                DataType::UInt64
            } else {
                DataType::Int64
            };
            let cast = arrow::compute::cast(column, &target)
                .map_err(|e| schema_error(name, format!("not representable as integers: {e}")))?;
            if let Some(ints) = cast.as_any().downcast_ref::<UInt64Array>() {
                values.extend(ints.values().iter().copied());
            } else {
                let ints = cast
                    .as_any()
                    .downcast_ref::<Int64Array>()
                    .expect("cast to Int64");
                for &v in ints.values() {
                    let v = u64::try_from(v)
                        .map_err(|_| schema_error(name, format!("negative value {v}")))?;
                    values.push(v);
                }
            }
        }
    }
    Ok(out)
}
