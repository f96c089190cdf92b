//! Bridge networking: containers reach each other and their gateway, get
//! their /etc files, publish ports to the host, masquerade outbound traffic;
//! IPAM hands out distinct addresses under load; everything a container or
//! a network set up on the host (veth, bridge, nftables elements and
//! chains, IPAM allocations) goes away with it; bad input creates nothing.
//!
//! Traffic only ever goes between namespaces these tests make: containers,
//! their bridge's gateway, the host's 127.0.0.1, and a peer network
//! namespace standing in for "outside" (on a /30 of the benchmarking range
//! 198.18.0.0/15). Never to the host's own network or anything beyond it.

use std::collections::{BTreeSet, HashSet};
use std::ffi::CString;
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use serde_json::Value;
use tinydocker_tests::{entries, output, settles, Out, Running, TempDir, TestRoot};

// ---------------------------------------------------------------------------
// Helpers

/// A number unique in this test process, for names, subnets and ports.
fn uniq() -> u32 {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// A tag unique on the host for this test run: pid and a counter.
pub(super) fn tag() -> String {
    format!("{}-{}", std::process::id() % 100_000, uniq())
}

/// Run a host tool, capture everything (under the harness's watchdog).
fn host(program: &str, args: &[&str]) -> Out {
    let mut c = Command::new(program);
    c.args(args);
    output(c, None)
}

/// `nft list table ip tinydocker`, or "" when there is no such table.
pub(super) fn nft_table() -> String {
    let out = host("nft", &["list", "table", "ip", "tinydocker"]);
    if out.code == 0 {
        out.stdout
    } else {
        String::new()
    }
}

/// `nft list map ip tinydocker MAP`, or "" when there is no table.
pub(super) fn nft_map(map: &str) -> String {
    let out = host("nft", &["list", "map", "ip", "tinydocker", map]);
    if out.code == 0 {
        out.stdout
    } else {
        String::new()
    }
}

/// Whether a network interface of this name exists on the host.
pub(super) fn link_exists(name: &str) -> bool {
    Path::new("/sys/class/net").join(name).exists()
}

/// Whether `name` is gone, or goes within a minute. A container's veth
/// goes with its network namespace, which the kernel tears down in the
/// background once the container has exited (`run` does not wait for that:
/// it would cost every run the teardown's RCU grace periods). There is no
/// event to wait on short of a netlink monitor.
fn gone_soon(name: &str) -> bool {
    settles(|| !link_exists(name))
}

/// The ports of `bridge` once the veths of exited containers are gone (see
/// [`gone_soon`]): what remains after at most a minute.
fn bridge_ports_settled(bridge: &str, expected: usize) -> Vec<String> {
    let mut ports = Vec::new();
    settles(|| {
        ports = bridge_ports(bridge);
        ports.len() <= expected
    });
    ports
}

/// The interfaces enslaved to `bridge` on the host.
pub(super) fn bridge_ports(bridge: &str) -> Vec<String> {
    entries(&Path::new("/sys/class/net").join(bridge).join("brif"))
}

/// What `network inspect` says about a network.
pub(super) struct NetInfo {
    subnet: Ipv4Addr,
    prefix: u8,
    gateway: Ipv4Addr,
    pub(super) bridge: String,
    /// Containers attached: name → (address, prefix, host interface).
    containers: Vec<(String, Ipv4Addr, u8, String)>,
}

impl NetInfo {
    fn subnet_text(&self) -> String {
        format!("{}/{}", self.subnet, self.prefix)
    }

    fn contains(&self, ip: Ipv4Addr) -> bool {
        let mask = if self.prefix == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(self.prefix))
        };
        u32::from(ip) & mask == u32::from(self.subnet) & mask
    }

    #[track_caller]
    fn ip_of(&self, name: &str) -> Ipv4Addr {
        match self.containers.iter().find(|c| c.0 == name) {
            Some(c) => c.1,
            None => panic!(
                "container {name} is not in network inspect: {:?}",
                self.containers
            ),
        }
    }
}

fn parse_cidr(text: &str) -> (Ipv4Addr, u8) {
    let (addr, prefix) = text
        .split_once('/')
        .unwrap_or_else(|| panic!("{text:?} is not a CIDR"));
    (
        addr.parse()
            .unwrap_or_else(|_| panic!("{text:?}: bad address")),
        prefix
            .parse()
            .unwrap_or_else(|_| panic!("{text:?}: bad prefix")),
    )
}

#[track_caller]
pub(super) fn inspect(root: &TestRoot, name: &str) -> NetInfo {
    let out = root.run(&["network", "inspect", name]);
    out.ok();
    let v: Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("network inspect {name} is not JSON ({e}):\n{}", out.stdout));
    let n = &v[0];
    assert_eq!(n["Name"], name, "network inspect {name}:\n{}", out.stdout);
    let cfg = &n["IPAM"]["Config"][0];
    let (subnet, prefix) = parse_cidr(cfg["Subnet"].as_str().expect("IPAM.Config[0].Subnet"));
    let gateway = cfg["Gateway"]
        .as_str()
        .expect("IPAM.Config[0].Gateway")
        .parse()
        .expect("gateway address");
    let bridge = n["Options"]["com.docker.network.bridge.name"]
        .as_str()
        .expect("Options[com.docker.network.bridge.name]")
        .to_string();
    let mut containers = Vec::new();
    if let Some(map) = n["Containers"].as_object() {
        for (id, c) in map {
            let (ip, p) = parse_cidr(c["IPv4Address"].as_str().expect("IPv4Address"));
            let host_if = c["HostInterface"]
                .as_str()
                .expect("HostInterface")
                .to_string();
            assert_eq!(
                host_if,
                format!("veth{}", &id[..7]),
                "HostInterface of {id}"
            );
            containers.push((
                c["Name"].as_str().expect("Name").to_string(),
                ip,
                p,
                host_if,
            ));
        }
    }
    NetInfo {
        subnet,
        prefix,
        gateway,
        bridge,
        containers,
    }
}

/// The IPAM allocations of a network (none when its file is gone).
fn allocations(root: &TestRoot, net: &str) -> Vec<Value> {
    let path = root
        .path()
        .join("networks")
        .join(format!("{net}.ipam.json"));
    match fs::read_to_string(&path) {
        Ok(text) => {
            let v: Value = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("parse {}: {e}\n{text}", path.display()));
            v["allocations"].as_array().cloned().unwrap_or_default()
        }
        Err(_) => Vec::new(),
    }
}

/// The full id of the container named `name`.
#[track_caller]
fn id_of(root: &TestRoot, name: &str) -> String {
    for id in root.container_ids() {
        if root.record(&id)["config"]["name"] == name {
            return id;
        }
    }
    panic!("no container named {name}")
}

/// Create a user network on the first /24 of `candidates` that is free
/// (another network or a host route may hold one): its subnet.
#[track_caller]
pub(super) fn create_network(
    root: &TestRoot,
    name: &str,
    candidates: impl Iterator<Item = String>,
) -> String {
    let mut tried = Vec::new();
    for subnet in candidates.take(32) {
        let out = root.run(&["network", "create", "--subnet", &subnet, name]);
        if out.code == 0 {
            let id = out.text();
            assert!(
                id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()),
                "network create printed {id:?}"
            );
            return subnet;
        }
        out.code(1).one_error_line().stderr_has("overlaps");
        tried.push(subnet);
    }
    panic!("no free subnet for {name}: tried {tried:?}");
}

/// /24s in 10.`second`.0.0/16, starting at one this process picks.
pub(super) fn subnets_in(second: u8) -> impl Iterator<Item = String> {
    let start = std::process::id() as usize + uniq() as usize * 37;
    (0..256).map(move |i| format!("10.{second}.{}.0/24", (start + i) % 256))
}

/// A port free on the host for TCP and UDP: no socket has it, no published
/// mapping (of any state root) has it, no other test of this process got it.
pub(super) fn free_port() -> u16 {
    static TAKEN: Mutex<Vec<u16>> = Mutex::new(Vec::new());
    let mut taken = TAKEN.lock().unwrap_or_else(|e| e.into_inner());
    let published = nft_map("ports_any") + &nft_map("ports_addr");
    let start = std::process::id() % 10000;
    for i in 0..10000u32 {
        let port = (20000 + (start + i * 7) % 10000) as u16;
        if taken.contains(&port) || published.contains(&format!(". {port} :")) {
            continue;
        }
        let tcp = TcpListener::bind(("0.0.0.0", port)).is_ok();
        let udp = UdpSocket::bind(("0.0.0.0", port)).is_ok();
        if tcp && udp {
            taken.push(port);
            return port;
        }
    }
    panic!("no free port in 20000..30000");
}

