"""Peer side of bench/recommend_bench.sh: implicit ALS and scikit-learn.

Reads the split that Mercator's recommend_bench example wrote to WORK_DIR:
- train.csv (user,item,confidence): the ALS input, confidences included;
- eval.csv (user,n_relevant,relevant): the test customers and their new items;
- propensity_{train,validation,test}.csv: propensity feature rows with labels;
- mercator.json: Mercator's report, for the ALS settings it chose.

Trains implicit's AlternatingLeastSquares with the same factors,
regularization, iterations and conjugate-gradient steps on the same
matrix, recommends 10 items per test customer without items they bought,
and scores NDCG@10 and HR@10 exactly as Mercator does (binary relevance,
ideal DCG over min(n_relevant, 10), n_relevant counting new SKUs absent
from the catalog). Fits scikit-learn's LogisticRegression on standardized
propensity rows with the penalty of Mercator's objective and reports AUC.
Prints one JSON object.
"""

import json
import os
import sys
import time

import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import StandardScaler

import implicit
from implicit.als import AlternatingLeastSquares

K = 10


def read_matrix(work):
    data = np.loadtxt(os.path.join(work, "train.csv"), delimiter=",", skiprows=1, ndmin=2)
    users = data[:, 0].astype(np.int64)
    items = data[:, 1].astype(np.int64)
    values = data[:, 2].astype(np.float32)
    shape = (users.max() + 1, items.max() + 1)
    return sp.csr_matrix((values, (users, items)), shape=shape)


def read_eval(work):
    customers = []
    with open(os.path.join(work, "eval.csv")) as handle:
        next(handle)
        for line in handle:
            user, n_relevant, relevant = line.rstrip("\n").split(",")
            items = {int(x) for x in relevant.split()} if relevant else set()
            customers.append((int(user), int(n_relevant), items))
    return customers


def ndcg_hr(lists, customers):
    ndcg_sum = 0.0
    hits = 0
    for recs, (_, n_relevant, relevant) in zip(lists, customers):
        flags = [int(item) in relevant for item in recs[:K]]
        dcg = sum(1.0 / np.log2(rank + 2) for rank, hit in enumerate(flags) if hit)
        ideal = sum(1.0 / np.log2(rank + 2) for rank in range(min(n_relevant, K)))
        ndcg_sum += dcg / ideal if ideal > 0 else 0.0
        hits += any(flags)
    n = max(len(customers), 1)
    return ndcg_sum / n, hits / n


def run_als(work, als):
    matrix = read_matrix(work)
    customers = read_eval(work)
    fit_seconds = []
    model = None
    for _ in range(3):
        model = AlternatingLeastSquares(
            factors=als["factors"],
            regularization=als["regularization"],
            iterations=als["iterations"],
            use_cg=True,
            calculate_training_loss=False,
            random_state=42,
            dtype=np.float32,
        )
        model.cg_steps = als["cg_steps"]
        started = time.perf_counter()
        model.fit(matrix, show_progress=False)
        fit_seconds.append(time.perf_counter() - started)
    users = np.array([c[0] for c in customers])
    ids, _ = model.recommend(users, matrix[users], N=K, filter_already_liked_items=True)
    ndcg, hr = ndcg_hr(ids, customers)
    return {
        "ndcg_at_10": ndcg,
        "hr_at_10": hr,
        "fit_seconds": fit_seconds,
        "n_customers": len(customers),
        "factors": als["factors"],
        "regularization": als["regularization"],
        "iterations": als["iterations"],
        "cg_steps": als["cg_steps"],
    }


def read_rows(path):
    data = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
    return data[:, :-1], data[:, -1].astype(int)


def run_logistic(work, l2):
    x_train, y_train = read_rows(os.path.join(work, "propensity_train.csv"))
    x_test, y_test = read_rows(os.path.join(work, "propensity_test.csv"))
    scaler = StandardScaler().fit(x_train)
    # Mercator minimizes mean log-loss + l2/2 |w|^2; scikit-learn minimizes
    # C * sum log-loss + 1/2 |w|^2, the same optimum for C = 1 / (l2 * n).
    model = LogisticRegression(C=1.0 / (l2 * len(y_train)), solver="lbfgs", max_iter=5000)
    started = time.perf_counter()
    model.fit(scaler.transform(x_train), y_train)
    seconds = time.perf_counter() - started
    scores = model.predict_proba(scaler.transform(x_test))[:, 1]
    return {
        "test_auc": roc_auc_score(y_test, scores),
        "fit_seconds": seconds,
        "n_train": int(len(y_train)),
        "n_test": int(len(y_test)),
    }


def main():
    work = sys.argv[1]
    with open(os.path.join(work, "mercator.json")) as handle:
        mercator = json.load(handle)
    als = mercator["report"]["chosen"]["als"]
    out = {
        "implicit_version": implicit.__version__,
        "implicit_als": run_als(work, als),
        "sklearn_logistic": run_logistic(work, mercator["propensity_l2"]),
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
