//! `td-attack`: what an attacker inside a container would try, one system
//! call at a time, for the security tests (`tests/integration/security.rs`).
//!
//! Each subcommand prints its outcome on stdout (`ok`, or the name of the
//! errno, e.g. `EPERM`; steps of a sequence as `step:outcome`) and exits 0;
//! a usage error exits 2. Every attempt is harmless when it succeeds: values
//! are written back as read, the clock is set to the time just read, at most
//! one byte is read, nothing is ever rebooted or halted.
//!
//! Subcommands:
//!
//! - `mount DIR`: mount a tmpfs on DIR (made if missing), unmount it.
//! - `mknod-read PATH b|c MAJOR MINOR`: mknod a block or character device,
//!   open it read-only, read one byte, unlink it: `mknod:R`, `open:R`,
//!   `read:R` up to the first failure (`read:ok` or `read:eof` when it
//!   worked).
//! - `read1 PATH...`: per path, open and read one byte: `open:ERR`,
//!   `read:ERR`, `eof` or `byte:XX`.
//! - `open-w PATH`: open for writing and close at once (never writes).
//! - `write-back PATH`: read the file, write the same bytes back.
//! - `stat PATH...`: per path `chr MAJ:MIN`, `blk MAJ:MIN`, `reg`, `dir`,
//!   `lnk`, `other` or the errno.
//! - `cat PATH...`: per path `ok:CONTENT` (first line, at most 64 bytes) or
//!   the errno.
//! - `write PATH DATA`: open for writing, write DATA.
//! - `init-module`, `finit-module`: load a module that is not one.
//! - `reboot-cad-off HOST_PIDNS`: `reboot(LINUX_REBOOT_CMD_CAD_OFF)`, refused
//!   (`refused`) when this process's pid namespace is HOST_PIDNS (the link
//!   text of the host's `/proc/self/ns/pid`), or cannot be read.
//! - `clock-settime`: set CLOCK_REALTIME to the time just read.
//! - `unshare-user`: `unshare(CLONE_NEWUSER)`.
//! - `clone3`: `clone3(NULL, 0)`: EINVAL from the kernel, ENOSYS from
//!   docker's seccomp profile.
//! - `mkdir PATH`: mkdir (a probe for custom seccomp profiles).
//! - `ptrace PID`: `PTRACE_SEIZE` (which does not stop the tracee), then
//!   detach; `kill0 PID`: `kill(PID, 0)`.
//! - `ptrace-child`: fork a child and seize it (the control for `ptrace`).
//! - `ids`: `uid=R/E/S gid=R/E/S groups=G,G...` (groups sorted).
//! - `euid`: `euid=N`.
//! - `fds`: one line per entry of /proc/self/fd: `FD TARGET`.
//! - `perm PATH...`: per path `UID:GID MODE` (the owner and the permission
//!   bits in octal, e.g. `0:4242 0660`) or the errno.
//! - `socket FAMILY [stream|dgram|seqpacket]`: the raw `socket(2)` system
//!   call with FAMILY (decimal or `0x` hex) passed as a full 64-bit
//!   argument, type SOCK_STREAM unless given, protocol 0; the socket is
//!   closed at once (nothing is bound, connected or sent).

