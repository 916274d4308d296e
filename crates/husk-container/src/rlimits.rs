//! Resource limits: `process.rlimits`, checked in the parent ([`check`]) and set by the
//! container's init before it switches user and execs ([`apply`]).
//!
//! Everything that would make setrlimit(2) fail for the config's sake is found by [`check`],
//! before anything is created: a duplicated type, a soft limit above its hard limit, a hard limit
//! above the runtime's own when the runtime cannot raise hard limits (no CAP_SYS_RESOURCE: the
//! case on this project's machines), and an RLIMIT_NOFILE above the kernel's `fs.nr_open`.
//!
//! Sources: runtime-spec `config.md` "POSIX process" (`rlimits`: "the runtime MUST generate an
//! error for any values which cannot be mapped to a relevant kernel interface ... If rlimits
//! contains duplicated entries with same type, the runtime MUST generate an error"),
//! `man 2 setrlimit`, `man 7 capabilities` (CAP_SYS_RESOURCE), `man 5 proc` (fs/nr_open).

use nix::sys::resource::{getrlimit, setrlimit, Resource};
use oci_spec::runtime::{PosixRlimit, PosixRlimitType};

/// `/proc/sys/fs/nr_open`: the ceiling of RLIMIT_NOFILE, whatever the capabilities.
const NR_OPEN: &str = "/proc/sys/fs/nr_open";

/// A limit for messages: `unlimited` for RLIM_INFINITY, the number otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit(pub u64);

impl std::fmt::Display for Limit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0 == nix::libc::RLIM_INFINITY {
            write!(f, "unlimited")
        } else {
            write!(f, "{}", self.0)
        }
    }
}

/// What is wrong with `process.rlimits`, or which setrlimit(2) failed.
#[derive(Debug, thiserror::Error)]
pub enum RlimitError {
    /// The same type appears twice (the spec requires an error).
    #[error(
        "process.rlimits[{index}]: {typ} is already set by process.rlimits[{first}]; \
         give each rlimit type once"
    )]
    Duplicate {
        /// Index of the second entry.
        index: usize,
        /// Index of the first entry of that type.
        first: usize,
        /// The type, e.g. `RLIMIT_NOFILE`.
        typ: PosixRlimitType,
    },
    /// soft > hard: setrlimit(2) refuses it with EINVAL.
    #[error(
        "process.rlimits[{index}]: {typ} soft limit {soft} is above its hard limit {hard}; \
         the soft limit must be at most the hard limit"
    )]
    SoftAboveHard {
        /// Index of the entry.
        index: usize,
        /// The type.
        typ: PosixRlimitType,
        /// The soft limit asked for.
        soft: Limit,
        /// The hard limit asked for.
        hard: Limit,
    },
    /// A hard limit above the runtime's own, and the runtime lacks CAP_SYS_RESOURCE.
    #[error(
        "process.rlimits[{index}]: {typ} hard limit {hard} is above husk-runtime's own hard \
         limit {current}, and raising a hard limit needs CAP_SYS_RESOURCE, which husk-runtime \
         does not have in its effective set; set the hard limit to at most {current}"
    )]
    HardAboveCurrent {
        /// Index of the entry.
        index: usize,
        /// The type.
        typ: PosixRlimitType,
        /// The hard limit asked for.
        hard: Limit,
        /// The runtime's current hard limit of that type.
        current: Limit,
    },
    /// RLIMIT_NOFILE above fs.nr_open: setrlimit(2) refuses it with EPERM even with
    /// CAP_SYS_RESOURCE.
    #[error(
        "process.rlimits[{index}]: RLIMIT_NOFILE hard limit {value} is above the kernel's \
         maximum {nr_open} (/proc/sys/fs/nr_open); set it to at most {nr_open}"
    )]
    NofileAboveNrOpen {
        /// Index of the entry.
        index: usize,
        /// The limit asked for.
        value: Limit,
        /// The value of fs.nr_open.
        nr_open: u64,
    },
    /// getrlimit(2) failed (not expected for a valid resource).
    #[error("reading husk-runtime's own {typ} (getrlimit) failed: {source}")]
    Get {
        /// The type.
        typ: PosixRlimitType,
        /// The errno.
        source: nix::Error,
    },
    /// setrlimit(2) failed in the container's init.
    #[error("process.rlimits[{index}]: setting {typ} to soft {soft}, hard {hard} (setrlimit) failed: {source}")]
    Set {
        /// Index of the entry.
        index: usize,
        /// The type.
        typ: PosixRlimitType,
        /// The soft limit.
        soft: Limit,
        /// The hard limit.
        hard: Limit,
        /// The errno.
        source: nix::Error,
    },
}

