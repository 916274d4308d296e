//! The SOURCE operand of `husk run`: its grammar and what it names on disk.
//!
//! Grammar (kept open for image references, which a later issue adds):
//! - the word `host`: the embedded default, a read-only view of the host (see `hostroot`);
//!   a directory named `host` is written `./host`;
//! - a path: a word that contains `/`, starts with `.`, or exists; it must be a directory (a root
//!   filesystem) or a tarball (recognised by its magic bytes, see `unpack::Compression`);
//! - anything else would be an image reference, refused for now.

use std::path::{Path, PathBuf};

use crate::unpack::{self, Compression};

/// The keyword for the host source.
pub const HOST_KEYWORD: &str = "host";

/// What the SOURCE word means, before looking at the file it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceRef {
    /// The word `host`.
    Host,
    /// A path to a directory or a tarball.
    Path(PathBuf),
}

/// A SOURCE resolved against the filesystem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The host's own directories, read-only.
    Host,
    /// A root filesystem directory (canonical path), used read-only as an overlay lower layer.
    Directory(PathBuf),
    /// A rootfs tarball (canonical path) and its compression.
    Tarball(PathBuf, Compression),
}

/// Why a SOURCE was refused.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The SOURCE word is empty.
    #[error("SOURCE is empty; give a rootfs directory, a tarball or `host`")]
    Empty,
    /// The word is not a path and image references are not implemented.
    #[error(
        "SOURCE `{0}`: not a path, and image references are not supported yet \
         (a path contains `/` or starts with `.`, e.g. ./{0}; or use `host`)"
    )]
    ImageReference(String),
    /// The path does not exist or cannot be examined.
    #[error("SOURCE {}: {source}", path.display())]
    Stat {
        /// The path given.
        path: PathBuf,
        /// The error of stat/canonicalize.
        #[source]
        source: std::io::Error,
    },
    /// The path is neither a directory nor a regular file.
    #[error("SOURCE {}: not a directory or a regular file (a rootfs directory or tarball)", .0.display())]
    NotDirOrFile(PathBuf),
    /// A regular file that is not a tarball.
    #[error(transparent)]
    NotTarball(#[from] unpack::UnpackError),
}

/// Classifies the SOURCE word (no filesystem access except the "exists" rule).
///
/// Errors: [`SourceError::Empty`], [`SourceError::ImageReference`].
pub fn parse(word: &str) -> Result<SourceRef, SourceError> {
    if word.is_empty() {
        return Err(SourceError::Empty);
    }
    if word == HOST_KEYWORD {
        return Ok(SourceRef::Host);
    }
    // symlink_metadata: a dangling symlink exists too, and then fails clearly in resolve().
    if word.contains('/') || word.starts_with('.') || Path::new(word).symlink_metadata().is_ok() {
        return Ok(SourceRef::Path(PathBuf::from(word)));
    }
    Err(SourceError::ImageReference(word.to_owned()))
}

/// Resolves a [`SourceRef`]: canonicalises a path and tells a directory from a tarball (by the
/// file's first bytes, not its name).
///
/// Errors: [`SourceError::Stat`] when it does not exist, [`SourceError::NotDirOrFile`],
/// [`SourceError::NotTarball`] for a regular file that is no tarball husk reads.
pub fn resolve(r: &SourceRef) -> Result<Source, SourceError> {
    let path = match r {
        SourceRef::Host => return Ok(Source::Host),
        SourceRef::Path(p) => p,
    };
    let stat = |source| SourceError::Stat {
        path: path.clone(),
        source,
    };
    let canonical = path.canonicalize().map_err(stat)?;
    let meta = canonical.metadata().map_err(stat)?;
    if meta.is_dir() {
        Ok(Source::Directory(canonical))
    } else if meta.is_file() {
        let compression = unpack::sniff_file(&canonical)?;
        Ok(Source::Tarball(canonical, compression))
    } else {
        Err(SourceError::NotDirOrFile(canonical))
    }
}

/// [`parse`] then [`resolve`].
pub fn from_word(word: &str) -> Result<Source, SourceError> {
    resolve(&parse(word)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_keyword() {
        assert_eq!(parse("host").unwrap(), SourceRef::Host);
        assert_eq!(parse("./host").unwrap(), SourceRef::Path("./host".into()));
    }

    #[test]
    fn paths_by_shape() {
        assert_eq!(parse("/x/y").unwrap(), SourceRef::Path("/x/y".into()));
        assert_eq!(parse("a/b.tar").unwrap(), SourceRef::Path("a/b.tar".into()));
        assert_eq!(parse(".").unwrap(), SourceRef::Path(".".into()));
        assert_eq!(parse("..").unwrap(), SourceRef::Path("..".into()));
        assert_eq!(parse(".rootfs").unwrap(), SourceRef::Path(".rootfs".into()));
    }

    #[test]
    fn image_like_words_are_refused_with_a_hint() {
        for word in ["alpine", "alpine:3.19", "docker.io@sha256"] {
            let err = parse(word).unwrap_err();
            assert!(matches!(&err, SourceError::ImageReference(w) if w == word));
            let msg = err.to_string();
            assert!(
                msg.contains("image references are not supported yet"),
                "{msg}"
            );
            assert!(msg.contains(&format!("./{word}")), "{msg}");
        }
        assert!(matches!(parse(""), Err(SourceError::Empty)));
    }

    #[test]
    fn an_existing_bare_word_is_a_path() {
        // Cargo runs unit tests in the package directory, which holds Cargo.toml.
        assert_eq!(
            parse("Cargo.toml").unwrap(),
            SourceRef::Path("Cargo.toml".into())
        );
    }

    #[test]
    fn resolve_directory_tarball_and_errors() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("rootfs");
        std::fs::create_dir(&d).unwrap();
        assert_eq!(
            from_word(d.to_str().unwrap()).unwrap(),
            Source::Directory(d.canonicalize().unwrap())
        );

        // A gzip file named .tar: the magic bytes win over the name.
        let t = dir.path().join("misnamed.tar");
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut enc, &[0u8; 1024]).unwrap();
        std::fs::write(&t, enc.finish().unwrap()).unwrap();
        assert_eq!(
            from_word(t.to_str().unwrap()).unwrap(),
            Source::Tarball(t.canonicalize().unwrap(), Compression::Gzip)
        );

        let text = dir.path().join("notes.txt");
        std::fs::write(&text, "hello").unwrap();
        assert!(matches!(
            from_word(text.to_str().unwrap()),
            Err(SourceError::NotTarball(_))
        ));

        let missing = dir.path().join("missing");
        let err = from_word(missing.to_str().unwrap()).unwrap_err();
        assert!(matches!(err, SourceError::Stat { .. }));
        assert!(err.to_string().contains("missing"));

        assert!(matches!(
            from_word("/dev/null"),
            Err(SourceError::NotDirOrFile(_))
        ));
    }
}
