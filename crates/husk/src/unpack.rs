//! Rootfs tarballs: recognising their format, unpacking them safely, and the cache that unpacks
//! each tarball once.
//!
//! The cache is `<data-root>/rootfs/<sha256 of the tarball>/`, shared read-only by every
//! container made from that tarball (each writes to its own overlay upper layer, see `overlay`).
//! A tarball is unpacked into `.tmp-<sha256>-<pid>/` next to its final place and renamed into
//! place only when complete, so a half-unpacked tree is never used; `<sha256>.lock` (flock,
//! `man 2 flock`) keeps two husk processes from unpacking the same tarball at once.
//!
//! Unpacking keeps symlinks, hard links, modes (setuid included), owners (as root), mtimes,
//! xattrs and device nodes, and never writes outside its target: the `tar` crate's
//! `Entry::unpack_in` strips leading `/`, silently *skips* `..` entries and refuses a parent
//! directory whose canonical path leaves the target (a planted symlink); husk adds what it
//! lacks: `..` components and hard links with absolute or `..` targets are refused outright
//! (the whole tarball is rejected rather than silently changed), every entry's directory is
//! checked first (so the error names the entry), hard links are made by husk (the crate refuses
//! a hard link to a symlink pointing out, which link(2) would not follow), and device nodes and
//! fifos, which the crate would write as empty regular files, are made with mknod.
//!
//! Rootless (an [`UnpackOptions::id_mapping`]), the tarball is unpacked by a child that is root
//! of a user namespace with the container's mapping (`rootless::in_user_namespace`), so every
//! owner lands inside the mapped range: root-owned entries belong to the user, uid 1 to the
//! first subordinate uid, and so on. An entry owned by an id outside the mapping refuses the
//! tarball, naming the entry (as Podman does; a wider /etc/subuid range fixes it). Device nodes
//! cannot be made there and are skipped (a container's /dev is made by the runtime anyway);
//! fifos are kept; extended attributes a user namespace may not set (`trusted.*`, most of
//! `security.*`) are skipped (see below). The cache key is then `<sha256>-<mapping>`, so trees
//! unpacked for different mappings (and root's, keyed by the digest alone) never mix.
//!
//! Extended attributes (pax `SCHILY.xattr.*` records) are set by husk on files and directories,
//! not symlinks. One the kernel refuses (EPERM) or the data root's filesystem does not support
//! (EOPNOTSUPP) is skipped with one warning per attribute name, as containers/storage does;
//! `user.*` ones and file capabilities are kept.

use std::collections::HashSet;
use std::ffi::OsStr;
use std::fs::{self, File};
use std::io::{self, BufReader, IsTerminal, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use nix::fcntl::{Flock, FlockArg};
use nix::sys::stat::{makedev, mknod, Mode, SFlag};
use sha2::{Digest, Sha256};
use tar::EntryType;

use crate::rootless::{self, IdMapping, RootlessError};

/// How long unpacking runs before the progress bar appears.
const PROGRESS_DELAY: Duration = Duration::from_secs(1);

/// The compression of a tarball, from its magic bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// A plain tar archive (ustar/GNU/pax magic, or a valid v7 header checksum).
    None,
    /// gzip (RFC 1952; magic 1f 8b): .tar.gz, .tgz.
    Gzip,
    /// xz (magic fd 37 7a 58 5a 00): .tar.xz.
    Xz,
    /// Zstandard (RFC 8878; magic 28 b5 2f fd): .tar.zst.
    Zstd,
}

/// Errors of sniffing, hashing and unpacking tarballs.
#[derive(Debug, thiserror::Error)]
pub enum UnpackError {
    /// The file could not be opened or read.
    #[error("reading tarball {}: {source}", path.display())]
    Read {
        /// The tarball.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// The file's first bytes are no tar header and no supported compression.
    #[error(
        "{}: not a tarball (tar, gzip, xz or zstd by its first bytes){hint}",
        path.display()
    )]
    NotTarball {
        /// The file.
        path: PathBuf,
        /// A hint for a recognised but unsupported format.
        hint: &'static str,
    },
    /// An entry's path has a `..` component.
    #[error("tarball entry `{entry}`: has a `..` component, which could write outside the rootfs; the tarball is refused")]
    ParentDirEntry {
        /// The entry's path as in the archive.
        entry: String,
    },
    /// A hard link points outside the archive.
    #[error("tarball entry `{entry}`: hard link to `{target}` points outside the rootfs (absolute or `..`); the tarball is refused")]
    HardLinkOutside {
        /// The entry's path.
        entry: String,
        /// The link target as in the archive.
        target: String,
    },
    /// An entry's parent directory resolves outside the target (through a symlink).
    #[error("tarball entry `{entry}`: its directory resolves outside the rootfs through a symlink; the tarball is refused")]
    OutsideTarget {
        /// The entry's path.
        entry: String,
    },
    /// An entry could not be unpacked (the tar crate's error, which names the path).
    #[error("unpacking tarball entry `{entry}` into {}: {source}", dst.display())]
    Entry {
        /// The entry's path.
        entry: String,
        /// The target directory.
        dst: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// Rootless: an entry is owned by an id the container's mapping does not hold.
    #[error(
        "tarball entry `{entry}` is owned by uid {uid} gid {gid}, outside the ids this rootless \
         container maps ({mapping}); the tarball is refused: ask for a (larger) range in \
         /etc/subuid and /etc/subgid (man 5 subuid), with newuidmap/newgidmap installed \
         (Debian package uidmap)"
    )]
    UnmappedOwner {
        /// The entry's path.
        entry: String,
        /// Its uid.
        uid: u64,
        /// Its gid.
        gid: u64,
        /// The mapping, described.
        mapping: String,
    },
    /// Rootless: the user-namespace child could not be set up, or failed (its message).
    #[error(transparent)]
    Userns(#[from] RootlessError),
    /// The archive itself is corrupt or truncated.
    #[error("reading the entries of tarball {}: {source} (is it truncated or corrupt?)", path.display())]
    Archive {
        /// The tarball.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// A cache directory or lock could not be made or renamed.
    #[error("rootfs cache {}: {source} (check that the data root is writable, see --data-root)", path.display())]
    Cache {
        /// The path in the cache.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
}

/// Recognises a tarball from its first bytes (at least the first 512 when it is plain tar).
///
/// `head` is the start of the file; `path` names it in errors. The name is never trusted: a
/// `.tar` that is really gzip is read as gzip.
///
/// Errors: [`UnpackError::NotTarball`], with a hint for bzip2 and zip.
pub fn sniff(head: &[u8], path: &Path) -> Result<Compression, UnpackError> {
    let not = |hint| UnpackError::NotTarball {
        path: path.to_owned(),
        hint,
    };
    if head.starts_with(&[0x1f, 0x8b]) {
        return Ok(Compression::Gzip);
    }
    if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
        return Ok(Compression::Xz);
    }
    if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        return Ok(Compression::Zstd);
    }
    if head.starts_with(b"BZh") {
        return Err(not(
            "; it is bzip2, which husk does not read: recompress it with gzip, xz or zstd",
        ));
    }
    if head.starts_with(b"PK\x03\x04") {
        return Err(not("; it is a zip archive"));
    }
    if head.len() >= 512 {
        // ustar, GNU and pax headers carry "ustar" at offset 257 (POSIX.1-2001 `pax` format).
        if &head[257..262] == b"ustar" {
            return Ok(Compression::None);
        }
        // A v7 header has no magic; its checksum (sum of the header bytes with the checksum
        // field read as spaces) identifies it.
        let header = tar::Header::from_byte_slice(&head[..512]);
        if let Ok(stored) = header.cksum() {
            let sum: u32 = head[..512]
                .iter()
                .enumerate()
                .map(|(i, b)| {
                    if (148..156).contains(&i) {
                        32
                    } else {
                        u32::from(*b)
                    }
                })
                .sum();
            if stored == sum && head[0] != 0 {
                return Ok(Compression::None);
            }
        }
    }
    Err(not(""))
}

