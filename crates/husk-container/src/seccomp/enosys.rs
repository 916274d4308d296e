//! The ENOSYS rule (runc's, `libcontainer/seccomp/patchbpf`): a classic BPF prefix put in
//! front of the program libseccomp generates, so that, per architecture, a system call whose
//! number is above the largest one the profile names fails with ENOSYS instead of getting
//! the profile's default action.
//!
//! Why: a profile is written against the system calls of its day. A newer C library tries a
//! newer call first (clone3, faccessat2, openat2, close_range...) and falls back to the old one
//! on ENOSYS; with a deny-by-EPERM default it would see EPERM and fail instead. The kernel's own
//! answer for a call it lacks is ENOSYS, so a call the profile cannot know about gets that.
//!
//! When: only when the default action denies (not SCMP_ACT_ALLOW, SCMP_ACT_LOG or
//! SCMP_ACT_TRACE, where new calls are not refused anyway) and is not already ENOSYS. The
//! largest number is taken per architecture of `linux.seccomp.architectures` plus the native
//! one (which libseccomp's filter always covers), over every name of every `syscalls` entry
//! that the architecture's table knows, whatever the entry's action.
//!
//! The prefix (seccomp_data: `nr` at offset 0, `arch` at 4; `man 2 seccomp`):
//!
//! ```text
//!     ld [4]                      ; arch
//!     jeq AUDIT_ARCH_A, 0, len(A) ; one section per architecture the filter has
//!     <section A>
//!     jeq AUDIT_ARCH_B, 0, len(B)
//!     <section B>
//! end:                            ; libseccomp's program starts here
//! section:  ld [0]; jgt MAX, 0, 1; ret ERRNO(ENOSYS); ja end
//! ```
//!
//! x86_64 and x32 share AUDIT_ARCH_X86_64; x32 calls have bit 30 (`__X32_SYSCALL_BIT`) set in
//! `nr`, and each mode is compared with its own largest number (a mode the profile does not
//! list goes straight to libseccomp's program, which treats it as a bad architecture).
//! Conditional jumps here span at most 5 instructions; `ja` has a 32-bit offset, so the prefix
//! has no long-jump cases.

use libseccomp::{ScmpArch, ScmpSyscall};
use oci_spec::runtime::{LinuxSeccomp, LinuxSeccompAction};

use husk_sys::seccomp::SockFilter;

/// `__X32_SYSCALL_BIT` (arch/x86/include/uapi/asm/unistd.h).
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// SECCOMP_RET_ERRNO | ENOSYS (linux/seccomp.h).
const RET_ENOSYS: u32 = 0x0005_0000 | libc::ENOSYS as u32;

// linux/audit.h: EM_* | __AUDIT_ARCH_64BIT (0x8000_0000) | __AUDIT_ARCH_LE (0x4000_0000),
// plus __AUDIT_ARCH_CONVENTION_MIPS64_N32 (0x2000_0000) for the MIPS n32 ABIs.
const AUDIT_ARCH_X86_64: u32 = 62 | 0xC000_0000;
const AUDIT_ARCH_I386: u32 = 3 | 0x4000_0000;
const AUDIT_ARCH_AARCH64: u32 = 183 | 0xC000_0000;
const AUDIT_ARCH_ARM: u32 = 40 | 0x4000_0000;
const AUDIT_ARCH_RISCV64: u32 = 243 | 0xC000_0000;
const AUDIT_ARCH_LOONGARCH64: u32 = 258 | 0xC000_0000;
const AUDIT_ARCH_PPC: u32 = 20;
const AUDIT_ARCH_PPC64: u32 = 21 | 0x8000_0000;
const AUDIT_ARCH_PPC64LE: u32 = 21 | 0xC000_0000;
const AUDIT_ARCH_MIPS: u32 = 8;
const AUDIT_ARCH_MIPSEL: u32 = 8 | 0x4000_0000;
const AUDIT_ARCH_MIPS64: u32 = 8 | 0x8000_0000;
const AUDIT_ARCH_MIPSEL64: u32 = 8 | 0xC000_0000;
const AUDIT_ARCH_MIPS64N32: u32 = 8 | 0xA000_0000;
const AUDIT_ARCH_MIPSEL64N32: u32 = 8 | 0xE000_0000;

