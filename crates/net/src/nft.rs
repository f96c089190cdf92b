//! NAT and forwarding rules for bridge networks, in nftables (`nft(8)`).
//!
//! Netfilter runs packets through the base chains registered at each hook
//! (prerouting, output, forward, postrouting); `nat` chains see the first
//! packet of each connection and conntrack applies their verdict to the rest.
//! Everything of ours lives in one table, `ip tinydocker`; other tables are
//! never touched.
//!
//! Each function below returns the text of one `nft -f -` run, which the
//! kernel applies as a single transaction: all of it or nothing. [`run`]
//! applies it.
//!
//! # Design: fixed base chains, per-network and per-port elements
//!
//! The base chains hold a fixed set of rules that look things up in sets and
//! maps; networks and published ports are *elements* of those, added and
//! deleted by key. So:
//!
//! - no rule ever needs a handle and no script reads the ruleset first;
//! - [`network_script`] flushes and refills the base chains (their content is
//!   the same for every network) and its network's own chain, and adds
//!   elements, which is idempotent: run twice, one copy of everything;
//! - removal deletes exactly the elements (and chain) of one network or one
//!   container. nftables 1.0.6 has no `destroy` (delete-if-present), so each
//!   removal script first adds what it deletes: that makes a repeated
//!   removal a no-op instead of an error, and a removal of a port that
//!   another container has since taken fails ("File exists") instead of
//!   deleting the other container's mapping.
//!
//! Each script also declares the table, chains, sets and maps (`add` of an
//! existing one is a no-op), so any script runs on any state, e.g. an
//! unpublish after a reboot emptied the ruleset. Chains are declared before
//! the maps: nft sends the elements of an interval map created in the same
//! run along with the map, and a `jump` element must find its chain.
//!
//! The objects:
//!
//! - `bridges`, a set of bridge names: `forward` accepts packets from and to
//!   them; `postrouting` masquerades 127.0.0.0/8-sourced packets leaving
//!   through them (the host reaching a published port on 127.0.0.1, with
//!   `route_localnet` set on the bridge).
//! - `subnets`, an interval vmap from subnet to `jump net-<subnet>`:
//!   `postrouting` dispatches a packet by source address to its network's
//!   chain, which masquerades what leaves through any other interface than
//!   its bridge, and the hairpin case (a container reaching a published port
//!   of its own network through the host: DNAT'd and back out the bridge).
//! - `ports_any` (proto . port → ip . port) and `ports_addr` (host address .
//!   proto . port → ip . port): DNAT maps, looked up by `published`, which
//!   `prerouting` (other hosts) and `output` (the host itself) jump to for
//!   packets to a local address (`fib daddr type local`).
//!
//! ```no_run
//! use tinydocker_net::nft;
//!
//! let subnet = "10.88.0.0/16".parse().unwrap();
//! nft::run(&nft::network_script("tinydocker0", subnet)).unwrap();
//! let ports = ["8080:80".parse().unwrap()];
//! let ip = "10.88.0.2".parse().unwrap();
//! nft::run(&nft::publish_script("tinydocker0", ip, &ports)).unwrap();
//! nft::run(&nft::unpublish_script("tinydocker0", ip, &ports)).unwrap();
//! ```

use std::fmt::Write as _;
use std::io::{self, Write as _};
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};

use crate::{Error, Ipv4Net, PortMapping};

/// Our table, family `ip`.
pub const TABLE: &str = "tinydocker";

/// The base chains: name and declaration. (`dstnat` is only a valid
/// priority name at prerouting; -100 is its value.)
const BASE_CHAINS: [(&str, &str); 4] = [
    (
        "prerouting",
        "type nat hook prerouting priority dstnat; policy accept;",
    ),
    (
        "output",
        "type nat hook output priority -100; policy accept;",
    ),
    (
        "postrouting",
        "type nat hook postrouting priority srcnat; policy accept;",
    ),
    (
        "forward",
        "type filter hook forward priority filter; policy accept;",
    ),
];

