//! Worked examples of extending `ebm` from outside its crates, one cargo example each
//! (`cargo run --release -p examples --example NAME`), walked through in `docs/extending.md`:
//!
//! - `weight_decay_rule`: a new learning rule (the contrastive update with L2 weight decay),
//!   trained for one epoch on the embedded data;
//! - `softmax_cost`: a new cost (cross-entropy through a softmax read-out), its gradient checked
//!   against finite differences, then used in a nudged phase;
//! - `idx_dataset`: a new data set (five classes of 10x10 images in IDX files) for
//!   `ebm train --data`.
//!
//! None of them edits a file of the crates it extends. `cargo xtask ci` runs all three.