use std::ffi::CString;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// The symbolic name of an errno value.
fn name(e: i32) -> String {
    let known = [
        (libc::EPERM, "EPERM"),
        (libc::ENOENT, "ENOENT"),
        (libc::ESRCH, "ESRCH"),
        (libc::EINTR, "EINTR"),
        (libc::EIO, "EIO"),
        (libc::ENXIO, "ENXIO"),
        (libc::E2BIG, "E2BIG"),
        (libc::ENOEXEC, "ENOEXEC"),
        (libc::EBADF, "EBADF"),
        (libc::ECHILD, "ECHILD"),
        (libc::EAGAIN, "EAGAIN"),
        (libc::ENOMEM, "ENOMEM"),
        (libc::EACCES, "EACCES"),
        (libc::EFAULT, "EFAULT"),
        (libc::ENOTBLK, "ENOTBLK"),
        (libc::EBUSY, "EBUSY"),
        (libc::EEXIST, "EEXIST"),
        (libc::EXDEV, "EXDEV"),
        (libc::ENODEV, "ENODEV"),
        (libc::ENOTDIR, "ENOTDIR"),
        (libc::EISDIR, "EISDIR"),
        (libc::EINVAL, "EINVAL"),
        (libc::ENFILE, "ENFILE"),
        (libc::EMFILE, "EMFILE"),
        (libc::ENOTTY, "ENOTTY"),
        (libc::ETXTBSY, "ETXTBSY"),
        (libc::EFBIG, "EFBIG"),
        (libc::ENOSPC, "ENOSPC"),
        (libc::ESPIPE, "ESPIPE"),
        (libc::EROFS, "EROFS"),
        (libc::EMLINK, "EMLINK"),
        (libc::EPIPE, "EPIPE"),
        (libc::ERANGE, "ERANGE"),
        (libc::ENAMETOOLONG, "ENAMETOOLONG"),
        (libc::ENOSYS, "ENOSYS"),
        (libc::ENOTEMPTY, "ENOTEMPTY"),
        (libc::ELOOP, "ELOOP"),
        (libc::ENODATA, "ENODATA"),
        (libc::EBADMSG, "EBADMSG"),
        (libc::EOVERFLOW, "EOVERFLOW"),
        (libc::EOPNOTSUPP, "EOPNOTSUPP"),
        (libc::ENOKEY, "ENOKEY"),
        (libc::EKEYREJECTED, "EKEYREJECTED"),
        (libc::EKEYREVOKED, "EKEYREVOKED"),
        (libc::EKEYEXPIRED, "EKEYEXPIRED"),
        (libc::EPROTOTYPE, "EPROTOTYPE"),
        (libc::EPROTONOSUPPORT, "EPROTONOSUPPORT"),
        (libc::ESOCKTNOSUPPORT, "ESOCKTNOSUPPORT"),
        (libc::EPFNOSUPPORT, "EPFNOSUPPORT"),
        (libc::EAFNOSUPPORT, "EAFNOSUPPORT"),
    ];
    known
        .iter()
        .find(|(n, _)| *n == e)
        .map(|(_, s)| s.to_string())
        .unwrap_or_else(|| format!("errno{e}"))
}

/// `ok` for a non-negative result, else the errno's name.
fn outcome(rc: libc::c_long) -> String {
    if rc < 0 {
        name(errno())
    } else {
        "ok".to_string()
    }
}

fn cstr(s: &str) -> CString {
    CString::new(s).unwrap_or_else(|_| usage(&format!("NUL in {s:?}")))
}

fn usage(msg: &str) -> ! {
    eprintln!("td-attack: {msg}");
    std::process::exit(2)
}

fn arg(args: &[String], i: usize) -> &str {
    args.get(i)
        .map(String::as_str)
        .unwrap_or_else(|| usage("missing argument"))
}

fn num<T: std::str::FromStr>(s: &str) -> T {
    s.parse()
        .unwrap_or_else(|_| usage(&format!("not a number: {s:?}")))
}

fn open(path: &str, flags: i32) -> Result<i32, i32> {
    let c = cstr(path);
    // SAFETY: open with a valid C string; the fd is closed by the caller.
    let fd = unsafe { libc::open(c.as_ptr(), flags | libc::O_CLOEXEC) };
    if fd < 0 {
        Err(errno())
    } else {
        Ok(fd)
    }
}

fn close(fd: i32) {
    // SAFETY: closing an fd this program opened.
    unsafe { libc::close(fd) };
}

/// Read at most one byte of `fd`.
fn read_one(fd: i32) -> String {
    let mut b = [0u8; 1];
    // SAFETY: reading at most 1 byte into a 1-byte buffer.
    let n = unsafe { libc::read(fd, b.as_mut_ptr().cast(), 1) };
    match n {
        n if n < 0 => format!("read:{}", name(errno())),
        0 => "eof".to_string(),
        _ => format!("byte:{:02x}", b[0]),
    }
}

fn read1(path: &str) -> String {
    match open(path, libc::O_RDONLY) {
        Err(e) => format!("open:{}", name(e)),
        Ok(fd) => {
            let r = read_one(fd);
            close(fd);
            r
        }
    }
}

fn open_w(path: &str) -> String {
    match open(path, libc::O_WRONLY) {
        Err(e) => name(e),
        Ok(fd) => {
            close(fd);
            "ok".to_string()
        }
    }
}

