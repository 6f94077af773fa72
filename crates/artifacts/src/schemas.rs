//! The registry of every Parquet table the stages write: the contract readers rely on.
//!
//! Conventions of all tables: tidy long form (one fact per row), no nulls, and the run's
//! parameters repeated as leading columns so that one glob over many runs is already a tidy
//! table. ARCHITECTURE.md's schema section is generated from this registry (`glh schema
//! --format markdown`) and a test keeps the two equal.

use crate::schema::{Column, ColumnType, TableSchema};

/// `data/<key>/subsets.parquet`: the seeded, class-balanced subsets of MNIST used downstream.
pub const DATA_SUBSETS: TableSchema = TableSchema {
    stage: "data",
    name: "subsets",
    row: "image chosen for a subset",
    columns: &[
        Column {
            name: "seed",
            dtype: ColumnType::UInt64,
            doc: "run seed the subsets were drawn with",
        },
        Column {
            name: "scoring_per_class",
            dtype: ColumnType::UInt32,
            doc: "images per class in the `scoring` subset (run parameter)",
        },
        Column {
            name: "kernel_per_class",
            dtype: ColumnType::UInt32,
            doc: "images per class in the `kernel` subset (run parameter)",
        },
        Column {
            name: "subset",
            dtype: ColumnType::String,
            doc: "`scoring` (the SNIP/GraSP batch) or `kernel` (the NTK data set)",
        },
        Column {
            name: "split",
            dtype: ColumnType::String,
            doc: "MNIST split the image is taken from (`train`)",
        },
        Column {
            name: "position",
            dtype: ColumnType::UInt32,
            doc: "0-based position in the subset; subsets are ordered by label, then index",
        },
        Column {
            name: "index",
            dtype: ColumnType::UInt32,
            doc: "0-based row of the image in its MNIST split file",
        },
        Column {
            name: "label",
            dtype: ColumnType::UInt8,
            doc: "the digit, 0 to 9",
        },
    ],
};

/// Every table, in pipeline order.
pub const ALL_TABLES: &[&TableSchema] = &[&DATA_SUBSETS];

/// The table `name` written by `stage`.
pub fn find(stage: &str, name: &str) -> Option<&'static TableSchema> {
    ALL_TABLES
        .iter()
        .copied()
        .find(|t| t.stage == stage && t.name == name)
}

/// Every table as Markdown, the text of ARCHITECTURE.md's schema section.
pub fn markdown() -> String {
    ALL_TABLES
        .iter()
        .map(|t| t.markdown())
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_unique_and_columns_documented() {
        for (i, t) in ALL_TABLES.iter().enumerate() {
            assert!(find(t.stage, t.name).is_some());
            assert!(
                ALL_TABLES[..i]
                    .iter()
                    .all(|o| (o.stage, o.name) != (t.stage, t.name)),
                "{} listed twice",
                t.name
            );
            for (j, c) in t.columns.iter().enumerate() {
                assert!(!c.doc.is_empty(), "{}.{} has no doc", t.name, c.name);
                assert!(t.columns[..j].iter().all(|o| o.name != c.name));
            }
        }
    }
}
