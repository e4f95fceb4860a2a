#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets into fuzz/corpus/<target>/.

Seeds are the real formats: the Sigstore vectors under ../shared/testvectors (read
from there, never copied into the repository), the built-in catalog, and small samples
generated here in each upstream's layout. Usage: fuzz-seeds.py [TESTVECTORS_DIR]
"""

import gzip
import hashlib
import io
import json
import os
import pathlib
import struct
import sys
import tarfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "fuzz" / "corpus"
# Files gpg made once, shared with the unit tests of src/signature/openpgp.rs.
TESTDATA = ROOT / "src" / "signature" / "testdata"
VECTORS = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ROOT.parent / "shared" / "testvectors")
SHA = lambda b: hashlib.sha256(b).digest()
H256 = lambda b: hashlib.sha256(b).hexdigest()
H512 = lambda b: hashlib.sha512(b).hexdigest()


def put(target, name, data):
    d = OUT / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data if isinstance(data, bytes) else data.encode())


def checksums():
    a, b = H256(b"a"), H512(b"b")
    samples = {
        0: f"{a}  kubelet\n{a}  kubectl\n",  # SHA256SUMS
        1: f"{b}  bin/linux/amd64/kubelet\n{b}  /workspace/src/k8s.io/kubernetes/_output/release-tars/gcs-stage/v1.28.0/bin/linux/amd64/kubectl\n",
        2: b,  # kubelet.sha512: bare, no newline
        3: a + "\n",
        4: f"-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n{a}  runc.amd64\n- {a}  runc.arm64\n-----BEGIN PGP SIGNATURE-----\n\niQIz\n-----END PGP SIGNATURE-----\n",
        5: f"# comment\r\n\r\n{a} *containerd-1.7.13-linux-amd64.tar.gz\r\nSHA256 (helm.tar.gz) = {a}\nSHA512 (x) = {b}\n\\{a}  back\\\\slash\\nname\n",
        6: "d41d8cd98f00b204e9800998ecf8427e  x\n",
        7: "da39a3ee5e6b4b0d3255bfef95601890afd80709  x\n",
    }
    for pick, text in samples.items():
        put("checksums", f"seed-{pick}", bytes([pick]) + text.encode())
    put("checksums", "seed-conflict", b"\x05" + f"{a}  x\n{H256(b'z')}  x\n".encode())


def detached_and_bundles():
    d = VECTORS / "detached-fulcio"
    if not d.is_dir():
        print(f"warning: no test vectors at {VECTORS}; signature seeds skipped", file=sys.stderr)
        return
    atxt = (d / "a.txt").read_bytes()
    pairs = [("v0.1", "v0.1"), ("v0.3", "v0.3"), ("v0.1", "v0.3")]
    for s, c in pairs:
        sig = (d / f"a.txt.{s}.sig").read_bytes()
        cert = (d / f"a.txt.{c}.cert").read_bytes()
        put("detached", f"pair-{s}-{c}", SHA(atxt) + struct.pack("<H", len(sig)) + sig + cert)
        # a bare PEM .cert is accepted too
        import base64
        pem = base64.b64decode(b"".join(cert.split()))
        put("detached", f"pem-{s}-{c}", SHA(atxt) + struct.pack("<H", len(sig)) + sig + pem)
    cases = VECTORS / "sigstore-conformance" / "bundle-verify"
    shared_a = (cases / "a.txt").read_bytes()
    intoto_lines = []
    for case in sorted(cases.iterdir()):
        bundle = case / "bundle.sigstore.json"
        if not bundle.is_file():
            continue
        artifact = (case / "artifact").read_bytes() if (case / "artifact").is_file() else shared_a
        raw = bundle.read_bytes()
        put("bundle", case.name, SHA(artifact) + raw)
        try:
            line = json.dumps(json.loads(raw), separators=(",", ":")).encode()
        except ValueError:
            continue
        if b"dsseEnvelope" in line:
            intoto_lines.append((case.name, SHA(artifact), line))
    for name, sha, line in intoto_lines:
        put("intoto_jsonl", name, sha + bytes([5]) + b"a.txt" + line + b"\n")
    if intoto_lines:
        _, sha, first = intoto_lines[0]
        body = b"\n".join(l for _, _, l in intoto_lines) + b"\n"
        put("intoto_jsonl", "all-lines", sha + bytes([5]) + b"a.txt" + body)
    rekor = VECTORS / "rekor-v1"
    for f in sorted(rekor.rglob("*.json")):
        raw = f.read_bytes()
        put("rekor_answer", f.name, raw)
        put("rekor_answer", "list-" + f.name, b"[" + raw + b"]")


def locks():
    a, b = H256(b"a"), H512(b"a")
    put("lock", "simple", f'''version = 1
catalog = "sha256:0123456789abcdef"

[[artifact]]
component = "kubelet"
version = "v1.29.0"
platform = "linux/amd64"
url = "https://dl.k8s.io/release/v1.29.0/bin/linux/amd64/kubelet"
file = "kubelet"
sha256 = "{a}"
sha512 = "{b}"
checksums = ["https://dl.k8s.io/release/v1.29.0/bin/linux/amd64/kubelet.sha256"]

[artifact.signature]
kind = "cosign-detached"
identity = "krel-staging@k8s-releng-prod.iam.gserviceaccount.com"
issuer = "https://accounts.google.com"
tlog = true
signed_at = "2024-03-19T17:26:26Z"
bundle = '{{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"}}'
''')
    put("lock", "archive", f'''version = 1
catalog = "sha256:0123456789abcdef"

[[artifact]]
component = "etcd"
version = "v3.5.12"
platform = "linux/arm64"
url = "https://github.com/etcd-io/etcd/releases/download/v3.5.12/etcd-v3.5.12-linux-arm64.tar.gz"
file = "etcd-v3.5.12-linux-arm64.tar.gz"
sha256 = "{a}"
checksums = ["https://github.com/etcd-io/etcd/releases/download/v3.5.12/SHA256SUMS"]

[[artifact.file-in-archive]]
name = "etcd"
sha256 = "{a}"
sha512 = "{b}"
''')
    put("lock", "future", 'version = 2\ncatalog = "x"\n')


def catalogs():
    for f in sorted((ROOT / "manifests" / "catalog").glob("*.toml")):
        put("catalog", f.name, f.read_bytes())


def sboms():
    k = b"kubelet bytes"
    put("sbom", "release", f"""SPDXVersion: SPDX-2.3