fn write_file(path: &str, data: &[u8]) -> String {
    match open(path, libc::O_WRONLY) {
        Err(e) => format!("open:{}", name(e)),
        Ok(fd) => {
            // SAFETY: writing from a valid buffer of data.len() bytes.
            let n = unsafe { libc::write(fd, data.as_ptr().cast(), data.len()) };
            let e = errno();
            close(fd);
            if n < 0 {
                format!("write:{}", name(e))
            } else if n as usize != data.len() {
                format!("write:short {n}")
            } else {
                "ok".to_string()
            }
        }
    }
}

fn write_back(path: &str) -> String {
    let current = match std::fs::read(path) {
        Ok(c) => c,
        Err(e) => return format!("read:{}", name(e.raw_os_error().unwrap_or(0))),
    };
    write_file(path, &current)
}

fn stat(path: &str) -> String {
    let c = cstr(path);
    // SAFETY: an all-zero stat is a valid out-buffer.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: lstat with a valid C string and out-buffer.
    if unsafe { libc::lstat(c.as_ptr(), &mut st) } < 0 {
        return name(errno());
    }
    let dev = || format!("{}:{}", libc::major(st.st_rdev), libc::minor(st.st_rdev));
    match st.st_mode & libc::S_IFMT {
        libc::S_IFCHR => format!("chr {}", dev()),
        libc::S_IFBLK => format!("blk {}", dev()),
        libc::S_IFREG => "reg".into(),
        libc::S_IFDIR => "dir".into(),
        libc::S_IFLNK => "lnk".into(),
        _ => "other".into(),
    }
}

fn perm(path: &str) -> String {
    let c = cstr(path);
    // SAFETY: an all-zero stat is a valid out-buffer.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: lstat with a valid C string and out-buffer.
    if unsafe { libc::lstat(c.as_ptr(), &mut st) } < 0 {
        return name(errno());
    }
    format!("{}:{} {:04o}", st.st_uid, st.st_gid, st.st_mode & 0o7777)
}

fn cat(path: &str) -> String {
    match std::fs::read(path) {
        Err(e) => name(e.raw_os_error().unwrap_or(0)),
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes[..bytes.len().min(64)]).into_owned();
            format!("ok:{}", text.lines().next().unwrap_or(""))
        }
    }
}

fn mount_tmpfs(dir: &str) -> String {
    let _ = std::fs::create_dir_all(dir);
    let target = cstr(dir);
    // SAFETY: mount with valid C strings.
    let rc = unsafe {
        libc::mount(
            c"tmpfs".as_ptr(),
            target.as_ptr(),
            c"tmpfs".as_ptr(),
            0,
            c"size=64k".as_ptr().cast(),
        )
    };
    if rc < 0 {
        return name(errno());
    }
    // SAFETY: umount2 with a valid C string.
    unsafe { libc::umount2(target.as_ptr(), libc::MNT_DETACH) };
    "ok".into()
}

fn mknod_read(path: &str, kind: &str, major: u32, minor: u32) -> String {
    let kind = match kind {
        "b" => libc::S_IFBLK,
        "c" => libc::S_IFCHR,
        _ => usage("the node type is b or c"),
    };
    let c = cstr(path);
    let mut steps = Vec::new();
    // SAFETY: mknod with a valid C string.
    let rc = unsafe { libc::mknod(c.as_ptr(), kind | 0o600, libc::makedev(major, minor)) };
    if rc < 0 {
        steps.push(format!("mknod:{}", name(errno())));
        return steps.join(" ");
    }
    steps.push("mknod:ok".into());
    match open(path, libc::O_RDONLY) {
        Err(e) => steps.push(format!("open:{}", name(e))),
        Ok(fd) => {
            steps.push("open:ok".into());
            let r = read_one(fd);
            close(fd);
            steps.push(if r.starts_with("byte:") {
                "read:ok".into()
            } else if r == "eof" {
                "read:eof".into()
            } else {
                r
            });
        }
    }
    // SAFETY: unlink with a valid C string.
    unsafe { libc::unlink(c.as_ptr()) };
    steps.join(" ")
}

/// Not a module: the kernel must reject it whatever happens.
const NOT_A_MODULE: &[u8] = b"td-attack: this is not a kernel module\n";

fn init_module() -> String {
    // SAFETY: a valid buffer and length, and an empty parameter string.
    outcome(unsafe {
        libc::syscall(
            libc::SYS_init_module,
            NOT_A_MODULE.as_ptr(),
            NOT_A_MODULE.len() as libc::c_ulong,
            c"".as_ptr(),
        )
    })
}

