//! Step graphons on a grid of equal blocks, and distances between them.

/// A step function on [0,1]^2, constant on each of `rows x cols` equal blocks; row-major
/// `values[a * cols + b]` is its value on `[a/rows, (a+1)/rows) x [b/cols, (b+1)/cols)`.
#[derive(Clone, Debug, PartialEq)]
pub struct StepGraphon {
    /// Number of row blocks.
    pub rows: usize,
    /// Number of column blocks.
    pub cols: usize,
    /// Block values, row-major.
    pub values: Vec<f64>,
}

/// The largest K accepted by [`cut_distance`]: its enumeration of row-block subsets costs
/// `2^K * K` operations (K = 24: about 0.4 billion, a second or so).
pub const MAX_CUT_BLOCKS: usize = 24;

impl StepGraphon {
    /// A step graphon from row-major values; `None` if the count is not `rows * cols`.
    pub fn new(rows: usize, cols: usize, values: Vec<f64>) -> Option<Self> {
        (rows > 0 && cols > 0 && values.len() == rows * cols).then_some(StepGraphon {
            rows,
            cols,
            values,
        })
    }

    /// The value on block `(a, b)`.
    pub fn get(&self, a: usize, b: usize) -> f64 {
        self.values[a * self.cols + b]
    }

    /// The value at the point `(u, v)` of [0,1]^2 (1 belongs to the last block).
    pub fn at(&self, u: f64, v: f64) -> f64 {
        let a = ((u * self.rows as f64) as usize).min(self.rows - 1);
        let b = ((v * self.cols as f64) as usize).min(self.cols - 1);
        self.get(a, b)
    }
}

/// The sorted union of the breakpoints `i/n` and `j/m` of two equal grids.
fn common_breakpoints(n: usize, m: usize) -> Vec<f64> {
    let mut points: Vec<(usize, usize)> = (0..=n)
        .map(|i| (i * m, n * m))
        .chain((0..=m).map(|j| (j * n, n * m)))
        .collect();
    points.sort_unstable();
    points.dedup();
    points
        .into_iter()
        .map(|(p, q)| p as f64 / q as f64)
        .collect()
}

/// The L2 distance `(∫∫ (W1 - W2)^2)^(1/2)` of two step graphons of any block counts, exact
/// on their common refinement. For two K x K graphons it is `||H1 - H2||_F / K`.
pub fn l2_distance(a: &StepGraphon, b: &StepGraphon) -> f64 {
    let rows = common_breakpoints(a.rows, b.rows);
    let cols = common_breakpoints(a.cols, b.cols);
    let mut sum = 0.0;
    for r in rows.windows(2) {
        let (du, u) = (r[1] - r[0], 0.5 * (r[0] + r[1]));
        for c in cols.windows(2) {
            let (dv, v) = (c[1] - c[0], 0.5 * (c[0] + c[1]));
            sum += (a.at(u, v) - b.at(u, v)).powi(2) * du * dv;
        }
    }
    sum.sqrt()
}

/// The paper's distance: the plain Frobenius norm `||H1 - H2||_F` of two histograms on one
/// `K_r x K_c` grid, `l2_distance * sqrt(K_r K_c)`; on two grids, the L2 distance scaled by
/// `b`'s (the reference's) grid.
pub fn frobenius_distance(a: &StepGraphon, b: &StepGraphon) -> f64 {
    l2_distance(a, b) * ((b.rows * b.cols) as f64).sqrt()
}

/// The L1 distance of two step graphons on the same grid.
pub fn l1_distance(a: &StepGraphon, b: &StepGraphon) -> f64 {
    assert_eq!((a.rows, a.cols), (b.rows, b.cols), "same grid");
    let cells = (a.rows * a.cols) as f64;
    a.values
        .iter()
        .zip(&b.values)
        .map(|(x, y)| (x - y).abs())
        .sum::<f64>()
        / cells
}

