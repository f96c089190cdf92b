//! Bridges and veth endpoints over rtnetlink (`rtnetlink(7)`, `netlink(7)`,
//! `veth(4)`, `ip-link(8)`, `ip-address(8)`, `ip-route(8)`, `setns(2)`).
//!
//! A netlink socket acts on the network namespace it was opened in. [`Netlink`]
//! holds one opened in its creator's namespace (the host's). A container's
//! endpoint is a veth pair whose peer is created straight into the container's
//! namespace (`IFLA_NET_NS_FD` among the peer's attributes), so it never shows
//! up on the host; its inside is then configured through a second socket,
//! opened on a short-lived thread that first `setns(2)`s into the container's
//! namespace. setns changes only the calling thread's namespace, which is why
//! a dedicated thread does it and never a runtime worker.

use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::{AsRawFd, BorrowedFd};
use std::pin::pin;
use std::thread;

use futures::future::{self, Either};
use futures::TryStreamExt;
use netlink_packet_route::address::AddressAttribute;
use netlink_packet_route::link::{
    InfoBridgePort, InfoData, InfoKind, InfoPortKind, InfoVeth, LinkAttribute, LinkFlags, LinkInfo,
    LinkMessage,
};
use netlink_packet_route::route::{RouteAddress, RouteAttribute, RouteHeader, RouteMessage};
use netlink_packet_route::AddressFamily;
use nix::sched::{setns, CloneFlags};
use rtnetlink::sys::{protocols::NETLINK_ROUTE, AsyncSocket, TokioSocket};
use rtnetlink::{
    Handle, LinkBridge, LinkBridgePort, LinkMessageBuilder, LinkUnspec, LinkVeth,
    RouteMessageBuilder,
};
use tokio::runtime::{self, Runtime};

