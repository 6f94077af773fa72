"""PyTorch twins of graphon-lab's benchmarks, on the very weights, masks and batches ours use.

Run by `just bench-torch` (scripts/bench-torch.sh) after `torch-fixtures FIXTURES` has written
the fixtures; prints one JSON object: PyTorch's timings, and the checks of our numbers against
PyTorch's (the same E3 run's losses, the overlap of the scorers' kept sets, GraSP's initial loss).

The twins are what a PyTorch user would write, following the Synaptic-Flow reference scorers:
- the masked step: `torch.nn.utils.prune` (forward on weight_orig * weight_mask), F.cross_entropy,
  torch.optim.Adam(lr 1e-3), batch 128;
- one E3 run: 200 such steps on our batch order, the test set (10,000 images, no_grad) before
  step 1 and every 20 steps;
- SNIP |g w|, GraSP w (H g) at temperature 200 (double backward), SynFlow |w dR/dw| on |w| and an
  all-ones input over 100 rounds of an exponential schedule; global top-k selection.
Timed scorers run in f32 (as the reference code does); the mask comparison reruns them in f64,
the precision ours score in, so that any difference beyond ties at the threshold is a bug.
"""

import argparse
import json
import math
import statistics
import time
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import load_file
from torch.nn.utils import prune


def load_network(path):
    """The exported pruned network as nn.Sequential under torch.nn.utils.prune."""
    state = load_file(path)
    depth = sum(1 for name in state if name.endswith(".bias"))
    layers = []
    for l in range(depth):
        rows, cols = state[f"{2 * l}.weight_orig"].shape
        layers.append(nn.Linear(cols, rows))
        if l + 1 < depth:
            layers.append(nn.ReLU())
    net = nn.Sequential(*layers)
    for linear in net[::2]:
        prune.identity(linear, "weight")
    net.load_state_dict(state)
    return net


def parameters(path, dtype):
    """(weights, biases, masks) of an export, as plain tensors of `dtype`."""
    state = load_file(path)
    depth = sum(1 for name in state if name.endswith(".bias"))
    get = lambda l, what: state[f"{2 * l}.{what}"].to(dtype)
    return (
        [get(l, "weight_orig") for l in range(depth)],
        [get(l, "bias") for l in range(depth)],
        [get(l, "weight_mask") for l in range(depth)],
    )


def median_seconds(fn, min_runs=5, min_seconds=3.0, warm_up=2):
    """The median wall time of `fn()` over at least `min_runs` runs and `min_seconds`."""
    for _ in range(warm_up):
        fn()
    times = []
    start = time.perf_counter()
    while len(times) < min_runs or time.perf_counter() - start < min_seconds:
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def forward(x, weights, biases):
    h = x
    for l, (w, b) in enumerate(zip(weights, biases)):
        h = h @ w.T + b
        if l + 1 < len(weights):
            h = torch.relu(h)
    return h


def select_top(scores, density):
    """Global top-k: a 0/1 mask per layer keeping round(density * total) largest scores."""
    flat = torch.cat([s.flatten() for s in scores])
    k = round(density * flat.numel())
    keep = torch.zeros_like(flat)
    keep[torch.topk(flat, k, sorted=False).indices] = 1
    masks, at = [], 0
    for s in scores:
        masks.append(keep[at : at + s.numel()].view_as(s))
        at += s.numel()
    return masks, flat, k


def snip_scores(weights, biases, x, y):
    weights = [w.clone().requires_grad_() for w in weights]
    loss = F.cross_entropy(forward(x, weights, biases), y)
    grads = torch.autograd.grad(loss, weights)
    return [(g * w).abs().detach() for g, w in zip(grads, weights)]


def grasp_scores(weights, biases, x, y, temperature=200.0):
    weights = [w.clone().requires_grad_() for w in weights]
    loss = F.cross_entropy(forward(x, weights, biases) / temperature, y)
    stopped = [g.detach() for g in torch.autograd.grad(loss, weights)]
    loss = F.cross_entropy(forward(x, weights, biases) / temperature, y)
    grads = torch.autograd.grad(loss, weights, create_graph=True)
    z = sum((g * s).sum() for g, s in zip(grads, stopped))
    hg = torch.autograd.grad(z, weights)
    return [(w * h).detach() for w, h in zip(weights, hg)]


