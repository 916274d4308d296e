//! Seccomp: `linux.seccomp` compiled into a BPF program in the parent ([`compile_cached`],
//! [`compile`]) and loaded by the container's init ([`SeccompProgram::load`]).
//!
//! The program is built before fork, so every config error (an action with an errno it
//! cannot take, a bad argument index, an architecture the host's libseccomp lacks, a rule
//! libseccomp refuses, a flag the kernel lacks) is reported by the parent with the field's JSON
//! name, before anything is created. libseccomp builds the filter and exports its program
//! (seccomp_export_bpf); the filter context is then dropped, and the init loads the program
//! with seccomp(2) and the filter flags directly ([`husk_sys::seccomp::set_mode_filter`]),
//! with no libseccomp call. The runtime keeps the final programs in a cache (the `cache`
//! submodule, `/run/husk-seccomp-cache`, root only, keyed by the profile and libseccomp's
//! version): engines pass the same profile for every container, and a hit skips libseccomp,
//! most of the cost of starting a container with a real profile.
//!
//! Where the init loads it (runc's order): with `process.noNewPrivileges` false the filter is
//! loaded while the init is still root with CAP_SYS_ADMIN, before the capabilities are dropped
//! and the user is switched (seccomp(2) without no_new_privs needs CAP_SYS_ADMIN), so the
//! profile must allow the setup syscalls that follow (capset, setresuid, prctl, execve...);
//! with it true, just before execve, after no_new_privs is set. The filter never sets
//! no_new_privs itself (libseccomp's default would): that is `process.noNewPrivileges`' job.
//!
//! Done here: defaultAction, defaultErrnoRet, architectures, syscalls (names, action, errnoRet,
//! args with index, value, valueTwo, op), every action including SCMP_ACT_NOTIFY, every flag:
//! SECCOMP_FILTER_FLAG_LOG, _SPEC_ALLOW, _TSYNC (with _TSYNC_ESRCH, so a failure is an error)
//! and _WAIT_KILLABLE_RECV (Linux 6.0; Debian's libseccomp 2.5.4 has no attribute for it),
//! passed to seccomp(2) as they are; each is refused when the kernel lacks it (asked with
//! [`husk_sys::seccomp::flags_supported`], on a cache hit too). _WAIT_KILLABLE_RECV applies to
//! notifications only, so a profile without SCMP_ACT_NOTIFY rules is refused with it.
//!
//! SCMP_ACT_NOTIFY (runtime-spec config-linux.md "Seccomp", runtime.md "Container process
//! state"): `listenerPath` is required with it. The runtime connects to it before fork
//! ([`SeccompProgram::connect_listener`]; nothing listening fails `create` before anything is
//! made); the init inherits the connection and, right after loading the filter (with
//! SECCOMP_FILTER_FLAG_NEW_LISTENER), sends the notify fd with SCM_RIGHTS and the
//! container process state JSON (ociVersion, fds `["seccompFd"]`, pid, `listenerMetadata`,
//! state) in one message. runc sends it from the runtime process; husk's init loads the filter
//! after `start`, when the `create` process is gone (docs/known-differences.md).
//!
//! runc's ENOSYS rule ([`enosys`]): with a denying default action, per architecture, a syscall
//! numbered above the largest one the profile names fails with ENOSYS instead, so a newer C
//! library falls back to an older call rather than failing. It is a BPF prefix put in front of
//! libseccomp's exported program.
//!
//! Sources: runtime-spec `config-linux.md` "Seccomp", `man 2 seccomp`, `man 3 seccomp_init`,
//! `man 3 seccomp_rule_add`, `man 3 seccomp_attr_set`, `man 3 seccomp_arch_add`.

use libseccomp::error::SeccompError as ScmpError;
use libseccomp::{
    ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall,
};

mod cache;
mod enosys;
use oci_spec::runtime::{
    LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompFilterFlag, LinuxSeccompOperator,
};

/// The kernel caps SECCOMP_RET_ERRNO's data at MAX_ERRNO (include/linux/err.h): a larger
/// errnoRet would silently become 4095, so it is refused.
const MAX_ERRNO: u32 = 4095;

/// A syscall has at most six arguments (`struct seccomp_data.args[6]`).
const SYSCALL_ARGS: usize = 6;

/// A `linux.seccomp` profile compiled into the final BPF program, ready to load.
///
/// Built by [`compile`] or [`compile_cached`] in the parent; it survives fork (plain memory)
/// and the init calls [`SeccompProgram::load`], which needs no libseccomp.
#[derive(Debug)]
pub struct SeccompProgram {
    listener: Option<Listener>,
    /// The program libseccomp exported, with the ENOSYS prefix in front when the rule applies.
    bpf: Vec<husk_sys::seccomp::SockFilter>,
    /// The SECCOMP_FILTER_FLAG_* bits it is loaded with: LOG, SPEC_ALLOW, TSYNC with
    /// TSYNC_ESRCH from `linux.seccomp.flags`, NEW_LISTENER for SCMP_ACT_NOTIFY rules,
    /// WAIT_KILLABLE_RECV.
    flags: libc::c_ulong,
}

/// `linux.seccomp.listenerPath` and `listenerMetadata`, and the connection to the agent.
#[derive(Debug)]
struct Listener {
    path: std::path::PathBuf,
    metadata: String,
    /// Connected by the runtime before fork ([`SeccompProgram::connect_listener`]): the init
    /// has left the host's mount namespace when it loads the filter.
    conn: Option<std::os::unix::net::UnixStream>,
}

