//! The ReLU Gaussian moments of the NTK recursion (the arc-cosine kernel of order 1 and 0).
//!
//! For `(a, b)` centred Gaussian with variances `q_a`, `q_b` and covariance `s`, with
//! `rho = s / sqrt(q_a q_b)` clipped to [-1, 1] and `theta = arccos(rho)`:
//! `E[relu(a) relu(b)] = sqrt(q_a q_b) (sin theta + (pi - theta) cos theta) / (2 pi)` and
//! `E[relu'(a) relu'(b)] = (pi - theta) / (2 pi)`. The arc-cosine's argument reduction gives
//! `sin theta` too, so one arc-cosine and sine per entry.
//!
//! A position with zero variance (no kept input reaches it) has a pre-activation that is
//! exactly 0; both moments are then 0, matching `relu'(0) = 0` of the empirical network.
//!
//! The recursion evaluates these moments once per position, pair and hidden layer (10^8 times
//! for one graphon kernel of 1024 images), so they are written to vectorise:
//! [`arc_cosine_and_sine`] is branch-free (selects, not jumps) and uses only `+ - * /` and
//! `sqrt`, which IEEE 754 rounds exactly, so it gives the same bits scalar or SIMD, on any x86
//! or ARM machine;
//! [`relu_moments_of_positions`] runs a whole column of positions under the widest instruction
//! set the CPU has (`glh_model::simd::dispatch`, AVX-512 included).

/// `(arccos(x), sqrt(1 - x^2))` for x in [-1, 1]: the angle within 2 ulp of the correctly
/// rounded value and the sine within 2 ulp of `sqrt(1 - x^2)` computed exactly and rounded once
/// (both measured over [-1, 1] by the tests, `f64::acos` being the angle's reference).
///
/// The classic argument reduction of fdlibm's `e_acos.c` (Sun Microsystems, 1993, freely
/// redistributable), with `R(z) = (asin(sqrt z) - sqrt z) / sqrt z` on z in [0, 1/4] as a
/// polynomial ([`ASIN_RATIO`]) in place of fdlibm's rational function, evaluated for every input
/// and then selected:
/// - |x| <= 1/2, `z = x^2`: angle `pi/2 - (x + x R(z))`, sine `sqrt(1 - z)`;
/// - |x| > 1/2, `z = (1 - |x|) / 2` (exact): with `s = sqrt z`, `asin s = s + s R(z)`; the angle
///   is `2 asin s` for x > 0 and `pi - 2 asin s` for x < 0, and the sine `2 s sqrt(1 - z)`,
///   since `1 - x^2 = (1 - |x|)(1 + |x|) = 4 z (1 - z)`: no cancellation near the ends.
///
/// `sqrt(1 - z)` on [0, 1/4] is a polynomial too ([`SQRT_ONE_MINUS_Z`]), so a call costs one
/// square root and no division: the recursion evaluates this 10^8 times per kernel, and
/// divisions and square roots were most of its cost. fdlibm also splits `s` into a head and
/// a tail for the last half ulp near x = 1, at the cost of a division; that is left out (the
/// angle stays within 2 ulp there). Outside [-1, 1] the result is meaningless; callers clamp.
// PIO2_LO keeps fdlibm's printed digits, so it can be checked against the source.
#[allow(clippy::excessive_precision)]
#[inline(always)]
pub fn arc_cosine_and_sine(x: f64) -> (f64, f64) {
    // pi/2 rounded to f64 (fdlibm's pio2_hi) and the remainder pi/2 - PIO2_HI.
    const PIO2_HI: f64 = std::f64::consts::FRAC_PI_2;
    const PIO2_LO: f64 = 6.123_233_995_736_766_035_87e-17;
    let a = x.abs();
    let far = a > 0.5;
    // z: x^2 near 0, (1 - |x|) / 2 near the ends; r = R(z).
    let z = if far { (1.0 - a) * 0.5 } else { x * x };
    let r = z * horner(&ASIN_RATIO, z);
    let s = z.sqrt();
    let near_zero = PIO2_HI - (x - (PIO2_LO - x * r));
    let near_minus_one = 2.0 * (PIO2_HI - (s + (r * s - PIO2_LO)));
    let near_one = 2.0 * (s + r * s);
    let angle = if !far {
        near_zero
    } else if x > 0.0 {
        near_one
    } else {
        near_minus_one
    };
    // sqrt(1 - z) by a polynomial, not a square root: square roots and divisions are what the
    // recursion's time goes to.
    let root_of_one_minus_z = horner(&SQRT_ONE_MINUS_Z, z);
    let sine = if far {
        2.0 * s * root_of_one_minus_z
    } else {
        root_of_one_minus_z
    };
    (angle, sine)
}

