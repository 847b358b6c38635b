//! Tests of the trainer: the update against the formula, determinism across threads, and
//! interrupt-and-resume giving bit-identical weights.

use ebm_config::{BetaSign, Config, ValidConfig};
use ndarray::Array2;

use crate::batch::Rows;
use crate::checkpoint;
use crate::data::DataSplits;
use crate::ep::{Minibatch, Workspace, train_batch};
use crate::run::init_net;
use crate::run::{Observer, Silent, TrainState, train};
use crate::{Limits, Outcome};

fn small_config(f: impl FnOnce(&mut Config)) -> ValidConfig {
    let mut c = Config::default();
    c.model.layers = vec![784, 30, 10];
    c.training.epochs = 2;
    c.training.batch_size = 10;
    c.data.train_limit = Some(200);
    c.data.test_limit = Some(50);
    f(&mut c);
    c.validate().unwrap()
}

fn small_data() -> DataSplits {
    DataSplits::embedded_limited(Limits { train: Some(200), test: Some(50), validation: 0 })
        .unwrap()
}

#[test]
fn contrastive_update_matches_the_formula() {
    // One minibatch by hand: relax free and nudged phases with ebm-core, then
    // dW_k = alpha_k / (beta B) (rho(s^b_k)^T rho(s^b_(k+1)) - rho(s^0_k)^T rho(s^0_(k+1))).
    for sign in [BetaSign::Fixed, BetaSign::Centred] {
        let config = small_config(|c| {
            c.model.layers = vec![784, 12, 7, 10];
            c.training.alphas = vec![0.3, 0.2, 0.1];
            c.training.beta_sign = sign;
            c.training.persistent_particles = false;
        });
        let data = small_data();
        let net0 = crate::run::init_net(&config).unwrap();
        let mut net = net0.clone();
        let mut ws = Workspace::new(&config, &net, 10);
        let mut particles: Vec<Array2<f32>> = vec![];
        train_batch(
            &config,
            &mut net,
            &mut ws,
            &mut particles,
            Minibatch { data: &data.train, rows: Rows::Range(0), epoch: 0, index: 0 },
        )
        .unwrap();

        let x = data.train.images.slice(ndarray::s![0..10, ..]).to_owned();
        let mut target = Array2::<f32>::zeros((10, 10));
        for b in 0..10 {
            target[(b, data.train.labels[b] as usize)] = 1.0;
        }
        let dyn_ = ebm_core::Dynamics::of(&config.dynamics);
        let mut free = ebm_core::States::with_input(&net0, x.view()).unwrap();
        let stop = |n| ebm_core::Stop::steps(n);
        ebm_core::relax(&net0, &mut free, &ebm_core::Output::Free, &dyn_, &stop(20), 0).unwrap();
        let nudge = |beta: f32| {
            let mut s = free.clone();
            let out = ebm_core::Output::Nudged {
                beta,
                target: target.view(),
                cost: ebm_config::CostKind::HalfSquared,
            };
            ebm_core::relax(&net0, &mut s, &out, &dyn_, &stop(4), 0).unwrap();
            s
        };
        let (pos, neg, denom) = match sign {
            BetaSign::Centred => (nudge(1.0), nudge(-1.0), 2.0),
            _ => (nudge(1.0), free.clone(), 1.0),
        };
        let rho = |a: &Array2<f32>| a.mapv(|v| v.clamp(0.0, 1.0));
        for k in 0..3 {
            let c = config.training.alphas[k] as f32 / (denom * 10.0);
            let dw = (rho(&pos.layers[k]).t().dot(&rho(&pos.layers[k + 1]))
                - rho(&neg.layers[k]).t().dot(&rho(&neg.layers[k + 1])))
                * c;
            let expected = &net0.weights[k] + &dw;
            let err = (&net.weights[k] - &expected).mapv(f32::abs).fold(0.0f32, |m, &v| m.max(v));
            assert!(err < 1e-5, "{sign:?} W{k}: max error {err}");
            let db =
                (rho(&pos.layers[k + 1]) - rho(&neg.layers[k + 1])).sum_axis(ndarray::Axis(0)) * c;
            let err = (&net.biases[k] - &(&net0.biases[k] + &db))
                .mapv(f32::abs)
                .fold(0.0f32, |m, &v| m.max(v));
            assert!(err < 1e-5, "{sign:?} b{k}: max error {err}");
        }
    }
}