/// What is wrong with `linux.seccomp`, or why loading the filter failed.
#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    /// An errno given with an action that returns none (the spec requires an error).
    #[error(
        "{field}: {errno} is given with {action}, an action that returns no errno; remove it, \
         or use SCMP_ACT_ERRNO or SCMP_ACT_TRACE"
    )]
    ErrnoWithoutErrnoAction {
        /// `linux.seccomp.defaultErrnoRet` or `linux.seccomp.syscalls[i].errnoRet`.
        field: String,
        /// The errno given.
        errno: u32,
        /// The action it was given with.
        action: LinuxSeccompAction,
    },
    /// An errno (or trace value) out of the kernel's range.
    #[error("{field}: {value} is out of range for {action}; the largest value is {max}")]
    ErrnoOutOfRange {
        /// The errnoRet field.
        field: String,
        /// The value given.
        value: u32,
        /// The action.
        action: LinuxSeccompAction,
        /// The largest accepted value.
        max: u32,
    },
    /// SCMP_ACT_NOTIFY is used without `linux.seccomp.listenerPath` (nothing would receive the
    /// notifications: the syscalls would block forever).
    #[error(
        "{field}: SCMP_ACT_NOTIFY needs linux.seccomp.listenerPath (the unix socket of the \
         seccomp agent that answers the notifications); set it, or use another action"
    )]
    NotifyWithoutListener {
        /// The first action field with SCMP_ACT_NOTIFY.
        field: String,
    },
    /// `listenerPath` is not absolute, or `listenerMetadata` is given without it.
    #[error("{field}: {detail}")]
    Listener {
        /// `linux.seccomp.listenerPath` or `linux.seccomp.listenerMetadata`.
        field: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// Connecting to `listenerPath` failed (in the runtime, before anything is created).
    #[error(
        "linux.seccomp.listenerPath: connecting to {path} failed: {source}; the seccomp agent \
         must listen on this unix socket before the container is created"
    )]
    ListenerConnect {
        /// The path.
        path: std::path::PathBuf,
        /// The error of connect(2).
        source: std::io::Error,
    },
    /// Sending the notify fd and the container process state to the agent failed.
    #[error(
        "linux.seccomp.listenerPath: sending the seccomp notify fd to {path} failed: {detail}"
    )]
    ListenerSend {
        /// The path.
        path: std::path::PathBuf,
        /// What failed.
        detail: String,
    },
    /// A filter flag this host's kernel does not know.
    #[error("{field}: {flag} is not supported by this host's kernel ({detail}); remove it")]
    FlagUnsupported {
        /// `linux.seccomp.flags[i]`.
        field: String,
        /// The flag.
        flag: LinuxSeccompFilterFlag,
        /// Since when the kernel has it.
        detail: &'static str,
    },
    /// SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV without an SCMP_ACT_NOTIFY rule (the kernel takes
    /// it only with a notify listener).
    #[error(
        "{field}: SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV applies to SCMP_ACT_NOTIFY rules and \
         the profile has none; remove it"
    )]
    WaitKillableWithoutNotify {
        /// `linux.seccomp.flags[i]`.
        field: String,
    },
    /// Exporting the compiled program (seccomp_export_bpf) failed.
    #[error("linux.seccomp: exporting the filter program (seccomp_export_bpf) failed: {detail}")]
    Export {
        /// What failed.
        detail: String,
    },
    /// An architecture unknown to libseccomp, or one it refuses to add.
    #[error("{field}: {arch} cannot be added to the filter: {source}")]
    Architecture {
        /// `linux.seccomp.architectures[i]`.
        field: String,
        /// The architecture as written in config.json.
        arch: String,
        /// libseccomp's error.
        source: ScmpError,
    },
    /// `names` is empty (the spec requires at least one).
    #[error("{field}: names must list at least one syscall")]
    EmptyNames {
        /// `linux.seccomp.syscalls[i].names`.
        field: String,
    },
    /// An argument index past the sixth.
    #[error("{field}: {index} is out of range; a syscall's arguments are 0 to 5")]
    ArgIndex {
        /// `linux.seccomp.syscalls[i].args[j].index`.
        field: String,
        /// The index given.
        index: usize,
    },
    /// libseccomp refused a rule.
    #[error("{field}: adding the rule for {name} failed: {source}")]
    Rule {
        /// `linux.seccomp.syscalls[i].names[j]`.
        field: String,
        /// The syscall name.
        name: String,
        /// libseccomp's error.
        source: ScmpError,
    },
    /// seccomp_init failed.
    #[error("linux.seccomp.defaultAction: creating the filter with {action} failed: {source}")]
    Init {
        /// The default action.
        action: LinuxSeccompAction,
        /// libseccomp's error.
        source: ScmpError,
    },
    /// seccomp(2) refused the program, in the container's init.
    #[error(
        "loading the seccomp filter with seccomp(SECCOMP_SET_MODE_FILTER, {flags:#x}) failed: \
         {source}; without process.noNewPrivileges it needs CAP_SYS_ADMIN"
    )]
    LoadRaw {
        /// The SECCOMP_FILTER_FLAG_* bits.
        flags: libc::c_ulong,
        /// The errno.
        source: std::io::Error,
    },
}

/// The libseccomp action for a spec action and its errno (`errno_field` names the errno's
/// field for messages).
fn action(
    act: LinuxSeccompAction,
    errno: Option<u32>,
    errno_field: &str,
) -> Result<ScmpAction, SeccompError> {
    let value = |max: u32| -> Result<u16, SeccompError> {
        let v = errno.unwrap_or(libc::EPERM as u32);
        if v > max {
            return Err(SeccompError::ErrnoOutOfRange {
                field: errno_field.to_string(),
                value: v,
                action: act,
                max,
            });
        }
        // v <= max <= u16::MAX
        Ok(v as u16)
    };
    let no_errno = |a: ScmpAction| match errno {
        Some(errno) => Err(SeccompError::ErrnoWithoutErrnoAction {
            field: errno_field.to_string(),
            errno,
            action: act,
        }),
        None => Ok(a),
    };
    match act {
        LinuxSeccompAction::ScmpActErrno => Ok(ScmpAction::Errno(i32::from(value(MAX_ERRNO)?))),
        // SECCOMP_RET_TRACE passes 16 bits of data to the tracer.
        LinuxSeccompAction::ScmpActTrace => Ok(ScmpAction::Trace(value(u32::from(u16::MAX))?)),
        // SCMP_ACT_KILL is libseccomp's old name of SCMP_ACT_KILL_THREAD.
        LinuxSeccompAction::ScmpActKill | LinuxSeccompAction::ScmpActKillThread => {
            no_errno(ScmpAction::KillThread)
        }
        LinuxSeccompAction::ScmpActKillProcess => no_errno(ScmpAction::KillProcess),
        LinuxSeccompAction::ScmpActTrap => no_errno(ScmpAction::Trap),
        LinuxSeccompAction::ScmpActLog => no_errno(ScmpAction::Log),
        LinuxSeccompAction::ScmpActAllow => no_errno(ScmpAction::Allow),
        LinuxSeccompAction::ScmpActNotify => no_errno(ScmpAction::Notify),
    }
}

