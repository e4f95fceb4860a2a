#!/usr/bin/env python3
"""The parts of scripts/container-check.sh that read YAML, JSON, tar and /proc.

    pod-flags MANIFEST --host-root DIR --lock-dir DIR --node NAME --image IMAGE
        The `docker run` arguments that run MANIFEST's audit container (the one that
        mounts the hostPath volume) as the kubelet would: one argument per line, flags,
        then the image, then the container's args. The mapping goes to stderr. Any
        setting this does not know how to map is an error (exit 2): the check must not
        drift from the manifest silently.
    configmap-dir MANIFEST CONFIGMAPS --key-file KEY=PATH --out DIR [--fifo]
        The ConfigMap volume of MANIFEST laid out as the kubelet writes it
        (..TIMESTAMP/KEY, ..data -> ..TIMESTAMP, KEY -> ..data/KEY) with KEY's bytes from
        PATH, after checking that KEY is a key of the ConfigMap the volume names.
        --fifo: each KEY a named pipe instead (the script writes it later).
    findings FILE EXPECTED-JSON
        The audit's --json lines against the expected findings, exactly.
    image SAVED-TAR DOCKERFILE --out DIR
        The image (`docker save`) against the Dockerfile's last stage: user, entrypoint,
        and exactly the files it copies; the binary extracted to DIR/kverify.
    process PID --expect-json JSON
        A running container process's credentials, capabilities, seccomp, mounts and
        network namespace, from /proc, against what the manifest asks.
    snapshot DIR
        Every entry under DIR: path, type, mode, owner, size, mtime, ctime, link target,
        sha256 of the bytes. Two equal snapshots: nothing was written.
"""

import argparse
import hashlib
import io
import json
import os
import stat
import sys
import tarfile
import time

try:
    import yaml
except ImportError:  # the script installs it; say so if run alone
    sys.exit("container-check.py: needs PyYAML (pip install pyyaml)")


class Unmapped(Exception):
    """A manifest setting with no faithful `docker run` equivalent here."""


def load_docs(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d]


def workload(path):
    docs = [d for d in load_docs(path) if d.get("kind") in ("DaemonSet", "Job")]
    if len(docs) != 1:
        raise Unmapped(f"{path}: expected one DaemonSet or Job, found {len(docs)}")
    return docs[0]


def check_keys(where, obj, known):
    unknown = sorted(set(obj) - set(known))
    if unknown:
        raise Unmapped(f"{where}: {', '.join(unknown)}: not mapped to docker run (extend scripts/container-check.py)")


def audit_container(pod):
    """The one container that mounts a hostPath volume, and that volume."""
    host_volumes = {v["name"]: v for v in pod.get("volumes", []) if "hostPath" in v}
    found = []
    for key in ("initContainers", "containers"):
        for c in pod.get(key, []) or []:
            for m in c.get("volumeMounts", []) or []:
                if m["name"] in host_volumes:
                    found.append(c)
                    break
    if len(found) != 1:
        raise Unmapped(f"expected one container mounting the host, found {len(found)}")
    return found[0]


# Pod-level keys that decide where and when the pod runs, not what its container can
# do once running: nothing to map.
SCHEDULING = {"tolerations", "nodeName", "nodeSelector", "affinity", "restartPolicy",
              "priorityClassName", "terminationGracePeriodSeconds"}
POD_KEYS = SCHEDULING | {"automountServiceAccountToken", "enableServiceLinks", "hostNetwork",
                         "hostPID", "hostIPC", "securityContext", "initContainers", "containers",
                         "volumes"}
POD_SC_KEYS = {"runAsNonRoot", "runAsUser", "runAsGroup", "seccompProfile", "supplementalGroups"}
CONTAINER_KEYS = {"name", "image", "imagePullPolicy", "args", "env", "securityContext",
                  "resources", "volumeMounts"}
CONTAINER_SC_KEYS = {"privileged", "allowPrivilegeEscalation", "readOnlyRootFilesystem",
                     "runAsNonRoot", "runAsUser", "runAsGroup", "capabilities", "seccompProfile"}