DataLicense: CC0-1.0
SPDXID: SPDXRef-DOCUMENT
DocumentName: kubernetes-release
DocumentNamespace: https://sbom.k8s.io/v1.29.0/release

##### Package: kubernetes

PackageName: kubernetes
SPDXID: SPDXRef-Package-kubernetes
PackageComment: <text>FileName: bin/linux/amd64/evil
FileChecksum: SHA256: {H256(b'evil')}
</text>

FileName: ./bin/linux/amd64/kubelet\r
SPDXID: SPDXRef-File-kubelet\r
FileChecksum: SHA1: da39a3ee5e6b4b0d3255bfef95601890afd80709\r
FileChecksum: SHA256: {H256(k)}\r
FileChecksum: SHA512: {H512(k)}\r

FileName: /bin/linux/arm64/kubectl
FileChecksum: SHA256: {H256(b'kubectl')}
Relationship: SPDXRef-DOCUMENT DESCRIBES SPDXRef-Package-kubernetes
""")
    put("sbom", "conflict", f"DocumentNamespace: https://sbom.k8s.io/v1.28.0/release\nFileName: x\nFileChecksum: SHA256: {H256(b'1')}\nFileChecksum: SHA256: {H256(b'2')}\n")


def tar(entries, fmt=tarfile.GNU_FORMAT):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as t:
        for name, kind, data in entries:
            info = tarfile.TarInfo(name)
            info.mode = 0o755
            if kind == "file":
                info.size = len(data)
                t.addfile(info, io.BytesIO(data))
            else:
                info.type = kind
                if kind in (tarfile.SYMTYPE, tarfile.LNKTYPE):
                    info.linkname = data.decode()
                t.addfile(info)
    return buf.getvalue()


def archives():
    samples = {
        "etcd": [("etcd-v3.5.12-linux-amd64/", tarfile.DIRTYPE, b""), ("etcd-v3.5.12-linux-amd64/etcd", "file", b"\x7fELF etcd"),
                 ("etcd-v3.5.12-linux-amd64/README.md", "file", b"# etcd")],
        "containerd": [("bin/", tarfile.DIRTYPE, b""), ("bin/containerd", "file", b"\x7fELF c"), ("bin/ctr", "file", b"\x7fELF ctr"),
                       ("./bin/etcdctl", "file", b"x")],
        "cni": [("./", tarfile.DIRTYPE, b""), ("./bridge", "file", b"\x7fELF b"), ("./host-local", "file", b"\x7fELF h")],
        "dotdot": [("bin/../../etc/passwd", "file", b"root::0:0")],
        "absolute": [("/usr/bin/kubelet", "file", b"x")],
        "symlink": [("bin/", tarfile.DIRTYPE, b""), ("bin/ctr", tarfile.SYMTYPE, b"/etc/shadow")],
        "hardlink": [("bin/a", "file", b"a"), ("bin/b", tarfile.LNKTYPE, b"bin/a")],
        "device": [("bin/null", tarfile.CHRTYPE, b"")],
        "fifo": [("bin/fifo", tarfile.FIFOTYPE, b"")],
        "duplicate": [("bin/ctr", "file", b"1"), ("./bin/ctr", "file", b"2")],
        "longname": [("bin/" + "x" * 200, "file", b"long")],
    }
    for name, entries in samples.items():
        raw = tar(entries)
        put("archive", f"{name}-tar", b"\x00" + raw)
        put("archive", f"{name}-tgz", b"\x01" + gzip.compress(raw, mtime=0))
    pax = tar([("bin/" + "ü" * 120, "file", b"pax")], fmt=tarfile.PAX_FORMAT)
    put("archive", "pax-tar", b"\x00" + pax)


# Made once with gpg by the fuzz target's key (src/signature/testdata/gpg-signer.asc, whose
# secret half was thrown away): runc's clear-signed runc.sha256sum and helm's detached
# .sha256sum.asc, both signed 2025-06-01, byte for byte as gpg wrote them.
PGP_RUNC_SHA256SUM = (TESTDATA / "runc.sha256sum").read_text()
PGP_HELM_ASC = (TESTDATA / "helm.sha256sum.asc").read_text()
PGP_HELM_SHA256SUM = "e1c38137db8d8777eed8813646b59bf4d22d19b9011ab11dc28e2e34f6b80a05  helm-v3.14.1-linux-amd64.tar.gz\n"


def units():
    # The shapes of the real files: containerd's containerd.service, kubeadm's
    # 10-kubeadm.conf drop-in, and the tricks of SECURITY.md's unit rows.
    containerd = (
        "[Unit]\nDescription=containerd container runtime\nAfter=network.target local-fs.target\n\n"
        "[Service]\nExecStartPre=-/sbin/modprobe overlay\nExecStart=/usr/local/bin/containerd\n"
        "Type=notify\nDelegate=yes\nKillMode=process\nRestart=always\n\n[Install]\nWantedBy=multi-user.target\n"
    )
    kubeadm = (
        "[Service]\nEnvironment=\"KUBELET_KUBECONFIG_ARGS=--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf\"\n"
        "EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env\nEnvironmentFile=-/etc/default/kubelet\n"
        "ExecStart=\nExecStart=/usr/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS \\\n  $KUBELET_EXTRA_ARGS\n"
    )
    tricks = [
        "[Service]\nExecStart='/opt/evil/kubelet'\n",
        "[Service]\nExecStart=/opt/evil/kube\\x6cet\n",
        "[Service]\nExecStart=@-:+!!/usr/bin/kubelet kubelet --v=2 ; /bin/true\n",
        "[Service]\nExecStart=/usr/bin/env -i PATH=/opt/evil kubelet\n",
        "[Service]\nExecStart=/opt/%H/kubelet\nExecStart=|kubelet\n",
        "[Service]\nExecStart=/usr/bin/kubelet \\\n# a comment inside\n  --v=2\r\nExecStartPost=kubelet\0\n",
        "[Service]\nBogus line\nExecStart=\nExecStart=/usr/bin/kubelet\n",
    ]
    put("units", "containerd.service", b"\x00" + containerd.encode())
    put("units", "10-kubeadm.conf", b"\x01" + kubeadm.encode())
    for i, text in enumerate(tricks):
        put("units", f"trick-{i}", bytes([i % 6]) + text.encode() + b"\xff")


def openpgp():
    runc = PGP_RUNC_SHA256SUM.encode()
    put("openpgp", "runc-clearsigned", b"\x00" + runc)
    put("openpgp", "runc-crlf", b"\x00" + runc.replace(b"\n", b"\r\n"))
    put("openpgp", "runc-blank-lines-around", b"\x00\n \n" + runc + b"\n\n")
    put("openpgp", "runc-unsigned", b"\x00" + runc[runc.index(b"\n\n") + 2 : runc.index(b"-----BEGIN PGP SIGNATURE")])
    put("openpgp", "runc-two-blocks", b"\x00" + runc + runc)
    asc, sums = PGP_HELM_ASC.encode(), PGP_HELM_SHA256SUM.encode()
    put("openpgp", "helm-detached", b"\x01" + struct.pack("<H", len(asc)) + asc + sums)
    put("openpgp", "helm-detached-tampered", b"\x01" + struct.pack("<H", len(asc)) + asc + sums.replace(b"helm", b"helm2"))


if __name__ == "__main__":
    checksums()
    detached_and_bundles()
    locks()
    catalogs()
    sboms()
    archives()
    openpgp()
    units()
    for d in sorted(OUT.iterdir()):
        print(f"{d.name}: {len(list(d.iterdir()))} seeds")
