//! The compiled default filter loaded in a forked child, which then tries
//! calls the filter should allow or deny. Every call is harmless if it
//! goes through: it fails on bad arguments, or only changes the child.

use std::io;

use tinydocker_security::caps::CapSet;
use tinydocker_security::seccomp::{compile, resolve, Filter, Profile};

use super::caps_with;

const CHECKS: usize = 12;

/// What each check got: 0 for success, else the errno.
type Results = [i32; CHECKS];

/// `rc` as 0 or the errno. Reads errno without allocating.
fn outcome(rc: libc::c_long) -> i32 {
    if rc < 0 {
        io::Error::last_os_error().raw_os_error().unwrap_or(-1)
    } else {
        0
    }
}

/// Runs in the child after the filter is loaded: libc calls only.
fn probe() -> Results {
    let mut r = [0; CHECKS];
    // SAFETY: each call below passes valid or NULL pointers and has no
    // effect outside this child (see the comment on each).
    unsafe {
        r[0] = outcome(libc::syscall(libc::SYS_getpid));
        // The target does not exist: if allowed, ENOENT.
        r[1] = outcome(libc::syscall(
            libc::SYS_mount,
            c"none".as_ptr(),
            c"/nonexistent/tinydocker-seccomp-test".as_ptr(),
            c"tmpfs".as_ptr(),
            0 as libc::c_ulong,
            std::ptr::null::<libc::c_void>(),
        ));
        r[2] = outcome(libc::syscall(libc::SYS_unshare, libc::CLONE_NEWUSER));
        // A NULL clone_args: if allowed, EINVAL (size 0).
        r[3] = outcome(libc::syscall(
            libc::SYS_clone3,
            std::ptr::null::<libc::c_void>(),
            0usize,
        ));
        // Only asks for the current persona.
        r[4] = outcome(libc::syscall(
            libc::SYS_personality,
            0xffff_ffff as libc::c_ulong,
        ));
        // ADDR_NO_RANDOMIZE: not one of the allowed values.
        r[5] = outcome(libc::syscall(
            libc::SYS_personality,
            0x0040000 as libc::c_ulong,
        ));
        // No magic numbers: if allowed, EINVAL.
        r[6] = outcome(libc::syscall(libc::SYS_reboot, 0, 0, 0, 0usize));
        // clone(2) with a namespace flag; a child that appears exits at once.
        let pid = libc::syscall(
            libc::SYS_clone,
            (libc::CLONE_NEWUTS | libc::SIGCHLD) as libc::c_ulong,
            0usize,
            0usize,
            0usize,
            0usize,
        );
        if pid == 0 {
            libc::_exit(0);
        }
        if pid > 0 {
            libc::waitpid(pid as libc::pid_t, std::ptr::null_mut(), 0);
        }
        r[7] = outcome(pid);
        let fd = libc::syscall(libc::SYS_socket, libc::AF_VSOCK, libc::SOCK_STREAM, 0);
        if fd >= 0 {
            libc::close(fd as libc::c_int);
        }
        r[8] = outcome(fd);
        // CAP_SYS_CHROOT is in the default set; the path does not exist.
        r[9] = outcome(libc::syscall(libc::SYS_chroot, c"/nonexistent".as_ptr()));
        // If allowed, EBADF.
        r[10] = outcome(libc::syscall(libc::SYS_setns, -1, 0));
        // Allowed on kernels from 4.8; pid 0 is nobody's, so ESRCH.
        r[11] = outcome(libc::syscall(
            libc::SYS_ptrace,
            libc::PTRACE_PEEKDATA,
            0,
            0,
            0,
        ));
    }
    r
}

/// [`probe`] for a container with CAP_SYS_ADMIN, first unsharing a mount
/// namespace (the child's own) in place of `getpid`.
fn probe_admin() -> Results {
    // SAFETY: the new mount namespace belongs to this child alone.
    let unshared = outcome(unsafe { libc::syscall(libc::SYS_unshare, libc::CLONE_NEWNS) });
    let mut r = probe();
    r[0] = unshared;
    r
}

