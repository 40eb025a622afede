#!/usr/bin/python3
"""Report of a `bench run` results file: PNG plots and a self-contained index.html.

Usage: /usr/bin/python3 tools/report.py RESULTS.json [--out DIR] [--validation FILE]

Writes, beside RESULTS.json (or in DIR):
  tok_s.png     decode and prefill tok/s of the host rows (measured on this CPU)
  ops.png       per-op latency per decoded token (stacked) and each host row's per-op
                speedup over cpu-ref
  roofline.png  bytes per token against tok/s of the host rows, with the host's measured
                read bandwidth as ceilings
  board_tok_s.png, board_roofline.png, fpga_resources.png
                the board rows (estimated, measured on a board, published) against the
                board's DDR roofline and the published figures, and the estimated resources
                of every compute unit against the device (the FPGA view, docs/fpga-view.md)
  latency.png   decode latency against position (attention grows with the context)
  prefill.png   prefill tok/s and time to first token against the prompt length (the pp axis)
  index.html    all of the above plus the results, correctness, per-op, FPGA view (and the
                estimator's validation from validation.json beside RESULTS.json, which bench
                run writes), environment, model and config tables; no external assets

Needs matplotlib (Debian: apt-get install python3-matplotlib). Without it, it says how to
install it, still writes index.html with the tables, and exits with status 3.
Every file is written to a temporary name and renamed into place.
"""
import html
import json
import math
import os
import stat
import sys
import textwrap

SCHEMA = "llama-hls-bench/results"
KNOWN_VERSION = 4  # 2 adds /table/columns; 3 adds row unstable/host/run and merged runs[];
                   # 4 adds depth_tokens, test, ttft_ms (batched prefill, per-round roofline)
EXIT_BAD_INPUT = 2
EXIT_NO_MATPLOTLIB = 3
INSTALL_HINT = ("report: matplotlib is not installed, so there are no plots. Install it with\n"
                "    apt-get install python3-matplotlib\n"
                "(Debian's package, used through /usr/bin/python3). results.json and results.csv are\n"
                "written; index.html is written with the tables only.")

OPS = ["rmsnorm", "matmul", "rope", "softmax", "attention", "swiglu", "residual", "other"]
OP_COLORS = {"rmsnorm": "#8c564b", "matmul": "#1f77b4", "rope": "#9467bd", "softmax": "#e377c2",
             "attention": "#ff7f0e", "swiglu": "#2ca02c", "residual": "#7f7f7f", "other": "#c7c7c7"}
IMAGES = [
    ("tok_s.png", "Host rows: decode and prefill tokens per second measured on this CPU (log scale). "
                  "Board rows and the published board figures are in the board plot below."),
    ("ops.png", "Per-op latency of one decoded token, and each host row's per-op speedup over cpu-ref."),
    ("roofline.png", "Host memory roofline: bytes read per token against tok/s of the host rows, under the "
                     "host's measured read bandwidths (tok/s = bandwidth / bytes per token)."),
    ("latency.png", "Latency of each decoded token against its position in the context."),
    ("prefill.png", "Prefill tokens per second and time to first token (prompt + first decoded token) "
                    "against the prompt length; dashed lines are ESTIMATED board figures."),
    ("board_tok_s.png", "Board rows: estimated board figures (hatched, not measurements), rows measured on a "
                        "board, the published figures (dashed lines) and the board's DDR roofline (log scale)."),
    ("board_roofline.png", "Board memory roofline: bytes per token against tok/s of the board rows, under the "
                           "board file's DDR peak and usable bandwidth, with the published figures."),
    ("fpga_resources.png", "Estimated resources of every compute unit of the link config, as a share of the "
                           "device (the board file's counts)."),
]
TABLE_IDS = ["results-table", "not-measured-table", "correctness-table", "ops-table",
             "published-table", "environment-table", "models-table", "config", "board",
             "fpga-resources-table", "fpga-ops-table", "validation-table"]


class BadInput(Exception):
    pass


# ----------------------------------------------------------------------------- input