/// The kernel resource of a spec rlimit type (`man 2 getrlimit`).
fn resource(typ: PosixRlimitType) -> Resource {
    match typ {
        PosixRlimitType::RlimitCpu => Resource::RLIMIT_CPU,
        PosixRlimitType::RlimitFsize => Resource::RLIMIT_FSIZE,
        PosixRlimitType::RlimitData => Resource::RLIMIT_DATA,
        PosixRlimitType::RlimitStack => Resource::RLIMIT_STACK,
        PosixRlimitType::RlimitCore => Resource::RLIMIT_CORE,
        PosixRlimitType::RlimitRss => Resource::RLIMIT_RSS,
        PosixRlimitType::RlimitNproc => Resource::RLIMIT_NPROC,
        PosixRlimitType::RlimitNofile => Resource::RLIMIT_NOFILE,
        PosixRlimitType::RlimitMemlock => Resource::RLIMIT_MEMLOCK,
        PosixRlimitType::RlimitAs => Resource::RLIMIT_AS,
        PosixRlimitType::RlimitLocks => Resource::RLIMIT_LOCKS,
        PosixRlimitType::RlimitSigpending => Resource::RLIMIT_SIGPENDING,
        PosixRlimitType::RlimitMsgqueue => Resource::RLIMIT_MSGQUEUE,
        PosixRlimitType::RlimitNice => Resource::RLIMIT_NICE,
        PosixRlimitType::RlimitRtprio => Resource::RLIMIT_RTPRIO,
        PosixRlimitType::RlimitRttime => Resource::RLIMIT_RTTIME,
    }
}

/// Checks `process.rlimits` (in config order) against the spec and what this process can set.
///
/// Runs in the parent before fork; the init inherits the parent's limits and capabilities, so
/// what passes here cannot fail in [`apply`] for the config's sake. (Exception: an init in a new
/// user namespace cannot raise a hard limit even when the runtime can, since CAP_SYS_RESOURCE
/// counts only in the initial user namespace; [`apply`] then reports the EPERM.)
///
/// # Errors
/// The first problem found, naming `process.rlimits[i]`, the numbers and why:
/// [`RlimitError::Duplicate`], [`RlimitError::SoftAboveHard`], [`RlimitError::NofileAboveNrOpen`],
/// [`RlimitError::HardAboveCurrent`]; [`RlimitError::Get`] if getrlimit(2) fails.
pub fn check(rlimits: &[PosixRlimit]) -> Result<(), RlimitError> {
    let can_raise = caps::has_cap(
        None,
        caps::CapSet::Effective,
        caps::Capability::CAP_SYS_RESOURCE,
    )
    .unwrap_or(false);
    let nr_open = std::fs::read_to_string(NR_OPEN)
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok());
    check_against(rlimits, can_raise, nr_open, |typ| {
        getrlimit(resource(typ))
            .map(|(_, hard)| hard)
            .map_err(|source| RlimitError::Get { typ, source })
    })
}

