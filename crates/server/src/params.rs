//! Request checks: query parameters and JSON bodies, each failure a 400
//! that names the value, where it was and what is accepted.

use std::collections::HashMap;

use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// Largest list a request may ask for.
pub const MAX_K: usize = 100;

/// Default list length.
pub const DEFAULT_K: usize = 10;

/// Rejects query parameters outside `allowed`.
pub fn only_known(query: &HashMap<String, String>, allowed: &[&str]) -> Result<(), ApiError> {
    let mut unknown: Vec<&str> = query
        .keys()
        .map(String::as_str)
        .filter(|name| !allowed.contains(name))
        .collect();
    unknown.sort_unstable();
    match unknown.first() {
        Some(name) => Err(ApiError::bad_request(format!(
            "unknown query parameter {name:?}; accepted: {}",
            allowed.join(", ")
        ))),
        None => Ok(()),
    }
}

/// The `k` query parameter: 1 to [`MAX_K`], [`DEFAULT_K`] when absent.
pub fn k(query: &HashMap<String, String>) -> Result<usize, ApiError> {
    let Some(raw) = query.get("k") else {
        return Ok(DEFAULT_K);
    };
    match raw.parse::<usize>() {
        Ok(k) if (1..=MAX_K).contains(&k) => Ok(k),
        Ok(_) => Err(ApiError::bad_request(format!(
            "query parameter k = {raw:?} is out of range; use a whole number from 1 to {MAX_K}"
        ))),
        Err(_) => Err(ApiError::bad_request(format!(
            "query parameter k = {raw:?} is not a whole number; use one from 1 to {MAX_K}"
        ))),
    }
}

/// A boolean query parameter written `true` or `false`.
pub fn flag(query: &HashMap<String, String>, name: &str, default: bool) -> Result<bool, ApiError> {
    match query.get(name).map(String::as_str) {
        None => Ok(default),
        Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(other) => Err(ApiError::bad_request(format!(
            "query parameter {name} = {other:?} is not a boolean; use true or false"
        ))),
    }
}

/// An optional text query parameter of 1 to 100 characters.
pub fn text(query: &HashMap<String, String>, name: &str) -> Result<Option<String>, ApiError> {
    match query.get(name) {
        None => Ok(None),
        Some(value) if !value.trim().is_empty() && value.chars().count() <= 100 => {
            Ok(Some(value.trim().to_string()))
        }
        Some(value) => Err(ApiError::bad_request(format!(
            "query parameter {name} = {value:?} must have 1 to 100 characters"
        ))),
    }
}

/// Parses a JSON body; syntax errors, wrong types and unknown fields are a
/// 400 that quotes serde's line and column.
pub fn json_body<T: DeserializeOwned>(body: &[u8], what: &str) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|err| {
        ApiError::bad_request(format!(
            "invalid {what} body: {err}; see /openapi.json for the schema"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn k_outside_range_is_rejected_with_value() {
        let err = k(&query(&[("k", "0")])).unwrap_err();
        assert!(err.message.contains("\"0\""), "{}", err.message);
        assert!(k(&query(&[("k", "101")])).is_err());
        let err = k(&query(&[("k", "ten")])).unwrap_err();
        assert!(
            err.message.contains("not a whole number"),
            "{}",
            err.message
        );
        assert_eq!(k(&query(&[("k", "100")])).unwrap(), 100);
        assert_eq!(k(&query(&[])).unwrap(), DEFAULT_K);
    }

    #[test]
    fn unknown_parameter_is_named() {
        let err = only_known(&query(&[("kk", "1")]), &["k"]).unwrap_err();
        assert!(err.message.contains("\"kk\""), "{}", err.message);
    }

    #[test]
    fn flag_accepts_only_true_and_false() {
        assert!(flag(&query(&[("x", "yes")]), "x", true).is_err());
        assert!(!flag(&query(&[("x", "false")]), "x", true).unwrap());
    }
}
