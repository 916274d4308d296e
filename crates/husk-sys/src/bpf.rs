//! `bpf(2)` for cgroup v2 device programs (`man 2 bpf`, include/uapi/linux/bpf.h): the eBPF
//! instruction ([`Insn`]), loading a `BPF_PROG_TYPE_CGROUP_DEVICE` program, attaching it to,
//! detaching it from and listing the programs of a cgroup directory, and looking programs up by
//! id. Only the commands and attribute fields husk uses are defined; every attribute struct is
//! the prefix of `union bpf_attr` for its command, with no byte left unnamed, and the size passed
//! is that prefix's size (the kernel zeroes the fields it knows beyond it).
//!
//! Every fd the kernel returns here has O_CLOEXEC (kernel/bpf/syscall.c opens them so).

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};

/// `BPF_PROG_LOAD`.
const BPF_PROG_LOAD: libc::c_int = 5;
/// `BPF_PROG_ATTACH`.
const BPF_PROG_ATTACH: libc::c_int = 8;
/// `BPF_PROG_DETACH`.
const BPF_PROG_DETACH: libc::c_int = 9;
/// `BPF_PROG_GET_FD_BY_ID` (Linux 4.13).
const BPF_PROG_GET_FD_BY_ID: libc::c_int = 13;
/// `BPF_OBJ_GET_INFO_BY_FD` (Linux 4.13).
const BPF_OBJ_GET_INFO_BY_FD: libc::c_int = 15;
/// `BPF_PROG_QUERY` (Linux 4.15).
const BPF_PROG_QUERY: libc::c_int = 16;

/// `BPF_PROG_TYPE_CGROUP_DEVICE` (Linux 4.15): the program type of a device filter.
pub const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
/// `BPF_CGROUP_DEVICE`: the attach type of a device filter.
pub const BPF_CGROUP_DEVICE: u32 = 6;
/// `BPF_F_ALLOW_MULTI` (Linux 4.15): several programs on one cgroup, all of which must allow.
pub const BPF_F_ALLOW_MULTI: u32 = 1 << 1;
/// `BPF_F_REPLACE` (Linux 5.6): swap `replace_bpf_fd` for the new program in one step.
pub const BPF_F_REPLACE: u32 = 1 << 2;

/// `BPF_OBJ_NAME_LEN`: a program name is at most 15 bytes plus the NUL.
pub const BPF_OBJ_NAME_LEN: usize = 16;

/// `struct bpf_cgroup_dev_ctx`'s `access_type` low half: a block device.
pub const BPF_DEVCG_DEV_BLOCK: u32 = 1;
/// `access_type` low half: a character device.
pub const BPF_DEVCG_DEV_CHAR: u32 = 2;
/// `access_type` high half: mknod(2).
pub const BPF_DEVCG_ACC_MKNOD: u32 = 1;
/// `access_type` high half: open for reading.
pub const BPF_DEVCG_ACC_READ: u32 = 2;
/// `access_type` high half: open for writing.
pub const BPF_DEVCG_ACC_WRITE: u32 = 4;

/// Opcode parts of an eBPF instruction (include/uapi/linux/bpf_common.h and bpf.h,
/// Documentation/bpf/standardization/instruction-set.rst): class | size | mode for loads,
/// class | operation | source for ALU and jump instructions.
pub mod op {
    /// Class: load from memory into a register (`dst = *(size *)(src + off)`).
    pub const LDX: u8 = 0x01;
    /// Class: 32-bit arithmetic (the upper half of `dst` is zeroed).
    pub const ALU: u8 = 0x04;
    /// Class: 64-bit jumps and exit.
    pub const JMP: u8 = 0x05;
    /// Class: 64-bit arithmetic.
    pub const ALU64: u8 = 0x07;

    /// Size: 32-bit word.
    pub const W: u8 = 0x00;
    /// Mode: memory at `src + off`.
    pub const MEM: u8 = 0x60;