/// `sum_j c[j] z^j` by Horner's rule.
#[inline(always)]
fn horner(c: &[f64], z: f64) -> f64 {
    c.iter().rev().fold(0.0, |acc, &c| acc * z + c)
}

/// `R(z) / z ~ sum_j c_j z^j` on z in [0, 1/4], where `R(z) = (asin(sqrt z) - sqrt z) / sqrt z`,
/// lowest degree first: interpolation at the 14 Chebyshev nodes of the interval in 60-digit
/// arithmetic (mpmath), coefficients rounded to f64 (`scripts/fit-moment-polynomials.py`);
/// relative error below 0.5 ulp over the interval with the rounded coefficients. `R` enters
/// the angle scaled by at most 0.05, so the angle's error is its final roundings' (the tests
/// hold it to 2 ulp of libm's).
#[allow(clippy::excessive_precision)]
const ASIN_RATIO: [f64; 14] = [
    0.16666666666666666,
    0.07500000000000118,
    0.044642857142551895,
    0.03038194447553234,
    0.02237215744350722,
    0.017352816540325496,
    0.01396378001220357,
    0.011566459612121669,
    0.009621842970100282,
    0.009319560794767446,
    0.0030448799094556773,
    0.019554513336123378,
    -0.01924167174674304,
    0.02961201126495512,
];

/// `sqrt(1 - z) ~ sum_j c_j z^j` on z in [0, 1/4], lowest degree first: interpolation at the 13
/// Chebyshev nodes of the interval in 60-digit arithmetic (mpmath), coefficients rounded to
/// f64 (`scripts/fit-moment-polynomials.py` prints them); its error with the rounded
/// coefficients is below 0.35 ulp over the interval (the tests hold the evaluated sine to
/// 2 ulp).
#[allow(clippy::excessive_precision)]
const SQRT_ONE_MINUS_Z: [f64; 13] = [
    1.0,
    -0.4999999999999815,
    -0.1250000000041244,
    -0.06249999963931342,
    -0.0390625163329017,
    -0.02734331164089207,
    -0.020515325325567758,
    -0.016027596302914372,
    -0.01375441009387522,
    -0.007446828865423663,
    -0.021194963521473254,
    0.017190548009281534,
    -0.034308838583332474,
];

/// `1 / (2 pi)`, rounded once.
const INVERSE_TWO_PI: f64 = 0.5 * std::f64::consts::FRAC_1_PI;

/// `(E[relu(a) relu(b)], E[relu'(a) relu'(b)])`.
///
/// Evaluated as `E = sqrt(q_a q_b) (sin theta + rho (pi - theta)) / (2 pi)` and
/// `Edot = (pi - theta) / (2 pi)` with `pi - theta = arccos(-rho)`, which keeps its relative
/// accuracy where theta is near pi. Every step is homogeneous under scaling `q_a`, `q_b`, `s`
/// by one power of four (the square root and the correlation scale exactly), which
/// `recursion::exact_sigma_w2_rescale` relies on.
#[inline(always)]
pub fn relu_moments(q_a: f64, q_b: f64, s: f64) -> (f64, f64) {
    let scale = (q_a * q_b).sqrt();
    let reached = scale > 0.0;
    // A select, not an early return, so that a loop over positions stays branch-free; at
    // scale = 0 the quotient is discarded.
    let rho = if reached {
        (s / scale).clamp(-1.0, 1.0)
    } else {
        1.0
    };
    let (angle_left, sine) = arc_cosine_and_sine(-rho);
    let e = scale * (sine + angle_left * rho) * INVERSE_TWO_PI;
    let edot = angle_left * INVERSE_TWO_PI;
    if reached { (e, edot) } else { (0.0, 0.0) }
}

