//! One module per subcommand.

pub mod datasets;
pub mod ingest;
pub mod run;