/// The libseccomp comparison for one `args` entry. For SCMP_CMP_MASKED_EQ, `value` is the mask
/// and `valueTwo` the value the masked argument must equal (runc's and libseccomp's reading:
/// `datum_a` is the mask); the other operators compare with `value` and ignore `valueTwo`.
fn comparison(arg: &LinuxSeccompArg, field: &str) -> Result<ScmpArgCompare, SeccompError> {
    let index = arg.index();
    if index >= SYSCALL_ARGS {
        return Err(SeccompError::ArgIndex {
            field: format!("{field}.index"),
            index,
        });
    }
    let op = match arg.op() {
        LinuxSeccompOperator::ScmpCmpNe => ScmpCompareOp::NotEqual,
        LinuxSeccompOperator::ScmpCmpLt => ScmpCompareOp::Less,
        LinuxSeccompOperator::ScmpCmpLe => ScmpCompareOp::LessOrEqual,
        LinuxSeccompOperator::ScmpCmpEq => ScmpCompareOp::Equal,
        LinuxSeccompOperator::ScmpCmpGe => ScmpCompareOp::GreaterEqual,
        LinuxSeccompOperator::ScmpCmpGt => ScmpCompareOp::Greater,
        LinuxSeccompOperator::ScmpCmpMaskedEq => ScmpCompareOp::MaskedEqual(arg.value()),
    };
    let datum = match arg.op() {
        LinuxSeccompOperator::ScmpCmpMaskedEq => arg.value_two().unwrap_or(0),
        _ => arg.value(),
    };
    // index < 6
    Ok(ScmpArgCompare::new(index as u32, op, datum))
}

/// Compiles `linux.seccomp` into the final BPF program and its load flags (in the parent,
/// before fork), with no cache: libseccomp builds the filter and exports it every time.
///
/// - `defaultAction` with `defaultErrnoRet` (EPERM when absent, for SCMP_ACT_ERRNO and
///   SCMP_ACT_TRACE; refused with any other action, as the spec requires);
/// - `architectures`: added to the native one (syscalls of another ABI hit the libseccomp
///   default bad-arch action, kill);
/// - `flags`: SECCOMP_FILTER_FLAG_LOG, _SPEC_ALLOW, _TSYNC (loaded with _TSYNC_ESRCH, Linux
///   5.7), _WAIT_KILLABLE_RECV (needs SCMP_ACT_NOTIFY rules and Linux 6.0), each refused when
///   the kernel does not know it;
/// - `syscalls`: one rule per name with its action and `errnoRet`; `args` are ANDed in one rule,
///   except when an argument index appears twice, where each comparison becomes a rule of its
///   own (runc's behaviour, which profiles written for it rely on). A name unknown to this
///   host's libseccomp is skipped with a warning (the spec: a runtime may not know every
///   syscall); a rule whose action is the default action is skipped (libseccomp refuses it and
///   it changes nothing). Several rules for one syscall combine as libseccomp combines them.
///
/// The program is libseccomp's (seccomp_export_bpf(3)) with the ENOSYS prefix (the `enosys`
/// submodule) in front when the rule applies; the filter context is dropped once exported.
///
/// # Errors
/// A [`SeccompError`] naming the field (`linux.seccomp.syscalls[2].errnoRet`, ...) for every
/// config problem; SCMP_ACT_NOTIFY without `listenerPath`; see the module docs for what is
/// refused.
pub fn compile(seccomp: &LinuxSeccomp) -> Result<SeccompProgram, SeccompError> {
    compile_in(seccomp, None).map(Compiled::finish)
}

/// [`compile`] through the cache of compiled programs (the `cache` submodule:
/// `/run/husk-seccomp-cache`, keyed by the profile, libseccomp's version, the architecture and
/// the husk binary): a hit skips libseccomp entirely; the profile is still checked and its
/// flags still asked of the kernel, and the warnings of the compile that made the entry are
/// logged again. The cache is used only when running as root; a cache that cannot be used or
/// written is logged (debug) and never fails the compile.
///
/// # Errors
/// As [`compile`].
pub fn compile_cached(seccomp: &LinuxSeccomp) -> Result<SeccompProgram, SeccompError> {
    let dir = cache::dir().unwrap_or_else(|e| {
        tracing::debug!("{e}");
        None
    });
    compile_in(seccomp, dir.as_deref()).map(Compiled::finish)
}

/// Whether a compile used the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CacheUse {
    /// No cache directory.
    Off,
    /// The program came from the cache.
    Hit,
    /// Compiled with libseccomp (and written to the cache when it could be).
    Miss,
}

/// What [`compile_in`] gives: the program, the warnings it logged, whether it hit the cache.
#[derive(Debug)]
struct Compiled {
    program: SeccompProgram,
    warnings: Vec<String>,
    cache: CacheUse,
}

impl Compiled {
    /// Logs the warnings (a cache hit logs those of the compile that made the entry) and
    /// gives the program.
    fn finish(self) -> SeccompProgram {
        for w in &self.warnings {
            tracing::warn!("{w}");
        }
        tracing::debug!("seccomp program: cache {:?}", self.cache);
        self.program
    }
}

/// One `linux.seccomp.syscalls` entry, checked.
struct Rule<'a> {
    /// `linux.seccomp.syscalls[i]`.
    field: String,
    act: ScmpAction,
    names: &'a [String],
    conditions: Vec<ScmpArgCompare>,
    /// An argument index appears twice: one rule per comparison.
    one_rule_per_condition: bool,
}

/// The profile checked without libseccomp: what a cache hit needs besides the program, and the
/// rules a miss adds.
struct Checked<'a> {
    default: ScmpAction,
    listener: Option<Listener>,
    rules: Vec<Rule<'a>>,
    flags: libc::c_ulong,
}

