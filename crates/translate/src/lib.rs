//! Listing localization: translate a product catalog into other languages
//! while keeping its HTML, brands, SKUs, placeholders and measures right,
//! and say per segment how far to trust the result.
//!
//! Start from [`pipeline::Pipeline`]: it takes [`catalog::Listing`]s, an
//! [`engine::Engine`] and the run's options, and returns translated listings
//! with a quality score and flags per field. Per field it parses HTML
//! ([`html`]), normalizes upper-case titles ([`casing`]), masks protected
//! spans ([`protect`]), glossary terms ([`glossary`]) and locale-converted
//! measures ([`locale`]), splits sentences ([`segment`]), reuses the
//! translation memory ([`memory`]), sends the rest to the engine in
//! batches, restores everything and estimates quality ([`qe`]). [`score`]
//! scores translations made elsewhere with the same checks.

pub mod casing;
pub mod catalog;
pub mod engine;
pub mod estimator;
pub mod glossary;
pub mod html;
pub mod lang;
pub mod locale;
pub mod memory;
pub mod metrics;
pub mod pipeline;
pub mod protect;
pub mod qe;
pub mod report;
pub mod score;
pub mod segment;
