#!/usr/bin/python3
"""The plot of a `bench explore` file: estimated tok/s against utilization, per board.

Usage: /usr/bin/python3 tools/explore_plot.py EXPLORE.json

Writes explore.png beside EXPLORE.json: one panel per board, every point of the grid
(crosses: does not fit the device), the Pareto front as a line through its points. Every
figure is estimated. Needs matplotlib (exit status 3 without it); the file is written
through report.py's atomic writer (a temporary renamed into place).
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import report  # noqa: E402  (tools/report.py: input limits and atomic output)

SCHEMA = "lhb-explore-results/1"


def load(path):
    raw = report.read_input(path, report.MAX_RESULTS_BYTES, "explore file")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise report.BadInput(f"{path}: invalid JSON: {e}")
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise report.BadInput(f"{path}: /schema: expected \"{SCHEMA}\"")
    if not isinstance(data.get("points"), list) or not all(isinstance(p, dict) for p in data["points"]):
        raise report.BadInput(f"{path}: /points: expected an array of points")
    return data


def point_label(p):
    params = p.get("params") or {}
    return ", ".join(f"{k}={v:g}" if report.num(v) else f"{k}={v}" for k, v in params.items())


def plot(plt, data):
    boards = []
    for p in data["points"]:
        if p.get("board") not in boards:
            boards.append(p.get("board"))
    cols = min(2, max(1, len(boards)))
    rows = max(1, (len(boards) + cols - 1) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(8 * cols, 6 * rows), squeeze=False)
    for ax in axes.flat[len(boards):]:
        ax.set_visible(False)
    for ax, board in zip(axes.flat, boards):
        pts = [p for p in data["points"] if p.get("board") == board
               and report.num(p.get("utilization")) and report.num(p.get("tok_per_s_estimated"))]
        fit = [p for p in pts if p.get("fits")]
        over = [p for p in pts if not p.get("fits")]
        front = sorted((p for p in fit if p.get("pareto")), key=lambda p: p["utilization"])
        ax.scatter([100 * p["utilization"] for p in fit], [p["tok_per_s_estimated"] for p in fit],
                   color="#1f77b4", s=25, label="fits the device (estimated)")
        ax.scatter([100 * p["utilization"] for p in over], [p["tok_per_s_estimated"] for p in over],
                   color="#d62728", marker="x", s=30, label="does not fit (estimated)")
        ax.plot([100 * p["utilization"] for p in front], [p["tok_per_s_estimated"] for p in front], "-o",
                color="#ff7f0e", markersize=6, label="Pareto front")
        for p in front:
            ax.annotate(point_label(p), (100 * p["utilization"], p["tok_per_s_estimated"]), fontsize=6,
                        xytext=(4, -8), textcoords="offset points")
        ax.axvline(100, color="black", linestyle=":", linewidth=1)
        ax.set_xlabel("utilization: largest share of DSP/BRAM/URAM/LUT/FF (%, estimated)")
        ax.set_ylabel("decode tok/s (estimated)")
        ax.set_title(f"{board}: {data.get('shape')} at position {data.get('pos')}")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
    fig.suptitle("bench explore: ESTIMATED tok/s against resources (not measured)")
    fig.tight_layout()
    return fig


def main(argv):
    if len(argv) != 2 or argv[1].startswith("-"):
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 0 if len(argv) == 2 and argv[1] in ("-h", "--help") else report.EXIT_BAD_INPUT
    path = argv[1]
    try:
        data = load(path)
        out = os.path.join(os.path.dirname(os.path.abspath(path)), "explore.png")
        report.check_output_target(out)
        try:
            import matplotlib
            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            print("explore_plot: matplotlib is not installed (apt-get install python3-matplotlib): no explore.png",
                  file=sys.stderr)
            return report.EXIT_NO_MATPLOTLIB
        fig = plot(plt, data)
        report.save_figure(fig, out)
        plt.close(fig)
    except report.BadInput as e:
        print(f"explore_plot: {e}", file=sys.stderr)
        return report.EXIT_BAD_INPUT
    print(f"explore: {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
