//! Digests as bytes, and one reader that computes every digest a check needs in a
//! single pass over a stream, whether it comes from the network or from disk.

use std::fmt;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;

use sha2::{Digest as _, Sha256, Sha512};

/// Read size for files and downloads: large enough that syscalls vanish from the
/// profile, small enough that memory stays flat.
pub const CHUNK: usize = 256 * 1024;

/// A hash algorithm kverify accepts as evidence.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Algorithm {
    Sha256,
    Sha512,
}

impl Algorithm {
    pub const ALL: [Algorithm; 2] = [Algorithm::Sha256, Algorithm::Sha512];

    /// Length of a digest in bytes.
    pub fn byte_len(self) -> usize {
        match self {
            Algorithm::Sha256 => 32,
            Algorithm::Sha512 => 64,
        }
    }

    /// The algorithm whose hex digest has this many characters.
    pub fn from_hex_len(len: usize) -> Option<Algorithm> {
        match len {
            64 => Some(Algorithm::Sha256),
            128 => Some(Algorithm::Sha512),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha512 => "sha512",
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A digest, held as bytes: parsed once, so `==` is always the right comparison.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub enum Digest {
    Sha256([u8; 32]),
    Sha512([u8; 64]),
}

/// Why a string is not a digest.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ParseDigestError {
    #[error("not hexadecimal")]
    NotHex,
    #[error("{len} hex characters is {what}, not a SHA-256 (64) or SHA-512 (128) digest")]
    Length { len: usize, what: &'static str },
    #[error("{len} hex characters, but a {algorithm} digest has {}", algorithm.byte_len() * 2)]
    WrongLength { len: usize, algorithm: Algorithm },
}

impl Digest {
    pub fn algorithm(&self) -> Algorithm {
        match self {
            Digest::Sha256(_) => Algorithm::Sha256,
            Digest::Sha512(_) => Algorithm::Sha512,
        }
    }

    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Digest::Sha256(b) => b,
            Digest::Sha512(b) => b,
        }
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.as_bytes())
    }

    /// Parses a hex digest whose algorithm is told by its length (upper or lower case).
    pub fn from_hex(text: &str) -> Result<Digest, ParseDigestError> {
        match Algorithm::from_hex_len(text.len()) {
            Some(algorithm) => Digest::from_hex_as(algorithm, text),
            None if !text.bytes().all(|b| b.is_ascii_hexdigit()) => Err(ParseDigestError::NotHex),
            None => Err(ParseDigestError::Length {
                len: text.len(),
                what: weak_digest_name(text.len()).unwrap_or("no known digest"),
            }),
        }
    }

    /// Parses a hex digest that must be of `algorithm`.
    pub fn from_hex_as(algorithm: Algorithm, text: &str) -> Result<Digest, ParseDigestError> {
        if text.len() != algorithm.byte_len() * 2 {
            return Err(ParseDigestError::WrongLength { len: text.len(), algorithm });
        }
        let mut out = [0u8; 64];
        hex::decode_to_slice(text, &mut out[..algorithm.byte_len()]).map_err(|_| ParseDigestError::NotHex)?;
        Ok(Digest::from_slice(algorithm, &out[..algorithm.byte_len()]))
    }

    fn from_slice(algorithm: Algorithm, bytes: &[u8]) -> Digest {
        match algorithm {
            Algorithm::Sha256 => {
                let mut b = [0u8; 32];
                b.copy_from_slice(bytes);
                Digest::Sha256(b)
            }
            Algorithm::Sha512 => {
                let mut b = [0u8; 64];
                b.copy_from_slice(bytes);
                Digest::Sha512(b)
            }
        }
    }
}

/// The name of a weak digest of this hex length, which kverify refuses as evidence.
pub fn weak_digest_name(hex_len: usize) -> Option<&'static str> {
    match hex_len {
        32 => Some("an MD5 digest"),
        40 => Some("a SHA-1 digest"),
        _ => None,
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm(), self.to_hex())
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// The digests computed over one stream: one per algorithm asked for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Digests {
    pub sha256: Option<Digest>,
    pub sha512: Option<Digest>,
}

