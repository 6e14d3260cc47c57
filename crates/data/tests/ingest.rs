//! Ingest of real UCI Online Retail rows: one test per cleaning rule, the
//! export layouts, column mappings, and errors that leave the store unchanged.

use std::io::Write;
use std::path::{Path, PathBuf};

use mercator_data::clean::Bucket;
use mercator_data::ingest::{
    ingest_file, ColumnMapping, IngestError, IngestOptions, IngestSummary,
};
use mercator_data::Store;

const HEADER: &str =
    "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country";

/// Real UCI Online Retail rows, one or more per cleaning rule.
const SALE: &str = "536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,2010-12-01 08:26:00,2.55,17850,United Kingdom";
const SALE_WITHOUT_CUSTOMER: &str =
    "536544,21773,DECORATIVE ROSE BATHROOM BOTTLE,1,2010-12-01 14:32:00,2.51,,United Kingdom";
const RETURN: &str = "C536383,35004C,SET OF 3 COLOURED  FLYING DUCKS,-1,2010-12-01 09:49:00,4.65,15311,United Kingdom";
const RETURN_WITHOUT_CUSTOMER: &str =
    "C537251,22429,ENAMEL MEASURING JUG CREAM,-2,2010-12-06 10:45:00,4.25,,United Kingdom";
const POSTAGE: &str = "536370,POST,POSTAGE,3,2010-12-01 08:45:00,18.0,12583,France";
const BANK_CHARGES: &str =
    "536779,BANK CHARGES,Bank Charges,1,2010-12-02 15:08:00,15.0,15823,United Kingdom";
const MANUAL: &str = "536569,M,Manual,1,2010-12-01 15:35:00,1.25,16274,United Kingdom";
const MARKETPLACE_FEE: &str =
    "C537600,AMAZONFEE,AMAZON FEE,-1,2010-12-07 12:41:00,1.0,,United Kingdom";
const SAMPLES: &str = "C537581,S,SAMPLES,-1,2010-12-07 12:03:00,12.95,,United Kingdom";
const GIFT_VOUCHER: &str = "539492,gift_0001_40,Dotcomgiftshop Gift Voucher £40.00,1,2010-12-20 10:14:00,34.04,,United Kingdom";
const ZERO_PRICE: &str = "536414,22139,,56,2010-12-01 11:52:00,0.0,,United Kingdom";
const NEGATIVE_PRICE: &str =
    "A563186,B,Adjust bad debt,1,2011-08-12 14:51:00,-11062.06,,United Kingdom";
/// Line 519 of UCI Online Retail repeats an earlier line of invoice 536409 exactly.
const DUPLICATED: &str =
    "536409,21866,UNION JACK FLAG LUGGAGE TAG,1,2010-12-01 11:45:00,1.25,17908,United Kingdom";

fn write_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn csv(rows: &[&str]) -> String {
    let mut text = String::from(HEADER);
    for row in rows {
        text.push('\n');
        text.push_str(row);
    }
    text.push('\n');
    text
}

fn ingest(
    store: &mut Store,
    path: &Path,
    options: &IngestOptions,
) -> Result<IngestSummary, IngestError> {
    ingest_file(store, path, options, &mut |_| {})
}

fn ingest_rows(rows: &[&str]) -> IngestSummary {
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(dir.path(), "orders.csv", &csv(rows));
    let mut store = Store::open(&dir.path().join("data")).unwrap();
    ingest(&mut store, &path, &IngestOptions::default()).unwrap()
}

fn bucket_of(row: &str) -> Bucket {
    let summary = ingest_rows(&[row]);
    let buckets: Vec<Bucket> = Bucket::ALL
        .into_iter()
        .filter(|b| summary.account.get(*b) == 1)
        .collect();
    assert_eq!(buckets.len(), 1, "row {row:?} landed in {buckets:?}");
    buckets[0]
}

/// Store contents that must not change when an ingest fails.
fn snapshot(data_dir: &Path) -> (Vec<(String, u64)>, Vec<String>) {
    let store = Store::open(data_dir).unwrap();
    let datasets = store.datasets().unwrap();
    let sources = datasets
        .iter()
        .flat_map(|(name, _)| store.sources(name).unwrap())
        .map(|s| s.sha256)
        .collect();
    (datasets, sources)
}

#[test]
fn sale_with_customer_is_sale() {
    assert_eq!(bucket_of(SALE), Bucket::Sale);
}

#[test]
fn sale_without_customer_counts_for_demand_only() {
    assert_eq!(
        bucket_of(SALE_WITHOUT_CUSTOMER),
        Bucket::SaleWithoutCustomer
    );
}

