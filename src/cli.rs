//! The command line, as clap types only: doc comments here are the `--help` text. The
//! plan module lowers these into a validated plan before anything runs.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Download and verify Kubernetes, etcd and containerd binaries before you trust them.
///
/// kverify fetches release artifacts together with the checksums and signatures their
/// upstreams publish, hashes them in one streaming pass, and installs nothing that does
/// not verify. It also verifies binaries already on disk.
///
/// Exit codes: 0 verified; 1 verification failed (mismatch, bad or missing signature,
/// malformed evidence, nothing verified); 2 usage; 3 network or I/O error (retry later).
#[derive(Debug, Parser)]
#[command(name = "kverify", version, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    #[command(flatten)]
    pub output: OutputArgs,
}

/// Flags that shape what is printed, on every command.
#[derive(Debug, Args, Clone)]
pub struct OutputArgs {
    /// Print one JSON object per artifact or file, one per line, on stdout.
    #[arg(long, global = true)]
    pub json: bool,

    /// Print nothing but failures and errors; the exit code tells the rest.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Log what kverify does on stderr (repeat for more; or set KVERIFY_LOG=debug).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Never draw progress bars, even on a terminal.
    #[arg(long, global = true)]
    pub no_progress: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Download a release artifact, verify it, and install it only if it verifies.
    ///
    /// Checksum files are fetched first, then the artifact is streamed into a temporary
    /// file in the destination directory while SHA-256 and SHA-512 are computed; only when
    /// every published digest (and signature) matches is it made executable and renamed
    /// over the destination. On any failure the destination is left as it was.
    #[command(after_help = "\
Examples:
  kverify fetch kubelet v1.29.0 --dest /usr/local/bin
  kverify fetch kubelet@v1.29.0 kubectl@v1.29.0 etcd@v3.5.12 --dest /usr/local/bin
  kverify fetch kubectl stable --dest ~/bin
  kverify fetch kubelet v1.29.0 --lock kverify.lock --locked \\
      --mirror https://dl.k8s.io=file:///srv/mirror/dl.k8s.io")]
    Fetch(FetchArgs),

    /// Verify files already on disk against published checksums, a checksum file, a
    /// digest, a lock, or a signature.
    #[command(after_help = "\
Examples:
  kverify verify ./bin --checksums SHA256SUMS
  kverify verify /usr/local/bin/kubelet --release kubelet@v1.29.0
  kverify verify /usr/local/bin --lock kverify.lock
  kverify verify k1 k2 k3 --sha256 e1c38137db8d8777eed8813646b59bf4d22d19b9011ab11dc28e2e34f6b80a05
  kverify verify ./kubelet --signature kubelet.sig --certificate kubelet.cert \\
      --certificate-identity krel-staging@k8s-releng-prod.iam.gserviceaccount.com \\
      --certificate-oidc-issuer https://accounts.google.com")]
    Verify(VerifyArgs),

    /// Pin the digests of release artifacts in a lock file, for offline installs and audits.
    #[command(after_help = "\
Examples:
  kverify lock kubelet@v1.29.0 etcd@3.5.12 --platform linux/amd64 --platform linux/arm64 -o kverify.lock
  kverify lock --check -o kverify.lock")]
    Lock(LockArgs),

    /// Download and verify artifacts into an upstream-shaped tree for air-gapped sites.
    #[command(after_help = "\
Examples:
  kverify mirror kubelet@v1.29.0 kubectl@v1.29.0 --to /srv/mirror
  kverify fetch kubelet v1.29.0 --mirror https://dl.k8s.io=file:///srv/mirror/dl.k8s.io")]
    Mirror(MirrorArgs),

    /// Name the component, version and platform a file is, by its digest.
    #[command(after_help = "\
Examples:
  kverify identify ./mystery-binary --lock kverify.lock
  kverify identify ./a ./b --checksums SHA256SUMS")]
    Identify(IdentifyArgs),

