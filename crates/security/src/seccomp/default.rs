//! tinydocker's default seccomp profile: the semantics of docker's (moby
//! `profiles/seccomp/default.json`, as of its v0.2.3 module) written as our
//! own table. Everything not listed fails with `EPERM`; the
//! capability-gated groups open up when the container keeps that
//! capability, so `--cap-add SYS_ADMIN` also allows `mount(2)`.
//!
//! Names libseccomp does not know (newer than the installed library, or of
//! another architecture) are skipped when the filter is compiled.

use super::profile::{
    ActionName, Arch, ArchMap, ArgRule, CmpOp, Conditions, KernelVersion, Profile, SyscallRule,
    EPERM,
};
use super::resolve::{architectures_for, holds, Action, Host, Resolved, Rule};
use crate::caps::CapSet;

/// Processes and threads: lifecycle, limits, scheduling, and odds and ends
/// such as `uname(2)` and `getrandom(2)`.
const PROCESS: &[&str] = &[
    "capget",
    "capset",
    "execve",
    "execveat",
    "exit",
    "exit_group",
    "fork",
    "get_robust_list",
    "get_thread_area",
    "getcpu",
    "getpgid",
    "getpgrp",
    "getpid",
    "getppid",
    "getpriority",
    "getrandom",
    "getrlimit",
    "getrusage",
    "getsid",
    "gettid",
    "ioprio_get",
    "ioprio_set",
    "kill",
    "landlock_add_rule",
    "landlock_create_ruleset",
    "landlock_restrict_self",
    "membarrier",
    "pidfd_open",
    "pidfd_send_signal",
    "prctl",
    "prlimit64",
    "process_mrelease",
    "restart_syscall",
    "riscv_hwprobe",
    "rseq",
    "sched_get_priority_max",
    "sched_get_priority_min",
    "sched_getaffinity",
    "sched_getattr",
    "sched_getparam",
    "sched_getscheduler",
    "sched_rr_get_interval",
    "sched_rr_get_interval_time64",
    "sched_setaffinity",
    "sched_setattr",
    "sched_setparam",
    "sched_setscheduler",
    "sched_yield",
    "seccomp",
    "set_robust_list",
    "set_thread_area",
    "set_tid_address",
    "setpgid",
    "setpriority",
    "setrlimit",
    "setsid",
    "sysinfo",
    "tgkill",
    "times",
    "tkill",
    "ugetrlimit",
    "uname",
    "uretprobe",
    "vfork",
    "wait4",
    "waitid",
    "waitpid",
];

/// User and group ids.
const CREDENTIALS: &[&str] = &[
    "getegid",
    "getegid32",
    "geteuid",
    "geteuid32",
    "getgid",
    "getgid32",
    "getgroups",
    "getgroups32",
    "getresgid",
    "getresgid32",
    "getresuid",
    "getresuid32",
    "getuid",
    "getuid32",
    "setfsgid",
    "setfsgid32",
    "setfsuid",
    "setfsuid32",
    "setgid",
    "setgid32",
    "setgroups",
    "setgroups32",
    "setregid",
    "setregid32",
    "setresgid",
    "setresgid32",
    "setresuid",
    "setresuid32",
    "setreuid",
    "setreuid32",
    "setuid",
    "setuid32",
];

/// Signals.
const SIGNALS: &[&str] = &[
    "alarm",
    "pause",
    "rt_sigaction",
    "rt_sigpending",
    "rt_sigprocmask",
    "rt_sigqueueinfo",
    "rt_sigreturn",
    "rt_sigsuspend",
    "rt_sigtimedwait",
    "rt_sigtimedwait_time64",
    "rt_tgsigqueueinfo",
    "sigaltstack",
    "signalfd",
    "signalfd4",
    "sigprocmask",
    "sigreturn",
];

