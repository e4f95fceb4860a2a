use std::process::ExitCode;

use clap::Parser;
use kverify::status::Classified;

fn main() -> ExitCode {
    let cli = kverify::cli::Cli::parse();
    kverify::logging::init(&cli.output);
    kverify::install::remove_staged_on_termination();
    let status = match kverify::run(cli) {
        Ok(status) => status,
        Err(err) => {
            kverify::report::print_error(&err);
            err.exit_status()
        }
    };
    ExitCode::from(status.code())
}