impl Digests {
    pub fn get(&self, algorithm: Algorithm) -> Option<&Digest> {
        match algorithm {
            Algorithm::Sha256 => self.sha256.as_ref(),
            Algorithm::Sha512 => self.sha512.as_ref(),
        }
    }

    /// The SHA-256 as raw bytes, which is what a cosign signature signs.
    pub fn sha256_bytes(&self) -> Option<&[u8; 32]> {
        match &self.sha256 {
            Some(Digest::Sha256(b)) => Some(b),
            _ => None,
        }
    }
}

/// A set of algorithms to compute.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct AlgorithmSet {
    pub sha256: bool,
    pub sha512: bool,
}

impl AlgorithmSet {
    pub const BOTH: AlgorithmSet = AlgorithmSet { sha256: true, sha512: true };

    pub fn only(algorithm: Algorithm) -> AlgorithmSet {
        let mut set = AlgorithmSet::default();
        set.insert(algorithm);
        set
    }

    pub fn insert(&mut self, algorithm: Algorithm) {
        match algorithm {
            Algorithm::Sha256 => self.sha256 = true,
            Algorithm::Sha512 => self.sha512 = true,
        }
    }

    pub fn contains(&self, algorithm: Algorithm) -> bool {
        match algorithm {
            Algorithm::Sha256 => self.sha256,
            Algorithm::Sha512 => self.sha512,
        }
    }

    pub fn is_empty(&self) -> bool {
        !self.sha256 && !self.sha512
    }
}

/// A buffer of bytes read, shared by whatever hashes and writes it; once the last of
/// them is done, the buffer goes back to the pool it came from. Sharing it (instead of
/// copying it to the SHA-512 thread) saves one copy of every byte.
pub struct Chunk {
    buf: Vec<u8>,
    len: usize,
    pool: Option<mpsc::Sender<Vec<u8>>>,
}

impl Chunk {
    fn copied(bytes: &[u8]) -> Chunk {
        Chunk { buf: bytes.to_vec(), len: bytes.len(), pool: None }
    }
}

impl std::ops::Deref for Chunk {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl Drop for Chunk {
    fn drop(&mut self) {
        if let Some(pool) = &self.pool {
            let _ = pool.send(std::mem::take(&mut self.buf));
        }
    }
}

/// Buffers of [`CHUNK`] bytes, reused: what a pipeline allocates is bounded by the
/// chunks in flight, whatever the stream's size.
struct Pool {
    back: mpsc::Sender<Vec<u8>>,
    spare: mpsc::Receiver<Vec<u8>>,
}

impl Pool {
    fn new() -> Pool {
        let (back, spare) = mpsc::channel();
        Pool { back, spare }
    }

    fn take(&self) -> Vec<u8> {
        self.spare.try_recv().unwrap_or_else(|_| vec![0u8; CHUNK])
    }

    fn chunk(&self, buf: Vec<u8>, len: usize) -> Arc<Chunk> {
        Arc::new(Chunk { buf, len, pool: Some(self.back.clone()) })
    }