/// Fork, load `filter` in the child after setting no_new_privs, run
/// `checks` there and hand the results back through a pipe. `Err` is the
/// errno of a failed load.
fn in_child(filter: &Filter, checks: fn() -> Results) -> Result<Results, i32> {
    let mut fds = [0; 2];
    // SAFETY: fds has room for the two descriptors.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    let [read_fd, write_fd] = fds;
    // SAFETY: the child only makes system calls (no allocation, no locks)
    // and leaves with _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork: {}", io::Error::last_os_error());
    if pid == 0 {
        // [load errno, results...]
        let mut out = [0i32; CHECKS + 1];
        // SAFETY: prctl with integer arguments.
        let nnp = unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
        if nnp != 0 {
            out[0] = -1;
        } else {
            match filter.load() {
                Ok(()) => out[1..].copy_from_slice(&checks()),
                Err(errno) => out[0] = errno,
            }
        }
        // SAFETY: out is a plain array of the given size; _exit never returns.
        unsafe {
            libc::write(write_fd, out.as_ptr().cast(), std::mem::size_of_val(&out));
            libc::_exit(0);
        }
    }
    // SAFETY: the parent's copy of the write end is ours to close.
    unsafe { libc::close(write_fd) };
    let mut out = [0i32; CHECKS + 1];
    // SAFETY: out is writable for its size.
    let n = unsafe {
        libc::read(
            read_fd,
            out.as_mut_ptr().cast(),
            std::mem::size_of_val(&out),
        )
    };
    let mut status = 0;
    // SAFETY: pid is our child; status is a valid out pointer.
    unsafe {
        libc::close(read_fd);
        libc::waitpid(pid, &mut status, 0);
    }
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "child status {status:#x}"
    );
    assert_eq!(
        n as usize,
        std::mem::size_of_val(&out),
        "short read from the child"
    );
    match out[0] {
        0 => Ok(out[1..].try_into().unwrap()),
        errno => Err(errno),
    }
}

fn named(results: Results) -> Vec<(&'static str, i32)> {
    [
        "getpid/unshare(NEWNS)",
        "mount",
        "unshare(NEWUSER)",
        "clone3",
        "personality(query)",
        "personality(ADDR_NO_RANDOMIZE)",
        "reboot",
        "clone(NEWUTS)",
        "socket(AF_VSOCK)",
        "chroot",
        "setns",
        "ptrace",
    ]
    .into_iter()
    .zip(results)
    .collect()
}

#[test]
fn default_filter_in_a_child() {
    let resolved = resolve(&Profile::docker_default(), &CapSet::default_set()).unwrap();
    let filter = compile(&resolved, None).unwrap();
    let got = in_child(&filter, probe).expect("load the filter");
    let expected = [
        0,
        libc::EPERM,
        libc::EPERM,
        libc::ENOSYS,
        0,
        libc::EPERM,
        libc::EPERM,
        libc::EPERM,
        libc::EPERM,
        libc::ENOENT,
        libc::EPERM,
        libc::ESRCH,
    ];
    assert_eq!(named(got), named(expected));
}

#[test]
fn cap_sys_admin_filter_in_a_child() {
    let resolved = resolve(&Profile::docker_default(), &caps_with(&["CAP_SYS_ADMIN"])).unwrap();
    let filter = compile(&resolved, None).unwrap();
    let got = in_child(&filter, probe_admin).expect("load the filter");
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("not root: unshare(CLONE_NEWNS) and mount need real privileges, skipped");
        return;
    }
    let mut expected = [
        0,
        libc::ENOENT,
        0,
        libc::EINVAL,
        0,
        libc::EPERM,
        libc::EPERM,
        0,
        libc::EPERM,
        libc::ENOENT,
        libc::EBADF,
        libc::ESRCH,
    ];
    // A kernel without user namespaces, or with them restricted.
    if got[2] != 0 {
        expected[2] = got[2];
        assert_ne!(
            got[2],
            libc::EPERM,
            "unshare(CLONE_NEWUSER) denied by seccomp"
        );
    }
    assert_eq!(named(got), named(expected));
}