MAX_RESULTS_BYTES = 256 << 20  # as bench's kMaxResultsBytes (core/input_file.hpp)
MAX_JSON_DEPTH = 64             # as bench's JsonLimits (core/json_scan.hpp)
FILE_KINDS = [(stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
              (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISLNK, "a symbolic link")]
INPUTS = set()  # (st_dev, st_ino) of the files read: outputs never replace them


def kind_of(mode):
    return next((name for test, name in FILE_KINDS if test(mode)), "a special file")


def read_input(path, max_bytes, what):
    """A regular file's bytes, as bench reads inputs: opened without blocking (a FIFO cannot
    hang it), refused unless regular or when larger than max_bytes."""
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            raise BadInput(f"{path}: {what}: expected a regular file, found {kind_of(st.st_mode)}")
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as e:
        raise BadInput(f"{path}: cannot open the {what}: {e.strerror}")
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise BadInput(f"{path}: {what}: expected a regular file, found {kind_of(st.st_mode)}")
        if st.st_size > max_bytes:
            raise BadInput(f"{path}: {what}: expected at most {max_bytes} bytes, found {st.st_size} bytes")
        INPUTS.add((st.st_dev, st.st_ino))
        return f.read(max_bytes + 1)


def json_depth_error(text):
    """The first place nesting passes MAX_JSON_DEPTH, without recursion (Python's parser
    recurses and would fail with RecursionError), or None."""
    depth, in_string, escaped = 0, False, False
    for i, c in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif c == "\\":
                escaped = True
            elif c == '"':
                in_string = False
        elif c == '"':
            in_string = True
        elif c in "[{":
            depth += 1
            if depth > MAX_JSON_DEPTH:
                return f"character {i + 1}: JSON nested deeper than {MAX_JSON_DEPTH} levels"
        elif c in "]}":
            depth -= 1
    return None


def unique_keys(pairs):
    keys = [k for k, _ in pairs]
    for k in keys:
        if keys.count(k) > 1:
            raise ValueError(f"duplicate key {json.dumps(k)} in one object (each key may appear once)")
    return dict(pairs)


def load_results(path):
    raw = read_input(path, MAX_RESULTS_BYTES, "results file")
    try:
        text = raw.decode("utf-8")
        problem = json_depth_error(text)
        if problem:
            raise BadInput(f"{path}: {problem}")
        data = json.loads(text, object_pairs_hook=unique_keys)
    except (ValueError, UnicodeDecodeError) as e:
        raise BadInput(f"{path}: invalid JSON: {e}")
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise BadInput(f"{path}: /schema: expected \"{SCHEMA}\", found "
                       f"{json.dumps(data.get('schema')) if isinstance(data, dict) else 'no object'}")
    version = data.get("schema_version")
    if not isinstance(version, int) or not 1 <= version <= KNOWN_VERSION:
        raise BadInput(f"{path}: /schema_version: expected 1 to {KNOWN_VERSION}, found {json.dumps(version)}")
    if not isinstance(data.get("rows"), list) or not all(isinstance(r, dict) for r in data["rows"]):
        raise BadInput(f"{path}: /rows: expected an array of row objects")
    if version >= 2:
        columns = (data.get("table") or {}).get("columns") if isinstance(data.get("table"), dict) else None
        if not isinstance(columns, list):
            raise BadInput(f"{path}: /table/columns: expected an array of columns")
        for i, c in enumerate(columns):
            if not isinstance(c, dict) or not all(isinstance(c.get(k), str) for k in ("name", "header", "format")) \
                    or not isinstance(c.get("path"), list):
                raise BadInput(f"{path}: /table/columns/{i}: expected a column (name, header, format, path)")
    if "runs" in data and (not isinstance(data["runs"], list) or not data["runs"]
                           or not all(isinstance(r, dict) and isinstance(r.get("environment"), dict) for r in data["runs"])):
        raise BadInput(f"{path}: /runs: expected a non-empty array of runs, each with an environment")
    normalize_rows(data)
    return data


def is_board_row(r):
    """bench/result_row.cpp's is_board_row: only these are compared with published board figures."""
    return r.get("kind") in ("estimated", "published") or r.get("backend") == "zcu106-xrt"


def runs_of(results):
    """bench/results.cpp's runs_of: a merged document's runs, or the one run of a bench run file."""
    if isinstance(results.get("runs"), list):
        return results["runs"]
    env = results.get("environment") if isinstance(results.get("environment"), dict) else {}
    return [{"run": f"{text_of(env.get('hostname'))}@{text_of(results.get('started_at'))}",
             "hostname": env.get("hostname"), "started_at": results.get("started_at"), "environment": env}]


def normalize_rows(results):
    """As bench reads a file of any version (bench/results.cpp's normalize_rows): every row has
    its host and run; a roofline fraction above 1 flags the row unstable; host rows carry no
    speedup over published board figures."""
    first = runs_of(results)[0]
    for r in results["rows"]:
        r.setdefault("run", first.get("run"))
        r.setdefault("host", first.get("hostname"))
        fraction = at_path(r, ["roofline", "fraction"])
        if num(fraction) and fraction > 1:
            r["unstable"] = True
        elif not isinstance(r.get("unstable"), bool):
            r["unstable"] = False
        if not is_board_row(r):
            r["speedup"] = {}


def num(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def timed_rows(results):
    """Measured rows that were timed (ok or failed correctness), peer rows and estimated rows."""
    return [r for r in results["rows"]
            if r.get("kind") in ("measured", "estimated", "peer") and r.get("status") in ("ok", "failed")
            and num(r.get("decode_tok_s"))]


def row_label(r, multi_model=False):
    parts = [str(r.get("backend", "?"))]
    if r.get("kind") == "estimated":
        target = str(r.get("target", "device")).replace(" (estimated)", "")
        parts = [f"{r.get('backend')} →", *textwrap.wrap(target, 18), "ESTIMATED"]
    if r.get("kind") == "peer":
        parts = [str(r.get("backend", "?")), "(peer)"]
    detail = f"{r.get('precision', '?')}"
    if num(r.get("threads")):
        detail += f" t{r['threads']}"
    test = test_name(r)
    if test != "-":
        detail += f" {test}"
    parts.append(detail)
    if multi_model:
        parts.append(str(r.get("model")))
    if r.get("status") == "failed":
        parts.append("FAIL")
    return "\n".join(parts)


def test_name(r):
    """llama-bench's name of a row's point, as bench/result_row.cpp's test_name: pp32+tg64,
    pp32+tg64@d512 (tokens already in the KV cache), tg201 (a published figure), or -."""
    t = ""
    if num(r.get("prompt_tokens")):
        t = f"pp{text_of(r['prompt_tokens'])}" + ("+" if num(r.get("generate_tokens")) else "")
    if num(r.get("generate_tokens")):
        t += f"tg{text_of(r['generate_tokens'])}"
    if t and num(r.get("depth_tokens")) and r["depth_tokens"] > 0:
        t += f"@d{text_of(r['depth_tokens'])}"
    return t or "-"


def fmt(x, digits=3):
    if not num(x):
        return "-"
    a = abs(x)
    if a >= 1000:
        return f"{x:,.0f}"
    if a >= 100:
        return f"{x:.1f}"
    if a >= 1:
        return f"{x:.2f}"
    if a == 0:
        return "0"
    return f"{x:.{digits}g}"


def gbs(bytes_per_s):
    return f"{bytes_per_s / 1e9:.1f} GB/s"


def models_of(results):
    seen = []
    for r in timed_rows(results):
        if r.get("model") not in seen:
            seen.append(r.get("model"))
    return seen


# ----------------------------------------------------------------------------- output

def check_output_target(path):
    """As bench's AtomicFile: replace nothing but a regular file that is not an input; a
    link, device, FIFO, socket or directory there is left untouched."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    except OSError as e:
        raise BadInput(f"{path}: cannot write: {e.strerror}")
    if not stat.S_ISREG(st.st_mode):
        raise BadInput(f"{path}: cannot write: expected a regular file or nothing there, "
                       f"found {kind_of(st.st_mode)} (left untouched)")
    if (st.st_dev, st.st_ino) in INPUTS:
        raise BadInput(f"{path}: cannot write: it is one of this run's inputs (the same file)")


def write_output(path, fill):
    """fill(f) writes into a temporary of this run beside `path` (created exclusively, so
    never a file or link already there), which then replaces `path`; on any failure only
    that temporary is removed."""
    check_output_target(path)
    tmp = f"{path}.tmp.{os.getpid()}"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o666)
    except OSError as e:
        raise BadInput(f"{path}: cannot write: {e.strerror}")
    try:
        with os.fdopen(fd, "wb") as f:
            fill(f)
            f.flush()
            os.fsync(f.fileno())
        check_output_target(path)
        os.replace(tmp, path)
        tmp = None
    except OSError as e:
        raise BadInput(f"{path}: write failed: {e.strerror}")
    finally:
        if tmp is not None:
            os.remove(tmp)


def write_atomically(path, data):
    write_output(path, lambda f: f.write(data.encode("utf-8")))


def save_figure(fig, path):
    write_output(path, lambda f: fig.savefig(f, format="png", dpi=100))


# ----------------------------------------------------------------------------- plots

def plot_tok_s(plt, results, board=False):
    """The host rows (measured on this CPU), or with `board` the board rows beside the
    published board figures and the board's DDR roofline: never both on one axis."""
    from matplotlib.patches import Patch
    from matplotlib.lines import Line2D
    models = models_of(results) or ["(no measured points)"]
    fig, axes = plt.subplots(len(models), 1, figsize=(12, 7 * len(models)), squeeze=False)
    published = (results.get("published") or []) if board else []
    for ax, model in zip(axes[:, 0], models):
        rows = [r for r in timed_rows(results) if r.get("model") == model and is_board_row(r) == board]
        width = 0.38
        for i, r in enumerate(rows):
            est = r.get("kind") == "estimated"
            failed = r.get("status") == "failed"
            edge = "#d62728" if failed else "black"
            hatch = "//" if est else None
            for offset, key, color in ((-width / 2, "decode_tok_s", "#1f77b4"), (width / 2, "prefill_tok_s", "#aec7e8")):
                v = r.get(key)
                if not num(v) or v <= 0:
                    continue
                ax.bar(i + offset, v, width, color=color, edgecolor=edge, hatch=hatch,
                       linewidth=2 if failed else 0.8, alpha=0.75 if est else 1.0)
                ax.annotate(fmt(v), (i + offset, v), ha="center", va="bottom", fontsize=7,
                            xytext=(0, 2), textcoords="offset points")
            if est:
                top = max(x for x in (r.get("decode_tok_s"), r.get("prefill_tok_s")) if num(x))
                ax.annotate("estimated", (i, top), ha="center", va="bottom", fontsize=8, color="#d62728",
                            xytext=(0, 12), textcoords="offset points", fontweight="bold")
        ax.set_xticks(range(len(rows)))
        ax.set_xticklabels([row_label(r) for r in rows], fontsize=8)
        ax.set_yscale("log")
        ax.set_ylabel("tokens per second (log)")
        weights = next((r.get("weights") for r in rows), "real")
        ax.set_title(f"{model}" + (" (synthetic weights)" if weights == "synthetic" else "")
                     + (": board rows (estimated, on a board, published)" if board
                        else ": host rows, measured on this CPU") + ": decode and prefill tok/s")
        if not rows:
            ax.text(0.5, 0.5, "no board rows" if board else "no host rows", ha="center", transform=ax.transAxes)
        measured = "measured on a board; hatched: estimated" if board else "measured"
        handles = [Patch(facecolor="#1f77b4", edgecolor="black", label=f"decode ({measured})"),
                   Patch(facecolor="#aec7e8", edgecolor="black", label=f"prefill ({measured})"),
                   Patch(facecolor="white", edgecolor="#d62728", linewidth=2, label="failed correctness")]
        if board:
            handles.insert(2, Patch(facecolor="white", edgecolor="black", hatch="//", label="ESTIMATED board figure"))
        styles = ["--", ":", "-."]
        for k, p in enumerate(published):
            if not num(p.get("tok_s")):
                continue
            applies = model in (p.get("applies_to_models") or [])
            label = f"published: {p.get('name')}: {fmt(p['tok_s'])} tok/s"
            if not applies:
                label += f" (for {p.get('model')}, not this model)"
            color = "#2ca02c" if k % 2 else "#9467bd"
            ax.axhline(p["tok_s"], color=color, linestyle=styles[k % 3], linewidth=1.5)
            handles.append(Line2D([0], [0], color=color, linestyle=styles[k % 3], label=label))
        ceilings = board_ceiling_lines(ax, rows, handles) if board else []
        ax.legend(handles=handles, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=2)
        ax.grid(axis="y", which="both", alpha=0.3)
        lo, hi = ax.get_ylim()
        refs = [p["tok_s"] for p in published if num(p.get("tok_s"))] + ceilings
        ax.set_ylim(min([lo] + [x / 2 for x in refs]), max([hi] + refs) * 3)  # room for lines and labels
    fig.tight_layout()
    return fig


def label_log_axis(ax):
    """Ticks at 1, 2 and 5 per decade, labeled as ratios (a narrow log range has no labels otherwise)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter
    ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}x"))
    ax.yaxis.set_minor_formatter(NullFormatter())


def is_reference(r):
    """A measured row of the reference backend (cpu-ref): the sweep marks its correctness "reference"."""
    c = r.get("correctness")
    return r.get("kind") == "measured" and isinstance(c, dict) and c.get("status") == "reference"


def cpu_ref_twin(results, r):
    for c in results["rows"]:
        if (is_reference(c) and c.get("status") == "ok"
                and c.get("model") == r.get("model") and c.get("precision") == r.get("precision")
                and c.get("prompt_tokens") == r.get("prompt_tokens")
                and c.get("generate_tokens") == r.get("generate_tokens")
                and isinstance(c.get("op_ms_per_token"), dict)):
            return c
    return None


def plot_ops(plt, results):
    rows = [r for r in timed_rows(results) if isinstance(r.get("op_ms_per_token"), dict)]
    multi = len(models_of(results)) > 1
    fig, (left, right) = plt.subplots(1, 2, figsize=(15, 7.5))
    if not rows:
        left.text(0.5, 0.5, "no per-op times in these results", ha="center", transform=left.transAxes)
    bottoms = [0.0] * len(rows)
    for op in OPS:
        vals = [r["op_ms_per_token"].get(op) if num(r["op_ms_per_token"].get(op)) else 0.0 for r in rows]
        if not any(vals):
            continue
        left.bar(range(len(rows)), vals, 0.6, bottom=bottoms, color=OP_COLORS[op], label=op, edgecolor="black",
                 linewidth=0.4, hatch=None)
        bottoms = [b + v for b, v in zip(bottoms, vals)]
    for i, r in enumerate(rows):
        if r.get("kind") == "estimated":
            left.annotate("estimated", (i, bottoms[i]), ha="center", va="bottom", fontsize=8, color="#d62728",
                          fontweight="bold", xytext=(0, 2), textcoords="offset points")
        else:
            left.annotate(f"{fmt(bottoms[i])} ms", (i, bottoms[i]), ha="center", va="bottom", fontsize=7,
                          xytext=(0, 2), textcoords="offset points")
    left.set_xticks(range(len(rows)))
    left.set_xticklabels([row_label(r, multi) for r in rows], fontsize=7)
    # Linear: stacked segments on a log axis would misstate their shares.
    left.set_ylabel("ms per decoded token (stacked by op)")
    left.set_title("Per-op latency per decoded token")
    if rows:
        left.set_ylim(0, max(bottoms) * 1.15)
        left.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=4)
    left.grid(axis="y", which="both", alpha=0.3)

    # Speedup of each op over cpu-ref (same model, precision and lengths).
    pairs = []
    for r in rows:
        if is_reference(r) or is_board_row(r):  # a board's op times are in the FPGA view, not against the host
            continue
        ref = cpu_ref_twin(results, r)
        if ref:
            pairs.append((r, ref))
    ops = [op for op in OPS if op != "other" and any(
        num(r["op_ms_per_token"].get(op)) and r["op_ms_per_token"][op] > 0 and
        num(ref["op_ms_per_token"].get(op)) and ref["op_ms_per_token"][op] > 0 for r, ref in pairs)]
    if not pairs or not ops:
        right.text(0.5, 0.5, "no cpu-ref row with per-op times to compare with", ha="center",
                   transform=right.transAxes)
    else:
        width = 0.8 / len(pairs)
        for k, (r, ref) in enumerate(pairs):
            xs, ys = [], []
            for j, op in enumerate(ops):
                a, b = ref["op_ms_per_token"].get(op), r["op_ms_per_token"].get(op)
                if num(a) and num(b) and a > 0 and b > 0:
                    xs.append(j - 0.4 + width * (k + 0.5))
                    ys.append(a / b)
            label = row_label(r, multi).replace("\n", " ")
            est = r.get("kind") == "estimated"
            right.bar(xs, ys, width, label=label, hatch="//" if est else None, edgecolor="black", linewidth=0.4)
        right.axhline(1.0, color="black", linewidth=1)
        right.set_xticks(range(len(ops)))
        right.set_xticklabels(ops)
        right.set_yscale("log")
        label_log_axis(right)
        right.set_ylabel("cpu-ref time / this backend's time (log)")
        right.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=2)
        right.grid(axis="y", which="both", alpha=0.3)
    right.set_title("Each op's speedup over cpu-ref (host rows, measured)")
    fig.tight_layout()
    return fig


def place_labels(ax, labels):
    """Labels right of their points, pushed apart vertically (log axis) so none overlap."""
    lo, hi = (math.log10(v) for v in ax.get_ylim())
    gap = (hi - lo) * 0.03
    last = None
    for x, y, text, color in sorted(labels, key=lambda t: -t[1]):
        ly = math.log10(y)
        if last is not None and ly > last - gap:
            ly = last - gap
        last = ly
        ax.annotate(text, (x, y), xytext=(x * 1.12, 10 ** ly), fontsize=7, va="center", color=color,
                    arrowprops={"arrowstyle": "-", "color": "#999", "linewidth": 0.5})


def plot_roofline(plt, results, board=False):
    """The host rows under the host's measured bandwidths, or with `board` the board rows
    under the board's DDR with the published figures: never both ceilings on one plot."""
    fig, ax = plt.subplots(figsize=(11, 7))
    rows = [r for r in timed_rows(results) if isinstance(r.get("roofline"), dict)
            and num(r["roofline"].get("bytes_per_token")) and is_board_row(r) == board]
    xs = [r["roofline"]["bytes_per_token"] for r in rows]
    models = {m.get("name"): m for m in results.get("models") or [] if isinstance(m, dict)}
    pub_points = []
    for p in (results.get("published") or []) if board else []:
        for name in p.get("applies_to_models") or []:
            m = models.get(name)
            if m and num(m.get("weight_bytes_per_token")) and num(p.get("tok_s")):
                pub_points.append((m["weight_bytes_per_token"], p["tok_s"], p.get("name", "published")))
                xs.append(m["weight_bytes_per_token"])
    if not xs:
        ax.text(0.5, 0.5, "no " + ("board" if board else "host") + " roofline data in these results", ha="center",
                transform=ax.transAxes)
        return fig
    x_lo, x_hi = min(xs) / 4, max(xs) * 4
    grid = [x_lo * (x_hi / x_lo) ** (i / 50) for i in range(51)]

    ceilings = []
    env = results.get("environment") or {}
    dram = (env.get("dram_read_bandwidth") or {}).get("bytes_per_s")
    if num(dram) and not board:
        ceilings.append((dram, f"host DRAM read, measured: {gbs(dram)}", "#7f7f7f", "-"))
    for name, m in models.items():
        bw = (m.get("host_bandwidth") or {}).get("bytes_per_s")
        if num(bw) and not board:
            ceilings.append((bw, f"host read over a {name}-sized buffer, measured: {gbs(bw)}", "#1f77b4", "-"))
    board_side, board = board, results.get("board") or {}
    peak = board.get("ddr_bytes_per_s")
    if num(peak) and board_side:
        bname = board.get("name") or "board"
        ceilings.append((peak, f"{bname} DDR peak (board file): {gbs(peak)}", "#d62728", "--"))
        eff = board.get("ddr_efficiency")
        if num(eff):
            ceilings.append((peak * eff, f"{bname} DDR usable, peak x {eff:g} (board file): {gbs(peak * eff)}",
                             "#d62728", ":"))
    for bw, label, color, style in ceilings:
        ax.plot(grid, [bw / x for x in grid], style, color=color, label=label, linewidth=1.5)

    labels = []  # (x, y, text, color)
    for r in rows:
        est = r.get("kind") == "estimated"
        x, y = r["roofline"]["bytes_per_token"], r["decode_tok_s"]
        ax.scatter([x], [y], marker="^" if est else "o", s=60,
                   color="#d62728" if r.get("status") == "failed" else ("#ff7f0e" if est else "#1f77b4"),
                   edgecolor="black", zorder=3)
        # Above its ceiling, a point is not a result (the row is flagged unstable): said so.
        labels.append((x, y, row_label(r).replace("\n", " ") + (" (UNSTABLE)" if r.get("unstable") else ""), "black"))
    for x, y, name in pub_points:
        ax.scatter([x], [y], marker="x", s=70, color="#2ca02c", zorder=3)
        labels.append((x, y, f"published: {name}", "#2ca02c"))
    if board_side:
        ax.scatter([], [], marker="o", color="#1f77b4", edgecolor="black", label="measured on a board")
        ax.scatter([], [], marker="^", color="#ff7f0e", edgecolor="black", label="ESTIMATED board decode")
        ax.scatter([], [], marker="x", color="#2ca02c", label="published (weights only on x)")
    else:
        ax.scatter([], [], marker="o", color="#1f77b4", edgecolor="black", label="measured decode (this host)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(x_lo, x_hi)
    ax.set_xlabel("bytes read per decoded token (weights + KV cache; log)")
    ax.set_ylabel("decode tokens per second (log)")
    ax.set_title(("Board memory roofline (board file's DDR)" if board_side else "Host memory roofline (measured)")
                 + ": a point on a line runs at that bandwidth")
    ax.legend(fontsize=8, loc="lower left")
    place_labels(ax, labels)
    ax.grid(which="both", alpha=0.3)
    fig.tight_layout()
    return fig


def plot_latency(plt, results):
    models = models_of(results) or ["(no measured points)"]
    fig, axes = plt.subplots(len(models), 1, figsize=(11, 5 * len(models)), squeeze=False)
    for ax, model in zip(axes[:, 0], models):
        drawn = 0
        for r in timed_rows(results):
            pos = r.get("decode_ms_by_position")
            if r.get("model") != model or not isinstance(pos, dict) or not isinstance(pos.get("ms"), list):
                continue
            ms = [v for v in pos["ms"] if num(v)]
            if not ms:
                continue
            first = pos.get("first_position", 0) if num(pos.get("first_position")) else 0
            est = r.get("kind") == "estimated"
            ax.plot(range(first, first + len(ms)), ms, "--" if est else "-", linewidth=1.3,
                    label=row_label(r).replace("\n", " "))
            drawn += 1
        if not drawn:
            ax.text(0.5, 0.5, "no per-position latencies", ha="center", transform=ax.transAxes)
        else:
            ax.set_yscale("log")
            ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))
        ax.set_xlabel("position of the decoded token")
        ax.set_ylabel("ms per token (log; dashed = ESTIMATED)")
        ax.set_title(f"{model}: decode latency against position (median over repetitions)")
        ax.grid(which="both", alpha=0.3)
    fig.tight_layout()
    return fig


def plot_prefill(plt, results):
    """The pp axis: prefill tok/s and TTFT of each series (backend, precision, threads, kind,
    generated tokens, depth) against the prompt length."""
    models = models_of(results) or ["(no measured points)"]
    fig, axes = plt.subplots(len(models), 2, figsize=(14, 5 * len(models)), squeeze=False)
    for (ax_pp, ax_ttft), model in zip(axes, models):
        series = {}
        for r in results["rows"]:
            if (r.get("model") != model or r.get("kind") not in ("measured", "estimated")
                    or r.get("status") not in ("ok", "failed") or not num(r.get("prompt_tokens"))):
                continue
            key = (r.get("kind"), r.get("backend"), r.get("target"), r.get("precision"), r.get("threads"),
                   r.get("generate_tokens"), r.get("depth_tokens") if num(r.get("depth_tokens")) else 0)
            series.setdefault(key, []).append(r)
        drawn = 0
        for key, rows in series.items():
            rows.sort(key=lambda r: r["prompt_tokens"])
            est = key[0] == "estimated"
            label = row_label(rows[0]).replace("\n", " ")
            label = label.replace(f" pp{rows[0]['prompt_tokens']}", " pp*") if len(rows) > 1 else label
            for ax, field in ((ax_pp, "prefill_tok_s"), (ax_ttft, "ttft_ms")):
                pts = [(r["prompt_tokens"], r[field]) for r in rows if num(r.get(field)) and r[field] > 0]
                if pts:
                    ax.plot([p for p, _ in pts], [v for _, v in pts], "--o" if est else "-o", markersize=4,
                            linewidth=1.3, label=label)
                    drawn += 1
        for ax, ylabel, title in ((ax_pp, "prefill tokens per second (log)", "prefill tok/s"),
                                  (ax_ttft, "time to first token, ms (log)", "time to first token")):
            if not drawn:
                ax.text(0.5, 0.5, "no prefill figures", ha="center", transform=ax.transAxes)
            else:
                ax.set_xscale("log", base=2)
                ax.set_yscale("log")
            ax.set_xlabel("prompt tokens (n_prompt)")
            ax.set_ylabel(ylabel + "; dashed = ESTIMATED")
            ax.set_title(f"{model}: {title} against the prompt length")
            ax.grid(which="both", alpha=0.3)
        if drawn:
            ax_ttft.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- HTML

def esc(x):
    return html.escape("" if x is None else str(x))


def table(table_id, headers, rows, caption=None):
    out = [f'<table id="{table_id}">']
    if caption:
        out.append(f"<caption>{esc(caption)}</caption>")
    out.append("<thead><tr>" + "".join(f"<th>{esc(h)}</th>" for h in headers) + "</tr></thead><tbody>")
    if not rows:
        out.append(f'<tr><td colspan="{len(headers)}" class="none">none</td></tr>')
    for cells in rows:
        out.append("<tr>" + "".join(c if isinstance(c, Raw) else f"<td>{esc(c)}</td>" for c in cells) + "</tr>")
    out.append("</tbody></table>")
    return "\n".join(out)


class Raw(str):
    """A cell already rendered as HTML (<td ...>...</td>)."""


def pct(x):
    return f"{100 * x:.1f}%" if num(x) else "-"


def table_columns(results):
    """The results table's columns: the ones bench wrote into the file (/table/columns, schema
    version 2, bench/result_row.cpp's table_columns). A version 1 file has no column list; it
    gets the columns bench prints for such a file, copied here (version 1's, plus TTFT since
    version 4: "-" in a version 1 file, which has none)."""
    if results.get("schema_version", 1) >= 2:
        return results["table"]["columns"]
    published = [p for p in results.get("published") or [] if isinstance(p, dict)]
    columns = [("model", "model", "model", ["model"]), ("backend", "backend", "backend", ["backend"]),
               ("precision", "precision", "text", ["precision"]), ("threads", "threads", "integer", ["threads"]),
               ("kind", "kind", "text", ["kind"]), ("test", "test", "test", ["prompt_tokens"]),
               ("prefill_tok_s", "prefill t/s", "number", ["prefill_tok_s"]),
               ("decode_tok_s", "decode t/s", "number", ["decode_tok_s"]),
               ("ttft_ms", "TTFT ms", "number", ["ttft_ms"]),
               ("decode_cv", "cv", "percent", ["decode", "tok_s", "cv"]),
               ("roofline_fraction", "roofline", "percent", ["roofline", "fraction"])]
    columns += [(f"speedup_vs_{p.get('backend')}", f"vs {p.get('backend')} ({cpp_num(p.get('tok_s'))})", "speedup",
                 ["speedup", p.get("backend")]) for p in published]
    columns += [("correctness", "correctness", "correctness", ["correctness", "status"]),
                ("rank", "rank", "integer", ["rank"])]
    return [{"name": n, "header": h, "format": f, "path": p} for n, h, f, p in columns]


def at_path(row, path):
    v = row
    for k in path:
        if not isinstance(v, dict) or k not in v:
            return None
        v = v[k]
    return v


def text_of(v):
    """As bench prints a JSON value in a cell: a string as is, null as "", else its JSON."""
    if isinstance(v, str):
        return v
    return "" if v is None else json.dumps(v)


def cpp_num(x):
    """bench's number format: about three significant figures (1234.5 -> "1234", 8.714 -> "8.71")."""
    if not num(x):
        return "-"
    a = abs(x)
    return f"{x:.{0 if a >= 1000 else 1 if a >= 100 else 2 if a >= 1 else 3}f}"


def table_cell(column, r):
    """One cell, made as bench/result_row.cpp's table_cell makes it (docs/results-schema.md, /table)."""
    v, f = at_path(r, column.get("path") or []), column.get("format")
    if f == "integer":
        return text_of(v) if num(v) else "-"
    if f == "number":
        return cpp_num(v)
    if f == "roofline" or (f == "percent" and column.get("path") == ["roofline", "fraction"]):
        if r.get("unstable") is True or (num(v) and v > 1):
            return "unstable"
        return f"{100 * v:.1f}%" if num(v) else "-"
    if f == "percent":
        return f"{100 * v:.1f}%" if num(v) else "-"
    if f == "speedup" and not is_board_row(r):
        return "-"
    if f == "speedup":
        return f"{v:.{0 if v >= 100 else 2}f}x" if num(v) else "-"
    if f == "model":
        return text_of(v) + (" (synthetic weights)" if r.get("weights") == "synthetic" else "")
    if f == "backend":
        if r.get("kind") == "estimated":
            return f"{text_of(v)} → {text_of(r.get('target'))}"
        return text_of(r.get("name")) if r.get("kind") == "published" else text_of(v)
    if f == "test":
        return test_name(r)
    if f == "correctness":
        if r.get("status") == "failed":
            return "FAIL (not ranked)"
        if not isinstance(v, str):
            return "-"
        return "FAIL" if v == "fail" else v
    return text_of(v)


def results_table(results):
    columns = table_columns(results)
    rows = []
    for r in results["rows"]:
        if r.get("status") in ("skipped", "error", "not-run"):
            continue
        cells = []
        for c in columns:
            text = table_cell(c, r)
            if c.get("name") == "kind":
                cells.append(Raw(f'<td class="kind-{esc(text)}">{esc(text)}</td>'))
            elif c.get("format") == "correctness":
                cells.append(Raw(f'<td class="{"fail" if "FAIL" in text else ""}">{esc(text)}</td>'))
            else:
                cells.append(text)
        rows.append(cells)
    return table("results-table", [c.get("header") for c in columns], rows)


def device_greedy_note(results):
    """The estimated rows' figures with greedy decoding on the device, if modelled."""
    items = []
    for r in results["rows"]:
        g = r.get("device_greedy") if r.get("kind") == "estimated" else None
        if isinstance(g, dict) and num(g.get("decode_tok_s")):
            items.append(f"<li>{esc(r.get('model'))} {esc(r.get('backend'))} → {esc(r.get('target'))} "
                         f"{esc(r.get('precision'))}: <b>{fmt(g.get('decode_tok_s'))}</b> tok/s decode "
                         f"(host-sampled: {fmt(r.get('decode_tok_s'))}), {esc(g.get('tokens_per_run'))} tokens per run</li>")
    if not items:
        return ""
    return ("<p>Estimated rows assume the host samples each token from the logits. With greedy decoding on "
            "the device instead (logits kept on chip, one kernel run per chunk of tokens), estimated:</p><ul>"
            + "".join(items) + "</ul>")


def peers_table(results):
    """Peer rows (config `peers`): the command each ran and what its figure counts."""
    rows = [[r.get("model"), r.get("backend"), r.get("threads"), r.get("prompt_tokens"), r.get("status"),
             fmt(r.get("decode_tok_s")), fmt(r.get("prefill_tok_s")), fmt(r.get("avg_watts")),
             " ".join(str(a) for a in at_path(r, ["peer", "command"]) or []), at_path(r, ["peer", "measures"])]
            for r in results["rows"] if r.get("kind") == "peer"]
    if not rows:
        return ""
    return ("<h3>Peers (other programs, measured here between our points)</h3>"
            + table("peers-table", ["model", "peer", "threads", "prompt", "status", "decode t/s", "prefill t/s", "W",
                                    "command", "what its figure counts"], rows))


def not_measured_table(results):
    rows = [[r.get("model"), r.get("backend"), r.get("precision"),
             r.get("threads") if num(r.get("threads")) else "-",
             r.get("prompt_tokens") if num(r.get("prompt_tokens")) else "-", r.get("status"), r.get("reason")]
            for r in results["rows"] if r.get("status") in ("skipped", "error", "not-run")]
    return table("not-measured-table", ["model", "backend", "precision", "threads", "prompt", "status", "reason"], rows)


def per_unit(results, field):
    """(row, row[field]) for the first measured row of each (model, backend, precision, threads)
    with that object: accuracy and correctness are checked once per unit, not per prompt length."""
    seen = set()
    for r in results["rows"]:
        v = r.get(field)
        key = (r.get("model"), r.get("backend"), r.get("precision"), r.get("threads"))
        if r.get("kind") == "measured" and isinstance(v, dict) and key not in seen:
            seen.add(key)
            yield r, v


def accuracy_table(results):
    """int8 rows: how far the int8 weights move the answers from the fp32 weights."""
    rows = []
    for r, a in per_unit(results, "accuracy"):
        rows.append([r.get("model"), r.get("backend"), r.get("precision"), r.get("threads"),
                     f"{a.get('greedy_agreeing')}/{a.get('greedy_steps')}", a.get("greedy_common_prefix"),
                     fmt(a.get("mean_kl")), fmt(a.get("ppl_fp32")), fmt(a.get("ppl_int8")), fmt(a.get("ppl_delta")),
                     a.get("text_tokens")])
    if not rows:
        return ""
    return ("<h3>int8 accuracy against the fp32 weights</h3>"
            + table("accuracy", ["model", "backend", "precision", "threads", "greedy tokens agreeing",
                                 "common prefix", "mean KL (nats)", "ppl fp32", "ppl int8", "ppl delta",
                                 "text tokens"], rows))


def correctness_table(results):
    rows, details = [], []
    for r, c in per_unit(results, "correctness"):
        agree = "-"
        if num(c.get("tokens_compared")):
            agree = f"{c.get('tokens_agreeing')}/{c.get('tokens_compared')}"
        ops = "-"
        if num(c.get("ops_total")):
            ops = f"{c.get('ops_passed')}/{c.get('ops_total')}"
        status = c.get("status")
        rows.append([r.get("model"), r.get("backend"), r.get("precision"), r.get("threads"),
                     Raw(f'<td class="{"fail" if status == "fail" else "pass"}">{esc(status)}</td>'), ops,
                     fmt(c.get("max_abs_logit_err")), fmt(c.get("max_rel_logit_err")), agree,
                     c.get("first_bad_position") if num(c.get("first_bad_position")) and c["first_bad_position"] >= 0 else "-",
                     c.get("note") or c.get("summary")])
        op_rows = [[o.get("op"), o.get("shape"), fmt(o.get("max_abs_err")), fmt(o.get("max_rel_err")),
                    f"{fmt(o.get('tolerance_abs'))} + {fmt(o.get('tolerance_rel'))}·|ref|",
                    "pass" if o.get("pass") else "FAIL", o.get("note")]
                   for o in c.get("ops") or [] if isinstance(o, dict)]
        if op_rows:
            details.append(f"<details><summary>{esc(r.get('backend'))} {esc(r.get('precision'))} "
                           f"t{esc(r.get('threads'))}: each op against cpu-ref</summary>\n"
                           + table(f"correctness-ops-{len(details)}",
                                   ["op", "shape", "max abs err", "max rel err", "tolerance", "result", "note"], op_rows)
                           + "</details>")
    return table("correctness-table", ["model", "backend", "precision", "threads", "status", "ops passed",
                                       "max abs logit err", "max rel logit err", "greedy tokens agreeing",
                                       "first bad position", "note"], rows) + "\n" + "\n".join(details)


def ops_table(results):
    rows = []
    for r in timed_rows(results):
        ops = r.get("op_ms_per_token")
        if not isinstance(ops, dict):
            continue
        prof = r.get("op_profile") or {}
        rows.append([row_label(r, True).replace("\n", " "), *[fmt(ops.get(op)) for op in OPS],
                     pct(prof.get("timer_overhead")) if isinstance(prof, dict) else "-",
                     prof.get("path", "estimate") if isinstance(prof, dict) else "-"])
    return table("ops-table", ["point", *[f"{op} ms" for op in OPS], "timer overhead", "path"], rows,
                 "Milliseconds per decoded token in each op class (medians over the timed repetitions).")


def published_table(results):
    rows = [[p.get("name"), p.get("model"), p.get("precision"), fmt(p.get("tok_s")), p.get("tokens"),
             p.get("seconds"), p.get("source")] for p in results.get("published") or [] if isinstance(p, dict)]
    return table("published-table", ["name", "model", "precision", "tok/s", "tokens", "seconds", "source"], rows)


def environment_value(k, v):
    if isinstance(v, dict) and num(v.get("bytes_per_s")):
        return f"{gbs(v['bytes_per_s'])} (best pass; {v.get('threads')} threads, {v.get('buffer_bytes')} byte buffer)"
    if k == "other_processes_cpu" and isinstance(v, dict) and num(v.get("fraction")):
        return f"{v.get('cpu_seconds', 0):.1f} CPU seconds = {100 * v['fraction']:.1f}% of the machine during the run"
    return json.dumps(v) if isinstance(v, (list, dict)) else v


def hosts_table(results):
    """A merged document (bench merge): one column per run, its host's environment side by side."""
    runs = runs_of(results)
    keys = []
    for run in runs:
        keys += [k for k in run["environment"] if k not in keys]
    rows = [["host"] + [run.get("hostname") for run in runs], ["run started"] + [run.get("started_at") for run in runs],
            ["file"] + [run.get("file") for run in runs], ["rows"] + [sum(r.get("run") == run.get("run") for r in results["rows"]) for run in runs]]
    rows += [[k] + [environment_value(k, run["environment"].get(k)) for run in runs] for k in keys]
    return table("environment-table", ["field"] + [f"{run.get('hostname')}" for run in runs], rows)


def environment_table(results):
    if isinstance(results.get("runs"), list):
        return hosts_table(results)
    env = results.get("environment") or {}
    rows = [[k, environment_value(k, v)] for k, v in env.items()]
    rows += [["run started", results.get("started_at")], ["run finished", results.get("finished_at")],
             ["duration", f"{results.get('duration_s', 0):.1f} s" if num(results.get("duration_s")) else "-"],
             ["complete", results.get("complete")]]
    return table("environment-table", ["field", "value"], rows)


def models_table(results):
    rows = []
    for m in results.get("models") or []:
        if not isinstance(m, dict):
            continue
        shape = m.get("shape") or {}
        bw = (m.get("host_bandwidth") or {}).get("bytes_per_s")
        rows.append([m.get("name"), m.get("weights"), m.get("path"), m.get("sha256"),
                     ", ".join(f"{k}={v}" for k, v in shape.items()) if isinstance(shape, dict) else "",
                     m.get("params"), m.get("weight_bytes_per_token"), gbs(bw) if num(bw) else "-",
                     m.get("prompt_source")])
    return table("models-table", ["model", "weights", "file", "sha256", "shape", "parameters",
                                  "weight bytes / token", "host read bandwidth (model-sized buffer)",
                                  "prompt"], rows)


CSS = """
body { font-family: sans-serif; margin: 1.5em; color: #222; max-width: 1500px; }
table { border-collapse: collapse; margin: 0.6em 0 1.2em; font-size: 0.85em; }
th, td { border: 1px solid #bbb; padding: 0.25em 0.5em; text-align: left; vertical-align: top; }
th { background: #eee; }
td.fail { color: #b00; font-weight: bold; }
td.pass { color: #070; }
td.kind-estimated { background: #fff1e0; font-weight: bold; }
td.kind-published { background: #eef7ee; }
td.kind-peer { background: #eef2fb; }
td.none { color: #777; font-style: italic; }
figure { margin: 1em 0 2em; }
figure img { max-width: 100%; border: 1px solid #ddd; }
figcaption { font-size: 0.9em; color: #444; }
pre { background: #f6f6f6; padding: 0.8em; white-space: pre-wrap; overflow-wrap: anywhere; font-size: 0.8em; }
.banner { padding: 0.6em; background: #fde; border: 1px solid #d9a; }
.note { padding: 0.6em; background: #ffd; border: 1px solid #dd9; white-space: pre-wrap; }
nav a { margin-right: 1em; }
"""

# Marks the page once every image has loaded or failed, so a headless browser can tell
# whether a resource is missing (tests read data-missing-images from the DOM).
CHECK_SCRIPT = """
<script>
window.addEventListener('load', function () {
  var images = document.images, missing = 0;
  for (var i = 0; i < images.length; i++)
    if (!images[i].complete || images[i].naturalWidth === 0) missing++;
  document.documentElement.setAttribute('data-images', String(images.length));
  document.documentElement.setAttribute('data-missing-images', String(missing));
});
</script>
"""


def html_page(results, images, note=None, validation=None):
    name = results.get("name", "?")
    parts = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
             f"<title>llama-hls-bench: {esc(name)}</title>", f"<style>{CSS}</style>", "</head>", "<body>",
             f"<h1>llama-hls-bench run: {esc(name)}</h1>"]
    if results.get("description"):
        parts.append(f"<p>{esc(results['description'])}</p>")
    env = results.get("environment") or {}
    on = "; ".join(f"{esc(run.get('started_at'))} on {esc(run.get('hostname'))}: {esc(run['environment'].get('cpu_model'))} "
                   f"({esc(run['environment'].get('cores'))} cores), commit "
                   f"{esc(str(run['environment'].get('git_commit', ''))[:12])}" for run in runs_of(results))
    parts.append(f"<p>{on}. Speedups over published board figures are shown for board rows only. "
                 "<b>measured</b> = timed on this machine; <b>estimated</b> = a modelled board figure, "
                 "not a measurement; <b>published</b> = quoted from its source; <b>peer</b> = another program "
                 "(llama2.c, llama.cpp, ...) timed here by its own timer, between our points.</p>")
    others = (env.get("other_processes_cpu") or {}).get("fraction") if isinstance(env.get("other_processes_cpu"), dict) else None
    if num(others) and others > 0.05:
        parts.append(f'<p class="banner">Other processes used {100 * others:.0f}% of the machine\'s CPU time during '
                     "the run: they disturb the timings, multi-threaded ones most.</p>")
    if results.get("complete") is not True:
        parts.append('<p class="banner">INCOMPLETE: the run was interrupted; only the finished points '
                     'are shown.</p>')
    if any(r.get("weights") == "synthetic" for r in results["rows"]):
        parts.append("<p>Rows marked <i>synthetic weights</i> ran on random weights of the model's shape "
                     "(speed depends on the shape, not the values); their text output means nothing.</p>")
    parts.append('<nav><a href="#results">results</a><a href="#plots">plots</a>'
                 '<a href="#correctness">correctness</a><a href="#ops">per-op</a><a href="#fpga">FPGA view</a>'
                 '<a href="#environment">environment</a><a href="#config-section">config</a></nav>')
    parts.append('<section id="results"><h2>Results</h2>' + results_table(results) + device_greedy_note(results)
                 + peers_table(results) + "</section>")
    parts.append('<section id="not-measured"><h2>Not measured</h2>' + not_measured_table(results) + "</section>")
    parts.append('<section id="plots"><h2>Plots</h2>')
    if note:
        parts.append(f'<p class="note">{esc(note)}</p>')
    for file, caption in images:
        parts.append(f'<figure><img src="{esc(file)}" alt="{esc(caption)}">'
                     f"<figcaption>{esc(caption)}</figcaption></figure>")
    parts.append("</section>")
    parts.append('<section id="correctness"><h2>Correctness against cpu-ref</h2>' + correctness_table(results)
                 + accuracy_table(results) + "</section>")
    parts.append('<section id="ops"><h2>Per-op latency</h2>' + ops_table(results) + "</section>")
    parts.append(fpga_view_section(results, validation))
    parts.append('<section id="published-figures"><h2>Published figures</h2>' + published_table(results)
                 + "</section>")
    parts.append('<section id="environment"><h2>Environment</h2>' + environment_table(results)
                 + "<h3>Models</h3>" + models_table(results) + "</section>")
    config = (results.get("config") or {})
    parts.append('<section id="config-section"><h2>Config</h2>'
                 f"<p>{esc(config.get('file'))}</p>"
                 f'<pre id="config">{esc(config.get("text") or json.dumps(config.get("source"), indent=2))}</pre>')
    board = results.get("board")
    parts.append("<h3>Board</h3>" + (f"<p>{esc(board.get('file'))}</p>" if isinstance(board, dict) else "")
                 + f'<pre id="board">{esc(json.dumps(board.get("contents") if isinstance(board, dict) else None, indent=2))}</pre>'
                 + "</section>")
    parts.append(CHECK_SCRIPT)
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


