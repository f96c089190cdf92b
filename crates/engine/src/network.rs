//! Networks under the state root: `networks/<name>.json` (subnet, gateway,
//! bridge device), the IPAM files beside them, and their setup on the host
//! (bridge over netlink, NAT rules in our nftables table, forwarding).
//!
//! The default network `bridge` is made on first use, on the first private
//! /16 of a list that overlaps no route of the host and no other network.
//! Setup is redone when the host has rebooted since (the bridge and rules
//! are gone then): the record keeps the boot id it was set up under.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use std::os::fd::BorrowedFd;

use tinydocker_net::{nft, sysctl, Endpoint, Ipam, Ipv4Net, Netlink, PortMapping};

use crate::error::{invalid, Context, Error, Result};
use crate::proc::{boot_id, now_nanos};
use crate::store::HostLock;

/// A container's place on a bridge network, fixed when a run claims it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetSettings {
    /// The network's name.
    pub network: String,
    /// Its bridge device.
    pub bridge: String,
    /// The container's address.
    pub ip: Ipv4Addr,
    /// The subnet's prefix length.
    pub prefix: u8,
    /// The default route.
    pub gateway: Ipv4Addr,
    /// The host end of its veth pair.
    pub host_if: String,
    /// Its published ports.
    #[serde(default)]
    pub ports: Vec<PortMapping>,
    /// Its interface in the container; empty: `eth0` (its first network's,
    /// the one with the default route).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub container_if: String,
    /// Its names on this network beside its name and short id
    /// (`--network-alias`), for the embedded DNS server.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
}

impl NetSettings {
    /// Its interface in the container.
    pub fn container_if(&self) -> &str {
        match self.container_if.as_str() {
            "" => "eth0",
            name => name,
        }
    }
}

/// The default network's name.
pub const DEFAULT: &str = "bridge";

/// The host-wide lock of network setup (see [`Networks::lock`]).
const HOST_LOCK: &str = "/run/tinydocker-networks.lock";

/// Subnets tried, in order, for networks created without `--subnet`:
/// 10.88.0.0/16 up to 10.254.0.0/16, then 172.18.0.0/16 up to 172.31.0.0/16.
fn candidates() -> impl Iterator<Item = Ipv4Net> {
    let tens = (88..=254u8).map(|b| Ipv4Net::new(Ipv4Addr::new(10, b, 0, 0), 16));
    let one_seven_twos = (18..=31u8).map(|b| Ipv4Net::new(Ipv4Addr::new(172, b, 0, 0), 16));
    tens.chain(one_seven_twos)
        .map(|n| n.expect("a /16 network address"))
}

