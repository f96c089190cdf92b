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
    #[error("send signal {signal} to process {pid}")]
    Kill {
        pid: i32,
        signal: i32,
        #[source]
        source: io::Error,
    },
}
