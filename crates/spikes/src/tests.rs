//! Unit tests of the spikes crate: hand-worked pairing cases (dt = 0, spikes on both sides,
//! window edges), the kernel, the bit-sliced Bernoulli draws, ds/dt and the experiment's
//! independence from the thread count.

use ebm_config::Config;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::rng::{Stream, stream};
use crate::{
    Derivative, Experiment, Pair, Scheme, Slope, SpikeModel, SpikeProbability, SpikeTrain,
    StdpKernel, bernoulli_lanes, pairs, threshold, windowed_nearest,
};

fn train(times: &[u32]) -> SpikeTrain {
    SpikeTrain::new(times.to_vec()).unwrap()
}

fn p(pre: u32, post: u32) -> Pair {
    Pair { pre, post }
}

#[test]
fn windowed_hand_worked_cases() {
    // (pre spike, post train, expected dt), window 20
    let cases: &[(u32, &[u32], Option<i64>)] = &[
        (50, &[], None),           // no postsynaptic spike
        (50, &[50], None),         // a single spike coinciding with the presynaptic one
        (50, &[50, 55], Some(0)),  // coinciding spike plus one side: nearest is dt = 0
        (50, &[45, 50], Some(0)),  // same on the left
        (50, &[45, 50, 55], None), // both sides (and the centre)
        (50, &[45, 55], None),     // both sides
        (50, &[52, 60], Some(2)),  // right only: nearest
        (50, &[40, 47], Some(-3)), // left only: nearest
        (50, &[70], Some(20)),     // right window edge is inside
        (50, &[71], None),         // just outside
        (50, &[30], Some(-20)),    // left window edge is inside
        (50, &[29], None),         // just outside
        (50, &[29, 53], Some(3)),  // a left spike outside the window does not count
        (50, &[30, 53], None),     // ... but one on the edge does
        (50, &[47, 71], Some(-3)), // a right spike outside the window does not count
        (0, &[3], Some(3)),        // the start of time
        (5, &[0, 6], None),        // both sides near the start
    ];
    for &(pre, post, expected) in cases {
        assert_eq!(windowed_nearest(pre, &train(post), 20), expected, "pre {pre}, post {post:?}");
    }
}

#[test]
fn restricted_schemes_part_where_spikes_coincide_as_nest_does() {
    // The two trains an independent check against NEST's stdp_nn_restr_synapse used.
    let (pre, post) = (train(&[10, 20]), train(&[10]));
    assert_eq!(pairs(Scheme::Restricted, &pre, &post), vec![p(20, 10)]);
    assert!(pairs(Scheme::RestrictedNest, &pre, &post).is_empty());
    let (pre, post) = (train(&[10, 20]), train(&[5, 20]));
    assert_eq!(pairs(Scheme::Restricted, &pre, &post), vec![p(10, 5), p(10, 20)]);
    assert_eq!(pairs(Scheme::RestrictedNest, &pre, &post), vec![p(10, 5), p(10, 20), p(20, 5)]);
    // With the kernel of the experiment (A+ 1, tau+ 16.8, A- 0.5, tau- 33.7: Bi & Poo's fit
    // as `StdpKernel::default` has it) the totals are NEST's -0.20 and ours +0.12.
    let k = StdpKernel::default();
    let total = |s: Scheme| pairs(s, &pre, &post).iter().map(|q| k.eval(q.dt())).sum::<f64>();
    assert!(
        (total(Scheme::RestrictedNest) + 0.200).abs() < 5e-3,
        "{}",
        total(Scheme::RestrictedNest)
    );
    assert!((total(Scheme::Restricted) - 0.120).abs() < 5e-3, "{}", total(Scheme::Restricted));
    // Without coincidences the two agree.
    for (pre, post) in
        [(&[10u32, 20][..], &[15u32, 25][..]), (&[10, 12], &[15]), (&[10], &[12, 14])]
    {
        let (pre, post) = (train(pre), train(post));
        assert_eq!(
            pairs(Scheme::Restricted, &pre, &post),
            pairs(Scheme::RestrictedNest, &pre, &post)
        );
    }
}