MOUNT_KEYS = {"name", "mountPath", "readOnly", "recursiveReadOnly", "mountPropagation"}


def cpu_millis(q):
    q = str(q)
    return int(q[:-1]) if q.endswith("m") else int(float(q) * 1000)


def memory_bytes(q):
    q = str(q)
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "K": 10**3, "M": 10**6, "G": 10**9}
    for suffix, factor in units.items():
        if q.endswith(suffix):
            return int(q[: -len(suffix)]) * factor
    return int(q)


def pod_flags(manifest, host_root, lock_dir, node, image):
    """([docker run args], [(setting, mapping)], facts) for MANIFEST's audit container."""
    w = workload(manifest)
    name = f"{w['kind']}/{w['metadata']['name']}"
    pod = w["spec"]["template"]["spec"]
    check_keys(f"{name} pod spec", pod, POD_KEYS)
    c = audit_container(pod)
    cname = f"{name} container {c['name']}"
    check_keys(cname, c, CONTAINER_KEYS)
    flags, notes = [], []

    def note(setting, mapping):
        notes.append((setting, mapping))

    for key in sorted(SCHEDULING & set(pod)):
        note(f"pod.{key}", "scheduling only: nothing to map")
    if pod.get("automountServiceAccountToken") is not False:
        raise Unmapped(f"{name}: a service-account token would be mounted: not mapped")
    note("pod.automountServiceAccountToken: false", "no token mounted (docker mounts none)")
    if pod.get("enableServiceLinks") is not False:
        raise Unmapped(f"{name}: enableServiceLinks adds Service variables: not mapped")
    note("pod.enableServiceLinks: false", "no Service variables (docker sets none)")
    if pod.get("hostNetwork"):
        raise Unmapped(f"{name}: hostNetwork: true is not what the check runs")
    flags += ["--network", "none"]
    note("pod.hostNetwork: false", "--network none (stricter than a pod's network: the audit needs none)")
    for key in ("hostPID", "hostIPC"):
        if pod.get(key):
            raise Unmapped(f"{name}: {key}: true is not what the check runs")
    note("pod.hostPID: false", "own PID namespace (docker's default)")
    flags += ["--ipc", "private"]
    note("pod.hostIPC: false", "--ipc private")

    psc = pod.get("securityContext", {}) or {}
    check_keys(f"{name} pod securityContext", psc, POD_SC_KEYS)
    csc = c.get("securityContext", {}) or {}
    check_keys(f"{cname} securityContext", csc, CONTAINER_SC_KEYS)

    def effective(key):
        return csc[key] if key in csc else psc.get(key)

    uid, gid = effective("runAsUser"), effective("runAsGroup")
    if uid is None or gid is None:
        raise Unmapped(f"{cname}: runAsUser and runAsGroup must be set (the check runs what the manifest says)")
    if effective("runAsNonRoot") and uid == 0:
        raise Unmapped(f"{cname}: runAsNonRoot with runAsUser 0: the kubelet would refuse to start it")
    flags += ["--user", f"{uid}:{gid}"]
    note(f"runAsUser: {uid}, runAsGroup: {gid}", f"--user {uid}:{gid}")
    if effective("runAsNonRoot"):
        note("runAsNonRoot: true", f"checked: uid {uid} is not 0")
    for g in psc.get("supplementalGroups", []) or []:
        flags += ["--group-add", str(g)]
        note(f"supplementalGroups: {g}", f"--group-add {g}")

    if csc.get("privileged"):
        raise Unmapped(f"{cname}: privileged: true is not what the check runs")
    note("privileged: false", "no --privileged")
    if csc.get("allowPrivilegeEscalation") is False:
        flags += ["--security-opt", "no-new-privileges"]
        note("allowPrivilegeEscalation: false", "--security-opt no-new-privileges")
    if csc.get("readOnlyRootFilesystem"):
        flags += ["--read-only"]
        note("readOnlyRootFilesystem: true", "--read-only")
    caps = csc.get("capabilities", {}) or {}
    check_keys(f"{cname} capabilities", caps, {"drop", "add"})
    for cap in caps.get("drop", []) or []:
        flags += ["--cap-drop", cap]
        note(f"capabilities.drop: {cap}", f"--cap-drop {cap}")
    for cap in caps.get("add", []) or []:
        flags += ["--cap-add", cap]
        note(f"capabilities.add: {cap}", f"--cap-add {cap}")
    seccomp = (effective("seccompProfile") or {}).get("type")
    if seccomp != "RuntimeDefault":
        raise Unmapped(f"{cname}: seccompProfile {seccomp!r}: only RuntimeDefault is mapped")
    note("seccompProfile: RuntimeDefault", "docker's default seccomp profile (no --security-opt seccomp=...)")

    env = []
    for e in c.get("env", []) or []:
        if "value" in e:
            env.append((e["name"], str(e["value"])))
        elif e.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") == "spec.nodeName":
            env.append((e["name"], node))
        else:
            raise Unmapped(f"{cname}: env {e['name']}: only values and spec.nodeName are mapped")
    for k, v in env:
        flags += ["--env", f"{k}={v}"]
        note(f"env {k}", f"--env {k}={v}")

    res = c.get("resources", {}) or {}
    check_keys(f"{cname} resources", res, {"requests", "limits"})
    check_keys(f"{cname} limits", res.get("limits", {}) or {}, {"cpu", "memory"})
    check_keys(f"{cname} requests", res.get("requests", {}) or {}, {"cpu", "memory"})
    limits, requests = res.get("limits", {}) or {}, res.get("requests", {}) or {}
    if "cpu" in limits:
        cpus = cpu_millis(limits["cpu"]) / 1000
        flags += ["--cpus", f"{cpus:g}"]
        note(f"limits.cpu: {limits['cpu']}", f"--cpus {cpus:g}")
    if "memory" in limits:
        flags += ["--memory", str(memory_bytes(limits["memory"]))]
        note(f"limits.memory: {limits['memory']}", f"--memory {memory_bytes(limits['memory'])}")
    if "cpu" in requests:
        # What the kubelet does with a CPU request: cgroup shares, 1024 per CPU.
        shares = max(2, cpu_millis(requests["cpu"]) * 1024 // 1000)
        flags += ["--cpu-shares", str(shares)]
        note(f"requests.cpu: {requests['cpu']}", f"--cpu-shares {shares}")
    if "memory" in requests:
        note(f"requests.memory: {requests['memory']}", "scheduling only: nothing to map")

    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    mounts = {}
    for m in c.get("volumeMounts", []) or []:
        check_keys(f"{cname} volumeMount {m['name']}", m, MOUNT_KEYS)
        v = volumes[m["name"]]
        if "hostPath" in v:
            if v["hostPath"].get("path") != "/":
                raise Unmapped(f"{cname}: hostPath {v['hostPath'].get('path')}: only / is mapped (to the fixture root)")
            source, what = host_root, "the fixture host root"
        elif "configMap" in v:
            source, what = lock_dir, f"ConfigMap {v['configMap']['name']} laid out as the kubelet does"
        else:
            raise Unmapped(f"{cname}: volume {m['name']}: only hostPath and configMap are mapped")
        if m.get("mountPropagation", "None") != "None":
            raise Unmapped(f"{cname}: mountPropagation {m['mountPropagation']}: not mapped")
        spec = f"type=bind,source={source},target={m['mountPath']}"
        if m.get("readOnly"):
            spec += ",readonly"
        rro = m.get("recursiveReadOnly", "Disabled")
        if rro not in ("Disabled", "IfPossible"):
            raise Unmapped(f"{cname}: recursiveReadOnly {rro}: not mapped (Docker 20.10 has no recursive read-only bind)")
        flags += ["--mount", spec]
        note(f"volumeMount {m['name']} at {m['mountPath']}, readOnly: {bool(m.get('readOnly'))}",
             f"--mount {spec} ({what})")
        if rro == "IfPossible":
            note(f"volumeMount {m['name']} recursiveReadOnly: IfPossible",
                 "nothing: the fixture root has no mounts below it")
        mounts[m["mountPath"]] = bool(m.get("readOnly"))

    policy = c.get("imagePullPolicy", "IfNotPresent")
    if policy not in ("IfNotPresent", "Never"):
        raise Unmapped(f"{cname}: imagePullPolicy {policy}: the check has no registry")
    flags += ["--pull", "never"]
    note(f"image {c['image']}, imagePullPolicy: {policy}", f"{image} (built here), --pull never")

    args = [str(a) for a in c.get("args", [])]
    note("args", " ".join(args))
    facts = {"uid": uid, "gid": gid, "mounts": mounts, "root_read_only": bool(csc.get("readOnlyRootFilesystem")),
             "no_new_privs": csc.get("allowPrivilegeEscalation") is False,
             "caps_dropped_all": "ALL" in (caps.get("drop") or []) and not caps.get("add"), "network": "none"}
    return flags + [image] + args, notes, facts


def cmd_pod_flags(a):
    argv, notes, facts = pod_flags(a.manifest, a.host_root, a.lock_dir, a.node, a.image)
    if a.facts:
        with open(a.facts, "w") as f:
            json.dump(facts, f)
    if not a.quiet:
        width = min(44, max(len(s) for s, _ in notes))
        for setting, mapping in notes:
            print(f"  {setting:<{width}}  ->  {mapping}", file=sys.stderr)
    print("\n".join(argv))


def cmd_configmap_dir(a):
    w = workload(a.manifest)
    pod = w["spec"]["template"]["spec"]
    c = audit_container(pod)
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    cms = [volumes[m["name"]]["configMap"] for m in c.get("volumeMounts", []) if "configMap" in volumes[m["name"]]]
    if len(cms) != 1:
        raise Unmapped(f"expected one ConfigMap volume on the audit container, found {len(cms)}")
    check_keys("configMap volume", cms[0], {"name"})  # no items/defaultMode: every key, 0644
    configmaps = [d for d in load_docs(a.configmaps) if d.get("kind") == "ConfigMap"]
    cm = [d for d in configmaps if d["metadata"]["name"] == cms[0]["name"]]
    if len(cm) != 1:
        raise Unmapped(f"{a.configmaps}: no ConfigMap named {cms[0]['name']}")
    keys = dict(kv.split("=", 1) for kv in a.key_file)
    if set(keys) != set(cm[0].get("data", {})):
        raise Unmapped(f"ConfigMap {cms[0]['name']} has keys {sorted(cm[0].get('data', {}))}, given {sorted(keys)}")
    # The kubelet's atomic writer: a timestamped directory, ..data pointing at it, and one
    # link per key through ..data; files 0644 (defaultMode).
    stamp = ".." + time.strftime("%Y_%m_%d_%H_%M_%S", time.gmtime()) + ".000000001"
    os.makedirs(os.path.join(a.out, stamp))
    os.chmod(a.out, 0o755)
    for key, src in keys.items():
        dst = os.path.join(a.out, stamp, key)
        if a.fifo:
            os.mkfifo(dst, 0o644)
        else:
            with open(src, "rb") as f, open(dst, "wb") as g:
                g.write(f.read())
        os.chmod(dst, 0o644)
    os.chmod(os.path.join(a.out, stamp), 0o755)
    os.symlink(stamp, os.path.join(a.out, "..data"))
    for key in keys:
        os.symlink(os.path.join("..data", key), os.path.join(a.out, key))
    print(os.path.join(a.out, stamp))


def cmd_findings(a):
    with open(a.file) as f:
        lines = [line for line in f.read().splitlines() if line.strip()]
    rows = []
    for n, line in enumerate(lines, 1):
        try:
            rows.append(json.loads(line))
        except ValueError:
            sys.exit(f"{a.file}:{n}: not a JSON line: {line[:200]}")
    with open(a.expected) as f:
        want = json.load(f)
    node, sha = want["node"], want.get("sha256", {})
    errors = []
    for r in rows:
        if r.get("node") != node:
            errors.append(f"node {r.get('node')!r}, wanted {node!r}: {r}")
        if (r.get("path") or "").startswith("/host"):
            errors.append(f"a host path seen from the container: {r['path']}")
    key = ("status", "severity", "check", "reason", "path", "name")
    got = sorted(tuple(r.get(k) for k in key) for r in rows)
    exp = sorted(tuple(e.get(k) for k in key) for e in want["findings"])
    if got != exp:
        errors.append("findings differ (status, severity, check, reason, path, name):\n"
                      + "".join(f"    - {e}\n" for e in exp if e not in got)
                      + "".join(f"    + {g}\n" for g in got if g not in exp))
    for e in want["findings"]:
        match = [r for r in rows if all(r.get(k) == e.get(k) for k in key)]
        for r in match:
            for k in ("component", "version", "platform"):
                if k in e and r.get(k) != e[k]:
                    errors.append(f"{e['path']} {e['check']}: {k} {r.get(k)!r}, wanted {e[k]!r}")
            if "found_by" in e and e["found_by"] not in (r.get("evidence") or {}).get("found_by", []):
                errors.append(f"{e['path']}: found_by {r['evidence'].get('found_by')}, wanted {e['found_by']!r} in it")
            if r["check"] == "digest" and r["path"] in sha and r["status"] in ("ok", "fail"):
                if (r.get("digests") or {}).get("sha256") != sha[r["path"]]:
                    errors.append(f"{r['path']}: sha256 {r.get('digests')}, the file's is {sha[r['path']]}")
    if errors:
        sys.exit("\n".join(errors))
    print(f"{len(rows)} findings as expected")


def cmd_image(a):
    """The saved image against the Dockerfile's last stage."""
    with open(a.dockerfile) as f:
        lines = [ln.strip() for ln in f if ln.strip() and not ln.lstrip().startswith("#")]
    last = max(i for i, ln in enumerate(lines) if ln.startswith("FROM "))
    stage = lines[last + 1:]
    want_user = [ln.split(None, 1)[1] for ln in stage if ln.startswith("USER ")][-1]
    want_entry = json.loads([ln.split(None, 1)[1] for ln in stage if ln.startswith("ENTRYPOINT ")][-1])
    copies = [ln.split()[-1] for ln in stage if ln.startswith("COPY ")]
    others = [ln.split()[0] for ln in stage if ln.split()[0] not in ("COPY", "USER", "ENTRYPOINT")]
    errors = []
    if others:
        errors.append(f"the Dockerfile's last stage has {others}: the check knows COPY, USER, ENTRYPOINT")
    with tarfile.open(a.saved) as t:
        manifest = json.load(t.extractfile("manifest.json"))[0]
        config = json.load(t.extractfile(manifest["Config"]))["config"]
        files = {}
        for layer in manifest["Layers"]:
            with tarfile.open(fileobj=io.BytesIO(t.extractfile(layer).read())) as lt:
                for m in lt.getmembers():
                    files["/" + m.name.rstrip("/")] = (m, lt.extractfile(m).read() if m.isfile() else None)
    if config.get("User") != want_user:
        errors.append(f"image user {config.get('User')!r}, the Dockerfile says {want_user!r}")
    if config.get("Entrypoint") != want_entry:
        errors.append(f"image entrypoint {config.get('Entrypoint')}, the Dockerfile says {want_entry}")
    regular = sorted(p for p, (m, _) in files.items() if not m.isdir())
    if regular != sorted(copies):
        errors.append(f"files in the image {regular}, the Dockerfile copies {sorted(copies)}")
    for p in copies:
        if p in files:
            m, data = files[p]
            if (m.uid, m.gid, m.mode & 0o7777) != (0, 0, 0o755):
                errors.append(f"{p}: uid {m.uid} gid {m.gid} mode {m.mode & 0o7777:04o}, wanted root's, 0755")
    if errors:
        sys.exit("\n".join(errors))
    m, data = files[want_entry[0]]
    out = os.path.join(a.out, "kverify")
    with open(out, "wb") as f:
        f.write(data)
    os.chmod(out, 0o755)
    print(f"user {want_user}, entrypoint {want_entry}, files {regular} ({len(data)} bytes)")


def cmd_process(a):
    want = json.loads(a.expect_json)
    base = f"/proc/{a.pid}"
    status = dict(ln.split(":", 1) for ln in open(f"{base}/status").read().splitlines() if ":" in ln)
    status = {k: v.strip() for k, v in status.items()}
    errors, seen = [], []

    def expect(what, got, ok):
        seen.append(f"{what}={got}")
        if not ok:
            errors.append(f"{what}: {got}")

    uids, gids = status["Uid"].split(), status["Gid"].split()
    expect("uid (real, effective, saved, fs)", " ".join(uids), uids == [str(want["uid"])] * 4)
    expect("gid (real, effective, saved, fs)", " ".join(gids), gids == [str(want["gid"])] * 4)
    groups = status.get("Groups", "").split()
    expect("supplementary groups", groups or "none", "0" not in groups)
    if want["caps_dropped_all"]:
        for k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
            expect(k, status[k], int(status[k], 16) == 0)
    if want["no_new_privs"]:
        expect("NoNewPrivs", status["NoNewPrivs"], status["NoNewPrivs"] == "1")
    expect("Seccomp (2: filter)", status["Seccomp"], status["Seccomp"] == "2")
    opts = {}
    for ln in open(f"{base}/mountinfo").read().splitlines():
        fields = ln.split()
        opts[fields[4]] = set(fields[5].split(","))  # mount point -> per-mount options; last wins
    if want["root_read_only"]:
        expect("/ mount", ",".join(sorted(opts["/"])), "ro" in opts["/"])
    for path, ro in want["mounts"].items():
        o = opts.get(path, set())
        expect(f"{path} mount", ",".join(sorted(o)) or "absent", bool(o) and (("ro" in o) == ro))
    if want["network"] == "none":
        ifaces = [ln.split(":")[0].strip() for ln in open(f"{base}/net/dev").read().splitlines()[2:]]
        expect("network interfaces", ",".join(ifaces), ifaces == ["lo"])
    for s in seen:
        print(f"    {s}")
    if errors:
        sys.exit("not as the manifest says: " + "; ".join(errors))


def cmd_snapshot(a):
    root = a.dir
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(dirnames + filenames) + ([""] if dirpath == root else []):
            p = os.path.join(dirpath, name) if name else dirpath
            st = os.lstat(p)
            line = (f"{os.path.relpath(p, root)} {stat.filemode(st.st_mode)} {st.st_uid}:{st.st_gid} "
                    f"{st.st_size} {st.st_mtime_ns} {st.st_ctime_ns}")
            if stat.S_ISLNK(st.st_mode):
                line += " -> " + os.readlink(p)
            elif stat.S_ISREG(st.st_mode):
                with open(p, "rb") as f:
                    line += " sha256:" + hashlib.sha256(f.read()).hexdigest()
            out.append(line)
    print("\n".join(out))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("pod-flags")
    s.add_argument("manifest")
    for flag in ("--host-root", "--lock-dir", "--node", "--image"):
        s.add_argument(flag, required=True)
    s.add_argument("--facts")
    s.add_argument("--quiet", action="store_true")
    s = sub.add_parser("configmap-dir")
    s.add_argument("manifest")
    s.add_argument("configmaps")
    s.add_argument("--key-file", action="append", required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--fifo", action="store_true")
    s = sub.add_parser("findings")
    s.add_argument("file")
    s.add_argument("expected")
    s = sub.add_parser("image")
    s.add_argument("saved")
    s.add_argument("dockerfile")
    s.add_argument("--out", required=True)
    s = sub.add_parser("process")
    s.add_argument("pid")
    s.add_argument("--expect-json", required=True)
    s = sub.add_parser("snapshot")
    s.add_argument("dir")
    a = p.parse_args()
    try:
        globals()["cmd_" + a.cmd.replace("-", "_")](a)
    except Unmapped as e:
        print(f"container-check: {e}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