/// [`sniff`] on the first 512 bytes of the file at `path`.
///
/// Errors: [`UnpackError::Read`], [`UnpackError::NotTarball`].
pub fn sniff_file(path: &Path) -> Result<Compression, UnpackError> {
    let read = |source| UnpackError::Read {
        path: path.to_owned(),
        source,
    };
    let mut head = Vec::with_capacity(512);
    File::open(path)
        .map_err(read)?
        .take(512)
        .read_to_end(&mut head)
        .map_err(read)?;
    sniff(&head, path)
}

/// The sha256 of the file at `path`, as 64 lowercase hex digits.
///
/// Errors: [`UnpackError::Read`].
pub fn sha256_file(path: &Path) -> Result<String, UnpackError> {
    let read = |source| UnpackError::Read {
        path: path.to_owned(),
        source,
    };
    let mut file = File::open(path).map_err(read)?;
    let mut hasher = Sha256::new();
    io::copy(&mut file, &mut hasher).map_err(read)?;
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// How to unpack.
#[derive(Debug, Clone)]
pub struct UnpackOptions {
    /// Set each entry's uid/gid from the archive (needs CAP_CHOWN; true when running as root,
    /// and in the user namespace of `id_mapping`).
    pub preserve_ownerships: bool,
    /// Show a progress bar on stderr (only if stderr is a terminal and unpacking takes longer
    /// than a second).
    pub progress: bool,
    /// Rootless: unpack as root of a user namespace with this mapping (see the module doc);
    /// part of the cache key.
    pub id_mapping: Option<IdMapping>,
}

impl Default for UnpackOptions {
    fn default() -> Self {
        Self {
            preserve_ownerships: nix::unistd::geteuid().is_root(),
            progress: true,
            id_mapping: None,
        }
    }
}

impl UnpackOptions {
    /// Rootless unpacking with `mapping`: owners kept, through the user namespace.
    pub fn rootless(mapping: IdMapping) -> Self {
        Self {
            preserve_ownerships: true,
            progress: true,
            id_mapping: Some(mapping),
        }
    }
}

/// A tarball's unpacked tree in the cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedRootfs {
    /// `<cache>/<sha256>`: the tree, to be used read-only.
    pub path: PathBuf,
    /// The tarball's sha256 (64 hex digits), the cache key.
    pub sha256: String,
}

/// The cache of unpacked tarballs, `<data-root>/rootfs/`.
#[derive(Debug, Clone)]
pub struct RootfsCache {
    dir: PathBuf,
}

impl RootfsCache {
    /// A cache in `dir` (made on first use, mode 0700: the unpacked trees hold setuid
    /// binaries that no other host user should reach).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// Where the tarball with this sha256 is (or will be) unpacked, without an id mapping.
    pub fn path_for(&self, sha256: &str) -> PathBuf {
        self.dir.join(sha256)
    }

    /// The cache key of a tarball with this sha256 unpacked with `opts`: the digest, and the
    /// id mapping when there is one (`<sha256>-<mapping>`, see [`IdMapping::cache_key`]).
    pub fn key(sha256: &str, opts: &UnpackOptions) -> String {
        match &opts.id_mapping {
            Some(m) => format!("{sha256}-{}", m.cache_key()),
            None => sha256.to_owned(),
        }
    }

    /// Returns the unpacked tree of `tarball`, unpacking it first if the cache does not hold it.
    ///
    /// Errors: [`UnpackError`]: reading, a refused entry (nothing is left in the cache then),
    /// or the cache directory.
    pub fn get_or_unpack(
        &self,
        tarball: &Path,
        compression: Compression,
        opts: &UnpackOptions,
    ) -> Result<CachedRootfs, UnpackError> {
        let cache_err = |path: &Path| {
            let path = path.to_owned();
            move |source| UnpackError::Cache { path, source }
        };
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)
            .map_err(cache_err(&self.dir))?;
        let digest = sha256_file(tarball)?;
        let key = Self::key(&digest, opts);
        let final_dir = self.dir.join(&key);
        // Fast path: a complete tree exists (it is only ever renamed into place when complete).
        let found = || CachedRootfs {
            path: final_dir.clone(),
            sha256: digest.clone(),
        };
        if final_dir.is_dir() {
            return Ok(found());
        }
        let lock_path = self.dir.join(format!("{key}.lock"));
        let lock_file = File::create(&lock_path).map_err(cache_err(&lock_path))?;
        let _lock = Flock::lock(lock_file, FlockArg::LockExclusive)
            .map_err(|(_, errno)| cache_err(&lock_path)(io::Error::from(errno)))?;
        // Another husk may have finished it while this one waited for the lock.
        if final_dir.is_dir() {
            return Ok(found());
        }
        // Holding the lock, any temp dir of this key is a leftover of a killed unpack.
        self.remove_stale_temps(&key, opts.id_mapping.as_ref())?;
        let tmp = self.dir.join(format!(".tmp-{key}-{}", std::process::id()));
        fs::DirBuilder::new()
            .mode(0o755)
            .create(&tmp)
            .map_err(cache_err(&tmp))?;
        let unpacked = match &opts.id_mapping {
            None => unpack_file(tarball, compression, &tmp, opts),
            // The child removes what it unpacked when it fails: only it may.
            Some(mapping) => rootless::in_user_namespace(
                mapping,
                &format!("unpacking {}", tarball.display()),
                || {
                    unpack_file(tarball, compression, &tmp, opts).map_err(|e| {
                        if let Err(rm) = fs::remove_dir_all(&tmp) {
                            tracing::warn!(path = %tmp.display(), error = %rm,
                                "could not remove a failed unpack");
                        }
                        e.to_string()
                    })
                },
            )
            .map_err(UnpackError::from),
        };
        let result = unpacked.and_then(|()| {
            sync_dir(&tmp)?;
            fs::rename(&tmp, &final_dir).map_err(cache_err(&final_dir))
        });
        if let Err(e) = result {
            if let Err(rm) = rootless::remove_tree(&tmp, opts.id_mapping.as_ref()) {
                tracing::warn!(path = %tmp.display(), error = %rm, "could not remove a failed unpack");
            }
            return Err(e);
        }
        Ok(found())
    }

    fn remove_stale_temps(
        &self,
        key: &str,
        mapping: Option<&IdMapping>,
    ) -> Result<(), UnpackError> {
        let prefix = format!(".tmp-{key}-");
        let entries = fs::read_dir(&self.dir).map_err(|source| UnpackError::Cache {
            path: self.dir.clone(),
            source,
        })?;
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().starts_with(&prefix) {
                let path = entry.path();
                tracing::debug!(path = %path.display(), "removing a stale unpack");
                rootless::remove_tree(&path, mapping).map_err(|e| UnpackError::Cache {
                    path,
                    source: io::Error::other(e),
                })?;
            }
        }
        Ok(())
    }
}

