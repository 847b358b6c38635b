//! `ebm config`: round trip of the printed TOML, and bad configs exiting 2 with a message that
//! names the file, line and key path.

use ebm_tests::{run_in, stderr, stdout};

#[test]
fn shown_preset_round_trips_through_check() {
    let dir = tempfile::tempdir().unwrap();
    for preset in ["quick", "ep-1h", "ep-1h-code", "ep-2h", "ep-3h"] {
        let out = run_in(dir.path(), &["config", "show", "--preset", preset]);
        assert!(out.status.success(), "{}", stderr(&out));
        let path = dir.path().join(format!("{preset}.toml"));
        std::fs::write(&path, &out.stdout).unwrap();
        let check = run_in(dir.path(), &["config", "check", "--config", path.to_str().unwrap()]);
        assert!(check.status.success(), "{preset}: {}", stderr(&check));
        let again = run_in(dir.path(), &["config", "show", "--config", path.to_str().unwrap()]);
        assert_eq!(stdout(&again), stdout(&out), "{preset}: show is not a fixed point");
    }
}

fn check_fails(file: &str, text: &str, expected: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(file);
    std::fs::write(&path, text).unwrap();
    let out = run_in(dir.path(), &["config", "check", "--config", file]);
    assert_eq!(out.status.code(), Some(2), "{file}: {}", stderr(&out));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    for e in expected {
        assert!(err.contains(e), "{file}: expected `{e}` in: {err}");
    }
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn unknown_key_exits_2_naming_file_line_and_key() {
    check_fails(
        "unknown.toml",
        "[training]\nepochs = 3\nbetta = 1.0\n",
        &["unknown.toml:3:1", "training.betta"],
    );
}

#[test]
fn wrong_type_exits_2_naming_file_line_and_key() {
    check_fails(
        "type.toml",
        "[dynamics]\nepsilon = \"half\"\n",
        &["type.toml:2:", "dynamics.epsilon"],
    );
}

#[test]
fn zero_layer_size_exits_2_naming_the_field() {
    check_fails(
        "zero.toml",
        "[model]\nlayers = [784, 0, 10]\n",
        &["zero.toml", "model.layers[1] = 0"],
    );
}

#[test]
fn nan_exits_2_naming_the_field_and_value() {
    check_fails("nan.toml", "[dynamics]\nepsilon = nan\n", &["nan.toml", "dynamics.epsilon = NaN"]);
}

#[test]
fn bad_override_and_unknown_preset_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_in(dir.path(), &["config", "check", "--set", "training.alphas=[0.1]"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("training.alphas has 1 entries but the model has 2 weight layers")
    );
    let out = run_in(dir.path(), &["config", "check", "--preset", "ep-9h"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("unknown preset `ep-9h`"));
}

#[test]
fn help_describes_every_option() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        vec!["--help"],
        vec!["train", "--help"],
        vec!["config", "--help"],
        vec!["propagate", "--help"],
        vec!["eval", "--help"],
    ] {
        let out = run_in(dir.path(), &args);
        assert!(out.status.success());
        let text = stdout(&out);
        for opt in ["--config", "--preset", "--set", "--seed", "--out"] {
            assert!(text.contains(opt), "{args:?} lacks {opt}");
        }
    }
}

#[test]
fn documented_run_configs_load_on_their_presets() {
    // docs/configs/*.toml are the configs the reproductions train: each must stay valid on
    // top of the preset that its header names.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let dir = tempfile::tempdir().unwrap();
    for (file, preset, layers) in [
        ("best.toml", "ep-1h", "784, 2000, 10,"),
        ("ep-2h-fast.toml", "ep-2h", "784, 500, 500, 10,"),
        ("ep-3h-fast.toml", "ep-3h", "784, 500, 500, 500, 10,"),
    ] {
        let path = root.join("docs/configs").join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.contains(&format!("--preset {preset} --config docs/configs/{file}")),
            "{file}"
        );
        let path = path.to_str().unwrap();
        let out = run_in(dir.path(), &["config", "show", "--preset", preset, "--config", path]);
        assert!(out.status.success(), "{file}: {}", stderr(&out));
        let shown = stdout(&out);
        let flat: String = shown.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(flat.contains(&format!("layers = [ {layers} ]")), "{file}: {flat}");
        assert!(shown.contains("schedule = \"alternating\""), "{file}: {shown}");
    }
}
