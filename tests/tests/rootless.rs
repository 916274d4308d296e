//! Rootless husk-runtime (issue 7): the runtime run by an unprivileged user, as the suites for
//! the foundation, the config coverage and exec, where they apply.
//!
//! The first test runs the runtime as uid 65534 (nobody) to check where a rootless runtime
//! keeps its state. The others run it as the test user of [`husk_tests::rootless`]
//! (`husk-rootless`, made by tests/rootless-user.sh with /etc/subuid and /etc/subgid ranges)
//! through [`Runtime::rootless`], on bundles shaped like `spec --rootless`'s
//! ([`Bundle::rootless_busybox`]: a user namespace mapping container 0 to the user, no network
//! namespace, no cgroup limits), and assert what the container sees (uid 0, the maps, its
//! mounts and devices) and what the host sees (the user's uid on its processes and files, the
//! subordinate ids for the ids above 0, nothing of root's).
//!
//! Each runs under runc 1.1.5 too (`HUSK_RUNTIME=/usr/sbin/runc`), except where it says why not.

#![allow(clippy::unwrap_used)] // tests may unwrap (project rules)

use std::fs;
use std::os::unix::fs::{chown, MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use husk_tests::console::{read_all, ConsoleSocket};
use husk_tests::mountinfo::{at, parse_mountinfo};
use husk_tests::rootless::{self, host_gids, host_uids, TestUser};
use husk_tests::runtime::exec;
use husk_tests::{host, host_lacks, reference_lacks, Bundle, Outcome, Runtime};
use serde_json::json;

const NOBODY: u32 = 65534;

/// `husk-runtime <args>` as uid/gid 65534 with `xdg` as XDG_RUNTIME_DIR (None: unset), from a
/// copy of the binary in `dir`.
fn as_nobody(dir: &std::path::Path, xdg: Option<&std::path::Path>, args: &[&str]) -> Outcome {
    let bin = dir.join("husk-runtime");
    if !bin.exists() {
        fs::copy(husk_tests::runtime::binary(), &bin).unwrap();
        fs::set_permissions(&bin, fs::Permissions::from_mode(0o755)).unwrap();
    }
    let mut c = Command::new(&bin);
    c.args(args).uid(NOBODY).gid(NOBODY).current_dir(dir);
    c.env_remove("XDG_RUNTIME_DIR");
    if let Some(x) = xdg {
        c.env("XDG_RUNTIME_DIR", x);
    }
    exec(c, true)
}

#[test]
fn a_rootless_runtime_keeps_its_state_under_xdg_runtime_dir() {
    if reference_lacks("runc 1.1.5 names its own directory ($XDG_RUNTIME_DIR/runc)") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let xdg = dir.path().join("xdg");
    fs::create_dir(&xdg).unwrap();
    fs::set_permissions(&xdg, fs::Permissions::from_mode(0o700)).unwrap();
    chown(&xdg, Some(NOBODY), Some(NOBODY)).unwrap();
    // Without XDG_RUNTIME_DIR and --root: refused, saying what to set.
    let o = as_nobody(dir.path(), None, &["state", "x"]);
    assert_eq!(o.code(), Some(1), "{o:#?}");
    o.stderr_mentions(&["rootless", "XDG_RUNTIME_DIR", "--root"]);
    // With it: the state root is $XDG_RUNTIME_DIR/husk (an unknown container names it).
    let o = as_nobody(dir.path(), Some(&xdg), &["state", "x"]);
    assert_eq!(o.code(), Some(1), "{o:#?}");
    assert!(!o.stderr.contains("XDG_RUNTIME_DIR"), "{o:#?}");
    let o = as_nobody(dir.path(), Some(&xdg), &["list", "--format", "json"]).ok();
    assert!(matches!(o.stdout.trim(), "[]" | "null"), "{o:#?}");
    // --root wins; `spec --rootless` needs no state root at all.
    let own = dir.path().join("own-root");
    let o = as_nobody(
        dir.path(),
        None,
        &["--root", own.to_str().unwrap(), "list", "-q"],
    )
    .ok();
    assert_eq!(o.stdout, "");
    let bundle = dir.path().join("bundle");
    fs::create_dir(&bundle).unwrap();
    chown(&bundle, Some(NOBODY), Some(NOBODY)).unwrap();
    as_nobody(
        dir.path(),
        None,
        &["spec", "--rootless", "--bundle", bundle.to_str().unwrap()],
    )
    .ok();
    let cfg: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(bundle.join("config.json")).unwrap()).unwrap();
    assert!(cfg["linux"]["uidMappings"].is_array(), "{cfg}");
}

fn user() -> &'static TestUser {
    rootless::user()
}

/// runc's three default capabilities (CAP_KILL 5, CAP_NET_BIND_SERVICE 10, CAP_AUDIT_WRITE 29)
/// as /proc/PID/status shows a capability set.
const DEFAULT_CAPS: &str = "0000000020000420";

/// Each line of `text` split on whitespace.
fn rows(text: &str) -> Vec<Vec<&str>> {
    text.lines()
        .map(|l| l.split_whitespace().collect())
        .collect()
}

/// Polls `f` for up to 5 s until it returns `Some`.
fn eventually<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    for _ in 0..500 {
        if let Some(v) = f() {
            return v;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("{what}: never happened");
}

/// A root-owned host directory (0755) holding `f` (0644, "host secret\n") and `w` (0666).
fn root_owned_dir() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    fs::set_permissions(d.path(), fs::Permissions::from_mode(0o755)).unwrap();
    for (name, mode) in [("f", 0o644), ("w", 0o666)] {
        fs::write(d.path().join(name), "host secret\n").unwrap();
        fs::set_permissions(d.path().join(name), fs::Permissions::from_mode(mode)).unwrap();
    }
    d
}

