//! `kverify lock`: pin what the upstream publishes now, and `--check` for drift.

use std::path::Path;

use crate::lock::Lock;
use crate::plan::{LockPlan, Output};
use crate::progress::{self, Progress};
use crate::release::Upstream;
use crate::report::{self, ExitStatus, Format, Outcome, Reporter, Status};
use crate::Error;

pub fn run(plan: LockPlan, output: Output) -> Result<ExitStatus, Error> {
    let upstream = Upstream::new(&plan.upstream)?;
    let progress = progress::for_output(output.silent, output.no_bars);
    if plan.check {
        return check(&upstream, &plan.output, progress.as_ref(), output.format);
    }
    // Resolve everything first: a typo fails before any download.
    let mut artifacts = Vec::new();
    for request in &plan.requests {
        for platform in &plan.platforms {
            artifacts.push(upstream.resolve_for(&request.component, &request.version, platform)?);
        }
    }
    // An existing lock keeps its other pins; the ones asked for are replaced.
    let mut lock = match std::fs::metadata(&plan.output) {
        Ok(_) => Lock::load(&plan.output)?,
        Err(_) => Lock::new(upstream.catalog.fingerprint().to_string()),
    };
    lock.catalog = upstream.catalog.fingerprint().to_string();
    let mut reporter = Reporter::new(output.format);
    for artifact in &artifacts {
        let mut outcome = Outcome::of(artifact);
        match upstream.pin(artifact, plan.rekor.as_deref(), progress.as_ref(), &mut outcome) {
            Ok(Some(pin)) => {
                outcome.message = Some(format!("pinned in {}", plan.output.display()));
                lock.put(pin);
            }
            Ok(None) => {}
            Err(e) => outcome.failed(&e),
        }
        reporter.record(&outcome);
    }
    let counts = reporter.tally();
    if counts.of(Status::Fail) + counts.of(Status::Error) == 0 {
        lock.save(&plan.output)?;
    } else {
        report::warn(&format!("{} not written: not every artifact verified", plan.output.display()));
    }
    Ok(reporter.finish("artifacts pinned"))
}

/// Re-resolves every pin of the lock and reports any digest that changed upstream.
fn check(upstream: &Upstream, path: &Path, progress: &dyn Progress, format: Format) -> Result<ExitStatus, Error> {
    let lock = Lock::load(path)?;
    let mut reporter = Reporter::new(format);
    for old in &lock.artifacts {
        let s = &old.subject;
        let artifact = upstream.catalog.resolve(&s.component, &s.version, &s.platform)?;
        let mut outcome = Outcome::of(&artifact);
        match upstream.pin(&artifact, None, progress, &mut outcome) {
            Ok(Some(new)) => {
                let drift = Lock::drift(old, &new);
                if drift.is_empty() {
                    outcome.message = Some(format!("unchanged since {}", path.display()));
                } else {
                    outcome.status = Status::Fail;
                    outcome.message = Some(format!("changed upstream since {} was written", path.display()));
                    outcome.mismatches = drift;
                }
            }
            Ok(None) => {}
            Err(e) => outcome.failed(&e),
        }
        reporter.record(&outcome);
    }
    Ok(reporter.finish("pins unchanged"))
}
