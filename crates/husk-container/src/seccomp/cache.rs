//! The cache of compiled seccomp programs ([`super::compile_cached`]).
//!
//! What: the final program a `linux.seccomp` compiles to (libseccomp's exported program with
//! the ENOSYS prefix in front, [`super::enosys`]) and the warnings the compile logged (syscall
//! names this host's libseccomp does not know), so that a hit logs them again. Container
//! engines pass the same profile for every container, and compiling it with libseccomp (adding
//! the rules, generating the program) is most of the cost of starting a container with a real
//! profile. The filter flags are not cached: they are worked out from the profile and the
//! kernel every time, so a flag the kernel lacks is refused on a hit too.
//!
//! Where: one file per profile in [`DIR`] (`/run/husk-seccomp-cache`, mode 0700, created when
//! missing), used only when the runtime runs as root (euid 0) and the directory is a real
//! directory owned by root that no one else can write; otherwise nothing is cached. `/run` is a
//! tmpfs, so the cache starts empty at every boot.
//!
//! The key (the file name): the hex SHA-256 of a format tag, husk's version and the runtime
//! binary's identity (device, inode, size and mtime of `/proc/self/exe`, so a rebuilt or
//! upgraded husk never reads an older one's programs), libseccomp's runtime version
//! (`seccomp_version(3)`), the native architecture, and the profile's JSON as serde_json
//! writes the parsed `LinuxSeccomp` (field order fixed by the struct, so the same profile gives
//! the same bytes).
//!
//! Why it is safe to load a program from there: only root can write the directory (checked on
//! every use); the key covers every input the program depends on; and an entry is checked
//! before use: its format tag, a SHA-256 of its contents, the lengths (a program of 1 to
//! BPF_MAXINSNS instructions of 8 bytes, nothing short, nothing left over), the warnings'
//! JSON. An entry failing any check is ignored and compiled again, then replaced. Writes are
//! atomic (a temporary file in the same directory, then rename(2)), so a reader sees a whole
//! entry or none.
//!
//! Entry layout (native-endian, as `seccomp_export_bpf(3)` writes the program):
//!
//! ```text
//! 0   8   format tag "HUSKBPF1"
//! 8   32  SHA-256 of every byte from offset 40 to the end
//! 40  4   n, the number of instructions (u32)
//! 44  4   w, the length of the warnings' JSON (u32)
//! 48  8n  the program: struct sock_filter {u16 code; u8 jt; u8 jf; u32 k}
//! ..  w   the warnings, a JSON array of strings
//! ```

use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use husk_sys::seccomp::SockFilter;
use oci_spec::runtime::LinuxSeccomp;
use sha2::{Digest, Sha256};

/// The cache directory (root-owned, 0700; on tmpfs).
pub(super) const DIR: &str = "/run/husk-seccomp-cache";

/// The entry's format tag; changing the layout or what the compile produces changes it.
const MAGIC: &[u8; 8] = b"HUSKBPF1";

/// Bytes before the program: tag, digest, two lengths.
const HEADER: usize = 48;

/// The kernel's limit on a classic BPF program (BPF_MAXINSNS, linux/bpf_common.h).
const BPF_MAXINSNS: usize = 4096;

/// Warnings larger than this are not a real compile's: the entry is refused.
const MAX_WARNINGS: usize = 1 << 20;

