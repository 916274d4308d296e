//! The front end: `husk run` on the `host` source, a rootfs directory and rootfs tarballs
//! (.tar, .tar.gz, .tar.xz, .tar.zst), its options as the container sees them, its exit
//! statuses (the command's own, 128+N, 125, 126, 127), its record, and that a finished run
//! leaves nothing behind (issue 2 section 6; the README's `husk run` section).
//!
//! Every call passes `--data-root` and `--root` temp dirs and `--cgroup-parent husk-test-<pid>`
//! (see `husk_tests::front`).

#![allow(clippy::unwrap_used)] // tests may unwrap (project rules)

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use husk_tests::front::{self, Husk};
use husk_tests::{host_lacks, reference_lacks, rootfs, runtime};

/// A `Name:\tvalue` field of /proc/self/status text.
fn status_field<'a>(status: &'a str, name: &str) -> &'a str {
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or_else(|| panic!("no {name} in {status}"))
        .trim()
}

/// A private busybox rootfs in a temp dir (so a test can check that husk never writes to it).
fn busybox_dir() -> tempfile::TempDir {
    let d = tempfile::Builder::new()
        .prefix("husk-src-")
        .tempdir()
        .unwrap();
    rootfs::busybox_copy(d.path());
    d
}

/// Sorted names of the entries of `dir`, recursively, relative to it.
fn tree(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            out.push(p.strip_prefix(base).unwrap().to_string_lossy().into_owned());
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                walk(base, &p, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// The husk tests check husk's front end; the runc reference has none.
fn skip_under_runc() -> bool {
    reference_lacks("husk run (the front end; runc has none)")
}

#[test]
fn host_source_pid_1_hostname_and_docker_capabilities() {
    if skip_under_runc() {
        return;
    }
    let h = Husk::new();
    let name = Husk::name();
    let o = h
        .run(
            &name,
            &[],
            "host",
            &["sh", "-c", "echo $$; hostname; cat /proc/self/status"],
        )
        .ok();
    h.assert_clean(&name);
    let lines: Vec<&str> = o.stdout.lines().collect();
    assert_eq!(lines[0], "1", "the command is pid 1: {}", o.stdout);
    assert_eq!(lines[1], name, "hostname = --name");
    // Docker's default set (moby oci/caps/defaults.go): 0xa80425fb.
    assert_eq!(status_field(&o.stdout, "CapEff"), "00000000a80425fb");
    assert_eq!(status_field(&o.stdout, "CapBnd"), "00000000a80425fb");
    let eff = u64::from_str_radix(status_field(&o.stdout, "CapEff"), 16).unwrap();
    assert_eq!(eff & (1 << 21), 0, "CAP_SYS_ADMIN (21) is never granted");
}

#[test]
fn host_source_usr_is_the_hosts_and_read_only() {
    if skip_under_runc() {
        return;
    }
    let h = Husk::new();
    let out = h.run_ok(
        &[],
        "host",
        &[
            "sh",
            "-c",
            "stat -c '%d %i' /usr/bin; touch /usr/husk-test-write 2>&1; echo rc=$?",
        ],
    );
    let md = fs::metadata("/usr/bin").unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        format!("{} {}", md.dev(), md.ino()),
        "/usr/bin is not the host's: {out}"
    );
    assert!(
        out.contains("Read-only file system") && out.ends_with("rc=1\n"),
        "a write to /usr must fail: {out}"
    );
    assert!(!Path::new("/usr/husk-test-write").exists());
}

#[test]
fn directory_source_is_never_written() {
    if skip_under_runc() {
        return;
    }
    let h = Husk::new();
    let src = busybox_dir();
    let before = tree(src.path());
    let out = h.run_ok(
        &[],
        src.path().to_str().unwrap(),
        &[
            "sh",
            "-c",
            "echo hello > /created; rm /etc/group; cat /created; ls /etc",
        ],
    );
    assert_eq!(out, "hello\npasswd\n", "the container sees its own writes");
    assert_eq!(tree(src.path()), before, "the source directory changed");
    assert!(src.path().join("etc/group").exists());
}

/// Tars the busybox rootfs into `dir/rootfs.<ext>` with GNU tar's `flag` (empty for none).
fn make_tarball(dir: &Path, ext: &str, flag: &str) -> std::path::PathBuf {
    let out = dir.join(format!("rootfs.{ext}"));
    let mut cmd = Command::new("tar");
    cmd.arg("--numeric-owner").arg("-C").arg(rootfs::busybox());
    if !flag.is_empty() {
        cmd.arg(flag);
    }
    cmd.arg("-cf").arg(&out).arg(".");
    let o = runtime::exec(cmd, true);
    assert!(o.status.success(), "tar {flag} failed: {o:#?}");
    out
}

#[test]
fn tarball_sources_in_every_compression() {
    if skip_under_runc() {
        return;
    }
    let h = Husk::new();
    let dir = tempfile::tempdir().unwrap();
    let passwd = fs::read_to_string(rootfs::busybox().join("etc/passwd")).unwrap();
    let have = |tool: &str| {
        Command::new(tool)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    let mut checked = 0;
    for (ext, flag, tool) in [
        ("tar", "", "tar"),
        ("tar.gz", "-z", "gzip"),
        ("tar.xz", "-J", "xz"),
        ("tar.zst", "--zstd", "zstd"),
    ] {
        if host_lacks(
            !have(tool),
            &format!("{ext}: the `{tool}` command is missing, so tar cannot make one (apt-get install {tool})"),
        ) {
            continue;
        }
        let ball = make_tarball(dir.path(), ext, flag);
        let out = h.run_ok(
            &[],
            ball.to_str().unwrap(),
            &["sh", "-c", "cat /etc/passwd; echo x > /new; cat /new"],
        );
        assert_eq!(out, format!("{passwd}x\n"), "{ext}");
        checked += 1;
    }
    assert!(checked >= 1);
    // Each tarball unpacked once into the cache, keyed by its sha256 (64 hex digits).
    let cached: Vec<String> = fs::read_dir(h.data_root().join("rootfs"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.len() == 64 && n.chars().all(|c| c.is_ascii_hexdigit()))
        .collect();
    assert_eq!(cached.len(), checked, "cache entries: {cached:?}");
}

#[test]
fn exit_status_is_the_commands_own() {
    if skip_under_runc() {
        return;
    }
    let h = Husk::new();
    let name = Husk::name();
    let o = h.run(&name, &[], "host", &["sh", "-c", "exit 3"]);
    assert_eq!(o.code(), Some(3), "{o:#?}");
    h.assert_clean(&name);
    // Inside, a child killed by SIGKILL is 128+9 to its shell.
    let out = h.run_ok(
        &[],
        rootfs::busybox().to_str().unwrap(),
        &["sh", "-c", "sh -c 'kill -9 $$'; echo $?"],
    );
    assert_eq!(out, "137\n");
}

#[test]
fn exit_status_is_137_when_killed_from_outside() {
    if skip_under_runc() {
        return;
    }
    let h = Husk::new();
    let name = Husk::name();
    let mut cmd = h.command(
        &name,
        &[],
        rootfs::busybox().to_str().unwrap(),
        &["sleep", "30"],
    );
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut child = runtime::spawn(&mut cmd);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let st = h.rt.try_state(&name);
        if st.as_ref().is_some_and(|s| s["status"] == "running") {
            break;
        }
        assert!(Instant::now() < deadline, "never running: {st:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
    h.rt.kill(&name, "KILL").ok();
    let status = runtime::wait_child(&mut child, Duration::from_secs(20), "husk run");
    assert_eq!(status.code(), Some(137), "{status:?}");
    h.assert_clean(&name);
}

#[test]
fn exit_status_127_126_125() {
    if skip_under_runc() {
        return;
    }
    let h = Husk::new();
    let bb = rootfs::busybox().to_str().unwrap().to_string();
    for (cmd, code, words) in [
        (
            &["husk-no-such-command"][..],
            127,
            &["husk-no-such-command"][..],
        ),
        (&["/etc/passwd"][..], 126, &["/etc/passwd"][..]),
    ] {
        let name = Husk::name();
        let o = h.run(&name, &[], &bb, cmd);
        assert_eq!(o.code(), Some(code), "{cmd:?}: {o:#?}");
        o.stderr_mentions(words);
        h.assert_clean(&name);
    }
    // A source that does not exist.
    let name = Husk::name();
    let o = h.run(&name, &[], "/husk-no-such-rootfs/x", &["true"]);
    assert_eq!(o.code(), Some(125), "{o:#?}");
    o.stderr_mentions(&["/husk-no-such-rootfs/x"]);
    h.assert_clean(&name);
}

#[test]
fn exit_status_125_for_a_bad_option() {
    if skip_under_runc() {
        return;
    }
    let h = Husk::new();
    let name = Husk::name();
    // Docker's convention, which the README promises: 125 whenever husk itself failed.
    let o = h.run(
        &name,
        &["--husk-no-such-option"],
        rootfs::busybox().to_str().unwrap(),
        &["true"],
    );
    assert_eq!(o.code(), Some(125), "{o:#?}");
    o.stderr_mentions(&["--husk-no-such-option"]);
    h.assert_clean(&name);
}

#[test]
fn env_workdir_and_user_are_seen_inside() {
    if skip_under_runc() {
        return;
    }
    let h = Husk::new();
    let out = h.run_ok(
        &["-e", "HUSK_K=a value", "-w", "/tmp", "-u", "1000:1000"],
        rootfs::busybox().to_str().unwrap(),
        &[
            "sh",
            "-c",
            "echo \"$HUSK_K\"; pwd; id -u; id -g; echo $HOME",
        ],
    );
    assert_eq!(out, "a value\n/tmp\n1000\n1000\n/home/husk\n");
}

#[test]
fn a_read_only_volume_is_read_only_inside() {
    if skip_under_runc() {
        return;
    }
    let h = Husk::new();
    let vol = tempfile::tempdir().unwrap();
    fs::write(vol.path().join("f"), "from the host\n").unwrap();
    let spec = format!("{}:/mnt:ro", vol.path().display());
    let out = h.run_ok(
        &["-v", &spec],
        rootfs::busybox().to_str().unwrap(),
        &["sh", "-c", "cat /mnt/f; touch /mnt/g 2>&1; echo rc=$?"],
    );
    assert!(out.starts_with("from the host\n"), "{out}");
    assert!(
        out.contains("Read-only file system") && out.ends_with("rc=1\n"),
        "{out}"
    );
    assert!(!vol.path().join("g").exists());
}

#[test]
fn network_none_has_only_loopback_up() {
    if skip_under_runc() {
        return;
    }
    let h = Husk::new();
    let out = h.run_ok(
        &["--network", "none"],
        rootfs::busybox().to_str().unwrap(),
        &["sh", "-c", "cat /proc/net/dev; echo ---; ip link"],
    );
    let (dev, link) = out.split_once("---\n").unwrap();
    let ifaces: Vec<&str> = dev
        .lines()
        .skip(2)
        .filter_map(|l| l.split(':').next())
        .map(str::trim)
        .collect();
    assert_eq!(ifaces, ["lo"], "{out}");
    let lo = link.lines().find(|l| l.contains(": lo:")).unwrap();
    assert!(lo.contains(",UP"), "lo is not up: {link}");
}

#[test]
fn read_only_root() {
    if skip_under_runc() {
        return;
    }
    let h = Husk::new();
    let out = h.run_ok(
        &["--read-only"],
        rootfs::busybox().to_str().unwrap(),
        &["sh", "-c", "touch /x 2>&1; echo rc=$?"],
    );
    assert!(
        out.contains("Read-only file system") && out.ends_with("rc=1\n"),
        "{out}"
    );
    // Without it the root is writable.
    let out = h.run_ok(
        &[],
        rootfs::busybox().to_str().unwrap(),
        &["sh", "-c", "touch /x 2>&1; echo rc=$?"],
    );
    assert_eq!(out, "rc=0\n");
}

#[test]
fn tty_option_gives_a_pty() {
    if skip_under_runc() {
        return;
    }
    if host_lacks(
        Command::new("script").arg("--version").output().is_err(),
        "util-linux `script` (to give husk a terminal) is missing",
    ) {
        return;
    }
    let h = Husk::new();
    let name = Husk::name();
    let inner = h.command(
        &name,
        &["-t"],
        rootfs::busybox().to_str().unwrap(),
        &["tty"],
    );
    // script(1) takes one shell command line; every word here is a temp path, a name or a
    // flag without spaces or quotes.
    let line: Vec<String> = std::iter::once(inner.get_program())
        .chain(inner.get_args())
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let mut cmd = Command::new("script");
    cmd.args(["-qec", &line.join(" "), "/dev/null"])
        .env("HUSK_TEST_MARKER", &name);
    let o = runtime::exec(cmd, true).ok();
    assert!(o.stdout.contains("/dev/pts/0"), "{o:#?}");
    h.assert_clean(&name);
}

/// Appends an entry with a raw name, bypassing the tar crate's path checks (which refuse `..`).
fn raw_entry<W: std::io::Write>(b: &mut tar::Builder<W>, name: &[u8], data: &[u8]) {
    let mut hd = tar::Header::new_gnu();
    hd.as_old_mut().name[..name.len()].copy_from_slice(name);
    let dir = name.ends_with(b"/");
    hd.set_entry_type(if dir {
        tar::EntryType::Directory
    } else {
        tar::EntryType::Regular
    });
    hd.set_mode(if dir { 0o755 } else { 0o644 });
    hd.set_uid(0);
    hd.set_gid(0);
    hd.set_mtime(0);
    hd.set_size(data.len() as u64);
    hd.set_cksum();
    b.append(&hd, data).unwrap();
}

#[test]
fn a_hostile_tarball_fails_with_125_and_writes_nothing_outside() {
    if skip_under_runc() {
        return;
    }
    let h = Husk::new();
    let dir = tempfile::tempdir().unwrap();
    let ball = dir.path().join("evil.tar");
    let name = Husk::name();
    let evil = format!("evil-{name}");
    {
        let mut b = tar::Builder::new(fs::File::create(&ball).unwrap());
        raw_entry(&mut b, b"bin/", b"");
        for depth in 1..=4 {
            let path = format!("{}{evil}", "../".repeat(depth));
            raw_entry(&mut b, path.as_bytes(), b"escaped\n");
        }
        b.finish().unwrap();
    }
    let o = h.run(&name, &[], ball.to_str().unwrap(), &["true"]);
    assert_eq!(o.code(), Some(125), "{o:#?}");
    o.stderr_mentions(&[".."]);
    h.assert_clean(&name);
    // Nowhere the `..` entries could land: anywhere in the data root (the cache is
    // <data-root>/rootfs/), beside the tarball, or in any ancestor of the data root.
    for base in [h.data_root(), dir.path()] {
        let hits: Vec<String> = tree(base)
            .into_iter()
            .filter(|p| p.ends_with(&evil))
            .collect();
        assert!(hits.is_empty(), "written outside: {hits:?} in {base:?}");
    }
    for anc in h.data_root().ancestors() {
        assert!(!anc.join(&evil).exists(), "written to {}", anc.display());
    }
}

#[test]
fn rm_false_keeps_the_record_with_the_exit_status() {
    if skip_under_runc() {
        return;
    }
    let h = Husk::new();
    let name = Husk::name();
    let o = h.run(
        &name,
        &["--rm=false"],
        rootfs::busybox().to_str().unwrap(),
        &["sh", "-c", "echo kept > /changed; exit 3"],
    );
    assert_eq!(o.code(), Some(3), "{o:#?}");
    let rec = h.record(&name);
    assert_eq!(rec["name"], name.as_str(), "{rec}");
    assert_eq!(rec["status"], "exited", "{rec}");
    assert_eq!(rec["exit_status"], 3, "{rec}");
    assert!(rec["finished"].is_string(), "{rec}");
    // The container's changes are kept in its upper layer.
    let upper = h.data_root().join("containers").join(&name).join("upper");
    assert_eq!(fs::read_to_string(upper.join("changed")).unwrap(), "kept\n");
    // Everything else is gone: only the data dir is expected to stay.
    let left: Vec<String> = h
        .leaks(&name)
        .into_iter()
        .filter(|l| !l.starts_with("data dir"))
        .collect();
    assert!(left.is_empty(), "{left:#?}");
}

#[test]
fn minbase_directory_source() {
    if skip_under_runc() {
        return;
    }
    let h = Husk::new();
    let mb = rootfs::minbase().to_str().unwrap().to_string();
    let out = h.run_ok(&[], &mb, &["cat", "/etc/debian_version"]);
    assert!(out.starts_with("12."), "debian_version {out:?}");
    // -u by name, resolved from the container's /etc/passwd; HOME from there too.
    let out = h.run_ok(
        &["-u", "nobody"],
        &mb,
        &["sh", "-c", "id -un; id -gn; echo $HOME"],
    );
    assert_eq!(out, "nobody\nnogroup\n/nonexistent\n");
}

#[test]
fn front_binary_reports_its_version() {
    if skip_under_runc() {
        return;
    }
    let o = runtime::exec(
        {
            let mut c = Command::new(front::binary());
            c.arg("--version");
            c
        },
        true,
    )
    .ok();
    assert!(o.stdout.starts_with("husk "), "{o:#?}");
}

#[test]
fn a_killed_monitor_is_cleaned_up_by_the_next_run_of_that_name() {
    if skip_under_runc() {
        return;
    }
    // Regression: a `husk run` killed with SIGKILL left its overlay mounted and its name
    // taken for good.
    let h = Husk::new();
    let name = Husk::name();
    let source = rootfs::busybox().to_str().unwrap().to_owned();
    let mut monitor = h
        .command(&name, &[], &source, &["sleep", "60"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let record = h
        .data_root()
        .join("containers")
        .join(&name)
        .join("record.json");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !fs::read_to_string(&record).is_ok_and(|r| r.contains("\"running\"")) {
        assert!(Instant::now() < deadline, "the container never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    monitor.kill().unwrap();
    monitor.wait().unwrap();
    let dir = h.data_root().to_string_lossy().into_owned();
    assert!(fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .contains(&dir));
    // The same name again: the stale container is reclaimed, then this one runs.
    let o = h.run(&name, &[], &source, &["echo", "again"]);
    assert_eq!(o.code(), Some(0), "{o:#?}");
    assert_eq!(o.stdout.trim(), "again");
    h.assert_clean(&name);
    assert!(!fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .contains(&dir));
}
