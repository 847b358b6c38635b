"""ebm.stdp and ebm.propagate: the CLI's experiment tables as rows (or DataFrames)."""

import csv
import json

import pytest

import ebm
from conftest import run_cli

STDP = {"stdp.sequences": 40, "stdp.trains": 50}


def stdp_config():
    c = ebm.Config()
    for k, v in STDP.items():
        c = c.set(k, v)
    return c


def test_stdp_figure4_rows_match_the_cli(ebm_bin, tmp_path):
    rows = ebm.stdp(stdp_config())
    out = tmp_path / "stdp"
    run_cli(ebm_bin, "stdp", *[a for k, v in STDP.items() for a in ("--set", f"{k}={v}")], "--out", str(out), "-q")
    cli = list(csv.DictReader(open(out / "metrics.csv")))
    assert len(rows) == len(cli) == 41  # dt = -20 .. 20
    for mine, theirs in zip(rows, cli):
        assert mine["dt"] == int(theirs["dt"]) and mine["count"] == int(theirs["count"])
        for key in ("rate_mean", "spike_mean", "nn_stdp_mean", "rate_se"):
            assert mine[key] == pytest.approx(float(theirs[key]), rel=1e-12, abs=1e-300)
    summary = json.loads((out / "summary.json").read_text())
    fig5 = ebm.stdp(stdp_config(), table="figure5")
    assert [r["rate"] for r in fig5] == pytest.approx(summary["fig5"]["rate"])
    schemes = ebm.stdp(stdp_config(), table="schemes")
    assert [s["scheme"] for s in schemes] == [s["scheme"] for s in summary["schemes"]]


def test_stdp_tables_and_errors():
    c = stdp_config()
    fig3 = ebm.stdp(c, table="figure3")
    assert fig3 and {"step", "pre_spike", "post_spike", "rho_pre", "rho_post"} <= set(fig3[0])
    assert any(r["pre_spike"] for r in fig3)
    with pytest.raises(ValueError, match='table = "fig9": expected one of figure4'):
        ebm.stdp(c, table="fig9")
    with pytest.raises(ValueError, match="stdp.window"):
        ebm.stdp(c.set("stdp.window", 0))


def test_propagate_rows_match_the_cli(ebm_bin, tmp_path):
    rows = ebm.propagate()
    out = tmp_path / "propagate"
    run_cli(ebm_bin, "propagate", "--out", str(out), "-q")
    summary = json.loads((out / "summary.json").read_text())
    assert rows == summary["rows"]
    assert ebm.propagate(table="headline") == summary["headline"]
    assert ebm.propagate(table="saturation") == summary["saturation"]
    with pytest.raises(ValueError, match='table = "x": expected one of rows, headline, saturation'):
        ebm.propagate(table="x")


def test_frame_needs_pandas_only_when_asked():
    try:
        import pandas  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="frame=True needs pandas"):
            ebm.propagate(table="headline", frame=True)
    else:
        df = ebm.propagate(table="headline", frame=True)
        assert len(df) == len(ebm.propagate(table="headline"))