/// Clocks, timers and sleeping.
const TIME: &[&str] = &[
    "adjtimex",
    "clock_adjtime",
    "clock_adjtime64",
    "clock_getres",
    "clock_getres_time64",
    "clock_gettime",
    "clock_gettime64",
    "clock_nanosleep",
    "clock_nanosleep_time64",
    "getitimer",
    "gettimeofday",
    "nanosleep",
    "setitimer",
    "time",
    "timer_create",
    "timer_delete",
    "timer_getoverrun",
    "timer_gettime",
    "timer_gettime64",
    "timer_settime",
    "timer_settime64",
    "timerfd_create",
    "timerfd_gettime",
    "timerfd_gettime64",
    "timerfd_settime",
    "timerfd_settime64",
];

/// Memory mappings.
const MEMORY: &[&str] = &[
    "brk",
    "madvise",
    "map_shadow_stack",
    "memfd_create",
    "memfd_secret",
    "mincore",
    "mlock",
    "mlock2",
    "mlockall",
    "mmap",
    "mmap2",
    "mprotect",
    "mremap",
    "mseal",
    "msync",
    "munlock",
    "munlockall",
    "munmap",
    "pkey_alloc",
    "pkey_free",
    "pkey_mprotect",
    "remap_file_pages",
];

/// Futexes.
const FUTEX: &[&str] = &[
    "futex",
    "futex_requeue",
    "futex_time64",
    "futex_wait",
    "futex_waitv",
    "futex_wake",
];

/// Sockets; `socket(2)` itself is allowed per address family below.
const SOCKETS: &[&str] = &[
    "accept",
    "accept4",
    "bind",
    "connect",
    "getpeername",
    "getsockname",
    "getsockopt",
    "listen",
    "recv",
    "recvfrom",
    "recvmmsg",
    "recvmmsg_time64",
    "recvmsg",
    "send",
    "sendmmsg",
    "sendmsg",
    "sendto",
    "setsockopt",
    "shutdown",
    "socketcall",
    "socketpair",
];

/// System V IPC and POSIX message queues.
const IPC: &[&str] = &[
    "ipc",
    "mq_getsetattr",
    "mq_notify",
    "mq_open",
    "mq_timedreceive",
    "mq_timedreceive_time64",
    "mq_timedsend",
    "mq_timedsend_time64",
    "mq_unlink",
    "msgctl",
    "msgget",
    "msgrcv",
    "msgsnd",
    "semctl",
    "semget",
    "semop",
    "semtimedop",
    "semtimedop_time64",
    "shmat",
    "shmctl",
    "shmdt",
    "shmget",
];

/// Waiting on many descriptors, events and asynchronous I/O.
const EVENTS: &[&str] = &[
    "epoll_create",
    "epoll_create1",
    "epoll_ctl",
    "epoll_ctl_old",
    "epoll_pwait",
    "epoll_pwait2",
    "epoll_wait",
    "epoll_wait_old",
    "eventfd",
    "eventfd2",
    "fanotify_mark",
    "inotify_add_watch",
    "inotify_init",
    "inotify_init1",
    "inotify_rm_watch",
    "io_cancel",
    "io_destroy",
    "io_getevents",
    "io_pgetevents",
    "io_pgetevents_time64",
    "io_setup",
    "io_submit",
    "_newselect",
    "poll",
    "ppoll",
    "ppoll_time64",
    "pselect6",
    "pselect6_time64",
    "select",
];

/// Extended attributes.
const XATTRS: &[&str] = &[
    "fgetxattr",
    "flistxattr",
    "fremovexattr",
    "fsetxattr",
    "getxattr",
    "getxattrat",
    "lgetxattr",
    "listxattr",
    "listxattrat",
    "llistxattr",
    "lremovexattr",
    "lsetxattr",
    "removexattr",
    "removexattrat",
    "setxattr",
    "setxattrat",
];

