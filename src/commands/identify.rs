//! `kverify identify`: which release artifact is this file?

use std::path::PathBuf;

use crate::checksums;
use crate::digest::{hash_files, AlgorithmSet};
use crate::expect::{Expectations, Expected};
use crate::lock::Lock;
use crate::plan::{IdentifyPlan, Output};
use crate::report::{ExitStatus, Outcome, Reporter, Status};
use crate::Error;

pub fn run(plan: IdentifyPlan, output: Output) -> Result<ExitStatus, Error> {
    let mut known: Vec<Expected> = Vec::new();
    for path in &plan.locks {
        known.extend(Lock::load(path)?.expectations(path));
    }
    for path in &plan.checksums {
        let mut x = Expectations::default();
        x.add_checksum_file(&checksums::read(path)?);
        known.extend(x.entries);
    }
    let jobs: Vec<(PathBuf, AlgorithmSet)> = plan.files.iter().map(|f| (f.clone(), AlgorithmSet::BOTH)).collect();
    let mut reporter = Reporter::new(output.format);
    for ((path, _), result) in jobs.iter().zip(hash_files(&jobs)) {
        let mut outcome = Outcome::new(Status::Ok);
        outcome.path = Some(path.clone());
        match result {
            Err(e) => {
                outcome.status = Status::Error;
                outcome.message = Some(format!("cannot read: {e}"));
            }
            Ok((digests, _)) => {
                let hits: Vec<&Expected> = known.iter().filter(|e| e.matches(&digests)).collect();
                match hits.first() {
                    None => {
                        outcome.status = Status::Fail;
                        outcome.message = Some("matches no artifact the sources know".into());
                    }
                    Some(hit) => {
                        if let Some(subject) = &hit.subject {
                            outcome.set_subject(subject);
                        }
                        let name = hit.name.as_deref().or(hit.sidecar_of.as_deref()).unwrap_or("the unnamed digest");
                        let mut origins: Vec<&str> = hits.iter().map(|h| h.origin.as_str()).collect();
                        origins.dedup();
                        outcome.message = Some(format!("is {name}"));
                        outcome.evidence.checksum = Some(origins.join(", "));
                        outcome.evidence.pin = hit.pinned_in.clone();
                    }
                }
                outcome.digests = digests;
            }
        }
        reporter.record(&outcome);
    }
    Ok(reporter.finish("files identified"))
}
