//! Snapshots of the specs `run` makes for the interesting flag
//! combinations, and the properties every one of them has.
use super::*;
use crate::security::{check, SecurityArgs};
use tinydocker_fs::NodeKind;
use tinydocker_security::caps::CapSet;
use tinydocker_security::caps::Identity;
use tinydocker_security::seccomp::{Arch, KernelVersion};

const ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn request(f: impl FnOnce(&mut Request, &mut SecurityArgs)) -> Request {
    let mut security = SecurityArgs::default();
    let mut r = Request {
        name: Some("web".into()),
        image: "busybox".into(),
        command: vec![],
        entrypoint: None,
        env: vec![],
        workdir: None,
        volumes: vec![],
        hostname: None,
        read_only: false,
        network: Network::Bridge("bridge".into()),
        network_mode: "bridge".into(),
        ip: None,
        aliases: Vec::new(),
        ports: vec![],
        dns: vec![],
        add_hosts: vec![],
        resources: Resources::default(),
        cgroup_parent: "tinydocker".into(),
        security: check(&security, CapSet::ALL).unwrap(),
        restart: RestartPolicy::parse("no").unwrap(),
        auto_remove: false,
        interactive: false,
        tty: false,
        init: false,
        stop_signal: String::new(),
        stop_timeout: None,
        labels: Default::default(),
        anonymous_volumes: Vec::new(),
        named: Vec::new(),
        named_volumes: Vec::new(),
        tmpfs: Vec::new(),
        ulimits: Vec::new(),
        log: Default::default(),
    };
    f(&mut r, &mut security);
    r.security = check(&security, CapSet::ALL).unwrap();
    r
}

fn image() -> Image {
    Image {
        id: "sha256:feed".into(),
        entrypoint: vec![],
        cmd: vec!["sh".into()],
        env: vec!["PATH=/bin:/usr/bin".into(), "LANG=C".into()],
        working_dir: String::new(),
        layers: vec!["/s/images/layers/aaa".into(), "/s/images/init-layer".into()],
    }
}

fn root() -> User {
    User {
        identity: Identity::default(),
        home: Some("/root".into()),
    }
}

fn host() -> Host {
    Host {
        hostname: "the-host".into(),
        devices: vec![DeviceNode {
            path: "/dev/sda".into(),
            kind: NodeKind::Block,
            major: 8,
            minor: 0,
            mode: 0o660,
            uid: 0,
            gid: 6,
        }],
        seccomp: seccomp::Host {
            arch: Arch::X86_64,
            kernel: KernelVersion::from_release("6.1.0").unwrap(),
        },
        mountpoint: "/var/lib/tinydocker/rootfs".into(),
    }
}

/// The spec and configuration as JSON with every set in one order (the
/// spec's capability sets are hash sets) and the seccomp rules summed
/// up (the default profile alone is 400 lines).
fn shown(spec: &Spec, config: &ContainerConfig) -> serde_json::Value {
    let mut spec_json = serde_json::to_value(spec).unwrap();
    if let Some(caps) = spec_json["process"]["capabilities"].as_object_mut() {
        for set in caps.values_mut() {
            if let Some(list) = set.as_array_mut() {
                list.sort_by_key(|v| v.to_string());
            }
        }
    }
    if let Some(seccomp) = spec_json["linux"]["seccomp"].as_object_mut() {
        let syscalls = seccomp.remove("syscalls").unwrap_or_default();
        let names: usize = syscalls
            .as_array()
            .into_iter()
            .flatten()
            .map(|s| s["names"].as_array().map_or(0, Vec::len))
            .sum();
        let allows_unshare = syscalls.as_array().into_iter().flatten().any(|s| {
            s["action"] == "SCMP_ACT_ALLOW"
                && s.get("args").is_none()
                && s["names"]
                    .as_array()
                    .is_some_and(|n| n.iter().any(|n| n == "unshare"))
        });
        seccomp.insert(
            "syscalls (summed up)".into(),
            serde_json::json!({
                "rules": syscalls.as_array().map_or(0, Vec::len),
                "names": names,
                "unshare allowed": allows_unshare,
            }),
        );
    }
    serde_json::json!({ "spec": spec_json, "config": config })
}

fn snapshot(name: &str, request: &Request, user: &User) {
    let (spec, config) = build(ID, request, &image(), user, &host()).unwrap();
    insta::with_settings!({ sort_maps => true }, {
        insta::assert_yaml_snapshot!(name, shown(&spec, &config));
    });
}