fn owner(p: &Path) -> (u32, u32) {
    let m = fs::symlink_metadata(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    (m.uid(), m.gid())
}

// ---- identity: who the container is, inside and outside ----

#[test]
fn the_container_is_root_inside_and_the_single_mapping_is_the_users() {
    let rt = Runtime::rootless();
    let u = user();
    let b = Bundle::rootless_busybox(&[
        "sh",
        "-c",
        "id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups; \
         grep CapEff /proc/self/status",
    ]);
    let o = rt.run(&b).ok();
    let r = rows(&o.stdout);
    let (uid, gid) = (u.uid.to_string(), u.gid.to_string());
    assert_eq!(r[0], ["0"], "{o:#?}");
    assert_eq!(r[1], ["0"], "{o:#?}");
    assert_eq!(r[2], ["0", uid.as_str(), "1"], "uid_map: {o:#?}");
    assert_eq!(r[3], ["0", gid.as_str(), "1"], "gid_map: {o:#?}");
    // An unprivileged process may write gid_map only after denying setgroups(2).
    assert_eq!(r[4], ["deny"], "{o:#?}");
    // The runtime is root of the new user namespace: it can give the config's capabilities
    // (there, not on the host).
    assert_eq!(r[5], ["CapEff:", DEFAULT_CAPS], "{o:#?}");
    rt.assert_left_nothing(&b);
}

#[test]
fn the_host_sees_the_users_ids_on_the_container_s_processes() {
    let rt = Runtime::rootless();
    let u = user();
    let b = Bundle::rootless_busybox(&["sleep", "1000"]);
    let pid = rt.running(&b);
    assert_eq!(host_uids(pid), Some([u.uid; 4]));
    assert_eq!(host_gids(pid), Some([u.gid; 4]));
    // Every namespace is new but the network (spec --rootless has none of its own).
    let names = ["mnt", "pid", "ipc", "uts", "user"];
    for (n, link) in names.iter().zip(host::ns_links(pid, &names)) {
        assert_ne!(link, host::ns_link(n), "{n} is the host's");
    }
    assert_eq!(host::ns_links(pid, &["net"]), [host::ns_link("net")]);
}

#[test]
fn hostname_and_pid_namespace() {
    let rt = Runtime::rootless();
    let mut b = Bundle::rootless_busybox(&[
        "sh",
        "-c",
        "ps -o pid,comm; echo pid=$$; hostname; hostname other 2>&1; echo rc=$?",
    ]);
    b.set("/hostname", json!("rootless-box"));
    let out = rt.run(&b).ok().stdout;
    let r = rows(&out);
    // ps lists the container's processes: sh as PID 1, and ps itself.
    assert_eq!(r[0], ["PID", "COMMAND"], "{out}");
    assert_eq!(r[1], ["1", "sh"], "{out}");
    let n = r.len();
    assert!(r[2..n - 4].iter().any(|l| l[1] == "ps"), "{out}");
    assert_eq!(r[n - 4], ["pid=1"], "{out}");
    assert_eq!(r[n - 3], ["rootless-box"], "{out}");
    // Without CAP_SYS_ADMIN (runc's default capabilities) the hostname stays.
    assert!(r[n - 2].join(" ").contains("not permitted"), "{out}");
    assert_eq!(r[n - 1], ["rc=1"], "{out}");
    rt.assert_left_nothing(&b);
}

#[test]
fn root_of_a_user_namespace_keeps_run_husk_unless_podman_style() {
    // runc's rule: XDG_RUNTIME_DIR counts for euid 0 only in a user namespace and with USER
    // not root (Podman's rootless mode), not for root of an unprivileged system container.
    let xdg = tempfile::tempdir().unwrap();
    let root_of = |xdg_env: Option<&Path>, user: &str| {
        let mut c = Command::new("unshare");
        c.args(["-U", "-r"])
            .arg(husk_tests::runtime::binary())
            .args(["--debug", "state", "nosuch"]);
        c.env_remove("XDG_RUNTIME_DIR").env("USER", user);
        if let Some(x) = xdg_env {
            c.env("XDG_RUNTIME_DIR", x);
        }
        let o = exec(c, true);
        assert_eq!(o.code(), Some(1), "{o:#?}");
        o.stderr
            .lines()
            .find_map(|l| l.split_once("state root root=").map(|(_, r)| r.to_owned()))
            .unwrap_or_else(|| panic!("no state root logged: {o:#?}"))
    };
    if reference_lacks("the state root in --debug's log (husk's own line)") {
        return;
    }
    let podman_style = xdg.path().join("husk");
    assert_eq!(root_of(None, "alice"), "/run/husk");
    assert_eq!(root_of(Some(xdg.path()), "root"), "/run/husk");
    assert_eq!(
        root_of(Some(xdg.path()), "alice"),
        podman_style.to_str().unwrap()
    );
    // A relative XDG_RUNTIME_DIR counts as unset.
    assert_eq!(root_of(Some(Path::new("rel")), "alice"), "/run/husk");
    assert!(!podman_style.exists(), "state only reads");
}

#[test]
fn a_time_namespace_with_offsets() {
    if reference_lacks("time namespaces (runc 1.2+)") {
        return;
    }
    let rt = Runtime::rootless();
    let mut b = Bundle::rootless_busybox(&["cat", "/proc/self/timens_offsets"]);
    b.push("/linux/namespaces", json!({"type": "time"}));
    b.set(
        "/linux/timeOffsets",
        json!({"monotonic": {"secs": 259200, "nanosecs": 0},
               "boottime": {"secs": 172800, "nanosecs": 5}}),
    );
    let out = rt.run(&b).ok().stdout;
    assert_eq!(
        rows(&out),
        [["monotonic", "259200", "0"], ["boottime", "172800", "5"]],
        "{out}"
    );
    rt.assert_left_nothing(&b);
}

#[test]
fn hooks_run_as_the_user_with_the_state_on_stdin() {
    let rt = Runtime::rootless();
    let u = user();
    let out = rt.scratch().join("hooks");
    let mut b = Bundle::rootless_busybox(&["true"]);
    for kind in ["createRuntime", "poststart", "poststop"] {
        let file = out.with_extension(kind);
        b.hook(
            kind,
            json!({"path": "/bin/sh", "args": ["sh", "-c",
                format!("{{ id -u; cat; }} > {}", file.display())]}),
        );
    }
    rt.run(&b).ok();
    for kind in ["createRuntime", "poststart", "poststop"] {
        let file = out.with_extension(kind);
        let text = fs::read_to_string(&file).unwrap_or_else(|e| panic!("{kind}: {e}"));
        let (uid, state) = text.split_once('\n').unwrap();
        // A host process of the user's, given the container's state.
        assert_eq!(uid, u.uid.to_string(), "{kind}");
        let state: serde_json::Value = serde_json::from_str(state).unwrap();
        assert_eq!(state["id"], b.id.as_str(), "{kind}");
        assert_eq!(owner(&file), (u.uid, u.gid), "{kind}");
    }
    rt.assert_left_nothing(&b);
}

#[test]
fn the_lifecycle_create_start_state_kill_delete() {
    let rt = Runtime::rootless();
    let u = user();
    let b = Bundle::rootless_busybox(&[
        "sh",
        "-c",
        "trap 'echo got-TERM; exit 0' TERM; echo ready; while true; do sleep 0.05; done",
    ]);
    rt.create(&b);
    let st = rt.state(&b.id);
    assert_eq!(st["status"], "created", "{st}");
    assert_eq!(st["id"], b.id.as_str(), "{st}");
    assert_eq!(st["bundle"].as_str().map(Path::new), Some(b.path()), "{st}");
    let pid = st["pid"].as_i64().unwrap() as i32;
    assert!(pid > 0 && host::alive(pid), "{st}");
    assert_eq!(host_uids(pid), Some([u.uid; 4]));
    rt.start(&b.id).ok();
    assert_eq!(rt.status(&b.id), "running");
    assert_eq!(rt.state(&b.id)["pid"], pid);
    eventually("the container printing ready", || {
        rt.container_stdout(&b.id).contains("ready").then_some(())
    });
    let list: serde_json::Value =
        serde_json::from_str(&rt.cmd(&["list", "--format", "json"]).ok().stdout).unwrap();
    let mine: Vec<&serde_json::Value> = list
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["id"] == b.id.as_str())
        .collect();
    assert_eq!(mine.len(), 1, "{list}");
    assert_eq!(mine[0]["status"], "running", "{list}");
    assert_eq!(mine[0]["pid"], pid, "{list}");
    // kill's default signal, SIGTERM, reaches the init's handler (the user may signal it).
    rt.cmd(&["kill", &b.id]).ok();
    eventually("got-TERM", || {
        rt.container_stdout(&b.id)
            .contains("got-TERM")
            .then_some(())
    });
    rt.wait_status(&b.id, "stopped");
    rt.kill(&b.id, "KILL").failed();
    rt.delete(&b.id).ok();
    assert!(rt.try_state(&b.id).is_none());
    rt.assert_left_nothing(&b);
}

