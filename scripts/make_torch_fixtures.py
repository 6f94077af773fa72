"""Makes tests/python/fixtures/*.pt|pth|npz: masks as PyTorch, OpenLTH and NNI write them, for
the Python package's readers (CI has no torch, so the files are committed). Run once with torch
installed, from the repository root:

    python scripts/make_torch_fixtures.py

Each file comes with the truth it must read as: `*-truth.npz`, the masks as torch itself holds
them (`weight_mask`, or the weight's nonzero pattern), saved by numpy.
"""

from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn.utils import prune

OUT = Path("tests/python/fixtures")
OUT.mkdir(parents=True, exist_ok=True)
torch.manual_seed(20261207)


def mlp() -> nn.Sequential:
    return nn.Sequential(nn.Linear(20, 16), nn.ReLU(), nn.Linear(16, 12), nn.ReLU(), nn.Linear(12, 4))


# torch.nn.utils.prune's own masks: weight_orig and weight_mask buffers in the state_dict.
net = mlp()
for i, amount in [(0, 0.8), (2, 0.7), (4, 0.5)]:
    prune.l1_unstructured(net[i], "weight", amount=amount)
torch.save(net.state_dict(), OUT / "torch-mlp-pruned.pt")
np.savez(OUT / "torch-mlp-pruned-truth.npz", **{str(i): net[i].weight_mask.numpy() != 0 for i in (0, 2, 4)})

# The same net with the masks made permanent (prune.remove): only zeros in `weight`, in bfloat16
# (a checkpoint's dtype; its -0.0 entries must read as pruned).
for i in (0, 2, 4):
    prune.remove(net[i], "weight")
half = {k: v.to(torch.bfloat16) for k, v in net.state_dict().items()}
half["0.weight"][0, :] = -half["0.weight"][0, :].abs() * (half["0.weight"][0, :] != 0)
torch.save(half, OUT / "torch-mlp-bf16-zeros.pt")
np.savez(OUT / "torch-mlp-bf16-zeros-truth.npz", **{str(i): (half[f"{i}.weight"] != 0).numpy() for i in (0, 2, 4)})

# A small CNN, pruned: its convolution weights are 4-D.
cnn = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 10))
for m in (cnn[0], cnn[3]):
    prune.random_unstructured(m, "weight", amount=0.6)
torch.save(cnn.state_dict(), OUT / "torch-cnn-pruned.pt")
np.savez(OUT / "torch-cnn-pruned-truth.npz", **{"3": cnn[3].weight_mask.numpy() != 0})

# OpenLTH's mask.pth: {parameter name: int 0/1 tensor} of the prunable weights.
openlth = {f"fc_layers.{i}.weight": (torch.rand(o, n) < 0.3).int() for i, (o, n) in enumerate([(16, 20), (12, 16)])}
openlth["fc.weight"] = (torch.rand(4, 12) < 0.5).int()
torch.save(openlth, OUT / "openlth-mask.pth")
np.savez(OUT / "openlth-mask-truth.npz", **{k[: -len(".weight")]: v.numpy() != 0 for k, v in openlth.items()})

# NNI's masks: {module name: {"weight": float 0/1 tensor, "bias": None}}.
nni = {name: {"weight": (torch.rand(o, n) < 0.4).float(), "bias": None} for name, (o, n) in [("fc1", (16, 20)), ("fc2", (12, 16)), ("fc3", (4, 12))]}
torch.save(nni, OUT / "nni-masks.pth")
np.savez(OUT / "nni-masks-truth.npz", **{k: v["weight"].numpy() != 0 for k, v in nni.items()})
print("wrote", sorted(p.name for p in OUT.iterdir()))
