"""graphon-lab from Python: graphon limits of pruned networks' masks and their Graphon NTKs.

Every number comes from the same Rust libraries as the ``glh`` command line (the functions of
``graphon_lab._native``); this layer only turns what you hand it into what they take.

Conventions
-----------
- A **mask** is a 2-D array ``(n_out, n_in)``: rows are a layer's outputs, as in
  ``torch.nn.Linear.weight``. Any dtype is accepted; nonzero means kept. Torch tensors work
  too (they are moved to the CPU and read as numpy arrays).
- A **network** is a list of masks, input layer first; layer l + 1 reads what layer l writes.
- **Images** ``x`` are rows: ``(N, d)`` with ``d`` the first mask's inputs (float64).
- Errors are ``ValueError`` for bad input, ``RuntimeError`` otherwise, with the CLI's message.

Example::

    import numpy as np, graphon_lab as gl
    masks = gl.prune("snip", width=256, sparsity=0.9)          # the bits `glh masks` gives
    h = gl.sas_histogram(masks[1], k=16)                        # (16, 16) block densities
    k = gl.graphon_ntk(masks, np.random.default_rng(0).normal(size=(32, 784)))
    print(gl.spectral_metrics(k)["top5_energy"])
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from . import _native
from .importers import (
    masks_from_npz,
    masks_from_pth,
    masks_from_safetensors,
    masks_from_state_dict,
)
from .store import Store, open_store

__all__ = [
    "prune",
    "sas_histogram",
    "degree_profile",
    "frobenius_distance",
    "l2_distance",
    "cut_distance",
    "convergence_table",
    "graphon_ntk",
    "histogram_ntk",
    "empirical_ntk",
    "spectral_metrics",
    "as_mask",
    "masks_from_state_dict",
    "masks_from_npz",
    "masks_from_safetensors",
    "masks_from_pth",
    "open_store",
    "Store",
]


def _numpy(value: Any) -> np.ndarray:
    """A numpy view of an array, a list or a torch tensor (detached, on the CPU)."""
    if hasattr(value, "detach") and hasattr(value, "cpu"):
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def as_mask(mask: Any, name: str = "mask") -> np.ndarray:
    """``mask`` as the C-contiguous 2-D ``bool`` array the native functions take (nonzero = kept)."""
    array = _numpy(mask)
    if array.ndim != 2:
        raise ValueError(
            f"{name} has shape {array.shape}: a mask here is 2-D (n_out, n_in); a convolution's "
            "(out, in, kh, kw) has a histogram (sas_histogram) but no Graphon NTK yet"
        )
    if array.dtype != np.bool_:
        if not (np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_):
            raise ValueError(f"{name} has dtype {array.dtype}: give numbers or booleans")
        array = array != 0
    return np.ascontiguousarray(array)


def _network(masks: Sequence[Any]) -> list[np.ndarray]:
    if isinstance(masks, np.ndarray) or not isinstance(masks, Sequence):
        raise ValueError("masks: give a list of 2-D masks, input layer first")
    return [as_mask(m, f"masks[{i}]") for i, m in enumerate(masks)]


def _matrix(value: Any, name: str) -> np.ndarray:
    array = _numpy(value)
    if array.ndim != 2:
        raise ValueError(f"{name} has shape {array.shape}: expected a 2-D array")
    if not np.issubdtype(array.dtype, np.number):
        raise ValueError(f"{name} has dtype {array.dtype}: expected numbers")
    return np.ascontiguousarray(array, dtype=np.float64)


def prune(
    method: str,
    width: int,
    sparsity: float,
    depth: int = 4,
    seed: int = 0,
    scope: str = "global",
    synflow_rounds: int | None = None,
    grasp_temperature: float | None = None,
    data_dir: str = "data/mnist",
    store: str | None = None,
) -> list[np.ndarray]:
    """The masks ``glh masks`` computes, bit for bit: an MNIST MLP (784 inputs, ``depth - 1``
    hidden layers of ``width``, 10 outputs) initialised from ``seed`` and pruned by ``method``
    (``random``, ``magnitude``, ``snip``, ``grasp``, ``synflow``, ``shuffled:<m>``,
    ``rewired:<m>``, ``graphon:<m>``) to ``sparsity``, SynFlow in ``synflow_rounds`` rounds and
    GraSP at ``grasp_temperature`` (``[masks]``'s settings; ``None`` takes its defaults).
    Returns ``depth`` bool arrays ``(n_out, n_in)``, input layer first. Methods that score on data read MNIST from
    ``data_dir``; ``store`` caches their scoring batch (a temporary store when ``None``)."""
    return _native.prune(
        method, int(width), float(sparsity), int(depth), int(seed), scope,
        None if synflow_rounds is None else int(synflow_rounds),
        None if grasp_temperature is None else float(grasp_temperature),
        str(data_dir), None if store is None else str(store),
    )


def sas_histogram(mask: Any, k: int) -> np.ndarray:
    """The SAS histogram of one mask, ``(min(k, n_out), min(k, n_in))`` float64: each side
    sorted by degree (descending, ties by index), cut into ``k`` blocks at ``floor(a n / k)``,
    each block's fraction of kept weights (``histograms.parquet``'s ``block_density``).

    A convolution's mask ``(out, in, kh, kw)`` is read as its channel graph: output channel r
    reads input channel c with weight the kept fraction of their kernel, degrees are the kept
    taps, and each block's entry its kept fraction (a linear layer is the case kh = kw = 1)."""
    array = _numpy(mask)
    if array.ndim == 4:
        flat = as_mask(array.reshape(array.shape[0], -1), "mask")  # a 2-D mask's dtype checks
        return _native.channel_sas_histogram(flat.reshape(array.shape), int(k))
    return _native.sas_histogram(as_mask(array), int(k))


