//! Errors returned by the evaluations in this crate.
//!
//! Every variant carries the counts or the value that failed, and its
//! message suggests how to change the request so that the evaluation can run.

use chrono::NaiveDateTime;
use thiserror::Error;

/// Reason an evaluation could not run.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum RecommendError {
    /// A parameter is outside its valid range.
    #[error("invalid {name} = {value}: expected {expected}")]
    InvalidParameter {
        /// Parameter name as written in the API.
        name: &'static str,
        /// Value that was passed.
        value: String,
        /// Valid range.
        expected: &'static str,
    },

    /// No sale to a known customer happened before the cutoff.
    #[error(
        "no sale to a known customer before the cutoff {cutoff}; \
         move the cutoff later or load a longer order history"
    )]
    EmptyHistory {
        /// Start of the test window.
        cutoff: NaiveDateTime,
    },

    /// Too few buyers or non-buyers among the propensity test rows.
    #[error(
        "test window [{cutoff}, {window_end}) has {n_positive} buyers and {n_negative} \
         non-buyers among {n_rows} customers with earlier purchases, but each class needs \
         at least {min_per_class}; place the test window inside the order history, \
         or use a longer history or a longer test window"
    )]
    NotEnoughTestRows {
        /// Start of the test window.
        cutoff: NaiveDateTime,
        /// End of the test window (exclusive).
        window_end: NaiveDateTime,
        /// Customers with a purchase before the cutoff.
        n_rows: usize,
        /// Customers among them who bought in the test window.
        n_positive: usize,
        /// Customers among them who did not.
        n_negative: usize,
        /// Minimum rows required in each class.
        min_per_class: usize,
    },

    /// Too few buyers or non-buyers among the propensity training rows.
    #[error(
        "{n_snapshots} training snapshots before {cutoff} gave {n_rows} rows with \
         {n_positive} buyers and {n_negative} non-buyers, but each class needs at least \
         {min_per_class}; use a longer history, more snapshots or a shorter test window"
    )]
    NotEnoughTrainingRows {
        /// Start of the test window.
        cutoff: NaiveDateTime,
        /// Snapshots requested.
        n_snapshots: usize,
        /// Customer-by-snapshot rows built.
        n_rows: usize,
        /// Rows whose customer bought in the window after the snapshot.
        n_positive: usize,
        /// Rows whose customer did not.
        n_negative: usize,
        /// Minimum rows required in each class.
        min_per_class: usize,
    },

    /// No customer can be used to evaluate the recommenders.
    #[error(
        "no customer to evaluate in [{cutoff}, {window_end}): {n_with_history} customers \
         bought before the cutoff, {n_active_in_window} of them bought in the test window \
         and none bought an item new to them; use a longer history or a longer test window"
    )]
    NoEvalCustomers {
        /// Start of the test window.
        cutoff: NaiveDateTime,
        /// End of the test window (exclusive).
        window_end: NaiveDateTime,
        /// Known customers with a sale before the cutoff.
        n_with_history: usize,
        /// Customers among them with a sale in the test window.
        n_active_in_window: usize,
    },
}

impl RecommendError {
    /// Builds [`RecommendError::InvalidParameter`] from any displayable value.
    pub(crate) fn invalid(
        name: &'static str,
        value: impl std::fmt::Display,
        expected: &'static str,
    ) -> RecommendError {
        RecommendError::InvalidParameter {
            name,
            value: value.to_string(),
            expected,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_parameter_message_names_value() {
        let err = RecommendError::invalid("k", 0, "at least 1");
        assert_eq!(err.to_string(), "invalid k = 0: expected at least 1");
    }
}