    /// Audit the Kubernetes binaries installed on this host (or under --root).
    #[command(after_help = "\
Examples:
  kverify node --lock kverify.lock
  kverify node --lock kverify.lock --root /host --json
  kverify node --release v1.29.0")]
    Node(NodeArgs),

    /// List the components the catalog knows.
    Components(ComponentsArgs),

    /// Keep Sigstore's trusted root current through TUF, and show which trust is in
    /// effect.
    ///
    /// Keyless signatures (Kubernetes' .sig/.cert, Sigstore bundles) chain to the Fulcio
    /// CAs and logs of a Sigstore trusted_root.json. Sigstore rotates them; TUF delivers
    /// the new trusted root, signed, from a root.json pinned in kverify. Trust comes from,
    /// in order: --trusted-root FILE; the TUF cache (KVERIFY_TRUST_DIR, default
    /// ~/.cache/kverify/trust), re-verified on every use; the root built into kverify (the
    /// newer of cache and built-in wins).
    #[command(after_help = "\
Examples:
  kverify trust update
  kverify trust show --json
  kverify trust update --tuf-url file:///media/usb/tuf-repo-cdn.sigstore.dev \\
      --as-of 2026-11-28T00:00:00Z        (import a copy on an air-gapped site)")]
    Trust(TrustCommandArgs),

    /// The download cache: where it is, and emptying it.
    ///
    /// Artifacts that verified are kept under their SHA-256 in KVERIFY_CACHE_DIR (default
    /// $XDG_CACHE_HOME/kverify, else ~/.cache/kverify), with the partial downloads an
    /// interrupted run leaves for the next one to resume. A cached copy is hashed again
    /// and checked against the evidence before it is installed; it is never evidence.
    #[command(after_help = "\
Examples:
  kverify cache dir
  kverify cache clean
  kverify cache clean --older-than 30")]
    Cache(CacheArgs),

    /// Print a shell completion script.
    Completions {
        /// The shell to complete for.
        shell: clap_complete::Shell,
    },
}

/// Flags of every command that downloads or chooses a platform.
#[derive(Debug, Args, Clone)]
pub struct SourceArgs {
    /// Operating system of the artifacts (default: this host's).
    #[arg(long, value_name = "OS")]
    pub os: Option<String>,

    /// CPU architecture of the artifacts, as Kubernetes names it: amd64, arm64, s390x,
    /// ppc64le, arm, 386 (default: this host's).
    #[arg(long, value_name = "ARCH")]
    pub arch: Option<String>,

    /// A catalog file (TOML, as in manifests/catalog/) whose components add to or
    /// replace the built-in ones.
    #[arg(long, value_name = "FILE")]
    pub catalog: Vec<PathBuf>,

    #[command(flatten)]
    pub transport: TransportArgs,

    #[command(flatten)]
    pub signature: SignatureArgs,

    #[command(flatten)]
    pub trust: TrustArgs,
}

/// How kverify reaches the network: mirrors, timeouts, extra CAs, or not at all.
#[derive(Debug, Args, Clone)]
pub struct TransportArgs {
    /// Fetch from a mirror: every URL that starts with UPSTREAM is fetched from BASE
    /// instead (e.g. https://dl.k8s.io=https://mirror.internal/k8s, or a file:///srv/mirror
    /// base). Repeatable; KVERIFY_MIRROR takes a comma-separated list.
    #[arg(long, value_name = "UPSTREAM=BASE", env = "KVERIFY_MIRROR", value_delimiter = ',', global = true)]
    pub mirror: Vec<String>,

    /// Seconds to wait for a connection or for the next bytes of a download before
    /// giving up (then retried twice, with backoff).
    #[arg(long, value_name = "SECS", env = "KVERIFY_TIMEOUT", default_value_t = 30, global = true)]
    pub timeout: u64,

