//! Device rules on cgroup v2. v2 has no devices files: access is decided by
//! BPF_CGROUP_DEVICE programs attached to the cgroup (kernel Documentation/admin-guide/
//! cgroup-v2.rst, "Device controller"; `struct bpf_cgroup_dev_ctx` in linux/bpf.h). husk
//! compiles the container's rules into one such program ([`program`]), loads it and attaches
//! it to the container's cgroup directory ([`apply`]).
//!
//! What the program decides, for a request (type, major, minor, a set of access bits: open
//! for read and write asks for both): the rules are the container's `linux.resources.devices`
//! in order, then husk's default allow list, on top of deny-all (the v1 whitelist). For each
//! requested bit, the *last* rule that matches the device and names that bit decides; a bit no
//! rule names is denied; the request passes only if every bit does. An `a` rule (all devices,
//! all access, as the v1 kernel reads any rule of type `a`) resets: what came before it no
//! longer counts, and its allow or deny becomes the default.
//!
//! That is the v1 whitelist's outcome for the rule lists clients write (deny-all, then allow
//! rules, then denies of what was allowed), and where v1 differs it is the stricter or the
//! plainer answer: a deny inside an earlier wildcard allow (`c *:* rwm`, then deny `c 1:3 w`)
//! is enforced (v1 silently keeps the wildcard; runc 1.1 refuses the config), and rights split
//! across rules add up per bit (`c 1:* r` and `c *:3 w` allow `c 1:3` opened read-write, as two
//! opens, one per bit, would be).
//!
//! How many rules: the verifier walks the program once per pending branch and keeps at most
//! 8192 of them (Linux 5.2 and later; far fewer before), which with one pending branch per
//! rule is about 8000 rules (a_long_device_rule_list_loads loads 2000); past that the load
//! fails with E2BIG and the verifier's reason.
//!
//! The program is built as runc's, crun's and youki's are in outline: the rules are tested from
//! the last to the first and the first that decides returns. It differs in the access bits
//! (per bit, see above: crun and youki compare the whole request with each rule, so their deny
//! of `w` after an allow of `rwm` does not stop an open for read-write; runc first merges the
//! rules into a v1-style allow list) and in the match test (see [`rule_block`]).

use std::ffi::CStr;
use std::fs::File;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use husk_sys::bpf::{self, op, Insn};

use crate::devices::{default_allowed, DeviceKind, DeviceRule};
use crate::error::CgroupError;

/// The name husk gives its device programs (BPF_OBJ_NAME_LEN: at most 15 bytes). It is how a
/// later [`apply`] finds the program to replace among the cgroup's programs.
pub(crate) const PROGRAM_NAME: &str = "husk_devices";

/// The program's license string. Device programs call no kernel helper at all, so no
/// GPL-only one either, and the kernel accepts any string.
const LICENSE: &CStr = c"Apache-2.0";

/// How often [`apply`] starts over when the cgroup's programs change between its query and its
/// attach (another process updating the same cgroup).
const ATTACH_TRIES: usize = 10;

// The program's registers. r1 holds the context on entry and is scratch once it is read.
const R0: u8 = 0;
const R1: u8 = 1;
/// The device type (BPF_DEVCG_DEV_*).
const R_TYPE: u8 = 2;
/// The requested access bits (BPF_DEVCG_ACC_*) no rule has decided yet.
const R_ACCESS: u8 = 3;
const R_MAJOR: u8 = 4;
const R_MINOR: u8 = 5;
/// Scratch for the match test.
const R_TMP: u8 = 6;

/// Refuse what the program cannot express, before anything is created: a major or minor
/// number above 2^32-1 (the context holds 32 bits; the v1 kernel refuses such rules too).
/// Errors: [`CgroupError::InvalidDeviceRule`] naming `linux.resources.devices[i].major`/`.minor`.
pub(crate) fn check(rules: &[DeviceRule]) -> Result<(), CgroupError> {
    for (i, rule) in rules.iter().enumerate() {
        for (name, number) in [("major", rule.major), ("minor", rule.minor)] {
            if number.is_some_and(|n| u32::try_from(n).is_err()) {
                return Err(CgroupError::InvalidDeviceRule {
                    field: format!("linux.resources.devices[{i}].{name}"),
                    reason: "a device number is at most 4294967295 (32 bits), or -1 for any",
                });
            }
        }
    }
    Ok(())
}