/// A failed netlink step, naming the interface or address it was working on.
#[derive(Debug, thiserror::Error)]
pub enum NetlinkError {
    #[error("turn on hairpin mode of bridge port {host_if}")]
    Hairpin {
        host_if: String,
        #[source]
        source: io::Error,
    },
    /// The tokio runtime that drives the netlink socket could not be built.
    #[error("creating the netlink runtime")]
    Runtime(#[source] io::Error),
    /// The `NETLINK_ROUTE` socket could not be opened.
    #[error("opening a netlink socket")]
    Connect(#[source] io::Error),
    /// Looking a link up by name failed (for another reason than its absence).
    #[error("looking up link {name}")]
    GetLink {
        name: String,
        #[source]
        source: io::Error,
    },
    /// The bridge to attach an endpoint to does not exist.
    #[error("bridge {name} does not exist")]
    BridgeNotFound { name: String },
    /// A link with the bridge's name exists, but it is not a bridge.
    #[error("{name} exists but is not a bridge")]
    NotABridge { name: String },
    /// `ip link add NAME type bridge` failed.
    #[error("creating bridge {name}")]
    CreateBridge {
        name: String,
        #[source]
        source: io::Error,
    },
    /// Listing the IPv4 addresses of a link failed.
    #[error("listing the addresses of {ifname}")]
    ListAddresses {
        ifname: String,
        #[source]
        source: io::Error,
    },
    /// `ip addr add ADDR/PREFIX dev IFNAME` failed.
    #[error("adding address {addr}/{prefix} to {ifname}")]
    AddAddress {
        ifname: String,
        addr: Ipv4Addr,
        prefix: u8,
        #[source]
        source: io::Error,
    },
    /// `ip link set IFNAME up` failed.
    #[error("setting {ifname} up")]
    SetUp {
        ifname: String,
        #[source]
        source: io::Error,
    },
    /// `ip link del NAME` failed (for another reason than its absence).
    #[error("deleting link {name}")]
    DeleteLink {
        name: String,
        #[source]
        source: io::Error,
    },
    /// Dumping the main routing table failed.
    #[error("listing the IPv4 routes")]
    ListRoutes(#[source] io::Error),
    /// Creating the veth pair (host end on the bridge, peer in the container's
    /// namespace) failed; the kernel creates all of it or nothing.
    #[error("creating veth pair {host_if} (on {bridge}) / {container_if} (in the container's network namespace)")]
    CreateVeth {
        host_if: String,
        container_if: String,
        bridge: String,
        #[source]
        source: io::Error,
    },
    /// Entering the container's network namespace, or opening a netlink socket
    /// there, failed.
    #[error("opening a netlink socket in the container's network namespace")]
    OpenNetns(#[source] io::Error),
    /// `ip route add default via GATEWAY dev IFNAME` failed.
    #[error("adding the default route via {gateway} dev {ifname}")]
    AddRoute {
        ifname: String,
        gateway: Ipv4Addr,
        #[source]
        source: io::Error,
    },
    /// An endpoint failed half-way, and deleting its host end failed too: the
    /// veth pair is left behind. The step that failed first is the source.
    #[error("{host_if} is left behind (deleting it failed: {cleanup}) after an error")]
    Cleanup {
        host_if: String,
        cleanup: io::Error,
        #[source]
        error: Box<NetlinkError>,
    },
}

/// A container's network endpoint, as [`Netlink::create_endpoint`] makes it.
#[derive(Debug, Clone, Copy)]
pub struct Endpoint<'a> {
    /// Name of the host end of the veth pair, e.g. `vethab12cd34` (at most 15
    /// bytes).
    pub host_if: &'a str,
    /// The bridge the host end is attached to.
    pub bridge: &'a str,
    /// The container's network namespace: an open `/proc/<pid>/ns/net` of its
    /// init process.
    pub netns: BorrowedFd<'a>,
    /// Name of the peer inside the container, usually `eth0`.
    pub container_if: &'a str,
    /// The container's address on the bridge's subnet.
    pub address: Ipv4Addr,
    /// Prefix length of the subnet.
    pub prefix: u8,
    /// The bridge's address, the container's default gateway; None for a
    /// second network's endpoint, which leaves the default route alone.
    pub gateway: Option<Ipv4Addr>,
}

/// An rtnetlink connection in the network namespace of the thread that called
/// [`Netlink::new`], with the small current-thread runtime that drives it.
///
/// Every method blocks until the kernel has answered; none may be called from
/// inside another tokio runtime.
#[derive(Debug)]
pub struct Netlink {
    rt: Runtime,
    handle: Handle,
}

impl Netlink {
    /// Opens a `NETLINK_ROUTE` socket in the calling thread's network
    /// namespace.
    ///
    /// The socket asks for strict checking (`NETLINK_GET_STRICT_CHK`), so the
    /// kernel filters dumps (addresses of one link, routes of one table)
    /// instead of sending everything.
    ///
    /// ```no_run
    /// use std::net::Ipv4Addr;
    /// let nl = tinydocker_net::Netlink::new()?;
    /// nl.ensure_bridge("td0", Ipv4Addr::new(10, 88, 0, 1), 16)?;
    /// # Ok::<(), tinydocker_net::NetlinkError>(())
    /// ```
    pub fn new() -> Result<Netlink, NetlinkError> {
        let rt = runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .map_err(NetlinkError::Runtime)?;
        let (connection, handle, _) = {
            let _context = rt.enter();
            rtnetlink::new_connection_with_strict_check().map_err(NetlinkError::Connect)?
        };
        // Runs whenever a method block_on()s; dropped (socket closed) with the
        // runtime.
        rt.spawn(connection);
        Ok(Netlink { rt, handle })
    }

    /// Creates the bridge `name` if it is missing, gives it `gateway/prefix`
    /// if it lacks that address, and sets it up. Idempotent, and safe against
    /// another process doing the same at the same time.
    ///
    /// A link called `name` that is not a bridge is an error
    /// ([`NetlinkError::NotABridge`]), not something to repair.
    pub fn ensure_bridge(
        &self,
        name: &str,
        gateway: Ipv4Addr,
        prefix: u8,
    ) -> Result<(), NetlinkError> {
        self.rt.block_on(async {
            let get_link = |name: &str| {
                let name = name.to_owned();
                async move {
                    get_link(&self.handle, &name)
                        .await
                        .map_err(|source| NetlinkError::GetLink { name, source })
                }
            };
            let link = match get_link(name).await? {
                Some(link) => link,
                None => {
                    // Created up; EEXIST means another process just won the race.
                    let created = self
                        .handle
                        .link()
                        .add(LinkBridge::new(name).build())
                        .execute()
                        .await;
                    if let Err(source) = created.map_err(nl_io) {
                        if source.raw_os_error() != Some(libc::EEXIST) {
                            return Err(NetlinkError::CreateBridge {
                                name: name.to_owned(),
                                source,
                            });
                        }
                    }
                    get_link(name).await?.ok_or_else(|| NetlinkError::GetLink {
                        name: name.to_owned(),
                        source: io::Error::from_raw_os_error(libc::ENODEV),
                    })?
                }
            };
            if !is_bridge(&link) {
                return Err(NetlinkError::NotABridge {
                    name: name.to_owned(),
                });
            }
            let index = link.header.index;

            let has_gateway = has_address(&self.handle, index, gateway, prefix)
                .await
                .map_err(|source| NetlinkError::ListAddresses {
                    ifname: name.to_owned(),
                    source,
                })?;
            if !has_gateway {
                let added = self
                    .handle
                    .address()
                    .add(index, gateway.into(), prefix)
                    .execute()
                    .await;
                if let Err(source) = added.map_err(nl_io) {
                    if source.raw_os_error() != Some(libc::EEXIST) {
                        return Err(NetlinkError::AddAddress {
                            ifname: name.to_owned(),
                            addr: gateway,
                            prefix,
                            source,
                        });
                    }
                }
            }

            if !link.header.flags.contains(LinkFlags::Up) {
                let up = LinkUnspec::new_with_index(index).up().build();
                self.handle
                    .link()
                    .set(up)
                    .execute()
                    .await
                    .map_err(|e| NetlinkError::SetUp {
                        ifname: name.to_owned(),
                        source: nl_io(e),
                    })?;
            }
            Ok(())
        })
    }

    /// Deletes the link `name` (`ip link del NAME`); deleting one end of a veth
    /// pair deletes the other. A missing link is not an error.
    pub fn delete_link(&self, name: &str) -> Result<(), NetlinkError> {
        self.rt
            .block_on(delete_link(&self.handle, name))
            .map_err(|source| NetlinkError::DeleteLink {
                name: name.to_owned(),
                source,
            })
    }

    /// Whether a link called `name` exists in this namespace.
    pub fn link_exists(&self, name: &str) -> Result<bool, NetlinkError> {
        self.rt
            .block_on(get_link(&self.handle, name))
            .map(|link| link.is_some())
            .map_err(|source| NetlinkError::GetLink {
                name: name.to_owned(),
                source,
            })
    }

    /// The destinations `(network, prefix length)` of every IPv4 route in the
    /// main table of this namespace, for overlap checks when choosing a subnet.
    ///
    /// A default route shows up as `(0.0.0.0, 0)`; overlap checks should skip
    /// it. The same destination may appear more than once (several metrics).
    pub fn routes(&self) -> Result<Vec<(Ipv4Addr, u8)>, NetlinkError> {
        let mut filter = RouteMessage::default();
        filter.header.address_family = AddressFamily::Inet;
        filter.header.table = RouteHeader::RT_TABLE_MAIN;
        self.rt
            .block_on(async {
                let mut replies = self.handle.route().get(filter).execute();
                let mut routes = Vec::new();
                while let Some(route) = replies.try_next().await? {
                    if route.header.address_family != AddressFamily::Inet
                        || route_table(&route) != u32::from(RouteHeader::RT_TABLE_MAIN)
                    {
                        continue;
                    }
                    let prefix = route.header.destination_prefix_length;
                    let dst = route
                        .attributes
                        .iter()
                        .find_map(|attr| match attr {
                            RouteAttribute::Destination(RouteAddress::Inet(dst)) => Some(*dst),
                            _ => None,
                        })
                        .unwrap_or(Ipv4Addr::UNSPECIFIED);
                    routes.push((dst, prefix));
                }
                Ok(routes)
            })
            .map_err(|e| NetlinkError::ListRoutes(nl_io(e)))
    }

    /// Creates a container's endpoint: a veth pair whose host end `host_if` is
    /// attached to `bridge` and up, and whose peer is created directly in the
    /// container's namespace as `container_if`. Inside that namespace, the peer
    /// gets `address/prefix` and is set up, `lo` is set up, and the default
    /// route goes via `gateway`.
    ///
    /// On failure nothing is left behind: once the pair exists, any later
    /// failure deletes `host_if`, which takes the peer with it. A failure to
    /// create the pair deletes nothing (the kernel made none of it, and a
    /// `host_if` that already existed belongs to someone else).
    ///
    /// Round trips: one lookup of the bridge and one `RTM_NEWLINK` on the host
    /// (the host end is created up and enslaved in the same message); one
    /// lookup of the peer and four pipelined requests inside. The socket in
    /// the container's namespace is opened on its thread meanwhile.
    ///
    /// ```no_run
    /// use std::{fs::File, net::Ipv4Addr, os::fd::AsFd};
    /// use tinydocker_net::{Endpoint, Netlink};
    ///
    /// let nl = Netlink::new()?;
    /// let netns = File::open("/proc/4242/ns/net")?;
    /// nl.create_endpoint(&Endpoint {
    ///     host_if: "vethab12cd34",
    ///     bridge: "td0",
    ///     netns: netns.as_fd(),
    ///     container_if: "eth0",
    ///     address: Ipv4Addr::new(10, 88, 0, 2),
    ///     prefix: 16,
    ///     gateway: Some(Ipv4Addr::new(10, 88, 0, 1)),
    /// })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn create_endpoint(&self, ep: &Endpoint<'_>) -> Result<(), NetlinkError> {
        thread::scope(|scope| {
            let rt = self.rt.handle();
            let netns = ep.netns;
            let opener = thread::Builder::new()
                .name("netns-netlink".to_owned())
                .stack_size(64 * 1024)
                .spawn_scoped(scope, move || {
                    enter_netns(netns)?;
                    // Registers with this runtime's reactor; the socket stays
                    // in the container's namespace whichever thread drives it.
                    let _context = rt.enter();
                    TokioSocket::new(NETLINK_ROUTE)
                })
                .map_err(NetlinkError::OpenNetns)?;

            // On failure the kernel made nothing; the scope joins the opener,
            // whose socket is then dropped.
            self.rt.block_on(self.add_veth(ep))?;
            if let Err(error) = self.rt.block_on(self.hairpin(ep.host_if)) {
                return Err(self.undo_endpoint(ep.host_if, error));
            }

            let inside = match opener.join() {
                Ok(socket) => socket.map_err(NetlinkError::OpenNetns),
                Err(panic) => std::panic::resume_unwind(panic),
            };
            inside
                .and_then(|socket| self.rt.block_on(configure_inside(socket, ep)))
                .map_err(|error| self.undo_endpoint(ep.host_if, error))
        })
    }

    /// Hairpin mode on a bridge port: traffic a container sends to its own
    /// published port through the host comes back out of the port it came
    /// in by, which the bridge drops unless the port allows it (`bridge(8)`,
    /// `hairpin`). An RTM_NEWLINK on the existing port, by name.
    async fn hairpin(&self, host_if: &str) -> Result<(), NetlinkError> {
        let port = LinkMessageBuilder::<LinkBridgePort>::default()
            .name(host_if)
            .set_port_kind(InfoPortKind::Bridge)
            .append_info_data(InfoBridgePort::HairpinMode(true))
            .build();
        self.handle
            .link()
            .set_port(port)
            .execute()
            .await
            .map_err(|e| NetlinkError::Hairpin {
                host_if: host_if.to_owned(),
                source: nl_io(e),
            })
    }

    async fn add_veth(&self, ep: &Endpoint<'_>) -> Result<(), NetlinkError> {
        let bridge = get_link(&self.handle, ep.bridge)
            .await
            .map_err(|source| NetlinkError::GetLink {
                name: ep.bridge.to_owned(),
                source,
            })?
            .ok_or_else(|| NetlinkError::BridgeNotFound {
                name: ep.bridge.to_owned(),
            })?;
        // Not `up` here: the kernel configures the peer before pairing it,
        // and opening an unpaired veth fails (ENOTCONN). It is set up inside.
        let peer = LinkUnspec::new_with_name(ep.container_if)
            .setns_by_fd(ep.netns.as_raw_fd())
            .build();
        let veth = LinkMessageBuilder::<LinkVeth>::new_with_info_kind(InfoKind::Veth)
            .name(ep.host_if)
            .up()
            .controller(bridge.header.index)
            .set_info_data(InfoData::Veth(InfoVeth::Peer(peer)))
            .build();
        self.handle
            .link()
            .add(veth)
            .execute()
            .await
            .map_err(|e| NetlinkError::CreateVeth {
                host_if: ep.host_if.to_owned(),
                container_if: ep.container_if.to_owned(),
                bridge: ep.bridge.to_owned(),
                source: nl_io(e),
            })
    }

    /// Deletes a half-made endpoint, keeping `error` as the cause.
    fn undo_endpoint(&self, host_if: &str, error: NetlinkError) -> NetlinkError {
        match self.rt.block_on(delete_link(&self.handle, host_if)) {
            Ok(()) => error,
            Err(cleanup) => NetlinkError::Cleanup {
                host_if: host_if.to_owned(),
                cleanup,
                error: Box::new(error),
            },
        }
    }
}

/// Moves the calling thread into the network namespace `netns`.
fn enter_netns(netns: BorrowedFd<'_>) -> io::Result<()> {
    // CLONE_NEWNET changes the namespace of this thread alone.
    setns(netns, CloneFlags::CLONE_NEWNET)?;
    Ok(())
}

/// Configures the container's side of an endpoint through `socket`, a netlink
/// socket opened in the container's namespace.
async fn configure_inside(socket: TokioSocket, ep: &Endpoint<'_>) -> Result<(), NetlinkError> {
    let (connection, handle, _) = rtnetlink::from_socket(socket);
    // Driven here rather than spawned, so that the socket (which keeps the
    // container's namespace alive) is closed as soon as the work is done.
    let work = pin!(configure(&handle, ep));
    match future::select(connection, work).await {
        Either::Right((result, _)) => result,
        Either::Left(((), _)) => Err(NetlinkError::OpenNetns(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the netlink socket closed",
        ))),
    }
}

async fn configure(handle: &Handle, ep: &Endpoint<'_>) -> Result<(), NetlinkError> {
    let get_error = |source| NetlinkError::GetLink {
        name: ep.container_if.to_owned(),
        source,
    };
    let index = get_link(handle, ep.container_if)
        .await
        .map_err(get_error)?
        .ok_or_else(|| get_error(io::Error::from_raw_os_error(libc::ENODEV)))?
        .header
        .index;

    // Sent back to back and executed by the kernel in this order, so the
    // route finds the peer up and the subnet of its address; errors are
    // reported in that order too.
    let address = handle
        .address()
        .add(index, ep.address.into(), ep.prefix)
        .execute();
    let up = handle
        .link()
        .set(LinkUnspec::new_with_index(index).up().build())
        .execute();
    let lo_up = handle
        .link()
        .set(LinkUnspec::new_with_name("lo").up().build())
        .execute();
    let route = async {
        let Some(gateway) = ep.gateway else {
            return Ok(());
        };
        let route = RouteMessageBuilder::<Ipv4Addr>::new()
            .gateway(gateway)
            .output_interface(index)
            .build();
        handle.route().add(route).execute().await
    };
    let (address, up, lo_up, route) = futures::join!(address, up, lo_up, route);

    address.map_err(|e| NetlinkError::AddAddress {
        ifname: ep.container_if.to_owned(),
        addr: ep.address,
        prefix: ep.prefix,
        source: nl_io(e),
    })?;
    up.map_err(|e| NetlinkError::SetUp {
        ifname: ep.container_if.to_owned(),
        source: nl_io(e),
    })?;
    lo_up.map_err(|e| NetlinkError::SetUp {
        ifname: "lo".to_owned(),
        source: nl_io(e),
    })?;
    route.map_err(|e| NetlinkError::AddRoute {
        ifname: ep.container_if.to_owned(),
        gateway: ep.gateway.unwrap_or(Ipv4Addr::UNSPECIFIED),
        source: nl_io(e),
    })
}

/// The link called `name`, or `None` if there is none (`RTM_GETLINK` by name,
/// not a dump).
async fn get_link(handle: &Handle, name: &str) -> io::Result<Option<LinkMessage>> {
    if name.len() >= libc::IFNAMSIZ {
        // The kernel would reject the name rather than not find it.
        return Ok(None);
    }
    let mut replies = handle.link().get().match_name(name).execute();
    match replies.try_next().await.map_err(nl_io) {
        Err(e) if e.raw_os_error() == Some(libc::ENODEV) => Ok(None),
        other => other,
    }
}

/// `RTM_DELLINK` by name; a missing link is fine.
async fn delete_link(handle: &Handle, name: &str) -> io::Result<()> {
    if name.len() >= libc::IFNAMSIZ {
        return Ok(());
    }
    let message = LinkUnspec::new_with_name(name).build();
    match handle
        .link()
        .del_with_message(message)
        .execute()
        .await
        .map_err(nl_io)
    {
        Err(e) if e.raw_os_error() == Some(libc::ENODEV) => Ok(()),
        other => other,
    }
}

/// Whether link `index` has the IPv4 address `addr/prefix`.
async fn has_address(handle: &Handle, index: u32, addr: Ipv4Addr, prefix: u8) -> io::Result<bool> {
    let mut request = handle.address().get().set_link_index_filter(index);
    // With strict checking the kernel filters on these.
    request.message_mut().header.family = AddressFamily::Inet;
    request.message_mut().header.index = index;
    let mut replies = request.execute();
    let mut found = false;
    // Read to the end: the dump's remaining parts would otherwise be stranded.
    while let Some(msg) = replies.try_next().await.map_err(nl_io)? {
        found |= msg.header.prefix_len == prefix
            && msg
                .attributes
                .contains(&AddressAttribute::Local(IpAddr::V4(addr)));
    }
    Ok(found)
}

fn is_bridge(link: &LinkMessage) -> bool {
    link.attributes.iter().any(|attr| match attr {
        LinkAttribute::LinkInfo(infos) => infos.contains(&LinkInfo::Kind(InfoKind::Bridge)),
        _ => false,
    })
}

/// The route's table: `RTA_TABLE` when present (ids above 255), else the
/// header's.
fn route_table(route: &RouteMessage) -> u32 {
    route
        .attributes
        .iter()
        .find_map(|attr| match attr {
            RouteAttribute::Table(table) => Some(*table),
            _ => None,
        })
        .unwrap_or(u32::from(route.header.table))
}

/// The kernel's errno as an `io::Error` (so callers can match on
/// `raw_os_error()`); rtnetlink's own failures as `io::ErrorKind::Other`.
fn nl_io(err: rtnetlink::Error) -> io::Error {
    match err {
        rtnetlink::Error::NetlinkError(msg) => msg.to_io(),
        other => io::Error::other(other),
    }
}

#[cfg(test)]
mod tests {
    //! Root tests against the real kernel. Each runs in network namespaces it
    //! creates itself: the body runs on a thread that unshare(2)d a fresh one
    //! (the test's "host"), and containers are further fresh namespaces held by
    //! an fd. Nothing reaches the real host's interfaces.