fn train_with_threads(threads: usize, config: &ValidConfig, data: &DataSplits) -> TrainState {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
    pool.install(|| {
        let mut state = TrainState::new(config.clone(), data).unwrap();
        assert_eq!(train(&mut state, data, &mut Silent).unwrap(), Outcome::Finished);
        state
    })
}

#[test]
fn same_seed_gives_identical_runs_on_one_two_and_three_threads() {
    // 784-300-10 makes the input products large enough to be split over threads, and
    // 784-300-300-10 the hidden-to-hidden products and their updates as well. A minibatch of
    // 21 splits unevenly into 2 and 3 parts (see ep/split.rs); centred nudging relaxes two
    // trajectories per part; the dense kernels and the alternating schedule take the other
    // step paths; the temporal rule observes every step, so its minibatch is not split; the
    // spiking rule on spiking messages draws in both phases and in the evaluation's chunks.
    use ebm_config::{BetaSign, Kernels, LearningRule, Messages, Schedule};
    type Tweak = fn(&mut ebm_config::Config);
    let cases: [(Vec<usize>, Tweak); 6] = [
        (vec![784, 300, 10], |_| {}),
        (vec![784, 300, 300, 10], |c| c.training.beta_sign = BetaSign::Centred),
        (vec![784, 300, 10], |c| c.dynamics.kernels = Kernels::Dense),
        (vec![784, 300, 300, 10], |c| c.dynamics.schedule = Schedule::Alternating),
        (vec![784, 300, 10], |c| c.training.rule = LearningRule::Temporal),
        (vec![784, 300, 10], |c| {
            c.training.rule = LearningRule::Spiking;
            c.dynamics.messages = Messages::Spikes;
        }),
    ];
    for (layers, tweak) in cases {
        let config = small_config(|c| {
            c.training.alphas = vec![0.1; layers.len() - 1];
            c.model.layers = layers;
            c.training.batch_size = 21;
            c.training.data_order = ebm_config::DataOrder::Shuffled;
            tweak(c);
        });
        let data = small_data();
        let strip = |s: &TrainState| {
            s.history
                .iter()
                .map(|m| {
                    let e = (m.train_error_running, m.test_error, m.test_error_persistent);
                    (e, m.mean_energy, m.mean_cost)
                })
                .collect::<Vec<_>>()
        };
        let a = train_with_threads(1, &config, &data);
        assert!(a.history.last().unwrap().train_error_running < 0.9);
        for threads in [2, 3] {
            let b = train_with_threads(threads, &config, &data);
            let what = format!("{:?} on {threads} threads", config.model.layers);
            assert_eq!(a.net, b.net, "{what}");
            assert_eq!(a.train_particles, b.train_particles, "{what}");
            assert_eq!(strip(&a), strip(&b), "{what}");
        }
    }
}

/// Stops after a given number of minibatches.
struct StopAfter(usize, usize);
impl Observer for StopAfter {
    type Error = crate::TrainError;
    fn on_batch(&mut self, _: usize, _: usize, _: usize) {
        self.1 += 1;
    }
    fn should_stop(&self) -> bool {
        self.1 >= self.0
    }
}