/// Compile `rules` (the container's, then the defaults, in order) into a BPF_CGROUP_DEVICE
/// program with the semantics of this module's doc: per requested access bit, the last
/// matching rule decides, deny by default, an `a` rule resets.
pub(crate) fn program(rules: &[DeviceRule]) -> Vec<Insn> {
    let (default_allow, rules) = match rules.iter().rposition(|r| r.kind == DeviceKind::All) {
        Some(i) => (rules[i].allow, &rules[i + 1..]),
        None => (false, rules),
    };
    // Rules that only repeat the default change nothing.
    if rules.iter().all(|r| r.allow == default_allow) {
        return verdict(default_allow).to_vec();
    }
    let mut prog = vec![
        // r2 = the device type, the low half of access_type
        Insn::new(op::LDX | op::W | op::MEM, R_TYPE, R1, 0, 0),
        Insn::new(op::ALU | op::AND | op::K, R_TYPE, 0, 0, 0xffff),
        // r3 = the access bits, its high half
        Insn::new(op::LDX | op::W | op::MEM, R_ACCESS, R1, 0, 0),
        Insn::new(op::ALU | op::RSH | op::K, R_ACCESS, 0, 0, 16),
        // r4 = major, r5 = minor
        Insn::new(op::LDX | op::W | op::MEM, R_MAJOR, R1, 4, 0),
        Insn::new(op::LDX | op::W | op::MEM, R_MINOR, R1, 8, 0),
    ];
    for rule in rules.iter().rev() {
        prog.extend(rule_block(rule));
    }
    prog.extend(verdict(default_allow));
    prog
}

/// `r0 = allow; exit`.
fn verdict(allow: bool) -> [Insn; 2] {
    [
        Insn::new(op::ALU64 | op::MOV | op::K, R0, 0, 0, i32::from(allow)),
        Insn::new(op::JMP | op::EXIT, 0, 0, 0, 0),
    ]
}

