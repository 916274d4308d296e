//! The front end: `husk run` on the `host` source, a rootfs directory and rootfs tarballs
//! (.tar, .tar.gz, .tar.xz, .tar.zst), its options as the container sees them, its exit
//! statuses (the command's own, 128+N, 125, 126, 127), its record, and that a finished run
//! leaves nothing behind (issue 2 section 6; the README's `husk run` section). The resource
//! options and `--device` are checked through the container's own cgroup files, read from
//! inside.
//!
//! Every call passes `--data-root` and `--root` temp dirs and `--cgroup-parent husk-test-<pid>`
//! (see `husk_tests::front`).

#![allow(clippy::unwrap_used)] // tests may unwrap (project rules)

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use husk_tests::front::{self, Husk};
use husk_tests::{cgroups, host_lacks, reference_lacks, rootfs, runtime};

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
    h.assert_refused(&[], "/husk-no-such-rootfs/x", &["/husk-no-such-rootfs/x"]);
}

#[test]
fn exit_status_125_for_a_bad_option() {
    if skip_under_runc() {
        return;
    }
    let h = Husk::new();
    // Docker's convention, which the README promises: 125 whenever husk itself failed.
    h.assert_refused(
        &["--husk-no-such-option"],
        rootfs::busybox().to_str().unwrap(),
        &["--husk-no-such-option"],
    );
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

/// `husk run NAME SOURCE sleep 60`, its monitor killed with SIGKILL once the runtime's state
/// says running (the record says so from the hand-over to the runtime on, before the
/// container exists), and reaped (registered, so a parallel test's reap_orphans cannot take
/// its exit status). The container's init pid, which outlives the monitor.
fn sleep_under_a_killed_monitor(h: &Husk, name: &str, source: &str) -> i32 {
    let mut monitor = runtime::spawn(
        h.command(name, &[], source, &["sleep", "60"])
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    let pid = loop {
        if let Some(s) = h.rt.try_state(name) {
            if s["status"] == "running" {
                break s["pid"].as_i64().unwrap() as i32;
            }
        }
        assert!(Instant::now() < deadline, "the container never started");
        std::thread::sleep(Duration::from_millis(20));
    };
    monitor.kill().unwrap();
    monitor.wait().unwrap();
    runtime::waited(&monitor);
    pid
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
    sleep_under_a_killed_monitor(&h, &name, &source);
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

#[test]
fn the_harness_deletes_a_container_whose_monitor_a_test_killed() {
    if skip_under_runc() {
        return;
    }
    // A test that fails or times out may leave a killed monitor's container running: the
    // harness's cleanup (Runtime's drop) must not let it outlive the test.
    let h = Husk::new();
    let name = Husk::name();
    let source = rootfs::busybox().to_str().unwrap().to_owned();
    let pid = sleep_under_a_killed_monitor(&h, &name, &source);
    assert!(
        husk_tests::host::alive(pid),
        "the container outlives its killed monitor"
    );
    drop(h);
    assert!(
        !husk_tests::host::alive(pid),
        "the harness left the container running"
    );
}

// --- Resource options (--memory, --memory-swap, --cpus, --cpu-shares, --cpuset-cpus,
// --pids-limit, --blkio-weight) and --device. Each test reads the container's own cgroup files
// from inside, through its cgroup namespace's /sys/fs/cgroup mount: the v1 path
// (/sys/fs/cgroup/<controller>/...) on a v1 or hybrid host, the cgroup2 path on a pure v2 host,
// whichever exists.

/// Runs the busybox rootfs with `opts` and returns `path => value` for each of `files`
/// (paths inside the container; shell globs allowed) that exists there. Asserts exit 0 and that
/// nothing is left behind.
fn cgroup_files(h: &Husk, opts: &[&str], files: &[&str]) -> BTreeMap<String, String> {
    let script = format!(
        "for f in {}; do if [ -e \"$f\" ]; then echo \"$f=$(cat \"$f\")\"; fi; done",
        files.join(" ")
    );
    let out = h.run_ok(
        opts,
        rootfs::busybox().to_str().unwrap(),
        &["sh", "-c", &script],
    );
    out.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// The first of `candidates` (v1 path first, then cgroup2) present in `values`, with its value.
fn first_of(values: &BTreeMap<String, String>, candidates: &[&str]) -> (String, String) {
    candidates
        .iter()
        .find_map(|c| values.get(*c).map(|v| ((*c).to_owned(), v.clone())))
        .unwrap_or_else(|| panic!("none of {candidates:?} in the container: {values:#?}"))
}

/// Whether the host's kernel accounts swap in memory cgroups (v1: memsw files; v2: the memory
/// controller, as husk and Docker decide it).
fn host_accounts_swap() -> bool {
    Path::new("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes").exists()
        || fs::read_to_string("/sys/fs/cgroup/cgroup.controllers")
            .is_ok_and(|c| c.split_whitespace().any(|x| x == "memory"))
}

/// The v1 `memory.memsw.limit_in_bytes` / `memory.limit_in_bytes` of "no limit" on x86_64
/// (PAGE_COUNTER_MAX pages of 4 KiB).
const V1_UNLIMITED: &str = "9223372036854771712";

#[test]
fn memory_limit_with_dockers_default_swap() {
    if skip_under_runc() {
        return;
    }
    let h = Husk::new();
    let v = cgroup_files(
        &h,
        &["--memory", "64m"],
        &[
            "/sys/fs/cgroup/memory/memory.limit_in_bytes",
            "/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes",
            "/sys/fs/cgroup/memory.max",
            "/sys/fs/cgroup/memory.swap.max",
        ],
    );
    let (file, limit) = first_of(
        &v,
        &[
            "/sys/fs/cgroup/memory/memory.limit_in_bytes",
            "/sys/fs/cgroup/memory.max",
        ],
    );
    assert_eq!(limit, "67108864", "{file}");
    if host_lacks(
        !host_accounts_swap(),
        "swap accounting (the default --memory-swap of twice --memory)",
    ) {
        return;
    }
    // Docker's default: memory+swap = 2 x 64m, i.e. 64m of swap.
    let (file, swap) = first_of(
        &v,
        &[
            "/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes",
            "/sys/fs/cgroup/memory.swap.max",
        ],
    );
    let want = if file.ends_with("memsw.limit_in_bytes") {
        "134217728"
    } else {
        "67108864"
    };
    assert_eq!(swap, want, "{file}");
}

#[test]
fn memory_swap_total_and_unlimited() {
    if skip_under_runc() {
        return;
    }
    let h = Husk::new();
    let files = [
        "/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes",
        "/sys/fs/cgroup/memory.swap.max",
    ];
    if !host_accounts_swap() {
        // A limit the host cannot honour is refused, naming the option.
        h.assert_refused(
            &["--memory", "64m", "--memory-swap", "96m"],
            rootfs::busybox().to_str().unwrap(),
            &["--memory-swap", "does not account swap"],
        );
        host_lacks(true, "swap accounting (--memory-swap values)");
        return;
    }
    let v = cgroup_files(&h, &["--memory", "64m", "--memory-swap", "96m"], &files);
    let (file, swap) = first_of(&v, &files);
    // v1 holds the memory+swap total; cgroup2 the swap alone (96m - 64m).
    let want = if file.ends_with("memsw.limit_in_bytes") {
        "100663296"
    } else {
        "33554432"
    };
    assert_eq!(swap, want, "{file}");

    let v = cgroup_files(&h, &["--memory", "64m", "--memory-swap", "-1"], &files);
    let (file, swap) = first_of(&v, &files);
    let want = if file.ends_with("memsw.limit_in_bytes") {
        V1_UNLIMITED
    } else {
        "max"
    };
    assert_eq!(swap, want, "{file}");
}

#[test]
fn cpus_become_a_cfs_quota_per_100ms() {
    if skip_under_runc() {
        return;
    }
    let h = Husk::new();
    let v = cgroup_files(
        &h,
        &["--cpus", "1.5"],
        &[
            "/sys/fs/cgroup/cpu*/cpu.cfs_quota_us",
            "/sys/fs/cgroup/cpu*/cpu.cfs_period_us",
            "/sys/fs/cgroup/cpu.max",
        ],
    );
    if let Some(max) = v.get("/sys/fs/cgroup/cpu.max") {
        assert_eq!(max, "150000 100000");
        return;
    }
    let pick = |suffix: &str| {
        let found: Vec<&String> = v
            .iter()
            .filter(|(k, _)| k.ends_with(suffix))
            .map(|(_, v)| v)
            .collect();
        assert!(!found.is_empty(), "no {suffix} in the container: {v:#?}");
        found
    };
    assert!(
        pick("/cpu.cfs_quota_us").iter().all(|q| *q == "150000"),
        "{v:#?}"
    );
    assert!(
        pick("/cpu.cfs_period_us").iter().all(|p| *p == "100000"),
        "{v:#?}"
    );
}

#[test]
fn cpu_shares_become_the_cpu_weight() {
    if skip_under_runc() {
        return;
    }
    let h = Husk::new();
    let v = cgroup_files(
        &h,
        &["--cpu-shares", "512"],
        &[
            "/sys/fs/cgroup/cpu*/cpu.shares",
            "/sys/fs/cgroup/cpu.weight",
        ],
    );
    if let Some(weight) = v.get("/sys/fs/cgroup/cpu.weight") {
        // runc 1.3.2+/crun 1.23+ curve (husk_cgroups::convert::shares_to_weight): 512 -> 59.
        assert_eq!(weight, "59");
        return;
    }
    let shares: Vec<&String> = v
        .iter()
        .filter(|(k, _)| k.ends_with("/cpu.shares"))
        .map(|(_, v)| v)
        .collect();
    assert!(!shares.is_empty(), "no cpu.shares in the container: {v:#?}");
    assert!(shares.iter().all(|s| *s == "512"), "{v:#?}");
}

#[test]
fn cpuset_cpus_pin_the_container() {
    if skip_under_runc() {
        return;
    }
    let h = Husk::new();
    let files = [
        "/sys/fs/cgroup/cpuset/cpuset.cpus",
        "/sys/fs/cgroup/cpuset.cpus",
    ];
    let v = cgroup_files(&h, &["--cpuset-cpus", "0"], &files);
    let (file, cpus) = first_of(&v, &files);
    assert_eq!(cpus, "0", "{file}");
}

#[test]
fn pids_limit_and_unlimited() {
    if skip_under_runc() {
        return;
    }
    let h = Husk::new();
    let files = ["/sys/fs/cgroup/pids/pids.max", "/sys/fs/cgroup/pids.max"];
    let v = cgroup_files(&h, &["--pids-limit", "77"], &files);
    let (file, max) = first_of(&v, &files);
    assert_eq!(max, "77", "{file}");
    let v = cgroup_files(&h, &["--pids-limit", "-1"], &files);
    let (file, max) = first_of(&v, &files);
    assert_eq!(max, "max", "{file}");
}

#[test]
fn pids_limit_zero_is_a_real_limit() {
    if skip_under_runc() {
        return;
    }
    // runtime-spec v1.3: 0 is a limit of zero (Docker reads 0 as unlimited). The container's
    // process is moved in, not forked, so it runs; it cannot fork, so no shell: cat reads both
    // candidate files itself and fails (status 1) on the one this host lacks.
    let h = Husk::new();
    let name = Husk::name();
    let o = h.run(
        &name,
        &["--pids-limit", "0"],
        rootfs::busybox().to_str().unwrap(),
        &[
            "cat",
            "/sys/fs/cgroup/pids/pids.max",
            "/sys/fs/cgroup/pids.max",
        ],
    );
    h.assert_clean(&name);
    assert_eq!(o.code(), Some(1), "{o:#?}");
    assert_eq!(o.stdout, "0\n", "{o:#?}");
}

#[test]
fn blkio_weight_is_the_io_weight() {
    if skip_under_runc() {
        return;
    }
    let h = Husk::new();
    // Which weight files a child cgroup gets depends on the disk's I/O scheduler (bfq) and,
    // on v1 kernels before 5.0, cfq: look at the test parent (made by Husk::new).
    let parent_has = |files: &[&str]| {
        cgroups::hierarchies().iter().any(|hier| {
            let dir = hier.own_dir.join(cgroups::parent_name());
            let right =
                hier.controllers.is_empty() || hier.controllers.iter().any(|c| c == "blkio");
            right && files.iter().any(|f| dir.join(f).exists())
        })
    };
    if host_lacks(
        !parent_has(&["blkio.weight", "blkio.bfq.weight", "io.weight", "io.bfq.weight"]),
        "a block I/O weight file (blkio.weight, blkio.bfq.weight, io.weight or io.bfq.weight): no disk uses the bfq scheduler",
    ) {
        return;
    }
    let v = cgroup_files(
        &h,
        &["--blkio-weight", "300"],
        &[
            "/sys/fs/cgroup/blkio/blkio.bfq.weight",
            "/sys/fs/cgroup/blkio/blkio.weight",
            "/sys/fs/cgroup/io.bfq.weight",
            "/sys/fs/cgroup/io.weight",
        ],
    );
    // As runc: the bfq file when there is one (it takes the v1 range as is), else the plain
    // weight; cgroup2's io.weight gets the converted value 1 + (300 - 10) * 9999 / 990 = 2930.
    let (file, weight) = first_of(
        &v,
        &[
            "/sys/fs/cgroup/blkio/blkio.bfq.weight",
            "/sys/fs/cgroup/blkio/blkio.weight",
            "/sys/fs/cgroup/io.bfq.weight",
            "/sys/fs/cgroup/io.weight",
        ],
    );
    let want = match file.as_str() {
        "/sys/fs/cgroup/io.bfq.weight" => "default 300",
        "/sys/fs/cgroup/io.weight" => "default 2930",
        _ => "300",
    };
    assert_eq!(weight, want, "{file}");
}

#[test]
fn a_resource_option_with_a_bad_value_is_refused_by_name() {
    if skip_under_runc() {
        return;
    }
    let h = Husk::new();
    for (opts, words) in [
        (
            &["--memory", "12x"][..],
            &["--memory `12x`", "b, k, m or g"][..],
        ),
        (&["--memory", "-1"][..], &["--memory `-1`"][..]),
        (
            &["--memory-swap", "-2"][..],
            &["--memory-swap `-2`", "-1"][..],
        ),
        (&["--cpus", "0.001"][..], &["--cpus `0.001`", "0.01"][..]),
        (
            &["--cpu-shares", "1"][..],
            &["--cpu-shares `1`", "2 to 262144"][..],
        ),
        (&["--cpuset-cpus", "1-0"][..], &["--cpuset-cpus `1-0`"][..]),
        (
            &["--pids-limit", "-2"][..],
            &["--pids-limit `-2`", "-1 for unlimited"][..],
        ),
        (
            &["--blkio-weight", "5"][..],
            &["--blkio-weight `5`", "10 to 1000"][..],
        ),
        (
            &["--device", "/dev/husk-no-such-device"][..],
            &["--device `/dev/husk-no-such-device`", "must exist"][..],
        ),
        (
            &["--device", "/tmp"][..],
            &["--device `/tmp`", "not a character or block device"][..],
        ),
    ] {
        h.assert_refused(opts, rootfs::busybox().to_str().unwrap(), words);
    }
}

/// Whether the host has a v1 devices hierarchy (false on a pure cgroup v2 host).
fn host_has_v1_devices() -> bool {
    cgroups::hierarchies()
        .iter()
        .any(|h| h.controllers.iter().any(|c| c == "devices"))
}

#[test]
fn device_under_another_name_is_made_and_allowed() {
    if skip_under_runc() {
        return;
    }
    let h = Husk::new();
    let out = h.run_ok(
        &["--device", "/dev/null:/dev/mynull"],
        rootfs::busybox().to_str().unwrap(),
        &[
            "sh",
            "-c",
            "stat -c '%F %t:%T %a' /dev/mynull; echo hi > /dev/mynull && echo wrote; \
             cat /sys/fs/cgroup/devices/devices.list 2>/dev/null; true",
        ],
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "character special file 1:3 666", "{out}");
    assert_eq!(lines[1], "wrote", "{out}");
    if host_has_v1_devices() {
        assert!(lines.contains(&"c 1:3 rwm"), "devices.list: {out}");
        assert!(!lines.contains(&"a *:* rwm"), "deny-all not applied: {out}");
    }
}

#[test]
fn device_permissions_limit_its_access() {
    if skip_under_runc() {
        return;
    }
    // /dev/kmsg (1:11) is not on the default allow list, so `r` is all the container gets:
    // opening it for writing is refused by the devices cgroup (EPERM), before the driver.
    let h = Husk::new();
    let name = Husk::name();
    let o = h.run(
        &name,
        &["--device", "/dev/kmsg:/dev/husk-kmsg:r"],
        rootfs::busybox().to_str().unwrap(),
        &[
            "sh",
            "-c",
            "ls /dev/husk-kmsg; (echo husk-test > /dev/husk-kmsg) 2>&1; echo rc=$?; \
             cat /sys/fs/cgroup/devices/devices.list 2>/dev/null; true",
        ],
    );
    h.assert_clean(&name);
    assert_eq!(o.code(), Some(0), "{o:#?}");
    assert!(o.stdout.starts_with("/dev/husk-kmsg\n"), "{o:#?}");
    assert!(
        o.stdout.contains("Operation not permitted") && o.stdout.contains("rc=1"),
        "{o:#?}"
    );
    if host_has_v1_devices() {
        assert!(o.stdout.lines().any(|l| l == "c 1:11 r"), "{o:#?}");
    }
}

// ---- Security defaults and options (issue 5, "Defaults people get from husk run") ----

/// `cat /proc/self/status` in the busybox rootfs with `opts`: (CapEff, CapBnd, Seccomp,
/// NoNewPrivs) as text.
fn status_with(h: &Husk, opts: &[&str]) -> (String, String, String, String) {
    let out = h.run_ok(
        opts,
        rootfs::busybox().to_str().unwrap(),
        &["cat", "/proc/self/status"],
    );
    let f = |n| status_field(&out, n).to_owned();
    (f("CapEff"), f("CapBnd"), f("Seccomp"), f("NoNewPrivs"))
}

/// Docker's default capability set as a CapEff mask (moby oci/caps/defaults.go).
const DOCKER_CAPS: u64 = 0xa804_25fb;

#[test]
fn default_security_is_seccomp_filter_and_no_no_new_privs() {
    if skip_under_runc() {
        return;
    }
    let h = Husk::new();
    let (eff, bnd, seccomp, nnp) = status_with(&h, &[]);
    assert_eq!(eff, format!("{DOCKER_CAPS:016x}"));
    assert_eq!(bnd, eff);
    assert_eq!(
        seccomp, "2",
        "the default profile is a filter (SECCOMP_MODE_FILTER)"
    );
    assert_eq!(nnp, "0", "noNewPrivileges is off unless asked, as Podman");
    let (_, _, seccomp, nnp) = status_with(&h, &["--security-opt", "no-new-privileges"]);
    assert_eq!((seccomp.as_str(), nnp.as_str()), ("2", "1"));
    let (_, _, _, nnp) = status_with(&h, &["--security-opt", "no-new-privileges=false"]);
    assert_eq!(nnp, "0");
    let (eff, _, seccomp, _) = status_with(&h, &["--security-opt", "seccomp=unconfined"]);
    assert_eq!(seccomp, "0");
    assert_eq!(eff, format!("{DOCKER_CAPS:016x}"), "caps unchanged");
}

#[test]
fn cap_add_and_cap_drop_change_the_sets() {
    if skip_under_runc() {
        return;
    }
    let h = Husk::new();
    // CAP_SYS_ADMIN is bit 21, CAP_NET_RAW 13, CAP_KILL 5 (capability.h).
    let (eff, bnd, _, _) =
        status_with(&h, &["--cap-add", "sys_admin", "--cap-drop", "CAP_NET_RAW"]);
    let want = (DOCKER_CAPS | 1 << 21) & !(1 << 13);
    assert_eq!(eff, format!("{want:016x}"));
    assert_eq!(bnd, eff);
    let (eff, bnd, _, _) = status_with(&h, &["--cap-drop", "ALL", "--cap-add", "Kill"]);
    assert_eq!(
        (eff.as_str(), bnd.as_str()),
        ("0000000000000020", "0000000000000020")
    );

    h.assert_refused(
        &["--cap-add", "NET_WIZARD"],
        rootfs::busybox().to_str().unwrap(),
        &["--cap-add", "NET_WIZARD"],
    );
}

/// This kernel's (major, minor) from /proc/sys/kernel/osrelease.
fn kernel_version() -> (u32, u32) {
    let r = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    let mut it = r.split(|c: char| !c.is_ascii_digit());
    let major = it.next().unwrap().parse().unwrap();
    (major, it.next().unwrap().parse().unwrap())
}

/// Podman's profile (husk's default): a call no rule names gets ENOSYS, a call denied on purpose
/// EPERM, and the capability groups follow --cap-add/--cap-drop.
#[test]
fn default_seccomp_profile_enosys_eperm_and_follows_the_caps() {
    if skip_under_runc() {
        return;
    }
    if std::env::consts::ARCH.starts_with("mips") {
        eprintln!(
            "skipped: the syscall numbers below are those of the shared table (424 on), not mips's"
        );
        return;
    }
    let h = Husk::new();
    if std::path::Path::new("/usr/bin/perl").exists() {
        // perl (perl-base, essential on Debian) from the `host` source makes raw system calls and
        // prints errno: lsm_list_modules (461) is in no rule of the profile; cachestat (451) is in
        // its EPERM list (with fd -1: EBADF from the kernel); socket(AF_VSOCK) is refused by an
        // argument rule.
        let perl = r#"$! = 0; syscall(461, 0, 0, 0); print "unlisted=", $! + 0, "\n";
                      $! = 0; syscall(451, -1, 0, 0, 0, 0); print "denied=", $! + 0, "\n";
                      $! = 0; socket(S, 40, 1, 0); print "vsock=", $! + 0, "\n";"#;
        let out = h.run_ok(&[], "host", &["perl", "-e", perl]);
        assert_eq!(
            out, "unlisted=38\ndenied=1\nvsock=1\n",
            "ENOSYS, EPERM, EPERM"
        );
        let out = h.run_ok(
            &["--security-opt", "seccomp=unconfined"],
            "host",
            &["perl", "-e", perl],
        );
        // Unconfined, the kernel answers: EFAULT for the NULL buffer (ENOSYS before 6.8), EBADF
        // (ENOSYS before 6.5), and success or EAFNOSUPPORT for vsock.
        let kernel = kernel_version();
        let want_unlisted = if kernel >= (6, 8) { 14 } else { 38 };
        let want_denied = if kernel >= (6, 5) { 9 } else { 38 };
        assert!(
            out.starts_with(&format!(
                "unlisted={want_unlisted}\ndenied={want_denied}\nvsock="
            )),
            "unconfined on {kernel:?}: {out}"
        );
        assert!(!out.contains("vsock=1\n"), "unconfined: {out}");
    } else {
        eprintln!(
            "ENOSYS/EPERM part skipped: no /usr/bin/perl on this host (the `host` source runs the \
             host's programs; Debian's perl-base has it, the v2vm guest has only busybox)"
        );
    }

    let bb = rootfs::busybox().to_str().unwrap().to_owned();
    // chroot is in the CAP_SYS_CHROOT group; unshare and mount are not filtered (the kernel
    // wants CAP_SYS_ADMIN for a mount namespace; a user namespace needs no capability, so its
    // outcome is the host's user-namespace policy, the same with and without the filter).
    let script = "unshare -U true 2>&1; echo userns=$?; \
                  chroot / true 2>&1; echo chroot=$?; \
                  unshare -m true 2>&1; echo mountns=$?; echo allowed";
    let filtered = h.run_ok(&[], &bb, &["sh", "-c", script]);
    assert!(
        filtered.contains("chroot=0"),
        "chroot with CAP_SYS_CHROOT: {filtered}"
    );
    assert!(
        filtered.contains("Operation not permitted\nmountns=1") && filtered.ends_with("allowed\n"),
        "no CAP_SYS_ADMIN: the kernel refuses a mount namespace: {filtered}"
    );
    let unconfined = h.run_ok(
        &["--security-opt", "seccomp=unconfined"],
        &bb,
        &["sh", "-c", script],
    );
    let userns = |out: &str| {
        out.lines()
            .find(|l| l.starts_with("userns="))
            .unwrap()
            .to_owned()
    };
    assert_eq!(
        userns(&filtered),
        userns(&unconfined),
        "unshare is left to the kernel: {filtered} / {unconfined}"
    );

    let out = h.run_ok(
        &["--cap-add", "SYS_ADMIN", "--cap-drop", "sys_chroot"],
        &bb,
        &["sh", "-c", script],
    );
    assert!(out.contains("mountns=0"), "CAP_SYS_ADMIN: {out}");
    assert!(
        out.contains("Operation not permitted\nchroot=1"),
        "no CAP_SYS_CHROOT, no chroot: {out}"
    );
}

#[test]
fn seccomp_file_profile() {
    if skip_under_runc() {
        return;
    }
    let h = Husk::new();
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("deny-mkdir.json");
    fs::write(
        &profile,
        r#"{"defaultAction": "SCMP_ACT_ALLOW",
            "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": []},
                        {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": []}],
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO",
                          "errnoRet": 13, "comment": "test"}]}"#,
    )
    .unwrap();
    let opt = format!("seccomp={}", profile.display());
    let out = h.run_ok(
        &["--security-opt", &opt],
        rootfs::busybox().to_str().unwrap(),
        &[
            "sh",
            "-c",
            "mkdir /tmp/x 2>&1; echo mkdir=$?; grep Seccomp: /proc/self/status",
        ],
    );
    assert!(
        out.contains("Permission denied\nmkdir=1"),
        "EACCES (13): {out}"
    );
    assert!(out.contains("Seccomp:\t2"), "{out}");

    h.assert_refused(
        &["--security-opt", "seccomp=/husk-no-such-profile.json"],
        rootfs::busybox().to_str().unwrap(),
        &["/husk-no-such-profile.json"],
    );
}

#[test]
fn privileged_has_every_cap_no_seccomp_no_masks_and_every_device() {
    if skip_under_runc() {
        return;
    }
    let h = Husk::new();
    let out = h.run_ok(
        &["--privileged"],
        rootfs::busybox().to_str().unwrap(),
        &[
            "sh",
            "-c",
            "cat /proc/self/status; echo masks=$(grep -c -e /proc/kcore -e /proc/sys /proc/self/mountinfo); \
             cat /sys/fs/cgroup/devices/devices.list 2>/dev/null; true",
        ],
    );
    let eff = u64::from_str_radix(status_field(&out, "CapEff"), 16).unwrap();
    // Every capability the runtime itself holds (this host's bounding set lacks
    // CAP_SYS_RESOURCE, which the runtime skips with a warning).
    let own = fs::read_to_string("/proc/self/status").unwrap();
    let own_bnd = u64::from_str_radix(status_field(&own, "CapBnd"), 16).unwrap();
    assert_eq!(eff, own_bnd, "{out}");
    assert_ne!(eff & 1 << 21, 0, "CAP_SYS_ADMIN");
    assert_eq!(status_field(&out, "Seccomp"), "0");
    assert_eq!(status_field(&out, "NoNewPrivs"), "0");
    assert!(
        out.contains("masks=0"),
        "no masked or read-only /proc paths: {out}"
    );
    if fs::metadata("/sys/fs/cgroup/devices").is_ok() {
        assert!(
            out.contains("a *:* rwm"),
            "devices cgroup allows all: {out}"
        );
    } else {
        println!("no v1 devices hierarchy on this host: the device rule is not read back here");
    }
}

#[test]
fn a_data_root_overlayfs_cannot_name_is_refused_before_anything_is_made() {
    if skip_under_runc() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("a,b");
    let mut c = std::process::Command::new(front::binary());
    c.arg("--data-root")
        .arg(&data)
        .args(["run", "host", "true"]);
    let o = runtime::exec(c, true);
    assert_eq!(o.code(), Some(125), "{o:#?}");
    o.stderr_mentions(&["data root", "`,`", "--data-root"]);
    assert!(!data.exists(), "nothing made under it");
}