/// Flushes the unpacked tree to disk before it is renamed into place, so a crash cannot leave a
/// complete-looking cache entry with missing data (`man 2 syncfs`).
fn sync_dir(dir: &Path) -> Result<(), UnpackError> {
    use std::os::fd::AsRawFd;
    let err = |source| UnpackError::Cache {
        path: dir.to_owned(),
        source,
    };
    let f = File::open(dir).map_err(err)?;
    nix::unistd::syncfs(f.as_raw_fd()).map_err(|e| err(e.into()))
}

/// Unpacks the tarball file at `tarball` (decompressing per `compression`) into the existing
/// directory `dst`, with a progress bar per [`UnpackOptions::progress`].
///
/// Errors: as [`unpack_archive`], and [`UnpackError::Read`] opening the file.
pub fn unpack_file(
    tarball: &Path,
    compression: Compression,
    dst: &Path,
    opts: &UnpackOptions,
) -> Result<(), UnpackError> {
    let read = |source| UnpackError::Read {
        path: tarball.to_owned(),
        source,
    };
    let file = File::open(tarball).map_err(read)?;
    let total = file.metadata().map_err(read)?.len();
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::hidden());
    let counted = bar.wrap_read(file);
    let reader: Box<dyn Read> = match compression {
        Compression::None => Box::new(counted),
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(BufReader::new(counted))),
        Compression::Xz => Box::new(xz2::read::XzDecoder::new_multi_decoder(BufReader::new(
            counted,
        ))),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::new(counted).map_err(read)?),
    };
    let progress = Progress {
        bar,
        start: Instant::now(),
        enabled: opts.progress && io::stderr().is_terminal(),
        shown: false,
    };
    unpack_archive(reader, tarball, dst, opts, progress)
}

/// The delayed progress bar: hidden until unpacking has run for [`PROGRESS_DELAY`].
struct Progress {
    bar: ProgressBar,
    start: Instant,
    enabled: bool,
    shown: bool,
}

