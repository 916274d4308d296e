//! The default config.json that `husk-runtime spec [--rootless]` writes: runc's (`runc spec`,
//! runc 1.1.5's `libcontainer/specconv` Example and ToRootless), field for field and in runc's
//! key order, so that `spec` followed by `run` behaves as it does with runc.
//!
//! The one deliberate difference: `ociVersion` is [`OCI_VERSION`] ("1.3.0", the runtime-spec
//! version husk implements) where runc 1.1.5 writes "1.0.2-dev". Everything else, the hostname
//! "runc" included, is identical; the file is even byte-identical apart from the version (tab
//! indentation, no trailing newline, as Go's `json.MarshalIndent(spec, "", "\t")` writes it).

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{json, Value};

use crate::spec::{SpecError, OCI_VERSION};

/// The default config for a bundle: a read-only `rootfs` directory, `sh` on a terminal as root,
/// runc's three capabilities, the RLIMIT_NOFILE 1024 limit, no_new_privs, the standard mounts
/// (proc, dev tmpfs, devpts, shm, mqueue, sysfs, cgroup), new pid, network, ipc, uts and mount
/// namespaces, a deny-all device cgroup rule, and the default masked and read-only paths.
///
/// With `rootless` (runc's `spec --rootless`): no network namespace, a new user namespace
/// mapping container root to the caller's effective uid and gid (one id each), no
/// `linux.resources`, sysfs bind-mounted from the host (a user namespace may not mount a new
/// sysfs without its own network namespace) and devpts without `gid=5` (group 5 is unmapped).
///
/// Source: runc 1.1.5 `runc spec`; runtime-spec v1.3 config.md and config-linux.md.
pub fn default_spec(rootless: bool) -> Value {
    default_spec_for_ids(
        rootless,
        nix::unistd::geteuid().as_raw(),
        nix::unistd::getegid().as_raw(),
    )
}

/// [`default_spec`] with the host uid and gid of the rootless mappings given instead of taken
/// from the calling process (they are used only when `rootless` is true).
pub fn default_spec_for_ids(rootless: bool, host_uid: u32, host_gid: u32) -> Value {
    let mut spec = json!({
        "ociVersion": OCI_VERSION,
        "process": {
            "terminal": true,
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
            {
                "destination": "/dev",
                "type": "tmpfs",
                "source": "tmpfs",
                "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]
            },
            {
                "destination": "/dev/pts",
                "type": "devpts",
                "source": "devpts",
                "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]
            },
            {
                "destination": "/dev/shm",
                "type": "tmpfs",
                "source": "shm",
                "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]
            },
            {
                "destination": "/dev/mqueue",
                "type": "mqueue",
                "source": "mqueue",
                "options": ["nosuid", "noexec", "nodev"]
            },
            {
                "destination": "/sys",
                "type": "sysfs",
                "source": "sysfs",
                "options": ["nosuid", "noexec", "nodev", "ro"]
            },
            {
                "destination": "/sys/fs/cgroup",
                "type": "cgroup",
                "source": "cgroup",
                "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]
            }
        ],
        "linux": {
            "resources": {"devices": [{"allow": false, "access": "rwm"}]},
            "namespaces": [
                {"type": "pid"},
                {"type": "network"},
                {"type": "ipc"},
                {"type": "uts"},
                {"type": "mount"}
            ],
            "maskedPaths": [
                "/proc/acpi",
                "/proc/asound",
                "/proc/kcore",
                "/proc/keys",
                "/proc/latency_stats",
                "/proc/timer_list",
                "/proc/timer_stats",
                "/proc/sched_debug",
                "/sys/firmware",
                "/proc/scsi"
            ],
            "readonlyPaths": [
                "/proc/bus",
                "/proc/fs",
                "/proc/irq",
                "/proc/sys",
                "/proc/sysrq-trigger"
            ]
        }
    });
    if rootless {
        make_rootless(&mut spec, host_uid, host_gid);
    }
    spec
}

