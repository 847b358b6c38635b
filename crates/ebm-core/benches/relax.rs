//! Criterion benchmark of one relaxation step (projected-gradient rule, f32, batch 20) for the
//! paper's 784-500-10 and 784-500-500-500-10 networks.

#![allow(missing_docs)] // criterion_group! generates undocumented items

use criterion::{Criterion, criterion_group, criterion_main};
use ebm_core::{Dynamics, LayeredNet, Output, Relaxer, Rho, States};
use ndarray::Array2;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn step(c: &mut Criterion) {
    for sizes in [vec![784, 500, 10], vec![784, 500, 500, 500, 10]] {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let net = LayeredNet::<f32>::glorot_uniform(&sizes, Rho::default(), &mut rng).unwrap();
        let x = Array2::from_shape_fn((20, 784), |_| rng.random_range(0.0f32..1.0));
        let mut states = States::with_input(&net, x.view()).unwrap();
        let mut relaxer = Relaxer::new(&net, 20, 0);
        relaxer.set_input(&net, x.view()).unwrap();
        let dynamics = Dynamics::projected(0.5);
        let name = format!(
            "relax_step/{}",
            sizes.iter().map(ToString::to_string).collect::<Vec<_>>().join("-")
        );
        c.bench_function(&name, |b| {
            b.iter(|| relaxer.step(&net, &mut states, &Output::Free, &dynamics).unwrap())
        });
    }
}

criterion_group!(benches, step);
criterion_main!(benches);
