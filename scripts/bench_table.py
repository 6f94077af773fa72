"""The table of `just bench-torch`: our criterion medians beside PyTorch's twins, as ratios.

Usage: bench_table.py CRITERION_DIR TORCH_JSON. Reads each benchmark's median from criterion's
`<group>/<id>/new/estimates.json` and the twins' JSON (scripts/torch_twins.py), prints Markdown.
A ratio is ours / PyTorch's, measured in the same `just bench-torch` run: at most 1.0 meets the
target of issue #18.
"""

import json
import sys
from pathlib import Path

# (row label, criterion group, criterion id, key path in the twins' JSON)
ROWS = [
    ("Adam step, n=1024 L=4 b=128, 80% sparse", "train_step_n1024_L4_b128", "random_s0.8", ["train_step", "random_s0.8"]),
    ("Adam step, dense", "train_step_n1024_L4_b128", "dense", ["train_step", "dense"]),
    ("test evaluation (10,000 images)", "test_eval_n1024_L4", "random_s0.8", ["train_step", "test_eval"]),
    ("one E3 run (200 steps, 11 evaluations)", "e3_run_n1024_L4", "random_s0.8", ["e3_run_seconds"]),
] + [
    (f"{method} score + select, n={n}", "score_select_L4_s0.8", f"{method}_n={n}", ["scorers", f"{method}/n={n}"])
    for n in [1000, 2000]
    for method in ["snip", "grasp", "synflow"]
]


def ours_seconds(criterion, group, ident):
    path = Path(criterion) / group / ident / "new" / "estimates.json"
    if not path.exists():
        return None
    return json.loads(path.read_text())["median"]["point_estimate"] / 1e9


def lookup(report, keys):
    for k in keys:
        report = report[k]
    return report


def seconds(s):
    return f"{s * 1e3:.1f} ms" if s < 1 else f"{s:.2f} s"


def main():
    criterion, torch_json = sys.argv[1], sys.argv[2]
    report = json.loads(Path(torch_json).read_text())
    print(f"PyTorch {report['torch']} on {report['threads']} threads; ratio = ours / PyTorch's\n")
    print("| benchmark | ours | PyTorch | ratio |")
    print("|---|---:|---:|---:|")
    for label, group, ident, keys in ROWS:
        ours, theirs = ours_seconds(criterion, group, ident), lookup(report, keys)
        if ours is None:
            print(f"| {label} | (not run) | {seconds(theirs)} | |")
            continue
        print(f"| {label} | {seconds(ours)} | {seconds(theirs)} | {ours / theirs:.2f} |")

    curves = report["e3_run_curves"]
    print("\nThe same E3 run in both (same weights, mask and batches): largest loss difference")
    for split in ["train", "test"]:
        c = curves[split]
        print(
            f"- {split}: {c['max_abs_loss_difference']:.2e} (first {c['first_loss_ours']:.5f} vs "
            f"{c['first_loss_torch']:.5f}, last {c['last_loss_ours']:.5f} vs {c['last_loss_torch']:.5f})"
        )
    print("\nThe scorers in f64, the precision ours score in (PyTorch: one run, not a median)\n")
    print("| scorer | ours (f64) | PyTorch f64 | ratio |")
    print("|---|---:|---:|---:|")
    for n in [1000, 2000]:
        for method in ["snip", "grasp", "synflow"]:
            ours = ours_seconds(criterion, "score_select_L4_s0.8", f"{method}_n={n}")
            theirs = report["masks"][f"{method}_n{n}_s0.8"]["f64"]["seconds_one_run"]
            if ours is not None:
                print(f"| {method} n={n} | {seconds(ours)} | {seconds(theirs)} | {ours / theirs:.2f} |")
    print("\nPyTorch's scorers on our weights: overlap of kept sets with ours (a gap of 0: only")
    print("weights tied with the threshold differ, and ties are broken by a seeded order in ours)")
    print("\n| mask | precision | kept | overlap | differ | largest gap to threshold (relative) |")
    print("|---|---|---:|---:|---:|---:|")
    for name, by_precision in report["masks"].items():
        for precision, m in by_precision.items():
            print(
                f"| {name} | {precision} | {m['kept']} | {m['overlap']:.6f} | {m['differ']} | "
                f"{m['max_relative_gap_to_threshold']:.1e} |"
            )
    g = report["grasp_initial_test_loss"]
    print(
        "\nTest loss before training at 50% sparsity (n=1024, L=4, seed 0): "
        f"our GraSP mask {g['ours_grasp']:.3f}, PyTorch's GraSP mask {g['torch_grasp']:.3f}, "
        f"our SNIP mask {g['ours_snip']:.3f}, dense {g['dense']:.3f}; the two GraSP masks overlap "
        f"{g['masks']['f64']['overlap']:.4f} (f64), differing only at the threshold "
        f"(largest gap {g['masks']['f64']['max_relative_gap_to_threshold']:.1e})"
    )


if __name__ == "__main__":
    main()
