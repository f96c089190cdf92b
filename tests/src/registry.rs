//! Real registries for the tests and the bench: Debian's `docker-registry`
//! (distribution 2.8) on 127.0.0.1 with private storage, started here and
//! stopped on drop; images made by `umoci`, `buildah` and pushed by
//! `skopeo`, never by tinydocker's own code; basic auth (htpasswd), a
//! token server (`fixtures/token_server.py`) and TLS with a test CA.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::TempDir;

/// A running `docker-registry`, killed on drop with its storage.
pub struct Registry {
    child: Child,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    /// The CA that signed its certificate, when it speaks TLS.
    pub ca: Option<PathBuf>,
    dir: TempDir,
}

impl Registry {
    /// Plain HTTP, anonymous.
    pub fn start() -> Registry {
        Registry::start_with(|_| String::new())
    }

    /// With more configuration (YAML under `http:`'s level), made from
    /// the registry's own directory.
    pub fn start_with(extra: impl FnOnce(&Path) -> String) -> Registry {
        Registry::launch("127.0.0.1", false, extra)
    }

    /// Plain HTTP on `ip` (of the calling thread's network namespace).
    pub fn start_at(ip: &str) -> Registry {
        Registry::launch(ip, false, |_| String::new())
    }

    /// HTTPS on `ip`, with a certificate for it signed by a fresh test CA
    /// ([`Registry::ca`]).
    pub fn start_tls_at(ip: &str) -> Registry {
        Registry::launch(ip, true, |_| String::new())
    }