#[test]
fn interrupted_and_resumed_run_ends_with_identical_weights() {
    let config = small_config(|c| c.training.beta_sign = BetaSign::Random);
    let data = small_data();
    let mut reference = TrainState::new(config.clone(), &data).unwrap();
    train(&mut reference, &data, &mut Silent).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(checkpoint::FILE_NAME);
    for stop_at in [1, 20, 27] {
        let mut state = TrainState::new(config.clone(), &data).unwrap();
        assert_eq!(
            train(&mut state, &data, &mut StopAfter(stop_at, 0)).unwrap(),
            Outcome::Interrupted
        );
        checkpoint::save(&path, &state).unwrap();
        let mut resumed = checkpoint::load(&path, &data, &[]).unwrap();
        assert_eq!((resumed.epoch, resumed.batch), (stop_at / 20, stop_at % 20));
        train(&mut resumed, &data, &mut Silent).unwrap();
        assert_eq!(resumed.net, reference.net, "stopped after {stop_at} minibatches");
        assert_eq!(resumed.test_particles, reference.test_particles);
        let errs = |s: &TrainState| s.history.iter().map(|m| m.test_error).collect::<Vec<_>>();
        assert_eq!(errs(&resumed), errs(&reference));
    }
}

#[test]
fn checkpoint_round_trips_and_rejects_another_architecture() {
    let config = small_config(|_| {});
    let data = small_data();
    let mut state = TrainState::new(config, &data).unwrap();
    train(&mut state, &data, &mut Silent).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.npz");
    checkpoint::save(&path, &state).unwrap();
    let back = checkpoint::load(&path, &data, &[]).unwrap();
    assert_eq!(back.net, state.net);
    assert_eq!(back.history, state.history);
    let other = ["model.layers=[784, 31, 10]".to_owned()];
    let err = checkpoint::load_net_with(&path, &other).unwrap_err();
    assert!(
        err.to_string().contains("W0 has shape (784, 30), the config needs (784, 31)"),
        "{err}"
    );
    // resuming with another architecture is refused before any array is read
    let err = checkpoint::load(&path, &data, &other).unwrap_err();
    assert!(
        matches!(&err, crate::TrainError::ResumeChange { changes, .. }
            if changes == &["model.layers ([784, 30, 10] -> [784, 31, 10])"]),
        "{err}"
    );
    std::fs::write(&path, b"PK\x03\x04 truncated").unwrap();
    let err = checkpoint::load(&path, &data, &[]).unwrap_err();
    assert!(err.is_bad_input() && err.to_string().contains("c.npz"), "{err}");
}

#[test]
fn input_size_must_match_the_data() {
    let config = small_config(|c| c.model.layers = vec![100, 10, 10]);
    let err = TrainState::new(config, &small_data()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "model.layers[0] = 100 does not match the data: the images have 784 pixels (28x28)"
    );
}

#[test]
fn learning_reduces_the_error() {
    let config = small_config(|c| {
        c.model.layers = vec![784, 100, 10];
        c.training.epochs = 3;
        c.data.train_limit = Some(1000);
        c.data.test_limit = Some(500);
    });
    let data =
        DataSplits::embedded_limited(Limits { train: Some(1000), test: Some(500), validation: 0 })
            .unwrap();
    let mut state = TrainState::new(config, &data).unwrap();
    train(&mut state, &data, &mut Silent).unwrap();
    let h = &state.history;
    assert!(h[2].train_error_running < h[0].train_error_running, "{h:?}");
    assert!(h[2].test_error < 0.3, "{h:?}");
}

#[test]
fn alpha_decay_scales_the_update_of_each_epoch() {
    // Epoch 2 (0-based) with decay 0.5 must train exactly like fixed rates of alphas / 4.
    let data = small_data();
    let step = |f: &dyn Fn(&mut Config)| {
        let config = small_config(|c| {
            c.training.alphas = vec![0.2, 0.08];
            f(c)
        });
        let mut net = init_net(&config).unwrap();
        let mut ws = Workspace::new(&config, &net, 10);
        let mut particles: Vec<Array2<f32>> =
            net.sizes()[1..].iter().map(|&n| Array2::zeros((data.train.len(), n))).collect();
        train_batch(
            &config,
            &mut net,
            &mut ws,
            &mut particles,
            Minibatch { data: &data.train, rows: Rows::Range(0), epoch: 2, index: 0 },
        )
        .unwrap();
        net
    };
    let decayed = step(&|c| c.training.alpha_decay = 0.5);
    let scaled = step(&|c| c.training.alphas = vec![0.05, 0.02]);
    let fixed = step(&|_| {});
    assert_eq!(decayed, scaled);
    assert_ne!(decayed, fixed);
    let t = &small_config(|c| c.training.alpha_decay = 0.9).training;
    assert_eq!(crate::schedule::learning_rate(t, 1, 0), t.alphas[1]);
    assert!((crate::schedule::learning_rate(t, 1, 3) - t.alphas[1] * 0.729).abs() < 1e-15);
}

