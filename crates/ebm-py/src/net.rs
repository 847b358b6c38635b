//! `ebm.Net`: a network with the config it was trained with; its parameters as numpy arrays,
//! the free phase (`trainer::evaluate`, so predictions are `ebm eval`'s), and the EP estimate
//! of the gradient against the true gradient (`ebm_core::gradient`, as `ebm gradcheck`
//! computes them).

use std::path::PathBuf;

use ebm_config::{GradcheckConfig, Section, ValidConfig};
use ebm_core::gradient::{ParamGrad, ep_estimate, true_gradient};
use ebm_core::{CoreError, Dynamics, LayeredNet, Output, Relaxer, Rho, States};
use ndarray::{Array2, ArrayView2};
use numpy::{AllowTypeChange, IntoPyArray, PyArray1, PyArray2, PyArrayLike1, PyArrayLike2};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use trainer::checkpoint;
use trainer::evaluate::{Evaluation, Examples, evaluate_examples};

use crate::config::PyConfig;
use crate::data::{images, images_in, labels};
use crate::{config_err, core_err, train_err};

/// A layered energy-based network and the config it runs with (its dynamics, evaluation steps
/// and cost).
///
/// `weights[k]` has shape `(n_k, n_(k+1))` and `biases[k]` `(n_(k+1),)`, layer 0 being the
/// input; both are float32 copies.
#[pyclass(name = "Net", module = "ebm", frozen)]
pub struct PyNet {
    pub(crate) net: LayeredNet<f32>,
    pub(crate) config: ValidConfig,
}

/// Integer labels as one-hot float64 targets `(n, classes)`; a label outside the classes is an
/// error.
fn one_hot(y: &[u8], classes: usize) -> PyResult<Array2<f64>> {
    let mut t = Array2::zeros((y.len(), classes));
    for (i, &l) in y.iter().enumerate() {
        let l = usize::from(l);
        if l >= classes {
            return Err(PyValueError::new_err(format!(
                "y[{i}] = {l}: the network has {classes} output units (labels 0 to {})",
                classes - 1
            )));
        }
        t[(i, l)] = 1.0;
    }
    Ok(t)
}

/// Float64 gradients as `{"weights": [...], "biases": [...]}` of numpy arrays.
fn grad_dict<'py>(py: Python<'py>, g: ParamGrad) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    let weights: Vec<_> = g.weights.into_iter().map(|w| w.into_pyarray(py)).collect();
    let biases: Vec<_> = g.biases.into_iter().map(|b| b.into_pyarray(py)).collect();
    d.set_item("weights", weights)?;
    d.set_item("biases", biases)?;
    Ok(d)
}

/// The free fixed point of `x` from zero states, relaxed with the `[gradcheck]` section's step
/// and schedule to its residual `tolerance` (as `ebm gradcheck` does), with its relaxer (the
/// input's drive set) for the nudged phases; and the residual reached.
fn free_fixed_point(
    g: &GradcheckConfig,
    net: &LayeredNet<f64>,
    x: ndarray::ArrayView2<'_, f64>,
) -> Result<(Relaxer<f64>, States<f64>, f64), CoreError> {
    let mut relaxer = Relaxer::new(net, x.nrows(), 0);
    relaxer.set_input(net, x)?;
    let mut free = States::with_input(net, x)?;
    let dynamics = Dynamics::projected(g.epsilon).with_schedule(g.schedule);
    let r = relaxer.relax_to_residual(
        net,
        &mut free,
        &Output::Free,
        &dynamics,
        g.tolerance,
        g.max_steps,
    )?;
    Ok((relaxer, free, r.last_delta))
}

/// A numpy array over `a`, one of `owner`'s parameter arrays, without a copy: the array keeps
/// `owner` alive (its base) and is marked read-only.
#[allow(unsafe_code)]
fn read_only_view<'py, D: ndarray::Dimension>(
    a: &ndarray::Array<f32, D>,
    owner: &Bound<'py, PyNet>,
) -> PyResult<Bound<'py, numpy::PyArray<f32, D>>> {
    // SAFETY: `a` is owned by `owner`'s network. `PyNet` is frozen and no method mutates,
    // reallocates or moves its arrays after construction, so the memory stays valid and
    // unchanged for as long as the view holds `owner` as its base object; the view is made
    // read-only before Python sees it, so no one writes through it either.
    let view = unsafe { numpy::PyArray::borrow_from_array(a, owner.clone().into_any()) };
    view.getattr("flags")?.setattr("writeable", false)?;
    Ok(view)
}

