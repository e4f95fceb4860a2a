#!/usr/bin/env python3
"""Soak: many fetches of many artifacts through a faulty local server, in parallel,
then an audit. Run by scripts/soak.sh; only ever talks to 127.0.0.1.

usage: soak.py KVERIFY FETCHES PARALLEL SECONDS SEED

The audit holds kverify to DESIGN.md section 6:
- a watcher hashes every file that appears or changes under a destination name while
  the fetches run: each must be a verified artifact (a digest the upstream published);
- after the run: no `.kverify-*.partial` file is left, every destination file is a
  verified artifact, and the binary installed before the soak is still there;
- every exit code is explained by the faults that fetch met: 0 installs the right
  bytes; 1 (tampering) needs a fault that changes the bytes; 3 (network) needs a
  network fault.
"""
import collections, concurrent.futures, hashlib, io, json, os, random, shutil, subprocess, sys, tarfile
import tempfile, threading, time

kverify, fetches, parallel, seconds, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
here = os.path.dirname(os.path.abspath(__file__))
rng = random.Random(seed)
work = tempfile.mkdtemp(prefix="kverify-soak-")
root, dests_root = os.path.join(work, "upstream"), os.path.join(work, "dest")
good = collections.defaultdict(set)  # installed name -> sha256 hexes that verify
artifacts = []  # (component, version, installed names)


def write(rel, data):
    p = os.path.join(root, rel)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "wb") as f:
        f.write(data)


def blob(n):
    return rng.randbytes(n)


# Kubernetes binaries (no signature before v1.26), etcd and containerd archives.
for version in ["1.25.0", "1.25.1", "1.25.2"]:
    for name in ["kubectl", "kubelet", "kubeadm", "kube-proxy"]:
        data = blob(rng.randrange(256 << 10, 3 << 20))
        rel = f"dl.k8s.io/release/v{version}/bin/linux/amd64/{name}"
        write(rel, data)
        write(rel + ".sha256", hashlib.sha256(data).hexdigest().encode())
        write(rel + ".sha512", hashlib.sha512(data).hexdigest().encode())
        good[name].add(hashlib.sha256(data).hexdigest())
        artifacts.append((name, "v" + version, [name]))


def tgz(entries):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        for name, data in entries:
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o755
            t.addfile(info, io.BytesIO(data))
            good[name.rsplit("/", 1)[-1]].add(hashlib.sha256(data).hexdigest())
    return buf.getvalue()


for version in ["3.5.10", "3.5.11"]:
    d = f"etcd-v{version}-linux-amd64"
    tar = tgz([(f"{d}/{b}", blob(rng.randrange(64 << 10, 1 << 20))) for b in ["etcd", "etcdctl", "etcdutl"]] + [(f"{d}/README.md", b"# etcd\n")])
    rel = f"github.com/etcd-io/etcd/releases/download/v{version}"
    write(f"{rel}/{d}.tar.gz", tar)
    write(f"{rel}/SHA256SUMS", f"{hashlib.sha256(tar).hexdigest()}  {d}.tar.gz\n{hashlib.sha256(b'x').hexdigest()}  other.zip\n".encode())
    artifacts.append(("etcd", "v" + version, ["etcd", "etcdctl", "etcdutl"]))
for version in ["1.7.13", "1.7.14"]:
    name = f"containerd-{version}-linux-amd64.tar.gz"
    tar = tgz([(f"bin/{b}", blob(rng.randrange(64 << 10, 1 << 20))) for b in ["containerd", "ctr", "containerd-shim-runc-v2"]])
    rel = f"github.com/containerd/containerd/releases/download/v{version}"
    write(f"{rel}/{name}", tar)
    write(f"{rel}/{name}.sha256sum", f"{hashlib.sha256(tar).hexdigest()}  {name}\n".encode())
    artifacts.append(("containerd", "v" + version, ["containerd", "ctr", "containerd-shim-runc-v2"]))

# Destinations, each holding a verified kubectl before the soak (never to be lost).
dests = []
for i in range(6):
    d = os.path.join(dests_root, f"d{i}")
    os.makedirs(d)
    shutil.copy(os.path.join(root, "dl.k8s.io/release/v1.25.0/bin/linux/amd64/kubectl"), os.path.join(d, "kubectl"))
    os.chmod(os.path.join(d, "kubectl"), 0o755)
    dests.append(d)

portfile, logfile = os.path.join(work, "port"), os.path.join(work, "faults.jsonl")
server = subprocess.Popen([sys.executable, os.path.join(here, "soak_server.py"), root, portfile, logfile, str(seconds + 60), str(seed)])
for _ in range(100):
    if os.path.exists(portfile):
        break
    time.sleep(0.1)
port = open(portfile).read().strip()

violations = []
seen = {}  # path -> (ino, mtime_ns, size) already checked
stop = threading.Event()
watch_checks = 0