/// [`compile`], with the cache in `cache_dir` when given.
fn compile_in(
    seccomp: &LinuxSeccomp,
    cache_dir: Option<&std::path::Path>,
) -> Result<Compiled, SeccompError> {
    let checked = check(seccomp)?;
    let key = cache_dir.and_then(|_| cache::key(seccomp));
    let cached = match (cache_dir, &key) {
        (Some(dir), Some(key)) => cache::read(dir, key).unwrap_or_else(|e| {
            tracing::debug!("{e}");
            None
        }),
        _ => None,
    };
    let (entry, use_) = match cached {
        Some(entry) => (entry, CacheUse::Hit),
        None => {
            let entry = build(seccomp, &checked)?;
            if let (Some(dir), Some(key)) = (cache_dir, &key) {
                if let Err(e) = cache::write(dir, key, &entry) {
                    tracing::debug!("{e}");
                }
            }
            let use_ = match cache_dir {
                Some(_) => CacheUse::Miss,
                None => CacheUse::Off,
            };
            (entry, use_)
        }
    };
    Ok(Compiled {
        program: SeccompProgram {
            listener: checked.listener,
            bpf: entry.bpf,
            flags: checked.flags,
        },
        warnings: entry.warnings,
        cache: use_,
    })
}

/// Checks the profile (every field but the architectures and syscall names, which libseccomp
/// knows) and works out the load flags, asking the kernel for each.
fn check(seccomp: &LinuxSeccomp) -> Result<Checked<'_>, SeccompError> {
    let default = action(
        seccomp.default_action(),
        seccomp.default_errno_ret(),
        "linux.seccomp.defaultErrnoRet",
    )?;
    let listener = match (seccomp.listener_path(), seccomp.listener_metadata()) {
        (Some(p), _) if !p.is_absolute() => {
            return Err(SeccompError::Listener {
                field: "linux.seccomp.listenerPath",
                detail: format!("{} is not an absolute path", p.display()),
            })
        }
        (Some(p), metadata) => Some(Listener {
            path: p.clone(),
            metadata: metadata.clone().unwrap_or_default(),
            conn: None,
        }),
        (None, Some(_)) => {
            return Err(SeccompError::Listener {
                field: "linux.seccomp.listenerMetadata",
                detail: "is given without linux.seccomp.listenerPath; set both or neither".into(),
            })
        }
        (None, None) => None,
    };

    let mut notify_field = None;
    let mut rules = Vec::new();
    for (i, syscall) in seccomp.syscalls().iter().flatten().enumerate() {
        let field = format!("linux.seccomp.syscalls[{i}]");
        let act = action(
            syscall.action(),
            syscall.errno_ret(),
            &format!("{field}.errnoRet"),
        )?;
        if act == ScmpAction::Notify && notify_field.is_none() {
            notify_field = Some(format!("{field}.action"));
        }
        if syscall.names().is_empty() {
            return Err(SeccompError::EmptyNames {
                field: format!("{field}.names"),
            });
        }
        let args = syscall.args().as_deref().unwrap_or_default();
        let mut conditions = Vec::with_capacity(args.len());
        let mut seen = [0usize; SYSCALL_ARGS];
        for (j, arg) in args.iter().enumerate() {
            let c = comparison(arg, &format!("{field}.args[{j}]"))?;
            seen[arg.index()] += 1;
            conditions.push(c);
        }
        if act == default {
            tracing::debug!("{field}: action is the default action; rule skipped");
            continue;
        }
        rules.push(Rule {
            field,
            act,
            names: syscall.names(),
            conditions,
            one_rule_per_condition: seen.iter().any(|&n| n > 1),
        });
    }
    if let (Some(field), None) = (&notify_field, &listener) {
        return Err(SeccompError::NotifyWithoutListener {
            field: field.clone(),
        });
    }

    let mut flags = 0;
    if notify_field.is_some() {
        flags |= libc::SECCOMP_FILTER_FLAG_NEW_LISTENER;
    }
    for (i, flag) in seccomp.flags().iter().flatten().enumerate() {
        let field = format!("linux.seccomp.flags[{i}]");
        let (bits, since) = match flag {
            LinuxSeccompFilterFlag::SeccompFilterFlagLog => {
                (libc::SECCOMP_FILTER_FLAG_LOG, "Linux 4.14+")
            }
            LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow => {
                (libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW, "Linux 4.17+")
            }
            // Without TSYNC_ESRCH, a TSYNC failure is a thread id, not an error (and the kernel
            // takes TSYNC with NEW_LISTENER only with it).
            LinuxSeccompFilterFlag::SeccompFilterFlagTsync => (
                libc::SECCOMP_FILTER_FLAG_TSYNC | libc::SECCOMP_FILTER_FLAG_TSYNC_ESRCH,
                "Linux 5.7+, which has SECCOMP_FILTER_FLAG_TSYNC_ESRCH, husk loads it with",
            ),
            LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv => {
                if notify_field.is_none() {
                    return Err(SeccompError::WaitKillableWithoutNotify { field });
                }
                (libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV, "Linux 6.0+")
            }
        };
        let with = bits | (flags & libc::SECCOMP_FILTER_FLAG_NEW_LISTENER);
        if !husk_sys::seccomp::flags_supported(with) {
            return Err(SeccompError::FlagUnsupported {
                field,
                flag: *flag,
                detail: since,
            });
        }
        flags |= bits;
    }
    Ok(Checked {
        default,
        listener,
        rules,
        flags,
    })
}

