//! Capabilities: `process.capabilities` (the bounding, effective, inheritable, permitted and
//! ambient sets) resolved in the parent and applied by the container's init.
//!
//! Two steps, so nothing the config says can make the child fail half way:
//! - [`resolve`] runs in the parent before fork. It turns the spec's names into capability sets
//!   and leaves out every capability that cannot be granted, with a warning naming it and the set
//!   (runtime-spec v1.1+ `config.md#linux-process`: "capabilities that cannot be granted ... MUST
//!   log a warning" instead of failing, which is why the names are strings and not an enum).
//! - [`drop_bounding`] (while still root, before the user switch: it needs CAP_SETPCAP) and
//!   [`apply`] (after setresuid under PR_SET_KEEPCAPS, see [`set_keep_capabilities`]) run in the
//!   init. Their inputs satisfy every rule capset(2) checks, so they fail only if the process is
//!   not in the state runc's order puts it in.
//!
//! An absent set (or an absent `process.capabilities`) is an empty set, as in runc 1.1: the
//! container gets none of that set's capabilities.
//!
//! Sources: `man 7 capabilities`, `man 2 capset`, `man 2 prctl` (PR_CAPBSET_DROP,
//! PR_CAP_AMBIENT, PR_SET_KEEPCAPS), runtime-spec `config.md` "Linux process".

use caps::{CapSet, Capability, CapsHashSet};

/// The five capability sets the container's process gets, every member grantable by this
/// runtime. Built by [`resolve`]; consumed by [`drop_bounding`] and [`apply`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResolvedCapabilities {
    /// The bounding set (`process.capabilities.bounding`): every other capability is dropped
    /// from the init's bounding set by [`drop_bounding`].
    pub bounding: CapsHashSet,
    /// The effective set (`process.capabilities.effective`); a subset of `permitted`.
    pub effective: CapsHashSet,
    /// The inheritable set (`process.capabilities.inheritable`); a subset of `bounding`.
    pub inheritable: CapsHashSet,
    /// The permitted set (`process.capabilities.permitted`).
    pub permitted: CapsHashSet,
    /// The ambient set (`process.capabilities.ambient`); a subset of `permitted` and
    /// `inheritable`.
    pub ambient: CapsHashSet,
}

/// Errors of the init-side steps. [`resolve`] never fails: what it cannot grant becomes a
/// warning.
#[derive(Debug, thiserror::Error)]
pub enum CapabilitiesError {
    /// PR_CAPBSET_DROP failed (the process lacks CAP_SETPCAP in its effective set).
    #[error(
        "dropping {cap} from the bounding set (prctl PR_CAPBSET_DROP) failed: {source}; \
         the bounding set must be dropped before the user switch, while CAP_SETPCAP is effective"
    )]
    DropBounding {
        /// The capability being dropped.
        cap: Capability,
        /// The caps crate's error (it carries the errno text).
        source: caps::errors::CapsError,
    },
    /// capset(2) or a PR_CAP_AMBIENT prctl refused a set.
    #[error(
        "setting the {set} capability set of the container process failed: {source}; \
         it must run after setresuid with PR_SET_KEEPCAPS set, before no_new_privs"
    )]
    SetSet {
        /// The set's spec name (`effective`, `permitted`, `inheritable`, `ambient`).
        set: &'static str,
        /// The caps crate's error.
        source: caps::errors::CapsError,
    },
    /// PR_SET_KEEPCAPS failed.
    #[error("prctl PR_SET_KEEPCAPS {value} failed: {source}")]
    KeepCaps {
        /// The value being set.
        value: bool,
        /// The caps crate's error.
        source: caps::errors::CapsError,
    },
}

/// What this runtime process can hand on: the kernel's capabilities, and its own bounding and
/// permitted sets (the container's init inherits both across fork).
#[derive(Debug, Clone)]
struct Grantable {
    /// Capabilities this kernel knows (`/proc/sys/kernel/cap_last_cap` and below).
    kernel: CapsHashSet,
    /// The runtime's bounding set: no capability outside it can be in any set of the container.
    bounding: CapsHashSet,
    /// The runtime's permitted set: capset(2) can only shrink it, and the inheritable set is
    /// capped by it while CAP_SETPCAP is not effective (it is not after a switch from root).
    permitted: CapsHashSet,
}

