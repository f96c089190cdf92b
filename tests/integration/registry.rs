//! Images to and from registries and archives, through the CLI, with real
//! peers: Debian's `docker-registry` on 127.0.0.1 (see
//! `tinydocker_tests::registry`), images made by `umoci` and copied by
//! `skopeo`, never by tinydocker's own code; what tinydocker pushes and
//! saves is read back by skopeo.

use std::process::Command;

use tinydocker_tests::registry::{image_of, make_image, push, run, Netns, Registry};
use tinydocker_tests::{busybox_rootfs, output, TempDir, TestRoot};

/// `skopeo inspect --raw` / `--config` JSON of a reference.
fn skopeo_json(args: &[&str], what: &str) -> serde_json::Value {
    let out = output(
        {
            let mut c = Command::new("skopeo");
            c.args(["inspect", "--tls-verify=false"])
                .args(args)
                .arg(what);
            c
        },
        None,
    );
    out.ok();
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{what}: {e}: {}", out.stdout))
}

/// A busybox image with a command, pushed by skopeo to `registry` as
/// `team/box:v1`; its name.
fn busybox_in(registry: &Registry, work: &TempDir) -> String {
    let layout = image_of(
        work.path(),
        busybox_rootfs(),
        &["--config.cmd", "echo", "--config.cmd", "from the registry"],
    );
    let name = format!("{}/team/box:v1", registry.addr);
    push(&layout, &name, "v2s2");
    name
}

#[test]
fn pull_run_tag_push_and_skopeo_reads_what_was_pushed() {
    let registry = Registry::start();
    let work = TempDir::new("push");
    let name = busybox_in(&registry, &work);
    let root = TestRoot::empty();
    root.run(&["pull", "-q", &name]).ok().stdout_is(&name);
    root.run(&["run", "--rm", "--pull", "never", &name])
        .ok()
        .stdout_is("from the registry");

    // To another repository of the same registry: the layer is mounted,
    // not sent again.
    let other = format!("{}/other/box:v2", registry.addr);
    root.run(&["tag", &name, &other]).ok();
    let out = root.run(&["push", &other]);
    out.ok();
    let lines = out.lines();
    assert_eq!(
        lines[0],
        format!(
            "The push refers to repository [{}/other/box]",
            registry.addr
        )
    );
    assert!(
        lines.iter().any(|l| l.ends_with(": Mounted from team/box")),
        "{out:?}"
    );
    let last = lines.last().unwrap();
    assert!(
        last.starts_with("v2: digest: sha256:") && last.contains(" size: "),
        "{last}"
    );
    // Again: the repository has everything.
    let again = root.run(&["push", &other]);
    again.ok();
    assert!(
        again
            .lines()
            .iter()
            .any(|l| l.ends_with(": Layer already exists")),
        "{again:?}"
    );

    // skopeo reads it: the same config (the image id) and layers.
    let pulled = skopeo_json(&["--config"], &format!("docker://{name}"));
    let pushed = skopeo_json(&["--config"], &format!("docker://{other}"));
    assert_eq!(pulled["rootfs"], pushed["rootfs"]);
    let id = root.run(&["images", "-q", "--no-trunc", &other]);
    id.ok();
    let raw = skopeo_json(&["--raw"], &format!("docker://{other}"));
    assert_eq!(raw["config"]["digest"].as_str().unwrap(), id.text());
    let copy = work.join("copy");
    run(Command::new("skopeo")
        .args(["copy", "-q", "--src-tls-verify=false"])
        .arg(format!("docker://{other}"))
        .arg(format!("oci:{}:x", copy.display())));

    // An imported image goes too (with a config written for it), and a
    // fresh root runs it from the registry.
    let mine = TestRoot::new();
    let imported = format!("{}/team/imported:latest", registry.addr);
    mine.run(&["tag", "busybox", &imported]).ok();
    mine.run(&["push", "-q", &imported])
        .ok()
        .stdout_is(&imported);
    // Its layer was kept as imported (a plain tar): pushed gzip-compressed,
    // as docker pushes it, and kept so from then on.
    let raw = skopeo_json(&["--raw"], &format!("docker://{imported}"));
    assert_eq!(
        raw["layers"][0]["mediaType"], "application/vnd.oci.image.layer.v1.tar+gzip",
        "{raw:#}"
    );
    let digest = raw["layers"][0]["digest"].as_str().unwrap();
    assert!(
        mine.path()
            .join("images/blobs/sha256")
            .join(digest.trim_start_matches("sha256:"))
            .is_file(),
        "the compressed archive is kept"
    );
    let again = mine.run(&["push", &imported]);
    again.ok();
    assert!(again.stdout.contains(": Layer already exists"), "{again:?}");
    let fresh = TestRoot::empty();
    fresh
        .run(&["run", "--rm", &imported, "echo", "imported"])
        .ok()
        .stdout_is("imported");

    // Every tag of a repository.
    let all = TestRoot::empty();
    root.run(&["tag", &name, &format!("{}/other/box:v3", registry.addr)])
        .ok();
    root.run(&["push", "-q", "-a", &format!("{}/other/box", registry.addr)])
        .ok();
    let pulled = all.run(&["pull", "-q", "-a", &format!("{}/other/box", registry.addr)]);
    pulled.ok();
    assert_eq!(
        pulled.lines(),
        [
            format!("{}/other/box:v2", registry.addr),
            format!("{}/other/box:v3", registry.addr)
        ]
    );

    // Nothing there to push: docker's line, exit 1.
    let missing = format!("{}/team/none:v1", registry.addr);
    let out = root.run(&["push", &missing]);
    out.code(1).stderr_has(&format!(
        "An image does not exist locally with the tag: {}/team/none",
        registry.addr
    ));
}