# ----------------------------------------------------------------------------- FPGA view
# The board side of a run (docs/fpga-view.md): board rows against board ceilings only, the
# estimated resources of every compute unit against the device, the estimated cycles of each
# op beside the same kernels' C simulation on this host, and the estimator's validation.

RESOURCES = [("DSP", "dsp"), ("BRAM36", "bram36"), ("URAM", "uram"), ("LUT", "lut"), ("FF", "ff")]
VALIDATION_SCHEMA = "lhb-validation/1"


def board_ceiling_lines(ax, rows, handles):
    """The board's DDR roofline of each model's board rows (peak bandwidth of the board file
    / bytes per token) as a line; returns their values for the axis limits."""
    from matplotlib.lines import Line2D
    values = []
    for r in rows:
        roof = r.get("roofline") if isinstance(r.get("roofline"), dict) else {}
        v = roof.get("tok_s")
        if r.get("kind") != "estimated" or not num(v) or any(abs(v - x) < 1e-9 * v for x in values):
            continue
        values.append(v)
        ax.axhline(v, color="#d62728", linestyle="-", linewidth=1.2)
        handles.append(Line2D([0], [0], color="#d62728", label=f"board DDR roofline (board file's peak), "
                              f"{r.get('precision')}: {fmt(v)} tok/s"))
    return values