#[test]
fn kill_9_of_a_created_container_and_delete_force_of_a_running_one() {
    let rt = Runtime::rootless();
    let a = Bundle::rootless_busybox(&["sleep", "1000"]);
    rt.create(&a);
    rt.kill(&a.id, "9").ok();
    rt.wait_status(&a.id, "stopped");
    rt.delete(&a.id).ok();
    rt.assert_left_nothing(&a);
    let b = Bundle::rootless_busybox(&["sleep", "1000"]);
    let pid = rt.running(&b);
    rt.delete(&b.id).failed();
    rt.cmd(&["delete", "--force", &b.id]).ok();
    husk_tests::runtime::reap(pid);
    assert!(!host::alive(pid));
    rt.assert_left_nothing(&b);
}

#[test]
fn run_passes_stdio_and_the_exit_status_through() {
    let rt = Runtime::rootless();
    let b = Bundle::rootless_busybox(&["sh", "-c", "echo out; echo err >&2; exit 3"]);
    let o = rt.run(&b);
    assert_eq!(o.code(), Some(3), "{o:#?}");
    assert_eq!(o.stdout, "out\n");
    assert!(o.stderr.ends_with("err\n"), "{o:#?}");
    rt.assert_left_nothing(&b);
}

// ---- files: the user's, root's and the subordinate ids' ----

#[test]
fn files_made_in_the_users_bind_mounted_dir_are_the_users_on_the_host() {
    let rt = Runtime::rootless();
    let u = user();
    let dir = u.tempdir("husk-rl-bind-");
    let mut b = Bundle::rootless_busybox(&[
        "sh",
        "-c",
        "echo made > /mnt/a/new && mkdir /mnt/a/sub && stat -c '%u:%g' /mnt/a/new /mnt/a/sub",
    ]);
    b.mount(
        "/mnt/a",
        "bind",
        dir.path().to_str().unwrap(),
        &["rbind", "rw"],
    );
    assert_eq!(rt.run_ok(&b), "0:0\n0:0\n");
    assert_eq!(owner(&dir.path().join("new")), (u.uid, u.gid));
    assert_eq!(owner(&dir.path().join("sub")), (u.uid, u.gid));
    assert_eq!(
        fs::read_to_string(dir.path().join("new")).unwrap(),
        "made\n"
    );
    rt.assert_left_nothing(&b);
}

#[test]
fn a_writable_rootfs_of_the_users_takes_the_containers_writes() {
    let rt = Runtime::rootless();
    let u = user();
    let b = Bundle::rootless_busybox_writable(&[
        "sh",
        "-c",
        "echo hi > /made && stat -c '%u:%g' /made /bin/busybox",
    ]);
    assert_eq!(rt.run_ok(&b), "0:0\n0:0\n");
    assert_eq!(owner(&b.rootfs().join("made")), (u.uid, u.gid));
    rt.assert_left_nothing(&b);
}

#[test]
fn the_read_only_rootfs_refuses_writes() {
    let rt = Runtime::rootless();
    let b = Bundle::rootless_busybox(&["sh", "-c", "touch /x 2>&1; echo rc=$?"]);
    let out = rt.run_ok(&b);
    assert!(
        out.contains("Read-only file system") && out.ends_with("rc=1\n"),
        "{out}"
    );
}

#[test]
fn chown_works_within_the_mapping_and_fails_with_einval_outside_it() {
    let rt = Runtime::rootless();
    let u = user();
    let caps = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER"];
    // The single mapping: only 0 exists inside.
    let dir = u.tempdir("husk-rl-chown-");
    let mut b = Bundle::rootless_busybox(&[
        "sh",
        "-c",
        "touch /mnt/a/f && chown 0:0 /mnt/a/f && echo own-ok; chown 1:1 /mnt/a/f 2>&1; echo rc=$?",
    ]);
    b.caps(&caps);
    b.mount("/mnt/a", "bind", dir.path().to_str().unwrap(), &["bind"]);
    let out = rt.run_ok(&b);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "own-ok", "{out}");
    assert!(lines[1].contains("Invalid argument"), "{out}");
    assert_eq!(lines[2], "rc=1", "{out}");
    assert_eq!(owner(&dir.path().join("f")), (u.uid, u.gid));

    // The subordinate ranges: 1..=65536 exist inside and are the user's subordinate ids on
    // the host; 70000 does not exist.
    let dir = u.tempdir("husk-rl-chown-");
    let mut b = Bundle::rootless_busybox(&[
        "sh",
        "-c",
        "touch /mnt/a/one /mnt/a/top /mnt/a/far; chown 1:1 /mnt/a/one; \
         chown 65536:65536 /mnt/a/top; stat -c '%u:%g' /mnt/a/one /mnt/a/top; \
         chown 70000:70000 /mnt/a/far 2>&1; echo rc=$?",
    ]);
    b.subid_mappings();
    b.caps(&caps);
    b.mount("/mnt/a", "bind", dir.path().to_str().unwrap(), &["bind"]);
    let out = rt.run_ok(&b);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[..2], ["1:1", "65536:65536"], "{out}");
    assert!(lines[2].contains("Invalid argument"), "{out}");
    assert_eq!(lines[3], "rc=1", "{out}");
    assert_eq!(
        owner(&dir.path().join("one")),
        (u.subuid.start, u.subgid.start)
    );
    assert_eq!(
        owner(&dir.path().join("top")),
        (u.subuid.start + 65535, u.subgid.start + 65535)
    );
    assert_eq!(owner(&dir.path().join("far")), (u.uid, u.gid));
    rt.assert_left_nothing(&b);
}

