//! `import --change 'INSTRUCTION ARGS'`: the Dockerfile instructions
//! docker's `import` and `commit` accept, applied to an image's config
//! (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, STOPSIGNAL, USER, VOLUME,
//! WORKDIR), with the Dockerfile's exec (JSON array) and shell forms and
//! its quoting of `KEY=VALUE` pairs. Variables are not substituted.

use anyhow::{anyhow, bail, Result};
use tinydocker_fs::ImageConfig;

/// Apply one `--change` to `config`.
pub fn apply(config: &mut ImageConfig, change: &str) -> Result<()> {
    let text = change.trim();
    let (word, rest) = match text.find(char::is_whitespace) {
        Some(at) => (&text[..at], text[at..].trim()),
        None => (text, ""),
    };
    let instruction = word.to_ascii_uppercase();
    let needs_args = || -> Result<()> {
        if rest.is_empty() {
            bail!("{instruction} requires at least one argument");
        }
        Ok(())
    };
    match instruction.as_str() {
        "CMD" => {
            needs_args()?;
            config.cmd = command(rest);
        }
        "ENTRYPOINT" => {
            needs_args()?;
            config.entrypoint = command(rest);
        }
        "ENV" => {
            needs_args()?;
            for (key, value) in name_values(&instruction, rest)? {
                // Replaced where it was, as a Dockerfile's ENV does.
                let entry = format!("{key}={value}");
                match config
                    .env
                    .iter_mut()
                    .find(|e| e.split_once('=').map_or(e.as_str(), |(k, _)| k) == key)
                {
                    Some(old) => *old = entry,
                    None => config.env.push(entry),
                }
            }
        }
        "LABEL" => {
            needs_args()?;
            for (key, value) in name_values(&instruction, rest)? {
                config.labels.insert(key, value);
            }
        }
        "EXPOSE" => {
            needs_args()?;
            for word in words(rest)? {
                for port in ports(&word)? {
                    if !config.exposed_ports.contains(&port) {
                        config.exposed_ports.push(port);
                    }
                }
            }
        }
        "STOPSIGNAL" => {
            needs_args()?;
            tinydocker_engine::parse_signal(rest)?;
            config.stop_signal = rest.to_string();
        }
        "USER" => {
            needs_args()?;
            config.user = rest.to_string();
        }
        "VOLUME" => {
            needs_args()?;
            let paths = match json_array(rest) {
                Some(paths) => paths,
                None => words(rest)?,
            };
            for path in paths {
                if path.is_empty() {
                    bail!("VOLUME specified can not be an empty string");
                }
                if !path.starts_with('/') {
                    bail!("VOLUME {path:?}: the path must be absolute");
                }
                if !config.volumes.contains(&path) {
                    config.volumes.push(path);
                }
            }
        }
        "WORKDIR" => {
            needs_args()?;
            // A relative WORKDIR is relative to the one before, as in a
            // Dockerfile.
            config.working_dir = if rest.starts_with('/') {
                rest.to_string()
            } else {
                format!("{}/{rest}", config.working_dir.trim_end_matches('/'))
            };
        }
        "" => bail!("--change: empty instruction"),
        "HEALTHCHECK" | "ONBUILD" => {
            bail!(
                "{} is not supported by tinydocker",
                word.to_ascii_lowercase()
            )
        }
        _ => bail!(
            "{} is not a valid change command",
            word.to_ascii_lowercase()
        ),
    }
    Ok(())
}

/// CMD and ENTRYPOINT: a JSON array of strings is the exec form; anything
/// else the shell form, run by `/bin/sh -c`.
fn command(rest: &str) -> Vec<String> {
    json_array(rest).unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into(), rest.to_string()])
}

/// `["a", "b"]`, when `text` is one (as the Dockerfile parser decides).
fn json_array(text: &str) -> Option<Vec<String>> {
    if !text.starts_with('[') {
        return None;
    }
    serde_json::from_str::<Vec<String>>(text).ok()
}

/// Words split at unquoted whitespace; quotes removed, `\` escapes the
/// next character (not within single quotes).
fn words(text: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some('"') | None, '\\') => {
                if let Some(next) = chars.next() {
                    word.push(next);
                }
                in_word = true;
            }
            (Some(_), c) => word.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if let Some(q) = quote {
        bail!("unmatched {q} in {text:?}");
    }
    if in_word {
        out.push(word);
    }
    Ok(out)
}

