//! Catalog listings: reading CSV and JSON files, deriving a catalog from
//! order lines, and writing translated catalogs.
//!
//! A CSV catalog has the columns `sku,title,description` and optionally
//! `bullets` (separated by `|`), `attributes` (`name=value` pairs separated
//! by `|`) and `source_lang`; other columns are copied through. A JSON
//! catalog is an array of objects with the same keys, where `bullets` may
//! be an array and `attributes` an object.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use mercator_data::ingest::lines::{describe_error, unclosed_quote, LineIndex, UNCLOSED_QUOTE};
use mercator_data::OrderLine;
use serde::{Deserialize, Serialize};

/// One product listing.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Listing {
    pub sku: String,
    pub title: String,
    /// Plain text or HTML.
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub bullets: Vec<String>,
    /// Attribute names and values; values are translated, names are not.
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    /// Language of the listing; the run's `--from` language when absent.
    #[serde(default)]
    pub source_lang: Option<String>,
    /// Columns the pipeline does not read, copied to the output.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, String>,
    /// Line (CSV) or index (JSON, 1-based) of the listing in its file.
    #[serde(default)]
    pub position: u64,
}

/// Failure to read a catalog.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("cannot read catalog {path}: {cause}")]
    Read {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("catalog {path} has no {column:?} column; a catalog needs sku,title,description (found: {found})")]
    MissingColumn {
        path: PathBuf,
        column: &'static str,
        found: String,
    },
    #[error("catalog {path} line {line}: {message}")]
    InvalidRow {
        path: PathBuf,
        line: u64,
        message: String,
    },
    #[error("catalog {path}, listing {index} of the array: {message}")]
    InvalidListing {
        path: PathBuf,
        index: u64,
        message: String,
    },
    #[error("catalog {path} is not valid JSON: {message}; expected an array of objects with sku, title, description")]
    InvalidJson { path: PathBuf, message: String },
    #[error("catalog {path} has an unknown extension; use .csv or .json")]
    UnknownFormat { path: PathBuf },
    #[error("cannot write {path}: {message}")]
    Write { path: PathBuf, message: String },
}

/// Reads a catalog; the format follows the extension (`.csv`, `.json`).
pub fn read(path: &Path) -> Result<Vec<Listing>, CatalogError> {
    let text =
        mercator_data::ingest::lines::read_utf8(path).map_err(|cause| CatalogError::Read {
            path: path.to_path_buf(),
            cause,
        })?;
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("csv") => parse_csv(path, &text),
        Some("json") => parse_json(path, &text),
        _ => Err(CatalogError::UnknownFormat {
            path: path.to_path_buf(),
        }),
    }
}

const KNOWN_COLUMNS: &[&str] = &[
    "sku",
    "title",
    "description",
    "bullets",
    "attributes",
    "source_lang",
];

/// Parses a CSV catalog; `path` names the file in errors.
pub fn parse_csv(path: &Path, text: &str) -> Result<Vec<Listing>, CatalogError> {
    let text = text.trim_start_matches('\u{feff}');
    if let Some(line) = unclosed_quote(text.as_bytes()) {
        return Err(CatalogError::InvalidRow {
            path: path.to_path_buf(),
            line,
            message: UNCLOSED_QUOTE.to_string(),
        });
    }
    let mut lines = LineIndex::of(text.as_bytes());
    let mut reader = csv::ReaderBuilder::new()
        .flexible(false)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|err| CatalogError::InvalidRow {
            path: path.to_path_buf(),
            line: 1,
            message: err.to_string(),
        })?
        .iter()
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    for column in ["sku", "title"] {
        if !headers.iter().any(|h| h == column) {
            return Err(CatalogError::MissingColumn {
                path: path.to_path_buf(),
                column,
                found: headers.join(","),
            });
        }
    }

    let mut listings = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|err| {
            let (line, message) = describe_error(&err, &mut lines);
            CatalogError::InvalidRow {
                path: path.to_path_buf(),
                line,
                message,
            }
        })?;
        let line = lines.line_of(record.position());
        let field = |name: &str| {
            headers
                .iter()
                .position(|h| h == name)
                .and_then(|i| record.get(i))
                .unwrap_or("")
                .to_string()
        };
        let sku = field("sku").trim().to_string();
        if sku.is_empty() {
            return Err(CatalogError::InvalidRow {
                path: path.to_path_buf(),
                line,
                message: "field sku is empty; every listing needs a SKU".to_string(),
            });
        }
        let attributes =
            parse_attributes(&field("attributes")).map_err(|message| CatalogError::InvalidRow {
                path: path.to_path_buf(),
                line,
                message: format!("field attributes: {message}"),
            })?;
        let source_lang = Some(field("source_lang")).filter(|l| !l.trim().is_empty());
        if let Some(code) = &source_lang {
            check_language(code).map_err(|message| CatalogError::InvalidRow {
                path: path.to_path_buf(),
                line,
                message,
            })?;
        }
        let extra = headers
            .iter()
            .zip(record.iter())
            .filter(|(h, _)| !KNOWN_COLUMNS.contains(&h.as_str()))
            .map(|(h, v)| (h.clone(), v.to_string()))
            .collect();
        listings.push(Listing {
            sku,
            title: field("title"),
            description: field("description"),
            bullets: split_list(&field("bullets")),
            attributes,
            source_lang,
            extra,
            position: line,
        });
    }
    Ok(listings)
}

