use serde::Serialize;
use tinydocker_security::caps::CapSet;
use tinydocker_security::seccomp::{resolve_for, Action, Arch, Host, KernelVersion, Profile, Rule};

use super::{caps_with, x86_64_host};

#[test]
fn default_profile_for_default_caps() {
    let resolved = resolve_for(
        &Profile::docker_default(),
        &CapSet::default_set(),
        &x86_64_host(),
    )
    .unwrap();
    insta::assert_yaml_snapshot!(resolved);
}

#[derive(Serialize)]
struct Diff<'a> {
    added: Vec<&'a Rule>,
    removed: Vec<&'a Rule>,
}

#[test]
fn cap_sys_admin_adds_and_removes() {
    let profile = Profile::docker_default();
    let host = x86_64_host();
    let base = resolve_for(&profile, &CapSet::default_set(), &host).unwrap();
    let admin = resolve_for(&profile, &caps_with(&["CAP_SYS_ADMIN"]), &host).unwrap();
    let diff = Diff {
        added: admin
            .rules
            .iter()
            .filter(|r| !base.rules.contains(r))
            .collect(),
        removed: base
            .rules
            .iter()
            .filter(|r| !admin.rules.contains(r))
            .collect(),
    };
    insta::assert_yaml_snapshot!(diff);
}

fn names_of(rules: &[Rule]) -> Vec<&str> {
    rules
        .iter()
        .flat_map(|r| r.names.iter().map(String::as_str))
        .collect()
}

#[test]
fn default_profile_semantics() {
    let profile = Profile::docker_default();
    let r = resolve_for(&profile, &CapSet::default_set(), &x86_64_host()).unwrap();
    assert_eq!(r.default_action, Action::Errno(1));
    assert_eq!(r.architectures, [Arch::X86_64, Arch::X86, Arch::X32]);
    for allowed in [
        "read",
        "getpid",
        "execve",
        "chroot",
        "ptrace",
        "arch_prctl",
        "modify_ldt",
    ] {
        assert!(r.allows(allowed), "{allowed} should be allowed");
    }
    for denied in [
        "mount",
        "umount2",
        "unshare",
        "setns",
        "reboot",
        "init_module",
        "acct",
        "iopl",
        "settimeofday",
        "vhangup",
        "mbind",
        "syslog",
        "bpf",
        "perf_event_open",
        "kcmp",
        "open_by_handle_at",
        "clone",
        "clone3",
        "personality",
        "socket",
        "s390_runtime_instr",
        "arm_fadvise64_64",
    ] {
        assert!(!r.allows(denied), "{denied} should not be allowed outright");
    }
    let clone3: Vec<&Rule> = r.rules.iter().filter(|r| r.names == ["clone3"]).collect();
    assert_eq!(clone3.len(), 1);
    assert_eq!(clone3[0].action, Action::Errno(38));
    assert_eq!(
        r.rules
            .iter()
            .filter(|r| r.names == ["personality"])
            .count(),
        5
    );
    // 361 always allowed, 3 from kernel 4.8, socket 7 times, personality 5
    // times, arch_prctl and modify_ldt on amd64, clone, clone3, chroot.
    assert_eq!(names_of(&r.rules).len(), 381);
}

#[test]
fn each_capability_opens_its_group() {
    let profile = Profile::docker_default();
    let host = x86_64_host();
    for (cap, calls) in [
        (
            "CAP_SYS_ADMIN",
            &["mount", "umount2", "unshare", "setns", "clone", "clone3"][..],
        ),
        ("CAP_SYS_BOOT", &["reboot"]),
        (
            "CAP_SYS_MODULE",
            &["init_module", "finit_module", "delete_module"],
        ),
        ("CAP_SYS_PACCT", &["acct"]),
        (
            "CAP_SYS_PTRACE",
            &["kcmp", "pidfd_getfd", "process_madvise"],
        ),
        ("CAP_SYS_RAWIO", &["iopl", "ioperm"]),
        ("CAP_SYS_TIME", &["settimeofday", "stime", "clock_settime"]),
        ("CAP_SYS_TTY_CONFIG", &["vhangup"]),
        ("CAP_SYS_NICE", &["get_mempolicy", "mbind", "set_mempolicy"]),
        ("CAP_SYSLOG", &["syslog"]),
        ("CAP_BPF", &["bpf"]),
        ("CAP_PERFMON", &["perf_event_open"]),
        ("CAP_DAC_READ_SEARCH", &["open_by_handle_at"]),
    ] {
        let r = resolve_for(&profile, &caps_with(&[cap]), &host).unwrap();
        for call in calls {
            assert!(r.allows(call), "{cap} should allow {call}");
        }
    }
    // CAP_SYS_CHROOT is in the default set; without it chroot is denied.
    let no_chroot =
        CapSet::with_changes(CapSet::default_set(), &[], &["CAP_SYS_CHROOT".into()]).unwrap();
    assert!(!resolve_for(&profile, &no_chroot, &host)
        .unwrap()
        .allows("chroot"));
}

