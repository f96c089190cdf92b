//! `login` and `logout`: credentials checked against a registry (its
//! basic challenge, or its bearer-token realm), then kept as docker keeps
//! them — in the config's credential helper when it names one (`credHelpers`
//! for the registry, else `credsStore`), else base64 in `auths`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine as _;
use serde_json::{json, Map, Value};

/// docker's config file: `$DOCKER_CONFIG/config.json`, else
/// `~/.docker/config.json`.
pub fn default_config() -> PathBuf {
    match std::env::var_os("DOCKER_CONFIG") {
        Some(dir) => PathBuf::from(dir).join("config.json"),
        None => PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into()))
            .join(".docker/config.json"),
    }
}

/// The server a login names: `SERVER` as given, docker.io's index when
/// none is.
pub fn server_key(server: Option<&str>) -> String {
    match server {
        None | Some("docker.io" | "index.docker.io" | "registry-1.docker.io") => {
            "https://index.docker.io/v1/".into()
        }
        Some(s) => s
            .trim_start_matches("https://")
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string(),
    }
}

/// Check `user`/`password` against `server` (`HOST[:PORT]`).
pub fn check(
    server: &str,
    user: &str,
    password: &str,
    transport: &crate::Transport,
) -> Result<(), String> {
    let host = if server == "https://index.docker.io/v1/" {
        "registry-1.docker.io"
    } else {
        server
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let (client, base) = transport.http(host).await?;
        let url = format!("{base}/v2/");
        let failed = |e: reqwest::Error| format!("Get \"{url}\": {e}");
        let first = client.get(&url).send().await.map_err(failed)?;
        if first.status().is_success() {
            // Open to all: docker logs in all the same.
            return Ok(());
        }
        let challenge = first
            .headers()
            .get(reqwest::header::WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let answer = if let Some(params) = challenge.strip_prefix("Bearer ") {
            let param = |name: &str| {
                params.split(',').find_map(|p| {
                    let (k, v) = p.trim().split_once('=')?;
                    (k == name).then(|| v.trim_matches('"').to_string())
                })
            };
            let realm = param("realm").ok_or("the registry's challenge has no realm")?;
            let mut request = client.get(&realm).basic_auth(user, Some(password));
            if let Some(service) = param("service") {
                request = request.query(&[("service", service)]);
            }
            request.send().await.map_err(failed)?
        } else {
            client
                .get(&url)
                .basic_auth(user, Some(password))
                .send()
                .await
                .map_err(failed)?
        };
        if answer.status().is_success() {
            Ok(())
        } else {
            Err(format!(
                "Get \"{url}\": unauthorized: incorrect username or password"
            ))
        }
    })
}

fn read_config(path: &Path) -> Result<Map<String, Value>, String> {
    match std::fs::read(path) {
        Ok(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => Ok(Map::new()),
        Ok(bytes) => match serde_json::from_slice(&bytes) {
            Ok(Value::Object(map)) => Ok(map),
            _ => Err(format!("{}: not a JSON object", path.display())),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Map::new()),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

fn write_config(path: &Path, config: &Map<String, Value>) -> Result<(), String> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let text = serde_json::to_string_pretty(config).expect("a JSON map serialises");
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, text + "\n")
        .and_then(|()| {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))
        })
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// The helper the config names for `server`, if any.
fn helper(config: &Map<String, Value>, server: &str) -> Option<String> {
    config
        .get("credHelpers")
        .and_then(|h| h.get(server))
        .or_else(|| config.get("credsStore"))
        .and_then(Value::as_str)
        .filter(|h| !h.is_empty())
        .map(str::to_string)
}

fn run_helper(helper: &str, verb: &str, input: &str) -> Result<(), String> {
    let program = format!("docker-credential-{helper}");
    let mut child = Command::new(&program)
        .arg(verb)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{program}: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(input.as_bytes());
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("{program}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        let text = String::from_utf8_lossy(&out.stdout) + String::from_utf8_lossy(&out.stderr);
        Err(format!("{program} {verb}: {}", text.trim()))
    }
}

/// Keep the credentials for `server` in the config at `path`.
pub fn store(path: &Path, server: &str, user: &str, password: &str) -> Result<(), String> {
    let mut config = read_config(path)?;
    if let Some(helper) = helper(&config, server) {
        let input = json!({"ServerURL": server, "Username": user, "Secret": password});
        run_helper(&helper, "store", &input.to_string())?;
        // The helper holds the secret; `auths` only names the server.
        let auths = config.entry("auths").or_insert_with(|| json!({}));
        if let Some(auths) = auths.as_object_mut() {
            auths.insert(server.to_string(), json!({}));
        }
    } else {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        let auths = config.entry("auths").or_insert_with(|| json!({}));
        let Some(auths) = auths.as_object_mut() else {
            return Err(format!("{}: \"auths\" is not an object", path.display()));
        };
        auths.insert(server.to_string(), json!({ "auth": token }));
    }
    write_config(path, &config)
}

