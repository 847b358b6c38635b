//! A new data set without editing the trainer: five classes of 10x10 images, written as the
//! four standard IDX files, which `ebm train --data DIR` then trains on (any image size and
//! number of classes: the input layer is the pixels, the output layer the classes). Each class
//! is a bar (two rows or two columns) at its own place, on noise.
//!
//!     cargo run --release -p examples --example idx_dataset -- DIR
//!     ebm train --data DIR --set 'model.layers=[100, 30, 5]' --set 'training.alphas=[0.1, 0.05]'

#![allow(clippy::print_stdout)] // an example reports on standard output

use anyhow::{Context, Result};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use trainer::data::idx::{self, IdxImages};
use trainer::data::{TEST_IMAGES, TEST_LABELS, TRAIN_IMAGES, TRAIN_LABELS};

const SIDE: usize = 10;
const CLASSES: u8 = 5;

/// `n` images with their labels, drawn from `rng`.
fn images(n: usize, rng: &mut ChaCha8Rng) -> (IdxImages, Vec<u8>) {
    let mut pixels = Vec::with_capacity(n * SIDE * SIDE);
    let mut labels = Vec::with_capacity(n);
    for i in 0..n {
        let class = (i % usize::from(CLASSES)) as u8;
        for r in 0..SIDE {
            for c in 0..SIDE {
                // class 0 and 1: a horizontal bar at rows 1-2 or 6-7; 2 to 4: a vertical bar
                let on = match class {
                    0 => (1..3).contains(&r),
                    1 => (6..8).contains(&r),
                    k => c / 2 == 2 * usize::from(k - 2),
                };
                let base: u8 = if on { 200 } else { 0 };
                pixels.push(base.saturating_add(rng.random_range(0..56)));
            }
        }
        labels.push(class);
    }
    (IdxImages { rows: SIDE, cols: SIDE, pixels }, labels)
}

fn main() -> Result<()> {
    let dir = std::path::PathBuf::from(std::env::args().nth(1).context("usage: idx_dataset DIR")?);
    std::fs::create_dir_all(&dir)?;
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    for (images_name, labels_name, n) in
        [(TRAIN_IMAGES, TRAIN_LABELS, 1000), (TEST_IMAGES, TEST_LABELS, 200)]
    {
        let (images, labels) = images(n, &mut rng);
        let write = |name: &str, bytes: Vec<u8>| {
            trainer::io::write_atomic(&dir.join(format!("{name}.gz")), &bytes)
        };
        write(images_name, idx::encode_images(&images, true)?)?;
        write(labels_name, idx::encode_labels(&labels, true)?)?;
    }
    println!(
        "{}: {CLASSES} classes of {SIDE}x{SIDE} images, 1000 training and 200 test",
        dir.display()
    );
    Ok(())
}