#[test]
fn a_schedule_that_anneals_fixes_the_runs_length_on_resume() {
    let config = small_config(|c| {
        c.training.epochs = 1;
        c.training.schedule = ebm_config::RateSchedule::Step;
    });
    let data = small_data();
    let mut state = TrainState::new(config, &data).unwrap();
    train(&mut state, &data, &mut Silent).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(checkpoint::FILE_NAME);
    checkpoint::save(&path, &state).unwrap();
    let err = checkpoint::load(&path, &data, &["training.epochs=3".into()]).unwrap_err();
    assert!(
        matches!(&err, crate::TrainError::ResumeChange { changes, .. }
            if changes == &["training.epochs (1 -> 3)"]),
        "{err}"
    );
    let err = checkpoint::load(&path, &data, &["training.schedule=\"constant\"".into()]);
    assert!(err.is_err(), "the schedule was declared before the run");
}

#[test]
fn best_validation_selects_the_epoch_of_least_validation_error_and_resumes_exactly() {
    let config = small_config(|c| {
        c.training.epochs = 4;
        c.data.train_limit = None;
        c.data.validation = 9800;
        c.training.select = ebm_config::Selection::BestValidation;
    });
    let data = DataSplits::from_config(&config.data).unwrap();
    assert_eq!((data.train.len(), data.validation.as_ref().unwrap().len()), (200, 9800));
    let mut whole = TrainState::new(config.clone(), &data).unwrap();
    train(&mut whole, &data, &mut Silent).unwrap();
    let errors: Vec<f64> = whole.history.iter().map(|m| m.validation_error.unwrap()).collect();
    let best = (0..errors.len()).fold(0, |b, i| if errors[i] < errors[b] { i } else { b });
    let selected = whole.selected.clone().unwrap();
    assert_eq!(selected.epoch, best + 1, "{errors:?}");
    assert_eq!(selected.validation_error, errors[best]);
    assert_eq!(selected.test_error, whole.history[best].test_error);
    assert!(whole.history.iter().all(|m| m.validation_error_persistent.is_some()));
    // stopped after 2 epochs and resumed from a checkpoint: the same selection and particles
    let mut first = TrainState::new(small_config_like(&config, 2), &data).unwrap();
    train(&mut first, &data, &mut Silent).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(checkpoint::FILE_NAME);
    checkpoint::save(&path, &first).unwrap();
    let mut resumed = checkpoint::load(&path, &data, &["training.epochs=4".into()]).unwrap();
    train(&mut resumed, &data, &mut Silent).unwrap();
    assert_eq!(resumed.selected, whole.selected);
    assert_eq!(resumed.validation_particles, whole.validation_particles);
    assert_eq!(resumed.net, whole.net);
}

/// `config` with `epochs` epochs.
fn small_config_like(config: &ValidConfig, epochs: usize) -> ValidConfig {
    let mut c = config.config().clone();
    c.training.epochs = epochs;
    c.validate().unwrap()
}

#[test]
fn step_and_cosine_schedules_end_the_run_annealed() {
    use crate::schedule::learning_rate;
    let mut t = ebm_config::TrainingConfig { epochs: 10, ..Default::default() };
    t.schedule = ebm_config::RateSchedule::Step;
    t.anneal_epochs = 2;
    let a = t.alphas[0];
    let rates: Vec<f64> = (0..10).map(|e| learning_rate(&t, 0, e)).collect();
    assert!(rates[..8].iter().all(|&r| r == a), "{rates:?}");
    assert!(rates[8..].iter().all(|&r| (r - a / 10.0).abs() < 1e-15), "{rates:?}");
    t.schedule = ebm_config::RateSchedule::Cosine;
    assert_eq!(learning_rate(&t, 0, 0), a);
    assert!((learning_rate(&t, 0, 5) - a / 2.0).abs() < 1e-15);
    let last = learning_rate(&t, 0, 9);
    assert!(last > 0.0 && last < 0.03 * a, "{last}");
    // the decay multiplies either schedule
    t.alpha_decay = 0.5;
    assert!((learning_rate(&t, 0, 5) - a / 2.0 / 32.0).abs() < 1e-15);
}

