"""Run the steps of `mercator run` with pandas, scikit-learn and statsmodels.

This script is the peer in the main-job benchmark (bench/run_main_job.sh).
It reads an order export: CSV or gzip-compressed CSV with the columns of
UCI Online Retail, Online Retail II or Mercator's canonical names. It sorts
every row into the same cleaning buckets as crates/data and splits by time
at midnight after the last invoice minus the test window. It then trains
and evaluates the same three jobs on the same rows as crates/recommend and
crates/forecast:

- purchase propensity: the same customer-by-snapshot features, standardized
  and fitted with scikit-learn's LogisticRegression (lbfgs), scored by ROC
  AUC next to a recency-only ranking;
- recommendations: global popularity, popularity within the customer's
  country, and item-item co-purchase cosine with baskets weighted by one
  over their size, scored by HR@10 and NDCG@10 on the items new to each
  customer;
- weekly demand: net units of the 20 largest SKU x country series, seasonal
  naive and damped-trend Holt (statsmodels ExponentialSmoothing), scored by
  MASE and sMAPE.

It prints one JSON object whose keys follow Mercator's report.json where
both compute the same quantity. Unlike Mercator it keeps the cleaned lines
in memory instead of writing them to a SQLite store, and it writes no HTML
report.

Usage: python3 bench/peer_pandas_sklearn.py ORDERS.csv.gz
"""

import argparse
import csv
import gzip
import hashlib
import json
import re
import sys
import time
from datetime import datetime

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import scipy.sparse as sp
import sklearn
import statsmodels
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss, precision_recall_curve, roc_auc_score
from sklearn.preprocessing import StandardScaler
from statsmodels.tsa.holtwinters import ExponentialSmoothing

# Run settings, equal to the defaults of `mercator run`.
TEST_WEEKS = 4
N_FORECAST_SERIES = 20
TOP_K = 10

# Propensity settings, equal to PropensityConfig::default() in crates/recommend.
N_SNAPSHOTS = 6
L2_PENALTY = 0.001
N_COUNTRY_COLUMNS = 5
MIN_ROWS_PER_CLASS = 5
N_CALIBRATION_BINS = 10

# Co-purchase settings, equal to CopurchaseOptions::default() in crates/recommend.
MAX_NEIGHBORS = 50
RECENCY_HALF_LIFE_DAYS = 60.0

# Holt parameter bounds and start line, equal to crates/forecast/src/ets.rs.
SMOOTHING_BOUNDS = (1e-4, 1.0 - 1e-4)
DAMPING_BOUNDS = (0.8, 0.98)
INITIAL_LINE_POINTS = 10
MIN_POINTS_DAMPED_TREND = 4
WEEKS_PER_YEAR = 52

SECONDS_PER_DAY = 86_400
SECONDS_PER_WEEK = 7 * SECONDS_PER_DAY

FIELDS = [
    "invoice",
    "sku",
    "description",
    "quantity",
    "invoiced_at",
    "unit_price",
    "customer_id",
    "country",
]
REQUIRED_FIELDS = {"invoice", "sku", "quantity", "invoiced_at", "unit_price"}

# Known export layouts: name, column per field (in FIELDS order), and whether
# slash dates are US month/day/year.
PRESETS = [
    (
        "online_retail",
        [
            "InvoiceNo",
            "StockCode",
            "Description",
            "Quantity",
            "InvoiceDate",
            "UnitPrice",
            "CustomerID",
            "Country",
        ],
        True,
    ),
    (
        "online_retail_ii",
        [
            "Invoice",
            "StockCode",
            "Description",
            "Quantity",
            "InvoiceDate",
            "Price",
            "Customer ID",
            "Country",
        ],
        True,
    ),
    ("canonical", FIELDS, False),
]

