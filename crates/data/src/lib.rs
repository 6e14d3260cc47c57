//! Domain types, ingest, cleaning and storage of a shop's order history.
//!
//! Start from [`Store::open`] and [`ingest::ingest_file`]: they read a CSV,
//! CSV.gz or Parquet export, classify every row (see [`clean`]) and write
//! the result to the SQLite store in one transaction. Models read the
//! cleaned lines back with [`Store::order_lines`].

pub mod clean;
pub mod ingest;
pub mod linalg;
pub mod order;
pub mod registry;
pub mod store;

pub use order::{LineKind, OrderLine};
pub use store::Store;
