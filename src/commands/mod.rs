//! One module per subcommand: each takes its plan and orchestrates the capabilities
//! below it. No command imports another; none parses bytes.

mod cache;
mod components;
mod fetch;
mod identify;
mod lock;
mod mirror;
mod node;
mod trust;
mod verify;

use crate::plan::{Output, Plan};
use crate::report::ExitStatus;
use crate::Error;

pub fn run(output: Output, plan: Plan) -> Result<ExitStatus, Error> {
    match plan {
        Plan::Fetch(plan) => fetch::run(plan, output),
        Plan::Verify(plan) => verify::run(plan, output),
        Plan::Lock(plan) => lock::run(plan, output),
        Plan::Mirror(plan) => mirror::run(plan, output),
        Plan::Identify(plan) => identify::run(plan, output),
        Plan::Node(plan) => node::run(plan, output),
        Plan::Components { catalogs } => components::run(&catalogs, output),
        Plan::Trust(plan) => trust::run(plan, output),
        Plan::Cache(plan) => cache::run(plan, output),
        Plan::Completions(shell) => {
            let mut cmd = <crate::cli::Cli as clap::CommandFactory>::command();
            // Into memory first: clap_complete panics on a write error, and a closed
            // stdout (`kverify completions bash | head`) must end quietly.
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut cmd, "kverify", &mut script);
            crate::report::print(&script)?;
            Ok(ExitStatus::Ok)
        }
    }
}