/// The instructions of one rule: whether the device matches is computed into r1 without a
/// branch (`(type ^ T) | (major ^ M) | (minor ^ m)`, each part only when the rule names it),
/// then one jump past the block when it does not, then the decision. An allow rule marks its
/// bits decided and returns "allow" once no requested bit is left; a deny rule returns "deny"
/// if it names a bit still undecided. Empty for a rule that can match no device (a number
/// past 32 bits, refused by [`check`]).
///
/// Why no jump per field, as runc's and crun's programs have: after `if r4 != 8` falls
/// through, the verifier knows r4 is 8 on that path, and paths that know different numbers
/// cannot be pruned together, so its work grows with the product of the rules: 2000 rules
/// (made by a_long_device_rule_list_loads) pass its limit of a million instructions. A value
/// computed by xor and or teaches it nothing about r2, r4 or r5, so every path reaches the
/// next rule knowing the same.
fn rule_block(rule: &DeviceRule) -> Vec<Insn> {
    let mut fields = Vec::new();
    match rule.kind {
        DeviceKind::Char => fields.push((R_TYPE, bpf::BPF_DEVCG_DEV_CHAR)),
        DeviceKind::Block => fields.push((R_TYPE, bpf::BPF_DEVCG_DEV_BLOCK)),
        // Only before the last `a` rule, which program() cut off.
        DeviceKind::All => {}
    }
    for (reg, number) in [(R_MAJOR, rule.major), (R_MINOR, rule.minor)] {
        if let Some(n) = number {
            let Ok(n) = u32::try_from(n) else {
                return Vec::new();
            };
            fields.push((reg, n));
        }
    }
    // 32-bit ALU operations take the immediate's 32 bits as they are.
    let imm = |value: u32| i32::from_ne_bytes(value.to_ne_bytes());
    let mut block = Vec::new();
    // Jumps whose offset is patched to "the next rule" at the end.
    let mut to_next = Vec::new();
    for (i, &(reg, value)) in fields.iter().enumerate() {
        // The first field goes straight into r1, the others through r6 and an or.
        let tmp = if i == 0 { R1 } else { R_TMP };
        block.push(Insn::new(op::ALU | op::MOV | op::X, tmp, reg, 0, 0));
        block.push(Insn::new(op::ALU | op::XOR | op::K, tmp, 0, 0, imm(value)));
        if i > 0 {
            block.push(Insn::new(op::ALU | op::OR | op::X, R1, R_TMP, 0, 0));
        }
    }
    if !fields.is_empty() {
        to_next.push(block.len());
        block.push(Insn::new(op::JMP | op::JNE | op::K, R1, 0, 0, 0));
    }
    let bits = access_bits(&rule.access);
    if rule.allow {
        // r3 &= ~bits; if r3 != 0 goto next; return 1
        block.push(Insn::new(
            op::ALU | op::AND | op::K,
            R_ACCESS,
            0,
            0,
            imm(!bits),
        ));
        to_next.push(block.len());
        block.push(Insn::new(op::JMP | op::JNE | op::K, R_ACCESS, 0, 0, 0));
    } else {
        // r1 = r3 & bits; if r1 == 0 goto next; return 0
        block.push(Insn::new(op::ALU | op::MOV | op::X, R1, R_ACCESS, 0, 0));
        block.push(Insn::new(op::ALU | op::AND | op::K, R1, 0, 0, imm(bits)));
        to_next.push(block.len());
        block.push(Insn::new(op::JMP | op::JEQ | op::K, R1, 0, 0, 0));
    }
    block.extend(verdict(rule.allow));
    let end = block.len();
    for at in to_next {
        let insn = block[at];
        // A block is at most 16 instructions: the offset always fits.
        let off = i16::try_from(end - at - 1).unwrap_or(i16::MAX);
        block[at] = Insn::new(insn.code(), insn.dst(), insn.src(), off, insn.imm());
    }
    block
}

/// `rwm` letters as BPF_DEVCG_ACC_* bits.
fn access_bits(access: &str) -> u32 {
    access.chars().fold(0, |bits, c| {
        bits | match c {
            'r' => bpf::BPF_DEVCG_ACC_READ,
            'w' => bpf::BPF_DEVCG_ACC_WRITE,
            'm' => bpf::BPF_DEVCG_ACC_MKNOD,
            _ => 0,
        }
    })
}

