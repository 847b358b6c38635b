//! The embedded default data: a class-balanced subset of the real MNIST (10,000 training and
//! 2,000 test digits), gzipped IDX compiled into the binary so `ebm train` needs no files.
//! Produced by `cargo xtask make-mini-mnist --from DIR`; source, rule, hashes and licence in
//! `crates/trainer/data/mini-mnist/README.md`.

/// Directory of the subset's files, relative to the trainer crate.
pub const DIR: &str = "data/mini-mnist";
/// Training examples per class in the subset.
pub const TRAIN_PER_CLASS: usize = 1000;
/// Test examples per class in the subset.
pub const TEST_PER_CLASS: usize = 200;

/// `train-images-idx3-ubyte.gz` of the subset.
pub const TRAIN_IMAGES_GZ: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/data/mini-mnist/train-images-idx3-ubyte.gz"
));
/// `train-labels-idx1-ubyte.gz` of the subset.
pub const TRAIN_LABELS_GZ: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/data/mini-mnist/train-labels-idx1-ubyte.gz"
));
/// `t10k-images-idx3-ubyte.gz` of the subset.
pub const TEST_IMAGES_GZ: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/data/mini-mnist/t10k-images-idx3-ubyte.gz"
));
/// `t10k-labels-idx1-ubyte.gz` of the subset.
pub const TEST_LABELS_GZ: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/data/mini-mnist/t10k-labels-idx1-ubyte.gz"
));