#[test]
fn cancellation_is_return() {
    assert_eq!(bucket_of(RETURN), Bucket::Return);
    assert_eq!(
        bucket_of(RETURN_WITHOUT_CUSTOMER),
        Bucket::ReturnWithoutCustomer
    );
}

#[test]
fn fee_and_adjustment_codes_are_non_product() {
    for row in [
        POSTAGE,
        BANK_CHARGES,
        MANUAL,
        MARKETPLACE_FEE,
        SAMPLES,
        GIFT_VOUCHER,
    ] {
        assert_eq!(bucket_of(row), Bucket::NonProduct, "{row}");
    }
}

#[test]
fn zero_price_is_counted() {
    assert_eq!(bucket_of(ZERO_PRICE), Bucket::ZeroPrice);
}

#[test]
fn negative_price_is_counted() {
    assert_eq!(bucket_of(NEGATIVE_PRICE), Bucket::NegativePrice);
}

#[test]
fn exact_duplicate_is_counted_once() {
    let summary = ingest_rows(&[DUPLICATED, SALE, DUPLICATED]);
    assert_eq!(summary.account.get(Bucket::Duplicate), 1);
    assert_eq!(summary.account.get(Bucket::Sale), 2);
}

#[test]
fn unparseable_values_are_rejected_and_counted() {
    let bad_date =
        "536365,71053,WHITE METAL LANTERN,6,2010-13-45 08:26:00,3.39,17850,United Kingdom";
    let bad_quantity =
        "536365,71053,WHITE METAL LANTERN,six,2010-12-01 08:26:00,3.39,17850,United Kingdom";
    let bad_price =
        "536365,71053,WHITE METAL LANTERN,6,2010-12-01 08:26:00,3,39,17850,United Kingdom";
    let no_sku = "536365,,WHITE METAL LANTERN,6,2010-12-01 08:26:00,3.39,17850,United Kingdom";
    let summary = ingest_rows(&[SALE, bad_date, bad_quantity, bad_price, no_sku]);
    assert_eq!(summary.account.get(Bucket::InvalidDate), 1);
    assert_eq!(summary.account.get(Bucket::InvalidNumber), 1);
    assert_eq!(summary.account.get(Bucket::MissingField), 1);
    // "3,39" splits the price into two fields.
    assert_eq!(summary.account.get(Bucket::MalformedRow), 1);
    assert_eq!(summary.account.total(), 5);
    assert_eq!(summary.rejections[0].location.to_string(), "line 3");
}

#[test]
fn rejections_name_the_right_line_in_spreadsheet_files() {
    // Spreadsheets save CSV with \r\n line ends; a blank line follows the sale.
    let bad_quantity =
        "536365,71053,WHITE METAL LANTERN,six,2010-12-01 08:26:00,3.39,17850,United Kingdom";
    let text = csv(&[SALE, "", bad_quantity]).replace('\n', "\r\n");
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(dir.path(), "orders.csv", &text);
    let mut store = Store::open(&dir.path().join("data")).unwrap();
    let summary = ingest(&mut store, &path, &IngestOptions::default()).unwrap();
    assert_eq!(summary.rejections[0].location.to_string(), "line 4");
}

#[test]
fn buckets_add_up_to_rows() {
    let rows = [
        SALE,
        SALE_WITHOUT_CUSTOMER,
        RETURN,
        RETURN_WITHOUT_CUSTOMER,
        POSTAGE,
        ZERO_PRICE,
        NEGATIVE_PRICE,
        DUPLICATED,
        DUPLICATED,
    ];
    let summary = ingest_rows(&rows);
    assert_eq!(summary.rows_read, rows.len() as u64);
    assert_eq!(summary.account.total(), summary.rows_read);
}

#[test]
fn reingest_adds_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(dir.path(), "orders.csv", &csv(&[SALE, RETURN]));
    let data = dir.path().join("data");
    let mut store = Store::open(&data).unwrap();
    let first = ingest(&mut store, &path, &IngestOptions::default()).unwrap();
    let second = ingest(&mut store, &path, &IngestOptions::default()).unwrap();
    assert!(!first.already_ingested);
    assert!(second.already_ingested);
    assert_eq!(second.account, first.account);
    assert_eq!(store.count_lines("default").unwrap(), 2);
    assert_eq!(store.sources("default").unwrap().len(), 1);
}