fn finit_module() -> String {
    // SAFETY: memfd_create with a valid C string.
    let fd = unsafe { libc::memfd_create(c"td-not-a-module".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return format!("memfd:{}", name(errno()));
    }
    // SAFETY: writing from a valid buffer.
    let n = unsafe { libc::write(fd, NOT_A_MODULE.as_ptr().cast(), NOT_A_MODULE.len()) };
    if n < 0 {
        return format!("write:{}", name(errno()));
    }
    // SAFETY: finit_module with an fd, an empty parameter string, no flags.
    let r = outcome(unsafe { libc::syscall(libc::SYS_finit_module, fd, c"".as_ptr(), 0) });
    close(fd);
    r
}

fn reboot_cad_off(host_pidns: &str) -> String {
    // Never on the host: only in a pid namespace of its own, where the
    // kernel refuses CAD_OFF (EINVAL) after the capability check (EPERM).
    match std::fs::read_link("/proc/self/ns/pid") {
        Ok(link) if link.as_os_str().as_bytes() != host_pidns.as_bytes() => {}
        _ => return "refused".into(),
    }
    // SAFETY: reboot with LINUX_REBOOT_CMD_CAD_OFF: at worst it turns the
    // Ctrl-Alt-Del reboot off; it never reboots or halts.
    outcome(unsafe { libc::reboot(libc::LINUX_REBOOT_CMD_CAD_OFF) } as libc::c_long)
}

fn clock_settime() -> String {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime into a valid timespec.
    if unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut ts) } < 0 {
        return format!("gettime:{}", name(errno()));
    }
    // SAFETY: clock_settime to the time just read.
    outcome(unsafe { libc::clock_settime(libc::CLOCK_REALTIME, &ts) } as libc::c_long)
}

fn unshare_user() -> String {
    // SAFETY: unshare with a flag; this single-threaded process then exits.
    outcome(unsafe { libc::unshare(libc::CLONE_NEWUSER) } as libc::c_long)
}

fn clone3() -> String {
    // SAFETY: clone3 with no arguments and size 0 can only fail (EINVAL).
    let rc = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            std::ptr::null::<libc::c_void>(),
            0 as libc::size_t,
        )
    };
    if rc == 0 {
        // Never expected; a child must not go on as the parent.
        // SAFETY: _exit has no preconditions.
        unsafe { libc::_exit(0) };
    }
    outcome(rc)
}

fn mkdir(path: &str) -> String {
    let c = cstr(path);
    // SAFETY: mkdir with a valid C string.
    outcome(unsafe { libc::mkdir(c.as_ptr(), 0o755) } as libc::c_long)
}

fn ptrace_seize(pid: libc::pid_t) -> String {
    // SAFETY: PTRACE_SEIZE attaches without stopping the tracee.
    let rc = unsafe {
        libc::ptrace(
            libc::PTRACE_SEIZE,
            pid,
            std::ptr::null_mut::<libc::c_void>(),
            std::ptr::null_mut::<libc::c_void>(),
        )
    };
    if rc < 0 {
        return name(errno());
    }
    // Let go at once: a seized tracee must be stopped to be detached, so
    // interrupt it, wait for the stop, detach.
    // SAFETY: ptrace requests on a tracee this process has seized.
    unsafe {
        libc::ptrace(
            libc::PTRACE_INTERRUPT,
            pid,
            std::ptr::null_mut::<libc::c_void>(),
            std::ptr::null_mut::<libc::c_void>(),
        );
        let mut status = 0;
        libc::waitpid(pid, &mut status, libc::__WALL);
        libc::ptrace(
            libc::PTRACE_DETACH,
            pid,
            std::ptr::null_mut::<libc::c_void>(),
            std::ptr::null_mut::<libc::c_void>(),
        );
    }
    "ok".into()
}

fn ptrace_child() -> String {
    // SAFETY: fork in a single-threaded process; the child only pauses.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return format!("fork:{}", name(errno()));
    }
    if pid == 0 {
        loop {
            // SAFETY: pause has no preconditions.
            unsafe { libc::pause() };
        }
    }
    let r = ptrace_seize(pid);
    // SAFETY: killing and reaping this process's own child.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
        let mut status = 0;
        libc::waitpid(pid, &mut status, 0);
    }
    r
}

fn kill0(pid: libc::pid_t) -> String {
    // SAFETY: signal 0 only checks existence and permission.
    outcome(unsafe { libc::kill(pid, 0) } as libc::c_long)
}