#[test]
fn save_then_skopeo_copies_then_load_keeps_the_image() {
    let registry = Registry::start();
    let work = TempDir::new("save");
    let name = busybox_in(&registry, &work);
    let root = TestRoot::empty();
    root.run(&["pull", "-q", &name]).ok();
    let id = root.run(&["images", "-q", "--no-trunc", &name]);
    id.ok();
    let id = id.text().to_string();
    let saved = work.join("saved.tar");
    root.run(&["save", "-o", saved.to_str().unwrap(), &name])
        .ok();

    // skopeo reads the archive both as a docker archive and as an OCI one,
    // and writes each form back.
    let docker = work.join("docker.tar");
    run(Command::new("skopeo")
        .args(["copy", "-q"])
        .arg(format!("docker-archive:{}", saved.display()))
        .arg(format!("docker-archive:{}:re/docker:x", docker.display())));
    let oci = work.join("oci.tar");
    run(Command::new("skopeo")
        .args(["copy", "-q"])
        .arg(format!("oci-archive:{}", saved.display()))
        .arg(format!("oci-archive:{}:re/oci:y", oci.display())));

    let fresh = TestRoot::empty();
    fresh
        .run(&["load", "-i", docker.to_str().unwrap()])
        .ok()
        .stdout_is("Loaded image: re/docker:x");
    let loaded = fresh.run(&["images", "-q", "--no-trunc", "re/docker:x"]);
    loaded.ok().stdout_is(&id);
    fresh
        .run(&["run", "--rm", "--pull", "never", "re/docker:x"])
        .ok()
        .stdout_is("from the registry");
    // skopeo names an OCI archive's image in its ref.name annotation (and
    // rewrote the config of this docker-form image as an OCI one).
    fresh
        .run(&["load", "-i", oci.to_str().unwrap()])
        .ok()
        .stdout_is("Loaded image: re/oci:y");
    fresh
        .run(&["run", "--rm", "--pull", "never", "re/oci:y"])
        .ok()
        .stdout_is("from the registry");
    // From standard input, and our own archive.
    let bytes = std::fs::read(&saved).unwrap();
    let third = TestRoot::empty();
    third
        .run_with_stdin(&["load"], &bytes)
        .ok()
        .stdout_is(&format!("Loaded image: {name}"));
    third
        .run(&["images", "-q", "--no-trunc", &name])
        .ok()
        .stdout_is(&id);

    // A cut-off archive: one line, exit 1, nothing in the store.
    let broken = TestRoot::empty();
    let out = broken.run_with_stdin(&["load"], &bytes[..bytes.len() / 2]);
    out.code(1).one_error_line();
    broken.run(&["images", "-q"]).ok().stdout_is("");
    let records = broken.path().join("images/records");
    assert!(
        !records.exists() || std::fs::read_dir(&records).unwrap().count() == 0,
        "a record was left"
    );
    let tmp = broken.path().join("images/tmp");
    assert!(
        !tmp.exists() || std::fs::read_dir(&tmp).unwrap().count() == 0,
        "scratch was left"
    );
    // Nothing to save.
    root.run(&[
        "save",
        "-o",
        work.join("x.tar").to_str().unwrap(),
        "nope:v1",
    ])
    .code(1)
    .stderr_has("No such image: nope:v1");
    assert!(!work.join("x.tar").exists());
}