/// One pair's moments at every position u, weighted for the next layer's integral:
/// `e[u] = mu[u] E(q_a[u], q_b[u], s[u])` and `dot[u] = mu[u] Edot(...) t[u]`, where t is
/// `Theta_l` of the pair. Vectorised over positions with the CPU's widest SIMD.
pub fn relu_moments_of_positions(
    (q_a, q_b, s, t): (&[f64], &[f64], &[f64], &[f64]),
    mu: &[f64],
    e: &mut [f64],
    dot: &mut [f64],
) {
    let n = mu.len();
    assert!(
        [q_a.len(), q_b.len(), s.len(), t.len(), e.len(), dot.len()]
            .iter()
            .all(|&l| l == n)
    );
    glh_model::simd::dispatch(MomentsOfPositions {
        pair: (q_a, q_b, s, t),
        mu,
        e,
        dot,
    });
}

/// [`relu_moments_of_positions`] as a pulp operation, compiled for the widest SIMD.
struct MomentsOfPositions<'a> {
    pair: (&'a [f64], &'a [f64], &'a [f64], &'a [f64]),
    mu: &'a [f64],
    e: &'a mut [f64],
    dot: &'a mut [f64],
}

impl pulp::WithSimd for MomentsOfPositions<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) {
        let (q_a, q_b, s, t) = self.pair;
        let inputs = q_a.iter().zip(q_b).zip(s).zip(t).zip(self.mu);
        let outputs = self.e.iter_mut().zip(self.dot.iter_mut());
        for ((e, dot), ((((&q_a, &q_b), &s), &t), &mu)) in outputs.zip(inputs) {
            let (moment, moment_dot) = relu_moments(q_a, q_b, s);
            *e = mu * moment;
            *dot = mu * moment_dot * t;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::PI;

    /// Distance in units in the last place between two finite f64 of one sign.
    fn ulps(a: f64, b: f64) -> u64 {
        a.to_bits().abs_diff(b.to_bits())
    }

    /// `sqrt(1 - x^2)` rounded from a nearly exact square: `1 - x^2` as a double-double (x^2
    /// split by Dekker's product, so `1 - x^2 = hi + lo` up to 2^-104), then one square root
    /// with a first-order correction for `lo`.
    fn sine_reference(x: f64) -> f64 {
        let square = x * x;
        let error = x.mul_add(x, -square); // x^2 = square + error exactly
        let hi = 1.0 - square; // exact for |x| >= 2^-26 (Sterbenz) and harmless below
        let lo = -error;
        let root = hi.sqrt();
        if root == 0.0 {
            return (lo.max(0.0)).sqrt();
        }
        // sqrt(hi + lo) = root + (hi - root^2 + lo) / (2 root), with hi - root^2 exact by FMA.
        root + (root.mul_add(-root, hi) + lo) / (2.0 * root)
    }

    /// The test points: a uniform grid, the neighbourhoods of the reduction's seams (+-1/2) and
    /// of the ends, where (1 - |x|) / 2 is tiny and a naive formula loses digits, and powers of
    /// two near 0 and near +-1.
    fn points_of_the_interval() -> Vec<f64> {
        let mut xs: Vec<f64> = (0..=2_000_000).map(|i| -1.0 + i as f64 * 1e-6).collect();
        for centre in [-1.0f64, -0.5, 0.0, 0.5, 1.0] {
            let mut up = centre;
            let mut down = centre;
            for _ in 0..2000 {
                up = up.next_up();
                down = down.next_down();
                xs.extend([up, down]);
            }
        }
        xs.extend((1..60).flat_map(|e| [1.0 - 2f64.powi(-e), -1.0 + 2f64.powi(-e)]));
        xs.extend((1..1074).flat_map(|e| [2f64.powi(-e), -(2f64.powi(-e))]));
        xs.retain(|x| (-1.0..=1.0).contains(x));
        xs
    }

    #[test]
    fn arc_cosine_is_within_two_ulp_of_libm_over_the_whole_interval() {
        let mut worst = (0, 0.0);
        for &x in &points_of_the_interval() {
            let d = ulps(arc_cosine_and_sine(x).0, x.acos());
            if d > worst.0 {
                worst = (d, x);
            }
        }
        assert!(worst.0 <= 2, "{} ulp at x = {:e}", worst.0, worst.1);
        assert_eq!(arc_cosine_and_sine(1.0), (0.0, 0.0));
        assert_eq!(arc_cosine_and_sine(-1.0), (PI, 0.0));
        assert_eq!(arc_cosine_and_sine(0.0), (std::f64::consts::FRAC_PI_2, 1.0));
    }

    #[test]
    fn sine_is_within_two_ulp_of_the_rounded_exact_value() {
        let mut worst = (0, 0.0);
        for &x in &points_of_the_interval() {
            let d = ulps(arc_cosine_and_sine(x).1, sine_reference(x));
            if d > worst.0 {
                worst = (d, x);
            }
        }
        assert!(worst.0 <= 2, "{} ulp at x = {:e}", worst.0, worst.1);
        // The naive sqrt(1 - x^2) loses every digit at the ends: x = 1 - 2^-40 has
        // 1 - x^2 ~ 2^-39, known to one bit after the cancellation.
        let x = 1.0 - 2f64.powi(-40);
        assert!(ulps(arc_cosine_and_sine(x).1, sine_reference(x)) <= 2);
    }

    /// The moments as the recursion computed them before issue #30 changed the route: libm's
    /// arc-cosine, `sqrt(1 - rho^2)` and divisions by 2 pi.
    fn moments_by_libm(q_a: f64, q_b: f64, s: f64) -> (f64, f64) {
        let scale = (q_a * q_b).sqrt();
        let rho = (s / scale).clamp(-1.0, 1.0);
        let angle_left = PI - rho.acos();
        let e = scale * ((1.0 - rho * rho).sqrt() + angle_left * rho) / (2.0 * PI);
        (e, angle_left / (2.0 * PI))
    }

    #[test]
    fn moments_match_the_libm_route_to_rounding() {
        // Over correlations from -1 to 1 and variances over four decades. The first moment is
        // compared relative to its scale sqrt(q_a q_b) (near rho = -1 it is a difference of
        // two terms of that size); Edot is at most 1/2 and compared absolutely.
        let mut worst: (f64, f64) = (0.0, 0.0);
        for i in 0..=20_000 {
            let rho = -1.0 + i as f64 / 10_000.0;
            for (q_a, q_b) in [(1.0f64, 1.0f64), (0.01, 30.0), (7.5, 0.2)] {
                let s = rho * (q_a * q_b).sqrt();
                let (e, edot) = relu_moments(q_a, q_b, s);
                let (e_libm, edot_libm) = moments_by_libm(q_a, q_b, s);
                let scale = (q_a * q_b).sqrt();
                worst.0 = worst.0.max((e - e_libm).abs() / scale);
                worst.1 = worst.1.max((edot - edot_libm).abs());
            }
        }
        assert!(worst.0 < 4e-16 && worst.1 < 2e-16, "{worst:?}");
    }

    #[test]
    fn moments_have_the_same_bits_at_every_vector_width() {
        // AVX-512 (where the CPU has it), pulp's own dispatch (AVX2 here) and plain scalar code
        // compile the same lane arithmetic: the kernels' bits must not depend on the machine.
        let n = 203;
        let q_a: Vec<f64> = (0..n).map(|i| 0.1 + (i % 17) as f64 * 0.37).collect();
        let q_b: Vec<f64> = (0..n).map(|i| 0.2 + (i % 13) as f64 * 0.41).collect();
        let s: Vec<f64> = (0..n)
            .map(|i| (q_a[i] * q_b[i]).sqrt() * (-1.0 + 2.0 * (i as f64) / (n as f64 - 1.0)))
            .collect();
        let t: Vec<f64> = (0..n).map(|i| 1.0 + (i % 5) as f64).collect();
        let mu = vec![1.0 / n as f64; n];
        let run = |route: usize| {
            let (mut e, mut dot) = (vec![0.0; n], vec![0.0; n]);
            let op = MomentsOfPositions {
                pair: (&q_a, &q_b, &s, &t),
                mu: &mu,
                e: &mut e,
                dot: &mut dot,
            };
            match route {
                0 => glh_model::simd::dispatch(op),
                1 => pulp::Arch::new().dispatch(op),
                _ => pulp::WithSimd::with_simd(op, pulp::Scalar),
            }
            (e, dot)
        };
        let widest = run(0);
        assert_eq!(widest, run(1));
        assert_eq!(widest, run(2));
    }

    #[test]
    fn diagonal_closed_form() {
        // rho = 1: E[relu(a)^2] = q / 2 and E[relu'(a)^2] = 1/2.
        for q in [1e-3, 0.7, 5.0] {
            let (e, edot) = relu_moments(q, q, q);
            assert!((e - q / 2.0).abs() < 1e-15 * q.max(1.0));
            assert_eq!(edot, 0.5);
        }
    }

    #[test]
    fn orthogonal_and_opposite_inputs() {
        // rho = 0: E = sqrt(q q') / (2 pi), Edot = 1/4; rho = -1: both 0.
        let (e, edot) = relu_moments(2.0, 8.0, 0.0);
        assert!((e - 4.0 / (2.0 * PI)).abs() < 1e-15);
        assert!((edot - 0.25).abs() < 1e-15);
        let (e, edot) = relu_moments(1.0, 1.0, -1.0);
        assert!(e.abs() < 1e-15 && edot.abs() < 1e-15);
        assert_eq!(relu_moments(0.0, 1.0, 0.0), (0.0, 0.0));
    }

    #[test]
    fn matches_monte_carlo() {
        // An independent check by a deterministic quasi-Monte-Carlo over a Gaussian pair.
        let (q_a, q_b, s) = (1.5_f64, 0.8, 0.6);
        let (l11, l21) = (q_a.sqrt(), s / q_a.sqrt());
        let l22 = (q_b - l21 * l21).sqrt();
        let grid = 600;
        let (mut e, mut edot, mut w_sum) = (0.0, 0.0, 0.0);
        for i in 0..grid {
            for j in 0..grid {
                let z1 = -6.0 + 12.0 * (i as f64 + 0.5) / grid as f64;
                let z2 = -6.0 + 12.0 * (j as f64 + 0.5) / grid as f64;
                let w = (-(z1 * z1 + z2 * z2) / 2.0).exp();
                let (a, b) = (l11 * z1, l21 * z1 + l22 * z2);
                e += w * a.max(0.0) * b.max(0.0);
                edot += w * f64::from(u8::from(a > 0.0 && b > 0.0));
                w_sum += w;
            }
        }
        let (exact_e, exact_edot) = relu_moments(q_a, q_b, s);
        assert!(
            (e / w_sum - exact_e).abs() < 1e-4,
            "{} vs {exact_e}",
            e / w_sum
        );
        assert!((edot / w_sum - exact_edot).abs() < 5e-3);
    }
}
