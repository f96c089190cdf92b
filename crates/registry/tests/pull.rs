//! Pulls from a real registry (see `tinydocker_tests::registry`): Debian's
//! `docker-registry` on 127.0.0.1, images made by `umoci`, `buildah` and
//! pushed by `skopeo`, not by our own code.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use tinydocker_fs::ImageStore;
use tinydocker_registry::{pull, Credentials, Platform, Progress, PullOptions};
use tinydocker_tests::registry::{
    buildah, docker_config, htpasswd_auth, make_image, push, run, Registry, TokenServer,
};

#[test]
fn pulls_oci_and_docker_manifests_with_whiteouts_into_the_store() {
    let registry = Registry::start();
    let work = tempfile::tempdir().unwrap();
    let layout = make_image(work.path());
    let oci = format!("{}/team/app:oci", registry.addr);
    let v2s2 = format!("{}/team/app:v2s2", registry.addr);
    push(&layout, &oci, "oci");
    push(&layout, &v2s2, "v2s2");

    let store = ImageStore::open(work.path().join("store")).unwrap();
    let events = Mutex::new(Vec::new());
    let record = |layer: &str, p: Progress| events.lock().unwrap().push((layer.to_string(), p));
    let pulled = pull(&store, &oci, &PullOptions::default(), &record).unwrap();
    assert_eq!(pulled.name, format!("{}/team/app:oci", registry.addr));
    assert!(pulled.digest.starts_with("sha256:"));
    let image = pulled.image;
    assert_eq!(image.layers.len(), 2);
    assert_eq!(image.config.cmd, ["/bin/sh"]);
    assert!(image.config.env.contains(&"FOO=bar".to_string()));
    assert_eq!(image.config.working_dir, "/etc");
    // The archives and the config, as they came, for push and save.
    assert_eq!(image.blobs.len(), 2);
    assert!(image.blobs.iter().all(|b| store.has_blob(&b.digest)));
    assert_eq!(image.config_blob.as_deref(), Some(image.id.as_str()));
    assert!(store.has_blob(&image.id));
    let lower = store.layer_path(&image.layers[0]);
    let upper = store.layer_path(&image.layers[1]);
    assert_eq!(
        std::fs::read(lower.join("etc/hostname")).unwrap(),
        b"pulled\n"
    );
    use std::os::unix::fs::FileTypeExt;
    let gone = std::fs::symlink_metadata(upper.join("etc/gone")).unwrap();
    assert!(
        gone.file_type().is_char_device(),
        "a whiteout in overlay form"
    );
    assert!(upper.join("etc/conf.d/new").exists());
    let events = events.into_inner().unwrap();
    assert!(events.iter().any(|(_, p)| *p == Progress::PullComplete));
    assert_eq!(
        events
            .iter()
            .filter(|(_, p)| *p == Progress::PullingFsLayer)
            .count(),
        2
    );

    // The same content in docker's manifest form: every layer is there.
    let seen = Mutex::new(Vec::new());
    let again = pull(&store, &v2s2, &PullOptions::default(), &|_: &str, p| {
        seen.lock().unwrap().push(p)
    })
    .unwrap();
    assert_eq!(again.image.layers, image.layers);
    assert_eq!(again.image.id, image.id, "the id is the config's digest");
    assert_eq!(
        seen.into_inner().unwrap(),
        [Progress::AlreadyExists, Progress::AlreadyExists]
    );
    let resolved = store
        .resolve(&format!("{}/team/app:v2s2", registry.addr))
        .unwrap();
    assert_eq!(resolved.id, image.id);
}

#[test]
fn a_missing_image_is_one_clear_error_and_records_nothing() {
    let registry = Registry::start();
    let work = tempfile::tempdir().unwrap();
    let store = ImageStore::open(work.path().join("store")).unwrap();
    let err = pull(
        &store,
        &format!("{}/no/such:thing", registry.addr),
        &PullOptions::default(),
        &|_: &str, _| {},
    )
    .unwrap_err()
    .to_string();
    assert_eq!(
        err,
        format!(
            "manifest for {}/no/such:thing not found: manifest unknown",
            registry.addr
        )
    );
    assert!(
        !work.path().join("store/records").exists()
            || std::fs::read_dir(work.path().join("store/records"))
                .unwrap()
                .count()
                == 0
    );
}