    /// Extra trusted CA certificate (PEM) for TLS to private mirrors.
    #[arg(long, value_name = "FILE", global = true)]
    pub ca_cert: Vec<PathBuf>,

    /// No network at all (KVERIFY_OFFLINE=1): what a lock, a mirror on disk, the cache
    /// or the trust cache can answer still works; what needs the network fails (exit 3).
    #[arg(long, env = "KVERIFY_OFFLINE", global = true, value_parser = clap::builder::BoolishValueParser::new())]
    pub offline: bool,

    /// Do not use the download cache (KVERIFY_NO_CACHE=1): every artifact is downloaded
    /// whole, nothing is kept for later runs, nothing is resumed.
    #[arg(long, env = "KVERIFY_NO_CACHE", global = true, value_parser = clap::builder::BoolishValueParser::new())]
    pub no_cache: bool,

    /// Seconds one download may take in all, connecting and retries included, before it
    /// ends with exit 3 (what arrived is kept for the next run to resume). Default: 60 +
    /// the artifact's size cap at 1 MiB/s (about 35 min for the 2 GiB default cap).
    #[arg(long, value_name = "SECS", env = "KVERIFY_DEADLINE", global = true)]
    pub deadline: Option<u64>,
}

/// Where Sigstore trust comes from through TUF, for every command that checks keyless
/// signatures.
#[derive(Debug, Args, Clone, Default)]
pub struct TrustArgs {
    /// The TUF repository that publishes Sigstore's trusted_root.json (default
    /// https://tuf-repo-cdn.sigstore.dev). Any copy of it works, an http(s) mirror or a
    /// file:// directory: TUF verifies what it serves. `off` never contacts a repository.
    #[arg(long, value_name = "URL", env = "KVERIFY_TUF_URL", global = true)]
    pub tuf_url: Option<String>,

    /// A TUF root.json to pin instead of the Sigstore one built into kverify (for a
    /// private Sigstore instance). The cache must have been made from the same root.
    #[arg(long, value_name = "FILE", global = true)]
    pub tuf_root: Option<PathBuf>,
}

/// Signature policy and identity flags.
#[derive(Debug, Args, Clone, Default)]
pub struct SignatureArgs {
    /// Fail artifacts whose upstream publishes no signature, too.
    #[arg(long, conflicts_with = "insecure_skip_signature")]
    pub require_signature: bool,

    /// Do not check signatures, even where the upstream publishes them; checksums are
    /// still verified and the report says the signature was skipped.
    #[arg(long)]
    pub insecure_skip_signature: bool,

    /// The signer identity the certificate must carry (SAN: e-mail or URI), exactly.
    /// Default for Kubernetes: krel-staging@k8s-releng-prod.iam.gserviceaccount.com.
    #[arg(long, value_name = "ID")]
    pub certificate_identity: Option<String>,

    /// A regular expression the signer identity must match instead of an exact value.
    #[arg(long, value_name = "REGEX", conflicts_with = "certificate_identity")]
    pub certificate_identity_regexp: Option<String>,

    /// The OIDC issuer the certificate must carry, exactly.
    /// Default for Kubernetes: https://accounts.google.com.
    #[arg(long, value_name = "URL")]
    pub certificate_oidc_issuer: Option<String>,

    /// A Sigstore trusted_root.json to use instead of the TUF cache and the built-in one.
    #[arg(long, value_name = "FILE")]
    pub trusted_root: Option<PathBuf>,