#[test]
fn train_set_is_re_evaluated_every_n_epochs_and_at_the_last() {
    let run = |every: usize| {
        let config = small_config(|c| {
            c.training.epochs = 5;
            c.training.train_eval_every = every;
        });
        let data = small_data();
        let mut state = TrainState::new(config, &data).unwrap();
        train(&mut state, &data, &mut Silent).unwrap();
        state.history.iter().map(|m| m.train_error).collect::<Vec<_>>()
    };
    let every = run(1);
    assert!(every.iter().all(Option::is_some), "{every:?}");
    let some = |v: &[Option<f64>]| v.iter().map(Option::is_some).collect::<Vec<_>>();
    assert_eq!(some(&run(2)), [false, true, false, true, true]);
    let never = run(0);
    assert_eq!(some(&never), [false; 5]);
    // Skipping the evaluation changes nothing else: the evaluated epochs agree.
    assert_eq!(run(2)[1], every[1]);
}

// ---- numerical faults (issue 6) ----

#[test]
fn nan_weight_is_caught_in_the_first_relaxation_naming_the_layer() {
    let config = small_config(|_| {});
    let data = small_data();
    let mut state = TrainState::new(config, &data).unwrap();
    state.net.weights[1][(3, 4)] = f32::NAN;
    let err = train(&mut state, &data, &mut Silent).unwrap_err();
    assert!(
        matches!(
            err,
            crate::TrainError::Diverged {
                epoch: 1,
                batch: 1,
                fault: ebm_core::CoreError::NonFiniteState { step: 1, .. }
            }
        ),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(msg.contains("epoch 1, minibatch 1") && msg.contains("layer"), "{msg}");
    assert!(err.is_bad_input());
    assert!(state.history.is_empty() && state.batch == 0, "no minibatch counted");
}

#[test]
fn overflowing_learning_rate_stops_at_the_update_naming_the_weight_layer() {
    // alpha = 1e39 is inf in f32: the first update of W1 is non-finite; W0's rate is sane.
    let config = small_config(|c| c.training.alphas = vec![0.1, 1e39]);
    let data = small_data();
    let mut state = TrainState::new(config, &data).unwrap();
    let err = train(&mut state, &data, &mut Silent).unwrap_err();
    assert!(
        matches!(
            err,
            crate::TrainError::Diverged {
                epoch: 1,
                batch: 1,
                fault: ebm_core::CoreError::NonFiniteParameter { what: "weights", layer: 1 }
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "training diverged: non-finite values at epoch 1, minibatch 1: non-finite weights in \
         weight layer 1 (lower training.alphas or dynamics.epsilon)"
    );
}

#[test]
fn observer_after_batch_sees_every_minibatch_and_can_stop_the_run() {
    struct Count(Vec<(usize, usize)>);
    impl Observer for Count {
        type Error = crate::TrainError;
        fn after_batch(&mut self, s: &TrainState) -> Result<(), crate::TrainError> {
            s.net.check_finite()?;
            self.0.push((s.epoch, s.batch));
            if self.0.len() == 25 {
                return Err(crate::TrainError::ConfigMismatch {
                    field: "test",
                    value: "25".into(),
                    reason: "stop".into(),
                });
            }
            Ok(())
        }
    }
    let data = small_data();
    let mut state = TrainState::new(small_config(|_| {}), &data).unwrap();
    let mut obs = Count(vec![]);
    assert!(train(&mut state, &data, &mut obs).is_err());
    assert_eq!(obs.0[..3], [(0, 1), (0, 2), (0, 3)]);
    assert_eq!(obs.0[19..], [(0, 20), (1, 1), (1, 2), (1, 3), (1, 4), (1, 5)]);
}

// ---- bad checkpoints (issue 6) ----

/// A one-epoch state of `small_config`, `edit`ed, then saved (`save` writes whatever the
/// state holds, so the edits make bad checkpoints); returns the path and the data.
fn saved_checkpoint(
    dir: &std::path::Path,
    edit: impl FnOnce(&mut TrainState),
) -> (std::path::PathBuf, DataSplits) {
    let data = small_data();
    let mut state = TrainState::new(small_config(|c| c.training.epochs = 1), &data).unwrap();
    train(&mut state, &data, &mut Silent).unwrap();
    edit(&mut state);
    let path = dir.join(checkpoint::FILE_NAME);
    checkpoint::save(&path, &state).unwrap();
    (path, data)
}

/// The reason of a `Checkpoint` error.
fn reason(err: crate::TrainError) -> String {
    match err {
        crate::TrainError::Checkpoint { reason, .. } => reason,
        other => panic!("expected a Checkpoint error, got {other:?}"),
    }
}

/// The reason of the `Checkpoint` error `load` and `load_net` give for the file.
fn checkpoint_reason(path: &std::path::Path, data: &DataSplits) -> String {
    let from_load = reason(checkpoint::load(path, data, &[]).unwrap_err());
    let from_load_net = checkpoint::load_net(path).map(|_| ()).map_err(reason);
    // load_net reads only the network: it agrees whenever the fault is there.
    if let Err(r) = from_load_net {
        assert_eq!(r, from_load);
    }
    from_load
}

#[test]
fn truncated_checkpoint_is_refused_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let (path, data) = saved_checkpoint(dir.path(), |_| {});
    let bytes = std::fs::read(&path).unwrap();
    for cut in [0, 10, bytes.len() / 2, bytes.len() - 10] {
        std::fs::write(&path, &bytes[..cut]).unwrap();
        let err = checkpoint::load(&path, &data, &[]).unwrap_err();
        assert!(err.is_bad_input(), "{cut}: {err}");
        assert!(err.to_string().starts_with(&format!("checkpoint {}", path.display())), "{err}");
        let reason = checkpoint_reason(&path, &data);
        assert!(reason.starts_with("not a readable .npz file"), "{cut}: {reason}");
    }
}

#[test]
fn checkpoint_missing_an_array_is_refused_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    // Without the second bias, `save` writes neither W1 nor b1.
    let (path, data) = saved_checkpoint(dir.path(), |s| {
        s.net.biases.pop();
    });
    let reason = checkpoint_reason(&path, &data);
    assert!(reason.starts_with("array `W1`"), "{reason}");
    let (path, data) = saved_checkpoint(dir.path(), |s| {
        s.test_particles.pop();
    });
    assert!(checkpoint_reason(&path, &data).starts_with("array `train_s2`"));
}

#[test]
fn checkpoint_arrays_of_the_wrong_shape_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (path, data) =
        saved_checkpoint(dir.path(), |s| s.net.weights[1] = s.net.weights[1].t().to_owned());
    assert_eq!(
        checkpoint_reason(&path, &data),
        "array W1 has shape (10, 30), the config needs (30, 10)"
    );
    let (path, data) =
        saved_checkpoint(dir.path(), |s| s.net.biases[0] = ndarray::Array1::zeros(3));
    assert_eq!(checkpoint_reason(&path, &data), "array b0 has shape (3,), the config needs (30,)");
    // particles of another dataset size
    let other =
        DataSplits::embedded_limited(Limits { train: Some(100), test: Some(50), validation: 0 })
            .unwrap();
    let (path, _) = saved_checkpoint(dir.path(), |_| {});
    assert_eq!(
        checkpoint_reason(&path, &other),
        "array train_s1 has shape (200, 30), the config needs (100, 30)"
    );
}