fn check_against(
    rlimits: &[PosixRlimit],
    can_raise: bool,
    nr_open: Option<u64>,
    current_hard: impl Fn(PosixRlimitType) -> Result<u64, RlimitError>,
) -> Result<(), RlimitError> {
    for (index, rl) in rlimits.iter().enumerate() {
        let (typ, soft, hard) = (rl.typ(), rl.soft(), rl.hard());
        if let Some(first) = rlimits[..index].iter().position(|r| r.typ() == typ) {
            return Err(RlimitError::Duplicate { index, first, typ });
        }
        if soft > hard {
            return Err(RlimitError::SoftAboveHard {
                index,
                typ,
                soft: Limit(soft),
                hard: Limit(hard),
            });
        }
        if let (PosixRlimitType::RlimitNofile, Some(nr_open)) = (typ, nr_open) {
            // The kernel checks the hard limit only (soft <= hard is checked above); RLIM_INFINITY
            // is refused as well, as any value above nr_open.
            if hard > nr_open {
                return Err(RlimitError::NofileAboveNrOpen {
                    index,
                    value: Limit(hard),
                    nr_open,
                });
            }
        }
        if !can_raise {
            let current = current_hard(typ)?;
            if hard > current {
                return Err(RlimitError::HardAboveCurrent {
                    index,
                    typ,
                    hard: Limit(hard),
                    current: Limit(current),
                });
            }
        }
    }
    Ok(())
}

