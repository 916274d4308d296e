//! Per-task kernel attributes that `nix` does not wrap: the scheduling policy and its parameters
//! (`sched_setattr(2)`), the I/O priority (`ioprio_set(2)`), the NUMA memory policy
//! (`set_mempolicy(2)`) and the execution domain (`personality(2)`). Each applies to the calling
//! thread and survives fork(2) and execve(2), which is why the container's init sets them just
//! before it executes the user's program.

use std::io;

/// `SCHED_ATTR_SIZE_VER1` (Linux 5.3): `struct sched_attr` with the utilization clamp fields.
/// Older kernels accept it too, as long as the fields they do not know are zero.
const SCHED_ATTR_SIZE_VER1: u32 = 56;

/// `struct sched_attr` (`man 2 sched_setattr`, include/uapi/linux/sched/types.h).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct RawSchedAttr {
    size: u32,
    sched_policy: u32,
    sched_flags: u64,
    sched_nice: i32,
    sched_priority: u32,
    sched_runtime: u64,
    sched_deadline: u64,
    sched_period: u64,
    sched_util_min: u32,
    sched_util_max: u32,
}

/// The scheduling attributes `sched_setattr(2)` takes, in the kernel's units.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SchedAttr {
    /// The policy: `SCHED_OTHER` (0), `SCHED_FIFO` (1), `SCHED_RR` (2), `SCHED_BATCH` (3),
    /// `SCHED_IDLE` (5), `SCHED_DEADLINE` (6).
    pub policy: u32,
    /// `SCHED_FLAG_*` bits (`SCHED_FLAG_RESET_ON_FORK` = 0x01, …).
    pub flags: u64,
    /// The nice value, -20 (favoured) to 19, for `SCHED_OTHER` and `SCHED_BATCH`.
    pub nice: i32,
    /// The static priority, 1 to 99 for `SCHED_FIFO` and `SCHED_RR`, 0 otherwise.
    pub priority: u32,
    /// `SCHED_DEADLINE` runtime, in nanoseconds.
    pub runtime: u64,
    /// `SCHED_DEADLINE` relative deadline, in nanoseconds.
    pub deadline: u64,
    /// `SCHED_DEADLINE` period, in nanoseconds (0: the deadline).
    pub period: u64,
}

/// `sched_setattr(0, attr, 0)` (`man 2 sched_setattr`, Linux 3.14): set the calling thread's
/// scheduling policy and parameters.
///
/// # Errors
/// EINVAL for a policy, priority, flag or deadline triple the kernel refuses; EPERM when raising
/// the priority needs CAP_SYS_NICE (a real-time policy, a lower nice value) or, with cgroup v1
/// real-time group scheduling, when the caller's cgroup has no `cpu.rt_runtime_us` budget; EBUSY
/// when `SCHED_DEADLINE` bandwidth admission fails.
pub fn sched_setattr(attr: &SchedAttr) -> io::Result<()> {
    let raw = RawSchedAttr {
        size: SCHED_ATTR_SIZE_VER1,
        sched_policy: attr.policy,
        sched_flags: attr.flags,
        sched_nice: attr.nice,
        sched_priority: attr.priority,
        sched_runtime: attr.runtime,
        sched_deadline: attr.deadline,
        sched_period: attr.period,
        sched_util_min: 0,
        sched_util_max: 0,
    };
    // SAFETY: `raw` is a live, properly aligned `struct sched_attr` whose `size` field matches
    // its layout (SCHED_ATTR_SIZE_VER1 = 56 bytes); the kernel only reads it. pid 0 is the
    // calling thread and the flags argument must be 0.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_sched_setattr,
            0 as libc::pid_t,
            &raw as *const RawSchedAttr,
            0 as libc::c_uint,
        )
    };
    if ret == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `IOPRIO_WHO_PROCESS` (include/uapi/linux/ioprio.h).
const IOPRIO_WHO_PROCESS: libc::c_int = 1;
/// The class sits above the 13 bits of class data (`IOPRIO_CLASS_SHIFT`).
const IOPRIO_CLASS_SHIFT: u32 = 13;

/// `ioprio_set(IOPRIO_WHO_PROCESS, 0, IOPRIO_PRIO_VALUE(class, level))` (`man 2 ioprio_set`):
/// set the calling thread's I/O scheduling class (1 real-time, 2 best-effort, 3 idle) and level
/// (0 highest to 7 lowest).
///
/// # Errors
/// EINVAL for an unknown class or a level above 7; EPERM for the real-time class without
/// CAP_SYS_ADMIN or CAP_SYS_NICE.
pub fn ioprio_set(class: u32, level: u32) -> io::Result<()> {
    let value = (class << IOPRIO_CLASS_SHIFT) | level;
    // SAFETY: ioprio_set takes three integers; no memory is passed. `which` 0 with
    // IOPRIO_WHO_PROCESS is the calling thread.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_ioprio_set,
            IOPRIO_WHO_PROCESS,
            0 as libc::c_int,
            value as libc::c_int,
        )
    };
    if ret == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `set_mempolicy(mode | flags, nodemask, maxnode)` (`man 2 set_mempolicy`): set the calling
