//! The OCI bundle `husk run` hands to the runtime: the config.json it generates
//! (runtime-spec v1.3 `config.md`, `config-linux.md`) with Docker's default isolation.
//!
//! The config is written as explicit JSON (so every field husk sets is visible here, in order,
//! and nothing comes from a library's defaults); the tests check that oci-spec's `Spec` parses
//! it. Mounts are oci-spec `Mount`s, shared with `hostroot` and `volume`.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use oci_spec::runtime::Mount;
use serde_json::{json, Value};

use crate::cli::NetworkMode;
use crate::resources::Resources;
use crate::rootless::IdMapping;
use crate::security::Security;

/// The runtime-spec version husk writes.
pub const OCI_VERSION: &str = "1.3.0";

/// Docker's default capability set (moby `oci/caps/defaults.go`); never CAP_SYS_ADMIN, so the
/// container cannot remount the `host` source's read-only binds.
pub const DEFAULT_CAPABILITIES: [&str; 14] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

/// Docker's default `linux.maskedPaths` (moby `oci/defaults.go`): kernel information that
/// leaks host details or allows side channels.
pub const MASKED_PATHS: [&str; 12] = [
    "/proc/asound",
    "/proc/acpi",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

/// Docker's default `linux.readonlyPaths`.
pub const READONLY_PATHS: [&str; 5] = [
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// The `root.path` of the bundle, relative to the bundle directory.
pub const ROOTFS_DIR: &str = "rootfs";

/// Errors of writing the bundle.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// config.json could not be written.
    #[error("writing {}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
}

/// What `husk run` decided about the container, turned into config.json by [`config`].
#[derive(Debug, Clone)]
pub struct BundleConfig {
    /// `hostname` (the container's name unless --hostname).
    pub hostname: String,
    /// `process.args` (never empty).
    pub args: Vec<String>,
    /// `process.env` (see `envvars`).
    pub env: Vec<String>,
    /// `process.cwd` (absolute).
    pub cwd: String,
    /// `process.user.uid`.
    pub uid: u32,
    /// `process.user.gid`.
    pub gid: u32,
    /// `process.terminal` (-t).
    pub terminal: bool,
    /// --network: every mode but `host` adds a network namespace.
    pub network: NetworkMode,
    /// `root.readonly` (--read-only).
    pub readonly_root: bool,
    /// Mounts after the default ones: the `host` source's binds, then -v volumes.
    pub extra_mounts: Vec<Mount>,
    /// `linux.cgroupsPath` (None: the runtime's default, named after the id).
    pub cgroups_path: Option<String>,
    /// `linux.resources` and `linux.devices` (--memory, --cpus, --device, ...).
    pub resources: Resources,
    /// `process.capabilities`, `process.noNewPrivileges`, `linux.seccomp`; with --privileged
    /// no masked or read-only paths and every device allowed.
    pub security: Security,
    /// Rootless: a user namespace with these `linux.uidMappings`/`gidMappings`, created
    /// first (the runtime makes every other namespace owned by it).
    pub user_namespace: Option<IdMapping>,
    /// Rootless: the value of the runtime's `org.husk.rootfs.overlay` annotation (the overlay
    /// it mounts at `root.path` in the container's namespaces, see `overlay::annotation`).
    pub rootfs_overlay: Option<String>,
}

/// A bind mount of `source` at `destination`: `rbind`, then `ro` if `read_only`, then `extra`.
pub fn bind_mount(source: &Path, destination: &str, read_only: bool, extra: &[&str]) -> Mount {
    let mut options = vec!["rbind".to_owned()];
    if read_only {
        options.push("ro".to_owned());
    }
    options.extend(extra.iter().map(|s| (*s).to_owned()));
    mount_entry(destination, "bind", &source.to_string_lossy(), options)
}

/// A tmpfs at `destination` with `options`.
pub fn tmpfs_mount(destination: &str, options: &[&str]) -> Mount {
    mount_entry(
        destination,
        "tmpfs",
        "tmpfs",
        options.iter().map(|s| (*s).to_owned()).collect(),
    )
}

fn mount_entry(destination: &str, typ: &str, source: &str, options: Vec<String>) -> Mount {
    let mut m = Mount::default();
    m.set_destination(PathBuf::from(destination));
    m.set_typ(Some(typ.to_owned()));
    m.set_source(Some(PathBuf::from(source)));
    m.set_options(Some(options));
    m
}

/// The default mounts, in order: /proc, /dev, /dev/pts, /dev/shm, /dev/mqueue, /sys,
/// /sys/fs/cgroup (runc's `spec` set, with Docker's sizes).
pub fn default_mounts() -> Vec<Mount> {
    let o = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    vec![
        mount_entry("/proc", "proc", "proc", o(&["nosuid", "noexec", "nodev"])),
        mount_entry(
            "/dev",
            "tmpfs",
            "tmpfs",
            o(&["nosuid", "strictatime", "mode=755", "size=65536k"]),
        ),
        mount_entry(
            "/dev/pts",
            "devpts",
            "devpts",
            o(&[
                "nosuid",
                "noexec",
                "newinstance",
                "ptmxmode=0666",
                "mode=0620",
                "gid=5",
            ]),
        ),
        mount_entry(
            "/dev/shm",
            "tmpfs",
            "shm",
            o(&["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]),
        ),
        mount_entry(
            "/dev/mqueue",
            "mqueue",
            "mqueue",
            o(&["nosuid", "noexec", "nodev"]),
        ),
        mount_entry(
            "/sys",
            "sysfs",
            "sysfs",
            o(&["nosuid", "noexec", "nodev", "ro"]),
        ),
        mount_entry(
            "/sys/fs/cgroup",
            "cgroup",
            "cgroup",
            o(&["nosuid", "noexec", "nodev", "relatime", "ro"]),
        ),
    ]
}

/// The default mounts adjusted for a container with its own user namespace (`mapping`), as
/// runc's `spec --rootless` adjusts them: devpts without `gid=5` when gid 5 is not mapped
/// (the kernel refuses an unmapped gid), and with the host's network namespace /sys bound
/// read-only from the host (a new sysfs needs a network namespace the container's user
/// namespace owns).
fn rootless_mounts(mounts: &mut [Mount], mapping: &IdMapping, network: NetworkMode) {
    for m in mounts.iter_mut() {
        let typ = m.typ().clone().unwrap_or_default();
        if typ == "devpts" && mapping.gid_count() <= 5 {
            let options: Vec<String> = m
                .options()
                .iter()
                .flatten()
                .filter(|o| !o.starts_with("gid="))
                .cloned()
                .collect();
            m.set_options(Some(options));
        }
        if typ == "sysfs" && network == NetworkMode::Host {
            *m = mount_entry(
                "/sys",
                "bind",
                "/sys",
                ["rbind", "nosuid", "noexec", "nodev", "ro"]
                    .map(str::to_owned)
                    .to_vec(),
            );
        }
    }
}

/// The config.json for `c`.
pub fn config(c: &BundleConfig) -> Value {
    let mut namespaces = Vec::new();
    if c.user_namespace.is_some() {
        namespaces.push(json!({"type": "user"}));
    }
    namespaces.push(json!({"type": "pid"}));
    if c.network != NetworkMode::Host {
        // A new network namespace has only loopback; the runtime brings it up (a network
        // helper adds an interface before the program starts).
        namespaces.push(json!({"type": "network"}));
    }
    namespaces.extend([
        json!({"type": "ipc"}),
        json!({"type": "uts"}),
        json!({"type": "mount"}),
        json!({"type": "cgroup"}),
    ]);
    let mut mounts = default_mounts();
    if let Some(m) = &c.user_namespace {
        rootless_mounts(&mut mounts, m, c.network);
    }
    mounts.extend(c.extra_mounts.iter().cloned());
    let mut v = json!({
        "ociVersion": OCI_VERSION,
        "process": {
            "terminal": c.terminal,
            "user": {"uid": c.uid, "gid": c.gid},
            "args": c.args,
            "env": c.env,
            "cwd": c.cwd,
            "capabilities": {
                "bounding": c.security.capabilities,
                "effective": c.security.capabilities,
                "permitted": c.security.capabilities,
                "inheritable": [],
                "ambient": [],
            },
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": c.security.no_new_privileges,
        },
        "root": {"path": ROOTFS_DIR, "readonly": c.readonly_root},
        "hostname": c.hostname,
        "mounts": mounts,
        "linux": {
            "namespaces": namespaces,
        },
    });
    if let Some(m) = &c.user_namespace {
        v["linux"]["uidMappings"] = IdMapping::to_json(&m.uids);
        v["linux"]["gidMappings"] = IdMapping::to_json(&m.gids);
    }
    if let Some(o) = &c.rootfs_overlay {
        v["annotations"] = json!({ husk_container::rootfs::overlay::ANNOTATION: o });
    }
    if !c.security.privileged {
        v["linux"]["maskedPaths"] = json!(MASKED_PATHS);
        v["linux"]["readonlyPaths"] = json!(READONLY_PATHS);
    }
    if let Some(s) = &c.security.seccomp {
        v["linux"]["seccomp"] = s.clone();
    }
    if let Some(p) = &c.cgroups_path {
        v["linux"]["cgroupsPath"] = json!(p);
    }
    if let Some(r) = c.resources.linux_resources() {
        v["linux"]["resources"] = r;
    }
    if c.security.privileged {
        // Docker's --privileged: every device node may be made and opened (a rule for type
        // `a`, all majors and minors), replacing the per---device rules it covers.
        v["linux"]["resources"]["devices"] = json!([{"allow": true, "type": "a", "access": "rwm"}]);
    }
    let in_userns = c.user_namespace.is_some();
    let devices = c.resources.linux_devices(in_userns);
    if !devices.is_empty() {
        v["linux"]["devices"] = Value::Array(devices);
    }
    for m in c.resources.device_binds(in_userns) {
        if let (Some(all), Ok(m)) = (v["mounts"].as_array_mut(), serde_json::to_value(m)) {
            all.push(m);
        }
    }
    v
}

/// Writes `config` as `<bundle>/config.json` (temp file + rename, so the runtime never reads a
/// partial file) and returns its path.
///
/// Errors: [`BundleError::Write`].
pub fn write_config(bundle: &Path, config: &Value) -> Result<PathBuf, BundleError> {
    let path = bundle.join("config.json");
    let err = |source| BundleError::Write {
        path: path.clone(),
        source,
    };
    let tmp = bundle.join(".config.json.tmp");
    let bytes = serde_json::to_vec_pretty(config).map_err(|e| err(e.into()))?;
    let mut f = fs::File::create(&tmp).map_err(err)?;
    f.write_all(&bytes).map_err(err)?;
    fs::rename(&tmp, &path).map_err(err)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> BundleConfig {
        BundleConfig {
            hostname: "web".into(),
            args: vec!["/bin/sh".into()],
            env: vec!["PATH=/bin".into(), "HOSTNAME=web".into()],
            cwd: "/".into(),
            uid: 0,
            gid: 0,
            terminal: false,
            network: NetworkMode::None,
            cgroups_path: None,
            readonly_root: false,
            extra_mounts: vec![],
            resources: Resources::default(),
            security: Security::default(),
            user_namespace: None,
            rootfs_overlay: None,
        }
    }

    fn strings(v: &Value) -> Vec<&str> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap())
            .collect()
    }

    #[test]
    fn default_isolation() {
        let v = config(&sample());
        assert_eq!(v["ociVersion"], "1.3.0");
        assert_eq!(v["hostname"], "web");
        assert_eq!(v["root"], json!({"path": "rootfs", "readonly": false}));
        let ns: Vec<&str> = v["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["type"].as_str().unwrap())
            .collect();
        assert_eq!(ns, ["pid", "network", "ipc", "uts", "mount", "cgroup"]);
        assert!(v["linux"]["namespaces"][0].get("path").is_none());
        assert!(v["linux"].get("cgroupsPath").is_none());
        assert!(v["linux"].get("resources").is_none());
        assert!(v["linux"].get("devices").is_none());
        assert_eq!(strings(&v["linux"]["maskedPaths"]).len(), 12);
        assert!(strings(&v["linux"]["maskedPaths"]).contains(&"/proc/kcore"));
        assert_eq!(
            strings(&v["linux"]["readonlyPaths"]),
            [
                "/proc/bus",
                "/proc/fs",
                "/proc/irq",
                "/proc/sys",
                "/proc/sysrq-trigger"
            ]
        );
    }

    #[test]
    fn process_fields() {
        let mut c = sample();
        c.terminal = true;
        c.uid = 1000;
        c.gid = 50;
        c.cwd = "/tmp".into();
        c.args = vec!["ls".into(), "-l".into()];
        let p = &config(&c)["process"];
        assert_eq!(p["terminal"], true);
        assert_eq!(p["user"], json!({"uid": 1000, "gid": 50}));
        assert_eq!(p["args"], json!(["ls", "-l"]));
        assert_eq!(p["cwd"], "/tmp");
        assert_eq!(p["env"], json!(["PATH=/bin", "HOSTNAME=web"]));
        assert_eq!(p["noNewPrivileges"], false, "off unless asked, as Podman");
        assert_eq!(
            p["rlimits"],
            json!([{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}])
        );
        let caps = &p["capabilities"];
        for set in ["bounding", "effective", "permitted"] {
            let s = strings(&caps[set]);
            assert_eq!(s.len(), 14, "{set}");
            assert!(s.contains(&"CAP_NET_BIND_SERVICE") && s.contains(&"CAP_AUDIT_WRITE"));
            assert!(!s.contains(&"CAP_SYS_ADMIN"), "{set}");
        }
        assert_eq!(caps["inheritable"], json!([]));
        assert_eq!(caps["ambient"], json!([]));
    }

    #[test]
    fn host_network_has_no_network_namespace_and_keeps_uts() {
        let mut c = sample();
        c.network = NetworkMode::Host;
        c.readonly_root = true;
        let v = config(&c);
        let ns: Vec<&str> = v["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["type"].as_str().unwrap())
            .collect();
        assert_eq!(ns, ["pid", "ipc", "uts", "mount", "cgroup"]);
        assert_eq!(v["root"]["readonly"], true);
    }

    #[test]
    fn default_mounts_then_extra_mounts() {
        let mut c = sample();
        c.extra_mounts = vec![bind_mount(Path::new("/srv/data"), "/data", true, &[])];
        let v = config(&c);
        let m = v["mounts"].as_array().unwrap();
        let dests: Vec<&str> = m
            .iter()
            .map(|m| m["destination"].as_str().unwrap())
            .collect();
        assert_eq!(
            dests,
            [
                "/proc",
                "/dev",
                "/dev/pts",
                "/dev/shm",
                "/dev/mqueue",
                "/sys",
                "/sys/fs/cgroup",
                "/data"
            ]
        );
        assert_eq!(
            m[1]["options"],
            json!(["nosuid", "strictatime", "mode=755", "size=65536k"])
        );
        assert_eq!(
            m[2]["options"],
            json!([
                "nosuid",
                "noexec",
                "newinstance",
                "ptmxmode=0666",
                "mode=0620",
                "gid=5"
            ])
        );
        assert_eq!(m[3]["options"][3], "mode=1777");
        assert_eq!(m[5]["type"], "sysfs");
        assert_eq!(m[5]["options"][3], "ro");
        assert_eq!(m[6]["type"], "cgroup");
        assert_eq!(m[6]["options"][4], "ro");
        assert_eq!(
            m[7],
            json!({"destination": "/data", "type": "bind", "source": "/srv/data",
                   "options": ["rbind", "ro"]})
        );
    }

    #[test]
    fn oci_spec_parses_it() {
        let v = config(&sample());
        let spec: oci_spec::runtime::Spec = serde_json::from_value(v).unwrap();
        assert_eq!(spec.hostname().as_deref(), Some("web"));
        let process = spec.process().as_ref().unwrap();
        assert_eq!(process.args().as_ref().unwrap(), &["/bin/sh"]);
        let caps = process.capabilities().as_ref().unwrap();
        assert_eq!(caps.bounding().as_ref().unwrap().len(), 14);
        assert_eq!(spec.mounts().as_ref().unwrap().len(), 7);
    }

    #[test]
    fn resources_and_devices_go_under_linux() {
        use crate::resources::{Device, DeviceNode, DeviceType};
        let mut c = sample();
        c.resources = Resources {
            memory: Some(64 << 20),
            pids_limit: Some(0),
            devices: vec![Device {
                host: "/dev/null".into(),
                container: "/dev/mynull".into(),
                node: DeviceNode {
                    kind: DeviceType::Char,
                    major: 1,
                    minor: 3,
                    file_mode: 0o666,
                    uid: 0,
                    gid: 0,
                },
                perms: "rwm".into(),
            }],
            ..Resources::default()
        };
        let v = config(&c);
        assert_eq!(
            v["linux"]["resources"],
            json!({
                "memory": {"limit": 64 << 20},
                "pids": {"limit": 0},
                "devices": [{"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"}],
            })
        );
        assert_eq!(
            v["linux"]["devices"],
            json!([{"path": "/dev/mynull", "type": "c", "major": 1, "minor": 3,
                    "fileMode": 0o666, "uid": 0, "gid": 0}])
        );
        let spec: oci_spec::runtime::Spec = serde_json::from_value(v).unwrap();
        let linux = spec.linux().as_ref().unwrap();
        assert_eq!(linux.devices().as_ref().unwrap().len(), 1);
        let r = linux.resources().as_ref().unwrap();
        assert_eq!(r.memory().as_ref().unwrap().limit(), Some(64 << 20));
    }

    #[test]
    fn security_settings() {
        use crate::security::{all_capabilities, SecurityArgs};
        let mut c = sample();
        let v = config(&c);
        assert!(
            v["linux"].get("seccomp").is_none(),
            "Security::default has no filter"
        );
        let opts = vec!["no-new-privileges".to_owned()];
        c.security = Security::from_args(&SecurityArgs {
            security_opt: &opts,
            ..SecurityArgs::default()
        })
        .unwrap();
        let v = config(&c);
        assert_eq!(v["process"]["noNewPrivileges"], true);
        assert_eq!(v["linux"]["seccomp"]["defaultAction"], "SCMP_ACT_ERRNO");
        assert!(v["linux"].get("resources").is_none());

        c.security = Security::from_args(&SecurityArgs {
            privileged: true,
            ..SecurityArgs::default()
        })
        .unwrap();
        let v = config(&c);
        assert!(v["linux"].get("seccomp").is_none());
        assert!(v["linux"].get("maskedPaths").is_none());
        assert!(v["linux"].get("readonlyPaths").is_none());
        assert_eq!(
            v["linux"]["resources"]["devices"],
            json!([{"allow": true, "type": "a", "access": "rwm"}])
        );
        assert_eq!(
            strings(&v["process"]["capabilities"]["bounding"]).len(),
            all_capabilities().len()
        );
        let spec: oci_spec::runtime::Spec = serde_json::from_value(v).unwrap();
        assert!(spec.linux().as_ref().unwrap().seccomp().is_none());
    }

    fn mount_of<'a>(v: &'a Value, destination: &str) -> &'a Value {
        v["mounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["destination"] == destination)
            .unwrap()
    }

    #[test]
    fn rootless_user_namespace_mappings_and_overlay_annotation() {
        let mut c = sample();
        c.user_namespace = Some(IdMapping::with_ranges(
            1000,
            1000,
            Some((100000, 65536)),
            Some((100000, 65536)),
        ));
        c.rootfs_overlay = Some("lowerdir=/l,upperdir=/u,workdir=/w".into());
        let v = config(&c);
        let ns: Vec<&str> = v["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["type"].as_str().unwrap())
            .collect();
        assert_eq!(
            ns,
            ["user", "pid", "network", "ipc", "uts", "mount", "cgroup"]
        );
        let maps = json!([
            {"containerID": 0, "hostID": 1000, "size": 1},
            {"containerID": 1, "hostID": 100000, "size": 65536},
        ]);
        assert_eq!(v["linux"]["uidMappings"], maps);
        assert_eq!(v["linux"]["gidMappings"], maps);
        assert_eq!(
            v["annotations"],
            json!({"org.husk.rootfs.overlay": "lowerdir=/l,upperdir=/u,workdir=/w"})
        );
        // gid 5 is mapped: devpts keeps gid=5; a new network namespace: a new sysfs.
        assert!(strings(&mount_of(&v, "/dev/pts")["options"]).contains(&"gid=5"));
        assert_eq!(mount_of(&v, "/sys")["type"], "sysfs");
        let spec: oci_spec::runtime::Spec = serde_json::from_value(v).unwrap();
        assert_eq!(
            spec.linux()
                .as_ref()
                .unwrap()
                .uid_mappings()
                .as_ref()
                .unwrap()
                .len(),
            2
        );

        // The single mapping with the host's network: no gid=5, /sys bound from the host.
        c.user_namespace = Some(IdMapping::single(1000, 1000));
        c.network = NetworkMode::Host;
        let v = config(&c);
        assert!(!strings(&mount_of(&v, "/dev/pts")["options"]).contains(&"gid=5"));
        let sys = mount_of(&v, "/sys");
        assert_eq!(
            (sys["type"].as_str(), sys["source"].as_str()),
            (Some("bind"), Some("/sys"))
        );
        assert_eq!(
            strings(&sys["options"]),
            ["rbind", "nosuid", "noexec", "nodev", "ro"]
        );
        // Root's config has neither.
        let v = config(&sample());
        assert!(v.get("annotations").is_none() && v["linux"].get("uidMappings").is_none());
    }

    #[test]
    fn write_config_atomically() {
        let tmp = tempfile::tempdir().unwrap();
        let v = config(&sample());
        let path = write_config(tmp.path(), &v).unwrap();
        assert_eq!(path, tmp.path().join("config.json"));
        let back: Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        assert_eq!(back, v);
        assert!(!tmp.path().join(".config.json.tmp").exists());
    }
}