    use std::fs::File;
    use std::net::{SocketAddr, UdpSocket};
    use std::os::fd::{AsFd, OwnedFd};
    use std::time::{Duration, Instant};

    use netlink_packet_route::link::LinkFlags;

    use super::*;

    const GATEWAY: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 1);
    const PREFIX: u8 = 24;

    fn is_root() -> bool {
        nix::unistd::geteuid().is_root()
    }

    /// Give this thread a new, empty network namespace.
    fn unshare_netns() -> io::Result<()> {
        nix::sched::unshare(CloneFlags::CLONE_NEWNET)?;
        Ok(())
    }

    /// Runs `body` on a thread in a fresh network namespace, or prints a skip
    /// note when not root.
    fn in_fresh_netns(test: &str, body: impl FnOnce() + Send) {
        if !is_root() {
            eprintln!("skipping {test}: needs root (network namespaces, netlink)");
            return;
        }
        thread::scope(|scope| {
            scope.spawn(|| {
                unshare_netns().expect("unshare(CLONE_NEWNET)");
                body();
            });
        });
    }

    /// A fresh, empty network namespace standing in for a container's.
    fn new_netns() -> OwnedFd {
        thread::spawn(|| {
            unshare_netns().expect("unshare(CLONE_NEWNET)");
            OwnedFd::from(
                File::open("/proc/thread-self/ns/net").expect("open /proc/thread-self/ns/net"),
            )
        })
        .join()
        .unwrap()
    }