# Date formats tried on the first date of a file, as strptime patterns.
ISO_DATE_FORMATS = [
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M:%S.%f",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%dT%H:%M:%S.%f",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d",
]
US_DATE_FORMATS = ["%m/%d/%Y %H:%M", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y"]

# RFC 3339 with an offset. Group 1 is the local time as written.
RFC3339_PATTERN = r"^(\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?)(?:[Zz]|[+-]\d{2}:\d{2})$"
RFC3339_FORMAT = "rfc3339"

# Cleaning buckets in report order.
BUCKETS = [
    "sale",
    "sale_without_customer",
    "return",
    "return_without_customer",
    "non_product",
    "zero_price",
    "negative_price",
    "duplicate",
    "invalid_date",
    "invalid_number",
    "missing_field",
    "malformed_row",
]

# Non-product stock codes (compared case-insensitively), code prefixes,
# description phrases for any code and description words for codes without
# a digit, as listed in crates/data/src/clean.rs.
NON_PRODUCT_CODES = [
    "POST",
    "DOT",
    "C2",
    "M",
    "BANK CHARGES",
    "AMAZONFEE",
    "S",
    "CRUK",
    "D",
    "B",
    "PADS",
]
NON_PRODUCT_PREFIXES = ("gift_", "test")
NON_PRODUCT_PHRASES = [
    "postage",
    "next day carriage",
    "gift voucher",
    "bank charges",
    "amazon fee",
    "marketplace fee",
    "adjust bad debt",
]
NON_PRODUCT_WORDS = ["carriage", "manual", "samples", "discount"]

# Largest absolute quantity and unit price that ingest accepts, as in
# crates/data/src/ingest/values.rs.
MAX_ABS_QUANTITY = 1_000_000_000
MAX_UNIT_PRICE = 1.0e9

NUMERIC_FEATURE_NAMES = [
    "recency_days",
    "log1p_recency_days",
    "log1p_invoices",
    "signed_log1p_net_revenue",
    "tenure_days",
    "log1p_mean_basket_units",
    "log1p_mean_basket_lines",
    "return_rate",
    "log1p_invoices_last_4_weeks",
    "log1p_invoices_last_12_weeks",
    "log1p_distinct_skus",
    "log1p_mean_days_between_invoices",
    "single_invoice",
]


def read_orders(path):
    """Read the export as text columns and count rows whose field count differs from the header.

    pyarrow's CSV reader, the engine behind pandas.read_csv(engine="pyarrow"),
    is called directly with every column typed as text. pandas 2.x infers
    column types first and converts them back to text, which rewrites values
    such as "2.50" or "007".
    """
    with open(path, "rb") as file:
        is_gzip = file.read(2) == b"\x1f\x8b"
    opener = gzip.open if is_gzip else open
    with opener(path, "rt", encoding="utf-8-sig", newline="") as file:
        header = next(csv.reader(file), None)
    if not header:
        raise SystemExit(f"error: {path} is empty. Pass an order export with a header row.")

    n_malformed = 0

    def skip_malformed(row):
        nonlocal n_malformed
        n_malformed += 1
        return "skip"

    names = [f"column_{idx}" for idx in range(len(header))]
    source = pa.input_stream(path, compression="gzip" if is_gzip else None)
    table = pa_csv.read_csv(
        source,
        read_options=pa_csv.ReadOptions(column_names=names, skip_rows=1),
        parse_options=pa_csv.ParseOptions(
            newlines_in_values=True, invalid_row_handler=skip_malformed
        ),
        convert_options=pa_csv.ConvertOptions(
            column_types={name: pa.string() for name in names},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )
    frame = table.to_pandas(types_mapper={pa.string(): pd.StringDtype("pyarrow")}.get)
    frame.columns = [name.strip() for name in header]
    return frame, n_malformed


def resolve_columns(header):
    """Map each canonical field to a column of `header`, and tell whether slash dates are US."""
    lowered = {name.lower(): name for name in reversed(header)}
    columns = {}
    for field_idx, field in enumerate(FIELDS):
        for _, preset_columns, _ in PRESETS:
            column = lowered.get(preset_columns[field_idx].lower())
            if column is not None:
                columns[field] = column
                break
        if field not in columns and field in REQUIRED_FIELDS:
            expected = " or ".join(dict.fromkeys(p[1][field_idx] for p in PRESETS))
            raise SystemExit(
                f"error: no column for field {field}: expected {expected}, found "
                f"{', '.join(header)}. Rename the column to one of the expected names."
            )
    us_dates = False
    for _, preset_columns, preset_us_dates in PRESETS:
        required = [preset_columns[i] for i, f in enumerate(FIELDS) if f in REQUIRED_FIELDS]
        if all(name.lower() in lowered for name in required):
            us_dates = preset_us_dates
            break
    return columns, us_dates


def detect_date_format(sample, us_dates):
    """Return the first date format that parses `sample`, or None."""
    formats = ISO_DATE_FORMATS + (US_DATE_FORMATS if us_dates else [])
    for date_format in formats:
        try:
            datetime.strptime(sample, date_format)
            return date_format
        except ValueError:
            continue
    if re.match(RFC3339_PATTERN, sample):
        return RFC3339_FORMAT
    return None


def parse_dates(text, date_format):
    """Parse date text in one format to whole seconds. Unparsable values become NaT."""
    if date_format == RFC3339_FORMAT:
        local_time = text.str.extract(RFC3339_PATTERN, expand=False)
        parsed = pd.to_datetime(
            local_time.str.replace(r"[Tt]", " ", regex=True), format="ISO8601", errors="coerce"
        )
    else:
        parsed = pd.to_datetime(text, format=date_format, errors="coerce")
    return parsed.dt.floor("s")


def parse_numbers(text):
    """Parse decimal text to float64. Unparsable values become NaN."""
    try:
        # The strict cast runs in pyarrow and is faster than to_numeric. It
        # raises on any unparsable value, and to_numeric then marks those
        # values as NaN.
        return text.astype("float64")
    except ValueError:
        return pd.to_numeric(text, errors="coerce").astype("float64")


def parse_quantities(text):
    """Parse whole numbers of units up to MAX_ABS_QUANTITY; other values become NaN."""
    values = parse_numbers(text)
    whole = np.isfinite(values) & (values % 1 == 0) & (values.abs() <= MAX_ABS_QUANTITY)
    return values.where(whole)


def parse_prices(text):
    """Parse unit prices after one optional currency symbol, up to MAX_UNIT_PRICE.

    NaN, infinities and larger values become NaN.
    """
    digits = text.str.replace(r"^[$£€]", "", regex=True).str.lstrip()
    values = parse_numbers(digits)
    return values.where(np.isfinite(values) & (values.abs() <= MAX_UNIT_PRICE))


def normalize_customer_ids(text):
    """Map empty, "nan" and "null" ids to NA and strip the ".0" of spreadsheet ids."""
    absent = text.str.lower().isin(["", "nan", "null"])
    spreadsheet_id = text.str.fullmatch(r"[0-9]+\.0")
    normalized = text.where(~spreadsheet_id, text.str.slice(stop=-2))
    return normalized.where(~absent, None)


def is_non_product(sku, description):
    """Flag fees, charges, adjustments, samples and vouchers, as crates/data/src/clean.rs does."""
    code_lower = sku.str.lower()
    by_code = sku.str.upper().isin(NON_PRODUCT_CODES) | code_lower.str.startswith(
        NON_PRODUCT_PREFIXES
    )
    description_lower = description.str.lower()
    phrases = "|".join(re.escape(phrase) for phrase in NON_PRODUCT_PHRASES)
    by_phrase = description_lower.str.contains(phrases, regex=True)
    # Words count only for codes without a digit, because real products
    # such as "BLACK BAROQUE CARRIAGE CLOCK" contain them too.
    words = "|".join(re.escape(word) for word in NON_PRODUCT_WORDS)
    letters_only = ~sku.str.contains(r"[0-9]", regex=True)
    by_word = letters_only & description_lower.str.contains(words, regex=True)
    return by_code | by_phrase | by_word


def classify_lines(rows):
    """Return each row's line kind, checked in the order of classify() in crates/data."""
    kind = np.full(len(rows), "sale", dtype=object)
    is_return = (rows["quantity"] < 0) | rows["invoice"].str.startswith(("C", "c"))
    kind[is_return.to_numpy(dtype=bool)] = "return"
    kind[(rows["unit_price"] == 0).to_numpy(dtype=bool)] = "zero_price"
    kind[is_non_product(rows["sku"], rows["description"]).to_numpy(dtype=bool)] = "non_product"
    kind[(rows["unit_price"] < 0).to_numpy(dtype=bool)] = "negative_price"
    return kind


def clean_orders(frame, n_malformed):
    """Parse, classify and deduplicate the rows, and return the stored lines and bucket counts."""
    columns, us_dates = resolve_columns(list(frame.columns))
    text = {}
    for field in FIELDS:
        if field in columns:
            text[field] = frame[columns[field]].str.strip()
        else:
            text[field] = pd.Series("", index=frame.index, dtype="string[pyarrow]")

    bucket = np.full(len(frame), "", dtype=object)

    def reject(mask, name):
        unassigned = bucket == ""
        bucket[unassigned & np.asarray(mask, dtype=bool)] = name

    reject((text["invoice"] == "") | (text["sku"] == ""), "missing_field")
    quantity = parse_quantities(text["quantity"])
    reject(quantity.isna(), "invalid_number")
    unit_price = parse_prices(text["unit_price"])
    reject(unit_price.isna(), "invalid_number")
    reject(text["invoiced_at"] == "", "invalid_date")

    # The date format comes from the first date that reaches this check.
    pending = np.flatnonzero(bucket == "")
    if len(pending) == 0:
        invoiced_at = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[s]")
    else:
        sample = text["invoiced_at"].iloc[pending[0]]
        date_format = detect_date_format(sample, us_dates)
        if date_format is None:
            raise SystemExit(
                f"error: date {sample!r} in column {columns['invoiced_at']} has an unrecognized "
                "format. Write dates as ISO 8601 (2010-12-01 08:26:00) or RFC 3339."
            )
        invoiced_at = parse_dates(text["invoiced_at"], date_format)
    reject(invoiced_at.isna(), "invalid_date")

    valid = bucket == ""
    country = text["country"].where(text["country"] != "", "Unspecified")
    rows = pd.DataFrame(
        {
            "invoice": text["invoice"],
            "sku": text["sku"],
            "description": text["description"],
            "quantity": quantity,
            "invoiced_at": invoiced_at,
            "unit_price": unit_price,
            "customer_id": normalize_customer_ids(text["customer_id"]),
            "country": country,
        }
    )[valid]
    rows["quantity"] = rows["quantity"].astype("int64")
    rows["row"] = np.flatnonzero(valid)

    duplicate = rows.duplicated(subset=FIELDS, keep="first").to_numpy()
    rows = rows[~duplicate].copy()
    rows["kind"] = classify_lines(rows)

    counts = dict.fromkeys(BUCKETS, 0)
    rejected, n_rejected = np.unique(bucket[~valid], return_counts=True)
    counts.update(zip(rejected.tolist(), n_rejected.tolist()))
    counts["malformed_row"] = n_malformed
    counts["duplicate"] = int(duplicate.sum())
    has_customer = rows["customer_id"].notna()
    for kind, n_lines in rows["kind"].value_counts().items():
        if kind in ("sale", "return"):
            counts[kind] = int((has_customer & (rows["kind"] == kind)).sum())
            counts[f"{kind}_without_customer"] = int(n_lines) - counts[kind]
        else:
            counts[kind] = int(n_lines)

    # The store returns lines by invoice time, then in file order.
    lines = rows.sort_values("invoiced_at", kind="stable").reset_index(drop=True)
    lines["ts"] = lines["invoiced_at"].astype("datetime64[s]").astype("int64")
    return lines, counts


def split_by_time(lines):
    """Return the first and last invoice times and the cutoff.

    The cutoff is midnight after the last invoice, minus the test window.
    """
    first, last = lines["invoiced_at"].min(), lines["invoiced_at"].max()
    cutoff = last.normalize() + pd.Timedelta(days=1) - pd.Timedelta(weeks=TEST_WEEKS)
    if cutoff <= first:
        raise SystemExit(
            f"error: the orders span {first} to {last}, shorter than the "
            f"{TEST_WEEKS}-week test window. Use a longer order history."
        )
    return first, last, cutoff


def customer_timelines(lines):
    """Select known customers' product lines, sorted by customer, time, invoice and file order."""
    product = lines[lines["kind"].isin(["sale", "return"]) & lines["customer_id"].notna()]
    timelines = product.sort_values(["customer_id", "ts", "invoice", "row"]).reset_index(drop=True)
    timelines["customer"] = pd.factorize(timelines["customer_id"], sort=True)[0]
    timelines["invoice_code"] = pd.factorize(timelines["invoice"])[0]
    timelines["sku_code"] = pd.factorize(timelines["sku"])[0]
    timelines["is_sale"] = timelines["kind"] == "sale"
    timelines["revenue"] = timelines["quantity"] * timelines["unit_price"]
    return timelines


def encoder_countries(timelines, cutoff_ts):
    """Return the countries with the most customers before the cutoff, by latest line."""
    latest = timelines[timelines["ts"] < cutoff_ts].groupby("customer")["country"].last()
    counts = latest.value_counts().rename_axis("country").reset_index(name="n_customers")
    counts = counts.sort_values(["n_customers", "country"], ascending=[False, True])
    return counts["country"].head(N_COUNTRY_COLUMNS).tolist()


def snapshot_features(timelines, at_ts, label_end_ts, countries):
    """Encode one row per customer with a sale before `at_ts`.

    The label is whether the customer has a sale in [at_ts, label_end_ts).
    """
    before = timelines[timelines["ts"] < at_ts]
    sales = before[before["is_sale"]]
    by_customer = before.groupby("customer")

    invoice_times = sales.groupby(["customer", "invoice_code"])["ts"].min()
    invoices = invoice_times.groupby(level="customer")
    n_invoices = invoices.size()
    customers = n_invoices.index
    first_sale = invoices.min()
    last_sale = invoices.max()
    recent = invoice_times.to_frame("ts")
    recent["in_4_weeks"] = recent["ts"] >= at_ts - 4 * SECONDS_PER_WEEK
    recent["in_12_weeks"] = recent["ts"] >= at_ts - 12 * SECONDS_PER_WEEK
    recent_counts = recent.groupby(level="customer")[["in_4_weeks", "in_12_weeks"]].sum()

    sale_groups = sales.groupby("customer")
    total_units = sale_groups["quantity"].sum()
    n_sale_lines = sale_groups.size()
    n_skus = sale_groups["sku_code"].nunique()
    net_revenue = by_customer["revenue"].sum().reindex(customers)
    n_lines = by_customer.size().reindex(customers)
    n_returns = (~before["is_sale"]).groupby(before["customer"]).sum().reindex(customers)
    country = by_customer["country"].last().reindex(customers)

    n_invoices = n_invoices.to_numpy(dtype=float)
    recency_days = (at_ts - last_sale.to_numpy()) / SECONDS_PER_DAY
    tenure_days = (at_ts - first_sale.to_numpy()) / SECONDS_PER_DAY
    single_invoice = n_invoices == 1
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_gap = (
            (last_sale.to_numpy() - first_sale.to_numpy()) / SECONDS_PER_DAY / (n_invoices - 1)
        )
    # With one invoice the gap column takes the tenure, as FeatureEncoder::encode does.
    gap_days = np.where(single_invoice, tenure_days, mean_gap)
    revenue = net_revenue.to_numpy()

    numeric = np.column_stack(
        [
            recency_days,
            np.log1p(np.maximum(recency_days, 0.0)),
            np.log1p(n_invoices),
            np.sign(revenue) * np.log1p(np.abs(revenue)),
            tenure_days,
            np.log1p(np.maximum(total_units.reindex(customers).to_numpy() / n_invoices, 0.0)),
            np.log1p(n_sale_lines.reindex(customers).to_numpy() / n_invoices),
            n_returns.to_numpy() / n_lines.to_numpy(),
            np.log1p(recent_counts["in_4_weeks"].to_numpy(dtype=float)),
            np.log1p(recent_counts["in_12_weeks"].to_numpy(dtype=float)),
            np.log1p(n_skus.reindex(customers).to_numpy(dtype=float)),
            np.log1p(np.maximum(gap_days, 0.0)),
            single_invoice.astype(float),
        ]
    )
    country_values = country.to_numpy()
    one_hot = np.column_stack(
        [country_values == name for name in countries] + [~np.isin(country_values, countries)]
    )
    features = np.hstack([numeric, one_hot.astype(float)])

    in_label_window = (
        timelines["is_sale"] & (timelines["ts"] >= at_ts) & (timelines["ts"] < label_end_ts)
    )
    buyers = np.unique(timelines.loc[in_label_window, "customer"].to_numpy())
    labels = np.isin(customers.to_numpy(), buyers)
    return features, labels


def best_f1_threshold(labels, scores):
    """Return the score threshold with the highest F1, the highest threshold among ties."""
    precision, recall, thresholds = precision_recall_curve(labels, scores)
    precision, recall = precision[:-1], recall[:-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    best = np.flatnonzero(f1 == f1.max())[-1]
    return float(thresholds[best])


def calibration_bins(probabilities, labels):
    """Group test predictions into equal-width probability bins and return the non-empty ones."""
    bin_idx = np.minimum(
        (np.clip(probabilities, 0.0, 1.0) * N_CALIBRATION_BINS).astype(int), N_CALIBRATION_BINS - 1
    )
    counts = np.bincount(bin_idx, minlength=N_CALIBRATION_BINS)
    predicted = np.bincount(bin_idx, weights=probabilities, minlength=N_CALIBRATION_BINS)
    positives = np.bincount(bin_idx, weights=labels.astype(float), minlength=N_CALIBRATION_BINS)
    return [
        {
            "mean_predicted": predicted[i] / counts[i],
            "observed_rate": positives[i] / counts[i],
            "count": int(counts[i]),
        }
        for i in range(N_CALIBRATION_BINS)
        if counts[i] > 0
    ]


def check_both_classes(labels, rows_name):
    n_positive = int(labels.sum())
    n_negative = len(labels) - n_positive
    if min(n_positive, n_negative) < MIN_ROWS_PER_CLASS:
        raise SystemExit(
            f"error: the {rows_name} rows have {n_positive} buyers and {n_negative} non-buyers, "
            f"but propensity needs at least {MIN_ROWS_PER_CLASS} of each. "
            "Use a longer history with more known customers."
        )


def evaluate_propensity(lines, cutoff):
    """Train logistic regression on snapshot rows before the cutoff and score the test window."""
    window_seconds = TEST_WEEKS * SECONDS_PER_WEEK
    cutoff_ts = to_seconds(cutoff)
    timelines = customer_timelines(lines)
    countries = encoder_countries(timelines, cutoff_ts)

    snapshots = []
    for snapshot_idx in range(1, N_SNAPSHOTS + 1):
        at_ts = cutoff_ts - snapshot_idx * window_seconds
        snapshots.append(snapshot_features(timelines, at_ts, at_ts + window_seconds, countries))
    train_features = np.vstack([features for features, _ in snapshots])
    train_labels = np.concatenate([labels for _, labels in snapshots])
    check_both_classes(train_labels, "training")
    test_features, test_labels = snapshot_features(
        timelines, cutoff_ts, cutoff_ts + window_seconds, countries
    )
    check_both_classes(test_labels, "test")

    scaler = StandardScaler().fit(train_features)
    # Mercator minimizes mean cross-entropy + l2 / 2 * ||w||^2, and
    # scikit-learn minimizes C * summed cross-entropy + 1 / 2 * ||w||^2. Both
    # have the same minimum when C = 1 / (l2 * n_train). Neither penalizes
    # the intercept.
    penalty_c = 1.0 / (L2_PENALTY * len(train_labels))
    model = LogisticRegression(C=penalty_c, solver="lbfgs", max_iter=1000)
    model.fit(scaler.transform(train_features), train_labels)

    train_probabilities = model.predict_proba(scaler.transform(train_features))[:, 1]
    test_probabilities = model.predict_proba(scaler.transform(test_features))[:, 1]
    threshold = best_f1_threshold(train_labels, train_probabilities)
    predicted = test_probabilities >= threshold
    true_positives = int((predicted & test_labels).sum())
    names = NUMERIC_FEATURE_NAMES + [f"country={name}" for name in countries] + ["country=other"]
    weights = [{"feature": name, "weight": float(w)} for name, w in zip(names, model.coef_[0])]
    weights.append({"feature": "intercept", "weight": float(model.intercept_[0])})
    return {
        "auc": roc_auc_score(test_labels, test_probabilities),
        "baseline_auc": roc_auc_score(test_labels, -test_features[:, 0]),
        "log_loss": log_loss(test_labels, test_probabilities),
        "accuracy": float((predicted == test_labels).mean()),
        "precision": true_positives / max(int(predicted.sum()), 1),
        "recall": true_positives / int(test_labels.sum()),
        "threshold": threshold,
        "n_train": len(train_labels),
        "n_test": len(test_labels),
        "test_positive_rate": float(test_labels.mean()),
        "logistic_regression_c": penalty_c,
        "calibration": calibration_bins(test_probabilities, test_labels),
        "weights": weights,
    }


def build_history(lines, cutoff_ts):
    """Index the sales before the cutoff: item catalog, baskets, customers' items and countries.

    Items and customers get integer codes in SKU and customer-id order, as in
    PurchaseHistory of crates/recommend. Guests' invoices count as baskets.
    """
    sales = lines[(lines["kind"] == "sale") & (lines["ts"] < cutoff_ts)]
    item, catalog = pd.factorize(sales["sku"], sort=True)
    basket, baskets = pd.factorize(sales["invoice"])
    basket_items = sp.csr_matrix(
        (np.ones(len(item)), (basket, item)), shape=(len(baskets), len(catalog))
    )
    # Several lines of one item in one invoice count once.
    basket_items.data[:] = 1.0

    known = sales.assign(item=item)[sales["customer_id"].notna()]
    customer, customer_ids = pd.factorize(known["customer_id"], sort=True)
    known = known.assign(customer=customer)
    customer_items = known.groupby(["customer", "item"])["ts"].max().reset_index()
    # A customer's country is that of their first stored line at their latest sale time.
    latest = known[known["ts"] == known.groupby("customer")["ts"].transform("max")]
    country = latest.drop_duplicates("customer").set_index("customer")["country"].sort_index()
    return {
        "catalog": pd.Index(catalog),
        "customer_ids": pd.Index(customer_ids),
        "basket_items": basket_items,
        "customer_items": customer_items,
        "country": country.to_numpy(dtype=object),
    }


def customer_item_matrix(history, values):
    """Build a sparse customer-by-item matrix with one value per item a customer bought."""
    customer_items = history["customer_items"]
    shape = (len(history["customer_ids"]), len(history["catalog"]))
    return sp.csr_matrix(
        (values, (customer_items["customer"], customer_items["item"])), shape=shape
    )


def find_eval_customers(lines, history, cutoff_ts, window_end_ts):
    """Return the customers with history who bought new items in the window, and those items.

    The result is the customers' codes, the number of new SKUs per customer
    (including SKUs absent from the catalog, which no model can recommend),
    and a customer-by-item matrix of the new catalog items.
    """
    in_window = lines["ts"].between(cutoff_ts, window_end_ts, inclusive="left")
    known_sales = (lines["kind"] == "sale") & lines["customer_id"].notna()
    window = lines.loc[in_window & known_sales, ["customer_id", "sku"]].drop_duplicates()
    customer = history["customer_ids"].get_indexer(window["customer_id"])
    item = history["catalog"].get_indexer(window["sku"])
    has_history = customer >= 0
    customer, item = customer[has_history], item[has_history]

    n_items = len(history["catalog"])
    customer_items = history["customer_items"]
    bought_keys = (
        customer_items["customer"].to_numpy() * n_items + customer_items["item"].to_numpy()
    )
    is_new = (item < 0) | ~np.isin(customer * n_items + item, bought_keys)
    customer, item = customer[is_new], item[is_new]

    eval_rows, n_relevant = np.unique(customer, return_counts=True)
    relevant = np.zeros((len(eval_rows), n_items), dtype=bool)
    in_catalog = item >= 0
    relevant[np.searchsorted(eval_rows, customer[in_catalog]), item[in_catalog]] = True
    return eval_rows, n_relevant, relevant


def first_unseen(ranking_rows, excluded, k):
    """Select per row the first `k` items of `ranking_rows` not marked in `excluded`.

    Rows with fewer than `k` such items are padded with -1.
    """
    allowed = ~np.take_along_axis(excluded, ranking_rows, axis=1)
    selected = allowed & (np.cumsum(allowed, axis=1) <= k)
    chosen = np.full((len(ranking_rows), k), -1)
    rows, columns = np.nonzero(selected)
    slot = np.cumsum(selected, axis=1)[rows, columns] - 1
    chosen[rows, slot] = ranking_rows[rows, columns]
    return chosen


def rank_by_count(counts):
    """Return item indices by count, highest first, ties to the lower index."""
    return np.lexsort((np.arange(len(counts)), -counts))


def recommend_popularity(history, bought):
    """Recommend the items with the most distinct known buyers, and return that ranking too."""
    items = history["customer_items"]["item"].to_numpy()
    ranking = rank_by_count(np.bincount(items, minlength=len(history["catalog"])))
    ranking_rows = np.broadcast_to(ranking, bought.shape)
    return first_unseen(ranking_rows, bought, TOP_K), ranking


def recommend_country_popularity(history, bought, eval_rows, global_ranking):
    """Recommend by distinct buyers within the customer's country, then by global popularity."""
    customer_items = history["customer_items"]
    n_items = len(history["catalog"])
    countries, country_code = np.unique(history["country"], return_inverse=True)
    n_buyers = np.zeros((len(countries), n_items))
    buyer_country = country_code[customer_items["customer"].to_numpy()]
    np.add.at(n_buyers, (buyer_country, customer_items["item"].to_numpy()), 1)

    global_position = np.argsort(global_ranking)
    chosen = np.full((len(eval_rows), TOP_K), -1)
    eval_country = country_code[eval_rows]
    for code in np.unique(eval_country):
        members = np.flatnonzero(eval_country == code)
        counts = n_buyers[code]
        # Items bought in the country rank first by buyers there, and the
        # other items follow in global popularity order.
        tie_break = np.where(counts > 0, np.arange(n_items), global_position)
        ranking = np.lexsort((tie_break, -counts))
        ranking_rows = np.broadcast_to(ranking, (len(members), n_items))
        chosen[members] = first_unseen(ranking_rows, bought[members], TOP_K)
    return chosen


def copurchase_neighbors(history):
    """Keep each item's most similar items by weighted basket cosine, as a sparse matrix.

    A basket of n distinct items enters every item vector with weight 1 / n,
    so sim(i, j) = w_ij / sqrt(w_i * w_j), where w_i sums the weights of the
    baskets with item i and w_ij the weights of the baskets with both.
    """
    basket_items = history["basket_items"]
    basket_sizes = np.asarray(basket_items.sum(axis=1)).ravel()
    weighted_baskets = sp.diags(1.0 / basket_sizes) @ basket_items
    co_weights = (basket_items.T @ weighted_baskets).tocsr()
    item_weights = co_weights.diagonal()
    co_weights.setdiag(0)
    co_weights.eliminate_zeros()
    co_weights.sort_indices()

    indptr, columns = co_weights.indptr, co_weights.indices
    rows = np.repeat(np.arange(co_weights.shape[0]), np.diff(indptr))
    similarity = co_weights.data / np.sqrt(item_weights[rows] * item_weights[columns])
    keep = []
    for item in range(co_weights.shape[0]):
        start, end = indptr[item], indptr[item + 1]
        # Columns ascend within a row, so the stable sort puts the lower item
        # index first among equal similarities.
        order = np.argsort(-similarity[start:end], kind="stable")[:MAX_NEIGHBORS]
        keep.append(start + order)
    keep = np.concatenate(keep)
    return sp.csr_matrix((similarity[keep], (rows[keep], columns[keep])), shape=co_weights.shape)


def recommend_copurchase(history, bought, eval_rows, cutoff_ts, global_ranking):
    """Rank neighbors of a customer's items by recency-weighted similarity, then by popularity."""
    neighbors = copurchase_neighbors(history)
    last_bought = history["customer_items"]["ts"].to_numpy()
    age_days = np.maximum((cutoff_ts - last_bought) / SECONDS_PER_DAY, 0.0)
    purchase_weights = customer_item_matrix(history, 0.5 ** (age_days / RECENCY_HALF_LIFE_DAYS))
    scores = (purchase_weights[eval_rows] @ neighbors).toarray()

    # Bought items are never recommended, so they leave the candidates.
    scores[bought] = 0.0
    # The stable sort puts the lower item index first among equal scores.
    order = np.argsort(-scores, axis=1, kind="stable")[:, :TOP_K]
    chosen = np.where(np.take_along_axis(scores, order, axis=1) > 0, order, -1)

    n_missing = (chosen < 0).sum(axis=1)
    for row in np.flatnonzero(n_missing):
        picked = chosen[row][chosen[row] >= 0]
        excluded = bought[row].copy()
        excluded[picked] = True
        fill = first_unseen(global_ranking[np.newaxis, :], excluded[np.newaxis, :], n_missing[row])
        chosen[row] = np.concatenate([picked, fill[0]])
    return chosen


def ranking_metrics(chosen, relevant, n_relevant):
    """Average NDCG@10 and HR@10 with binary relevance over the evaluated customers."""
    valid = chosen >= 0
    hits = valid & np.take_along_axis(relevant, np.where(valid, chosen, 0), axis=1)
    discounts = 1.0 / np.log2(np.arange(TOP_K) + 2.0)
    dcg = (hits * discounts).sum(axis=1)
    ideal_dcg = np.cumsum(discounts)[np.minimum(n_relevant, TOP_K) - 1]
    return {
        "ndcg_at_10": float((dcg / ideal_dcg).mean()),
        "hr_at_10": float(hits.any(axis=1).mean()),
        "n_customers": len(chosen),
    }


def evaluate_recommenders(lines, cutoff):
    """Fit the popularity, country-popularity and co-purchase models and score their top 10."""
    cutoff_ts = to_seconds(cutoff)
    history = build_history(lines, cutoff_ts)
    if len(history["customer_ids"]) == 0:
        raise SystemExit(
            f"error: no known customer bought before the cutoff {cutoff}. "
            "Use an export with customer ids."
        )
    window_end_ts = cutoff_ts + TEST_WEEKS * SECONDS_PER_WEEK
    eval_rows, n_relevant, relevant = find_eval_customers(lines, history, cutoff_ts, window_end_ts)
    if len(eval_rows) == 0:
        raise SystemExit(
            "error: no customer with history bought a new item in the test window. "
            "Use an export that runs to a recent date with known customers."
        )

    purchases = customer_item_matrix(history, np.ones(len(history["customer_items"])))
    bought = purchases[eval_rows].toarray() > 0
    popularity, global_ranking = recommend_popularity(history, bought)
    country_popularity = recommend_country_popularity(history, bought, eval_rows, global_ranking)
    copurchase = recommend_copurchase(history, bought, eval_rows, cutoff_ts, global_ranking)
    return {
        "n_eval_customers": len(eval_rows),
        "models": {
            "copurchase": ranking_metrics(copurchase, relevant, n_relevant),
            "popularity": ranking_metrics(popularity, relevant, n_relevant),
            "popularity_country": ranking_metrics(country_popularity, relevant, n_relevant),
        },
    }


def weekly_demand(lines, cutoff):
    """Build weekly net units per (SKU, country) over the complete history weeks and test weeks."""
    cutoff_ts = to_seconds(cutoff)
    product = lines[lines["kind"].isin(["sale", "return"])]
    first_ts, last_ts = product["ts"].min(), product["ts"].max()
    if last_ts < cutoff_ts:
        raise SystemExit(
            f"error: the last product line comes before the cutoff {cutoff}. "
            "Check the kinds in the cleaning counts."
        )
    first_week_idx = (first_ts - cutoff_ts) // SECONDS_PER_WEEK
    # A week that starts before the first line is partial and is dropped.
    if cutoff_ts + first_week_idx * SECONDS_PER_WEEK < first_ts:
        first_week_idx += 1
    if first_week_idx >= 0:
        raise SystemExit(
            f"error: the cutoff {cutoff} leaves no complete history week. "
            "Use a longer order history."
        )
    n_history_weeks = int(-first_week_idx)
    n_weeks = n_history_weeks + TEST_WEEKS

    week = (product["ts"] - cutoff_ts) // SECONDS_PER_WEEK - first_week_idx
    units = np.where(product["kind"] == "return", -product["quantity"].abs(), product["quantity"])
    weekly = pd.DataFrame(
        {
            "sku": product["sku"],
            "country": product["country"],
            "week": week,
            "units": units.astype(float),
        }
    )
    weekly = weekly[(weekly["week"] >= 0) & (weekly["week"] < n_weeks)]
    table = (
        weekly.groupby(["sku", "country", "week"])["units"].sum().unstack("week", fill_value=0.0)
    )
    table = table.reindex(columns=range(n_weeks), fill_value=0.0)
    return table, n_history_weeks


def select_top_series(table, n_history_weeks):
    """Keep the series with the most net units in history, breaking ties by SKU, then country."""
    ranked = table.assign(history_units=table.iloc[:, :n_history_weeks].sum(axis=1)).reset_index()
    ranked = ranked.sort_values(["history_units", "sku", "country"], ascending=[False, True, True])
    top = ranked.head(N_FORECAST_SERIES)
    values = top[list(range(table.shape[1]))].to_numpy(dtype=float)
    return top[["sku", "country"]], values[:, :n_history_weeks], values[:, n_history_weeks:]


def forecast_seasonal_naive(history, season_length):
    last_season = history[-season_length:]
    return np.array([last_season[step % season_length] for step in range(TEST_WEEKS)])


def initial_line(history):
    """Return the level at time 0 and the slope of a least-squares line through the first values."""
    values = history[:INITIAL_LINE_POINTS]
    times = np.arange(1, len(values) + 1, dtype=float)
    slope, intercept = np.polyfit(times, values, 1)
    return intercept, slope


def forecast_holt(history):
    """Fit damped-trend Holt (simple smoothing below 4 points) by SSE in statsmodels and forecast.

    statsmodels runs the same level and trend recursion as
    crates/forecast/src/ets.rs, with smoothing_trend in the role of beta. But
    statsmodels 0.15 also requires smoothing_trend <= smoothing_level, and
    Mercator's search has no such constraint.
    """
    if len(history) < MIN_POINTS_DAMPED_TREND:
        model = ExponentialSmoothing(
            history,
            initialization_method="known",
            initial_level=history[0],
            bounds={"smoothing_level": SMOOTHING_BOUNDS},
        )
        return model.fit(optimized=True).forecast(TEST_WEEKS)
    level, trend = initial_line(history)
    model = ExponentialSmoothing(
        history,
        trend="add",
        damped_trend=True,
        initialization_method="known",
        initial_level=level,
        initial_trend=trend,
        bounds={
            "smoothing_level": SMOOTHING_BOUNDS,
            "smoothing_trend": SMOOTHING_BOUNDS,
            "damping_trend": DAMPING_BOUNDS,
        },
    )
    return model.fit(optimized=True).forecast(TEST_WEEKS)


def mase(actual, forecast, history, season_length):
    """Return MASE, or None when the history is all zeros.

    The scale is the in-sample MAE of the seasonal naive forecast, or the
    mean absolute history value when that MAE is 0 or undefined.
    """
    scale = (
        np.abs(history[season_length:] - history[:-season_length]).mean()
        if len(history) > season_length
        else 0.0
    )
    if not scale > 0:
        scale = np.abs(history).mean()
    if not scale > 0:
        return None
    return float(np.abs(actual - forecast).mean() / scale)


def smape(actual, forecast):
    """Return sMAPE in percent, counting a week where both values are 0 as 0."""
    denominator = np.abs(actual) + np.abs(forecast)
    terms = np.divide(
        200.0 * np.abs(actual - forecast),
        denominator,
        out=np.zeros_like(denominator),
        where=denominator > 0,
    )
    return float(terms.mean())


def evaluate_demand(lines, cutoff):
    """Forecast the test weeks of the top series with both models and average MASE and sMAPE."""
    table, n_history_weeks = weekly_demand(lines, cutoff)
    keys, histories, actuals = select_top_series(table, n_history_weeks)
    if not np.any(histories):
        raise SystemExit(
            "error: every selected series has zero net units in history. "
            "Use a longer order history."
        )
    season_length = WEEKS_PER_YEAR if n_history_weeks > WEEKS_PER_YEAR else 1

    scores = {"seasonal_naive": ([], []), "ets": ([], [])}
    for history, actual in zip(histories, actuals):
        forecasts = {
            "seasonal_naive": forecast_seasonal_naive(history, season_length),
            "ets": np.asarray(forecast_holt(history)),
        }
        for name, forecast in forecasts.items():
            series_mase = mase(actual, forecast, history, season_length)
            if series_mase is not None:
                scores[name][0].append(series_mase)
            scores[name][1].append(smape(actual, forecast))

    models = {}
    for name, (mases, smapes) in scores.items():
        models[name] = {
            "mase": float(np.mean(mases)) if mases else 0.0,
            "smape": float(np.mean(smapes)),
            "n_series": len(keys),
            "mase_skipped": len(keys) - len(mases),
        }
    return {
        "horizon_weeks": TEST_WEEKS,
        "season_length_weeks": season_length,
        "models": dict(sorted(models.items())),
        "series": keys.to_dict(orient="records"),
    }


def to_seconds(timestamp):
    """Return seconds since 1970-01-01 00:00 of a naive timestamp, as the store keeps them."""
    return (timestamp - pd.Timestamp(0)) // pd.Timedelta(seconds=1)


def json_value(value):
    """Convert the NumPy scalars that json cannot write."""
    if isinstance(value, np.integer):
        return int(value)
    return float(value)


def file_sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


def elapsed_ms(started):
    return round((time.perf_counter() - started) * 1000)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("orders", help="order export: CSV or gzip-compressed CSV")
    args = parser.parse_args()

    started = time.perf_counter()
    timings = {}

    step = time.perf_counter()
    sha256 = file_sha256(args.orders)
    frame, n_malformed = read_orders(args.orders)
    n_rows = len(frame) + n_malformed
    lines, cleaning = clean_orders(frame, n_malformed)
    del frame
    timings["ingest"] = elapsed_ms(step)
    if lines.empty:
        raise SystemExit(
            f"error: no row of {args.orders} passed cleaning: {json.dumps(cleaning)}. "
            "Check the file's columns and values."
        )
    first, last, cutoff = split_by_time(lines)

    step = time.perf_counter()
    propensity = evaluate_propensity(lines, cutoff)
    timings["propensity"] = elapsed_ms(step)

    step = time.perf_counter()
    recommend = evaluate_recommenders(lines, cutoff)
    timings["recommend"] = elapsed_ms(step)

    step = time.perf_counter()
    forecast = evaluate_demand(lines, cutoff)
    timings["forecast"] = elapsed_ms(step)
    timings["total"] = elapsed_ms(started)

    report = {
        "peer": "pandas + scikit-learn + statsmodels",
        "versions": {
            "python": sys.version.split()[0],
            "pandas": pd.__version__,
            "numpy": np.__version__,
            "scikit-learn": sklearn.__version__,
            "statsmodels": statsmodels.__version__,
        },
        "input": {
            "path": args.orders,
            "sha256": sha256,
            "rows": n_rows,
            "dataset_lines": len(lines),
            "first_invoice": first.isoformat(),
            "last_invoice": last.isoformat(),
        },
        "cleaning": cleaning,
        "split": {
            "cutoff": cutoff.isoformat(),
            "test_end": (cutoff + pd.Timedelta(weeks=TEST_WEEKS)).isoformat(),
            "test_weeks": TEST_WEEKS,
        },
        "propensity": propensity,
        "recommend": recommend,
        "forecast": forecast,
        "timings_ms": timings,
    }
    json.dump(report, sys.stdout, indent=1, default=json_value)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