impl PyNet {
    /// The free phase of `x` (labels `y`, or zeros) as `trainer::evaluate` runs it, on the
    /// images in place.
    fn evaluation(
        &self,
        py: Python<'_>,
        x: ArrayView2<'_, f32>,
        y: Option<Vec<u8>>,
        steps: Option<usize>,
        particles: Option<&mut [Array2<f32>]>,
    ) -> PyResult<Evaluation> {
        let classes = *self.config.model.layers.last().expect("validated");
        let labels = y.unwrap_or_else(|| vec![0; x.nrows()]);
        let examples = Examples { images: x, labels: &labels, classes };
        let steps = steps.unwrap_or_else(|| self.config.eval_steps());
        let cost = self.config.training.cost;
        py.detach(|| evaluate_examples(&self.config, &self.net, examples, steps, cost, particles))
            .map_err(train_err)
    }

    /// The `[gradcheck]` section, validated (a trained net's config was validated only for
    /// training).
    fn gradcheck(&self) -> PyResult<GradcheckConfig> {
        let valid = self
            .config
            .config()
            .clone()
            .validate_sections(&[Section::Gradcheck])
            .map_err(config_err)?;
        Ok(valid.gradcheck.clone())
    }

    /// Inputs as float64 and one-hot targets, checked against the network.
    fn inputs(
        &self,
        x: &Bound<'_, PyAny>,
        y: &Bound<'_, PyAny>,
    ) -> PyResult<(Array2<f64>, Array2<f64>)> {
        let x = images("x", x, false)?.x.mapv(f64::from);
        let y = labels("y", y, x.nrows())?;
        let classes = *self.config.model.layers.last().expect("validated");
        Ok((x, one_hot(&y, classes)?))
    }
}

#[pymethods]
impl PyNet {
    /// A network from numpy arrays: `weights[k]` `(n_k, n_(k+1))` and `biases[k]`
    /// `(n_(k+1),)` (converted to float32), run with `config` (default: the `quick` preset),
    /// whose `model.layers` is set to the arrays' sizes; its model and dynamics are validated.
    #[new]
    #[pyo3(signature = (weights, biases, config = None))]
    fn py_new(
        weights: Vec<PyArrayLike2<'_, f32, AllowTypeChange>>,
        biases: Vec<PyArrayLike1<'_, f32, AllowTypeChange>>,
        config: Option<PyRef<'_, PyConfig>>,
    ) -> PyResult<Self> {
        let weights: Vec<Array2<f32>> = weights.iter().map(|w| w.as_array().to_owned()).collect();
        let biases: Vec<_> = biases.iter().map(|b| b.as_array().to_owned()).collect();
        let Some(first) = weights.first() else {
            return Err(PyValueError::new_err("a network needs at least one weight matrix"));
        };
        let mut sizes = vec![first.nrows()];
        sizes.extend(weights.iter().map(|w| w.ncols()));
        let mut config = config.map_or_else(PyConfig::quick, |c| c.clone());
        let layers = sizes.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
        config.push(format!("model.layers=[{layers}]"))?;
        let config = config.validate(&[Section::Model, Section::Dynamics]).map_err(config_err)?;
        let net = LayeredNet::from_parts(weights, biases, Rho::from_config(&config.model.rho))
            .map_err(core_err)?;
        net.check_finite().map_err(|e| PyValueError::new_err(e.to_string()))?;
        Ok(Self { net, config })
    }

    /// Load a `model.npz` or `checkpoint.npz` written by `ebm train` or `ebm.train(out=...)`
    /// (a run directory loads its checkpoint, else its model), with the config it records.
    #[staticmethod]
    fn load(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        let file = checkpoint::resolve(&path);
        if !file.exists() {
            return Err(pyo3::exceptions::PyFileNotFoundError::new_err(format!(
                "{}: no such file",
                file.display()
            )));
        }
        let (config, net) = py.detach(|| checkpoint::load_net(&file)).map_err(train_err)?;
        Ok(Self { net, config })
    }

    /// Units per layer, input first (e.g. `[784, 500, 10]`).
    #[getter]
    fn sizes(&self) -> Vec<usize> {
        self.net.sizes()
    }

