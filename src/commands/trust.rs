//! `kverify trust update [--as-of TIME]` and `kverify trust show [--json]`: Sigstore's
//! trusted root kept current through TUF, and which trust is in effect.

use jiff::Timestamp;

use crate::plan::{Output, TrustAction, TrustPlan};
use crate::report::{self, ExitStatus, Reporter};
use crate::transport::Transport;
use crate::trust::{self, Shown, Updated};
use crate::Error;

pub fn run(plan: TrustPlan, output: Output) -> Result<ExitStatus, Error> {
    let now = Timestamp::now();
    match plan.action {
        TrustAction::Update { as_of } => {
            let as_of = as_of.as_deref().map(|t| trust::parse_as_of(t, now)).transpose()?;
            let transport = Transport::new(&plan.transport)?;
            let report = trust::update(&plan.config, &transport, as_of)?;
            let mut reporter = Reporter::new(output.format);
            reporter.record(&Updated { report, now });
            Ok(reporter.finish("trust"))
        }
        TrustAction::Show => {
            let loaded = trust::load(&plan.config)?;
            let mut reporter = Reporter::new(output.format);
            reporter.record(&Shown { config: &plan.config, loaded: &loaded, now });
            for warning in &loaded.warnings {
                report::warn(warning);
            }
            Ok(reporter.finish("trust"))
        }
    }
}
