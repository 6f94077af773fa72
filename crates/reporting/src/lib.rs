//! The `reporting` stage: figures (PNG and SVG) and the report that sets our numbers beside the
//! paper's, read from the artifacts with polars (issue #7; METHOD.md section 6). Empty until then.
