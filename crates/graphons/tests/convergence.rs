//! SAS histograms of masks sampled from known graphons converge to the true block averages,
//! and the Random sanity figures of METHOD.md section 3 hold.

use glh_graphons::StepGraphon;
use glh_graphons::sampling::sample_mask;
use glh_graphons::sas::sas_histogram;
use glh_graphons::step::l2_distance;

const K: usize = 20;

/// Block averages of `w` in the sorted coordinates: SAS sorts by degree, descending, so a
/// graphon increasing in u and v appears as `w(1 - x, 1 - y)`. Midpoint rule on a fine grid.
fn sorted_block_means(w: impl Fn(f64, f64) -> f64) -> StepGraphon {
    let fine = 50;
    let values = (0..K * K)
        .map(|i| {
            let (a, b) = (i / K, i % K);
            let mut sum = 0.0;
            for s in 0..fine {
                for t in 0..fine {
                    let x = (a as f64 + (s as f64 + 0.5) / fine as f64) / K as f64;
                    let y = (b as f64 + (t as f64 + 0.5) / fine as f64) / K as f64;
                    sum += w(1.0 - x, 1.0 - y);
                }
            }
            sum / (fine * fine) as f64
        })
        .collect();
    StepGraphon::new(K, K, values).unwrap()
}

#[test]
fn sas_recovers_a_graphon_with_monotone_degrees() {
    // W(u, v) = u v has strictly increasing degree functions, so sorting by degree recovers the
    // positions up to degree noise of order 1/sqrt(n): the error must fall roughly like that.
    let w = |u: f64, v: f64| u * v;
    let truth = sorted_block_means(w);
    let dist = |n: usize| -> f64 {
        (0..3)
            .map(|seed| {
                l2_distance(
                    &sas_histogram(&sample_mask(n, n, w, seed), K, K).unwrap(),
                    &truth,
                )
            })
            .sum::<f64>()
            / 3.0
    };
    let (d200, d1600) = (dist(200), dist(1600));
    // Degree noise: row degree ~ n u / 2 with sd <= sqrt(n)/2, so positions err by about
    // 1/sqrt(n): 0.07 at n = 200, 0.025 at 1600; the values of u v move by as much.
    assert!(d1600 < 0.03, "d(1600) = {d1600}");
    assert!(
        d1600 < d200 / 2.0,
        "d(200) = {d200}, d(1600) = {d1600}: expected ~1/sqrt(n)"
    );
}

#[test]
fn random_masks_match_the_sanity_figures() {
    // METHOD.md section 3, p = 0.2, K = 20, mean of 5 masks: ||H_n - p||_F = 1.85 at n = 100,
    // 0.58 at 500 (simulated there with another generator; the spread over 5 masks is a few
    // percent, so 15% is several standard errors).
    for (n, expected) in [(100, 1.85), (500, 0.58)] {
        let p = 0.2;
        let constant = StepGraphon::new(K, K, vec![p; K * K]).unwrap();
        let frobenius: f64 = (0..5)
            .map(|seed| {
                K as f64
                    * l2_distance(
                        &sas_histogram(&sample_mask(n, n, |_, _| p, seed), K, K).unwrap(),
                        &constant,
                    )
            })
            .sum::<f64>()
            / 5.0;
        assert!(
            (frobenius / expected - 1.0).abs() < 0.15,
            "n = {n}: {frobenius} vs {expected}"
        );
    }
}
