//! Helpers shared by the unit tests: root checks, a busybox root filesystem, raw tar entries.

use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::Path;
use std::process::Command;

/// True when running as root; otherwise prints why the calling test does nothing.
pub fn need_root(test: &str) -> bool {
    if nix::unistd::geteuid().is_root() {
        true
    } else {
        eprintln!("{test}: skipped: needs root (mounts, mknod, chown)");
        false
    }
}

/// Debian busybox-static's binary.
pub const BUSYBOX: &str = "/bin/busybox";

/// Builds a busybox root filesystem in `dir`: bin/busybox with a relative symlink per applet,
/// etc/passwd and etc/group, and empty proc, dev, sys and tmp. Returns false (after saying why)
/// when busybox-static is not installed.
pub fn busybox_rootfs(dir: &Path) -> bool {
    if !Path::new(BUSYBOX).is_file() {
        eprintln!("skipped: {BUSYBOX} missing (install Debian busybox-static)");
        return false;
    }
    for d in ["bin", "etc", "proc", "dev", "sys", "tmp", "root"] {
        std::fs::create_dir_all(dir.join(d)).unwrap();
    }
    std::fs::set_permissions(dir.join("tmp"), std::fs::Permissions::from_mode(0o1777)).unwrap();
    std::fs::copy(BUSYBOX, dir.join("bin/busybox")).unwrap();
    let list = Command::new(BUSYBOX).arg("--list").output().unwrap();
    let list = String::from_utf8(list.stdout).unwrap();
    for applet in list.lines().filter(|a| !a.is_empty() && *a != "busybox") {
        symlink("busybox", dir.join("bin").join(applet)).unwrap();
    }
    std::fs::write(
        dir.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1001:Alice:/home/alice:/bin/sh\n",
    )
    .unwrap();
    std::fs::write(dir.join("etc/group"), "root:x:0:\nstaff:x:1001:alice\n").unwrap();
    true
}

/// Runs GNU tar to archive `dir` into `out` (with xattrs and numeric owners, as image tools do).
pub fn tar_dir(dir: &Path, out: &Path) {
    let status = Command::new("tar")
        .args(["--xattrs", "--xattrs-include=*", "--numeric-owner", "-C"])
        .arg(dir)
        .arg("-cf")
        .arg(out)
        .arg(".")
        .status()
        .unwrap();
    assert!(status.success(), "tar -cf {}", out.display());
}

/// Appends an entry with a raw name and link name (bypassing the tar crate's own path checks,
/// which would refuse the hostile names tests need).
pub fn raw_entry<W: std::io::Write>(
    b: &mut tar::Builder<W>,
    kind: tar::EntryType,
    name: &[u8],
    link: Option<&[u8]>,
    data: &[u8],
) {
    let mut h = tar::Header::new_gnu();
    h.as_old_mut().name[..name.len()].copy_from_slice(name);
    h.set_entry_type(kind);
    h.set_mode(if kind == tar::EntryType::Directory {
        0o755
    } else {
        0o644
    });
    h.set_size(data.len() as u64);
    if let Some(l) = link {
        h.set_link_name_literal(l).unwrap();
    }
    h.set_cksum();
    b.append(&h, data).unwrap();
}