/// How an architecture's calls are told apart in `seccomp_data`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// The only ABI of its AUDIT_ARCH value.
    Plain,
    /// x86_64 proper: bit 30 of `nr` clear.
    Amd64,
    /// x32: bit 30 of `nr` set.
    X32,
}

/// The AUDIT_ARCH value the kernel reports for `arch`, and its mode; None for an architecture
/// this table lacks (it gets no section: libseccomp's program decides alone).
fn audit_arch(arch: ScmpArch) -> Option<(u32, Mode)> {
    let plain = |a| Some((a, Mode::Plain));
    match arch {
        ScmpArch::X8664 => Some((AUDIT_ARCH_X86_64, Mode::Amd64)),
        ScmpArch::X32 => Some((AUDIT_ARCH_X86_64, Mode::X32)),
        ScmpArch::X86 => plain(AUDIT_ARCH_I386),
        ScmpArch::Aarch64 => plain(AUDIT_ARCH_AARCH64),
        ScmpArch::Arm => plain(AUDIT_ARCH_ARM),
        ScmpArch::Riscv64 => plain(AUDIT_ARCH_RISCV64),
        ScmpArch::Loongarch64 => plain(AUDIT_ARCH_LOONGARCH64),
        ScmpArch::Ppc => plain(AUDIT_ARCH_PPC),
        ScmpArch::Ppc64 => plain(AUDIT_ARCH_PPC64),
        ScmpArch::Ppc64Le => plain(AUDIT_ARCH_PPC64LE),
        // s390 multiplexes unknown large numbers through nr 0; runc special-cases it. husk runs
        // on x86_64 only (README), so s390 profiles get no prefix rather than a half-right one.
        ScmpArch::S390 | ScmpArch::S390X => None,
        ScmpArch::Mips => plain(AUDIT_ARCH_MIPS),
        ScmpArch::Mipsel => plain(AUDIT_ARCH_MIPSEL),
        ScmpArch::Mips64 => plain(AUDIT_ARCH_MIPS64),
        ScmpArch::Mipsel64 => plain(AUDIT_ARCH_MIPSEL64),
        ScmpArch::Mips64N32 => plain(AUDIT_ARCH_MIPS64N32),
        ScmpArch::Mipsel64N32 => plain(AUDIT_ARCH_MIPSEL64N32),
        _ => None,
    }
}

/// Whether the rule applies to a profile with this default action and errno.
fn applies(default: LinuxSeccompAction, errno: Option<u32>) -> bool {
    match default {
        LinuxSeccompAction::ScmpActAllow
        | LinuxSeccompAction::ScmpActLog
        | LinuxSeccompAction::ScmpActTrace => false,
        LinuxSeccompAction::ScmpActErrno => errno != Some(libc::ENOSYS as u32),
        _ => true,
    }
}

/// One architecture's section: its AUDIT_ARCH value and the largest number per mode.
#[derive(Debug, Default, Clone, Copy)]
struct Section {
    audit: u32,
    plain: Option<u32>,
    amd64: Option<u32>,
    x32: Option<u32>,
}

/// The largest syscall number the profile names, per AUDIT_ARCH value, in a stable order.
fn sections(seccomp: &LinuxSeccomp, archs: &[ScmpArch]) -> Vec<Section> {
    let mut out: Vec<Section> = Vec::new();
    for &arch in archs {
        let Some((audit, mode)) = audit_arch(arch) else {
            continue;
        };
        let largest = seccomp
            .syscalls()
            .iter()
            .flatten()
            .flat_map(|s| s.names())
            .filter_map(|n| ScmpSyscall::from_name_by_arch(n, arch).ok())
            // libseccomp gives negative pseudo-numbers for calls the architecture lacks.
            .filter_map(|nr| u32::try_from(i32::from(nr)).ok())
            .max();
        let Some(largest) = largest else {
            continue;
        };
        let i = match out.iter().position(|s| s.audit == audit) {
            Some(i) => i,
            None => {
                out.push(Section {
                    audit,
                    ..Section::default()
                });
                out.len() - 1
            }
        };
        let slot = match mode {
            Mode::Plain => &mut out[i].plain,
            Mode::Amd64 => &mut out[i].amd64,
            Mode::X32 => &mut out[i].x32,
        };
        *slot = Some(largest);
    }
    out
}

