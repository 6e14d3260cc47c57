//! One module per subcommand.

pub mod datasets;
pub mod embed;
pub mod forecast;
pub mod generate;
pub mod ingest;
pub mod models;
pub mod run;
pub mod transcribe;
pub mod translate;
