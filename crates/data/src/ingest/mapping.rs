//! Which export column holds which canonical order-line field.
//!
//! Known exports (UCI Online Retail, Online Retail II, Mercator's own
//! canonical names) are recognized from their header. Any other export is
//! mapped with `field=Column` pairs or a TOML file, and a mapping may also
//! override single columns of a recognized export.

use std::fmt;

/// A canonical order-line field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    Invoice,
    Sku,
    Description,
    Quantity,
    InvoicedAt,
    UnitPrice,
    CustomerId,
    Country,
}

impl Field {
    /// All fields, in the order of [`Field::index`].
    pub const ALL: [Field; 8] = [
        Field::Invoice,
        Field::Sku,
        Field::Description,
        Field::Quantity,
        Field::InvoicedAt,
        Field::UnitPrice,
        Field::CustomerId,
        Field::Country,
    ];

    /// Canonical name, as used in `--map` and the README.
    pub fn name(self) -> &'static str {
        match self {
            Field::Invoice => "invoice",
            Field::Sku => "sku",
            Field::Description => "description",
            Field::Quantity => "quantity",
            Field::InvoicedAt => "invoiced_at",
            Field::UnitPrice => "unit_price",
            Field::CustomerId => "customer_id",
            Field::Country => "country",
        }
    }

    /// Position of the field in [`Field::ALL`].
    pub fn index(self) -> usize {
        Field::ALL.iter().position(|f| *f == self).unwrap_or(0)
    }

    /// Whether every row needs a value for this field.
    pub fn is_required(self) -> bool {
        !matches!(
            self,
            Field::Description | Field::CustomerId | Field::Country
        )
    }

    /// Parses a canonical field name.
    pub fn parse(name: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|f| f.name() == name.trim())
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A known export layout: the column name of each field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Preset {
    pub name: &'static str,
    columns: [&'static str; 8],
    /// Whether dates in slash notation are US month/day/year in this export.
    pub us_dates: bool,
}

/// Export layouts recognized from the header alone.
pub const PRESETS: [Preset; 3] = [
    Preset {
        name: "online_retail",
        columns: [
            "InvoiceNo",
            "StockCode",
            "Description",
            "Quantity",
            "InvoiceDate",
            "UnitPrice",
            "CustomerID",
            "Country",
        ],
        us_dates: true,
    },
    Preset {
        name: "online_retail_ii",
        columns: [
            "Invoice",
            "StockCode",
            "Description",
            "Quantity",
            "InvoiceDate",
            "Price",
            "Customer ID",
            "Country",
        ],
        us_dates: true,
    },
    Preset {
        name: "canonical",
        columns: [
            "invoice",
            "sku",
            "description",
            "quantity",
            "invoiced_at",
            "unit_price",
            "customer_id",
            "country",
        ],
        us_dates: false,
    },
];

impl Preset {
    /// Column name of `field` in this export.
    pub fn column(&self, field: Field) -> &'static str {
        self.columns[field.index()]
    }

    /// Whether `header` has every required column of this export.
    fn matches(&self, header: &[String]) -> bool {
        Field::ALL
            .iter()
            .filter(|f| f.is_required())
            .all(|f| find_column(header, self.column(*f)).is_some())
    }
}

/// Index of `column` in `header`, compared trimmed and case-insensitively.
pub fn find_column(header: &[String], column: &str) -> Option<usize> {
    header
        .iter()
        .position(|h| h.trim().eq_ignore_ascii_case(column.trim()))
}

/// Returns the first known export whose required columns `header` has.
pub fn detect_preset(header: &[String]) -> Option<&'static Preset> {
    PRESETS.iter().find(|p| p.matches(header))
}

/// Invalid `--map` text or mapping file.
#[derive(Debug, thiserror::Error)]
pub enum MappingError {
    #[error(
        "invalid mapping entry {entry:?}: expected field=Column, for example \
         --map invoice=\"Order ID\",unit_price=Price"
    )]
    Syntax { entry: String },
    #[error("unknown field {name:?} in mapping; fields are: {}", field_names())]
    UnknownField { name: String },
    #[error("field {field} is mapped twice in the mapping")]
    Repeated { field: Field },
    #[error("invalid mapping file {path}: {message}")]
    File { path: String, message: String },
}