fn split_list(text: &str) -> Vec<String> {
    text.split('|')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::to_string)
        .collect()
}

fn parse_attributes(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut attributes = BTreeMap::new();
    for pair in split_list(text) {
        let (name, value) = pair
            .split_once('=')
            .ok_or_else(|| format!("{pair:?} is not name=value; separate pairs with |"))?;
        attributes.insert(name.trim().to_string(), value.trim().to_string());
    }
    Ok(attributes)
}

/// Parses a JSON catalog; `path` names the file in errors. Bullets may be
/// a string or an array, attributes a string or an object, and a null
/// optional field counts as absent.
pub fn parse_json(path: &Path, text: &str) -> Result<Vec<Listing>, CatalogError> {
    use serde_json::Value;

    let items: Vec<Value> =
        serde_json::from_str(text).map_err(|err| CatalogError::InvalidJson {
            path: path.to_path_buf(),
            message: err.to_string(),
        })?;
    items
        .into_iter()
        .enumerate()
        .map(|(index, item)| {
            let position = index as u64 + 1;
            listing_from_json(item, position).map_err(|message| CatalogError::InvalidListing {
                path: path.to_path_buf(),
                index: position,
                message,
            })
        })
        .collect()
}

/// Reads one listing of a JSON catalog or API request, at 1-based
/// `position`. The error names the field and the fix.
pub fn listing_from_json(item: serde_json::Value, position: u64) -> Result<Listing, String> {
    use serde_json::Value;

    let Value::Object(mut map) = item else {
        return Err(format!(
            "{item} is not an object; a listing is \
             {{\"sku\": ..., \"title\": ..., \"description\": ...}}"
        ));
    };
    let mut text = |name: &str, required: bool| -> Result<String, String> {
        match map.remove(name) {
            Some(Value::String(text)) => Ok(text),
            Some(Value::Number(number)) => Ok(number.to_string()),
            None | Some(Value::Null) if !required => Ok(String::new()),
            None | Some(Value::Null) => Err(format!(
                "field {name} is missing; every listing needs sku and title"
            )),
            Some(other) => Err(format!(
                "field {name}: {other} is not a string; write it in quotes"
            )),
        }
    };
    let sku = text("sku", true)?;
    let title = text("title", true)?;
    let description = text("description", false)?;
    let source_lang = Some(text("source_lang", false)?).filter(|l| !l.trim().is_empty());
    if let Some(code) = &source_lang {
        check_language(code)?;
    }
    let bullets = match map.remove("bullets") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(text)) => split_list(&text),
        Some(Value::Array(items)) => items
            .into_iter()
            .map(|item| {
                item.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| format!("bullet {item} is not a string"))
            })
            .collect::<Result<_, _>>()?,
        Some(other) => return Err(format!("bullets {other} is neither a string nor an array")),
    };
    let attributes = match map.remove("attributes") {
        None | Some(Value::Null) => BTreeMap::new(),
        Some(Value::String(text)) => parse_attributes(&text)?,
        Some(Value::Object(map)) => map
            .into_iter()
            .filter(|(_, value)| !value.is_null())
            .map(|(name, value)| match value {
                Value::String(value) => Ok((name, value)),
                Value::Number(_) | Value::Bool(_) => Ok((name, value.to_string())),
                other => Err(format!(
                    "field attributes: the value of {name:?} is {other}, not a string; \
                         write one value in quotes"
                )),
            })
            .collect::<Result<_, String>>()?,
        Some(other) => {
            return Err(format!(
                "attributes {other} is neither a string nor an object"
            ))
        }
    };
    Ok(Listing {
        sku,
        title,
        description,
        bullets,
        attributes,
        source_lang,
        // Other plain fields travel to the output like extra CSV columns.
        extra: map
            .into_iter()
            .filter_map(|(name, value)| match value {
                Value::String(text) => Some((name, text)),
                Value::Number(_) | Value::Bool(_) => Some((name, value.to_string())),
                _ => None,
            })
            .collect(),
        position,
    })
}

