//! Relaxing to a stopping rule (a step budget and tolerance, or a residual), and the
//! measurements of a relaxation: the residual of the fixed-point condition and the energy, in
//! the relaxer's buffers without allocating.

use ndarray::Zip;

use super::{Dynamics, Relaxation, Relaxer, Stop};
use crate::energy::{self, Output, cost_factor};
use crate::kernels;
use crate::{CoreError, LayeredNet, Scalar, States};

impl<A: Scalar> Relaxer<A> {
    /// The residual of [`Dynamics::residual`] (`max |clip(s - dF/ds) - s|` for the projected
    /// rule, `max |dF/ds|` for the leaky integrator; the clamped output does not count),
    /// computed in the relaxer's buffers without allocating. Requires [`Relaxer::set_input`].
    pub fn residual(
        &mut self,
        net: &LayeredNet<A>,
        states: &States<A>,
        output: &Output<'_, A>,
        dynamics: &Dynamics,
    ) -> Result<f64, CoreError> {
        self.check_states(net, states)?;
        let depth = net.depth();
        for k in 1..=depth {
            self.rho_layer(net, states, k, false);
        }
        let (lo, hi) = dynamics.bounds(net.rho);
        let rho = net.rho;
        let mut m = 0.0f64;
        self.prepare_custom(states, output);
        let custom = std::mem::take(&mut self.custom);
        for k in 1..=depth {
            let is_output = k == depth;
            let (force, target) = match output {
                Output::Clamped { .. } if is_output => continue,
                Output::Nudged { beta, target, cost } if is_output => {
                    (*beta * cost_factor::<A>(*cost), Some(target.view()))
                }
                Output::Custom { beta, .. } if is_output => (*beta, Some(custom.view())),
                _ => (A::zero(), None),
            };
            self.drive_layer(net, k, false);
            let s = &states.layers[k];
            let u = &self.drive[k];
            let mut one = |sv: A, uv: A, dv: A| {
                let g = sv - rho.prime(sv) * uv + force * (sv - dv);
                let sv = sv.f64();
                m = m.max(((sv - g.f64()).clamp(lo, hi) - sv).abs());
            };
            match target {
                Some(t) => Zip::from(s).and(u).and(&t).for_each(|&sv, &uv, &dv| one(sv, uv, dv)),
                None => Zip::from(s).and(u).for_each(|&sv, &uv| one(sv, uv, A::zero())),
            }
        }
        self.custom = custom;
        Ok(m)
    }

    /// `E(s)` per example (Eq 2.7), computed from the cached input drive so the input product
    /// is not repeated: the `rho(x) W_0 rho(s_1)` and `b_0 . rho(s_1)` terms are
    /// `input_drive . rho(s_1)`. Uses the step buffers as scratch. Returns `(batch,)`.
    pub fn energy(&mut self, net: &LayeredNet<A>, states: &States<A>) -> ndarray::Array1<A> {
        let rho = net.rho;
        let half = A::of(0.5);
        let depth = net.depth();
        for k in 1..=depth {
            Zip::from(&mut self.rho[k]).and(&states.layers[k]).for_each(|r, &s| *r = rho.eval(s));
        }
        let mut e = ndarray::Array1::<A>::zeros(self.batch);
        for (b, e_b) in e.iter_mut().enumerate() {
            let mut acc = A::zero();
            for s in &states.layers {
                acc += s.row(b).iter().fold(A::zero(), |a, &v| a + v * v) * half;
            }
            *e_b = acc - self.input_drive.row(b).dot(&self.rho[1].row(b));
        }
        for k in 1..depth {
            let (lower, upper) = self.rho.split_at(k + 1);
            let d = &mut self.drive[k + 1];
            d.assign(&net.biases[k]);
            kernels::par_gemm(A::one(), &lower[k], &net.weights[k], A::one(), d);
            for (b, e_b) in e.iter_mut().enumerate() {
                *e_b -= d.row(b).dot(&upper[0].row(b));
            }
        }
        e
    }

    /// Relax until `max |delta s| < stop.tolerance` or `stop.max_steps` steps.
    /// Requires [`Relaxer::set_input`] for the states' input.
    pub fn relax(
        &mut self,
        net: &LayeredNet<A>,
        states: &mut States<A>,
        output: &Output<'_, A>,
        dynamics: &Dynamics,
        stop: &Stop,
    ) -> Result<Relaxation, CoreError> {
        self.check_states(net, states)?;
        let mut result = Relaxation {
            steps: 0,
            last_delta: f64::INFINITY,
            converged: false,
            energy_trace: Vec::new(),
        };
        let fast = self.fast_path(net, states, output, dynamics);
        for step in 0..stop.max_steps {
            let track = stop.tolerance > 0.0 || step + 1 == stop.max_steps;
            let delta = self.step_unchecked(net, states, output, dynamics, step, track, fast)?;
            result.steps = step + 1;
            result.last_delta = delta;
            if stop.trace_energy {
                let f = energy::total_energy(net, states, output);
                result.energy_trace.push(f.mean().map_or(0.0, Scalar::f64));
            }
            if stop.tolerance > 0.0 && delta < stop.tolerance {
                result.converged = true;
                break;
            }
        }
        Ok(result)
    }

    /// Relax until the residual [`Relaxer::residual`] is at most `tolerance`, checked before
    /// the first step and after every step, or `max_steps` steps. `steps` in the result is the
    /// number of steps after which the residual first reached the tolerance (0 if the start
    /// already did), `last_delta` that residual. Costs one extra set of products per step (the
    /// residual's net inputs); for measurements and reference fixed points, not training.
    pub fn relax_to_residual(
        &mut self,
        net: &LayeredNet<A>,
        states: &mut States<A>,
        output: &Output<'_, A>,
        dynamics: &Dynamics,
        tolerance: f64,
        max_steps: usize,
    ) -> Result<Relaxation, CoreError> {
        let mut result = Relaxation {
            steps: 0,
            last_delta: self.residual(net, states, output, dynamics)?,
            converged: false,
            energy_trace: Vec::new(),
        };
        let fast = self.fast_path(net, states, output, dynamics);
        while result.last_delta > tolerance && result.steps < max_steps {
            self.step_unchecked(net, states, output, dynamics, result.steps, false, fast)?;
            result.steps += 1;
            result.last_delta = self.residual(net, states, output, dynamics)?;
        }
        result.converged = result.last_delta <= tolerance;
        Ok(result)
    }
}
