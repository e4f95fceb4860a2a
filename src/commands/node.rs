//! `kverify node`: the binaries installed on a host against a lock or a release, and who
//! besides root could have replaced them.

use crate::node::{self, Pins, Root};
use crate::plan::{NodePlan, NodeSource, Output, ReleaseRequest};
use crate::release::Upstream;
use crate::report::{ExitStatus, Reporter};
use crate::version::Request;
use crate::Error;

pub fn run(plan: NodePlan, output: Output) -> Result<ExitStatus, Error> {
    let root = Root::open(&plan.root)?;
    let pins = match &plan.source {
        NodeSource::Lock(lock) => Pins::from_lock(lock, &plan.upstream.platform)?,
        NodeSource::Release(requests) => {
            let upstream = Upstream::new(&plan.upstream)?;
            let requests = release_requests(requests, &root)?;
            let for_every_file = false;
            Pins::from_release(upstream.release_expectations(&requests, for_every_file)?)?
        }
    };
    let mut reporter = Reporter::new(output.format);
    node::audit(&root, &pins, &mut reporter);
    Ok(reporter.finish(&plan.root.display().to_string()))
}

/// The releases `--release` names: `C@V`, or a Kubernetes version for every Kubernetes
/// binary installed.
fn release_requests(requests: &[ReleaseRequest], root: &Root) -> Result<Vec<Request>, Error> {
    let mut out = Vec::new();
    for request in requests {
        match request {
            ReleaseRequest::Named(r) => out.push(r.clone()),
            ReleaseRequest::Version(version) => {
                let installed = node::installed_kubernetes_binaries(root);
                if installed.is_empty() {
                    return Err(Error::usage_hint(
                        format!(
                            "--release {version}: no Kubernetes binary is installed under {}",
                            root.dir().display()
                        ),
                        "name the component: --release containerd@v1.7.13",
                    ));
                }
                out.extend(installed.into_iter().map(|component| Request { component, version: version.clone() }));
            }
        }
    }
    Ok(out)
}