#[test]
fn overlapping_export_adds_only_new_lines() {
    let dir = tempfile::tempdir().unwrap();
    let first = write_file(dir.path(), "a.csv", &csv(&[SALE, RETURN]));
    let second = write_file(dir.path(), "b.csv", &csv(&[RETURN, POSTAGE]));
    let mut store = Store::open(&dir.path().join("data")).unwrap();
    ingest(&mut store, &first, &IngestOptions::default()).unwrap();
    let summary = ingest(&mut store, &second, &IngestOptions::default()).unwrap();
    assert_eq!(summary.account.get(Bucket::Duplicate), 1);
    assert_eq!(store.count_lines("default").unwrap(), 3);
}

#[test]
fn online_retail_ii_layout_is_recognized() {
    let text = "Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country\n\
                489434,85048,15CM CHRISTMAS GLASS BALL 20 LIGHTS,12,2009-12-01 07:45:00,6.95,13085.0,United Kingdom\n";
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(dir.path(), "ii.csv", text);
    let mut store = Store::open(&dir.path().join("data")).unwrap();
    let summary = ingest(&mut store, &path, &IngestOptions::default()).unwrap();
    assert_eq!(summary.account.get(Bucket::Sale), 1);
    let lines = store.order_lines("default").unwrap();
    assert_eq!(lines[0].customer_id.as_deref(), Some("13085"));
    assert_eq!(lines[0].unit_price, 6.95);
}