#[test]
fn root_owned_host_files_are_nobodys_inside_and_stay_unwritable() {
    let rt = Runtime::rootless();
    let host_dir = root_owned_dir();
    let d = host_dir.path().to_str().unwrap();
    // Every capability a namespace's root could use on files: none applies to an inode whose
    // owner the namespace does not map.
    let mut b = Bundle::rootless_busybox(&[
        "sh",
        "-c",
        "stat -c '%u:%g' /mnt/a/f /etc/passwd; cat /mnt/a/f; \
         { echo x >> /mnt/a/f; } 2>&1; echo rc=$?; \
         { echo x >> /mnt/b/w; } 2>&1; echo rc=$?; \
         touch /mnt/a/new 2>&1; echo rc=$?; \
         chmod 666 /mnt/a/f 2>&1; echo rc=$?; \
         chown 0:0 /mnt/a/f 2>&1; echo rc=$?",
    ]);
    b.caps(&[
        "CAP_CHOWN",
        "CAP_DAC_OVERRIDE",
        "CAP_FOWNER",
        "CAP_SYS_ADMIN",
    ]);
    b.mount("/mnt/a", "bind", d, &["bind", "rw"]);
    b.mount("/mnt/b", "bind", d, &["bind", "ro"]);
    let out = rt.run_ok(&b);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[..3],
        ["65534:65534", "65534:65534", "host secret"],
        "{out}"
    );
    let want = [
        "Permission denied",
        "Read-only file system",
        "Permission denied",
        "Operation not permitted",
        "Operation not permitted",
    ];
    for (i, w) in want.iter().enumerate() {
        assert!(lines[3 + 2 * i].contains(w), "step {i}: want {w}: {out}");
        assert_eq!(lines[4 + 2 * i], "rc=1", "step {i}: {out}");
    }
    // (w is world-writable: only the read-only bind stops that write.)
    let f = host_dir.path().join("f");
    assert_eq!(fs::read_to_string(&f).unwrap(), "host secret\n");
    assert_eq!(
        fs::read_to_string(host_dir.path().join("w")).unwrap(),
        "host secret\n"
    );
    assert_eq!(owner(&f), (0, 0));
    assert_eq!(fs::metadata(&f).unwrap().mode() & 0o7777, 0o644);
    assert!(!host_dir.path().join("new").exists());
    rt.assert_left_nothing(&b);
}

#[test]
fn a_setuid_binary_gives_root_of_the_container_never_of_the_host() {
    let rt = Runtime::rootless();
    let u = user();
    let minbase = husk_tests::rootfs::minbase();
    // /opt: setuid copies of id and sleep owned by the user, the container's root;
    // /srv: setuid copies owned by the host's root, which the container does not map. In the
    // rootfs cache's filesystem: the v2 guest's /tmp is nosuid, which a bind keeps.
    let cache = husk_tests::rootfs::cache_dir();
    let mine = u.tempdir_in(&cache, "rl-suid-");
    let roots = tempfile::Builder::new()
        .prefix("rl-suid-")
        .tempdir_in(&cache)
        .unwrap();
    fs::set_permissions(roots.path(), fs::Permissions::from_mode(0o755)).unwrap();
    for prog in ["id", "sleep"] {
        for (dir, uid, gid) in [(mine.path(), u.uid, u.gid), (roots.path(), 0, 0)] {
            let p = dir.join(prog);
            fs::copy(minbase.join("usr/bin").join(prog), &p).unwrap();
            chown(&p, Some(uid), Some(gid)).unwrap();
            fs::set_permissions(&p, fs::Permissions::from_mode(0o4755)).unwrap();
        }
    }
    let bundle = |args: &[&str]| {
        let mut b = Bundle::rootless_minbase(args);
        b.subid_mappings();
        b.set("/process/user", json!({"uid": 1000, "gid": 1000}));
        b.set("/process/noNewPrivileges", json!(false));
        b.mount("/opt", "bind", mine.path().to_str().unwrap(), &["bind"]);
        b.mount("/srv", "bind", roots.path().to_str().unwrap(), &["bind"]);
        b
    };
    // Inside: the user's copy makes uid 1000 effectively 0; root's copy does nothing.
    let b = bundle(&["sh", "-c", "id -u; /opt/id -u; /opt/id -ru; /srv/id -u"]);
    assert_eq!(rt.run_ok(&b), "1000\n0\n1000\n1000\n");
    // Outside: effective 0 inside is the user; uid 1000 is a subordinate id. Never 0.
    let first = u.subuid.start + 999;
    let b = bundle(&["/opt/sleep", "1000"]);
    let pid = rt.running(&b);
    let uids = eventually("the setuid sleep", || {
        host_uids(pid).filter(|v| v[1] == u.uid)
    });
    assert_eq!(uids, [first, u.uid, u.uid, u.uid]);
    let b = bundle(&["/srv/sleep", "1000"]);
    let pid = rt.running(&b);
    assert_eq!(host_uids(pid), Some([first; 4]));
}

// ---- mounts and devices ----

