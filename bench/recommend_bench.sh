#!/usr/bin/env bash
# Mercator's recommenders and propensity models against implicit ALS and
# scikit-learn on UCI Online Retail, in one run on the same split.
#
# Usage: bench/recommend_bench.sh [ORDERS_FILE]
#
# Builds mercator-cli and the recommend_bench example in release mode,
# ingests the file into a fresh store under bench/work/recommend/, runs the
# example (validation search, ranker, every model on the last 28 days,
# 3 timed ALS fits, propensity classifiers; it writes the split as CSV),
# then bench/peer_implicit_sklearn.py on the same files (implicit ALS with
# the same factors, regularization, iterations and CG steps, 3 timed fits;
# scikit-learn LogisticRegression on the same propensity rows). Writes
# bench/results/recommend.json and prints the comparison.
#
# ORDERS_FILE defaults to ../shared/data/online_retail/online_retail.csv.gz
# beside the repository root; without it the script exits with status 0.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
orders=${1:-$repo_root/../shared/data/online_retail/online_retail.csv.gz}
work=$repo_root/bench/work/recommend
results_file=$repo_root/bench/results/recommend.json

if [[ ! -f $orders ]]; then
    echo "UCI Online Retail file not found at $orders, so the benchmark is skipped." >&2
    exit 0
fi
orders=$(realpath "$orders")

missing=()
for module_package in numpy:numpy scipy:scipy sklearn:scikit-learn implicit:implicit; do
    if ! python3 -c "import ${module_package%%:*}" 2>/dev/null; then
        missing+=("${module_package##*:}")
    fi
done
if ((${#missing[@]} > 0)); then
    echo "installing Python packages: ${missing[*]}" >&2
    python3 -m pip install --quiet "${missing[@]}"
fi

target_dir=${CARGO_TARGET_DIR:-$repo_root/target}
if [[ $target_dir != /* ]]; then
    target_dir=$repo_root/$target_dir
fi
# The benchmark needs neither llama.cpp nor CTranslate2, so the CLI is
# built without them.
(cd "$repo_root" && cargo build --release -p mercator-cli --no-default-features \
    && cargo build --release -p mercator-recommend --example recommend_bench)

rm -rf "$work"
mkdir -p "$work"
"$target_dir/release/mercator" --data-dir "$work/data" --quiet \
    ingest orders "$orders" --dataset online-retail
"$target_dir/release/examples/recommend_bench" "$work/data" online-retail "$work" \
    > "$work/mercator.json"
# implicit warns that a multithreaded OpenBLAS slows its ALS down and
# recommends one BLAS thread, so the peer runs with one.
OPENBLAS_NUM_THREADS=1 python3 "$repo_root/bench/peer_implicit_sklearn.py" "$work" \
    > "$work/peer.json"

python3 - "$work" "$results_file" <<'PY'
import json, os, platform, statistics, sys
work, out = sys.argv[1], sys.argv[2]
mercator = json.load(open(os.path.join(work, "mercator.json")))
peer = json.load(open(os.path.join(work, "peer.json")))
test = mercator["report"]["test"]
implicit = peer["implicit_als"]
best_name = max(test, key=lambda name: test[name]["ndcg_at_k"])
best = test[best_name]["ndcg_at_k"]
als_seconds = statistics.median(mercator["als_fit_seconds"])
implicit_seconds = statistics.median(implicit["fit_seconds"])
propensity = mercator["propensity"]
result = {
    "split": {key: mercator["report"][key] for key in ("data_from", "data_to", "validation_cutoff", "test_cutoff", "test_end")},
    "matrix": {key: mercator[key] for key in ("n_users", "n_items", "nnz")},
    "als_settings": mercator["report"]["chosen"]["als"],
    "search": mercator["report"]["search"],
    "test_ndcg_at_10": {name: metrics["ndcg_at_k"] for name, metrics in test.items()},
    "test_metrics": test,
    "validation_metrics": mercator["report"]["validation"],
    "implicit_als": implicit,
    "best_model": best_name,
    "best_over_implicit_ndcg": best / implicit["ndcg_at_10"],
    "als_fit_seconds_median": {"mercator": als_seconds, "implicit": implicit_seconds},
    "als_fit_seconds_runs": {"mercator": mercator["als_fit_seconds"], "implicit": implicit["fit_seconds"]},
    "propensity_test_auc": {
        "mercator_logistic": propensity["logistic"]["test_auc"],
        "mercator_trees": propensity["trees"]["test_auc"],
        "sklearn_logistic": peer["sklearn_logistic"]["test_auc"],
    },
    "propensity": propensity,
    "sklearn_logistic": peer["sklearn_logistic"],
    "implicit_version": peer["implicit_version"],
    "threads": mercator["threads"],
    "machine": {"nproc": os.cpu_count(), "platform": platform.platform(), "load_average": os.getloadavg()},
}
json.dump(result, open(out, "w"), indent=2)
print("| model | test NDCG@10 | HR@10 |")
print("|---|---|---|")
for name, metrics in sorted(test.items(), key=lambda kv: -kv[1]["ndcg_at_k"]):
    print(f"| {name} | {metrics['ndcg_at_k']:.4f} | {metrics['hr_at_k']:.4f} |")
print(f"| implicit ALS | {implicit['ndcg_at_10']:.4f} | {implicit['hr_at_10']:.4f} |")
print(f"best / implicit: {best / implicit['ndcg_at_10']:.2f}")
print(f"ALS fit seconds (median of 3): mercator {als_seconds:.3f}, implicit {implicit_seconds:.3f}")
print("propensity test AUC:", json.dumps(result["propensity_test_auc"]))
PY
