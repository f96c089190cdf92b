//! The embedded DNS server of user networks, as docker's: a container on a
//! network made with `network create` has `nameserver 127.0.0.11` in its
//! resolv.conf, and a server on 127.0.0.11:53 in its network namespace
//! answers the names of the running containers on its networks (their
//! names, short ids and `--network-alias`es) and forwards the rest to the
//! host's name servers.
//!
//! There is no daemon: the process that supervises the container serves
//! it. Its UDP socket is made in the container's network namespace (a
//! socket keeps the namespace it was made in, whichever thread uses it:
//! `socket(7)`, `setns(2)`) before the command runs, so no query is ever
//! refused; the supervisor serves it from a thread while the container
//! runs. Names are looked up in the records at query time: a container
//! started or stopped is seen at once.

mod wire;

use std::collections::BTreeSet;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use crate::config::ContainerConfig;
use crate::error::{Error, Result};
use crate::network::DEFAULT;
use crate::store::{readable, Container, Observed, Store};

/// The server's address in every container that has one (docker's).
pub const ADDRESS: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 11);

/// Where forwarded queries go instead of the host's name servers:
/// `IP[:PORT]`, comma-separated (for tests, which must not query the
/// world).
pub const UPSTREAM_ENV: &str = "TINYDOCKER_DNS_UPSTREAM";

/// How long an upstream server has to answer a forwarded query.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(3);

/// Whether a container gets the embedded server: on a user network, as
/// docker's (the default bridge keeps the host's resolv.conf, no names).
pub fn wanted(config: &ContainerConfig) -> bool {
    config.bridge.as_ref().is_some_and(|b| b.network != DEFAULT)
}

