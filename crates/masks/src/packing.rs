//! The bit layout of a mask row in the `bits` column: column c is bit `c % 8` (least
//! significant first) of byte `c / 8`; the row takes `ceil(n_cols / 8)` bytes and unused high
//! bits of the last byte are zero. numpy reads it with `np.unpackbits(b, bitorder="little")`.

/// Packs one row of flags.
pub fn pack_row(flags: &[bool]) -> Vec<u8> {
    let mut bytes = vec![0u8; flags.len().div_ceil(8)];
    for (c, &keep) in flags.iter().enumerate() {
        if keep {
            bytes[c / 8] |= 1 << (c % 8);
        }
    }
    bytes
}

/// Unpacks `n_cols` flags; `None` if the byte count is wrong or a padding bit is set.
pub fn unpack_row(bytes: &[u8], n_cols: usize) -> Option<Vec<bool>> {
    if bytes.len() != n_cols.div_ceil(8) {
        return None;
    }
    let padding_ok =
        n_cols.is_multiple_of(8) || bytes.last().is_none_or(|&b| b >> (n_cols % 8) == 0);
    padding_ok.then(|| {
        (0..n_cols)
            .map(|c| bytes[c / 8] >> (c % 8) & 1 == 1)
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_is_lsb_first() {
        let flags = [
            true, false, false, false, false, false, false, false, false, true,
        ];
        assert_eq!(pack_row(&flags), vec![0b0000_0001, 0b0000_0010]);
        assert_eq!(unpack_row(&pack_row(&flags), 10).unwrap(), flags);
        assert_eq!(unpack_row(&[0b0000_0100], 2), None, "padding bit set");
        assert_eq!(unpack_row(&[0, 0], 3), None, "wrong length");
    }
}