    /// Source: the immediate `imm`.
    pub const K: u8 = 0x00;
    /// Source: the register `src`.
    pub const X: u8 = 0x08;

    /// ALU: `dst |= src`.
    pub const OR: u8 = 0x40;
    /// ALU: `dst &= src`.
    pub const AND: u8 = 0x50;
    /// ALU: `dst ^= src`.
    pub const XOR: u8 = 0xa0;
    /// ALU: `dst >>= src` (logical).
    pub const RSH: u8 = 0x70;
    /// ALU: `dst = src`.
    pub const MOV: u8 = 0xb0;

    /// Jump: always, by `off`.
    pub const JA: u8 = 0x00;
    /// Jump: if `dst == src`.
    pub const JEQ: u8 = 0x10;
    /// Jump: if `dst != src`.
    pub const JNE: u8 = 0x50;
    /// Return `r0`.
    pub const EXIT: u8 = 0x90;
}

/// One eBPF instruction, `struct bpf_insn`: the opcode, the destination and source registers
/// (r0 to r10) in one byte of two 4-bit fields, a signed 16-bit offset (for jumps: in
/// instructions, from the next one) and a signed 32-bit immediate. `repr(C)`, 8 bytes with no
/// padding, so a slice of them is the program the kernel reads.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Insn {
    code: u8,
    regs: u8,
    off: i16,
    imm: i32,
}

const _: () = assert!(std::mem::size_of::<Insn>() == 8);

impl Insn {
    /// An instruction from its fields; `dst` and `src` are register numbers 0 to 10 (only
    /// their low 4 bits are kept).
    pub const fn new(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
        // The C bitfield `__u8 dst_reg:4, src_reg:4` puts dst in the low nibble on
        // little-endian targets and in the high nibble on big-endian ones.
        let regs = if cfg!(target_endian = "little") {
            (dst & 0x0f) | ((src & 0x0f) << 4)
        } else {
            ((dst & 0x0f) << 4) | (src & 0x0f)
        };
        Insn {
            code,
            regs,
            off,
            imm,
        }
    }

    /// The opcode.
    pub const fn code(&self) -> u8 {
        self.code
    }

    /// The destination register.
    pub const fn dst(&self) -> u8 {
        if cfg!(target_endian = "little") {
            self.regs & 0x0f
        } else {
            self.regs >> 4
        }
    }

    /// The source register.
    pub const fn src(&self) -> u8 {
        if cfg!(target_endian = "little") {
            self.regs >> 4
        } else {
            self.regs & 0x0f
        }
    }

    /// The offset (jumps: instructions to skip after this one; loads: bytes).
    pub const fn off(&self) -> i16 {
        self.off
    }

    /// The immediate.
    pub const fn imm(&self) -> i32 {
        self.imm
    }

    /// The 8 bytes the kernel reads, in this machine's byte order.
    pub fn to_bytes(self) -> [u8; 8] {
        let mut out = [0u8; 8];
        out[0] = self.code;
        out[1] = self.regs;
        out[2..4].copy_from_slice(&self.off.to_ne_bytes());
        out[4..8].copy_from_slice(&self.imm.to_ne_bytes());
        out
    }
}

/// The `BPF_PROG_LOAD` part of `union bpf_attr` (up to `expected_attach_type`).
#[repr(C, align(8))]
#[derive(Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; BPF_OBJ_NAME_LEN],
    prog_ifindex: u32,
    expected_attach_type: u32,
}

/// The `BPF_PROG_ATTACH` / `BPF_PROG_DETACH` part (up to `replace_bpf_fd`).
#[repr(C, align(8))]
#[derive(Default)]
struct AttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
    pad: u32,
}