/// Builds the filter with libseccomp and exports it, with the ENOSYS prefix in front when the
/// rule applies; the warnings are those of the names libseccomp does not know.
fn build(seccomp: &LinuxSeccomp, checked: &Checked<'_>) -> Result<cache::Entry, SeccompError> {
    let mut ctx = ScmpFilterContext::new(checked.default).map_err(|source| SeccompError::Init {
        action: seccomp.default_action(),
        source,
    })?;
    let mut archs = Vec::new();
    for (i, arch) in seccomp.architectures().iter().flatten().enumerate() {
        let field = format!("linux.seccomp.architectures[{i}]");
        // The JSON spelling, e.g. SCMP_ARCH_X86_64, which is also libseccomp's.
        let name = serde_json::to_value(arch)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_else(|| format!("{arch:?}"));
        let a = name
            .parse::<ScmpArch>()
            .and_then(|a| ctx.add_arch(a).map(|_| a))
            .map_err(|source| SeccompError::Architecture {
                field,
                arch: name,
                source,
            })?;
        archs.push(a);
    }
    // libseccomp's filter always covers the native architecture, listed or not; so does the
    // ENOSYS prefix (as runc's).
    let native = ScmpArch::native();
    if !archs.contains(&native) {
        archs.push(native);
    }
    let mut warnings = Vec::new();
    for rule in &checked.rules {
        for (j, name) in rule.names.iter().enumerate() {
            let name_field = format!("{}.names[{j}]", rule.field);
            let Ok(nr) = ScmpSyscall::from_name(name) else {
                warnings.push(format!(
                    "{name_field}: {name} is not a syscall this host's libseccomp knows; \
                     the rule is skipped"
                ));
                continue;
            };
            let rule_err = |source| SeccompError::Rule {
                field: name_field.clone(),
                name: name.clone(),
                source,
            };
            if rule.one_rule_per_condition {
                for c in &rule.conditions {
                    ctx.add_rule_conditional(rule.act, nr, std::slice::from_ref(c))
                        .map_err(rule_err)?;
                }
            } else {
                ctx.add_rule_conditional(rule.act, nr, &rule.conditions)
                    .map_err(rule_err)?;
            }
        }
    }
    let mut bpf = enosys::prefix(seccomp, &archs).unwrap_or_default();
    bpf.extend(export(&ctx)?);
    Ok(cache::Entry { bpf, warnings })
}

/// The filter's BPF program, exported by libseccomp (seccomp_export_bpf(3)) into a memfd and
/// read back.
fn export(ctx: &ScmpFilterContext) -> Result<Vec<husk_sys::seccomp::SockFilter>, SeccompError> {
    use std::io::{Read, Seek};
    let err = |detail: String| SeccompError::Export { detail };
    let fd = nix::sys::memfd::memfd_create(
        c"husk-seccomp-bpf",
        nix::sys::memfd::MemFdCreateFlag::MFD_CLOEXEC,
    )
    .map_err(|e| err(format!("memfd_create: {e}")))?;
    ctx.export_bpf(&fd).map_err(|e| err(e.to_string()))?;
    let mut f = std::fs::File::from(fd);
    let mut raw = Vec::new();
    f.rewind()
        .and_then(|_| f.read_to_end(&mut raw))
        .map_err(|e| err(format!("reading it back: {e}")))?;
    husk_sys::seccomp::parse_bpf(&raw).map_err(|e| err(format!("{} bytes: {e}", raw.len())))
}

impl SeccompProgram {
    /// Whether the profile has `listenerPath` (its SCMP_ACT_NOTIFY rules need an agent).
    pub fn has_listener(&self) -> bool {
        self.listener.is_some()
    }

    /// Connects to `linux.seccomp.listenerPath`, in the runtime before fork (the init inherits
    /// the connection and sends the notify fd over it once the filter is loaded). Does nothing
    /// without a listenerPath.
    ///
    /// # Errors
    /// [`SeccompError::ListenerConnect`] when nothing listens there.
    pub fn connect_listener(&mut self) -> Result<(), SeccompError> {
        if let Some(l) = &mut self.listener {
            let conn = std::os::unix::net::UnixStream::connect(&l.path).map_err(|source| {
                SeccompError::ListenerConnect {
                    path: l.path.clone(),
                    source,
                }
            })?;
            l.conn = Some(conn);
        }
        Ok(())
    }

    /// Loads the program into the calling thread with seccomp(2) and its flags
    /// ([`husk_sys::seccomp::set_mode_filter`], `man 2 seccomp`; with
    /// SECCOMP_FILTER_FLAG_TSYNC into every thread). Irreversible; inherited across fork and
    /// execve. No libseccomp call is made here.
    ///
    /// Without no_new_privs set on the thread, the kernel requires CAP_SYS_ADMIN: call it before
    /// the capabilities are dropped (see the module docs for the order).
    ///
    /// With `listenerPath` and SCMP_ACT_NOTIFY rules, the program is loaded with
    /// SECCOMP_FILTER_FLAG_NEW_LISTENER and the notify fd is sent right away, with SCM_RIGHTS,
    /// to the agent together with the container process state (runtime-spec runtime.md
    /// "Container process state": ociVersion, fds ["seccompFd"], pid, metadata, state).
    /// `state_json` is the container's state (the one the hooks get); its status is sent as
    /// `created` (the user program has not started yet).
    ///
    /// # Errors
    /// [`SeccompError::LoadRaw`] with the errno of seccomp(2);
    /// [`SeccompError::ListenerSend`] when the fd or the state cannot be sent.
    pub fn load(&self, state_json: &[u8]) -> Result<(), SeccompError> {
        let notify_fd =
            husk_sys::seccomp::set_mode_filter(&self.bpf, self.flags).map_err(|source| {
                SeccompError::LoadRaw {
                    flags: self.flags,
                    source,
                }
            })?;
        let Some(l) = &self.listener else {
            return Ok(());
        };
        let send_err = |detail: String| SeccompError::ListenerSend {
            path: l.path.clone(),
            detail,
        };
        // A listenerPath without SCMP_ACT_NOTIFY rules: no listener.
        let Some(fd) = &notify_fd else {
            return Ok(());
        };
        let fd = std::os::fd::AsRawFd::as_raw_fd(fd);
        let conn = l
            .conn
            .as_ref()
            .ok_or_else(|| send_err("not connected (connect_listener was not called)".into()))?;
        let msg = process_state(state_json, &l.metadata)
            .map_err(|e| send_err(format!("the container state: {e}")))?;
        // sendmsg duplicates the fd into the message; the init's copy is closed on return.
        let iov = [std::io::IoSlice::new(&msg)];
        let fds = [fd];
        let cmsg = [nix::sys::socket::ControlMessage::ScmRights(&fds)];
        let sent = nix::sys::socket::sendmsg::<()>(
            std::os::fd::AsRawFd::as_raw_fd(conn),
            &iov,
            &cmsg,
            nix::sys::socket::MsgFlags::MSG_NOSIGNAL,
            None,
        )
        .map_err(|e| send_err(format!("sendmsg: {e}")))?;
        if sent != msg.len() {
            return Err(send_err(format!(
                "sendmsg sent {sent} of {} bytes",
                msg.len()
            )));
        }
        Ok(())
    }
}