/// The largest gzip blob in a registry's storage: a layer.
fn largest_blob(root: &Path) -> PathBuf {
    let mut best: Option<(u64, PathBuf)> = None;
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            let meta = entry.metadata().unwrap();
            if meta.is_dir() {
                stack.push(path);
            } else if path.file_name().is_some_and(|n| n == "data")
                && std::fs::read(&path).unwrap().starts_with(&[0x1f, 0x8b])
                && best.as_ref().is_none_or(|(size, _)| meta.len() > *size)
            {
                best = Some((meta.len(), path));
            }
        }
    }
    best.expect("a blob").1
}

/// No image recorded, nothing half-unpacked; of the image's two layers,
/// at most the good one, verified and whole (docker keeps those too).
fn nothing_kept(store: &Path) {
    let layers = std::fs::read_dir(store.join("layers")).map_or(0, |d| d.count());
    assert!(layers < 2, "{layers} layers kept");
    for sub in ["records", "tmp"] {
        let dir = store.join(sub);
        let left: Vec<_> = std::fs::read_dir(&dir)
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        assert!(left.is_empty(), "{sub}: {left:?}");
    }
}

#[test]
fn a_corrupt_or_truncated_layer_leaves_nothing() {
    let registry = Registry::start();
    let work = tempfile::tempdir().unwrap();
    let layout = make_image(work.path());
    let name = format!("{}/team/bad:v1", registry.addr);
    push(&layout, &name, "oci");
    let blob = largest_blob(&registry.storage());
    let original = std::fs::read(&blob).unwrap();

    // One byte changed in the middle: the digest (or gzip's own check)
    // fails.
    let mut corrupt = original.clone();
    let mid = corrupt.len() / 2;
    corrupt[mid] ^= 0xff;
    std::fs::write(&blob, &corrupt).unwrap();
    let store_dir = work.path().join("store1");
    let store = ImageStore::open(&store_dir).unwrap();
    let err = pull(&store, &name, &PullOptions::default(), &|_: &str, _| {}).unwrap_err();
    assert!(err.to_string().starts_with("layer "), "{err}");
    nothing_kept(&store_dir);

    // Cut in half.
    std::fs::write(&blob, &original[..original.len() / 2]).unwrap();
    let store_dir = work.path().join("store2");
    let store = ImageStore::open(&store_dir).unwrap();
    assert!(pull(&store, &name, &PullOptions::default(), &|_: &str, _| {}).is_err());
    nothing_kept(&store_dir);

    // Whole again: the next pull finishes the job.
    std::fs::write(&blob, &original).unwrap();
    pull(&store, &name, &PullOptions::default(), &|_: &str, _| {}).unwrap();
    assert!(store.resolve(&name).is_ok());
}

#[test]
fn an_index_by_platform_with_arm64_listed_first_and_zstd_layers() {
    let registry = Registry::start();
    let work = tempfile::tempdir().unwrap();
    let layout = make_image(work.path());
    let image = format!("{}:img", layout.display());
    let arm = format!("{}:arm", layout.display());
    run(Command::new("umoci").args([
        "config",
        "--image",
        &image,
        "--tag",
        "arm",
        "--architecture",
        "arm64",
        "--config.cmd",
        "/bin/arm",
    ]));
    let list = format!("{}/team/multi:v1", registry.addr);
    run(buildah(work.path()).args(["manifest", "create", "multi"]));
    run(buildah(work.path())
        .args([
            "manifest",
            "add",
            "--arch",
            "arm64",
            "--os",
            "linux",
            "--variant",
            "v8",
            "multi",
        ])
        .arg(format!("oci:{arm}")));
    run(buildah(work.path())
        .args([
            "manifest", "add", "--arch", "amd64", "--os", "linux", "multi",
        ])
        .arg(format!("oci:{image}")));
    run(buildah(work.path())
        .args(["manifest", "push", "--all", "--tls-verify=false", "multi"])
        .arg(format!("docker://{list}")));

    let store = ImageStore::open(work.path().join("store")).unwrap();
    let amd64 = PullOptions {
        platform: Platform::parse("linux/amd64").unwrap(),
        ..PullOptions::default()
    };
    let pulled = pull(&store, &list, &amd64, &|_: &str, _| {}).unwrap();
    assert_eq!(pulled.image.config.cmd, ["/bin/sh"]);
    let arm64 = PullOptions {
        platform: Platform::parse("linux/arm64").unwrap(),
        ..PullOptions::default()
    };
    let pulled = pull(&store, &list, &arm64, &|_: &str, _| {}).unwrap();
    assert_eq!(pulled.image.config.cmd, ["/bin/arm"]);
    let s390x = PullOptions {
        platform: Platform::parse("linux/s390x").unwrap(),
        ..PullOptions::default()
    };
    let err = pull(&store, &list, &s390x, &|_: &str, _| {}).unwrap_err();
    assert_eq!(
        err.to_string(),
        "no matching manifest for linux/s390x in the manifest list entries"
    );

    // zstd: skopeo 1.9 keeps gzip when asked to recompress a compressed
    // layer, so through an uncompressed dir: first.
    let plain = work.path().join("plain");
    run(Command::new("skopeo")
        .args(["copy", "-q", "--dest-decompress"])
        .arg(format!("oci:{image}"))
        .arg(format!("dir:{}", plain.display())));
    // A registry of its own: skopeo's blob-info cache would otherwise
    // reuse the gzip blobs the first one has.
    let fresh_registry = Registry::start();
    let zstd = format!("{}/team/zstd:v1", fresh_registry.addr);
    run(Command::new("skopeo")
        .args([
            "copy",
            "-q",
            "--dest-tls-verify=false",
            "--dest-compress-format",
            "zstd",
        ])
        .arg(format!("dir:{}", plain.display()))
        .arg(format!("docker://{zstd}")));
    let raw = Command::new("skopeo")
        .args(["inspect", "--raw", "--tls-verify=false"])
        .arg(format!("docker://{zstd}"))
        .output()
        .unwrap();
    let raw = String::from_utf8_lossy(&raw.stdout);
    assert!(raw.contains("tar+zstd"), "not zstd layers: {raw}");
    let fresh = ImageStore::open(work.path().join("store-zstd")).unwrap();
    let pulled = pull(&fresh, &zstd, &PullOptions::default(), &|_: &str, _| {}).unwrap();
    let upper = fresh.layer_path(&pulled.image.layers[1]);
    assert!(upper.join("etc/conf.d/new").exists());
}

