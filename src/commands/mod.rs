//! One module per subcommand: orchestration of the capabilities, no parsing of bytes.

mod signed;
mod verify;

use crate::cli::{Cli, Command, OutputArgs};
use crate::report::{ExitStatus, Format};
use crate::Error;

pub fn run(cli: Cli) -> Result<ExitStatus, Error> {
    let format = format(&cli.output);
    match cli.command {
        Command::Verify(args) => verify::run(args, format),
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut cmd, "kverify", &mut std::io::stdout());
            Ok(ExitStatus::Ok)
        }
        _ => Err(Error::usage("this command is not built yet")),
    }
}

fn format(output: &OutputArgs) -> Format {
    if output.json {
        Format::Json
    } else if output.quiet {
        Format::Quiet
    } else {
        Format::Text
    }
}
