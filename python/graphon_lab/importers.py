"""Masks from the files and objects other tools leave: a PyTorch ``state_dict`` (``torch.nn.utils.prune``'s
``*.weight_mask`` buffers, else the zero pattern of each 2-D ``*.weight``), safetensors files (the
same rule, read in Rust as ``glh graphons --safetensors`` reads them) and ``.npz`` archives
(JaxPruner's saved masks, numpy's own). Each returns the named-layer list: ``(name, mask)`` pairs,
in the order the layers appear (a ``state_dict`` keeps its modules' order), masks as 2-D ``bool``
arrays ``(n_out, n_in)``. torch is never imported here: tensors are read through their numpy view.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

import numpy as np

_MASK = ".weight_mask"
_WEIGHT = ".weight"


def _as_numpy(value: Any) -> np.ndarray:
    if hasattr(value, "detach") and hasattr(value, "cpu"):
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def _select(named: list[tuple[str, np.ndarray]], layers: Iterable[str] | None, source: str):
    if layers is None:
        return named
    by_name = dict(named)
    missing = [name for name in layers if name not in by_name]
    if missing:
        raise ValueError(
            f"{source}: no layer {missing[0]!r}; its layers are {list(by_name)}"
        )
    return [(name, by_name[name]) for name in layers]


def _kept(name: str, value: Any, source: str) -> np.ndarray:
    array = _as_numpy(value)
    # 2-D: a linear layer (n_out, n_in); 4-D: a convolution (out, in, kh, kw), whose
    # histogram is its channel graph's (see `sas_histogram`).
    if array.ndim not in (2, 4):
        raise ValueError(f"{source}: {name} has shape {array.shape}, not a linear or conv layer")
    return np.ascontiguousarray(array != 0)


def masks_from_state_dict(
    state_dict: Mapping[str, Any], layers: Iterable[str] | None = None
) -> list[tuple[str, np.ndarray]]:
    """The masks of a PyTorch ``state_dict`` (or any mapping of names to arrays): for each
    layer ``p``, ``p.weight_mask`` (left by ``torch.nn.utils.prune``) if present, else the
    nonzero pattern of a 2-D (or a convolution's 4-D) ``p.weight`` (how magnitude-pruned, Wanda and SparseGPT checkpoints
    carry their sparsity). Layers in the mapping's order, or as ``layers`` names them (their
    prefixes, e.g. ``["0", "2", "4"]`` for an ``nn.Sequential``)."""
    prefixes: dict[str, Any] = {}
    for key, value in state_dict.items():
        if key.endswith(_MASK):
            prefixes[key[: -len(_MASK)]] = value
        elif key.endswith(_WEIGHT):
            prefix = key[: -len(_WEIGHT)]
            is_layer = getattr(value, "ndim", np.ndim(value)) in (2, 4)
            if prefix not in prefixes and (is_layer or layers is not None):
                prefixes[prefix] = value
    # A `weight_mask` read after its layer's `weight` replaced it, in the weight's place.
    named = list(prefixes.items())
    if not named:
        raise ValueError("state_dict: no `*.weight_mask` and no 2-D `*.weight`")
    chosen = _select(named, layers, "state_dict")
    return [(name, _kept(name, value, "state_dict")) for name, value in chosen]


def masks_from_npz(
    path: str, layers: Iterable[str] | None = None, layout: str = "out_in"
) -> list[tuple[str, np.ndarray]]:
    """The masks of an ``.npz`` archive, one 2-D array per layer (nonzero = kept), in the
    archive's order or as ``layers`` names them. ``layout="in_out"`` for JAX/Flax kernels,
    which are ``(n_in, n_out)``: they are transposed to this package's ``(n_out, n_in)``."""
    if layout not in ("out_in", "in_out"):
        raise ValueError(f"layout must be 'out_in' or 'in_out', got {layout!r}")
    with np.load(path, allow_pickle=False) as archive:
        named = [(name, archive[name]) for name in archive.files]
    if not named:
        raise ValueError(f"{path}: an empty archive")
    chosen = _select(named, layers, str(path))
    masks = [(name, _kept(name, value, str(path))) for name, value in chosen]
    if layout == "in_out":
        masks = [(name, np.ascontiguousarray(m.T)) for name, m in masks]
    return masks


def masks_from_safetensors(
    path: str, layers: Iterable[str] | None = None
) -> list[tuple[str, np.ndarray]]:
    """The masks of a safetensors file (PyTorch's, Wanda's, SparseGPT's, ``glh masks export``'s):
    layer ``p``'s mask is ``p.weight_mask``, else the nonzero pattern of a 2-D ``p.weight``; in
    the order ``layers`` names them, else natural name order (``2`` before ``10``), the same
    masks and order as ``glh graphons --safetensors``."""
    from . import _native

    return _native.read_safetensors(str(path), None if layers is None else list(layers))


def masks_from_pth(path: str, layers: Iterable[str] | None = None) -> list[tuple[str, np.ndarray]]:
    """The masks of a ``.pt``/``.pth`` file, read without torch and without running its pickle
    (``graphon_lab.torch_files``): OpenLTH's ``mask.pth`` (``{"fc_layers.0.weight": 0/1}``), NNI's
    (``{"fc1": {"weight": 0/1, "bias": ...}}``), or a saved ``state_dict`` (also under a
    checkpoint's ``"state_dict"``), each by :func:`masks_from_state_dict`'s rule."""
    from .torch_files import load_torch_file

    obj = load_torch_file(path)
    if isinstance(obj, Mapping) and isinstance(obj.get("state_dict"), Mapping):
        obj = obj["state_dict"]
    if not isinstance(obj, Mapping) or not obj:
        raise ValueError(f"{path}: holds {type(obj).__name__}, not a dictionary of tensors")
    if all(isinstance(v, Mapping) for v in obj.values()):
        # NNI: one dictionary per module, its "weight" the mask.
        obj = {
            f"{name}{_MASK}": entry["weight"]
            for name, entry in obj.items()
            if entry.get("weight") is not None
        }
    return masks_from_state_dict(obj, layers)