#[test]
fn basic_auth_with_the_credentials_of_dockers_config() {
    let registry = Registry::start_with(|dir| htpasswd_auth(dir, "tester", "s3cret"));
    let work = tempfile::tempdir().unwrap();
    let layout = make_image(work.path());
    let name = format!("{}/team/private:v1", registry.addr);
    run(Command::new("skopeo")
        .args([
            "copy",
            "-q",
            "--dest-tls-verify=false",
            "--dest-creds",
            "tester:s3cret",
        ])
        .arg(format!("oci:{}:img", layout.display()))
        .arg(format!("docker://{name}")));
    let store = ImageStore::open(work.path().join("store")).unwrap();
    let with = |config: Option<PathBuf>| PullOptions {
        credentials: Credentials::Config(config),
        ..PullOptions::default()
    };
    let none = work.path().join("no-config.json");
    let err = pull(&store, &name, &with(Some(none)), &|_: &str, _| {}).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "pull access denied for {}/team/private, repository does not exist or may require 'docker login'",
            registry.addr
        )
    );
    let wrong = docker_config(work.path(), &registry.addr, "tester", "wrong");
    assert!(pull(&store, &name, &with(Some(wrong)), &|_: &str, _| {}).is_err());
    let right = docker_config(work.path(), &registry.addr, "tester", "s3cret");
    let pulled = pull(&store, &name, &with(Some(right)), &|_: &str, _| {}).unwrap();
    assert_eq!(pulled.image.layers.len(), 2);
    // Given (a docker client's X-Registry-Auth through the service), and
    // none at all.
    let given = |password: &str| PullOptions {
        credentials: Credentials::Basic {
            username: "tester".into(),
            password: password.into(),
        },
        ..PullOptions::default()
    };
    assert!(pull(&store, &name, &given("wrong"), &|_: &str, _| {}).is_err());
    pull(&store, &name, &given("s3cret"), &|_: &str, _| {}).unwrap();
    let anonymous = PullOptions {
        credentials: Credentials::Anonymous,
        ..PullOptions::default()
    };
    assert!(pull(&store, &name, &anonymous, &|_: &str, _| {}).is_err());
    // What `login` checks before it keeps anything.
    use tinydocker_registry::login;
    login::check(&registry.addr, "tester", "s3cret", &Default::default()).unwrap();
    let err = login::check(&registry.addr, "tester", "nope", &Default::default()).unwrap_err();
    assert!(
        err.ends_with("unauthorized: incorrect username or password"),
        "{err}"
    );
}

