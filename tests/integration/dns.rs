//! Names on user networks and containers on several networks: the
//! embedded DNS server at 127.0.0.11 (names, aliases and short ids of the
//! running containers on the same networks; the rest forwarded), `network
//! connect` and `disconnect` of running and stopped containers (and all
//! they hold released at exit and rm), `network prune`; the same through
//! the service with docker's own client.
//!
//! Forwarded queries go to a fake upstream server on the host's loopback,
//! in this test process ([`Upstream`], through `TINYDOCKER_DNS_UPSTREAM`):
//! never to a name server of the host or the world.

use std::net::{Ipv4Addr, UdpSocket};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::Value;
use tinydocker_tests::{output, settles, Out, TestRoot};

use super::api::Service;
use super::network::{create_network, subnets_in};

/// The name the fake upstream knows, and its address (TEST-NET-1: only
/// ever data in an answer, never contacted).
const OUTSIDE: &str = "outside.test";
const OUTSIDE_IP: &str = "192.0.2.77";

/// A DNS server on 127.0.0.1 in this process standing in for the host's:
/// it answers [`OUTSIDE`] with [`OUTSIDE_IP`], any other name NXDOMAIN,
/// and keeps the names it was asked. Stopped on drop.
struct Upstream {
    addr: String,
    asked: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Upstream {
    fn start() -> Upstream {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind the fake upstream");
        socket
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let addr = socket.local_addr().unwrap().to_string();
        let asked = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (asked2, stop2) = (asked.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 1500];
            while !stop2.load(Ordering::Relaxed) {
                let Ok((len, peer)) = socket.recv_from(&mut buf) else {
                    continue;
                };
                if let Some((name, answer)) = answer(&buf[..len]) {
                    asked2.lock().unwrap().push(name);
                    let _ = socket.send_to(&answer, peer);
                }
            }
        });
        Upstream {
            addr,
            asked,
            stop,
            thread: Some(thread),
        }
    }

    fn asked(&self) -> Vec<String> {
        self.asked.lock().unwrap().clone()
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The fake upstream's answer to a query: the name asked, and the
/// response (an A record for [`OUTSIDE`], else NXDOMAIN, no records).
fn answer(query: &[u8]) -> Option<(String, Vec<u8>)> {
    let mut at = 12;
    let mut labels = Vec::new();
    while *query.get(at)? != 0 {
        let len = query[at] as usize;
        labels.push(String::from_utf8_lossy(query.get(at + 1..at + 1 + len)?).to_string());
        at += 1 + len;
    }
    let question = query.get(12..at + 5)?;
    let qtype = u16::from_be_bytes([query[at + 1], query[at + 2]]);
    let name = labels.join(".").to_ascii_lowercase();
    let known = name == OUTSIDE && qtype == 1;
    let rcode = if name == OUTSIDE { 0 } else { 3 };
    let mut out = vec![
        query[0],
        query[1],
        0x81,
        0x80 | rcode,
        0,
        1,
        0,
        u8::from(known),
        0,
        0,
        0,
        0,
    ];
    out.extend_from_slice(question);
    if known {
        out.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4]);
        out.extend(OUTSIDE_IP.parse::<Ipv4Addr>().unwrap().octets());
    }
    Some((name, out))
}

/// `tinydocker ARGS...` in `root`, forwarding to `upstream`.
fn td(root: &TestRoot, upstream: &Upstream, args: &[&str]) -> Out {
    let mut cmd = root.cmd(args);
    cmd.env("TINYDOCKER_DNS_UPSTREAM", &upstream.addr);
    output(cmd, None)
}

