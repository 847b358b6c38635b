//! The activation `rho` (Eq 2.8 of Bengio et al. 2017) and its derivative.

use ebm_config::{RhoConfig, RhoKind};

use crate::Scalar;

/// The activation `rho`: a hard sigmoid (Eq 2.8) or a smooth logistic sigmoid.
///
/// Hard sigmoid: `rho(s) = 0` for `s < beta1`, `s - beta1` on `[beta1, beta2]`, `1` above
/// `beta2`, with `beta2 - beta1 = 1`. Its derivative is taken as 1 on the closed interval
/// `[beta1, beta2]` (the equilibrium-propagation code's convention: with `rho'(beta1) = 0` a
/// unit that starts at `beta1` could never move) and 0 outside.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rho {
    /// Piecewise linear, Eq 2.8.
    HardSigmoid {
        /// Lower kink.
        beta1: f64,
        /// Upper kink (`beta1 + 1`).
        beta2: f64,
    },
    /// `1 / (1 + exp(-4 (s - m)))` with `m = (beta1 + beta2) / 2` (slope 1 at `m`, like the
    /// hard sigmoid).
    Sigmoid {
        /// Centre `m`.
        centre: f64,
    },
}

impl Default for Rho {
    fn default() -> Self {
        Rho::HardSigmoid { beta1: 0.0, beta2: 1.0 }
    }
}

impl Rho {
    /// The hard sigmoid with lower kink `beta1` (and `beta2 = beta1 + 1`).
    pub fn hard(beta1: f64) -> Self {
        Rho::HardSigmoid { beta1, beta2: beta1 + 1.0 }
    }

    /// Build from a (validated) config section.
    pub fn from_config(c: &RhoConfig) -> Self {
        match c.kind {
            RhoKind::HardSigmoid => Rho::HardSigmoid { beta1: c.beta1, beta2: c.beta2 },
            RhoKind::Sigmoid => Rho::Sigmoid { centre: 0.5 * (c.beta1 + c.beta2) },
        }
    }

    /// `rho(s)` (Eq 2.8).
    #[inline]
    pub fn rho(&self, s: f64) -> f64 {
        self.eval(s)
    }

    /// `rho'(s)`: 1 on the closed interval `[beta1, beta2]` for the hard sigmoid.
    #[inline]
    pub fn rho_prime(&self, s: f64) -> f64 {
        self.prime(s)
    }

    /// `rho(s)` in any [`Scalar`] type.
    #[inline]
    pub fn eval<A: Scalar>(&self, s: A) -> A {
        match *self {
            Rho::HardSigmoid { beta1, beta2 } => {
                let (b1, b2) = (A::of(beta1), A::of(beta2));
                s.max(b1).min(b2) - b1
            }
            Rho::Sigmoid { centre } => {
                A::one() / (A::one() + (A::of(-4.0) * (s - A::of(centre))).exp())
            }
        }
    }

    /// `rho'(s)` in any [`Scalar`] type.
    #[inline]
    pub fn prime<A: Scalar>(&self, s: A) -> A {
        match *self {
            Rho::HardSigmoid { beta1, beta2 } => {
                if s >= A::of(beta1) && s <= A::of(beta2) {
                    A::one()
                } else {
                    A::zero()
                }
            }
            Rho::Sigmoid { .. } => {
                let r = self.eval(s);
                A::of(4.0) * r * (A::one() - r)
            }
        }
    }

    /// Whether a unit at `s` is saturated: at or beyond a kink of the hard sigmoid (`rho'(s) =
    /// 0` beyond; on a kink the projected rule parks it, and it responds only to inputs that
    /// push it back inside), never for the sigmoid.
    pub fn saturated(&self, s: f64) -> bool {
        let (lo, hi) = self.bounds();
        !(s > lo && s < hi)
    }

    /// The range states are projected onto by the projected-gradient rule: `[beta1, beta2]`
    /// for the hard sigmoid, unbounded for the sigmoid.
    pub fn bounds(&self) -> (f64, f64) {
        match *self {
            Rho::HardSigmoid { beta1, beta2 } => (beta1, beta2),
            Rho::Sigmoid { .. } => (f64::NEG_INFINITY, f64::INFINITY),
        }
    }
}