    /// The next chunk `reader` gives (`None` at its end), an interrupted read retried.
    fn read_from(&self, reader: &mut impl Read) -> io::Result<Option<Arc<Chunk>>> {
        let mut buf = self.take();
        loop {
            match reader.read(&mut buf) {
                Ok(0) => return Ok(None),
                Ok(n) => return Ok(Some(self.chunk(buf, n))),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

/// Hashes bytes with a set of algorithms. With both, SHA-512 runs on a second thread
/// while SHA-256 runs on the caller's, so one stream is hashed at the speed of the
/// slower algorithm alone rather than at the sum of both.
pub struct MultiHasher {
    sha256: Option<Sha256>,
    sha512: Sha512Lane,
}

enum Sha512Lane {
    Off,
    Inline(Box<Sha512>),
    Thread { chunks: Option<mpsc::SyncSender<Arc<Chunk>>>, worker: Option<thread::JoinHandle<[u8; 64]>> },
}

/// Below this, a second thread costs more than it saves.
const THREAD_MIN_LEN: u64 = 4 * 1024 * 1024;

/// Chunks read ahead of the hashing, and chunks queued for the SHA-512 thread: enough to
/// ride out jitter, a few MiB of memory at most.
const IN_FLIGHT: usize = 4;

impl MultiHasher {
    /// A hasher for `set`. `expected_len` (when known) decides whether a second thread
    /// is worth starting.
    pub fn new(set: AlgorithmSet, expected_len: Option<u64>) -> MultiHasher {
        let sha256 = set.sha256.then(Sha256::new);
        let threaded = set.sha256 && set.sha512 && expected_len.is_none_or(|n| n >= THREAD_MIN_LEN);
        let sha512 = if !set.sha512 {
            Sha512Lane::Off
        } else if threaded {
            Sha512Lane::spawn()
        } else {
            Sha512Lane::Inline(Box::new(Sha512::new()))
        };
        MultiHasher { sha256, sha512 }
    }

    pub fn update(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        if let Sha512Lane::Thread { .. } = self.sha512 {
            // The thread needs bytes of its own.
            return self.update_chunk(&Arc::new(Chunk::copied(bytes)));
        }
        if let Sha512Lane::Inline(h) = &mut self.sha512 {
            h.update(bytes);
        }
        if let Some(h) = &mut self.sha256 {
            h.update(bytes);
        }
    }

    /// Hashes a chunk: SHA-512 on its thread (sharing the chunk), SHA-256 here.
    fn update_chunk(&mut self, chunk: &Arc<Chunk>) {
        if chunk.is_empty() {
            return;
        }
        match &mut self.sha512 {
            Sha512Lane::Off => {}
            Sha512Lane::Inline(h) => h.update(&chunk[..]),
            Sha512Lane::Thread { chunks, .. } => {
                if let Some(tx) = chunks {
                    // The worker only stops when the sender is dropped; a send error means
                    // it panicked, which `finish` reports.
                    let _ = tx.send(chunk.clone());
                }
            }
        }
        if let Some(h) = &mut self.sha256 {
            h.update(&chunk[..]);
        }
    }

    pub fn finish(self) -> Digests {
        let sha256 = self.sha256.map(|h| Digest::Sha256(h.finalize().into()));
        let sha512 = match self.sha512 {
            Sha512Lane::Off => None,
            Sha512Lane::Inline(h) => Some(Digest::Sha512(h.finalize().into())),
            Sha512Lane::Thread { mut chunks, mut worker } => {
                drop(chunks.take());
                let joined = worker.take().map(|w| w.join());
                match joined {
                    Some(Ok(bytes)) => Some(Digest::Sha512(bytes)),
                    // A panic in the worker is a bug; never report a digest that was not computed.
                    _ => panic!("sha512 worker thread failed"),
                }
            }
        };
        Digests { sha256, sha512 }
    }
}

impl Sha512Lane {
    fn spawn() -> Sha512Lane {
        let (tx, rx) = mpsc::sync_channel::<Arc<Chunk>>(IN_FLIGHT);
        let spawned = thread::Builder::new().name("sha512".into()).spawn(move || {
            let mut h = Sha512::new();
            for chunk in rx {
                h.update(&chunk[..]);
            }
            h.finalize().into()
        });
        match spawned {
            Ok(worker) => Sha512Lane::Thread { chunks: Some(tx), worker: Some(worker) },
            // No thread to be had: hash inline, slower but the same digest.
            Err(_) => Sha512Lane::Inline(Box::new(Sha512::new())),
        }
    }
}

/// A reader that hashes every byte read through it.
pub struct HashingReader<R> {
    inner: R,
    hasher: MultiHasher,
    len: u64,
}

impl<R: Read> HashingReader<R> {
    pub fn new(inner: R, set: AlgorithmSet, expected_len: Option<u64>) -> HashingReader<R> {
        HashingReader { inner, hasher: MultiHasher::new(set, expected_len), len: 0 }
    }

    /// Bytes read so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn finish(self) -> (Digests, u64) {
        (self.hasher.finish(), self.len)
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }
}

/// Where [`copy_hashing`] stopped.
#[derive(Debug)]
pub enum CopyError {
    /// Reading failed after `got` bytes.
    Read {
        got: u64,
        source: io::Error,
    },
    Write(io::Error),
    /// More than the limit came.
    Limit {
        limit: u64,
    },
}

/// What the pipeline does with each chunk, whoever read it: hash it with every lane,
/// write it, count it.
struct Consumer<'w, F> {
    hasher: MultiHasher,
    writer: &'w mut dyn io::Write,
    limit: u64,
    got: u64,
    advanced: F,
}

impl<F: FnMut(u64)> Consumer<'_, F> {
    fn take(&mut self, chunk: Arc<Chunk>) -> Result<(), CopyError> {
        self.got += chunk.len() as u64;
        if self.got > self.limit {
            return Err(CopyError::Limit { limit: self.limit });
        }
        self.hasher.update_chunk(&chunk);
        self.writer.write_all(&chunk).map_err(CopyError::Write)?;
        (self.advanced)(chunk.len() as u64);
        Ok(())
    }
}

/// The one byte pipeline: copies `reader` into `writer`, every byte hashed once on its
/// way with `set`, [`CHUNK`] bytes at a time, accepting at most `limit` bytes;
/// `advanced` hears of each chunk (progress). Reads happen on the caller's thread (the
/// reader need not be `Send`: archive entries); see [`copy_hashing_ahead`].
pub fn copy_hashing<R: Read>(
    mut reader: R,
    writer: &mut dyn io::Write,
    set: AlgorithmSet,
    expected_len: Option<u64>,
    limit: u64,
    advanced: impl FnMut(u64),
) -> Result<Hashed, CopyError> {
    let pool = Pool::new();
    let mut consumer = Consumer { hasher: MultiHasher::new(set, expected_len), writer, limit, got: 0, advanced };
    while let Some(chunk) =
        pool.read_from(&mut reader).map_err(|source| CopyError::Read { got: consumer.got, source })?
    {
        consumer.take(chunk)?;
    }
    Ok((consumer.hasher.finish(), consumer.got))
}

/// [`copy_hashing`] with the reads on a thread of their own, [`IN_FLIGHT`] chunks ahead:
/// copying bytes out of the page cache or off the network then overlaps hashing them
/// instead of adding to it (for one file on two cores, what makes kverify's SHA-256
/// faster than `openssl dgst`, which reads and hashes in turn). Small streams are read
/// inline.
pub fn copy_hashing_ahead<R: Read + Send>(
    mut reader: R,
    writer: &mut dyn io::Write,
    set: AlgorithmSet,
    expected_len: Option<u64>,
    limit: u64,
    advanced: impl FnMut(u64),
) -> Result<Hashed, CopyError> {
    if expected_len.is_some_and(|n| n < THREAD_MIN_LEN) {
        return copy_hashing(reader, writer, set, expected_len, limit, advanced);
    }
    let mut consumer = Consumer { hasher: MultiHasher::new(set, expected_len), writer, limit, got: 0, advanced };
    thread::scope(|scope| {
        let (tx, rx) = mpsc::sync_channel::<Result<Arc<Chunk>, (u64, io::Error)>>(IN_FLIGHT);
        let spawned = thread::Builder::new().name("read".into()).spawn_scoped(scope, move || {
            let pool = Pool::new();
            let mut got = 0u64;
            loop {
                let item = match pool.read_from(&mut reader) {
                    Ok(None) => return,
                    Ok(Some(chunk)) => {
                        got += chunk.len() as u64;
                        Ok(chunk)
                    }
                    Err(e) => Err((got, e)),
                };
                let failed = item.is_err();
                // The consumer stopped (an error of its own): stop reading.
                if tx.send(item).is_err() || failed {
                    return;
                }
            }
        });
        if let Err(e) = spawned {
            return Err(CopyError::Read { got: 0, source: e });
        }
        for item in rx {
            let chunk = item.map_err(|(got, source)| CopyError::Read { got, source })?;
            consumer.take(chunk)?;
        }
        Ok(())
    })?;
    Ok((consumer.hasher.finish(), consumer.got))
}

/// Hashes a whole stream with `set`, reading [`CHUNK`] bytes at a time.
pub fn hash_reader<R: Read>(reader: R, set: AlgorithmSet, expected_len: Option<u64>) -> io::Result<(Digests, u64)> {
    copy_hashing(reader, &mut io::sink(), set, expected_len, u64::MAX, |_| {}).map_err(CopyError::into_io)
}

impl CopyError {
    fn into_io(self) -> io::Error {
        match self {
            CopyError::Read { source, .. } | CopyError::Write(source) => source,
            CopyError::Limit { limit } => io::Error::other(format!("more than {limit} bytes")),
        }
    }
}

/// The digests of a stream and its length in bytes.
pub type Hashed = (Digests, u64);

/// Hashes one file with `set`, reading ahead on a second thread (see
/// [`copy_hashing_ahead`]). It must be a regular file: a FIFO or a device (named on the
/// command line, or swapped in for a binary) is refused before any read, never waited on
/// forever.
pub fn hash_file(path: &Path, set: AlgorithmSet) -> io::Result<(Digests, u64)> {
    hash_file_with(path, set, true)
}

fn hash_file_with(path: &Path, set: AlgorithmSet, ahead: bool) -> io::Result<(Digests, u64)> {
    let (file, meta) = crate::regular_file::open(path, crate::regular_file::Links::Follow)
        .map_err(|e| io::Error::new(e.kind(), format!("failed to open file `{}`: {e}", path.display())))?;
    let len = Some(meta.len());
    let sink = &mut io::sink();
    let hashed = match ahead {
        true => copy_hashing_ahead(file, sink, set, len, u64::MAX, |_| {}),
        false => copy_hashing(file, sink, set, len, u64::MAX, |_| {}),
    };
    hashed.map_err(CopyError::into_io)
}

/// Hashes many files on all cores, results in the order given. Each file is read once,
/// [`CHUNK`] bytes at a time, so memory stays flat whatever their size.
pub fn hash_files(jobs: &[(PathBuf, AlgorithmSet)]) -> Vec<io::Result<Hashed>> {
    let workers = thread::available_parallelism().map_or(2, |n| n.get()).min(jobs.len().max(1));
    // Largest first: the largest file starts while the other cores still have smaller
    // ones to take, instead of starting last and running alone while they idle.
    let mut order: Vec<(u64, usize)> = jobs
        .iter()
        .enumerate()
        .map(|(i, (path, set))| (std::fs::metadata(path).map_or(0, |m| m.len()) * cost(*set), i))
        .collect();
    order.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let next = AtomicUsize::new(0);
    let results: Vec<Mutex<Option<io::Result<Hashed>>>> = jobs.iter().map(|_| Mutex::new(None)).collect();
    thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                while let Some(&(_, i)) = order.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let (path, set) = &jobs[i];
                    // Several files keep the cores busy already; one is read ahead.
                    let result = hash_file_with(path, *set, jobs.len() == 1);
                    if let Ok(mut slot) = results[i].lock() {
                        *slot = Some(result);
                    }
                }
            });
        }
    });
    results
        .into_iter()
        .map(|slot| slot.into_inner().ok().flatten().unwrap_or_else(|| Err(io::Error::other("hashing thread failed"))))
        .collect()
}