#[test]
fn defaults() {
    snapshot("defaults", &request(|_, _| {}), &root());
}

#[test]
fn limits() {
    let r = request(|r, _| {
        r.resources = Resources {
            cpu_quota: Some(50_000),
            cpu_period: Some(100_000),
            cpu_shares: Some(512),
            cpuset_cpus: Some("0".into()),
            memory: Some(64 << 20),
            memory_swap: Some(128 << 20),
            memory_reservation: Some(32 << 20),
            pids_limit: Some(20),
            ..Resources::default()
        };
        r.cgroup_parent = "jobs/batch".into();
    });
    let (spec, _) = build(ID, &r, &image(), &root(), &host()).unwrap();
    insta::assert_yaml_snapshot!(spec.linux().as_ref().unwrap().resources());
    assert_eq!(
        tinydocker_engine::spec::cgroup_path(&spec),
        format!("jobs/batch/{ID}")
    );
}

#[test]
fn security_options() {
    let r = request(|_, s| {
        s.cap_add = vec!["NET_ADMIN".into(), "SYS_ADMIN".into()];
        s.cap_drop = vec!["CHOWN".into()];
        s.security_opt = vec!["no-new-privileges=false".into()];
    });
    let (spec, config) = build(ID, &r, &image(), &root(), &host()).unwrap();
    let v = shown(&spec, &config);
    insta::with_settings!({ sort_maps => true }, {
        insta::assert_yaml_snapshot!(serde_json::json!({
            "capabilities": v["spec"]["process"]["capabilities"],
            "noNewPrivileges": v["spec"]["process"]["noNewPrivileges"],
            "seccomp": v["spec"]["linux"]["seccomp"],
            "origin": v["config"]["origin"],
        }));
    });
    let unconfined = request(|_, s| s.security_opt = vec!["seccomp=unconfined".into()]);
    let (spec, _) = build(ID, &unconfined, &image(), &root(), &host()).unwrap();
    assert!(spec.linux().as_ref().unwrap().seccomp().is_none());
}

#[test]
fn a_profile_file_is_in_the_spec() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.json");
    std::fs::write(
        &file,
        r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}"#,
    )
    .unwrap();
    let r = request(|_, s| s.security_opt = vec![format!("seccomp={}", file.display())]);
    // The file changes or goes after the run: the spec keeps its rules.
    std::fs::remove_file(&file).unwrap();
    let (spec, config) = build(ID, &r, &image(), &root(), &host()).unwrap();
    let seccomp = spec.linux().as_ref().unwrap().seccomp().clone().unwrap();
    let json = serde_json::to_value(&seccomp).unwrap();
    assert_eq!(json["defaultAction"], "SCMP_ACT_ALLOW");
    assert_eq!(json["syscalls"][0]["names"][0], "mkdir");
    assert_eq!(json["syscalls"][0]["errnoRet"], 1);
    assert_eq!(config.origin.seccomp, file.display().to_string());
}

#[test]
fn privileged() {
    let r = request(|_, s| s.privileged = true);
    let (spec, config) = build(ID, &r, &image(), &root(), &host()).unwrap();
    let v = shown(&spec, &config);
    insta::with_settings!({ sort_maps => true }, {
        insta::assert_yaml_snapshot!(serde_json::json!({
            "bounding": v["spec"]["process"]["capabilities"]["bounding"],
            "noNewPrivileges": v["spec"]["process"]["noNewPrivileges"],
            "seccomp": v["spec"]["linux"]["seccomp"],
            "maskedPaths": v["spec"]["linux"]["maskedPaths"],
            "readonlyPaths": v["spec"]["linux"]["readonlyPaths"],
            "devices": v["spec"]["linux"]["devices"],
            "deviceRules": v["spec"]["linux"]["resources"]["devices"],
            "sys": v["spec"]["mounts"][1],
        }));
    });
}