/// Apply `rules` (the container's `linux.resources.devices`, validated) to the cgroup2
/// directory `dir`: the program of `rules` plus the default allow list is loaded and attached
/// with BPF_F_ALLOW_MULTI.
///
/// A second apply (a later `update`) swaps the program husk attached before for the new one
/// with BPF_F_REPLACE, so the cgroup is never without one. husk's program is the one named
/// [`PROGRAM_NAME`]; programs others attached to the cgroup (systemd's, a security agent's)
/// are left alone, as they can only deny more: every attached program must allow an access.
/// Should several husk programs be attached (a crash between the attach and the detach of
/// the fallback below), the first is replaced and the others detached. On a kernel without
/// BPF_F_REPLACE (before 5.6) the new program is attached first and the old ones detached
/// after, so for a moment both apply, which only denies more. Programs go away with the
/// cgroup directory; nothing needs detaching at delete.
///
/// Errors: the rules as [`check`]; [`CgroupError::BpfLoad`] with the verifier's log;
/// [`CgroupError::BpfAttach`] naming `dir` and the step that failed.
pub(crate) fn apply(dir: &Path, rules: &[DeviceRule]) -> Result<(), CgroupError> {
    check(rules)?;
    let all: Vec<DeviceRule> = rules.iter().cloned().chain(default_allowed()).collect();
    let prog =
        bpf::prog_load_cgroup_device(&program(&all), PROGRAM_NAME, LICENSE).map_err(|e| {
            CgroupError::BpfLoad {
                log: log_tail(&e.log),
                source: e.source,
            }
        })?;
    let fail = |step: &'static str| {
        move |source: io::Error| CgroupError::BpfAttach {
            path: dir.to_owned(),
            step,
            source,
        }
    };
    let cgroup = File::options()
        .read(true)
        .custom_flags(libc::O_DIRECTORY)
        .open(dir)
        .map_err(fail("opening the directory"))?;
    let mut can_replace = true;
    for _ in 0..ATTACH_TRIES {
        let ours = husk_programs(&cgroup).map_err(|(step, e)| fail(step)(e))?;
        let (replace, detach) = match ours.split_first() {
            Some((old, rest)) if can_replace => (Some(old), rest),
            _ => (None, &ours[..]),
        };
        match bpf::prog_attach_cgroup_device(&cgroup, &prog, replace) {
            Ok(()) => {}
            // Detached since the query: another update won; look again.
            Err(e) if replace.is_some() && e.raw_os_error() == Some(libc::ENOENT) => continue,
            // A kernel before 5.6 does not know BPF_F_REPLACE.
            Err(e) if replace.is_some() && e.raw_os_error() == Some(libc::EINVAL) => {
                can_replace = false;
                continue;
            }
            Err(e) => return Err(fail("BPF_PROG_ATTACH with BPF_F_ALLOW_MULTI")(e)),
        }
        for old in detach {
            match bpf::prog_detach_cgroup_device(&cgroup, old) {
                Err(e) if e.raw_os_error() != Some(libc::ENOENT) => {
                    return Err(fail("BPF_PROG_DETACH of husk's previous program")(e))
                }
                _ => {}
            }
        }
        tracing::debug!(
            dir = %dir.display(),
            replaced = replace.is_some(),
            detached = detach.len(),
            "cgroup v2 device program attached"
        );
        return Ok(());
    }
    Err(fail("BPF_PROG_ATTACH")(io::Error::other(format!(
        "the cgroup's device programs kept changing under {ATTACH_TRIES} attempts; retry"
    ))))
}

/// The end of a verifier log, where it says why it refused (a refused program's log can run
/// to megabytes: one line per instruction it walked).
fn log_tail(log: &str) -> String {
    const LINES: usize = 30;
    let lines: Vec<&str> = log.lines().collect();
    match lines.len().checked_sub(LINES) {
        Some(skip) if skip > 0 => format!("[{skip} lines left out]\n{}", lines[skip..].join("\n")),
        _ => log.to_owned(),
    }
}