    fn launch(ip: &str, tls: bool, extra: impl FnOnce(&Path) -> String) -> Registry {
        let dir = TempDir::new("registry");
        let extra = extra(dir.path());
        let port = TcpListener::bind((ip, 0))
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr = format!("{ip}:{port}");
        let (ca, tls_config) = if tls {
            let (ca, cert, key) = test_ca(dir.path(), ip);
            let yaml = format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                cert.display(),
                key.display()
            );
            (Some(ca), yaml)
        } else {
            (None, String::new())
        };
        let config = dir.join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {addr}\n{tls_config}{extra}",
                dir.join("data").display()
            ),
        )
        .unwrap();
        // Its stdout is the access log: a line per request.
        let log = std::fs::File::create(dir.join("access.log")).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdout(log)
            .stderr(Stdio::null())
            .spawn()
            .expect("docker-registry (apt-get install docker-registry)");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(&addr).is_err() {
            assert!(Instant::now() < deadline, "the registry never listened");
            std::thread::sleep(Duration::from_millis(20));
        }
        Registry {
            child,
            addr,
            ca,
            dir,
        }
    }

    /// Where the registry keeps its blobs and repositories.
    pub fn storage(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// The access log: one line per request, in the combined log format
    /// (`127.0.0.1 - - [date] "GET /v2/NAME/manifests/TAG HTTP/1.1" 200 ...`).
    pub fn access_log(&self) -> PathBuf {
        self.dir.join("access.log")
    }

    /// The registry's own directory (for files a test hands it).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A network namespace of the test's own that the calling thread (and so
/// every process it starts) is in until drop, with `lo` up and
/// [`Netns::IP`] on it: an address that is not loopback, for registries
/// that docker's rules do not call insecure. Dropped, the thread goes back
/// and the namespace is deleted.
pub struct Netns {
    name: String,
    original: std::fs::File,
}

impl Netns {
    /// A TEST-NET-1 address, routed nowhere else.
    pub const IP: &'static str = "192.0.2.10";

    pub fn enter() -> Netns {
        use std::os::fd::AsRawFd;
        static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("tdreg-{}-{n}", std::process::id());
        run(Command::new("ip").args(["netns", "add", &name]));
        let original = std::fs::File::open("/proc/thread-self/ns/net").unwrap();
        let netns = Netns { name, original };
        let target = std::fs::File::open(format!("/run/netns/{}", netns.name)).unwrap();
        // SAFETY: plain syscall on fds this function holds; it moves only
        // the calling thread.
        let rc = unsafe { libc::setns(target.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
        run(Command::new("ip").args(["link", "set", "lo", "up"]));
        run(Command::new("ip").args(["addr", "add", &format!("{}/32", Netns::IP), "dev", "lo"]));
        netns
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        use std::os::fd::AsRawFd;
        // SAFETY: as in `enter`.
        unsafe { libc::setns(self.original.as_raw_fd(), libc::CLONE_NEWNET) };
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// Run a command to success, or panic with its stderr.
pub fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA and a certificate for `ip` it signed, by openssl:
/// (ca.crt, server.crt, server.key).
fn test_ca(dir: &Path, ip: &str) -> (PathBuf, PathBuf, PathBuf) {
    let ca_key = dir.join("ca.key");
    let ca = dir.join("ca.crt");
    let key = dir.join("server.key");
    let csr = dir.join("server.csr");
    let cert = dir.join("server.crt");
    let ext = dir.join("server.ext");
    run(Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .args(["-subj", "/CN=tinydocker test CA"])
        .arg("-keyout")
        .arg(&ca_key)
        .arg("-out")
        .arg(&ca)
        .stderr(Stdio::null()));
    run(Command::new("openssl")
        .args(["req", "-newkey", "rsa:2048", "-nodes"])
        .arg("-subj")
        .arg(format!("/CN={ip}"))
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&csr)
        .stderr(Stdio::null()));
    std::fs::write(
        &ext,
        format!("subjectAltName=IP:{ip}\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n"),
    )
    .unwrap();
    run(Command::new("openssl")
        .args(["x509", "-req", "-days", "2", "-CAcreateserial"])
        .arg("-in")
        .arg(&csr)
        .arg("-CA")
        .arg(&ca)
        .arg("-CAkey")
        .arg(&ca_key)
        .arg("-extfile")
        .arg(&ext)
        .arg("-out")
        .arg(&cert)
        .stderr(Stdio::null()));
    (ca, cert, key)
}

/// An OCI layout with image `img`: a first layer of files, a second that
/// deletes one of them and makes a directory opaque; Cmd `/bin/sh`, Env
/// `FOO=bar`, WorkingDir `/etc`.
pub fn make_image(dir: &Path) -> PathBuf {
    let layout = dir.join("layout");
    let bundle = dir.join("bundle");
    run(Command::new("umoci")
        .arg("init")
        .arg("--layout")
        .arg(&layout));
    let image = format!("{}:img", layout.display());
    run(Command::new("umoci").args(["new", "--image", &image]));
    run(Command::new("umoci")
        .args(["unpack", "--image", &image])
        .arg(&bundle));
    let rootfs = bundle.join("rootfs");
    std::fs::create_dir_all(rootfs.join("etc/conf.d")).unwrap();
    std::fs::write(rootfs.join("etc/hostname"), b"pulled\n").unwrap();
    std::fs::write(rootfs.join("etc/gone"), b"x").unwrap();
    std::fs::write(rootfs.join("etc/conf.d/old"), b"x").unwrap();
    run(Command::new("umoci")
        .args(["repack", "--image", &image])
        .arg(&bundle));
    // The second layer, from the first image unpacked afresh.
    std::fs::remove_dir_all(&bundle).unwrap();
    run(Command::new("umoci")
        .args(["unpack", "--image", &image])
        .arg(&bundle));
    std::fs::remove_file(rootfs.join("etc/gone")).unwrap();
    std::fs::remove_dir_all(rootfs.join("etc/conf.d")).unwrap();
    std::fs::create_dir(rootfs.join("etc/conf.d")).unwrap();
    std::fs::write(rootfs.join("etc/conf.d/new"), b"y").unwrap();
    run(Command::new("umoci")
        .args(["repack", "--image", &image])
        .arg(&bundle));
    run(Command::new("umoci").args([
        "config",
        "--image",
        &image,
        "--config.cmd",
        "/bin/sh",
        "--config.env",
        "FOO=bar",
        "--config.workingdir",
        "/etc",
    ]));
    layout
}

/// An OCI layout with image `img` whose one layer is the directory
/// `rootfs` (e.g. a busybox root), with `config` (umoci's `--config.*`
/// flags) applied.
pub fn image_of(dir: &Path, rootfs: &Path, config: &[&str]) -> PathBuf {
    let layout = dir.join("layout");
    let bundle = dir.join("bundle");
    run(Command::new("umoci")
        .arg("init")
        .arg("--layout")
        .arg(&layout));
    let image = format!("{}:img", layout.display());
    run(Command::new("umoci").args(["new", "--image", &image]));
    run(Command::new("umoci")
        .args(["unpack", "--image", &image])
        .arg(&bundle));
    run(Command::new("cp")
        .arg("-a")
        .arg(format!("{}/.", rootfs.display()))
        .arg(bundle.join("rootfs")));
    run(Command::new("umoci")
        .args(["repack", "--image", &image])
        .arg(&bundle));
    if !config.is_empty() {
        run(Command::new("umoci")
            .args(["config", "--image", &image])
            .args(config));
    }
    let _ = std::fs::remove_dir_all(&bundle);
    layout
}

/// `skopeo copy` of the layout's `img` to `docker://DEST` in `format`
/// (`oci` or `v2s2`).
pub fn push(layout: &Path, dest: &str, format: &str) {
    run(Command::new("skopeo")
        .args(["copy", "-q", "--dest-tls-verify=false", "--format", format])
        .arg(format!("oci:{}:img", layout.display()))
        .arg(format!("docker://{dest}")));
}

/// buildah with private storage under `dir`, for manifest lists.
pub fn buildah(dir: &Path) -> Command {
    let mut cmd = Command::new("buildah");
    cmd.arg("--root")
        .arg(dir.join("storage"))
        .arg("--runroot")
        .arg(dir.join("run"))
        .args(["--storage-driver", "vfs"]);
    cmd
}

/// A bcrypt htpasswd line, made by the system's crypt(3) through Python.
pub fn htpasswd(user: &str, password: &str) -> String {
    let out = Command::new("python3")
        .args([
            "-c",
            "import crypt,sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH)))",
            password,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    format!("{user}:{}", String::from_utf8_lossy(&out.stdout).trim())
}

/// The registry configuration for basic auth of `user`/`password`.
pub fn htpasswd_auth(dir: &Path, user: &str, password: &str) -> String {
    let file = dir.join("htpasswd");
    std::fs::write(&file, htpasswd(user, password) + "\n").unwrap();
    format!(
        "auth:\n  htpasswd:\n    realm: test\n    path: {}\n",
        file.display()
    )
}

/// A docker `config.json` in `dir` whose `auths` has `user:password` for
/// `registry`.
pub fn docker_config(dir: &Path, registry: &str, user: &str, password: &str) -> PathBuf {
    let token = base64(format!("{user}:{password}").as_bytes());
    let path = dir.join(format!("config-{password}.json"));
    std::fs::write(
        &path,
        format!("{{\"auths\": {{\"{registry}\": {{\"auth\": \"{token}\"}}}}}}"),
    )
    .unwrap();
    path
}

/// Standard base64 with padding.
fn base64(data: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The token server of `fixtures/token_server.py`, killed on drop.
pub struct TokenServer {
    child: Child,
    /// Its `http://127.0.0.1:PORT/token`.
    pub realm: String,
    /// The certificate its tokens are signed for.
    pub cert: PathBuf,
    _dir: TempDir,
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl TokenServer {
    /// A token server for `user`/`password`, issuer `test-issuer`, with a
    /// fresh RS256 key and self-signed certificate.
    pub fn start(user: &str, password: &str) -> TokenServer {
        let dir = TempDir::new("token-server");
        let key = dir.join("token.key");
        let cert = dir.join("token.crt");
        run(Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            ])
            .args(["-subj", "/CN=tinydocker-test-token"])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .stderr(Stdio::null()));
        let port_file = dir.join("token.port");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/token_server.py");
        let child = Command::new("/usr/bin/python3")
            .arg(script)
            .arg(&port_file)
            .arg(&key)
            .arg(&cert)
            .args([user, password, "test-issuer"])
            .stdout(Stdio::null())
            .spawn()
            .expect("python3 with python3-jwt");
        let deadline = Instant::now() + Duration::from_secs(20);
        let port = loop {
            if let Ok(port) = std::fs::read_to_string(&port_file) {
                if !port.is_empty() {
                    break port;
                }
            }
            assert!(Instant::now() < deadline, "the token server never started");
            std::thread::sleep(Duration::from_millis(20));
        };
        TokenServer {
            child,
            realm: format!("http://127.0.0.1:{}/token", port.trim()),
            cert,
            _dir: dir,
        }
    }

    /// The registry configuration that sends clients here for tokens.
    pub fn registry_auth(&self) -> String {
        format!(
            "auth:\n  token:\n    realm: {}\n    service: test-registry\n    issuer: test-issuer\n    rootcertbundle: {}\n",
            self.realm,
            self.cert.display()
        )
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_pads_as_the_standard_says() {
        assert_eq!(super::base64(b"tester:s3cret"), "dGVzdGVyOnMzY3JldA==");
        assert_eq!(super::base64(b"ab"), "YWI=");
        assert_eq!(super::base64(b"abc"), "YWJj");
    }
}