impl Grantable {
    fn of_this_process() -> Self {
        let kernel = caps::runtime::thread_all_supported();
        // PR_CAPBSET_READ and capget(2) on the calling thread cannot fail for a valid
        // capability; if they ever did, an empty set makes every capability a visible warning
        // rather than a silent grant.
        let bounding = caps::read(None, CapSet::Bounding).unwrap_or_else(|e| {
            tracing::warn!("reading husk-runtime's bounding set failed: {e}");
            CapsHashSet::new()
        });
        let permitted = caps::read(None, CapSet::Permitted).unwrap_or_else(|e| {
            tracing::warn!("reading husk-runtime's permitted set failed: {e}");
            CapsHashSet::new()
        });
        Grantable {
            kernel,
            bounding,
            permitted,
        }
    }
}

/// Resolves `process.capabilities` against what this process can grant.
///
/// Each argument is one set of the spec as written in config.json (names such as
/// `"CAP_NET_RAW"`, taken exactly; `None` when the set is absent, which means empty, as in
/// runc 1.1). Returns the sets to apply and one warning per capability left out, naming the set,
/// the index and the reason, e.g. `process.capabilities.bounding[4]: CAP_SYS_RESOURCE is not in
/// husk-runtime's bounding set; the container starts without it`. A capability is left out of a
/// set when:
/// - its name is unknown to husk-runtime or to this kernel;
/// - it is not in the runtime's own bounding set (any set) or permitted set (all but bounding);
/// - the kernel would refuse the combination (`man 7 capabilities`, `man 2 capset`): an
///   inheritable one outside `bounding`, an effective one outside `permitted`, an ambient one
///   outside `permitted` or `inheritable`.
///
/// Runs in the parent, before fork: it reads this process's bounding and permitted sets, which
/// the init inherits. With `user_namespace` (the container has a user namespace of its own, new
/// or joined) the init holds every capability of its bounding set in that namespace
/// (`man 7 user_namespaces`, "Capabilities"), so the runtime's permitted set does not limit the
/// container's: a rootless runtime, whose permitted set is empty, still grants them there. The
/// bounding set is inherited across the namespace change and limits both cases.
pub fn resolve(
    bounding: Option<&[String]>,
    effective: Option<&[String]>,
    inheritable: Option<&[String]>,
    permitted: Option<&[String]>,
    ambient: Option<&[String]>,
    user_namespace: bool,
) -> (ResolvedCapabilities, Vec<String>) {
    let mut grantable = Grantable::of_this_process();
    if user_namespace {
        grantable.permitted = grantable.bounding.clone();
    }
    resolve_against(
        &grantable,
        bounding,
        effective,
        inheritable,
        permitted,
        ambient,
    )
}

