#!/usr/bin/env bash
# Time `mercator run` against the pandas + scikit-learn peer on UCI Online Retail.
#
# Usage: bench/run_main_job.sh [ORDERS_FILE]
#
# Builds mercator-cli in release mode, then runs each side 3 times, in turn,
# under /usr/bin/time -v: `mercator run` with a fresh data dir each time, so
# that every run ingests the file into a new SQLite store, and
# bench/peer_pandas_sklearn.py. Writes bench/results/main_job.json (median
# wall time, peak RSS, peer/Mercator ratios, both sides' metrics and the
# machine) and prints the results as markdown tables.
#
# ORDERS_FILE defaults to the UCI Online Retail CSV.gz in
# ../shared/data/online_retail/ beside the repository root. Without that
# file the benchmark is skipped and the script exits with status 0.
#
# MERCATOR_BIN, when set, names a mercator binary built in release mode,
# and the script uses it instead of running cargo build.
set -euo pipefail

readonly N_RUNS=3

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
orders=${1:-$repo_root/../shared/data/online_retail/online_retail.csv.gz}
results_file=$repo_root/bench/results/main_job.json

if [[ ! -f $orders ]]; then
    echo "UCI Online Retail file not found at $orders, so the main-job benchmark is skipped." \
        "Pass the path of online_retail.csv.gz as the first argument to run it." >&2
    exit 0
fi
orders=$(realpath "$orders")

if [[ ! -x /usr/bin/time ]]; then
    echo "installing Debian's time package for /usr/bin/time" >&2
    apt-get update
    apt-get install -y time
fi

# Import name and pip package of every module the peer script imports.
missing_packages=()
for module_package in pandas:pandas numpy:numpy scipy:scipy sklearn:scikit-learn \
    pyarrow:pyarrow statsmodels:statsmodels; do
    if ! python3 -c "import ${module_package%%:*}" 2>/dev/null; then
        missing_packages+=("${module_package##*:}")
    fi
