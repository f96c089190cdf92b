//! Launching a container's init from its spec: decide everything in the
//! parent ([`Prepared`]), clone the init into its cgroup and namespaces,
//! connect its network while it waits, let it set itself up to the
//! barrier, and on from there once the runtime has recorded it.

use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::path::Path;

use tinydocker_cgroups::{AnyManager, DeviceRule, Manager, Resources};
use tinydocker_fs::{plan, MountPlan, PreparedPlan, ProvidedFile, RootSource, RootfsSpec};
use tinydocker_net::{nft, Netlink};
use tinydocker_ns::{spawn, Barrier, ChildFailure};
use tinydocker_security::caps;

use crate::config::{ContainerConfig, Rootfs};
use crate::dns;
use crate::error::{invalid, Context, Error, Result};
use crate::hooks::{self, HookPoint, HookState};
use crate::network::{self, EtcFiles, NetSettings};
use crate::process::init::{self, cstrings, exec_candidates, ChildPlan};
use crate::spec::{self, namespaces::NamespacePlan};
use crate::store::{Container, Store};

/// Where the container's standard streams come from: runtime fds put on
/// its 0, 1 and 2 (None: the runtime's own; for stdin, /dev/null unless
/// the container is interactive).
#[derive(Debug, Clone, Copy, Default)]
pub struct Stdio {
    /// What goes on the container's stdin, stdout and stderr.
    pub fds: [Option<RawFd>; 3],
    /// With a terminal: its window size (else the spec's `consoleSize`).
    pub tty_size: Option<libc::winsize>,
}

/// A container whose command runs: what its supervisor needs.
pub struct Launched {
    /// Its record, as written when it started.
    pub container: Container,
    /// Its init, a child of this process: wait for it.
    pub init: tinydocker_ns::Child,
    /// Its cgroup.
    pub cgroup: AnyManager,
    /// With a terminal: the master of the container's pseudo-terminal.
    pub terminal: Option<OwnedFd>,
    /// On a user network: its embedded DNS server, bound (see
    /// [`crate::dns`]); its supervisor serves it.
    pub(crate) dns: Option<dns::Server>,
}

/// What the start of a command leaves: the master of its terminal (with
/// one), its embedded DNS server (on a user network).
#[derive(Default)]
pub(crate) struct Started {
    pub terminal: Option<OwnedFd>,
    pub dns: Option<dns::Server>,
}

/// Everything the child needs, decided and converted in the parent before
/// the clone.
pub(crate) struct Prepared {
    pub mounts: MountPlan,
    pub child: ChildPlan,
    pub ns: NamespacePlan,
    pub resources: Resources,
    pub device_rules: Vec<DeviceRule>,
    /// The namespace files joined by path, open until the clone.
    _joined: Vec<File>,
}

/// Refuse a spec or configuration the engine cannot run, before anything
/// is made.
pub(crate) fn check(spec: &oci_spec::runtime::Spec, config: &ContainerConfig) -> Result<()> {
    // Only an OCI runtime's create takes a spec without a process.
    if config.bundle.is_none() {
        spec::process(spec)?;
    }
    spec::check_supported(spec)?;
    hooks::check(spec.hooks().as_ref())?;
    let ns = spec::namespaces::namespaces(spec)?;
    if config.bridge.is_some() && !ns.new_network() {
        return Err(invalid!(
            "a bridge network needs a new network namespace in the spec"
        ));
    }
    if spec.hostname().as_deref().is_some_and(|h| !h.is_empty()) && !ns.own_uts() {
        return Err(invalid!(
            "the spec sets a host name without a UTS namespace of the container's own"
        ));
    }
    let linux = spec.linux().as_ref();
    spec::sysctl::sysctls(linux.and_then(|l| l.sysctl().as_ref()), &ns)?;
    if let Some(r) = linux.and_then(|l| l.resources().as_ref()) {
        spec::resources::resources_from_spec(r)?;
    }
    spec::resources::device_rules(linux.and_then(|l| l.resources().as_ref()))?;
    spec::devices(spec)?;
    if let Some(s) = linux.and_then(|l| l.seccomp().as_ref()) {
        spec::seccomp::check(s)?;
    }
    spec::security::capsets_from_spec(
        spec.process()
            .as_ref()
            .and_then(|p| p.capabilities().as_ref()),
    )?;
    for m in spec.mounts().iter().flatten() {
        spec::mounts::mount_spec(m)?;
    }
    if let Some(p) = linux.and_then(|l| l.rootfs_propagation().as_deref()) {
        spec::mounts::propagation(p)?;
    }
    Ok(())
}

