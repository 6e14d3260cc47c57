//! Helpers shared by the end-to-end tests: run the built `mercator` binary
//! against a data dir of the test's own.

use std::path::Path;
use std::process::{Command, Output};

/// Returns a `mercator` command on `data_dir`, ignoring any `MERCATOR_DATA_DIR` of the caller.
pub fn mercator(data_dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mercator"));
    command
        .arg("--data-dir")
        .arg(data_dir)
        .env_remove("MERCATOR_DATA_DIR");
    command
}

/// Runs `command` and fails the test with its output unless it succeeds.
pub fn run_ok(command: &mut Command) -> Output {
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "command failed: {}\nstdout: {}",
        String::from_utf8_lossy(&output.stderr),
        String::from_utf8_lossy(&output.stdout)
    );
    output
}
