//! manifests/deploy: the DaemonSet and Job that audit nodes see the host read-only and
//! nothing else, and the ConfigMap carries a lock kverify reads.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("manifests/deploy")
}

/// Every document of every YAML file, with its file name.
fn documents() -> Vec<(String, Value)> {
    let mut docs = Vec::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(deploy_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    files.sort();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        for de in serde_yaml::Deserializer::from_str(&text) {
            let yaml = serde_yaml::Value::deserialize(de).unwrap_or_else(|e| panic!("{name}: {e}"));
            if !yaml.is_null() {
                docs.push((name.clone(), serde_json::to_value(yaml).unwrap()));
            }
        }
    }
    docs
}

fn of_kind<'a>(docs: &'a [(String, Value)], kind: &str) -> Vec<&'a Value> {
    docs.iter().filter(|(_, d)| d["kind"] == kind).map(|(_, d)| d).collect()
}

fn workloads(docs: &[(String, Value)]) -> Vec<&Value> {
    docs.iter().filter(|(_, d)| d["kind"] == "DaemonSet" || d["kind"] == "Job").map(|(_, d)| d).collect()
}

/// Every container of a pod spec, init containers included.
fn containers(pod: &Value) -> Vec<&Value> {
    let mut all = Vec::new();
    for key in ["initContainers", "containers"] {
        all.extend(pod[key].as_array().into_iter().flatten());
    }
    all
}

fn name(doc: &Value) -> String {
    format!("{}/{}", doc["kind"].as_str().unwrap_or("?"), doc["metadata"]["name"].as_str().unwrap_or("?"))
}

#[test]
fn there_is_a_daemonset_a_job_a_configmap_and_their_namespace() {
    let docs = documents();
    for kind in ["Namespace", "ConfigMap", "DaemonSet", "Job"] {
        assert_eq!(of_kind(&docs, kind).len(), 1, "one {kind} in manifests/deploy");
    }
    let namespace = of_kind(&docs, "Namespace")[0]["metadata"]["name"].clone();
    for (file, doc) in &docs {
        if doc["kind"] != "Namespace" {
            assert_eq!(doc["metadata"]["namespace"], namespace, "{file}: {}", name(doc));
        }
    }
}

#[test]
fn the_host_is_mounted_read_only_and_passed_as_root() {
    let docs = documents();
    for w in workloads(&docs) {
        let pod = &w["spec"]["template"]["spec"];
        let host_volumes: Vec<&Value> =
            pod["volumes"].as_array().unwrap().iter().filter(|v| v.get("hostPath").is_some()).collect();
        assert_eq!(host_volumes.len(), 1, "{}: one hostPath volume", name(w));
        assert_eq!(host_volumes[0]["hostPath"]["path"], "/", "{}", name(w));
        let host = host_volumes[0]["name"].as_str().unwrap();
        let mut audits = 0;
        for c in containers(pod) {
            for m in c["volumeMounts"].as_array().into_iter().flatten() {
                if m["name"] != host {
                    continue;
                }
                assert_eq!(m["readOnly"], true, "{}: {} mounts the host writable", name(w), c["name"]);
                assert!(
                    ["IfPossible", "Enabled"].contains(&m["recursiveReadOnly"].as_str().unwrap_or_default()),
                    "{}: mounts below / must be read-only too",
                    name(w)
                );
                assert!(m.get("mountPropagation").is_none_or(|p| p == "None"), "{}", name(w));
                let args: Vec<&str> = c["args"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()).collect();
                assert_eq!(args[0], "node", "{}", name(w));
                let root = args.iter().position(|a| *a == "--root").map(|i| args[i + 1]);
                assert_eq!(root, m["mountPath"].as_str(), "{}: --root is the host mount", name(w));
                assert!(args.contains(&"--json"), "{}: logs feed pipelines", name(w));
                audits += 1;
            }
        }
        assert_eq!(audits, 1, "{}: one container audits the host", name(w));
    }
}

#[test]
fn pods_are_locked_down() {
    let docs = documents();
    for w in workloads(&docs) {
        let pod = &w["spec"]["template"]["spec"];
        let n = name(w);
        assert_eq!(pod["automountServiceAccountToken"], false, "{n}: no service-account token");
        for key in ["hostNetwork", "hostPID", "hostIPC"] {
            assert_ne!(pod[key], true, "{n}: {key}");
        }
        assert_eq!(pod["securityContext"]["seccompProfile"]["type"], "RuntimeDefault", "{n}");
        assert_eq!(pod["securityContext"]["runAsNonRoot"], true, "{n}");
        assert!(pod["securityContext"]["runAsUser"].as_u64().is_some_and(|u| u != 0), "{n}: a non-root uid");
        for c in containers(pod) {
            let cn = format!("{n} container {}", c["name"]);
            let sc = &c["securityContext"];
            assert_ne!(sc["privileged"], true, "{cn}: privileged");
            assert_eq!(sc["allowPrivilegeEscalation"], false, "{cn}");
            assert_eq!(sc["readOnlyRootFilesystem"], true, "{cn}");
            assert_eq!(sc["capabilities"]["drop"], serde_json::json!(["ALL"]), "{cn}: drop ALL capabilities");
            assert!(sc["capabilities"].get("add").is_none(), "{cn}: adds capabilities");
            assert_eq!(sc["seccompProfile"]["type"], "RuntimeDefault", "{cn}");
            assert_ne!(sc["runAsNonRoot"], false, "{cn}");
            assert_ne!(sc["runAsUser"], 0, "{cn}");
            for bound in ["requests", "limits"] {
                for resource in ["cpu", "memory"] {
                    assert!(c["resources"][bound][resource].is_string(), "{cn}: {bound}.{resource}");
                }
            }
            let image = c["image"].as_str().unwrap();
            let tag = image.rsplit('/').next().unwrap().split_once(':').map(|(_, t)| t);
            assert!(tag.is_some_and(|t| t != "latest"), "{cn}: image {image} needs a fixed tag");
        }
    }
}