/// The fixed content of the base chains and of `published`.
const BASE_RULES: [(&str, &[&str]); 5] = [
    ("prerouting", &["fib daddr type local jump published"]),
    ("output", &["fib daddr type local jump published"]),
    (
        "published",
        &[
            // A lookup that misses ends the rule, and the next one is tried:
            // a mapping on one address first, then one on every address.
            "dnat ip to ip daddr . meta l4proto . th dport map @ports_addr",
            "dnat ip to meta l4proto . th dport map @ports_any",
        ],
    ),
    (
        "postrouting",
        &[
            "ip saddr vmap @subnets",
            "oifname @bridges ip saddr 127.0.0.0/8 masquerade",
        ],
    ),
    (
        "forward",
        &[
            // An accept here ends this chain only: a drop in another table's
            // forward chain (a host firewall's policy) still drops the packet.
            "iifname @bridges accept",
            "oifname @bridges accept",
        ],
    ),
];

const SETS: [(&str, &str); 4] = [
    ("set", "bridges { type ifname; }"),
    (
        "map",
        "subnets { type ipv4_addr : verdict; flags interval; }",
    ),
    (
        "map",
        "ports_any { type inet_proto . inet_service : ipv4_addr . inet_service; }",
    ),
    (
        "map",
        "ports_addr { type ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service; }",
    ),
];

/// A script being written, one command a line.
struct Script(String);

impl Script {
    /// A script whose first line, a comment, says what it is for (and names
    /// it in errors).
    fn new(what: std::fmt::Arguments<'_>) -> Script {
        Script(format!("# {what}\n"))
    }

    fn line(&mut self, line: std::fmt::Arguments<'_>) {
        writeln!(self.0, "{line}").expect("writing to a String");
    }

    /// `add` every object of the table; `chains` are extra regular chains.
    fn declare(&mut self, chains: &[&str]) {
        self.line(format_args!("add table ip {TABLE}"));
        for chain in chains.iter().chain(&["published"]) {
            self.line(format_args!("add chain ip {TABLE} {chain}"));
        }
        for (chain, spec) in BASE_CHAINS {
            self.line(format_args!("add chain ip {TABLE} {chain} {{ {spec} }}"));
        }
        for (kind, spec) in SETS {
            self.line(format_args!("add {kind} ip {TABLE} {spec}"));
        }
    }

    /// Replace the rules of `chain` with `rules`.
    fn refill(&mut self, chain: &str, rules: &[&str]) {
        self.line(format_args!("flush chain ip {TABLE} {chain}"));
        for rule in rules {
            self.line(format_args!("add rule ip {TABLE} {chain} {rule}"));
        }
    }
}

/// The regular chain of the network on `subnet`. Named after the subnet,
/// which is unique on the host and always a valid nft identifier (bridge
/// names need not be: nft 1.0.6 takes no quoted chain names).
fn net_chain(subnet: Ipv4Net) -> String {
    format!("net-{}-{}", subnet.network(), subnet.prefix())
}

/// Set up the NAT and forwarding of the network on `bridge` with `subnet`:
/// masquerade of what it sends elsewhere, forwarding to and from the bridge,
/// and the base chains that published ports need. Idempotent.
pub fn network_script(bridge: &str, subnet: Ipv4Net) -> String {
    let chain = net_chain(subnet);
    let mut s = Script::new(format_args!("set up network {bridge} {subnet}"));
    s.declare(&[&chain]);
    for (chain, rules) in BASE_RULES {
        s.refill(chain, rules);
    }
    s.refill(
        &chain,
        &[
            &format!("oifname != \"{bridge}\" ip saddr {subnet} masquerade"),
            // Hairpin: a container reaching a published port through the
            // host gets the reply from the host, not from the other
            // container straight over the bridge.
            &format!("oifname \"{bridge}\" ip saddr {subnet} ct status dnat masquerade"),
        ],
    );
    s.line(format_args!(
        "add element ip {TABLE} bridges {{ \"{bridge}\" }}"
    ));
    s.line(format_args!(
        "add element ip {TABLE} subnets {{ {subnet} : jump {chain} }}"
    ));
    s.0
}