def synflow_masks(weights, biases, density, rounds=100):
    masks = [torch.ones_like(w) for w in weights]
    ones = torch.ones(1, weights[0].shape[1], dtype=weights[0].dtype)
    b_abs = [b.abs() for b in biases]
    for e in range(1, rounds + 1):
        linear = [(w.abs() * m).requires_grad_() for w, m in zip(weights, masks)]
        r = forward(ones, linear, b_abs).sum()
        grads = torch.autograd.grad(r, linear)
        scores = [(g * w).abs() for g, w in zip(grads, linear)]
        target = density if e == rounds else density ** (e / rounds)
        masks, flat, k = select_top(scores, target)
    return masks, flat, k


def scorer_masks(method, weights, biases, batch, density):
    """The mask, the final scores (flat) and the kept count of `method`."""
    if method == "synflow":
        return synflow_masks(weights, biases, density)
    x, y = batch
    scores = (snip_scores if method == "snip" else grasp_scores)(weights, biases, x, y)
    return select_top(scores, density)


def mask_comparison(method, export, batch_path, density):
    """Overlap of PyTorch's kept set (f64 and f32) with ours, and how far from the threshold
    the weights on which they disagree score (relative to it)."""
    result = {}
    for name, dtype in [("f64", torch.float64), ("f32", torch.float32)]:
        weights, biases, ours = parameters(export, dtype)
        batch = None
        if batch_path is not None:
            b = load_file(batch_path)
            batch = (b["x"].to(dtype), b["y"])
        start = time.perf_counter()
        masks, flat, k = scorer_masks(method, weights, biases, batch, density)
        seconds = time.perf_counter() - start
        theirs = torch.cat([m.flatten() for m in masks]).bool()
        mine = torch.cat([m.flatten() for m in ours]).bool()
        both = (theirs & mine).sum().item()
        threshold = torch.topk(flat, k).values[-1].item()
        differ = theirs ^ mine
        gap = 0.0
        if differ.any():
            # In Python floats: a threshold of exactly 0 (GraSP at 50%) would underflow in f32.
            largest = (flat[differ] - threshold).abs().max().item()
            gap = largest / abs(threshold) if threshold != 0 else largest
        result[name] = {
            "kept": int(mine.sum().item()),
            "overlap": both / mine.sum().item(),
            "differ": int(differ.sum().item()),
            "max_relative_gap_to_threshold": gap,
            "seconds_one_run": seconds,
        }
    return result


def dense_network(path):
    """The export's network unpruned: plain Linear layers holding weight_orig."""
    net = load_network(path)
    for linear in net[::2]:
        prune.remove(linear, "weight")  # makes weight = weight_orig * weight_mask a parameter
    state = load_file(path)
    with torch.no_grad():
        for l, linear in enumerate(net[::2]):
            linear.weight.copy_(state[f"{2 * l}.weight_orig"])
    return net


def adam_step_timings(fixtures, mnist):
    export = fixtures / "random_n1024_s0.8.safetensors"
    net = load_network(export)
    dense = dense_network(export)
    x, y = mnist["train_x"][:128], mnist["train_y"][:128]
    out = {}
    for name, model in [("random_s0.8", net), ("dense", dense)]:
        optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)

        def step():
            optimiser.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            optimiser.step()
            return loss.item()

        out[name] = median_seconds(step, min_runs=20)
    with torch.no_grad():
        out["test_eval"] = median_seconds(
            lambda: F.cross_entropy(net(mnist["test_x"]), mnist["test_y"]).item(), min_runs=5
        )
    return out


def e3_run(fixtures, mnist):
    """One E3 run of the Random mask: its wall time and its losses."""
    net = load_network(fixtures / "random_n1024_s0.8.safetensors")
    order = load_file(fixtures / "batches.safetensors")["order"]
    optimiser = torch.optim.Adam(net.parameters(), lr=1e-3)
    train, test = [], []

    def evaluate(step):
        with torch.no_grad():
            logits = net(mnist["test_x"])
            loss = F.cross_entropy(logits, mnist["test_y"]).item()
            accuracy = (logits.argmax(1) == mnist["test_y"]).float().mean().item()
        test.append((step, loss, accuracy))

    start = time.perf_counter()
    evaluate(0)
    for i, batch in enumerate(order):
        x, y = mnist["train_x"][batch], mnist["train_y"][batch]
        optimiser.zero_grad(set_to_none=True)
        logits = net(x)
        loss = F.cross_entropy(logits, y)
        loss.backward()
        optimiser.step()
        train.append((i + 1, loss.item(), (logits.argmax(1) == y).float().mean().item()))
        if (i + 1) % 20 == 0 or i + 1 == len(order):
            evaluate(i + 1)
    return time.perf_counter() - start, train, test