/// Sets each of `rlimits`, in config order, on the calling process (setrlimit(2); limits are
/// per process and inherited across fork and execve).
///
/// Runs in the container's init, before the user switch (a non-root user could not raise a soft
/// limit back up to a hard limit it had lowered), after [`check`] passed in the parent.
///
/// # Errors
/// [`RlimitError::Set`] naming the entry and the errno.
pub fn apply(rlimits: &[PosixRlimit]) -> Result<(), RlimitError> {
    for (index, rl) in rlimits.iter().enumerate() {
        let (typ, soft, hard) = (rl.typ(), rl.soft(), rl.hard());
        setrlimit(resource(typ), soft, hard).map_err(|source| RlimitError::Set {
            index,
            typ,
            soft: Limit(soft),
            hard: Limit(hard),
            source,
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capabilities::test_child;
    use oci_spec::runtime::PosixRlimitBuilder;

    fn rl(typ: PosixRlimitType, soft: u64, hard: u64) -> PosixRlimit {
        PosixRlimitBuilder::default()
            .typ(typ)
            .soft(soft)
            .hard(hard)
            .build()
            .unwrap()
    }

    fn current(_: PosixRlimitType) -> Result<u64, RlimitError> {
        Ok(20000)
    }

    #[test]
    fn valid_limits_pass() {
        let v = [
            rl(PosixRlimitType::RlimitNofile, 1024, 20000),
            rl(PosixRlimitType::RlimitCore, 0, 0),
        ];
        check_against(&v, false, Some(1 << 20), current).unwrap();
    }

    #[test]
    fn duplicate_type_is_an_error() {
        let v = [
            rl(PosixRlimitType::RlimitNofile, 1024, 1024),
            rl(PosixRlimitType::RlimitCore, 0, 0),
            rl(PosixRlimitType::RlimitNofile, 512, 512),
        ];
        let e = check_against(&v, true, None, current).unwrap_err();
        assert_eq!(
            e.to_string(),
            "process.rlimits[2]: RLIMIT_NOFILE is already set by process.rlimits[0]; \
             give each rlimit type once"
        );
    }

    #[test]
    fn soft_above_hard_is_an_error() {
        let v = [rl(PosixRlimitType::RlimitNproc, 2048, 1024)];
        let e = check_against(&v, true, None, current).unwrap_err();
        assert_eq!(
            e.to_string(),
            "process.rlimits[0]: RLIMIT_NPROC soft limit 2048 is above its hard limit 1024; \
             the soft limit must be at most the hard limit"
        );
    }

    #[test]
    fn hard_above_current_without_cap_sys_resource_is_an_error() {
        let v = [rl(PosixRlimitType::RlimitNofile, 1024, 20001)];
        let e = check_against(&v, false, Some(1 << 20), current).unwrap_err();
        assert_eq!(
            e.to_string(),
            "process.rlimits[0]: RLIMIT_NOFILE hard limit 20001 is above husk-runtime's own \
             hard limit 20000, and raising a hard limit needs CAP_SYS_RESOURCE, which \
             husk-runtime does not have in its effective set; set the hard limit to at most 20000"
        );
        // With CAP_SYS_RESOURCE the same entry is fine.
        check_against(&v, true, Some(1 << 20), current).unwrap();
    }

    #[test]
    fn nofile_above_nr_open_is_an_error() {
        let v = [rl(PosixRlimitType::RlimitNofile, 1024, u64::MAX)];
        let e = check_against(&v, true, Some(1_048_576), current).unwrap_err();
        assert_eq!(
            e.to_string(),
            "process.rlimits[0]: RLIMIT_NOFILE hard limit unlimited is above the kernel's \
             maximum 1048576 (/proc/sys/fs/nr_open); set it to at most 1048576"
        );
    }

    #[test]
    fn check_reads_this_process() {
        // This process's real hard limit, plus one: refused unless CAP_SYS_RESOURCE is
        // effective (it is not on this project's machines).
        let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
        if hard == nix::libc::RLIM_INFINITY {
            eprintln!("check_reads_this_process: RLIMIT_NOFILE hard is unlimited here; not run");
            return;
        }
        let v = [rl(PosixRlimitType::RlimitNofile, 64, hard + 1)];
        let can_raise = caps::has_cap(
            None,
            caps::CapSet::Effective,
            caps::Capability::CAP_SYS_RESOURCE,
        )
        .unwrap();
        match check(&v) {
            Err(RlimitError::HardAboveCurrent { current, .. }) => {
                assert!(!can_raise);
                assert_eq!(current, Limit(hard));
            }
            Err(RlimitError::NofileAboveNrOpen { .. }) => assert!(can_raise),
            Ok(()) => assert!(can_raise),
            Err(e) => panic!("unexpected {e}"),
        }
        check(&[rl(PosixRlimitType::RlimitNofile, 64, hard)]).unwrap();
    }

    /// `(soft, hard)` of the /proc/self/limits line that starts with `what`.
    fn proc_limit(what: &str) -> (String, String) {
        let limits = std::fs::read_to_string("/proc/self/limits").unwrap();
        let line = limits.lines().find(|l| l.starts_with(what)).unwrap();
        let mut fields = line[what.len()..].split_whitespace();
        (
            fields.next().unwrap().to_string(),
            fields.next().unwrap().to_string(),
        )
    }

    #[test]
    fn apply_sets_the_limits() {
        const NAME: &str = "rlimits::tests::apply_sets_the_limits";
        if test_child::is_child(NAME) {
            let v = [
                rl(PosixRlimitType::RlimitNofile, 1000, 2000),
                rl(PosixRlimitType::RlimitCore, 0, 4096),
                rl(PosixRlimitType::RlimitCpu, 100, 200),
            ];
            check(&v).unwrap();
            apply(&v).unwrap();
            for what in ["Max open files", "Max core file size", "Max cpu time"] {
                let (soft, hard) = proc_limit(what);
                println!("\n{what}={soft}/{hard}");
            }
            return;
        }
        // Lowering limits needs no privilege: this runs as any user.
        let out = test_child::run(NAME);
        let stdout = String::from_utf8_lossy(&out.stdout);
        for want in [
            "Max open files=1000/2000",
            "Max core file size=0/4096",
            "Max cpu time=100/200",
        ] {
            assert!(
                stdout.lines().any(|l| l == want),
                "no `{want}` in:\n{stdout}"
            );
        }
    }
}
