"""The same numbers as the CLI (the `ebm` binary from EBM_BIN): training bit for bit,
predictions as `ebm eval`'s, files each side reads."""

import csv
import json

import numpy as np

import ebm
from conftest import run_cli


def test_train_is_bit_identical_to_the_cli(ebm_bin, tmp_path):
    out = tmp_path / "cli"
    run_cli(ebm_bin, "train", "--set", "training.epochs=2", "--out", str(out), "-q")
    summary = json.loads((out / "summary.json").read_text())
    run = ebm.train(ebm.Config.preset("quick").set("training.epochs", 2))
    assert run.model_sha256 == summary["model_sha256"]
    assert run.test_error == summary["final_test_error"]
    assert [m["test_error"] for m in run.history] == [
        float(r["test_error"]) for r in csv.DictReader(open(out / "metrics.csv"))
    ]
    # the CLI's model file loads here with the same parameters
    assert ebm.Net.load(out / "model.npz").sha256 == run.model_sha256


def test_predict_agrees_with_cli_eval(ebm_bin, tmp_path, data):
    out = tmp_path / "run"
    run = ebm.train(ebm.Config().set("training.epochs", 1), out=out)
    ev = tmp_path / "eval"
    run_cli(ebm_bin, "eval", "--checkpoint", str(out / "model.npz"), "--out", str(ev), "-q")
    summary = json.loads((ev / "summary.json").read_text())
    assert summary["model_sha256"] == run.model_sha256
    x_test, y_test = data[2], data[3]
    net = ebm.Net.load(out / "model.npz")
    assert net.evaluate(x_test, y_test) == summary["test_error"] == run.test_error
    rows = list(csv.DictReader(open(ev / "predictions.csv")))
    cli = np.array([int(r["prediction"]) for r in rows])
    np.testing.assert_array_equal(net.predict(x_test), cli)


def test_cli_resumes_a_python_checkpoint(ebm_bin, tmp_path):
    # one epoch in Python, the second by `ebm train --resume`: the two-epoch run, bit for bit
    out = tmp_path / "run"
    ebm.train(ebm.Config().set("training.epochs", 1), out=out)
    fork = tmp_path / "resumed"
    run_cli(ebm_bin, "train", "--resume", str(out), "--set", "training.epochs=2", "--out", str(fork), "-q")
    summary = json.loads((fork / "summary.json").read_text())
    two = ebm.train(ebm.Config().set("training.epochs", 2))
    assert summary["model_sha256"] == two.model_sha256


def test_cli_refuses_to_resume_an_arrays_run_without_the_data(ebm_bin, tmp_path, data):
    # a run trained on arrays records its data as held in memory: the CLI cannot read them
    # again and says what to pass instead
    out = tmp_path / "arrays"
    x, y, xt, yt = data
    ebm.train(ebm.Config().set("training.epochs", 1).set("data.train_limit", 500), data=data, out=out)
    p = run_cli(ebm_bin, "train", "--resume", str(out), "--set", "training.epochs=2", check=False)
    assert p.returncode == 2, p.stderr
    assert "trained on arrays held in memory" in p.stderr and "--data DIR" in p.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["provenance"]["data"]["source"] == "<arrays in memory>"
    # float32 arrays have a fingerprint of their own, so other files are refused ...
    p = run_cli(ebm_bin, "train", "--resume", str(out), "--data", "embedded", "--set", "training.epochs=2", check=False)
    assert p.returncode == 2 and "is not the data the run recorded" in p.stderr, p.stderr
    # ... while uint8 arrays fingerprint as the IDX files of the same digits: --data embedded
    # continues that run
    as_bytes = [np.rint(a * 255).astype(np.uint8) for a in (x, xt)]
    out8 = tmp_path / "bytes"
    ebm.train(ebm.Config().set("training.epochs", 1).set("data.train_limit", 500), data=(as_bytes[0], y, as_bytes[1], yt), out=out8)
    run_cli(ebm_bin, "train", "--resume", str(out8), "--data", "embedded", "--set", "training.epochs=2", "-q")
    assert json.loads((out8 / "summary.json").read_text())["epochs"] == 2