/// A short stable tag of a state root, so two roots on one host never
/// share a bridge device or an nftables table.
pub fn root_tag(root: &Path) -> Option<String> {
    let path = root.to_string_lossy();
    if path == crate::DEFAULT_ROOT {
        return None;
    }
    // FNV-1a, 32 bits: stable across runs and versions.
    let mut hash: u32 = 0x811c_9dc5;
    for b in path.bytes() {
        hash ^= u32::from(b);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    Some(format!("{hash:08x}"))
}

#[derive(Debug, Clone, Serialize, Deserialize)]
/// A bridge network: `networks/<name>.json`.
pub struct Network {
    /// Its name (`bridge` for the default one).
    pub name: String,
    /// 64 hex digits.
    pub id: String,
    /// Its bridge device.
    pub bridge: String,
    /// Its subnet.
    pub subnet: Ipv4Net,
    /// The bridge's address, the containers' default route.
    pub gateway: Ipv4Addr,
    /// Nanoseconds since the epoch.
    pub created: u128,
    /// The boot the bridge and rules were set up in.
    #[serde(default)]
    pub boot_id: String,
    /// `network create --label`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// The networks docker always has: `bridge` (made on first use here),
/// `host` and `none`, with their drivers.
pub const PREDEFINED: [(&str, &str); 3] = [(DEFAULT, "bridge"), ("host", "host"), ("none", "null")];

/// The id of predefined network `name` on state root `root`: 64 hex
/// digits, stable, so `network ls` shows the same id before the default
/// bridge is made and after.
pub fn predefined_id(root: &Path, name: &str) -> String {
    (0u8..8)
        .map(|seed| {
            // FNV-1a, 32 bits, seeded eight ways.
            let mut hash: u32 = 0x811c_9dc5 ^ u32::from(seed);
            let root = root.to_string_lossy();
            for b in root.bytes().chain([0]).chain(name.bytes()) {
                hash ^= u32::from(b);
                hash = hash.wrapping_mul(0x0100_0193);
            }
            format!("{hash:08x}")
        })
        .collect()
}

/// docker's rule for network names, as for containers.
fn validate_name(name: &str) -> Result<()> {
    let bytes = name.as_bytes();
    let ok = !bytes.is_empty()
        && bytes.len() <= 64
        && bytes[0].is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-');
    if !ok {
        return Err(invalid!(
            "invalid network name {name:?}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
        ));
    }
    if matches!(name, "none" | "host") {
        return Err(invalid!("network name {name:?} is reserved"));
    }
    Ok(())
}

pub struct Networks {
    dir: PathBuf,
    root: PathBuf,
    tag: Option<String>,
}

impl Networks {
    pub fn new(root: &Path) -> Networks {
        Networks {
            dir: root.join("networks"),
            root: root.to_path_buf(),
            tag: root_tag(root),
        }
    }

    /// The default network's bridge: `tinydocker0` for the default state
    /// root, `tdb-<tag>` for any other.
    fn default_bridge(&self) -> String {
        match &self.tag {
            None => "tinydocker0".to_string(),
            Some(tag) => format!("tdb-{tag}"),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Networks are a host-wide matter: bridges, routes and the nft table
    /// are shared by every state root. Choosing a subnet, setting a network
    /// up and tearing it down happen under one lock for the whole host, so
    /// two roots never pick the same subnet or undo each other's rules.
    fn lock(&self) -> Result<HostLock> {
        fs::create_dir_all(&self.dir).map_err(|e| Error::io("create", &self.dir, e))?;
        HostLock::take(Path::new(HOST_LOCK))
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.json"))
    }

    pub fn ipam(&self, name: &str) -> Ipam {
        Ipam::new(&self.dir, name)
    }

    pub fn get(&self, name: &str) -> Result<Option<Network>> {
        match fs::read(self.path(name)) {
            Ok(data) => {
                Ok(Some(serde_json::from_slice(&data).with_context(|| {
                    format!("parse {}", self.path(name).display())
                })?))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io("read", self.path(name), e)),
        }
    }

    pub fn list(&self) -> Result<Vec<Network>> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io("read", &self.dir, e)),
        };
        let mut all = Vec::new();
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(net) = name.strip_suffix(".json").filter(|n| !n.ends_with(".ipam")) {
                if let Some(n) = self.get(net)? {
                    all.push(n);
                }
            }
        }
        all.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(all)
    }

    fn save(&self, net: &Network) -> Result<()> {
        let data = serde_json::to_vec_pretty(net).expect("a network serialises");
        tinydocker_fs::write_atomic(&self.path(&net.name), &data, true)
            .map_err(|e| Error::io("write", self.path(&net.name), e))
    }

    /// A network by name for `run`: the default one is created on first
    /// use; any is set up again after a reboot. `None` for an unknown name.
    pub fn for_run(&self, name: &str) -> Result<Option<Network>> {
        match self.get(name)? {
            Some(net) if net.boot_id == boot_id() => Ok(Some(net)),
            Some(_) => {
                let _lock = self.lock()?;
                let mut net = self
                    .get(name)?
                    .ok_or_else(|| invalid!("network {name} not found"))?;
                if net.boot_id != boot_id() {
                    setup(&net, &self.path(name))?;
                    net.boot_id = boot_id().to_string();
                    self.save(&net)?;
                }
                Ok(Some(net))
            }
            None if name == DEFAULT => {
                Ok(Some(self.create(DEFAULT, None, None, BTreeMap::new())?))
            }
            None => Ok(None),
        }
    }

    /// Create a network (`network create`, or the default one on first use).
    pub fn create(
        &self,
        name: &str,
        subnet: Option<&str>,
        gateway: Option<&str>,
        labels: BTreeMap<String, String>,
    ) -> Result<Network> {
        validate_name(name)?;
        let subnet: Option<Ipv4Net> = subnet.map(|s| s.parse()).transpose()?;
        let gateway: Option<Ipv4Addr> = gateway
            .map(|g| {
                g.parse()
                    .map_err(|_| invalid!("invalid gateway {g:?}: expected an IPv4 address"))
            })
            .transpose()?;
        if let (Some(g), None) = (gateway, subnet) {
            return Err(invalid!("--gateway {g} needs --subnet"));
        }
        let _lock = self.lock()?;
        sweep_orphans();
        if let Some(existing) = self.get(name)? {
            if name == DEFAULT {
                return Ok(existing);
            }
            return Err(invalid!("network with name {name} already exists"));
        }
        let others: Vec<Ipv4Net> = self.list()?.iter().map(|n| n.subnet).collect();
        let routes: Vec<Ipv4Net> = Netlink::new()?
            .routes()?
            .into_iter()
            .filter(|(_, prefix)| *prefix > 0)
            .filter_map(|(addr, prefix)| Ipv4Net::new(addr, prefix).ok())
            .collect();
        let subnet = match subnet {
            Some(s) => {
                if let Some(o) = others.iter().find(|o| o.overlaps(&s)) {
                    return Err(invalid!(
                        "subnet {s} overlaps the subnet {o} of another network"
                    ));
                }
                if let Some(r) = routes.iter().find(|r| r.overlaps(&s)) {
                    return Err(invalid!(
                        "subnet {s} overlaps the host's route to {r}: choose another --subnet"
                    ));
                }
                if s.prefix() > 30 {
                    return Err(invalid!("subnet {s} is too small: it needs room for a gateway and containers (at most /30)"));
                }
                s
            }
            None => candidates()
                .find(|c| !others.iter().chain(&routes).any(|o| o.overlaps(c)))
                .ok_or_else(|| invalid!("no free private subnet: every candidate overlaps a host route or a network; give --subnet"))?,
        };
        let gateway = gateway.unwrap_or_else(|| subnet.first_host());
        if !subnet.contains(gateway) || gateway == subnet.network() || gateway == subnet.broadcast()
        {
            return Err(invalid!(
                "gateway {gateway} is not a usable address of the subnet {subnet}"
            ));
        }
        let id = if name == DEFAULT {
            predefined_id(&self.root, name)
        } else {
            crate::new_id()
        };
        let bridge = if name == DEFAULT {
            self.default_bridge()
        } else {
            format!("td-{}", &id[..8])
        };
        let net = Network {
            name: name.to_string(),
            id,
            bridge,
            subnet,
            gateway,
            created: now_nanos(),
            boot_id: boot_id().to_string(),
            labels,
        };
        if let Err(e) = setup(&net, &self.path(name)) {
            let _ = teardown(&net.bridge, net.subnet, true);
            return Err(e);
        }
        if let Err(e) = self.save(&net) {
            let _ = teardown(&net.bridge, net.subnet, true);
            return Err(e);
        }
        Ok(net)
    }

    /// Remove a network: refused while a container is attached.
    pub fn remove(&self, name: &str, attached: impl Fn(&str) -> Vec<String>) -> Result<Network> {
        let _lock = self.lock()?;
        let net = self
            .get(name)?
            .ok_or_else(|| invalid!("network {name} not found"))?;
        let mut users = attached(name);
        if users.is_empty() {
            // A start in progress holds an address before its record says
            // so (the first `run` has no record yet).
            users = self
                .ipam(name)
                .allocations()?
                .iter()
                .filter(|a| a.held())
                .map(|a| format!("{} (being started)", &a.owner[..a.owner.len().min(12)]))
                .collect();
        }
        if !users.is_empty() {
            return Err(Error::State(format!(
                "error while removing network: network {name} has active endpoints ({})",
                users.join(", ")
            )));
        }
        let last = self.list()?.len() == 1;
        teardown(&net.bridge, net.subnet, last)?;
        sweep_orphans();
        self.ipam(name).remove()?;
        fs::remove_file(self.path(name)).map_err(|e| Error::io("remove", self.path(name), e))?;
        Ok(net)
    }
}