    /// Runs `f` on a thread that has entered `netns`.
    fn in_netns<T: Send>(netns: BorrowedFd<'_>, f: impl FnOnce() -> T + Send) -> T {
        thread::scope(|scope| {
            scope
                .spawn(move || {
                    enter_netns(netns).expect("setns(CLONE_NEWNET)");
                    f()
                })
                .join()
                .unwrap()
        })
    }

    fn endpoint<'a>(host_if: &'a str, netns: BorrowedFd<'a>, address: Ipv4Addr) -> Endpoint<'a> {
        Endpoint {
            host_if,
            bridge: "tdbr0",
            netns,
            container_if: "eth0",
            address,
            prefix: PREFIX,
            gateway: Some(GATEWAY),
        }
    }

    impl Netlink {
        fn link(&self, name: &str) -> Option<LinkMessage> {
            self.rt.block_on(get_link(&self.handle, name)).unwrap()
        }

        fn ipv4_addresses(&self, name: &str) -> Vec<(Ipv4Addr, u8)> {
            let index = self.link(name).expect("link").header.index;
            self.rt.block_on(async {
                let mut request = self.handle.address().get().set_link_index_filter(index);
                request.message_mut().header.family = AddressFamily::Inet;
                request.message_mut().header.index = index;
                let mut replies = request.execute();
                let mut found = Vec::new();
                while let Some(msg) = replies.try_next().await.unwrap() {
                    for attr in &msg.attributes {
                        if let AddressAttribute::Local(IpAddr::V4(addr)) = attr {
                            found.push((*addr, msg.header.prefix_len));
                        }
                    }
                }
                found
            })
        }

