"""ebm.Config: presets, TOML, dicts, overrides, and the CLI's error messages."""

import pytest

import ebm


def test_preset_and_set():
    c = ebm.Config.preset("ep-1h").set("training.epochs", 3).set("training.alphas", [0.2, 0.1])
    assert c["training.epochs"] == 3
    assert c["training.alphas"] == [0.2, 0.1]
    assert c["model.layers"] == [784, 500, 10]
    assert c.overrides == ["training.epochs=3", "training.alphas=[0.2, 0.1]"]
    assert c.check() is c


def test_default_is_quick():
    assert ebm.Config().to_toml() == ebm.Config.preset("quick").to_toml()


def test_values_as_the_cli_parses_them():
    c = ebm.Config()
    c.set("training.beta_sign", "centred").set("dynamics.epsilon", 1).set("training.beta", 0.25)
    c.set("training.persistent_particles", True)
    assert c["training.beta_sign"] == "centred"
    assert c["dynamics.epsilon"] == 1.0
    assert c["training.beta"] == 0.25
    assert c["training.persistent_particles"] is True
    # a string is written bare, as typed on a command line
    assert c.overrides[0] == "training.beta_sign=centred"


def test_toml_text_file_and_dict_agree(tmp_path):
    text = "[training]\nepochs = 4\n\n[dynamics]\nfree_steps = 30\n"
    path = tmp_path / "a.toml"
    path.write_text(text)
    from_text = ebm.Config.from_toml(text)
    from_file = ebm.Config.from_toml(path)
    from_str_path = ebm.Config.from_toml(str(path))
    from_dict = ebm.Config.from_dict({"training": {"epochs": 4}, "dynamics.free_steps": 30})
    tomls = {c.to_toml() for c in (from_text, from_file, from_str_path, from_dict)}
    assert len(tomls) == 1
    assert from_text["training.epochs"] == 4
    # round trip
    assert ebm.Config.from_toml(from_text.to_toml()).to_toml() == from_text.to_toml()


def test_to_dict():
    d = ebm.Config.preset("ep-2h").to_dict()
    assert d["model"]["layers"] == [784, 500, 500, 10]
    assert d["seed"] == 1


def test_invalid_value_names_key_and_value():
    with pytest.raises(ValueError) as e:
        ebm.Config.preset("quick").set("training.epochs", 0).check()
    assert str(e.value) == (
        "invalid config (preset quick, --set training.epochs=0): "
        "training.epochs = 0: must be at least 1"
    )
    with pytest.raises(ValueError, match=r"dynamics.epsilon = NaN: must be a finite number"):
        ebm.Config().set("dynamics.epsilon", float("nan")).check()


def test_invalid_config_refused_by_train():
    with pytest.raises(ValueError, match=r"training.epochs = 0"):
        ebm.train(ebm.Config().set("training.epochs", 0))


def test_unknown_key_and_wrong_type():
    c = ebm.Config()
    with pytest.raises(ValueError, match=r"--set training.epochz=3: at key `training.epochz`: unknown field `epochz`"):
        c.set("training.epochz", 3)
    with pytest.raises(ValueError, match=r"at key `training.epochs`"):
        c.set("training.epochs", "many")
    # a refused override leaves the config as it was
    assert c.overrides == []


def test_unknown_preset():
    with pytest.raises(ValueError, match=r"unknown preset `nope` \(known: quick, ep-1h"):
        ebm.Config.preset("nope")


def test_toml_errors_name_line_and_key(tmp_path):
    with pytest.raises(ValueError, match=r"<toml text>:2:1: .*unknown field `layerz`"):
        ebm.Config.from_toml("[model]\nlayerz = [1, 2]\n")
    path = tmp_path / "bad.toml"
    path.write_text("[training]\nepochs = 'x'\n")
    with pytest.raises(ValueError, match=r"bad.toml:2:10: at key `training.epochs`"):
        ebm.Config.from_toml(path)
    with pytest.raises(FileNotFoundError, match=r"cannot read config file"):
        ebm.Config.from_toml(tmp_path / "missing.toml")


def test_numpy_values():
    import numpy as np

    c = ebm.Config().set("training.alphas", np.array([0.2, 0.1])).set("training.epochs", np.int64(3))
    assert c.overrides == ["training.alphas=[0.2, 0.1]", "training.epochs=3"]


def test_bad_python_value():
    with pytest.raises(TypeError):
        ebm.Config().set("training.epochs", object())


def test_same_messages_as_the_cli(ebm_bin):
    from conftest import run_cli

    for key, value, raw in [
        ("training.epochs", 0, "training.epochs=0"),
        ("dynamics.epsilon", float("nan"), "dynamics.epsilon=nan"),
        ("training.alphas", [0.1], "training.alphas=[0.1]"),
    ]:
        p = run_cli(ebm_bin, "train", "--set", raw, "--out", "/nonexistent/never", check=False)
        assert p.returncode == 2
        with pytest.raises(ValueError) as e:
            ebm.train(ebm.Config().set(key, value))
        assert p.stderr.strip() == f"error: {e.value}"
    p = run_cli(ebm_bin, "train", "--set", "training.epochz=3", check=False)
    with pytest.raises(ValueError) as e:
        ebm.Config().set("training.epochz", 3)
    assert p.stderr.strip() == f"error: {e.value}"
