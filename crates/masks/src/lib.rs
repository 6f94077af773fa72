//! The `masks` stage: pruning at initialisation (issue #3).
//!
//! It will own the scorers (Random, Magnitude, SNIP, GraSP, SynFlow), turning scores into exact
//! masks (global or layer-wise), and the `masks` artifacts (METHOD.md section 2). Empty until
//! then: `glh masks` validates its arguments and says so.
