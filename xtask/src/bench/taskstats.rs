//! Peak resident memory of one process, from the kernel's per-task exit
//! statistics (taskstats over generic netlink, Documentation/accounting/
//! taskstats.rst): `hiwater_rss` of the process's own address space as it
//! exits.
//!
//! Why not `wait4(2)`'s ru_maxrss: exec(2) records the high-water mark of
//! the address space it replaces, and a spawned child's first address space
//! is its parent's (a vfork) or a copy of it (a fork). ru_maxrss is never
//! below the bench's own resident size at the spawn, about 4 MiB, which is
//! the size of what it measures.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use anyhow::{bail, Context, Result};

const GENL_ID_CTRL: u16 = 0x10;
const CTRL_CMD_GETFAMILY: u8 = 3;
const CTRL_ATTR_FAMILY_ID: u16 = 1;
const CTRL_ATTR_FAMILY_NAME: u16 = 2;
const TASKSTATS_CMD_GET: u8 = 1;
const TASKSTATS_CMD_ATTR_REGISTER_CPUMASK: u16 = 3;
const TASKSTATS_CMD_ATTR_DEREGISTER_CPUMASK: u16 = 4;
const TASKSTATS_TYPE_PID: u16 = 1;
const TASKSTATS_TYPE_STATS: u16 = 3;
const TASKSTATS_TYPE_AGGR_PID: u16 = 4;
const NLMSG_ERROR: u16 = 2;
const NLA_F_MASK: u16 = 0x3fff;

// Offsets in struct taskstats (linux/taskstats.h), stable across versions.
const TS_VERSION: usize = 0;
const TS_HIWATER_RSS: usize = 200;
/// `ac_tgid`, from version 12 on.
const TS_AC_TGID: usize = 368;

/// A registered listener for the exit statistics of every task.
pub struct ExitStats {
    sock: OwnedFd,
    family: u16,
    cpus: String,
    seq: u32,
}

fn attr(out: &mut Vec<u8>, kind: u16, payload: &[u8]) {
    let len = 4 + payload.len();
    out.extend_from_slice(&(len as u16).to_ne_bytes());
    out.extend_from_slice(&kind.to_ne_bytes());
    out.extend_from_slice(payload);
    out.resize(out.len().next_multiple_of(4), 0);
}

