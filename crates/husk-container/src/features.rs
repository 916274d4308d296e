//! The runtime-spec "features document" (`husk-runtime features`, runtime-spec v1.3
//! `features.md` and `features-linux.md`): what this build of husk implements, each list taken
//! from the code that implements it rather than copied by hand.
//!
//! Where each part comes from:
//! - `ociVersionMin`/`ociVersionMax`: [`crate::spec`] accepts every 1.x config; 1.0.0 is the
//!   first release, [`OCI_VERSION`] the newest version implemented.
//! - `hooks`: [`HookKind::ALL`]. `mountOptions`: [`options::known_options`], the options
//!   [`options::parse`] gives a meaning to (anything else is filesystem data).
//! - `linux.namespaces`: every namespace type of the config schema ([`namespaces::flag`] maps
//!   each to its clone flag). `linux.capabilities`: every name husk parses (the `caps` crate's
//!   list), in kernel order as runc prints them.
//! - `linux.seccomp`: each action, operator, architecture and flag is tried through
//!   [`seccomp::compile`], so the lists are what husk and this host's libseccomp accept:
//!   `supportedFlags` are the flags this host's kernel knows (libseccomp asks it; for
//!   SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV, Linux 6.0+, husk asks seccomp(2) itself);
//!   SCMP_ACT_NOTIFY is listed (it needs `listenerPath`);
//!   an architecture this host's libseccomp does not know is left out of `archs`.
//! - `linux.cgroup`: the cgroupfs driver on v1 and v2 ([`husk_cgroups`]); no systemd driver;
//!   `rdma` is whether [`husk_cgroups::Cgroup::check`] accepts an rdma limit (the host may
//!   still lack the controller: that is refused at create).
//! - `linux.memoryPolicy`: every mode and flag of the config schema ([`crate::kernel`] maps each
//!   to set_mempolicy(2)'s values). `linux.netDevices`: [`crate::netdev`].
//!   `linux.intelRdt`: refused by [`crate::kernel`], so false.
//! - Decided on the running host, because a config that uses them works only where the host has
//!   them (husk refuses an AppArmor profile or SELinux label the host cannot apply):
//!   `linux.apparmor` and `linux.selinux` ([`lsm::apparmor_enabled`], [`lsm::selinux_enabled`]),
//!   `linux.mountExtensions.idmap` (the kernel has mount_setattr(2),
//!   [`husk_sys::mount::has_mount_setattr`]) and `linux.seccomp.supportedFlags` (as runc).
//!   The spec asks for the runtime's implementation status "irrespective of the host"; see
//!   docs/known-differences.md.
//! - `annotations`: libseccomp's version under the key runc and crun use for it, and husk's own
//!   version under `org.husk.version`. `potentiallyUnsafeConfigAnnotations`: husk's one annotation
//!   with a meaning, `org.husk.rootfs.overlay` (it mounts host directories, see
//!   [`crate::rootfs::overlay`]).
//!
//! Every property gets a value, none is left out or `null` (the spec's "unknown"): husk knows
//! each answer.

use std::collections::HashMap;

use husk_cgroups::Cgroup as CgroupManager;
use libseccomp::error::SeccompErrno;
use oci_spec::runtime::{
    Apparmor, Arch, Cgroup, Features, IDMap, IntelRdt, LinuxFeature, LinuxNamespaceType,
    LinuxResources, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompArgBuilder,
    LinuxSeccompFilterFlag, LinuxSeccompOperator, LinuxSyscall, MemoryPolicy, MemoryPolicyFlagType,
    MemoryPolicyModeType, MountExtensions, NetDevices, Seccomp, Selinux,
};

use crate::hooks::HookKind;
use crate::rootfs::options;
use crate::seccomp::{self, SeccompError};
use crate::{lsm, namespaces, OCI_VERSION};

/// The oldest `ociVersion` husk accepts: runtime-spec 1.0.0 (any 1.x is accepted, see
/// [`crate::spec`]).
pub const OCI_VERSION_MIN: &str = "1.0.0";

/// The annotation runc and crun put libseccomp's version under.
pub const ANNOTATION_LIBSECCOMP_VERSION: &str = "io.github.seccomp.libseccomp.version";