done
if ((${#missing_packages[@]} > 0)); then
    echo "installing Python packages: ${missing_packages[*]}" >&2
    python3 -m pip install --quiet "${missing_packages[@]}"
fi

if [[ -n ${MERCATOR_BIN:-} ]]; then
    built_mercator=$(realpath "$MERCATOR_BIN")
else
    # Cargo reads a relative CARGO_TARGET_DIR from the directory it runs in.
    target_dir=${CARGO_TARGET_DIR:-$repo_root/target}
    if [[ $target_dir != /* ]]; then
        target_dir=$repo_root/$target_dir
    fi
    echo "building mercator-cli in release mode" >&2
    (cd "$repo_root" && cargo build --release -p mercator-cli)
    built_mercator=$target_dir/release/mercator
fi

work_dir=$(mktemp -d "${TMPDIR:-/tmp}/mercator-main-job.XXXXXX")
trap 'rm -rf "$work_dir"' EXIT
# A private copy keeps every run on the same binary, even when a build
# replaces the original meanwhile.
mercator=$work_dir/mercator
cp "$built_mercator" "$mercator"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

for ((run = 1; run <= N_RUNS; run++)); do
    run_dir=$work_dir/mercator-$run
    mkdir -p "$run_dir"
    echo "run $run of $N_RUNS: mercator run" >&2
    if ! /usr/bin/time -v -o "$run_dir/time.txt" "$mercator" --data-dir "$run_dir/data" --quiet \
        run --orders "$orders" --out "$run_dir/report"; then
        echo "error: mercator run $run failed with the error above" >&2
        exit 1
    fi

    run_dir=$work_dir/peer-$run
    mkdir -p "$run_dir/report"
    echo "run $run of $N_RUNS: peer_pandas_sklearn.py" >&2
    if ! /usr/bin/time -v -o "$run_dir/time.txt" python3 "$repo_root/bench/peer_pandas_sklearn.py" \
        "$orders" >"$run_dir/report/report.json"; then
        echo "error: peer run $run failed with the error above" >&2
        exit 1
    fi
done

mkdir -p "$(dirname "$results_file")"
python3 - "$work_dir" "$N_RUNS" "$orders" "$results_file" "$load_before" "$built_mercator" \
    <<'PYTHON'
"""Summarize the timed runs into main_job.json and print markdown tables."""

import json
import os
import platform
import re
import statistics
import subprocess
import sys
from datetime import datetime, timezone

work_dir, n_runs, orders, results_file, load_before, mercator_binary = sys.argv[1:7]
n_runs = int(n_runs)

# Mercator's target for this job on a 2-core machine.
TARGET_WALL_S = 30.0
TARGET_PEAK_RSS_MIB = 1024.0

SIDE_NAMES = {"mercator": "Mercator", "peer": "pandas + scikit-learn"}


def read_time_output(path):
    """Parse wall time, CPU times and peak RSS from the output of GNU time -v."""
    with open(path) as file:
        text = file.read()
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", text).group(1)
    wall_s = sum(float(part) * 60**power for power, part in enumerate(reversed(wall.split(":"))))
    rss_kib = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", text).group(1))
    return {
        "wall_s": round(wall_s, 2),
        "user_s": float(re.search(r"User time \(seconds\): (\S+)", text).group(1)),
        "system_s": float(re.search(r"System time \(seconds\): (\S+)", text).group(1)),
        "peak_rss_mib": round(rss_kib / 1024, 1),
    }


def key_metrics(report):
    """Select the metrics that both reports compute under the same keys."""
    propensity = report["propensity"]
    return {
        "input_rows": report["input"]["rows"],
        "dataset_lines": report["input"]["dataset_lines"],
        "cleaning": report["cleaning"],
        "cutoff": report["split"]["cutoff"],
        "propensity": {
            key: propensity[key] for key in ("auc", "baseline_auc", "log_loss", "n_train", "n_test")
        },
        "recommend": {
            name: {"ndcg_at_10": model["ndcg_at_10"], "hr_at_10": model["hr_at_10"]}
            for name, model in report["recommend"]["models"].items()
        },
        "forecast": {
            name: {"mase": model["mase"], "smape": model["smape"]}
            for name, model in report["forecast"]["models"].items()
        },
    }


def summarize_side(side):
    """Collect one side's runs: medians, peak RSS, step timings and metrics."""
    runs = []
    metrics = []
    for run in range(1, n_runs + 1):
        run_dir = os.path.join(work_dir, f"{side}-{run}")
        with open(os.path.join(run_dir, "report", "report.json")) as file:
            report = json.load(file)
        usage = read_time_output(os.path.join(run_dir, "time.txt"))
        runs.append({**usage, "timings_ms": report["timings_ms"]})
        metrics.append(key_metrics(report))

    steps = runs[0]["timings_ms"]
    versions = report.get("versions", {"mercator": report.get("mercator_version")})
    return {
        "versions": versions,
        "wall_s_median": statistics.median(run["wall_s"] for run in runs),
        "cpu_s_median": statistics.median(run["user_s"] + run["system_s"] for run in runs),
        "peak_rss_mib_max": max(run["peak_rss_mib"] for run in runs),
        "timings_ms_median": {
            step: statistics.median(run["timings_ms"][step] for run in runs) for step in steps
        },
        "metrics_equal_across_runs": all(m == metrics[0] for m in metrics),
        "metrics": metrics[0],
        "runs": runs,
    }


def describe_machine():
    """Describe the CPU, memory, kernel, toolchains and load of this machine."""
    cpu_model = "unknown"
    with open("/proc/cpuinfo") as file:
        for line in file:
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    mem_total_kib = 0
    with open("/proc/meminfo") as file:
        for line in file:
            if line.startswith("MemTotal:"):
                mem_total_kib = int(line.split()[1])
    rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True)
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_model": cpu_model,
        "memory_gib": round(mem_total_kib / 1024**2, 1),
        "kernel": platform.release(),
        "rustc": rustc.stdout.strip(),
        "python": platform.python_version(),
        # Load averages over 1, 5 and 15 minutes show other work on the machine.
        "load_average_before": load_before,
        "load_average_after": " ".join(f"{load:.2f}" for load in os.getloadavg()),
    }


def format_cell(value):
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1 else f"{value:.2f}"
    return str(value)


def metric_rows(mercator_metrics, peer_metrics):
    """List (name, Mercator value, peer value) for every metric either side reports."""
    rows = [
        ("rows read", mercator_metrics["input_rows"], peer_metrics["input_rows"]),
        ("stored lines", mercator_metrics["dataset_lines"], peer_metrics["dataset_lines"]),
    ]
    for key in ("auc", "baseline_auc", "log_loss"):
        rows.append(
            (
                f"propensity {key}",
                mercator_metrics["propensity"][key],
                peer_metrics["propensity"][key],
            )
        )
    for section, keys in (
        ("recommend", ("ndcg_at_10", "hr_at_10")),
        ("forecast", ("mase", "smape")),
    ):
        models = dict.fromkeys([*mercator_metrics[section], *peer_metrics[section]])
        for model in models:
            for key in keys:
                rows.append(
                    (
                        f"{section} {model} {key}",
                        mercator_metrics[section].get(model, {}).get(key),
                        peer_metrics[section].get(model, {}).get(key),
                    )
                )
    return rows


def markdown_tables(results):
    """Render the resource, metric and step tables as markdown."""
    mercator, peer = results["mercator"], results["peer"]
    ratio = results["ratio_peer_to_mercator"]
    mercator_name, peer_name = SIDE_NAMES["mercator"], SIDE_NAMES["peer"]

    lines = [
        f"| measure | {mercator_name} | {peer_name} | peer / Mercator |",
        "|---|---:|---:|---:|",
        f"| wall time, median of {n_runs} (s) | {mercator['wall_s_median']:.2f} "
        f"| {peer['wall_s_median']:.2f} | {ratio['wall_s']:.2f} |",
        f"| CPU time, user + system, median of {n_runs} (s) | {mercator['cpu_s_median']:.2f} "
        f"| {peer['cpu_s_median']:.2f} | {ratio['cpu_s']:.2f} |",
        f"| peak RSS, max of {n_runs} (MiB) | {mercator['peak_rss_mib_max']:.0f} "
        f"| {peer['peak_rss_mib_max']:.0f} | {ratio['peak_rss_mib']:.2f} |",
    ]
    for name, mercator_value, peer_value in metric_rows(mercator["metrics"], peer["metrics"]):
        lines.append(f"| {name} | {format_cell(mercator_value)} | {format_cell(peer_value)} | |")

    lines += [
        "",
        f"| step, median of {n_runs} (ms) | {mercator_name} | {peer_name} |",
        "|---|---:|---:|",
    ]
    steps = dict.fromkeys([*mercator["timings_ms_median"], *peer["timings_ms_median"]])
    for step in steps:
        mercator_ms = format_cell(mercator["timings_ms_median"].get(step))
        peer_ms = format_cell(peer["timings_ms_median"].get(step))
        lines.append(f"| {step} | {mercator_ms} | {peer_ms} |")
    return "\n".join(lines)


mercator = summarize_side("mercator")
peer = summarize_side("peer")
results = {
    "benchmark": "main job: `mercator run` against bench/peer_pandas_sklearn.py",
    "data_set": "UCI Online Retail",
    "orders": {"path": orders, "bytes": os.path.getsize(orders)},
    "date_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    "machine": describe_machine(),
    "runs_per_side": n_runs,
    "mercator_binary": mercator_binary,
    "mercator": mercator,
    "peer": peer,
    "ratio_peer_to_mercator": {
        "wall_s": round(peer["wall_s_median"] / mercator["wall_s_median"], 2),
        "cpu_s": round(peer["cpu_s_median"] / mercator["cpu_s_median"], 2),
        "peak_rss_mib": round(peer["peak_rss_mib_max"] / mercator["peak_rss_mib_max"], 2),
    },
    "target": {"wall_s": TARGET_WALL_S, "peak_rss_mib": TARGET_PEAK_RSS_MIB, "cores": 2},
    "target_met": mercator["wall_s_median"] < TARGET_WALL_S
    and mercator["peak_rss_mib_max"] < TARGET_PEAK_RSS_MIB,
}
with open(results_file, "w") as file:
    json.dump(results, file, indent=2)
    file.write("\n")

machine = results["machine"]
print(
    f"Main job on UCI Online Retail: {machine['nproc']} cores ({machine['cpu_model']}), "
    f"{n_runs} runs per side, load average {machine['load_average_before']} before\n"
)
print(markdown_tables(results))
verdict = "met" if results["target_met"] else "not met"
print(
    f"\nMercator target (under {TARGET_WALL_S:.0f} s and {TARGET_PEAK_RSS_MIB:.0f} MiB "
    f"on {machine['nproc']} cores): {verdict}. Results written to {results_file}."
)
PYTHON