#[test]
fn checkpoint_with_non_finite_weights_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (path, data) = saved_checkpoint(dir.path(), |s| s.net.weights[0][(0, 0)] = f32::INFINITY);
    assert_eq!(checkpoint_reason(&path, &data), "array W0 holds NaN or infinite values");
}

#[test]
fn checkpoint_of_another_architecture_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (path, data) = saved_checkpoint(dir.path(), |_| {});
    for (layers, alphas, expected) in [
        ("[784, 31, 10]", "[0.1, 0.1]", "array W0 has shape (784, 30), the config needs (784, 31)"),
        (
            "[784, 30, 20, 10]",
            "[0.1, 0.1, 0.1]",
            "array W1 has shape (30, 10), the config needs (30, 20)",
        ),
    ] {
        let overrides = [format!("model.layers={layers}"), format!("training.alphas={alphas}")];
        let err = checkpoint::load_net_with(&path, &overrides).map(|_| ()).unwrap_err();
        assert_eq!(reason(err), expected);
    }
    // Overrides that make the saved config invalid are named too.
    let why =
        reason(checkpoint::load(&path, &data, &["model.layers=[784,10]".into()]).unwrap_err());
    assert!(why.contains("training.alphas has 2 entries"), "{why}");
}

#[test]
fn sparse_kernels_train_like_the_dense_reference() {
    // A few minibatches on real digits with each learning rule and schedule: the sparse path
    // (sparse input products, zero-skipping fused steps) and the dense reference compute the
    // same sums, so the weights agree to f32 rounding.
    use ebm_config::{Kernels, LearningRule, Schedule};
    let data = small_data();
    for (rule, schedule) in [
        (LearningRule::Contrastive, Schedule::Synchronous),
        (LearningRule::Contrastive, Schedule::Alternating),
        (LearningRule::Temporal, Schedule::Synchronous),
    ] {
        let nets = [Kernels::Sparse, Kernels::Dense].map(|kernels| {
            let config = small_config(|c| {
                c.model.layers = vec![784, 40, 10];
                c.training.rule = rule;
                c.dynamics.schedule = schedule;
                c.dynamics.kernels = kernels;
            });
            let mut net = crate::run::init_net(&config).unwrap();
            let mut ws = Workspace::new(&config, &net, 10);
            let mut particles = vec![Array2::zeros((200, 40)), Array2::zeros((200, 10))];
            for b in 0..6 {
                let rows = Rows::Range(10 * b);
                train_batch(
                    &config,
                    &mut net,
                    &mut ws,
                    &mut particles,
                    Minibatch { data: &data.train, rows, epoch: 0, index: b },
                )
                .unwrap();
            }
            net
        });
        let mut moved = 0.0f32;
        for (k, (ws, wd)) in nets[0].weights.iter().zip(&nets[1].weights).enumerate() {
            let scale = wd.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            let err = (ws - wd).mapv(f32::abs).fold(0.0f32, |m, &v| m.max(v));
            assert!(err <= 1e-5 * scale, "{rule:?} {schedule:?} W{k}: {err} (max |W| {scale})");
            let init = crate::run::init_net(&small_config(|c| c.model.layers = vec![784, 40, 10]));
            moved += (wd - &init.unwrap().weights[k]).mapv(f32::abs).sum();
        }
        assert!(moved > 0.1, "{rule:?} {schedule:?}: the weights must move ({moved})");
    }
}

