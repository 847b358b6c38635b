//! MNIST data: the IDX reader and writer (`idx`), the `Dataset` / `DataSplits` loaders (`mnist`),
//! the embedded class-balanced subset (`embedded`), where a data set came from and its content
//! fingerprint (`source`), and downloading with checksums (`fetch`).
//!
//! ```
//! use trainer::data::DataSplits;
//! let mnist = DataSplits::embedded()?;
//! assert_eq!(mnist.train.images.dim(), (10_000, 784));
//! assert_eq!(mnist.test.len(), 2_000);
//! # Ok::<(), trainer::data::DataError>(())
//! ```
//!
//! Formats, checks, the subset's selection rule and licence: `docs/data.md`.

mod dataset;
pub mod embedded;
mod error;
pub mod fetch;
pub mod idx;
pub mod source;

pub use dataset::{
    DataSplits, Dataset, Limits, MNIST_FILES, TEST_IMAGES, TEST_LABELS, TRAIN_IMAGES, TRAIN_LABELS,
    balanced_indices, find_file, location_of,
};
pub use error::DataError;
pub use fetch::{FetchOptions, Fetched, RemoteFile, fetch, fetch_dataset};
pub use idx::IdxImages;
pub use source::{DataSource, EMBEDDED, Location};

#[cfg(test)]
mod tests;