#[test]
fn without_no_new_privs_or_cap_sys_admin_load_fails() {
    // An allow-all filter, loaded after dropping CAP_SYS_ADMIN from the
    // effective set and without no_new_privs, must be refused.
    let profile = Profile::from_json(r#"{"defaultAction": "SCMP_ACT_ALLOW"}"#).unwrap();
    let filter = compile(&resolve(&profile, &CapSet::default_set()).unwrap(), None).unwrap();
    let mut fds = [0; 2];
    // SAFETY: fds has room for the two descriptors.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: the child only makes system calls and leaves with _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0);
    if pid == 0 {
        // Version 3 header, this process; empty effective, permitted and
        // inheritable sets.
        let header: [u32; 2] = [0x2008_0522, 0];
        let data = [0u32; 6];
        // SAFETY: capset reads a valid header and two data structs; the
        // result only matters to this child.
        let dropped = unsafe { libc::syscall(libc::SYS_capset, header.as_ptr(), data.as_ptr()) };
        let errno: i32 = if dropped != 0 {
            -1
        } else {
            filter.load().err().unwrap_or(0)
        };
        // SAFETY: writes 4 bytes from a live i32; _exit never returns.
        unsafe {
            libc::write(fds[1], (&errno as *const i32).cast(), 4);
            libc::_exit(0);
        }
    }
    let mut errno = 0i32;
    // SAFETY: closing our write end, reading 4 bytes into a live i32, and
    // reaping our own child.
    unsafe {
        libc::close(fds[1]);
        libc::read(fds[0], (&mut errno as *mut i32).cast(), 4);
        libc::close(fds[0]);
        libc::waitpid(pid, std::ptr::null_mut(), 0);
    }
    assert_eq!(errno, libc::EACCES);
}

/// `socket(family, type, 0)` as the raw system call, the family a full
/// 64-bit register; a socket made is closed at once.
fn raw_socket(family: u64, kind: libc::c_int) -> i32 {
    // SAFETY: socket takes integers; a new fd is closed at once.
    unsafe {
        let fd = libc::syscall(
            libc::SYS_socket,
            family,
            kind as libc::c_long,
            0 as libc::c_long,
        );
        if fd >= 0 {
            libc::close(fd as libc::c_int);
        }
        outcome(fd)
    }
}

/// The socket families docker's profile denies, also when the family has
/// bits set above the `int` the kernel reads (it truncates them, so a rule
/// comparing all 64 bits would see another family than the kernel).
fn probe_sockets() -> Results {
    let mut r = [0; CHECKS];
    r[0] = raw_socket(libc::AF_VSOCK as u64, libc::SOCK_STREAM);
    r[1] = raw_socket(1 << 32 | libc::AF_VSOCK as u64, libc::SOCK_STREAM);
    r[2] = raw_socket(libc::AF_ALG as u64, libc::SOCK_SEQPACKET);
    r[3] = raw_socket(1 << 32 | libc::AF_ALG as u64, libc::SOCK_SEQPACKET);
    r[4] = raw_socket(libc::AF_INET as u64, libc::SOCK_STREAM);
    r[5] = raw_socket(libc::AF_UNIX as u64, libc::SOCK_STREAM);
    r
}

#[test]
fn socket_families_are_compared_on_32_bits() {
    let names = [
        "AF_VSOCK",
        "1<<32 | AF_VSOCK",
        "AF_ALG",
        "1<<32 | AF_ALG",
        "AF_INET",
        "AF_UNIX",
    ];
    let expected = [libc::EPERM, libc::EPERM, libc::EPERM, libc::EPERM, 0, 0];
    for caps in [CapSet::default_set(), CapSet::ALL] {
        let resolved = resolve(&Profile::docker_default(), &caps).unwrap();
        let filter = compile(&resolved, None).unwrap();
        let got = in_child(&filter, probe_sockets).expect("load the filter");
        let got: Vec<(&str, i32)> = names.into_iter().zip(got).collect();
        let want: Vec<(&str, i32)> = names.into_iter().zip(expected).collect();
        assert_eq!(got, want, "default profile with {caps:?}");
    }
}
