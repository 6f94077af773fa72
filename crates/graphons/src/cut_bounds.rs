//! A certified interval for the cut distance of step graphons too large to enumerate
//! (K > [`MAX_CUT_BLOCKS`]), as the paper's K = 64 needs.
//!
//! For the difference `D` (k x m blocks) of two step graphons the cut distance is
//! `max_{S,T} |D(S, T)| / (k m)`, with `D(S, T)` the sum of `D` over row blocks S and column
//! blocks T (see [`cut_distance`]). Its interval:
//!
//! - **Lower bound**: a multi-start local search. From a seeded random row set, the best column
//!   set for it (columns whose sum over the rows is positive) and then the best row set for
//!   those columns, alternating until the value stops rising; both signs, [`STARTS`] starts.
//!   Every value it reports is attained by a pair of sets, so it never exceeds the truth.
//! - **Upper bound**: the semidefinite relaxation of Alon and Naor (2006). Appending to `D` a
//!   row and a column that make every row and column sum zero gives `A` with the same cut norm
//!   and `||A||_{inf->1} = 4 ||A||_cut`; the relaxation `max sum A_ij <u_i, v_j>` over unit
//!   vectors bounds `||A||_{inf->1}` from above. Any `(x, y)` with
//!   `M = [[diag x, -A/2], [-A^T/2, diag y]]` positive semidefinite is a dual certificate:
//!   `sum x + sum y` bounds the relaxation, hence the cut norm times 4. We take `(x, y)` from a
//!   low-rank (Burer-Monteiro) solve of the relaxation by block-coordinate ascent, and make `M`
//!   semidefinite by adding its smallest eigenvalue's deficit (plus a margin for rounding) to
//!   every diagonal entry.
//!
//! Why this and not an interior-point solver (clarabel): the relaxation has one unit-norm
//! constraint per row and column, so the low-rank solve is a few hundred passes of matrix
//! products on a 66 x 66 matrix at K = 64, needs no new dependency, and the certificate makes
//! the upper bound valid however far the solve got (an unconverged solve only widens it).
//! Everything runs sequentially in a fixed order, so the interval is a pure function of its
//! inputs and seed.

use crate::step::{MAX_CUT_BLOCKS, StepGraphon, cut_distance};
use faer::Mat;
use faer::diag::Diag;
use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::evd::{ComputeEigenvectors, self_adjoint_evd, self_adjoint_evd_scratch};
use glh_artifacts::seeding::stream;
use rand_chacha::rand_core::Rng;

/// Starts of the local search (each both signs).
pub const STARTS: usize = 64;
/// Passes of block-coordinate ascent in the relaxation's low-rank solve.
const ASCENT_PASSES: usize = 500;

/// The cut distance lies in `[low, high]`; `low == high` when it was enumerated exactly.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CutInterval {
    /// Attained by a pair of block sets.
    pub low: f64,
    /// Certified by a dual solution of the semidefinite relaxation.
    pub high: f64,
}

/// The cut distance of `a` and `b` (one grid): exact up to [`MAX_CUT_BLOCKS`] row blocks,
/// otherwise the certified interval of the module documentation, its local search seeded by
/// `seed`.
pub fn cut_interval(a: &StepGraphon, b: &StepGraphon, seed: u64) -> Result<CutInterval, String> {
    if (a.rows, a.cols) != (b.rows, b.cols) {
        return Err(format!(
            "cut distance needs one grid, got {}x{} and {}x{}",
            a.rows, a.cols, b.rows, b.cols
        ));
    }
    if a.rows <= MAX_CUT_BLOCKS {
        let exact = cut_distance(a, b)?;
        return Ok(CutInterval {
            low: exact,
            high: exact,
        });
    }
    let (k, m) = (a.rows, a.cols);
    let diff: Vec<f64> = a.values.iter().zip(&b.values).map(|(x, y)| x - y).collect();
    let cells = (k * m) as f64;
    let low = local_search(&diff, k, m, seed) / cells;
    let high = (relaxation_bound(&diff, k, m, seed) / 4.0 / cells).max(low);
    Ok(CutInterval { low, high })
}

/// The largest `|D(S, T)|` the alternating search finds.
fn local_search(d: &[f64], k: usize, m: usize, seed: u64) -> f64 {
    let mut rng = stream(seed, "graphons/cut/local-search");
    let mut best = 0.0f64;
    for _ in 0..STARTS {
        let start: Vec<bool> = (0..k).map(|_| rng.next_u64() & 1 == 1).collect();
        for sign in [1.0, -1.0] {
            best = best.max(ascend(d, k, m, sign, start.clone()));
        }
    }
    best
}