impl Prepared {
    /// Decide the container's setup from its spec and configuration.
    /// `dir` is its directory (where its writable layer and files are).
    pub(crate) fn new(
        store: &Store,
        container: &Container,
        dir: &Path,
        cgroup: &AnyManager,
        stdio: Stdio,
    ) -> Result<Prepared> {
        let (spec, config) = (container.spec()?, &container.config);
        // Without a process (an OCI bundle may have none) the init is set
        // up as `no_process` says and has nothing to execute.
        let none = spec::no_process();
        let (process, args): (&oci_spec::runtime::Process, &[String]) = match spec.process() {
            Some(_) => (spec::process(spec)?, spec::args(spec)?),
            None => (&none, &[]),
        };
        let env = process.env().clone().unwrap_or_default();
        let ns = spec::namespaces::namespaces(spec)?;
        let linux = spec.linux().as_ref();

        let root = match &config.rootfs {
            Rootfs::Layers(layers) => {
                for layer in layers {
                    if !layer.is_dir() {
                        return Err(invalid!(
                            "image layer {} is missing: import the image again",
                            layer.display()
                        ));
                    }
                }
                RootSource::Overlay {
                    layers: layers.clone(),
                    upper: dir.join("upper"),
                    work: dir.join("work"),
                    scratch: config.auto_remove.then(|| store.scratch()),
                }
            }
            Rootfs::Path => {
                let path = spec
                    .root()
                    .as_ref()
                    .map(|r| r.path().clone())
                    .unwrap_or_default();
                if !path.is_absolute() || !path.is_dir() {
                    return Err(invalid!(
                        "root.path {}: not a directory (an absolute path is needed)",
                        path.display()
                    ));
                }
                RootSource::Directory(path)
            }
        };
        let mut mounts = Vec::new();
        let mut layout = None;
        for m in spec.mounts().iter().flatten() {
            if m.typ().as_deref() != Some("cgroup") {
                mounts.push(spec::mounts::mount_spec(m)?);
                continue;
            }
            let layout = match &layout {
                Some(layout) => layout,
                None => layout.insert(tinydocker_cgroups::Layout::detect()?),
            };
            let own_dirs: Vec<std::path::PathBuf> = cgroup
                .self_join_files()
                .unwrap_or_default()
                .iter()
                .filter_map(|f| f.parent().map(Path::to_path_buf))
                .collect();
            // cgroup v1 cannot be mounted in a user namespace: its
            // directories are bound instead.
            let fresh = ns.new_cgroup
                && (ns.user.is_none()
                    || matches!(layout, tinydocker_cgroups::Layout::Unified { .. }));
            mounts.extend(spec::mounts::cgroup_mounts(
                m,
                layout,
                fresh,
                &own_dirs,
                cgroup.path(),
            )?);
        }
        let rootfs = RootfsSpec {
            root,
            merged: store.mountpoint(),
            mounts,
            files: etc_files(store, container, dir),
            read_only: spec.root().as_ref().and_then(|r| r.readonly()) == Some(true),
            workdir: process.cwd().to_string_lossy().into_owned(),
            devices: spec::devices(spec)?,
            masked_paths: linux
                .and_then(|l| l.masked_paths().clone())
                .unwrap_or_default(),
            readonly_paths: linux
                .and_then(|l| l.readonly_paths().clone())
                .unwrap_or_default(),
            root_propagation: match linux.and_then(|l| l.rootfs_propagation().as_deref()) {
                Some(p) => spec::mounts::propagation(p)?,
                None => Default::default(),
            },
            bind_devices: ns.user.is_some(),
        };
        if !rootfs.workdir.starts_with('/') {
            return Err(invalid!(
                "process.cwd {:?} is not an absolute path",
                rootfs.workdir
            ));
        }
        let mounts = plan(&rootfs);

        let resources = match linux.and_then(|l| l.resources().as_ref()) {
            Some(r) => spec::resources::resources_from_spec(r)?,
            None => Resources::default(),
        };
        let device_rules =
            spec::resources::device_rules(linux.and_then(|l| l.resources().as_ref()))?;
        let sysctls = spec::sysctl::sysctls(linux.and_then(|l| l.sysctl().as_ref()), &ns)?;
        // A new user namespace starts with every capability in its
        // bounding set, whatever the runtime's is.
        let bounding = match ns.user {
            Some(_) => caps::CapSet::ALL,
            None => caps::current_bounding(),
        };
        let privileges = spec::security::privileges(process, bounding)?;
        let seccomp = match linux.and_then(|l| l.seccomp().as_ref()) {
            Some(s) => Some(spec::seccomp::filter(s, &store.path.join("seccomp"))?),
            None => None,
        };
        let mut joined = Vec::new();
        let mut join = Vec::new();
        for (flag, path) in &ns.join {
            let file = File::open(path).map_err(|e| Error::io("open the namespace", path, e))?;
            join.push((*flag, file.as_raw_fd()));
            joined.push(file);
        }
        let join_cgroup: Vec<String> = cgroup
            .self_join_files()
            .unwrap_or_default()
            .iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        let terminal = process.terminal() == Some(true);
        let tty_size = stdio.tty_size.or_else(|| {
            process.console_size().map(|b| libc::winsize {
                ws_row: b.height() as u16,
                ws_col: b.width() as u16,
                ws_xpixel: 0,
                ws_ypixel: 0,
            })
        });
        let name_of = |s: &Option<String>| -> Result<Option<std::ffi::CString>> {
            Ok(match s.as_deref() {
                Some(n) if !n.is_empty() => Some(
                    std::ffi::CString::new(n).map_err(|_| invalid!("{n:?} contains a NUL byte"))?,
                ),
                _ => None,
            })
        };
        let child = ChildPlan {
            join_cgroup: cstrings(&join_cgroup)?,
            join,
            new_cgroup: ns.new_cgroup,
            mounts: PreparedPlan::new(&mounts)?,
            pause_before_pivot: !hooks::hooks_at(spec, HookPoint::CreateContainer).is_empty(),
            hostname: name_of(spec.hostname())?,
            domainname: name_of(spec.domainname())?,
            loopback: ns.new_network(),
            null_stdin: !config.interactive && !terminal && stdio.fds[0].is_none(),
            stdio: stdio.fds,
            init: config.init,
            tty: terminal.then_some(tty_size),
            candidates: match args.first() {
                Some(cmd) => cstrings(&exec_candidates(cmd, &env))?,
                None => Vec::new(),
            },
            argv: cstrings(args)?,
            envp: cstrings(&env)?,
            privileges,
            seccomp,
            sysctl_names: sysctls
                .iter()
                .map(|(path, _)| path.trim_start_matches("/proc/sys/").replace('/', "."))
                .collect(),
            sysctls: sysctls
                .iter()
                .map(|(path, value)| {
                    Ok((
                        std::ffi::CString::new(path.as_str())
                            .map_err(|_| invalid!("sysctl {path}: a NUL byte"))?,
                        value.as_bytes().to_vec(),
                    ))
                })
                .collect::<Result<_>>()?,
            rlimits: spec::rlimits(process),
            oom_score_adj: process
                .oom_score_adj()
                .map(|score| score.to_string().into_bytes()),
            personality: linux
                .and_then(|l| l.personality().as_ref())
                .map(|p| match p.domain() {
                    oci_spec::runtime::LinuxPersonalityDomain::PerLinux => 0,
                    oci_spec::runtime::LinuxPersonalityDomain::PerLinux32 => 0x0008,
                }),
            park: None,
            become_root: ns.user.as_ref().is_some_and(|m| m.maps_root()),
        };
        Ok(Prepared {
            mounts,
            child,
            ns,
            resources,
            device_rules,
            _joined: joined,
        })
    }