def sha256_file(p):
    h = hashlib.sha256()
    with open(p, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def check_dest(final=False):
    global watch_checks
    for d in dests:
        for name in os.listdir(d):
            p = os.path.join(d, name)
            if name.startswith(".kverify-") and name.endswith(".partial"):
                if final:
                    violations.append(f"left behind: {p}")
                continue
            try:
                st = os.lstat(p)
            except FileNotFoundError:
                continue
            key = (st.st_ino, st.st_mtime_ns, st.st_size)
            if seen.get(p) == key and not final:
                continue
            seen[p] = key
            try:
                digest = sha256_file(p)
            except FileNotFoundError:
                continue
            watch_checks += 1
            if digest not in good.get(name, ()):
                violations.append(f"unverified bytes under a destination name: {p} sha256:{digest}")


def watcher():
    while not stop.is_set():
        check_dest()
        time.sleep(0.02)


plan = [(rng.choice(artifacts), rng.choice(dests)) for _ in range(fetches)]


def one(i):
    (component, version, names), dest = plan[i]
    base = f"http://127.0.0.1:{port}/c{i}"
    cmd = [kverify, "fetch", component, version, "--dest", dest, "--os", "linux", "--arch", "amd64", "--no-progress",
           "--mirror", f"https://dl.k8s.io={base}/dl.k8s.io", "--mirror", f"https://github.com={base}/github.com"]
    env = dict(os.environ, KVERIFY_TIMEOUT="3")
    t0 = time.time()
    try:
        p = subprocess.run(cmd, env=env, capture_output=True, timeout=120)
        rc, err = p.returncode, p.stderr.decode(errors="replace")
    except subprocess.TimeoutExpired:
        rc, err = "timeout", ""
    return {"i": i, "component": component, "version": version, "names": names, "dest": dest, "rc": rc,
            "stderr": err[-600:], "seconds": time.time() - t0}


w = threading.Thread(target=watcher, daemon=True)
w.start()
started = time.time()
results = []
with concurrent.futures.ThreadPoolExecutor(parallel) as pool:
    pending = set()
    i = 0
    while i < fetches or pending:
        while i < fetches and len(pending) < parallel * 2 and time.time() - started < seconds:
            pending.add(pool.submit(one, i))
            i += 1
        if time.time() - started >= seconds:
            fetches = i  # out of time: submit no more
        done, pending = concurrent.futures.wait(pending, return_when=concurrent.futures.FIRST_COMPLETED)
        results.extend(f.result() for f in done)
elapsed = time.time() - started
stop.set()
w.join()
check_dest(final=True)
server.terminate()
server.wait()

# Explain each exit code by the faults its fetch met.
faults = collections.defaultdict(list)
fault_counts = collections.Counter()
for line in open(logfile):
    e = json.loads(line)
    faults[int(e["client"])].append(e["fault"])
    fault_counts[e["fault"]] += 1
TAMPER = {"corrupt", "html200", "html404", "eof"}
NETWORK = {"truncate", "reset", "reset-mid", "500", "503", "stall", "slow"}
codes = collections.Counter()
unexplained = []
for r in results:
    codes[r["rc"]] += 1
    met = set(faults[r["i"]])
    if r["rc"] == 0:
        for n in r["names"]:
            p = os.path.join(r["dest"], n)
            if not os.path.exists(p):
                violations.append(f"fetch {r['i']} exit 0 but {p} is missing")
    elif r["rc"] == 1 and not met & TAMPER:
        unexplained.append(f"fetch {r['i']} ({r['component']} {r['version']}) exit 1 with only {sorted(met)}: {r['stderr'].strip().splitlines()[-3:]}")
    elif r["rc"] == 3 and not met & (NETWORK | {"eof"}):
        unexplained.append(f"fetch {r['i']} ({r['component']} {r['version']}) exit 3 with only {sorted(met)}: {r['stderr'].strip().splitlines()[-3:]}")
    elif r["rc"] not in (0, 1, 3):
        unexplained.append(f"fetch {r['i']} exit {r['rc']}: {r['stderr'].strip()[-300:]}")
for d in dests:
    if not os.path.exists(os.path.join(d, "kubectl")):
        violations.append(f"the kubectl installed before the soak is gone from {d}")

print(f"soak: {len(results)} fetches of {len(artifacts)} artifacts into {len(dests)} shared destinations, "
      f"{parallel} at a time, {elapsed:.0f} s, seed {seed}")
print(f"requests: {sum(fault_counts.values())}; faults drawn: " + ", ".join(f"{k} {v}" for k, v in fault_counts.most_common()))
print("exit codes: " + ", ".join(f"{k}: {v}" for k, v in sorted(codes.items(), key=str)))
print(f"destination files hashed while fetches ran: {watch_checks}")
print(f"violations (unverified bytes, leftovers, lost binaries): {len(violations)}")
for v in violations[:20]:
    print("  " + v)
print(f"exit codes not explained by the faults met: {len(unexplained)}")
for u in unexplained[:20]:
    print("  " + u)
if not violations:
    shutil.rmtree(work)
else:
    print(f"kept for inspection: {work}")
sys.exit(1 if violations else 0)