/// Forget the credentials for `server`; whether there were any.
pub fn erase(path: &Path, server: &str) -> Result<bool, String> {
    let mut config = read_config(path)?;
    let helper = helper(&config, server);
    let removed = config
        .get_mut("auths")
        .and_then(Value::as_object_mut)
        .and_then(|auths| auths.remove(server))
        .is_some();
    if let Some(helper) = helper {
        // A helper that has nothing for the server says so: not an error.
        let _ = run_helper(&helper, "erase", server);
    }
    if removed {
        write_config(path, &config)?;
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_and_erase_keep_the_rest_of_the_config() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/config.json");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(
            &path,
            r#"{"psFormat": "table {{.ID}}", "auths": {"other:5000": {"auth": "eDp5"}}}"#,
        )
        .unwrap();
        store(&path, "reg:5000", "u", "p").unwrap();
        let config = read_config(&path).unwrap();
        assert_eq!(config["auths"]["reg:5000"]["auth"], "dTpw");
        assert_eq!(config["auths"]["other:5000"]["auth"], "eDp5");
        assert_eq!(config["psFormat"], "table {{.ID}}");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert!(erase(&path, "reg:5000").unwrap());
        assert!(!erase(&path, "reg:5000").unwrap());
        let config = read_config(&path).unwrap();
        assert!(config["auths"].get("reg:5000").is_none());
        assert_eq!(server_key(None), "https://index.docker.io/v1/");
        assert_eq!(server_key(Some("http://reg:5000/")), "reg:5000");
    }
}

/// The credentials of a docker client's `X-Registry-Auth` header (what
/// it sends a daemon with a pull or push): base64 — URL-safe as docker's
/// client writes it, the standard alphabet and missing padding read too
/// — of `{"username", "password", "auth", "serveraddress", ...}`, `auth`
/// being base64 of `USER:PASSWORD` as in config.json. An empty header,
/// `{}` or no username: anonymous. An identity token alone (an OAuth
/// refresh token) is not used, as [`crate::Credentials::Config`] does not
/// use one: anonymous.
pub fn from_registry_auth(header: &str) -> Result<crate::Credentials, String> {
    use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
    let header = header.trim().trim_end_matches('=');
    if header.is_empty() {
        return Ok(crate::Credentials::Anonymous);
    }
    let bad = |why: String| format!("invalid X-Registry-Auth header: {why}");
    let json = URL_SAFE_NO_PAD
        .decode(header)
        .or_else(|_| STANDARD_NO_PAD.decode(header))
        .map_err(|e| bad(e.to_string()))?;
    let value: Value = serde_json::from_slice(&json).map_err(|e| bad(e.to_string()))?;
    let field = |name: &str| value[name].as_str().unwrap_or_default().to_string();
    let (mut username, mut password) = (field("username"), field("password"));
    if username.is_empty() {
        let auth = field("auth");
        if !auth.is_empty() {
            let pair = STANDARD_NO_PAD
                .decode(auth.trim_end_matches('='))
                .map_err(|e| bad(format!("auth: {e}")))?;
            let pair = String::from_utf8(pair).map_err(|e| bad(format!("auth: {e}")))?;
            let (u, p) = pair
                .split_once(':')
                .ok_or_else(|| bad("auth is not USER:PASSWORD".into()))?;
            (username, password) = (u.to_string(), p.to_string());
        }
    }
    Ok(if username.is_empty() {
        crate::Credentials::Anonymous
    } else {
        crate::Credentials::Basic { username, password }
    })
}

#[cfg(test)]
mod registry_auth_tests {
    use super::*;
    use crate::Credentials;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE};

    fn basic(c: Credentials) -> Option<(String, String)> {
        match c {
            Credentials::Basic { username, password } => Some((username, password)),
            _ => None,
        }
    }

    #[test]
    fn docker_clients_headers() {
        // docker's client: URL-safe base64 of the JSON, padded.
        let json = r#"{"username":"alice","password":"s3cr?t>>","serveraddress":"127.0.0.1:5000"}"#;
        let header = URL_SAFE.encode(json);
        assert_eq!(
            basic(from_registry_auth(&header).unwrap()),
            Some(("alice".into(), "s3cr?t>>".into()))
        );
        // The standard alphabet, and `auth` instead of the pair.
        let json = format!(r#"{{"auth":"{}"}}"#, STANDARD.encode("bob:pw:with:colons"));
        assert_eq!(
            basic(from_registry_auth(&STANDARD.encode(json)).unwrap()),
            Some(("bob".into(), "pw:with:colons".into()))
        );
        // Nothing to present.
        for header in [
            "",
            &URL_SAFE.encode("{}"),
            &URL_SAFE.encode(r#"{"identitytoken":"t"}"#),
        ] {
            assert!(matches!(
                from_registry_auth(header).unwrap(),
                Credentials::Anonymous
            ));
        }
        assert!(from_registry_auth("!!!")
            .unwrap_err()
            .contains("X-Registry-Auth"));
        assert!(from_registry_auth(&URL_SAFE.encode("not json")).is_err());
    }
}