    /// Create the cgroup with its limits and device rules; what `inspect`
    /// then says of the device cgroup.
    pub(crate) fn make_cgroup(&self, cgroup: &AnyManager, path: &str) -> Result<String> {
        spec::resources::check_hierarchies(&self.resources, cgroup)?;
        let control = cgroup
            .create()
            .and_then(|()| cgroup.apply(&self.resources))
            .and_then(|()| cgroup.set_devices(&self.device_rules))
            .with_context(|| format!("set up cgroup {path}"))?;
        Ok(match control {
            _ if spec::resources::allows_all_devices(&self.device_rules) => {
                "all devices allowed".to_string()
            }
            tinydocker_cgroups::DeviceControl::Enforced => "enforced".to_string(),
            tinydocker_cgroups::DeviceControl::Unavailable(why) => format!("unavailable: {why}"),
        })
    }

    /// Clone the container's init into its cgroup; it waits for go (with
    /// a user namespace, its id maps written).
    pub(crate) fn spawn(&self, cgroup: &AnyManager) -> Result<tinydocker_ns::Child> {
        let mut init = self.spawn_in_pid_namespace(cgroup)?;
        if let Some(maps) = &self.ns.user {
            let pid = init.pid();
            let written = [("uid_map", &maps.uid), ("gid_map", &maps.gid)]
                .into_iter()
                .try_for_each(|(file, map)| {
                    let path = format!("/proc/{pid}/{file}");
                    std::fs::write(&path, spec::namespaces::IdMaps::text(map))
                        .map_err(|e| Error::io("write the user namespace's map", &path, e))
                });
            if let Err(e) = written {
                let _ = init.kill_and_reap();
                return Err(e);
            }
        }
        Ok(init)
    }