#[test]
fn morrison_schemes_hand_worked() {
    let (pre, post) = (train(&[10, 20]), train(&[15, 25]));
    let sym = vec![p(10, 15), p(20, 15), p(20, 25)];
    assert_eq!(pairs(Scheme::Symmetric, &pre, &post), sym);
    assert_eq!(pairs(Scheme::PreCentred, &pre, &post), sym);
    assert_eq!(pairs(Scheme::Restricted, &pre, &post), sym);

    // two presynaptic spikes before one postsynaptic spike
    let (pre, post) = (train(&[10, 12]), train(&[15]));
    assert_eq!(pairs(Scheme::Symmetric, &pre, &post), vec![p(12, 15)]);
    assert_eq!(pairs(Scheme::PreCentred, &pre, &post), vec![p(10, 15), p(12, 15)]);
    assert_eq!(pairs(Scheme::Restricted, &pre, &post), vec![p(12, 15)]);

    // one presynaptic spike before two postsynaptic spikes
    let (pre, post) = (train(&[10]), train(&[12, 14]));
    assert_eq!(pairs(Scheme::Symmetric, &pre, &post), vec![p(10, 12), p(10, 14)]);
    assert_eq!(pairs(Scheme::PreCentred, &pre, &post), vec![p(10, 12)]);
    assert_eq!(pairs(Scheme::Restricted, &pre, &post), vec![p(10, 12)]);

    // simultaneous spikes never pair (dt = 0 is neither potentiation nor depression)
    let (pre, post) = (train(&[10]), train(&[10]));
    for (_, scheme) in Scheme::MORRISON {
        assert!(pairs(scheme, &pre, &post).is_empty(), "{scheme:?}");
    }
    // the paper's rule: a lone coinciding spike does not pair
    assert!(pairs(Scheme::Windowed { window: 20 }, &pre, &post).is_empty());
}

#[test]
fn kernel_values() {
    let k = StdpKernel::default();
    assert_eq!(k.eval(0), 0.0);
    assert!((k.eval(1) - (-1.0f64 / 16.8).exp()).abs() < 1e-15);
    assert!((k.eval(-1) + 0.5 * (-1.0f64 / 33.7).exp()).abs() < 1e-15);
    assert!((k.eval(168) - (-10.0f64).exp()).abs() < 1e-15);
    assert!(k.eval(5) < k.eval(4) && k.eval(-5) > k.eval(-4));
}

#[test]
fn spike_train_rejects_unsorted_times() {
    assert!(SpikeTrain::new(vec![1, 1]).is_err());
    assert!(SpikeTrain::new(vec![2, 1]).is_err());
    assert_eq!(SpikeTrain::from_bools(&[false, true, true, false, true]).times(), &[1, 2, 4]);
}

#[test]
fn spike_probabilities() {
    assert_eq!(SpikeModel::Bernoulli.probability(0.25, 0.5), 0.125);
    assert_eq!(SpikeModel::Bernoulli.probability(4.0, 0.5), 1.0);
    assert_eq!(SpikeModel::Bernoulli.probability(0.25, 0.0), 0.0);
    let p = SpikeModel::Poisson.probability(0.25, 0.5);
    assert!((p - (1.0 - (-0.125f64).exp())).abs() < 1e-15);
    assert_eq!(threshold(0.0), 0);
    assert_eq!(threshold(1.0), 1 << 32);
    assert_eq!(threshold(0.5), 1 << 31);
}