#[test]
fn kernel_and_arch_conditions() {
    let profile = Profile::docker_default();
    let caps = CapSet::default_set();
    let old = Host {
        kernel: KernelVersion::new(4, 4),
        ..x86_64_host()
    };
    let r = resolve_for(&profile, &caps, &old).unwrap();
    assert!(
        !r.allows("ptrace"),
        "ptrace needs 4.8 without CAP_SYS_PTRACE"
    );
    let r = resolve_for(&profile, &caps_with(&["CAP_SYS_PTRACE"]), &old).unwrap();
    assert!(r.allows("ptrace"));

    let s390x = Host {
        arch: Arch::S390X,
        kernel: KernelVersion::new(6, 1),
    };
    let r = resolve_for(&profile, &caps, &s390x).unwrap();
    assert_eq!(r.architectures, [Arch::S390X, Arch::S390]);
    let clone: Vec<&Rule> = r.rules.iter().filter(|r| r.names == ["clone"]).collect();
    assert_eq!(clone.len(), 1);
    assert_eq!(
        clone[0].args[0].index, 1,
        "s390 passes clone's flags second"
    );
    assert!(r.allows("s390_runtime_instr"));
    assert!(!r.allows("arch_prctl"));

    let arm64 = Host {
        arch: Arch::Aarch64,
        kernel: KernelVersion::new(6, 1),
    };
    let r = resolve_for(&profile, &caps, &arm64).unwrap();
    assert_eq!(r.architectures, [Arch::Aarch64, Arch::Arm]);
    assert!(r.allows("cacheflush"));
    assert!(!r.allows("modify_ldt"));
}

#[test]
fn explicit_architectures_and_excludes() {
    let profile = Profile::from_json(
        r#"{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86"],
            "syscalls": [
              {"names": ["mount"], "action": "SCMP_ACT_ERRNO", "excludes": {"caps": ["CAP_SYS_ADMIN"]}},
              {"names": ["kexec_load"], "action": "SCMP_ACT_KILL", "excludes": {"minKernel": "5.0"}},
              {"names": ["acct"], "action": "SCMP_ACT_TRACE", "errnoRet": 7, "includes": {"arches": ["amd64"]}}
            ]}"#,
    )
    .unwrap();
    let r = resolve_for(&profile, &CapSet::default_set(), &x86_64_host()).unwrap();
    assert_eq!(r.architectures, [Arch::X86_64, Arch::X86]);
    assert_eq!(
        r.rules,
        [
            Rule {
                names: vec!["mount".into()],
                action: Action::Errno(1),
                args: vec![]
            },
            Rule {
                names: vec!["acct".into()],
                action: Action::Trace(7),
                args: vec![]
            },
        ]
    );
}

#[test]
fn the_default_resolved_from_its_table_is_the_default_profile_resolved() {
    use tinydocker_security::seccomp::resolve_default;
    let profile = Profile::docker_default();
    let cap_sets = [
        CapSet(0),
        CapSet::default_set(),
        CapSet::with_changes(CapSet::default_set(), &["SYS_ADMIN".into()], &[]).unwrap(),
        CapSet::with_changes(CapSet(0), &["SYS_PTRACE".into(), "BPF".into()], &[]).unwrap(),
        CapSet::ALL,
    ];
    for arch in [Arch::X86_64, Arch::Aarch64, Arch::S390X, Arch::Riscv64] {
        for kernel in ["4.4.0", "6.1.0"] {
            let host = Host {
                arch,
                kernel: KernelVersion::from_release(kernel).unwrap(),
            };
            for caps in &cap_sets {
                assert_eq!(
                    resolve_default(caps, &host),
                    resolve_for(&profile, caps, &host).unwrap(),
                    "{arch} {kernel} {caps:?}"
                );
            }
        }
    }
}