    fn spawn_in_pid_namespace(&self, cgroup: &AnyManager) -> Result<tinydocker_ns::Child> {
        match &self.ns.join_pid {
            Some(path) => {
                let target =
                    File::open(path).map_err(|e| Error::io("open the namespace", path, e))?;
                hooks::with_children_in_pid_namespace(
                    target.as_fd(),
                    &format!("join the PID namespace {}", path.display()),
                    || self.spawn_here(cgroup),
                )?
            }
            None => self.spawn_here(cgroup),
        }
    }

    fn spawn_here(&self, cgroup: &AnyManager) -> Result<tinydocker_ns::Child> {
        let plan = &self.child;
        let exec = plan.exec_arrays();
        // v2: born in the cgroup. Kernels or hierarchies that refuse
        // CLONE_INTO_CGROUP get moved in before go. (v1: the child joins
        // by itself, see ChildPlan::join_cgroup.)
        if let Some(dir) = cgroup.open_dir()? {
            let born_inside = spawn(self.ns.clone, Some(dir.as_raw_fd()), |chan| {
                init::child_main(chan, plan, &exec)
            });
            if let Ok(init) = born_inside {
                return Ok(init);
            }
        }
        let mut init = spawn(self.ns.clone, None, |chan| {
            init::child_main(chan, plan, &exec)
        })?;
        if cgroup.is_v2() {
            if let Err(e) = cgroup.add_task(init.pid()) {
                let _ = init.kill_and_reap();
                return Err(e).context("move the container into its cgroup");
            }
        }
        Ok(init)
    }

    /// A failure the init reported: reaped, and described.
    pub(crate) fn failed(&self, init: &mut tinydocker_ns::Child, failure: ChildFailure) -> Error {
        let _ = init.try_wait(true);
        init::describe(failure, &self.mounts, &self.child)
    }
}

/// /etc/hosts, /etc/hostname and /etc/resolv.conf, written by the child into
/// `dir`, the container's directory (or, for --rm, its scratch tmpfs), and
/// bound over the image's.
fn etc_files(store: &Store, container: &Container, dir: &Path) -> Vec<ProvidedFile> {
    let config = &container.config;
    let Some(etc) = &config.etc_files else {
        return Vec::new();
    };
    let hostname = container
        .spec()
        .ok()
        .and_then(|s| s.hostname().clone())
        .unwrap_or_default();
    let files = EtcFiles {
        hostname: &hostname,
        name: &config.name,
        ip: container.state.net.as_ref().map(|n| n.ip),
        add_hosts: &etc.add_hosts,
        dns: &etc.dns,
        bridged: config.bridge.is_some(),
        embedded_dns: dns::wanted(config),
    };
    let host_resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let dir = if config.auto_remove {
        store.scratch()
    } else {
        dir.to_path_buf()
    };
    vec![
        ProvidedFile {
            host: dir.join("hosts"),
            content: files.hosts(),
            target: "/etc/hosts".into(),
        },
        ProvidedFile {
            host: dir.join("hostname"),
            content: files.hostname(),
            target: "/etc/hostname".into(),
        },
        ProvidedFile {
            host: dir.join("resolv.conf"),
            content: files.resolv_conf(&host_resolv),
            target: "/etc/resolv.conf".into(),
        },
    ]
}

/// How far the init got.
pub(crate) enum Reached {
    /// At its barrier: whole, its command not started.
    Barrier,
    /// It died on the way (killed, out of memory): its exit status tells
    /// how it ended.
    Ended,
}

