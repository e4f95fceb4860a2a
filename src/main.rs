use std::process::ExitCode;

use clap::Parser;
use kverify::status::Classified;

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let cli = match kverify::cli::Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) => return ExitCode::from(kverify::report::print_command_line_error(&e, &args)),
    };
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
