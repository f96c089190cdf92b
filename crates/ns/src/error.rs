use std::io;

/// Errors of the parent side of namespace creation and supervision.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("create the parent/child socketpair")]
    SocketPair(#[source] io::Error),
    #[error("clone the container process")]
    Clone(#[source] io::Error),
    #[error("send the start message to the container process")]
    SendGo(#[source] io::Error),
    #[error("read the container process's setup result")]
    ReadResult(#[source] io::Error),
    #[error("block signals for forwarding")]
    BlockSignals(#[source] io::Error),
    #[error("create a signalfd")]
    SignalFd(#[source] io::Error),
    #[error("read from the signalfd")]
    ReadSignal(#[source] io::Error),
    #[error("wait for process {pid}")]
    Wait {
        pid: i32,
        #[source]
        source: io::Error,
    },
    #[error("open {path}")]
    OpenPty {
        path: String,
        #[source]
        source: io::Error,
    },
    #[error("{path} is not a pseudo-terminal multiplexer (expected character device 5:2)")]
    NotPtmx { path: String },
    #[error("unlock the pseudo-terminal")]
    UnlockPty(#[source] io::Error),
    #[error("open the pseudo-terminal's peer")]
    OpenPtyPeer(#[source] io::Error),
    #[error("read the terminal's window size")]
    GetWindowSize(#[source] io::Error),
    #[error("set the pseudo-terminal's window size")]
    SetWindowSize(#[source] io::Error),
    #[error("read the terminal's settings")]
    GetTermios(#[source] io::Error),
    #[error("put the terminal in raw mode")]
    SetTermios(#[source] io::Error),
    #[error("make the pseudo-terminal non-blocking")]
    NonBlocking(#[source] io::Error),
    #[error("wait for terminal input or output")]
    Poll(#[source] io::Error),
    #[error("read the input")]
    ReadInput(#[source] io::Error),
    #[error("read the pseudo-terminal")]
    ReadPty(#[source] io::Error),
    #[error("write to the pseudo-terminal")]
    WritePty(#[source] io::Error),
    #[error("write the output")]
    WriteOutput(#[source] io::Error),
    #[error("send signal {signal} to process {pid}")]
    Kill {
        pid: i32,
        signal: i32,
        #[source]
        source: io::Error,
    },
}