#[test]
fn the_bearer_token_flow() {
    let work = tempfile::tempdir().unwrap();
    let tokens = TokenServer::start("tester", "t0ken-pw");
    let registry = Registry::start_with(|_| tokens.registry_auth());
    let layout = make_image(work.path());
    let name = format!("{}/team/tokened:v1", registry.addr);
    run(Command::new("skopeo")
        .args([
            "copy",
            "-q",
            "--dest-tls-verify=false",
            "--dest-creds",
            "tester:t0ken-pw",
        ])
        .arg(format!("oci:{}:img", layout.display()))
        .arg(format!("docker://{name}")));
    let store = ImageStore::open(work.path().join("store")).unwrap();
    let with = |config: PathBuf| PullOptions {
        credentials: Credentials::Config(Some(config)),
        ..PullOptions::default()
    };
    let anonymous = work.path().join("none.json");
    let err = pull(&store, &name, &with(anonymous), &|_: &str, _| {}).unwrap_err();
    assert!(
        err.to_string().starts_with("pull access denied for"),
        "{err}"
    );
    let right = docker_config(work.path(), &registry.addr, "tester", "t0ken-pw");
    let pulled = pull(&store, &name, &with(right), &|_: &str, _| {}).unwrap();
    assert_eq!(pulled.image.layers.len(), 2);
    use tinydocker_registry::login;
    login::check(&registry.addr, "tester", "t0ken-pw", &Default::default()).unwrap();
    assert!(login::check(&registry.addr, "tester", "nope", &Default::default()).is_err());
}

/// A TCP proxy to `upstream` that cuts, once, the first connection whose
/// answers pass `cut_after` bytes; it keeps what the clients sent.
struct CuttingProxy {
    addr: String,
    sent: std::sync::Arc<Mutex<Vec<u8>>>,
    cut: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

fn cutting_proxy(upstream: String, cut_after: usize) -> CuttingProxy {
    use std::io::{Read, Write};
    use std::net::{Shutdown, TcpListener, TcpStream};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let sent = Arc::new(Mutex::new(Vec::new()));
    let cut = Arc::new(AtomicBool::new(false));
    let (sent2, cut2) = (sent.clone(), cut.clone());
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let Ok(server) = TcpStream::connect(&upstream) else {
                continue;
            };
            let (mut c_in, mut s_out) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            let sent = sent2.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 16384];
                while let Ok(n) = c_in.read(&mut buf) {
                    if n == 0 || s_out.write_all(&buf[..n]).is_err() {
                        break;
                    }
                    sent.lock().unwrap().extend_from_slice(&buf[..n]);
                }
                let _ = s_out.shutdown(Shutdown::Write);
            });
            let cut = cut2.clone();
            std::thread::spawn(move || {
                let (mut s_in, mut c_out) = (server, client);
                let mut buf = [0u8; 16384];
                let mut passed = 0;
                while let Ok(n) = s_in.read(&mut buf) {
                    if n == 0 || c_out.write_all(&buf[..n]).is_err() {
                        break;
                    }
                    passed += n;
                    if passed > cut_after && !cut.swap(true, Ordering::SeqCst) {
                        let _ = c_out.shutdown(Shutdown::Both);
                        let _ = s_in.shutdown(Shutdown::Both);
                        return;
                    }
                }
                let _ = c_out.shutdown(Shutdown::Write);
            });
        }
    });
    CuttingProxy { addr, sent, cut }
}

#[test]
fn a_dropped_connection_resumes_with_a_range_request() {
    let registry = Registry::start();
    let work = tempfile::tempdir().unwrap();
    // 4 MiB that gzip cannot shrink, from a fixed seed.
    let rootfs = work.path().join("rootfs");
    std::fs::create_dir(&rootfs).unwrap();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let data: Vec<u8> = (0..4 << 20)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    std::fs::write(rootfs.join("noise"), &data).unwrap();
    let layout = tinydocker_tests::registry::image_of(work.path(), &rootfs, &[]);
    push(&layout, &format!("{}/team/big:v1", registry.addr), "oci");

    let proxy = cutting_proxy(registry.addr.clone(), 1 << 20);
    let name = format!("{}/team/big:v1", proxy.addr);
    let store = ImageStore::open(work.path().join("store")).unwrap();
    let pulled = pull(&store, &name, &PullOptions::default(), &|_: &str, _| {}).unwrap();
    assert!(
        proxy.cut.load(std::sync::atomic::Ordering::SeqCst),
        "never cut"
    );
    let sent = String::from_utf8_lossy(&proxy.sent.lock().unwrap()).to_lowercase();
    assert!(sent.contains("range: bytes="), "no range request");
    let layer = store.layer_path(&pulled.image.layers[0]);
    assert!(std::fs::read(layer.join("noise")).unwrap() == data);
}