fn stmt(code: u32, k: u32) -> SockFilter {
    jump(code, k, 0, 0)
}

fn jump(code: u32, k: u32, jt: u8, jf: u8) -> SockFilter {
    SockFilter {
        // The BPF_* class and mode bits all fit in 16 bits.
        code: code as u16,
        jt,
        jf,
        k,
    }
}

/// A `ja` to the end of the prefix, patched once its length is known.
const JA_END: u32 = u32::MAX;

/// One section's instructions, each ending in `ja end` (k = [`JA_END`], patched later).
fn body(s: &Section) -> Vec<SockFilter> {
    use libc::{BPF_ABS, BPF_JA, BPF_JGT, BPF_JMP, BPF_JSET, BPF_K, BPF_LD, BPF_RET, BPF_W};
    let ld_nr = stmt(BPF_LD | BPF_W | BPF_ABS, 0);
    let ret = stmt(BPF_RET | BPF_K, RET_ENOSYS);
    let ja_end = stmt(BPF_JMP | BPF_JA, JA_END);
    if let Some(max) = s.plain {
        return vec![
            ld_nr,
            jump(BPF_JMP | BPF_JGT | BPF_K, max, 0, 1),
            ret,
            ja_end,
        ];
    }
    // x86_64: 0 ld nr; 1 jset x32 -> 3; 2 amd64 check; 3 x32 check; 4 ret ENOSYS; 5 ja end.
    let check = |max: Option<u32>, to_ret: u8| match max {
        Some(m) => jump(BPF_JMP | BPF_JGT | BPF_K, m, to_ret, to_ret + 1),
        // A mode the profile does not list: straight to libseccomp's program.
        None => stmt(BPF_JMP | BPF_JA, u32::from(to_ret) + 1),
    };
    vec![
        ld_nr,
        jump(BPF_JMP | BPF_JSET | BPF_K, X32_SYSCALL_BIT, 1, 0),
        check(s.amd64, 1),
        check(s.x32, 0),
        ret,
        ja_end,
    ]
}

