//! An OCI bundle in a temp dir: a config.json built from runc's default spec (`runc spec`,
//! adapted: terminal false, root.path absolute to a cached rootfs, the test's cgroupsPath),
//! editable as a `serde_json::Value`.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{json, Value};
use tempfile::TempDir;

use crate::rootless::{self, TestUser};
use crate::{cgroups, rootfs};

static NEXT_ID: AtomicUsize = AtomicUsize::new(0);

/// A container id unique in this machine's test runs: `husk-t-<pid>-<n>`.
pub fn unique_id() -> String {
    format!(
        "husk-t-{}-{}",
        std::process::id(),
        NEXT_ID.fetch_add(1, Ordering::Relaxed)
    )
}

/// runc 1.1.5's `runc spec` output, with terminal false (tests have no tty) and the RLIMIT_NOFILE
/// rlimit kept (1024 is below this host's hard limit).
pub fn runc_default_spec() -> Value {
    json!({
        "ociVersion": "1.0.2-dev",
        "process": {
            "terminal": false,
            "user": {"uid": 0, "gid": 0},
            "args": ["sh"],
            "env": [
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "TERM=xterm"
            ],
            "cwd": "/",
            "capabilities": {
                "bounding": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
                "effective": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
                "permitted": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
                "ambient": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
            },
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": true
        },
        "root": {"path": "rootfs", "readonly": true},
        "hostname": "runc",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
             "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}
        ],
        "linux": {
            "resources": {"devices": [{"allow": false, "access": "rwm"}]},
            "namespaces": [
                {"type": "pid"}, {"type": "network"}, {"type": "ipc"},
                {"type": "uts"}, {"type": "mount"}
            ],
            "maskedPaths": [
                "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
                "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
                "/proc/sched_debug", "/sys/firmware", "/proc/scsi"
            ],
            "readonlyPaths": [
                "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"
            ]
        }
    })
}

