//! Root-only: the engine runs specs written by hand, not by the command
//! line, and each test checks that a part of the OCI runtime spec took
//! effect inside the container (the container writes what it sees into a
//! directory bound at `/out`): hooks at their points and in their
//! namespaces, rlimits, the OOM score, sysctls, namespaces joined by path,
//! mounts with their options, the user and the five capability sets,
//! personality, seccomp rules of the spec, a bundle's root directory, and
//! what it refuses. Skipped with a note when not root. Each test has its
//! own state root and removes its containers; the engine removes their
//! cgroups.

use std::fs;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use oci_spec::runtime::{
    Capability, HookBuilder, HooksBuilder, LinuxCapabilities, LinuxNamespace, LinuxNamespaceType,
    LinuxPersonality, LinuxPersonalityDomain, LinuxSeccomp, LinuxSeccompAction, LinuxSyscall,
    Mount, PosixRlimitBuilder, PosixRlimitType, Spec,
};
use tinydocker_engine::{ContainerConfig, Engine, Exit, Rootfs, Stdio};

/// The clone of a container's init copies the calling thread only: one
/// test at a time makes containers.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn skip() -> bool {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: not root");
        return true;
    }
    false
}

/// A state root with the busybox image, and a directory for results.
struct Fixture {
    _tmp: tempfile::TempDir,
    engine: Engine,
    layers: Vec<PathBuf>,
    out: PathBuf,
    rootfs: PathBuf,
}