/// What a bridge's alias (`/sys/class/net/BRIDGE/ifalias`) starts with:
/// `tinydocker SUBNET RECORD`, the network's subnet and the path of its
/// record in its state root. A bridge whose record is gone is an orphan.
const ALIAS: &str = "tinydocker ";

/// Bridge up with the gateway address, its alias naming its record (see
/// [`sweep_orphans`]), NAT and forwarding rules, IPv4 forwarding on (Linux
/// drops routed traffic otherwise), and route_localnet on the bridge (so
/// 127.0.0.1:PORT reaches published ports).
fn setup(net: &Network, record: &Path) -> Result<()> {
    Netlink::new()?.ensure_bridge(&net.bridge, net.gateway, net.subnet.prefix())?;
    // The record's absolute path (a relative --root means nothing to
    // another process). The kernel keeps at most 255 bytes: a root whose
    // path is longer gets no alias, and its bridge is not swept.
    let record = std::path::absolute(record).map_err(|e| Error::io("resolve", record, e))?;
    let alias = format!("{ALIAS}{} {}", net.subnet, record.display());
    if alias.len() < 256 {
        let alias_file = Path::new("/sys/class/net")
            .join(&net.bridge)
            .join("ifalias");
        fs::write(&alias_file, alias).map_err(|e| Error::io("write", &alias_file, e))?;
    }
    sysctl::enable_ip_forward()
        .map_err(|e| Error::sys("enable IPv4 forwarding (/proc/sys/net/ipv4/ip_forward)", e))?;
    sysctl::set_route_localnet(&net.bridge)
        .map_err(|e| Error::sys(format!("set route_localnet on {}", net.bridge), e))?;
    nft::run(&nft::network_script(&net.bridge, net.subnet))?;
    Ok(())
}

