use super::*;

fn small(epsilons: Vec<f64>) -> SampleConfig {
    SampleConfig {
        epsilons,
        paper_noise_std: vec![1.0],
        paper_matched: false,
        chains: 200,
        sample_time: 60.0,
        bins: 20,
        ..SampleConfig::default()
    }
}

#[test]
fn grid_density_of_uncoupled_units_is_the_closed_form() {
    // Zero weights: E = sum_i s_i^2 / 2 - b_i rho(s_i), so every unit is independent with
    // density exp(-(s^2 / 2 - b rho(s)) / T) / Z, integrated here by a fine trapezoid per bin.
    let config = SampleConfig {
        layers: vec![2, 2, 1],
        weight_scale: 0.0,
        bias_scale: 2.0,
        temperature: 0.7,
        bins: 20,
        subdivisions: 12,
        ..SampleConfig::default()
    };
    let m = model(&config, 3).unwrap();
    let p = boltzmann(&m, &config);
    let biases: Vec<f64> = m.net.biases.iter().flat_map(|b| b.to_vec()).collect();
    assert!(biases.iter().any(|b| b.abs() > 0.5), "{biases:?}");
    let rho = Rho::hard(config.rho_beta1);
    for (u, &b) in biases.iter().enumerate() {
        let f = |s: f64| (-(s * s / 2.0 - b * rho.rho(s)) / config.temperature).exp();
        let n = 4000;
        let mut masses = Vec::new();
        for i in 0..p.bins {
            let a = p.lo + i as f64 * p.width;
            let h = p.width / n as f64;
            let inner: f64 = (1..n).map(|k| f(a + k as f64 * h)).sum();
            masses.push(h * (inner + 0.5 * (f(a) + f(a + p.width))));
        }
        let z: f64 = masses.iter().sum();
        for (i, mass) in masses.iter().enumerate() {
            let diff = (p.marginals[u][i] - mass / z).abs();
            assert!(
                diff < 2e-4,
                "unit {u} bin {i}: grid {} closed form {}",
                p.marginals[u][i],
                mass / z
            );
        }
        let mean: f64 = masses
            .iter()
            .enumerate()
            .map(|(i, m)| m / z * (p.lo + (i as f64 + 0.5) * p.width))
            .sum();
        assert!((p.mean[u] - mean).abs() < 0.02, "unit {u}: mean {} against {mean}", p.mean[u]);
    }
    assert!(p.edge_mass < 1e-8, "{}", p.edge_mass);
    // The joint of independent units is the product of the marginals.
    let (b, d) = (p.bins, biases.len());
    for cell in [0, 17, b * b + 3 * b + 5, b.pow(3) - 1] {
        let product: f64 =
            (0..d).map(|u| p.marginals[u][cell / b.pow((d - 1 - u) as u32) % b]).product();
        assert!((p.joint[cell] - product).abs() < 1e-12, "cell {cell}");
    }
}

/// The joint TV of one chain run of `kind` at `eps` whose noise temperature is `noise_t`,
/// against the density at `config.temperature`.
fn tv_of(config: &SampleConfig, kind: SamplerKind, eps: f64, noise_t: f64) -> SampleRow {
    let m = model(config, 1).unwrap();
    let p = boltzmann(&m, config);
    let chain =
        Chain { kind, noise_std: (2.0 * eps * noise_t).sqrt(), epsilon: eps, temperature: noise_t };
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let (groups, acceptance, steps) = chain.run(&m, config, &p, &mut rng).unwrap();
    let mut all = Histogram::new(p.bins, p.marginals.len());
    groups.iter().for_each(|g| all.merge(g));
    row(&chain, steps, &all, &groups, &p, acceptance)
}

#[test]
fn langevin_samples_the_density_and_a_wrong_noise_scale_does_not() {
    let config = small(vec![0.05]);
    // Exact Langevin at eps 0.05: within 0.06 of exp(-E) (bias about 0.015 plus the
    // histogram noise of 200 chains).
    let right = tv_of(&config, SamplerKind::Langevin, 0.05, 1.0);
    assert!(right.tv_joint < 0.06, "{right:?}");
    assert!((right.variance_ratio_min - 1.0).abs() < 0.15, "{right:?}");
    // Noise sqrt(eps) instead of sqrt(2 eps) (it samples exp(-2E)) fails the same bound.
    let wrong = tv_of(&config, SamplerKind::Langevin, 0.05, 0.5);
    assert!(wrong.tv_joint > 0.1, "{wrong:?}");
    assert!(wrong.variance_ratio_max < 0.8, "{wrong:?}");
}

#[test]
fn metropolis_removes_the_bias_of_a_large_step() {
    let config = small(vec![0.5]);
    let ula = tv_of(&config, SamplerKind::Langevin, 0.5, 1.0);
    let mala = tv_of(&config, SamplerKind::Metropolis, 0.5, 1.0);
    assert!(mala.acceptance.is_some_and(|a| a > 0.5 && a < 1.0), "{mala:?}");
    assert!(mala.tv_joint < 0.06, "{mala:?}");
    // Unadjusted Langevin at eps 0.5 over-disperses (first-order bias in eps).
    assert!(ula.tv_joint > 2.0 * mala.tv_joint, "{ula:?} {mala:?}");
    assert!(ula.variance_ratio_min > 1.15, "{ula:?}");
}

#[test]
fn the_papers_noise_through_r_collapses_as_eps_shrinks() {
    // s <- (1 - eps) s + eps R(s + eta) with |R| bounded: the stationary spread is O(eps) in
    // variance, whatever sigma; exp(-E) keeps its unit-scale spread.
    let s = run(&SampleConfig { metropolis: false, ..small(vec![0.2, 0.05]) }, 1).unwrap();
    let paper: Vec<&SampleRow> =
        s.rows.iter().filter(|r| r.sampler == SamplerKind::Paper).collect();
    let (large, tiny) = (paper[0], paper[1]);
    assert_eq!((large.epsilon, tiny.epsilon), (0.2, 0.05));
    assert!(large.variance_ratio_max < 0.1, "{large:?}");
    assert!(tiny.variance_ratio_max < 0.5 * large.variance_ratio_max, "{tiny:?} {large:?}");
    assert!(tiny.tv_joint > 0.5, "{tiny:?}");
    let langevin = s.rows.iter().find(|r| r.sampler == SamplerKind::Langevin && r.epsilon == 0.05);
    assert!(langevin.is_some_and(|r| r.tv_joint < 0.1 * tiny.tv_joint), "{langevin:?}");
}

#[test]
fn the_same_seed_gives_the_same_numbers() {
    let config = SampleConfig { chains: 20, sample_time: 5.0, ..small(vec![0.2]) };
    let (a, b) = (run(&config, 4).unwrap(), run(&config, 4).unwrap());
    assert_eq!((&a.rows, &a.trends, &a.boltzmann), (&b.rows, &b.trends, &b.boltzmann));
    assert_ne!(run(&config, 4).unwrap().rows, run(&config, 5).unwrap().rows);
}
