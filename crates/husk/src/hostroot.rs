//! The `host` source: a root filesystem made of the host's own programs and libraries, read-only,
//! that works on a fresh machine with nothing to download.
//!
//! The container's root is a fresh directory (the bundle's rootfs) holding a minimal /etc and
//! empty /proc, /dev, /sys, /tmp and /root. The host's /usr, /bin, /sbin, /lib, /lib32, /lib64
//! and /libx32 (those that exist) come in as read-only bind mounts listed in config.json; the
//! ones that are symlinks on the host (merged /usr: `/bin -> usr/bin`) are recreated as the same
//! symlinks, so paths resolve as on the host. The binds stay read-only because the container
//! never gets CAP_SYS_ADMIN (it could not remount them) and they are nosuid (the host's setuid
//! programs gain nothing) and nodev.

use std::fs;
use std::io;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::bundle::{bind_mount, tmpfs_mount};
use oci_spec::runtime::Mount;

/// The host directories the `host` source shows, in mount order.
pub const HOST_DIRS: [&str; 7] = ["usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32"];

/// Errors of building the `host` root.
#[derive(Debug, thiserror::Error)]
pub enum HostRootError {
    /// A file or directory of the container root could not be made.
    #[error("building the `host` root at {}: {source}", path.display())]
    Write {
        /// The path in the container root.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// A host directory could not be examined.
    #[error("reading host path {}: {source}", path.display())]
    Host {
        /// The host path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// The host has no /usr, so there is nothing to run.
    #[error("the `host` source needs {}, which is not a directory", .0.display())]
    NoUsr(PathBuf),
}

/// Builds the `host` root in the empty directory `rootfs`, from the host filesystem at
/// `host_root` (`/` in use; a temp dir in tests), and returns the mounts to add to config.json
/// (the read-only binds, then a tmpfs on /tmp).
///
/// `hostname` goes into /etc/hostname and /etc/hosts.
///
/// Errors: [`HostRootError`].
pub fn build(rootfs: &Path, host_root: &Path, hostname: &str) -> Result<Vec<Mount>, HostRootError> {
    let w = |path: &Path| {
        let path = path.to_owned();
        move |source| HostRootError::Write { path, source }
    };
    let usr = host_root.join("usr");
    if !usr.is_dir() {
        return Err(HostRootError::NoUsr(usr));
    }
    let mut mounts = Vec::new();
    for name in HOST_DIRS {
        let host = host_root.join(name);
        let inside = rootfs.join(name);
        let meta = match host.symlink_metadata() {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(source) => return Err(HostRootError::Host { path: host, source }),
        };
        if meta.file_type().is_symlink() {
            let target = fs::read_link(&host).map_err(|source| HostRootError::Host {
                path: host.clone(),
                source,
            })?;
            symlink(&target, &inside).map_err(w(&inside))?;
        } else if meta.is_dir() {
            fs::create_dir(&inside).map_err(w(&inside))?;
            mounts.push(bind_mount(
                &host,
                &format!("/{name}"),
                true,
                &["nosuid", "nodev"],
            ));
        }
    }
    for (dir, mode) in [
        ("etc", 0o755),
        ("proc", 0o555),
        ("dev", 0o755),
        ("sys", 0o555),
        ("tmp", 0o1777),
        ("root", 0o700),
    ] {
        let p = rootfs.join(dir);
        fs::create_dir(&p).map_err(w(&p))?;
        fs::set_permissions(&p, fs::Permissions::from_mode(mode)).map_err(w(&p))?;
    }
    for (file, content) in etc_files(hostname) {
        let p = rootfs.join("etc").join(file);
        fs::write(&p, content).map_err(w(&p))?;
    }
    mounts.push(tmpfs_mount("/tmp", &["nosuid", "nodev", "mode=1777"]));
    Ok(mounts)
}

/// The minimal /etc of the `host` source: users root and nobody (and group tty, which owns the
/// devpts mount's ptys, gid 5), name lookup from files, and an empty resolv.conf (the default
/// network has no DNS).
pub fn etc_files(hostname: &str) -> [(&'static str, String); 6] {
    [
        (
            "passwd",
            "root:x:0:0:root:/root:/bin/sh\n\
             nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
                .to_owned(),
        ),
        ("group", "root:x:0:\ntty:x:5:\nnobody:x:65534:\n".to_owned()),
        (
            "hosts",
            format!("127.0.0.1\tlocalhost {hostname}\n::1\tlocalhost ip6-localhost ip6-loopback\n"),
        ),
        ("hostname", format!("{hostname}\n")),
        (
            "nsswitch.conf",
            "passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n".to_owned(),
        ),
        ("resolv.conf", String::new()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake host: usr/ and lib64/ directories, bin -> usr/bin and lib -> usr/lib symlinks,
    /// no sbin, lib32 or libx32.
    fn fake_host(dir: &Path) {
        fs::create_dir_all(dir.join("usr/bin")).unwrap();
        fs::create_dir_all(dir.join("usr/lib")).unwrap();
        fs::create_dir(dir.join("lib64")).unwrap();
        symlink("usr/bin", dir.join("bin")).unwrap();
        symlink("usr/lib", dir.join("lib")).unwrap();
    }

    #[test]
    fn binds_real_dirs_and_recreates_symlinks() {
        let tmp = tempfile::tempdir().unwrap();
        let host = tmp.path().join("host");
        fake_host(&host);
        let rootfs = tmp.path().join("rootfs");
        fs::create_dir(&rootfs).unwrap();
        let mounts = build(&rootfs, &host, "box").unwrap();
        let json = serde_json::to_value(&mounts).unwrap();
        assert_eq!(
            json,
            serde_json::json!([
                {"destination": "/usr", "type": "bind", "source": host.join("usr"),
                 "options": ["rbind", "ro", "nosuid", "nodev"]},
                {"destination": "/lib64", "type": "bind", "source": host.join("lib64"),
                 "options": ["rbind", "ro", "nosuid", "nodev"]},
                {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
                 "options": ["nosuid", "nodev", "mode=1777"]},
            ])
        );
        assert_eq!(
            fs::read_link(rootfs.join("bin")).unwrap(),
            PathBuf::from("usr/bin")
        );
        assert_eq!(
            fs::read_link(rootfs.join("lib")).unwrap(),
            PathBuf::from("usr/lib")
        );
        assert!(rootfs.join("usr").is_dir() && rootfs.join("lib64").is_dir());
        assert!(!rootfs.join("sbin").exists() && !rootfs.join("lib32").exists());
        // Nothing of the host was copied into the mountpoints.
        assert!(fs::read_dir(rootfs.join("usr")).unwrap().next().is_none());
    }

    #[test]
    fn minimal_etc() {
        let tmp = tempfile::tempdir().unwrap();
        let host = tmp.path().join("host");
        fake_host(&host);
        let rootfs = tmp.path().join("rootfs");
        fs::create_dir(&rootfs).unwrap();
        build(&rootfs, &host, "box").unwrap();
        let etc = rootfs.join("etc");
        let passwd = fs::read_to_string(etc.join("passwd")).unwrap();
        assert!(passwd.starts_with("root:x:0:0:"));
        assert!(passwd.contains("\nnobody:x:65534:65534:"));
        let group = fs::read_to_string(etc.join("group")).unwrap();
        assert!(group.contains("root:x:0:") && group.contains("nobody:x:65534:"));
        assert_eq!(fs::read_to_string(etc.join("hostname")).unwrap(), "box\n");
        assert!(fs::read_to_string(etc.join("hosts"))
            .unwrap()
            .contains("localhost box"));
        assert_eq!(fs::read_to_string(etc.join("resolv.conf")).unwrap(), "");
        assert!(fs::read_to_string(etc.join("nsswitch.conf"))
            .unwrap()
            .contains("passwd: files"));
        use std::os::unix::fs::MetadataExt;
        assert_eq!(
            rootfs.join("tmp").metadata().unwrap().mode() & 0o7777,
            0o1777
        );
        for d in ["proc", "dev", "sys", "root"] {
            assert!(rootfs.join(d).is_dir(), "{d}");
        }
    }

    #[test]
    fn the_real_host_has_usr() {
        let tmp = tempfile::tempdir().unwrap();
        let mounts = build(tmp.path(), Path::new("/"), "h").unwrap();
        assert_eq!(mounts[0].destination(), Path::new("/usr"));
        assert_eq!(mounts[0].source().as_deref(), Some(Path::new("/usr")));
    }

    #[test]
    fn no_usr_is_a_clear_error() {
        let tmp = tempfile::tempdir().unwrap();
        let err = build(&tmp.path().join("r"), &tmp.path().join("empty"), "h").unwrap_err();
        assert!(matches!(err, HostRootError::NoUsr(_)));
    }
}
