//! A table's columns by name: what a stage hands the writer.
//!
//! Stages build [`Columns`] as `(name, array)` pairs in any order; the writer
//! ([`crate::parquet_io::encode_table`]) places each under the schema's column of that name and
//! refuses a missing, unknown, repeated or mistyped one. So a column is read and written by the
//! same name, and two columns of one type cannot trade places through their position.

use crate::{Error, Result, TableSchema};
use arrow::array::{Array, ArrayRef};
use std::sync::Arc;

/// Named columns of one table (or of one part of it, see [`Columns::concat`]).
#[derive(Clone, Debug, Default)]
pub struct Columns(Vec<(&'static str, ArrayRef)>);

impl Columns {
    /// No columns.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the column `name`.
    pub fn add(&mut self, name: &'static str, array: impl Array + 'static) -> &mut Self {
        self.0.push((name, Arc::new(array)));
        self
    }

    /// Adds the column `name` from an array already shared.
    pub fn add_array(&mut self, name: &'static str, array: ArrayRef) -> &mut Self {
        self.0.push((name, array));
        self
    }

    /// These columns and the column `name`.
    pub fn with(mut self, name: &'static str, array: impl Array + 'static) -> Self {
        self.add(name, array);
        self
    }

    /// Adds every column of `other`.
    pub fn append(&mut self, other: Columns) -> &mut Self {
        self.0.extend(other.0);
        self
    }

    /// The column names, in the order they were added.
    pub fn names(&self) -> Vec<&'static str> {
        self.0.iter().map(|(n, _)| *n).collect()
    }

    /// The parts' columns, concatenated name by name (how a stage builds one table from
    /// per-layer or per-kernel pieces). Every part has the same names; an empty list gives no
    /// columns.
    pub fn concat(parts: Vec<Columns>) -> Result<Columns> {
        let Some(first) = parts.first() else {
            return Ok(Columns::new());
        };
        let names = first.names();
        if let Some(odd) = parts.iter().find(|p| p.names() != names) {
            return Err(Error::Unsupported(format!(
                "bug: table parts with different columns: {:?} and {:?}",
                names,
                odd.names()
            )));
        }
        let columns = names
            .iter()
            .enumerate()
            .map(|(c, &name)| {
                let arrays: Vec<&dyn Array> = parts.iter().map(|p| p.0[c].1.as_ref()).collect();
                let joined = arrow::compute::concat(&arrays).map_err(|e| {
                    Error::Unsupported(format!("bug: column `{name}` of mixed types: {e}"))
                })?;
                Ok((name, joined))
            })
            .collect::<Result<_>>()?;
        Ok(Columns(columns))
    }

    /// The arrays in `schema`'s column order, each found by its name and of its type; an error
    /// names the table and the column that is missing, unknown, repeated or of another type.
    pub fn in_schema_order(self, schema: &TableSchema) -> Result<Vec<ArrayRef>> {
        let bug = |msg: String| Error::Unsupported(format!("bug: table `{}`: {msg}", schema.name));
        for (i, (name, _)) in self.0.iter().enumerate() {
            if self.0[..i].iter().any(|(n, _)| n == name) {
                return Err(bug(format!("column `{name}` given twice")));
            }
            if !schema.columns.iter().any(|c| c.name == *name) {
                return Err(bug(format!("no column `{name}` in its schema")));
            }
        }
        schema
            .columns
            .iter()
            .map(|column| {
                let (_, array) = self
                    .0
                    .iter()
                    .find(|(n, _)| *n == column.name)
                    .ok_or_else(|| bug(format!("column `{}` missing", column.name)))?;
                let expected = column.dtype.arrow();
                if array.data_type() != &expected {
                    return Err(bug(format!(
                        "column `{}` is {}, its schema says {expected}",
                        column.name,
                        array.data_type()
                    )));
                }
                Ok(array.clone())
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Column, ColumnType};
    use arrow::array::{Float64Array, UInt32Array};

    const TABLE: TableSchema = TableSchema {
        stage: "test",
        name: "pairs",
        row: "one pair",
        stored: true,
        columns: &[
            Column {
                name: "id",
                dtype: ColumnType::UInt32,
                doc: "id",
            },
            Column {
                name: "low",
                dtype: ColumnType::Float64,
                doc: "the lower value",
            },
            Column {
                name: "high",
                dtype: ColumnType::Float64,
                doc: "the higher value",
            },
        ],
    };

    fn values(a: &ArrayRef) -> Vec<f64> {
        a.as_any()
            .downcast_ref::<Float64Array>()
            .unwrap()
            .values()
            .to_vec()
    }

    #[test]
    fn columns_land_under_their_names_in_any_order() {
        // Two columns of one type given in the other order than the schema's: positional
        // writing would have stored `high`'s values as `low`.
        let columns = Columns::new()
            .with("high", Float64Array::from(vec![2.0]))
            .with("id", UInt32Array::from(vec![7]))
            .with("low", Float64Array::from(vec![1.0]));
        let arrays = columns.in_schema_order(&TABLE).unwrap();
        assert_eq!(values(&arrays[1]), [1.0]);
        assert_eq!(values(&arrays[2]), [2.0]);
    }

    #[test]
    fn missing_unknown_repeated_and_mistyped_columns_are_refused() {
        let full = || {
            Columns::new()
                .with("id", UInt32Array::from(vec![7]))
                .with("low", Float64Array::from(vec![1.0]))
        };
        let err = |c: Columns| c.in_schema_order(&TABLE).unwrap_err().to_string();
        assert!(err(full()).contains("`high` missing"));
        let unknown = full()
            .with("high", Float64Array::from(vec![2.0]))
            .with("hgih", Float64Array::from(vec![2.0]));
        assert!(err(unknown).contains("no column `hgih`"));
        let twice = full()
            .with("high", Float64Array::from(vec![2.0]))
            .with("low", Float64Array::from(vec![2.0]));
        assert!(err(twice).contains("`low` given twice"));
        let mistyped = full().with("high", UInt32Array::from(vec![2]));
        assert!(err(mistyped).contains("`high` is UInt32"));
    }

    #[test]
    fn parts_concatenate_by_name_and_must_agree() {
        let part = |v: f64| {
            Columns::new()
                .with("id", UInt32Array::from(vec![1]))
                .with("low", Float64Array::from(vec![v]))
        };
        let joined = Columns::concat(vec![part(1.0), part(2.0)]).unwrap();
        assert_eq!(values(&joined.0[1].1), [1.0, 2.0]);
        let odd = Columns::new().with("id", UInt32Array::from(vec![1]));
        assert!(Columns::concat(vec![part(1.0), odd]).is_err());
    }
}