/// The whole `BPF_PROG_QUERY` part (64 bytes, through `revision`). The kernel writes
/// `revision` back at offset 56 whatever attribute size the caller passed (Linux 6.17 to
/// 7.1), so a shorter struct would have the kernel write past it into the caller's stack (the
/// bug runc's cgroup library works around, opencontainers/cgroups#69). The pointer fields after
/// `prog_cnt` stay 0: the kernel writes through them only when they are set.
#[repr(C, align(8))]
#[derive(Default)]
struct QueryAttr {
    target_fd: u32,
    attach_type: u32,
    query_flags: u32,
    attach_flags: u32,
    prog_ids: u64,
    prog_cnt: u32,
    pad: u32,
    prog_attach_flags: u64,
    link_ids: u64,
    link_attach_flags: u64,
    revision: u64,
}

/// The `BPF_PROG_GET_FD_BY_ID` part.
#[repr(C, align(8))]
#[derive(Default)]
struct GetFdByIdAttr {
    prog_id: u32,
    next_id: u32,
    open_flags: u32,
    pad: u32,
}

/// The `BPF_OBJ_GET_INFO_BY_FD` part.
#[repr(C, align(8))]
#[derive(Default)]
struct InfoAttr {
    bpf_fd: u32,
    info_len: u32,
    info: u64,
}

/// The start of `struct bpf_prog_info`, up to `name` (the kernel fills `info_len` bytes).
#[repr(C, align(8))]
#[derive(Default)]
struct ProgInfoPrefix {
    prog_type: u32,
    id: u32,
    tag: [u8; 8],
    jited_prog_len: u32,
    xlated_prog_len: u32,
    jited_prog_insns: u64,
    xlated_prog_insns: u64,
    load_time: u64,
    created_by_uid: u32,
    nr_map_ids: u32,
    map_ids: u64,
    name: [u8; BPF_OBJ_NAME_LEN],
}

// The layouts of linux/bpf.h: every byte is a named field (no padding the kernel could read
// uninitialised), and the 64-bit fields sit where `__aligned_u64` puts them.
const _: () = {
    use std::mem::{offset_of, size_of};
    assert!(size_of::<ProgLoadAttr>() == 72);
    assert!(offset_of!(ProgLoadAttr, insns) == 8);
    assert!(offset_of!(ProgLoadAttr, log_buf) == 32);
    assert!(offset_of!(ProgLoadAttr, prog_name) == 48);
    assert!(offset_of!(ProgLoadAttr, expected_attach_type) == 68);
    assert!(size_of::<AttachAttr>() == 24);
    assert!(offset_of!(AttachAttr, replace_bpf_fd) == 16);
    assert!(size_of::<QueryAttr>() == 64);
    assert!(offset_of!(QueryAttr, prog_ids) == 16);
    assert!(offset_of!(QueryAttr, prog_cnt) == 24);
    assert!(offset_of!(QueryAttr, revision) == 56);
    assert!(size_of::<GetFdByIdAttr>() == 16);
    assert!(size_of::<InfoAttr>() == 16);
    assert!(offset_of!(InfoAttr, info) == 8);
    assert!(size_of::<ProgInfoPrefix>() == 80);
    assert!(offset_of!(ProgInfoPrefix, name) == 64);
};

/// The attribute structs above: `repr(C)`, every byte a named field.
trait Attr {}
impl Attr for ProgLoadAttr {}
impl Attr for AttachAttr {}
impl Attr for QueryAttr {}
impl Attr for GetFdByIdAttr {}
impl Attr for InfoAttr {}

/// `bpf(cmd, attr, sizeof attr)`; the kernel may write back into `attr` (BPF_PROG_QUERY does).
///
/// # Safety
/// Every pointer field of `attr` (as a `u64`) must be null or point to memory valid for what
/// `cmd` makes the kernel read or write there, for the duration of the call.
unsafe fn sys_bpf<T: Attr>(cmd: libc::c_int, attr: &mut T) -> io::Result<libc::c_long> {
    // Each `Attr` type spans every field the kernel writes back for its command (QueryAttr runs
    // through `revision`, which Linux 6.17+ writes whatever size is passed).
    // SAFETY: `attr` is a live, exclusive, padding-free `T` of `size_of::<T>()` initialised
    // bytes the kernel may read and write; its pointers are valid per this function's contract.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            std::ptr::from_mut(attr).cast::<libc::c_void>(),
            std::mem::size_of::<T>() as libc::c_uint,
        )
    };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(ret)
}

