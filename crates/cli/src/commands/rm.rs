//! `tinydocker rm [-f] CONTAINER...`.

use anyhow::{bail, Context, Result};

use tinydocker_cgroups::{Layout, Manager};

use crate::cli::RmArgs;
use crate::state::{Observed, Root};

pub fn rm(root: &Root, args: RmArgs) -> Result<i32> {
    let mut failed = None;
    for key in &args.containers {
        match remove_one(root, key, args.force) {
            Ok(()) => println!("{key}"),
            Err(e) => {
                // Go on with the others, as docker does; report each failure.
                eprintln!("tinydocker: {}", crate::errors::one_line(&e));
                failed = Some(e);
            }
        }
    }
    match failed {
        Some(_) => Ok(crate::errors::USAGE),
        None => Ok(0),
    }
}

fn remove_one(root: &Root, key: &str, force: bool) -> Result<()> {
    let container = root.find(key)?;
    let Some(_lock) = container.lock()? else {
        bail!("No such container: {key}");
    };
    // Reread under the lock: the state may have changed meanwhile.
    let container = root.find(&container.config.id)?;
    if let Observed::Running { .. } = container.observe() {
        if !force {
            bail!(
                "cannot remove container \"{}\": container is running: stop the container before removing or force remove",
                container.config.name
            );
        }
        kill(container.state.pid, container.state.pid_start)
            .with_context(|| format!("kill container {}", container.config.name))?;
    }
    // Normally gone with the container; left behind when its runtime was
    // killed. Kill what is left in it and remove it.
    if let Some(cgroup) = container.cgroup(&Layout::detect()?) {
        cgroup
            .remove()
            .with_context(|| format!("remove cgroup {}", container.config.cgroup))?;
    }
    // Likewise its network side: veth, published ports, address.
    if let Some(net) = &container.config.net {
        crate::networks::release(
            &root.path,
            &container.config.id,
            net,
            crate::networks::Veth::Delete,
        )
        .with_context(|| format!("release the network of {}", container.config.name))?;
    }
    root.remove(&container)
}

/// SIGKILL the container's init through a pidfd (opened only after checking
/// the start time, so it cannot name a recycled pid), and wait for it to go.
fn kill(pid: i32, start: u64) -> Result<()> {
    // SAFETY: pidfd_open takes a pid and flags.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) } as i32;
    if fd < 0 {
        return Ok(()); // already gone
    }
    // SAFETY: fd is a pidfd we own from here on.
    let fd = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
    if crate::state::pid_start_time(pid) != Some(start) {
        return Ok(()); // the pid now belongs to another process
    }
    use std::os::fd::AsRawFd;
    // SAFETY: pidfd_send_signal on an open pidfd, no siginfo.
    unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            fd.as_raw_fd(),
            libc::SIGKILL,
            std::ptr::null::<libc::siginfo_t>(),
            0u32,
        )
    };
    // A pidfd polls readable when the process has exited.
    let mut pfd = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    unsafe { libc::poll(&mut pfd, 1, 10_000) };
    Ok(())
}