        /// (gateway, output interface index) of the main table's default route.
        fn default_route(&self) -> Option<(Ipv4Addr, u32)> {
            let mut filter = RouteMessage::default();
            filter.header.address_family = AddressFamily::Inet;
            filter.header.table = RouteHeader::RT_TABLE_MAIN;
            self.rt.block_on(async {
                let mut replies = self.handle.route().get(filter).execute();
                let mut default = None;
                while let Some(route) = replies.try_next().await.unwrap() {
                    if route.header.destination_prefix_length != 0 || route_table(&route) != 254 {
                        continue;
                    }
                    let gateway = route.attributes.iter().find_map(|attr| match attr {
                        RouteAttribute::Gateway(RouteAddress::Inet(gw)) => Some(*gw),
                        _ => None,
                    });
                    let oif = route.attributes.iter().find_map(|attr| match attr {
                        RouteAttribute::Oif(oif) => Some(*oif),
                        _ => None,
                    });
                    default = gateway.zip(oif);
                }
                default
            })
        }
    }

    fn is_up(link: &LinkMessage) -> bool {
        link.header.flags.contains(LinkFlags::Up)
    }

    fn controller(link: &LinkMessage) -> Option<u32> {
        link.attributes.iter().find_map(|attr| match attr {
            LinkAttribute::Controller(index) => Some(*index),
            _ => None,
        })
    }

