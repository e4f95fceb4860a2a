//! kverify: download and verify Kubernetes release binaries before trusting them.
//!
//! `main` parses the command line and calls [`run`]; each subcommand lives in
//! [`commands`] and orchestrates the capabilities below it.

pub mod archive;
pub mod cache;
pub mod catalog;
pub mod checksums;
pub mod cli;
pub mod commands;
pub mod digest;
pub mod error;
pub mod expect;
pub mod files;
pub mod install;
pub mod lock;
pub mod logging;
pub mod mirror;
pub mod node;
pub mod plan;
pub mod platform;
pub mod progress;
pub mod regular_file;
pub mod rekor;
pub mod release;
pub mod report;
pub mod sbom;
pub mod signature;
pub mod status;
pub mod subject;
pub mod transport;
pub mod trust;
pub mod version;

pub use error::{Error, ExitStatus};

/// Runs one command line: lowered into a plan, then run; the status says how it ended.
pub fn run(cli: cli::Cli) -> Result<ExitStatus, Error> {
    let (output, plan) = plan::lower(cli)?;
    commands::run(output, plan)
}
