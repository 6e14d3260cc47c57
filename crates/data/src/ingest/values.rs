//! Parsing of the text values of one row: dates, quantities, prices, ids.

use chrono::{DateTime, NaiveDate, NaiveDateTime};

/// Date formats tried on the first date of a file, ISO 8601 first.
const ISO_FORMATS: &[&str] = &[
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%dT%H:%M",
];

/// US month/day/year formats, tried only for exports known to use them
/// (UCI Online Retail writes `12/1/2010 8:26`).
const US_FORMATS: &[&str] = &["%m/%d/%Y %H:%M", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y"];

/// How the dates of one file are written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DateFormat {
    /// A strftime pattern with or without a time part.
    Pattern(String),
    /// RFC 3339 with an offset; the local time as written is kept.
    Rfc3339,
}

impl DateFormat {
    /// Parses `text` in this format.
    pub fn parse(&self, text: &str) -> Option<NaiveDateTime> {
        let text = text.trim();
        match self {
            DateFormat::Rfc3339 => DateTime::parse_from_rfc3339(text)
                .ok()
                .map(|t| t.naive_local()),
            DateFormat::Pattern(pattern) => NaiveDateTime::parse_from_str(text, pattern)
                .ok()
                .or_else(|| {
                    NaiveDate::parse_from_str(text, pattern)
                        .ok()
                        .and_then(|d| d.and_hms_opt(0, 0, 0))
                }),
        }
    }

    /// Finds the format of `sample` among the ISO 8601 and RFC 3339 forms
    /// (plus US month/day/year when `us_dates` is set).
    pub fn detect(sample: &str, us_dates: bool) -> Option<DateFormat> {
        let extra: &[&str] = if us_dates { US_FORMATS } else { &[] };
        let patterns = ISO_FORMATS.iter().chain(["%Y-%m-%d"].iter()).chain(extra);
        for pattern in patterns {
            let format = DateFormat::Pattern(pattern.to_string());
            if format.parse(sample).is_some() {
                return Some(format);
            }
        }
        DateFormat::Rfc3339
            .parse(sample)
            .map(|_| DateFormat::Rfc3339)
    }

    /// Examples of the recognized forms, for error messages.
    pub fn recognized_examples(us_dates: bool) -> &'static str {
        if us_dates {
            "2010-12-01 08:26:00, 2010-12-01T08:26:00, 2010-12-01, 2010-12-01T08:26:00+01:00, 12/1/2010 8:26"
        } else {
            "2010-12-01 08:26:00, 2010-12-01T08:26:00, 2010-12-01, 2010-12-01T08:26:00+01:00"
        }
    }
}

/// Largest absolute quantity of one line accepted; larger values are data
/// errors (overflowed cells, ids pasted into the quantity column).
pub const MAX_ABS_QUANTITY: i64 = 1_000_000_000;

/// Largest unit price accepted, in the shop's currency.
pub const MAX_UNIT_PRICE: f64 = 1.0e9;

/// Parses a whole number of units up to [`MAX_ABS_QUANTITY`]; `6.0` is
/// accepted as 6, `6.5` is not.
pub fn parse_quantity(text: &str) -> Option<i64> {
    let text = text.trim();
    let quantity = match text.parse::<i64>() {
        Ok(n) => n,
        Err(_) => {
            let value: f64 = text.parse().ok()?;
            let whole = value.is_finite() && value.fract() == 0.0 && value.abs() < 9.0e15;
            if !whole {
                return None;
            }
            value as i64
        }
    };
    (quantity.abs() <= MAX_ABS_QUANTITY).then_some(quantity)
}

/// Checks that a user-given strftime pattern has no unknown `%` directive.
pub fn validate_date_pattern(pattern: &str) -> bool {
    use chrono::format::{Item, StrftimeItems};
    !pattern.trim().is_empty()
        && !StrftimeItems::new(pattern).any(|item| matches!(item, Item::Error))
}

/// Parses a unit price with a `.` decimal point and an optional leading
/// currency symbol; rejects NaN and infinities.
pub fn parse_price(text: &str) -> Option<f64> {
    let text = text.trim();
    let text = text
        .strip_prefix(['$', '£', '€'])
        .unwrap_or(text)
        .trim_start();
    let value: f64 = text.parse().ok()?;
    (value.is_finite() && value.abs() <= MAX_UNIT_PRICE).then_some(value)
}

/// Normalizes a customer id: empty is `None`, and `17850.0` (a numeric id
/// written by a spreadsheet or pandas) becomes `17850`.
pub fn normalize_customer_id(text: &str) -> Option<String> {
    let text = text.trim();
    if text.is_empty() || text.eq_ignore_ascii_case("nan") || text.eq_ignore_ascii_case("null") {
        return None;
    }
    if let Some(integer) = text.strip_suffix(".0") {
        if !integer.is_empty() && integer.bytes().all(|b| b.is_ascii_digit()) {
            return Some(integer.to_string());
        }
    }
    Some(text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_date_detected() {
        let format = DateFormat::detect("2010-12-01 08:26:00", false).unwrap();
        let t = format.parse("2011-12-09 12:50:00").unwrap();
        assert_eq!(t.to_string(), "2011-12-09 12:50:00");
    }

    #[test]
    fn us_date_only_when_allowed() {
        assert!(DateFormat::detect("12/1/2010 8:26", false).is_none());
        let format = DateFormat::detect("12/1/2010 8:26", true).unwrap();
        assert_eq!(
            format.parse("12/9/2011 12:50").unwrap().to_string(),
            "2011-12-09 12:50:00"
        );
    }

    #[test]
    fn rfc3339_keeps_local_time() {
        let format = DateFormat::detect("2011-03-01T10:00:00+01:00", false).unwrap();
        assert_eq!(format, DateFormat::Rfc3339);
        assert_eq!(
            format
                .parse("2011-03-01T10:00:00+01:00")
                .unwrap()
                .to_string(),
            "2011-03-01 10:00:00"
        );
    }

    #[test]
    fn quantity_rejects_fraction() {
        assert_eq!(parse_quantity("-12"), Some(-12));
        assert_eq!(parse_quantity("6.0"), Some(6));
        assert_eq!(parse_quantity("6.5"), None);
        assert_eq!(parse_quantity("six"), None);
    }

    #[test]
    fn absurd_numbers_rejected() {
        assert_eq!(parse_quantity("9223372036854775807"), None);
        assert_eq!(parse_quantity("-2000000000"), None);
        assert_eq!(parse_price("1e300"), None);
    }

    #[test]
    fn unknown_date_directive_rejected() {
        assert!(validate_date_pattern("%d.%m.%Y %H:%M"));
        assert!(!validate_date_pattern("%Q"));
        assert!(!validate_date_pattern(""));
    }

    #[test]
    fn price_rejects_nan() {
        assert_eq!(parse_price("£2.55"), Some(2.55));
        assert_eq!(parse_price("NaN"), None);
        assert_eq!(parse_price("inf"), None);
        assert_eq!(parse_price("2,55"), None);
    }

    #[test]
    fn float_customer_id_normalized() {
        assert_eq!(normalize_customer_id("17850.0").as_deref(), Some("17850"));
        assert_eq!(normalize_customer_id("C-17.0").as_deref(), Some("C-17.0"));
        assert_eq!(normalize_customer_id(" "), None);
    }
}
