"""Build the bundled sample from UCI Online Retail (CC BY 4.0).

Keeps whole customer histories so per-customer metrics mean something:
every customer outside the United Kingdom, a seeded share of the UK
customers, and a seeded share of the invoices without a customer id (for
demand). Rows keep their original order and values.

Usage: python3 scripts/make_sample.py SOURCE.csv.gz OUT.csv.gz
"""

import gzip
import sys

import numpy as np
import pandas as pd

UK_CUSTOMER_SHARE = 0.16
ANONYMOUS_INVOICE_SHARE = 0.12
SEED = 7


def main(source: str, out: str) -> None:
    df = pd.read_csv(source, dtype=str, keep_default_na=False)
    rng = np.random.default_rng(SEED)

    customers = df.loc[df.CustomerID != "", ["CustomerID", "Country"]].drop_duplicates("CustomerID")
    uk = customers[customers.Country == "United Kingdom"].CustomerID.to_numpy()
    kept_uk = set(rng.choice(uk, size=int(len(uk) * UK_CUSTOMER_SHARE), replace=False))
    kept_customers = set(customers[customers.Country != "United Kingdom"].CustomerID) | kept_uk

    anonymous = np.sort(df.loc[df.CustomerID == "", "InvoiceNo"].unique())
    kept_invoices = set(
        rng.choice(anonymous, size=int(len(anonymous) * ANONYMOUS_INVOICE_SHARE), replace=False)
    )

    keep = df.CustomerID.isin(kept_customers) | df.InvoiceNo.isin(kept_invoices)
    sample = df[keep]
    # mtime=0 keeps the compressed bytes identical from one build to the next.
    with open(out, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=9, mtime=0) as f:
        f.write(sample.to_csv(index=False).encode("utf-8"))
    print(
        f"{len(sample)} rows, {sample.CustomerID.nunique() - 1} customers, "
        f"{sample.Country.nunique()} countries, {sample.InvoiceNo.nunique()} invoices"
    )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