impl Fixture {
    fn new() -> Fixture {
        let tmp = tempfile::Builder::new()
            .prefix("td-engine-test-")
            .tempdir_in("/tmp")
            .unwrap();
        let rootfs = tmp.path().join("busybox");
        tinydocker_tests::make_busybox_rootfs(&rootfs);
        let engine = Engine::new(tmp.path().join("root"));
        let images = engine.images().unwrap();
        let image = images.import(&rootfs, &"busybox".parse().unwrap()).unwrap();
        let mut layers = images.layer_paths(&image);
        layers.push(images.init_layer().unwrap());
        let out = tmp.path().join("out");
        fs::create_dir(&out).unwrap();
        // Writable by the tests' other users too.
        fs::set_permissions(&out, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
        fs::set_permissions(
            tmp.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        Fixture {
            _tmp: tmp,
            engine,
            layers,
            out,
            rootfs,
        }
    }

    /// A spec that runs `sh -c script` in new namespaces, with /proc, a
    /// tmpfs /dev and devpts, `/out` bound, as root with a few
    /// capabilities.
    fn spec(&self, id: &str, script: &str) -> Spec {
        let json = serde_json::json!({
            "ociVersion": "1.2.0",
            "root": { "path": self.engine.root().join("rootfs") },
            "hostname": "spec-test",
            "process": {
                "user": { "uid": 0, "gid": 0 },
                "args": ["sh", "-c", script],
                "env": ["PATH=/bin"],
                "cwd": "/",
                "capabilities": {
                    "bounding": ["CAP_CHOWN", "CAP_KILL", "CAP_SETUID", "CAP_SETGID"],
                    "effective": ["CAP_CHOWN", "CAP_KILL", "CAP_SETUID", "CAP_SETGID"],
                    "permitted": ["CAP_CHOWN", "CAP_KILL", "CAP_SETUID", "CAP_SETGID"]
                },
                "noNewPrivileges": true
            },
            "mounts": [
                { "destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"] },
                { "destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "mode=755"] },
                { "destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["newinstance", "ptmxmode=0666"] },
                { "destination": "/out", "type": "bind", "source": self.out, "options": ["rbind"] }
            ],
            "linux": {
                "namespaces": [
                    { "type": "pid" }, { "type": "ipc" }, { "type": "uts" },
                    { "type": "mount" }, { "type": "network" }
                ],
                "cgroupsPath": format!("tinydocker/{id}")
            }
        });
        serde_json::from_value(json).unwrap()
    }

    fn config(&self, id: &str) -> ContainerConfig {
        ContainerConfig {
            id: id.to_string(),
            name: String::new(),
            image: "busybox".into(),
            image_id: String::new(),
            rootfs: Rootfs::Layers(self.layers.clone()),
            created: 0,
            bridge: None,
            extra_networks: Vec::new(),
            etc_files: None,
            restart: Default::default(),
            auto_remove: true,
            interactive: false,
            init: false,
            log: Default::default(),
            origin: Default::default(),
            bundle: None,
            meta: Default::default(),
        }
    }

    /// Run `spec` to its end; its output goes to /dev/null.
    fn run(&self, spec: Spec) -> tinydocker_engine::Result<Exit> {
        let id = self.engine.new_id();
        self.run_as(&id, spec)
    }

    fn run_as(&self, id: &str, spec: Spec) -> tinydocker_engine::Result<Exit> {
        let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        let null: OwnedFd = fs::File::options()
            .write(true)
            .open("/dev/null")
            .unwrap()
            .into();
        let stdio = Stdio {
            fds: [None, Some(null.as_raw_fd()), Some(null.as_raw_fd())],
            tty_size: None,
        };
        let hold = self.engine.hold_images()?;
        let mut launched = self.engine.run(spec, self.config(id), hold, stdio)?;
        let status = launched.init.try_wait(true).unwrap().unwrap();
        self.engine.finish(&mut launched, status)
    }

    fn spec_with_id(&self, script: &str) -> (String, Spec) {
        let id = self.engine.new_id();
        let spec = self.spec(&id, script);
        (id, spec)
    }

    fn out(&self, name: &str) -> String {
        fs::read_to_string(self.out.join(name))
            .unwrap_or_else(|e| panic!("read /out/{name}: {e}"))
            .trim()
            .to_string()
    }
}

fn ns_inode(path: &Path) -> u64 {
    fs::metadata(path).unwrap().ino()
}

fn sh_hook(script: &str, timeout: Option<i64>) -> oci_spec::runtime::Hook {
    let mut b = HookBuilder::default().path("/bin/sh").args(vec![
        "sh".to_string(),
        "-c".to_string(),
        script.to_string(),
    ]);
    if let Some(t) = timeout {
        b = b.timeout(t);
    }
    b.build().unwrap()
}

#[test]
fn hooks_run_at_their_points_and_in_their_namespaces() {
    if skip() {
        return;
    }
    let f = Fixture::new();
    let out = f.out.display().to_string();
    let (id, mut spec) = f.spec_with_id(
        "readlink /proc/self/ns/uts > /out/cmd-uts; readlink /proc/self/ns/mnt > /out/cmd-mnt",
    );
    let hooks = HooksBuilder::default()
        .create_runtime(vec![sh_hook(
            &format!("cat > {out}/create-runtime.json; readlink /proc/self/ns/uts > {out}/create-runtime-uts"),
            Some(10),
        )])
        .create_container(vec![sh_hook(
            &format!("cat > {out}/create-container.json; readlink /proc/self/ns/uts > {out}/create-container-uts"),
            Some(10),
        )])
        // Resolved and run in the container: busybox's sh, its /out.
        .start_container(vec![sh_hook(
            "cat > /out/start-container.json; hostname > /out/start-container-hostname; readlink /proc/self/ns/mnt > /out/start-container-mnt",
            Some(10),
        )])
        .poststart(vec![sh_hook(&format!("cat > {out}/poststart.json"), None)])
        .poststop(vec![sh_hook(&format!("cat > {out}/poststop.json"), None)])
        .build()
        .unwrap();
    spec.set_hooks(Some(hooks));
    let exit = f.run_as(&id, spec).unwrap();
    assert_eq!(exit.code, 0);
    let state = |name: &str| -> serde_json::Value {
        serde_json::from_str(&f.out(&format!("{name}.json"))).unwrap()
    };
    for (hook, status) in [
        ("create-runtime", "creating"),
        ("create-container", "creating"),
        ("start-container", "created"),
        ("poststart", "running"),
        ("poststop", "stopped"),
    ] {
        let s = state(hook);
        assert_eq!(s["id"], id.as_str(), "{hook}: {s}");
        assert_eq!(s["status"], status, "{hook}: {s}");
    }
    assert!(state("create-runtime")["pid"].as_i64().unwrap() > 0);
    // The runtime's hooks run in the host's UTS namespace, the container's
    // in the container's.
    let host_uts = fs::read_link("/proc/self/ns/uts").unwrap();
    assert_eq!(f.out("create-runtime-uts"), host_uts.to_string_lossy());
    assert_eq!(f.out("create-container-uts"), f.out("cmd-uts"));
    assert_ne!(f.out("cmd-uts"), host_uts.to_string_lossy());
    assert_eq!(f.out("start-container-hostname"), "spec-test");
    assert_eq!(f.out("start-container-mnt"), f.out("cmd-mnt"));
}

#[test]
fn a_failing_hook_fails_the_start_and_leaves_nothing() {
    if skip() {
        return;
    }
    let f = Fixture::new();
    let (id, mut spec) = f.spec_with_id("true");
    spec.set_hooks(Some(
        HooksBuilder::default()
            .create_runtime(vec![sh_hook("echo no >&2; exit 7", None)])
            .build()
            .unwrap(),
    ));
    let err = f.run_as(&id, spec).unwrap_err();
    assert_eq!(
        err.one_line(),
        "createRuntime hook #0 (/bin/sh): exit status 7, stdout: , stderr: no"
    );
    assert!(f.engine.containers().unwrap().is_empty());
    assert!(tinydocker_engine::Engine::container(&f.engine, &id).is_err());
}

#[test]
fn rlimits_oom_score_sysctl_and_personality() {
    if skip() {
        return;
    }
    let f = Fixture::new();
    let (_, mut spec) = f.spec_with_id(
        "ulimit -n > /out/nofile; ulimit -Hn > /out/nofile-hard; cat /proc/self/oom_score_adj > /out/oom; \
         cat /proc/sys/net/ipv4/ip_unprivileged_port_start > /out/port; uname -m > /out/machine",
    );
    let process = spec.process_mut().as_mut().unwrap();
    let nofile = PosixRlimitBuilder::default()
        .typ(PosixRlimitType::RlimitNofile)
        .soft(123u64)
        .hard(456u64)
        .build()
        .unwrap();
    process.set_rlimits(Some(vec![nofile]));
    process.set_oom_score_adj(Some(500));
    let linux = spec.linux_mut().as_mut().unwrap();
    linux.set_sysctl(Some(
        [(
            "net.ipv4.ip_unprivileged_port_start".to_string(),
            "80".to_string(),
        )]
        .into(),
    ));
    let mut persona = LinuxPersonality::default();
    persona.set_domain(LinuxPersonalityDomain::PerLinux32);
    linux.set_personality(Some(persona));
    assert_eq!(f.run(spec).unwrap().code, 0);
    assert_eq!(f.out("nofile"), "123");
    assert_eq!(f.out("nofile-hard"), "456");
    assert_eq!(f.out("oom"), "500");
    assert_eq!(f.out("port"), "80");
    if std::env::consts::ARCH == "x86_64" {
        assert_eq!(f.out("machine"), "i686");
    }
}

#[test]
fn namespaces_joined_by_path() {
    if skip() {
        return;
    }
    let f = Fixture::new();
    // "The outside": a network namespace, and a PID namespace whose init
    // is a sleep, both of the test's own.
    let netns = format!("tdtest-{}", std::process::id());
    let made = Command::new("ip").args(["netns", "add", &netns]).status();
    assert!(made.is_ok_and(|s| s.success()), "ip netns add {netns}");
    struct NetnsGuard(String);
    impl Drop for NetnsGuard {
        fn drop(&mut self) {
            let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
        }
    }
    let _guard = NetnsGuard(netns.clone());
    let mut sleeper = Command::new("unshare")
        .args(["--pid", "--fork", "--kill-child", "sleep", "100"])
        .spawn()
        .unwrap();
    struct Kill<'a>(&'a mut std::process::Child);
    impl Drop for Kill<'_> {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    // The sleep is the unshare's child, pid 1 of the new namespace.
    let pid_ns = (0..500)
        .find_map(|_| {
            let children = fs::read_to_string(format!("/proc/{0}/task/{0}/children", sleeper.id()))
                .unwrap_or_default();
            let child = children.split_whitespace().next().map(String::from);
            if child.is_none() {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            child
        })
        .map(|pid| PathBuf::from(format!("/proc/{pid}/ns/pid")))
        .expect("the sleep in its PID namespace");
    let _kill = Kill(&mut sleeper);

    let (_, mut spec) = f.spec_with_id(
        "readlink /proc/self/ns/net > /out/net; cat /proc/1/cmdline | tr '\\0' ' ' > /out/pid1",
    );
    let join = |typ: LinuxNamespaceType, path: &Path| {
        let mut ns = LinuxNamespace::default();
        ns.set_typ(typ);
        ns.set_path(Some(path.to_path_buf()));
        ns
    };
    let netns_path = PathBuf::from(format!("/run/netns/{netns}"));
    let namespaces = vec![
        join(LinuxNamespaceType::Pid, &pid_ns),
        join(LinuxNamespaceType::Network, &netns_path),
        {
            let mut ns = LinuxNamespace::default();
            ns.set_typ(LinuxNamespaceType::Mount);
            ns
        },
    ];
    let linux = spec.linux_mut().as_mut().unwrap();
    linux.set_namespaces(Some(namespaces));
    // No UTS namespace of its own: no host name to set.
    spec.set_hostname(None);
    assert_eq!(f.run(spec).unwrap().code, 0);
    assert_eq!(
        f.out("net"),
        format!("net:[{}]", ns_inode(&netns_path)),
        "the container's network namespace is the joined one"
    );
    assert_eq!(
        f.out("pid1"),
        "sleep 100",
        "the joined PID namespace's init"
    );
}

#[test]
fn mounts_with_their_options() {
    if skip() {
        return;
    }
    let f = Fixture::new();
    let data = f.out.parent().unwrap().join("data");
    fs::create_dir(&data).unwrap();
    fs::write(data.join("file"), "x").unwrap();
    let (_, mut spec) = f.spec_with_id(
        "grep ' /scratch ' /proc/mounts > /out/scratch; \
         touch /data/new 2> /out/data-write || echo refused >> /out/data-write; \
         cat /data/file > /out/data-read",
    );
    let mut mounts = spec.mounts().clone().unwrap();
    let mount = |typ: &str, source: &Path, dest: &str, options: &[&str]| {
        let mut m = Mount::default();
        m.set_typ(Some(typ.into()));
        m.set_source(Some(source.to_path_buf()));
        m.set_destination(dest.into());
        m.set_options(Some(options.iter().map(|o| o.to_string()).collect()));
        m
    };
    mounts.push(mount(
        "tmpfs",
        Path::new("tmpfs"),
        "/scratch",
        &["nosuid", "nodev", "size=1m", "mode=700"],
    ));
    mounts.push(mount("bind", &data, "/data", &["rbind", "rro", "rprivate"]));
    spec.set_mounts(Some(mounts));
    assert_eq!(f.run(spec).unwrap().code, 0);
    let scratch = f.out("scratch");
    assert!(scratch.contains("tmpfs"), "{scratch}");
    assert!(
        scratch.contains("nosuid") && scratch.contains("nodev"),
        "{scratch}"
    );
    assert!(
        scratch.contains("size=1024k") && scratch.contains("mode=700"),
        "{scratch}"
    );
    assert!(f.out("data-write").ends_with("refused"));
    assert_eq!(f.out("data-read"), "x");
    assert!(!data.join("new").exists());
}

#[test]
fn the_user_and_the_five_capability_sets() {
    if skip() {
        return;
    }
    let f = Fixture::new();
    let (_, mut spec) = f.spec_with_id(
        "grep -E '^(Uid|Gid|Groups|Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs):' /proc/self/status > /out/status",
    );
    let process = spec.process_mut().as_mut().unwrap();
    let user = process.user_mut();
    user.set_uid(1000);
    user.set_gid(1001);
    user.set_additional_gids(Some(vec![4, 5]));
    let set = |caps: &[Capability]| Some(caps.iter().copied().collect());
    let mut caps = LinuxCapabilities::default();
    caps.set_bounding(set(&[Capability::NetBindService, Capability::Chown]));
    caps.set_permitted(set(&[Capability::NetBindService]));
    caps.set_inheritable(set(&[Capability::NetBindService]));
    caps.set_effective(set(&[Capability::NetBindService]));
    caps.set_ambient(set(&[Capability::NetBindService]));
    process.set_capabilities(Some(caps));
    assert_eq!(f.run(spec).unwrap().code, 0);
    let status = f.out("status");
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}:")))
            .unwrap_or_else(|| panic!("no {name} in {status}"))
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(field("Uid"), "1000 1000 1000 1000");
    assert_eq!(field("Gid"), "1001 1001 1001 1001");
    assert_eq!(field("Groups"), "4 5");
    // CAP_NET_BIND_SERVICE is bit 10, CAP_CHOWN bit 0: kept across the
    // exec by a non-root user only through the ambient set.
    assert_eq!(field("CapBnd"), "0000000000000401");
    assert_eq!(field("CapInh"), "0000000000000400");
    assert_eq!(field("CapPrm"), "0000000000000400");
    assert_eq!(field("CapEff"), "0000000000000400");
    assert_eq!(field("CapAmb"), "0000000000000400");
    assert_eq!(field("NoNewPrivs"), "1");
}

#[test]
fn seccomp_rules_of_the_spec() {
    if skip() {
        return;
    }
    let f = Fixture::new();
    let (_, mut spec) = f.spec_with_id(
        "mkdir /tmp/x 2> /out/mkdir; echo $? > /out/status; touch /tmp/y && echo ok > /out/touch",
    );
    let mut deny = LinuxSyscall::default();
    deny.set_names(vec!["mkdir".into(), "mkdirat".into()]);
    deny.set_action(LinuxSeccompAction::ScmpActErrno);
    deny.set_errno_ret(Some(libc::EACCES as u32));
    let mut seccomp = LinuxSeccomp::default();
    seccomp.set_default_action(LinuxSeccompAction::ScmpActAllow);
    seccomp.set_syscalls(Some(vec![deny]));
    spec.linux_mut()
        .as_mut()
        .unwrap()
        .set_seccomp(Some(seccomp));
    assert_eq!(f.run(spec).unwrap().code, 0);
    assert!(
        f.out("mkdir").contains("Permission denied"),
        "{}",
        f.out("mkdir")
    );
    assert_eq!(f.out("status"), "1");
    assert_eq!(f.out("touch"), "ok");
}

#[test]
fn a_bundles_root_directory() {
    if skip() {
        return;
    }
    let f = Fixture::new();
    let id = f.engine.new_id();
    let mut spec = f.spec(
        &id,
        "cat /etc/passwd > /out/passwd; ls /bin/busybox > /out/ls",
    );
    spec.root_mut().as_mut().unwrap().set_path(f.rootfs.clone());
    spec.root_mut().as_mut().unwrap().set_readonly(Some(true));
    let mut config = f.config(&id);
    config.rootfs = Rootfs::Path;
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let hold = f.engine.hold_images().unwrap();
    let mut launched = f.engine.run(spec, config, hold, Stdio::default()).unwrap();
    let status = launched.init.try_wait(true).unwrap().unwrap();
    let exit = f.engine.finish(&mut launched, status).unwrap();
    assert_eq!(exit.code, 0);
    assert_eq!(f.out("passwd"), "root:x:0:0:root:/root:/bin/sh");
    assert_eq!(f.out("ls"), "/bin/busybox");
}

#[test]
fn what_the_engine_cannot_do_is_refused_before_anything_is_made() {
    if skip() {
        return;
    }
    let f = Fixture::new();
    let refuse = |change: &dyn Fn(&mut Spec), why: &str| {
        let (id, mut spec) = f.spec_with_id("true");
        change(&mut spec);
        let err = f.run_as(&id, spec).unwrap_err().to_string();
        assert!(err.contains(why), "{err}");
        assert!(f.engine.containers().unwrap().is_empty());
        let cgroups = fs::read_dir("/sys/fs/cgroup")
            .unwrap()
            .flatten()
            .map(|d| d.path().join("tinydocker").join(&id))
            .chain([PathBuf::from(format!("/sys/fs/cgroup/tinydocker/{id}"))]);
        for dir in cgroups {
            assert!(!dir.exists(), "{} was made", dir.display());
        }
    };
    refuse(
        &|s| {
            let ns = s.linux_mut().as_mut().unwrap().namespaces_mut();
            let mut user = LinuxNamespace::default();
            user.set_typ(LinuxNamespaceType::User);
            ns.as_mut().unwrap().push(user);
        },
        "a user namespace needs linux.uidMappings",
    );
    refuse(
        &|s| {
            s.linux_mut()
                .as_mut()
                .unwrap()
                .set_sysctl(Some([("kernel.panic".to_string(), "1".to_string())].into()));
        },
        "it would change the host",
    );
    refuse(
        &|s| {
            let mut seccomp = LinuxSeccomp::default();
            seccomp.set_default_action(LinuxSeccompAction::ScmpActNotify);
            s.linux_mut().as_mut().unwrap().set_seccomp(Some(seccomp));
        },
        "SCMP_ACT_NOTIFY",
    );
    refuse(
        &|s| {
            s.process_mut()
                .as_mut()
                .unwrap()
                .set_apparmor_profile(Some("docker-default".into()));
        },
        "AppArmor",
    );
}