def degree_profile(mask: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(rows, cols)``: each side's degrees, descending, divided by the other side's size."""
    return _native.degree_profile(as_mask(mask))


def frobenius_distance(h1: Any, h2: Any) -> float:
    """The paper's distance ``||H1 - H2||_F`` of two histograms on one grid."""
    return _native.frobenius_distance(_matrix(h1, "h1"), _matrix(h2, "h2"))


def l2_distance(h1: Any, h2: Any) -> float:
    """The L2 distance of two step graphons (any two grids), ``||H1 - H2||_F / K`` on one."""
    return _native.l2_distance(_matrix(h1, "h1"), _matrix(h2, "h2"))


def cut_distance(h1: Any, h2: Any, seed: int = 0) -> tuple[float, float]:
    """The cut distance of two histograms on one grid as ``(low, high)``: equal (exact) on small
    grids, otherwise a certified interval, as the graphons stage reports it."""
    return _native.cut_distance(_matrix(h1, "h1"), _matrix(h2, "h2"), int(seed))


def convergence_table(
    masks_by_width: Mapping[int, Sequence[Sequence[Any]]], k: int = 64, rescale: str = "none"
) -> dict[str, np.ndarray]:
    """E1's convergence table of your masks: ``masks_by_width[w]`` is a list of seeds, each a
    network (a list of masks, input layer first). Each layer's ``k``-block SAS histogram
    (divided by the layer's density with ``rescale="layer_density"``) against the largest
    width's seed mean: per layer and width, the Frobenius, L2 and cut distances' mean and sd
    over seeds, the noise floor (seed-to-seed distance) and the bias-corrected squared
    distances to the reference and to the previous width, named as ``convergence.parquet``'s
    columns. ``polars.DataFrame(gl.convergence_table(...))`` makes it a frame."""
    networks = {
        int(width): [_network(net) for net in seeds] for width, seeds in masks_by_width.items()
    }
    columns = _native.convergence_table(networks, int(k), rescale)
    return {name: np.asarray(values) for name, values in columns.items()}


def graphon_ntk(masks: Sequence[Any], x: Any, sigma_w2: float = 1.0) -> np.ndarray:
    """The mask-level Graphon NTK ``(N, N)`` of a network on the rows of ``x`` (NTK
    parameterisation, bias-free ReLU, the mean over the outputs), as ``glh ntk``'s ``mask``
    kernel. Any input dimension and any number of outputs."""
    return _native.graphon_ntk(_network(masks), _matrix(x, "x"), float(sigma_w2))


def histogram_ntk(masks: Sequence[Any], x: Any, k: int, sigma_w2: float = 1.0) -> np.ndarray:
    """The Graphon NTK ``(N, N)`` of the network's ``k``-block SAS histograms (one shared neuron
    order per hidden layer), as ``glh ntk``'s ``histogram`` kernel."""
    return _native.histogram_ntk(_network(masks), _matrix(x, "x"), int(k), float(sigma_w2))


def empirical_ntk(
    masks: Sequence[Any], x: Any, draws: int = 1, seed: int = 0, sigma_w2: float = 1.0
) -> np.ndarray:
    """The empirical NTK ``(N, N)`` of the finite masked network on the rows of ``x``, averaged
    over ``draws`` N(0, 1) weight draws from ``seed`` (NTK parameterisation, bias-free ReLU), as
    ``glh ntk``'s ``empirical`` kernel; it approaches :func:`graphon_ntk` as the width grows."""
    return _native.empirical_ntk(
        _network(masks), _matrix(x, "x"), int(draws), int(seed), float(sigma_w2)
    )


def spectral_metrics(kernel: Any) -> dict[str, float | int]:
    """The spectral metrics of a symmetric kernel, named as ``metrics.parquet``'s columns
    (``trace``, ``top5_energy``, ``effective_rank_entropy``, ...)."""
    return _native.spectral_metrics(_matrix(kernel, "kernel"))