#[test]
fn the_default_mounts_are_there_without_ids_the_namespace_lacks() {
    let rt = Runtime::rootless();
    let b = Bundle::rootless_busybox(&["cat", "/proc/self/mountinfo"]);
    let m = parse_mountinfo(&rt.run_ok(&b));
    assert!(at(&m, "/").mount_options.contains(&"ro".into()));
    assert_eq!(at(&m, "/proc").fstype, "proc");
    let dev = at(&m, "/dev");
    assert_eq!(dev.fstype, "tmpfs");
    assert!(dev.mount_options.contains(&"nosuid".into()), "{dev:?}");
    assert!(dev.super_options.contains(&"mode=755".into()), "{dev:?}");
    let pts = at(&m, "/dev/pts");
    assert_eq!(pts.fstype, "devpts");
    assert!(pts.super_options.contains(&"mode=620".into()), "{pts:?}");
    assert!(
        pts.super_options.contains(&"ptmxmode=666".into()),
        "{pts:?}"
    );
    assert!(
        !pts.super_options.iter().any(|o| o.starts_with("gid=")),
        "{pts:?}"
    );
    let shm = at(&m, "/dev/shm");
    assert_eq!(shm.fstype, "tmpfs");
    for o in ["nosuid", "noexec", "nodev"] {
        assert!(shm.mount_options.contains(&o.into()), "{shm:?}");
    }
    assert_eq!(at(&m, "/dev/mqueue").fstype, "mqueue");
    assert_eq!(at(&m, "/tmp").fstype, "tmpfs");
    // /sys: the host's sysfs bound read-only (a new one needs a network namespace).
    let sys = at(&m, "/sys");
    assert_eq!(sys.fstype, "sysfs");
    assert!(sys.mount_options.contains(&"ro".into()), "{sys:?}");
    rt.assert_left_nothing(&b);
}

#[test]
fn devices_are_the_hosts_nodes_bound_in_and_work() {
    let rt = Runtime::rootless();
    let b = Bundle::rootless_busybox(&[
        "sh",
        "-c",
        "for d in null zero full random urandom tty; do stat -c \"$d %F %t:%T\" /dev/$d; done; \
         stat -c '%u:%g %a' /dev/null; \
         echo x > /dev/null && echo null-ok; head -c 5 /dev/zero | wc -c; \
         echo x > /dev/full 2>/dev/null || echo full-enospc; \
         head -c 4 /dev/urandom | wc -c; \
         grep -c ' /dev/null ' /proc/self/mountinfo",
    ]);
    let out = rt.run_ok(&b);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[..6],
        [
            "null character special file 1:3",
            "zero character special file 1:5",
            "full character special file 1:7",
            "random character special file 1:8",
            "urandom character special file 1:9",
            "tty character special file 5:0",
        ],
        "{out}"
    );
    // The host's node (root's, so nobody's here), not a mknod of the container's.
    assert_eq!(lines[6], "65534:65534 666", "{out}");
    assert_eq!(
        lines[7..],
        ["null-ok", "5", "full-enospc", "4", "1"],
        "{out}"
    );
}

#[test]
fn bind_mounts_of_the_users_dirs_ro_and_rw() {
    let rt = Runtime::rootless();
    let u = user();
    let ro = u.tempdir("husk-rl-ro-");
    let rw = u.tempdir("husk-rl-rw-");
    fs::write(ro.path().join("in"), "from host\n").unwrap();
    let mut b = Bundle::rootless_busybox(&[
        "sh",
        "-c",
        "cat /mnt/a/in; echo x > /mnt/a/new 2>/dev/null; echo ro_rc=$?; echo out > /mnt/b/made",
    ]);
    b.mount(
        "/mnt/a",
        "bind",
        ro.path().to_str().unwrap(),
        &["bind", "ro"],
    );
    b.mount(
        "/mnt/b",
        "bind",
        rw.path().to_str().unwrap(),
        &["rbind", "rw"],
    );
    assert_eq!(rt.run_ok(&b), "from host\nro_rc=1\n");
    assert_eq!(fs::read_to_string(rw.path().join("made")).unwrap(), "out\n");
    assert!(!ro.path().join("new").exists());
    assert!(host::mounts_mentioning(ro.path()).is_empty());
    rt.assert_left_nothing(&b);
}

#[test]
fn an_idmapped_bind_of_a_host_directory_is_refused_naming_the_mount() {
    if reference_lacks("idmapped mounts (runc 1.1.5 predates them)") {
        return;
    }
    let rt = Runtime::rootless();
    let u = user();
    let dir = u.tempdir("husk-rl-idmap-");
    let mut b = Bundle::rootless_busybox(&["true"]);
    b.subid_mappings();
    b.push(
        "/mounts",
        json!({"destination": "/mnt/a", "type": "bind", "source": dir.path(),
               "options": ["bind", "idmap"],
               "uidMappings": [{"containerID": 0, "hostID": 1, "size": 1}],
               "gidMappings": [{"containerID": 0, "hostID": 1, "size": 1}]}),
    );
    let o = rt.run(&b).failed();
    o.stderr_mentions(&[dir.path().to_str().unwrap(), "idmap", "rootless"]);
    rt.assert_left_nothing(&b);
}

// ---- the process ----

#[test]
fn the_process_gets_its_args_env_cwd_rlimits_umask_and_capabilities() {
    let rt = Runtime::rootless();
    let mut b = Bundle::rootless_busybox(&[
        "sh",
        "-c",
        "pwd; echo $FOO; ulimit -n; ulimit -Hn; umask; grep -E 'CapEff|CapBnd|NoNewPrivs' \
         /proc/self/status",
    ]);
    b.set("/process/cwd", json!("/tmp"));
    b.env("FOO=bar baz");
    b.set(
        "/process/rlimits",
        json!([{"type": "RLIMIT_NOFILE", "hard": 512, "soft": 256}]),
    );
    b.set("/process/user/umask", json!(0o027));
    let out = rt.run_ok(&b);
    assert_eq!(
        rows(&out),
        [
            vec!["/tmp"],
            vec!["bar", "baz"],
            vec!["256"],
            vec!["512"],
            vec!["0027"],
            vec!["CapEff:", DEFAULT_CAPS],
            vec!["CapBnd:", DEFAULT_CAPS],
            vec!["NoNewPrivs:", "1"],
        ],
        "{out}"
    );
}

#[test]
fn a_seccomp_filter_is_loaded_without_privileges() {
    let rt = Runtime::rootless();
    let mut b = Bundle::rootless_busybox(&[
        "sh",
        "-c",
        "mkdir /tmp/x 2>&1; echo mkdir=$?; grep Seccomp: /proc/self/status",
    ]);
    b.set(
        "/linux/seccomp",
        json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            "syscalls": [
                {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}
            ]
        }),
    );
    let out = rt.run_ok(&b);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].contains("Operation not permitted"), "{out}");
    assert_eq!(lines[1..], ["mkdir=1", "Seccomp:\t2"], "{out}");
}

