"""Energy-based models and equilibrium propagation on the Rust engine of the `ebm` CLI.

- `Config`: a validated run configuration (presets, TOML, dicts, `--set`-style overrides).
- `train(config, data=None, out=None, on_epoch=None, *, threads=None, force=False) -> Run`:
  equilibrium propagation, the same numbers as `ebm train`; `out` gets `ebm train`'s results
  directory.
- `resume(run_dir, data=None, out=None, on_epoch=None, *, set=None, threads=None,
  force=False) -> Run`: continue a saved run, as `ebm train --resume`.
- `stdp(config=None, *, table="figure4", frame=False)` and `propagate(config=None, *,
  table="rows", frame=False)`: the experiments' tables as lists of dicts (or DataFrames).
- `Net`: a network (from a run or `Net.load(path)`): parameters as numpy arrays, `relax`,
  `predict`, `evaluate`, `ep_update`, `true_gradient`.
"""

import os
import pathlib
from typing import Any, Callable, Optional, Sequence, Tuple, Union

import numpy as np
import numpy.typing as npt

__version__: str
PRESETS: list[str]

_Value = Union[bool, int, float, str, Sequence[Any]]
_Path = Union[str, "os.PathLike[str]"]
_Array = npt.ArrayLike

class Config:
    """A run configuration, layered as the CLI's `--preset`, `--config` and `--set`."""

    def __init__(self) -> None:
        """The default configuration: the `quick` preset."""
    @staticmethod
    def preset(name: str) -> "Config":
        """A named preset (quick, ep-1h, ep-1h-code, ep-2h, ep-3h)."""
    @staticmethod
    def from_toml(text_or_path: Union[str, "os.PathLike[str]"]) -> "Config":
        """A TOML file or TOML text, merged over the `quick` preset."""
    @staticmethod
    def from_dict(d: dict[str, Any], preset: Optional[str] = None) -> "Config":
        """A nested dict applied leaf by leaf as overrides over `preset` (default quick)."""
    def set(self, key: str, value: _Value) -> "Config":
        """Set a dotted key as `--set key=value` would; returns the config itself."""
    def copy(self) -> "Config":
        """A copy."""
    def check(self) -> "Config":
        """Validate the training sections (`ValueError` with the CLI's message)."""
    def to_toml(self) -> str:
        """The effective configuration as TOML."""
    def to_dict(self) -> dict[str, Any]:
        """The effective configuration as a nested dict."""
    @property
    def overrides(self) -> list[str]:
        """The overrides applied so far, as `--set` takes them."""
    def __getitem__(self, key: str) -> Any:
        """The value at a dotted key path."""

class Net:
    """A layered energy-based network and the config it runs with."""

    @staticmethod
    def load(path: _Path) -> "Net":
        """A `model.npz` or `checkpoint.npz` (or a run directory)."""
    @property
    def sizes(self) -> list[int]:
        """Units per layer, input first."""
    @property
    def weights(self) -> list[npt.NDArray[np.float32]]:
        """`weights[k]`: `(n_k, n_(k+1))` float32, read-only views of the net's memory (no copy)."""
    @property
    def biases(self) -> list[npt.NDArray[np.float32]]:
        """`biases[k]`: `(n_(k+1),)` float32, read-only views (no copy)."""
    @property
    def config(self) -> Config:
        """The config the network runs with."""
    @property
    def sha256(self) -> str:
        """SHA-256 of the parameters (`summary.json`'s `model_sha256`)."""
    def relax(
        self,
        x: _Array,
        steps: Optional[int] = None,
        start: Optional[Sequence[_Array]] = None,
    ) -> list[npt.NDArray[np.float32]]:
        """The free phase of `x`: the states of layers 1 to L."""
    def predict(self, x: _Array, steps: Optional[int] = None) -> npt.NDArray[np.int64]:
        """The predicted class of every row of `x` (as `ebm eval`)."""
    def evaluate(self, x: _Array, y: _Array, steps: Optional[int] = None) -> float:
        """The error rate of the predictions of `x` against labels `y`."""
    def ep_update(
        self, x: _Array, y: _Array, beta: float, nudging: str = "centred"
    ) -> dict[str, Any]:
        """The EP estimate of dL/dtheta: `{"weights": [...], "biases": [...], ...}`."""
    def true_gradient(self, x: _Array, y: _Array) -> dict[str, Any]:
        """The true gradient at the free fixed point (implicit differentiation)."""

class Run:
    """What a training run measured and produced."""

    @property
    def history(self) -> list[dict[str, Any]]:
        """One dict of metrics per completed epoch."""
    @property
    def test_error(self) -> Optional[float]:
        """The last epoch's test error from zero states."""
    @property
    def net(self) -> Net:
        """The trained network."""
    @property
    def model_sha256(self) -> str:
        """SHA-256 of the trained parameters."""
    @property
    def stopped(self) -> bool:
        """Whether the callback stopped the run early."""
    @property
    def out(self) -> Optional[pathlib.Path]:
        """The results directory (`model.npz`, `checkpoint.npz`, `summary.json`, ...), if any."""
    @property
    def config(self) -> Config:
        """The run's effective config."""

def train(
    config: Config,
    data: Union[
        None, _Path, Tuple[_Array, _Array, _Array, _Array], Sequence[_Array]
    ] = None,
    out: Optional[_Path] = None,
    on_epoch: Optional[Callable[[dict[str, Any]], Optional[bool]]] = None,
    *,
    threads: Optional[int] = None,
    force: bool = False,
) -> Run:
    """Train by equilibrium propagation: the same numbers as `ebm train`; with `out`, the
    results directory `ebm train --out` writes (locked while the run lasts)."""

def resume(
    run_dir: _Path,
    data: Union[
        None, _Path, Tuple[_Array, _Array, _Array, _Array], Sequence[_Array]
    ] = None,
    out: Optional[_Path] = None,
    on_epoch: Optional[Callable[[dict[str, Any]], Optional[bool]]] = None,
    *,
    set: Optional[dict[str, Any]] = None,
    threads: Optional[int] = None,
    force: bool = False,
) -> Run:
    """Continue the run saved in `run_dir` (in place, or forked into `out`), with `set`
    overriding the keys that may change: the same numbers as a run never stopped."""

def stdp(
    config: Optional[Config] = None, *, table: str = "figure4", frame: bool = False
) -> Any:
    """The STDP simulation (section 4.2): `table` "figure4", "figure5", "figure3" or
    "schemes", as a list of dicts (a pandas DataFrame with `frame=True`)."""

def propagate(
    config: Optional[Config] = None, *, table: str = "rows", frame: bool = False
) -> Any:
    """The early-inference experiment (section 3): `table` "rows", "headline" or
    "saturation", as a list of dicts (a pandas DataFrame with `frame=True`)."""
