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

/// Decodes a query string into one value per name. A name given twice, or
/// a value that is not UTF-8 once decoded, is a 400 rather than a guess.
pub fn single_values(raw: &str) -> Result<HashMap<String, String>, ApiError> {
    let mut values = HashMap::new();
    for pair in raw.split('&').filter(|pair| !pair.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let decode = |text: &str| -> Result<String, ApiError> {
            let bytes = percent_decode(text);
            String::from_utf8(bytes).map_err(|_| {
                ApiError::bad_request(format!(
                    "query text {text:?} is not UTF-8 once decoded; percent-encode UTF-8 bytes"
                ))
            })
        };
        let name = decode(name)?;
        let value = decode(value)?;
        if values.contains_key(&name) {
            return Err(ApiError::bad_request(format!(
                "query parameter {name} is given more than once; give it once"
            )));
        }
        values.insert(name, value);
    }
    Ok(values)
}

/// Decodes `%XX` escapes and `+` (a space in query strings).
fn percent_decode(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut idx = 0;
    while idx < bytes.len() {
        match bytes[idx] {
            b'%' if idx + 2 < bytes.len()
                && bytes[idx + 1].is_ascii_hexdigit()
                && bytes[idx + 2].is_ascii_hexdigit() =>
            {
                let hex = std::str::from_utf8(&bytes[idx + 1..idx + 3]).expect("ASCII hex digits");
                out.push(u8::from_str_radix(hex, 16).expect("two hex digits"));
                idx += 3;
                continue;
            }
            b'+' => out.push(b' '),
            byte => out.push(byte),
        }
        idx += 1;
    }
    out
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

/// Checks an id taken from the request path: 1 to 100 characters, as
/// everywhere else in the API.
pub fn path_id(what: &str, value: &str) -> Result<(), ApiError> {
    if value.trim().is_empty() || value.chars().count() > 100 {
        let shown: String = value.chars().take(40).collect();
        return Err(ApiError::bad_request(format!(
            "{what} {shown:?}{} must have 1 to 100 characters",
            if value.chars().count() > 40 {
                "..."
            } else {
                ""
            }
        )));
    }
    Ok(())
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
    fn single_values_decode_and_refuse_repeats() {
        let values = single_values("sku=85123A&country=United%20Kingdom&x=a+b").unwrap();
        assert_eq!(values["country"], "United Kingdom");
        assert_eq!(values["x"], "a b");
        let err = single_values("sku=A&sku=B").unwrap_err();
        assert!(err.message.contains("more than once"), "{}", err.message);
        let err = single_values("sku=%FF%FE").unwrap_err();
        assert!(err.message.contains("UTF-8"), "{}", err.message);
        assert_eq!(single_values("a=%2").unwrap()["a"], "%2");
        // Only two hex digits make an escape; "%+5" stays as it is.
        assert_eq!(single_values("a=%+5").unwrap()["a"], "% 5");
        assert_eq!(single_values("a=%-1x").unwrap()["a"], "%-1x");
    }

    #[test]
    fn flag_accepts_only_true_and_false() {
        assert!(flag(&query(&[("x", "yes")]), "x", true).is_err());
        assert!(!flag(&query(&[("x", "false")]), "x", true).unwrap());
    }
}