/// runc's `specconv.ToRootless` on the default spec. The linux object is rebuilt so its keys
/// come in runc's order (uidMappings, gidMappings, namespaces, maskedPaths, readonlyPaths).
fn make_rootless(spec: &mut Value, host_uid: u32, host_gid: u32) {
    if let Some(mounts) = spec["mounts"].as_array_mut() {
        for mount in mounts {
            match mount["destination"].as_str() {
                // The gid=5 ("tty") group is not mapped in a one-id user namespace.
                Some("/dev/pts") => {
                    if let Some(options) = mount["options"].as_array_mut() {
                        options.retain(|o| o != "gid=5");
                    }
                }
                // Without its own network namespace, a user namespace may not mount sysfs.
                Some("/sys") => {
                    *mount = json!({
                        "destination": "/sys",
                        "type": "none",
                        "source": "/sys",
                        "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]
                    });
                }
                _ => {}
            }
        }
    }
    let linux = &spec["linux"];
    let namespaces: Vec<Value> = linux["namespaces"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|ns| ns["type"] != "network")
        .cloned()
        .chain([json!({"type": "user"})])
        .collect();
    let rootless_linux = json!({
        "uidMappings": [{"containerID": 0, "hostID": host_uid, "size": 1}],
        "gidMappings": [{"containerID": 0, "hostID": host_gid, "size": 1}],
        "namespaces": namespaces,
        "maskedPaths": linux["maskedPaths"].clone(),
        "readonlyPaths": linux["readonlyPaths"].clone()
    });
    spec["linux"] = rootless_linux;
}

/// `spec` as runc formats config.json: Go's `json.MarshalIndent(v, "", "\t")`, keys in the
/// order given, tab indentation, no trailing newline.
fn to_runc_json(spec: &Value) -> Result<Vec<u8>, serde_json::Error> {
    let mut bytes = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"\t");
    let mut serializer = serde_json::Serializer::with_formatter(&mut bytes, formatter);
    spec.serialize(&mut serializer)?;
    Ok(bytes)
}

