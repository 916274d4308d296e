//! `husk run --network` (issue 7): `none` (only loopback), `host` (the host's interfaces), and
//! the user-mode networks `pasta` and `slirp4netns` with `-p` port forwarding, each as root and
//! as the rootless test user ([`Husk::rootless`]).
//!
//! The machine may have no internet, so "outbound connectivity" is a TCP server the test runs
//! on the host's loopback (a random free port), which the container reaches through the
//! helper's host-loopback address (slirp4netns: 10.0.2.2; pasta: its gateway address, the
//! host's default gateway copied), opened with `--allow-host-loopback`; the test asserts the
//! bytes it received, and that without the flag nothing arrives; slirp4netns also reaches a
//! server on the host's own network address without it (outbound as to any host). Port
//! forwarding: the container serves bytes on its port 80 with busybox nc, the test connects to
//! 127.0.0.1:HOSTPORT and reads them. Every run passes `--debug`, which logs the helper's pid;
//! after the run that process must be gone, as must everything else of the container
//! ([`Husk::assert_clean`]).
//!
//! Nothing of the host's network is touched beyond the loopback ports the tests bind.
//!
//! /dev/net/tun: the helpers open it with the user's own host credentials. Where no udev made it
//! mode 0666 (its default rule), the rootless runs get a 0666 node in a private mount namespace
//! made for them (see [`tun_wrapped`]), and one test checks husk's message without it.

#![allow(clippy::unwrap_used)] // tests may unwrap (project rules)

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Once;
use std::time::{Duration, Instant};

use husk_tests::front::Husk;
use husk_tests::runtime::{exec, reap_orphans, Outcome};
use husk_tests::{host_lacks, reference_lacks};

/// Who runs husk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Root,
    Rootless,
}

/// The user-mode networks.
const HELPERS: [&str; 2] = ["slirp4netns", "pasta"];

fn skip_under_runc() -> bool {
    reference_lacks("husk run (the front end; runc has none)")
}

fn husk(who: Who) -> Husk {
    match who {
        Who::Root => Husk::new(),
        Who::Rootless => Husk::rootless(),
    }
}

/// Whether `program` is installed (in /usr/bin or /usr/sbin, where Debian puts them).
fn installed(program: &str) -> bool {
    ["/usr/bin", "/usr/sbin", "/usr/local/bin"]
        .iter()
        .any(|d| Path::new(d).join(program).exists())
}

/// The host's IPv4 default gateway (/proc/net/route), which pasta copies into the container.
fn host_gateway() -> Option<std::net::Ipv4Addr> {
    let text = std::fs::read_to_string("/proc/net/route").ok()?;
    text.lines().skip(1).find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        if f.len() > 2 && f[1] == "00000000" {
            let g = u32::from_str_radix(f[2], 16).ok()?;
            Some(std::net::Ipv4Addr::from(g.to_le_bytes()))
        } else {
            None
        }
    })
}

/// Skips (true) when `mode`'s helper cannot run here, saying why.
fn helper_missing(mode: &str) -> bool {
    if host_lacks(
        !installed(mode),
        &format!("--network {mode}: {mode} is not installed (Debian: passt, slirp4netns)"),
    ) {
        return true;
    }
    mode == "pasta"
        && host_lacks(
            host_gateway().is_none(),
            "--network pasta: pasta copies the host's default route, and this host has none",
        )
}

/// Whether the rootless test user can open /dev/net/tun read-write (host credentials count,
/// also inside the container's user namespace).
fn user_can_open_tun(h: &Husk) -> bool {
    let Some(u) = h.user() else { return true };
    let Ok(m) = std::fs::metadata("/dev/net/tun") else {
        return false;
    };
    let mode = m.mode();
    (m.uid() == u.uid && mode & 0o600 == 0o600)
        || (m.gid() == u.gid && mode & 0o060 == 0o060)
        || mode & 0o006 == 0o006
}

/// Sets up /dev/net/tun as udev's default rule has it (0666), in a private mount namespace
/// only, then becomes the user and runs the rest.
const TUN_SCRIPT: &str = r#"set -e
mount -t tmpfs -o mode=0755,size=16k husk-test-tun /dev/net
mknod -m 0666 /dev/net/tun c 10 200
uid=$1 gid=$2
shift 2
exec setpriv --reuid "$uid" --regid "$gid" --clear-groups -- "$@""#;

