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
    let blocks = Blocks {
        row: row_block,
        k_rows,
        col: col_block,
        k_cols,
    };
    block_fractions(mask.as_slice(), mask.cols(), &blocks, 1)
}

/// An assignment of rows and columns to `k_rows x k_cols` blocks.
struct Blocks<'a> {
    row: &'a [usize],
    k_rows: usize,
    col: &'a [usize],
    k_cols: usize,
}

/// The kept fraction of every block of `values` (row-major, `cols` wide; each entry a count
/// of kept connections out of `per_pair`), row-major `k_rows x k_cols`: the block's sum over
/// `per_pair` times its cells.
fn block_fractions<T: Copy + Into<u64>>(
    values: &[T],
    cols: usize,
    blocks: &Blocks<'_>,
    per_pair: u64,
) -> Vec<f64> {
    let (k_rows, k_cols) = (blocks.k_rows, blocks.k_cols);
    assert_eq!(
        (blocks.row.len() * cols, blocks.col.len()),
        (values.len(), cols),
        "one block per row and column"
    );
    let (mut row_size, mut col_size) = (vec![0u64; k_rows], vec![0u64; k_cols]);
    blocks.row.iter().for_each(|&a| row_size[a] += 1);
    blocks.col.iter().for_each(|&b| col_size[b] += 1);
    let mut counts = vec![0u64; k_rows * k_cols];
    for (r, &a) in blocks.row.iter().enumerate() {
        let counts = &mut counts[a * k_cols..(a + 1) * k_cols];
        for (&kept, &b) in values[r * cols..(r + 1) * cols].iter().zip(blocks.col) {
            counts[b] += kept.into();
        }
    }
    counts
        .iter()
        .enumerate()
        .map(|(i, &count)| {
            let cells = row_size[i / k_cols] * col_size[i % k_cols];
            assert!(cells > 0, "block {i} is empty");
            count as f64 / (cells * per_pair) as f64
        })
        .collect()
}

/// The SAS histogram of a layer whose (row, column) pairs hold up to `per_pair` connections
/// each, `counts[r * cols + c]` of them kept: a convolution's channel graph, where output
/// channel r reads input channel c through a `kh x kw` kernel (`per_pair = kh kw`) and an
/// edge's weight is its kernel's kept fraction. Degrees are the counts' sums, blocks as
/// [`sas_histogram`]'s, each entry the block's kept fraction; with `per_pair = 1` it is
/// [`sas_histogram`] of the 0/1 mask, to the bit.
pub fn count_sas_histogram(
    counts: &[u32],
    (rows, cols): (usize, usize),
    per_pair: u32,
    (k_rows, k_cols): (usize, usize),
) -> Result<StepGraphon, String> {
    if rows * cols != counts.len() || per_pair == 0 {
        return Err(format!(
            "{} counts for a {rows}x{cols} layer of {per_pair} connections a pair",
            counts.len()
        ));
    }
    if let Some(c) = counts.iter().find(|&&c| c > per_pair) {
        return Err(format!(
            "a count of {c}, above the {per_pair} connections of a pair"
        ));
    }
    if k_rows == 0 || k_cols == 0 || k_rows > rows || k_cols > cols {
        return Err(format!(
            "a {k_rows}x{k_cols} histogram of a {rows}x{cols} layer would have empty blocks"
        ));
    }
    let row_sums: Vec<usize> = counts
        .chunks_exact(cols)
        .map(|row| row.iter().map(|&c| c as usize).sum())
        .collect();
    let mut col_sums = vec![0usize; cols];
    for row in counts.chunks_exact(cols) {
        for (sum, &c) in col_sums.iter_mut().zip(row) {
            *sum += c as usize;
        }
    }
    let row_block = blocks_of(&degree_order(&row_sums), k_rows);
    let col_block = blocks_of(&degree_order(&col_sums), k_cols);
    let blocks = Blocks {
        row: &row_block,
        k_rows,
        col: &col_block,
        k_cols,
    };
    let values = block_fractions(counts, cols, &blocks, u64::from(per_pair));
    Ok(StepGraphon::new(k_rows, k_cols, values).expect("k_rows * k_cols values"))
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
    fn counts_of_one_connection_are_the_mask_histogram_to_the_bit() {
        use rand_chacha::rand_core::Rng;
        let mut rng = glh_artifacts::seeding::stream(7, "test/sas-counts");
        for (rows, cols, k) in [(13, 29, 4), (40, 40, 8), (7, 3, 3)] {
            let keep: Vec<bool> = (0..rows * cols)
                .map(|_| glh_model::mlp::unit_f64(rng.next_u64()) < 0.3)
                .collect();
            let mask = LayerMask::new(rows, cols, keep.clone()).unwrap();
            let counts: Vec<u32> = keep.iter().map(|&b| u32::from(b)).collect();
            let (kr, kc) = (k.min(rows), k.min(cols));
            let h = sas_histogram(&mask, kr, kc).unwrap();
            let c = count_sas_histogram(&counts, (rows, cols), 1, (kr, kc)).unwrap();
            assert_eq!(h, c);
        }
    }

    #[test]
    fn a_channel_graph_histogram_is_the_kept_fraction_of_its_blocks() {
        // 2 x 3 channels, 4 taps a kernel. Row sums 7 and 2: row 0 first; column sums 4, 1, 4:
        // columns 0 and 2 (ties by index) then 1.
        let counts = [4, 1, 2, 0, 0, 2];
        let h = count_sas_histogram(&counts, (2, 3), 4, (2, 2)).unwrap();
        // Column blocks: floor(b 3 / 2) = [0, 1), [1, 3): {col 0}, {cols 2, 1}.
        assert_eq!(h.values, vec![1.0, 3.0 / 8.0, 0.0, 2.0 / 8.0]);
        assert!(count_sas_histogram(&[5], (1, 1), 4, (1, 1)).is_err());
    }

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