/// A unique name for this test process.
fn unique(prefix: &str) -> String {
    use std::sync::atomic::AtomicU32;
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id() % 100_000,
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// The container's place on `network`, from `inspect`: its address.
#[track_caller]
fn ip_on(root: &TestRoot, container: &str, network: &str) -> String {
    let out = root.run(&["inspect", container]);
    out.ok();
    let v: Value = serde_json::from_str(&out.stdout).expect("inspect is JSON");
    v[0]["NetworkSettings"]["Networks"][network]["IPAddress"]
        .as_str()
        .unwrap_or_else(|| panic!("{container} has no place on {network}: {}", out.stdout))
        .to_string()
}

/// The IPAM allocations of `network` owned by container `id`.
fn allocations_of(root: &TestRoot, network: &str, id: &str) -> usize {
    let path = root
        .path()
        .join("networks")
        .join(format!("{network}.ipam.json"));
    std::fs::read_to_string(path)
        .map(|text| text.matches(id).count())
        .unwrap_or(0)
}

fn link_exists(name: &str) -> bool {
    Path::new("/sys/class/net").join(name).exists()
}

/// What `nslookup NAME` printed in the container, with its address lines.
#[track_caller]
fn nslookup(root: &TestRoot, up: &Upstream, container: &str, name: &str) -> Out {
    td(root, up, &["exec", container, "nslookup", name])
}

#[test]
fn user_network_names_resolve_and_the_rest_is_forwarded() {
    let root = TestRoot::new();
    let up = Upstream::start();
    let net = unique("dns");
    create_network(&root, &net, subnets_in(231));
    let (a, b) = (unique("a"), unique("b"));
    let a_id = td(
        &root,
        &up,
        &[
            "run",
            "-d",
            "--network",
            &net,
            "--network-alias",
            "web",
            "--name",
            &a,
            "busybox",
            "sleep",
            "300",
        ],
    );
    a_id.ok();
    let a_ip = ip_on(&root, &a, &net);
    let short = &a_id.text()[..12];

    // A foreground run: its own server, served by this run's process.
    let script = format!(
        "cat /etc/resolv.conf; for n in {a} web {short} {OUTSIDE}; do nslookup $n | grep '^Address: ' || echo no $n; done"
    );
    let out = td(
        &root,
        &up,
        &[
            "run",
            "--rm",
            "--network",
            &net,
            "--name",
            &b,
            "busybox",
            "sh",
            "-c",
            &script,
        ],
    );
    out.ok();
    let text = out.text();
    assert!(text.contains("nameserver 127.0.0.11\n"), "{text}");
    assert!(text.contains("options ndots:0"), "{text}");
    assert_eq!(
        text.matches(&format!("Address: {a_ip}")).count(),
        3,
        "{a}, web and {short} are {a_ip}: {text}"
    );
    assert!(text.contains(&format!("Address: {OUTSIDE_IP}")), "{text}");
    assert!(
        up.asked().contains(&OUTSIDE.to_string()),
        "{:?}",
        up.asked()
    );
    // Container names are answered here: never asked upstream (AAAA is
    // answered empty, not forwarded).
    assert!(!up.asked().contains(&a), "{:?}", up.asked());

    // A detached container's server (its monitor's): sees a container
    // started after it, and no more one that stopped.
    let c = unique("c");
    td(
        &root,
        &up,
        &[
            "run",
            "-d",
            "--network",
            &net,
            "--name",
            &c,
            "busybox",
            "sleep",
            "300",
        ],
    )
    .ok();
    let c_ip = ip_on(&root, &c, &net);
    let found = nslookup(&root, &up, &a, &c);
    found.ok();
    assert!(
        found.stdout.contains(&format!("Address: {c_ip}")),
        "{}",
        found.stdout
    );
    root.run(&["rm", "-f", &c]).ok();
    let gone = nslookup(&root, &up, &a, &c);
    assert_ne!(gone.code, 0, "{} still resolves: {}", c, gone.stdout);
    assert!(!gone.stdout.contains(&c_ip), "{}", gone.stdout);
    assert!(
        up.asked().contains(&c),
        "unknown now, so forwarded: {:?}",
        up.asked()
    );
}

#[test]
fn the_default_bridge_keeps_the_hosts_resolv_conf_and_refuses_aliases() {
    let root = TestRoot::new();
    let up = Upstream::start();
    let out = td(
        &root,
        &up,
        &[
            "run",
            "--rm",
            "--network",
            "bridge",
            "busybox",
            "cat",
            "/etc/resolv.conf",
        ],
    );
    out.ok();
    assert!(!out.stdout.contains("127.0.0.11"), "{}", out.stdout);
    for network in ["bridge", "none", "host"] {
        let out = root.run(&[
            "run",
            "--rm",
            "--network",
            network,
            "--network-alias",
            "x",
            "busybox",
            "true",
        ]);
        out.usage_error().stderr_has(
            "network-scoped alias is supported only for containers in user defined networks",
        );
    }
    root.assert_no_containers();
}

#[test]
fn network_connect_and_disconnect_a_running_container() {
    let root = TestRoot::new();
    let up = Upstream::start();
    let (first, second) = (unique("first"), unique("second"));
    create_network(&root, &first, subnets_in(232));
    create_network(&root, &second, subnets_in(233));
    let (a, b) = (unique("a"), unique("b"));
    let a_id = td(
        &root,
        &up,
        &[
            "run",
            "-d",
            "--network",
            &first,
            "--name",
            &a,
            "busybox",
            "sleep",
            "300",
        ],
    );
    a_id.ok();
    let a_id = a_id.text().to_string();
    td(
        &root,
        &up,
        &[
            "run",
            "-d",
            "--cap-add",
            "NET_RAW",
            "--network",
            &second,
            "--name",
            &b,
            "busybox",
            "sleep",
            "300",
        ],
    )
    .ok();
    let default_route = || {
        let routes = root.run(&["exec", &a, "ip", "route"]);
        routes.ok();
        let default = routes
            .lines()
            .into_iter()
            .find(|l| l.starts_with("default"));
        default.expect("a default route").to_string()
    };
    let default_before = default_route();

    root.run(&["network", "connect", "--alias", "extra", &second, &a])
        .ok();
    let a_ip2 = ip_on(&root, &a, &second);
    let addrs = root.run(&["exec", &a, "ip", "-4", "-o", "addr", "show", "eth1"]);
    addrs.ok();
    assert!(
        addrs.stdout.contains(&format!("inet {a_ip2}/")),
        "{}",
        addrs.stdout
    );
    // The default route stays its first network's.
    assert_eq!(default_route(), default_before);
    // Reached from the second network, and named there.
    root.run(&["exec", &b, "ping", "-c1", "-W2", &a_ip2]).ok();
    for name in [a.as_str(), "extra"] {
        let out = nslookup(&root, &up, &b, name);
        out.ok();
        assert!(
            out.stdout.contains(&format!("Address: {a_ip2}")),
            "{}",
            out.stdout
        );
    }
    root.run(&["network", "connect", &second, &a])
        .code(1)
        .stderr_has(&format!(
            "endpoint with name {a} already exists in network {second}"
        ));

    // Its exit releases the second place too; a start makes it again.
    let host_if2 = format!("veth{}1", &a_id[..7]);
    assert!(link_exists(&host_if2));
    root.run(&["stop", "-t", "1", &a]).ok();
    assert!(settles(|| !link_exists(&host_if2)), "{host_if2} left");
    assert_eq!(allocations_of(&root, &second, &a_id), 0);
    root.run(&["start", &a]).ok();
    let again = root.run(&["exec", &a, "ip", "-4", "-o", "addr", "show", "eth1"]);
    again.ok();
    assert!(again
        .stdout
        .contains(&format!("inet {}/", ip_on(&root, &a, &second))));

    // Disconnected: the interface, the veth and the address go at once.
    root.run(&["network", "disconnect", &second, &a]).ok();
    root.run(&["exec", &a, "ip", "link", "show", "eth1"])
        .code(2)
        .stderr_has("can't find device 'eth1'");
    assert!(!link_exists(&host_if2));
    assert_eq!(allocations_of(&root, &second, &a_id), 0);
    root.run(&["network", "disconnect", &second, &a])
        .code(1)
        .stderr_has(&format!("is not connected to network {second}"));

    // Connected again and removed: nothing of either network stays.
    root.run(&["network", "connect", &second, &a]).ok();
    assert_eq!(allocations_of(&root, &second, &a_id), 1);
    root.run(&["rm", "-f", &a]).ok();
    assert!(settles(|| !link_exists(&host_if2)), "{host_if2} left");
    assert!(settles(|| !link_exists(&format!("veth{}", &a_id[..7]))));
    assert_eq!(allocations_of(&root, &first, &a_id), 0);
    assert_eq!(allocations_of(&root, &second, &a_id), 0);
    root.run(&["network", "connect", "nosuchnet", &b])
        .code(1)
        .stderr_has("network nosuchnet not found");
}

#[test]
fn a_stopped_container_connected_gets_the_network_at_its_next_start() {
    let root = TestRoot::new();
    let up = Upstream::start();
    let (first, second) = (unique("first"), unique("second"));
    create_network(&root, &first, subnets_in(234));
    create_network(&root, &second, subnets_in(235));
    let a = unique("a");
    td(
        &root,
        &up,
        &[
            "run",
            "-d",
            "--network",
            &first,
            "--name",
            &a,
            "busybox",
            "sleep",
            "300",
        ],
    )
    .ok();
    root.run(&["stop", "-t", "1", &a]).ok();
    root.run(&["network", "connect", &second, &a]).ok();
    let inspect = root.run(&["inspect", &a]);
    assert!(
        inspect.stdout.contains(&format!("\"{second}\"")),
        "{}",
        inspect.stdout
    );
    td(&root, &up, &["start", &a]).ok();
    let ip = ip_on(&root, &a, &second);
    let addrs = root.run(&["exec", &a, "ip", "-4", "-o", "addr", "show", "eth1"]);
    addrs.ok();
    assert!(
        addrs.stdout.contains(&format!("inet {ip}/")),
        "{}",
        addrs.stdout
    );
    // Its own name resolves on both networks.
    let out = nslookup(&root, &up, &a, &a);
    out.ok();
    assert!(
        out.stdout.contains(&format!("Address: {ip}")),
        "{}",
        out.stdout
    );
    root.run(&["rm", "-f", &a]).ok();
}

#[test]
fn network_prune_removes_only_unused_networks() {
    let root = TestRoot::new();
    let up = Upstream::start();
    let (unused, used, labelled) = (unique("unused"), unique("used"), unique("kept"));
    create_network(&root, &unused, subnets_in(236));
    create_network(&root, &used, subnets_in(237));
    root.run(&["network", "create", "--label", "keep=1", &labelled])
        .ok();
    td(
        &root,
        &up,
        &["run", "-d", "--network", &used, "busybox", "sleep", "300"],
    )
    .ok();
    root.run(&["network", "prune", "-f", "--filter", "label!=keep"])
        .ok()
        .stdout_is(&format!("Deleted Networks:\n{unused}"));
    let ls = root.run(&["network", "ls"]);
    ls.ok();
    assert!(!ls.stdout.contains(&unused), "{}", ls.stdout);
    assert!(
        ls.stdout.contains(&used) && ls.stdout.contains(&labelled),
        "{}",
        ls.stdout
    );
    // Nothing to remove: nothing printed.
    root.run(&["network", "prune", "-f", "--filter", "label=nosuch"])
        .ok()
        .stdout_is("");
}

#[test]
fn docker_network_connect_disconnect_and_prune_through_the_service() {
    let root = TestRoot::new();
    let up = Upstream::start();
    let service = Service::start(&root);
    let (first, second, spare) = (unique("first"), unique("second"), unique("spare"));
    create_network(&root, &first, subnets_in(238));
    create_network(&root, &second, subnets_in(239));
    service.docker(&["network", "create", &spare]).ok();
    let a = unique("a");
    let id = td(
        &root,
        &up,
        &[
            "run",
            "-d",
            "--network",
            &first,
            "--name",
            &a,
            "busybox",
            "sleep",
            "300",
        ],
    );
    id.ok();
    let id = id.text().to_string();

    service
        .docker(&["network", "connect", "--alias", "api-alias", &second, &a])
        .ok();
    let inspect = service.docker(&[
        "inspect",
        "--format",
        "{{json .NetworkSettings.Networks}}",
        &a,
    ]);
    inspect.ok();
    let networks: Value = serde_json::from_str(inspect.text()).expect("JSON");
    let ip2 = networks[&second]["IPAddress"]
        .as_str()
        .expect("an address")
        .to_string();
    assert!(!ip2.is_empty());
    assert!(
        networks[&second]["Aliases"]
            .to_string()
            .contains("api-alias"),
        "{networks}"
    );
    let addrs = root.run(&["exec", &a, "ip", "-4", "-o", "addr", "show", "eth1"]);
    assert!(
        addrs.stdout.contains(&format!("inet {ip2}/")),
        "{}",
        addrs.stdout
    );
    service
        .docker(&["network", "connect", &second, &a])
        .code(1)
        .stderr_has("already exists in network");
    service
        .docker(&["network", "connect", "nosuchnet", &a])
        .code(1)
        .stderr_has("network nosuchnet not found");

    service.docker(&["network", "disconnect", &second, &a]).ok();
    assert_eq!(allocations_of(&root, &second, &id), 0);
    root.run(&["exec", &a, "ip", "link", "show", "eth1"])
        .code(2)
        .stderr_has("can't find device 'eth1'");
    service
        .docker(&["network", "disconnect", &second, &a])
        .code(1)
        .stderr_has("is not connected");

    // `second` and `spare` are unused now; `first` is a's.
    let pruned = service.docker(&["network", "prune", "-f"]);
    pruned.ok();
    let mut deleted: Vec<&str> = pruned
        .lines()
        .into_iter()
        .skip(1)
        .filter(|l| !l.is_empty())
        .collect();
    deleted.sort();
    let mut expected = vec![second.as_str(), spare.as_str()];
    expected.sort();
    assert_eq!(deleted, expected, "{}", pruned.stdout);
    root.run(&["rm", "-f", &a]).ok();
}
