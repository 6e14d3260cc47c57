//! Builders for hand-made order lines in unit tests.

use chrono::{NaiveDate, NaiveDateTime};
use mercator_data::{LineKind, OrderLine};

/// Midnight of the given date.
pub fn at(year: i32, month: u32, day: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(year, month, day)
        .and_then(|date| date.and_hms_opt(0, 0, 0))
        .expect("valid test date")
}

/// A product line of a known customer; a `C` invoice or a negative
/// quantity makes it a return, anything else a sale.
pub fn line(
    invoice: &str,
    sku: &str,
    quantity: i64,
    unit_price: f64,
    customer_id: &str,
    country: &str,
    invoiced_at: NaiveDateTime,
) -> OrderLine {
    let kind = if invoice.starts_with('C') || quantity < 0 {
        LineKind::Return
    } else {
        LineKind::Sale
    };
    OrderLine {
        invoice: invoice.to_string(),
        sku: sku.to_string(),
        description: String::new(),
        quantity,
        invoiced_at,
        unit_price,
        customer_id: Some(customer_id.to_string()),
        country: country.to_string(),
        kind,
    }
}