#[test]
fn spec_rootless_writes_a_config_the_user_can_run_as_is() {
    let rt = Runtime::rootless();
    let u = user();
    let dir = u.tempdir("husk-rl-spec-");
    let mut c = u.command(rootless::runtime_binary());
    c.args(["spec", "--rootless", "--bundle"]).arg(dir.path());
    exec(c, true).ok();
    let mut cfg: serde_json::Value =
        serde_json::from_slice(&fs::read(dir.path().join("config.json")).unwrap()).unwrap();
    assert_eq!(
        cfg["linux"]["uidMappings"],
        json!([{"containerID": 0, "hostID": u.uid, "size": 1}])
    );
    assert_eq!(
        cfg["linux"]["gidMappings"],
        json!([{"containerID": 0, "hostID": u.gid, "size": 1}])
    );
    // Only what a test must change: no terminal, the busybox tree, a command.
    let mut b = Bundle::rootless_busybox(&[]);
    cfg["process"]["terminal"] = json!(false);
    cfg["root"]["path"] = json!(husk_tests::rootfs::busybox());
    cfg["process"]["args"] = json!(["sh", "-c", "id -u; cat /proc/self/uid_map"]);
    cfg["process"]["env"]
        .as_array_mut()
        .unwrap()
        .push(json!(format!("HUSK_TEST_MARKER={}", b.id)));
    b.config = cfg;
    let out = rt.run_ok(&b);
    assert_eq!(
        rows(&out),
        [vec!["0"], vec!["0", u.uid.to_string().as_str(), "1"]],
        "{out}"
    );
    rt.assert_left_nothing(&b);
}

// ---- id mappings through newuidmap and newgidmap ----

#[test]
fn subordinate_ranges_are_mapped_through_newuidmap_and_newgidmap() {
    let rt = Runtime::rootless();
    let u = user();
    let mut b = Bundle::rootless_busybox(&[
        "sh",
        "-c",
        "cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups; id -u",
    ]);
    b.subid_mappings();
    let out = rt.run_ok(&b);
    let (uid, gid) = (u.uid.to_string(), u.gid.to_string());
    let (su, sg) = (u.subuid.start.to_string(), u.subgid.start.to_string());
    assert_eq!(
        rows(&out),
        [
            vec!["0", uid.as_str(), "1"],
            vec!["1", su.as_str(), "65536"],
            vec!["0", gid.as_str(), "1"],
            vec!["1", sg.as_str(), "65536"],
            // newgidmap is privileged: setgroups(2) need not be denied.
            vec!["allow"],
            vec!["0"],
        ],
        "{out}"
    );
    rt.assert_left_nothing(&b);
}

#[test]
fn a_user_of_the_subordinate_range_runs_as_a_subordinate_id_on_the_host() {
    let rt = Runtime::rootless();
    let u = user();
    let mut b = Bundle::rootless_busybox(&["sh", "-c", "id; exec sleep 1000"]);
    b.subid_mappings();
    b.set("/process/user", json!({"uid": 1000, "gid": 1000}));
    let pid = rt.running(&b);
    let uids = eventually("uid 1000", || host_uids(pid).filter(|v| v[0] != u.uid));
    assert_eq!(uids, [u.subuid.start + 999; 4]);
    assert_eq!(host_gids(pid), Some([u.subgid.start + 999; 4]));
    let out = eventually("id's output", || {
        Some(rt.container_stdout(&b.id)).filter(|o| o.ends_with('\n'))
    });
    assert_eq!(out, "uid=1000(husk-test) gid=1000(husk-test)\n");
}

#[test]
fn additional_gids_of_the_subordinate_range_are_set() {
    if reference_lacks(
        "additionalGids when rootless (runc 1.1.5 refuses them even where setgroups is allowed)",
    ) {
        return;
    }
    let rt = Runtime::rootless();
    let mut b = Bundle::rootless_busybox(&["id"]);
    b.subid_mappings();
    b.set(
        "/process/user",
        json!({"uid": 1000, "gid": 1000, "additionalGids": [2000]}),
    );
    // newgidmap left setgroups(2) allowed, and 2000 is mapped.
    assert_eq!(
        rt.run_ok(&b),
        "uid=1000(husk-test) gid=1000(husk-test) groups=2000(extra)\n"
    );
}

#[test]
fn additional_gids_with_the_single_own_gid_mapping_are_refused_naming_the_field() {
    let rt = Runtime::rootless();
    let mut b = Bundle::rootless_busybox(&["id"]);
    b.set(
        "/process/user",
        json!({"uid": 0, "gid": 0, "additionalGids": [0]}),
    );
    // The gid map is written by the runtime itself, with setgroups(2) denied.
    let o = rt.run(&b).failed();
    assert!(!rt.root().join(&b.id).exists());
    if reference_lacks("husk's message (runc 1.1.5 refuses rootless additionalGids by its own)") {
        return;
    }
    o.stderr_mentions(&["process.user.additionalGids", "setgroups", "subgid"]);
}

#[test]
fn a_mapping_outside_the_users_ranges_is_refused_with_newuidmaps_message() {
    let rt = Runtime::rootless();
    let u = user();
    let past = u.subuid.start + u.subuid.count;
    let mut b = Bundle::rootless_busybox(&["true"]);
    b.subid_mappings();
    b.set(
        "/linux/uidMappings",
        json!([
            {"containerID": 0, "hostID": u.uid, "size": 1},
            {"containerID": 1, "hostID": past, "size": 1000}
        ]),
    );
    let o = rt.run(&b).failed();
    // newuidmap's own words: "uid range [1-1001) -> [P-P+1000) not allowed".
    o.stderr_mentions(&["newuidmap", "not allowed", &past.to_string()]);
    rt.assert_left_nothing(&b);
    // gid_map likewise (newgidmap).
    let past = u.subgid.start + u.subgid.count;
    let mut b = Bundle::rootless_busybox(&["true"]);
    b.subid_mappings();
    b.set(
        "/linux/gidMappings",
        json!([
            {"containerID": 0, "hostID": u.gid, "size": 1},
            {"containerID": 1, "hostID": past, "size": 1000}
        ]),
    );
    let o = rt.run(&b).failed();
    o.stderr_mentions(&["newgidmap", "not allowed", &past.to_string()]);
    rt.assert_left_nothing(&b);
}

// ---- cgroups ----

