//! Table schemas: the documented columns of every Parquet artifact, and their validation.
//!
//! A [`TableSchema`] is the single source of truth for one table: the writer builds the Arrow
//! schema from it, the reader checks a file against it, `glh schema` prints it, and
//! ARCHITECTURE.md's schema section is generated from it (a test keeps the two equal).

use crate::{Error, Result};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use std::path::Path;
use std::sync::Arc;

/// The logical type of a column, as Arrow, polars and pyarrow name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColumnType {
    /// `bool`.
    Boolean,
    /// `u8`.
    UInt8,
    /// `u32`.
    UInt32,
    /// `u64`.
    UInt64,
    /// `i64`.
    Int64,
    /// `f64`.
    Float64,
    /// UTF-8 text.
    String,
    /// Raw bytes (packed bits, for instance).
    Binary,
}

impl ColumnType {
    /// The Arrow data type written to Parquet.
    pub fn arrow(self) -> DataType {
        match self {
            ColumnType::Boolean => DataType::Boolean,
            ColumnType::UInt8 => DataType::UInt8,
            ColumnType::UInt32 => DataType::UInt32,
            ColumnType::UInt64 => DataType::UInt64,
            ColumnType::Int64 => DataType::Int64,
            ColumnType::Float64 => DataType::Float64,
            ColumnType::String => DataType::Utf8,
            ColumnType::Binary => DataType::Binary,
        }
    }

    /// The name polars gives the type when it reads the column (Python and Rust alike).
    pub fn polars_name(self) -> &'static str {
        match self {
            ColumnType::Boolean => "Boolean",
            ColumnType::UInt8 => "UInt8",
            ColumnType::UInt32 => "UInt32",
            ColumnType::UInt64 => "UInt64",
            ColumnType::Int64 => "Int64",
            ColumnType::Float64 => "Float64",
            ColumnType::String => "String",
            ColumnType::Binary => "Binary",
        }
    }
}

/// One documented column.
#[derive(Clone, Copy, Debug)]
pub struct Column {
    /// Column name.
    pub name: &'static str,
    /// Column type.
    pub dtype: ColumnType,
    /// What one value means, with its unit or range.
    pub doc: &'static str,
}

/// The schema of one Parquet table that a stage writes.
#[derive(Debug)]
pub struct TableSchema {
    /// The stage that writes it (its directory under the artifact root).
    pub stage: &'static str,
    /// The file name inside the run directory, `<name>.parquet`.
    pub name: &'static str,
    /// What one row is.
    pub row: &'static str,
    /// Whether the table lives in the artifact store (`<stage>/<key>/<name>.parquet`) or is an
    /// interchange format written and read anywhere.
    pub stored: bool,
    /// The columns in file order.
    pub columns: &'static [Column],
}

impl TableSchema {
    /// The file name of the table inside a run directory.
    pub fn file_name(&self) -> String {
        format!("{}.parquet", self.name)
    }

    /// The Arrow schema (no column is nullable: a missing value is a bug, not data).
    pub fn arrow_schema(&self) -> SchemaRef {
        let fields: Vec<Field> = self
            .columns
            .iter()
            .map(|c| Field::new(c.name, c.dtype.arrow(), false))
            .collect();
        Arc::new(Schema::new(fields))
    }

    /// The columns of a table with no rows (a run that has nothing of this kind still writes
    /// the table, so every run of a stage has the same files).
    pub fn empty_columns(&self) -> crate::Columns {
        let mut columns = crate::Columns::new();
        for c in self.columns {
            columns.add_array(c.name, arrow::array::new_empty_array(&c.dtype.arrow()));
        }
        columns
    }

    /// Checks that a file's schema has exactly the documented columns, in order, with the
    /// documented types; the error names the file and the first offending column.
    pub fn validate(&self, path: &Path, found: &Schema) -> Result<()> {
        for (i, col) in self.columns.iter().enumerate() {
            let Some(field) = found.fields().get(i) else {
                return Err(schema_error(path, col.name, "missing".into()));
            };
            if field.name() != col.name {
                let message = match found.fields().iter().position(|f| f.name() == col.name) {
                    Some(j) => format!("expected at position {i}, found at position {j}"),
                    None => format!("missing (found `{}` at its position {i})", field.name()),
                };
                return Err(schema_error(path, col.name, message));
            }
            if field.data_type() != &col.dtype.arrow() {
                let message = format!(
                    "expected type {}, found {}",
                    col.dtype.polars_name(),
                    field.data_type()
                );
                return Err(schema_error(path, col.name, message));
            }
        }
        if let Some(extra) = found.fields().get(self.columns.len()) {
            let message = format!("not in the `{}` schema", self.name);
            return Err(schema_error(path, extra.name(), message));
        }
        Ok(())
    }

    /// The column named `name`.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// The schema as a Markdown section (used by `glh schema` and ARCHITECTURE.md).
    pub fn markdown(&self) -> String {
        let heading = if self.stored {
            format!("`{}/<key>/{}`", self.stage, self.file_name())
        } else {
            format!(
                "`{}` interchange file (any path, not in the store)",
                self.name
            )
        };
        let mut out = format!(
            "#### {heading}\n\nOne row per {}.\n\n| column | type | meaning |\n| --- | --- | --- |\n",
            self.row
        );
        for c in self.columns {
            out.push_str(&format!(
                "| `{}` | {} | {} |\n",
                c.name,
                c.dtype.polars_name(),
                c.doc
            ));
        }
        out
    }
}

fn schema_error(path: &Path, column: &str, message: String) -> Error {
    Error::Schema {
        path: path.to_path_buf(),
        column: column.to_string(),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: TableSchema = TableSchema {
        stage: "test",
        name: "t",
        row: "thing",
        stored: true,
        columns: &[
            Column {
                name: "a",
                dtype: ColumnType::UInt32,
                doc: "a",
            },
            Column {
                name: "b",
                dtype: ColumnType::String,
                doc: "b",
            },
        ],
    };

    fn schema(fields: &[(&str, DataType)]) -> Schema {
        Schema::new(
            fields
                .iter()
                .map(|(n, t)| Field::new(*n, t.clone(), false))
                .collect::<Vec<_>>(),
        )
    }

    fn message(found: Schema) -> String {
        TABLE
            .validate(Path::new("x/t.parquet"), &found)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn accepts_the_documented_schema() {
        TABLE
            .validate(Path::new("t.parquet"), &TABLE.arrow_schema())
            .unwrap();
    }

    #[test]
    fn names_the_file_and_the_column() {
        assert_eq!(
            message(schema(&[("a", DataType::UInt32)])),
            "x/t.parquet: column `b`: missing"
        );
        assert_eq!(
            message(schema(&[("a", DataType::Int64), ("b", DataType::Utf8)])),
            "x/t.parquet: column `a`: expected type UInt32, found Int64"
        );
        assert_eq!(
            message(schema(&[("b", DataType::Utf8), ("a", DataType::UInt32)])),
            "x/t.parquet: column `a`: expected at position 0, found at position 1"
        );
        assert_eq!(
            message(schema(&[
                ("a", DataType::UInt32),
                ("b", DataType::Utf8),
                ("c", DataType::Utf8)
            ])),
            "x/t.parquet: column `c`: not in the `t` schema"
        );
    }
}
