//! `kverify identify`: which release artifact is this file?

use std::path::PathBuf;

use crate::checksums;
use crate::cli::IdentifyArgs;
use crate::digest::{hash_files, AlgorithmSet};
use crate::expect::Expected;
use crate::lock::Lock;
use crate::report::{ExitStatus, Format, Outcome, Reporter, Status};
use crate::Error;

use super::verify::read_capped;

pub fn run(args: IdentifyArgs, format: Format) -> Result<ExitStatus, Error> {
    let mut known: Vec<Expected> = Vec::new();
    for path in &args.lock {
        known.extend(Lock::load(path)?.expectations(path));
    }
    for path in &args.checksums {
        let bytes = read_capped(path, checksums::MAX_FILE_LEN)?;
        let file = checksums::parse(&path.display().to_string(), &bytes)?;
        let mut x = crate::expect::Expectations::default();
        x.add_checksum_file(&file);
        known.extend(x.entries);
    }
    if known.is_empty() {
        return Err(Error::usage_hint("nothing to identify against", "give --lock FILE or --checksums FILE"));
    }
    let jobs: Vec<(PathBuf, AlgorithmSet)> = args.files.iter().map(|f| (f.clone(), AlgorithmSet::BOTH)).collect();
    let mut reporter = Reporter::new(format);
    for ((path, _), result) in jobs.iter().zip(hash_files(&jobs)) {
        let mut outcome = Outcome::new(Status::Ok);
        outcome.path = Some(path.clone());
        match result {
            Err(e) => {
                outcome.status = Status::Error;
                outcome.message = Some(format!("cannot read: {e}"));
            }
            Ok((digests, _)) => {
                let hits: Vec<&Expected> =
                    known.iter().filter(|e| digests.get(e.digest.algorithm()) == Some(&e.digest)).collect();
                match hits.first() {
                    None => {
                        outcome.status = Status::Fail;
                        outcome.message = Some("matches no artifact the sources know".into());
                    }
                    Some(hit) => {
                        if let Some(label) = &hit.label {
                            outcome.component = Some(label.component.clone());
                            outcome.version = Some(label.version.clone());
                            outcome.platform = Some(label.platform.clone());
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
