//! `tinydocker attach CONTAINER`: the output of a running container until
//! it exits, this process's stdin to the container's (taken from its
//! supervisor), and its exit code, as `docker attach`. With a terminal,
//! the keys are passed raw and the detach keys (ctrl-p,ctrl-q) leave the
//! container running; without, signals go on to the container
//! (`--sig-proxy`).

use std::io::{self, IsTerminal, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::sync::{Arc, OnceLock};

use anyhow::{bail, Result};
use tinydocker_engine::{Engine, Observed, Stream};
use tinydocker_ns::pty::{self, RawMode};
use tinydocker_ns::SignalForwarder;

use crate::cli::AttachArgs;

pub fn attach(engine: &Engine, args: AttachArgs) -> Result<i32> {
    let keys = parse_detach_keys(&args.detach_keys)?;
    let c = engine.container(&args.container)?;
    if !matches!(c.observe(), Observed::Running { .. }) {
        bail!("You cannot attach to a stopped container, start it first");
    }
    if c.state.paused {
        bail!("You cannot attach to a paused container, unpause it first");
    }
    let tty = c.spec().is_ok_and(tinydocker_engine::spec::terminal);
    let key = c.config.id.clone();
    let stdin = io::stdin();
    if tty && !args.no_stdin && c.config.interactive && !stdin.is_terminal() {
        bail!("the input device is not a TTY");
    }
    // Blocked before any thread starts, so every thread leaves them to
    // the signalfd.
    let signals = SignalForwarder::block()?;
    // Written when the detach keys are read: the output's wait ends.
    let (detached_r, detached_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    let detached_w = Arc::new(detached_w);
    let input = !args.no_stdin && c.config.interactive;
    let _raw = if tty && input {
        Some(RawMode::enter(stdin.as_fd())?)
    } else {
        None
    };
    // The container's stdin or terminal, taken in the background: a
    // container run in the foreground by another tinydocker has none to
    // give, and its output must not wait for that.
    let terminal: Arc<OnceLock<OwnedFd>> = Arc::default();
    if tty || input {
        let (engine, key, terminal) = (engine.clone(), key.clone(), terminal.clone());
        let detached = detached_w.clone();
        let keys = tty.then_some(keys);
        std::thread::spawn(move || {
            let Ok(Some(fd)) = engine.attach_stdin(&key, None) else {
                return;
            };
            if tty {
                if let Some(user) = pty::user_terminal() {
                    let _ = pty::copy_window_size(user, fd.as_fd());
                }
                let _ = fd.try_clone().map(|copy| terminal.set(copy));
            }
            if input {
                copy_stdin(fd, keys, &detached);
            }
        });
    }
    let proxy = args.sig_proxy && !tty;
    {
        let (engine, key) = (engine.clone(), key.clone());
        std::thread::spawn(move || relay_signals(&engine, &key, signals, &terminal, proxy));
    }
    let mut out = io::stdout().lock();
    let mut err = io::stderr().lock();
    engine.attach(
        &key,
        false,
        Some(detached_r.as_fd()),
        &mut |entry| match entry.stream {
            Stream::Stdout => out
                .write_all(entry.log.as_bytes())
                .and_then(|_| out.flush()),
            Stream::Stderr => err.write_all(entry.log.as_bytes()),
        },
    )?;
    let c = engine.container(&key)?;
    if matches!(c.observe(), Observed::Running { .. }) {
        // Detached (or the output ended with the container still up).
        return Ok(0);
    }
    Ok(engine.wait(&key)?)
}

/// Copy this process's stdin to the container's until its end (then the
/// container's copy is closed: with docker's StdinOnce, its end) or the
/// detach keys, which it tells through `detached`.
fn copy_stdin(to: OwnedFd, keys: Option<Vec<u8>>, detached: &OwnedFd) {
    let mut to = std::fs::File::from(to);
    let mut input = io::stdin().lock();
    let mut buf = [0u8; 4096];
    let mut matched = 0;
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let data = &buf[..n];
        if let Some(keys) = &keys {
            let (pass, done) = scan_detach(keys, &mut matched, data);
            if to.write_all(&pass).is_err() {
                return;
            }
            if done {
                let _ = nix::unistd::write(detached, b"d");
                return;
            }
            continue;
        }
        if to.write_all(data).is_err() {
            return;
        }
    }
}

/// The bytes of `data` to pass on, holding back what may begin the detach
/// sequence (`matched` of it seen so far); true once all of it was read.
fn scan_detach(keys: &[u8], matched: &mut usize, data: &[u8]) -> (Vec<u8>, bool) {
    let mut pass = Vec::with_capacity(data.len());
    for &b in data {
        if b == keys[*matched] {
            *matched += 1;
            if *matched == keys.len() {
                return (pass, true);
            }
        } else {
            // What was held back was not the sequence after all.
            pass.extend_from_slice(&keys[..*matched]);
            *matched = usize::from(b == keys[0]);
            if *matched == 0 {
                pass.push(b);
            }
        }
    }
    (pass, false)
}

/// Forward signals to the container (`--sig-proxy`, without a
/// terminal); with one, a resize of the user's terminal resizes the
/// container's.
fn relay_signals(
    engine: &Engine,
    key: &str,
    signals: SignalForwarder,
    terminal: &OnceLock<OwnedFd>,
    proxy: bool,
) {
    while let Ok(sig) = signals.next() {
        match sig {
            libc::SIGCHLD => {}
            libc::SIGWINCH => {
                if let (Some(master), Some(user)) = (terminal.get(), pty::user_terminal()) {
                    let _ = pty::copy_window_size(user, master.as_fd());
                }
            }
            sig if proxy => {
                let _ = engine.kill(key, sig);
            }
            // Not proxied: what a terminal's user means by it is in the
            // keys, passed raw.
            _ => {}
        }
    }
}

/// docker's `--detach-keys`: comma-separated keys, each `ctrl-X` (X a
/// letter or one of `@[\]^_`) or a single character.
pub fn parse_detach_keys(text: &str) -> Result<Vec<u8>> {
    let mut keys = Vec::new();
    for part in text.split(',') {
        let b = part.as_bytes();
        match b {
            [c] => keys.push(*c),
            [b'c', b't', b'r', b'l', b'-', c] => match c.to_ascii_lowercase() {
                l @ b'a'..=b'z' => keys.push(l - b'a' + 1),
                b'@' => keys.push(0),
                c @ (b'[' | b'\\' | b']' | b'^' | b'_') => keys.push(c - b'@'),
                _ => bail!("Unknown character: '{part}'"),
            },
            _ => bail!("Unknown character: '{part}'"),
        }
    }
    if keys.is_empty() {
        bail!("Unknown character: ''");
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detach_keys_parse_as_docker() {
        assert_eq!(parse_detach_keys("ctrl-p,ctrl-q").unwrap(), [16, 17]);
        assert_eq!(parse_detach_keys("a,ctrl-@,ctrl-[").unwrap(), [b'a', 0, 27]);
        assert!(parse_detach_keys("ctrl-1").is_err());
        assert!(parse_detach_keys("xy").is_err());
    }

    #[test]
    fn detach_keys_are_held_back_until_they_do_not_match() {
        let keys = [16, 17];
        let mut m = 0;
        assert_eq!(
            scan_detach(&keys, &mut m, b"ab\x10"),
            (b"ab".to_vec(), false)
        );
        assert_eq!(scan_detach(&keys, &mut m, b"c"), (b"\x10c".to_vec(), false));
        assert_eq!(
            scan_detach(&keys, &mut m, b"\x10\x10\x11"),
            (b"\x10".to_vec(), true)
        );
    }
}
