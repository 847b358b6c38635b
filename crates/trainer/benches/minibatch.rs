//! Criterion benchmark of one `ep-1h` minibatch (20 examples of the embedded MNIST subset:
//! input drive, 20 free steps, 4 nudged steps, update).

#![allow(missing_docs)] // criterion_group! generates undocumented items

use criterion::{Criterion, criterion_group, criterion_main};
use ebm_config::Preset;
use ndarray::Array2;
use trainer::DataSplits;
use trainer::batch::Rows;
use trainer::ep::{Minibatch, Workspace, train_batch};
use trainer::run::init_net;

fn minibatch(c: &mut Criterion) {
    let config = Preset::Ep1h.config().validate().unwrap();
    let data = DataSplits::embedded().unwrap();
    let mut net = init_net(&config).unwrap();
    let mut ws = Workspace::new(&config, &net, 20);
    let sizes = net.sizes();
    let mut particles: Vec<Array2<f32>> =
        sizes[1..].iter().map(|&n| Array2::zeros((data.train.len(), n))).collect();
    let mut b = 0;
    c.bench_function("ep-1h minibatch (batch 20, T 20, K 4)", |bench| {
        bench.iter(|| {
            let rows = Rows::Range((b % 500) * 20);
            b += 1;
            train_batch(
                &config,
                &mut net,
                &mut ws,
                &mut particles,
                Minibatch { data: &data.train, rows, epoch: 0, index: b },
            )
            .unwrap()
        })
    });
}

criterion_group!(benches, minibatch);
criterion_main!(benches);