impl Progress {
    fn tick(&mut self) {
        if self.enabled && !self.shown && self.start.elapsed() >= PROGRESS_DELAY {
            self.shown = true;
            if let Ok(style) = ProgressStyle::with_template(
                "unpacking {bar:40} {bytes}/{total_bytes} ({eta} left)",
            ) {
                self.bar.set_style(style);
            }
            self.bar.set_draw_target(ProgressDrawTarget::stderr());
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if self.shown {
            self.bar.finish_and_clear();
        }
    }
}

/// Unpacks the (decompressed) tar stream `reader` into the existing directory `dst`.
///
/// `tarball` names the archive in errors. Directories are applied last, deepest first, so a
/// read-only directory in the archive does not stop its own entries from being written (as the
/// `tar` crate's `Archive::unpack` does).
///
/// Errors: [`UnpackError::ParentDirEntry`], [`UnpackError::HardLinkOutside`],
/// [`UnpackError::OutsideTarget`], [`UnpackError::Entry`], [`UnpackError::Archive`].
fn unpack_archive(
    reader: impl Read,
    tarball: &Path,
    dst: &Path,
    opts: &UnpackOptions,
    mut progress: Progress,
) -> Result<(), UnpackError> {
    let dst = dst.canonicalize().map_err(|source| UnpackError::Cache {
        path: dst.to_owned(),
        source,
    })?;
    let archive_err = |source| UnpackError::Archive {
        path: tarball.to_owned(),
        source,
    };
    let mut archive = tar::Archive::new(reader);
    archive.set_preserve_permissions(true);
    archive.set_preserve_ownerships(opts.preserve_ownerships);
    archive.set_preserve_mtime(true);
    // xattrs are set by `set_xattrs`, which skips the ones the kernel refuses (the tar crate
    // would fail the whole tarball on the first) and sets directories' too (the crate does not).
    archive.set_unpack_xattrs(false);
    let rootless = opts.id_mapping.is_some();
    archive.set_overwrite(true);
    let mut xattrs = XattrSkips::default();

    let mut directories = Vec::new();
    // Rootless: the device nodes skipped, so that hard links to them are skipped too (link(2)
    // would fail with a bare ENOENT naming neither the device nor why it is missing).
    let mut skipped_devices: HashSet<PathBuf> = HashSet::new();
    for entry in archive.entries().map_err(archive_err)? {
        progress.tick();
        let mut entry = entry.map_err(archive_err)?;
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let Some(rel) = relative_path(&entry, &name)? else {
            continue; // the archive's root ("./"): nothing to make
        };
        let kind = entry.header().entry_type();
        if let Some(m) = &opts.id_mapping {
            check_mapped(&entry, &name, &dst, m)?;
            if matches!(kind, EntryType::Char | EntryType::Block) {
                // mknod of a device needs CAP_MKNOD in the initial user namespace.
                tracing::debug!(entry = %name, "rootless: skipping a device node");
                skipped_devices.insert(rel);
                continue;
            }
            if kind == EntryType::Link && links_to_skipped(&entry, &skipped_devices) {
                tracing::debug!(entry = %name, "rootless: skipping a hard link to a skipped device node");
                skipped_devices.insert(rel);
                continue;
            }
            // Whatever was skipped at this path is replaced by this entry.
            skipped_devices.remove(&rel);
        }
        if kind == EntryType::Directory {
            directories.push((entry, name, rel));
            continue;
        }
        // The tar crate checks this too, but its error is opaque; this names the entry.
        parent_inside(&dst, &rel, &name)?;
        match kind {
            EntryType::Link => {
                make_hard_link(&entry, &name, &dst, &rel)?;
                continue;
            }
            EntryType::Char | EntryType::Block | EntryType::Fifo => {
                make_node(&entry, &name, &dst, &rel, opts)?;
                continue;
            }
            _ => {}
        }
        unpack_in(&mut entry, &name, &dst)?;
        if kind != EntryType::Symlink {
            set_xattrs(&mut entry, &name, &dst.join(&rel), rootless, &mut xattrs)?;
        }
    }
    // Deepest first, as the tar crate does, so parents' modes are applied after children exist.
    directories.sort_by(|a, b| b.0.path_bytes().cmp(&a.0.path_bytes()));
    for (mut dir, name, rel) in directories {
        parent_inside(&dst, &rel, &name)?;
        unpack_in(&mut dir, &name, &dst)?;
        set_xattrs(&mut dir, &name, &dst.join(&rel), rootless, &mut xattrs)?;
    }
    Ok(())
}

/// The pax record prefix of an extended attribute (GNU tar `--xattrs`, star, the tar crate).
const PAX_XATTR: &[u8] = b"SCHILY.xattr.";

/// The xattr names unpacking skipped so far: each is warned about once.
#[derive(Debug, Default)]
struct XattrSkips(HashSet<String>);

/// Sets `entry`'s extended attributes (its pax `SCHILY.xattr.NAME` records) on the unpacked
/// `path` (a regular file or directory), not following a symlink. One the kernel refuses (EPERM:
/// in a user namespace, `rootless`, `trusted.*` needs CAP_SYS_ADMIN in the initial user
/// namespace and most `security.*` ones are the LSM's) or the filesystem does not support
/// (EOPNOTSUPP) is skipped, with a warning the first time its name is seen, as
/// containers/storage does.
///
/// Errors: [`UnpackError::Entry`] for unreadable pax records or any other setxattr failure,
/// naming the entry and the attribute.
fn set_xattrs<R: Read>(
    entry: &mut tar::Entry<'_, R>,
    name: &str,
    path: &Path,
    rootless: bool,
    skips: &mut XattrSkips,
) -> Result<(), UnpackError> {
    let entry_err = |source: io::Error| UnpackError::Entry {
        entry: name.to_owned(),
        dst: path.to_owned(),
        source,
    };
    let mut records = Vec::new();
    if let Some(exts) = entry.pax_extensions().map_err(entry_err)? {
        for ext in exts {
            let ext = ext.map_err(entry_err)?;
            if let Some(key) = ext.key_bytes().strip_prefix(PAX_XATTR) {
                records.push((key.to_vec(), ext.value_bytes().to_vec()));
            }
        }
    }
    for (key, value) in records {
        let xattr = String::from_utf8_lossy(&key).into_owned();
        let Err(e) = xattr::set(path, OsStr::from_bytes(&key), &value) else {
            continue;
        };
        let why = match e.raw_os_error() {
            Some(libc::EOPNOTSUPP) => "the filesystem of the data root does not support it",
            Some(libc::EPERM) if rootless => {
                "a user namespace may not set trusted.* or most security.* attributes"
            }
            Some(libc::EPERM) => "the kernel refused it (a security module's attribute?)",
            _ => {
                return Err(entry_err(io::Error::new(
                    e.kind(),
                    format!("setting extended attribute `{xattr}`: {e}"),
                )))
            }
        };
        if skips.0.insert(xattr.clone()) {
            tracing::warn!(
                "tarball entry `{name}`: extended attribute `{xattr}` not set ({e}): {why}; \
                 the container goes without it (further entries with it are skipped silently)"
            );
        } else {
            tracing::debug!(entry = %name, %xattr, "skipping an xattr");
        }
    }
    Ok(())
}

/// Whether the hard link `entry` names one of `skipped` (paths relative to the target, as
/// [`relative_path`] makes them).
fn links_to_skipped<R: Read>(entry: &tar::Entry<'_, R>, skipped: &HashSet<PathBuf>) -> bool {
    if skipped.is_empty() {
        return false;
    }
    let Ok(Some(target)) = entry.link_name() else {
        return false;
    };
    let rel: PathBuf = target
        .components()
        .filter(|c| matches!(c, Component::Normal(_)))
        .collect();
    skipped.contains(&rel)
}

/// Rootless: refuses an entry whose owner the container's mapping does not hold (chown(2)
/// would fail with EINVAL, naming neither the ids nor the mapping).
fn check_mapped<R: Read>(
    entry: &tar::Entry<'_, R>,
    name: &str,
    dst: &Path,
    mapping: &IdMapping,
) -> Result<(), UnpackError> {
    let header = entry.header();
    let entry_err = |source| UnpackError::Entry {
        entry: name.to_owned(),
        dst: dst.to_owned(),
        source,
    };
    let (uid, gid) = (
        header.uid().map_err(entry_err)?,
        header.gid().map_err(entry_err)?,
    );
    if uid >= mapping.uid_count() || gid >= mapping.gid_count() {
        return Err(UnpackError::UnmappedOwner {
            entry: name.to_owned(),
            uid,
            gid,
            mapping: mapping.describe(),
        });
    }
    Ok(())
}

/// The entry's path relative to the target: leading `/` and `.` dropped, `..` refused; `None`
/// for the archive's root itself.
fn relative_path<R: Read>(
    entry: &tar::Entry<'_, R>,
    name: &str,
) -> Result<Option<PathBuf>, UnpackError> {
    let path = entry.path().map_err(|source| UnpackError::Entry {
        entry: name.to_owned(),
        dst: PathBuf::new(),
        source,
    })?;
    let mut rel = PathBuf::new();
    for c in path.components() {
        match c {
            Component::Normal(part) => rel.push(part),
            Component::ParentDir => {
                return Err(UnpackError::ParentDirEntry {
                    entry: name.to_owned(),
                })
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    Ok((!rel.as_os_str().is_empty()).then_some(rel))
}

/// Makes a hard link (`man 2 link`) to another entry of the archive. Its target must be inside
/// `dst`: not absolute, no `..`, its directory not reached through a symlink that leaves `dst`
/// (in a rootfs tarball a hard link names another entry, never a host file such as
/// /etc/shadow). The target itself may be a symlink: link(2) does not follow it, so a hard link
/// to `bin/sh -> /bin/busybox` links the symlink (the tar crate would refuse it, since it
/// canonicalises the whole target).
fn make_hard_link<R: Read>(
    entry: &tar::Entry<'_, R>,
    name: &str,
    dst: &Path,
    rel: &Path,
) -> Result<(), UnpackError> {
    let entry_err = |source| UnpackError::Entry {
        entry: name.to_owned(),
        dst: dst.to_owned(),
        source,
    };
    let target = entry.link_name().map_err(entry_err)?.unwrap_or_default();
    let outside = || UnpackError::HardLinkOutside {
        entry: name.to_owned(),
        target: target.to_string_lossy().into_owned(),
    };
    let components_ok = target
        .components()
        .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
    let (Some(target_name), true) = (target.file_name(), components_ok) else {
        return Err(outside());
    };
    let target_dir = dst.join(target.parent().unwrap_or(Path::new("")));
    let target_dir = target_dir.canonicalize().map_err(entry_err)?;
    if !target_dir.starts_with(dst) {
        return Err(outside());
    }
    let source = target_dir.join(target_name);
    let path = parent_inside(dst, rel, name)?.join(rel.file_name().unwrap_or_default());
    if source == path {
        return Ok(()); // a link to itself: already there
    }
    remove_non_dir(&path).map_err(entry_err)?;
    fs::hard_link(&source, &path).map_err(entry_err)
}

/// Removes what an earlier entry put at `path` (without following a symlink); a directory is
/// left alone, so the following create fails clearly.
fn remove_non_dir(path: &Path) -> io::Result<()> {
    match path.symlink_metadata() {
        Ok(m) if !m.is_dir() => fs::remove_file(path),
        _ => Ok(()),
    }
}

/// The tar crate's `unpack_in`, with its silent skip turned into an error.
fn unpack_in<R: Read>(
    entry: &mut tar::Entry<'_, R>,
    name: &str,
    dst: &Path,
) -> Result<(), UnpackError> {
    match entry.unpack_in(dst) {
        Ok(true) => Ok(()),
        // unpack_in skips only entries with `..`, which relative_path already refused.
        Ok(false) => Err(UnpackError::ParentDirEntry {
            entry: name.to_owned(),
        }),
        Err(source) => Err(UnpackError::Entry {
            entry: name.to_owned(),
            dst: dst.to_owned(),
            source: with_causes(source),
        }),
    }
}

/// `e` with the messages of its causes appended: the tar crate's errors say only "failed to
/// unpack `PATH`" and keep the system call's error as their source, which a message made with
/// `Display` (husk's, and the rootless unpacking child's, which sends it as text) would lose.
fn with_causes(e: io::Error) -> io::Error {
    let mut text = e.to_string();
    let mut cause = std::error::Error::source(&e);
    while let Some(c) = cause {
        let c_text = c.to_string();
        if !text.contains(&c_text) {
            text.push_str(": ");
            text.push_str(&c_text);
        }
        cause = c.source();
    }
    io::Error::new(e.kind(), text)
}

/// Makes the parent directories of `rel` inside `dst` and returns the parent's canonical path,
/// refusing one that resolves outside `dst` (an archive-planted symlink).
fn parent_inside(dst: &Path, rel: &Path, name: &str) -> Result<PathBuf, UnpackError> {
    let entry_err = |source| UnpackError::Entry {
        entry: name.to_owned(),
        dst: dst.to_owned(),
        source,
    };
    let mut current = dst.to_path_buf();
    if let Some(parent) = rel.parent() {
        for part in parent.components() {
            let next = current.join(part);
            match next.symlink_metadata() {
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    fs::create_dir(&next).map_err(entry_err)?;
                    current = next;
                }
                Err(e) => return Err(entry_err(e)),
                Ok(_) => {
                    let canonical = next.canonicalize().map_err(entry_err)?;
                    if !canonical.starts_with(dst) || !canonical.is_dir() {
                        return Err(UnpackError::OutsideTarget {
                            entry: name.to_owned(),
                        });
                    }
                    current = canonical;
                }
            }
        }
    }
    Ok(current)
}

/// Makes a character or block device or a fifo (`man 2 mknod`), with the archive's mode and
/// owner; the tar crate would write these as empty regular files.
fn make_node<R: Read>(
    entry: &tar::Entry<'_, R>,
    name: &str,
    dst: &Path,
    rel: &Path,
    opts: &UnpackOptions,
) -> Result<(), UnpackError> {
    let entry_err = |source: io::Error| UnpackError::Entry {
        entry: name.to_owned(),
        dst: dst.to_owned(),
        source,
    };
    let header = entry.header();
    let kind = match header.entry_type() {
        EntryType::Char => SFlag::S_IFCHR,
        EntryType::Block => SFlag::S_IFBLK,
        _ => SFlag::S_IFIFO,
    };
    let mode = header.mode().map_err(entry_err)? & 0o7777;
    // Fifos carry no device numbers (the fields may be empty).
    let (major, minor) = if kind == SFlag::S_IFIFO {
        (0, 0)
    } else {
        (
            header.device_major().map_err(entry_err)?.unwrap_or(0),
            header.device_minor().map_err(entry_err)?.unwrap_or(0),
        )
    };
    let parent = parent_inside(dst, rel, name)?;
    let Some(file_name) = rel.file_name() else {
        return Ok(());
    };
    let path = parent.join(file_name);
    remove_non_dir(&path).map_err(entry_err)?;
    mknod(
        &path,
        kind,
        Mode::from_bits_truncate(mode),
        makedev(u64::from(major), u64::from(minor)),
    )
    .map_err(|e| entry_err(e.into()))?;
    if opts.preserve_ownerships {
        let uid = u32::try_from(header.uid().map_err(entry_err)?).unwrap_or(u32::MAX);
        let gid = u32::try_from(header.gid().map_err(entry_err)?).unwrap_or(u32::MAX);
        std::os::unix::fs::lchown(&path, Some(uid), Some(gid)).map_err(entry_err)?;
    }
    // mknod's mode is reduced by the umask; set the archive's exactly.
    fs::set_permissions(&path, fs::Permissions::from_mode(mode)).map_err(entry_err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{busybox_rootfs, need_root, raw_entry, tar_dir};
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    use tar::EntryType as E;

    const NO_OWNERS: UnpackOptions = UnpackOptions {
        preserve_ownerships: false,
        progress: false,
        id_mapping: None,
    };

    fn plain_tar() -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        raw_entry(&mut b, E::Regular, b"hello", None, b"hi\n");
        b.into_inner().unwrap()
    }

    #[test]
    fn sniff_by_magic_bytes() {
        let p = Path::new("x.tar");
        assert_eq!(sniff(&plain_tar(), p).unwrap(), Compression::None);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        io::Write::write_all(&mut gz, &plain_tar()).unwrap();
        assert_eq!(sniff(&gz.finish().unwrap(), p).unwrap(), Compression::Gzip);
        let raw = plain_tar();
        let xz = xz2::read::XzEncoder::new(&raw[..], 1);
        let xz = read_all(xz);
        assert_eq!(sniff(&xz, p).unwrap(), Compression::Xz);
        let zst = zstd::encode_all(&plain_tar()[..], 1).unwrap();
        assert_eq!(sniff(&zst, p).unwrap(), Compression::Zstd);
    }

    #[test]
    fn sniff_v7_header_by_checksum() {
        let mut h = tar::Header::new_old();
        h.set_path("file").unwrap();
        h.set_size(0);
        h.set_cksum();
        assert_eq!(h.as_bytes()[257..262], [0u8; 5]); // no ustar magic
        assert_eq!(
            sniff(h.as_bytes(), Path::new("f")).unwrap(),
            Compression::None
        );
        // The same header with one byte changed fails its checksum.
        let mut bytes = h.as_bytes().to_vec();
        bytes[0] = b'g';
        assert!(sniff(&bytes, Path::new("f")).is_err());
    }

    #[test]
    fn sniff_refuses_other_files_and_names_them() {
        let err = sniff(b"BZh91AY&SY", Path::new("/t/r.tar.bz2")).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("/t/r.tar.bz2") && msg.contains("bzip2"),
            "{msg}"
        );
        assert!(sniff(b"hello world", Path::new("a")).is_err());
        assert!(sniff(b"", Path::new("a")).is_err());
        assert!(sniff(&[0u8; 1024], Path::new("a")).is_err()); // end-of-archive blocks only
    }

    #[test]
    fn sha256_of_a_known_file() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("abc");
        std::fs::write(&f, "abc").unwrap();
        assert_eq!(
            sha256_file(&f).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    /// A hostile tarball must fail, leave nothing in the cache, and write nothing outside it.
    fn read_all(mut r: impl Read) -> Vec<u8> {
        let mut v = Vec::new();
        r.read_to_end(&mut v).unwrap();
        v
    }

    /// A raw entry: kind, name, link name (`OUTSIDE` stands for a directory outside the target).
    type RawEntry<'a> = (E, &'a [u8], Option<&'a [u8]>);

    fn assert_refused(entries: &[RawEntry<'_>], expect: fn(&UnpackError) -> bool) {
        let tmp = tempfile::tempdir().unwrap();
        let cache_dir = tmp.path().join("data/rootfs");
        let outside = tmp.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        std::fs::write(outside.join("secret"), "host secret").unwrap();
        let mut b = tar::Builder::new(Vec::new());
        for (kind, name, link) in entries {
            let name = String::from_utf8(name.to_vec())
                .unwrap()
                .replace("OUTSIDE", outside.to_str().unwrap());
            let link = link.map(|l| {
                String::from_utf8(l.to_vec())
                    .unwrap()
                    .replace("OUTSIDE", outside.to_str().unwrap())
            });
            raw_entry(
                &mut b,
                *kind,
                name.as_bytes(),
                link.as_deref().map(str::as_bytes),
                b"evil\n",
            );
        }
        let tarball = tmp.path().join("hostile.tar");
        std::fs::write(&tarball, b.into_inner().unwrap()).unwrap();

        let cache = RootfsCache::new(&cache_dir);
        let err = cache
            .get_or_unpack(&tarball, Compression::None, &NO_OWNERS)
            .unwrap_err();
        assert!(expect(&err), "unexpected error: {err:?}");
        // Nothing unpacked stays in the cache (only the lock file).
        let left: Vec<_> = std::fs::read_dir(&cache_dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert!(left.iter().all(|n| n.ends_with(".lock")), "{left:?}");
        // Nothing appeared outside the cache: the temp dir holds only what the test made.
        let mut top: Vec<_> = std::fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        top.sort();
        assert_eq!(top, ["data", "hostile.tar", "outside"]);
        let mut out: Vec<_> = std::fs::read_dir(&outside)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        out.sort();
        assert_eq!(out, ["secret"]);
        assert_eq!(
            std::fs::read_to_string(outside.join("secret")).unwrap(),
            "host secret"
        );
        assert!(!tmp.path().join("data/evil").exists());
    }

    #[test]
    fn refuses_parent_dir_entries() {
        assert_refused(
            &[(E::Regular, b"../evil", None)],
            |e| matches!(e, UnpackError::ParentDirEntry { entry } if entry == "../evil"),
        );
        assert_refused(&[(E::Regular, b"a/../../../evil", None)], |e| {
            matches!(e, UnpackError::ParentDirEntry { .. })
        });
    }

    #[test]
    fn refuses_files_through_a_planted_absolute_symlink() {
        // `etc -> <outside>` then `etc/passwd`: the file would land outside if followed.
        assert_refused(
            &[
                (E::Symlink, b"etc", Some(b"OUTSIDE")),
                (E::Regular, b"etc/passwd", None),
            ],
            |e| matches!(e, UnpackError::OutsideTarget { entry } if entry == "etc/passwd"),
        );
        // The same through a relative symlink that climbs out.
        assert_refused(
            &[
                (E::Symlink, b"up", Some(b"../../../../../../../../../..")),
                (E::Regular, b"up/evil", None),
            ],
            |e| matches!(e, UnpackError::OutsideTarget { .. }),
        );
        // And a device node through it (husk's own mknod path).
        assert_refused(
            &[
                (E::Symlink, b"etc", Some(b"OUTSIDE")),
                (E::Fifo, b"etc/fifo", None),
            ],
            |e| matches!(e, UnpackError::OutsideTarget { .. }),
        );
    }

    #[test]
    fn refuses_hard_links_pointing_outside() {
        assert_refused(
            &[(E::Link, b"shadow", Some(b"/etc/shadow"))],
            |e| matches!(e, UnpackError::HardLinkOutside { target, .. } if target == "/etc/shadow"),
        );
        assert_refused(&[(E::Link, b"s", Some(b"../outside/secret"))], |e| {
            matches!(e, UnpackError::HardLinkOutside { .. })
        });
        // Through a planted symlink: the canonical target is outside.
        assert_refused(
            &[
                (E::Symlink, b"link", Some(b"OUTSIDE")),
                (E::Link, b"stolen", Some(b"link/secret")),
            ],
            |e| matches!(e, UnpackError::HardLinkOutside { target, .. } if target == "link/secret"),
        );
    }

    #[test]
    fn rootless_skips_device_nodes_and_hard_links_to_them() {
        // What the rootless child does, minus the user namespace (the mapping only decides
        // which owners are accepted and that device nodes are skipped).
        let tmp = tempfile::tempdir().unwrap();
        let mut b = tar::Builder::new(Vec::new());
        let mut add = |kind, name: &str, link: Option<&str>, data: &[u8]| {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(kind);
            h.set_path(name).unwrap();
            if let Some(l) = link {
                h.set_link_name(l).unwrap();
            }
            h.set_mode(0o644);
            h.set_uid(0);
            h.set_gid(0);
            h.set_size(data.len() as u64);
            h.set_cksum();
            b.append(&h, data).unwrap();
        };
        add(E::Char, "dev/null2", None, b"");
        add(E::Link, "dev/null3", Some("./dev/null2"), b"");
        add(E::Link, "dev/null4", Some("dev/null3"), b"");
        // A regular file replacing a skipped device can be linked to.
        add(E::Block, "etc/f", None, b"");
        add(E::Regular, "etc/f", None, b"data");
        add(E::Link, "etc/g", Some("etc/f"), b"");
        let tarball = tmp.path().join("devs.tar");
        std::fs::write(&tarball, b.into_inner().unwrap()).unwrap();
        let dst = tmp.path().join("dst");
        std::fs::create_dir(&dst).unwrap();
        let opts = UnpackOptions {
            preserve_ownerships: false,
            progress: false,
            id_mapping: Some(IdMapping::single(0, 0)),
        };
        unpack_file(&tarball, Compression::None, &dst, &opts).unwrap();
        for gone in ["dev/null2", "dev/null3", "dev/null4"] {
            assert!(dst.join(gone).symlink_metadata().is_err(), "{gone}");
        }
        assert_eq!(fs::read_to_string(dst.join("etc/g")).unwrap(), "data");
        assert_eq!(dst.join("etc/f").metadata().unwrap().nlink(), 2);
    }

    #[test]
    fn an_entry_that_fails_names_the_system_calls_error() {
        // A regular file where an earlier entry made a directory: the tar crate's own error
        // says only "failed to unpack", its cause says why.
        let tmp = tempfile::tempdir().unwrap();
        let mut b = tar::Builder::new(Vec::new());
        raw_entry(&mut b, E::Regular, b"a/x", None, b"x");
        raw_entry(&mut b, E::Regular, b"a", None, b"y");
        let tarball = tmp.path().join("clash.tar");
        std::fs::write(&tarball, b.into_inner().unwrap()).unwrap();
        let dst = tmp.path().join("dst");
        std::fs::create_dir(&dst).unwrap();
        let err = unpack_file(&tarball, Compression::None, &dst, &NO_OWNERS).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, UnpackError::Entry { .. }), "{msg}");
        assert!(msg.contains("failed to unpack"), "{msg}");
        assert!(msg.contains("os error"), "{msg}");
    }

    #[test]
    fn hard_link_to_an_absolute_symlink_links_the_symlink() {
        let tmp = tempfile::tempdir().unwrap();
        let mut b = tar::Builder::new(Vec::new());
        raw_entry(&mut b, E::Symlink, b"bin/sh", Some(b"/bin/busybox"), b"");
        raw_entry(&mut b, E::Link, b"bin/ash", Some(b"bin/sh"), b"");
        raw_entry(&mut b, E::Regular, b"etc/file", None, b"data");
        raw_entry(&mut b, E::Link, b"etc/./same", Some(b"./etc/file"), b"");
        let tarball = tmp.path().join("links.tar");
        std::fs::write(&tarball, b.into_inner().unwrap()).unwrap();
        let dst = RootfsCache::new(tmp.path().join("c"))
            .get_or_unpack(&tarball, Compression::None, &NO_OWNERS)
            .unwrap()
            .path;
        assert_eq!(
            fs::read_link(dst.join("bin/ash")).unwrap(),
            PathBuf::from("/bin/busybox")
        );
        let (a, b) = (
            dst.join("etc/file").metadata().unwrap(),
            dst.join("etc/same").metadata().unwrap(),
        );
        assert_eq!((a.ino(), a.nlink()), (b.ino(), 2));
    }

    #[test]
    fn absolute_entry_names_are_contained() {
        let tmp = tempfile::tempdir().unwrap();
        let mut b = tar::Builder::new(Vec::new());
        raw_entry(&mut b, E::Regular, b"/abs/file", None, b"x");
        let tarball = tmp.path().join("abs.tar");
        std::fs::write(&tarball, b.into_inner().unwrap()).unwrap();
        let dst = RootfsCache::new(tmp.path().join("c"))
            .get_or_unpack(&tarball, Compression::None, &NO_OWNERS)
            .unwrap()
            .path;
        assert_eq!(std::fs::read_to_string(dst.join("abs/file")).unwrap(), "x");
    }

    #[test]
    fn truncated_tarball_leaves_no_cache_entry() {
        let tmp = tempfile::tempdir().unwrap();
        let mut b = tar::Builder::new(Vec::new());
        raw_entry(&mut b, E::Regular, b"big", None, &[7u8; 100_000]);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        io::Write::write_all(&mut gz, &b.into_inner().unwrap()).unwrap();
        let bytes = gz.finish().unwrap();
        let tarball = tmp.path().join("cut.tar.gz");
        std::fs::write(&tarball, &bytes[..bytes.len() / 2]).unwrap();
        let cache = RootfsCache::new(tmp.path().join("c"));
        assert!(cache
            .get_or_unpack(&tarball, Compression::Gzip, &NO_OWNERS)
            .is_err());
        let digest = sha256_file(&tarball).unwrap();
        assert!(!cache.path_for(&digest).exists());
        let names: Vec<_> = std::fs::read_dir(tmp.path().join("c"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, [format!("{digest}.lock")]);
    }

    /// A busybox rootfs with the file kinds a real rootfs has; returns the tarball.
    fn busybox_tarball(tmp: &Path) -> Option<PathBuf> {
        let root = tmp.join("src");
        if !busybox_rootfs(&root) {
            return None;
        }
        std::fs::hard_link(root.join("bin/busybox"), root.join("bin/busybox.hl")).unwrap();
        let suid = root.join("bin/suid");
        std::fs::write(&suid, "#!/bin/sh\n").unwrap();
        std::os::unix::fs::chown(&suid, Some(1234), Some(5678)).unwrap();
        std::fs::set_permissions(&suid, fs::Permissions::from_mode(0o4755)).unwrap();
        xattr::set(&suid, "user.husk", b"yes").unwrap();
        mknod(
            &root.join("dev/null"),
            SFlag::S_IFCHR,
            Mode::from_bits_truncate(0o666),
            makedev(1, 3),
        )
        .unwrap();
        fs::set_permissions(root.join("dev/null"), fs::Permissions::from_mode(0o666)).unwrap();
        mknod(
            &root.join("dev/fifo"),
            SFlag::S_IFIFO,
            Mode::from_bits_truncate(0o600),
            0,
        )
        .unwrap();
        fs::create_dir(root.join("ro")).unwrap();
        fs::write(root.join("ro/inside"), "x").unwrap();
        // A directory's xattr (the tar crate would skip it), set on a read-only directory.
        xattr::set(root.join("ro"), "user.husk-dir", b"dir").unwrap();
        fs::set_permissions(root.join("ro"), fs::Permissions::from_mode(0o555)).unwrap();
        let tarball = tmp.join("busybox.tar");
        tar_dir(&root, &tarball);
        Some(tarball)
    }

    fn assert_busybox_tree(dst: &Path) {
        assert_eq!(
            fs::read_link(dst.join("bin/sh")).unwrap(),
            PathBuf::from("busybox")
        );
        let bb = dst.join("bin/busybox").metadata().unwrap();
        assert_eq!(bb.mode() & 0o7777, 0o755);
        assert_eq!(
            bb.len(),
            Path::new(crate::testutil::BUSYBOX)
                .metadata()
                .unwrap()
                .len()
        );
        let hl = dst.join("bin/busybox.hl").metadata().unwrap();
        assert_eq!((hl.ino(), hl.nlink()), (bb.ino(), 2));
        let suid = dst.join("bin/suid").metadata().unwrap();
        assert_eq!(suid.mode() & 0o7777, 0o4755);
        assert_eq!((suid.uid(), suid.gid()), (1234, 5678));
        let get = |p: &str, name: &str| xattr::get(dst.join(p), name).unwrap();
        assert_eq!(get("bin/suid", "user.husk").as_deref(), Some(&b"yes"[..]));
        assert_eq!(get("ro", "user.husk-dir").as_deref(), Some(&b"dir"[..]));
        let null = dst.join("dev/null").symlink_metadata().unwrap();
        assert!(null.file_type().is_char_device());
        assert_eq!(null.rdev(), makedev(1, 3));
        assert_eq!(null.mode() & 0o7777, 0o666);
        let fifo = dst.join("dev/fifo").symlink_metadata().unwrap();
        assert!(fifo.file_type().is_fifo());
        assert_eq!(fifo.mode() & 0o7777, 0o600);
        assert_eq!(dst.join("tmp").metadata().unwrap().mode() & 0o7777, 0o1777);
        assert_eq!(dst.join("ro").metadata().unwrap().mode() & 0o7777, 0o555);
        assert_eq!(fs::read_to_string(dst.join("ro/inside")).unwrap(), "x");
    }

    #[test]
    fn unpacks_a_busybox_rootfs_in_every_compression() {
        if !need_root("unpacks_a_busybox_rootfs_in_every_compression") {
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        let Some(tar_path) = busybox_tarball(tmp.path()) else {
            return;
        };
        let raw = fs::read(&tar_path).unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        io::Write::write_all(&mut gz, &raw).unwrap();
        let xz = read_all(xz2::read::XzEncoder::new(&raw[..], 1));
        let variants = [
            ("busybox.tar", raw.clone(), Compression::None),
            ("busybox.tgz", gz.finish().unwrap(), Compression::Gzip),
            ("busybox.tar.xz", xz, Compression::Xz),
            (
                "busybox.tar.zst",
                zstd::encode_all(&raw[..], 3).unwrap(),
                Compression::Zstd,
            ),
        ];
        let cache = RootfsCache::new(tmp.path().join("data/rootfs"));
        let opts = UnpackOptions {
            preserve_ownerships: true,
            progress: false,
            id_mapping: None,
        };
        let mut dirs = Vec::new();
        for (name, bytes, compression) in variants {
            let path = tmp.path().join(name);
            fs::write(&path, bytes).unwrap();
            assert_eq!(sniff_file(&path).unwrap(), compression, "{name}");
            let dst = cache.get_or_unpack(&path, compression, &opts).unwrap().path;
            assert_eq!(dst, cache.path_for(&sha256_file(&path).unwrap()));
            assert_busybox_tree(&dst);
            dirs.push(dst);
        }
        let mode = fs::metadata(tmp.path().join("data/rootfs")).unwrap().mode();
        assert_eq!(mode & 0o777, 0o700);
        // Each digest is its own entry.
        dirs.dedup();
        assert_eq!(dirs.len(), 4);
    }

    #[test]
    fn a_cached_tarball_is_not_unpacked_again() {
        if !need_root("a_cached_tarball_is_not_unpacked_again") {
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        let Some(tarball) = busybox_tarball(tmp.path()) else {
            return;
        };
        let cache = RootfsCache::new(tmp.path().join("rootfs"));
        let opts = UnpackOptions::default();
        let first = cache
            .get_or_unpack(&tarball, Compression::None, &opts)
            .unwrap();
        fs::write(first.path.join("sentinel"), "kept").unwrap();
        let second = cache
            .get_or_unpack(&tarball, Compression::None, &opts)
            .unwrap();
        assert_eq!(first, second);
        assert_eq!(
            fs::read_to_string(second.path.join("sentinel")).unwrap(),
            "kept"
        );
    }

    #[test]
    fn concurrent_unpacks_of_one_tarball_agree() {
        if !need_root("concurrent_unpacks_of_one_tarball_agree") {
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        let Some(tarball) = busybox_tarball(tmp.path()) else {
            return;
        };
        let cache = RootfsCache::new(tmp.path().join("rootfs"));
        let handles: Vec<_> = (0..3)
            .map(|_| {
                let (cache, tarball) = (cache.clone(), tarball.clone());
                std::thread::spawn(move || {
                    cache
                        .get_or_unpack(&tarball, Compression::None, &UnpackOptions::default())
                        .unwrap()
                        .path
                })
            })
            .collect();
        let dirs: Vec<PathBuf> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        assert!(dirs.windows(2).all(|w| w[0] == w[1]));
        assert_busybox_tree(&dirs[0]);
        let names: Vec<_> = fs::read_dir(tmp.path().join("rootfs"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.starts_with(".tmp-"))
            .collect();
        assert!(names.is_empty(), "{names:?}");
    }
}