/// GET / from 127.0.0.1:`port` on the host: the whole response.
fn http_get(port: u16) -> std::io::Result<String> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    s.write_all(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")?;
    let mut response = String::new();
    s.read_to_string(&mut response)?;
    Ok(response)
}

/// A named pipe at `path`, opened read-write: the open never blocks, lines
/// written to it wait in the pipe for the container that reads them (as
/// long as this stays open), and each `read x < FIFO` in a container takes
/// exactly one line. So a container can wait for the test without polling.
fn fifo(path: &Path) -> fs::File {
    let c = CString::new(path.to_string_lossy().as_bytes()).expect("fifo path");
    // SAFETY: mkfifo with a valid C string and a mode.
    let r = unsafe { libc::mkfifo(c.as_ptr(), 0o666) };
    assert_eq!(
        r,
        0,
        "mkfifo {}: {}",
        path.display(),
        std::io::Error::last_os_error()
    );
    fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap_or_else(|e| panic!("open {}: {e}", path.display()))
}

fn send_line(fifo: &mut fs::File, line: &str) {
    fifo.write_all(format!("{line}\n").as_bytes())
        .expect("write to the fifo");
}

/// A shell script prefix for a long-running container: SIGTERM (from
/// `Running::signal`) ends it with 0.
const TERM_EXITS: &str = "trap 'exit 0' TERM; ";
/// …and the end of it: wait to be told to stop.
const WAIT_FOR_TERM: &str = "{ sleep 600 & wait; }";

/// Stop a container started with [`TERM_EXITS`] … [`WAIT_FOR_TERM`].
#[track_caller]
fn stop(run: &mut Running) -> Out {
    run.signal(libc::SIGTERM);
    let out = run.finish();
    out.ok();
    out
}

/// Wait (pidfd, no sleeping) until process `pid` has exited; false if it
/// is still there after `timeout`.
fn wait_gone(pid: i32, timeout: Duration) -> bool {
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        // ESRCH: already gone.
        return std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH);
    }
    // SAFETY: fd is a fresh pidfd that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    let mut pfd = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    let n = unsafe { libc::poll(&mut pfd, 1, timeout.as_millis() as i32) };
    n > 0
}

/// Checks that nothing of `root`'s network `net` is on the host any more.
#[track_caller]
fn assert_network_gone(root: &TestRoot, name: &str, net: &NetInfo) {
    assert!(
        !link_exists(&net.bridge),
        "bridge {} is still there",
        net.bridge
    );
    let table = nft_table();
    let subnet = net.subnet_text();
    let chain = format!("net-{}-{}", net.subnet, net.prefix);
    for needle in [&subnet, &chain, &net.bridge] {
        assert!(
            !table.contains(needle.as_str()),
            "nft table ip tinydocker still mentions {needle}:\n{table}"
        );
    }
    assert_eq!(
        allocations(root, name),
        Vec::<Value>::new(),
        "IPAM of {name}"
    );
    assert!(
        !root
            .path()
            .join("networks")
            .join(format!("{name}.json"))
            .exists(),
        "networks/{name}.json is still there"
    );
    let ls = root.run(&["network", "ls"]);
    ls.ok();
    assert!(
        !ls.lines()
            .iter()
            .skip(1)
            .any(|l| l.split_whitespace().nth(1) == Some(name)),
        "network ls still lists {name}:\n{}",
        ls.stdout
    );
    let addrs = host("ip", &["-4", "-o", "addr"]).stdout;
    assert!(
        !addrs.contains(&format!(" {}/", net.gateway)),
        "the gateway {} is still on the host:\n{addrs}",
        net.gateway
    );
}

// ---------------------------------------------------------------------------
// 1. Containers on the default bridge reach each other and the gateway.

#[test]
fn containers_on_the_default_bridge_reach_each_other_and_the_gateway() {
    let root = TestRoot::new();
    let shared = TempDir::new("net-reach-fifos");
    let mut peer_fifo = fifo(&shared.join("peer"));
    let mut done_fifo = fifo(&shared.join("done"));
    let vol = format!("{}:/shared", shared.path().display());
    let (a_name, b_name) = (format!("web-{}", tag()), format!("client-{}", tag()));

    // A: serves on 8080, then waits for B's address, fetches from B and
    // pings its own gateway (found from its default route).
    // busybox's ping opens a raw socket: it needs CAP_NET_RAW, which
    // podman's default set (tinydocker's) leaves out.
    let mut a = root.spawn(&[
        "run",
        "--rm",
        "--cap-add",
        "NET_RAW",
        "--network",
        "bridge",
        "--name",
        &a_name,
        "-v",
        &vol,
        "busybox",
        "sh",
        "-c",
        "mkdir /www && echo from-a > /www/index.html && httpd -p 8080 -h /www && echo ready \
         && read peer < /shared/peer && timeout 10 wget -q -O - http://$peer:8081/ \
         && gw=$(ip route | awk '/^default/ {print $3}') && ping -c1 -W2 $gw > /dev/null \
         && echo gateway $gw ok",
    ]);
    a.expect_line("ready");
    let net = inspect(&root, "bridge");
    let ip_a = net.ip_of(&a_name);
    assert!(net.contains(ip_a), "{ip_a} not in {}", net.subnet_text());
    assert!(net.contains(net.gateway));
    assert_ne!(ip_a, net.gateway);

    // B: by address, by name (--add-host), ping A and the gateway; then
    // serves on 8081 for A and waits to be told to end.
    let b_script = format!(
        "mkdir /www && echo from-b > /www/index.html && httpd -p 8081 -h /www \
         && timeout 10 wget -q -O - http://{ip_a}:8080/ \
         && timeout 10 wget -q -O - http://web:8080/ \
         && ping -c1 -W2 {ip_a} > /dev/null && echo ping a ok \
         && ping -c1 -W2 {gw} > /dev/null && echo gateway ok \
         && echo ready && read x < /shared/done && echo bye",
        gw = net.gateway
    );
    let mut b = root.spawn(&[
        "run",
        "--rm",
        "--cap-add",
        "NET_RAW",
        "--network",
        "bridge",
        "--name",
        &b_name,
        "--add-host",
        &format!("web:{ip_a}"),
        "-v",
        &vol,
        "busybox",
        "sh",
        "-c",
        &b_script,
    ]);
    b.expect_line("from-a");
    b.expect_line("from-a");
    b.expect_line("ping a ok");
    b.expect_line("gateway ok");
    b.expect_line("ready");
    let net = inspect(&root, "bridge");
    let ip_b = net.ip_of(&b_name);
    assert!(net.contains(ip_b), "{ip_b} not in {}", net.subnet_text());
    assert_ne!(ip_a, ip_b);
    assert_eq!(net.containers.len(), 2, "{:?}", net.containers);

    // A reaches B back.
    send_line(&mut peer_fifo, &ip_b.to_string());
    a.finish()
        .ok()
        .stdout_is(&format!("from-b\ngateway {} ok", net.gateway));
    send_line(&mut done_fifo, "x");
    b.finish().ok().stdout_is("bye");

    root.assert_no_containers();
    assert_eq!(allocations(&root, "bridge"), Vec::<Value>::new());
    assert_eq!(bridge_ports_settled(&net.bridge, 0), Vec::<String>::new());
    for c in &net.containers {
        assert!(gone_soon(&c.3), "veth {} of {} is still there", c.3, c.0);
    }
}

// ---------------------------------------------------------------------------
// 2. What each network mode looks like from inside.

#[test]
fn network_none_has_only_loopback() {
    let root = TestRoot::new();
    let out = root.run(&[
        "run",
        "--rm",
        "--network",
        "none",
        "busybox",
        "sh",
        "-c",
        "ls /sys/class/net; ip -o link | wc -l; ip -4 -o addr | awk '{print $2, $4}'; ip route | wc -l",
    ]);
    out.ok().stdout_is("lo\n1\nlo 127.0.0.1/8\n0");
    // No network was made for it.
    assert_eq!(made_networks(&root), Vec::<String>::new());
}

/// The network records of a root (what `network ls` lists beyond the
/// predefined networks not made).
fn made_networks(root: &TestRoot) -> Vec<String> {
    entries(&root.path().join("networks"))
        .into_iter()
        .filter_map(|e| e.strip_suffix(".json").map(String::from))
        .filter(|e| !e.ends_with(".ipam"))
        .collect()
}