/// `tinydocker --root ROOT ARGS...` with `$TINYDOCKER_CONFIG` set.
fn with_config(root: &TestRoot, config: &std::path::Path, args: &[&str]) -> tinydocker_tests::Out {
    let mut cmd = root.cmd(args);
    cmd.env("TINYDOCKER_CONFIG", config);
    output(cmd, None)
}

/// Registries at an address that is not loopback (in a network namespace
/// of the test's own): HTTPS verified against the CA of docker's
/// `certs.d/HOST:PORT/`, plain HTTP only when tinydocker's config lists
/// the registry as insecure.
#[test]
fn tls_with_the_ca_of_certs_d_and_insecure_registries_from_the_config() {
    let work = TempDir::new("tls");
    let _netns = Netns::enter();
    let secure = Registry::start_tls_at(Netns::IP);
    let plain = Registry::start_at(Netns::IP);
    let layout = make_image(work.path());
    let on_secure = format!("{}/team/app:v1", secure.addr);
    let on_plain = format!("{}/team/app:v1", plain.addr);
    push(&layout, &on_secure, "oci");
    push(&layout, &on_plain, "oci");

    let certs = work.join("certs.d");
    let config = work.join("config.json");
    std::fs::write(
        &config,
        format!("{{\"certs-dir\": \"{}\"}}", certs.display()),
    )
    .unwrap();
    let root = TestRoot::empty();
    // No CA for it: the certificate is refused.
    let out = with_config(&root, &config, &["pull", "-q", &on_secure]);
    out.code(1).one_error_line();
    assert!(out.stderr.to_lowercase().contains("certificate"), "{out:?}");
    // Its CA in certs.d: verified, pulled, and pushed back.
    let dir = certs.join(&secure.addr);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(secure.ca.as_ref().unwrap(), dir.join("ca.crt")).unwrap();
    with_config(&root, &config, &["pull", "-q", &on_secure])
        .ok()
        .stdout_is(&on_secure);
    let again = format!("{}/team/again:v2", secure.addr);
    root.run(&["tag", &on_secure, &again]).ok();
    with_config(&root, &config, &["push", "-q", &again])
        .ok()
        .stdout_is(&again);

    // Plain HTTP away from loopback: refused, unless the config says the
    // registry is insecure (here by CIDR).
    let out = with_config(&root, &config, &["pull", "-q", &on_plain]);
    out.code(1).one_error_line();
    std::fs::write(
        &config,
        format!(
            "{{\"certs-dir\": \"{}\", \"insecure-registries\": [\"192.0.2.0/24\"]}}",
            certs.display()
        ),
    )
    .unwrap();
    with_config(&root, &config, &["pull", "-q", &on_plain])
        .ok()
        .stdout_is(&on_plain);
    // A bad config is one line and exit 1, not a guess.
    std::fs::write(&config, "{\"insecure-registries\": 5}").unwrap();
    with_config(&root, &config, &["pull", "-q", &on_plain])
        .code(1)
        .stderr_has("insecure-registries: not a list");
}

