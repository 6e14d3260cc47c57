//! One module per subcommand.

pub mod datasets;
pub mod embed;
pub mod forecast;
pub mod generate;
pub mod ingest;
pub mod keys;
pub mod models;
pub mod registry;
pub mod run;
pub mod serve;
pub mod train;
pub mod transcribe;
pub mod translate;
pub mod translate_score;