#[test]
fn network_host_shares_the_host_namespace() {
    let root = TestRoot::new();
    let mine = fs::read_link("/proc/self/ns/net").expect("readlink /proc/self/ns/net");
    // Links that come and go with other tests (containers' veths, bridges,
    // peer namespaces) are left out of the comparison.
    let stable = |names: Vec<String>| -> BTreeSet<String> {
        names
            .into_iter()
            .filter(|n| !n.starts_with("veth") && !n.starts_with("td"))
            .collect()
    };
    let before = stable(entries("/sys/class/net".as_ref()));
    let out = root.run(&[
        "run",
        "--rm",
        "--network",
        "host",
        "busybox",
        "sh",
        "-c",
        // The shell's glob, not `ls`: ls stats each entry, and fails on
        // one another test removed meanwhile.
        "readlink /proc/self/ns/net; for n in /sys/class/net/*; do echo ${n##*/}; done",
    ]);
    out.ok();
    let lines = out.lines();
    assert_eq!(lines[0], mine.to_string_lossy(), "network namespace inside");
    let inside = stable(lines[1..].iter().map(|s| s.to_string()).collect());
    assert_eq!(inside, before, "interfaces inside vs on the host");
    assert!(
        inside.contains("eth0") && inside.contains("lo"),
        "{inside:?}"
    );
    assert_eq!(made_networks(&root), Vec::<String>::new());
}

