//! `--console-socket`: the master of a container's pseudo-terminal goes
//! to the caller over a unix socket (`SCM_RIGHTS`), as runc sends it.

use std::io::IoSlice;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;

use anyhow::{Context, Result};
use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};

/// Send `master` to the listener at `socket`.
pub fn send(socket: &Path, master: &OwnedFd) -> Result<()> {
    let stream = UnixStream::connect(socket)
        .with_context(|| format!("connect to the console socket {}", socket.display()))?;
    let fds = [master.as_raw_fd()];
    // runc names the message after the terminal; the shims read only the fd.
    let name = b"/dev/ptmx";
    sendmsg::<()>(
        stream.as_raw_fd(),
        &[IoSlice::new(name)],
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )
    .context("send the terminal to the console socket")?;
    Ok(())
}