/// Reading, writing and managing file descriptors.
const FDS: &[&str] = &[
    "cachestat",
    "close",
    "close_range",
    "copy_file_range",
    "dup",
    "dup2",
    "dup3",
    "fadvise64",
    "fadvise64_64",
    "fallocate",
    "fcntl",
    "fcntl64",
    "fdatasync",
    "flock",
    "fsync",
    "ftruncate",
    "ftruncate64",
    "ioctl",
    "_llseek",
    "lseek",
    "pipe",
    "pipe2",
    "pread64",
    "preadv",
    "preadv2",
    "pwrite64",
    "pwritev",
    "pwritev2",
    "read",
    "readahead",
    "readv",
    "sendfile",
    "sendfile64",
    "splice",
    "sync_file_range",
    "tee",
    "vmsplice",
    "write",
    "writev",
];

/// Paths, directories and file metadata.
const FILES: &[&str] = &[
    "access",
    "chdir",
    "chmod",
    "chown",
    "chown32",
    "creat",
    "faccessat",
    "faccessat2",
    "fchdir",
    "fchmod",
    "fchmodat",
    "fchmodat2",
    "fchown",
    "fchown32",
    "fchownat",
    "fstat",
    "fstat64",
    "fstatat64",
    "fstatfs",
    "fstatfs64",
    "futimesat",
    "getcwd",
    "getdents",
    "getdents64",
    "lchown",
    "lchown32",
    "link",
    "linkat",
    "listmount",
    "lstat",
    "lstat64",
    "mkdir",
    "mkdirat",
    "mknod",
    "mknodat",
    "name_to_handle_at",
    "newfstatat",
    "open",
    "openat",
    "openat2",
    "readlink",
    "readlinkat",
    "rename",
    "renameat",
    "renameat2",
    "rmdir",
    "stat",
    "stat64",
    "statfs",
    "statfs64",
    "statmount",
    "statx",
    "symlink",
    "symlinkat",
    "sync",
    "syncfs",
    "truncate",
    "truncate64",
    "umask",
    "unlink",
    "unlinkat",
    "utime",
    "utimensat",
    "utimensat_time64",
    "utimes",
];

/// The calls every container may make, by topic (the comment of each
/// entry).
const ALWAYS: &[(&str, &[&str])] = &[
    ("processes and threads", PROCESS),
    ("user and group ids", CREDENTIALS),
    ("signals", SIGNALS),
    ("clocks, timers and sleeping", TIME),
    ("memory mappings", MEMORY),
    ("futexes", FUTEX),
    ("sockets", SOCKETS),
    ("System V IPC and POSIX message queues", IPC),
    (
        "waiting on many descriptors, events and asynchronous I/O",
        EVENTS,
    ),
    ("extended attributes", XATTRS),
    ("reading, writing and managing file descriptors", FDS),
    ("paths, directories and file metadata", FILES),
];

/// Namespace flags `clone(2)` may not use without `CAP_SYS_ADMIN`.
const CLONE_NAMESPACE_FLAGS: u64 = (libc::CLONE_NEWNS
    | libc::CLONE_NEWCGROUP
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWUSER
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWNET) as u64;

/// `personality(2)` values a container may set: `PER_LINUX`,
/// `PER_LINUX32`, `UNAME26`, `UNAME26 | PER_LINUX32`, and `0xffffffff`,
/// which only asks for the current one. Other flags such as
/// `ADDR_NO_RANDOMIZE` would weaken the process's hardening.
const PERSONALITIES: [u64; 5] = [0x0, 0x8, 0x2_0000, 0x2_0008, 0xffff_ffff];

const AF_ALG: u64 = libc::AF_ALG as u64;
const AF_VSOCK: u64 = libc::AF_VSOCK as u64;
/// The last address family Linux 6.x knows (AF_MCTP); AF_MAX is one more.
const AF_LAST: u64 = 45;
// The socket rules below allow every family but these two, which must be
// two apart with one family between them.
const _: () = assert!(AF_ALG == 38 && AF_VSOCK == 40);