/// The annotation with husk's version.
pub const ANNOTATION_VERSION: &str = "org.husk.version";

/// Why the features document could not be written.
#[derive(Debug, thiserror::Error)]
pub enum FeaturesError {
    /// Serialising the document failed (serde_json; not expected for these types).
    #[error("writing the features document as JSON failed: {0}")]
    Json(#[from] serde_json::Error),
}

/// Every variant of one of oci-spec's enums, as an array. The closure matches without a
/// wildcard, so when oci-spec gains a variant this stops compiling here and the list cannot fall
/// behind the config schema.
macro_rules! every_variant {
    ($ty:ident: $($v:ident),+ $(,)?) => {{
        let _exhaustive = |x: $ty| match x {
            $($ty::$v)|+ => (),
        };
        [$($ty::$v),+]
    }};
}

/// The features document of this husk build on this host (runtime-spec v1.3 `features.md`).
///
/// Cheap (a few milliseconds): besides reading two sysfs files and making one probing system
/// call, it compiles (never loads) a few dozen one-rule seccomp filters.
pub fn features() -> Features {
    let mut f = Features::default();
    f.set_oci_version_min(OCI_VERSION_MIN.to_string());
    f.set_oci_version_max(OCI_VERSION.to_string());
    f.set_hooks(Some(
        HookKind::ALL
            .iter()
            .map(|k| k.field_name().to_string())
            .collect(),
    ));
    f.set_mount_options(Some(
        options::known_options()
            .into_iter()
            .map(str::to_string)
            .collect(),
    ));
    f.set_linux(Some(linux()));
    f.set_annotations(Some(annotations()));
    // The overlay annotation mounts host directories chosen by whoever writes config.json:
    // an orchestrator passing annotations through from users must not pass this one.
    f.set_potentially_unsafe_config_annotations(Some(vec![
        crate::rootfs::overlay::ANNOTATION.to_string()
    ]));
    f
}

/// `features` as runc prints it: JSON indented by four spaces, annotations sorted by key (the
/// type holds them in a `HashMap`), a final newline.
///
/// # Errors
/// [`FeaturesError::Json`] if serialisation fails.
pub fn to_json(features: &Features) -> Result<String, FeaturesError> {
    use serde::Serialize;

    let mut value = serde_json::to_value(features)?;
    if let Some(serde_json::Value::Object(map)) = value.get_mut("annotations") {
        let mut sorted: Vec<_> = std::mem::take(map).into_iter().collect();
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        map.extend(sorted);
    }
    let mut out = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    value.serialize(&mut serde_json::Serializer::with_formatter(&mut out, fmt))?;
    out.push(b'\n');
    // serde_json writes UTF-8 only.
    Ok(String::from_utf8_lossy(&out).into_owned())
}

fn linux() -> LinuxFeature {
    let mut l = LinuxFeature::default();
    l.set_namespaces(Some(namespace_types()));
    l.set_capabilities(Some(capabilities()));
    l.set_cgroup(Some(cgroup()));
    l.set_seccomp(Some(seccomp_features()));

    let mut apparmor = Apparmor::default();
    apparmor.set_enabled(Some(lsm::apparmor_enabled()));
    l.set_apparmor(Some(apparmor));
    let mut selinux = Selinux::default();
    selinux.set_enabled(Some(lsm::selinux_enabled()));
    l.set_selinux(Some(selinux));

    // kernel.rs refuses linux.intelRdt (resctrl groups are not implemented), so neither its
    // schemata nor its enableMonitoring field is either.
    let mut rdt = IntelRdt::default();
    rdt.set_enabled(Some(false));
    rdt.set_schemata(Some(false));
    rdt.set_monitoring(Some(false));
    l.set_intel_rdt(Some(rdt));

    let mut mpol = MemoryPolicy::default();
    mpol.set_modes(Some(memory_policy_modes()));
    mpol.set_flags(Some(memory_policy_flags()));
    l.set_memory_policy(Some(mpol));

    let mut idmap = IDMap::default();
    idmap.set_enabled(Some(husk_sys::mount::has_mount_setattr()));
    let mut ext = MountExtensions::default();
    ext.set_idmap(Some(idmap));
    l.set_mount_extensions(Some(ext));

    let mut netdev = NetDevices::default();
    netdev.set_enabled(Some(true));
    l.set_net_devices(Some(netdev));
    l
}

/// Every namespace type, sorted by its config name as runc sorts them.
fn namespace_types() -> Vec<LinuxNamespaceType> {
    let mut v =
        every_variant!(LinuxNamespaceType: Mount, Cgroup, Uts, Ipc, User, Pid, Network, Time)
            .to_vec();
    v.sort_by_key(|t| namespaces::name(*t));
    v
}

/// Every capability name husk parses (`process.capabilities`), in the kernel's order (runc's).
fn capabilities() -> Vec<String> {
    let mut all: Vec<caps::Capability> = caps::all().into_iter().collect();
    all.sort_by_key(|c| c.index());
    all.iter().map(|c| c.to_string()).collect()
}

fn cgroup() -> Cgroup {
    let mut c = Cgroup::default();
    // The cgroupfs manager works on v1, hybrid and v2 hosts; the systemd driver
    // (`--systemd-cgroup`, the `slice:prefix:name` cgroupsPath) is refused.
    c.set_v1(Some(true));
    c.set_v2(Some(true));
    c.set_systemd(Some(false));
    c.set_systemd_user(Some(false));
    c.set_rdma(Some(rdma_supported()));
    c
}

/// Whether husk-cgroups accepts an `linux.resources.rdma` limit.
fn rdma_supported() -> bool {
    let resources: Result<LinuxResources, _> = serde_json::from_value(serde_json::json!({
        "rdma": {"mlx5_1": {"hcaHandles": 1}}
    }));
    resources.is_ok_and(|r| CgroupManager::check(&r, None).is_ok())
}

fn seccomp_features() -> Seccomp {
    let mut s = Seccomp::default();
    s.set_enabled(Some(true));

    let actions = every_variant!(LinuxSeccompAction:
        ScmpActAllow, ScmpActErrno, ScmpActKill, ScmpActKillProcess, ScmpActKillThread,
        ScmpActLog, ScmpActNotify, ScmpActTrace, ScmpActTrap);
    s.set_actions(Some(
        actions
            .into_iter()
            .filter(|a| !refused_by_husk(&compile_rule(*a, None)))
            .collect(),
    ));

    let operators = every_variant!(LinuxSeccompOperator:
        ScmpCmpEq, ScmpCmpGe, ScmpCmpGt, ScmpCmpLe, ScmpCmpLt, ScmpCmpMaskedEq, ScmpCmpNe);
    s.set_operators(Some(
        operators
            .into_iter()
            .filter(|op| {
                // Building an argument with every field given cannot fail.
                LinuxSeccompArgBuilder::default()
                    .index(0usize)
                    .value(0u64)
                    .op(*op)
                    .build()
                    .is_ok_and(|arg| {
                        !refused_by_husk(&compile_rule(LinuxSeccompAction::ScmpActErrno, Some(arg)))
                    })
            })
            .map(|op| op.to_string())
            .collect(),
    ));

    // SCMP_ARCH_NATIVE is no architecture of the config schema; the others are kept when this
    // host's libseccomp knows them: it adds them to a filter, or refuses with EDOM because a
    // filter cannot mix byte orders (s390x on an x86_64 host). An unknown one is EINVAL.
    let archs = every_variant!(Arch:
        ScmpArchNative, ScmpArchX86, ScmpArchX86_64, ScmpArchX32, ScmpArchArm, ScmpArchAarch64,
        ScmpArchMips, ScmpArchMips64, ScmpArchMips64n32, ScmpArchMipsel, ScmpArchMipsel64,
        ScmpArchMipsel64n32, ScmpArchPpc, ScmpArchPpc64, ScmpArchPpc64le, ScmpArchS390,
        ScmpArchS390x, ScmpArchParisc, ScmpArchParisc64, ScmpArchRiscv64, ScmpArchLoongarch64,
        ScmpArchM68k, ScmpArchSh, ScmpArchSheb);
    let mut archs: Vec<Arch> = archs
        .into_iter()
        .filter(|a| *a != Arch::ScmpArchNative)
        .filter(|a| {
            let mut p = allow_all();
            p.set_architectures(Some(vec![*a]));
            match seccomp::compile(&p) {
                Ok(_) => true,
                Err(SeccompError::Architecture { source, .. }) => {
                    source.errno() == Some(SeccompErrno::EDOM)
                }
                Err(_) => false,
            }
        })
        .collect();
    archs.sort_by_key(|a| serde_json::to_string(a).unwrap_or_default());
    s.set_archs(Some(archs));

    // Known: every flag of the schema, each recognised by seccomp::compile (a flag husk cannot
    // set yet gets an error naming it). Supported: those a filter can carry here; libseccomp
    // asks the kernel whether it knows each (seccomp_attr_set(3)), as runc's list does.
    let flags = every_variant!(LinuxSeccompFilterFlag:
        SeccompFilterFlagTsync, SeccompFilterFlagSpecAllow, SeccompFilterFlagLog,
        SeccompFilterFlagWaitKillableRecv);
    s.set_known_flags(Some(flags.iter().map(|f| f.to_string()).collect()));
    s.set_supported_flags(Some(
        flags
            .iter()
            .filter(|f| seccomp::compile(&with_flag(**f)).is_ok())
            .map(|f| f.to_string())
            .collect(),
    ));
    s
}

/// A profile with `flag` and an SCMP_ACT_NOTIFY rule (SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
/// needs one).
fn with_flag(flag: LinuxSeccompFilterFlag) -> LinuxSeccomp {
    let mut p = allow_all();
    p.set_flags(Some(vec![flag]));
    let mut rule = LinuxSyscall::default();
    rule.set_names(vec!["getcwd".to_string()]);
    rule.set_action(LinuxSeccompAction::ScmpActNotify);
    p.set_syscalls(Some(vec![rule]));
    p.set_listener_path(Some("/run/husk-features-agent.sock".into()));
    p
}

/// A profile that allows everything.
fn allow_all() -> LinuxSeccomp {
    let mut p = LinuxSeccomp::default();
    p.set_default_action(LinuxSeccompAction::ScmpActAllow);
    p
}

/// Compiles a profile with one rule for getcwd(2) with `action` (and `arg`), the default
/// action being another one (libseccomp refuses a rule that repeats the default), with a
/// `listenerPath` (SCMP_ACT_NOTIFY needs one).
fn compile_rule(
    action: LinuxSeccompAction,
    arg: Option<LinuxSeccompArg>,
) -> Result<(), SeccompError> {
    let mut p = LinuxSeccomp::default();
    p.set_default_action(if action == LinuxSeccompAction::ScmpActAllow {
        LinuxSeccompAction::ScmpActErrno
    } else {
        LinuxSeccompAction::ScmpActAllow
    });
    let mut rule = LinuxSyscall::default();
    rule.set_names(vec!["getcwd".to_string()]);
    rule.set_action(action);
    rule.set_args(arg.map(|a| vec![a]));
    p.set_syscalls(Some(vec![rule]));
    // SCMP_ACT_NOTIFY needs an agent; compile never connects to it.
    p.set_listener_path(Some("/run/husk-features-agent.sock".into()));
    seccomp::compile(&p).map(drop)
}

/// Whether a compile result is husk's refusal of a feature it does not implement yet, as
/// opposed to success or a refusal by this host's libseccomp or kernel (the name is still
/// recognised then).
fn refused_by_husk(r: &Result<(), SeccompError>) -> bool {
    matches!(r, Err(SeccompError::FlagUnsupported { .. }))
}

/// Every `linux.memoryPolicy.mode`, in the schema's order.
fn memory_policy_modes() -> Vec<String> {
    every_variant!(MemoryPolicyModeType:
        MpolDefault, MpolBind, MpolInterleave, MpolWeightedInterleave, MpolPreferred,
        MpolPreferredMany, MpolLocal)
    .iter()
    .map(|m| m.to_string())
    .collect()
}

/// Every `linux.memoryPolicy.flags` entry, in the schema's order.
fn memory_policy_flags() -> Vec<String> {
    every_variant!(MemoryPolicyFlagType: MpolFNumaBalancing, MpolFRelativeNodes, MpolFStaticNodes)
        .iter()
        .map(|f| f.to_string())
        .collect()
}

fn annotations() -> HashMap<String, String> {
    let mut a = HashMap::new();
    a.insert(
        ANNOTATION_VERSION.to_string(),
        env!("CARGO_PKG_VERSION").to_string(),
    );
    if let Ok(v) = libseccomp::ScmpVersion::current() {
        a.insert(ANNOTATION_LIBSECCOMP_VERSION.to_string(), v.to_string());
    }
    a
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;
    use crate::spec::Config;
    use serde_json::{json, Value};

    /// The document as clients read it: the JSON `husk-runtime features` prints.
    fn doc() -> Value {
        serde_json::from_str(&to_json(&features()).unwrap()).unwrap()
    }

    fn strings(v: &Value) -> Vec<&str> {
        v.as_array()
            .unwrap_or_else(|| panic!("not an array: {v}"))
            .iter()
            .map(|s| s.as_str().unwrap())
            .collect()
    }

    /// A minimal config with `extra` merged in at the top level.
    fn config(extra: Value) -> Config {
        let mut base = json!({
            "ociVersion": OCI_VERSION,
            "root": {"path": "rootfs"},
            "process": {"user": {"uid": 0, "gid": 0}, "cwd": "/", "args": ["sh"]},
            "linux": {"namespaces": [{"type": "mount"}]}
        });
        for (k, v) in extra.as_object().unwrap() {
            base[k] = v.clone();
        }
        Config::from_json(&serde_json::to_vec(&base).unwrap()).unwrap()
    }

    fn find_null(v: &Value, path: &str) -> Option<String> {
        match v {
            Value::Null => Some(path.to_string()),
            Value::Object(m) => m
                .iter()
                .find_map(|(k, v)| find_null(v, &format!("{path}.{k}"))),
            Value::Array(a) => a
                .iter()
                .enumerate()
                .find_map(|(i, v)| find_null(v, &format!("{path}[{i}]"))),
            _ => None,
        }
    }

    #[test]
    fn every_property_of_the_v1_3_schema_is_present_and_none_is_null() {
        let d = doc();
        assert_eq!(find_null(&d, ""), None);
        let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
        assert_eq!(
            keys(&d),
            [
                "ociVersionMin",
                "ociVersionMax",
                "hooks",
                "mountOptions",
                "linux",
                "annotations",
                "potentiallyUnsafeConfigAnnotations"
            ]
        );
        assert_eq!(
            keys(&d["linux"]),
            [
                "namespaces",
                "capabilities",
                "cgroup",
                "seccomp",
                "apparmor",
                "selinux",
                "intelRdt",
                "memoryPolicy",
                "mountExtensions",
                "netDevices"
            ]
        );
        // The printed text reads back into oci-spec's type unchanged.
        let back: Features = serde_json::from_value(d).unwrap();
        assert_eq!(back, features());
    }

    #[test]
    fn printed_like_runc_four_spaces_sorted_annotations_final_newline() {
        let text = to_json(&features()).unwrap();
        assert!(
            text.starts_with("{\n    \"ociVersionMin\": \"1.0.0\",\n"),
            "{text}"
        );
        assert!(text.ends_with("}\n"));
        let d = doc();
        let keys: Vec<&String> = d["annotations"].as_object().unwrap().keys().collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
        assert_eq!(
            d["annotations"][ANNOTATION_VERSION],
            env!("CARGO_PKG_VERSION")
        );
        let libseccomp = d["annotations"][ANNOTATION_LIBSECCOMP_VERSION]
            .as_str()
            .unwrap();
        assert_eq!(
            libseccomp,
            libseccomp::ScmpVersion::current().unwrap().to_string()
        );
        assert_eq!(libseccomp.split('.').count(), 3, "{libseccomp}");
        assert_eq!(
            d["potentiallyUnsafeConfigAnnotations"],
            json!(["org.husk.rootfs.overlay"])
        );
    }

    #[test]
    fn the_version_range_is_what_config_checks_accept() {
        let d = doc();
        assert_eq!(d["ociVersionMin"], "1.0.0");
        assert_eq!(d["ociVersionMax"], "1.3.0");
        for key in ["ociVersionMin", "ociVersionMax"] {
            let version = d[key].as_str().unwrap();
            let config = json!({
                "ociVersion": version,
                "root": {"path": "rootfs"},
                "process": {"user": {"uid": 0, "gid": 0}, "cwd": "/", "args": ["sh"]},
                "linux": {"namespaces": [{"type": "mount"}]}
            });
            let c = Config::from_snapshot(&serde_json::to_vec(&config).unwrap())
                .unwrap_or_else(|e| panic!("{key} {version} refused: {e}"));
            assert_eq!(c.warnings, Vec::<String>::new(), "{key} {version}");
        }
    }

    #[test]
    fn hooks_are_the_six_kinds_husk_runs() {
        let d = doc();
        let hooks = strings(&d["hooks"]);
        assert_eq!(
            hooks,
            [
                "prestart",
                "createRuntime",
                "createContainer",
                "startContainer",
                "poststart",
                "poststop"
            ]
        );
        // Each is a field of the config's `hooks` object (no unknown field).
        let hook = json!([{"path": "/bin/true"}]);
        let all: serde_json::Map<String, Value> = hooks
            .iter()
            .map(|h| (h.to_string(), hook.clone()))
            .collect();
        let c = config(json!({ "hooks": all }));
        assert!(c.unknown_fields.is_empty(), "{:?}", c.unknown_fields);
        let h = c.spec.hooks().as_ref().unwrap();
        assert!(h.prestart().is_some() && h.create_runtime().is_some());
        assert!(h.create_container().is_some() && h.start_container().is_some());
        assert!(h.poststart().is_some() && h.poststop().is_some());
    }

    #[test]
    fn mount_options_are_exactly_the_ones_parse_gives_a_meaning_to() {
        let d = doc();
        let listed = strings(&d["mountOptions"]);
        let mut sorted = listed.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(listed, sorted, "sorted, no duplicates");
        // Candidates: every listed option, its `r` form, and the spec's example list (which has
        // options husk passes on as filesystem data: acl, iversion...).
        let spec_example = [
            "acl",
            "async",
            "atime",
            "bind",
            "defaults",
            "dev",
            "diratime",
            "dirsync",
            "exec",
            "iversion",
            "lazytime",
            "loud",
            "mand",
            "noacl",
            "noatime",
            "nodev",
            "nodiratime",
            "noexec",
            "noiversion",
            "nolazytime",
            "nomand",
            "norelatime",
            "nostrictatime",
            "nosuid",
            "nosymfollow",
            "private",
            "ratime",
            "rbind",
            "rdev",
            "rdiratime",
            "relatime",
            "remount",
            "rexec",
            "rnoatime",
            "rnodev",
            "rnodiratime",
            "rnoexec",
            "rnorelatime",
            "rnostrictatime",
            "rnosuid",
            "rnosymfollow",
            "ro",
            "rprivate",
            "rrelatime",
            "rro",
            "rrw",
            "rshared",
            "rslave",
            "rstrictatime",
            "rsuid",
            "rsymfollow",
            "runbindable",
            "rw",
            "shared",
            "silent",
            "slave",
            "strictatime",
            "suid",
            "symfollow",
            "sync",
            "tmpcopyup",
            "unbindable",
        ];
        let mut candidates: Vec<String> = spec_example.iter().map(|s| s.to_string()).collect();
        for o in &listed {
            candidates.push(o.to_string());
            candidates.push(format!("r{o}"));
        }
        for c in &candidates {
            let as_data = !options::parse(std::slice::from_ref(c)).data.is_empty();
            assert_eq!(
                listed.contains(&c.as_str()),
                !as_data,
                "{c}: listed and passed on as filesystem data, or given a meaning and not listed"
            );
        }
        for o in [
            "rro",
            "nosymfollow",
            "rnosymfollow",
            "idmap",
            "ridmap",
            "rbind",
            "rslave",
            "tmpcopyup",
        ] {
            assert!(listed.contains(&o), "{o} missing");
        }
        for o in ["acl", "noacl", "iversion", "mode=755"] {
            assert!(!listed.contains(&o), "{o} listed");
        }
    }

    #[test]
    fn all_eight_namespaces() {
        let d = doc();
        let names = strings(&d["linux"]["namespaces"]);
        assert_eq!(
            names,
            ["cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"]
        );
        let flags: std::collections::BTreeSet<i32> = namespace_types()
            .into_iter()
            .map(|t| namespaces::flag(t).bits())
            .collect();
        assert_eq!(flags.len(), 8, "one clone flag each");
    }

    #[test]
    fn capabilities_in_kernel_order_each_parsed_by_husk() {
        let d = doc();
        let caps = strings(&d["linux"]["capabilities"]);
        assert_eq!(
            caps,
            [
                "CAP_CHOWN",
                "CAP_DAC_OVERRIDE",
                "CAP_DAC_READ_SEARCH",
                "CAP_FOWNER",
                "CAP_FSETID",
                "CAP_KILL",
                "CAP_SETGID",
                "CAP_SETUID",
                "CAP_SETPCAP",
                "CAP_LINUX_IMMUTABLE",
                "CAP_NET_BIND_SERVICE",
                "CAP_NET_BROADCAST",
                "CAP_NET_ADMIN",
                "CAP_NET_RAW",
                "CAP_IPC_LOCK",
                "CAP_IPC_OWNER",
                "CAP_SYS_MODULE",
                "CAP_SYS_RAWIO",
                "CAP_SYS_CHROOT",
                "CAP_SYS_PTRACE",
                "CAP_SYS_PACCT",
                "CAP_SYS_ADMIN",
                "CAP_SYS_BOOT",
                "CAP_SYS_NICE",
                "CAP_SYS_RESOURCE",
                "CAP_SYS_TIME",
                "CAP_SYS_TTY_CONFIG",
                "CAP_MKNOD",
                "CAP_LEASE",
                "CAP_AUDIT_WRITE",
                "CAP_AUDIT_CONTROL",
                "CAP_SETFCAP",
                "CAP_MAC_OVERRIDE",
                "CAP_MAC_ADMIN",
                "CAP_SYSLOG",
                "CAP_WAKE_ALARM",
                "CAP_BLOCK_SUSPEND",
                "CAP_AUDIT_READ",
                "CAP_PERFMON",
                "CAP_BPF",
                "CAP_CHECKPOINT_RESTORE"
            ]
        );
        // A config naming every one of them gets no "unknown capability" warning (and one
        // more, unknown name gets one, so the check would see it).
        let warnings = |names: Vec<&str>| {
            let v = json!({
                "ociVersion": OCI_VERSION,
                "root": {"path": "rootfs"},
                "process": {"user": {"uid": 0, "gid": 0}, "cwd": "/", "args": ["sh"],
                            "capabilities": {"bounding": names}},
                "linux": {"namespaces": [{"type": "mount"}]}
            });
            Config::from_snapshot(&serde_json::to_vec(&v).unwrap())
                .unwrap()
                .warnings
        };
        assert_eq!(warnings(caps.clone()), Vec::<String>::new());
        let mut more = caps.clone();
        more.push("CAP_NOT_A_CAPABILITY");
        let w = warnings(more);
        assert!(
            w.len() == 1 && w[0].contains("CAP_NOT_A_CAPABILITY"),
            "{w:?}"
        );
    }

    #[test]
    fn seccomp_lists_what_compile_accepts() {
        let d = doc();
        let s = &d["linux"]["seccomp"];
        assert_eq!(s["enabled"], true);
        assert_eq!(
            strings(&s["actions"]),
            [
                "SCMP_ACT_ALLOW",
                "SCMP_ACT_ERRNO",
                "SCMP_ACT_KILL",
                "SCMP_ACT_KILL_PROCESS",
                "SCMP_ACT_KILL_THREAD",
                "SCMP_ACT_LOG",
                "SCMP_ACT_NOTIFY",
                "SCMP_ACT_TRACE",
                "SCMP_ACT_TRAP"
            ]
        );
        assert_eq!(
            strings(&s["operators"]),
            [
                "SCMP_CMP_EQ",
                "SCMP_CMP_GE",
                "SCMP_CMP_GT",
                "SCMP_CMP_LE",
                "SCMP_CMP_LT",
                "SCMP_CMP_MASKED_EQ",
                "SCMP_CMP_NE"
            ]
        );
        let archs = strings(&s["archs"]);
        for a in [
            "SCMP_ARCH_X86_64",
            "SCMP_ARCH_X86",
            "SCMP_ARCH_X32",
            "SCMP_ARCH_AARCH64",
        ] {
            assert!(archs.contains(&a), "{a} missing: {archs:?}");
        }
        assert!(!archs.contains(&"SCMP_ARCH_NATIVE"));
        let mut sorted = archs.clone();
        sorted.sort();
        assert_eq!(archs, sorted);
        // Every listed architecture is one the config's `architectures` reads.
        for a in &archs {
            let _: Arch = serde_json::from_value(json!(a)).unwrap();
        }
        assert_eq!(
            strings(&s["knownFlags"]),
            [
                "SECCOMP_FILTER_FLAG_TSYNC",
                "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
                "SECCOMP_FILTER_FLAG_LOG",
                "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"
            ]
        );
        let supported = strings(&s["supportedFlags"]);
        // Linux 4.14+ and libseccomp 2.4+ (the README's minimum is far above both).
        assert!(
            supported.contains(&"SECCOMP_FILTER_FLAG_LOG"),
            "{supported:?}"
        );
        assert!(
            supported.contains(&"SECCOMP_FILTER_FLAG_TSYNC"),
            "{supported:?}"
        );
        // Linux 6.0+.
        assert_eq!(
            supported.contains(&"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"),
            husk_sys::seccomp::flags_supported(
                libc::SECCOMP_FILTER_FLAG_NEW_LISTENER
                    | libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
            ),
        );
        // Each supported flag compiles, each known-but-unsupported one is refused by name.
        for f in strings(&s["knownFlags"]) {
            let p = with_flag(serde_json::from_value(json!(f)).unwrap());
            match seccomp::compile(&p) {
                Ok(_) => assert!(supported.contains(&f), "{f} compiles but is not listed"),
                Err(e) => {
                    assert!(!supported.contains(&f), "{f} listed but refused: {e}");
                    assert!(e.to_string().contains(f), "{e}");
                }
            }
        }
    }

    #[test]
    fn memory_policy_modes_and_flags_are_each_accepted() {
        let d = doc();
        let m = &d["linux"]["memoryPolicy"];
        let modes = strings(&m["modes"]);
        assert_eq!(modes.len(), 7, "{modes:?}");
        for mode in &modes {
            let policy = match *mode {
                "MPOL_DEFAULT" | "MPOL_LOCAL" => json!({"mode": mode}),
                _ => json!({"mode": mode, "nodes": "0"}),
            };
            let c = config(json!({"linux": {
                "namespaces": [{"type": "mount"}], "memoryPolicy": policy
            }}));
            let p = namespaces::plan(&c.spec).unwrap();
            crate::kernel::plan(&c, &p).unwrap_or_else(|e| panic!("{mode}: {e}"));
        }
        let flags = strings(&m["flags"]);
        assert_eq!(
            flags,
            [
                "MPOL_F_NUMA_BALANCING",
                "MPOL_F_RELATIVE_NODES",
                "MPOL_F_STATIC_NODES"
            ]
        );
        for flag in flags {
            let c = config(json!({"linux": {
                "namespaces": [{"type": "mount"}],
                "memoryPolicy": {"mode": "MPOL_BIND", "nodes": "0", "flags": [flag]}
            }}));
            let p = namespaces::plan(&c.spec).unwrap();
            crate::kernel::plan(&c, &p).unwrap_or_else(|e| panic!("{flag}: {e}"));
        }
    }

    #[test]
    fn cgroup_rdt_and_net_devices() {
        let d = doc();
        let l = &d["linux"];
        assert_eq!(
            l["cgroup"],
            json!({"v1": true, "v2": true, "systemd": false, "systemdUser": false, "rdma": true})
        );
        assert_eq!(
            l["intelRdt"],
            json!({"enabled": false, "schemata": false, "monitoring": false})
        );
        assert_eq!(l["netDevices"], json!({"enabled": true}));
        // The Linux 5.12 mount_setattr husk requires anyway.
        assert_eq!(l["mountExtensions"], json!({"idmap": {"enabled": true}}));
    }
}