/// `husk run ... --debug`: as [`Husk::command`], except that a rootless run with a helper
/// (`--network pasta|slirp4netns` in `opts`) on a host where the user cannot open /dev/net/tun
/// goes through [`TUN_SCRIPT`]: `unshare --mount` as root, a 0666 tun node over /dev/net in
/// that namespace only, then `setpriv` to the user with the same environment, directory and
/// arguments.
fn tun_wrapped(h: &Husk, name: &str, opts: &[&str], cmd: &[&str]) -> Command {
    let helper = opts.iter().any(|o| HELPERS.contains(o));
    let mut opts = opts.to_vec();
    opts.push("--debug");
    let c = h.command(name, &opts, "host", cmd);
    let Some(u) = h.user().filter(|_| helper && !user_can_open_tun(h)) else {
        return c;
    };
    static NOTE: Once = Once::new();
    NOTE.call_once(|| {
        eprintln!(
            "note: /dev/net/tun is not usable by {} here (no udev rule made it 0666): the \
             rootless runs see a 0666 node in a private mount namespace",
            u.name
        )
    });
    let mut w = Command::new("unshare");
    w.args(["--mount", "--propagation", "private", "--", "sh", "-c"])
        .arg(TUN_SCRIPT)
        .arg("sh")
        .arg(u.uid.to_string())
        .arg(u.gid.to_string())
        .arg(c.get_program())
        .args(c.get_args());
    w.env_clear();
    for (k, v) in c.get_envs() {
        if let Some(v) = v {
            w.env(k, v);
        }
    }
    if let Some(d) = c.get_current_dir() {
        w.current_dir(d);
    }
    w
}

/// The pids of the network helpers husk started, from its `--debug` log.
fn helper_pids(stderr: &str) -> Vec<i32> {
    let mut pids: Vec<i32> = stderr
        .lines()
        .filter(|l| l.contains("network helper"))
        .filter_map(|l| l.split("pid=").nth(1))
        .filter_map(|p| p.split_whitespace().next()?.parse().ok())
        .collect();
    pids.sort_unstable();
    pids.dedup();
    pids
}

/// Panics if `pid` is still a live network helper.
fn assert_gone(pid: i32) {
    reap_orphans();
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let zombie = state
        .rsplit_once(')')
        .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'));
    let helper = ["slirp4netns", "pasta", "passt"]
        .iter()
        .any(|h| comm.starts_with(h));
    assert!(
        !helper || zombie,
        "network helper {pid} ({}) outlived the run",
        comm.trim()
    );
}

/// Runs the container and checks that the helper it logged is gone and nothing is left.
fn run_checked(h: &Husk, opts: &[&str], cmd: &[&str]) -> (Outcome, Vec<i32>) {
    let name = Husk::name();
    let o = exec(tun_wrapped(h, &name, opts, cmd), true);
    let pids = helper_pids(&o.stderr);
    for &pid in &pids {
        assert_gone(pid);
    }
    h.assert_clean(&name);
    (o, pids)
}

/// A free port on the host's loopback (bound, then released).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Accepts one connection on `listener` within 60 s and returns all it sent.
fn receive_one(listener: TcpListener) -> std::thread::JoinHandle<Vec<u8>> {
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            match listener.accept() {
                Ok((mut s, _)) => {
                    s.set_nonblocking(false).unwrap();
                    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
                    let mut got = Vec::new();
                    let _ = s.read_to_end(&mut got);
                    return got;
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    if Instant::now() > deadline {
                        return Vec::new();
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => panic!("accept: {e}"),
            }
        }
    })
}

/// The container's address for the host's loopback under `mode`.
fn host_loopback_inside(mode: &str) -> String {
    match mode {
        "slirp4netns" => "10.0.2.2".into(),
        _ => host_gateway().unwrap().to_string(),
    }
}