/// The runtime-spec "containerProcessState" (runtime.md) for the agent at listenerPath.
fn process_state(state_json: &[u8], metadata: &str) -> Result<Vec<u8>, serde_json::Error> {
    let mut state: serde_json::Value = serde_json::from_slice(state_json)?;
    state["status"] = serde_json::json!("created");
    let msg = serde_json::json!({
        "ociVersion": state["ociVersion"].clone(),
        "fds": ["seccompFd"],
        "pid": state["pid"].clone(),
        "metadata": metadata,
        "state": state,
    });
    serde_json::to_vec(&msg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capabilities::test_child;

    fn profile(json: &str) -> LinuxSeccomp {
        serde_json::from_str(json).unwrap()
    }

    fn err(json: &str) -> String {
        compile(&profile(json)).unwrap_err().to_string()
    }

    #[test]
    fn default_errno_ret_with_an_action_without_errno_is_refused() {
        assert_eq!(
            err(r#"{"defaultAction": "SCMP_ACT_ALLOW", "defaultErrnoRet": 1}"#),
            "linux.seccomp.defaultErrnoRet: 1 is given with SCMP_ACT_ALLOW, an action that \
             returns no errno; remove it, or use SCMP_ACT_ERRNO or SCMP_ACT_TRACE"
        );
        compile(&profile(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38}"#,
        ))
        .unwrap();
    }

    #[test]
    fn errno_ret_with_kill_is_refused() {
        assert_eq!(
            err(r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {"names": ["getcwd"], "action": "SCMP_ACT_ERRNO"},
                {"names": ["mkdir"], "action": "SCMP_ACT_KILL_PROCESS", "errnoRet": 1}]}"#),
            "linux.seccomp.syscalls[1].errnoRet: 1 is given with SCMP_ACT_KILL_PROCESS, an \
             action that returns no errno; remove it, or use SCMP_ACT_ERRNO or SCMP_ACT_TRACE"
        );
    }

    #[test]
    fn errno_ret_above_max_errno_is_refused() {
        assert_eq!(
            err(r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {"names": ["getcwd"], "action": "SCMP_ACT_ERRNO", "errnoRet": 4096}]}"#),
            "linux.seccomp.syscalls[0].errnoRet: 4096 is out of range for SCMP_ACT_ERRNO; the \
             largest value is 4095"
        );
    }

    #[test]
    fn arg_index_past_five_is_refused() {
        assert_eq!(
            err(r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {"names": ["dup"], "action": "SCMP_ACT_ERRNO",
                 "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"},
                          {"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}]}"#),
            "linux.seccomp.syscalls[0].args[1].index: 6 is out of range; a syscall's \
             arguments are 0 to 5"
        );
    }

    #[test]
    fn empty_names_are_refused() {
        assert_eq!(
            err(r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {"names": [], "action": "SCMP_ACT_ERRNO"}]}"#),
            "linux.seccomp.syscalls[0].names: names must list at least one syscall"
        );
    }

    #[test]
    fn notify_needs_an_absolute_listener_path() {
        assert_eq!(
            err(r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {"names": ["getcwd"], "action": "SCMP_ACT_ERRNO"},
                {"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]}"#),
            "linux.seccomp.syscalls[1].action: SCMP_ACT_NOTIFY needs linux.seccomp.listenerPath \
             (the unix socket of the seccomp agent that answers the notifications); set it, or \
             use another action"
        );
        assert_eq!(
            err(r#"{"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "agent.sock"}"#),
            "linux.seccomp.listenerPath: agent.sock is not an absolute path"
        );
        assert!(
            err(r#"{"defaultAction": "SCMP_ACT_ALLOW", "listenerMetadata": "x"}"#)
                .starts_with("linux.seccomp.listenerMetadata: is given without")
        );
        let p = compile(&profile(
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/run/agent.sock",
                "listenerMetadata": "m", "syscalls": [
                {"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]}"#,
        ))
        .unwrap();
        assert!(p.has_listener());
    }

    #[test]
    fn process_state_has_the_spec_fields() {
        let state = br#"{"ociVersion": "1.3.0", "id": "c1", "status": "creating", "pid": 42,
                         "bundle": "/b"}"#;
        let v: serde_json::Value =
            serde_json::from_slice(&process_state(state, "meta").unwrap()).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "ociVersion": "1.3.0", "fds": ["seccompFd"], "pid": 42, "metadata": "meta",
                "state": {"ociVersion": "1.3.0", "id": "c1", "status": "created", "pid": 42,
                          "bundle": "/b"}})
        );
    }

    #[test]
    fn wait_killable_recv_needs_notify_and_exports_the_program() {
        assert_eq!(
            err(r#"{"defaultAction": "SCMP_ACT_ALLOW", "flags":
                ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]}"#),
            "linux.seccomp.flags[1]: SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV applies to \
             SCMP_ACT_NOTIFY rules and the profile has none; remove it"
        );
        let with_notify = r#"{"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/run/a.sock",
            "flags": ["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
            "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]}"#;
        let wkr =
            libc::SECCOMP_FILTER_FLAG_NEW_LISTENER | libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
        if !husk_sys::seccomp::flags_supported(wkr) {
            assert!(err(with_notify).contains("is not supported by this host's kernel"));
            eprintln!("kernel before 6.0: SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV refused");
            return;
        }
        let p = compile(&profile(with_notify)).unwrap();
        assert_eq!(p.flags, wkr);
        let bpf = &p.bpf;
        // It returns the default action (ALLOW) and the rule's (USER_NOTIF) somewhere.
        let ret = (libc::BPF_RET | libc::BPF_K) as u16;
        for want in [libc::SECCOMP_RET_ALLOW, libc::SECCOMP_RET_USER_NOTIF] {
            assert!(
                bpf.iter().any(|i| i.code == ret && i.k == want),
                "no return of {want:#x}"
            );
        }
    }

    #[test]
    fn unknown_names_and_default_action_rules_are_skipped() {
        let p = compile(&profile(
            r#"{"defaultAction": "SCMP_ACT_ERRNO",
                "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
                "flags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"],
                "syscalls": [
                {"names": ["no_such_syscall", "getcwd"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"},
                {"names": ["socketcall"], "action": "SCMP_ACT_ALLOW"}]}"#,
        ))
        .unwrap();
        assert_eq!(
            p.flags,
            libc::SECCOMP_FILTER_FLAG_LOG | libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW
        );
        // The program checks each architecture: x86_64 (x32 shares it) and i386.
        let jeq = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
        for audit_arch in [62 | 0xC000_0000, 3 | 0x4000_0000] {
            assert!(
                p.bpf.iter().any(|i| i.code == jeq && i.k == audit_arch),
                "no check of {audit_arch:#x}"
            );
        }
        // The x32 calls (bit 30 set) are told apart from x86_64's.
        let jge = (libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K) as u16;
        let jset = (libc::BPF_JMP | libc::BPF_JSET | libc::BPF_K) as u16;
        assert!(p
            .bpf
            .iter()
            .any(|i| (i.code == jge || i.code == jset) && i.k == 0x4000_0000));
    }

    /// A program's instructions as plain tuples (to compare two programs).
    fn insns(p: &SeccompProgram) -> Vec<(u16, u8, u8, u32)> {
        p.bpf.iter().map(|i| (i.code, i.jt, i.jf, i.k)).collect()
    }

    /// A profile like the engines' (deny by default, three architectures, an unknown name, an
    /// argument rule), for the cache tests.
    const CACHED: &str = r#"{"defaultAction": "SCMP_ACT_ERRNO",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "flags": ["SECCOMP_FILTER_FLAG_LOG"],
        "syscalls": [
        {"names": ["read", "write", "no_such_syscall", "exit_group"], "action": "SCMP_ACT_ALLOW"},
        {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
         "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]}]}"#;

    #[test]
    fn a_cached_compile_gives_the_uncached_program_and_hits_the_second_time() {
        let dir = tempfile::tempdir().unwrap();
        let p = profile(CACHED);
        let plain = compile_in(&p, None).unwrap();
        assert_eq!(plain.cache, CacheUse::Off);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);

        let miss = compile_in(&p, Some(dir.path())).unwrap();
        assert_eq!(miss.cache, CacheUse::Miss);
        let entries: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(entries.len(), 1, "{entries:?}");
        let entry = &entries[0];
        assert_eq!(
            entry.file_name().unwrap().to_str().unwrap(),
            cache::key(&p).unwrap()
        );
        let before = std::fs::metadata(entry).unwrap();

        let hit = compile_in(&p, Some(dir.path())).unwrap();
        assert_eq!(hit.cache, CacheUse::Hit);
        // Not rewritten: the same file, untouched.
        let after = std::fs::metadata(entry).unwrap();
        use std::os::unix::fs::MetadataExt;
        assert_eq!(
            (after.ino(), after.mtime(), after.mtime_nsec()),
            (before.ino(), before.mtime(), before.mtime_nsec())
        );
        // The same program, ENOSYS prefix included (it starts with `ld [4]`), and flags.
        assert!(insns(&plain.program).len() > 10);
        assert_eq!(insns(&plain.program)[0], (0x20, 0, 0, 4));
        assert_eq!(insns(&miss.program), insns(&plain.program));
        assert_eq!(insns(&hit.program), insns(&plain.program));
        for c in [&plain, &miss, &hit] {
            assert_eq!(c.program.flags, libc::SECCOMP_FILTER_FLAG_LOG);
        }
        // The unknown name's warning comes back with the hit.
        let want = [
            "linux.seccomp.syscalls[0].names[2]: no_such_syscall is not a syscall this \
                     host's libseccomp knows; the rule is skipped",
        ];
        assert_eq!(plain.warnings, want);
        assert_eq!(hit.warnings, want);

        // Another profile is another entry.
        let mut other = p.clone();
        other.set_default_errno_ret(Some(1));
        assert_eq!(
            compile_in(&other, Some(dir.path())).unwrap().cache,
            CacheUse::Miss
        );
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    }

    #[test]
    fn a_damaged_cache_entry_is_compiled_again_and_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let p = profile(CACHED);
        let want = insns(&compile(&p).unwrap());
        let entry = dir.path().join(cache::key(&p).unwrap());
        let good = {
            compile_in(&p, Some(dir.path())).unwrap();
            std::fs::read(&entry).unwrap()
        };
        let mut flipped = good.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        let damaged: [&[u8]; 5] = [
            &good[..good.len() - 8],
            &good[..good.len() - 3],
            &good[..20],
            b"garbage that is no entry at all",
            &flipped,
        ];
        for bad in damaged {
            std::fs::write(&entry, bad).unwrap();
            let c = compile_in(&p, Some(dir.path())).unwrap();
            assert_eq!(c.cache, CacheUse::Miss, "{} bytes", bad.len());
            assert_eq!(insns(&c.program), want);
            assert_eq!(std::fs::read(&entry).unwrap(), good);
            assert_eq!(
                compile_in(&p, Some(dir.path())).unwrap().cache,
                CacheUse::Hit
            );
        }
        // A directory in the entry's place: not used, not replaced, the compile still works.
        std::fs::remove_file(&entry).unwrap();
        std::fs::create_dir(&entry).unwrap();
        let c = compile_in(&p, Some(dir.path())).unwrap();
        assert_eq!(insns(&c.program), want);
        assert!(entry.is_dir());
        // No temporary file is left behind.
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }

    #[test]
    fn a_cache_hit_still_checks_the_flags_with_the_kernel() {
        // An entry for a profile with WAIT_KILLABLE_RECV: on a kernel without it, the compile
        // is refused before the cache is read; with it, the hit carries the flag.
        let dir = tempfile::tempdir().unwrap();
        let p = profile(
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/run/a.sock",
                "flags": ["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
                "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]}"#,
        );
        let wkr =
            libc::SECCOMP_FILTER_FLAG_NEW_LISTENER | libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
        if !husk_sys::seccomp::flags_supported(wkr) {
            // Plant an entry as if an older boot had made it.
            let entry = cache::Entry {
                bpf: compile(&profile(r#"{"defaultAction": "SCMP_ACT_ALLOW"}"#))
                    .unwrap()
                    .bpf,
                warnings: Vec::new(),
            };
            cache::write(dir.path(), &cache::key(&p).unwrap(), &entry).unwrap();
            let e = compile_in(&p, Some(dir.path())).unwrap_err().to_string();
            assert!(e.contains("is not supported by this host's kernel"), "{e}");
            return;
        }
        compile_in(&p, Some(dir.path())).unwrap();
        let hit = compile_in(&p, Some(dir.path())).unwrap();
        assert_eq!(hit.cache, CacheUse::Hit);
        assert_eq!(hit.program.flags, wkr);
        assert!(hit.program.has_listener());
    }

    /// The child half of [`load_makes_syscalls_fail_with_the_errno`]: loads the profile and
    /// prints what the denied calls returned.
    fn load_in_child() {
        let p = compile(&profile(
            r#"{"defaultAction": "SCMP_ACT_ALLOW",
                "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
                "syscalls": [
                {"names": ["getcwd"], "action": "SCMP_ACT_ERRNO", "errnoRet": 42},
                {"names": ["dup"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13,
                 "args": [{"index": 0, "value": 2, "op": "SCMP_CMP_EQ"}]},
                {"names": ["dup3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 71,
                 "args": [{"index": 2, "value": 524288, "valueTwo": 524288,
                           "op": "SCMP_CMP_MASKED_EQ"}]}]}"#,
        ))
        .unwrap();
        p.load(b"").unwrap();
        let errno = |r: nix::Result<std::os::fd::RawFd>| match r {
            Ok(fd) => {
                nix::unistd::close(fd).unwrap();
                "ok".to_string()
            }
            Err(e) => format!("{}", e as i32),
        };
        println!();
        println!(
            "getcwd={}",
            std::env::current_dir().unwrap_err().raw_os_error().unwrap()
        );
        println!("dup(2)={}", errno(nix::unistd::dup(2)));
        println!("dup(1)={}", errno(nix::unistd::dup(1)));
        let cloexec = nix::fcntl::OFlag::O_CLOEXEC;
        println!(
            "dup3(cloexec)={}",
            errno(nix::unistd::dup3(1, 100, cloexec))
        );
        let none = nix::fcntl::OFlag::empty();
        println!("dup3(0)={}", errno(nix::unistd::dup3(1, 100, none)));
        let status = std::fs::read_to_string("/proc/thread-self/status").unwrap();
        let line = status.lines().find(|l| l.starts_with("Seccomp:")).unwrap();
        println!("{line}");
    }

    #[test]
    fn load_makes_syscalls_fail_with_the_errno() {
        const NAME: &str = "seccomp::tests::load_makes_syscalls_fail_with_the_errno";
        if test_child::is_child(NAME) {
            return load_in_child();
        }
        // Loading without no_new_privs needs CAP_SYS_ADMIN.
        if !test_child::is_root(NAME) {
            return;
        }
        let out = test_child::run(NAME);
        let stdout = String::from_utf8_lossy(&out.stdout);
        for want in [
            "getcwd=42",
            "dup(2)=13",
            "dup(1)=ok",
            "dup3(cloexec)=71",
            "dup3(0)=ok",
            "Seccomp:\t2",
        ] {
            assert!(
                stdout.lines().any(|l| l == want),
                "no `{want}` in:\n{stdout}"
            );
        }
    }

    #[test]
    fn calls_above_the_largest_named_fail_with_enosys_in_the_kernel() {
        const NAME: &str =
            "seccomp::tests::calls_above_the_largest_named_fail_with_enosys_in_the_kernel";
        if test_child::is_child(NAME) {
            // Deny with EPERM; allow only what the child needs to report and exit. The largest
            // x86_64 number named is exit_group (231).
            let p = compile(&profile(
                r#"{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
                    "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
                    "syscalls": [{"names": ["write", "exit_group"], "action": "SCMP_ACT_ALLOW"}]}"#,
            ))
            .unwrap();
            // getpid is denied once the filter is in: asked before.
            let pid = rustix::process::getpid();
            p.load(b"").unwrap();
            let errno = |r: Result<(), std::io::Error>| match r {
                Ok(()) => 0,
                Err(e) => e.raw_os_error().unwrap_or(0),
            };
            let chdir = errno(std::env::set_current_dir("/"));
            let getrandom = errno(
                rustix::rand::getrandom(&mut [0u8; 4], rustix::rand::GetRandomFlags::empty())
                    .map(drop)
                    .map_err(Into::into),
            );
            let pidfd_open = errno(
                rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty())
                    .map(drop)
                    .map_err(Into::into),
            );
            use std::io::Write;
            let mut out = std::io::stdout();
            let _ = writeln!(
                out,
                "\nchdir={chdir} getrandom={getrandom} pidfd_open={pidfd_open}"
            );
            let _ = out.flush();
            std::process::exit(0);
        }
        if !test_child::is_root(NAME) {
            return;
        }
        let out = test_child::run(NAME);
        let stdout = String::from_utf8_lossy(&out.stdout);
        // chdir (80) is below the largest named call: the default action, EPERM. getrandom
        // (318) and pidfd_open (434) are above it: ENOSYS.
        assert!(
            stdout
                .lines()
                .any(|l| l == "chdir=1 getrandom=38 pidfd_open=38"),
            "{stdout}"
        );
    }

    #[test]
    fn kill_process_action_kills() {
        const NAME: &str = "seccomp::tests::kill_process_action_kills";
        if test_child::is_child(NAME) {
            let p = compile(&profile(
                r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                    {"names": ["getppid"], "action": "SCMP_ACT_KILL_PROCESS"}]}"#,
            ))
            .unwrap();
            p.load(b"").unwrap();
            let ppid = nix::unistd::getppid();
            println!("\nsurvived getppid: {ppid}");
            return;
        }
        if !test_child::is_root(NAME) {
            return;
        }
        let out = test_child::run_unchecked(NAME);
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(
            out.status.signal(),
            Some(libc::SIGSYS),
            "{:?}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout)
        );
    }
}
