//! The `ntk` stage: the Graphon NTK recursion, the mask-level, histogram-level and empirical
//! kernels, and their spectra (issue #5; METHOD.md section 4). Empty until then.