#[test]
fn the_daemonset_runs_on_every_node_and_the_job_once() {
    let docs = documents();
    let ds = of_kind(&docs, "DaemonSet")[0];
    let tolerations = ds["spec"]["template"]["spec"]["tolerations"].as_array().unwrap();
    let tolerates = |key: &str, effect: &str| {
        tolerations.iter().any(|t| {
            let key_ok = t.get("key").is_none_or(|k| k == key);
            let effect_ok = t.get("effect").is_none_or(|e| e == effect);
            let op_ok = t["operator"] == "Exists";
            key_ok && effect_ok && op_ok
        })
    };
    assert!(tolerates("node-role.kubernetes.io/control-plane", "NoSchedule"), "control plane: {tolerations:?}");
    assert!(tolerates("node.kubernetes.io/not-ready", "NoExecute"));
    // A failed audit is never Ready: a one-by-one rollout would stop at it.
    assert_eq!(ds["spec"]["updateStrategy"]["rollingUpdate"]["maxUnavailable"], "100%");
    let env = &containers(&ds["spec"]["template"]["spec"])[0]["env"][0];
    assert_eq!(
        (env["name"].as_str(), env["valueFrom"]["fieldRef"]["fieldPath"].as_str()),
        (Some("KVERIFY_NODE_NAME"), Some("spec.nodeName"))
    );

    let job = of_kind(&docs, "Job")[0];
    assert_eq!(job["spec"]["backoffLimit"], 0);
    assert_eq!(job["spec"]["template"]["spec"]["restartPolicy"], "Never");
}

#[test]
fn the_configmap_carries_a_lock_that_kverify_reads_where_the_audit_looks() {
    let docs = documents();
    let cm = of_kind(&docs, "ConfigMap")[0];
    let data = cm["data"].as_object().unwrap();
    assert_eq!(data.len(), 1);
    let (file, text) = data.iter().next().unwrap();
    kverify::lock::Lock::parse(Path::new(file), text.as_str().unwrap()).unwrap();
    for w in workloads(&docs) {
        let pod = &w["spec"]["template"]["spec"];
        let volume =
            pod["volumes"].as_array().unwrap().iter().find(|v| v["configMap"]["name"] == cm["metadata"]["name"]);
        let volume = volume.unwrap_or_else(|| panic!("{} mounts no ConfigMap {}", name(w), cm["metadata"]["name"]));
        let audit = containers(pod).into_iter().find(|c| c["args"][0] == "node").unwrap();
        let mount = audit["volumeMounts"].as_array().unwrap().iter().find(|m| m["name"] == volume["name"]).unwrap();
        assert_eq!(mount["readOnly"], true);
        let args: Vec<&str> = audit["args"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()).collect();
        let lock = args.iter().position(|a| *a == "--lock").map(|i| args[i + 1]);
        assert_eq!(lock, Some(format!("{}/{file}", mount["mountPath"].as_str().unwrap()).as_str()), "{}", name(w));
    }
}

#[test]
fn the_image_is_a_static_binary_on_a_minimal_base_as_non_root() {
    let text = std::fs::read_to_string(deploy_dir().join("Dockerfile")).unwrap();
    // FROM lines as a user's plain `docker build` sees them: global ARGs at their defaults
    // (the binary's source and the base are build arguments, for scripts/container-check.sh).
    let defaults: Vec<(String, &str)> = text
        .lines()
        .take_while(|l| !l.starts_with("FROM "))
        .filter_map(|l| l.strip_prefix("ARG ")?.split_once('='))
        .map(|(name, value)| (format!("${{{name}}}"), value))
        .collect();
    let froms: Vec<String> = text
        .lines()
        .filter(|l| l.starts_with("FROM "))
        .map(|l| defaults.iter().fold(l.to_string(), |l, (arg, value)| l.replace(arg, value)))
        .collect();
    assert!(froms.iter().all(|f| !f.contains('$')), "an ARG without a default: {froms:?}");
    let last = froms.last().unwrap();
    assert!(last.contains("distroless/static"), "{last}");
    assert!(froms[0].contains("alpine") || text.contains("musl"), "a musl (static) build: {froms:?}");
    assert!(froms.contains(&"FROM build AS binary".to_string()), "the default binary is built here: {froms:?}");
    let user = text.lines().rfind(|l| l.starts_with("USER ")).unwrap();
    assert!(!user.contains(" 0") && !user.contains("root"), "{user}");
    assert!(text.contains("cargo build --release --locked"));
    assert!(text.contains("ENTRYPOINT [\"/usr/local/bin/kverify\"]"));
}