/// ENV and LABEL arguments: `KEY=VALUE ...` (values may be quoted), or
/// the older `KEY VALUE WITH SPACES`.
fn name_values(instruction: &str, rest: &str) -> Result<Vec<(String, String)>> {
    let first = rest.split_whitespace().next().unwrap_or_default();
    if !first.contains('=') {
        let (key, value) = rest
            .split_once(char::is_whitespace)
            .ok_or_else(|| anyhow!("{instruction} must have two arguments"))?;
        let value = words(value.trim())?.join(" ");
        return Ok(vec![(key.to_string(), value)]);
    }
    words(rest)?
        .into_iter()
        .map(|word| {
            let (key, value) = word.split_once('=').ok_or_else(|| {
                anyhow!("{instruction} {rest:?}: {word:?} is not KEY=VALUE (key names a value with '=')")
            })?;
            if key.is_empty() {
                bail!("{instruction} names can not be blank");
            }
            Ok((key.to_string(), value.to_string()))
        })
        .collect()
}

/// `PORT[/PROTO]` or `START-END[/PROTO]`, as `PORT/PROTO` entries.
fn ports(word: &str) -> Result<Vec<String>> {
    let (range, proto) = word.split_once('/').unwrap_or((word, "tcp"));
    let proto = proto.to_ascii_lowercase();
    if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        bail!("invalid proto: {proto}");
    }
    let port = |p: &str| {
        p.parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| anyhow!("invalid containerPort: {p}"))
    };
    let (start, end) = match range.split_once('-') {
        Some((a, b)) => (port(a)?, port(b)?),
        None => (port(range)?, port(range)?),
    };
    if end < start {
        bail!("invalid range specified for container port: {range}");
    }
    Ok((start..=end).map(|p| format!("{p}/{proto}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(changes: &[&str]) -> Result<ImageConfig> {
        let mut c = ImageConfig::default();
        for change in changes {
            apply(&mut c, change)?;
        }
        Ok(c)
    }

    #[test]
    fn commands_in_exec_and_shell_form() {
        let c = config(&[r#"CMD ["echo", "a b"]"#, "entrypoint /bin/run --fast"]).unwrap();
        assert_eq!(c.cmd, ["echo", "a b"]);
        assert_eq!(c.entrypoint, ["/bin/sh", "-c", "/bin/run --fast"]);
        // Not a JSON array of strings: the shell form.
        let c = config(&["CMD [1, 2]"]).unwrap();
        assert_eq!(c.cmd, ["/bin/sh", "-c", "[1, 2]"]);
    }

    #[test]
    fn env_and_labels() {
        let c = config(&[
            "ENV A=1 B=\"two words\" C='x y' D=a\\ b",
            "ENV E the rest of the line",
            "ENV A=3",
            r#"LABEL com.example.team="core team" version=2"#,
            "LABEL single value here",
        ])
        .unwrap();
        assert_eq!(
            c.env,
            [
                "A=3",
                "B=two words",
                "C=x y",
                "D=a b",
                "E=the rest of the line"
            ]
        );
        assert_eq!(c.labels["com.example.team"], "core team");
        assert_eq!(c.labels["version"], "2");
        assert_eq!(c.labels["single"], "value here");
        assert!(config(&["ENV A"]).is_err());
        assert!(config(&["ENV A=1 B"]).is_err());
        assert!(config(&["LABEL =x"]).is_err());
        assert!(config(&["LABEL a=\"open"]).is_err());
    }

    #[test]
    fn ports_signals_users_volumes_and_workdirs() {
        let c = config(&[
            "EXPOSE 80 53/udp 8000-8002/tcp 80/tcp",
            "STOPSIGNAL SIGUSR1",
            "USER 1000:1000",
            r#"VOLUME ["/data", "/var/log"]"#,
            "VOLUME /cache /data",
            "WORKDIR /srv",
            "WORKDIR app",
        ])
        .unwrap();
        assert_eq!(
            c.exposed_ports,
            ["80/tcp", "53/udp", "8000/tcp", "8001/tcp", "8002/tcp"]
        );
        assert_eq!(c.stop_signal, "SIGUSR1");
        assert_eq!(c.user, "1000:1000");
        assert_eq!(c.volumes, ["/data", "/var/log", "/cache"]);
        assert_eq!(c.working_dir, "/srv/app");
        assert_eq!(config(&["WORKDIR x"]).unwrap().working_dir, "/x");
        for bad in [
            "EXPOSE 0",
            "EXPOSE 70000",
            "EXPOSE 80/icmp",
            "EXPOSE 90-80",
            "STOPSIGNAL NOPE",
            "VOLUME data",
            r#"VOLUME [""]"#,
            "USER",
        ] {
            assert!(config(&[bad]).is_err(), "{bad}");
        }
    }

    #[test]
    fn other_instructions_are_refused() {
        let err = config(&["RUN echo hi"]).unwrap_err().to_string();
        assert_eq!(err, "run is not a valid change command");
        assert!(config(&["FROM busybox"]).is_err());
        assert!(config(&["ONBUILD RUN x"]).is_err());
        assert!(config(&[""]).is_err());
    }
}