def plot_board_tok_s(plt, results):
    return plot_tok_s(plt, results, board=True)


def plot_board_roofline(plt, results):
    return plot_roofline(plt, results, board=True)


def estimated_designs(results):
    """(label, resources) of each board and design the estimated rows were estimated for:
    resources depend on those alone, not on the precision or the lengths."""
    seen = {}
    for r in results["rows"]:
        d = r.get("detail") if r.get("kind") == "estimated" else None
        res = d.get("resources_estimated") if isinstance(d, dict) else None
        # A prefill estimate carries only the design's totals (its design is the decode row's).
        if isinstance(res, dict) and isinstance(d.get("design"), str):
            seen.setdefault(f"{d.get('board')} / {d.get('design')}", res)
    return list(seen.items())


def resource_units(res):
    units = [u for u in res.get("compute_units") or [] if isinstance(u, dict)]
    if isinstance(res.get("xclbin"), dict):
        units.append(res["xclbin"])
    return units


def plot_fpga_resources(plt, results):
    designs = estimated_designs(results)
    fig, axes = plt.subplots(max(1, len(designs)), 1, figsize=(13, 5.5 * max(1, len(designs))), squeeze=False)
    if not designs:
        axes[0, 0].text(0.5, 0.5, "no estimated board rows in these results", ha="center",
                        transform=axes[0, 0].transAxes)
    for ax, (label, res) in zip(axes[:, 0], designs):
        units = resource_units(res)
        width = 0.8 / len(RESOURCES)
        for k, (name, key) in enumerate(RESOURCES):
            avail = res.get(f"{key}_available")
            if not num(avail) or avail <= 0:
                continue  # not given by the board file
            shares = [100 * u.get(key, 0) / avail if num(u.get(key)) else 0 for u in units]
            ax.bar([i - 0.4 + width * (k + 0.5) for i in range(len(units))], shares, width, label=f"{name} (of {avail:,.0f})",
                   hatch="//", edgecolor="black", linewidth=0.4)
        ax.axhline(100, color="#d62728", linestyle="--", linewidth=1.2, label="the device")
        ax.set_xticks(range(len(units)))
        ax.set_xticklabels([textwrap.fill(str(u.get("unit")), 14) for u in units], fontsize=8)
        ax.set_ylabel("share of the device (%, ESTIMATED)")
        ax.set_title(f"{label}: resources per compute unit (estimated; llama_forward "
                     f"{'fits' if res.get('fits') else 'DOES NOT FIT'}, the whole xclbin "
                     f"{'fits' if res.get('xclbin_fits') else 'DOES NOT FIT'})")
        ax.legend(fontsize=8, loc="upper right")
        ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig


FPGA_PLOTS = {"board_tok_s.png": plot_board_tok_s, "board_roofline.png": plot_board_roofline,
              "fpga_resources.png": plot_fpga_resources}


def against(used, available):
    if not num(used):
        return "-"
    if num(available) and available > 0:
        return f"{used:,.0f} / {available:,.0f} ({100 * used / available:.0f}%)"
    return f"{used:,.0f}"


def fpga_resources_table(results):
    rows = []
    for label, res in estimated_designs(results):
        for u in resource_units(res):
            rows.append([label, u.get("unit"), *[against(u.get(key), res.get(f"{key}_available")) for _, key in RESOURCES]])
        rows.append([label, "fits the device", f"llama_forward: {'yes' if res.get('fits') else 'NO'}",
                     f"every unit in one xclbin: {'yes' if res.get('xclbin_fits') else 'NO'}", "", "", ""])
    return table("fpga-resources-table", ["board / design", "compute unit", *[n for n, _ in RESOURCES]], rows,
                 "Estimated resources of every compute unit of the link config against the device (the board "
                 "file's counts; LUT and FF only where it gives them).")


def fpga_ops_table(results):
    """Each estimated row's cycles per op beside the hls-csim row it was estimated from."""
    measured = {r.get("id"): r for r in results["rows"] if r.get("kind") == "measured"}
    rows = []
    for r in results["rows"]:
        d = r.get("detail") if r.get("kind") == "estimated" else None
        if not isinstance(d, dict):
            continue
        sim = measured.get((r.get("simulation") or {}).get("row"))
        cycles = d.get("cycles_by_op_estimated") or {}
        est_ms = r.get("op_ms_per_token") or {}
        sim_ms = (sim or {}).get("op_ms_per_token") or {}
        point = f"{r.get('model')} {r.get('precision')} → {r.get('target')}"
        if num(d.get("prompt_tokens")):
            point += f" (a {d['prompt_tokens']}-token prompt: cycles of the whole prompt)"
        for op in OPS:
            if op not in cycles and op not in est_ms:
                continue
            c, e, m = cycles.get(op), est_ms.get(op), sim_ms.get(op) if isinstance(sim_ms, dict) else None
            rows.append([point, op, f"{c:,.0f}" if num(c) else "-", fmt(e), fmt(m),
                         f"{fmt(m / e)}x" if num(m) and num(e) and e > 0 else "-"])
    return table("fpga-ops-table", ["point", "op", "cycles per token (estimated, middle decode position)",
                                    "ms per token (estimated, board)",
                                    "ms per token (C simulation, measured on this host)", "C simulation / estimate"],
                 rows, "The HLS kernels' estimated board cycles per op beside their C simulation (hls-csim): the "
                       "same kernels compiled natively, so its time is this host's, not the board's.")


