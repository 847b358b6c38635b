//! The layered network: weights `W_k` between layers `k` and `k+1`, biases of layers `1..=L`,
//! the activation `rho`, and batched states.

use ndarray::{Array1, Array2, ArrayView2};
use ndarray_rand::RandomExt;
use rand::Rng;
use rand_distr::Uniform;

use crate::{CoreError, Rho, Scalar};

/// A layered energy-based network (Eq 2.7 restricted to connections between adjacent layers).
///
/// Layer 0 is the clamped input `x`, layer `L` the output `y`.
/// `weights[k]`: `(n_k, n_(k+1))`, the symmetric coupling between layers `k` and `k+1`.
/// `biases[k]`: `(n_(k+1),)`, the bias of layer `k+1` (it learns with the rate of `weights[k]`).
#[derive(Debug, Clone, PartialEq)]
pub struct LayeredNet<A> {
    /// `weights[k]`: `(n_k, n_(k+1))`.
    pub weights: Vec<Array2<A>>,
    /// `biases[k]`: `(n_(k+1),)`.
    pub biases: Vec<Array1<A>>,
    /// The activation.
    pub rho: Rho,
    /// Feedback matrices `V_k`: `(n_(k+1), n_k)`, one per weight layer, for dynamics without an
    /// energy in which layer `k`'s drive from above is `rho(s_(k+1)) V_k` instead of
    /// `rho(s_(k+1)) W_k^T` (each matrix in its own direction: the feedback-alignment setting
    /// of Bengio et al. 2017, section 6). `None` (every constructor's choice) is the
    /// energy-based network; only the reference step reads them ([`Self::with_feedback`]).
    /// `V_0` is never read (the input is clamped). The energy functions ignore them.
    pub feedback: Option<Vec<Array2<A>>>,
}

impl<A: Scalar> LayeredNet<A> {
    /// All-zero parameters.
    pub fn zeros(sizes: &[usize], rho: Rho) -> Result<Self, CoreError> {
        check_sizes(sizes)?;
        let weights = sizes.windows(2).map(|w| Array2::zeros((w[0], w[1]))).collect();
        let biases = sizes[1..].iter().map(|&n| Array1::zeros(n)).collect();
        Ok(Self { weights, biases, rho, feedback: None })
    }

    /// Glorot-uniform weights `U(-a, a)`, `a = sqrt(6 / (n_k + n_(k+1)))`, zero biases.
    pub fn glorot_uniform(
        sizes: &[usize],
        rho: Rho,
        rng: &mut impl Rng,
    ) -> Result<Self, CoreError> {
        Self::scaled_uniform(sizes, rho, 1.0, rng)
    }

    /// Weights `U(-a, a)` with `a = scale * sqrt(6 / (n_k + n_(k+1)))` (scale 1 = Glorot),
    /// zero biases. Layers are drawn in order from `rng`.
    pub fn scaled_uniform(
        sizes: &[usize],
        rho: Rho,
        scale: f64,
        rng: &mut impl Rng,
    ) -> Result<Self, CoreError> {
        let mut net = Self::zeros(sizes, rho)?;
        for w in &mut net.weights {
            let (n_in, n_out) = w.dim();
            let a = scale * (6.0 / (n_in + n_out) as f64).sqrt();
            let dist = Uniform::new_inclusive(A::of(-a), A::of(a)).expect("a finite range");
            *w = Array2::random_using((n_in, n_out), dist, rng);
        }
        Ok(net)
    }

    /// Build from parts, checking that shapes chain.
    pub fn from_parts(
        weights: Vec<Array2<A>>,
        biases: Vec<Array1<A>>,
        rho: Rho,
    ) -> Result<Self, CoreError> {
        if weights.is_empty() {
            return Err(CoreError::TooFewLayers(weights.len() + 1));
        }
        if biases.len() != weights.len() {
            return Err(CoreError::Shape {
                what: "biases (count)".into(),
                got: vec![biases.len()],
                expected: vec![weights.len()],
            });
        }
        for k in 0..weights.len() {
            let n_out = weights[k].ncols();
            if k + 1 < weights.len() && weights[k + 1].nrows() != n_out {
                return Err(CoreError::Shape {
                    what: format!("W{}", k + 1),
                    got: weights[k + 1].shape().to_vec(),
                    expected: vec![n_out, weights[k + 1].ncols()],
                });
            }
            if biases[k].len() != n_out {
                return Err(CoreError::Shape {
                    what: format!("b{k}"),
                    got: vec![biases[k].len()],
                    expected: vec![n_out],
                });
            }
        }
        Ok(Self { weights, biases, rho, feedback: None })
    }

    /// The network of Eq 2.10: distinct forward `W_k` `(n_k, n_(k+1))` and backward `V_k`
    /// `(n_(k+1), n_k)` matrices; the dynamics use the symmetric part `1/2 (W_k + V_k^T)`.
    pub fn symmetrised(
        forward: &[Array2<A>],
        backward: &[Array2<A>],
        biases: Vec<Array1<A>>,
        rho: Rho,
    ) -> Result<Self, CoreError> {
        let half = A::of(0.5);
        let mut weights = Vec::with_capacity(forward.len());
        for (k, (w, v)) in forward.iter().zip(backward).enumerate() {
            if v.t().dim() != w.dim() {
                return Err(CoreError::Shape {
                    what: format!("backward matrix V{k}"),
                    got: v.shape().to_vec(),
                    expected: vec![w.ncols(), w.nrows()],
                });
            }
            weights.push((w + &v.t()) * half);
        }
        Self::from_parts(weights, biases, rho)
    }