def curve_differences(ours, theirs):
    """Largest absolute loss difference per split between our run and PyTorch's."""
    out = {}
    for split in ["train", "test"]:
        pairs = list(zip(ours[split], theirs[split]))
        assert all(a[0] == b[0] for a, b in pairs), "steps differ"
        out[split] = {
            "max_abs_loss_difference": max(abs(a[1] - b[1]) for a, b in pairs),
            "first_loss_ours": pairs[0][0][1],
            "first_loss_torch": pairs[0][1][1],
            "last_loss_ours": pairs[-1][0][1],
            "last_loss_torch": pairs[-1][1][1],
        }
    return out


def initial_test_loss(net, masks, mnist):
    with torch.no_grad():
        for linear, m in zip(net[::2], masks):
            linear.weight_mask.copy_(m.to(linear.weight_mask.dtype))
        return F.cross_entropy(net(mnist["test_x"]), mnist["test_y"]).item()


def grasp_check(fixtures, mnist):
    """The test loss before training of GraSP's 50% mask: ours and PyTorch's own GraSP (f64) on
    the same weights and batch, beside SNIP's and the dense net's."""
    export = fixtures / "grasp_n1024_s0.5.safetensors"
    net = load_network(export)
    weights, biases, ours = parameters(export, torch.float64)
    b = load_file(fixtures / "grasp_n1024_s0.5_batch.safetensors")
    theirs, _, _ = scorer_masks("grasp", weights, biases, (b["x"].double(), b["y"]), 0.5)
    snip_net = load_network(fixtures / "snip_n1024_s0.5.safetensors")
    _, _, snip = parameters(fixtures / "snip_n1024_s0.5.safetensors", torch.float32)
    comparison = mask_comparison("grasp", export, fixtures / "grasp_n1024_s0.5_batch.safetensors", 0.5)
    return {
        "masks": comparison,
        "ours_grasp": initial_test_loss(net, ours, mnist),
        "torch_grasp": initial_test_loss(net, theirs, mnist),
        "ours_snip": initial_test_loss(snip_net, snip, mnist),
        "dense": initial_test_loss(net, [torch.ones_like(m) for m in ours], mnist),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("fixtures", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    torch.manual_seed(0)
    mnist = load_file(args.fixtures / "mnist.safetensors")
    report = {"torch": torch.__version__, "threads": torch.get_num_threads()}
    report["train_step"] = adam_step_timings(args.fixtures, mnist)
    seconds, train, test = e3_run(args.fixtures, mnist)
    report["e3_run_seconds"] = seconds
    ours = json.loads((args.fixtures / "ours_e3_run.json").read_text())
    report["e3_run_curves"] = curve_differences(ours, {"train": train, "test": test})
    report["scorers"] = {}
    report["masks"] = {}
    for width in [1000, 2000]:
        for method in ["snip", "grasp", "synflow"]:
            name = f"{method}_n{width}_s0.8"
            export = args.fixtures / f"{name}.safetensors"
            batch_path = None if method == "synflow" else args.fixtures / f"{name}_batch.safetensors"
            weights, biases, _ = parameters(export, torch.float32)
            batch = None
            if batch_path is not None:
                b = load_file(batch_path)
                batch = (b["x"], b["y"])
            runs = 2 if method == "synflow" else 5
            report["scorers"][f"{method}/n={width}"] = median_seconds(
                lambda: scorer_masks(method, weights, biases, batch, 0.2),
                min_runs=runs,
                min_seconds=0,
                warm_up=1,
            )
            report["masks"][name] = mask_comparison(method, export, batch_path, 0.2)
    report["grasp_initial_test_loss"] = grasp_check(args.fixtures, mnist)
    args.out.write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