/// The device programs attached to `cgroup` that husk made (named [`PROGRAM_NAME`]), as fds.
/// A program that is gone since the query, or that an LSM keeps from us, is not one of them.
fn husk_programs(cgroup: &File) -> Result<Vec<OwnedFd>, (&'static str, io::Error)> {
    let ids = bpf::prog_query_cgroup_device(cgroup).map_err(|e| ("BPF_PROG_QUERY", e))?;
    let mut ours = Vec::new();
    for id in ids {
        let fd = match bpf::prog_get_fd_by_id(id) {
            Ok(fd) => fd,
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::ENOENT | libc::EPERM | libc::EACCES)
                ) =>
            {
                continue
            }
            Err(e) => return Err(("BPF_PROG_GET_FD_BY_ID", e)),
        };
        let info = bpf::prog_info(&fd).map_err(|e| ("BPF_OBJ_GET_INFO_BY_FD", e))?;
        if info.name == PROGRAM_NAME {
            ours.push(fd);
        }
    }
    Ok(ours)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Run `prog` on one request, as the kernel would: a small interpreter of exactly the
    /// instructions [`program`] emits (anything else panics), with r1 pointing at
    /// `struct bpf_cgroup_dev_ctx { access_type, major, minor }`.
    fn run(prog: &[Insn], dev_type: u32, access: u32, major: u32, minor: u32) -> u64 {
        let ctx = [(access << 16) | dev_type, major, minor];
        let mut reg = [0u64; 11];
        // r1 is the context pointer until written; loads through it read `ctx`.
        let mut r1_is_ctx = true;
        let mut pc = 0usize;
        for _ in 0..10_000 {
            let insn = prog[pc];
            let (d, s) = (usize::from(insn.dst()), usize::from(insn.src()));
            let imm = insn.imm();
            let imm64 = i64::from(imm) as u64; // sign-extended, as the kernel does
            let imm32 = u64::from(u32::from_ne_bytes(imm.to_ne_bytes()));
            pc += 1;
            let value = match insn.code() {
                c if c == op::LDX | op::W | op::MEM => {
                    assert!(
                        s == 1 && r1_is_ctx,
                        "load not from the context at {}",
                        pc - 1
                    );
                    let off = usize::try_from(insn.off()).unwrap();
                    assert_eq!(off % 4, 0);
                    Some(u64::from(ctx[off / 4]))
                }
                c if c == op::ALU | op::AND | op::K => Some(reg[d] & imm32),
                c if c == op::ALU | op::XOR | op::K => Some((reg[d] ^ imm32) & 0xffff_ffff),
                c if c == op::ALU | op::OR | op::X => Some((reg[d] | reg[s]) & 0xffff_ffff),
                c if c == op::ALU | op::RSH | op::K => Some((reg[d] & 0xffff_ffff) >> imm),
                c if c == op::ALU | op::MOV | op::K => Some(imm32),
                c if c == op::ALU | op::MOV | op::X => Some(reg[s] & 0xffff_ffff),
                c if c == op::ALU64 | op::MOV | op::K => Some(imm64),
                c if c == op::JMP | op::JNE | op::K || c == op::JMP | op::JEQ | op::K => {
                    let equal = reg[d] == imm64;
                    if equal == ((c & 0xf0) == op::JEQ) {
                        pc += usize::try_from(insn.off()).unwrap();
                    }
                    None
                }
                c if c == op::JMP | op::EXIT => return reg[0],
                c => panic!("opcode {c:#04x} at {} is not one program() emits", pc - 1),
            };
            if let Some(v) = value {
                // 32-bit results are zero-extended; every write of r1 ends its use as ctx.
                r1_is_ctx &= d != 1;
                reg[d] = v;
            }
            assert!(pc < prog.len(), "ran off the end of the program");
        }
        panic!("no exit after 10000 steps");
    }

    /// The semantics, stated directly: per requested bit, the last matching rule naming it
    /// decides; an `a` rule resets; default deny.
    fn expected(rules: &[DeviceRule], dev_type: u32, access: u32, major: u32, minor: u32) -> bool {
        let kind = if dev_type == bpf::BPF_DEVCG_DEV_CHAR {
            DeviceKind::Char
        } else {
            DeviceKind::Block
        };
        (0..3)
            .map(|b| 1u32 << b)
            .filter(|bit| access & bit != 0)
            .all(|bit| {
                let mut allowed = false;
                for rule in rules {
                    if rule.kind == DeviceKind::All {
                        allowed = rule.allow;
                        continue;
                    }
                    let matches = rule.kind == kind
                        && rule.major.is_none_or(|m| m == u64::from(major))
                        && rule.minor.is_none_or(|m| m == u64::from(minor))
                        && access_bits(&rule.access) & bit != 0;
                    if matches {
                        allowed = rule.allow;
                    }
                }
                allowed
            })
    }

    fn rule(text: &str) -> DeviceRule {
        // "allow c 1:3 rw" / "deny a *:* rwm"
        let parts: Vec<&str> = text.split_whitespace().collect();
        let (major, minor) = parts[2].split_once(':').unwrap();
        let number = |n: &str| (n != "*").then(|| n.parse().unwrap());
        DeviceRule {
            allow: parts[0] == "allow",
            kind: match parts[1] {
                "a" => DeviceKind::All,
                "c" => DeviceKind::Char,
                _ => DeviceKind::Block,
            },
            major: number(major),
            minor: number(minor),
            access: parts[3].to_owned(),
        }
    }

    const C: u32 = bpf::BPF_DEVCG_DEV_CHAR;
    const B: u32 = bpf::BPF_DEVCG_DEV_BLOCK;
    const R: u32 = bpf::BPF_DEVCG_ACC_READ;
    const W: u32 = bpf::BPF_DEVCG_ACC_WRITE;
    const M: u32 = bpf::BPF_DEVCG_ACC_MKNOD;

    fn allows(rules: &[&str], dev_type: u32, access: u32, major: u32, minor: u32) -> bool {
        let rules: Vec<DeviceRule> = rules.iter().map(|r| rule(r)).collect();
        let verdict = run(&program(&rules), dev_type, access, major, minor);
        assert!(verdict <= 1);
        assert_eq!(
            verdict == 1,
            expected(&rules, dev_type, access, major, minor),
            "program and semantics disagree on {dev_type} {access} {major}:{minor}"
        );
        verdict == 1
    }

    #[test]
    fn default_deny() {
        assert!(!allows(&[], C, R, 1, 3));
        assert!(!allows(&["deny a *:* rwm"], C, R | W, 1, 3));
        assert!(!allows(&["deny c 1:3 rwm"], B, M, 8, 0));
    }

    #[test]
    fn a_specific_char_device() {
        let rules = ["deny a *:* rwm", "allow c 1:3 rwm"];
        assert!(allows(&rules, C, R | W, 1, 3));
        assert!(allows(&rules, C, M, 1, 3));
        assert!(!allows(&rules, C, R, 1, 5));
        assert!(!allows(&rules, C, R, 2, 3));
        // The same numbers as a block device are another device.
        assert!(!allows(&rules, B, R, 1, 3));
    }

    #[test]
    fn wildcard_major_and_minor() {
        let rules = ["allow c 136:* rw", "allow b *:0 r"];
        assert!(allows(&rules, C, R | W, 136, 0));
        assert!(allows(&rules, C, W, 136, 77));
        assert!(!allows(&rules, C, R, 137, 0));
        assert!(allows(&rules, B, R, 8, 0));
        assert!(allows(&rules, B, R, 259, 0));
        assert!(!allows(&rules, B, R, 8, 1));
        assert!(!allows(&rules, B, W, 8, 0));
    }

    #[test]
    fn the_last_matching_rule_wins() {
        // deny after allow
        let rules = ["allow c 1:* rwm", "deny c 1:3 rwm"];
        assert!(!allows(&rules, C, R, 1, 3));
        assert!(allows(&rules, C, R, 1, 5));
        // allow after deny
        let rules = ["deny c 1:3 rwm", "allow c 1:* rwm"];
        assert!(allows(&rules, C, R, 1, 3));
        // A deny inside a wildcard allow is enforced (v1 keeps the wildcard).
        let rules = ["allow c *:* rwm", "deny c 10:200 rw"];
        assert!(!allows(&rules, C, R, 10, 200));
        assert!(allows(&rules, C, M, 10, 200));
        assert!(allows(&rules, C, R | W, 10, 201));
    }

    #[test]
    fn access_subsets() {
        let rules = ["allow c 1:3 rw"];
        assert!(allows(&rules, C, R, 1, 3));
        assert!(allows(&rules, C, W, 1, 3));
        assert!(allows(&rules, C, R | W, 1, 3));
        assert!(!allows(&rules, C, M, 1, 3));
        assert!(!allows(&rules, C, R | M, 1, 3));
        // Denying one bit of an open for read and write denies the open (crun's whole-request
        // comparison lets this one through).
        let rules = ["allow c 1:3 rwm", "deny c 1:3 w"];
        assert!(!allows(&rules, C, R | W, 1, 3));
        assert!(!allows(&rules, C, W, 1, 3));
        assert!(allows(&rules, C, R, 1, 3));
        // Rights add up per bit across rules.
        let rules = ["allow c 1:* r", "allow c *:3 w"];
        assert!(allows(&rules, C, R | W, 1, 3));
        assert!(!allows(&rules, C, R | W, 1, 4));
    }

    #[test]
    fn a_rules_reset() {
        // Allow-all makes the program one "return 1".
        let prog = program(&[rule("allow a *:* rwm")]);
        assert_eq!(prog, verdict(true));
        assert!(allows(&["allow a *:* rwm"], B, R | W | M, 8, 0));
        // What came before an `a` rule no longer counts.
        let rules = ["allow c 1:3 rwm", "deny a *:* rwm", "allow c 1:5 r"];
        assert!(!allows(&rules, C, R, 1, 3));
        assert!(allows(&rules, C, R, 1, 5));
        // Default allow, with a deny on top.
        let rules = ["allow a *:* rwm", "deny b 8:* w"];
        assert!(allows(&rules, B, R, 8, 0));
        assert!(!allows(&rules, B, R | W, 8, 0));
        assert!(allows(&rules, C, R | W, 1, 3));
        // Deny-all with nothing else is one "return 0".
        assert_eq!(program(&[rule("deny a *:* rwm")]), verdict(false));
    }

    #[test]
    fn numbers_past_31_bits() {
        let rules = ["allow c 4294967295:1 r", "allow c 2147483648:* r"];
        assert!(allows(&rules, C, R, u32::MAX, 1));
        assert!(!allows(&rules, C, R, u32::MAX - 1, 1));
        assert!(allows(&rules, C, R, 1 << 31, 9));
        let too_big = DeviceRule {
            major: Some(1 << 32),
            ..rule("allow c 1:1 r")
        };
        let err = check(&[rule("deny a *:* rwm"), too_big]).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("linux.resources.devices[1].major"),
            "{err}"
        );
    }

    #[test]
    fn program_and_semantics_agree_on_a_grid() {
        let rule_sets: &[&[&str]] = &[
            &[
                "deny a *:* rwm",
                "allow c 1:3 r",
                "allow c 1:* w",
                "deny c *:3 m",
            ],
            &[
                "allow b 8:* rwm",
                "deny b 8:0 rw",
                "allow b *:0 r",
                "allow c 5:* m",
            ],
            &[
                "allow a *:* rwm",
                "deny c 1:* rw",
                "allow c 1:3 w",
                "deny b *:* m",
            ],
            &[
                "allow c *:* m",
                "allow b *:* m",
                "deny c 1:* m",
                "allow c 1:9 rwm",
            ],
        ];
        for rules in rule_sets {
            for dev_type in [C, B] {
                for access in 1..8 {
                    for major in [1, 5, 8] {
                        for minor in [0, 3, 9] {
                            allows(rules, dev_type, access, major, minor);
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn the_defaults_allow_what_a_container_needs() {
        let mut rules = vec![rule("deny a *:* rwm")];
        rules.extend(default_allowed());
        let prog = program(&rules);
        for (major, minor) in [
            (1, 3),
            (1, 5),
            (1, 7),
            (1, 8),
            (1, 9),
            (5, 0),
            (5, 1),
            (5, 2),
        ] {
            assert_eq!(run(&prog, C, R | W, major, minor), 1, "{major}:{minor}");
        }
        assert_eq!(run(&prog, C, R | W, 136, 4), 1);
        assert_eq!(run(&prog, C, R | W, 10, 200), 1);
        assert_eq!(run(&prog, B, M, 8, 0), 1);
        assert_eq!(run(&prog, B, R, 8, 0), 0);
        assert_eq!(run(&prog, C, R, 1, 11), 0);
        assert_eq!(run(&prog, C, W, 1, 1), 0);
    }
}
