//! `tinydocker login` and `logout`, with docker's config file and
//! messages; exit 1 on failure, as docker.

use std::io::{BufRead, IsTerminal, Write};

use super::pull::transport;
use anyhow::{anyhow, bail, Result};
use tinydocker_registry::login;

use crate::cli::{LoginArgs, LogoutArgs};

pub fn login(args: LoginArgs) -> Result<i32> {
    match log_in(args) {
        Ok(()) => {
            println!("Login Succeeded");
            Ok(0)
        }
        Err(e) => {
            eprintln!("tinydocker: {}", crate::errors::one_line(&e));
            Ok(1)
        }
    }
}

fn log_in(args: LoginArgs) -> Result<()> {
    let server = login::server_key(args.server.as_deref());
    let stdin = std::io::stdin();
    let interactive = stdin.is_terminal();
    let username = match args.username {
        Some(u) => u,
        None if interactive => prompt("Username: ", true)?,
        None => bail!("Cannot perform an interactive login from a non TTY device"),
    };
    let password = if args.password_stdin {
        let mut line = String::new();
        stdin.lock().read_line(&mut line)?;
        line.trim_end_matches(['\n', '\r']).to_string()
    } else if let Some(p) = args.password {
        eprintln!("WARNING! Using --password via the CLI is insecure. Use --password-stdin.");
        p
    } else if interactive {
        prompt("Password: ", false)?
    } else {
        bail!("Cannot perform an interactive login from a non TTY device");
    };
    if username.is_empty() || password.is_empty() {
        bail!("Error: Username and password are required");
    }
    login::check(&server, &username, &password, &transport()?).map_err(|e| anyhow!(e))?;
    login::store(&login::default_config(), &server, &username, &password).map_err(|e| anyhow!(e))
}

/// Read a line from the terminal; the password without echo.
fn prompt(text: &str, echo: bool) -> Result<String> {
    use nix::sys::termios::{tcgetattr, tcsetattr, LocalFlags, SetArg};
    eprint!("{text}");
    std::io::stderr().flush()?;
    let stdin = std::io::stdin();
    let saved = if echo {
        None
    } else {
        let saved = tcgetattr(&stdin)?;
        let mut quiet = saved.clone();
        quiet.local_flags.remove(LocalFlags::ECHO);
        tcsetattr(&stdin, SetArg::TCSANOW, &quiet)?;
        Some(saved)
    };
    let mut line = String::new();
    let read = stdin.lock().read_line(&mut line);
    if let Some(saved) = saved {
        let _ = tcsetattr(&stdin, SetArg::TCSANOW, &saved);
        eprintln!();
    }
    read?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}

pub fn logout(args: LogoutArgs) -> Result<i32> {
    let server = login::server_key(args.server.as_deref());
    match login::erase(&login::default_config(), &server) {
        Ok(true) => {
            println!("Removing login credentials for {server}");
            Ok(0)
        }
        Ok(false) => {
            println!("Not logged in to {server}");
            Ok(0)
        }
        Err(e) => {
            eprintln!("tinydocker: {e}");
            Ok(1)
        }
    }
}