/// Relative time per byte of hashing with `set` on one core (SHA-NI SHA-256 runs
/// about twice as fast as SHA-512), for ordering files by the work they need.
fn cost(set: AlgorithmSet) -> u64 {
    u64::from(set.sha256) + 2 * u64::from(set.sha512)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ABC256: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    const ABC512: &str = "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f";

    #[test]
    fn known_answers_for_both_algorithms() {
        let (d, n) = hash_reader(&b"abc"[..], AlgorithmSet::BOTH, None).unwrap();
        assert_eq!(n, 3);
        assert_eq!(d.sha256.unwrap().to_hex(), ABC256);
        assert_eq!(d.sha512.unwrap().to_hex(), ABC512);
    }

    #[test]
    fn threaded_and_inline_agree_on_large_streams() {
        let data: Vec<u8> = (0..(9 * CHUNK + 17)).map(|i| (i * 31 % 251) as u8).collect();
        let (threaded, _) = hash_reader(&data[..], AlgorithmSet::BOTH, None).unwrap();
        let (inline, _) = hash_reader(&data[..], AlgorithmSet::BOTH, Some(1)).unwrap();
        assert_eq!(threaded, inline);
        let (only512, _) = hash_reader(&data[..], AlgorithmSet::only(Algorithm::Sha512), None).unwrap();
        assert_eq!(only512.sha512, threaded.sha512);
        assert_eq!(only512.sha256, None);
    }

    #[test]
    fn reading_ahead_gives_the_same_bytes_digests_and_errors() {
        let data: Vec<u8> = (0..(40 * CHUNK + 5)).map(|i| (i * 7 % 253) as u8).collect();
        let (mut a, mut b) = (Vec::new(), Vec::new());
        let inline = copy_hashing(&data[..], &mut a, AlgorithmSet::BOTH, None, u64::MAX, |_| {}).unwrap();
        let mut seen = 0;
        let ahead = copy_hashing_ahead(&data[..], &mut b, AlgorithmSet::BOTH, None, u64::MAX, |n| seen += n).unwrap();
        assert_eq!((inline, &a), (ahead, &b));
        assert!(a == data);
        assert_eq!(seen, data.len() as u64);
        // A read error says how much came before it; a limit is a limit.
        let broken = (&data[..3 * CHUNK]).chain(FailingReader);
        match copy_hashing_ahead(broken, &mut io::sink(), AlgorithmSet::BOTH, None, u64::MAX, |_| {}) {
            Err(CopyError::Read { got, .. }) => assert_eq!(got, 3 * CHUNK as u64),
            other => panic!("{other:?}"),
        }
        let capped =
            copy_hashing_ahead(&data[..], &mut io::sink(), AlgorithmSet::BOTH, None, 10 * CHUNK as u64, |_| {});
        assert!(matches!(capped, Err(CopyError::Limit { .. })), "{capped:?}");
    }

    struct FailingReader;
    impl Read for FailingReader {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            Err(io::Error::other("cable cut"))
        }
    }

    fn pattern(len: usize, seed: usize) -> Vec<u8> {
        (0..len).map(|i| ((i * 31 + seed) % 251) as u8).collect()
    }

    #[test]
    fn hash_files_answers_in_the_order_given_whatever_the_sizes() {
        let dir = tempfile::tempdir().unwrap();
        let sizes = [3, 5 * CHUNK, 0, 2 * CHUNK + 1];
        let mut jobs = Vec::new();
        let mut expected = Vec::new();
        for (i, len) in sizes.into_iter().enumerate() {
            let path = dir.path().join(format!("f{i}"));
            let data = pattern(len, i);
            std::fs::write(&path, &data).unwrap();
            let set = if i % 2 == 0 { AlgorithmSet::only(Algorithm::Sha256) } else { AlgorithmSet::BOTH };
            expected.push(hash_reader(&data[..], set, None).unwrap());
            jobs.push((path, set));
        }
        jobs.insert(2, (dir.path().join("missing"), AlgorithmSet::BOTH));
        let results = hash_files(&jobs);
        assert_eq!(results.len(), 5);
        let err = results[2].as_ref().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        assert!(err.to_string().contains("missing"), "{err}");
        let hashed: Vec<&Hashed> =
            results.iter().enumerate().filter(|(i, _)| *i != 2).map(|(_, r)| r.as_ref().unwrap()).collect();
        assert_eq!(hashed, expected.iter().collect::<Vec<_>>());
    }

    #[test]
    fn parses_hex_by_length_and_refuses_weak_digests() {
        assert_eq!(Digest::from_hex(ABC256).unwrap().algorithm(), Algorithm::Sha256);
        assert_eq!(Digest::from_hex(&ABC512.to_uppercase()).unwrap().to_hex(), ABC512);
        let md5 = "900150983cd24fb0d6963f7d28e17f72";
        assert_eq!(
            Digest::from_hex(md5).unwrap_err().to_string(),
            "32 hex characters is an MD5 digest, not a SHA-256 (64) or SHA-512 (128) digest"
        );
        assert_eq!(Digest::from_hex(&"zz".repeat(32)), Err(ParseDigestError::NotHex));
        assert!(Digest::from_hex_as(Algorithm::Sha512, ABC256).is_err());
    }
}
