//! The seeded order in which training examples are visited.
//!
//! Each epoch is a Fisher-Yates permutation of `0..n` drawn from the stream
//! `training/batches` of the run seed (one stream for the whole run, so epoch e's order follows
//! epoch e - 1's draws); batches are consecutive slices of `batch` indices and an epoch's last
//! partial batch is dropped, so every step sees exactly `batch` examples.

use glh_artifacts::seeding::stream;
use rand::RngExt;

/// The example indices of steps `1..=steps`, one `Vec` per step.
pub fn batch_order(n: usize, batch: usize, steps: usize, seed: u64) -> Vec<Vec<u32>> {
    assert!(
        batch >= 1 && batch <= n,
        "a batch of {batch} from {n} examples"
    );
    let mut rng = stream(seed, "training/batches");
    let mut out = Vec::with_capacity(steps);
    while out.len() < steps {
        let mut order: Vec<u32> = (0..n as u32).collect();
        for i in (1..n).rev() {
            let j = rng.random_range(0..=i);
            order.swap(i, j);
        }
        for chunk in order.chunks_exact(batch) {
            if out.len() == steps {
                break;
            }
            out.push(chunk.to_vec());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epochs_are_permutations_and_seeded() {
        let b = batch_order(10, 3, 7, 1);
        assert_eq!(b.len(), 7);
        // Epoch 1 = steps 1..=3 (9 of 10 examples, distinct); epoch 2 restarts.
        let mut first: Vec<u32> = b[..3].concat();
        first.sort_unstable();
        first.dedup();
        assert_eq!(first.len(), 9);
        assert_eq!(b, batch_order(10, 3, 7, 1));
        assert_ne!(b, batch_order(10, 3, 7, 2));
    }
}