/// Take ownership of an fd the kernel just returned.
fn owned_fd(ret: libc::c_long) -> io::Result<OwnedFd> {
    let fd = libc::c_int::try_from(ret).map_err(|_| io::Error::from_raw_os_error(libc::EBADF))?;
    // SAFETY: `fd` is a new descriptor bpf(2) just returned; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// A program the kernel refused: the errno and what the verifier wrote.
#[derive(Debug)]
pub struct LoadError {
    /// The errno of BPF_PROG_LOAD: EACCES or EINVAL from the verifier, EPERM without
    /// CAP_BPF/CAP_SYS_ADMIN (or, before Linux 5.11, past RLIMIT_MEMLOCK), E2BIG, ENOMEM.
    pub source: io::Error,
    /// The verifier log (log_level 1) of a second attempt made to get it; empty when the
    /// kernel wrote none (the refusal came before the verifier ran).
    pub log: String,
}

/// Where the verifier log starts and how far it may grow (before Linux 5.2 the kernel accepts
/// at most `UINT_MAX >> 8` bytes, 16 MiB - 1).
const LOG_START: usize = 64 * 1024;
const LOG_MAX: usize = (u32::MAX >> 8) as usize;

/// `bpf(BPF_PROG_LOAD)` of a `BPF_PROG_TYPE_CGROUP_DEVICE` program (`man 2 bpf`).
///
/// `name` becomes the program's name (what `BPF_OBJ_GET_INFO_BY_FD` and bpftool show; Linux
/// 4.15): at most 15 bytes of ASCII letters, digits, `_` and `.`, longer names are cut.
/// `license` is the license string the kernel checks only for GPL-only helpers, which device
/// programs do not call. The first attempt asks for no log (cheaper); when it fails the load is
/// repeated with the verifier log on, and the log comes back in the error.
///
/// # Errors
/// [`LoadError`] with the errno and the verifier log.
pub fn prog_load_cgroup_device(
    insns: &[Insn],
    name: &str,
    license: &CStr,
) -> Result<OwnedFd, LoadError> {
    let insn_cnt = u32::try_from(insns.len()).map_err(|_| LoadError {
        source: io::Error::from_raw_os_error(libc::E2BIG),
        log: String::new(),
    })?;
    let mut prog_name = [0u8; BPF_OBJ_NAME_LEN];
    for (to, from) in prog_name
        .iter_mut()
        .zip(name.bytes().take(BPF_OBJ_NAME_LEN - 1))
    {
        *to = from;
    }
    let attr = || ProgLoadAttr {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt,
        insns: insns.as_ptr() as u64,
        license: license.as_ptr() as u64,
        prog_name,
        ..ProgLoadAttr::default()
    };
    let mut first = attr();
    // SAFETY: `insns` points to `insn_cnt` live instructions and `license` to a NUL-terminated
    // string, both only read by the kernel and alive for the call; no log buffer is given.
    let source = match unsafe { sys_bpf(BPF_PROG_LOAD, &mut first) } {
        Ok(fd) => {
            return owned_fd(fd).map_err(|source| LoadError {
                source,
                log: String::new(),
            })
        }
        Err(e) => e,
    };
    let mut size = LOG_START;
    loop {
        let mut log = vec![0u8; size];
        let mut with_log = attr();
        with_log.log_level = 1;
        with_log.log_size = u32::try_from(size).unwrap_or(u32::MAX);
        with_log.log_buf = log.as_mut_ptr() as u64;
        // SAFETY: as above, plus `log`, a live buffer of `log_size` bytes the kernel writes the
        // verifier log into, alive for the call.
        let retry = unsafe { sys_bpf(BPF_PROG_LOAD, &mut with_log) };
        let text = || {
            let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
            String::from_utf8_lossy(&log[..end]).trim_end().to_owned()
        };
        match retry {
            // Refused the first time, accepted the second: keep the program.
            Ok(fd) => {
                return owned_fd(fd).map_err(|source| LoadError {
                    source,
                    log: text(),
                })
            }
            Err(e) if e.raw_os_error() == Some(libc::ENOSPC) && size < LOG_MAX => {
                size = (size * 4).min(LOG_MAX)
            }
            Err(e) => {
                // ENOSPC here means the log was cut; the first errno is the real refusal.
                let errno = if e.raw_os_error() == Some(libc::ENOSPC) {
                    source
                } else {
                    e
                };
                return Err(LoadError {
                    source: errno,
                    log: text(),
                });
            }
        }
    }
}

/// `bpf(BPF_PROG_ATTACH)` of the device program `prog` to the cgroup directory `cgroup`, with
/// `BPF_F_ALLOW_MULTI` (other programs on the cgroup stay; a device access needs every one of
/// them, and those of the ancestors, to allow it). With `replace`, also `BPF_F_REPLACE`: the
/// attached program `replace` is swapped for `prog` in one step (Linux 5.6), so the cgroup is
/// never without one.
///
/// # Errors
/// The errno: ENOENT when `replace` is no longer attached there, EINVAL on a kernel without
/// BPF_F_REPLACE, EPERM when a program was attached there without BPF_F_ALLOW_MULTI, E2BIG
/// past 64 programs, EBADF/ENOTDIR when `cgroup` is not a cgroup2 directory.
pub fn prog_attach_cgroup_device<C: AsFd, P: AsFd, R: AsFd>(
    cgroup: C,
    prog: P,
    replace: Option<R>,
) -> io::Result<()> {
    let mut attr = AttachAttr {
        target_fd: fd_u32(&cgroup),
        attach_bpf_fd: fd_u32(&prog),
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: BPF_F_ALLOW_MULTI,
        ..AttachAttr::default()
    };
    if let Some(old) = &replace {
        attr.attach_flags |= BPF_F_REPLACE;
        attr.replace_bpf_fd = fd_u32(old);
    }
    // SAFETY: the attach attributes hold fds only, no pointer.
    unsafe { sys_bpf(BPF_PROG_ATTACH, &mut attr) }.map(drop)
}

/// `bpf(BPF_PROG_DETACH)` of the device program `prog` from the cgroup directory `cgroup`.
///
/// # Errors
/// The errno: ENOENT when `prog` is not attached there.
pub fn prog_detach_cgroup_device<C: AsFd, P: AsFd>(cgroup: C, prog: P) -> io::Result<()> {
    let mut attr = AttachAttr {
        target_fd: fd_u32(&cgroup),
        attach_bpf_fd: fd_u32(&prog),
        attach_type: BPF_CGROUP_DEVICE,
        ..AttachAttr::default()
    };
    // SAFETY: the detach attributes hold fds only, no pointer.
    unsafe { sys_bpf(BPF_PROG_DETACH, &mut attr) }.map(drop)
}

/// `bpf(BPF_PROG_QUERY)`: the ids of the device programs attached to the cgroup directory
/// `cgroup` itself (not those inherited from its ancestors), in the order they run.
///
/// # Errors
/// The errno: EBADF/ENOTDIR when `cgroup` is not a cgroup2 directory.
pub fn prog_query_cgroup_device<C: AsFd>(cgroup: C) -> io::Result<Vec<u32>> {
    // 64 is the kernel's limit of programs per cgroup and attach type (BPF_CGROUP_MAX_PROGS);
    // ENOSPC says the list grew since and carries the new count.
    let mut ids = vec![0u32; 64];
    for _ in 0..8 {
        let mut attr = QueryAttr {
            target_fd: fd_u32(&cgroup),
            attach_type: BPF_CGROUP_DEVICE,
            prog_ids: ids.as_mut_ptr() as u64,
            prog_cnt: u32::try_from(ids.len()).unwrap_or(u32::MAX),
            ..QueryAttr::default()
        };
        // SAFETY: `prog_ids` points to `prog_cnt` live u32s the kernel fills; alive for the call.
        match unsafe { sys_bpf(BPF_PROG_QUERY, &mut attr) } {
            Ok(_) => {
                ids.truncate(attr.prog_cnt as usize);
                return Ok(ids);
            }
            Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => {
                ids = vec![0u32; attr.prog_cnt.max(1) as usize * 2];
            }
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::from_raw_os_error(libc::ENOSPC))
}

/// `bpf(BPF_PROG_GET_FD_BY_ID)`: an fd for the loaded program `id` (needs CAP_SYS_ADMIN).
///
/// # Errors
/// The errno: ENOENT when no program has that id any more, EPERM without the capability (or
/// when an LSM refuses).
pub fn prog_get_fd_by_id(id: u32) -> io::Result<OwnedFd> {
    let mut attr = GetFdByIdAttr {
        prog_id: id,
        ..GetFdByIdAttr::default()
    };
    // SAFETY: the attributes hold an id only, no pointer.
    let ret = unsafe { sys_bpf(BPF_PROG_GET_FD_BY_ID, &mut attr) }?;
    owned_fd(ret)
}

/// What `BPF_OBJ_GET_INFO_BY_FD` says about a program (the first fields of
/// `struct bpf_prog_info`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgInfo {
    /// The program type (`BPF_PROG_TYPE_*`).
    pub prog_type: u32,
    /// The program's id (what [`prog_query_cgroup_device`] lists).
    pub id: u32,
    /// The name given at load time (empty when none was).
    pub name: String,
}

/// `bpf(BPF_OBJ_GET_INFO_BY_FD)` of a program fd.
///
/// # Errors
/// The errno: EINVAL when `prog` is not a BPF object.
pub fn prog_info<P: AsFd>(prog: P) -> io::Result<ProgInfo> {
    let mut info = ProgInfoPrefix::default();
    let mut attr = InfoAttr {
        bpf_fd: fd_u32(&prog),
        info_len: std::mem::size_of::<ProgInfoPrefix>() as u32,
        info: std::ptr::from_mut(&mut info) as u64,
    };
    // SAFETY: `info` points to a live, zeroed `ProgInfoPrefix` of `info_len` bytes that the
    // kernel fills; its pointer fields stay zero, so the kernel copies nothing through them.
    unsafe { sys_bpf(BPF_OBJ_GET_INFO_BY_FD, &mut attr) }?;
    let end = info
        .name
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(BPF_OBJ_NAME_LEN);
    Ok(ProgInfo {
        prog_type: info.prog_type,
        id: info.id,
        name: String::from_utf8_lossy(&info.name[..end]).into_owned(),
    })
}

/// An fd as the `__u32` of the attribute structs.
fn fd_u32<F: AsFd>(fd: &F) -> u32 {
    // A valid fd is never negative.
    fd.as_fd().as_raw_fd() as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instructions_encode_as_struct_bpf_insn() {
        // r2 = *(u32 *)(r1 + 4)
        let insn = Insn::new(op::LDX | op::W | op::MEM, 2, 1, 4, 0);
        assert_eq!((insn.dst(), insn.src(), insn.off()), (2, 1, 4));
        let bytes = insn.to_bytes();
        assert_eq!(bytes[0], 0x61);
        if cfg!(target_endian = "little") {
            assert_eq!(bytes, [0x61, 0x12, 4, 0, 0, 0, 0, 0]);
        }
        // if r4 != 0x12345 goto +3
        let jne = Insn::new(op::JMP | op::JNE | op::K, 4, 0, 3, 0x12345);
        assert_eq!(jne.to_bytes()[0], 0x55);
        assert_eq!(jne.imm(), 0x12345);
        // exit
        assert_eq!(
            Insn::new(op::JMP | op::EXIT, 0, 0, 0, 0).to_bytes()[0],
            0x95
        );
        // The slice the kernel reads is the bytes of each instruction in turn.
        let prog = [insn, jne];
        // SAFETY: `Insn` is repr(C), 8 bytes, no padding; the slice lives through the read.
        let raw = unsafe { std::slice::from_raw_parts(prog.as_ptr().cast::<u8>(), 16) };
        assert_eq!(&raw[..8], &insn.to_bytes());
        assert_eq!(&raw[8..], &jne.to_bytes());
    }

    #[test]
    fn load_attach_query_detach_on_a_cgroup() {
        // Needs root and a cgroup2 mount; the host's unified hierarchy (or the v2 root).
        if !nix::unistd::geteuid().is_root() {
            eprintln!("load_attach_query_detach_on_a_cgroup: not run, bpf(2) needs root");
            return;
        }
        let base = ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"]
            .into_iter()
            .map(std::path::Path::new)
            .find(|p| {
                nix::sys::statfs::statfs(*p)
                    .is_ok_and(|s| s.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC)
            });
        let Some(base) = base else {
            eprintln!("load_attach_query_detach_on_a_cgroup: not run, no cgroup2 mount");
            return;
        };
        let dir = base.join(format!("husk-test-bpf-{}", std::process::id()));
        std::fs::create_dir(&dir).unwrap();
        let result = std::panic::catch_unwind(|| {
            let cgroup = std::fs::File::open(&dir).unwrap();
            let allow_all = [
                Insn::new(op::ALU64 | op::MOV | op::K, 0, 0, 0, 1),
                Insn::new(op::JMP | op::EXIT, 0, 0, 0, 0),
            ];
            let a = prog_load_cgroup_device(&allow_all, "husk_test_a", c"Apache-2.0").unwrap();
            let b = prog_load_cgroup_device(&allow_all, "husk_test_b", c"Apache-2.0").unwrap();
            let id_a = prog_info(&a).unwrap().id;
            let info_b = prog_info(&b).unwrap();
            assert_eq!(info_b.name, "husk_test_b");
            assert_eq!(info_b.prog_type, BPF_PROG_TYPE_CGROUP_DEVICE);
            assert!(prog_query_cgroup_device(&cgroup).unwrap().is_empty());
            prog_attach_cgroup_device(&cgroup, &a, None::<&OwnedFd>).unwrap();
            assert_eq!(prog_query_cgroup_device(&cgroup).unwrap(), [id_a]);
            // Replace a by b in one step; a is then no longer attached.
            prog_attach_cgroup_device(&cgroup, &b, Some(&a)).unwrap();
            assert_eq!(prog_query_cgroup_device(&cgroup).unwrap(), [info_b.id]);
            // Replacing what is no longer there is ENOENT (a concurrent update won).
            let c = prog_load_cgroup_device(&allow_all, "husk_test_c", c"Apache-2.0").unwrap();
            let gone = prog_attach_cgroup_device(&cgroup, &c, Some(&a)).unwrap_err();
            assert_eq!(gone.raw_os_error(), Some(libc::ENOENT), "{gone}");
            let by_id = prog_get_fd_by_id(info_b.id).unwrap();
            assert_eq!(prog_info(&by_id).unwrap().id, info_b.id);
            prog_detach_cgroup_device(&cgroup, &by_id).unwrap();
            assert!(prog_query_cgroup_device(&cgroup).unwrap().is_empty());
        });
        std::fs::remove_dir(&dir).unwrap();
        if let Err(panic) = result {
            std::panic::resume_unwind(panic);
        }
    }

    #[test]
    fn a_refused_program_brings_the_verifier_log() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("a_refused_program_brings_the_verifier_log: not run, bpf(2) needs root");
            return;
        }
        // exit without setting r0: the verifier refuses ("R0 !read_ok").
        let bad = [Insn::new(op::JMP | op::EXIT, 0, 0, 0, 0)];
        let err = prog_load_cgroup_device(&bad, "husk_bad", c"Apache-2.0").unwrap_err();
        assert_eq!(err.source.raw_os_error(), Some(libc::EACCES), "{err:?}");
        assert!(err.log.contains("R0"), "{}", err.log);
    }
}