/// Why an entry was not used or not written (logged at debug level: the cache never fails a
/// compile).
#[derive(Debug, thiserror::Error)]
pub(super) enum CacheError {
    /// Reading, writing or renaming the entry failed.
    #[error("{path}: {source}")]
    Io {
        /// The entry or its temporary file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The entry is not one this version wrote whole.
    #[error("{path}: {detail}; it is compiled again and replaced")]
    Invalid {
        /// The entry.
        path: PathBuf,
        /// Which check failed.
        detail: String,
    },
    /// The cache directory is not root's alone.
    #[error("{path}: {detail}; the seccomp cache is not used")]
    Dir {
        /// The directory.
        path: PathBuf,
        /// What is wrong with it.
        detail: String,
    },
}

/// A cached compile: the final program and the warnings the compile logged.
#[derive(Debug)]
pub(super) struct Entry {
    /// The program, ENOSYS prefix included.
    pub(super) bpf: Vec<SockFilter>,
    /// The compile's warnings, in order.
    pub(super) warnings: Vec<String>,
}

/// [`DIR`] when the runtime runs as root: created (0700) when missing, then checked to be a
/// directory owned by root that group and others cannot write.
///
/// # Errors
/// [`CacheError::Dir`] when it cannot be made or is not root's alone.
pub(super) fn dir() -> Result<Option<PathBuf>, CacheError> {
    if !nix::unistd::geteuid().is_root() {
        return Ok(None);
    }
    let path = PathBuf::from(DIR);
    match std::fs::DirBuilder::new().mode(0o700).create(&path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => {
            return Err(CacheError::Dir {
                path,
                detail: format!("creating it failed: {e}"),
            })
        }
    }
    check_dir(&path)?;
    Ok(Some(path))
}

/// Checks that `path` is a directory (not a symlink) owned by the effective user that group
/// and others cannot write.
fn check_dir(path: &Path) -> Result<(), CacheError> {
    let err = |detail: String| CacheError::Dir {
        path: path.to_path_buf(),
        detail,
    };
    let m = std::fs::symlink_metadata(path).map_err(|e| err(e.to_string()))?;
    if !m.file_type().is_dir() {
        return Err(err("not a directory".into()));
    }
    let euid = nix::unistd::geteuid().as_raw();
    if m.uid() != euid {
        return Err(err(format!("owned by uid {}, not {euid}", m.uid())));
    }
    if m.mode() & 0o022 != 0 {
        return Err(err(format!(
            "mode {:o} lets others write it",
            m.mode() & 0o7777
        )));
    }
    Ok(())
}

/// The entry's key for `seccomp` (hex SHA-256, see the module docs), or None when an input
/// cannot be had (no cache then).
pub(super) fn key(seccomp: &LinuxSeccomp) -> Option<String> {
    let exe = std::fs::metadata("/proc/self/exe").ok()?;
    let version = libseccomp::ScmpVersion::current().ok()?;
    let profile = serde_json::to_vec(seccomp).ok()?;
    let mut h = Sha256::new();
    h.update(MAGIC);
    h.update(env!("CARGO_PKG_VERSION"));
    h.update(b"\0");
    for v in [
        exe.dev(),
        exe.ino(),
        exe.size(),
        exe.mtime() as u64,
        exe.mtime_nsec() as u64,
    ] {
        h.update(v.to_le_bytes());
    }
    h.update(version.to_string());
    h.update(b"\0");
    h.update(format!("{:?}", libseccomp::ScmpArch::native()));
    h.update(b"\0");
    h.update(&profile);
    Some(
        h.finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>(),
    )
}

/// Reads and checks the entry `key` in `dir`; Ok(None) when there is none.
///
/// # Errors
/// [`CacheError::Io`] when it cannot be read; [`CacheError::Invalid`] when a check fails.
pub(super) fn read(dir: &Path, key: &str) -> Result<Option<Entry>, CacheError> {
    let path = dir.join(key);
    let io = |source| CacheError::Io {
        path: path.clone(),
        source,
    };
    let f = match std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(&path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(e)),
    };
    let mut raw = Vec::new();
    let limit = (HEADER + BPF_MAXINSNS * 8 + MAX_WARNINGS) as u64;
    f.take(limit + 1).read_to_end(&mut raw).map_err(io)?;
    decode(&raw)
        .map(Some)
        .map_err(|detail| CacheError::Invalid { path, detail })
}

/// The entry's bytes, checked (see the module docs for the layout).
fn decode(raw: &[u8]) -> Result<Entry, String> {
    if raw.len() < HEADER {
        return Err(format!("{} bytes, shorter than the header", raw.len()));
    }
    if &raw[..8] != MAGIC {
        return Err("not an entry of this format".into());
    }
    if Sha256::digest(&raw[40..])[..] != raw[8..40] {
        return Err("its digest does not match its contents".into());
    }
    let u32_at = |at: usize| u32::from_ne_bytes([raw[at], raw[at + 1], raw[at + 2], raw[at + 3]]);
    let n = u32_at(40) as usize;
    let w = u32_at(44) as usize;
    if n == 0 || n > BPF_MAXINSNS {
        return Err(format!("{n} instructions (1 to {BPF_MAXINSNS})"));
    }
    if w > MAX_WARNINGS {
        return Err(format!("{w} bytes of warnings"));
    }
    if raw.len() != HEADER + 8 * n + w {
        return Err(format!(
            "{} bytes, {n} instructions and {w} bytes of warnings make {}",
            raw.len(),
            HEADER + 8 * n + w
        ));
    }
    let prog = &raw[HEADER..HEADER + 8 * n];
    let bpf = husk_sys::seccomp::parse_bpf(prog).map_err(|e| format!("the program: {e}"))?;
    let warnings =
        serde_json::from_slice(&raw[HEADER + 8 * n..]).map_err(|e| format!("the warnings: {e}"))?;
    Ok(Entry { bpf, warnings })
}