/// Tear down the networks of state roots that are gone (deleted by hand,
/// without `network rm`): every bridge whose alias names a record that no
/// longer exists, with its rules (and the table, once no bridge is left).
/// Run under the host lock wherever a network is made or removed. Best
/// effort: an orphan that cannot go now is tried again next time.
fn sweep_orphans() {
    let Ok(links) = fs::read_dir("/sys/class/net") else {
        return;
    };
    for link in links.flatten() {
        let Ok(alias) = fs::read_to_string(link.path().join("ifalias")) else {
            continue;
        };
        let Some((subnet, record)) = alias
            .trim_end()
            .strip_prefix(ALIAS)
            .and_then(|rest| rest.split_once(' '))
        else {
            continue;
        };
        let (Ok(subnet), false) = (subnet.parse::<Ipv4Net>(), Path::new(record).exists()) else {
            continue;
        };
        let bridge = link.file_name().to_string_lossy().into_owned();
        // Its containers' published ports first: their records, which
        // name them, went with the root. The bridge's route keeps the
        // subnet from being chosen again until the bridge goes below.
        let _ = nft::unpublish_subnet_script(subnet).and_then(|script| nft::run(&script));
        let _ = teardown(&bridge, subnet, true);
    }
}

/// [`sweep_orphans`] under the host lock (`system reset`). A network is
/// made and removed under that lock, its bridge's alias written and its
/// record saved together: a root being made now is never taken for a
/// deleted one, and a root that exists is left alone.
pub(crate) fn sweep_orphaned_networks() -> Result<()> {
    let _lock = HostLock::take(Path::new(HOST_LOCK))?;
    sweep_orphans();
    Ok(())
}

/// Best effort: every step is tried, all failures reported.
fn teardown(bridge: &str, subnet: Ipv4Net, last: bool) -> Result<()> {
    let mut errors = Vec::new();
    if let Err(e) = Netlink::new().and_then(|n| n.delete_link(bridge)) {
        errors.push(format!("delete bridge {bridge}: {e}"));
    }
    if let Err(e) = nft::run(&nft::remove_network_script(bridge, subnet)) {
        errors.push(format!("remove the rules of {bridge}: {e}"));
    }
    // The table is shared by every state root on the host: it goes with
    // the last network of any of them.
    if last && !nft::table_in_use().unwrap_or(true) {
        if let Err(e) = nft::run(&nft::delete_table_script()) {
            errors.push(format!("delete table {}: {e}", nft::TABLE));
        }
    }
    teardown_result(errors)
}

/// Every failure of a best-effort teardown, on one line.
fn teardown_result(errors: Vec<String>) -> Result<()> {
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Error::Setup(errors.join("; ")))
    }
}

/// The host interface name of a container's veth: "veth" + 7 hex digits of its id.
pub fn host_if(id: &str) -> String {
    format!("veth{}", &id[..7])
}

/// The host interface name of the veth of a container's `index`th network
/// (0: its first, on `eth0`; N: the one on `ethN`, connected later).
pub fn host_if_at(id: &str, index: usize) -> String {
    match index {
        0 => host_if(id),
        n => format!("veth{}{n}", &id[..7]),
    }
}

/// The first `ethN` (N > 0) that none of `nets` uses: a connected
/// network's interface in the container.
pub fn free_index<'a>(nets: impl Iterator<Item = &'a NetSettings> + Clone) -> usize {
    (1..)
        .find(|n| {
            let name = format!("eth{n}");
            !nets.clone().any(|net| net.container_if() == name)
        })
        .expect("an unused index")
}