/// What `CAP_SYS_ADMIN` opens: mounts and the new mount API, namespaces,
/// `clone(2)` with namespace flags and `clone3(2)` (whose flags seccomp
/// cannot inspect), host and domain names, quotas, and the tracing and LSM
/// interfaces that predate their own capabilities.
const SYS_ADMIN: &[&str] = &[
    "bpf",
    "clone",
    "clone3",
    "fanotify_init",
    "fsconfig",
    "fsmount",
    "fsopen",
    "fspick",
    "lookup_dcookie",
    "lsm_get_self_attr",
    "lsm_list_modules",
    "lsm_set_self_attr",
    "mount",
    "mount_setattr",
    "move_mount",
    "open_tree",
    "perf_event_open",
    "quotactl",
    "quotactl_fd",
    "setdomainname",
    "sethostname",
    "setns",
    "syslog",
    "umount",
    "umount2",
    "unshare",
];

/// The smaller capabilities, each with the calls it is about.
const CAP_GROUPS: &[(&[&str], &[&str])] = &[
    (&["CAP_SYS_BOOT"], &["reboot"]),
    (&["CAP_SYS_CHROOT"], &["chroot"]),
    (
        &["CAP_SYS_MODULE"],
        &["delete_module", "init_module", "finit_module"],
    ),
    (&["CAP_SYS_PACCT"], &["acct"]),
    (
        &["CAP_SYS_PTRACE"],
        &[
            "kcmp",
            "pidfd_getfd",
            "process_madvise",
            "process_vm_readv",
            "process_vm_writev",
            "ptrace",
        ],
    ),
    (&["CAP_SYS_RAWIO"], &["iopl", "ioperm"]),
    (
        &["CAP_SYS_TIME"],
        &["settimeofday", "stime", "clock_settime", "clock_settime64"],
    ),
    (&["CAP_SYS_TTY_CONFIG"], &["vhangup"]),
    (
        &["CAP_SYS_NICE"],
        &[
            "get_mempolicy",
            "mbind",
            "set_mempolicy",
            "set_mempolicy_home_node",
        ],
    ),
    (&["CAP_SYSLOG"], &["syslog"]),
    (&["CAP_BPF"], &["bpf"]),
    (&["CAP_PERFMON"], &["perf_event_open"]),
];

/// Calls only some architectures have, by the short architecture names of
/// `includes.arches`.
const ARCH_SPECIFIC: &[(&[&str], &[&str])] = &[
    (&["ppc64le"], &["sync_file_range2", "swapcontext"]),
    (
        &["arm", "arm64"],
        &[
            "arm_fadvise64_64",
            "arm_sync_file_range",
            "sync_file_range2",
            "breakpoint",
            "cacheflush",
            "set_tls",
        ],
    ),
    (&["amd64", "x32"], &["arch_prctl"]),
    (&["amd64", "x32", "x86"], &["modify_ldt"]),
    (
        &["s390", "s390x"],
        &[
            "s390_pci_mmio_read",
            "s390_pci_mmio_write",
            "s390_runtime_instr",
        ],
    ),
    (&["riscv64"], &["riscv_flush_icache"]),
];

/// Per native architecture, the ABIs its kernel also runs.
const ARCH_MAP: &[(Arch, &[Arch])] = &[
    (Arch::X86_64, &[Arch::X86, Arch::X32]),
    (Arch::Aarch64, &[Arch::Arm]),
    (Arch::Mips64, &[Arch::Mips, Arch::Mips64N32]),
    (Arch::Mips64N32, &[Arch::Mips, Arch::Mips64]),
    (Arch::Mipsel64, &[Arch::Mipsel, Arch::Mipsel64N32]),
    (Arch::Mipsel64N32, &[Arch::Mipsel, Arch::Mipsel64]),
    (Arch::S390X, &[Arch::S390]),
    (Arch::Riscv64, &[]),
    (Arch::Loongarch64, &[]),
];