/// Generic netlink attributes in `buf`: (type, payload).
fn attrs(mut buf: &[u8]) -> Vec<(u16, &[u8])> {
    let mut out = Vec::new();
    while buf.len() >= 4 {
        let len = u16::from_ne_bytes([buf[0], buf[1]]) as usize;
        let kind = u16::from_ne_bytes([buf[2], buf[3]]) & NLA_F_MASK;
        if len < 4 || len > buf.len() {
            break;
        }
        out.push((kind, &buf[4..len]));
        buf = &buf[len.next_multiple_of(4).min(buf.len())..];
    }
    out
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_ne_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// One taskstats record: (thread id, thread group id if the kernel says,
/// hiwater_rss in KiB).
fn record(stats: &[u8], tid: u32) -> Option<(u32, Option<u32>, u64)> {
    let version = u16::from_ne_bytes(stats.get(TS_VERSION..TS_VERSION + 2)?.try_into().ok()?);
    let tgid = if version >= 12 {
        u32_at(stats, TS_AC_TGID)
    } else {
        None
    };
    Some((tid, tgid, u64_at(stats, TS_HIWATER_RSS)?))
}

impl ExitStats {
    /// Open a generic netlink socket and register for the exit statistics
    /// of tasks on every CPU (needs CAP_NET_ADMIN and a kernel with
    /// CONFIG_TASKSTATS and CONFIG_TASK_XACCT).
    pub fn open() -> Result<ExitStats> {
        // SAFETY: plain socket(2); we own the descriptor returned.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::NETLINK_GENERIC,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error()).context("netlink socket");
        }
        // SAFETY: a fresh descriptor nobody else owns.
        let sock = unsafe { OwnedFd::from_raw_fd(fd) };
        // Every exit on the machine is queued until the next drain: room for
        // a busy moment.
        let size: libc::c_int = 16 << 20;
        // SAFETY: an int option with its size.
        unsafe {
            libc::setsockopt(
                sock.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVBUFFORCE,
                (&size as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as u32,
            )
        };
        let cpus = std::fs::read_to_string("/sys/devices/system/cpu/possible")
            .context("read /sys/devices/system/cpu/possible")?
            .trim()
            .to_string();
        let mut me = ExitStats {
            sock,
            family: 0,
            cpus,
            seq: 0,
        };
        let mut name = b"TASKSTATS".to_vec();
        name.push(0);
        let mut payload = Vec::new();
        attr(&mut payload, CTRL_ATTR_FAMILY_NAME, &name);
        let reply = me.request(GENL_ID_CTRL, CTRL_CMD_GETFAMILY, &payload)?;
        me.family = attrs(&reply)
            .into_iter()
            .find(|(k, _)| *k == CTRL_ATTR_FAMILY_ID)
            .and_then(|(_, v)| Some(u16::from_ne_bytes(v.get(..2)?.try_into().ok()?)))
            .context("no TASKSTATS generic netlink family")?;
        me.cpumask(TASKSTATS_CMD_ATTR_REGISTER_CPUMASK)?;
        Ok(me)
    }

    fn cpumask(&mut self, which: u16) -> Result<()> {
        let mut mask = self.cpus.clone().into_bytes();
        mask.push(0);
        let mut payload = Vec::new();
        attr(&mut payload, which, &mask);
        self.request(self.family, TASKSTATS_CMD_GET, &payload)
            .map(drop)
    }

    /// Send one request with NLM_F_ACK; the payload of the reply (after
    /// the genetlink header), empty for a bare acknowledgement.
    fn request(&mut self, family: u16, cmd: u8, payload: &[u8]) -> Result<Vec<u8>> {
        self.seq += 1;
        let mut msg = Vec::new();
        let len = 16 + 4 + payload.len();
        msg.extend_from_slice(&(len as u32).to_ne_bytes());
        msg.extend_from_slice(&family.to_ne_bytes());
        let flags = (libc::NLM_F_REQUEST | libc::NLM_F_ACK) as u16;
        msg.extend_from_slice(&flags.to_ne_bytes());
        msg.extend_from_slice(&self.seq.to_ne_bytes());
        msg.extend_from_slice(&0u32.to_ne_bytes());
        msg.extend_from_slice(&[cmd, 1, 0, 0]);
        msg.extend_from_slice(payload);
        // SAFETY: sends `msg.len()` bytes from a live buffer.
        let sent = unsafe { libc::send(self.sock.as_raw_fd(), msg.as_ptr().cast(), msg.len(), 0) };
        if sent < 0 {
            return Err(io::Error::last_os_error()).context("netlink send");
        }
        let mut reply = Vec::new();
        // Exit events of other tasks may come first: skip to our sequence
        // number; a data reply comes before its acknowledgement.
        loop {
            let buf = self.recv(0)?;
            for (kind, seq, body) in messages(&buf) {
                if seq != self.seq {
                    continue;
                }
                if kind == NLMSG_ERROR {
                    let errno = i32::from_ne_bytes(body.get(..4).context("short ack")?.try_into()?);
                    if errno != 0 {
                        return Err(io::Error::from_raw_os_error(-errno))
                            .context("taskstats request");
                    }
                    return Ok(reply);
                }
                reply = body.get(4..).unwrap_or_default().to_vec();
            }
        }
    }

    fn recv(&self, flags: i32) -> io::Result<Vec<u8>> {
        let mut buf = vec![0u8; 1 << 16];
        loop {
            // SAFETY: receives at most `buf.len()` bytes into a live buffer.
            let n = unsafe {
                libc::recv(
                    self.sock.as_raw_fd(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    flags,
                )
            };
            if n >= 0 {
                buf.truncate(n as usize);
                return Ok(buf);
            }
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::Interrupted {
                return Err(err);
            }
        }
    }

    /// Every record queued so far: (tid, tgid, hiwater_rss KiB).
    fn pending(&self) -> Result<Vec<(u32, Option<u32>, u64)>> {
        let mut out = Vec::new();
        loop {
            let buf = match self.recv(libc::MSG_DONTWAIT) {
                Ok(buf) => buf,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(out),
                // The queue overflowed: some records are lost.
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                    bail!("taskstats: records lost (receive queue full)")
                }
                Err(e) => return Err(e).context("taskstats recv"),
            };
            for (kind, _, body) in messages(&buf) {
                if kind != self.family || body.len() < 4 {
                    continue;
                }
                for (k, nested) in attrs(&body[4..]) {
                    if k != TASKSTATS_TYPE_AGGR_PID {
                        continue;
                    }
                    let inner = attrs(nested);
                    let tid = inner
                        .iter()
                        .find(|(k, _)| *k == TASKSTATS_TYPE_PID)
                        .and_then(|(_, v)| u32_at(v, 0));
                    let stats = inner.iter().find(|(k, _)| *k == TASKSTATS_TYPE_STATS);
                    if let (Some(tid), Some((_, stats))) = (tid, stats) {
                        out.extend(record(stats, tid));
                    }
                }
            }
        }
    }

    /// Forget what is queued (before a measured command starts).
    pub fn drain(&self) {
        let _ = self.pending();
    }

    /// The peak resident size in KiB of process `pid`, which has exited
    /// since the last drain: the largest hiwater_rss among its threads'
    /// exit records. The kernel queues them before the parent is told of
    /// the exit. None if no record came (lost in an overflow).
    pub fn peak_rss_kib(&self, pid: i32) -> Option<i64> {
        let pid = pid as u32;
        self.pending()
            .ok()?
            .into_iter()
            .filter(|(tid, tgid, _)| *tid == pid || *tgid == Some(pid))
            .map(|(_, _, kib)| kib as i64)
            .max()
    }
}

impl Drop for ExitStats {
    fn drop(&mut self) {
        let _ = self.cpumask(TASKSTATS_CMD_ATTR_DEREGISTER_CPUMASK);
    }
}

/// The netlink messages in one datagram: (type, sequence, body).
fn messages(mut buf: &[u8]) -> Vec<(u16, u32, &[u8])> {
    let mut out = Vec::new();
    while buf.len() >= 16 {
        let len = u32::from_ne_bytes(buf[0..4].try_into().unwrap_or_default()) as usize;
        if len < 16 || len > buf.len() {
            break;
        }
        let kind = u16::from_ne_bytes([buf[4], buf[5]]);
        let seq = u32::from_ne_bytes(buf[8..12].try_into().unwrap_or_default());
        out.push((kind, seq, &buf[16..len]));
        buf = &buf[len.next_multiple_of(4).min(buf.len())..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_round_trip_with_padding() {
        let mut buf = Vec::new();
        attr(&mut buf, 2, b"TASKSTATS\0");
        attr(&mut buf, 1, &7u16.to_ne_bytes());
        assert_eq!(buf.len() % 4, 0);
        let parsed = attrs(&buf);
        assert_eq!(parsed.len(), 2);
        assert_eq!(parsed[0], (2, &b"TASKSTATS\0"[..]));
        assert_eq!(parsed[1].0, 1);
    }

    #[test]
    fn record_reads_version_tgid_and_hiwater() {
        let mut stats = vec![0u8; 400];
        stats[TS_VERSION..TS_VERSION + 2].copy_from_slice(&13u16.to_ne_bytes());
        stats[TS_HIWATER_RSS..TS_HIWATER_RSS + 8].copy_from_slice(&3072u64.to_ne_bytes());
        stats[TS_AC_TGID..TS_AC_TGID + 4].copy_from_slice(&42u32.to_ne_bytes());
        assert_eq!(record(&stats, 43), Some((43, Some(42), 3072)));
        stats[TS_VERSION..TS_VERSION + 2].copy_from_slice(&11u16.to_ne_bytes());
        assert_eq!(record(&stats, 43), Some((43, None, 3072)));
    }
}