    /// An OpenPGP keyring (armored or binary) whose keys runc's and helm's signatures
    /// must be made by, instead of the upstream's keyring built into kverify (a private
    /// upstream, or a key rotation before a new kverify).
    #[arg(long, value_name = "FILE")]
    pub keyring: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct FetchArgs {
    /// What to fetch: `COMPONENT VERSION`, or one or more `COMPONENT@VERSION`.
    /// Versions may carry a leading `v` or not; Kubernetes accepts the markers
    /// stable, latest, stable-1.29 and latest-1.29.
    #[arg(required = true, value_name = "COMPONENT[@VERSION]")]
    pub targets: Vec<String>,

    /// Directory to install into (default: the current directory).
    #[arg(long, short = 'd', value_name = "DIR")]
    pub dest: Option<PathBuf>,

    /// Keep the verified archive instead of extracting its binaries.
    #[arg(long)]
    pub keep_archive: bool,

    /// Take the expected digests from this lock file instead of downloading checksums.
    #[arg(long, value_name = "FILE")]
    pub lock: Option<PathBuf>,

    /// With --lock: fail any artifact the lock does not pin.
    #[arg(long, requires = "lock")]
    pub locked: bool,

    #[command(flatten)]
    pub source: SourceArgs,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Files and directories to verify. Directories are walked recursively; symbolic
    /// links inside them are reported, not followed.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Verify against a release's published checksums: COMPONENT@VERSION, or just a
    /// VERSION to infer the component from each file's name.
    #[arg(long, value_name = "C@V", group = "source_kind")]
    pub release: Vec<String>,

    /// A checksum file in any supported format (sha256sum, BSD tag, bare hex, SHA256SUMS).
    #[arg(long, value_name = "FILE", group = "source_kind")]
    pub checksums: Vec<PathBuf>,

    /// The expected SHA-256, in hex. Every file given must match it.
    #[arg(long, value_name = "HEX", group = "source_kind")]
    pub sha256: Option<String>,

    /// The expected SHA-512, in hex. Every file given must match it.
    #[arg(long, value_name = "HEX", group = "source_kind")]
    pub sha512: Option<String>,

    /// Take the expected digests from this lock file.
    #[arg(long, value_name = "FILE", group = "source_kind")]
    pub lock: Option<PathBuf>,

    /// Check every digest the source lists, not just SHA-256 (the fastest here).
    #[arg(long)]
    pub all_digests: bool,

    /// A Sigstore bundle (.sigstore.json) to verify the file against.
    #[arg(long, value_name = "FILE", conflicts_with = "signature")]
    pub bundle: Option<PathBuf>,

    /// A cosign detached signature (base64 DER, as Kubernetes publishes `X.sig`).
    #[arg(long, value_name = "FILE", requires = "certificate")]
    pub signature: Option<PathBuf>,

    /// The certificate of a detached signature (base64 of PEM, as Kubernetes publishes `X.cert`).
    #[arg(long, value_name = "FILE", requires = "signature")]
    pub certificate: Option<PathBuf>,

    /// A PEM public key for bundles signed with a managed key instead of a certificate.
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,

    #[command(flatten)]
    pub source: SourceArgs,
}

#[derive(Debug, Args)]
pub struct LockArgs {
    /// Artifacts to pin, as COMPONENT@VERSION (none with --check).
    #[arg(value_name = "C@V", required_unless_present = "check")]
    pub targets: Vec<String>,

    /// Platforms to pin, as OS/ARCH (repeatable; default: --os/--arch or this host).
    #[arg(long, value_name = "OS/ARCH")]
    pub platform: Vec<String>,

    /// Where to write the lock.
    #[arg(short, long, value_name = "FILE", default_value = "kverify.lock")]
    pub output: PathBuf,

    /// Re-resolve every pin of the existing lock and report drift (exit 1 on any change).
    #[arg(long)]
    pub check: bool,

    #[command(flatten)]
    pub rekor: RekorArgs,

    #[command(flatten)]
    pub source: SourceArgs,
}

#[derive(Debug, Args)]
pub struct MirrorArgs {
    /// Artifacts to mirror, as COMPONENT@VERSION.
    #[arg(required = true, value_name = "C@V")]
    pub targets: Vec<String>,

    /// The mirror's root; files land at DIR/<upstream host>/<upstream path>.
    #[arg(long, value_name = "DIR")]
    pub to: PathBuf,