/// Alternates best responses from the row set `rows` for `sign * D`; returns the value reached.
fn ascend(d: &[f64], k: usize, m: usize, sign: f64, mut rows: Vec<bool>) -> f64 {
    let mut value = f64::NEG_INFINITY;
    loop {
        let mut column_sums = vec![0.0; m];
        for i in (0..k).filter(|&i| rows[i]) {
            for (c, x) in column_sums.iter_mut().zip(&d[i * m..(i + 1) * m]) {
                *c += sign * x;
            }
        }
        let cols: Vec<bool> = column_sums.iter().map(|&c| c > 0.0).collect();
        let row_sums: Vec<f64> = (0..k)
            .map(|i| {
                (0..m)
                    .filter(|&j| cols[j])
                    .map(|j| sign * d[i * m + j])
                    .sum()
            })
            .collect();
        let next: f64 = row_sums.iter().filter(|&&s| s > 0.0).sum();
        if next <= value {
            return value.max(0.0);
        }
        value = next;
        rows = row_sums.iter().map(|&s| s > 0.0).collect();
    }
}

/// An upper bound on `||A||_{inf->1}` of `D` augmented to zero row and column sums (so four
/// times an upper bound on `D`'s cut norm), from a dual certificate of the relaxation.
fn relaxation_bound(d: &[f64], k: usize, m: usize, seed: u64) -> f64 {
    let (p, q) = (k + 1, m + 1);
    // A: D, then a column of minus row sums, a row of minus column sums, and the total.
    let mut a = Mat::<f64>::zeros(p, q);
    for i in 0..k {
        for j in 0..m {
            a[(i, j)] = d[i * m + j];
        }
    }
    for i in 0..k {
        a[(i, m)] = -(0..m).map(|j| a[(i, j)]).sum::<f64>();
    }
    for j in 0..=m {
        a[(k, j)] = -(0..k).map(|i| a[(i, j)]).sum::<f64>();
    }
    // Rank r >= sqrt(2 (p + q)) suffices for the relaxation's optimum (Barvinok-Pataki).
    let rank = ((2.0 * (p + q) as f64).sqrt().ceil() as usize + 1).min(p + q);
    let mut rng = stream(seed, "graphons/cut/relaxation");
    let mut random_unit_rows = |n: usize| {
        let mut x = Mat::<f64>::from_fn(n, rank, |_, _| {
            glh_model::mlp::unit_f64(rng.next_u64()) - 0.5
        });
        normalise_rows(&mut x);
        x
    };
    let mut u = random_unit_rows(p);
    let mut v = random_unit_rows(q);
    let seq = faer::Par::Seq;
    let product = |lhs: faer::MatRef<'_, f64>, rhs: faer::MatRef<'_, f64>| {
        let mut out = Mat::<f64>::zeros(lhs.nrows(), rhs.ncols());
        faer::linalg::matmul::matmul(out.as_mut(), faer::Accum::Replace, lhs, rhs, 1.0, seq);
        out
    };
    for _ in 0..ASCENT_PASSES {
        // u_i = (A v)_i / |(A v)_i| maximises the objective for fixed v, and likewise v.
        u = product(a.as_ref(), v.as_ref());
        normalise_rows(&mut u);
        v = product(a.transpose(), u.as_ref());
        normalise_rows(&mut v);
    }
    // The dual candidate of the solve: x_i = |(A v)_i| / 2, y_j = |(A^T u)_j| / 2.
    let g = product(a.as_ref(), v.as_ref());
    let h = product(a.transpose(), u.as_ref());
    let x: Vec<f64> = (0..p).map(|i| row_norm(&g, i) / 2.0).collect();
    let y: Vec<f64> = (0..q).map(|j| row_norm(&h, j) / 2.0).collect();
    let mut dual = Mat::<f64>::zeros(p + q, p + q);
    for i in 0..p {
        dual[(i, i)] = x[i];
        for j in 0..q {
            dual[(i, p + j)] = -a[(i, j)] / 2.0;
            dual[(p + j, i)] = -a[(i, j)] / 2.0;
        }
    }
    for j in 0..q {
        dual[(p + j, p + j)] = y[j];
    }
    let smallest = smallest_eigenvalue(&dual);
    // The eigensolver's error is about n * eps * ||M||; the margin covers it many times over.
    let scale = dual.norm_l2();
    let margin = 1e-10 * scale.max(1e-300);
    let shift = (-smallest).max(0.0) + margin;
    x.iter().sum::<f64>() + y.iter().sum::<f64>() + shift * (p + q) as f64
}

fn row_norm(x: &Mat<f64>, i: usize) -> f64 {
    (0..x.ncols())
        .map(|c| x[(i, c)].powi(2))
        .sum::<f64>()
        .sqrt()
}

/// Scales each row to unit length (a zero row becomes the first unit vector).
fn normalise_rows(x: &mut Mat<f64>) {
    for i in 0..x.nrows() {
        let norm = row_norm(x, i);
        for c in 0..x.ncols() {
            x[(i, c)] = if norm > 0.0 {
                x[(i, c)] / norm
            } else {
                f64::from(u8::from(c == 0))
            };
        }
    }
}