fn resolve_against(
    grantable: &Grantable,
    bounding: Option<&[String]>,
    effective: Option<&[String]>,
    inheritable: Option<&[String]>,
    permitted: Option<&[String]>,
    ambient: Option<&[String]>,
) -> (ResolvedCapabilities, Vec<String>) {
    let mut warnings = Vec::new();
    let mut w = |set: &str, index: usize, name: &str, why: &str| {
        warnings.push(format!(
            "process.capabilities.{set}[{index}]: {name} {why}; the container starts without it"
        ));
    };
    let bnd = parse(grantable, "bounding", bounding, false, &mut w);
    let eff = parse(grantable, "effective", effective, true, &mut w);
    let inh = parse(grantable, "inheritable", inheritable, true, &mut w);
    let prm = parse(grantable, "permitted", permitted, true, &mut w);
    let amb = parse(grantable, "ambient", ambient, true, &mut w);

    let mut resolved = ResolvedCapabilities {
        bounding: bnd.iter().map(|c| c.2).collect(),
        permitted: prm.iter().map(|c| c.2).collect(),
        ..Default::default()
    };
    // The kernel's rules between the sets (capset(2) EPERM cases, PR_CAP_AMBIENT_RAISE EPERM).
    for (index, name, cap) in inh {
        if resolved.bounding.contains(&cap) {
            resolved.inheritable.insert(cap);
        } else {
            w(
                "inheritable",
                index,
                name,
                "is not in process.capabilities.bounding (capset(2) refuses an inheritable \
                 capability outside the bounding set)",
            );
        }
    }
    for (index, name, cap) in eff {
        if resolved.permitted.contains(&cap) {
            resolved.effective.insert(cap);
        } else {
            w(
                "effective",
                index,
                name,
                "is not in process.capabilities.permitted (capset(2) refuses an effective \
                 capability that is not permitted)",
            );
        }
    }
    // One warning for all of them: runc's own default config asks for three ambient
    // capabilities without inheritable ones, and a line each would drown every `run`.
    let mut not_raised = Vec::new();
    for (_, name, cap) in amb {
        if resolved.permitted.contains(&cap) && resolved.inheritable.contains(&cap) {
            resolved.ambient.insert(cap);
        } else {
            not_raised.push(name);
        }
    }
    if !not_raised.is_empty() {
        warnings.push(format!(
            "process.capabilities.ambient: {} not in both process.capabilities.permitted and \
             .inheritable (the kernel refuses such an ambient capability, man 7 capabilities); \
             the container starts without {}",
            not_raised.join(", ") + if not_raised.len() == 1 { " is" } else { " are" },
            if not_raised.len() == 1 { "it" } else { "them" },
        ));
    }
    (resolved, warnings)
}

/// Names to capabilities, each checked against the runtime's own sets (`own_permitted`: also
/// against its permitted set); the others are reported through `warn`.
fn parse<'a>(
    grantable: &Grantable,
    set: &str,
    names: Option<&'a [String]>,
    own_permitted: bool,
    warn: &mut impl FnMut(&str, usize, &str, &str),
) -> Vec<(usize, &'a str, Capability)> {
    let mut out = Vec::new();
    for (index, name) in names.unwrap_or_default().iter().enumerate() {
        // A name unknown to husk was already warned about by config validation
        // (spec::Config::validate); it is skipped here without a second warning.
        let Ok(cap) = name.parse::<Capability>() else {
            continue;
        };
        if !grantable.kernel.contains(&cap) {
            warn(set, index, name, "is not supported by this kernel");
        } else if !grantable.bounding.contains(&cap) {
            warn(set, index, name, "is not in husk-runtime's bounding set");
        } else if own_permitted && !grantable.permitted.contains(&cap) {
            warn(set, index, name, "is not in husk-runtime's permitted set");
        } else {
            out.push((index, name.as_str(), cap));
        }
    }
    out
}

/// Drops every capability not in `caps.bounding` from the calling thread's bounding set
/// (prctl PR_CAPBSET_DROP, `man 2 prctl`).
///
/// Runs in the container's init before the user switch: it needs CAP_SETPCAP in the effective
/// set. Bounding-set changes are inherited by every later child, and cannot be undone.
///
/// # Errors
/// [`CapabilitiesError::DropBounding`] naming the capability when the kernel refuses.
pub fn drop_bounding(caps: &ResolvedCapabilities) -> Result<(), CapabilitiesError> {
    for cap in caps::runtime::thread_all_supported() {
        if caps.bounding.contains(&cap) {
            continue;
        }
        // Reading first skips capabilities already gone, so a second call is a no-op.
        if caps::has_cap(None, CapSet::Bounding, cap).unwrap_or(false) {
            caps::drop(None, CapSet::Bounding, cap)
                .map_err(|source| CapabilitiesError::DropBounding { cap, source })?;
        }
    }
    Ok(())
}

/// Sets PR_SET_KEEPCAPS on the calling thread (`man 2 prctl`): with it set, setresuid from uid 0
/// keeps the permitted set, so [`apply`] can then choose the container's sets. The init sets it
/// before setresuid and clears it right after (the flag is reset by execve anyway).
///
/// # Errors
/// [`CapabilitiesError::KeepCaps`] if the prctl fails.
pub fn set_keep_capabilities(value: bool) -> Result<(), CapabilitiesError> {
    caps::securebits::set_keepcaps(value)
        .map_err(|source| CapabilitiesError::KeepCaps { value, source })
}

