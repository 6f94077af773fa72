"""Type stubs of graphon_lab._native (crates/python): shapes, dtypes and conventions.

Masks are C-contiguous 2-D ``bool`` arrays ``(n_out, n_in)``, networks lists of them (input
layer first), images ``x`` float64 rows ``(N, d)``. The package's functions coerce to these.
"""

import numpy as np
import numpy.typing as npt

BoolMatrix = npt.NDArray[np.bool_]
FloatMatrix = npt.NDArray[np.float64]
FloatVector = npt.NDArray[np.float64]

def prune(
    method: str,
    width: int,
    sparsity: float,
    depth: int = 4,
    seed: int = 0,
    scope: str = "global",
    data_dir: str = "data/mnist",
    store: str | None = None,
) -> list[BoolMatrix]: ...
def sas_histogram(mask: BoolMatrix, k: int) -> FloatMatrix: ...
def degree_profile(mask: BoolMatrix) -> tuple[FloatVector, FloatVector]: ...
def frobenius_distance(h1: FloatMatrix, h2: FloatMatrix) -> float: ...
def l2_distance(h1: FloatMatrix, h2: FloatMatrix) -> float: ...
def cut_distance(h1: FloatMatrix, h2: FloatMatrix, seed: int = 0) -> tuple[float, float]: ...
def graphon_ntk(masks: list[BoolMatrix], x: FloatMatrix, sigma_w2: float = 1.0) -> FloatMatrix: ...
def histogram_ntk(
    masks: list[BoolMatrix], x: FloatMatrix, k: int, sigma_w2: float = 1.0
) -> FloatMatrix: ...
def empirical_ntk(
    masks: list[BoolMatrix], x: FloatMatrix, draws: int = 1, seed: int = 0, sigma_w2: float = 1.0
) -> FloatMatrix: ...
def spectral_metrics(kernel: FloatMatrix) -> dict[str, float | int]: ...
def read_safetensors(path: str, layers: list[str] | None = None) -> list[tuple[str, BoolMatrix]]: ...
