"""Compare `mercator forecast` with Nixtla statsforecast on the same weekly series and holdout.

The script runs Mercator's bench binary (the `forecast_bench` example of
crates/forecast, the same holdout code as `mercator forecast`) on a dataset
already ingested into a store (UCI Online Retail in bench/FORECAST.md). It
writes the holdout series it scored to CSV. The script then fits statsforecast's
AutoETS and CrostonOptimized on exactly those training periods, forecasts
the same holdout, and scores both tools with the same MASE, sMAPE and
interval-coverage formulas. Both tools are timed in this run. Results go to
bench/results/forecast.json.

Usage:
    python bench/forecast_statsforecast.py --data-dir DIR [--dataset default]
        [--horizon 12] [--by sku,country]
        [--binary target/release/examples/forecast_bench]
"""

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np
import pandas as pd

SEASON_WEEKS = 52


def mase_scale(train: np.ndarray) -> float:
    """Return Mercator's MASE scale: in-sample seasonal naive MAE, else mean |y|."""
    m = SEASON_WEEKS if len(train) > SEASON_WEEKS else 1
    if len(train) > m:
        scale = np.mean(np.abs(train[m:] - train[:-m]))
        if scale > 0:
            return float(scale)
    mean_abs = float(np.mean(np.abs(train))) if len(train) else 0.0
    return mean_abs


def smape(actual: np.ndarray, forecast: np.ndarray) -> float:
    """Return sMAPE in percent, counting 0/0 weeks as perfect (as Mercator does)."""
    denominator = np.abs(actual) + np.abs(forecast)
    safe = np.where(denominator == 0, 1.0, denominator)
    terms = np.where(denominator == 0, 0.0, 200.0 * np.abs(actual - forecast) / safe)
    return float(np.mean(terms))


def score(train_by_id, test_by_id, forecasts: pd.DataFrame, column: str, level_columns=None):
    """Return mean MASE, mean sMAPE and interval coverage of one model column."""
    mases, smapes = [], []
    inside = {80: 0, 95: 0}
    total = 0
    for uid, group in forecasts.groupby("unique_id", sort=False):
        actual = test_by_id[uid]
        point = group[column].to_numpy()[: len(actual)]
        scale = mase_scale(train_by_id[uid])
        if scale <= 0:
            continue
        mases.append(float(np.mean(np.abs(actual - point)) / scale))
        smapes.append(smape(actual, point))
        if level_columns:
            for level, (lo, hi) in level_columns.items():
                lower = group[lo].to_numpy()[: len(actual)]
                upper = group[hi].to_numpy()[: len(actual)]
                inside[level] += int(np.sum((lower <= actual) & (actual <= upper)))
            total += len(actual)
    result = {
        "mase": float(np.mean(mases)),
        "smape": float(np.mean(smapes)),
        "n_series": len(mases),
    }
    if level_columns and total:
        result["coverage_80"] = inside[80] / total
        result["coverage_95"] = inside[95] / total
    return result


def run_mercator(args, series_csv: str) -> tuple[dict, float]:
    """Run the Mercator holdout, returning its JSON output and the wall time in seconds."""
    command = [args.binary, args.data_dir, args.dataset, args.by, str(args.horizon), series_csv]
    started = time.perf_counter()
    completed = subprocess.run(command, check=True, capture_output=True, text=True)
    wall = time.perf_counter() - started
    return json.loads(completed.stdout), wall


def run_statsforecast(series: pd.DataFrame, horizon: int) -> tuple[pd.DataFrame, float]:
    """Fit AutoETS (with 80% and 95% intervals) and CrostonOptimized (point only,
    because statsforecast gives it intervals only through conformal windows that
    short series lack) on the training periods; return forecasts and wall time."""
    from statsforecast import StatsForecast
    from statsforecast.models import AutoETS, CrostonOptimized

    train = series[series["split"] == "train"][["unique_id", "ds", "y"]]
    started = time.perf_counter()
    ets = StatsForecast(models=[AutoETS(season_length=1)], freq="W-MON", n_jobs=-1)
    ets_forecasts = ets.forecast(df=train, h=horizon, level=[80, 95])
    croston = StatsForecast(models=[CrostonOptimized()], freq="W-MON", n_jobs=-1)
    croston_forecasts = croston.forecast(df=train, h=horizon)
    wall = time.perf_counter() - started

    forecasts = ets_forecasts.reset_index(drop="unique_id" in ets_forecasts.columns)
    croston_forecasts = croston_forecasts.reset_index(drop="unique_id" in croston_forecasts.columns)
    forecasts = forecasts.merge(croston_forecasts, on=["unique_id", "ds"])
    return forecasts, wall


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--dataset", default="default")
    parser.add_argument("--horizon", type=int, default=12)
    parser.add_argument("--by", default="sku,country")
    parser.add_argument("--binary", default="target/release/examples/forecast_bench")
    parser.add_argument("--work-dir", default="/tmp/mercator-forecast-bench")
    parser.add_argument("--results", default="bench/results/forecast.json")
    args = parser.parse_args()

    os.makedirs(args.work_dir, exist_ok=True)
    series_csv = os.path.join(args.work_dir, "series.csv")
    mercator_json, mercator_wall = run_mercator(args, series_csv)

    series = pd.read_csv(series_csv, parse_dates=["ds"])
    train_by_id = {
        uid: g["y"].to_numpy(dtype=float)
        for uid, g in series[series["split"] == "train"].groupby("unique_id", sort=False)
    }
    test_by_id = {
        uid: g["y"].to_numpy(dtype=float)
        for uid, g in series[series["split"] == "test"].groupby("unique_id", sort=False)
    }
    forecasts, sf_wall = run_statsforecast(series, args.horizon)

    ets = score(train_by_id, test_by_id, forecasts, "AutoETS",
                {80: ("AutoETS-lo-80", "AutoETS-hi-80"), 95: ("AutoETS-lo-95", "AutoETS-hi-95")})
    croston = score(train_by_id, test_by_id, forecasts, "CrostonOptimized")
    holdout = mercator_json["holdout"]
    selected = holdout["accuracy"]["selected"]
    best_name, best = min((("AutoETS", ets), ("CrostonOptimized", croston)), key=lambda p: p[1]["mase"])

    results = {
        "dataset": "UCI Online Retail",
        "level": args.by,
        "frequency": "weekly",
        "holdout_weeks": args.horizon,
        "n_series": len(test_by_id),
        "intermittent_share": holdout["intermittent_share"],
        "mercator": {
            "selected": {
                **selected,
                "coverage_80": holdout["coverage_80"],
                "coverage_95": holdout["coverage_95"],
            },
            "models": holdout["accuracy"],
            "selected_models": holdout["selected_models"],
            "holdout_seconds": mercator_json["seconds"],
            "command_seconds": mercator_wall,
        },
        "statsforecast": {
            "AutoETS": ets,
            "CrostonOptimized": croston,
            "best": best_name,
            "fit_predict_seconds": sf_wall,
        },
        "mercator_mase_le_best": selected["mase"] <= best["mase"],
        "mercator_holdout_time_ratio": mercator_json["seconds"] / sf_wall,
        "machine": f"{os.cpu_count()} CPUs shared with other builds",
    }
    os.makedirs(os.path.dirname(args.results), exist_ok=True)
    with open(args.results, "w") as f:
        json.dump(results, f, indent=2)
    json.dump(results, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