    #[test]
    fn ensure_bridge_is_idempotent() {
        in_fresh_netns("ensure_bridge_is_idempotent", || {
            let nl = Netlink::new().unwrap();
            assert!(!nl.link_exists("tdbr0").unwrap());
            nl.ensure_bridge("tdbr0", GATEWAY, PREFIX).unwrap();
            nl.ensure_bridge("tdbr0", GATEWAY, PREFIX).unwrap();

            let bridge = nl.link("tdbr0").expect("bridge exists");
            assert!(is_bridge(&bridge));
            assert!(is_up(&bridge));
            assert_eq!(nl.ipv4_addresses("tdbr0"), [(GATEWAY, PREFIX)]);
            assert!(nl
                .routes()
                .unwrap()
                .contains(&(Ipv4Addr::new(10, 77, 0, 0), PREFIX)));
        });
    }

    #[test]
    fn ensure_bridge_completes_a_bare_bridge_and_refuses_other_links() {
        in_fresh_netns(
            "ensure_bridge_completes_a_bare_bridge_and_refuses_other_links",
            || {
                let nl = Netlink::new().unwrap();
                // Down, no address: as a crash half-way through might leave it.
                let bare = LinkMessageBuilder::<LinkBridge>::new("tdbr0").build();
                nl.rt
                    .block_on(nl.handle.link().add(bare).execute())
                    .unwrap();
                assert!(!is_up(&nl.link("tdbr0").unwrap()));

                nl.ensure_bridge("tdbr0", GATEWAY, PREFIX).unwrap();
                assert!(is_up(&nl.link("tdbr0").unwrap()));
                assert_eq!(nl.ipv4_addresses("tdbr0"), [(GATEWAY, PREFIX)]);

                let veth = LinkVeth::new("notabr", "notabr-peer").build();
                nl.rt
                    .block_on(nl.handle.link().add(veth).execute())
                    .unwrap();
                let err = nl.ensure_bridge("notabr", GATEWAY, PREFIX).unwrap_err();
                assert!(matches!(err, NetlinkError::NotABridge { .. }), "{err:?}");
                assert_eq!(err.to_string(), "notabr exists but is not a bridge");
            },
        );
    }

