"""The Python package against independent truths: numpy twins of the SAS histogram, the degree
profile, the distances and the Graphon NTK recursion, a brute-force cut norm, closed-form
spectral metrics, and `glh masks`' own bits for `prune`. Run by `just python-test` (part of
`just test`) from the repository root, with GLH naming the `glh` binary."""

from __future__ import annotations

import itertools
import os
import subprocess
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

import graphon_lab as gl

RNG = np.random.default_rng(20261207)
REPO = Path(__file__).resolve().parents[2]


def random_mask(rows: int, cols: int, density: float) -> np.ndarray:
    return RNG.random((rows, cols)) < density


# --- numpy twins -------------------------------------------------------------------------


def degree_order(degrees: np.ndarray) -> np.ndarray:
    """Descending degree, ties by index (a stable sort of the negated degrees)."""
    return np.argsort(-degrees, kind="stable")


def sas_twin(mask: np.ndarray, k: int) -> np.ndarray:
    m, n = mask.shape
    kr, kc = min(k, m), min(k, n)
    rows = mask[degree_order(mask.sum(axis=1))]
    both = rows[:, degree_order(mask.sum(axis=0))]
    rb = [a * m // kr for a in range(kr + 1)]
    cb = [b * n // kc for b in range(kc + 1)]
    return np.array(
        [[both[rb[a] : rb[a + 1], cb[b] : cb[b + 1]].mean() for b in range(kc)] for a in range(kr)]
    )


def relu_moments(qa, qb, s):
    scale = np.sqrt(qa * qb)
    rho = np.clip(np.divide(s, scale, out=np.ones_like(s), where=scale > 0), -1.0, 1.0)
    angle = np.pi - np.arccos(rho)
    e = scale * (np.sqrt(1 - rho**2) + angle * rho) / (2 * np.pi)
    edot = angle / (2 * np.pi)
    return np.where(scale > 0, e, 0.0), np.where(scale > 0, edot, 0.0)


def graphon_ntk_twin(masks: list[np.ndarray], x: np.ndarray, sigma_w2: float) -> np.ndarray:
    """The mask-level Graphon NTK written out: one position per neuron of measure 1/n,
    Sigma_1(u) = s Sum_v W(u,v) mu(v) x_a(v) x_b(v), then per layer
    Sigma_{l+1} = s W (mu E), Theta_{l+1} = Sigma_{l+1} + s W (mu Edot Theta_l),
    and the mean over the outputs."""
    n = x.shape[0]
    out = np.zeros((n, n))
    for a in range(n):
        for b in range(n):
            def first(p, q):
                return sigma_w2 * masks[0].astype(float) @ (x[p] * x[q] / x.shape[1])

            sigma, qa, qb = first(a, b), first(a, a), first(b, b)
            theta = sigma.copy()
            for w in masks[1:]:
                mu = 1.0 / w.shape[1]
                e, edot = relu_moments(qa, qb, sigma)
                ea, _ = relu_moments(qa, qa, qa)
                eb, _ = relu_moments(qb, qb, qb)
                w = w.astype(float)
                sigma = sigma_w2 * w @ (mu * e)
                theta = sigma + sigma_w2 * w @ (mu * edot * theta)
                qa, qb = sigma_w2 * w @ (mu * ea), sigma_w2 * w @ (mu * eb)
            out[a, b] = theta.mean()
    return out


def cut_norm_brute_force(d: np.ndarray) -> float:
    """max over row and column block sets of |sum d| / (K_r K_c): step graphons on one
    uniform grid attain the cut norm on unions of blocks (the sum is linear in each set's
    share of a block)."""
    kr, kc = d.shape
    best = 0.0
    for rows in itertools.product([0, 1], repeat=kr):
        r = np.array(rows, dtype=float) @ d
        # For fixed rows the best columns take all positive or all negative entries.
        best = max(best, r[r > 0].sum(), -r[r < 0].sum())
    return best / (kr * kc)


# --- tests -------------------------------------------------------------------------------


@pytest.mark.parametrize("shape,k", [((37, 50), 8), ((12, 9), 4), ((5, 30), 8), ((64, 64), 64)])
def test_sas_histogram_matches_its_numpy_twin(shape, k):
    # Few distinct degrees, so ties are many and their order matters.
    mask = random_mask(*shape, 0.3)
    ours = gl.sas_histogram(mask, k)
    twin = sas_twin(mask, k)
    assert ours.shape == twin.shape == (min(k, shape[0]), min(k, shape[1]))
    np.testing.assert_allclose(ours, twin, rtol=0, atol=1e-12)
    # Any dtype, nonzero = kept; a torch-like float mask gives the same.
    np.testing.assert_array_equal(gl.sas_histogram(mask.astype(np.float32) * 0.5, k), ours)


def test_degree_profile_matches_its_numpy_twin():
    mask = random_mask(20, 33, 0.25)
    rows, cols = gl.degree_profile(mask)
    np.testing.assert_array_equal(rows, np.sort(mask.sum(axis=1))[::-1] / 33)
    np.testing.assert_array_equal(cols, np.sort(mask.sum(axis=0))[::-1] / 20)


def test_distances_match_numpy_and_a_brute_force_cut_norm():
    h1, h2 = RNG.random((6, 6)), RNG.random((6, 6))
    assert gl.frobenius_distance(h1, h2) == pytest.approx(np.linalg.norm(h1 - h2), abs=1e-12)
    assert gl.l2_distance(h1, h2) == pytest.approx(np.linalg.norm(h1 - h2) / 6, abs=1e-12)
    low, high = gl.cut_distance(h1, h2)
    # 6 blocks are within the stage's exact search: the interval is one number.
    assert low == pytest.approx(cut_norm_brute_force(h1 - h2), abs=1e-12)
    assert high == pytest.approx(low, abs=1e-12)
    with pytest.raises(ValueError, match="one grid"):
        gl.frobenius_distance(h1, h2[:3])


def test_graphon_ntk_matches_the_recursion_written_out():
    # Any input dimension and any number of outputs: 7 -> 9 -> 6 -> 3.
    masks = [random_mask(9, 7, 0.6), random_mask(6, 9, 0.5), random_mask(3, 6, 0.7)]
    x = RNG.normal(size=(5, 7))
    for sigma_w2 in (1.0, 2.0):
        ours = gl.graphon_ntk(masks, x, sigma_w2=sigma_w2)
        twin = graphon_ntk_twin(masks, x, sigma_w2)
        np.testing.assert_allclose(ours, twin, rtol=1e-12, atol=1e-15)
    # K = n: every neuron its own block, so the histogram kernel is the mask kernel up to the
    # neurons' order, which the kernel does not see.
    np.testing.assert_allclose(
        gl.histogram_ntk(masks, x, k=64), gl.graphon_ntk(masks, x), rtol=1e-12, atol=1e-15
    )


def test_spectral_metrics_of_a_diagonal_kernel_are_its_closed_forms():
    values = np.array([8.0, 4.0, 2.0, 1.0, 0.5, 0.25])
    m = gl.spectral_metrics(np.diag(values))
    total = values.sum()
    assert m["trace"] == pytest.approx(total, rel=1e-12)
    assert m["top1_eigenvalue"] == pytest.approx(8.0, rel=1e-12)
    assert m["top5_energy"] == pytest.approx(values[:5].sum() / total, rel=1e-12)
    assert m["effective_rank_trace"] == pytest.approx(total / 8.0, rel=1e-12)
    assert m["ratio_1_2"] == pytest.approx(2.0, rel=1e-12)
    assert m["negative_count"] == 0 and isinstance(m["negative_count"], int)


def glh(*args: str) -> str:
    binary = os.environ.get("GLH", str(REPO / "target/release/glh"))
    return subprocess.run(
        [binary, *args], cwd=REPO, check=True, capture_output=True, text=True
    ).stdout


@pytest.mark.parametrize("method", ["random", "snip", "synflow"])
def test_prune_gives_the_bits_of_glh_masks(tmp_path, method):
    store = tmp_path / "artifacts"
    glh("--artifacts", str(store), "masks", "--method", method, "--width", "24",
        "--sparsity", "0.8", "--depth", "3", "--seed", "3", "-q")
    (key,) = [p.name for p in (store / "masks").iterdir()]
    edges = tmp_path / "edges.parquet"
    glh("--artifacts", str(store), "masks", "export", key, "--out", str(edges))
    table = pq.read_table(edges).to_pydict()
    ours = gl.prune(method, width=24, sparsity=0.8, depth=3, seed=3,
                    data_dir=str(REPO / "data/mnist"))
    assert [m.shape for m in ours] == [(24, 784), (24, 24), (10, 24)]
    for layer, mask in enumerate(ours, start=1):
        kept = {(r, c) for l, r, c in zip(table["layer"], table["row"], table["col"]) if l == layer}
        assert set(zip(*np.nonzero(mask))) == kept, f"layer {layer}"


def test_bad_input_raises_value_errors_with_the_reason():
    mask = random_mask(8, 8, 0.5)
    with pytest.raises(ValueError, match="2-D"):
        gl.sas_histogram(np.zeros((2, 2, 2)), 2)
    with pytest.raises(ValueError, match="dtype"):
        gl.sas_histogram(np.array([["a", "b"]]), 2)
    with pytest.raises(ValueError, match="at least 1"):
        gl.sas_histogram(mask, 0)
    with pytest.raises(ValueError, match="3 features per image, masks\\[0\\] 8 inputs"):
        gl.graphon_ntk([mask, mask], np.ones((2, 3)))
    with pytest.raises(ValueError, match="do not chain|inputs"):
        gl.graphon_ntk([mask, random_mask(4, 5, 0.5)], np.ones((2, 8)))
    with pytest.raises(ValueError, match="unknown method"):
        gl.prune("lottery", width=8, sparsity=0.5)
    with pytest.raises(ValueError, match="sparsity"):
        gl.prune("random", width=8, sparsity=1.5)
    with pytest.raises(ValueError, match="square"):
        gl.spectral_metrics(np.ones((2, 3)))


def test_state_dicts_and_npz_archives_give_the_named_layers(tmp_path):
    w1, w2 = RNG.normal(size=(6, 5)), RNG.normal(size=(3, 6))
    mask1 = random_mask(6, 5, 0.5)
    w2[random_mask(3, 6, 0.4)] = 0.0
    # torch.nn.utils.prune leaves weight_orig and weight_mask; a magnitude-pruned layer only
    # its zeros; biases and other 1-D entries are not layers.
    state = {
        "0.bias": np.zeros(6), "0.weight_orig": w1, "0.weight_mask": mask1.astype(np.float32),
        "2.weight": w2, "2.bias": np.zeros(3),
    }
    named = gl.masks_from_state_dict(state)
    assert [n for n, _ in named] == ["0", "2"]
    np.testing.assert_array_equal(named[0][1], mask1)
    np.testing.assert_array_equal(named[1][1], w2 != 0)
    np.testing.assert_array_equal(
        gl.sas_histogram(named[1][1], 3), sas_twin(w2 != 0, 3)
    )
    assert [n for n, _ in gl.masks_from_state_dict(state, layers=["2"])] == ["2"]
    with pytest.raises(ValueError, match="no layer '4'"):
        gl.masks_from_state_dict(state, layers=["4"])
    assert gl.masks_from_state_dict({"c.weight": np.ones((4, 3, 3, 3))})[0][1].shape == (4, 3, 3, 3)
    with pytest.raises(ValueError, match="not a linear or conv layer"):
        gl.masks_from_state_dict({"c.weight": np.ones((4, 3, 3))}, layers=["c"])
    # JAX kernels are (n_in, n_out): `layout="in_out"` turns them into rows = outputs.
    path = tmp_path / "masks.npz"
    np.savez(path, dense_0=mask1.T, dense_1=(w2 != 0).T)
    jax = gl.masks_from_npz(str(path), layout="in_out")
    assert [n for n, _ in jax] == ["dense_0", "dense_1"]
    np.testing.assert_array_equal(jax[0][1], mask1)
    np.testing.assert_array_equal(jax[1][1], w2 != 0)


def test_safetensors_files_read_as_glh_reads_them(tmp_path):
    from safetensors.numpy import save_file

    # As a pruned checkpoint carries it: float16 weights whose zeros (-0.0 among them) are the
    # mask, a float32 `weight_mask` beside one layer's dense `weight_orig`, biases, and names
    # whose natural order is not their text order (`layers.2` before `layers.10`).
    w_in = RNG.normal(size=(12, 9)).astype(np.float16)
    w_in[random_mask(12, 9, 0.6)] = 0.0
    w_in[0, 0] = -0.0
    mask_mid = random_mask(12, 12, 0.3)
    w_out = RNG.normal(size=(4, 12)).astype(np.float16)
    w_out[random_mask(4, 12, 0.5)] = 0.0
    path = tmp_path / "net.safetensors"
    save_file(
        {
            "layers.10.weight": w_out, "layers.10.bias": np.zeros(4, np.float16),
            "layers.2.weight_orig": RNG.normal(size=(12, 12)).astype(np.float32),
            "layers.2.weight_mask": mask_mid.astype(np.float32),
            "layers.1.weight": w_in,
        },
        str(path),
    )
    named = gl.masks_from_safetensors(str(path))
    assert [n for n, _ in named] == ["layers.1", "layers.2", "layers.10"]
    for (_, ours), truth in zip(named, [w_in != 0, mask_mid, w_out != 0]):
        np.testing.assert_array_equal(ours, truth)
    assert not named[0][1][0, 0]
    assert [n for n, _ in gl.masks_from_safetensors(str(path), layers=["layers.2"])] == ["layers.2"]
    with pytest.raises(ValueError, match="no layer `fc`"):
        gl.masks_from_safetensors(str(path), layers=["fc"])
    # `glh graphons --safetensors` reads the same masks in the same order.
    store = tmp_path / "artifacts"
    glh("--artifacts", str(store), "graphons", "--safetensors", str(path), "--k", "4", "-q")
    (run,) = list((store / "graphons").iterdir())
    table = pq.read_table(run / "histograms.parquet").to_pydict()
    for layer, (_, mask) in enumerate(named, start=1):
        ours = gl.sas_histogram(mask, 4)
        rows = [i for i, l in enumerate(table["layer"]) if l == layer]
        stored = np.array([table["block_density"][i] for i in rows]).reshape(ours.shape)
        np.testing.assert_array_equal(stored, ours)


FIXTURES = Path(__file__).parent / "fixtures"


def truth(name: str) -> dict[str, np.ndarray]:
    with np.load(FIXTURES / f"{name}-truth.npz") as archive:
        return {k: archive[k] for k in archive.files}


@pytest.mark.parametrize(
    "name,expected_layers",
    [
        ("torch-mlp-pruned", ["0", "2", "4"]),          # torch.nn.utils.prune's weight_mask
        ("torch-mlp-bf16-zeros", ["0", "2", "4"]),      # bfloat16 zeros (and -0.0) in weight
        ("openlth-mask", ["fc_layers.0", "fc_layers.1", "fc"]),
        ("nni-masks", ["fc1", "fc2", "fc3"]),
    ],
)
def test_torch_files_written_by_torch_read_as_torch_holds_them(name, expected_layers):
    suffix = ".pth" if name.startswith(("openlth", "nni")) else ".pt"
    named = gl.masks_from_pth(str(FIXTURES / f"{name}{suffix}"))
    assert [n for n, _ in named] == expected_layers
    want = truth(name)
    for layer, mask in named:
        np.testing.assert_array_equal(mask, want[layer], err_msg=f"{name} {layer}")
    # The same histograms as the equivalent edge list gives: the masks are the masks.
    for layer, mask in named:
        np.testing.assert_array_equal(gl.sas_histogram(mask, 4), sas_twin(want[layer], 4))


def channel_sas_twin(conv: np.ndarray, k: int) -> np.ndarray:
    """A convolution mask's channel graph histogram written out: counts of kept taps per
    (output, input) channel pair, sides by their count sums, blocks' kept fractions."""
    out, inputs = conv.shape[:2]
    taps = conv.shape[2] * conv.shape[3]
    counts = conv.reshape(out, inputs, -1).sum(axis=2)
    kr, kc = min(k, out), min(k, inputs)
    both = counts[degree_order(counts.sum(axis=1))][:, degree_order(counts.sum(axis=0))]
    rb = [a * out // kr for a in range(kr + 1)]
    cb = [b * inputs // kc for b in range(kc + 1)]
    return np.array(
        [[both[rb[a]:rb[a + 1], cb[b]:cb[b + 1]].sum()
          / ((rb[a + 1] - rb[a]) * (cb[b + 1] - cb[b]) * taps) for b in range(kc)]
         for a in range(kr)]
    )


def test_a_pruned_cnn_goes_from_its_state_dict_to_histograms():
    named = gl.masks_from_pth(str(FIXTURES / "torch-cnn-pruned.pt"))
    assert [(n, m.ndim) for n, m in named] == [("0", 4), ("3", 2)]
    hists = [gl.sas_histogram(m, k=4) for _, m in named]
    conv = named[0][1]
    assert conv.shape == (4, 1, 3, 3)
    np.testing.assert_allclose(hists[0], channel_sas_twin(conv, 4), rtol=0, atol=1e-12)
    np.testing.assert_array_equal(named[1][1], truth("torch-cnn-pruned")["3"])
    # A wider random convolution: many channels, ties and all.
    wide = random_mask(24, 20, 0.4).reshape(24, 20, 1, 1) & (RNG.random((24, 20, 3, 3)) < 0.5)
    np.testing.assert_allclose(gl.sas_histogram(wide, 8), channel_sas_twin(wide, 8), atol=1e-12)
    # A 1x1 convolution is a linear layer.
    linear = random_mask(10, 12, 0.3)
    np.testing.assert_array_equal(gl.sas_histogram(linear[:, :, None, None], 4), gl.sas_histogram(linear, 4))
    with pytest.raises(ValueError, match="no Graphon NTK yet"):
        gl.graphon_ntk([conv, named[1][1]], np.ones((2, 1)))


def test_a_torch_file_that_names_code_is_refused_before_it_runs(tmp_path):
    """A `.pt` whose pickle calls os.system (what `torch.load(weights_only=False)` would run):
    refused at the global, and the command never runs."""
    import pickle
    import zipfile

    canary = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {canary}",))

    path = tmp_path / "evil.pt"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("evil/data.pkl", pickle.dumps({"0.weight": Payload()}, protocol=2))
        archive.writestr("evil/byteorder", "little")
    with pytest.raises(pickle.UnpicklingError, match="refuses the global (posix|os).system"):
        gl.masks_from_pth(str(path))
    assert not canary.exists()
    # Not a zip at all (torch's legacy format, or anything else): a clear refusal.
    legacy = tmp_path / "legacy.pt"
    legacy.write_bytes(pickle.dumps({"0.weight": [[1.0]]}))
    with pytest.raises(ValueError, match="legacy format"):
        gl.masks_from_pth(str(legacy))


def test_open_store_reads_every_run_verified(tmp_path):
    store_dir = tmp_path / "artifacts"
    glh("--artifacts", str(store_dir), "run", "pipelines/smoke.toml", "-q")
    store = gl.open_store(store_dir)
    runs = store.runs("graphons")
    manifests = [json_of(p) for p in (store_dir / "graphons").glob("*/manifest.json")]
    assert sorted(runs["key"].to_list()) == sorted(m["key"] for m in manifests)
    histograms = store.table("graphons", "histograms")
    rows = sum(f["rows"] for m in manifests for f in m["files"] if f["table"] == "histograms")
    assert histograms.height == rows
    assert histograms.columns[0] == "key" and "block_density" in histograms.columns
    assert set(histograms["key"].unique()) == set(runs["key"])
    assert "masks" in store.stages() and "graphons" in store.stages()
    # A file changed after its run wrote it is refused, naming the file.
    victim = next((store_dir / "graphons").glob("*/histograms.parquet"))
    victim.write_bytes(victim.read_bytes()[:-1] + b"\0")
    with pytest.raises(ValueError, match="SHA-256"):
        store.table("graphons", "histograms")
    with pytest.raises(ValueError, match="no complete masks run has a `nothing` table"):
        store.table("masks", "nothing")


def json_of(path: Path) -> dict:
    import json

    return json.loads(path.read_text())


def test_empirical_ntk_approaches_the_graphon_ntk_with_width():
    x = RNG.normal(size=(6, 8))

    def error(width: int) -> float:
        masks = [random_mask(width, 8, 0.7), random_mask(width, width, 0.5), random_mask(3, width, 0.6)]
        exact = gl.graphon_ntk(masks, x, sigma_w2=2.0)
        drawn = gl.empirical_ntk(masks, x, draws=4, seed=1, sigma_w2=2.0)
        np.testing.assert_allclose(drawn, drawn.T, rtol=1e-12, atol=1e-12)
        return np.linalg.norm(drawn - exact) / np.linalg.norm(exact)

    small, large = error(16), error(1024)
    assert large < 0.1, large
    assert large < small / 2, (small, large)
    with pytest.raises(ValueError, match="draws"):
        gl.empirical_ntk([random_mask(4, 8, 0.5), random_mask(2, 4, 0.5)], x, draws=0)


def test_convergence_table_is_the_stage_s_for_the_same_masks(tmp_path):
    # The smoke pipeline's convergence runs (widths 16 and 32, seeds 0 and 1, 80%, L = 3, K = 8)
    # against the same masks pruned from Python: every column equal.
    store_dir = tmp_path / "artifacts"
    glh("--artifacts", str(store_dir), "run", "pipelines/smoke.toml", "-q")
    stored = gl.open_store(store_dir).table("convergence", "convergence")
    for method in ("random", "synflow"):
        masks = {
            w: [gl.prune(method, w, 0.8, depth=3, seed=s, synflow_rounds=10,
                         data_dir=str(REPO / "data/mnist"))
                for s in (0, 1)]
            for w in (16, 32)
        }
        ours = gl.convergence_table(masks, k=8)
        theirs = stored.filter(
            (stored["method"] == method) & (stored["rescale"] == "none")
        ).sort(["layer", "width"])
        assert theirs.height == len(ours["layer"]) == 3 * 2
        for name, values in ours.items():
            np.testing.assert_array_equal(values, theirs[name].to_numpy(), err_msg=f"{method} {name}")
    with pytest.raises(ValueError, match="rescale"):
        gl.convergence_table({16: [[random_mask(16, 8, 0.5)]]}, rescale="log")
    with pytest.raises(ValueError, match="reference's layers"):
        gl.convergence_table({16: [[random_mask(16, 8, 0.5)], [random_mask(16, 9, 0.5)]]}, k=9)