/// Make the endpoint of place `net` in network namespace `netns`: the
/// default route goes through the first network's (`eth0`) only.
pub fn connect_endpoint(netlink: &Netlink, net: &NetSettings, netns: BorrowedFd<'_>) -> Result<()> {
    let first = net.container_if() == "eth0";
    Ok(netlink.create_endpoint(&Endpoint {
        host_if: &net.host_if,
        bridge: &net.bridge,
        netns,
        container_if: net.container_if(),
        address: net.ip,
        prefix: net.prefix,
        gateway: first.then_some(net.gateway),
    })?)
}

/// The network namespace of a process, to build its endpoint in.
pub fn netns_fd(pid: i32) -> Result<fs::File> {
    let path = format!("/proc/{pid}/ns/net");
    fs::File::open(&path).map_err(|e| Error::io("open", path, e))
}

/// What [`release`] does with the container's veth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Veth {
    /// Delete it now (rm, a failed start).
    Delete,
    /// Leave it to the kernel: the container has exited, so its network
    /// namespace is going away, and with it the veth pair. Deleting it here
    /// would wait for that same teardown (RTNL, RCU grace periods, device
    /// refcounts: 15-30 ms on this host) on the path of every `run`.
    GoesWithNamespace,
}

/// Undo a container's network side, best effort (every step tried, all
/// failures reported): its veth (which takes the peer with it), its
/// published ports, its address. Each step is idempotent, so `rm` can run
/// it again after a runtime that died half-way.
pub fn release(root: &Path, id: &str, net: &NetSettings, veth: Veth) -> Result<()> {
    let mut errors = Vec::new();
    if veth == Veth::Delete {
        if let Err(e) = Netlink::new().and_then(|n| n.delete_link(&net.host_if)) {
            errors.push(format!("delete {}: {e}", net.host_if));
        }
    }
    if !net.ports.is_empty() {
        // Added, then deleted, in one batch: exact, and no error when the
        // mappings were already gone.
        let script = nft::publish_script(&net.bridge, net.ip, &net.ports)
            + &nft::unpublish_script(&net.bridge, net.ip, &net.ports);
        if let Err(e) = nft::run(&script) {
            errors.push(format!("unpublish ports: {e}"));
        }
    }
    if let Err(e) = Networks::new(root).ipam(&net.network).release(id) {
        errors.push(format!("release {}: {e}", net.ip));
    }
    teardown_result(errors)
}

/// [`release`] each of a container's places, best effort: every one is
/// tried, all failures reported.
pub fn release_all<'a>(
    root: &Path,
    id: &str,
    nets: impl Iterator<Item = &'a NetSettings>,
    veth: Veth,
) -> Result<()> {
    let errors: Vec<String> = nets
        .filter_map(|net| release(root, id, net, veth).err())
        .map(|e| e.one_line())
        .collect();
    teardown_result(errors)
}

/// The files every container gets: /etc/hosts (localhost, its own name
/// and address, --add-host entries), /etc/hostname, /etc/resolv.conf (the
/// host's, without loopback name servers a bridged container can't reach;
/// or --dns).
pub struct EtcFiles<'a> {
    /// The container's host name.
    pub hostname: &'a str,
    /// Its name.
    pub name: &'a str,
    /// Its address on a bridge network.
    pub ip: Option<Ipv4Addr>,
    /// `--add-host` entries.
    pub add_hosts: &'a [(String, Ipv4Addr)],
    /// `--dns` servers.
    pub dns: &'a [Ipv4Addr],
    /// On a bridge network (the host's loopback name servers are out of reach).
    pub bridged: bool,
    /// On a user network: its resolver is the embedded DNS server.
    pub embedded_dns: bool,
}

