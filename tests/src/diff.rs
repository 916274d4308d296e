//! Comparing two probe reports (the same bundle under husk-runtime and under runc) field by
//! field, with an allowlist of known, justified differences ([`Known`]), each pointing at its
//! line in docs/known-differences.md.
//!
//! Reports are first [`normalise`]d so run-specific values compare equal: namespace links
//! become `"new"`/`"host"`, mounts are keyed by mount point, pipe and socket inode numbers are
//! dropped. Then both are flattened into `path → value` maps: paths read like the JSON paths of
//! husk's own errors (`caps.bounding`, `mounts."/dev/pts".options`, `stat."/dev/null".mode`),
//! and an array of plain values is one value, so a changed capability list is one line.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::{Map, Value};

use crate::probe;

/// A report with run-specific values replaced (see the module doc).
pub fn normalise(report: &Value) -> Value {
    let mut out = report.clone();
    if let Some(Value::Object(ns)) = out.get_mut("ns") {
        for (name, value) in ns.iter_mut() {
            *value = probe::ns_kind(report, name);
        }
    }
    if let Some(Value::Array(mounts)) = out.get("mounts") {
        let mut keyed = Map::new();
        for m in mounts {
            let point = m["mount_point"].as_str().unwrap_or("?").to_string();
            let mut key = point.clone();
            let mut n = 1;
            while keyed.contains_key(&key) {
                n += 1;
                key = format!("{point} #{n}");
            }
            let mut m = m.clone();
            if let Value::Object(o) = &mut m {
                o.remove("mount_point");
            }
            keyed.insert(key, m);
        }
        out["mounts"] = Value::Object(keyed);
    }
    if let Some(Value::Array(fds)) = out.get_mut("fds") {
        for fd in fds {
            if let Some(t) = fd["target"].as_str() {
                // `pipe:[123456]`: the inode differs between any two runs.
                if let Some((kind, _)) = t.split_once(":[") {
                    fd["target"] = Value::String(format!("{kind}:[]"));
                }
            }
        }
    }
    out
}

/// One path segment as written in a flattened path: bare when it is a plain word, quoted
/// otherwise (`"/dev/pts"`, `"net.ipv4.ip_forward"`).
fn segment(key: &str) -> String {
    if !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        key.to_string()
    } else {
        format!("{key:?}")
    }
}