/// Sets the calling thread's inheritable, effective and permitted sets and then its ambient set
/// to `caps` (capset(2), prctl PR_CAP_AMBIENT; `man 7 capabilities`).
///
/// Runs in the container's init after setresuid (with PR_SET_KEEPCAPS, so the permitted set
/// survived the switch) and before no_new_privs and execve. The order is chosen so that each
/// capset(2) is valid for a [`resolve`]d input whatever the user: inheritable first, while the
/// permitted set is still the runtime's (after a switch from root CAP_SETPCAP is no longer
/// effective, and the kernel then caps the inheritable set by the *current* permitted set);
/// effective before permitted (an effective set must stay within the permitted one, and when
/// the user stays root the effective set is still full); ambient last (an ambient capability must
/// be permitted and inheritable, and changing those clears ambient ones).
///
/// # Errors
/// [`CapabilitiesError::SetSet`] naming the set the kernel refused.
pub fn apply(caps: &ResolvedCapabilities) -> Result<(), CapabilitiesError> {
    let set = |name: &'static str, cset: CapSet, value: &CapsHashSet| {
        caps::set(None, cset, value)
            .map_err(|source| CapabilitiesError::SetSet { set: name, source })
    };
    set("inheritable", CapSet::Inheritable, &caps.inheritable)?;
    set("effective", CapSet::Effective, &caps.effective)?;
    set("permitted", CapSet::Permitted, &caps.permitted)?;
    set("ambient", CapSet::Ambient, &caps.ambient)?;
    Ok(())
}

/// Test support shared by this crate's root tests: re-running the test binary as a child that
/// executes one test's child half (capabilities, rlimits and seccomp change the calling process
/// for good, so they are exercised in a process of their own).
#[cfg(test)]
pub(crate) mod test_child {
    use std::process::{Command, Output};

    /// The environment variable that marks the re-invoked child; its value is the test's name.
    const ENV: &str = "HUSK_TEST_CHILD";

    /// True in the child re-invoked by [`run`] for the test named `test`
    /// (`module::tests::name`).
    pub(crate) fn is_child(test: &str) -> bool {
        std::env::var(ENV).as_deref() == Ok(test)
    }

    /// Re-runs this test binary with only `test`, marked as the child; returns its output,
    /// whatever the exit status.
    pub(crate) fn run_unchecked(test: &str) -> Output {
        let exe = std::env::current_exe().unwrap();
        Command::new(exe)
            .args(["--exact", test, "--nocapture", "--test-threads=1"])
            .env(ENV, test)
            .output()
            .unwrap()
    }