    #[test]
    fn endpoint_is_wired_on_both_sides_and_deleted_whole() {
        in_fresh_netns("endpoint_is_wired_on_both_sides_and_deleted_whole", || {
            let nl = Netlink::new().unwrap();
            nl.ensure_bridge("tdbr0", GATEWAY, PREFIX).unwrap();
            let netns = new_netns();
            let address = Ipv4Addr::new(10, 77, 0, 2);
            nl.create_endpoint(&endpoint("vethtest0", netns.as_fd(), address))
                .unwrap();

            // Host side: the host end only, up, on the bridge.
            assert!(nl.link_exists("vethtest0").unwrap());
            assert!(
                !nl.link_exists("eth0").unwrap(),
                "the peer was created in the container"
            );
            let host_end = nl.link("vethtest0").unwrap();
            assert!(is_up(&host_end));
            let bridge = nl.link("tdbr0").unwrap();
            assert_eq!(controller(&host_end), Some(bridge.header.index));

            // Container side.
            let inside = in_netns(netns.as_fd(), Netlink::new).unwrap();
            let eth0 = inside.link("eth0").expect("eth0 in the container");
            assert!(is_up(&eth0));
            assert!(is_up(&inside.link("lo").unwrap()));
            assert_eq!(inside.ipv4_addresses("eth0"), [(address, PREFIX)]);
            assert_eq!(inside.default_route(), Some((GATEWAY, eth0.header.index)));
            assert!(inside
                .routes()
                .unwrap()
                .contains(&(Ipv4Addr::new(10, 77, 0, 0), PREFIX)));

            // Deleting the host end takes the peer with it.
            nl.delete_link("vethtest0").unwrap();
            assert!(!nl.link_exists("vethtest0").unwrap());
            assert!(!inside.link_exists("eth0").unwrap());
            // Deleting what is not there is fine.
            nl.delete_link("vethtest0").unwrap();
            nl.delete_link("nosuchlink").unwrap();
            nl.delete_link("a-name-longer-than-ifnamsiz").unwrap();
        });
    }

    #[test]
    fn failed_endpoint_leaves_nothing_behind() {
        in_fresh_netns("failed_endpoint_leaves_nothing_behind", || {
            let nl = Netlink::new().unwrap();
            let netns = new_netns();
            let inside = in_netns(netns.as_fd(), Netlink::new).unwrap();
            let address = Ipv4Addr::new(10, 77, 0, 2);

            // No bridge: nothing is created.
            let err = nl
                .create_endpoint(&endpoint("vethtest0", netns.as_fd(), address))
                .unwrap_err();
            assert!(
                matches!(err, NetlinkError::BridgeNotFound { .. }),
                "{err:?}"
            );
            assert!(!nl.link_exists("vethtest0").unwrap());
            assert!(!inside.link_exists("eth0").unwrap());

            // Failing inside, after the pair exists (a gateway off the subnet
            // is unreachable): the pair is deleted again.
            nl.ensure_bridge("tdbr0", GATEWAY, PREFIX).unwrap();
            let mut off_subnet = endpoint("vethtest0", netns.as_fd(), address);
            off_subnet.gateway = Some(Ipv4Addr::new(10, 78, 0, 1));
            let err = nl.create_endpoint(&off_subnet).unwrap_err();
            assert!(matches!(err, NetlinkError::AddRoute { .. }), "{err:?}");
            assert_eq!(
                err.to_string(),
                "adding the default route via 10.78.0.1 dev eth0"
            );
            assert!(!nl.link_exists("vethtest0").unwrap());
            assert!(!inside.link_exists("eth0").unwrap());

            // The host name is taken: the existing link is someone else's and
            // must survive.
            let taken = LinkVeth::new("vethtest0", "other-peer").build();
            nl.rt
                .block_on(nl.handle.link().add(taken).execute())
                .unwrap();
            let err = nl
                .create_endpoint(&endpoint("vethtest0", netns.as_fd(), address))
                .unwrap_err();
            match &err {
                NetlinkError::CreateVeth { source, .. } => {
                    assert_eq!(source.raw_os_error(), Some(libc::EEXIST))
                }
                other => panic!("{other:?}"),
            }
            assert!(nl.link_exists("vethtest0").unwrap());
            assert!(nl.link_exists("other-peer").unwrap());
            assert!(!inside.link_exists("eth0").unwrap());

            // The same endpoint under a free name works afterwards.
            nl.create_endpoint(&endpoint("vethtest1", netns.as_fd(), address))
                .unwrap();
            assert!(inside.link_exists("eth0").unwrap());
        });
    }

