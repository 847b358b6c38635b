"""Shared fixtures: the embedded data as arrays, the CLI binary (EBM_BIN), a short run."""

import os
import subprocess

import pytest

import ebm


@pytest.fixture(scope="session")
def data():
    """The embedded MNIST subset as (x_train, y_train, x_test, y_test)."""
    return ebm.load_data("embedded")


@pytest.fixture(scope="session")
def ebm_bin():
    """The release `ebm` binary from EBM_BIN; the CLI comparisons are skipped without it."""
    path = os.environ.get("EBM_BIN")
    if not path:
        pytest.skip("EBM_BIN is not set: set it to the ebm binary (target/release/ebm) to compare with the CLI")
    if not os.path.exists(path):
        pytest.fail(f"EBM_BIN={path} does not exist")
    return path


def run_cli(ebm_bin, *args, check=True):
    """Run the CLI quietly; returns the completed process."""
    p = subprocess.run([ebm_bin, *args], capture_output=True, text=True)
    if check and p.returncode != 0:
        raise AssertionError(f"ebm {' '.join(args)} exited {p.returncode}: {p.stderr}")
    return p


@pytest.fixture(scope="session")
def small_run():
    """One epoch of the quick preset on 1,000 training and 500 test examples."""
    config = (
        ebm.Config.preset("quick")
        .set("training.epochs", 1)
        .set("data.train_limit", 1000)
        .set("data.test_limit", 500)
    )
    return ebm.train(config)