#[test]
fn volumes_user_and_workdir() {
    let r = request(|r, s| {
        r.volumes = vec![
            Volume {
                source: "/srv/data".into(),
                target: "/data".into(),
                read_only: false,
            },
            Volume {
                source: "/etc/motd".into(),
                target: "/etc/motd".into(),
                read_only: true,
            },
        ];
        r.read_only = true;
        r.workdir = Some("/work".into());
        r.env = vec!["LANG=en_US.UTF-8".into(), "MODE=dev".into()];
        s.user = Some("app".into());
        s.group_add = vec!["audio".into()];
    });
    let user = User {
        identity: Identity {
            uid: 1000,
            gid: 1000,
            groups: vec![1000, 29],
        },
        home: Some("/home/app".into()),
    };
    let (spec, config) = build(ID, &r, &image(), &user, &host()).unwrap();
    let v = shown(&spec, &config);
    insta::with_settings!({ sort_maps => true }, {
        insta::assert_yaml_snapshot!(serde_json::json!({
            "root": v["spec"]["root"],
            "user": v["spec"]["process"]["user"],
            "env": v["spec"]["process"]["env"],
            "cwd": v["spec"]["process"]["cwd"],
            "volumes": v["spec"]["mounts"].as_array().unwrap()[6..],
            "origin.user": v["config"]["origin"]["user"],
        }));
    });
}

#[test]
fn network_kinds() {
    let bridge = request(|r, _| {
        r.ip = Some(Ipv4Addr::new(10, 88, 0, 9));
        r.ports = vec![
            "8080:80".parse().unwrap(),
            "127.0.0.1:5353:53/udp".parse().unwrap(),
        ];
        r.dns = vec![Ipv4Addr::new(192, 0, 2, 53)];
        r.add_hosts = vec![("db".into(), Ipv4Addr::new(10, 0, 0, 9))];
    });
    let none = request(|r, _| {
        r.network = Network::None;
        r.network_mode = "none".into();
    });
    let host_net = request(|r, _| {
        r.network = Network::Host;
        r.network_mode = "host".into();
    });
    let mut shown_all = serde_json::Map::new();
    for (name, r) in [("bridge", bridge), ("none", none), ("host", host_net)] {
        let (spec, config) = build(ID, &r, &image(), &root(), &host()).unwrap();
        let v = shown(&spec, &config);
        shown_all.insert(
            name.into(),
            serde_json::json!({
                "hostname": v["spec"]["hostname"],
                "namespaces": v["spec"]["linux"]["namespaces"],
                "sysctl": v["spec"]["linux"]["sysctl"],
                "bridge": v["config"]["bridge"],
                "etc_files": v["config"]["etc_files"],
                "network_mode": v["config"]["origin"]["network_mode"],
            }),
        );
    }
    insta::with_settings!({ sort_maps => true }, {
        insta::assert_yaml_snapshot!(serde_json::Value::Object(shown_all));
    });
}

#[test]
fn the_engine_takes_every_spec_made_here() {
    for r in [
        request(|_, _| {}),
        request(|_, s| s.privileged = true),
        request(|r, _| r.network = Network::Host),
        request(|r, _| r.tty = true),
    ] {
        let (spec, _) = build(ID, &r, &image(), &root(), &host()).unwrap();
        tinydocker_engine::spec::check_supported(&spec).unwrap();
        tinydocker_engine::spec::namespaces::namespaces(&spec).unwrap();
    }
}

#[test]
fn a_command_is_needed() {
    let mut img = image();
    img.cmd.clear();
    let err = build(ID, &request(|_, _| {}), &img, &root(), &host()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "no command specified: the image busybox has none, give one after the image name"
    );
}

#[test]
fn entrypoint_and_cmd_by_dockers_rules() {
    let image = Image {
        entrypoint: vec!["/entry".into(), "-x".into()],
        cmd: vec!["serve".into(), "--port=80".into()],
        ..image()
    };
    let cmd = |f: fn(&mut Request)| {
        let mut r = request(|_, _| {});
        f(&mut r);
        command(&r, &image)
    };
    assert_eq!(cmd(|_| {}), ["/entry", "-x", "serve", "--port=80"]);
    assert_eq!(
        cmd(|r| r.command = vec!["debug".into()]),
        ["/entry", "-x", "debug"]
    );
    // --entrypoint drops the image's Cmd, not the arguments given.
    assert_eq!(cmd(|r| r.entrypoint = Some("/bin/sh".into())), ["/bin/sh"]);
    assert_eq!(
        cmd(|r| {
            r.entrypoint = Some("/bin/sh".into());
            r.command = vec!["-c".into(), "true".into()];
        }),
        ["/bin/sh", "-c", "true"]
    );
    // "" clears it: the arguments alone.
    assert_eq!(
        cmd(|r| {
            r.entrypoint = Some(String::new());
            r.command = vec!["ls".into()];
        }),
        ["ls"]
    );
    assert!(cmd(|r| r.entrypoint = Some(String::new())).is_empty());
}
