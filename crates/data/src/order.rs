//! The canonical order line and the classes the cleaning step puts it in.
//!
//! Every ingested row becomes one [`OrderLine`] in the store, whatever the
//! shop's export called its columns. Models pick the lines they need by
//! [`LineKind`] and by whether a customer is known.

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};

/// One line of an invoice, as stored after cleaning.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderLine {
    /// Invoice or order number; cancellations in Online Retail start with `C`.
    pub invoice: String,
    /// Stock-keeping unit (product code).
    pub sku: String,
    /// Product title as written on the invoice; empty when the export had none.
    pub description: String,
    /// Units; negative for returns.
    pub quantity: i64,
    /// Invoice time in the shop's local time.
    pub invoiced_at: NaiveDateTime,
    /// Price of one unit in the shop's currency.
    pub unit_price: f64,
    /// Customer id; `None` for guest or unattributed orders.
    pub customer_id: Option<String>,
    /// Destination country as named in the export.
    pub country: String,
    /// Class assigned by cleaning.
    pub kind: LineKind,
}

impl OrderLine {
    /// Net revenue of the line: quantity times unit price (negative for returns).
    pub fn revenue(&self) -> f64 {
        self.quantity as f64 * self.unit_price
    }

    /// Whether product models (recommendations, demand) may use this line.
    pub fn is_product(&self) -> bool {
        matches!(self.kind, LineKind::Sale | LineKind::Return)
    }
}

/// Class of a stored order line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineKind {
    /// A product sold at a positive price.
    Sale,
    /// A cancelled or returned product: invoice starting with `C` or negative quantity.
    Return,
    /// Postage, fees, bank charges, manual adjustments, samples, gift vouchers.
    NonProduct,
    /// A product line with price zero: free items and stock adjustments.
    ZeroPrice,
    /// A line with a negative unit price: accounting adjustments.
    NegativePrice,
}

impl LineKind {
    /// Name used in the store and in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            LineKind::Sale => "sale",
            LineKind::Return => "return",
            LineKind::NonProduct => "non_product",
            LineKind::ZeroPrice => "zero_price",
            LineKind::NegativePrice => "negative_price",
        }
    }

    /// Parses the name written by [`LineKind::as_str`].
    pub fn parse(name: &str) -> Option<LineKind> {
        Some(match name {
            "sale" => LineKind::Sale,
            "return" => LineKind::Return,
            "non_product" => LineKind::NonProduct,
            "zero_price" => LineKind::ZeroPrice,
            "negative_price" => LineKind::NegativePrice,
            _ => return None,
        })
    }
}