/// A condition of the table, borrowed from it.
#[derive(Clone, Copy, Default)]
struct Cond {
    caps: &'static [&'static str],
    arches: &'static [&'static str],
    min_kernel: Option<KernelVersion>,
}

impl Cond {
    fn owned(self) -> Conditions {
        Conditions {
            caps: names(self.caps),
            arches: names(self.arches),
            min_kernel: self.min_kernel,
        }
    }
}

/// A rule of the table, borrowed from it.
#[derive(Clone, Copy)]
struct Static {
    names: &'static [&'static str],
    action: ActionName,
    errno_ret: Option<u16>,
    arg: Option<ArgRule>,
    comment: &'static str,
    includes: Cond,
    excludes: Cond,
}

impl Static {
    fn owned(self) -> SyscallRule {
        SyscallRule {
            names: names(self.names),
            action: self.action,
            errno_ret: self.errno_ret,
            args: self.arg.into_iter().collect(),
            comment: self.comment.to_string(),
            includes: self.includes.owned(),
            excludes: self.excludes.owned(),
        }
    }
}

fn names(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| n.to_string()).collect()
}

fn allow(calls: &'static [&'static str]) -> Static {
    Static {
        names: calls,
        action: ActionName::Allow,
        errno_ret: None,
        arg: None,
        comment: "",
        includes: Cond::default(),
        excludes: Cond::default(),
    }
}

fn arg(index: u32, op: CmpOp, value: u64) -> ArgRule {
    ArgRule {
        index,
        value,
        value_two: 0,
        op,
    }
}

fn needs_cap(cap: &'static [&'static str]) -> Cond {
    Cond {
        caps: cap,
        ..Cond::default()
    }
}

const SOCKET: &[&str] = &["socket"];
const PERSONALITY: &[&str] = &["personality"];
const CLONE: &[&str] = &["clone"];
const S390: &[&str] = &["s390", "s390x"];

/// Every rule of the default profile, in order.
fn each_rule(mut push: impl FnMut(Static)) {
    for (comment, calls) in ALWAYS {
        push(Static {
            comment,
            ..allow(calls)
        });
    }

    // Before 4.8 a seccomp filter could be bypassed with ptrace (the
    // tracer could change the syscall after the filter ran), so older
    // kernels get these only with CAP_SYS_PTRACE.
    push(Static {
        includes: Cond {
            min_kernel: Some(KernelVersion::new(4, 8)),
            ..Cond::default()
        },
        ..allow(&["process_vm_readv", "process_vm_writev", "ptrace"])
    });

    // Every address family but AF_ALG (the kernel crypto API, a
    // recurring source of bugs) and AF_VSOCK (host to guest
    // communication). Those above AF_VSOCK are listed one by one, not
    // as "greater than": the filter compares all 64 bits of the
    // argument while the kernel reads an int, so 0x1_0000_0028 would
    // pass a comparison with 40 and still open AF_VSOCK. (docker's
    // profile, "not equal to 40", has that hole.)
    let rules = [(CmpOp::Lt, AF_ALG), (CmpOp::Eq, AF_ALG + 1)]
        .into_iter()
        .chain((AF_VSOCK + 1..=AF_LAST).map(|family| (CmpOp::Eq, family)));
    for (op, family) in rules {
        push(Static {
            arg: Some(arg(0, op, family)),
            ..allow(SOCKET)
        });
    }

    for persona in PERSONALITIES {
        push(Static {
            arg: Some(arg(0, CmpOp::Eq, persona)),
            ..allow(PERSONALITY)
        });
    }

    for (arches, calls) in ARCH_SPECIFIC {
        push(Static {
            includes: Cond {
                arches,
                ..Cond::default()
            },
            ..allow(calls)
        });
    }

    push(Static {
        includes: needs_cap(&["CAP_DAC_READ_SEARCH"]),
        ..allow(&["open_by_handle_at"])
    });
    push(Static {
        includes: needs_cap(&["CAP_SYS_ADMIN"]),
        ..allow(SYS_ADMIN)
    });

    // Without CAP_SYS_ADMIN: clone(2) without namespace flags
    // (s390 passes the flags second), and clone3(2) made to look absent
    // so that libc falls back to clone(2), whose flags seccomp can see.
    push(Static {
        arg: Some(arg(0, CmpOp::MaskedEq, CLONE_NAMESPACE_FLAGS)),
        excludes: Cond {
            arches: S390,
            ..needs_cap(&["CAP_SYS_ADMIN"])
        },
        ..allow(CLONE)
    });
    push(Static {
        arg: Some(arg(1, CmpOp::MaskedEq, CLONE_NAMESPACE_FLAGS)),
        comment: "s390 passes the clone flags second",
        includes: Cond {
            arches: S390,
            ..Cond::default()
        },
        excludes: needs_cap(&["CAP_SYS_ADMIN"]),
        ..allow(CLONE)
    });
    push(Static {
        action: ActionName::Errno,
        errno_ret: Some(libc::ENOSYS as u16),
        excludes: needs_cap(&["CAP_SYS_ADMIN"]),
        ..allow(&["clone3"])
    });

    for (cap, calls) in CAP_GROUPS {
        push(Static {
            includes: needs_cap(cap),
            ..allow(calls)
        });
    }
}