def load_validation(path, required):
    """bench validate's JSON (validation.json beside the results, which bench run writes), or
    None when it is not there and was not asked for."""
    if not required and not os.path.lexists(path):
        return None
    raw = read_input(path, MAX_RESULTS_BYTES, "validation file")
    try:
        data = json.loads(raw.decode("utf-8"), object_pairs_hook=unique_keys)
    except (ValueError, UnicodeDecodeError) as e:
        raise BadInput(f"{path}: invalid JSON: {e}")
    if not isinstance(data, dict) or data.get("schema") != VALIDATION_SCHEMA:
        raise BadInput(f"{path}: /schema: expected \"{VALIDATION_SCHEMA}\"")
    if not isinstance(data.get("designs"), list) or not all(isinstance(d, dict) for d in data["designs"]):
        raise BadInput(f"{path}: /designs: expected an array of designs")
    data["file"] = path
    return data


def validation_table(validation):
    rows = []
    for d in (validation or {}).get("designs") or []:
        t = d.get("tok_per_s") if isinstance(d.get("tok_per_s"), dict) else {}
        band = t.get("band_percent")
        rows.append([d.get("name"), d.get("board"), d.get("model"), fmt(t.get("published")), fmt(t.get("estimated")),
                     f"{t['error_percent']:+.1f}%" if num(t.get("error_percent")) else "-",
                     f"±{band:g}%" if num(band) else "reported",
                     Raw(f'<td class="{"pass" if d.get("pass") else "fail"}">{"pass" if d.get("pass") else "FAIL"}</td>'),
                     fmt(d.get("bytes_per_token_estimated") / 1e6) if num(d.get("bytes_per_token_estimated")) else "-",
                     pct(d.get("memory_peak_share_estimated")), d.get("source")])
    return table("validation-table", ["design", "board", "model", "published tok/s", "estimated tok/s", "error", "band",
                                      "result", "MB/token (est.)", "of memory peak (est.)", "source"], rows)