    /// The weights: `weights[k]` is `(n_k, n_(k+1))` float32, a read-only view of the
    /// network's own memory (no copy; `w.copy()` for an array to change).
    #[getter]
    fn weights<'py>(slf: &Bound<'py, Self>) -> PyResult<Vec<Bound<'py, PyArray2<f32>>>> {
        slf.get().net.weights.iter().map(|w| read_only_view(w, slf)).collect()
    }

    /// The biases: `biases[k]` is `(n_(k+1),)` float32, the bias of layer `k + 1`, a
    /// read-only view as `weights`.
    #[getter]
    fn biases<'py>(slf: &Bound<'py, Self>) -> PyResult<Vec<Bound<'py, PyArray1<f32>>>> {
        slf.get().net.biases.iter().map(|b| read_only_view(b, slf)).collect()
    }

    /// The config the network runs with (the run's, or the one its file records).
    #[getter]
    fn config(&self) -> PyConfig {
        PyConfig::from_text(self.config.to_toml_string())
    }

    /// SHA-256 of the parameters, as `summary.json`'s `model_sha256` (`docs/formats.md`).
    #[getter]
    fn sha256(&self) -> String {
        checkpoint::parameters_sha256(&self.net)
    }

    /// The free phase of inputs `x` (`(n, pixels)` or `(n, rows, cols)`; float in [0, 1], or
    /// uint8 divided by 255) with the net's dynamics for `steps` steps (default: the config's
    /// evaluation steps; it stops earlier at `dynamics.tolerance`), in chunks of 500 examples
    /// as `ebm eval` relaxes them; from zero states, or from `start` (one array per layer 1 to
    /// L). Returns the states of layers 1 to L (hidden layers, then the output), float32.
    #[pyo3(signature = (x, steps = None, start = None))]
    fn relax<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        steps: Option<usize>,
        start: Option<Vec<PyArrayLike2<'py, f32, AllowTypeChange>>>,
    ) -> PyResult<Vec<Bound<'py, PyArray2<f32>>>> {
        let x = images_in("x", x)?;
        let n = x.view().nrows();
        let sizes = self.net.sizes();
        let mut particles: Vec<Array2<f32>> = match start {
            None => sizes[1..].iter().map(|&u| Array2::zeros((n, u))).collect(),
            Some(start) => {
                if start.len() != sizes.len() - 1 {
                    return Err(PyValueError::new_err(format!(
                        "start has {} arrays: one per layer 1 to {} is needed",
                        start.len(),
                        sizes.len() - 1
                    )));
                }
                let mut p = Vec::new();
                for (k, s) in start.iter().enumerate() {
                    let a = s.as_array();
                    if a.dim() != (n, sizes[k + 1]) {
                        return Err(PyValueError::new_err(format!(
                            "start[{k}] has shape {:?}, expected [{n}, {}]",
                            a.shape(),
                            sizes[k + 1]
                        )));
                    }
                    p.push(a.to_owned());
                }
                p
            }
        };
        self.evaluation(py, x.view(), None, steps, Some(&mut particles))?;
        Ok(particles.into_iter().map(|p| p.into_pyarray(py)).collect())
    }

    /// The predicted class of every row of `x` (argmax of the output at the end of the free
    /// phase from zero states): what `ebm eval` predicts. An int64 array.
    #[pyo3(signature = (x, steps = None))]
    fn predict<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        steps: Option<usize>,
    ) -> PyResult<Bound<'py, PyArray1<i64>>> {
        let x = images_in("x", x)?;
        let e = self.evaluation(py, x.view(), None, steps, None)?;
        let p: Vec<i64> = e.predictions.iter().map(|&p| i64::from(p)).collect();
        Ok(p.into_pyarray(py))
    }

    /// The error rate of the predictions of `x` against integer labels `y`, in [0, 1] (`ebm
    /// eval`'s test error when given its test set).
    #[pyo3(signature = (x, y, steps = None))]
    fn evaluate(
        &self,
        py: Python<'_>,
        x: &Bound<'_, PyAny>,
        y: &Bound<'_, PyAny>,
        steps: Option<usize>,
    ) -> PyResult<f64> {
        let x = images_in("x", x)?;
        let y = labels("y", y, x.view().nrows())?;
        let classes = *self.config.model.layers.last().expect("validated");
        if let Some((i, l)) = y.iter().enumerate().find(|(_, l)| usize::from(**l) >= classes) {
            return Err(PyValueError::new_err(format!(
                "y[{i}] = {l}: the network has {classes} output units"
            )));
        }
        Ok(self.evaluation(py, x.view(), Some(y), steps, None)?.error_rate())
    }

    /// The equilibrium-propagation estimate of the gradient of `L = mean C(y*, d)` (the
    /// config's cost) with respect to every parameter, on inputs `x` with integer labels `y`:
    /// `-(corr(s^beta) - corr(s^lower)) / span`, with `corr` the batch mean of `rho rho^T`;
    /// `nudging="centred"`: `s^lower = s^(-beta)`, span `2 beta`; `"one-sided"`: `s^lower =
    /// s^0`, span `beta`. The same sign as `true_gradient` (a training step moves the
    /// parameters by `-alpha` times it). Fixed points are relaxed to the `[gradcheck]`
    /// section's residual (`tolerance`, `max_steps`, `epsilon`, `schedule`) in float64.
    /// Returns `{"weights": [...], "biases": [...], "free_residual": r, "nudged_residual": r}`.
    #[pyo3(signature = (x, y, beta, nudging = "centred"))]
    fn ep_update<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        y: &Bound<'py, PyAny>,
        beta: f64,
        nudging: &str,
    ) -> PyResult<Bound<'py, PyDict>> {
        let centred = match nudging {
            "centred" => true,
            "one-sided" => false,
            other => {
                return Err(PyValueError::new_err(format!(
                    "nudging = \"{other}\": expected \"centred\" or \"one-sided\""
                )));
            }
        };
        if !(beta.is_finite() && beta > 0.0) {
            return Err(PyValueError::new_err(format!(
                "beta = {beta}: must be positive and finite"
            )));
        }
        let g = self.gradcheck()?;
        let (x, target) = self.inputs(x, y)?;
        let cost = self.config.training.cost;
        let net = self.net.cast::<f64>();
        let (estimate, free_residual, nudged_residual) = py
            .detach(|| -> Result<_, CoreError> {
                let (mut relaxer, free, free_residual) = free_fixed_point(&g, &net, x.view())?;
                let dynamics = Dynamics::projected(g.epsilon).with_schedule(g.schedule);
                let mut nudged = |b: f64| -> Result<(States<f64>, f64), CoreError> {
                    let mut st = free.clone();
                    let out = Output::Nudged { beta: b, target: target.view(), cost };
                    let r = relaxer.relax_to_residual(
                        &net,
                        &mut st,
                        &out,
                        &dynamics,
                        g.tolerance,
                        g.max_steps,
                    )?;
                    Ok((st, r.last_delta))
                };
                let (plus, r_plus) = nudged(beta)?;
                if centred {
                    let (minus, r_minus) = nudged(-beta)?;
                    let e = ep_estimate(&net, &plus, &minus, 2.0 * beta);
                    Ok((e, free_residual, r_plus.max(r_minus)))
                } else {
                    Ok((ep_estimate(&net, &plus, &free, beta), free_residual, r_plus))
                }
            })
            .map_err(core_err)?;
        let d = grad_dict(py, estimate)?;
        d.set_item("free_residual", free_residual)?;
        d.set_item("nudged_residual", nudged_residual)?;
        Ok(d)
    }

    /// The true gradient of `L = mean C(y*, d)` at the free fixed point of `x` (relaxed as in
    /// `ep_update`), by implicit differentiation (`ebm_core::gradient::true_gradient`: a
    /// conjugate-gradient solve of the Hessian restricted to the units inside the box).
    /// Returns `{"weights": [...], "biases": [...], "iterations": n, "solve_residual": r,
    /// "interior_fraction": f, "free_residual": r}`.
    fn true_gradient<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        y: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let g = self.gradcheck()?;
        let (x, target) = self.inputs(x, y)?;
        let cost = self.config.training.cost;
        let net = self.net.cast::<f64>();
        let (truth, free_residual) = py
            .detach(|| -> Result<_, CoreError> {
                let (_, free, free_residual) = free_fixed_point(&g, &net, x.view())?;
                let truth = true_gradient(&net, &free, target.view(), cost, 1e-12, 10_000)?;
                Ok((truth, free_residual))
            })
            .map_err(core_err)?;
        let d = grad_dict(py, truth.grad)?;
        d.set_item("iterations", truth.iterations)?;
        d.set_item("solve_residual", truth.solve_residual)?;
        d.set_item("interior_fraction", truth.interior_fraction)?;
        d.set_item("free_residual", free_residual)?;
        Ok(d)
    }

    fn __repr__(&self) -> String {
        format!("ebm.Net(sizes={:?})", self.net.sizes())
    }
}
