//! The ReLU Gaussian moments of the NTK recursion (the arc-cosine kernel of order 1 and 0).
//!
//! For `(a, b)` centred Gaussian with variances `q_a`, `q_b` and covariance `s`, with
//! `rho = s / sqrt(q_a q_b)` clipped to [-1, 1] and `theta = arccos(rho)`:
//! `E[relu(a) relu(b)] = sqrt(q_a q_b) (sin theta + (pi - theta) cos theta) / (2 pi)` and
//! `E[relu'(a) relu'(b)] = (pi - theta) / (2 pi)`. `sin theta` is evaluated as
//! `sqrt(1 - rho^2)`, so one arc-cosine per entry.
//!
//! A position with zero variance (no kept input reaches it) has a pre-activation that is
//! exactly 0; both moments are then 0, matching `relu'(0) = 0` of the empirical network.
//!
//! The recursion evaluates these moments once per position, pair and hidden layer (10^8 times
//! for one graphon kernel of 1024 images), so they are written to vectorise:
//! [`arc_cosine`] is branch-free (selects, not jumps) and uses only `+ - * /` and `sqrt`, which
//! IEEE 754 rounds exactly, so it gives the same bits scalar or SIMD, on any x86 or ARM machine;
//! [`relu_moments_of_positions`] runs a whole column of positions under the widest instruction
//! set the CPU has (pulp's runtime dispatch).

use std::f64::consts::PI;

/// `arccos(x)` for x in [-1, 1], within 1 ulp of the correctly rounded value (measured over
/// [-1, 1] by the tests; `f64::acos`, the platform's libm, is the reference).
///
/// The classic argument reduction of fdlibm's `e_acos.c` (Sun Microsystems, 1993, freely
/// redistributable) with its rational approximation `R(z) ~ (asin(sqrt z) - sqrt z) / sqrt z`
/// on z in [0, 1/4], of error below 2^-58.75, evaluated for every input and then selected:
/// - |x| <= 1/2: `pi/2 - (x + x R(x^2))`;
/// - x > 1/2: `2 asin(sqrt((1 - x) / 2))`, with sqrt split into a 32-bit head and a tail so that
///   no digit is lost near x = 1;
/// - x < -1/2: `pi - 2 asin(sqrt((1 + x) / 2))`.
///
/// Outside [-1, 1] the result is meaningless; callers clamp.
// The coefficients keep fdlibm's printed digits, so each can be checked against the source;
// every one parses to the double fdlibm uses.
#[allow(clippy::excessive_precision)]
#[inline(always)]
pub fn arc_cosine(x: f64) -> f64 {
    // pi/2 rounded to f64 (fdlibm's pio2_hi) and the remainder pi/2 - PIO2_HI.
    const PIO2_HI: f64 = std::f64::consts::FRAC_PI_2;
    const PIO2_LO: f64 = 6.123_233_995_736_766_035_87e-17;
    const P: [f64; 6] = [
        1.666_666_666_666_666_574_15e-1,
        -3.255_658_186_224_009_154_05e-1,
        2.012_125_321_348_629_258_81e-1,
        -4.005_553_450_067_941_140_27e-2,
        7.915_349_942_898_145_321_76e-4,
        3.479_331_075_960_211_675_70e-5,
    ];
    const Q: [f64; 4] = [
        -2.403_394_911_734_414_218_78e0,
        2.020_945_760_233_505_694_71e0,
        -6.882_839_716_054_532_930_30e-1,
        7.703_815_055_590_193_527_91e-2,
    ];
    let a = x.abs();
    let far = a > 0.5;
    // z: x^2 near 0, (1 - |x|) / 2 near the ends; r = R(z).
    let z = if far { (1.0 - a) * 0.5 } else { x * x };
    let p = z * (P[0] + z * (P[1] + z * (P[2] + z * (P[3] + z * (P[4] + z * P[5])))));
    let q = 1.0 + z * (Q[0] + z * (Q[1] + z * (Q[2] + z * Q[3])));
    let r = p / q;
    let s = z.sqrt();
    let near_zero = PIO2_HI - (x - (PIO2_LO - x * r));
    let near_minus_one = 2.0 * (PIO2_HI - (s + (r * s - PIO2_LO)));
    // s = head + tail exactly enough: head keeps s's top 20 mantissa bits, so head^2 is exact
    // and the tail (z - head^2) / (s + head) carries what head drops. At x = 1, s = head = 0.
    let head = f64::from_bits(s.to_bits() & 0xffff_ffff_0000_0000);
    let denominator = s + head;
    let tail = if denominator > 0.0 {
        (z - head * head) / denominator
    } else {
        0.0
    };
    let near_one = 2.0 * (head + (r * s + tail));
    if !far {
        near_zero
    } else if x > 0.0 {
        near_one
    } else {
        near_minus_one
    }
}

/// `(E[relu(a) relu(b)], E[relu'(a) relu'(b)])`.
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
    let angle_left = PI - arc_cosine(rho);
    let e = scale * ((1.0 - rho * rho).sqrt() + angle_left * rho) / (2.0 * PI);
    let edot = angle_left / (2.0 * PI);
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
    pulp::Arch::new().dispatch(MomentsOfPositions {
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

    /// Distance in units in the last place between two finite f64 of one sign.
    fn ulps(a: f64, b: f64) -> u64 {
        a.to_bits().abs_diff(b.to_bits())
    }

    #[test]
    fn arc_cosine_is_within_one_ulp_of_libm_over_the_whole_interval() {
        // A uniform grid, the neighbourhoods of the reduction's seams (+-1/2) and of the ends,
        // where (1 - |x|) / 2 is tiny and a naive sqrt loses digits.
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
        let mut worst = (0, 0.0);
        for &x in xs.iter().filter(|x| (-1.0..=1.0).contains(*x)) {
            let d = ulps(arc_cosine(x), x.acos());
            if d > worst.0 {
                worst = (d, x);
            }
        }
        assert!(worst.0 <= 1, "{} ulp at x = {:e}", worst.0, worst.1);
        assert_eq!(arc_cosine(1.0), 0.0);
        assert_eq!(arc_cosine(-1.0), PI);
        assert_eq!(arc_cosine(0.0), std::f64::consts::FRAC_PI_2);
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