def fpga_view_section(results, validation):
    parts = ['<section id="fpga"><h2>FPGA view (estimated)</h2>',
             "<p>Every figure here is <b>estimated</b> by the board model (docs/hls-design.md) unless it says "
             "published or measured.</p>", "<h3>Resources per compute unit against the device</h3>",
             fpga_resources_table(results), "<h3>Estimated cycles per op beside C simulation</h3>",
             fpga_ops_table(results), "<h3>The estimator against published designs</h3>"]
    if validation is None:
        parts.append('<p class="note">No validation.json beside the results: bench run writes it when the run has '
                     "estimated rows; bench validate --json FOLDER/validation.json writes it for any folder.</p>")
    else:
        parts.append(f"<p>From {esc(validation.get('file'))} (bench validate: estimated beside published; "
                     f"{'every estimate inside its band' if validation.get('pass') else 'SOME ESTIMATES LEAVE THEIR BANDS'}).</p>")
    parts.append(validation_table(validation) + "</section>")
    return "\n".join(parts)


# ----------------------------------------------------------------------------- main

def take_option(args, flag, what):
    """Removes `flag VALUE` from args and returns VALUE (None when the flag is absent)."""
    if flag not in args:
        return None
    i = args.index(flag)
    if i + 1 >= len(args):
        raise BadInput(f"{flag} needs {what}")
    value = args[i + 1]
    del args[i:i + 2]
    return value


