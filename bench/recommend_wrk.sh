#!/usr/bin/env bash
# Throughput and latency of GET /v1/customers/{id}/recommendations under
# wrk, on loopback, with a model trained on all of UCI Online Retail.
#
# Usage: bench/recommend_wrk.sh
#
# Reuses the store that bench/recommend_bench.sh ingested into
# bench/work/recommend/data, so run that script first. Trains and promotes
# a recommender with the release binary, creates an API key and starts
# `mercator serve` on 127.0.0.1. After a 5 s warm-up, wrk runs for
# WRK_SECONDS (default 30) with WRK_CONNECTIONS (default 64) connections
# and WRK_THREADS (default 2) threads over every customer of the store.
# WRK_REPLY_CACHE sets the server's --reply-cache (default: the server's
# default; 0 turns the cache off, so every request is scored).
# Writes bench/results/recommend_wrk_cN.json (N connections; the name ends
# in _nocache when the cache is off) and the raw wrk output beside it.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=$repo_root/bench/work/recommend
data=$work/data
dataset=online-retail
port=${WRK_PORT:-18181}
seconds=${WRK_SECONDS:-30}
connections=${WRK_CONNECTIONS:-64}
threads=${WRK_THREADS:-2}
results_dir=$repo_root/bench/results
cache_args=()
suffix=""
if [[ -n ${WRK_REPLY_CACHE:-} ]]; then
    cache_args=(--reply-cache "$WRK_REPLY_CACHE")
    if [[ $WRK_REPLY_CACHE == 0 ]]; then
        suffix=_nocache
    fi
fi

target_dir=${CARGO_TARGET_DIR:-$repo_root/target}
mercator=$target_dir/release/mercator
if [[ ! -x $mercator || ! -f $data/mercator.db ]]; then
    echo "missing $mercator or $data/mercator.db: run bench/recommend_bench.sh first" >&2
    exit 1
fi
command -v wrk >/dev/null || { echo "wrk not found on PATH; install it (apt-get install wrk)" >&2; exit 1; }

"$mercator" --data-dir "$data" --quiet train recommend --dataset "$dataset" --force
key=$("$mercator" --data-dir "$data" keys create --name "wrk-$(date +%s)" 2>/dev/null)
python3 - "$data/mercator.db" "$work/wrk_customers.txt" <<'PY'
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1])
rows = conn.execute(
    "SELECT DISTINCT customer_id FROM order_lines WHERE customer_id IS NOT NULL ORDER BY customer_id"
).fetchall()
open(sys.argv[2], "w").write("".join(f"{row[0]}\n" for row in rows))
PY

RUST_LOG=warn "$mercator" --data-dir "$data" serve --dataset "$dataset" --port "$port" \
    "${cache_args[@]}" > "$work/serve.log" 2>&1 &
server_pid=$!
trap 'kill "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
    if curl -sf "http://127.0.0.1:$port/health" | grep -q '"recommend_version":[0-9]'; then
        break
    fi
    sleep 0.2
done
curl -sf -H "Authorization: Bearer $key" \
    "http://127.0.0.1:$port/v1/customers/$(head -1 "$work/wrk_customers.txt")/recommendations" \
    > /dev/null

export WRK_CUSTOMERS=$work/wrk_customers.txt WRK_KEY=$key
wrk -t "$threads" -c "$connections" -d 5s -s "$repo_root/bench/recommend_wrk.lua" \
    "http://127.0.0.1:$port" > /dev/null
wrk -t "$threads" -c "$connections" -d "${seconds}s" --latency \
    -s "$repo_root/bench/recommend_wrk.lua" "http://127.0.0.1:$port" \
    | tee "$results_dir/recommend_wrk_c$connections$suffix.txt"

python3 - "$results_dir/recommend_wrk_c$connections$suffix.txt" "$results_dir/recommend_wrk_c$connections$suffix.json" \
    "$threads" "$connections" "$seconds" <<'PY'
import json, os, platform, re, sys
text = open(sys.argv[1]).read()

def millis(value):
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", value).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

percentiles = {
    f"p{p}_ms": millis(v) for p, v in re.findall(r"^\s+(\d+)%\s+(\S+)$", text, re.M)
}
result = {
    "endpoint": "GET /v1/customers/{id}/recommendations?k=10",
    "reply_cache": os.environ.get("WRK_REPLY_CACHE", "default"),
    "requests_per_second": float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1)),
    "latency_ms": percentiles,
    "non_2xx": int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", text)) else 0,
    "socket_errors": (m.group(0) if (m := re.search(r"Socket errors:.*", text)) else None),
    "wrk": {"threads": int(sys.argv[3]), "connections": int(sys.argv[4]), "seconds": int(sys.argv[5])},
    "machine": {"nproc": os.cpu_count(), "platform": platform.platform(), "load_average": os.getloadavg()},
}
json.dump(result, open(sys.argv[2], "w"), indent=2)
print(json.dumps(result, indent=2))
PY
