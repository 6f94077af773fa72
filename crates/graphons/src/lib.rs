//! The `graphons` stage: SAS density histograms of masks, distances between step graphons, and
//! convergence with width (issue #4; METHOD.md section 3). Empty until then.