    /// [`run_unchecked`], asserting that the child succeeded.
    pub(crate) fn run(test: &str) -> Output {
        let out = run_unchecked(test);
        assert!(
            out.status.success(),
            "child for {test} failed: {:?}\nstdout:\n{}\nstderr:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// True when running as root; otherwise says why the calling test does nothing.
    pub(crate) fn is_root(test: &str) -> bool {
        if nix::unistd::geteuid().is_root() {
            return true;
        }
        eprintln!("{test}: needs root (it changes credentials in a child process); not run");
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    /// A runtime that has every kernel capability but CAP_SYS_RESOURCE in its bounding set
    /// (like this project's test machines) and lacks CAP_SYS_TIME from its permitted set.
    fn grantable() -> Grantable {
        let kernel = caps::all();
        let mut bounding = kernel.clone();
        bounding.remove(&Capability::CAP_SYS_RESOURCE);
        let mut permitted = bounding.clone();
        permitted.remove(&Capability::CAP_SYS_TIME);
        Grantable {
            kernel,
            bounding,
            permitted,
        }
    }

    #[test]
    fn absent_sets_are_empty() {
        let (r, w) = resolve_against(&grantable(), None, None, None, None, None);
        assert_eq!(r, ResolvedCapabilities::default());
        assert!(w.is_empty(), "{w:?}");
    }

    #[test]
    fn grantable_names_are_kept_in_every_set() {
        let all = names(&["CAP_CHOWN", "CAP_NET_RAW", "CAP_NET_BIND_SERVICE"]);
        let (r, w) = resolve_against(
            &grantable(),
            Some(&all),
            Some(&all),
            Some(&all),
            Some(&all),
            Some(&all),
        );
        assert!(w.is_empty(), "{w:?}");
        let want: CapsHashSet = [
            Capability::CAP_CHOWN,
            Capability::CAP_NET_RAW,
            Capability::CAP_NET_BIND_SERVICE,
        ]
        .into_iter()
        .collect();
        for set in [
            &r.bounding,
            &r.effective,
            &r.inheritable,
            &r.permitted,
            &r.ambient,
        ] {
            assert_eq!(set, &want);
        }
    }

    #[test]
    fn ungrantable_names_are_warnings_naming_set_and_index() {
        // Unknown names (CAP_BOGUS; names are taken exactly as written, so net_raw too) are
        // left out without a warning here: config validation warns about them.
        let bnd = names(&["CAP_CHOWN", "CAP_SYS_RESOURCE", "CAP_BOGUS", "net_raw"]);
        let prm = names(&["CAP_CHOWN", "CAP_SYS_TIME"]);
        let (r, w) = resolve_against(&grantable(), Some(&bnd), None, None, Some(&prm), None);
        assert_eq!(r.bounding, [Capability::CAP_CHOWN].into_iter().collect());
        assert_eq!(r.permitted, [Capability::CAP_CHOWN].into_iter().collect());
        assert_eq!(
            w,
            vec![
                "process.capabilities.bounding[1]: CAP_SYS_RESOURCE is not in husk-runtime's \
                 bounding set; the container starts without it",
                "process.capabilities.permitted[1]: CAP_SYS_TIME is not in husk-runtime's \
                 permitted set; the container starts without it",
            ]
        );
    }

    #[test]
    fn capability_unknown_to_the_kernel_is_a_warning() {
        let mut g = grantable();
        g.kernel.remove(&Capability::CAP_CHECKPOINT_RESTORE);
        g.bounding.remove(&Capability::CAP_CHECKPOINT_RESTORE);
        let eff = names(&["CAP_CHECKPOINT_RESTORE"]);
        let (r, w) = resolve_against(&g, None, Some(&eff), None, None, None);
        assert!(r.effective.is_empty());
        assert_eq!(
            w,
            vec![
                "process.capabilities.effective[0]: CAP_CHECKPOINT_RESTORE is not supported by \
                 this kernel; the container starts without it"
            ]
        );
    }

    #[test]
    fn kernel_rules_between_sets_are_warnings() {
        let bnd = names(&["CAP_KILL"]);
        let eff = names(&["CAP_KILL", "CAP_CHOWN"]);
        let inh = names(&["CAP_KILL", "CAP_CHOWN"]);
        let prm = names(&["CAP_KILL"]);
        let amb = names(&["CAP_KILL", "CAP_NET_RAW"]);
        let (r, w) = resolve_against(
            &grantable(),
            Some(&bnd),
            Some(&eff),
            Some(&inh),
            Some(&prm),
            Some(&amb),
        );
        let kill: CapsHashSet = [Capability::CAP_KILL].into_iter().collect();
        assert_eq!(r.effective, kill);
        assert_eq!(r.inheritable, kill);
        assert_eq!(r.ambient, kill);
        assert_eq!(w.len(), 3, "{w:?}");
        assert!(w[0].starts_with("process.capabilities.inheritable[1]: CAP_CHOWN is not in process.capabilities.bounding"), "{}", w[0]);
        assert!(w[1].starts_with("process.capabilities.effective[1]: CAP_CHOWN is not in process.capabilities.permitted"), "{}", w[1]);
        assert!(
            w[2].starts_with("process.capabilities.ambient: CAP_NET_RAW is not in both"),
            "{}",
            w[2]
        );
    }

    #[test]
    fn resolve_reads_this_process() {
        // On this project's machines CAP_SYS_RESOURCE is not in the bounding set: resolve()
        // must leave it out with a warning. Whatever this process has is what it can grant.
        let wanted = names(&["CAP_SYS_RESOURCE", "CAP_CHOWN"]);
        let (r, w) = resolve(Some(&wanted), None, None, Some(&wanted), None, false);
        let own_bnd = caps::read(None, CapSet::Bounding).unwrap();
        let own_prm = caps::read(None, CapSet::Permitted).unwrap();
        let mut warnings = 0;
        for cap in [Capability::CAP_SYS_RESOURCE, Capability::CAP_CHOWN] {
            let in_bnd = own_bnd.contains(&cap);
            let in_prm = in_bnd && own_prm.contains(&cap);
            assert_eq!(r.bounding.contains(&cap), in_bnd, "{cap}");
            assert_eq!(r.permitted.contains(&cap), in_prm, "{cap}");
            warnings += usize::from(!in_bnd) + usize::from(!in_prm);
        }
        assert_eq!(w.len(), warnings, "{w:?}");
        if !own_bnd.contains(&Capability::CAP_SYS_RESOURCE) {
            assert_eq!(
                w[0],
                "process.capabilities.bounding[0]: CAP_SYS_RESOURCE is not in husk-runtime's \
                 bounding set; the container starts without it"
            );
        }
    }

    /// The /proc/thread-self/status capability lines, as `(name, mask)` (capabilities are
    /// per thread and libtest runs a test on a thread of its own).
    fn status_caps() -> String {
        let status = std::fs::read_to_string("/proc/thread-self/status").unwrap();
        status
            .lines()
            .filter(|l| l.starts_with("Cap"))
            .map(|l| format!("{l}\n"))
            .collect()
    }

    fn mask(v: &[u64]) -> String {
        format!("{:016x}", v.iter().map(|b| 1u64 << b).sum::<u64>())
    }

    /// Applies the test sets in this process (the child half of the two root tests).
    fn apply_in_child(switch_user: bool) {
        let bnd = names(&[
            "CAP_CHOWN",
            "CAP_KILL",
            "CAP_NET_RAW",
            "CAP_NET_BIND_SERVICE",
            "CAP_SYS_RESOURCE",
        ]);
        let prm = names(&["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
        let eff = names(&["CAP_CHOWN", "CAP_NET_BIND_SERVICE"]);
        let inh = names(&["CAP_NET_BIND_SERVICE", "CAP_KILL"]);
        let amb = names(&["CAP_NET_BIND_SERVICE"]);
        let (r, _) = resolve(
            Some(&bnd),
            Some(&eff),
            Some(&inh),
            Some(&prm),
            Some(&amb),
            false,
        );
        drop_bounding(&r).unwrap();
        if switch_user {
            let id = nix::unistd::Uid::from_raw(1000);
            let gid = nix::unistd::Gid::from_raw(1000);
            set_keep_capabilities(true).unwrap();
            nix::unistd::setresgid(gid, gid, gid).unwrap();
            nix::unistd::setresuid(id, id, id).unwrap();
            set_keep_capabilities(false).unwrap();
        }
        apply(&r).unwrap();
        // A line of its own: libtest has already written "test NAME ... " on this line.
        print!("\n{}", status_caps());
    }

    fn assert_child_caps(test: &str) {
        let out = test_child::run(test);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let mut bnd = vec![0, 5, 10, 13];
        if caps::has_cap(None, CapSet::Bounding, Capability::CAP_SYS_RESOURCE).unwrap() {
            bnd.push(24);
        }
        for (line, bits) in [
            ("CapInh", &[5u64, 10][..]),
            ("CapPrm", &[0, 5, 10]),
            ("CapEff", &[0, 10]),
            ("CapBnd", &bnd),
            ("CapAmb", &[10]),
        ] {
            let want = format!("{line}:\t{}", mask(bits));
            assert!(
                stdout.lines().any(|l| l == want),
                "no `{want}` in:\n{stdout}"
            );
        }
    }

    #[test]
    fn apply_after_switch_to_non_root_user() {
        const NAME: &str = "capabilities::tests::apply_after_switch_to_non_root_user";
        if test_child::is_child(NAME) {
            return apply_in_child(true);
        }
        if test_child::is_root(NAME) {
            assert_child_caps(NAME);
        }
    }

    #[test]
    fn apply_when_the_user_stays_root() {
        const NAME: &str = "capabilities::tests::apply_when_the_user_stays_root";
        if test_child::is_child(NAME) {
            return apply_in_child(false);
        }
        if test_child::is_root(NAME) {
            assert_child_caps(NAME);
        }
    }
}