/// `socket(family, kind, 0)` as the raw system call, the family a full
/// 64-bit register: the kernel reads an `int`, so a filter that compares
/// all 64 bits sees another family than the kernel does.
fn socket(family: u64, kind: &str) -> String {
    let kind = match kind {
        "stream" => libc::SOCK_STREAM,
        "dgram" => libc::SOCK_DGRAM,
        "seqpacket" => libc::SOCK_SEQPACKET,
        _ => usage("the socket type is stream, dgram or seqpacket"),
    };
    // SAFETY: socket takes three integers; a new fd is closed at once.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_socket,
            family,
            (kind | libc::SOCK_CLOEXEC) as libc::c_long,
            0 as libc::c_long,
        )
    };
    if fd >= 0 {
        close(fd as i32);
    }
    outcome(fd)
}

/// A number in decimal or `0x` hex.
fn num_u64(s: &str) -> u64 {
    let parsed = match s.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    };
    parsed.unwrap_or_else(|| usage(&format!("not a number: {s:?}")))
}

fn ids() -> String {
    let (mut r, mut e, mut s) = (0, 0, 0);
    let (mut gr, mut ge, mut gs) = (0, 0, 0);
    // SAFETY: out-pointers to local ids.
    unsafe {
        libc::getresuid(&mut r, &mut e, &mut s);
        libc::getresgid(&mut gr, &mut ge, &mut gs);
    }
    let mut groups = vec![0 as libc::gid_t; 256];
    // SAFETY: a buffer of groups.len() gids.
    let n = unsafe { libc::getgroups(groups.len() as i32, groups.as_mut_ptr()) };
    groups.truncate(n.max(0) as usize);
    groups.sort_unstable();
    let groups: Vec<String> = groups.iter().map(u32::to_string).collect();
    format!(
        "uid={r}/{e}/{s} gid={gr}/{ge}/{gs} groups={}",
        groups.join(",")
    )
}

fn fds() -> String {
    let mut lines = Vec::new();
    match std::fs::read_dir("/proc/self/fd") {
        Err(e) => return name(e.raw_os_error().unwrap_or(0)),
        Ok(dir) => {
            for entry in dir.flatten() {
                let target = std::fs::read_link(entry.path())
                    .map(|t| t.to_string_lossy().into_owned())
                    .unwrap_or_else(|e| name(e.raw_os_error().unwrap_or(0)));
                lines.push(format!("{} {target}", entry.file_name().to_string_lossy()));
            }
        }
    }
    lines.join("\n")
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let out = match arg(&args, 0) {
        "mount" => mount_tmpfs(arg(&args, 1)),
        "mknod-read" => mknod_read(
            arg(&args, 1),
            arg(&args, 2),
            num(arg(&args, 3)),
            num(arg(&args, 4)),
        ),
        "read1" => args[1..]
            .iter()
            .map(|p| read1(p))
            .collect::<Vec<_>>()
            .join("\n"),
        "open-w" => open_w(arg(&args, 1)),
        "write-back" => write_back(arg(&args, 1)),
        "write" => write_file(arg(&args, 1), arg(&args, 2).as_bytes()),
        "stat" => args[1..]
            .iter()
            .map(|p| stat(p))
            .collect::<Vec<_>>()
            .join("\n"),
        "cat" => args[1..]
            .iter()
            .map(|p| cat(p))
            .collect::<Vec<_>>()
            .join("\n"),
        "init-module" => init_module(),
        "finit-module" => finit_module(),
        "reboot-cad-off" => reboot_cad_off(arg(&args, 1)),
        "clock-settime" => clock_settime(),
        "unshare-user" => unshare_user(),
        "clone3" => clone3(),
        "mkdir" => mkdir(arg(&args, 1)),
        "ptrace" => ptrace_seize(num(arg(&args, 1))),
        "ptrace-child" => ptrace_child(),
        "kill0" => kill0(num(arg(&args, 1))),
        "ids" => ids(),
        "euid" => {
            // SAFETY: geteuid has no preconditions.
            format!("euid={}", unsafe { libc::geteuid() })
        }
        "fds" => fds(),
        "perm" => args[1..]
            .iter()
            .map(|p| perm(p))
            .collect::<Vec<_>>()
            .join("\n"),
        "socket" => socket(
            num_u64(arg(&args, 1)),
            args.get(2).map_or("stream", String::as_str),
        ),
        other => usage(&format!("unknown subcommand {other:?}")),
    };
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{out}");
}
