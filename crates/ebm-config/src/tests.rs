//! Unit tests of loading, overriding, validating and round-tripping configurations.

use proptest::prelude::*;

use crate::*;

fn invalid_fields(config: Config) -> Vec<String> {
    match config.validate() {
        Err(ConfigError::Invalid { errors, .. }) => errors.into_iter().map(|e| e.field).collect(),
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[test]
fn every_preset_is_valid_and_round_trips_through_toml() {
    for preset in Preset::ALL {
        let config = preset.config();
        let text = config.to_toml_string();
        let back = Config::from_toml_str(&text, "round-trip").unwrap();
        assert_eq!(back, config, "{preset}");
        back.validate().unwrap();
    }
}

#[test]
fn presets_have_the_papers_values() {
    let c = Preset::Ep3h.config();
    assert_eq!(c.model.layers, vec![784, 500, 500, 500, 10]);
    assert_eq!((c.dynamics.free_steps, c.dynamics.nudged_steps), (500, 8));
    assert_eq!(c.training.alphas, vec![0.128, 0.032, 0.008, 0.002]);
    assert_eq!(c.training.epochs, 500);
    let c = Preset::Ep1hCode.config();
    assert_eq!((c.training.beta, c.training.cost), (0.5, CostKind::Squared));
}

#[test]
fn unknown_key_names_file_line_and_path() {
    let text = "[model]\nlayers = [784, 10]\nlayerz = 3\n";
    let err = Config::from_toml_str(text, "a.toml").unwrap_err().to_string();
    assert!(err.starts_with("a.toml:3:1:"), "{err}");
    assert!(err.contains("model.layerz") || err.contains("layerz"), "{err}");
}

#[test]
fn wrong_type_names_the_key_path() {
    let err = Config::from_toml_str("[dynamics]\nepsilon = \"big\"\n", "b.toml").unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("b.toml:2:"), "{msg}");
    assert!(msg.contains("dynamics.epsilon"), "{msg}");
}

#[test]
fn overrides_apply_in_order_and_reject_unknown_keys() {
    let mut s = ConfigSource::preset(Preset::Ep2h);
    s.set("training.alphas=[0.1, 0.2, 0.3]").unwrap();
    s.set("dynamics.rule=leaky-integrator").unwrap();
    s.set("seed=7").unwrap();
    let c = s.load().unwrap();
    assert_eq!(c.training.alphas, vec![0.1, 0.2, 0.3]);
    assert_eq!(c.dynamics.rule, UpdateRuleKind::LeakyIntegrator);
    assert_eq!(c.seed, 7);

    let mut s = ConfigSource::default();
    s.set("training.betta=1").unwrap();
    let msg = s.load().unwrap_err().to_string();
    assert!(msg.contains("--set training.betta=1"), "{msg}");
    assert!(msg.contains("betta"), "{msg}");
    assert!(ConfigSource::default().set("novalue").is_err());
}

#[test]
fn file_is_merged_over_the_preset() {
    let dir = std::env::temp_dir().join(format!("ebm-config-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("c.toml");
    std::fs::write(&path, "[training]\nepochs = 2\n").unwrap();
    let source = ConfigSource { preset: Some(Preset::Ep2h), file: Some(path), overrides: vec![] };
    let c = source.load().unwrap();
    assert_eq!(c.training.epochs, 2);
    assert_eq!(c.model.layers, vec![784, 500, 500, 10]);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn validation_names_fields_and_values() {
    let mut c = Config::default();
    c.dynamics.epsilon = f64::NAN;
    c.model.layers = vec![784, 0, 500, 10];
    c.training.beta = 0.0;
    let err = c.clone().validate().unwrap_err().to_string();
    assert!(err.contains("dynamics.epsilon = NaN"), "{err}");
    assert!(err.contains("model.layers[1]"), "{err}");
    assert!(
        err.contains("training.alphas has 2 entries but the model has 3 weight layers"),
        "{err}"
    );
    assert!(err.contains("training.beta"), "{err}");

    let mut c = Config::default();
    c.dynamics.epsilon = 1.5;
    c.model.rho.beta2 = 2.0;
    c.stdp.tau_plus = f64::INFINITY;
    let fields = invalid_fields(c);
    assert_eq!(fields, vec!["model.rho.beta2", "dynamics.epsilon", "stdp.tau_plus"]);

    for bad in [0.0, -0.5, 1.5, f64::NAN] {
        let mut c = Config::default();
        c.training.alpha_decay = bad;
        let err = c.validate().unwrap_err().to_string();
        assert!(err.contains(&format!("training.alpha_decay = {bad}")), "{err}");
    }
    let mut c = Config::default();
    c.training.alpha_decay = 0.9;
    c.validate().unwrap();
}

#[test]
fn a_command_checks_only_the_sections_it_uses() {
    let mut c = Config::default();
    c.stdp.window = 0;
    c.gradcheck.betas.clear();
    let err = c.clone().validate().unwrap_err().to_string();
    assert!(err.contains("stdp.window = 0") && err.contains("gradcheck.betas is empty"), "{err}");
    // training does not read [stdp] or [gradcheck]: their bad values do not stop it
    assert!(c.clone().validate_sections(&Section::TRAIN).is_ok());
    let err = c.validate_sections(&[Section::Stdp]).unwrap_err().to_string();
    assert!(err.contains("stdp.window") && !err.contains("gradcheck"), "{err}");
}

#[test]
fn choices_are_enums_checked_by_serde_naming_the_choices() {
    let err = Config::from_toml_str("[stdp]\nspike_model = \"gauss\"\n", "c.toml").unwrap_err();
    let err = err.to_string();
    assert!(
        err.contains("stdp.spike_model") && err.contains("expected `bernoulli` or `poisson`"),
        "{err}"
    );
    let err = Config::from_toml_str("[stdp]\nderivative = \"left\"\n", "c.toml").unwrap_err();
    assert!(err.to_string().contains("expected one of `central`, `forward`, `backward`"), "{err}");
    let c = Config::from_toml_str("[stdp]\nspike_model = \"poisson\"\n", "c.toml").unwrap();
    assert_eq!(c.stdp.spike_model, crate::SpikeModel::Poisson);
}

#[test]
fn paper_rho_condition_is_expressible() {
    let mut c = Config::default();
    c.model.rho.beta1 = -0.5;
    c.model.rho.beta2 = 0.5;
    c.validate().unwrap();
}

proptest! {
    #[test]
    fn toml_round_trip(
        layers in proptest::collection::vec(1usize..2000, 2..6),
        eps in 1e-6f64..=1.0,
        beta in 1e-6f64..10.0,
        seed in 0..=i64::MAX as u64,
        epochs in 1usize..1000,
    ) {
        let mut c = Config::default();
        c.training.alphas = vec![0.01; layers.len() - 1];
        c.model.layers = layers;
        c.dynamics.epsilon = eps;
        c.training.beta = beta;
        c.seed = seed;
        c.training.epochs = epochs;
        let back = Config::from_toml_str(&c.to_toml_string(), "prop").unwrap();
        prop_assert_eq!(&back, &c);
        prop_assert!(back.validate().is_ok());
    }
}

#[test]
fn schedule_and_gradcheck_sections_parse_and_validate() {
    let text = "[dynamics]\nschedule = \"alternating\"\n[gradcheck]\nbetas = [0.01]\n";
    let c = Config::from_toml_str(text, "g.toml").unwrap();
    assert_eq!(c.dynamics.schedule, Schedule::Alternating);
    assert_eq!(c.gradcheck.betas, vec![0.01]);
    assert_eq!(Config::default().dynamics.schedule, Schedule::Synchronous);
    let err = Config::from_toml_str("[gradcheck]\nbetaz = 1\n", "g.toml").unwrap_err();
    assert!(err.to_string().contains("betaz"), "{err}");

    let mut c = Config::default();
    c.gradcheck.betas = vec![0.1, -1.0];
    c.gradcheck.hidden_layers.clear();
    c.relax_steps.tolerance = 0.0;
    c.relax_steps.alternating_epsilons = vec![2.0];
    let fields = invalid_fields(c);
    assert_eq!(
        fields,
        vec![
            "gradcheck.hidden_layers",
            "gradcheck.betas[1]",
            "relax_steps.tolerance",
            "relax_steps.alternating_epsilons[0]"
        ]
    );
}

/// The bad-config corpus of issue 6: each TOML text gives a typed error naming the key and
/// value. `parse` says whether the parser (unknown key, wrong type) or `validate` refuses it.
#[test]
fn bad_config_corpus_gives_typed_errors_naming_key_and_value() {
    let cases: &[(&str, bool, &str)] = &[
        (
            "[model]\nlayerz = 3\n",
            true,
            "c.toml:2:1: at key `model.layerz`: unknown field `layerz`",
        ),
        ("[dynamics]\nepsilon = \"big\"\n", true, "at key `dynamics.epsilon`"),
        ("[training]\nepochs = 2.5\n", true, "at key `training.epochs`"),
        ("[training]\nbatch_size = -20\n", true, "at key `training.batch_size`"),
        ("[model]\nlayers = [784, -5, 10]\n", true, "at key `model.layers"),
        (
            "[model]\nlayers = [784, 0, 10]\n",
            false,
            "model.layers[1] = 0: a layer needs at least 1 unit",
        ),
        ("[training]\nbatch_size = 0\n", false, "training.batch_size = 0: must be at least 1"),
        ("[training]\nepochs = 0\n", false, "training.epochs = 0: must be at least 1"),
        ("[dynamics]\nfree_steps = 0\n", false, "dynamics.free_steps = 0: must be at least 1"),
        ("[data]\ntrain_limit = 0\n", false, "data.train_limit = 0: must be at least 1"),
        ("[dynamics]\nepsilon = nan\n", false, "dynamics.epsilon = NaN: must be a finite number"),
        ("[dynamics]\nepsilon = inf\n", false, "dynamics.epsilon = inf: must be a finite number"),
        ("[training]\nbeta = -inf\n", false, "training.beta = -inf: must be a finite number"),
        (
            "[training]\nalphas = [0.1, nan]\n",
            false,
            "training.alphas[1] = NaN: must be a finite number",
        ),
        ("[dynamics]\nepsilon = 0.0\n", false, "dynamics.epsilon = 0: must be in (0, 1]"),
        ("[dynamics]\nepsilon = 1.5\n", false, "dynamics.epsilon = 1.5: must be in (0, 1]"),
        ("[dynamics]\nepsilon = -0.1\n", false, "dynamics.epsilon = -0.1: must be in (0, 1]"),
        ("[training]\nbeta = 0.0\n", false, "training.beta = 0: must be > 0"),
        (
            "[training]\nalphas = [0.1]\n",
            false,
            "training.alphas has 1 entries but the model has 2 weight layers",
        ),
        ("[training]\nalphas = [0.1, -0.2]\n", false, "training.alphas[1] = -0.2: must be >= 0"),
    ];
    for &(text, parse, expected) in cases {
        let parsed = Config::from_toml_str(text, "c.toml");
        let err = if parse {
            let err = parsed.expect_err(text);
            assert!(matches!(err, ConfigError::Parse { .. }), "{text}: {err:?}");
            err
        } else {
            let err = parsed.unwrap().validate().expect_err(text);
            assert!(matches!(err, ConfigError::Invalid { .. }), "{text}: {err:?}");
            err
        };
        let msg = err.to_string();
        assert!(msg.contains(expected), "{text}: expected `{expected}` in `{msg}`");
        assert_eq!(msg.lines().count(), 1, "{msg}");
    }
    // epsilon = 1 is the closed end of (0, 1].
    Config::from_toml_str("[dynamics]\nepsilon = 1.0\n", "c.toml").unwrap().validate().unwrap();
}

proptest! {
    /// Any values, valid or not (NaN, inf, subnormals, huge sizes, every enum variant), print
    /// to TOML that reads back to the same config (compared as text: NaN != NaN).
    #[test]
    fn toml_round_trip_of_arbitrary_values(
        floats in proptest::collection::vec(any::<f64>(), 5),
        alphas in proptest::collection::vec(any::<f64>(), 0..5),
        layers in proptest::collection::vec(0usize..=i64::MAX as usize, 0..6),
        sizes in proptest::collection::vec(0usize..=i64::MAX as usize, 4),
        flags in proptest::collection::vec(any::<bool>(), 8),
        train_limit in proptest::option::of(0usize..1 << 40),
    ) {
        let mut c = Config::default();
        c.dynamics.epsilon = floats[0];
        c.training.beta = floats[1];
        c.dynamics.noise_std = floats[2];
        c.model.rho.beta1 = floats[3];
        c.stdp.tau_plus = floats[4];
        c.training.alphas = alphas;
        c.model.layers = layers;
        c.training.batch_size = sizes[0];
        c.training.epochs = sizes[1];
        c.training.checkpoint_every_batches = sizes[2];
        c.dynamics.free_steps = sizes[3];
        c.data.train_limit = train_limit;
        c.training.persistent_particles = flags[0];
        c.model.rho.kind = if flags[1] { RhoKind::Sigmoid } else { RhoKind::HardSigmoid };
        c.dynamics.rule =
            if flags[2] { UpdateRuleKind::LeakyIntegrator } else { UpdateRuleKind::ProjectedGradient };
        c.training.beta_sign = if flags[3] { BetaSign::Centred } else { BetaSign::Random };
        c.training.cost = if flags[4] { CostKind::Squared } else { CostKind::HalfSquared };
        c.training.data_order = if flags[5] { DataOrder::Shuffled } else { DataOrder::Fixed };
        c.training.rule = match (flags[6], flags[7]) {
            (false, _) => LearningRule::Contrastive,
            (true, false) => LearningRule::Temporal,
            (true, true) => LearningRule::Spiking,
        };
        c.dynamics.schedule = if flags[7] { Schedule::Alternating } else { Schedule::Synchronous };
        c.dynamics.kernels = if flags[6] ^ flags[0] { Kernels::Dense } else { Kernels::Sparse };
        let text = c.to_toml_string();
        let back = Config::from_toml_str(&text, "prop").unwrap();
        prop_assert_eq!(back.to_toml_string(), text);
        // validate() decides without panicking either way
        let _ = back.validate();
    }
}

#[test]
fn sample_section_names_its_bad_values_and_refuses_unknown_keys() {
    let err = Config::from_toml_str("[sample]\nchainz = 4\n", "s.toml").unwrap_err().to_string();
    assert!(err.contains("chainz"), "{err}");
    let mut c = Config::default();
    c.sample.layers = vec![2, 3, 1];
    c.sample.epsilons = vec![0.1, 1.5];
    c.sample.paper_noise_std = vec![-1.0];
    c.sample.groups = 1;
    c.sample.grid_max = c.sample.grid_min;
    let err = c.validate_sections(&[Section::Sample]).unwrap_err().to_string();
    for key in [
        "sample.layers = [2, 3, 1] has 4 free units",
        "sample.epsilons[1] = 1.5",
        "sample.paper_noise_std[0] = -1",
        "sample.groups = 1",
        "sample.grid_max",
    ] {
        assert!(err.contains(key), "{key} not in {err}");
    }
    assert!(Config::default().validate_sections(&[Section::Sample]).is_ok());
}

/// `[symmetry]`: every bad value named with its key, the learning rates counted against its
/// layers, unknown keys refused.
#[test]
fn symmetry_section_names_each_bad_value() {
    let c =
        Config::from_toml_str("[symmetry]\nweight_decay = 0.01\nepochs = 2\n", "s.toml").unwrap();
    assert_eq!((c.symmetry.weight_decay, c.symmetry.epochs), (0.01, 2));
    assert!(c.validate_sections(&[Section::Symmetry]).is_ok());
    let err = Config::from_toml_str("[symmetry]\ndecay = 0.1\n", "s.toml").unwrap_err();
    assert!(err.to_string().contains("symmetry.decay"), "{err}");

    let mut c = Config::default();
    c.symmetry.layers = vec![784, 0, 50, 10];
    c.symmetry.epochs = 0;
    c.symmetry.weight_decay = 1.0;
    assert_eq!(
        invalid_fields(c.clone()),
        vec!["symmetry.layers[1]", "symmetry.epochs", "symmetry.weight_decay"]
    );
    let err = c.validate_sections(&[Section::Symmetry]).unwrap_err().to_string();
    assert!(err.contains("symmetry.weight_decay = 1: must be in (0, 1)"), "{err}");
    let mut c = Config::default();
    c.symmetry.weight_decay = f64::NAN;
    c.symmetry.test_examples = 0;
    assert_eq!(invalid_fields(c), vec!["symmetry.test_examples", "symmetry.weight_decay"]);
}