/// On a terminal each layer has one line, redrawn in place with a bar
/// while it downloads; `Digest:` and `Status:` follow.
#[test]
fn pull_progress_on_a_terminal() {
    let registry = Registry::start();
    let work = TempDir::new("pull-tty");
    let name = busybox_in(&registry, &work);
    let root = TestRoot::empty();
    let mut term = super::exec::Terminal::open(30, 120);
    let session = term.spawn(&root, &["pull", &name]);
    let shown = term.wait_for("Status: Downloaded newer image");
    assert_eq!(term.finish(session), 0);
    assert!(shown.contains("v1: Pulling from "), "{shown:?}");
    assert!(shown.contains(": Pulling fs layer\r\n"), "{shown:?}");
    // Back up to the layer's line, cleared, rewritten.
    assert!(shown.contains("\x1b[1A\r\x1b[2K"), "{shown:?}");
    assert!(shown.contains(": Downloading [="), "{shown:?}");
    assert!(shown.contains(": Pull complete"), "{shown:?}");
}

/// `history`, `image inspect`, `rmi NAME@DIGEST` and `image prune [-a]`
/// on a pulled image and an imported one.
#[test]
fn history_inspect_rmi_by_digest_and_image_prune() {
    let registry = Registry::start();
    let work = TempDir::new("image-cmds");
    let name = busybox_in(&registry, &work);
    let root = TestRoot::new();
    root.run(&["pull", "-q", &name]).ok();
    // umoci's history: one step for the layer, one for the config.
    let history = root.run(&["history", &name]);
    history.ok();
    let lines = history.lines();
    assert!(lines[0].starts_with("IMAGE "), "{history:?}");
    assert!(lines.len() >= 2, "{history:?}");
    let id = root.run(&["images", "-q", &name]);
    id.ok();
    assert!(lines[1].starts_with(id.text()), "{history:?}");
    let quiet = root.run(&["history", "-q", &name]);
    quiet.ok();
    assert_eq!(quiet.lines()[0], id.text());

    let inspected = root.run(&["image", "inspect", &name]);
    inspected.ok();
    let v: serde_json::Value = serde_json::from_str(&inspected.stdout).unwrap();
    assert_eq!(v[0]["RepoTags"][0], name.as_str());
    let digest_name = v[0]["RepoDigests"][0].as_str().unwrap().to_string();
    assert!(digest_name.contains("@sha256:"), "{v:#}");
    assert_eq!(v[0]["Config"]["Cmd"][1], "from the registry");
    root.run(&["image", "inspect", "busybox", "nope:x"])
        .code(1)
        .stderr_has("No such image: nope:x");

    // By digest: that name goes, the tag stays.
    root.run(&["rmi", &digest_name])
        .ok()
        .stdout_is(&format!("Untagged: {digest_name}"));
    root.run(&["images", "-q", &name]).ok().stdout_is(id.text());

    // Its name moved to another image, it is dangling, and pruned; -a
    // takes unused named ones too, not one a container uses.
    root.run(&["tag", "busybox", &name]).ok();
    root.run(&["images", "-q", "--filter", "dangling=true"])
        .ok()
        .stdout_is(id.text());
    let pruned = root.run(&["image", "prune", "-f"]);
    pruned.ok();
    assert!(
        pruned.stdout.contains("Deleted Images:\n") && pruned.stdout.contains("deleted: sha256:"),
        "{pruned:?}"
    );
    root.run(&["run", "--name", "keeper", "busybox", "true"])
        .ok();
    root.run(&["tag", "busybox", "spare:v1"]).ok();
    root.run(&["image", "prune", "-a", "-f"])
        .ok()
        .stdout_is("Total reclaimed space: 0B");
    root.run(&["rm", "keeper"]).ok();
    let all = root.run(&["image", "prune", "-a", "-f"]);
    all.ok();
    assert!(all.stdout.contains("untagged: spare:v1"), "{all:?}");
    root.run(&["images", "-q"]).ok().stdout_is("");
    let blobs = root.path().join("images/blobs/sha256");
    assert!(
        !blobs.exists() || std::fs::read_dir(&blobs).unwrap().count() == 0,
        "blobs were left"
    );
}