/// One minibatch (the first 10 examples) from the config's initial weights: each weight
/// matrix's change.
fn first_batch_update(config: &ValidConfig) -> Vec<Array2<f32>> {
    let data = small_data();
    let net0 = crate::run::init_net(config).unwrap();
    let mut net = net0.clone();
    let mut ws = Workspace::new(config, &net, 10);
    let mb = Minibatch { data: &data.train, rows: Rows::Range(0), epoch: 0, index: 0 };
    train_batch(config, &mut net, &mut ws, &mut [], mb).unwrap();
    (0..net.depth()).map(|k| &net.weights[k] - &net0.weights[k]).collect()
}

#[test]
fn shared_noise_makes_the_centred_difference_the_effect_of_beta() {
    // With noisy dynamics (spiking messages, or Langevin noise) and a tiny beta, the centred
    // update divides the difference of the +beta and -beta trajectories by 2 beta: two noise
    // realisations give a huge update, the same draws replayed (training.shared_noise) one of
    // the size of the deterministic rates' update.
    use ebm_config::{Messages, UpdateRuleKind};
    type Tweak = fn(&mut ebm_config::Config);
    let rates: Tweak = |_| {};
    let spikes: Tweak = |c| c.dynamics.messages = Messages::Spikes;
    let langevin: Tweak = |c| {
        c.dynamics.rule = UpdateRuleKind::LeakyIntegrator;
        c.dynamics.noise_std = 0.3;
    };
    let update = |shared: bool, tweak: Tweak| {
        let config = small_config(|c| {
            c.training.beta = 1e-3;
            c.training.beta_sign = BetaSign::Centred;
            c.training.persistent_particles = false;
            c.training.shared_noise = shared;
            tweak(c);
        });
        first_batch_update(&config)[1].iter().map(|v| v * v).sum::<f32>().sqrt()
    };
    let reference = update(false, rates);
    for (name, noisy) in [("spikes", spikes), ("langevin", langevin)] {
        let (independent, shared) = (update(false, noisy), update(true, noisy));
        assert!(
            independent > 20.0 * reference,
            "{name}: independent {independent}, rates {reference}"
        );
        assert!(shared < 5.0 * reference, "{name}: shared {shared}, rates {reference}");
    }
}

