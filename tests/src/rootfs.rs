//! Root filesystems for the tests, built once per machine and cached under
//! `/var/cache/husk-test/` (override with `HUSK_TEST_CACHE`).
//!
//! - [`busybox`]: Debian busybox-static's `/bin/busybox` with one symlink per applet in `/bin`,
//!   `/etc/passwd` and `/etc/group` with known users, and the mountpoints tests use.
//! - [`minbase`]: `debootstrap --variant=minbase bookworm` (about 40 s when missing).
//!
//! Building happens in a temp dir next to the final one and is renamed into place, under an
//! exclusive flock on `<cache>/.lock`, so concurrent test threads and processes never see a
//! half-built tree. Tests use the cache through `root.path` with `root.readonly: true` and never
//! write to it: every mount destination a bundle uses must already exist in the tree (see
//! [`MOUNTPOINTS`]; [`crate::Bundle::mount`] checks it), because a runtime creates missing
//! mountpoints in the rootfs before it remounts it read-only. A test that needs a writable root
//! takes a private copy with [`busybox_copy`].

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use nix::fcntl::{Flock, FlockArg};

use crate::runtime::exec_timeout;

/// Bump when the busybox tree's contents change, so old caches are not reused.
const BUSYBOX_VERSION: &str = "busybox-v1";

/// Directories that exist in the busybox rootfs, so they can be mount destinations.
pub const MOUNTPOINTS: &[&str] = &[
    "/proc",
    "/sys",
    "/dev",
    "/tmp",
    "/mnt",
    "/mnt/a",
    "/mnt/b",
    "/run",
    "/var",
    "/root",
    "/home/husk",
];

/// The uid and gid of the unprivileged user `husk-test` in the busybox rootfs.
pub const TEST_UID: u32 = 1000;

/// `/etc/passwd` of the busybox rootfs: the fields tests assert on (HOME from here).
pub const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n\
husk-test:x:1000:1000:husk test user:/home/husk:/bin/sh\n\
nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n";

/// `/etc/group` of the busybox rootfs: `extra` (2000) lists husk-test as a member.
pub const GROUP: &str = "root:x:0:\n\
tty:x:5:\n\
husk-test:x:1000:\n\
extra:x:2000:husk-test\n\
nogroup:x:65534:\n";

/// The cache directory (`HUSK_TEST_CACHE` or `/var/cache/husk-test`).
pub fn cache_dir() -> PathBuf {
    std::env::var_os("HUSK_TEST_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/cache/husk-test"))
}

/// Runs `build(tmp)` to make `<cache>/<name>` unless it exists, under the cache lock; the tree
/// is built in `<cache>/<name>.tmp-<pid>` and renamed into place only when complete.
fn build_once(name: &str, build: impl FnOnce(&Path)) -> PathBuf {
    let cache = cache_dir();
    fs::create_dir_all(&cache).unwrap();
    let final_dir = cache.join(name);
    if final_dir.is_dir() {
        return final_dir;
    }
    let lock_file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(cache.join(".lock"))
        .unwrap();
    let _lock = Flock::lock(lock_file, FlockArg::LockExclusive)
        .map_err(|(_, e)| e)
        .unwrap();
    // Another process may have finished it while we waited for the lock.
    if final_dir.is_dir() {
        return final_dir;
    }
    let tmp = cache.join(format!("{name}.tmp-{}", std::process::id()));
    if tmp.exists() {
        fs::remove_dir_all(&tmp).unwrap();
    }
    build(&tmp);
    fs::rename(&tmp, &final_dir).unwrap();
    final_dir
}

/// Path of the busybox rootfs (built on first use; needs Debian's `busybox-static`).
pub fn busybox() -> &'static Path {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| build_once(BUSYBOX_VERSION, populate_busybox))
}

/// Path of the Debian minbase rootfs (built on first use with debootstrap, about 40 s).
pub fn minbase() -> &'static Path {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        build_once("minbase", |tmp| {
            let mut cmd = Command::new("debootstrap");
            cmd.args(["--variant=minbase", "bookworm"]).arg(tmp);
            let out = exec_timeout(cmd, true, Duration::from_secs(900));
            assert!(
                out.status.success(),
                "debootstrap --variant=minbase bookworm {} failed: {}",
                tmp.display(),
                out.stderr
            );
        })
    })
}

/// Makes a private, writable copy of the busybox rootfs in `dir` (for tests of
/// `root.readonly: false`); the copy keeps the applet symlinks.
pub fn busybox_copy(dir: &Path) {
    populate_busybox(dir);
}

/// Fills `root` with the busybox tree.
fn populate_busybox(root: &Path) {
    let busybox_bin = Path::new("/bin/busybox");
    assert!(
        busybox_bin.exists(),
        "/bin/busybox is missing: apt-get install busybox-static"
    );
    for dir in MOUNTPOINTS.iter().chain(&["/bin", "/etc"]) {
        fs::create_dir_all(root.join(dir.trim_start_matches('/'))).unwrap();
    }
    fs::set_permissions(root.join("tmp"), fs::Permissions::from_mode(0o1777)).unwrap();
    fs::copy(busybox_bin, root.join("bin/busybox")).unwrap();
    let mut cmd = Command::new(busybox_bin);
    cmd.arg("--list");
    let list = exec_timeout(cmd, true, Duration::from_secs(30));
    assert!(list.status.success(), "busybox --list failed");
    for applet in list.stdout.lines() {
        if applet != "busybox" {
            symlink("busybox", root.join("bin").join(applet)).unwrap();
        }
    }
    fs::write(root.join("etc/passwd"), PASSWD).unwrap();
    fs::write(root.join("etc/group"), GROUP).unwrap();
    std::os::unix::fs::chown(root.join("home/husk"), Some(TEST_UID), Some(TEST_UID)).unwrap();
}
