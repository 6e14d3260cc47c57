//! One module per subcommand.

pub mod datasets;
pub mod forecast;
pub mod ingest;
pub mod keys;
pub mod registry;
pub mod run;
pub mod serve;
pub mod train;