#[test]
fn the_midpoint_temporal_rule_is_the_contrastive_update() {
    // Summed over a trajectory, (rho(t) + rho(t+1)) / 2 times delta rho telescopes to the
    // contrastive product difference exactly; the start-of-step form differs from it by
    // sum_t delta rho_i delta rho_j.
    use ebm_config::{LearningRule, PresynapticTime};
    let update = |rule: LearningRule, time: PresynapticTime| {
        let config = small_config(|c| {
            c.training.beta_sign = BetaSign::Centred;
            c.training.persistent_particles = false;
            c.training.rule = rule;
            c.training.presynaptic_time = time;
        });
        first_batch_update(&config)
    };
    let contrastive = update(LearningRule::Contrastive, PresynapticTime::Start);
    let midpoint = update(LearningRule::Temporal, PresynapticTime::Midpoint);
    let start = update(LearningRule::Temporal, PresynapticTime::Start);
    let dist = |a: &[Array2<f32>], b: &[Array2<f32>]| {
        a.iter().zip(b).map(|(a, b)| (a - b).iter().map(|v| v * v).sum::<f32>()).sum::<f32>().sqrt()
    };
    let norm: f32 =
        contrastive.iter().map(|d| d.iter().map(|v| v * v).sum::<f32>()).sum::<f32>().sqrt();
    assert!(
        dist(&midpoint, &contrastive) < 1e-4 * norm,
        "{} of {norm}",
        dist(&midpoint, &contrastive)
    );
    assert!(dist(&start, &contrastive) > 1e-3 * norm, "{} of {norm}", dist(&start, &contrastive));
}

#[test]
fn spiking_rule_on_spiking_messages_holds_back_the_input_update_to_the_minibatch_end() {
    // With spiking messages each step's input drive is recomputed from W_0, so a W_0 changed
    // during the nudged phase would feed the phase's own delta rho_1 back into its dynamics
    // (it did, and the weights grew without bound). Held back to the minibatch's end, W_0's
    // learning rate cannot change what the other layers learn in the same minibatch.
    use ebm_config::{LearningRule, Messages};
    let update = |alpha0: f64| {
        let config = small_config(|c| {
            c.dynamics.messages = Messages::Spikes;
            c.training.rule = LearningRule::Spiking;
            c.training.beta_sign = BetaSign::Centred;
            c.training.shared_noise = true;
            c.training.persistent_particles = false;
            c.training.alphas[0] = alpha0;
        });
        first_batch_update(&config)
    };
    let (learning, frozen) = (update(0.5), update(0.0));
    assert!(learning[0].iter().any(|&v| v != 0.0), "W_0 learns");
    assert!(frozen[0].iter().all(|&v| v == 0.0), "W_0 frozen");
    assert_eq!(learning[1], frozen[1], "W_1's update depends on W_0's learning rate");
}
