//! Cleaning rules: which bucket each input row lands in.
//!
//! Every row read from an export lands in exactly one [`Bucket`], so the
//! bucket counts in a [`CleaningAccount`] add up to the rows read. Rows in the
//! first seven buckets are stored (with their [`LineKind`]); duplicates and
//! rows with unreadable values are counted and skipped.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::order::LineKind;

/// Destination of one input row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Bucket {
    /// Product sold to a known customer.
    Sale,
    /// Product sold without a customer id: counts for demand only.
    SaleWithoutCustomer,
    /// Return or cancellation by a known customer.
    Return,
    /// Return or cancellation without a customer id: counts for demand only.
    ReturnWithoutCustomer,
    /// Postage, fees, bank charges, manual adjustments, samples, vouchers.
    NonProduct,
    /// Price zero: free items and stock adjustments.
    ZeroPrice,
    /// Negative unit price: accounting adjustments.
    NegativePrice,
    /// Exact copy of a row already read or stored.
    Duplicate,
    /// Invoice date missing or not in the file's date format.
    InvalidDate,
    /// Quantity or price missing or not a finite number.
    InvalidNumber,
    /// Invoice or SKU empty.
    MissingField,
    /// A row with more or fewer fields than the header.
    MalformedRow,
}

impl Bucket {
    /// All buckets, in report order.
    pub const ALL: [Bucket; 12] = [
        Bucket::Sale,
        Bucket::SaleWithoutCustomer,
        Bucket::Return,
        Bucket::ReturnWithoutCustomer,
        Bucket::NonProduct,
        Bucket::ZeroPrice,
        Bucket::NegativePrice,
        Bucket::Duplicate,
        Bucket::InvalidDate,
        Bucket::InvalidNumber,
        Bucket::MissingField,
        Bucket::MalformedRow,
    ];

    /// Name used in reports and `report.json`.
    pub fn as_str(self) -> &'static str {
        match self {
            Bucket::Sale => "sale",
            Bucket::SaleWithoutCustomer => "sale_without_customer",
            Bucket::Return => "return",
            Bucket::ReturnWithoutCustomer => "return_without_customer",
            Bucket::NonProduct => "non_product",
            Bucket::ZeroPrice => "zero_price",
            Bucket::NegativePrice => "negative_price",
            Bucket::Duplicate => "duplicate",
            Bucket::InvalidDate => "invalid_date",
            Bucket::InvalidNumber => "invalid_number",
            Bucket::MissingField => "missing_field",
            Bucket::MalformedRow => "malformed_row",
        }
    }

    /// Whether rows in this bucket are rejected (`--strict` stops on them).
    pub fn is_rejected(self) -> bool {
        matches!(
            self,
            Bucket::InvalidDate
                | Bucket::InvalidNumber
                | Bucket::MissingField
                | Bucket::MalformedRow
        )
    }

    /// Bucket of a stored line, from its kind and whether it has a customer.
    pub fn of_line(kind: LineKind, has_customer: bool) -> Bucket {
        match (kind, has_customer) {
            (LineKind::Sale, true) => Bucket::Sale,
            (LineKind::Sale, false) => Bucket::SaleWithoutCustomer,
            (LineKind::Return, true) => Bucket::Return,
            (LineKind::Return, false) => Bucket::ReturnWithoutCustomer,
            (LineKind::NonProduct, _) => Bucket::NonProduct,
            (LineKind::ZeroPrice, _) => Bucket::ZeroPrice,
            (LineKind::NegativePrice, _) => Bucket::NegativePrice,
        }
    }
}

/// Row counts per bucket for one ingested file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CleaningAccount {
    counts: BTreeMap<Bucket, u64>,
}

impl CleaningAccount {
    /// Counts one row in `bucket`.
    pub fn add(&mut self, bucket: Bucket) {
        *self.counts.entry(bucket).or_default() += 1;
    }

    /// Rows counted in `bucket`.
    pub fn get(&self, bucket: Bucket) -> u64 {
        self.counts.get(&bucket).copied().unwrap_or(0)
    }

    /// Rows counted in all buckets; equals the rows read.
    pub fn total(&self) -> u64 {
        self.counts.values().sum()
    }

    /// Rows that were stored (every bucket but duplicates and rejections).
    pub fn stored(&self) -> u64 {
        Bucket::ALL
            .iter()
            .filter(|b| !b.is_rejected() && **b != Bucket::Duplicate)
            .map(|b| self.get(*b))
            .sum()
    }

    /// Bucket name to count, every bucket present, in report order.
    pub fn to_map(&self) -> BTreeMap<String, u64> {
        Bucket::ALL
            .iter()
            .map(|b| (b.as_str().to_string(), self.get(*b)))
            .collect()
    }

    /// Rebuilds an account from [`CleaningAccount::to_map`] output; unknown names are ignored.
    pub fn from_map(map: &BTreeMap<String, u64>) -> CleaningAccount {
        let mut account = CleaningAccount::default();
        for bucket in Bucket::ALL {
            if let Some(&count) = map.get(bucket.as_str()).filter(|c| **c > 0) {
                account.counts.insert(bucket, count);
            }
        }
        account
    }
}

impl Serialize for CleaningAccount {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_map().serialize(serializer)
    }
}

/// Stock codes that are not products in common shop exports: postage
/// (`POST`, `DOT`), carriage (`C2`), manual adjustments (`M`), bank charges,
/// marketplace fees (`AMAZONFEE`), samples (`S`), charity commission
/// (`CRUK`), discounts (`D`), bad-debt adjustments (`B`) and the cushion
/// pads filler item (`PADS`, priced 0.001). Compared case-insensitively.
const NON_PRODUCT_CODES: &[&str] = &[
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
];