/// `spec` made rootless as `runc spec --rootless` (and `husk-runtime spec --rootless`) does it
/// for `user`: no network namespace, a new user namespace mapping container 0 to the user's uid
/// and gid (one id each), /sys a read-only rbind of the host's (a new sysfs needs a network
/// namespace of one's own), no `uid=`/`gid=` options that would name an id the namespace does not
/// map (devpts' gid=5), no `linux.resources` and no `linux.cgroupsPath`.
pub fn to_rootless(spec: &mut Value, user: &TestUser) {
    let linux = &mut spec["linux"];
    let mut namespaces: Vec<Value> = linux["namespaces"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|n| n["type"] != "network" && n["type"] != "user")
        .collect();
    namespaces.push(json!({"type": "user"}));
    linux["namespaces"] = Value::Array(namespaces);
    let (uids, gids) = user.single_mappings();
    linux["uidMappings"] = uids;
    linux["gidMappings"] = gids;
    if let Some(o) = linux.as_object_mut() {
        o.remove("resources");
        o.remove("cgroupsPath");
    }
    if let Some(mounts) = spec["mounts"].as_array_mut() {
        for m in mounts.iter_mut() {
            if m["destination"] == "/sys" {
                *m = json!({"destination": "/sys", "type": "none", "source": "/sys",
                            "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]});
                continue;
            }
            if let Some(opts) = m["options"].as_array_mut() {
                opts.retain(|o| {
                    let o = o.as_str().unwrap_or("");
                    !o.starts_with("uid=") && !o.starts_with("gid=")
                });
            }
        }
    }
}

/// A bundle directory with its config, and the container id tests use with it.
#[derive(Debug)]
pub struct Bundle {
    dir: TempDir,
    rootfs: PathBuf,
    /// The container id (unique; also names the container's cgroup).
    pub id: String,
    /// The config, written to `<dir>/config.json` by [`Bundle::write`] (the runtime driver
    /// calls it before create/run).
    pub config: Value,
}

impl Bundle {
    /// A bundle running `args` in the cached busybox rootfs (read-only), with a tmpfs on /tmp.
    pub fn busybox(args: &[&str]) -> Bundle {
        let mut b = Bundle::with_rootfs(rootfs::busybox(), args);
        b.mount("/tmp", "tmpfs", "tmpfs", &["nosuid", "nodev", "mode=1777"]);
        b
    }

    /// A bundle running `args` in the cached Debian minbase rootfs (read-only), tmpfs on /tmp.
    pub fn minbase(args: &[&str]) -> Bundle {
        let mut b = Bundle::with_rootfs(rootfs::minbase(), args);
        b.mount("/tmp", "tmpfs", "tmpfs", &["nosuid", "nodev", "mode=1777"]);
        b
    }

    /// A bundle running `args` in `rootfs` (absolute root.path, read-only), runc's default
    /// spec otherwise, `linux.cgroupsPath` = `husk-test-<pid>/<id>`.
    pub fn with_rootfs(rootfs: &Path, args: &[&str]) -> Bundle {
        let dir = tempfile::Builder::new()
            .prefix("husk-bundle-")
            .tempdir()
            .unwrap();
        Bundle::in_dir(dir, rootfs.to_path_buf(), args)
    }

    /// A bundle whose rootfs is its own `<bundle>/rootfs`, filled by `fill` (a tree made for
    /// this test, e.g. the probe's: see [`crate::probe::bundle`]), removed with the bundle. The
    /// bundle dir is made 0755 so the root of a user namespace (a host uid without rights on a
    /// 0700 temp dir) can reach its rootfs.
    pub fn with_own_rootfs(fill: impl FnOnce(&Path), args: &[&str]) -> Bundle {
        let dir = tempfile::Builder::new()
            .prefix("husk-bundle-")
            .tempdir()
            .unwrap();
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        let rootfs = dir.path().join("rootfs");
        fs::create_dir(&rootfs).unwrap();
        fill(&rootfs);
        Bundle::in_dir(dir, rootfs, args)
    }

    /// A rootless bundle ([`to_rootless`] for the test user of [`crate::rootless`]) running
    /// `args` in the cached busybox rootfs (read-only), with a tmpfs on /tmp; the bundle dir is
    /// 0755 so the user can read it. Run it with [`crate::Runtime::rootless`].
    pub fn rootless_busybox(args: &[&str]) -> Bundle {
        Bundle::rootless_with_rootfs(rootfs::busybox(), args)
    }

    /// Like [`Bundle::rootless_busybox`] in the cached Debian minbase rootfs.
    pub fn rootless_minbase(args: &[&str]) -> Bundle {
        Bundle::rootless_with_rootfs(rootfs::minbase(), args)
    }

    /// A rootless bundle (see [`Bundle::rootless_busybox`]) running `args` in `rootfs`
    /// (read-only), with a tmpfs on /tmp.
    pub fn rootless_with_rootfs(rootfs: &Path, args: &[&str]) -> Bundle {
        let dir = tempfile::Builder::new()
            .prefix("husk-bundle-")
            .tempdir()
            .unwrap();
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        let mut b = Bundle::in_dir(dir, rootfs.to_path_buf(), args);
        to_rootless(&mut b.config, rootless::user());
        b.mount("/tmp", "tmpfs", "tmpfs", &["nosuid", "nodev", "mode=1777"]);
        b
    }

    /// Like [`Bundle::rootless_busybox`] but with a writable rootfs of its own
    /// (`<bundle>/rootfs`, a copy of the busybox tree owned by the test user, i.e. by the
    /// container's root) and `root.readonly` false.
    pub fn rootless_busybox_writable(args: &[&str]) -> Bundle {
        let mut b = Bundle::rootless_busybox(args);
        let rootfs = b.path().join("rootfs");
        fs::create_dir(&rootfs).unwrap();
        rootfs::busybox_copy(&rootfs);
        rootless::user().chown_tree(&rootfs);
        b.rootfs = rootfs.clone();
        b.set("/root", json!({"path": rootfs, "readonly": false}));
        b
    }

    /// Replaces the rootless single-id mappings with the test user's subordinate ranges
    /// ([`TestUser::subid_mappings`]): 0 is the user, 1 to 65536 its /etc/subuid and
    /// /etc/subgid ranges, written by newuidmap and newgidmap.
    pub fn subid_mappings(&mut self) -> &mut Self {
        let (uids, gids) = rootless::user().subid_mappings();
        self.set("/linux/uidMappings", uids);
        self.set("/linux/gidMappings", gids)
    }

    fn in_dir(dir: TempDir, rootfs: PathBuf, args: &[&str]) -> Bundle {
        let id = unique_id();
        let mut config = runc_default_spec();
        config["root"]["path"] = json!(rootfs);
        config["process"]["args"] = json!(args);
        config["linux"]["cgroupsPath"] = json!(cgroups::cgroups_path(&id));
        // Lets the harness find every process of this container, even before exec (the
        // runtime's own env has it too, see `Runtime`).
        config["process"]["env"]
            .as_array_mut()
            .unwrap()
            .push(json!(format!("HUSK_TEST_MARKER={id}")));
        Bundle {
            dir,
            rootfs,
            id,
            config,
        }
    }

    /// The bundle directory (absolute).
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The rootfs directory (absolute).
    pub fn rootfs(&self) -> &Path {
        &self.rootfs
    }

    /// Writes config.json (pretty JSON) into the bundle.
    pub fn write(&self) {
        fs::write(
            self.dir.path().join("config.json"),
            serde_json::to_vec_pretty(&self.config).unwrap(),
        )
        .unwrap();
    }

    /// Sets the value at JSON pointer `ptr` (e.g. `/process/cwd`), making missing objects on
    /// the way.
    pub fn set(&mut self, ptr: &str, value: Value) -> &mut Self {
        let mut cur = &mut self.config;
        let keys: Vec<&str> = ptr.split('/').skip(1).collect();
        for (i, key) in keys.iter().enumerate() {
            if i + 1 == keys.len() {
                match cur {
                    Value::Array(a) => a[key.parse::<usize>().unwrap()] = value,
                    _ => {
                        cur[*key] = value;
                    }
                }
                return self;
            }
            cur = match cur {
                Value::Array(a) => &mut a[key.parse::<usize>().unwrap()],
                _ => {
                    if cur.get(*key).is_none() {
                        cur[*key] = json!({});
                    }
                    &mut cur[*key]
                }
            };
        }
        self
    }

    /// Removes every `mounts` entry whose destination is `dest` (e.g. "/dev", so that /dev is
    /// the image's own directory).
    pub fn remove_mount(&mut self, dest: &str) -> &mut Self {
        if let Some(mounts) = self.config["mounts"].as_array_mut() {
            mounts.retain(|m| m["destination"] != dest);
        }
        self
    }

    /// Removes the value at JSON pointer `ptr` (an object key) if present.
    pub fn remove(&mut self, ptr: &str) -> &mut Self {
        let (parent, key) = ptr.rsplit_once('/').unwrap();
        if let Some(Value::Object(o)) = self.config.pointer_mut(parent) {
            o.remove(key);
        }
        self
    }

    /// Appends `value` to the array at `ptr`, making the array if missing.
    pub fn push(&mut self, ptr: &str, value: Value) -> &mut Self {
        if self.config.pointer(ptr).is_none() {
            self.set(ptr, json!([]));
        }
        self.config
            .pointer_mut(ptr)
            .unwrap()
            .as_array_mut()
            .unwrap()
            .push(value);
        self
    }

    /// Sets `process.args`.
    pub fn args(&mut self, args: &[&str]) -> &mut Self {
        self.set("/process/args", json!(args))
    }

    /// Adds a mount. The destination must exist in the rootfs (or lie under /dev, /proc or
    /// /sys, which are fresh mounts) so the read-only rootfs cache is never written to.
    pub fn mount(&mut self, dest: &str, typ: &str, source: &str, options: &[&str]) -> &mut Self {
        let first = dest.trim_start_matches('/').split('/').next().unwrap_or("");
        let fresh = matches!(first, "dev" | "proc" | "sys");
        assert!(
            fresh || self.rootfs.join(dest.trim_start_matches('/')).exists(),
            "mount destination {dest} does not exist in {}: a runtime would create it in the \
             shared rootfs cache; use one of rootfs::MOUNTPOINTS",
            self.rootfs.display()
        );
        self.push(
            "/mounts",
            json!({"destination": dest, "type": typ, "source": source, "options": options}),
        )
    }

    /// Replaces the namespace list with `types` (new namespaces).
    pub fn namespaces(&mut self, types: &[&str]) -> &mut Self {
        let list: Vec<Value> = types.iter().map(|t| json!({"type": t})).collect();
        self.set("/linux/namespaces", Value::Array(list))
    }

    /// Adds namespace `typ` (joined when `path` is given), replacing an entry of the same type.
    pub fn namespace(&mut self, typ: &str, path: Option<&str>) -> &mut Self {
        let list = self.config["linux"]["namespaces"].as_array_mut().unwrap();
        list.retain(|n| n["type"] != typ);
        let mut entry = json!({"type": typ});
        if let Some(p) = path {
            entry["path"] = json!(p);
        }
        list.push(entry);
        self
    }

    /// Appends a `KEY=VALUE` to `process.env`.
    pub fn env(&mut self, kv: &str) -> &mut Self {
        self.push("/process/env", json!(kv))
    }

    /// Adds a hook `{path, args}` to `hooks.<kind>` (createRuntime, poststart, ...).
    pub fn hook(&mut self, kind: &str, hook: Value) -> &mut Self {
        self.push(&format!("/hooks/{kind}"), hook)
    }

    /// Sets the four capability sets runc fills (and inheritable) to `caps`.
    pub fn caps(&mut self, caps: &[&str]) -> &mut Self {
        for set in [
            "bounding",
            "effective",
            "permitted",
            "ambient",
            "inheritable",
        ] {
            self.set(&format!("/process/capabilities/{set}"), json!(caps));
        }
        self
    }
}