/// Remove what [`network_script`] added for this network, and nothing
/// else; the base chains stay for the other networks (see
/// [`delete_table_script`]). Fine to run twice.
pub fn remove_network_script(bridge: &str, subnet: Ipv4Net) -> String {
    let chain = net_chain(subnet);
    let mut s = Script::new(format_args!("remove network {bridge} {subnet}"));
    s.declare(&[&chain]);
    let bridge_elem = format!("bridges {{ \"{bridge}\" }}");
    s.line(format_args!("add element ip {TABLE} {bridge_elem}"));
    s.line(format_args!(
        "add element ip {TABLE} subnets {{ {subnet} : jump {chain} }}"
    ));
    s.line(format_args!("delete element ip {TABLE} {bridge_elem}"));
    s.line(format_args!(
        "delete element ip {TABLE} subnets {{ {subnet} }}"
    ));
    s.line(format_args!("delete chain ip {TABLE} {chain}"));
    s.0
}

/// A DNAT map element: its map, key and value.
fn port_element(container_ip: Ipv4Addr, p: &PortMapping) -> (&'static str, String, String) {
    let value = format!("{container_ip} . {}", p.container_port);
    match p.bound_ip() {
        Some(ip) => (
            "ports_addr",
            format!("{ip} . {} . {}", p.proto, p.host_port),
            value,
        ),
        None => ("ports_any", format!("{} . {}", p.proto, p.host_port), value),
    }
}

/// The distinct elements of `ports`, in order.
fn port_elements(
    container_ip: Ipv4Addr,
    ports: &[PortMapping],
) -> Vec<(&'static str, String, String)> {
    let mut elements = Vec::new();
    for p in ports {
        let e = port_element(container_ip, p);
        if !elements.contains(&e) {
            elements.push(e);
        }
    }
    elements
}

fn ports_head(bridge: &str, container_ip: Ipv4Addr, ports: &[PortMapping]) -> String {
    let list: Vec<String> = ports.iter().map(|p| p.to_string()).collect();
    format!("{container_ip} on {bridge}: {}", list.join(", "))
}

/// Publish `ports` of the container at `container_ip`: DNAT from the host's
/// addresses (or `host_ip`) to it. Idempotent; fails ("File exists") if
/// another container has one of the ports. "" for no ports.
pub fn publish_script(bridge: &str, container_ip: Ipv4Addr, ports: &[PortMapping]) -> String {
    if ports.is_empty() {
        return String::new();
    }
    let head = ports_head(bridge, container_ip, ports);
    let mut s = Script::new(format_args!("publish {head}"));
    s.declare(&[]);
    for (map, key, value) in port_elements(container_ip, ports) {
        s.line(format_args!(
            "add element ip {TABLE} {map} {{ {key} : {value} }}"
        ));
    }
    s.0
}

/// Remove exactly what [`publish_script`] added for these ports. Fine to run
/// twice. "" for no ports.
pub fn unpublish_script(bridge: &str, container_ip: Ipv4Addr, ports: &[PortMapping]) -> String {
    if ports.is_empty() {
        return String::new();
    }
    let head = ports_head(bridge, container_ip, ports);
    let mut s = Script::new(format_args!("unpublish {head}"));
    s.declare(&[]);
    let elements = port_elements(container_ip, ports);
    for (map, key, value) in &elements {
        s.line(format_args!(
            "add element ip {TABLE} {map} {{ {key} : {value} }}"
        ));
    }
    for (map, key, _) in &elements {
        s.line(format_args!("delete element ip {TABLE} {map} {{ {key} }}"));
    }
    s.0
}

/// Delete our table and everything in it (when the last network is gone).
/// Fine to run when there is no table.
pub fn delete_table_script() -> String {
    let mut s = Script::new(format_args!("delete table {TABLE}"));
    s.line(format_args!("add table ip {TABLE}"));
    s.line(format_args!("delete table ip {TABLE}"));
    s.0
}

/// Apply `script` with one `nft -f -`, in the calling thread's network
/// namespace. "" does nothing. A rejected script (nothing of it applied)
/// gives [`Error::Nft`] with nft's message.
/// Whether any network (of any state root on this host) still has its
/// bridge in our table: the table may only be deleted when none does.
/// One `nft list set` run; a missing table counts as unused.
pub fn table_in_use() -> Result<bool, Error> {
    let output = list(&["list", "set", "ip", TABLE, "bridges"])?;
    if !output.status.success() {
        return Ok(false);
    }
    Ok(String::from_utf8_lossy(&output.stdout).contains("elements ="))
}

/// One `nft ARGS` run that reads the ruleset (sbin is not on every PATH).
fn list(args: &[&str]) -> Result<std::process::Output, Error> {
    let read = |program: &str| {
        Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
    };
    read("nft")
        .or_else(|_| read("/usr/sbin/nft"))
        .map_err(|source| Error::NftSpawn { source })
}