/// The container reaches a server on the host's loopback through the helper; its interface,
/// route and resolv.conf are the helper's.
fn outbound(who: Who, mode: &str) {
    if skip_under_runc() || helper_missing(mode) {
        return;
    }
    let h = husk(who);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = receive_one(listener);
    let target = host_loopback_inside(mode);
    let payload = format!("outbound-{mode}-{who:?}");
    let script = format!(
        "head -n1 /proc/self/uid_map; ip route show default | cut -d' ' -f1-3; \
         cat /etc/resolv.conf; echo {payload} | busybox nc {target} {port}"
    );
    let (o, pids) = run_checked(
        &h,
        &["--network", mode, "--allow-host-loopback"],
        &["sh", "-c", &script],
    );
    let o = o.ok();
    assert_eq!(pids.len(), 1, "one helper, logged: {o:#?}");
    assert_eq!(
        String::from_utf8(server.join().unwrap()).unwrap(),
        format!("{payload}\n"),
        "the bytes the host's loopback server received: {o:#?}"
    );
    let (route, dns) = match mode {
        "slirp4netns" => ("default via 10.0.2.2".to_owned(), "10.0.2.3"),
        _ => (format!("default via {target}"), "169.254.1.1"),
    };
    let mut lines = o.stdout.lines();
    let map: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    let expected_map = match h.user() {
        Some(u) => vec!["0".to_owned(), u.uid.to_string(), "1".to_owned()],
        None => vec!["0".to_owned(), "0".to_owned(), "4294967295".to_owned()],
    };
    assert_eq!(map, expected_map, "the container's first uid mapping");
    assert_eq!(lines.next(), Some(route.as_str()), "{o:#?}");
    assert_eq!(
        lines.next(),
        Some(format!("# written by husk for --network {mode}").as_str())
    );
    assert_eq!(lines.next(), Some(format!("nameserver {dns}").as_str()));
}

/// Without --allow-host-loopback the helper's host-loopback address leads nowhere: a server on
/// the host's 127.0.0.1 is not reached (as in Podman's default).
fn host_loopback_closed(who: Who, mode: &str) {
    if skip_under_runc() || helper_missing(mode) {
        return;
    }
    let h = husk(who);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let target = host_loopback_inside(mode);
    let script = format!("echo x | busybox nc -w 3 {target} {port}; echo nc=$?");
    let (o, pids) = run_checked(&h, &["--network", mode], &["sh", "-c", &script]);
    let o = o.ok();
    assert_eq!(pids.len(), 1, "one helper, logged: {o:#?}");
    assert_ne!(o.stdout.trim(), "nc=0", "{o:#?}");
    assert!(o.stdout.trim().starts_with("nc="), "{o:#?}");
    match listener.accept() {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("the host's loopback server was reached: {other:?}"),
    }
}

/// The host's first global IPv4 address (`ip -4 -o addr show scope global`), if it has one.
fn host_address() -> Option<std::net::Ipv4Addr> {
    let o = std::process::Command::new("ip")
        .args(["-4", "-o", "addr", "show", "scope", "global"])
        .output()
        .ok()?;
    String::from_utf8_lossy(&o.stdout)
        .split_whitespace()
        .skip_while(|w| *w != "inet")
        .nth(1)?
        .split('/')
        .next()?
        .parse()
        .ok()
}