/// The smallest eigenvalue of the symmetric `m`, computed sequentially.
fn smallest_eigenvalue(m: &Mat<f64>) -> f64 {
    let n = m.nrows();
    let mut s = Diag::<f64>::zeros(n);
    let par = faer::Par::Seq;
    let scratch =
        self_adjoint_evd_scratch::<f64>(n, ComputeEigenvectors::No, par, Default::default());
    match self_adjoint_evd(
        m.as_ref(),
        s.as_mut(),
        None,
        par,
        MemStack::new(&mut MemBuffer::new(scratch)),
        Default::default(),
    ) {
        Ok(()) => s
            .column_vector()
            .iter()
            .copied()
            .fold(f64::INFINITY, f64::min),
        // No eigenvalue: fall back on the Gershgorin bound, valid for any symmetric matrix.
        Err(_) => (0..n)
            .map(|i| {
                let off: f64 = (0..n).filter(|&j| j != i).map(|j| m[(i, j)].abs()).sum();
                m[(i, i)] - off
            })
            .fold(f64::INFINITY, f64::min),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use glh_model::mlp::unit_f64;

    fn random(k: usize, seed: u64) -> StepGraphon {
        let mut rng = stream(seed, "test/cut-bounds");
        let values = (0..k * k).map(|_| unit_f64(rng.next_u64())).collect();
        StepGraphon::new(k, k, values).unwrap()
    }

    /// The bounds' own twin at enumerable sizes: the interval computed as if K were too large.
    fn forced_interval(a: &StepGraphon, b: &StepGraphon, seed: u64) -> CutInterval {
        let (k, m) = (a.rows, a.cols);
        let diff: Vec<f64> = a.values.iter().zip(&b.values).map(|(x, y)| x - y).collect();
        let cells = (k * m) as f64;
        let low = local_search(&diff, k, m, seed) / cells;
        let high = relaxation_bound(&diff, k, m, seed) / 4.0 / cells;
        CutInterval { low, high }
    }

    #[test]
    fn the_interval_always_contains_the_exact_cut_distance() {
        let (mut widest, mut found, mut cases) = (0.0f64, 0, 0);
        for k in 12..=20 {
            for seed in 0..3 {
                let (a, b) = (random(k, 2 * seed), random(k, 2 * seed + 1));
                let exact = cut_distance(&a, &b).unwrap();
                let interval = forced_interval(&a, &b, seed);
                // Sums in another order than the enumeration's: equal up to rounding.
                let rounding = 1e-12 * exact;
                let at = format!("k={k}: {interval:?} vs {exact}");
                assert!(interval.low <= exact + rounding, "{at}");
                assert!(exact <= interval.high, "{at}");
                widest = widest.max(interval.high / exact);
                found += usize::from(interval.low >= exact - rounding);
                cases += 1;
            }
        }
        // The Alon-Naor relaxation is within the Grothendieck constant (< 1.783) of the truth,
        // and the local search reaches the optimum in most cases.
        eprintln!("high/exact at most {widest:.4}; local search exact in {found}/{cases}");
        assert!(widest < 1.783, "{widest}");
        assert!(2 * found > cases, "{found}/{cases}");
    }

    #[test]
    fn enumerable_sizes_give_the_exact_value_and_large_ones_an_ordered_interval() {
        let (a, b) = (random(10, 0), random(10, 1));
        let exact = cut_distance(&a, &b).unwrap();
        assert_eq!(
            cut_interval(&a, &b, 7).unwrap(),
            CutInterval {
                low: exact,
                high: exact
            }
        );
        let (a, b) = (random(64, 0), random(64, 1));
        let i = cut_interval(&a, &b, 7).unwrap();
        assert!(0.0 < i.low && i.low <= i.high, "{i:?}");
        assert_eq!(i, cut_interval(&a, &b, 7).unwrap(), "seeded: repeatable");
        // Equal graphons are at distance 0 (the certificate of the zero matrix is the margin).
        let zero = cut_interval(&a, &a, 7).unwrap();
        assert_eq!(zero.low, 0.0);
        assert!(zero.high < 1e-12, "{zero:?}");
    }

    #[test]
    fn a_planted_block_is_found_exactly_by_the_local_search() {
        // D is +1 on rows 0..20 x cols 0..30 of a 40 x 40 grid and 0 elsewhere: cut = 600/1600.
        let k = 40;
        let a = StepGraphon::new(
            k,
            k,
            (0..k * k)
                .map(|p| f64::from(u8::from(p / k < 20 && p % k < 30)))
                .collect(),
        )
        .unwrap();
        let zero = StepGraphon::new(k, k, vec![0.0; k * k]).unwrap();
        let i = cut_interval(&a, &zero, 0).unwrap();
        assert_eq!(i.low, 600.0 / 1600.0);
        assert!(i.high >= i.low && i.high < 1.783 * i.low, "{i:?}");
    }
}