/// Write [`default_spec`]`(rootless)` to `<bundle>/config.json`, formatted as runc does, and
/// return the file's path. The file is created exclusively (O_EXCL, mode 0666 less the umask,
/// as runc): an existing config.json is never overwritten.
///
/// # Errors
/// [`SpecError::ConfigExists`] when `<bundle>/config.json` exists (runc: "File config.json
/// exists. Remove it first"), [`SpecError::WriteConfig`] when it cannot be created or written
/// (e.g. the bundle directory does not exist); a partly written file is removed.
pub fn write_default(bundle: &Path, rootless: bool) -> Result<PathBuf, SpecError> {
    let path = bundle.join("config.json");
    let write_error = |source: io::Error| SpecError::WriteConfig {
        path: path.clone(),
        source,
    };
    let bytes = to_runc_json(&default_spec(rootless)).map_err(|e| write_error(e.into()))?;
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(|source| {
            if source.kind() == io::ErrorKind::AlreadyExists {
                SpecError::ConfigExists { path: path.clone() }
            } else {
                write_error(source)
            }
        })?;
    if let Err(source) = file.write_all(&bytes).and_then(|()| file.sync_all()) {
        drop(file);
        // Best effort: a half-written config.json would only confuse the next `spec` or `run`.
        let _ = std::fs::remove_file(&path);
        return Err(write_error(source));
    }
    Ok(path)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap: a panic is the failure report
mod tests {
    use super::*;
    use crate::spec::Config;

    /// `runc spec` of runc 1.1.5 (Debian's), run as root, verbatim.
    const RUNC_SPEC: &str = "{\n\t\"ociVersion\": \"1.0.2-dev\",\n\t\"process\": {\n\t\t\"terminal\": true,\n\t\t\"user\": {\n\t\t\t\"uid\": 0,\n\t\t\t\"gid\": 0\n\t\t},\n\t\t\"args\": [\n\t\t\t\"sh\"\n\t\t],\n\t\t\"env\": [\n\t\t\t\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\",\n\t\t\t\"TERM=xterm\"\n\t\t],\n\t\t\"cwd\": \"/\",\n\t\t\"capabilities\": {\n\t\t\t\"bounding\": [\n\t\t\t\t\"CAP_AUDIT_WRITE\",\n\t\t\t\t\"CAP_KILL\",\n\t\t\t\t\"CAP_NET_BIND_SERVICE\"\n\t\t\t],\n\t\t\t\"effective\": [\n\t\t\t\t\"CAP_AUDIT_WRITE\",\n\t\t\t\t\"CAP_KILL\",\n\t\t\t\t\"CAP_NET_BIND_SERVICE\"\n\t\t\t],\n\t\t\t\"permitted\": [\n\t\t\t\t\"CAP_AUDIT_WRITE\",\n\t\t\t\t\"CAP_KILL\",\n\t\t\t\t\"CAP_NET_BIND_SERVICE\"\n\t\t\t],\n\t\t\t\"ambient\": [\n\t\t\t\t\"CAP_AUDIT_WRITE\",\n\t\t\t\t\"CAP_KILL\",\n\t\t\t\t\"CAP_NET_BIND_SERVICE\"\n\t\t\t]\n\t\t},\n\t\t\"rlimits\": [\n\t\t\t{\n\t\t\t\t\"type\": \"RLIMIT_NOFILE\",\n\t\t\t\t\"hard\": 1024,\n\t\t\t\t\"soft\": 1024\n\t\t\t}\n\t\t],\n\t\t\"noNewPrivileges\": true\n\t},\n\t\"root\": {\n\t\t\"path\": \"rootfs\",\n\t\t\"readonly\": true\n\t},\n\t\"hostname\": \"runc\",\n\t\"mounts\": [\n\t\t{\n\t\t\t\"destination\": \"/proc\",\n\t\t\t\"type\": \"proc\",\n\t\t\t\"source\": \"proc\"\n\t\t},\n\t\t{\n\t\t\t\"destination\": \"/dev\",\n\t\t\t\"type\": \"tmpfs\",\n\t\t\t\"source\": \"tmpfs\",\n\t\t\t\"options\": [\n\t\t\t\t\"nosuid\",\n\t\t\t\t\"strictatime\",\n\t\t\t\t\"mode=755\",\n\t\t\t\t\"size=65536k\"\n\t\t\t]\n\t\t},\n\t\t{\n\t\t\t\"destination\": \"/dev/pts\",\n\t\t\t\"type\": \"devpts\",\n\t\t\t\"source\": \"devpts\",\n\t\t\t\"options\": [\n\t\t\t\t\"nosuid\",\n\t\t\t\t\"noexec\",\n\t\t\t\t\"newinstance\",\n\t\t\t\t\"ptmxmode=0666\",\n\t\t\t\t\"mode=0620\",\n\t\t\t\t\"gid=5\"\n\t\t\t]\n\t\t},\n\t\t{\n\t\t\t\"destination\": \"/dev/shm\",\n\t\t\t\"type\": \"tmpfs\",\n\t\t\t\"source\": \"shm\",\n\t\t\t\"options\": [\n\t\t\t\t\"nosuid\",\n\t\t\t\t\"noexec\",\n\t\t\t\t\"nodev\",\n\t\t\t\t\"mode=1777\",\n\t\t\t\t\"size=65536k\"\n\t\t\t]\n\t\t},\n\t\t{\n\t\t\t\"destination\": \"/dev/mqueue\",\n\t\t\t\"type\": \"mqueue\",\n\t\t\t\"source\": \"mqueue\",\n\t\t\t\"options\": [\n\t\t\t\t\"nosuid\",\n\t\t\t\t\"noexec\",\n\t\t\t\t\"nodev\"\n\t\t\t]\n\t\t},\n\t\t{\n\t\t\t\"destination\": \"/sys\",\n\t\t\t\"type\": \"sysfs\",\n\t\t\t\"source\": \"sysfs\",\n\t\t\t\"options\": [\n\t\t\t\t\"nosuid\",\n\t\t\t\t\"noexec\",\n\t\t\t\t\"nodev\",\n\t\t\t\t\"ro\"\n\t\t\t]\n\t\t},\n\t\t{\n\t\t\t\"destination\": \"/sys/fs/cgroup\",\n\t\t\t\"type\": \"cgroup\",\n\t\t\t\"source\": \"cgroup\",\n\t\t\t\"options\": [\n\t\t\t\t\"nosuid\",\n\t\t\t\t\"noexec\",\n\t\t\t\t\"nodev\",\n\t\t\t\t\"relatime\",\n\t\t\t\t\"ro\"\n\t\t\t]\n\t\t}\n\t],\n\t\"linux\": {\n\t\t\"resources\": {\n\t\t\t\"devices\": [\n\t\t\t\t{\n\t\t\t\t\t\"allow\": false,\n\t\t\t\t\t\"access\": \"rwm\"\n\t\t\t\t}\n\t\t\t]\n\t\t},\n\t\t\"namespaces\": [\n\t\t\t{\n\t\t\t\t\"type\": \"pid\"\n\t\t\t},\n\t\t\t{\n\t\t\t\t\"type\": \"network\"\n\t\t\t},\n\t\t\t{\n\t\t\t\t\"type\": \"ipc\"\n\t\t\t},\n\t\t\t{\n\t\t\t\t\"type\": \"uts\"\n\t\t\t},\n\t\t\t{\n\t\t\t\t\"type\": \"mount\"\n\t\t\t}\n\t\t],\n\t\t\"maskedPaths\": [\n\t\t\t\"/proc/acpi\",\n\t\t\t\"/proc/asound\",\n\t\t\t\"/proc/kcore\",\n\t\t\t\"/proc/keys\",\n\t\t\t\"/proc/latency_stats\",\n\t\t\t\"/proc/timer_list\",\n\t\t\t\"/proc/timer_stats\",\n\t\t\t\"/proc/sched_debug\",\n\t\t\t\"/sys/firmware\",\n\t\t\t\"/proc/scsi\"\n\t\t],\n\t\t\"readonlyPaths\": [\n\t\t\t\"/proc/bus\",\n\t\t\t\"/proc/fs\",\n\t\t\t\"/proc/irq\",\n\t\t\t\"/proc/sys\",\n\t\t\t\"/proc/sysrq-trigger\"\n\t\t]\n\t}\n}";

    /// `runc spec --rootless` of runc 1.1.5, run as root (so hostID 0), verbatim.
    const RUNC_SPEC_ROOTLESS: &str = "{\n\t\"ociVersion\": \"1.0.2-dev\",\n\t\"process\": {\n\t\t\"terminal\": true,\n\t\t\"user\": {\n\t\t\t\"uid\": 0,\n\t\t\t\"gid\": 0\n\t\t},\n\t\t\"args\": [\n\t\t\t\"sh\"\n\t\t],\n\t\t\"env\": [\n\t\t\t\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\",\n\t\t\t\"TERM=xterm\"\n\t\t],\n\t\t\"cwd\": \"/\",\n\t\t\"capabilities\": {\n\t\t\t\"bounding\": [\n\t\t\t\t\"CAP_AUDIT_WRITE\",\n\t\t\t\t\"CAP_KILL\",\n\t\t\t\t\"CAP_NET_BIND_SERVICE\"\n\t\t\t],\n\t\t\t\"effective\": [\n\t\t\t\t\"CAP_AUDIT_WRITE\",\n\t\t\t\t\"CAP_KILL\",\n\t\t\t\t\"CAP_NET_BIND_SERVICE\"\n\t\t\t],\n\t\t\t\"permitted\": [\n\t\t\t\t\"CAP_AUDIT_WRITE\",\n\t\t\t\t\"CAP_KILL\",\n\t\t\t\t\"CAP_NET_BIND_SERVICE\"\n\t\t\t],\n\t\t\t\"ambient\": [\n\t\t\t\t\"CAP_AUDIT_WRITE\",\n\t\t\t\t\"CAP_KILL\",\n\t\t\t\t\"CAP_NET_BIND_SERVICE\"\n\t\t\t]\n\t\t},\n\t\t\"rlimits\": [\n\t\t\t{\n\t\t\t\t\"type\": \"RLIMIT_NOFILE\",\n\t\t\t\t\"hard\": 1024,\n\t\t\t\t\"soft\": 1024\n\t\t\t}\n\t\t],\n\t\t\"noNewPrivileges\": true\n\t},\n\t\"root\": {\n\t\t\"path\": \"rootfs\",\n\t\t\"readonly\": true\n\t},\n\t\"hostname\": \"runc\",\n\t\"mounts\": [\n\t\t{\n\t\t\t\"destination\": \"/proc\",\n\t\t\t\"type\": \"proc\",\n\t\t\t\"source\": \"proc\"\n\t\t},\n\t\t{\n\t\t\t\"destination\": \"/dev\",\n\t\t\t\"type\": \"tmpfs\",\n\t\t\t\"source\": \"tmpfs\",\n\t\t\t\"options\": [\n\t\t\t\t\"nosuid\",\n\t\t\t\t\"strictatime\",\n\t\t\t\t\"mode=755\",\n\t\t\t\t\"size=65536k\"\n\t\t\t]\n\t\t},\n\t\t{\n\t\t\t\"destination\": \"/dev/pts\",\n\t\t\t\"type\": \"devpts\",\n\t\t\t\"source\": \"devpts\",\n\t\t\t\"options\": [\n\t\t\t\t\"nosuid\",\n\t\t\t\t\"noexec\",\n\t\t\t\t\"newinstance\",\n\t\t\t\t\"ptmxmode=0666\",\n\t\t\t\t\"mode=0620\"\n\t\t\t]\n\t\t},\n\t\t{\n\t\t\t\"destination\": \"/dev/shm\",\n\t\t\t\"type\": \"tmpfs\",\n\t\t\t\"source\": \"shm\",\n\t\t\t\"options\": [\n\t\t\t\t\"nosuid\",\n\t\t\t\t\"noexec\",\n\t\t\t\t\"nodev\",\n\t\t\t\t\"mode=1777\",\n\t\t\t\t\"size=65536k\"\n\t\t\t]\n\t\t},\n\t\t{\n\t\t\t\"destination\": \"/dev/mqueue\",\n\t\t\t\"type\": \"mqueue\",\n\t\t\t\"source\": \"mqueue\",\n\t\t\t\"options\": [\n\t\t\t\t\"nosuid\",\n\t\t\t\t\"noexec\",\n\t\t\t\t\"nodev\"\n\t\t\t]\n\t\t},\n\t\t{\n\t\t\t\"destination\": \"/sys\",\n\t\t\t\"type\": \"none\",\n\t\t\t\"source\": \"/sys\",\n\t\t\t\"options\": [\n\t\t\t\t\"rbind\",\n\t\t\t\t\"nosuid\",\n\t\t\t\t\"noexec\",\n\t\t\t\t\"nodev\",\n\t\t\t\t\"ro\"\n\t\t\t]\n\t\t},\n\t\t{\n\t\t\t\"destination\": \"/sys/fs/cgroup\",\n\t\t\t\"type\": \"cgroup\",\n\t\t\t\"source\": \"cgroup\",\n\t\t\t\"options\": [\n\t\t\t\t\"nosuid\",\n\t\t\t\t\"noexec\",\n\t\t\t\t\"nodev\",\n\t\t\t\t\"relatime\",\n\t\t\t\t\"ro\"\n\t\t\t]\n\t\t}\n\t],\n\t\"linux\": {\n\t\t\"uidMappings\": [\n\t\t\t{\n\t\t\t\t\"containerID\": 0,\n\t\t\t\t\"hostID\": 0,\n\t\t\t\t\"size\": 1\n\t\t\t}\n\t\t],\n\t\t\"gidMappings\": [\n\t\t\t{\n\t\t\t\t\"containerID\": 0,\n\t\t\t\t\"hostID\": 0,\n\t\t\t\t\"size\": 1\n\t\t\t}\n\t\t],\n\t\t\"namespaces\": [\n\t\t\t{\n\t\t\t\t\"type\": \"pid\"\n\t\t\t},\n\t\t\t{\n\t\t\t\t\"type\": \"ipc\"\n\t\t\t},\n\t\t\t{\n\t\t\t\t\"type\": \"uts\"\n\t\t\t},\n\t\t\t{\n\t\t\t\t\"type\": \"mount\"\n\t\t\t},\n\t\t\t{\n\t\t\t\t\"type\": \"user\"\n\t\t\t}\n\t\t],\n\t\t\"maskedPaths\": [\n\t\t\t\"/proc/acpi\",\n\t\t\t\"/proc/asound\",\n\t\t\t\"/proc/kcore\",\n\t\t\t\"/proc/keys\",\n\t\t\t\"/proc/latency_stats\",\n\t\t\t\"/proc/timer_list\",\n\t\t\t\"/proc/timer_stats\",\n\t\t\t\"/proc/sched_debug\",\n\t\t\t\"/sys/firmware\",\n\t\t\t\"/proc/scsi\"\n\t\t],\n\t\t\"readonlyPaths\": [\n\t\t\t\"/proc/bus\",\n\t\t\t\"/proc/fs\",\n\t\t\t\"/proc/irq\",\n\t\t\t\"/proc/sys\",\n\t\t\t\"/proc/sysrq-trigger\"\n\t\t]\n\t}\n}";

    /// The first JSON path at which `a` and `b` differ (values, or key order of an object).
    fn first_difference(path: &str, a: &Value, b: &Value) -> Option<String> {
        match (a, b) {
            (Value::Object(x), Value::Object(y)) => {
                let (kx, ky): (Vec<_>, Vec<_>) = (x.keys().collect(), y.keys().collect());
                if kx != ky {
                    return Some(format!("{path}: keys {kx:?} != {ky:?}"));
                }
                x.iter()
                    .find_map(|(k, v)| first_difference(&format!("{path}.{k}"), v, &y[k]))
            }
            (Value::Array(x), Value::Array(y)) => {
                if x.len() != y.len() {
                    return Some(format!("{path}: {} items != {}", x.len(), y.len()));
                }
                x.iter()
                    .zip(y)
                    .enumerate()
                    .find_map(|(i, (v, w))| first_difference(&format!("{path}[{i}]"), v, w))
            }
            _ if a != b => Some(format!("{path}: {a} != {b}")),
            _ => None,
        }
    }

    /// runc's output with the one documented difference applied.
    fn runc_expectation(runc: &str) -> Value {
        let mut expected: Value = serde_json::from_str(runc).unwrap();
        assert_eq!(expected["ociVersion"], "1.0.2-dev");
        expected["ociVersion"] = json!(OCI_VERSION);
        expected
    }

    #[test]
    fn default_matches_runc_spec_field_by_field() {
        let ours = default_spec_for_ids(false, 1234, 5678);
        let expected = runc_expectation(RUNC_SPEC);
        assert_eq!(first_difference("", &ours, &expected), None);
        assert_eq!(ours, expected);
    }

    #[test]
    fn default_file_is_byte_identical_to_runc_except_the_version() {
        let ours = String::from_utf8(to_runc_json(&default_spec(false)).unwrap()).unwrap();
        let expected = RUNC_SPEC.replace("\"1.0.2-dev\"", &format!("\"{OCI_VERSION}\""));
        assert_eq!(ours, expected);
    }

    #[test]
    fn rootless_matches_runc_spec_rootless_field_by_field() {
        let expected = runc_expectation(RUNC_SPEC_ROOTLESS);
        let ours = default_spec_for_ids(true, 0, 0);
        assert_eq!(first_difference("", &ours, &expected), None);
        let bytes = String::from_utf8(to_runc_json(&ours).unwrap()).unwrap();
        let version = format!("\"{OCI_VERSION}\"");
        assert_eq!(bytes, RUNC_SPEC_ROOTLESS.replace("\"1.0.2-dev\"", &version));
    }

    #[test]
    fn rootless_maps_root_to_the_given_ids() {
        let ours = default_spec_for_ids(true, 1000, 1001);
        assert_eq!(
            ours["linux"]["uidMappings"],
            json!([{"containerID": 0, "hostID": 1000, "size": 1}])
        );
        assert_eq!(
            ours["linux"]["gidMappings"],
            json!([{"containerID": 0, "hostID": 1001, "size": 1}])
        );
        assert!(ours["linux"].get("resources").is_none());
        let euid = nix::unistd::geteuid().as_raw();
        assert_eq!(
            default_spec(true)["linux"]["uidMappings"][0]["hostID"],
            json!(euid)
        );
    }

    #[test]
    fn written_default_loads_and_validates_without_warnings() {
        for rootless in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            std::fs::create_dir(dir.path().join("rootfs")).unwrap();
            let path = write_default(dir.path(), rootless).unwrap();
            assert_eq!(path, dir.path().join("config.json"));
            let (config, bytes) = Config::load(dir.path()).unwrap();
            assert!(config.warnings.is_empty(), "{:?}", config.warnings);
            assert_eq!(bytes, to_runc_json(&default_spec(rootless)).unwrap());
            assert!(bytes.starts_with(b"{\n\t\"ociVersion\": \"1.3.0\""));
            let caps = config.capabilities.unwrap();
            assert_eq!(caps.inheritable, None);
            assert_eq!(caps.bounding.unwrap().len(), 3);
        }
    }

    #[test]
    fn write_refuses_an_existing_config_and_keeps_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        std::fs::write(&path, b"mine").unwrap();
        let err = write_default(dir.path(), false).unwrap_err();
        assert!(matches!(err, SpecError::ConfigExists { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(
            msg.contains(&path.display().to_string()) && msg.contains("remove it first"),
            "{msg}"
        );
        assert_eq!(std::fs::read(&path).unwrap(), b"mine");
    }

    #[test]
    fn write_into_a_missing_bundle_names_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let bundle = dir.path().join("absent");
        let err = write_default(&bundle, false).unwrap_err();
        assert!(matches!(err, SpecError::WriteConfig { .. }), "{err:?}");
        assert!(err
            .to_string()
            .contains(&bundle.join("config.json").display().to_string()));
    }
}
