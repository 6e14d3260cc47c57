//! The error type of every fallible function in this crate.

use chrono::NaiveDateTime;

/// Failure to build, forecast or score demand series.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ForecastError {
    /// The test window has no weeks.
    #[error("horizon_weeks must be at least 1, got 0")]
    ZeroHorizon,

    /// No series was requested.
    #[error("n_series must be at least 1, got 0")]
    ZeroSeries,

    /// The input has no sale or return lines.
    #[error("no product lines (sales or returns) to build demand series from")]
    NoProductLines,

    /// The cutoff leaves no complete week of history before it.
    #[error(
        "cutoff {cutoff} leaves no complete history week because the first product line \
         is at {first_line_at}; move the cutoff at least 7 days after the first line"
    )]
    NoHistoryWeek {
        cutoff: NaiveDateTime,
        first_line_at: NaiveDateTime,
    },

    /// The cutoff comes after the last product line, so the test window is empty.
    #[error(
        "cutoff {cutoff} is after the last product line at {last_line_at}, so the test \
         window contains no data; move the cutoff before the last line"
    )]
    CutoffAfterData {
        cutoff: NaiveDateTime,
        last_line_at: NaiveDateTime,
    },

    /// Every selected series has zero net units in every history week.
    #[error(
        "every selected series has zero net units in every history week, so no MASE scale \
         exists; move the cutoff later or check that the lines contain sales"
    )]
    NoHistoryDemand,

    /// A model was given no history.
    #[error("history is empty, but a forecast needs at least one observation")]
    EmptyHistory,

    /// A model was given a history containing NaN or an infinity.
    #[error("history value at index {index} is not finite")]
    NonFiniteHistory { index: usize },

    /// A seasonal model was given a season length that the history cannot support.
    #[error(
        "season length {season_length} is invalid for a history of {history_len} values; \
         it must be between 1 and the history length"
    )]
    InvalidSeasonLength {
        season_length: usize,
        history_len: usize,
    },

    /// An accuracy metric was given actual and forecast values of different lengths.
    #[error("actual has {actual_len} values but forecast has {forecast_len}; both must cover the same weeks")]
    LengthMismatch {
        actual_len: usize,
        forecast_len: usize,
    },

    /// An accuracy metric was given an empty test window.
    #[error("the test window is empty, so no accuracy can be measured")]
    EmptyTestWindow,

    /// A model produced NaN or an infinity for one series.
    #[error("model {model} produced a non-finite {quantity} for SKU {sku} in {country}")]
    NonFiniteResult {
        model: String,
        quantity: &'static str,
        sku: String,
        country: String,
    },

    /// The lines contain no whole period between the first and the last line.
    #[error(
        "product lines run from {first_date} to {last_date}, which contains no whole period; \
         ingest a longer order history or use daily periods"
    )]
    NoCompletePeriod {
        first_date: chrono::NaiveDate,
        last_date: chrono::NaiveDate,
    },

    /// A forecast origin lies outside the panel.
    #[error("forecast origin {origin} is outside the {n_periods} periods of the series; it must be between 1 and {n_periods}")]
    InvalidOrigin { origin: usize, n_periods: usize },

    /// The holdout needs more periods than the series have.
    #[error(
        "the series have {n_periods} periods, but a holdout of {horizon} needs at least one more; \
         shorten the horizon"
    )]
    HistoryShorterThanHorizon { n_periods: usize, horizon: usize },

    /// Forecasts of different levels do not describe the same hierarchy.
    #[error(
        "the level forecasts do not match: each must come from the same lines and horizon, \
         and every SKU and country of the bottom level must have its own series"
    )]
    InconsistentLevels,
}