#[test]
fn us_dates_of_original_export_parse() {
    let text = format!(
        "{HEADER}\n536365,71053,WHITE METAL LANTERN,6,12/1/2010 8:26,3.39,17850,United Kingdom\n"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(dir.path(), "uci.csv", &text);
    let mut store = Store::open(&dir.path().join("data")).unwrap();
    ingest(&mut store, &path, &IngestOptions::default()).unwrap();
    let lines = store.order_lines("default").unwrap();
    assert_eq!(lines[0].invoiced_at.to_string(), "2010-12-01 08:26:00");
}

#[test]
fn column_mapping_reads_other_exports() {
    let text = "Order ID;Article;Title;Units;Ordered;Price;Buyer;Ship to\n\
                A-1;SKU-9;Blue mug;2;03.01.2011 10:00;7.50;c-17;Germany\n";
    let dir = tempfile::tempdir().unwrap();
    // The csv reader expects commas; this export is rewritten with commas.
    let path = write_file(dir.path(), "shop.csv", &text.replace(';', ","));
    let mapping = ColumnMapping::parse_spec(
        "invoice=Order ID,sku=Article,description=Title,quantity=Units,invoiced_at=Ordered,\
         unit_price=Price,customer_id=Buyer,country=Ship to",
    )
    .unwrap();
    let options = IngestOptions {
        mapping,
        date_format: Some("%d.%m.%Y %H:%M".to_string()),
        ..IngestOptions::default()
    };
    let mut store = Store::open(&dir.path().join("data")).unwrap();
    ingest(&mut store, &path, &options).unwrap();
    let line = &store.order_lines("default").unwrap()[0];
    assert_eq!(line.sku, "SKU-9");
    assert_eq!(line.invoiced_at.to_string(), "2011-01-03 10:00:00");
    assert_eq!(line.country, "Germany");
}

#[test]
fn strict_stops_at_first_rejected_row() {
    let bad = "536365,71053,WHITE METAL LANTERN,6,2010-12-01 08:26:00,n/a,17850,United Kingdom";
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(
        dir.path(),
        "orders.csv",
        &csv(&[SALE, bad, SALE_WITHOUT_CUSTOMER]),
    );
    let data = dir.path().join("data");
    let mut store = Store::open(&data).unwrap();
    let options = IngestOptions {
        strict: true,
        ..IngestOptions::default()
    };
    let err = ingest(&mut store, &path, &options).unwrap_err().to_string();
    assert!(err.contains("orders.csv line 3"), "{err}");
    assert!(err.contains("UnitPrice"), "{err}");
    assert!(err.contains("n/a"), "{err}");
    assert_eq!(store.count_lines("default").unwrap(), 0);
}

/// Ingests a valid file, then `bad`, and checks the error and that the
/// store is exactly as after the first ingest.
fn assert_rejected_without_change(
    name: &str,
    bad: &[u8],
    options: &IngestOptions,
    expected: &[&str],
) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let good = write_file(dir.path(), "good.csv", &csv(&[SALE, RETURN]));
    let mut store = Store::open(&data).unwrap();
    ingest(&mut store, &good, &IngestOptions::default()).unwrap();
    let before = snapshot(&data);

    let path = dir.path().join(name);
    std::fs::File::create(&path)
        .unwrap()
        .write_all(bad)
        .unwrap();
    let err = ingest(&mut store, &path, options).unwrap_err().to_string();
    for part in expected {
        assert!(err.contains(part), "error {err:?} lacks {part:?}");
    }
    drop(store);
    assert_eq!(snapshot(&data), before, "store changed after: {err}");
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

#[test]
fn truncated_gzip_is_error() {
    let mut rows = Vec::new();
    for i in 0..2000 {
        rows.push(format!(
            "{},71053,WHITE METAL LANTERN,6,2010-12-01 08:26:00,3.39,17850,United Kingdom",
            600000 + i
        ));
    }
    let refs: Vec<&str> = rows.iter().map(String::as_str).collect();
    let compressed = gzip(csv(&refs).as_bytes());
    let truncated = &compressed[..compressed.len() / 2];
    assert_rejected_without_change(
        "orders.csv.gz",
        truncated,
        &IngestOptions::default(),
        &[
            "orders.csv.gz",
            "truncated or corrupt after line",
            "copy or export it again",
        ],
    );
}

#[test]
fn missing_column_is_error() {
    let text = csv(&[SALE]).replace(",UnitPrice", ",Cost");
    assert_rejected_without_change(
        "orders.csv",
        text.as_bytes(),
        &IngestOptions::default(),
        &[
            "orders.csv",
            "field unit_price",
            "UnitPrice or Price",
            "Cost",
            "--map unit_price=COLUMN",
        ],
    );
}

#[test]
fn non_utf8_bytes_are_error() {
    let mut bytes = csv(&[SALE]).into_bytes();
    bytes.extend_from_slice(b"536366,22633,HAND WARMER UNION JACK \xe9T\xe9,6,2010-12-01 08:28:00,1.85,17850,United Kingdom\n");
    assert_rejected_without_change(
        "orders.csv",
        &bytes,
        &IngestOptions::default(),
        &["orders.csv line 3", "\"Description\"", "UTF-8", "iconv"],
    );
}

#[test]
fn date_in_other_format_is_error() {
    let text =
        csv(&["536365,71053,WHITE METAL LANTERN,6,01.12.2010 08:26,3.39,17850,United Kingdom"]);
    assert_rejected_without_change(
        "orders.csv",
        text.as_bytes(),
        &IngestOptions::default(),
        &[
            "orders.csv line 2",
            "InvoiceDate",
            "01.12.2010 08:26",
            "--date-format",
        ],
    );
}

#[test]
fn empty_file_is_error() {
    assert_rejected_without_change(
        "orders.csv",
        b"",
        &IngestOptions::default(),
        &["orders.csv", "empty"],
    );
}

#[test]
fn header_only_file_is_error() {
    assert_rejected_without_change(
        "orders.csv",
        format!("{HEADER}\n").as_bytes(),
        &IngestOptions::default(),
        &["orders.csv", "no order rows"],
    );
}

#[test]
fn mapping_to_missing_column_is_error() {
    let options = IngestOptions {
        mapping: ColumnMapping::parse_spec("customer_id=Client").unwrap(),
        ..IngestOptions::default()
    };
    assert_rejected_without_change(
        "orders.csv",
        csv(&[SALE]).as_bytes(),
        &options,
        &["orders.csv", "customer_id=\"Client\"", "CustomerID"],
    );
}

fn online_retail(name: &str) -> Option<PathBuf> {
    let path = Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap())
        .join("../../../shared/data/online_retail")
        .join(name);
    if path.exists() {
        Some(path)
    } else {
        eprintln!("skipped: UCI Online Retail not found at {}", path.display());
        None
    }
}

#[test]
fn full_online_retail_buckets_add_up() {
    let (Some(csv_gz), Some(parquet)) = (
        online_retail("online_retail.csv.gz"),
        online_retail("online_retail.parquet"),
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("data")).unwrap();
    let from_csv = ingest(&mut store, &csv_gz, &IngestOptions::default()).unwrap();
    assert_eq!(from_csv.rows_read, 541_909);
    assert_eq!(from_csv.account.total(), 541_909);
    assert!(from_csv.account.get(Bucket::Duplicate) > 5_000);
    assert!(from_csv.account.get(Bucket::NonProduct) > 2_000);

    let options = IngestOptions {
        dataset: "parquet".to_string(),
        ..IngestOptions::default()
    };
    let from_parquet = ingest(&mut store, &parquet, &options).unwrap();
    assert_eq!(from_parquet.rows_read, 541_909);
    // The two copies differ only in 32 gift-voucher descriptions ("Â£" in the Parquet file).
    for bucket in Bucket::ALL {
        assert_eq!(
            from_parquet.account.get(bucket),
            from_csv.account.get(bucket),
            "{bucket:?}"
        );
    }
}