/// Outbound without --allow-host-loopback: slirp4netns connects, as the user, to a server on
/// the host's own network address (not its loopback), the way it reaches any other host.
fn outbound_to_an_address(who: Who) {
    if skip_under_runc() || helper_missing("slirp4netns") {
        return;
    }
    let Some(addr) = host_address() else {
        husk_tests::host_lacks(true, "a global IPv4 address on the host (outbound test)");
        return;
    };
    let h = husk(who);
    let listener = TcpListener::bind((addr, 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = receive_one(listener);
    let payload = format!("outbound-address-{who:?}");
    let script = format!("echo {payload} | busybox nc {addr} {port}");
    let (o, pids) = run_checked(&h, &["--network", "slirp4netns"], &["sh", "-c", &script]);
    let o = o.ok();
    assert_eq!(pids.len(), 1, "one helper, logged: {o:#?}");
    assert_eq!(
        String::from_utf8(server.join().unwrap()).unwrap(),
        format!("{payload}\n"),
        "the bytes the server on {addr} received: {o:#?}"
    );
}

/// A -p port reaches the container's server: the host connects to 127.0.0.1:HOSTPORT and reads
/// what the container's port 80 sends.
fn publish(who: Who, mode: &str) {
    if skip_under_runc() || helper_missing(mode) {
        return;
    }
    let h = husk(who);
    let port = free_port();
    let payload = format!("served-by-{mode}-{who:?}");
    let script = format!("echo {payload} | busybox nc -l -p 80");
    let publish = format!("{port}:80");
    let name = Husk::name();
    let cmd = tun_wrapped(
        &h,
        &name,
        &["--network", mode, "-p", &publish],
        &["sh", "-c", &script],
    );
    let runner = std::thread::spawn(move || exec(cmd, true));
    // The forward exists before the program starts, the server perhaps not yet: a connection
    // the helper could not pass on is closed without data; try again.
    let deadline = Instant::now() + Duration::from_secs(60);
    let got = loop {
        let mut got = Vec::new();
        if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) {
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let _ = s.read_to_end(&mut got);
        }
        if !got.is_empty() || Instant::now() > deadline || runner.is_finished() {
            break got;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let o = runner.join().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&got),
        format!("{payload}\n"),
        "what 127.0.0.1:{port} served: {o:#?}"
    );
    let o = o.ok();
    let pids = helper_pids(&o.stderr);
    assert_eq!(pids.len(), 1, "{o:#?}");
    assert_gone(pids[0]);
    h.assert_clean(&name);
}

/// A helper that fails (the host port is taken): exit 125 with the helper's own message, and
/// the helper and the container are gone.
fn helper_failure(who: Who, mode: &str) {
    if skip_under_runc() || helper_missing(mode) {
        return;
    }
    let h = husk(who);
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let publish = format!("{port}:80");
    let (o, pids) = run_checked(
        &h,
        &["--network", mode, "-p", &publish],
        &["echo", "never printed"],
    );
    assert_eq!(o.code(), Some(125), "{o:#?}");
    assert_eq!(o.stdout, "", "the program never ran");
    let expected: &[&str] = match mode {
        // slirp4netns's API answer, then what husk adds.
        "slirp4netns" => &["slirp4netns", "add_hostfwd", "in use"],
        // pasta's own message.
        _ => &["pasta failed", "failed to bind any port"],
    };
    o.stderr_mentions(expected);
    o.stderr_mentions(&[&format!("{port}")]);
    assert_eq!(pids.len(), 1, "the helper was started: {o:#?}");
    drop(taken);
}

/// `none`: only loopback, up; `host`: the host's interfaces (from /proc/net/dev).
fn none_and_host(who: Who) {
    if skip_under_runc() {
        return;
    }
    let h = husk(who);
    let names = |text: &str| -> Vec<String> {
        let mut v: Vec<String> = text
            .lines()
            .skip(2)
            .filter_map(|l| Some(l.split(':').next()?.trim().to_owned()))
            .collect();
        v.sort();
        v
    };
    let script =
        "cat /proc/net/dev; echo ---; cat /sys/class/net/lo/operstate /sys/class/net/lo/flags";
    let (o, pids) = run_checked(&h, &["--network", "none"], &["sh", "-c", script]);
    let o = o.ok();
    assert!(pids.is_empty(), "no helper for none: {o:#?}");
    let (dev, lo) = o.stdout.split_once("---\n").unwrap();
    assert_eq!(names(dev), ["lo"], "{o:#?}");
    // IFF_UP (0x1) in lo's flags: the runtime brought it up.
    let flags = lo.lines().nth(1).unwrap().trim_start_matches("0x");
    assert_eq!(u32::from_str_radix(flags, 16).unwrap() & 1, 1, "{o:#?}");

    // The host's own network namespace (the same nsfs inode), so its interfaces (the v2 guest
    // has only lo: the namespace is what tells).
    let (o, pids) = run_checked(
        &h,
        &["--network", "host"],
        &["sh", "-c", "readlink /proc/self/ns/net; cat /proc/net/dev"],
    );
    let o = o.ok();
    assert!(pids.is_empty());
    let (ns, dev) = o.stdout.split_once('\n').unwrap();
    let host_ns = std::fs::read_link("/proc/self/ns/net").unwrap();
    assert_eq!(ns, host_ns.to_str().unwrap(), "{o:#?}");
    let host = names(&std::fs::read_to_string("/proc/net/dev").unwrap());
    assert_eq!(names(dev), host, "the host's interfaces");
}

/// -p without a helper, and a malformed -p: refused before anything is made.
fn publish_refused(who: Who) {
    if skip_under_runc() {
        return;
    }
    let h = husk(who);
    h.assert_refused(
        &["-p", "8080:80"],
        "host",
        &[
            "-p/--publish needs --network pasta or --network slirp4netns",
            "none",
        ],
    );
    h.assert_refused(
        &["--network", "host", "-p", "8080:80"],
        "host",
        &["--network host", "host's ports"],
    );
    h.assert_refused(
        &["--network", "slirp4netns", "-p", "80"],
        "host",
        &["-p \"80\"", "HOSTPORT:CONTAINERPORT"],
    );
    h.assert_refused(
        &["--network", "pasta", "-p", "8080-8081:80-81"],
        "host",
        &["ranges"],
    );
}

/// The monitor killed with SIGKILL: the helper dies with it (PR_SET_PDEATHSIG); the next run of
/// that name reclaims the container.
fn killed_monitor(who: Who, mode: &str) {
    if skip_under_runc() || helper_missing(mode) {
        return;
    }
    let h = husk(who);
    let name = Husk::name();
    let mut cmd = tun_wrapped(&h, &name, &["--network", mode], &["sleep", "60"]);
    // Registered, so that a parallel test's reap_orphans cannot take its exit status.
    let mut monitor = husk_tests::runtime::spawn(
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped()),
    );
    let stderr = monitor.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if line.contains("network helper attached") {
                let _ = tx.send(line);
            }
        }
    });
    let line = rx.recv_timeout(Duration::from_secs(60));
    let pid = line.as_ref().ok().map(|l| helper_pids(l)[0]);
    let helper_ids = pid.and_then(husk_tests::rootless::host_uids);
    // The monitor is husk itself (or, wrapped, setpriv's exec of it: the same process).
    monitor.kill().unwrap();
    monitor.wait().unwrap();
    husk_tests::runtime::waited(&monitor);
    let pid = pid.expect("husk never logged its network helper");
    // It ran as the user who ran husk.
    let uid = h.user().map_or(0, |u| u.uid);
    assert_eq!(
        helper_ids.map(|ids| ids[1]),
        Some(uid),
        "the helper's effective uid"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        reap_orphans();
        let alive = std::fs::read_to_string(format!("/proc/{pid}/comm"))
            .is_ok_and(|c| c.starts_with("slirp4netns") || c.starts_with("pas"));
        if !alive {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "helper {pid} outlived its killed monitor"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let o = exec(tun_wrapped(&h, &name, &[], &["echo", "again"]), true);
    assert_eq!(o.code(), Some(0), "{o:#?}");
    assert_eq!(o.stdout, "again\n");
    h.assert_clean(&name);
}

#[test]
fn slirp4netns_outbound_as_root() {
    outbound(Who::Root, "slirp4netns");
}

#[test]
fn slirp4netns_outbound_rootless() {
    outbound(Who::Rootless, "slirp4netns");
}

#[test]
fn pasta_outbound_as_root() {
    outbound(Who::Root, "pasta");
}

#[test]
fn pasta_outbound_rootless() {
    outbound(Who::Rootless, "pasta");
}

#[test]
fn slirp4netns_outbound_to_a_network_address_as_root() {
    outbound_to_an_address(Who::Root);
}

#[test]
fn slirp4netns_outbound_to_a_network_address_rootless() {
    outbound_to_an_address(Who::Rootless);
}

#[test]
fn slirp4netns_keeps_the_hosts_loopback_closed_by_default() {
    host_loopback_closed(Who::Rootless, "slirp4netns");
}

#[test]
fn pasta_keeps_the_hosts_loopback_closed_by_default() {
    host_loopback_closed(Who::Rootless, "pasta");
}

#[test]
fn slirp4netns_publish_as_root() {
    publish(Who::Root, "slirp4netns");
}

#[test]
fn slirp4netns_publish_rootless() {
    publish(Who::Rootless, "slirp4netns");
}

#[test]
fn pasta_publish_as_root() {
    publish(Who::Root, "pasta");
}

#[test]
fn pasta_publish_rootless() {
    publish(Who::Rootless, "pasta");
}

#[test]
fn a_failing_helper_fails_the_run_with_its_message_and_leaves_nothing() {
    for who in [Who::Root, Who::Rootless] {
        for mode in HELPERS {
            helper_failure(who, mode);
        }
    }
}

#[test]
fn network_none_has_only_loopback_and_host_the_hosts_interfaces() {
    none_and_host(Who::Root);
    none_and_host(Who::Rootless);
}

#[test]
fn publish_needs_a_helper_and_docker_syntax() {
    publish_refused(Who::Root);
    publish_refused(Who::Rootless);
}

#[test]
fn a_helper_dies_with_a_killed_monitor() {
    for who in [Who::Root, Who::Rootless] {
        for mode in HELPERS {
            killed_monitor(who, mode);
        }
    }
}

/// Without a usable /dev/net/tun the rootless user gets husk's explanation, not the helper's
/// bare EACCES.
#[test]
fn rootless_without_dev_net_tun_access_is_refused_clearly() {
    if skip_under_runc() {
        return;
    }
    let h = Husk::rootless();
    if host_lacks(
        user_can_open_tun(&h),
        "/dev/net/tun is usable by the test user here (the refusal needs a host without that)",
    ) {
        return;
    }
    for mode in HELPERS {
        if !installed(mode) {
            continue;
        }
        h.assert_refused(
            &["--network", mode],
            "host",
            &["/dev/net/tun", "0666", mode],
        );
    }
}