/// The exact cut-norm distance `sup_{S,T} |∫_{S x T} (W1 - W2)|` of two step graphons on the
/// same grid of at most [`MAX_CUT_BLOCKS`] row blocks.
///
/// The integral is linear in how much of each block S and T cover, so the supremum is reached
/// at unions of whole blocks. For each row-block subset S (enumerated in Gray-code order, one
/// row added or removed per step), the best T takes the column blocks whose column sum over S
/// is positive (for the + sign) or negative (for the - sign). Cost `2^K_r * K_c`.
pub fn cut_distance(a: &StepGraphon, b: &StepGraphon) -> Result<f64, String> {
    if (a.rows, a.cols) != (b.rows, b.cols) {
        return Err(format!(
            "cut distance needs one grid, got {}x{} and {}x{}",
            a.rows, a.cols, b.rows, b.cols
        ));
    }
    if a.rows > MAX_CUT_BLOCKS {
        return Err(format!(
            "cut distance enumerates 2^K row sets: K = {} is above {MAX_CUT_BLOCKS}",
            a.rows
        ));
    }
    let (k, m) = (a.rows, a.cols);
    let diff: Vec<f64> = a.values.iter().zip(&b.values).map(|(x, y)| x - y).collect();
    let mut column_sums = vec![0.0f64; m];
    let mut best = 0.0f64;
    let mut previous_gray = 0u64;
    for step in 1u64..(1 << k) {
        let gray = step ^ (step >> 1);
        let flipped = (gray ^ previous_gray).trailing_zeros() as usize;
        let sign = if gray >> flipped & 1 == 1 { 1.0 } else { -1.0 };
        for (c, d) in column_sums
            .iter_mut()
            .zip(&diff[flipped * m..(flipped + 1) * m])
        {
            *c += sign * d;
        }
        previous_gray = gray;
        let positive: f64 = column_sums.iter().filter(|&&c| c > 0.0).sum();
        let negative: f64 = column_sums.iter().filter(|&&c| c < 0.0).sum();
        best = best.max(positive).max(-negative);
    }
    Ok(best / (k * m) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use glh_artifacts::seeding::stream;
    use glh_model::mlp::unit_f64;
    use rand_chacha::rand_core::Rng;

    fn random(k: usize, seed: u64) -> StepGraphon {
        let mut rng = stream(seed, "test");
        StepGraphon::new(k, k, (0..k * k).map(|_| unit_f64(rng.next_u64())).collect()).unwrap()
    }

    /// Brute force over every pair of block sets: the independent twin of `cut_distance`.
    fn cut_brute_force(a: &StepGraphon, b: &StepGraphon) -> f64 {
        let k = a.rows;
        let mut best = 0.0f64;
        for s in 0u32..1 << k {
            for t in 0u32..1 << k {
                let mut sum = 0.0;
                for i in (0..k).filter(|i| s >> i & 1 == 1) {
                    for j in (0..k).filter(|j| t >> j & 1 == 1) {
                        sum += a.get(i, j) - b.get(i, j);
                    }
                }
                best = best.max(sum.abs());
            }
        }
        best / (k * k) as f64
    }

    #[test]
    fn cut_distance_on_hand_made_step_functions() {
        let checker = StepGraphon::new(2, 2, vec![1.0, -1.0, -1.0, 1.0]).unwrap();
        let zero = StepGraphon::new(2, 2, vec![0.0; 4]).unwrap();
        // One block of mass 1/4; any larger set cancels.
        assert_eq!(cut_distance(&checker, &zero).unwrap(), 0.25);
        let c = StepGraphon::new(3, 3, vec![0.3; 9]).unwrap();
        let d = StepGraphon::new(3, 3, vec![0.1; 9]).unwrap();
        assert!(
            (cut_distance(&c, &d).unwrap() - 0.2).abs() < 1e-15,
            "constants: |c1 - c2|"
        );
    }

    #[test]
    fn cut_distance_equals_brute_force_and_is_a_metric_bounded_by_l1() {
        for seed in 0..5 {
            let (a, b, c) = (random(6, seed), random(6, seed + 10), random(6, seed + 20));
            let ab = cut_distance(&a, &b).unwrap();
            assert!((ab - cut_brute_force(&a, &b)).abs() < 1e-12);
            assert_eq!(ab, cut_distance(&b, &a).unwrap());
            assert_eq!(cut_distance(&a, &a).unwrap(), 0.0);
            let (ac, cb) = (cut_distance(&a, &c).unwrap(), cut_distance(&c, &b).unwrap());
            assert!(ab <= ac + cb + 1e-12);
            assert!(ab <= l1_distance(&a, &b) + 1e-12);
        }
        assert!(cut_distance(&random(25, 0), &random(25, 1)).is_err());
        assert!(cut_distance(&random(3, 0), &random(4, 1)).is_err());
    }

    #[test]
    fn l2_distance_is_exact_across_grid_sizes() {
        let c1 = StepGraphon::new(3, 3, vec![0.7; 9]).unwrap();
        let c2 = StepGraphon::new(5, 2, vec![0.2; 10]).unwrap();
        assert!((l2_distance(&c1, &c2) - 0.5).abs() < 1e-12);
        // A 2x2 graphon and its refinement to 4x4 are the same function.
        let coarse = StepGraphon::new(2, 2, vec![0.1, 0.9, 0.4, 0.6]).unwrap();
        let fine = StepGraphon::new(
            4,
            4,
            (0..16).map(|i| coarse.get(i / 4 / 2, i % 4 / 2)).collect(),
        )
        .unwrap();
        assert!(l2_distance(&coarse, &fine) < 1e-15);
        // On one grid, ||H1 - H2||_F / K.
        let (a, b) = (random(4, 1), random(4, 2));
        let frob = a
            .values
            .iter()
            .zip(&b.values)
            .map(|(x, y)| (x - y).powi(2))
            .sum::<f64>()
            .sqrt();
        assert!((l2_distance(&a, &b) - frob / 4.0).abs() < 1e-12);
        // A 1x1 step of 1 against a 3x3 with one block at 1 and the rest 0: sqrt(8/9).
        let one = StepGraphon::new(1, 1, vec![1.0]).unwrap();
        let mut v = vec![0.0; 9];
        v[4] = 1.0;
        let single = StepGraphon::new(3, 3, v).unwrap();
        assert!((l2_distance(&one, &single) - (8.0f64 / 9.0).sqrt()).abs() < 1e-12);
    }
}
