//! Tests of the trainer: the update against the formula, determinism across threads, and
//! interrupt-and-resume giving bit-identical weights.

use ebm_config::{BetaSign, Config, ValidConfig};
use ndarray::Array2;

use crate::checkpoint;
use crate::data::Mnist;
use crate::ep::{Rows, Workspace, train_batch};
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

fn small_data() -> Mnist {
    Mnist::embedded_limited(Limits { train: Some(200), test: Some(50) }).unwrap()
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
        let net0 = crate::ep::init_net(&config).unwrap();
        let mut net = net0.clone();
        let mut ws = Workspace::new(&net, 10);
        let mut particles: Vec<Array2<f32>> = vec![];
        train_batch(&config, &mut net, &mut ws, &mut particles, &data.train, Rows::Range(0), 0, 0)
            .unwrap();

        let x = data.train.images.slice(ndarray::s![0..10, ..]).to_owned();
        let mut target = Array2::<f32>::zeros((10, 10));
        for b in 0..10 {
            target[(b, data.train.labels[b] as usize)] = 1.0;
        }
        let dyn_ = crate::ep::dynamics(&config);
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

fn train_with_threads(threads: usize, config: &ValidConfig, data: &Mnist) -> TrainState {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
    pool.install(|| {
        let mut state = TrainState::new(config.clone(), data).unwrap();
        assert_eq!(train(&mut state, data, &mut Silent).unwrap(), Outcome::Finished);
        state
    })
}

#[test]
fn same_seed_gives_identical_runs_on_one_and_two_threads() {
    // 784-300-10 makes the input products large enough to be split over threads.
    let config = small_config(|c| {
        c.model.layers = vec![784, 300, 10];
        c.training.batch_size = 20;
        c.training.data_order = ebm_config::DataOrder::Shuffled;
    });
    let data = small_data();
    let a = train_with_threads(1, &config, &data);
    let b = train_with_threads(2, &config, &data);
    assert_eq!(a.net, b.net);
    assert_eq!(a.train_particles, b.train_particles);
    let strip = |s: &TrainState| {
        s.history
            .iter()
            .map(|m| (m.train_error_running, m.test_error, m.test_error_persistent, m.mean_energy))
            .collect::<Vec<_>>()
    };
    assert_eq!(strip(&a), strip(&b));
    assert!(a.history.last().unwrap().train_error_running < 0.9);
}

/// Stops after a given number of minibatches.
struct StopAfter(usize, usize);
impl Observer for StopAfter {
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
    let err = checkpoint::load(&path, &data, &["model.layers=[784, 31, 10]".into()]).unwrap_err();
    assert!(
        err.to_string().contains("W0 has shape (784, 30), the config needs (784, 31)"),
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
        "model.layers[0] = 100 does not match the data: the images have 784 pixels"
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
    let data = Mnist::embedded_limited(Limits { train: Some(1000), test: Some(500) }).unwrap();
    let mut state = TrainState::new(config, &data).unwrap();
    train(&mut state, &data, &mut Silent).unwrap();
    let h = &state.history;
    assert!(h[2].train_error_running < h[0].train_error_running, "{h:?}");
    assert!(h[2].test_error < 0.3, "{h:?}");
}
