"""ebm.train: the callback, stopping early, files, arrays, errors."""

import numpy as np
import pytest

import ebm

FIELDS = {
    "epoch",
    "train_error_running",
    "train_error",
    "train_eval_examples",
    "test_error",
    "test_error_persistent",
    "validation_error",
    "validation_error_persistent",
    "mean_energy",
    "mean_cost",
    "relative_weight_change",
    "seconds",
    "eval_seconds",
}


def test_one_epoch_with_a_callback_that_stops():
    seen = []

    def on_epoch(metrics):
        seen.append(metrics)
        return False  # stop after the first epoch

    run = ebm.train(ebm.Config().set("training.epochs", 3), data="embedded", on_epoch=on_epoch)
    assert run.stopped
    assert len(seen) == 1 and len(run.history) == 1
    m = run.history[0]
    assert set(m) == FIELDS
    assert m == seen[0]
    assert m["epoch"] == 1
    assert run.test_error == m["test_error"]
    assert 0.0 < run.test_error < 0.5  # one epoch of quick on the subset: about 15%
    assert len(m["relative_weight_change"]) == 2
    assert len(run.model_sha256) == 64
    assert run.net.sha256 == run.model_sha256
    assert run.config["training.epochs"] == 3


def test_callback_returning_none_goes_on(small_run):
    calls = []
    config = ebm.Config().set("training.epochs", 2).set("data.train_limit", 500).set("data.test_limit", 200)
    run = ebm.train(config, on_epoch=lambda m: calls.append(m["epoch"]))
    assert calls == [1, 2]
    assert not run.stopped
    assert "epochs=2" in repr(run)


def test_callback_exception_propagates():
    def boom(metrics):
        raise KeyError("from the callback")

    config = ebm.Config().set("training.epochs", 2).set("data.train_limit", 500).set("data.test_limit", 200)
    with pytest.raises(KeyError, match="from the callback"):
        ebm.train(config, on_epoch=boom)
    with pytest.raises(TypeError, match="callable"):
        ebm.train(config, on_epoch=3)


def test_out_writes_model_and_checkpoint(tmp_path):
    config = ebm.Config().set("training.epochs", 1).set("data.train_limit", 500).set("data.test_limit", 200)
    out = tmp_path / "run"
    run = ebm.train(config, out=out)
    assert (out / "model.npz").exists() and (out / "checkpoint.npz").exists()
    assert not list(out.glob(".ebm-tmp-*"))
    for name in ("model.npz", "checkpoint.npz", ""):
        net = ebm.Net.load(out / name if name else out)
        assert net.sha256 == run.model_sha256
        assert net.config["data.train_limit"] == 500
    # model.npz is numpy-loadable, float32, the same arrays
    with np.load(out / "model.npz") as z:
        assert z["W0"].dtype == np.float32
        np.testing.assert_array_equal(z["W0"], run.net.weights[0])
        np.testing.assert_array_equal(z["b1"], run.net.biases[1])


def test_arrays_give_the_same_run_as_the_embedded_files(data):
    config = ebm.Config().set("training.epochs", 1).set("data.train_limit", 2000)
    from_files = ebm.train(config, data="embedded")
    from_arrays = ebm.train(config, data=data)
    assert from_arrays.model_sha256 == from_files.model_sha256
    # uint8 images in (n, rows, cols) are divided by 255, as the IDX reader does
    x, y, xt, yt = data
    as_bytes = [np.rint(a * 255).astype(np.uint8).reshape(-1, 28, 28) for a in (x, xt)]
    from_bytes = ebm.train(config, data=(as_bytes[0], y.astype(np.int64), as_bytes[1], yt))
    assert from_bytes.model_sha256 == from_files.model_sha256


def test_array_errors(data):
    x, y, xt, yt = data
    config = ebm.Config().set("training.epochs", 1)
    with pytest.raises(ValueError, match="y_train has 9 labels for 10000 images"):
        ebm.train(config, data=(x, y[:9], xt, yt))
    with pytest.raises(ValueError, match="x_train has shape"):
        ebm.train(config, data=(x[0], y, xt, yt))
    with pytest.raises(ValueError, match=r"\(x_train, y_train, x_test, y_test\): got 2 items"):
        ebm.train(config, data=(x, y))
    bad = x[:200].copy()
    bad[3, 5] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        ebm.train(config, data=(bad, y[:200], xt, yt))
    with pytest.raises(ValueError, match=r"model.layers\[0\] = 784 does not match the data"):
        ebm.train(config, data=(x[:, :100], y, xt[:, :100], yt))


def test_missing_data_directory(tmp_path):
    with pytest.raises(FileNotFoundError):
        ebm.train(ebm.Config().set("training.epochs", 1), data=tmp_path / "nothing-here")