fn arch_map() -> Vec<ArchMap> {
    ARCH_MAP
        .iter()
        .map(|(arch, subs)| ArchMap {
            architecture: *arch,
            sub_architectures: subs.to_vec(),
        })
        .collect()
}

impl Profile {
    /// tinydocker's default profile, docker's semantics.
    ///
    /// ```
    /// use tinydocker_security::caps::CapSet;
    /// use tinydocker_security::seccomp::{self, Profile};
    ///
    /// let resolved = seccomp::resolve(&Profile::docker_default(), &CapSet::default_set())?;
    /// assert!(resolved.allows("read"));
    /// assert!(!resolved.allows("mount"));
    /// # Ok::<(), seccomp::Error>(())
    /// ```
    pub fn docker_default() -> Profile {
        let mut syscalls = Vec::new();
        each_rule(|rule| syscalls.push(rule.owned()));
        Profile {
            default_action: ActionName::Errno,
            default_errno_ret: Some(EPERM),
            architectures: Vec::new(),
            arch_map: arch_map(),
            syscalls,
            flags: Vec::new(),
        }
    }
}

/// [`Profile::docker_default`] resolved for `caps` on `host`, straight
/// from its table: only the rules that apply are copied out (the path of
/// every `run` with the default profile).
///
/// ```
/// use tinydocker_security::caps::CapSet;
/// use tinydocker_security::seccomp::{self, Profile};
///
/// let host = seccomp::Host::current()?;
/// let caps = CapSet::default_set();
/// assert_eq!(
///     seccomp::resolve_default(&caps, &host),
///     seccomp::resolve_for(&Profile::docker_default(), &caps, &host)?,
/// );
/// # Ok::<(), seccomp::Error>(())
/// ```
pub fn resolve_default(caps: &CapSet, host: &Host) -> Resolved {
    let mut rules = Vec::new();
    each_rule(|rule| {
        let (i, e) = (rule.includes, rule.excludes);
        if holds(
            (i.caps, i.arches, i.min_kernel),
            (e.caps, e.arches, e.min_kernel),
            caps,
            host,
        ) {
            rules.push(Rule {
                names: names(rule.names),
                action: Action::new(rule.action, rule.errno_ret),
                args: rule.arg.into_iter().collect(),
            });
        }
    });
    Resolved {
        default_action: Action::new(ActionName::Errno, Some(EPERM)),
        architectures: architectures_for(&[], &arch_map(), host),
        flags: Vec::new(),
        rules,
    }
}