impl EtcFiles<'_> {
    /// `/etc/hosts`.
    pub fn hosts(&self) -> String {
        let mut s = String::from(
            "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n",
        );
        for (name, addr) in self.add_hosts {
            s.push_str(&format!("{addr}\t{name}\n"));
        }
        if let Some(ip) = self.ip {
            if self.name != self.hostname {
                s.push_str(&format!("{ip}\t{} {}\n", self.hostname, self.name));
            } else {
                s.push_str(&format!("{ip}\t{}\n", self.hostname));
            }
        }
        s
    }

    /// `/etc/hostname`.
    pub fn hostname(&self) -> String {
        format!("{}\n", self.hostname)
    }

    /// `/etc/resolv.conf`, from the host's (`host`).
    pub fn resolv_conf(&self, host: &str) -> String {
        if self.embedded_dns {
            return embedded_resolv_conf(host);
        }
        if !self.dns.is_empty() {
            return self
                .dns
                .iter()
                .map(|d| format!("nameserver {d}\n"))
                .collect();
        }
        if !self.bridged {
            return host.to_string();
        }
        let mut out = String::new();
        let mut servers = 0;
        for line in host.lines() {
            if let Some(addr) = line.trim().strip_prefix("nameserver") {
                let addr = addr.trim();
                if addr.starts_with("127.") || addr == "::1" {
                    continue;
                }
                servers += 1;
            }
            out.push_str(line);
            out.push('\n');
        }
        if servers == 0 {
            // docker's fallback when the host only has a local resolver.
            out.push_str("nameserver 8.8.8.8\nnameserver 8.8.4.4\n");
        }
        out
    }
}

/// docker's resolv.conf on a user network: the host's search domains and
/// options, `ndots:0` unless it sets ndots, and the embedded DNS server
/// (which forwards to the host's name servers, or `--dns`).
fn embedded_resolv_conf(host: &str) -> String {
    let mut search = None;
    let mut options: Vec<&str> = Vec::new();
    for line in host.lines() {
        let mut words = line.split_whitespace();
        match words.next() {
            // The last search line counts, as the resolver reads it.
            Some("search") => search = Some(words.collect::<Vec<_>>().join(" ")),
            Some("options") => options.extend(words),
            _ => {}
        }
    }
    if !options.iter().any(|o| o.starts_with("ndots:")) {
        options.push("ndots:0");
    }
    let mut out = String::new();
    if let Some(search) = search.filter(|s| !s.is_empty()) {
        out.push_str(&format!("search {search}\n"));
    }
    out.push_str(&format!("nameserver {}\n", crate::dns::ADDRESS));
    out.push_str(&format!("options {}\n", options.join(" ")));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etc_files() {
        let add = [("db".to_string(), Ipv4Addr::new(10, 0, 0, 9))];
        let files = EtcFiles {
            hostname: "abc123",
            name: "web",
            ip: Some(Ipv4Addr::new(10, 88, 0, 2)),
            add_hosts: &add,
            dns: &[],
            bridged: true,
            embedded_dns: false,
        };
        let hosts = files.hosts();
        assert!(hosts.starts_with("127.0.0.1\tlocalhost\n"));
        assert!(hosts.contains("10.0.0.9\tdb\n"));
        assert!(hosts.ends_with("10.88.0.2\tabc123 web\n"));
        assert_eq!(files.hostname(), "abc123\n");
        let host = "search example.org\nnameserver 127.0.0.53\noptions edns0\n";
        assert_eq!(
            files.resolv_conf(host),
            "search example.org\noptions edns0\nnameserver 8.8.8.8\nnameserver 8.8.4.4\n"
        );
        assert_eq!(
            files.resolv_conf("nameserver 192.0.2.53\n"),
            "nameserver 192.0.2.53\n"
        );
        let dns = [Ipv4Addr::new(1, 1, 1, 1)];
        let files = EtcFiles { dns: &dns, ..files };
        assert_eq!(files.resolv_conf(host), "nameserver 1.1.1.1\n");
        let files = EtcFiles {
            embedded_dns: true,
            ..files
        };
        assert_eq!(
            files.resolv_conf(host),
            "search example.org\nnameserver 127.0.0.11\noptions edns0 ndots:0\n"
        );
        assert_eq!(
            files.resolv_conf("options ndots:2\nnameserver 192.0.2.53\n"),
            "nameserver 127.0.0.11\noptions ndots:2\n"
        );
    }

    #[test]
    fn names() {
        validate_name("bridge").unwrap();
        validate_name("my-net_1.x").unwrap();
        for bad in ["", "-a", "a b", "a/b", "none", "host"] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
        assert_eq!(host_if("0123456789abcdef"), "veth0123456");
        assert_eq!(candidates().count(), 167 + 14);
        assert_eq!(root_tag(Path::new(crate::DEFAULT_ROOT)), None);
        let tag = root_tag(Path::new("/tmp/x")).unwrap();
        assert_eq!(tag.len(), 8);
        assert_eq!(root_tag(Path::new("/tmp/x")).unwrap(), tag);
        assert!(format!("tdb-{tag}").len() <= 15);
    }
}
