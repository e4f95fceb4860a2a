//! `kverify fetch`: download, verify, and only then install.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::archive;
use crate::catalog::Artifact;
use crate::install::{self, Destination, Placement};
use crate::plan::{FetchPlan, Output};
use crate::progress::{self, Progress};
use crate::release::{Downloaded, LockSource, Upstream};
use crate::report::{ExitStatus, Outcome, Reporter};
use crate::Error;

/// How many artifacts download at once.
const PARALLEL: usize = 4;

pub fn run(plan: FetchPlan, output: Output) -> Result<ExitStatus, Error> {
    let upstream = Upstream::new(&plan.upstream)?;
    let dest = Destination::open(plan.dest)?;
    let lock = plan.lock.as_ref().map(|(path, locked)| LockSource::load(path, *locked)).transpose()?;
    // Resolve everything first: a typo in the third target fails before any download.
    let mut artifacts: Vec<Artifact> = Vec::new();
    for request in &plan.requests {
        let artifact = upstream.resolve(&request.component, &request.version)?;
        if !artifacts.contains(&artifact) {
            artifacts.push(artifact);
        }
    }
    refuse_collisions(&dest, &artifacts, plan.keep_archive)?;
    let progress = progress::for_output(output.silent, output.no_bars);
    let job = Job {
        upstream: &upstream,
        dest: &dest,
        keep_archive: plan.keep_archive,
        lock: lock.as_ref(),
        progress: progress.as_ref(),
    };

    let reporter = Mutex::new(Reporter::new(output.format));
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..PARALLEL.min(artifacts.len()) {
            scope.spawn(|| {
                while let Some(artifact) = artifacts.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let outcome = job.fetch(artifact);
                    if let Ok(mut r) = reporter.lock() {
                        r.record(&outcome);
                    }
                }
            });
        }
    });
    let reporter = reporter.into_inner().map_err(|_| Error::Internal("a download thread panicked".into()))?;
    Ok(reporter.finish("artifacts verified"))
}

/// Two artifacts of one run that would install under one name (two versions of
/// kubelet, two CNI plugin archives) are refused before any download: the second would
/// silently replace the first, and both would report "installed".
fn refuse_collisions(dest: &Destination, artifacts: &[Artifact], keep_archive: bool) -> Result<(), Error> {
    let mut claimed: HashMap<String, &Artifact> = HashMap::new();
    for artifact in artifacts {
        let placement = dest.placement(artifact, keep_archive);
        let names = placement.names().unwrap_or_else(|| vec![format!("the binaries of {}", artifact.component)]);
        for name in names {
            if let Some(first) = claimed.insert(name.clone(), artifact) {
                return Err(Error::usage_hint(
                    format!(
                        "{} and {} would both install {name} into {}",
                        first.label(),
                        artifact.label(),
                        dest.dir().display()
                    ),
                    "fetch each into its own --dest",
                ));
            }
        }
    }
    Ok(())
}

struct Job<'a> {
    upstream: &'a Upstream,
    dest: &'a Destination,
    keep_archive: bool,
    lock: Option<&'a LockSource>,
    progress: &'a dyn Progress,
}

impl Job<'_> {
    /// Fetches one artifact; every failure becomes the outcome's status and message.
    fn fetch(&self, artifact: &Artifact) -> Outcome {
        let mut outcome = Outcome::of(artifact);
        if let Err(e) = self.try_fetch(artifact, &mut outcome) {
            outcome.failed(&e);
        }
        outcome
    }

    fn try_fetch(&self, artifact: &Artifact, outcome: &mut Outcome) -> Result<(), Error> {
        let placement = self.dest.placement(artifact, self.keep_archive);
        // Evidence first: small files, and a missing one stops before the big download.
        let evidence = self.upstream.evidence(artifact, self.lock)?;
        outcome.url = Some(evidence.url.clone());
        outcome.evidence.checksum = Some(evidence.origins());
        outcome.evidence.pin = evidence.pinned_in.as_ref().map(|p| p.display().to_string());

        self.dest.check(&placement)?;
        if let Placement::File { path, mode } = &placement {
            if let Some(existing) = install::Existing::open(path)? {
                if let Some((digests, check)) = self.upstream.already_verified(artifact, &existing, &evidence)? {
                    existing.set_mode(*mode)?;
                    outcome.signature(&check);
                    outcome.digests = digests;
                    outcome.path = Some(path.clone());
                    outcome.message = Some("already installed; nothing downloaded".into());
                    return Ok(());
                }
            }
        }

        // A lock that pins an archive's binaries: when they are all here, no download.
        if let Placement::Extract { mode, .. } = &placement {
            if let Some(found) = self.upstream.binaries_already_installed(&evidence, self.dest.dir())? {
                let mut names = Vec::new();
                for (name, existing) in found {
                    existing.set_mode(*mode)?;
                    names.push(name);
                }
                let check = self.upstream.check_signature(artifact, &evidence.signature, &outcome.digests)?;
                outcome.signature(&check);
                outcome.path = Some(self.dest.dir().to_path_buf());
                outcome.message = Some(format!("already installed: {}; nothing downloaded", names.join(", ")));
                return Ok(());
            }
        }

        let downloaded = self.upstream.download(artifact, &evidence, self.dest.dir(), self.progress, outcome)?;
        let Downloaded::Verified(verified) = downloaded else { return Ok(()) };
        let verified = *verified;
        let from = if verified.from_cache { " from the cache (nothing downloaded)" } else { "" };
        match placement {
            Placement::File { path, mode } => {
                install::install(verified, &path, mode)?;
                outcome.path = Some(path);
                outcome.message = Some(format!("installed{from}"));
            }
            Placement::Extract { layout, mode } => {
                let binaries =
                    archive::extract(&verified, &artifact.file_name, layout, &artifact.foreign_names, self.dest.dir())?;
                let names =
                    self.dest.install_all(binaries.into_iter().map(|b| (b.name, b.verified)).collect(), mode)?;
                outcome.path = Some(self.dest.dir().to_path_buf());
                outcome.message = Some(format!("installed {} from {}{from}", names.join(", "), artifact.file_name));
            }
        }
        Ok(())
    }
}