#[test]
fn network_ls_lists_the_predefined_networks_and_labels_filter() {
    let root = TestRoot::new();
    let ls = |args: &[&str]| -> Vec<Vec<String>> {
        let mut all = vec!["network", "ls"];
        all.extend_from_slice(args);
        let out = root.run(&all);
        out.ok();
        let lines = out.lines();
        assert_eq!(
            lines[0].split_whitespace().collect::<Vec<_>>(),
            ["NETWORK", "ID", "NAME", "DRIVER", "SCOPE"]
        );
        lines[1..]
            .iter()
            .map(|l| l.split_whitespace().map(String::from).collect())
            .collect()
    };
    // Before any network is made: docker's three, the bridge not set up.
    let before = ls(&[]);
    let named: Vec<(&str, &str)> = before
        .iter()
        .map(|r| (r[1].as_str(), r[2].as_str()))
        .collect();
    assert_eq!(
        named,
        [("bridge", "bridge"), ("host", "host"), ("none", "null")]
    );
    assert!(before.iter().all(|r| r[0].len() == 12 && r[3] == "local"));
    assert_eq!(made_networks(&root), Vec::<String>::new());
    let host = root.run(&["network", "inspect", "host"]);
    host.ok();
    let v: Value = serde_json::from_str(&host.stdout).unwrap();
    assert_eq!(v[0]["Driver"], "host");
    assert_eq!(&v[0]["Id"].as_str().unwrap()[..12], before[1][0]);
    root.run(&["network", "rm", "none"])
        .code(1)
        .one_error_line()
        .stderr_has("none is a pre-defined network and cannot be removed");

    // The default bridge keeps the id it was listed with once made.
    root.run(&["run", "--rm", "--network", "bridge", "busybox", "true"])
        .ok();
    assert_eq!(made_networks(&root), ["bridge"]);
    assert_eq!(ls(&[])[0][0], before[0][0]);

    // Labels: kept, shown by inspect, filtered by ls.
    let name = format!("lab-{}", tag());
    let mut made = false;
    for subnet in subnets_in(79).take(32) {
        let out = root.run(&[
            "network", "create", "--subnet", &subnet, "--label", "team=web", "--label", "solo",
            &name,
        ]);
        if out.code == 0 {
            made = true;
            break;
        }
        out.code(1).one_error_line().stderr_has("overlaps");
    }
    assert!(made, "no free subnet for {name}");
    let out = root.run(&["network", "inspect", &name]);
    out.ok();
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        v[0]["Labels"],
        serde_json::json!({ "team": "web", "solo": "" })
    );
    let names = |args: &[&str]| {
        ls(args)
            .into_iter()
            .map(|r| r[1].clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(names(&["--filter", "label=team=web"]), [name.as_str()]);
    assert_eq!(
        names(&["-f", "label=solo", "-f", "label=team"]),
        [name.as_str()]
    );
    assert!(names(&["--filter", "label=team=db"]).is_empty());
    assert_eq!(names(&["--filter", "type=custom"]), [name.as_str()]);
    assert_eq!(names(&["--filter", "driver=null"]), ["none"]);
    assert_eq!(
        names(&["--filter", "type=builtin"]),
        ["bridge", "host", "none"]
    );
    root.run(&["network", "ls", "--filter", "colour=red"])
        .code(1)
        .one_error_line();
    root.run(&["network", "create", "--label", "=x", &format!("{name}x")])
        .code(1)
        .one_error_line();
    root.run(&["network", "rm", &name]).ok().stdout_is(&name);
}

#[test]
fn network_bridge_gives_eth0_routes_and_etc_files() {
    let root = TestRoot::new();
    let name = format!("cfg-{}", tag());
    let out = root.run(&[
        "run",
        "--network",
        "bridge",
        "--name",
        &name,
        "--dns",
        "192.0.2.53",
        "--add-host",
        "db.example:10.11.12.13",
        "busybox",
        "sh",
        "-c",
        "ls /sys/class/net; echo --; ip -4 -o addr show eth0; echo --; ip route; echo --; \
         cat /etc/hosts; echo --; cat /etc/hostname; echo --; cat /etc/resolv.conf; echo --; \
         hostname; cat /sys/class/net/lo/operstate /sys/class/net/eth0/operstate",
    ]);
    out.ok();
    let sections: Vec<&str> = out.stdout.split("--\n").collect();
    assert_eq!(sections.len(), 7, "output:\n{}", out.stdout);
    let net = inspect(&root, "bridge");
    let id = id_of(&root, &name);
    let rec = root.record(&id);
    let rnet = &rec["state"]["net"];

    assert_eq!(sections[0], "eth0\nlo\n", "interfaces inside");

    // eth0 has an address of the network, with its prefix.
    let inet = sections[1]
        .split_whitespace()
        .skip_while(|w| *w != "inet")
        .nth(1)
        .unwrap_or_else(|| panic!("no inet in {:?}", sections[1]));
    let (ip, prefix) = parse_cidr(inet);
    assert!(net.contains(ip), "{ip} not in {}", net.subnet_text());
    assert_eq!(prefix, net.prefix);
    assert_ne!(ip, net.gateway);

    // Default route via the gateway, and the subnet on link.
    let routes: Vec<&str> = sections[2].lines().map(str::trim).collect();
    assert!(
        routes
            .iter()
            .any(|r| r.starts_with(&format!("default via {} dev eth0", net.gateway))),
        "routes inside:\n{}",
        sections[2]
    );
    assert!(
        routes
            .iter()
            .any(|r| r.starts_with(&format!("{} dev eth0", net.subnet_text()))),
        "routes inside:\n{}",
        sections[2]
    );

    // /etc/hosts: localhost, --add-host, own address with hostname and name.
    let hostname = sections[6].lines().next().unwrap_or_default();
    assert_eq!(hostname.len(), 12, "hostname {hostname:?}");
    assert!(id.starts_with(hostname), "hostname {hostname} vs id {id}");
    let hosts: Vec<&str> = sections[3].lines().collect();
    assert!(hosts.contains(&"127.0.0.1\tlocalhost"), "{hosts:?}");
    assert!(hosts.contains(&"10.11.12.13\tdb.example"), "{hosts:?}");
    let own = format!("{ip}\t{hostname} {name}");
    assert!(hosts.contains(&own.as_str()), "{own:?} not in {hosts:?}");
    assert_eq!(sections[4], format!("{hostname}\n"), "/etc/hostname");
    assert_eq!(sections[5], "nameserver 192.0.2.53\n", "/etc/resolv.conf");
    assert_eq!(
        sections[6].lines().skip(1).collect::<Vec<_>>(),
        ["unknown", "up"],
        "operstate of lo and eth0"
    );

    // The record agrees.
    assert_eq!(rnet["network"], "bridge");
    assert_eq!(rnet["bridge"], net.bridge.as_str());
    assert_eq!(rnet["ip"], ip.to_string().as_str());
    assert_eq!(rnet["prefix"], u64::from(net.prefix));
    assert_eq!(rnet["gateway"], net.gateway.to_string().as_str());
    assert_eq!(rnet["host_if"], format!("veth{}", &id[..7]).as_str());
    assert_eq!(rnet["ports"], serde_json::json!([]));
    // Exited: its veth and address are released already.
    assert!(gone_soon(&format!("veth{}", &id[..7])));
    assert_eq!(allocations(&root, "bridge"), Vec::<Value>::new());
    root.run(&["rm", &name]).ok();
    root.assert_no_containers();
}

#[test]
fn resolv_conf_drops_loopback_servers_without_dns_flag() {
    let root = TestRoot::new();
    let out = root.run(&[
        "run",
        "--rm",
        "--network",
        "bridge",
        "busybox",
        "cat",
        "/etc/resolv.conf",
    ]);
    out.ok();
    for line in out.lines() {
        if let Some(addr) = line.trim().strip_prefix("nameserver") {
            let addr = addr.trim();
            assert!(
                !addr.starts_with("127.") && addr != "::1",
                "a loopback name server inside a bridged container:\n{}",
                out.stdout
            );
        }
    }
    assert!(
        out.stdout.contains("nameserver "),
        "no name server at all:\n{}",
        out.stdout
    );
}

// ---------------------------------------------------------------------------
// 3. Published ports.

#[test]
fn published_port_answers_from_the_host_until_removed() {
    let root = TestRoot::new();
    let (p_any, p_lo, p_udp) = (free_port(), free_port(), free_port());
    let name = format!("pub-{}", tag());
    let content = format!("published-{name}");
    let script = format!(
        "{TERM_EXITS}mkdir /www && echo {content} > /www/index.html && httpd -p 80 -h /www \
         && echo ready && {WAIT_FOR_TERM}"
    );
    let specs = [
        format!("{p_any}:80"),
        format!("127.0.0.1:{p_lo}:80/tcp"),
        format!("{p_udp}:53/udp"),
    ];
    let mut run = root.spawn(&[
        "run",
        "--rm",
        "--network",
        "bridge",
        "--name",
        &name,
        "-p",
        &specs[0],
        "-p",
        &specs[1],
        "-p",
        &specs[2],
        "busybox",
        "sh",
        "-c",
        &script,
    ]);
    run.expect_line("ready");
    let net = inspect(&root, "bridge");
    let ip = net.ip_of(&name);
    let id = id_of(&root, &name);
    let host_if = format!("veth{}", &id[..7]);
    assert!(link_exists(&host_if), "no {host_if}");
    assert_eq!(
        bridge_ports_settled(&net.bridge, 1),
        std::slice::from_ref(&host_if)
    );

    for port in [p_any, p_lo] {
        let response = http_get(port).unwrap_or_else(|e| panic!("GET 127.0.0.1:{port}: {e}"));
        assert!(
            response.starts_with("HTTP/1.") && response.contains(" 200 "),
            "from port {port}:\n{response}"
        );
        assert!(
            response.ends_with(&format!("\r\n\r\n{content}\n")),
            "from port {port}:\n{response}"
        );
    }
    root.run(&["port", &name]).ok().stdout_is(&format!(
        "80/tcp -> 0.0.0.0:{p_any}\n80/tcp -> 127.0.0.1:{p_lo}\n53/udp -> 0.0.0.0:{p_udp}"
    ));
    let ps = root.run(&["ps"]);
    ps.ok();
    let row = ps
        .lines()
        .into_iter()
        .find(|l| l.ends_with(&name))
        .map(str::to_string);
    assert!(
        row.as_deref().is_some_and(|r| r.contains(&format!(
            "0.0.0.0:{p_any}->80/tcp, 127.0.0.1:{p_lo}->80/tcp, 0.0.0.0:{p_udp}->53/udp"
        ))),
        "PORTS of {name} in ps:\n{}",
        ps.stdout
    );
    let any = nft_map("ports_any");
    let addr = nft_map("ports_addr");
    for (map, element) in [
        (&any, format!("tcp . {p_any} : {ip} . 80")),
        (&any, format!("udp . {p_udp} : {ip} . 53")),
        (&addr, format!("127.0.0.1 . tcp . {p_lo} : {ip} . 80")),
    ] {
        assert!(map.contains(&element), "{element:?} not in\n{map}");
    }
    let rec = root.record(&id);
    assert_eq!(
        rec["state"]["net"]["ports"].as_array().map(Vec::len),
        Some(3),
        "{}",
        rec["state"]["net"]
    );

    stop(&mut run);
    root.assert_no_containers();
    let any = nft_map("ports_any");
    let addr = nft_map("ports_addr");
    for port in [p_any, p_lo, p_udp] {
        let key = format!(". {port} :");
        assert!(
            !any.contains(&key) && !addr.contains(&key),
            "port {port} is still mapped:\n{any}\n{addr}"
        );
    }
    for port in [p_any, p_lo] {
        if let Ok(response) = http_get(port) {
            panic!("port {port} still answers after the container is gone:\n{response}");
        }
    }
    assert!(gone_soon(&host_if), "{host_if} is still there");
    assert_eq!(allocations(&root, "bridge"), Vec::<Value>::new());
}

#[test]
fn published_port_is_removed_by_rm_force() {
    let root = TestRoot::new();
    let port = free_port();
    let name = format!("pubrm-{}", tag());
    let script = format!(
        "{TERM_EXITS}mkdir /www && echo rm-force > /www/index.html && httpd -p 8000 -h /www \
         && echo ready && {WAIT_FOR_TERM}"
    );
    let spec = format!("{port}:8000");
    let mut run = root.spawn(&[
        "run",
        "--network",
        "bridge",
        "--name",
        &name,
        "-p",
        &spec,
        "busybox",
        "sh",
        "-c",
        &script,
    ]);
    run.expect_line("ready");
    let response = http_get(port).unwrap_or_else(|e| panic!("GET 127.0.0.1:{port}: {e}"));
    assert!(response.ends_with("\r\n\r\nrm-force\n"), "{response}");
    root.run(&["rm", "-f", &name]).ok();
    let out = run.finish();
    assert_eq!(out.code, 137, "run after rm -f: {out:?}");
    root.assert_no_containers();
    let any = nft_map("ports_any");
    assert!(
        !any.contains(&format!(". {port} :")),
        "still mapped:\n{any}"
    );
    assert!(http_get(port).is_err(), "port {port} still answers");
    assert_eq!(allocations(&root, "bridge"), Vec::<Value>::new());
}

// ---------------------------------------------------------------------------
// 4. Outbound traffic is masqueraded.

/// A network namespace standing in for "outside": a veth pair between it
/// and the host on a private /30 of 198.18.0.0/15; removed on drop.
struct Outside {
    ns: String,
    host_if: String,
    host_ip: Ipv4Addr,
    peer_ip: Ipv4Addr,
}

impl Outside {
    fn new() -> Outside {
        let n = uniq();
        let pid = std::process::id();
        let suffix = format!("{:06x}", (pid.wrapping_mul(64) + n) & 0xff_ffff);
        let routes = host("ip", &["-4", "route", "show", "table", "all"]).stdout
            + &host("ip", &["-4", "-o", "addr"]).stdout;
        // 32768 /30s in 198.18.0.0/15; one this run does not see in use.
        let mut k = (pid.wrapping_mul(31) + n * 101) % 32768;
        let (host_ip, peer_ip) = loop {
            let base = u32::from(Ipv4Addr::new(198, 18, 0, 0)) + k * 4;
            let net = Ipv4Addr::from(base);
            let (h, p) = (Ipv4Addr::from(base + 1), Ipv4Addr::from(base + 2));
            if !routes.contains(&format!("{net}/30")) && !routes.contains(&format!("{h}/")) {
                break (h, p);
            }
            k = (k + 1) % 32768;
        };
        let outside = Outside {
            ns: format!("tdt-outside-{pid}-{n}"),
            host_if: format!("tdo{suffix}"),
            host_ip,
            peer_ip,
        };
        let peer_if = format!("tdp{suffix}");
        let (ns, hif) = (outside.ns.as_str(), outside.host_if.as_str());
        host("ip", &["netns", "add", ns]).ok();
        host(
            "ip",
            &[
                "link", "add", hif, "type", "veth", "peer", "name", &peer_if, "netns", ns,
            ],
        )
        .ok();
        host("ip", &["addr", "add", &format!("{host_ip}/30"), "dev", hif]).ok();
        host("ip", &["link", "set", hif, "up"]).ok();
        host(
            "ip",
            &[
                "-n",
                ns,
                "addr",
                "add",
                &format!("{peer_ip}/30"),
                "dev",
                &peer_if,
            ],
        )
        .ok();
        host("ip", &["-n", ns, "link", "set", &peer_if, "up"]).ok();
        host("ip", &["-n", ns, "link", "set", "lo", "up"]).ok();
        outside
    }

    /// Listen on `peer_ip:port` inside the namespace (from a thread that
    /// joined it); the thread accepts one connection, reads a line, answers
    /// "ok" and returns the peer's address and the line.
    fn accept_one(
        &self,
        port: u16,
    ) -> std::thread::JoinHandle<Result<(SocketAddr, String), String>> {
        let ns_path = format!("/run/netns/{}", self.ns);
        let addr = SocketAddrV4::new(self.peer_ip, port);
        let (tx, rx) = std::sync::mpsc::channel();
        let handle = std::thread::spawn(move || {
            let listen = || -> Result<TcpListener, String> {
                let ns = fs::File::open(&ns_path).map_err(|e| format!("open {ns_path}: {e}"))?;
                // SAFETY: setns with an fd of a network namespace; it only
                // moves this thread, which ends with this closure's caller.
                if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                    return Err(format!(
                        "setns {ns_path}: {}",
                        std::io::Error::last_os_error()
                    ));
                }
                TcpListener::bind(addr).map_err(|e| format!("bind {addr}: {e}"))
            };
            let listener = match listen() {
                Ok(l) => {
                    let _ = tx.send(Ok(()));
                    l
                }
                Err(e) => {
                    let _ = tx.send(Err(e.clone()));
                    return Err(e);
                }
            };
            listener.set_nonblocking(true).map_err(|e| e.to_string())?;
            let mut pfd = libc::pollfd {
                fd: listener.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd.
            let n = unsafe { libc::poll(&mut pfd, 1, 60_000) };
            if n <= 0 {
                return Err(format!("no connection to {addr} within 60s"));
            }
            let (stream, peer) = listener.accept().map_err(|e| format!("accept: {e}"))?;
            stream.set_nonblocking(false).map_err(|e| e.to_string())?;
            stream
                .set_read_timeout(Some(Duration::from_secs(20)))
                .map_err(|e| e.to_string())?;
            let mut line = String::new();
            BufReader::new(&stream)
                .read_line(&mut line)
                .map_err(|e| format!("read from {peer}: {e}"))?;
            (&stream)
                .write_all(b"ok\n")
                .map_err(|e| format!("write to {peer}: {e}"))?;
            Ok((peer, line.trim_end().to_string()))
        });
        match rx.recv() {
            Ok(Ok(())) => handle,
            Ok(Err(e)) => panic!("listener in {}: {e}", self.ns),
            Err(_) => panic!("listener thread in {} died: {:?}", self.ns, handle.join()),
        }
    }
}

impl Drop for Outside {
    fn drop(&mut self) {
        let quiet = |args: &[&str]| {
            let _ = Command::new("ip")
                .args(args)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status();
        };
        quiet(&["link", "del", &self.host_if]);
        quiet(&["netns", "del", &self.ns]);
    }
}

#[test]
fn outbound_traffic_is_masqueraded() {
    let root = TestRoot::new();
    let outside = Outside::new();
    let port = 5000 + (uniq() as u16 % 1000);
    let listener = outside.accept_one(port);
    let script = format!(
        "ip -4 -o addr show eth0 | awk '{{print $4}}'; \
         echo hello-outside | timeout 20 nc -w 5 {} {port}",
        outside.peer_ip
    );
    let out = root.run(&[
        "run",
        "--rm",
        "--network",
        "bridge",
        "busybox",
        "sh",
        "-c",
        &script,
    ]);
    assert_eq!(
        fs::read_to_string("/proc/sys/net/ipv4/ip_forward")
            .unwrap_or_default()
            .trim(),
        "1",
        "IPv4 forwarding is off with a bridge network set up"
    );
    let seen = listener.join().expect("listener thread");
    out.ok();
    let lines = out.lines();
    assert_eq!(lines.len(), 2, "container output:\n{}", out.stdout);
    let (container_ip, _) = parse_cidr(lines[0]);
    assert_eq!(lines[1], "ok", "container output:\n{}", out.stdout);
    let (peer, line) = seen.unwrap_or_else(|e| panic!("outside: {e}; container: {out:?}"));
    assert_eq!(line, "hello-outside");
    assert_eq!(
        peer.ip(),
        std::net::IpAddr::V4(outside.host_ip),
        "outside saw {peer}, expected the host's address {} (container {container_ip})",
        outside.host_ip
    );
    assert!(inspect(&root, "bridge").contains(container_ip));
}

// ---------------------------------------------------------------------------
// 5. IPAM under load.

#[test]
fn fifty_parallel_containers_get_distinct_addresses() {
    const N: usize = 50;
    // Fifty containers starting at once load every CPU: not while a
    // cgroups test measures a CPU rate.
    let _alone = crate::cgroups::cpu_alone();
    let root = TestRoot::new();
    let name = format!("testnet-{}", tag());
    let subnet = create_network(&root, &name, subnets_in(250));
    let net = inspect(&root, &name);
    assert_eq!(net.subnet_text(), subnet);
    assert!(link_exists(&net.bridge), "bridge {} missing", net.bridge);
    let shared = TempDir::new("net-fifty");
    let mut go = fifo(&shared.join("go"));
    let vol = format!("{}:/shared", shared.path().display());

    // All started at once; each holds its address until told to go on, so
    // all fifty are attached at the same time.
    let mut runs: Vec<Running> = (0..N)
        .map(|_| {
            root.spawn(&[
                "run",
                "--rm",
                "--network",
                &name,
                "-v",
                &vol,
                "busybox",
                "sh",
                "-c",
                "echo ready; read x < /shared/go; hostname; ip -4 -o addr show eth0",
            ])
        })
        .collect();
    for run in &mut runs {
        run.expect_line("ready");
    }
    assert_eq!(
        allocations(&root, &name).len(),
        N,
        "allocations while all run"
    );
    assert_eq!(
        bridge_ports(&net.bridge).len(),
        N,
        "veths on {}",
        net.bridge
    );
    assert_eq!(inspect(&root, &name).containers.len(), N);
    for _ in 0..N {
        send_line(&mut go, "go");
    }
    let mut addresses = HashSet::new();
    let mut veths = Vec::new();
    for run in &mut runs {
        let out = run.finish();
        out.ok();
        let lines = out.lines();
        assert_eq!(lines.len(), 2, "output: {out:?}");
        veths.push(format!("veth{}", &lines[0][..7]));
        let inet = lines[1]
            .split_whitespace()
            .skip_while(|w| *w != "inet")
            .nth(1)
            .unwrap_or_else(|| panic!("no inet in {:?}", lines[1]));
        let (ip, prefix) = parse_cidr(inet);
        assert!(net.contains(ip), "{ip} not in {subnet}");
        assert_eq!(prefix, net.prefix);
        assert_ne!(ip, net.gateway);
        assert!(addresses.insert(ip), "{ip} given twice");
    }
    assert_eq!(addresses.len(), N);
    root.assert_no_containers();
    assert_eq!(allocations(&root, &name), Vec::<Value>::new(), "IPAM after");
    assert_eq!(bridge_ports_settled(&net.bridge, 0), Vec::<String>::new());
    let left: Vec<&String> = veths.iter().filter(|v| !gone_soon(v)).collect();
    assert!(left.is_empty(), "veths left: {left:?}");
    root.run(&["network", "rm", &name]).ok().stdout_is(&name);
    assert_network_gone(&root, &name, &net);
}

// ---------------------------------------------------------------------------
// 6. Cleanup.

#[test]
fn a_failed_restart_leaves_the_port_of_the_container_that_took_its_place() {
    let root = TestRoot::new();
    let name = format!("takeover-{}", tag());
    create_network(&root, &name, subnets_in(246));
    let port = free_port();
    let spec = format!("{port}:80");
    let (looping, taker) = (format!("loop-{}", tag()), format!("taker-{}", tag()));
    let looping_id = root.detach(&[
        "--restart",
        "always",
        "--network",
        &name,
        "--name",
        &looping,
        "-p",
        &spec,
        "busybox",
        "sh",
        "-c",
        "exit 1",
    ]);
    // While it waits to restart, its address and port are free: another
    // container takes both. Its supervisor is held (SIGSTOP) in that wait
    // until then, however slow the machine.
    let supervisor = root.state(&looping_id)["runtime_pid"].as_i64().unwrap() as i32;
    let held = || {
        if !settles(|| root.state(&looping_id)["status"] == "restarting") {
            return false;
        }
        // SAFETY: signals a process of this test.
        unsafe { libc::kill(supervisor, libc::SIGSTOP) };
        if root.state(&looping_id)["status"] == "restarting" {
            return true;
        }
        // It began the restart in between: let it go and try the next wait.
        // SAFETY: as above.
        unsafe { libc::kill(supervisor, libc::SIGCONT) };
        false
    };
    assert!(settles(held), "{}", root.state(&looping_id));
    struct Resume(i32);
    impl Drop for Resume {
        fn drop(&mut self) {
            // SAFETY: signals a process of this test.
            unsafe { libc::kill(self.0, libc::SIGCONT) };
        }
    }
    let resume = Resume(supervisor);
    root.detach(&[
        "--network",
        &name,
        "--name",
        &taker,
        "-p",
        &spec,
        "busybox",
        "sleep",
        "600",
    ]);
    let ip = inspect(&root, &name).ip_of(&taker);
    let element = format!("tcp . {port} : {ip} . 80");
    assert!(nft_map("ports_any").contains(&element));
    // Its restart then fails on the port, and gives up; what it releases
    // is its own, not the other container's mapping.
    drop(resume);
    assert!(wait_gone(supervisor, Duration::from_secs(60)));
    let s = root.state(&looping_id);
    assert_eq!(s["status"], "exited", "{s}");
    assert!(
        s["error"]
            .as_str()
            .unwrap_or_default()
            .contains(&port.to_string()),
        "{s}"
    );
    assert!(
        nft_map("ports_any").contains(&element),
        "{element} went with the failed restart:\n{}",
        nft_map("ports_any")
    );
    assert_eq!(allocations(&root, &name).len(), 1);
    root.run(&["rm", "-f", &looping, &taker]).ok();
    root.assert_no_containers();
    root.run(&["network", "rm", &name]).ok();
}

#[test]
fn network_rm_waits_out_a_start_that_holds_an_address() {
    let root = TestRoot::new();
    let name = format!("starting-{}", tag());
    let subnet = create_network(&root, &name, subnets_in(245));
    // A `run` between taking its address and writing its record: the
    // address book names it and its live process, nothing else does.
    struct Holder(std::process::Child);
    impl Drop for Holder {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let holder = Holder(
        Command::new("sleep")
            .arg("600")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let pid = holder.0.id();
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let start: u64 = stat[stat.rfind(')').unwrap() + 2..]
        .split(' ')
        .nth(19)
        .unwrap()
        .parse()
        .unwrap();
    let ip = subnet.replace(".0/24", ".2");
    let owner = "f".repeat(64);
    let book = serde_json::json!({"allocations": [
        {"ip": ip, "owner": owner, "holder_pid": pid, "holder_start": start}
    ]});
    let path = root
        .path()
        .join("networks")
        .join(format!("{name}.ipam.json"));
    fs::write(&path, book.to_string()).unwrap();
    root.run(&["network", "rm", &name])
        .code(1)
        .one_error_line()
        .one_error_line()
        .stderr_has("ffffffffffff (being started)");
    // Once that process is gone (a start that died), the address is free.
    drop(holder);
    root.run(&["network", "rm", &name]).ok().stdout_is(&name);
}

#[test]
fn rm_and_network_rm_leave_nothing() {
    let root = TestRoot::new();
    let name = format!("cleanup-{}", tag());
    create_network(&root, &name, subnets_in(251));
    let net = inspect(&root, &name);
    let table = nft_table();
    assert!(
        table.contains(&net.subnet_text()) && table.contains(&net.bridge),
        "network {name} is not in the nft table:\n{table}"
    );
    let port = free_port();
    let (running, exited) = (format!("up-{}", tag()), format!("done-{}", tag()));
    let script = format!("{TERM_EXITS}httpd -p 80 -h / && echo ready && {WAIT_FOR_TERM}");
    let spec = format!("{port}:80");
    let mut run = root.spawn(&[
        "run",
        "--network",
        &name,
        "--name",
        &running,
        "-p",
        &spec,
        "busybox",
        "sh",
        "-c",
        &script,
    ]);
    run.expect_line("ready");
    root.run(&[
        "run",
        "--network",
        &name,
        "--name",
        &exited,
        "busybox",
        "true",
    ])
    .ok();
    let ids = [id_of(&root, &running), id_of(&root, &exited)];
    let veths: Vec<String> = ids.iter().map(|id| format!("veth{}", &id[..7])).collect();
    assert!(link_exists(&veths[0]));
    assert!(gone_soon(&veths[1]), "the exited container's veth stays");
    assert_eq!(allocations(&root, &name).len(), 1);
    assert!(nft_map("ports_any").contains(&format!("tcp . {port} :")));

    root.run(&["rm", "-f", &running]).ok();
    assert_eq!(run.finish().code, 137);
    root.run(&["rm", &exited]).ok();
    root.assert_no_containers();
    root.run(&["network", "rm", &name]).ok().stdout_is(&name);
    for v in &veths {
        assert!(gone_soon(v), "{v} is still there");
    }
    assert!(
        !nft_map("ports_any").contains(&format!(". {port} :")),
        "port {port} is still mapped"
    );
    assert_network_gone(&root, &name, &net);
}

#[test]
fn killed_run_is_cleaned_up_by_rm() {
    let root = TestRoot::new();
    let port = free_port();
    let name = format!("killed-{}", tag());
    let spec = format!("{port}:80");
    let mut run = root.spawn(&[
        "run",
        "--network",
        "bridge",
        "--name",
        &name,
        "-p",
        &spec,
        "busybox",
        "sh",
        "-c",
        "httpd -p 80 -h / && echo ready && sleep 600",
    ]);
    run.expect_line("ready");
    let id = id_of(&root, &name);
    let rec = root.record(&id);
    let init = rec["state"]["pid"].as_i64().expect("state.pid") as i32;
    assert!(init > 0);
    let net = inspect(&root, "bridge");
    let ip = net.ip_of(&name);
    let host_if = format!("veth{}", &id[..7]);
    assert!(link_exists(&host_if));
    let element = format!("tcp . {port} : {ip} . 80");
    assert!(nft_map("ports_any").contains(&element));
    assert_eq!(allocations(&root, "bridge").len(), 1);

    run.signal(libc::SIGKILL);
    let out = run.finish();
    assert_eq!(out.killed_by, Some(libc::SIGKILL), "{out:?}");
    assert!(
        wait_gone(init, Duration::from_secs(30)),
        "the container's init {init} outlived its killed runtime"
    );
    // The init has exited, but may not be reaped yet (orphans go to the
    // host's pid 1, which may take its time): it is not running any more.
    let init_state = fs::read_to_string(format!("/proc/{init}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("State:"))
                .map(String::from)
        })
        .unwrap_or_else(|| "gone".to_string());
    let out = root.run(&["rm", &name]);
    assert_eq!(
        out.code, 0,
        "rm of a container whose init has exited (its /proc state: {init_state}): {out:?}"
    );
    out.stdout_is(&name);
    root.assert_no_containers();
    assert!(gone_soon(&host_if), "{host_if} is still there");
    let any = nft_map("ports_any");
    assert!(
        !any.contains(&format!(". {port} :")),
        "still mapped:\n{any}"
    );
    assert!(http_get(port).is_err(), "port {port} still answers");
    assert_eq!(allocations(&root, "bridge"), Vec::<Value>::new());
    // The address is free again: a new container may take it.
    root.run(&[
        "run",
        "--rm",
        "--network",
        "bridge",
        "--ip",
        &ip.to_string(),
        "busybox",
        "true",
    ])
    .ok();
}

// ---------------------------------------------------------------------------
// 7. Bad input.

/// What a rejected `network create` of `name` must not leave behind: no
/// file under networks/ beyond `before`, no listing, and, unless
/// `addr_prefix` is "", no host address or nft rule starting with it (a
/// text only the rejected subnet's addresses have, like "10.77.").
#[track_caller]
fn no_network(root: &TestRoot, name: &str, addr_prefix: &str, before: &[String]) {
    assert_eq!(
        entries(&root.path().join("networks"))
            .into_iter()
            .filter(|e| !e.ends_with(".lock"))
            .collect::<Vec<_>>(),
        before,
        "networks/ after a rejected create of {name}"
    );
    let ls = root.run(&["network", "ls"]);
    ls.ok();
    // The predefined ones are always listed.
    let predefined = matches!(name, "bridge" | "host" | "none");
    assert!(
        predefined
            || !ls
                .lines()
                .iter()
                .skip(1)
                .any(|l| l.split_whitespace().nth(1) == Some(name)),
        "network ls lists {name}:\n{}",
        ls.stdout
    );
    if !addr_prefix.is_empty() {
        let addrs = host("ip", &["-4", "-o", "addr"]).stdout;
        assert!(
            !addrs.contains(&format!(" {addr_prefix}")),
            "an address in {addr_prefix}* is on the host:\n{addrs}"
        );
        let table = nft_table();
        assert!(
            !table.contains(&format!(" {addr_prefix}"))
                && !table.contains(&format!("-{addr_prefix}")),
            "the nft table mentions {addr_prefix}*:\n{table}"
        );
    }
}

#[test]
fn network_create_rejects_bad_input() {
    let root = TestRoot::new();
    let before: Vec<String> = Vec::new();
    let t = tag();
    let cases: [(&[&str], &str); 6] = [
        (&["--subnet", "10.1.2.3/33"], ""),
        (&["--subnet", "notacidr"], ""),
        (
            &["--subnet", "10.77.0.0/16", "--gateway", "10.78.0.1"],
            "10.77.",
        ),
        (
            &["--subnet", "10.77.0.0/16", "--gateway", "notanip"],
            "10.77.",
        ),
        (&["--gateway", "10.77.0.1"], "10.77."),
        (&["--subnet", "10.77.5.0/31"], "10.77."),
    ];
    for (flags, addr_prefix) in cases {
        let name = format!("bad-{t}");
        let mut args = vec!["network", "create"];
        args.extend_from_slice(flags);
        args.push(&name);
        root.run(&args).code(1).one_error_line().stdout_is("");
        no_network(&root, &name, addr_prefix, &before);
    }
    for bad in ["none", "host", "bad/name", "-x", ""] {
        // After "--", so that "-x" reaches the name check, not clap's.
        root.run(&["network", "create", "--subnet", "10.77.0.0/24", "--", bad])
            .code(1)
            .one_error_line()
            .stdout_is("");
        no_network(&root, bad, "10.77.", &before);
    }
    root.run(&["network", "rm", "nosuchnet"])
        .code(1)
        .one_error_line();
    root.run(&["network", "inspect", "nosuchnet"])
        .code(1)
        .one_error_line();
}

#[test]
fn network_create_rejects_overlapping_subnets() {
    let root = TestRoot::new();
    let first = format!("first-{}", tag());
    let subnet = create_network(&root, &first, subnets_in(252));
    let before: Vec<String> = entries(&root.path().join("networks"))
        .into_iter()
        .filter(|e| !e.ends_with(".lock"))
        .collect();
    let net = inspect(&root, &first);
    let second = format!("second-{}", tag());
    let o = u32::from(net.subnet).to_be_bytes();
    let wider = format!("{}.{}.0.0/16", o[0], o[1]);
    let narrower = format!("{}.{}.{}.128/25", o[0], o[1], o[2]);
    for s in [&subnet, &wider, &narrower] {
        root.run(&["network", "create", "--subnet", s, &second])
            .code(1)
            .one_error_line()
            .stderr_has("overlaps");
        no_network(&root, &second, "", &before);
    }
    // The same name twice.
    let elsewhere = subnets_in(253).next().expect("a subnet");
    root.run(&["network", "create", "--subnet", &elsewhere, &first])
        .code(1)
        .one_error_line()
        .stderr_has("exists");
    let after = inspect(&root, &first);
    assert_eq!(after.subnet_text(), subnet);
    assert_eq!(after.bridge, net.bridge);
    // Only the one bridge holds an address of the subnet.
    let addrs = host("ip", &["-4", "-o", "addr"]).stdout;
    let holders: Vec<&str> = addrs
        .lines()
        .filter(|l| {
            l.split_whitespace()
                .skip_while(|w| *w != "inet")
                .nth(1)
                .is_some_and(|a| net.contains(parse_cidr(a).0))
        })
        .collect();
    assert_eq!(holders.len(), 1, "{holders:?}");
    assert!(holders[0].contains(&net.bridge), "{holders:?}");
}

/// `run ARGS…` must be refused as a usage error, with `--rm` and without,
/// and leave no container, name, veth on `bridge`, published `ports` or
/// address of `network` beyond `allocated`.
#[track_caller]
fn run_rejected(
    root: &TestRoot,
    args: &[&str],
    network: &str,
    bridge: &str,
    allocated: usize,
    ports: &[u16],
) {
    let records = root.containers();
    let names = root.names();
    let veths = bridge_ports(bridge);
    for rm in [true, false] {
        let mut full = vec!["run"];
        if rm {
            full.push("--rm");
        }
        full.extend_from_slice(args);
        let out = root.run(&full);
        out.usage_error().stdout_is("");
        assert_eq!(root.containers(), records, "records after {args:?}");
        assert_eq!(root.names(), names, "names after {args:?}");
        if !bridge.is_empty() {
            // Nothing new (a veth of an earlier, exited container may be
            // going meanwhile: see gone_soon).
            let new: Vec<String> = bridge_ports(bridge)
                .into_iter()
                .filter(|p| !veths.contains(p))
                .collect();
            assert_eq!(
                new,
                Vec::<String>::new(),
                "new veths on {bridge} after {args:?}"
            );
        }
        assert_eq!(
            allocations(root, network).len(),
            allocated,
            "allocations of {network} after {args:?}"
        );
        let maps = nft_map("ports_any") + &nft_map("ports_addr");
        for port in ports {
            let n = maps.matches(&format!(". {port} :")).count();
            assert!(
                n <= 1,
                "port {port} mapped {n} times after {args:?}:\n{maps}"
            );
        }
    }
}

#[test]
fn run_rejects_bad_network_input() {
    let root = TestRoot::new();
    let name = format!("badrun-{}", tag());
    create_network(&root, &name, subnets_in(254));
    let net = inspect(&root, &name);
    let o = u32::from(net.subnet).to_be_bytes();
    let outside_ip = format!("{}.{}.{}.5", o[0], o[1], o[2].wrapping_add(1));
    let network_ip = net.subnet.to_string();
    let b = &net.bridge;
    run_rejected(
        &root,
        &["--network", "nosuchnet", "busybox", "true"],
        &name,
        b,
        0,
        &[],
    );
    for ip in [outside_ip.as_str(), &network_ip, "notanip", "10.1.2"] {
        run_rejected(
            &root,
            &["--network", &name, "--ip", ip, "busybox", "true"],
            &name,
            b,
            0,
            &[],
        );
    }
    // The gateway is not a container's address.
    let gw = net.gateway.to_string();
    run_rejected(
        &root,
        &["--network", &name, "--ip", &gw, "busybox", "true"],
        &name,
        b,
        0,
        &[],
    );
    run_rejected(
        &root,
        &["--network", "none", "--ip", "10.1.2.3", "busybox", "true"],
        &name,
        b,
        0,
        &[],
    );
    let port = free_port();
    for spec in [
        "abc".to_string(),
        "80".to_string(),
        "1:2:3:4".to_string(),
        "0:80".to_string(),
        "70000:80".to_string(),
        format!("{port}:0"),
        format!("{port}:80/sctp"),
        format!("notanip:{port}:80"),
        format!("{port}-{}:80", port + 1),
    ] {
        run_rejected(
            &root,
            &["--network", &name, "-p", &spec, "busybox", "true"],
            &name,
            b,
            0,
            &[port],
        );
    }
    let twice = format!("{port}:80");
    run_rejected(
        &root,
        &[
            "--network",
            &name,
            "-p",
            &twice,
            "-p",
            &twice,
            "busybox",
            "true",
        ],
        &name,
        b,
        0,
        &[port],
    );
    run_rejected(
        &root,
        &["--network", "none", "-p", &twice, "busybox", "true"],
        &name,
        b,
        0,
        &[port],
    );
    run_rejected(
        &root,
        &["--network", "host", "-p", &twice, "busybox", "true"],
        &name,
        b,
        0,
        &[port],
    );
    for bad in ["x", "bad name:10.0.0.1", "web:notanip", "web"] {
        run_rejected(
            &root,
            &["--network", &name, "--add-host", bad, "busybox", "true"],
            &name,
            b,
            0,
            &[],
        );
    }
    run_rejected(
        &root,
        &["--network", &name, "--dns", "notanip", "busybox", "true"],
        &name,
        b,
        0,
        &[],
    );
    assert!(!nft_map("ports_any").contains(&format!(". {port} :")));
    root.assert_no_containers();
}

#[test]
fn taken_address_and_port_are_refused_while_in_use() {
    let root = TestRoot::new();
    let name = format!("taken-{}", tag());
    create_network(&root, &name, subnets_in(249));
    let net = inspect(&root, &name);
    let o = u32::from(net.subnet).to_be_bytes();
    let ip = format!("{}.{}.{}.77", o[0], o[1], o[2]);
    let port = free_port();
    let spec = format!("{port}:80");
    let holder = format!("holder-{}", tag());
    let script = format!(
        "{TERM_EXITS}mkdir /www && echo holder > /www/index.html && httpd -p 80 -h /www \
         && echo ready && {WAIT_FOR_TERM}"
    );
    let mut run = root.spawn(&[
        "run",
        "--rm",
        "--network",
        &name,
        "--name",
        &holder,
        "--ip",
        &ip,
        "-p",
        &spec,
        "busybox",
        "sh",
        "-c",
        &script,
    ]);
    run.expect_line("ready");
    assert_eq!(inspect(&root, &name).ip_of(&holder).to_string(), ip);
    let b = net.bridge.as_str();

    // Its address, on the same network.
    run_rejected(
        &root,
        &["--network", &name, "--ip", &ip, "busybox", "true"],
        &name,
        b,
        1,
        &[port],
    );
    // Its host port, for another container port, alone or with others,
    // on every address or on one.
    let other = free_port();
    for args in [
        vec!["-p".to_string(), format!("{port}:81")],
        vec![
            "-p".to_string(),
            format!("{other}:82"),
            "-p".to_string(),
            format!("{port}:81"),
        ],
        vec!["-p".to_string(), format!("127.0.0.1:{port}:80")],
    ] {
        let mut full: Vec<&str> = vec!["--network", &name];
        full.extend(args.iter().map(String::as_str));
        full.extend(["busybox", "true"]);
        run_rejected(&root, &full, &name, b, 1, &[port, other]);
    }
    // Also from the default bridge network of the same root.
    let out = root.run(&[
        "run",
        "--rm",
        "--network",
        "bridge",
        "-p",
        &spec,
        "busybox",
        "true",
    ]);
    out.usage_error().stderr_has("already allocated");
    assert!(!nft_map("ports_any").contains(&format!(". {other} :")));
    // The holder is unharmed: still answering on its port.
    let response = http_get(port).unwrap_or_else(|e| panic!("GET 127.0.0.1:{port}: {e}"));
    assert!(response.ends_with("\r\n\r\nholder\n"), "{response}");

    // Its network cannot go while it runs.
    root.run(&["network", "rm", &name])
        .code(1)
        .one_error_line()
        .stderr_has(&holder);
    assert!(link_exists(&net.bridge));
    assert_eq!(inspect(&root, &name).containers.len(), 1);
    let response =
        http_get(port).unwrap_or_else(|e| panic!("GET 127.0.0.1:{port} after network rm: {e}"));
    assert!(response.ends_with("\r\n\r\nholder\n"), "{response}");

    stop(&mut run);
    // Free again once it is gone.
    let reuse = format!("{port}:80");
    root.run(&[
        "run",
        "--rm",
        "--network",
        &name,
        "--ip",
        &ip,
        "-p",
        &reuse,
        "busybox",
        "true",
    ])
    .ok();
    root.run(&["network", "rm", &name]).ok();
    assert_network_gone(&root, &name, &net);
}

// ---------------------------------------------------------------------------
// Several state roots on one host share the nftables table: one root's
// networks coming and going must not disturb another's.

#[test]
fn removing_a_network_keeps_other_roots_rules() {
    let a = TestRoot::new();
    let b = TestRoot::new();
    let port = free_port();
    let name = format!("keep-{}", tag());
    let script = format!(
        "{TERM_EXITS}mkdir /www && echo kept > /www/index.html && httpd -p 80 -h /www \
         && echo ready && {WAIT_FOR_TERM}"
    );
    let spec = format!("{port}:80");
    let mut run = a.spawn(&[
        "run",
        "--rm",
        "--network",
        "bridge",
        "--name",
        &name,
        "-p",
        &spec,
        "busybox",
        "sh",
        "-c",
        &script,
    ]);
    run.expect_line("ready");
    let net_a = inspect(&a, "bridge");
    let chain_a = format!("net-{}-{}", net_a.subnet, net_a.prefix);
    let table = nft_table();
    assert!(
        table.contains(&chain_a) && table.contains(&format!("tcp . {port} :")),
        "root A's rules are missing while its container runs (did another state root delete the table?):\n{table}"
    );

    // Another root makes its only network and removes it.
    let other = format!("other-{}", tag());
    create_network(&b, &other, subnets_in(248));
    b.run(&["network", "rm", &other]).ok();

    let table = nft_table();
    assert!(
        table.contains(&chain_a) && table.contains(&net_a.bridge),
        "root A's network rules are gone after root B removed its network:\n{table}"
    );
    assert!(
        table.contains(&format!("tcp . {port} :")),
        "root A's published port is gone after root B removed its network:\n{table}"
    );
    let response = http_get(port).unwrap_or_else(|e| {
        panic!("GET 127.0.0.1:{port} (root A) after root B removed its network: {e}")
    });
    assert!(response.ends_with("\r\n\r\nkept\n"), "{response}");
    stop(&mut run);
}

#[test]
fn parallel_roots_get_distinct_default_subnets() {
    const ROOTS: usize = 4;
    let roots: Vec<TestRoot> = (0..ROOTS).map(|_| TestRoot::new()).collect();
    let name = format!("auto-{}", tag());
    std::thread::scope(|s| {
        let handles: Vec<_> = roots
            .iter()
            .map(|r| s.spawn(|| r.run(&["network", "create", &name])))
            .collect();
        for h in handles {
            h.join().expect("create thread").ok();
        }
    });
    let subnets: Vec<String> = roots
        .iter()
        .map(|r| inspect(r, &name).subnet_text())
        .collect();
    let distinct: BTreeSet<&String> = subnets.iter().collect();
    assert_eq!(
        distinct.len(),
        ROOTS,
        "networks created at once in different state roots share subnets: {subnets:?}"
    );
}

#[test]
fn network_churn_in_other_roots_keeps_rules() {
    // Other roots creating and removing their only network, again and
    // again, while this one creates its own: each time, right after
    // `network create` returned, its chain and bridge are in the table.
    const CHURNERS: usize = 3;
    const ROUNDS: usize = 8;
    let mine = TestRoot::empty();
    let others: Vec<TestRoot> = (0..CHURNERS).map(|_| TestRoot::empty()).collect();
    let stop = std::sync::atomic::AtomicBool::new(false);
    let mut missing = Vec::new();
    std::thread::scope(|s| {
        for (i, root) in others.iter().enumerate() {
            let stop = &stop;
            s.spawn(move || {
                let name = format!("churn-{}", tag());
                let second = 240 + i as u8;
                while !stop.load(Ordering::Relaxed) {
                    create_network(root, &name, subnets_in(second));
                    root.run(&["network", "rm", &name]).ok();
                }
            });
        }
        for round in 0..ROUNDS {
            let name = format!("steady-{}", tag());
            create_network(&mine, &name, subnets_in(247));
            let net = inspect(&mine, &name);
            let table = nft_table();
            let chain = format!("net-{}-{}", net.subnet, net.prefix);
            if !table.contains(&chain) || !table.contains(&format!("\"{}\"", net.bridge)) {
                missing.push(format!("round {round}: {chain} / {}", net.bridge));
            }
            mine.run(&["network", "rm", &name]).ok();
        }
        stop.store(true, Ordering::Relaxed);
    });
    assert!(
        missing.is_empty(),
        "a network's rules were missing right after its `network create` returned, while other roots removed theirs ({} of {ROUNDS} rounds): {missing:?}",
        missing.len()
    );
}

#[test]
fn rm_of_a_stopped_container_keeps_a_running_ones_port() {
    // The stopped one released its address and port at exit; the running one
    // got the same address and publishes the same port. Removing the
    // stopped one must not touch the running one's mapping.
    let root = TestRoot::new();
    let port = free_port();
    let spec = format!("{port}:80");
    let (old, new) = (format!("old-{}", tag()), format!("new-{}", tag()));
    root.run(&[
        "run",
        "--network",
        "bridge",
        "--name",
        &old,
        "-p",
        &spec,
        "busybox",
        "true",
    ])
    .ok();
    let script = format!(
        "{TERM_EXITS}mkdir /www && echo still-here > /www/index.html && httpd -p 80 -h /www \
         && echo ready && {WAIT_FOR_TERM}"
    );
    let mut run = root.spawn(&[
        "run",
        "--rm",
        "--network",
        "bridge",
        "--name",
        &new,
        "-p",
        &spec,
        "busybox",
        "sh",
        "-c",
        &script,
    ]);
    run.expect_line("ready");
    let fetch = || http_get(port).unwrap_or_else(|e| panic!("GET 127.0.0.1:{port}: {e}"));
    assert!(fetch().ends_with("still-here\n"));
    root.run(&["rm", &old]).ok().stdout_is(&old);
    assert!(
        fetch().ends_with("still-here\n"),
        "the running container lost its port"
    );
    stop(&mut run).ok();
}

/// A state root deleted by hand (no `network rm`) leaves its bridge and
/// rules: the next network made or removed on the host, by any root,
/// takes them away (each bridge's alias names its network's record).
#[test]
fn a_deleted_roots_bridge_and_rules_go_with_the_next_network_change() {
    let gone = TestRoot::new();
    gone.run(&["run", "--rm", "--network", "bridge", "busybox", "true"])
        .ok();
    let net = inspect(&gone, "bridge");
    assert!(link_exists(&net.bridge), "bridge {} missing", net.bridge);
    fs::remove_dir_all(gone.path()).unwrap();
    assert!(link_exists(&net.bridge), "nothing took it away yet");

    let other = TestRoot::new();
    other.run(&["network", "create", "sweeper"]).ok();
    assert!(
        !link_exists(&net.bridge),
        "bridge {} is still there",
        net.bridge
    );
    // Its set element and its chain's rules name the bridge (the subnet
    // and its chain's name may already be another network's, freed).
    let table = nft_table();
    assert!(
        !table.contains(&net.bridge),
        "nft table ip tinydocker still mentions {}:\n{table}",
        net.bridge
    );
    other.run(&["network", "rm", "sweeper"]).ok();
}