/// Flattens `value` into `path → leaf` (see the module doc for the path syntax).
pub fn flatten(value: &Value) -> BTreeMap<String, Value> {
    fn walk(prefix: &str, value: &Value, out: &mut BTreeMap<String, Value>) {
        let join = |seg: String| {
            if prefix.is_empty() {
                seg
            } else {
                format!("{prefix}.{seg}")
            }
        };
        match value {
            Value::Object(o) if !o.is_empty() => {
                for (k, v) in o {
                    walk(&join(segment(k)), v, out);
                }
            }
            Value::Array(a) if a.iter().any(|v| v.is_object() || v.is_array()) => {
                for (i, v) in a.iter().enumerate() {
                    walk(&format!("{prefix}[{i}]"), v, out);
                }
            }
            leaf => {
                out.insert(prefix.to_string(), leaf.clone());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk("", value, &mut out);
    out
}

/// A field whose values differ (`None`: the field is absent from that side).
#[derive(Debug, Clone, PartialEq)]
pub struct Difference {
    /// The flattened path (`caps.bounding`).
    pub path: String,
    /// husk-runtime's value.
    pub husk: Option<Value>,
    /// runc's value.
    pub runc: Option<Value>,
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let show = |v: &Option<Value>| v.as_ref().map_or("<absent>".to_string(), Value::to_string);
        write!(
            f,
            "{}: husk {} | runc {}",
            self.path,
            show(&self.husk),
            show(&self.runc)
        )
    }
}

/// Every field whose values differ between two reports, after [`normalise`], in path order.
pub fn differences(husk: &Value, runc: &Value) -> Vec<Difference> {
    let h = flatten(&normalise(husk));
    let r = flatten(&normalise(runc));
    let mut paths: Vec<&String> = h.keys().chain(r.keys()).collect();
    paths.sort();
    paths.dedup();
    paths
        .into_iter()
        .filter(|p| h.get(*p) != r.get(*p))
        .map(|p| Difference {
            path: p.clone(),
            husk: h.get(p).cloned(),
            runc: r.get(p).cloned(),
        })
        .collect()
}

/// The hosts a [`Known`] difference shows on, by cgroup layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hosts {
    /// Every host.
    Any,
    /// Hosts with v1 hierarchies (legacy or hybrid: a tmpfs at /sys/fs/cgroup).
    CgroupV1,
    /// Pure cgroup v2 hosts (cgroup2 at /sys/fs/cgroup).
    CgroupV2,
}

impl Hosts {
    /// Whether this host is one of them (from the test process's /proc/self/mountinfo).
    pub fn here(self) -> bool {
        let v2 = std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap_or_default()
            .lines()
            .any(|l| {
                let f: Vec<&str> = l.split(' ').collect();
                let sep = f.iter().position(|x| *x == "-");
                f.get(4) == Some(&"/sys/fs/cgroup")
                    && sep.and_then(|s| f.get(s + 1)) == Some(&"cgroup2")
            });
        match self {
            Hosts::Any => true,
            Hosts::CgroupV1 => !v2,
            Hosts::CgroupV2 => v2,
        }
    }
}

/// A known, justified difference between husk and runc 1.1.5.
#[derive(Debug, Clone, Copy)]
pub struct Known {
    /// The hosts it shows on.
    pub hosts: Hosts,
    /// The differential bundle it applies to (`*`: every bundle).
    pub bundle: &'static str,
    /// The flattened path; a trailing `*` matches any path with that prefix.
    pub path: &'static str,
    /// Why the difference is right (one line).
    pub reason: &'static str,
    /// Words of the docs/known-differences.md row that documents it (the differential test
    /// checks that the row exists).
    pub doc: &'static str,
}

impl Known {
    /// Whether this entry covers difference `path` of bundle `bundle` on this host.
    pub fn covers(&self, bundle: &str, path: &str) -> bool {
        if !self.hosts.here() {
            return false;
        }
        let bundle_ok = self.bundle == "*" || self.bundle == bundle;
        let path_ok = match self.path.strip_suffix('*') {
            Some(prefix) => path.starts_with(prefix),
            None => self.path == path,
        };
        bundle_ok && path_ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn flatten_names_paths_like_husk_errors() {
        let v = json!({
            "caps": {"bounding": ["CAP_KILL"]},
            "mounts": {"/dev/pts": {"options": ["rw"]}},
            "fds": [{"fd": 0, "target": "/dev/null"}],
            "sysctl": {"net.ipv4.ip_forward": "0"},
            "empty": {},
        });
        let flat = flatten(&v);
        let keys: Vec<&str> = flat.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "caps.bounding",
                "empty",
                "fds[0].fd",
                "fds[0].target",
                "mounts.\"/dev/pts\".options",
                "sysctl.\"net.ipv4.ip_forward\""
            ]
        );
        assert_eq!(flat["caps.bounding"], json!(["CAP_KILL"]));
    }

    #[test]
    fn normalise_keys_mounts_and_drops_inode_numbers() {
        let report = json!({
            "mounts": [
                {"mount_point": "/", "fs_type": "ext4"},
                {"mount_point": "/dev", "fs_type": "tmpfs"},
                {"mount_point": "/dev", "fs_type": "devtmpfs"}
            ],
            "fds": [{"fd": 1, "target": "pipe:[4242]"}, {"fd": 0, "target": "/dev/null"}]
        });
        let n = normalise(&report);
        assert_eq!(n["mounts"]["/dev"]["fs_type"], "tmpfs");
        assert_eq!(n["mounts"]["/dev #2"]["fs_type"], "devtmpfs");
        assert_eq!(n["fds"][0]["target"], "pipe:[]");
        assert_eq!(n["fds"][1]["target"], "/dev/null");
    }

    #[test]
    fn differences_list_changed_and_one_sided_fields() {
        let husk = json!({"umask": 18, "cwd": "/", "only_husk": 1});
        let runc = json!({"umask": 63, "cwd": "/"});
        let d = differences(&husk, &runc);
        assert_eq!(d.len(), 2, "{d:?}");
        assert_eq!(d[0].path, "only_husk");
        assert_eq!(d[0].runc, None);
        assert_eq!(d[1].to_string(), "umask: husk 18 | runc 63");
    }

    #[test]
    fn known_entries_match_by_bundle_and_path_prefix() {
        let k = Known {
            hosts: Hosts::Any,
            bundle: "default",
            path: "read.*",
            reason: "",
            doc: "",
        };
        assert!(k.covers("default", "read.\"/x\""));
        assert!(!k.covers("user", "read.\"/x\""));
        assert!(!k.covers("default", "stat.\"/x\""));
        let exact = Known {
            bundle: "*",
            path: "umask",
            ..k
        };
        assert!(exact.covers("any", "umask"));
        assert!(!exact.covers("any", "umask2"));
    }
}
