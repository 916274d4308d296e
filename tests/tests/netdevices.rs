//! `linux.netDevices` (runtime-spec v1.3 config-linux.md, "Network Devices"): a host interface
//! moved into the container's network namespace, renamed, with its permanent global addresses
//! and up; moved back when `create` fails; left to the namespace's owner after `delete`; and the
//! bad entries refused before anything changes.
//!
//! The "host" of every test is a network namespace the test makes (a thread that unshares
//! CLONE_NEWNET, kept alive by an fd): the runtime is run from a thread that joined it, so its
//! own network namespace is that one, and the interfaces are a veth pair made there (this
//! machine's kernel has veth, not dummy). The namespace goes when the test's fd is closed, on
//! success and on failure, taking whatever is left in it.

#![allow(clippy::unwrap_used)] // tests may unwrap (project rules)

use std::fs::File;
use std::os::fd::{AsRawFd, OwnedFd};
use std::thread;
use std::time::{Duration, Instant};

use husk_tests::{reference_lacks, Bundle, Runtime};
use nix::sched::CloneFlags;
use serde_json::json;

/// A network namespace made by the test, alive while this value is.
struct NetNs {
    fd: OwnedFd,
}

impl NetNs {
    fn new() -> NetNs {
        let fd = thread::spawn(|| {
            nix::sched::unshare(CloneFlags::CLONE_NEWNET).unwrap();
            OwnedFd::from(File::open("/proc/thread-self/ns/net").unwrap())
        })
        .join()
        .unwrap();
        NetNs { fd }
    }

