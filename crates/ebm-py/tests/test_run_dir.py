"""ebm.train(out=...) keeps the results directory as `ebm train` does; ebm.resume; threads;
provenance."""

import csv
import json
import subprocess
from pathlib import Path

import pytest

import ebm

SMALL = {"training.epochs": 2, "data.train_limit": 500, "data.test_limit": 200}


def small(**extra):
    c = ebm.Config()
    for k, v in {**SMALL, **extra}.items():
        c = c.set(k, v)
    return c


def test_out_writes_the_cli_results(tmp_path):
    out = tmp_path / "run"
    run = ebm.train(small(), out=out)
    names = {p.name for p in out.iterdir()}
    for name in ("model.npz", "checkpoint.npz", "metrics.csv", "summary.json", "learning_curve.svg", "report.html"):
        assert name in names, f"{name} missing from {sorted(names)}"
    assert ".ebm-manifest" in names
    assert ".ebm-lock" not in names  # released when the run returns
    summary = json.loads((out / "summary.json").read_text())
    assert summary["command"] == "train"
    assert summary["model_sha256"] == run.model_sha256
    assert summary["final_test_error"] == run.test_error
    assert summary["epochs"] == 2
    assert summary["selected"]["epoch"] == 2
    rows = list(csv.DictReader(open(out / "metrics.csv")))
    assert [float(r["test_error"]) for r in rows] == [m["test_error"] for m in run.history]
    assert "Finished: 2 of 2 epochs" in (out / "report.html").read_text()
    assert run.out == out


def test_preset_is_recorded(tmp_path):
    out = tmp_path / "run"
    ebm.train(ebm.Config.preset("quick").set("training.epochs", 1).set("data.train_limit", 300), out=out)
    assert json.loads((out / "summary.json").read_text())["preset"] == "quick"


def test_a_used_directory_is_refused_without_force(tmp_path):
    out = tmp_path / "run"
    first = ebm.train(small(), out=out)
    with pytest.raises(ValueError, match=r"already exists and is not empty \(pass force=True"):
        ebm.train(small(), out=out)
    again = ebm.train(small(seed=2), out=out, force=True)
    assert json.loads((out / "summary.json").read_text())["model_sha256"] == again.model_sha256
    assert again.model_sha256 != first.model_sha256


def test_a_directory_in_use_is_refused(tmp_path):
    out = tmp_path / "run"
    seen = []

    def on_epoch(m):
        # While this run holds the directory, a second one there is refused, naming the owner.
        with pytest.raises(ValueError, match="in use") as e:
            ebm.train(small(), out=out, force=True)
        seen.append(str(e.value))

    ebm.train(small(), out=out, on_epoch=on_epoch)
    assert len(seen) == 2


def test_resume_continues_bit_for_bit(tmp_path):
    out = tmp_path / "run"
    stopped = ebm.train(small(**{"training.epochs": 3}), out=out, on_epoch=lambda m: m["epoch"] < 1)
    assert stopped.stopped and len(stopped.history) == 1
    summary = json.loads((out / "summary.json").read_text())
    assert summary["epochs"] == 1
    assert "Interrupted after 1 of 3 epochs" in (out / "report.html").read_text()
    resumed = ebm.resume(out)
    whole = ebm.train(small(**{"training.epochs": 3}))
    assert resumed.model_sha256 == whole.model_sha256
    assert [m["test_error"] for m in resumed.history] == [m["test_error"] for m in whole.history]
    assert json.loads((out / "summary.json").read_text())["epochs"] == 3


def test_resume_with_more_epochs_into_a_fork(tmp_path):
    out = tmp_path / "run"
    ebm.train(small(), out=out)
    fork = tmp_path / "fork"
    more = ebm.resume(out, out=fork, set={"training.epochs": 3})
    assert len(more.history) == 3 and more.out == fork
    assert json.loads((out / "summary.json").read_text())["epochs"] == 2  # left untouched
    assert more.model_sha256 == ebm.train(small(**{"training.epochs": 3})).model_sha256


def test_resume_errors(tmp_path, data):
    with pytest.raises(ValueError, match="no such results directory"):
        ebm.resume(tmp_path / "nothing")
    out = tmp_path / "arrays"
    ebm.train(small(), data=data, out=out)
    with pytest.raises(ValueError, match="trained on numpy arrays: pass the same arrays again"):
        ebm.resume(out, set={"training.epochs": 3})
    # the same arrays are accepted, other data is refused (its fingerprint differs)
    assert len(ebm.resume(out, data=data, set={"training.epochs": 3}).history) == 3
    x, y, xt, yt = data
    with pytest.raises(ValueError, match="fingerprint"):
        ebm.resume(out, data=(x[::-1].copy(), y[::-1].copy(), xt, yt), set={"training.epochs": 4})
    with pytest.raises(ValueError, match="training.layers|model.layers|may not change|cannot change"):
        ebm.resume(out, data=data, set={"model.layers": [784, 20, 10]})


def test_threads_do_not_change_the_numbers(tmp_path):
    one = ebm.train(small(), threads=1, out=tmp_path / "one")
    two = ebm.train(small(), threads=2)
    assert one.model_sha256 == two.model_sha256
    assert json.loads((tmp_path / "one" / "summary.json").read_text())["provenance"]["threads"] == 1
    with pytest.raises(ValueError, match="threads = 0"):
        ebm.train(small(), threads=0)


def test_provenance_names_the_git_commit(tmp_path):
    out = tmp_path / "run"
    ebm.train(small(**{"training.epochs": 1}), out=out)
    process = json.loads((out / "summary.json").read_text())["provenance"]
    assert process["version"].startswith("ebm-py ")
    root = Path(__file__).resolve().parents[3]
    head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True)
    if head.returncode != 0:
        pytest.skip("not a git checkout")
    assert process["git_commit"] == head.stdout.strip()