def main(argv):
    args = list(argv[1:])
    try:
        out_dir = take_option(args, "--out", "a folder")
        validation_path = take_option(args, "--validation", "a file (bench validate --json FILE)")
    except BadInput as e:
        print(f"report: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if len(args) != 1 or args[0].startswith("-"):
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return EXIT_BAD_INPUT if args and args[0] not in ("-h", "--help") else 0
    path = args[0]
    try:
        results = load_results(path)
        validation = load_validation(validation_path or os.path.join(os.path.dirname(os.path.abspath(path)),
                                                                     "validation.json"), validation_path is not None)
    except BadInput as e:
        print(f"report: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    out_dir = out_dir or os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(out_dir, exist_ok=True)
        return write_report(results, out_dir, validation)
    except BadInput as e:
        print(f"report: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OSError as e:
        print(f"report: {out_dir}: cannot create the output folder: {e.strerror}", file=sys.stderr)
        return EXIT_BAD_INPUT


def write_report(results, out_dir, validation=None):
    for file in ["index.html"] + [f for f, _ in IMAGES]:  # refused before any plotting
        check_output_target(os.path.join(out_dir, file))
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print(INSTALL_HINT, file=sys.stderr)
        write_atomically(os.path.join(out_dir, "index.html"), html_page(results, [], INSTALL_HINT, validation))
        return EXIT_NO_MATPLOTLIB

    plots = {"tok_s.png": plot_tok_s, "ops.png": plot_ops, "roofline.png": plot_roofline,
             "latency.png": plot_latency, "prefill.png": plot_prefill, **FPGA_PLOTS}
    for file, _ in IMAGES:
        fig = plots[file](plt, results)
        save_figure(fig, os.path.join(out_dir, file))
        plt.close(fig)
    index = os.path.join(out_dir, "index.html")
    write_atomically(index, html_page(results, IMAGES, validation=validation))
    print(f"report: {index} (+ {', '.join(f for f, _ in IMAGES)})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