/// The ENOSYS prefix for `seccomp` (whose filter covers `archs`), or None when the rule does
/// not apply (see the module docs) or no architecture has a known syscall name.
pub(super) fn prefix(seccomp: &LinuxSeccomp, archs: &[ScmpArch]) -> Option<Vec<SockFilter>> {
    use libc::{BPF_ABS, BPF_JEQ, BPF_JMP, BPF_K, BPF_LD, BPF_W};
    if !applies(seccomp.default_action(), seccomp.default_errno_ret()) {
        return None;
    }
    let sections = sections(seccomp, archs);
    if sections.is_empty() {
        return None;
    }
    let mut prog = vec![stmt(BPF_LD | BPF_W | BPF_ABS, 4)];
    for s in &sections {
        let b = body(s);
        // A body is at most 6 instructions: the skip always fits the 8-bit jf.
        prog.push(jump(BPF_JMP | BPF_JEQ | BPF_K, s.audit, 0, b.len() as u8));
        prog.extend(b);
    }
    let end = prog.len() as u32;
    for (i, insn) in prog.iter_mut().enumerate() {
        if u32::from(insn.code) == libc::BPF_JMP | libc::BPF_JA && insn.k == JA_END {
            insn.k = end - (i as u32 + 1);
        }
    }
    Some(prog)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(json: &str) -> LinuxSeccomp {
        serde_json::from_str(json).unwrap()
    }

    /// What the prefix does with (arch, nr): Some(ret value) when it returns, None when it
    /// falls through to the filter. A minimal interpreter of the instructions `prefix` emits.
    fn run(prog: &[SockFilter], arch: u32, nr: u32) -> Option<u32> {
        use libc::{BPF_JA, BPF_JEQ, BPF_JGT, BPF_JMP, BPF_JSET, BPF_K, BPF_RET};
        let (mut pc, mut acc) = (0usize, 0u32);
        while pc < prog.len() {
            let i = prog[pc];
            let code = u32::from(i.code);
            pc += 1;
            if code == libc::BPF_LD | libc::BPF_W | libc::BPF_ABS {
                acc = if i.k == 0 { nr } else { arch };
            } else if code == BPF_RET | BPF_K {
                return Some(i.k);
            } else if code == BPF_JMP | BPF_JA {
                pc += i.k as usize;
            } else {
                let taken = match code {
                    c if c == BPF_JMP | BPF_JEQ | BPF_K => acc == i.k,
                    c if c == BPF_JMP | BPF_JGT | BPF_K => acc > i.k,
                    c if c == BPF_JMP | BPF_JSET | BPF_K => acc & i.k != 0,
                    c => panic!("unexpected opcode {c:#x}"),
                };
                pc += usize::from(if taken { i.jt } else { i.jf });
            }
        }
        assert_eq!(pc, prog.len(), "jumped past the end of the prefix");
        None
    }

    const X86: [ScmpArch; 3] = [ScmpArch::X8664, ScmpArch::X86, ScmpArch::X32];

    #[test]
    fn numbers_above_the_largest_named_get_enosys_per_architecture() {
        // x86_64: getpid 39, getppid 110. i386: getpid 20, getppid 64.
        let p = profile(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
                "syscalls": [{"names": ["getpid", "getppid"], "action": "SCMP_ACT_ALLOW"}]}"#,
        );
        let prog = prefix(&p, &X86).unwrap();
        let x64 = AUDIT_ARCH_X86_64;
        assert_eq!(run(&prog, x64, 39), None);
        assert_eq!(run(&prog, x64, 110), None);
        assert_eq!(run(&prog, x64, 111), Some(RET_ENOSYS));
        assert_eq!(run(&prog, x64, 435), Some(RET_ENOSYS));
        assert_eq!(run(&prog, AUDIT_ARCH_I386, 64), None);
        assert_eq!(run(&prog, AUDIT_ARCH_I386, 65), Some(RET_ENOSYS));
        // x32 numbers carry bit 30; x32's getppid is 0x4000_006e.
        assert_eq!(run(&prog, x64, X32_SYSCALL_BIT | 110), None);
        assert_eq!(run(&prog, x64, X32_SYSCALL_BIT | 111), Some(RET_ENOSYS));
        // An architecture without a section goes to the filter.
        assert_eq!(run(&prog, AUDIT_ARCH_AARCH64, 9999), None);
    }

    #[test]
    fn an_x86_64_profile_without_x32_leaves_x32_calls_to_the_filter() {
        let p = profile(
            r#"{"defaultAction": "SCMP_ACT_KILL_PROCESS",
                "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_ALLOW"}]}"#,
        );
        let prog = prefix(&p, &[ScmpArch::X8664]).unwrap();
        assert_eq!(run(&prog, AUDIT_ARCH_X86_64, 111), Some(RET_ENOSYS));
        assert_eq!(run(&prog, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT | 999), None);
        assert_eq!(run(&prog, AUDIT_ARCH_I386, 999), None);
        let only_x32 = prefix(&p, &[ScmpArch::X32]).unwrap();
        assert_eq!(run(&only_x32, AUDIT_ARCH_X86_64, 999), None);
        assert_eq!(
            run(&only_x32, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT | 111),
            Some(RET_ENOSYS)
        );
    }

    #[test]
    fn permissive_or_enosys_defaults_get_no_prefix() {
        for (default, errno) in [
            ("SCMP_ACT_ALLOW", ""),
            ("SCMP_ACT_LOG", ""),
            ("SCMP_ACT_TRACE", ""),
            ("SCMP_ACT_ERRNO", r#", "defaultErrnoRet": 38"#),
        ] {
            let p = profile(&format!(
                r#"{{"defaultAction": "{default}"{errno},
                    "syscalls": [{{"names": ["getpid"], "action": "SCMP_ACT_KILL"}}]}}"#
            ));
            assert!(prefix(&p, &X86).is_none(), "{default}{errno}");
        }
        // ERRNO without an errno is EPERM: the rule applies.
        let p = profile(
            r#"{"defaultAction": "SCMP_ACT_ERRNO",
                "syscalls": [{"names": ["getpid"], "action": "SCMP_ACT_ALLOW"}]}"#,
        );
        assert!(prefix(&p, &X86).is_some());
        // Only unknown names: nothing to compare with.
        let p = profile(
            r#"{"defaultAction": "SCMP_ACT_ERRNO",
                "syscalls": [{"names": ["no_such_call"], "action": "SCMP_ACT_ALLOW"}]}"#,
        );
        assert!(prefix(&p, &X86).is_none());
    }
}
