//! Seeded, class-balanced subsets of a labelled split.

use glh_artifacts::{Error, Result};
use rand::RngExt;
use rand_chacha::ChaCha8Rng;

/// Draws `per_class` distinct indices of every class from `labels` (classes `0..classes`),
/// uniformly without replacement, and returns them ordered by (label, index).
///
/// The draw is a partial Fisher-Yates shuffle of each class's indices with `rng`, class after
/// class, so the same generator state always gives the same subset.
pub fn balanced_subset(
    labels: &[u8],
    classes: usize,
    per_class: usize,
    rng: &mut ChaCha8Rng,
) -> Result<Vec<u32>> {
    draw_per_class(labels, &vec![per_class; classes], rng)
}

/// How many images of each class a set of `size` images over `classes` classes holds: `size /
/// classes` each, and one more for each of the first `size % classes` classes (1024 MNIST
/// images: 103 of digits 0 to 3, 102 of the others).
pub fn class_counts(size: usize, classes: usize) -> Vec<usize> {
    (0..classes)
        .map(|c| size / classes + usize::from(c < size % classes))
        .collect()
}

/// Draws `size` distinct indices from `labels`, as class-balanced as `size` allows
/// ([`class_counts`]), like [`balanced_subset`]; ordered by (label, index).
pub fn sized_subset(
    labels: &[u8],
    classes: usize,
    size: usize,
    rng: &mut ChaCha8Rng,
) -> Result<Vec<u32>> {
    draw_per_class(labels, &class_counts(size, classes), rng)
}

/// `counts[c]` distinct indices of class c, for every class in order, each drawn by a partial
/// Fisher-Yates shuffle of the class's indices with `rng`; ordered by (label, index).
fn draw_per_class(labels: &[u8], counts: &[usize], rng: &mut ChaCha8Rng) -> Result<Vec<u32>> {
    // Sized by what can exist, not by what was asked: the counts are unchecked user input.
    let asked = counts.iter().fold(0usize, |a, &c| a.saturating_add(c));
    let mut out = Vec::with_capacity(labels.len().min(asked));
    for (class, &count) in counts.iter().enumerate() {
        let mut pool: Vec<u32> = (0..labels.len() as u32)
            .filter(|&i| usize::from(labels[i as usize]) == class)
            .collect();
        if pool.len() < count {
            return Err(Error::Unsupported(format!(
                "class {class} has {} images, fewer than the {count} asked for",
                pool.len()
            )));
        }
        for i in 0..count {
            let j = rng.random_range(i..pool.len());
            pool.swap(i, j);
        }
        let mut chosen = pool[..count].to_vec();
        chosen.sort_unstable();
        out.extend(chosen);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use glh_artifacts::seeding::stream;

    fn labels() -> Vec<u8> {
        (0..1000).map(|i| ((i * 7 + i / 13) % 10) as u8).collect()
    }

    #[test]
    fn balanced_distinct_and_ordered() {
        let labels = labels();
        let subset = balanced_subset(&labels, 10, 20, &mut stream(0, "t")).unwrap();
        assert_eq!(subset.len(), 200);
        for class in 0..10u8 {
            let of_class: Vec<u32> = subset
                .iter()
                .copied()
                .filter(|&i| labels[i as usize] == class)
                .collect();
            assert_eq!(of_class.len(), 20);
            assert!(
                of_class.windows(2).all(|w| w[0] < w[1]),
                "sorted and distinct"
            );
        }
        let by_label: Vec<u8> = subset.iter().map(|&i| labels[i as usize]).collect();
        assert!(by_label.windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn a_sized_subset_is_as_balanced_as_its_size_allows() {
        assert_eq!(
            class_counts(1024, 10),
            [103, 103, 103, 103, 102, 102, 102, 102, 102, 102]
        );
        assert_eq!(class_counts(200, 10), [20; 10]);
        let labels = labels();
        let subset = sized_subset(&labels, 10, 53, &mut stream(0, "t")).unwrap();
        assert_eq!(subset.len(), 53);
        let mut seen = subset.clone();
        seen.dedup();
        assert_eq!(seen.len(), 53, "distinct");
        for (class, &count) in class_counts(53, 10).iter().enumerate() {
            let of_class = subset
                .iter()
                .filter(|&&i| usize::from(labels[i as usize]) == class)
                .count();
            assert_eq!(of_class, count);
        }
        // A multiple of the classes draws what balanced_subset draws.
        assert_eq!(
            sized_subset(&labels, 10, 50, &mut stream(3, "t")).unwrap(),
            balanced_subset(&labels, 10, 5, &mut stream(3, "t")).unwrap()
        );
        assert!(sized_subset(&labels, 10, 2000, &mut stream(0, "t")).is_err());
    }

    #[test]
    fn seed_decides_the_subset() {
        let labels = labels();
        let draw = |seed| balanced_subset(&labels, 10, 5, &mut stream(seed, "t")).unwrap();
        assert_eq!(draw(1), draw(1));
        assert_ne!(draw(1), draw(2));
    }

    #[test]
    fn every_image_is_equally_likely() {
        // 100 images of one class, 10 drawn, 2000 draws: each image is drawn 200 times in
        // expectation, with binomial sd sqrt(2000 * 0.1 * 0.9) = 13.4; 6 sd bounds all 100.
        let labels = vec![0u8; 100];
        let mut counts = [0u32; 100];
        let mut rng = stream(9, "t");
        for _ in 0..2000 {
            for i in balanced_subset(&labels, 1, 10, &mut rng).unwrap() {
                counts[i as usize] += 1;
            }
        }
        assert!(
            counts.iter().all(|&c| (200 - 81..=200 + 81).contains(&c)),
            "{counts:?}"
        );
    }

    #[test]
    fn too_few_images_is_an_error() {
        let err = balanced_subset(&[0, 0, 1], 2, 2, &mut stream(0, "t")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "class 1 has 1 images, fewer than the 2 asked for"
        );
    }
}
