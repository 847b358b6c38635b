//! The floating-point types the model runs in: `f32` (training) and `f64` (checks).

use std::fmt::{Debug, Display};

use ndarray::{LinalgScalar, ScalarOperand};
use num_traits::{Float, FromPrimitive, ToPrimitive};
use rand_distr::uniform::SampleUniform;

/// A float the model can run in (`f32` or `f64`).
pub trait Scalar:
    LinalgScalar
    + Float
    + FromPrimitive
    + ToPrimitive
    + ScalarOperand
    + SampleUniform
    + Send
    + Sync
    + Debug
    + Display
    + Default
    + std::ops::AddAssign
    + std::ops::SubAssign
    + std::ops::MulAssign
    + 'static
{
    /// Convert from `f64` (rounding to nearest for `f32`).
    #[inline]
    fn of(x: f64) -> Self {
        Self::from_f64(x).expect("every f64 converts to f32/f64")
    }

    /// Convert to `f64`.
    #[inline]
    fn f64(self) -> f64 {
        self.to_f64().expect("f32/f64 convert to f64")
    }
}

impl Scalar for f32 {}
impl Scalar for f64 {}