/// Checks a language code: two or three letters, with an optional region
/// ("pt-BR"). The error names the field `source_lang`.
pub fn check_language(code: &str) -> Result<(), String> {
    static CODE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let valid = CODE
        .get_or_init(|| {
            regex::Regex::new(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,4})?$").expect("valid regex")
        })
        .is_match(code.trim());
    if valid {
        Ok(())
    } else {
        Err(format!(
            "field source_lang: {code:?} is not a language code; use an ISO 639-1 code such as en, de or fr"
        ))
    }
}

/// Builds a catalog from order lines: one listing per product SKU, titled
/// with its most frequent description (ties go to the first seen).
pub fn from_order_lines(lines: &[OrderLine]) -> Vec<Listing> {
    let mut counts: HashMap<&str, HashMap<&str, usize>> = HashMap::new();
    let mut order: Vec<&str> = Vec::new();
    for line in lines.iter().filter(|line| line.is_product()) {
        let description = line.description.trim();
        if description.is_empty() {
            continue;
        }
        let per_sku = counts.entry(line.sku.as_str()).or_insert_with(|| {
            order.push(line.sku.as_str());
            HashMap::new()
        });
        *per_sku.entry(description).or_insert(0) += 1;
    }
    order.sort_unstable();
    order
        .into_iter()
        .enumerate()
        .map(|(index, sku)| {
            let descriptions = &counts[sku];
            let title = descriptions
                .iter()
                .max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0)))
                .map(|(description, _)| description.to_string())
                .unwrap_or_default();
            Listing {
                sku: sku.to_string(),
                title,
                source_lang: Some("en".to_string()),
                position: index as u64 + 1,
                ..Listing::default()
            }
        })
        .collect()
}

/// Joins bullets for a CSV cell.
pub fn join_bullets(bullets: &[String]) -> String {
    bullets.join(" | ")
}

/// Joins attributes for a CSV cell.
pub fn join_attributes(attributes: &BTreeMap<String, String>) -> String {
    attributes
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join(" | ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_reads_bullets_attributes_and_extra_columns() {
        let text = "sku,title,description,bullets,attributes,price\nA1,Mug,<p>Big</p>,Red|Blue,color=red|size=L,3.50\n";
        let listings = parse_csv(Path::new("c.csv"), text).unwrap();
        assert_eq!(listings[0].bullets, vec!["Red", "Blue"]);
        assert_eq!(listings[0].attributes["size"], "L");
        assert_eq!(listings[0].extra["price"], "3.50");
        assert_eq!(listings[0].position, 2);
    }

    #[test]
    fn csv_without_title_names_the_column() {
        let err = parse_csv(Path::new("c.csv"), "sku,name\nA1,Mug\n").unwrap_err();
        assert!(err.to_string().contains("\"title\""), "{err}");
    }

    #[test]
    fn json_accepts_arrays_and_objects() {
        let text =
            r#"[{"sku": 42, "title": "Mug", "bullets": ["Red"], "attributes": {"color": "red"}}]"#;
        let listings = parse_json(Path::new("c.json"), text).unwrap();
        assert_eq!(listings[0].sku, "42");
        assert_eq!(listings[0].attributes["color"], "red");
    }

    #[test]
    fn json_keeps_other_plain_fields() {
        let text = r#"[{"sku": "A", "title": "Mug", "price": 3.5, "tags": ["x"], "gtin": "0123"}]"#;
        let listing = &parse_json(Path::new("c.json"), text).unwrap()[0];
        assert_eq!(listing.extra["price"], "3.5");
        assert_eq!(listing.extra["gtin"], "0123");
        assert!(!listing.extra.contains_key("tags"));
    }
}
