"""docs/python.md's notebook session, executed cell by cell in one namespace."""

import pathlib
import re

import pytest

DOC = pathlib.Path(__file__).resolve().parents[3] / "docs" / "python.md"


def test_the_notebook_example_runs(tmp_path, monkeypatch, capsys):
    if not DOC.exists():
        pytest.skip(f"{DOC} is not here (the tests run from the repository)")
    cells = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    assert len(cells) >= 5
    monkeypatch.chdir(tmp_path)
    namespace = {}
    for i, cell in enumerate(cells):
        exec(compile(cell, f"{DOC.name} cell {i + 1}", "exec"), namespace)
    out = capsys.readouterr().out
    assert "must be at least 1" in out
    assert "model.npz" in out
