"""PyTorch's ``.pt``/``.pth`` files read without torch and without running their pickles.

``torch.save`` writes a zip archive: ``<name>/data.pkl`` (a pickle) and one ``<name>/data/<key>``
entry per storage (little-endian bytes). A pickle can name any Python callable, so loading a
file from the internet with ``pickle`` (or ``torch.load(weights_only=False)``) can run its code.
Here the unpickler resolves only the handful of names a tensor dictionary needs (an
``OrderedDict``, torch's storage types, ``_rebuild_tensor_v2`` and ``_rebuild_parameter``) to
local, side-effect-free stand-ins, and refuses every other global with ``UnpicklingError``
before anything is called. Tensors come back as numpy arrays (bfloat16 widened to float32).
The legacy, non-zip format (torch < 1.6) is refused with a message.
"""

from __future__ import annotations

import collections
import io
import pickle
import zipfile
from typing import Any

import numpy as np

# torch's storage type names and the numpy dtype of their elements.
_STORAGE_DTYPES = {
    "DoubleStorage": np.float64,
    "FloatStorage": np.float32,
    "HalfStorage": np.float16,
    "BFloat16Storage": "bfloat16",
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


class _StorageType:
    """A torch storage type named in the pickle: only its dtype is kept."""

    def __init__(self, name: str):
        self.name = name
        self.dtype = _STORAGE_DTYPES[name]


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False, *_rest):
    """numpy's version of ``torch._utils._rebuild_tensor_v2``: a strided view, copied."""
    size, stride = tuple(size), tuple(stride)
    if not size:
        return storage[storage_offset].copy()
    needed = storage_offset + 1 + sum((n - 1) * s for n, s in zip(size, stride) if n > 0)
    if any(n == 0 for n in size):
        return np.zeros(size, dtype=storage.dtype)
    if needed > storage.size or storage_offset < 0 or any(s < 0 for s in stride):
        raise pickle.UnpicklingError("a tensor reaches outside its storage")
    view = np.lib.stride_tricks.as_strided(
        storage[storage_offset:],
        shape=size,
        strides=tuple(s * storage.itemsize for s in stride),
        writeable=False,
    )
    return np.array(view)


def _rebuild_parameter(data, requires_grad=False, *_rest):
    return data


_ALLOWED = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
}


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, data: bytes, archive: zipfile.ZipFile, prefix: str, path: str):
        super().__init__(io.BytesIO(data))
        self._archive, self._prefix, self._path = archive, prefix, path
        self._storages: dict[str, np.ndarray] = {}

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED:
            return _ALLOWED[(module, name)]
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        raise pickle.UnpicklingError(
            f"{self._path}: refuses the global {module}.{name}: a mask file holds tensors, "
            "and this reader runs no code a file names"
        )

    def persistent_load(self, pid: Any) -> Any:
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"):
            raise pickle.UnpicklingError(f"{self._path}: an unknown persistent id {pid!r}")
        storage_type, key, numel = pid[1], str(pid[2]), pid[4]
        if not isinstance(storage_type, _StorageType):
            raise pickle.UnpicklingError(f"{self._path}: storage {key} has no known type")
        if key not in self._storages:
            raw = self._archive.read(f"{self._prefix}/data/{key}")
            if storage_type.dtype == "bfloat16":
                bits = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
                array = bits.view(np.float32)
            else:
                array = np.frombuffer(raw, dtype=np.dtype(storage_type.dtype).newbyteorder("<"))
            if array.size < numel:
                raise pickle.UnpicklingError(f"{self._path}: storage {key} is truncated")
            self._storages[key] = array
        return self._storages[key]


def load_torch_file(path: str) -> Any:
    """The object ``torch.save`` wrote to ``path`` (dictionaries, lists, numbers, strings), its
    tensors as numpy arrays; refuses any other global the pickle names (``UnpicklingError``)."""
    path = str(path)
    if not zipfile.is_zipfile(path):
        raise ValueError(
            f"{path}: not a zip archive: torch's legacy format (torch < 1.6) is not read; "
            "re-save it with a current torch"
        )
    with zipfile.ZipFile(path) as archive:
        pickles = [n for n in archive.namelist() if n.endswith("/data.pkl")]
        if len(pickles) != 1:
            raise ValueError(f"{path}: expected one */data.pkl in the archive, found {len(pickles)}")
        prefix = pickles[0][: -len("/data.pkl")]
        byteorder = f"{prefix}/byteorder"
        if byteorder in archive.namelist() and archive.read(byteorder).strip() != b"little":
            raise ValueError(f"{path}: big-endian storages are not read")
        return _RestrictedUnpickler(archive.read(pickles[0]), archive, prefix, path).load()