/// Connect the init to its network (while it waits for go), run the
/// runtime's hooks, say go, run the container's `createContainer` hooks at
/// its pause before the pivot, and wait until it has made the container
/// whole (its root, mounts, host name) and waits at its barrier.
pub(crate) fn to_the_barrier(
    container: &Container,
    prepared: &Prepared,
    init: &mut tinydocker_ns::Child,
) -> Result<Reached> {
    if container.state.nets().next().is_some() {
        let netns = network::netns_fd(init.pid())?;
        let netlink = Netlink::new()?;
        for net in container.state.nets() {
            network::connect_endpoint(&netlink, net, netns.as_fd())?;
        }
    }
    let state = HookState {
        id: container.hook_id(),
        pid: Some(init.pid()),
        bundle: container.bundle(),
        spec: container.spec()?,
    };
    hooks::run(HookPoint::Prestart, &state, None)?;
    hooks::run(HookPoint::CreateRuntime, &state, None)?;
    init.go()?;
    if prepared.child.pause_before_pivot {
        match init.wait_ready()? {
            Barrier::Reached => {}
            Barrier::Failed(failure) => return Err(prepared.failed(init, failure)),
            Barrier::Ended => return Ok(Reached::Ended),
        }
        let pidfd =
            tinydocker_ns::pidfd::open(init.pid()).map_err(|e| Error::sys("pidfd_open", e))?;
        hooks::run(HookPoint::CreateContainer, &state, Some(pidfd.as_fd()))?;
        init.go()?;
    }
    match init.wait_ready()? {
        Barrier::Reached => Ok(Reached::Barrier),
        Barrier::Failed(failure) => Err(prepared.failed(init, failure)),
        Barrier::Ended => Ok(Reached::Ended),
    }
}

/// Once the container is recorded running: publish its ports, run its
/// `startContainer` hooks, let the init go on, and wait until it has
/// exec'd the command or failed. With a terminal, returns the master of
/// the pseudo-terminal the init opened in the container.
pub(crate) fn from_the_barrier(
    container: &Container,
    prepared: &Prepared,
    init: &mut tinydocker_ns::Child,
) -> Result<Started> {
    // Bound before the command runs: its first query finds the server.
    let dns = match dns::wanted(&container.config) {
        true => Some(dns::Server::bound(dns::bind_in(
            network::netns_fd(init.pid())?.as_fd(),
        )?)),
        false => None,
    };
    if let Some(net) = &container.state.net {
        publish(net)?;
    }
    let spec = container.spec()?;
    if !hooks::hooks_at(spec, HookPoint::StartContainer).is_empty() {
        let state = HookState {
            id: container.hook_id(),
            pid: Some(init.pid()),
            bundle: container.bundle(),
            spec,
        };
        let pidfd =
            tinydocker_ns::pidfd::open(init.pid()).map_err(|e| Error::sys("pidfd_open", e))?;
        hooks::run(HookPoint::StartContainer, &state, Some(pidfd.as_fd()))?;
    }
    let terminal = go_and_take_terminal(prepared, init)?;
    if let Some(failure) = init.wait_exec()? {
        return Err(prepared.failed(init, failure));
    }
    Ok(Started { terminal, dns })
}

/// An OCI bundle's container, once recorded created: wait until the
/// init, which went on from its barrier without waiting (see
/// `init::child_main`), is where it waits for `start` (its command found,
/// its privileges dropped). With a terminal, returns the master of its
/// pseudo-terminal.
pub(crate) fn to_the_park(
    prepared: &Prepared,
    init: &mut tinydocker_ns::Child,
) -> Result<Option<OwnedFd>> {
    let terminal = take_terminal(prepared, init)?;
    match init.wait_ready()? {
        Barrier::Reached => {}
        Barrier::Failed(failure) => return Err(prepared.failed(init, failure)),
        Barrier::Ended => {
            return Err(Error::Setup(
                "the container's init ended before it was ready".into(),
            ))
        }
    }
    // It waits on the fifo from here, on its own.
    init.go()?;
    Ok(terminal)
}

/// Say go, and with a terminal take the master of the pseudo-terminal the
/// init opens next in the container.
fn go_and_take_terminal(
    prepared: &Prepared,
    init: &mut tinydocker_ns::Child,
) -> Result<Option<OwnedFd>> {
    init.go()?;
    take_terminal(prepared, init)
}

/// With a terminal, the master of the pseudo-terminal the init opens in
/// the container after its barrier.
fn take_terminal(prepared: &Prepared, init: &mut tinydocker_ns::Child) -> Result<Option<OwnedFd>> {
    if prepared.child.tty.is_none() {
        return Ok(None);
    }
    match init.receive_fd()? {
        Ok(master) => Ok(Some(master)),
        Err(failure) => Err(prepared.failed(init, failure)),
    }
}

fn publish(net: &NetSettings) -> Result<()> {
    if net.ports.is_empty() {
        return Ok(());
    }
    Ok(nft::run(&nft::publish_script(
        &net.bridge,
        net.ip,
        &net.ports,
    ))?)
}
