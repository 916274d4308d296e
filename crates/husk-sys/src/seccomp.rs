//! seccomp(2) for what libseccomp cannot do: loading an exported program with filter flags it
//! has no attribute for (SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV), and asking the kernel whether
//! it knows a flag. Source: `man 2 seccomp`.

use std::io;

/// One classic BPF instruction as seccomp(2) takes it (`struct sock_filter`,
/// linux/filter.h), in the byte layout seccomp_export_bpf(3) writes.
pub type SockFilter = libc::sock_filter;

/// Parses the raw program seccomp_export_bpf(3) writes (native-endian `struct sock_filter`s:
/// u16 code, u8 jt, u8 jf, u32 k) into instructions.
///
/// # Errors
/// EINVAL when the length is not a multiple of 8 bytes or the program is empty.
pub fn parse_bpf(raw: &[u8]) -> io::Result<Vec<SockFilter>> {
    if raw.is_empty() || !raw.len().is_multiple_of(8) {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    Ok(raw
        .chunks_exact(8)
        .map(|c| SockFilter {
            code: u16::from_ne_bytes([c[0], c[1]]),
            jt: c[2],
            jf: c[3],
            k: u32::from_ne_bytes([c[4], c[5], c[6], c[7]]),
        })
        .collect())
}

/// `seccomp(SECCOMP_SET_MODE_FILTER, flags, prog)` (`man 2 seccomp`): loads `prog` into the
/// calling thread with `flags` (SECCOMP_FILTER_FLAG_*), for flags libseccomp has no attribute
/// for (SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV, Linux 6.0). With
/// SECCOMP_FILTER_FLAG_NEW_LISTENER it returns the notify fd (close-on-exec).
///
/// Without no_new_privs the kernel requires CAP_SYS_ADMIN.
///
/// # Errors
/// The errno of seccomp(2): EINVAL for a flag the kernel does not know (or
/// WAIT_KILLABLE_RECV without NEW_LISTENER), EACCES without CAP_SYS_ADMIN or no_new_privs.
pub fn set_mode_filter(
    prog: &[SockFilter],
    flags: libc::c_ulong,
) -> io::Result<Option<std::os::fd::OwnedFd>> {
    use std::os::fd::FromRawFd;
    let len = u16::try_from(prog.len()).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    let fprog = libc::sock_fprog {
        len,
        filter: prog.as_ptr().cast_mut(),
    };
    // SAFETY: `fprog` points to `len` initialised instructions borrowed for the whole call; the
    // kernel copies them and never writes through the pointer.
    let r = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            flags,
            &fprog as *const libc::sock_fprog,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    if flags & libc::SECCOMP_FILTER_FLAG_NEW_LISTENER == 0 {
        return Ok(None);
    }
    let fd = libc::c_int::try_from(r).map_err(|_| io::Error::from_raw_os_error(libc::EBADF))?;
    // SAFETY: with SECCOMP_FILTER_FLAG_NEW_LISTENER the kernel returned a new fd installed in our
    // table for this call; nothing else owns it.
    Ok(Some(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) }))
}

/// Whether the kernel knows the seccomp filter `flags`, asked the way libseccomp asks: seccomp(2)
/// with a NULL program fails with EFAULT when the flags are accepted, EINVAL when not
/// (`man 2 seccomp`). Loads nothing.
pub fn flags_supported(flags: libc::c_ulong) -> bool {
    // SAFETY: a NULL program is never dereferenced: the kernel checks the flags, then fails to
    // copy the program (EFAULT); nothing is loaded.
    let r = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            flags,
            std::ptr::null::<libc::sock_fprog>(),
        )
    };
    r < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::EFAULT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_bpf_reads_native_endian_instructions() {
        let mut raw = Vec::new();
        raw.extend_from_slice(&0x06u16.to_ne_bytes());
        raw.extend_from_slice(&[1, 2]);
        raw.extend_from_slice(&0x7fff_0000u32.to_ne_bytes());
        let prog = parse_bpf(&raw).unwrap();
        assert_eq!(prog.len(), 1);
        assert_eq!(
            (prog[0].code, prog[0].jt, prog[0].jf, prog[0].k),
            (6, 1, 2, 0x7fff_0000)
        );
        assert_eq!(
            parse_bpf(&raw[..7]).unwrap_err().raw_os_error(),
            Some(libc::EINVAL)
        );
        assert!(parse_bpf(&[]).is_err());
    }

    #[test]
    fn flags_supported_knows_log_and_not_an_unknown_bit() {
        assert!(flags_supported(libc::SECCOMP_FILTER_FLAG_LOG));
        assert!(!flags_supported(1 << 30));
    }
}