/// The DNAT map elements (map, key, value) whose container address is in
/// `subnet`, read from the ruleset; none when there is no table.
fn port_elements_into(subnet: Ipv4Net) -> Result<Vec<(&'static str, String, String)>, Error> {
    let mut found = Vec::new();
    for map in ["ports_any", "ports_addr"] {
        let output = list(&["-j", "list", "map", "ip", TABLE, map])?;
        if !output.status.success() {
            continue;
        }
        let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap_or_default();
        let elements = json["nftables"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|o| o["map"]["elem"].as_array())
            .flatten();
        for element in elements {
            let [key, value] = [&element[0]["concat"], &element[1]["concat"]].map(concat_text);
            let ip = element[1]["concat"][0]
                .as_str()
                .and_then(|ip| ip.parse().ok());
            if ip.is_some_and(|ip| subnet.contains(ip)) {
                found.push((map, key, value));
            }
        }
    }
    Ok(found)
}

/// A concatenation (`["tcp", 8080]`) in nft's syntax (`tcp . 8080`).
fn concat_text(parts: &serde_json::Value) -> String {
    let parts: Vec<String> = parts
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| match p {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect();
    parts.join(" . ")
}

/// Remove every published port that leads into `subnet`, whichever
/// container published it: those of a network whose state root is gone
/// (its containers' records with it). "" when there is none.
pub fn unpublish_subnet_script(subnet: Ipv4Net) -> Result<String, Error> {
    let elements = port_elements_into(subnet)?;
    if elements.is_empty() {
        return Ok(String::new());
    }
    let mut s = Script::new(format_args!("unpublish every port into {subnet}"));
    s.declare(&[]);
    for (map, key, value) in &elements {
        s.line(format_args!(
            "add element ip {TABLE} {map} {{ {key} : {value} }}"
        ));
    }
    for (map, key, _) in &elements {
        s.line(format_args!("delete element ip {TABLE} {map} {{ {key} }}"));
    }
    Ok(s.0)
}

pub fn run(script: &str) -> Result<(), Error> {
    if script.is_empty() {
        return Ok(());
    }
    let spawn = |program: &str| {
        Command::new(program)
            .args(["-f", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
    };
    // sbin is not on every PATH (sudo without secure_path, some services).
    let mut child = match spawn("nft") {
        Err(e) if e.kind() == io::ErrorKind::NotFound => spawn("/usr/sbin/nft"),
        other => other,
    }
    .map_err(|source| Error::NftSpawn { source })?;
    let mut stdin = child.stdin.take().expect("stdin is piped");
    // nft reads all of its input before it answers, and a script is far
    // smaller than a pipe: no need for a writer thread.
    let written = stdin.write_all(script.as_bytes());
    drop(stdin);
    let output = child
        .wait_with_output()
        .map_err(|source| Error::NftSpawn { source })?;
    if !output.status.success() {
        let head = script.lines().next().unwrap_or_default();
        return Err(Error::Nft {
            script_head: head.strip_prefix("# ").unwrap_or(head).to_string(),
            stderr: match String::from_utf8_lossy(&output.stderr).trim() {
                "" => output.status.to_string(),
                text => text.to_string(),
            },
        });
    }
    written.map_err(|source| Error::NftSpawn { source })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ports() -> Vec<PortMapping> {
        [
            "8080:80",
            "5353:53/udp",
            "127.0.0.1:8443:443/tcp",
            "192.168.1.5:5000:5000/udp",
        ]
        .iter()
        .map(|p| p.parse().unwrap())
        .collect()
    }

    fn subnet() -> Ipv4Net {
        "10.88.0.0/16".parse().unwrap()
    }

    fn ip() -> Ipv4Addr {
        Ipv4Addr::new(10, 88, 0, 2)
    }

    #[test]
    fn network() {
        insta::assert_snapshot!(network_script("tinydocker0", subnet()));
    }

    #[test]
    fn remove_network() {
        insta::assert_snapshot!(remove_network_script("tinydocker0", subnet()));
    }

    #[test]
    fn publish() {
        insta::assert_snapshot!(publish_script("tinydocker0", ip(), &ports()));
    }

    #[test]
    fn unpublish() {
        insta::assert_snapshot!(unpublish_script("tinydocker0", ip(), &ports()));
    }

    #[test]
    fn delete_table() {
        insta::assert_snapshot!(delete_table_script());
    }

    #[test]
    fn no_ports_no_script() {
        assert_eq!(publish_script("tinydocker0", ip(), &[]), "");
        assert_eq!(unpublish_script("tinydocker0", ip(), &[]), "");
        run("").unwrap();
    }

    #[test]
    fn duplicates_once_and_explicit_any_address_is_any() {
        let mut p = ports();
        p.push(p[0]);
        p.push(PortMapping {
            host_ip: Some(Ipv4Addr::UNSPECIFIED),
            ..p[0]
        });
        let script = unpublish_script("tinydocker0", ip(), &p);
        assert_eq!(
            script
                .matches("delete element ip tinydocker ports_any { tcp . 8080 }")
                .count(),
            1
        );
        // (The head comment prints the mappings docker's way, 0.0.0.0 included.)
        assert!(!script.lines().skip(1).any(|l| l.contains("0.0.0.0")));
    }
}

/// The scripts applied for real, each test in a network namespace of its own.
#[cfg(test)]
mod root_tests {
    use std::process::Command;

    use super::*;

    /// Run `body` on a thread of its own in a fresh network namespace (nft,
    /// spawned from that thread, inherits it); None, with a note, when this
    /// cannot be done here.
    fn in_netns<T: Send + 'static>(body: impl FnOnce() -> T + Send + 'static) -> Option<T> {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("note: skipped, needs root");
            return None;
        }
        if Command::new("nft").arg("--version").output().is_err() {
            eprintln!("note: skipped, nft is not installed");
            return None;
        }
        let thread = std::thread::spawn(move || {
            // unshare affects this thread only (CLONE_NEWNET is allowed in a
            // multi-threaded process), which ends after `body`.
            // Never go on in the host's namespace.
            nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).expect("unshare");
            body()
        });
        Some(thread.join().expect("the netns thread"))
    }

    /// `nft list table ip tinydocker`, or None when there is none.
    fn list() -> Option<String> {
        let out = Command::new("nft")
            .args(["list", "table", "ip", TABLE])
            .output()
            .unwrap();
        out.status
            .success()
            .then(|| String::from_utf8(out.stdout).unwrap())
    }

    fn subnet() -> Ipv4Net {
        "10.88.0.0/16".parse().unwrap()
    }

    #[test]
    fn ports_into_a_subnet_go_with_it() {
        in_netns(|| {
            assert_eq!(unpublish_subnet_script(subnet()).unwrap(), "");
            let other: Ipv4Net = "10.89.0.0/16".parse().unwrap();
            run(&network_script("td0", subnet())).unwrap();
            run(&network_script("td1", other)).unwrap();
            let mine = [
                "8080:80".parse().unwrap(),
                "127.0.0.1:8081:81/udp".parse().unwrap(),
            ];
            run(&publish_script("td0", "10.88.0.2".parse().unwrap(), &mine)).unwrap();
            let theirs = ["9090:90".parse().unwrap()];
            run(&publish_script(
                "td1",
                "10.89.0.2".parse().unwrap(),
                &theirs,
            ))
            .unwrap();
            run(&unpublish_subnet_script(subnet()).unwrap()).unwrap();
            let after = list().unwrap();
            assert!(!after.contains("10.88.0.2"), "{after}");
            assert!(after.contains("tcp . 9090 : 10.89.0.2 . 90"), "{after}");
            assert_eq!(unpublish_subnet_script(subnet()).unwrap(), "");
        });
    }

    #[test]
    fn network_twice_is_one_copy() {
        in_netns(|| {
            run(&network_script("td0", subnet())).unwrap();
            let once = list().unwrap();
            run(&network_script("td0", subnet())).unwrap();
            let twice = list().unwrap();
            assert_eq!(once, twice);
            assert_eq!(
                twice
                    .matches("oifname != \"td0\" ip saddr 10.88.0.0/16 masquerade")
                    .count(),
                1,
                "{twice}"
            );
            assert_eq!(
                twice.matches("127.0.0.0/8 masquerade").count(),
                1,
                "{twice}"
            );
            assert_eq!(
                twice.matches("iifname @bridges accept").count(),
                1,
                "{twice}"
            );
        });
    }

    #[test]
    fn networks_come_and_go_independently() {
        in_netns(|| {
            run(&network_script("td0", subnet())).unwrap();
            let alone = list().unwrap();
            let other: Ipv4Net = "10.89.0.0/16".parse().unwrap();
            run(&network_script("td1", other)).unwrap();
            let both = list().unwrap();
            assert!(
                both.contains("10.89.0.0/16 : jump net-10.89.0.0-16"),
                "{both}"
            );
            assert!(both.contains("oifname != \"td1\" ip saddr 10.89.0.0/16 masquerade"));
            run(&remove_network_script("td1", other)).unwrap();
            assert_eq!(list().unwrap(), alone);
            // Again: nothing left to remove, and no error.
            run(&remove_network_script("td1", other)).unwrap();
            assert_eq!(list().unwrap(), alone);
        });
    }

    #[test]
    fn unpublish_undoes_publish_exactly() {
        in_netns(|| {
            run(&network_script("td0", subnet())).unwrap();
            let before = list().unwrap();
            let a = Ipv4Addr::new(10, 88, 0, 2);
            let b = Ipv4Addr::new(10, 88, 0, 3);
            let pa: Vec<PortMapping> = ["8080:80", "5353:53/udp", "127.0.0.1:8443:443"]
                .iter()
                .map(|p| p.parse().unwrap())
                .collect();
            let pb: Vec<PortMapping> = vec!["9090:90".parse().unwrap()];
            run(&publish_script("td0", b, &pb)).unwrap();
            let with_b = list().unwrap();
            run(&publish_script("td0", a, &pa)).unwrap();
            run(&publish_script("td0", a, &pa)).unwrap();
            let all = list().unwrap();
            for element in [
                "tcp . 8080 : 10.88.0.2 . 80",
                "udp . 5353 : 10.88.0.2 . 53",
                "127.0.0.1 . tcp . 8443 : 10.88.0.2 . 443",
                "tcp . 9090 : 10.88.0.3 . 90",
            ] {
                assert_eq!(all.matches(element).count(), 1, "{element} in {all}");
            }
            // Another container cannot take a published port.
            let taken: Vec<PortMapping> = vec!["8080:80".parse().unwrap()];
            let err = run(&publish_script("td0", b, &taken)).unwrap_err();
            assert!(err.to_string().contains("File exists"), "{err}");
            // Nor remove one that is not its own.
            assert!(run(&unpublish_script("td0", b, &taken)).is_err());

            run(&unpublish_script("td0", a, &pa)).unwrap();
            assert_eq!(list().unwrap(), with_b);
            run(&unpublish_script("td0", a, &pa)).unwrap();
            run(&unpublish_script("td0", b, &pb)).unwrap();
            assert_eq!(list().unwrap(), before);
        });
    }

    #[test]
    fn delete_table_leaves_nothing() {
        in_netns(|| {
            run(&network_script("td0", subnet())).unwrap();
            let ports = vec!["8080:80".parse().unwrap()];
            run(&publish_script("td0", Ipv4Addr::new(10, 88, 0, 2), &ports)).unwrap();
            run(&delete_table_script()).unwrap();
            assert_eq!(list(), None);
            run(&delete_table_script()).unwrap();
            // Cleanup scripts also run on an empty ruleset (after a reboot).
            run(&unpublish_script(
                "td0",
                Ipv4Addr::new(10, 88, 0, 2),
                &ports,
            ))
            .unwrap();
            run(&remove_network_script("td0", subnet())).unwrap();
            run(&delete_table_script()).unwrap();
            assert_eq!(list(), None);
        });
    }

    #[test]
    fn a_rejected_script_gives_nfts_message() {
        in_netns(|| {
            let err = run("# a broken script\nadd table ip tinydocker\nadd rule ip tinydocker nowhere bogus\n")
                .unwrap_err();
            let Error::Nft {
                script_head,
                stderr,
            } = &err
            else {
                panic!("{err:?}");
            };
            assert_eq!(script_head, "a broken script");
            assert!(stderr.contains("Error: syntax error"), "{stderr}");
            assert!(stderr.contains("bogus"), "{stderr}");
            // One transaction: the table of the first line was not made.
            assert_eq!(list(), None);
        });
    }
}