    /// Runs `f` on a thread inside this namespace: the processes it starts are in it too.
    fn run<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        thread::scope(|s| {
            s.spawn(|| {
                nix::sched::setns(&self.fd, CloneFlags::CLONE_NEWNET).unwrap();
                f()
            })
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    }

    /// `ip ARGS` in this namespace: its status and stdout.
    fn try_ip(&self, args: &[&str]) -> (bool, String) {
        self.run(|| {
            let out = husk_tests::runtime::host_command("ip", args);
            (out.status.success(), out.stdout)
        })
    }

    /// `ip ARGS` in this namespace, which must succeed; its stdout.
    fn ip(&self, args: &[&str]) -> String {
        let (ok, out) = self.try_ip(args);
        assert!(ok, "ip {args:?} failed in the test's namespace: {out}");
        out
    }

    /// A path that names this namespace for a config's `linux.namespaces[].path`.
    fn path(&self) -> String {
        format!("/proc/{}/fd/{}", std::process::id(), self.fd.as_raw_fd())
    }
}

/// Whether an IPv6 address can be given to a veth in a new network namespace (the cgroup v2
/// guest's kernel refuses): probed once in a throwaway namespace; the IPv6 address of the tests
/// is added and checked only then, and its absence said once on stderr.
fn ipv6() -> bool {
    static HAS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *HAS.get_or_init(|| {
        let probe = NetNs::new();
        probe.ip(&[
            "link", "add", "v6p0", "type", "veth", "peer", "name", "v6p1",
        ]);
        let has = probe
            .try_ip(&["-6", "addr", "add", "fd98::1/64", "dev", "v6p0", "nodad"])
            .0;
        husk_tests::host_lacks(
            !has,
            "IPv6 addresses (the IPv6 part of the netDevices tests)",
        );
        has
    })
}

/// A "host" namespace with veth `hk0` (peer `hk0p`) holding 10.199.0.1/24 and fd99::1/64,
/// up when `up`.
fn host_with_veth(up: bool) -> NetNs {
    let host = NetNs::new();
    host.ip(&["link", "add", "hk0", "type", "veth", "peer", "name", "hk0p"]);
    host.ip(&["addr", "add", "10.199.0.1/24", "dev", "hk0"]);
    if ipv6() {
        host.ip(&["-6", "addr", "add", "fd99::1/64", "dev", "hk0", "nodad"]);
    }
    if up {
        host.ip(&["link", "set", "hk0", "up"]);
    }
    host
}

/// The flags of the first `<...>` of `ip` output, e.g. ["BROADCAST", "MULTICAST", "UP"].
fn link_flags(ip_output: &str) -> Vec<String> {
    let start = ip_output.find('<').unwrap() + 1;
    let end = ip_output[start..].find('>').unwrap() + start;
    ip_output[start..end]
        .split(',')
        .map(str::to_string)
        .collect()
}

/// Asserts `hk0` is in `host` as it was made: its addresses and up.
fn assert_hk0_on_host_unchanged(host: &NetNs) {
    let out = host.ip(&["addr", "show", "dev", "hk0"]);
    assert!(out.contains("inet 10.199.0.1/24"), "{out}");
    if ipv6() {
        assert!(out.contains("inet6 fd99::1/64"), "{out}");
    }
    assert!(link_flags(&out).contains(&"UP".to_string()), "{out}");
}

/// A busybox bundle running `script` with `linux.netDevices` set to `devices`.
fn bundle(script: &str, devices: serde_json::Value) -> Bundle {
    let mut b = Bundle::busybox(&["sh", "-c", script]);
    b.set("/linux/netDevices", devices);
    b
}

#[test]
fn an_interface_moves_in_with_its_addresses_and_up() {
    if reference_lacks("linux.netDevices (runtime-spec 1.3)") {
        return;
    }
    let host = host_with_veth(true);
    let rt = Runtime::new();
    let b = bundle("ip addr show dev hk0", json!({"hk0": {}}));
    let out = host.run(|| rt.run_ok(&b));
    assert!(out.contains("inet 10.199.0.1/24"), "{out}");
    if ipv6() {
        assert!(out.contains("inet6 fd99::1/64"), "{out}");
    }
    assert!(link_flags(&out).contains(&"UP".to_string()), "{out}");
    // The container is deleted: its namespace went, and with it the virtual interface (the
    // kernel destroys a veth pair then; a physical device would go to the initial namespace).
    // runtime-spec: the runtime MUST NOT move it out before deletion.
    assert!(
        !host.try_ip(&["link", "show", "hk0"]).0,
        "hk0 back on the host"
    );
    // The kernel frees a namespace in a work queue, some time after its last process exits.
    let deadline = Instant::now() + Duration::from_secs(10);
    while host.try_ip(&["link", "show", "hk0p"]).0 {
        assert!(
            Instant::now() < deadline,
            "the veth peer outlived its pair by 10 s"
        );
        thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_renamed_interface_is_up_inside_even_when_it_was_down_on_the_host() {
    if reference_lacks("linux.netDevices (runtime-spec 1.3)") {
        return;
    }
    let host = host_with_veth(false);
    let rt = Runtime::new();
    let b = bundle(
        "ip addr show dev ctr0 && if ip link show hk0 2>/dev/null; then echo HOST-NAME-SEEN; fi",
        json!({"hk0": {"name": "ctr0"}}),
    );
    let out = host.run(|| rt.run_ok(&b));
    assert!(out.contains(": ctr0"), "{out}");
    assert!(!out.contains("HOST-NAME-SEEN"), "{out}");
    assert!(out.contains("inet 10.199.0.1/24"), "{out}");
    // runtime-spec: the runtime MUST set the device "up" after the move.
    assert!(link_flags(&out).contains(&"UP".to_string()), "{out}");
}

#[test]
fn a_template_name_is_completed_by_the_kernel() {
    if reference_lacks("linux.netDevices (runtime-spec 1.3)") {
        return;
    }
    let host = host_with_veth(true);
    let rt = Runtime::new();
    let b = bundle("ip addr show dev ctr0", json!({"hk0": {"name": "ctr%d"}}));
    let out = host.run(|| rt.run_ok(&b));
    assert!(out.contains("inet 10.199.0.1/24"), "{out}");
}

#[test]
fn a_created_container_holds_the_interface_until_delete() {
    if reference_lacks("linux.netDevices (runtime-spec 1.3)") {
        return;
    }
    let host = host_with_veth(true);
    let rt = Runtime::new();
    let b = bundle("sleep 30", json!({"hk0": {"name": "c0"}}));
    host.run(|| rt.create(&b));
    // Moved at create, before the program runs: gone from the host, in the container.
    assert!(!host.try_ip(&["link", "show", "hk0"]).0);
    let pid = rt.state(&b.id)["pid"].as_i64().unwrap();
    let pid = pid.to_string();
    let out = husk_tests::runtime::host_command(
        "nsenter",
        &["-t", &pid, "-n", "ip", "addr", "show", "dev", "c0"],
    )
    .stdout;
    assert!(out.contains("inet 10.199.0.1/24"), "{out}");
    // husk records what it moved (its own field of state.json).
    let state = std::fs::read_to_string(rt.root().join(&b.id).join("state.json")).unwrap();
    let state: serde_json::Value = serde_json::from_str(&state).unwrap();
    let moved = &state["net_devices"]["devices"][0];
    assert_eq!(moved["host_name"], "hk0", "{state}");
    assert_eq!(moved["name"], "c0", "{state}");
    assert_eq!(moved["was_up"], true, "{state}");
    host.run(|| rt.delete(&b.id).ok());
    assert!(!host.try_ip(&["link", "show", "hk0"]).0);
}

#[test]
fn a_failed_create_moves_the_interface_back_as_it_was() {
    if reference_lacks("linux.netDevices (runtime-spec 1.3)") {
        return;
    }
    let host = host_with_veth(true);
    let rt = Runtime::new();
    // createRuntime hooks run after the move: a failing one fails create with hk0 inside.
    let mut b = bundle("true", json!({"hk0": {"name": "c0"}}));
    b.hook("createRuntime", json!({"path": "/bin/false"}));
    let o = host.run(|| rt.create_with(&b, &b.id, &[])).failed();
    o.stderr_mentions(&["createRuntime"]);
    assert_hk0_on_host_unchanged(&host);
    assert!(!rt.root().join(&b.id).exists(), "state dir left");
}

#[test]
fn an_interface_moved_into_a_joined_namespace_stays_there_after_delete() {
    if reference_lacks("linux.netDevices (runtime-spec 1.3)") {
        return;
    }
    let host = host_with_veth(true);
    let pod = NetNs::new();
    let rt = Runtime::new();
    let mut b = bundle("ip addr show dev p0", json!({"hk0": {"name": "p0"}}));
    b.namespace("network", Some(&pod.path()));
    let out = host.run(|| rt.run_ok(&b));
    assert!(out.contains("inet 10.199.0.1/24"), "{out}");
    // runtime-spec: the interface's lifecycle belongs to the namespace's owner.
    let out = pod.ip(&["addr", "show", "dev", "p0"]);
    assert!(out.contains("inet 10.199.0.1/24"), "{out}");
    assert!(!host.try_ip(&["link", "show", "hk0"]).0);
}

/// Runs `create` of `b` in `host`, which must fail naming every one of `words`, leave no state
/// and leave `hk0` on the host as it was.
fn refused(host: &NetNs, b: &Bundle, words: &[&str]) {
    let rt = Runtime::new();
    let o = host.run(|| rt.create_with(b, &b.id, &[])).failed();
    o.stderr_mentions(words);
    assert!(!rt.root().join(&b.id).exists(), "state dir left: {o:#?}");
    assert_hk0_on_host_unchanged(host);
}

#[test]
fn a_missing_host_interface_is_refused() {
    if reference_lacks("linux.netDevices (runtime-spec 1.3)") {
        return;
    }
    let host = host_with_veth(true);
    let b = bundle("true", json!({"hk0": {}, "nope0": {}}));
    refused(&host, &b, &["linux.netDevices.\"nope0\"", "ip link"]);
}

#[test]
fn devices_without_a_network_namespace_of_the_containers_own_are_refused() {
    if reference_lacks("linux.netDevices (runtime-spec 1.3)") {
        return;
    }
    let host = host_with_veth(true);
    let mut b = bundle("true", json!({"hk0": {}}));
    b.namespaces(&["pid", "ipc", "uts", "mount"]);
    refused(
        &host,
        &b,
        &["linux.netDevices.\"hk0\"", "network namespace"],
    );
    // Joining the runtime's own namespace by path is no better.
    let mut b = bundle("true", json!({"hk0": {}}));
    b.namespace("network", Some("/proc/self/ns/net"));
    refused(
        &host,
        &b,
        &["linux.netDevices.\"hk0\"", "/proc/self/ns/net"],
    );
}

#[test]
fn invalid_names_are_refused() {
    if reference_lacks("linux.netDevices (runtime-spec 1.3)") {
        return;
    }
    let host = host_with_veth(true);
    for name in ["bad/name", "a-name-of-16-byt", "two words", "..", "c%d%d"] {
        let b = bundle("true", json!({"hk0": {"name": name}}));
        refused(
            &host,
            &b,
            &[
                "linux.netDevices.\"hk0\".name",
                "not a valid network interface name",
            ],
        );
    }
    // Two entries may not give the container the same name.
    host.ip(&["link", "add", "hk1", "type", "veth", "peer", "name", "hk1p"]);
    let b = bundle(
        "true",
        json!({"hk0": {"name": "c0"}, "hk1": {"name": "c0"}}),
    );
    refused(&host, &b, &["linux.netDevices.\"hk1\"", "\"c0\""]);
}

#[test]
fn a_name_taken_in_the_container_is_refused() {
    if reference_lacks("linux.netDevices (runtime-spec 1.3)") {
        return;
    }
    // runtime-spec: an existing name inside is an error (unless a %d template); a new
    // namespace has `lo`.
    let host = host_with_veth(true);
    let b = bundle("true", json!({"hk0": {"name": "lo"}}));
    refused(
        &host,
        &b,
        &[
            "linux.netDevices.\"hk0\"",
            "already has an interface named \"lo\"",
        ],
    );
}

#[test]
fn a_sysctl_of_a_moved_interface_is_set_inside() {
    if reference_lacks("linux.netDevices (runtime-spec 1.3)") {
        return;
    }
    let host = host_with_veth(true);
    let rt = Runtime::new();
    let mut b = bundle(
        "cat /proc/sys/net/ipv4/conf/c0/forwarding",
        json!({"hk0": {"name": "c0"}}),
    );
    b.set("/linux/sysctl", json!({"net.ipv4.conf.c0.forwarding": "1"}));
    assert_eq!(host.run(|| rt.run_ok(&b)), "1\n");
}