/// The entry's bytes for `entry`.
fn encode(entry: &Entry) -> Result<Vec<u8>, String> {
    let n = u32::try_from(entry.bpf.len())
        .ok()
        .filter(|n| (1..=BPF_MAXINSNS as u32).contains(n))
        .ok_or_else(|| format!("{} instructions", entry.bpf.len()))?;
    let warnings = serde_json::to_vec(&entry.warnings).map_err(|e| e.to_string())?;
    let w = u32::try_from(warnings.len())
        .ok()
        .filter(|w| (*w as usize) <= MAX_WARNINGS)
        .ok_or_else(|| format!("{} bytes of warnings", warnings.len()))?;
    let mut body = Vec::with_capacity(8 + 8 * entry.bpf.len() + warnings.len());
    body.extend_from_slice(&n.to_ne_bytes());
    body.extend_from_slice(&w.to_ne_bytes());
    for i in &entry.bpf {
        body.extend_from_slice(&i.code.to_ne_bytes());
        body.extend_from_slice(&[i.jt, i.jf]);
        body.extend_from_slice(&i.k.to_ne_bytes());
    }
    body.extend_from_slice(&warnings);
    let mut raw = Vec::with_capacity(40 + body.len());
    raw.extend_from_slice(MAGIC);
    raw.extend_from_slice(&Sha256::digest(&body));
    raw.extend_from_slice(&body);
    Ok(raw)
}

/// Writes the entry `key` in `dir` atomically: a new temporary file in `dir` (O_EXCL, 0600),
/// then rename(2) over the entry.
///
/// # Errors
/// [`CacheError::Io`] when writing or renaming fails (the temporary file is removed);
/// [`CacheError::Invalid`] for a program the cache does not hold (empty or over
/// BPF_MAXINSNS).
pub(super) fn write(dir: &Path, key: &str, entry: &Entry) -> Result<(), CacheError> {
    let path = dir.join(key);
    let raw = encode(entry).map_err(|detail| CacheError::Invalid {
        path: path.clone(),
        detail,
    })?;
    let tmp = dir.join(format!(".{key}.{}.tmp", std::process::id()));
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(&tmp)
        .and_then(|mut f| f.write_all(&raw))
        .map_err(|source| CacheError::Io {
            path: tmp.clone(),
            source,
        })
        .and_then(|()| {
            std::fs::rename(&tmp, &path).map_err(|source| CacheError::Io {
                path: path.clone(),
                source,
            })
        });
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> Entry {
        Entry {
            bpf: vec![
                SockFilter {
                    code: 0x20,
                    jt: 0,
                    jf: 0,
                    k: 4,
                },
                SockFilter {
                    code: 0x06,
                    jt: 0,
                    jf: 0,
                    k: 0x7fff_0000,
                },
            ],
            warnings: vec!["a\nb".into(), "c".into()],
        }
    }

    #[test]
    fn an_entry_reads_back_as_written() {
        let raw = encode(&entry()).unwrap();
        assert_eq!(raw.len(), HEADER + 16 + br#"["a\nb","c"]"#.len());
        let e = decode(&raw).unwrap();
        let insns: Vec<_> = e.bpf.iter().map(|i| (i.code, i.jt, i.jf, i.k)).collect();
        assert_eq!(insns, [(0x20, 0, 0, 4), (0x06, 0, 0, 0x7fff_0000)]);
        assert_eq!(e.warnings, ["a\nb", "c"]);
    }

    #[test]
    fn a_damaged_entry_is_refused() {
        let raw = encode(&entry()).unwrap();
        // Truncated anywhere, one byte changed anywhere, a byte added: refused.
        for len in [0, 7, 40, HEADER, HEADER + 8, raw.len() - 1] {
            assert!(decode(&raw[..len]).is_err(), "truncated to {len}");
        }
        for at in [0, 8, 40, 44, HEADER, HEADER + 12, raw.len() - 1] {
            let mut bad = raw.clone();
            bad[at] ^= 0x01;
            assert!(decode(&bad).is_err(), "byte {at} flipped");
        }
        let mut longer = raw.clone();
        longer.push(0);
        assert!(decode(&longer).is_err());
        // A consistent entry (digest right) with a length the header does not give, or more
        // instructions than the kernel takes.
        let forge = |n: u32, body_insns: usize| {
            let mut body = n.to_ne_bytes().to_vec();
            body.extend_from_slice(&2u32.to_ne_bytes());
            body.extend(std::iter::repeat_n(6u8, 8 * body_insns));
            body.extend_from_slice(b"[]");
            let mut raw = MAGIC.to_vec();
            raw.extend_from_slice(&Sha256::digest(&body));
            raw.extend_from_slice(&body);
            decode(&raw).map(|e| e.bpf.len())
        };
        assert_eq!(forge(3, 3), Ok(3));
        assert!(forge(3, 2).unwrap_err().contains("make"));
        assert!(forge(0, 0).unwrap_err().contains("0 instructions"));
        assert!(forge(4097, 4097).unwrap_err().contains("4097 instructions"));
    }

    #[test]
    fn only_a_directory_no_one_else_can_write_is_used() {
        let d = tempfile::tempdir().unwrap();
        check_dir(d.path()).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(check_dir(d.path())
            .unwrap_err()
            .to_string()
            .contains("mode 777 lets others write it"));
        let link = d.path().join("link");
        std::os::unix::fs::symlink("/", &link).unwrap();
        assert!(check_dir(&link)
            .unwrap_err()
            .to_string()
            .contains("not a directory"));
    }
}
