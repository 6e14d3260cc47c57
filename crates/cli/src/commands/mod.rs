//! One module per subcommand.

pub mod datasets;
pub mod forecast;
pub mod ingest;
pub mod run;
pub mod translate;