    /// A UDP round trip from a container to the gateway and to another
    /// container, all inside the test's namespaces.
    #[test]
    fn containers_reach_the_gateway_and_each_other() {
        in_fresh_netns("containers_reach_the_gateway_and_each_other", || {
            let nl = Netlink::new().unwrap();
            nl.ensure_bridge("tdbr0", GATEWAY, PREFIX).unwrap();
            let (ns_a, ns_b) = (new_netns(), new_netns());
            let (addr_a, addr_b) = (Ipv4Addr::new(10, 77, 0, 2), Ipv4Addr::new(10, 77, 0, 3));
            nl.create_endpoint(&endpoint("vethtesta", ns_a.as_fd(), addr_a))
                .unwrap();
            nl.create_endpoint(&endpoint("vethtestb", ns_b.as_fd(), addr_b))
                .unwrap();

            // Sockets belong to the namespace of the thread that opens them.
            let host = udp_socket(SocketAddr::from((GATEWAY, 0)));
            let a = in_netns(ns_a.as_fd(), || udp_socket(SocketAddr::from((addr_a, 0))));
            let b = in_netns(ns_b.as_fd(), || udp_socket(SocketAddr::from((addr_b, 0))));

            round_trip(&a, &host, addr_a);
            round_trip(&a, &b, addr_a);
            round_trip(&b, &a, addr_b);
        });
    }

    fn udp_socket(addr: SocketAddr) -> UdpSocket {
        let socket = UdpSocket::bind(addr).unwrap();
        // Only a bound on a failure; success answers at once.
        socket
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        socket
    }

    /// `from` sends a datagram to `to`, which answers; both must arrive.
    fn round_trip(from: &UdpSocket, to: &UdpSocket, from_ip: Ipv4Addr) {
        let to_addr = to.local_addr().unwrap();
        from.send_to(b"ping", to_addr).unwrap();
        let mut buf = [0; 16];
        let (n, peer) = to.recv_from(&mut buf).expect("ping arrives");
        assert_eq!((&buf[..n], peer.ip()), (&b"ping"[..], IpAddr::V4(from_ip)));
        to.send_to(b"pong", peer).unwrap();
        let (n, peer) = from.recv_from(&mut buf).expect("pong arrives");
        assert_eq!((&buf[..n], peer), (&b"pong"[..], to_addr));
    }

    /// Timing of the `tinydocker run` path. Run it in release mode:
    /// `cargo test --release -p tinydocker-net -- --ignored --nocapture endpoint_timing`
    #[test]
    #[ignore = "a measurement, not a check"]
    fn endpoint_timing() {
        in_fresh_netns("endpoint_timing", || {
            const RUNS: usize = 200;
            let warm = Netlink::new().unwrap();
            warm.ensure_bridge("tdbr0", GATEWAY, PREFIX).unwrap();
            // Load the veth module, fault in the code paths.
            let netns = new_netns();
            warm.create_endpoint(&endpoint(
                "vethwarm",
                netns.as_fd(),
                Ipv4Addr::new(10, 77, 0, 250),
            ))
            .unwrap();
            warm.delete_link("vethwarm").unwrap();

            // Namespaces made (and, at the end, torn down) outside the timed
            // part: the kernel cleans up a dead one under the rtnl lock, which
            // would stall the requests measured here.
            let namespaces: Vec<OwnedFd> = (0..RUNS).map(|_| new_netns()).collect();
            let (mut new, mut bridge, mut ep, mut total, mut raw_veth) =
                (vec![], vec![], vec![], vec![], vec![]);
            for (i, netns) in namespaces.iter().enumerate() {
                let host_if = format!("vethb{i}");
                let address = Ipv4Addr::new(10, 77, 0, 2 + (i % 200) as u8);
                let start = Instant::now();
                let nl = Netlink::new().unwrap();
                let t_new = Instant::now();
                nl.ensure_bridge("tdbr0", GATEWAY, PREFIX).unwrap();
                let t_bridge = Instant::now();
                nl.create_endpoint(&endpoint(&host_if, netns.as_fd(), address))
                    .unwrap();
                let t_ep = Instant::now();
                new.push(t_new - start);
                bridge.push(t_bridge - t_new);
                ep.push(t_ep - t_bridge);
                total.push(t_ep - start);
                nl.delete_link(&host_if).unwrap();

                // The kernel's own cost: a bare veth pair, one request.
                let t = Instant::now();
                let veth = LinkVeth::new("vethraw", "vethraw-p").build();
                nl.rt
                    .block_on(nl.handle.link().add(veth).execute())
                    .unwrap();
                raw_veth.push(t.elapsed());
                nl.delete_link("vethraw").unwrap();
            }
            for (what, times) in [
                ("Netlink::new()", &mut new),
                ("ensure_bridge() (exists)", &mut bridge),
                ("create_endpoint()", &mut ep),
                ("all three, fresh process", &mut total),
                ("bare veth RTM_NEWLINK", &mut raw_veth),
            ] {
                times.sort();
                println!(
                    "{what:26} min {:>8.1?}  median {:>8.1?}  p90 {:>8.1?}  max {:>8.1?}",
                    times[0],
                    times[RUNS / 2],
                    times[RUNS * 9 / 10],
                    times[RUNS - 1]
                );
            }
        });
    }
}