fn field_names() -> String {
    Field::ALL.map(|f| f.name()).join(", ")
}

/// User-given column names per field, plus an optional date format.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ColumnMapping {
    columns: [Option<String>; 8],
    /// strftime pattern of the date column, from a mapping file.
    pub date_format: Option<String>,
}

impl ColumnMapping {
    /// Parses `field=Column,field=Column`; column names may contain spaces.
    pub fn parse_spec(spec: &str) -> Result<ColumnMapping, MappingError> {
        let mut mapping = ColumnMapping::default();
        for entry in spec.split(',').filter(|e| !e.trim().is_empty()) {
            let (name, column) = entry.split_once('=').ok_or_else(|| MappingError::Syntax {
                entry: entry.to_string(),
            })?;
            let column = column.trim().trim_matches('"');
            if column.is_empty() {
                return Err(MappingError::Syntax {
                    entry: entry.to_string(),
                });
            }
            mapping.set(name, column)?;
        }
        Ok(mapping)
    }

    /// Parses a TOML mapping file: a `[columns]` table of `field = "Column"`
    /// and an optional top-level `date_format = "%d.%m.%Y %H:%M"`.
    pub fn from_toml(path: &str, text: &str) -> Result<ColumnMapping, MappingError> {
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct MappingFile {
            #[serde(default)]
            columns: std::collections::BTreeMap<String, String>,
            date_format: Option<String>,
        }
        let file: MappingFile = toml::from_str(text).map_err(|e| MappingError::File {
            path: path.to_string(),
            message: e.to_string(),
        })?;
        let mut mapping = ColumnMapping {
            date_format: file.date_format,
            ..ColumnMapping::default()
        };
        for (name, column) in &file.columns {
            mapping.set(name, column)?;
        }
        Ok(mapping)
    }

    fn set(&mut self, name: &str, column: &str) -> Result<(), MappingError> {
        let field = Field::parse(name).ok_or_else(|| MappingError::UnknownField {
            name: name.trim().to_string(),
        })?;
        let slot = &mut self.columns[field.index()];
        if slot.is_some() {
            return Err(MappingError::Repeated { field });
        }
        *slot = Some(column.to_string());
        Ok(())
    }

    /// Returns this mapping with every column and the date format that
    /// `overrides` sets replacing this one's.
    pub fn overridden_by(mut self, overrides: &ColumnMapping) -> ColumnMapping {
        for field in Field::ALL {
            if let Some(column) = overrides.column(field) {
                self.columns[field.index()] = Some(column.to_string());
            }
        }
        if overrides.date_format.is_some() {
            self.date_format.clone_from(&overrides.date_format);
        }
        self
    }

    /// Column the user mapped `field` to, if any.
    pub fn column(&self, field: Field) -> Option<&str> {
        self.columns[field.index()].as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn online_retail_ii_header_is_detected() {
        let h = header(&[
            "Invoice",
            "StockCode",
            "Description",
            "Quantity",
            "InvoiceDate",
            "Price",
            "Customer ID",
            "Country",
        ]);
        assert_eq!(detect_preset(&h).map(|p| p.name), Some("online_retail_ii"));
    }

    #[test]
    fn spec_with_spaces_parses() {
        let m = ColumnMapping::parse_spec("invoice=Order ID, unit_price=\"Item Price\"").unwrap();
        assert_eq!(m.column(Field::Invoice), Some("Order ID"));
        assert_eq!(m.column(Field::UnitPrice), Some("Item Price"));
        assert_eq!(m.column(Field::Sku), None);
    }

    #[test]
    fn spec_unknown_field_lists_fields() {
        let err = ColumnMapping::parse_spec("price=Price").unwrap_err();
        assert!(err.to_string().contains("unit_price"), "{err}");
    }

    #[test]
    fn toml_mapping_reads_date_format() {
        let m = ColumnMapping::from_toml(
            "map.toml",
            "date_format = \"%d.%m.%Y\"\n[columns]\nsku = \"Article\"\n",
        )
        .unwrap();
        assert_eq!(m.column(Field::Sku), Some("Article"));
        assert_eq!(m.date_format.as_deref(), Some("%d.%m.%Y"));
    }
}