#[test]
fn limits_are_refused_clearly_without_a_writable_cgroup() {
    let rt = Runtime::rootless();
    // The test process's cgroup is root's: the user can write none of its hierarchies.
    let mut b = Bundle::rootless_busybox(&["true"]);
    b.set(
        "/linux/resources",
        json!({"memory": {"limit": 67108864}, "pids": {"limit": 64}}),
    );
    let o = rt.run(&b).failed();
    o.stderr_mentions(&["cgroup"]);
    assert!(
        ["memory", "limit", "resources"]
            .iter()
            .any(|w| o.stderr.to_lowercase().contains(w)),
        "the error names the limit: {o:#?}"
    );
    rt.assert_left_nothing(&b);
    // The same container without limits runs.
    let b = Bundle::rootless_busybox(&["echo", "ran"]);
    assert_eq!(rt.run_ok(&b), "ran\n");
}

// ---- exec ----

#[test]
fn exec_is_root_inside_the_containers_namespaces_and_the_user_outside() {
    let rt = Runtime::rootless();
    let u = user();
    let mut b = Bundle::rootless_busybox(&["sleep", "1000"]);
    b.set("/hostname", json!("rl-exec"));
    let init = rt.running(&b);
    let o = rt
        .exec_in(
            &b.id,
            &[],
            &[
                "sh",
                "-c",
                "id -u; hostname; cat /proc/self/uid_map; echo $$",
            ],
        )
        .ok();
    let uid = u.uid.to_string();
    let r = rows(&o.stdout);
    assert_eq!(
        r[..3],
        [vec!["0"], vec!["rl-exec"], vec!["0", uid.as_str(), "1"]],
        "{o:#?}"
    );
    assert_ne!(r[3], ["1"], "{o:#?}");
    let pid = rt.exec_detached(&b.id, &[], &["sleep", "1000"]);
    let names = ["mnt", "pid", "ipc", "uts", "user", "net"];
    assert_eq!(host::ns_links(pid, &names), host::ns_links(init, &names));
    assert_eq!(host_uids(pid), Some([u.uid; 4]));
    husk_tests::runtime::kill_reap(pid);
}

#[test]
fn exec_exit_statuses_are_the_process_s_own_and_255_when_exec_fails() {
    let rt = Runtime::rootless();
    let b = Bundle::rootless_busybox(&["sleep", "1000"]);
    rt.running(&b);
    assert_eq!(
        rt.exec_in(&b.id, &[], &["sh", "-c", "exit 7"]).code(),
        Some(7)
    );
    let o = rt.exec_in(&b.id, &[], &["/husk-no-such-program"]);
    assert_eq!(o.code(), Some(255), "{o:#?}");
}

#[test]
fn exec_as_a_subordinate_user() {
    let rt = Runtime::rootless();
    let u = user();
    let mut b = Bundle::rootless_busybox(&["sleep", "1000"]);
    b.subid_mappings();
    rt.running(&b);
    let o = rt.exec_in(&b.id, &["-u", "1000:1000"], &["id", "-u"]).ok();
    assert_eq!(o.stdout, "1000\n");
    let pid = rt.exec_detached(&b.id, &["-u", "1000:1000"], &["sleep", "1000"]);
    assert_eq!(host_uids(pid), Some([u.subuid.start + 999; 4]));
    husk_tests::runtime::kill_reap(pid);
}

#[test]
fn exec_t_sends_a_pty_of_the_container_to_the_console_socket() {
    let rt = Runtime::rootless();
    let u = user();
    let b = Bundle::rootless_busybox(&["sleep", "1000"]);
    rt.running(&b);
    let sock = ConsoleSocket::listen(rt.scratch());
    // The user's runtime connects to it.
    chown(sock.path(), Some(u.uid), Some(u.gid)).unwrap();
    let pid = rt.exec_detached(
        &b.id,
        &["-t", "--console-socket", sock.path().to_str().unwrap()],
        &["sh", "-c", "tty; stat -c '%u %a' $(tty); id -u"],
    );
    let (_name, master) = sock.master();
    let out = read_all(master).join().unwrap();
    let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
    let lines: Vec<&str> = out.lines().map(|l| l.trim_end_matches('\r')).collect();
    assert_eq!(lines, ["/dev/pts/0", "0 620", "0"], "{out:?}");
}

/// A rootless runtime in a prepared delegation of memory and pids, and a `sleep 1000` bundle
/// whose cgroupsPath is `name` below it; None (after saying why) off a pure cgroup v2 host.
fn delegated(name: &str) -> Option<(rootless::Delegation, Runtime, Bundle)> {
    let deleg = rootless::Delegation::prepare(user(), &["memory", "pids"]);
    if host_lacks(
        deleg.is_none(),
        "a pure cgroup v2 host with memory and pids (tests/v2vm.sh runs this)",
    ) {
        return None;
    }
    let deleg = deleg.unwrap();
    let rt = Runtime::rootless_in_cgroup(&deleg.runtime_procs());
    let mut b = Bundle::rootless_busybox(&["sleep", "1000"]);
    b.set("/linux/cgroupsPath", json!(deleg.cgroups_path(name)));
    Some((deleg, rt, b))
}

/// File `f` of the cgroup directory `dir`.
fn cgroup_file(dir: &Path, f: &str) -> String {
    fs::read_to_string(dir.join(f)).unwrap_or_else(|e| panic!("{}: {e}", dir.join(f).display()))
}

#[test]
fn a_delegated_cgroup_v2_subtree_gets_the_limits() {
    let u = user();
    let Some((deleg, rt, mut b)) = delegated("ctr") else {
        return;
    };
    let path = deleg.cgroups_path("ctr");
    b.set(
        "/linux/resources",
        json!({"memory": {"limit": 67108864}, "pids": {"limit": 32}}),
    );
    let pid = rt.running(&b);
    let ctr = deleg.dir().join("ctr");
    let read = |f: &str| cgroup_file(&ctr, f);
    assert_eq!(read("memory.max"), "67108864\n");
    assert_eq!(read("pids.max"), "32\n");
    assert_eq!(read("cgroup.procs"), format!("{pid}\n"));
    assert_eq!(
        fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap(),
        format!("0::{path}\n")
    );
    // The user made it: it is theirs.
    assert_eq!(owner(&ctr), (u.uid, u.gid));
    rt.cmd(&["delete", "--force", &b.id]).ok();
    husk_tests::runtime::reap(pid);
    assert!(!ctr.exists(), "the container's cgroup is left");
}