/// The server's socket, bound to 127.0.0.11:53 in network namespace
/// `netns` (whose `lo` is up), from a short-lived thread that enters it.
pub fn bind_in(netns: BorrowedFd<'_>) -> Result<UdpSocket> {
    thread::scope(|scope| {
        thread::Builder::new()
            .name("dns-bind".into())
            .stack_size(64 * 1024)
            .spawn_scoped(scope, || {
                nix::sched::setns(netns, nix::sched::CloneFlags::CLONE_NEWNET)?;
                UdpSocket::bind(SocketAddrV4::new(ADDRESS, 53))
            })
            .and_then(|t| t.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
    })
    .map_err(|e| Error::sys("bind the embedded DNS server to 127.0.0.11:53", e))
}

/// A container's server: its socket, bound; at work on a thread of its
/// own once [`Server::serve`] is called, until dropped.
pub struct Server {
    socket: Option<UdpSocket>,
    /// Closing it (the write end of a pipe) ends the thread.
    stop: Option<OwnedFd>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// A server of `socket` (see [`bind_in`]), not serving yet.
    pub fn bound(socket: UdpSocket) -> Server {
        Server {
            socket: Some(socket),
            stop: None,
            thread: None,
        }
    }

    /// Serve its socket for container `id` of the store at `root`.
    pub fn serve(&mut self, root: std::path::PathBuf, id: String) -> Result<()> {
        let Some(socket) = self.socket.take() else {
            return Ok(());
        };
        let (stop_r, stop_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
            .map_err(|e| Error::sys("create a pipe", e))?;
        let thread = thread::Builder::new()
            .name("dns".into())
            .stack_size(256 * 1024)
            .spawn(move || serve(&socket, &stop_r, &Store::new(root), &id))
            .map_err(|e| Error::sys("start the embedded DNS server", e))?;
        self.stop = Some(stop_w);
        self.thread = Some(thread);
        Ok(())
    }

    /// Its socket, when it is not serving: to hand on to another process
    /// image (a detached container's monitor).
    pub fn into_socket(mut self) -> Option<UdpSocket> {
        self.socket.take()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Answer queries until `stop` is readable (its write end closed).
fn serve(socket: &UdpSocket, stop: &OwnedFd, store: &Store, id: &str) {
    let mut buf = [0u8; 1500];
    // Where forwarded queries go, worked out at the first one (the
    // container's --dns and the host's resolv.conf, as docker reads them
    // once).
    let mut servers: Option<Arc<[SocketAddr]>> = None;
    loop {
        match readable([Some(socket.as_fd()), Some(stop.as_fd())], None) {
            Ok([_, true]) | Err(_) => return,
            Ok([false, false]) => continue,
            Ok([true, false]) => {}
        }
        let Ok((len, client)) = socket.recv_from(&mut buf) else {
            continue;
        };
        let Some(query) = wire::parse_query(&buf[..len]) else {
            continue;
        };
        match wire::reply(&query, |name| lookup(store, id, name)) {
            wire::Reply::Answer(answer) => {
                let _ = socket.send_to(&answer, client);
            }
            wire::Reply::Forward => {
                let (Ok(socket), packet) = (socket.try_clone(), buf[..len].to_vec()) else {
                    continue;
                };
                let servers = servers
                    .get_or_insert_with(|| {
                        let dns = Container::load(&store.container_dir(id))
                            .ok()
                            .and_then(|c| c.config.etc_files)
                            .map(|etc| etc.dns)
                            .unwrap_or_default();
                        let env = std::env::var(UPSTREAM_ENV).ok();
                        let host = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
                        upstreams(env.as_deref(), &dns, &host).into()
                    })
                    .clone();
                // Off the serving thread: a slow upstream delays no other
                // query. Detached; it ends with its timeout at the latest.
                let _ = thread::Builder::new()
                    .name("dns-forward".into())
                    .stack_size(128 * 1024)
                    .spawn(move || forward(&socket, client, &packet, &query, &servers));
            }
        }
    }
}

/// The addresses of `name` for container `me`: every running container on
/// one of its user networks called so there (its name, short id, or an
/// alias on that network). `None` when no container is.
fn lookup(store: &Store, me: &str, name: &str) -> Option<Vec<Ipv4Addr>> {
    let records = store.records();
    let mine: BTreeSet<&str> = records
        .iter()
        .find(|c| c.config.id == me)?
        .state
        .nets()
        .map(|n| n.network.as_str())
        .filter(|n| *n != DEFAULT)
        .collect();
    let mut found = Vec::new();
    for c in &records {
        if c.state.net_released || !matches!(c.observe(), Observed::Running { .. }) {
            continue;
        }
        for net in c.state.nets().filter(|n| mine.contains(n.network.as_str())) {
            if names_of(c, &net.aliases).any(|n| n.eq_ignore_ascii_case(name))
                && !found.contains(&net.ip)
            {
                found.push(net.ip);
            }
        }
    }
    (!found.is_empty()).then_some(found)
}

/// What a container is called on a network: its name, its short id, and
/// its aliases there.
fn names_of<'a>(c: &'a Container, aliases: &'a [String]) -> impl Iterator<Item = &'a str> {
    [c.name(), c.short_id()]
        .into_iter()
        .chain(aliases.iter().map(String::as_str))
}

/// The servers forwarded queries go to: [`UPSTREAM_ENV`]'s; else the
/// container's `--dns` ones; else the host's (from `resolv_conf`),
/// without loopback ones, as docker skips them; else docker's defaults.
pub fn upstreams(env: Option<&str>, dns: &[Ipv4Addr], resolv_conf: &str) -> Vec<SocketAddr> {
    if let Some(env) = env.filter(|e| !e.is_empty()) {
        return env
            .split(',')
            .filter_map(|s| {
                let s = s.trim();
                s.parse::<SocketAddr>()
                    .ok()
                    .or_else(|| Some(SocketAddr::new(s.parse().ok()?, 53)))
            })
            .collect();
    }
    let at_53 = |ip: Ipv4Addr| SocketAddr::from((ip, 53));
    if !dns.is_empty() {
        return dns.iter().copied().map(at_53).collect();
    }
    let host: Vec<SocketAddr> = resolv_conf
        .lines()
        .filter_map(|l| l.trim().strip_prefix("nameserver"))
        .filter_map(|ip| ip.trim().parse::<Ipv4Addr>().ok())
        .filter(|ip| !ip.is_loopback())
        .map(at_53)
        .collect();
    if host.is_empty() {
        return [Ipv4Addr::new(8, 8, 8, 8), Ipv4Addr::new(8, 8, 4, 4)]
            .into_iter()
            .map(at_53)
            .collect();
    }
    host
}

/// Ask each upstream in turn, from the host's network namespace, and
/// relay the first answer to `client`; none: SERVFAIL.
fn forward(
    socket: &UdpSocket,
    client: SocketAddr,
    packet: &[u8],
    query: &wire::Query,
    servers: &[SocketAddr],
) {
    for &upstream in servers {
        if let Ok(answer) = ask(upstream, packet, query.id) {
            let _ = socket.send_to(&answer, client);
            return;
        }
    }
    let _ = socket.send_to(&wire::answer(query, wire::SERVFAIL, &[], 0), client);
}

/// One exchange with `upstream`: its answer to `packet` (a query with id
/// `id`).
fn ask(upstream: SocketAddr, packet: &[u8], id: u16) -> io::Result<Vec<u8>> {
    let socket = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0))?;
    socket.connect(upstream)?;
    socket.set_read_timeout(Some(UPSTREAM_TIMEOUT))?;
    socket.send(packet)?;
    let mut buf = vec![0u8; 4096];
    loop {
        let len = socket.recv(&mut buf)?;
        if len >= 2 && u16::from_be_bytes([buf[0], buf[1]]) == id {
            buf.truncate(len);
            return Ok(buf);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstreams_skip_loopback_and_fall_back_to_docker_defaults() {
        let resolv =
            "search example.org\nnameserver 127.0.0.53\nnameserver 192.0.2.1\nnameserver ::1\n";
        assert_eq!(
            upstreams(None, &[], resolv),
            vec!["192.0.2.1:53".parse::<SocketAddr>().unwrap()]
        );
        assert_eq!(
            upstreams(None, &[], "nameserver 127.0.0.53\n"),
            vec![
                "8.8.8.8:53".parse::<SocketAddr>().unwrap(),
                "8.8.4.4:53".parse().unwrap()
            ]
        );
        let dns = [Ipv4Addr::new(192, 0, 2, 9)];
        assert_eq!(
            upstreams(None, &dns, resolv),
            vec!["192.0.2.9:53".parse::<SocketAddr>().unwrap()]
        );
        assert_eq!(
            upstreams(Some("127.0.0.1:5353, 192.0.2.7"), &dns, resolv),
            vec![
                "127.0.0.1:5353".parse::<SocketAddr>().unwrap(),
                "192.0.2.7:53".parse().unwrap()
            ]
        );
    }
}