    /// The same network with feedback matrices `V_k` `(n_(k+1), n_k)` (see
    /// [`LayeredNet::feedback`]): the upward drive of layer `k+1` stays `rho(s_k) W_k + b_k`,
    /// the downward drive of layer `k` becomes `rho(s_(k+1)) V_k`.
    pub fn with_feedback(mut self, feedback: Vec<Array2<A>>) -> Result<Self, CoreError> {
        if feedback.len() != self.weights.len() {
            return Err(CoreError::Shape {
                what: "feedback matrices (count)".into(),
                got: vec![feedback.len()],
                expected: vec![self.weights.len()],
            });
        }
        for (k, (w, v)) in self.weights.iter().zip(&feedback).enumerate() {
            if v.t().dim() != w.dim() {
                return Err(CoreError::Shape {
                    what: format!("feedback matrix V{k}"),
                    got: v.shape().to_vec(),
                    expected: vec![w.ncols(), w.nrows()],
                });
            }
        }
        self.feedback = Some(feedback);
        Ok(self)
    }

    /// The same network in another float type (e.g. a trained `f32` checkpoint in `f64` for
    /// the gradient checks).
    pub fn cast<B: Scalar>(&self) -> LayeredNet<B> {
        let weights = self.weights.iter().map(|w| w.mapv(|v| B::of(v.f64()))).collect();
        let biases = self.biases.iter().map(|b| b.mapv(|v| B::of(v.f64()))).collect();
        let feedback =
            self.feedback.as_ref().map(|f| f.iter().map(|v| v.mapv(|x| B::of(x.f64()))).collect());
        LayeredNet { weights, biases, rho: self.rho, feedback }
    }

    /// Units per layer, input first.
    pub fn sizes(&self) -> Vec<usize> {
        let mut s = vec![self.weights[0].nrows()];
        s.extend(self.weights.iter().map(|w| w.ncols()));
        s
    }

    /// Number of weight layers `L` (the output is layer `L`).
    pub fn depth(&self) -> usize {
        self.weights.len()
    }

    /// The first non-finite parameter, if any.
    pub fn check_finite(&self) -> Result<(), CoreError> {
        fn finite<B: Scalar, D: ndarray::Dimension>(a: &ndarray::Array<B, D>) -> bool {
            match a.as_slice() {
                Some(values) => crate::kernels::all_finite(values),
                None => a.iter().all(|v| v.is_finite()),
            }
        }
        for (layer, w) in self.weights.iter().enumerate() {
            if !finite(w) {
                return Err(CoreError::NonFiniteParameter { what: "weights", layer });
            }
        }
        for (layer, b) in self.biases.iter().enumerate() {
            if !finite(b) {
                return Err(CoreError::NonFiniteParameter { what: "biases", layer });
            }
        }
        Ok(())
    }
}

/// Batched states of every layer: `layers[k]`: `(batch, n_k)`; `layers[0]` is the input `x`.
#[derive(Debug, Clone, PartialEq)]
pub struct States<A> {
    /// Per-layer states.
    pub layers: Vec<Array2<A>>,
}

impl<A: Scalar> States<A> {
    /// The input `x` with every other layer at zero.
    pub fn with_input<N>(net: &LayeredNet<N>, x: ArrayView2<'_, A>) -> Result<Self, CoreError>
    where
        N: Scalar,
    {
        let sizes = net.sizes();
        if x.ncols() != sizes[0] {
            return Err(CoreError::Shape {
                what: "input x".into(),
                got: x.shape().to_vec(),
                expected: vec![x.nrows(), sizes[0]],
            });
        }
        let mut layers = vec![x.to_owned()];
        layers.extend(sizes[1..].iter().map(|&n| Array2::zeros((x.nrows(), n))));
        Ok(Self { layers })
    }

    /// Examples in the batch.
    pub fn batch(&self) -> usize {
        self.layers[0].nrows()
    }

    /// The output layer `y`: `(batch, n_L)`.
    pub fn output(&self) -> &Array2<A> {
        self.layers.last().expect("at least two layers")
    }
}

fn check_sizes(sizes: &[usize]) -> Result<(), CoreError> {
    if sizes.len() < 2 { Err(CoreError::TooFewLayers(sizes.len())) } else { Ok(()) }
}

/// Index of the largest entry of each row (the first one on ties): the class a network's
/// output `(batch, classes)` predicts for each example.
pub fn argmax_rows<A: Scalar>(y: ArrayView2<'_, A>) -> Vec<usize> {
    y.rows()
        .into_iter()
        .map(|r| {
            let first_max = |best: (usize, A), (i, &v): (usize, &A)| {
                if v > best.1 { (i, v) } else { best }
            };
            r.iter().enumerate().fold((0, A::of(f64::NEG_INFINITY)), first_max).0
        })
        .collect()
}
