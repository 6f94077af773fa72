//! SAS (sort-and-smooth) density histograms of a bipartite mask.
//!
//! Rows and columns are sorted separately by degree, descending, ties by index; the sorted
//! matrix is cut into `K_r x K_c` blocks, block a covering rows `[floor(a m / K_r),
//! floor((a+1) m / K_r))` (exact for any m), and each entry is the block's mean.

use crate::step::StepGraphon;
use glh_model::LayerMask;

/// Indices `0..degrees.len()` ordered by degree, descending, ties by index.
pub fn degree_order(degrees: &[usize]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..degrees.len()).collect();
    order.sort_by(|&i, &j| degrees[j].cmp(&degrees[i]).then(i.cmp(&j)));
    order
}

/// The boundaries `floor(a n / k)` for `a = 0..=k`: block a is `[bounds[a], bounds[a+1])`.
pub fn block_bounds(n: usize, k: usize) -> Vec<usize> {
    (0..=k).map(|a| a * n / k).collect()
}

/// The block of every index when `order` (a permutation) is cut into `k` blocks by
/// [`block_bounds`]: `block[order[p]]` is the block of position p.
pub fn blocks_of(order: &[usize], k: usize) -> Vec<usize> {
    let bounds = block_bounds(order.len(), k);
    let mut block = vec![0usize; order.len()];
    for b in 0..k {
        for &i in &order[bounds[b]..bounds[b + 1]] {
            block[i] = b;
        }
    }
    block
}

/// The mean of `mask` over every (row block, column block) cell, row-major `k_rows x k_cols`;
/// `row_block[r]` and `col_block[c]` assign rows and columns to blocks, none of them empty.
pub fn block_means(
    mask: &LayerMask,
    row_block: &[usize],
    k_rows: usize,
    col_block: &[usize],
    k_cols: usize,
) -> Vec<f64> {
    let (m, n) = (mask.rows(), mask.cols());
    assert_eq!(
        (row_block.len(), col_block.len()),
        (m, n),
        "one block per row and column"
    );
    let (mut row_size, mut col_size) = (vec![0usize; k_rows], vec![0usize; k_cols]);
    row_block.iter().for_each(|&a| row_size[a] += 1);
    col_block.iter().for_each(|&b| col_size[b] += 1);
    let mut counts = vec![0usize; k_rows * k_cols];
    for (r, &a) in row_block.iter().enumerate() {
        let counts = &mut counts[a * k_cols..(a + 1) * k_cols];
        for (&kept, &b) in mask.as_slice()[r * n..(r + 1) * n].iter().zip(col_block) {
            counts[b] += usize::from(kept);
        }
    }
    counts
        .iter()
        .enumerate()
        .map(|(i, &count)| {
            let cells = row_size[i / k_cols] * col_size[i % k_cols];
            assert!(cells > 0, "block {i} is empty");
            count as f64 / cells as f64
        })
        .collect()
}

/// A side's degree profile: `degrees` in descending order (ties by index), each divided by
/// `other_side`, the size of the layer's other side, so in [0, 1].
pub fn degree_profile(degrees: &[usize], other_side: usize) -> Vec<f64> {
    degree_order(degrees)
        .iter()
        .map(|&i| degrees[i] as f64 / other_side as f64)
        .collect()
}

/// The `k_rows x k_cols` SAS histogram of `mask`. Needs `k_rows <= rows` and `k_cols <= cols`
/// so that no block is empty.
pub fn sas_histogram(
    mask: &LayerMask,
    k_rows: usize,
    k_cols: usize,
) -> Result<StepGraphon, String> {
    let (m, n) = (mask.rows(), mask.cols());
    if k_rows == 0 || k_cols == 0 || k_rows > m || k_cols > n {
        return Err(format!(
            "a {k_rows}x{k_cols} histogram of a {m}x{n} mask would have empty blocks"
        ));
    }
    let row_block = blocks_of(&degree_order(&mask.row_degrees()), k_rows);
    let col_block = blocks_of(&degree_order(&mask.col_degrees()), k_cols);
    let values = block_means(mask, &row_block, k_rows, &col_block, k_cols);
    Ok(StepGraphon::new(k_rows, k_cols, values).expect("k_rows * k_cols values"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_cover_every_index_once() {
        assert_eq!(block_bounds(10, 3), vec![0, 3, 6, 10]);
        assert_eq!(block_bounds(100, 20)[1], 5);
        for (n, k) in [(7, 7), (101, 20), (2000, 20), (13, 5)] {
            let b = block_bounds(n, k);
            assert_eq!((b[0], b[k]), (0, n));
            assert!(b.windows(2).all(|w| w[1] > w[0]));
        }
    }

    #[test]
    fn degree_order_is_descending_with_index_ties() {
        assert_eq!(degree_order(&[1, 3, 3, 0, 2]), vec![1, 2, 4, 0, 3]);
    }

    #[test]
    fn histogram_of_a_hand_made_mask() {
        // Row degrees 1, 3, 0, 2 -> row order 1, 3, 0, 2; column degrees 1, 2, 3 -> 2, 1, 0.
        #[rustfmt::skip]
        let flags = [
            false, false, true,
            true,  true,  true,
            false, false, false,
            false, true,  true,
        ];
        let mask = LayerMask::new(4, 3, flags.to_vec()).unwrap();
        let full = sas_histogram(&mask, 4, 3).unwrap();
        // Sorted matrix: rows 1, 3, 0, 2 and columns 2, 1, 0.
        assert_eq!(
            full.values,
            vec![1., 1., 1., 1., 1., 0., 1., 0., 0., 0., 0., 0.]
        );
        let coarse = sas_histogram(&mask, 2, 1).unwrap();
        assert_eq!(coarse.values, vec![5.0 / 6.0, 1.0 / 6.0]);
        assert!(sas_histogram(&mask, 5, 1).is_err());
    }
}