/// thread's default NUMA memory policy. `mode` already holds the `MPOL_F_*` flag bits; node N is
/// bit N of `nodemask` (bit N % 64 of word N / 64). An empty mask passes a null pointer, as
/// `MPOL_DEFAULT` and `MPOL_LOCAL` require.
///
/// # Errors
/// EINVAL for an unknown mode or flag, a mask the mode does not accept, or nodes that are not
/// online memory nodes allowed by the caller's cpuset; ENOSYS on a kernel without CONFIG_NUMA.
pub fn set_mempolicy(mode: libc::c_int, nodemask: &[libc::c_ulong]) -> io::Result<()> {
    let (ptr, maxnode) = if nodemask.iter().all(|w| *w == 0) {
        (std::ptr::null(), 0)
    } else {
        // The kernel reads `maxnode - 1` bits (get_nodes() decrements it first): one more than
        // the mask holds, so every bit of the last word counts.
        let bits = nodemask.len() * libc::c_ulong::BITS as usize;
        (nodemask.as_ptr(), bits as libc::c_ulong + 1)
    };
    // SAFETY: `ptr` is null with maxnode 0, or points to `nodemask`, which is live and holds
    // exactly `maxnode - 1` bits; the kernel only reads it.
    let ret = unsafe { libc::syscall(libc::SYS_set_mempolicy, mode, ptr, maxnode) };
    if ret == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `PER_LINUX` (include/uapi/linux/personality.h): the standard execution domain.
pub const PER_LINUX: libc::c_ulong = 0x0000;
/// `PER_LINUX32`: like `PER_LINUX`, but uname(2) reports a 32-bit machine (`i686` on x86_64).
pub const PER_LINUX32: libc::c_ulong = 0x0008;

/// `personality(persona)` (`man 2 personality`): set the calling process's execution domain and
/// flags. Returns the previous persona.
///
/// # Errors
/// EINVAL when the kernel cannot change to the domain.
pub fn personality(persona: libc::c_ulong) -> io::Result<libc::c_ulong> {
    // SAFETY: personality(2) takes one integer and passes no memory.
    let ret = unsafe { libc::personality(persona) };
    if ret == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(ret as libc::c_ulong)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sched_attr_has_the_ver1_layout() {
        assert_eq!(
            std::mem::size_of::<RawSchedAttr>(),
            SCHED_ATTR_SIZE_VER1 as usize
        );
    }

    /// Runs `f` in a forked child and returns its exit code: these calls change the calling
    /// thread, which must not be a test harness thread. (The harness is multi-threaded; glibc's
    /// fork keeps malloc usable in the child, which is all `f` needs.)
    fn in_child(f: impl FnOnce() -> i32) -> i32 {
        match crate::fork().unwrap() {
            crate::Forked::Child => {
                let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or(99);
                std::process::exit(code)
            }
            crate::Forked::Parent(pid) => match nix::sys::wait::waitpid(pid, None).unwrap() {
                nix::sys::wait::WaitStatus::Exited(_, code) => code,
                other => panic!("child: {other:?}"),
            },
        }
    }

    #[test]
    fn sched_setattr_batch_with_nice_is_visible_in_proc() {
        let code = in_child(|| {
            let attr = SchedAttr {
                policy: 3, // SCHED_BATCH
                nice: 7,
                ..SchedAttr::default()
            };
            if sched_setattr(&attr).is_err() {
                return 1;
            }
            // /proc/self/stat: field 19 is nice, field 41 the policy (`man 5 proc`).
            let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
            let after: Vec<&str> = stat
                .rsplit_once(')')
                .unwrap()
                .1
                .split_whitespace()
                .collect();
            i32::from(after[16] != "7") * 2 + i32::from(after[38] != "3") * 4
        });
        assert_eq!(code, 0);
    }

    #[test]
    fn sched_setattr_refuses_a_priority_for_sched_other() {
        let code = in_child(|| {
            let attr = SchedAttr {
                priority: 5,
                ..SchedAttr::default()
            };
            match sched_setattr(&attr) {
                Err(e) if e.raw_os_error() == Some(libc::EINVAL) => 0,
                _ => 1,
            }
        });
        assert_eq!(code, 0);
    }

    #[test]
    fn ioprio_set_best_effort_level_is_inherited_by_a_child() {
        let code = in_child(|| {
            if ioprio_set(2, 6).is_err() {
                return 1;
            }
            // ionice(1) without arguments prints its own class and level.
            let out = std::process::Command::new("ionice").output().unwrap();
            i32::from(out.stdout != b"best-effort: prio 6\n") * 2
        });
        assert_eq!(code, 0);
    }

    #[test]
    fn personality_linux32_changes_uname_machine() {
        let code = in_child(|| {
            if personality(PER_LINUX32).is_err() {
                return 1;
            }
            // The persona is inherited across fork and execve: uname(1) must see it.
            let out = std::process::Command::new("uname")
                .arg("-m")
                .output()
                .unwrap();
            i32::from(out.stdout != b"i686\n") * 2
        });
        assert_eq!(code, 0);
    }

    #[test]
    fn set_mempolicy_default_takes_no_nodes() {
        let code = in_child(|| match set_mempolicy(0, &[0]) {
            Ok(()) => 0,
            Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => 0,
            Err(_) => 1,
        });
        assert_eq!(code, 0);
    }
}