#[test]
fn pause_update_events_and_ps_work_in_a_delegated_cgroup() {
    let Some((deleg, rt, mut b)) = delegated("verbs") else {
        return;
    };
    b.set("/linux/resources", json!({"pids": {"limit": 32}}));
    let pid = rt.running(&b);
    let ctr = deleg.dir().join("verbs");
    let read = |f: &str| cgroup_file(&ctr, f);
    // pause/resume: the cgroup v2 freezer of the user's own cgroup.
    rt.cmd(&["pause", &b.id]).ok();
    assert_eq!(rt.status(&b.id), "paused");
    assert!(
        read("cgroup.events").contains("frozen 1"),
        "{}",
        read("cgroup.events")
    );
    rt.cmd(&["resume", &b.id]).ok();
    assert_eq!(rt.status(&b.id), "running");
    assert!(read("cgroup.events").contains("frozen 0"));
    // update: a new limit in the delegated subtree.
    rt.cmd(&["update", "--pids-limit", "40", &b.id]).ok();
    assert_eq!(read("pids.max"), "40\n");
    // events --stats: the cgroup's counters.
    let o = rt.cmd(&["events", "--stats", &b.id]).ok();
    let ev: serde_json::Value = serde_json::from_str(o.stdout.trim()).unwrap();
    assert_eq!(ev["type"], "stats", "{ev}");
    assert_eq!(ev["data"]["pids"]["current"], 1, "{ev}");
    assert_eq!(ev["data"]["pids"]["limit"], 40, "{ev}");
    // ps: the processes of the cgroup.
    let o = rt.cmd(&["ps", "--format", "json", &b.id]).ok();
    assert_eq!(o.stdout.trim(), format!("[{pid}]"));
    rt.cmd(&["delete", "--force", &b.id]).ok();
    husk_tests::runtime::reap(pid);
    assert!(!ctr.exists(), "the container's cgroup is left");
}

#[test]
fn masked_and_read_only_paths_hold() {
    let rt = Runtime::rootless();
    // The default masked files this kernel has (/proc/kcore needs CONFIG_PROC_KCORE).
    let files: Vec<&str> = [
        "/proc/kcore",
        "/proc/keys",
        "/proc/timer_list",
        "/proc/sched_debug",
    ]
    .into_iter()
    .filter(|p| Path::new(p).is_file())
    .collect();
    assert!(!files.is_empty(), "none of the masked files exists here");
    let mut script = String::new();
    for f in &files {
        script.push_str(&format!("echo {f}=$(cat {f} | wc -c); "));
    }
    script.push_str(
        "echo /sys/firmware=$(ls -A /sys/firmware | wc -l); \
         { echo x > /proc/sys/kernel/hostname; } 2>&1; echo rc=$?; \
         grep ' /proc/sys ' /proc/self/mountinfo | cut -d' ' -f6",
    );
    let b = Bundle::rootless_busybox(&["sh", "-c", &script]);
    let out = rt.run_ok(&b);
    let lines: Vec<&str> = out.lines().collect();
    let want: Vec<String> = files
        .iter()
        .chain(&["/sys/firmware"])
        .map(|f| format!("{f}=0"))
        .collect();
    assert_eq!(lines[..want.len()], want, "masked: {out}");
    let rest = &lines[want.len()..];
    assert!(rest[0].contains("Read-only file system"), "{out}");
    assert_eq!(rest[1], "rc=1", "{out}");
    assert!(rest[2].split(',').any(|o| o == "ro"), "{out}");
}

#[test]
fn run_detach_and_create_pid_file() {
    let rt = Runtime::rootless();
    let u = user();
    let b = Bundle::rootless_busybox(&["sleep", "1000"]);
    let pid_file = rt.scratch().join("run.pid");
    let o = rt.run_with(&b, &["--detach", "--pid-file", pid_file.to_str().unwrap()]);
    assert!(o.status.success(), "{o:#?}");
    let pid = rt.state(&b.id)["pid"].as_i64().unwrap();
    assert_eq!(rt.status(&b.id), "running");
    assert_eq!(
        fs::read_to_string(&pid_file).unwrap().trim(),
        pid.to_string()
    );
    // Written by the user's runtime: the user's file.
    assert_eq!(owner(&pid_file), (u.uid, u.gid));
    assert_eq!(host_uids(pid as i32), Some([u.uid; 4]));
}

/// Runs `f` when dropped (cleanup that must happen on panic too).
struct Finally<F: FnMut()>(F);

impl<F: FnMut()> Drop for Finally<F> {
    fn drop(&mut self) {
        (self.0)()
    }
}

#[test]
fn without_root_a_container_s_state_lives_under_xdg_runtime_dir() {
    if reference_lacks("runc 1.1.5 names its own directory ($XDG_RUNTIME_DIR/runc)") {
        return;
    }
    let u = user();
    // An XDG_RUNTIME_DIR of this test's (the user's real one is shared with other runs).
    let xdg = u.tempdir("husk-rl-xdg-");
    fs::set_permissions(xdg.path(), fs::Permissions::from_mode(0o700)).unwrap();
    let b = Bundle::rootless_busybox(&["sleep", "1000"]);
    b.write();
    let runtime = |args: &[&str]| {
        let mut c = u.command(rootless::runtime_binary());
        c.args(args).env("XDG_RUNTIME_DIR", xdg.path());
        exec(c, true)
    };
    let id = b.id.clone();
    let _cleanup = Finally(|| {
        if let Some(pid) = runtime(&["state", &id])
            .status
            .success()
            .then(|| runtime(&["state", &id]).stdout)
            .and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok())
            .and_then(|v| v["pid"].as_i64())
        {
            let _ = runtime(&["delete", "--force", &id]);
            husk_tests::runtime::reap(pid as i32);
        }
    });
    let mut c = u.command(rootless::runtime_binary());
    c.args(["create", "--bundle"])
        .arg(b.path())
        .arg(&b.id)
        .env("XDG_RUNTIME_DIR", xdg.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    assert!(exec(c, false).status.success());
    let state_dir = xdg.path().join("husk").join(&b.id);
    assert!(state_dir.is_dir(), "no {}", state_dir.display());
    assert_eq!(owner(&state_dir), (u.uid, u.gid));
    let st: serde_json::Value =
        serde_json::from_str(&runtime(&["state", &b.id]).ok().stdout).unwrap();
    assert_eq!(st["status"], "created", "{st}");
    runtime(&["delete", "--force", &b.id]).ok();
    husk_tests::runtime::reap(st["pid"].as_i64().unwrap() as i32);
    assert!(!state_dir.exists());
}