    #[command(flatten)]
    pub rekor: RekorArgs,

    #[command(flatten)]
    pub source: SourceArgs,
}

#[derive(Debug, Args)]
pub struct TrustCommandArgs {
    #[command(subcommand)]
    pub action: TrustAction,

    #[command(flatten)]
    pub transport: TransportArgs,

    #[command(flatten)]
    pub trust: TrustArgs,
}

#[derive(Debug, Subcommand)]
pub enum TrustAction {
    /// Refresh the cached trusted root from the TUF repository, and print what changed.
    ///
    /// Runs the whole TUF client workflow (root chain, timestamp, snapshot, targets, then
    /// the trusted_root.json target) and replaces the cache only when all of it verified:
    /// an expired timestamp, a rolled-back version, a target whose length or hash differs
    /// from its metadata, or a root rotation without both thresholds is exit 1 and leaves
    /// the cache exactly as it was. An unreachable repository is exit 3, cache untouched.
    Update {
        /// Judge expiry at TIME (RFC 3339, e.g. 2026-11-28T00:00:00Z) instead of now:
        /// imports a repository copied to an air-gapped site (`kverify mirror` writes
        /// one) whose timestamp expired since. Never later than now; rollback checks
        /// still hold.
        #[arg(long, value_name = "TIME")]
        as_of: Option<String>,
    },

    /// Print which trusted root is in effect and why, how old the cache is, when its
    /// timestamp expires, and every CA, CT log, tlog and TSA with its validity window.
    ///
    /// Never uses the network. With --json, one object that names the full sha256 of the
    /// trusted root in effect and its source.
    Show,
}

/// Where transparency-log proofs of detached signatures are captured from.
#[derive(Debug, Args)]
pub struct RekorArgs {
    /// The Rekor transparency log to capture proofs of detached signatures from.
    #[arg(long, value_name = "URL", default_value = "https://rekor.sigstore.dev")]
    pub rekor_url: String,

    /// Do not look up transparency-log proofs; what is written records that none was
    /// captured.
    #[arg(long)]
    pub no_rekor: bool,
}

#[derive(Debug, Args)]
pub struct IdentifyArgs {
    /// Files to identify.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,

    /// A lock file whose pins name the candidates.
    #[arg(long, value_name = "FILE")]
    pub lock: Vec<PathBuf>,

    /// Checksum files whose entries name the candidates.
    #[arg(long, value_name = "FILE")]
    pub checksums: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct NodeArgs {
    /// The lock whose pins the installed binaries must match.
    #[arg(long, value_name = "FILE", conflicts_with = "release")]
    pub lock: Option<PathBuf>,

    /// Releases whose published digests the installed binaries must match (C@V).
    #[arg(long, value_name = "C@V")]
    pub release: Vec<String>,

    /// The host's root filesystem (in a container: where the host is mounted).
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,

    #[command(flatten)]
    pub source: SourceArgs,
}

#[derive(Debug, Args)]
pub struct CacheArgs {
    #[command(subcommand)]
    pub action: CacheAction,
}

#[derive(Debug, Subcommand)]
pub enum CacheAction {
    /// Print the cache directory: KVERIFY_CACHE_DIR, else $XDG_CACHE_HOME/kverify, else
    /// ~/.cache/kverify.
    Dir,

    /// Remove cached artifacts and partial downloads (those not in use by a running
    /// kverify). The trust cache (trust/) is kept: `kverify trust update` manages it.
    Clean {
        /// Only what was not stored or used for the last DAYS days.
        #[arg(long, value_name = "DAYS")]
        older_than: Option<u64>,
    },
}

#[derive(Debug, Args)]
pub struct ComponentsArgs {
    /// A catalog file whose components add to or replace the built-in ones.
    #[arg(long, value_name = "FILE")]
    pub catalog: Vec<PathBuf>,
}