#[test]
fn bernoulli_lanes_extremes_and_half() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    assert_eq!(bernoulli_lanes(0, &mut rng), 0);
    assert_eq!(bernoulli_lanes(1 << 32, &mut rng), u64::MAX);
    // p = 1/2: the first bit decides every lane, spike where it is 0
    let mut a = ChaCha8Rng::seed_from_u64(4);
    let mut b = a.clone();
    assert_eq!(bernoulli_lanes(1 << 31, &mut a), !rand::RngCore::next_u64(&mut b));
}

#[test]
fn bernoulli_lanes_frequency() {
    // 64 x 4000 draws per probability: the count is within 5 standard deviations
    let mut rng = stream(9, Stream::Rates { sequence: 0 });
    for p in [0.001, 0.07, 0.3, 0.5, 0.77, 0.999] {
        let n = 64.0 * 4000.0;
        let hits: u32 =
            (0..4000).map(|_| bernoulli_lanes(threshold(p), &mut rng).count_ones()).sum();
        let sd = (n * p * (1.0 - p)).sqrt();
        assert!((f64::from(hits) - n * p).abs() < 5.0 * sd, "p {p}: {hits} hits of {n}");
    }
}

#[test]
fn derivative_estimates() {
    let s: Vec<f64> = (0..5).map(|t| f64::from(t * t)).collect();
    assert_eq!(Derivative::Central.at(&s, 2), 4.0);
    assert_eq!(Derivative::Forward.at(&s, 2), 5.0);
    assert_eq!(Derivative::Backward.at(&s, 2), 3.0);
}

#[test]
fn streams_differ() {
    use rand::RngCore;
    let a = stream(1, Stream::Rates { sequence: 0 }).next_u64();
    let b = stream(1, Stream::Rates { sequence: 1 }).next_u64();
    let c = stream(2, Stream::Rates { sequence: 0 }).next_u64();
    let d = stream(1, Stream::Spikes { sequence: 0, block: 0, post: false }).next_u64();
    assert!(a != b && a != c && a != d && b != d);
}

fn small_config() -> ebm_config::ValidConfig {
    let mut c = Config { seed: 7, ..Config::default() };
    c.stdp.sequences = 12;
    c.stdp.trains = 100;
    c.stdp.steps = 60;
    c.validate().unwrap()
}

#[test]
fn experiment_is_independent_of_thread_count() {
    let e = Experiment::new(&small_config());
    let run = |threads| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        format!("{:?}", pool.install(|| e.run()))
    };
    assert_eq!(run(1), run(2));
}

#[test]
fn experiment_report_is_consistent() {
    let config = small_config();
    let e = Experiment::new(&config);
    let r = e.run();
    let f = &r.fig4;
    assert_eq!(f.dt.len(), 41);
    assert_eq!(f.counts.iter().sum::<u64>(), r.pairs);
    assert!(r.pairs > 0 && r.pairs <= r.pre_spikes);
    assert_eq!(r.fig5.counts.iter().sum::<u64>(), r.pairs);
    assert!(r.fig5.counts.len() <= config.stdp.fig5_bins);
    // NN-STDP's per-bin mean is the kernel itself
    let k = StdpKernel::from_config(&config.stdp);
    for (i, &d) in f.dt.iter().enumerate() {
        if f.counts[i] > 0 {
            assert!((f.curves[2].mean[i] - k.eval(d)).abs() < 1e-12);
        }
    }
    // the rate rule is the spike rule times rho(s_j) in [0, 1]: never larger in magnitude
    for i in 0..f.dt.len() {
        if f.counts[i] > 0 {
            assert!(f.curves[0].mean[i].abs() <= f.curves[1].mean[i].abs() + 1e-12);
        }
    }
    // Figure 3: the weight under Eq 4.1 moves only at presynaptic spikes
    let ex = &r.example;
    for t in 0..ex.rho_pre.len() {
        if !ex.pre_spikes.contains(&(t as u32)) {
            assert_eq!(ex.weight_spike_rule[t + 1], ex.weight_spike_rule[t]);
        }
    }
    assert!(r.mean_sq_ds.without_updates > 0.0);
}