/// Code prefixes of non-product lines: gift vouchers (`gift_0001_20`) and test items.
const NON_PRODUCT_PREFIXES: &[&str] = &["gift_", "test"];

/// Phrases that mark a fee, voucher or adjustment line whatever its code,
/// lower case. Online Retail sells next-day delivery as product code 23444
/// and a voucher as 22016.
const NON_PRODUCT_PHRASES: &[&str] = &[
    "postage",
    "next day carriage",
    "gift voucher",
    "bank charges",
    "amazon fee",
    "marketplace fee",
    "adjust bad debt",
];

/// Words that mark a non-product line only when its code has no digit,
/// because real products carry them too ("BLACK BAROQUE CARRIAGE CLOCK").
const NON_PRODUCT_WORDS: &[&str] = &["carriage", "manual", "samples", "discount"];

/// Tests whether a line is a fee, charge, adjustment, sample or voucher
/// rather than a product.
pub fn is_non_product(sku: &str, description: &str) -> bool {
    let code = sku.trim();
    if NON_PRODUCT_CODES
        .iter()
        .any(|c| c.eq_ignore_ascii_case(code))
    {
        return true;
    }
    let code_lower = code.to_ascii_lowercase();
    if NON_PRODUCT_PREFIXES
        .iter()
        .any(|p| code_lower.starts_with(p))
    {
        return true;
    }
    let description = description.to_lowercase();
    if NON_PRODUCT_PHRASES.iter().any(|p| description.contains(p)) {
        return true;
    }
    let letters_only = !code.chars().any(|c| c.is_ascii_digit());
    letters_only && NON_PRODUCT_WORDS.iter().any(|w| description.contains(w))
}

/// Tests whether a line is a return or cancellation: the invoice starts with `C`
/// (Online Retail's cancellation prefix) or the quantity is negative.
pub fn is_return(invoice: &str, quantity: i64) -> bool {
    quantity < 0 || invoice.trim_start().starts_with(['C', 'c'])
}

/// Classifies a line whose fields all parsed.
///
/// Order matters: a negative price is an accounting adjustment whatever the
/// code, a fee line is a non-product line even when cancelled, and a
/// zero-price line is a stock adjustment even when its quantity is negative.
pub fn classify(
    invoice: &str,
    sku: &str,
    description: &str,
    quantity: i64,
    unit_price: f64,
) -> LineKind {
    if unit_price < 0.0 {
        LineKind::NegativePrice
    } else if is_non_product(sku, description) {
        LineKind::NonProduct
    } else if unit_price == 0.0 {
        LineKind::ZeroPrice
    } else if is_return(invoice, quantity) {
        LineKind::Return
    } else {
        LineKind::Sale
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postage_is_non_product() {
        // Online Retail invoice 536370: "POST,POSTAGE,3,18.0".
        assert_eq!(
            classify("536370", "POST", "POSTAGE", 3, 18.0),
            LineKind::NonProduct
        );
    }

    #[test]
    fn gift_voucher_is_non_product() {
        assert!(is_non_product(
            "gift_0001_20",
            "Dotcomgiftshop Gift Voucher £20.00"
        ));
    }

    #[test]
    fn carriage_clock_is_product() {
        assert!(!is_non_product("85168B", "BLACK BAROQUE CARRIAGE CLOCK"));
    }

    #[test]
    fn next_day_carriage_is_non_product() {
        assert!(is_non_product("23444", "Next Day Carriage"));
        assert!(is_non_product(
            "22016",
            "Dotcomgiftshop Gift Voucher £100.00"
        ));
    }

    #[test]
    fn cancellation_prefix_is_return() {
        // Online Retail: "C536379,D,Discount,-1,...,27.5" is a discount, but
        // "C536383,35004C,SET OF 3 COLOURED  FLYING DUCKS,-1,...,4.65" is a return.
        assert_eq!(
            classify(
                "C536383",
                "35004C",
                "SET OF 3 COLOURED FLYING DUCKS",
                -1,
                4.65
            ),
            LineKind::Return
        );
        assert_eq!(
            classify("C536379", "D", "Discount", -1, 27.5),
            LineKind::NonProduct
        );
    }

    #[test]
    fn zero_price_adjustment_beats_return() {
        // Online Retail: "536414,22139,,56,...,0.0" and stock write-offs with
        // negative quantity and price zero.
        assert_eq!(
            classify("536414", "22139", "", 56, 0.0),
            LineKind::ZeroPrice
        );
        assert_eq!(
            classify("537032", "21275", "?", -30, 0.0),
            LineKind::ZeroPrice
        );
    }

    #[test]
    fn bad_debt_adjustment_is_negative_price() {
        // Online Retail: "A563186,B,Adjust bad debt,1,...,-11062.06".
        assert_eq!(
            classify("A563186", "B", "Adjust bad debt", 1, -11062.06),
            LineKind::NegativePrice
        );
    }

    #[test]
    fn account_total_adds_buckets() {
        let mut account = CleaningAccount::default();
        account.add(Bucket::Sale);
        account.add(Bucket::Sale);
        account.add(Bucket::Duplicate);
        account.add(Bucket::InvalidDate);
        assert_eq!(account.total(), 4);
        assert_eq!(account.stored(), 2);
        assert_eq!(CleaningAccount::from_map(&account.to_map()), account);
    }
}
