//! Images: import from a directory, a tarball or a gzip tarball; list;
//! remove, refused while a container uses the image.

use std::fs;

use tinydocker_tests::{busybox_rootfs, entries, make_busybox_rootfs, tarballs, TempDir, TestRoot};

/// The short id (12 hex digits) of a `sha256:<hex>` id.
fn short(id: &str) -> &str {
    &id["sha256:".len().."sha256:".len() + 12]
}

#[test]
fn tar_and_gzip_imports_give_the_same_image() {
    let root = TestRoot::new();
    let tmp = TempDir::new("import-formats");
    let (tar, gz) = tarballs(busybox_rootfs(), tmp.path());
    let magic = fs::read(&gz).unwrap();
    assert_eq!(&magic[..2], [0x1f, 0x8b], "not a gzip file");

    let out = root.run(&["import", &tar.to_string_lossy(), "plain:v1"]);
    out.ok();
    let id = out.text().to_string();
    assert!(id.starts_with("sha256:") && id.len() == 71, "{id:?}");
    root.run(&["import", &gz.to_string_lossy(), "gzipped"])
        .ok()
        .stdout_is(&id);

    let images = root.run(&["images"]);
    images.ok();
    for (repo, tag) in [
        ("busybox", "latest"),
        ("plain", "v1"),
        ("gzipped", "latest"),
    ] {
        assert!(
            images.lines().iter().any(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                f.len() >= 3 && f[0] == repo && f[1] == tag
            }),
            "{repo}:{tag} missing from images:\n{}",
            images.stdout
        );
    }
    assert!(
        images
            .lines()
            .iter()
            .any(|l| l.starts_with("gzipped ") && l.contains(short(&id))),
        "images:\n{}",
        images.stdout
    );
    // The temporary area of the store is left empty.
    assert_eq!(
        entries(&root.path().join("images/tmp")),
        Vec::<String>::new()
    );
    // The image runs whichever name it is run by.
    root.run(&["run", "--rm", "gzipped", "echo", "hi"])
        .ok()
        .stdout_is("hi");
    root.run(&["run", "--rm", "plain:v1", "cat", "/etc/passwd"])
        .ok()
        .stdout_is("root:x:0:0:root:/root:/bin/sh");
}

#[test]
fn the_same_directory_imported_twice_is_stored_once() {
    // Content addressing: the layer digest is the sha256 of the uncompressed
    // tar stream (the OCI "diff id"), so the same directory, packed the same
    // way, gives the same image. (A tarball of it made by another tool is a
    // different encoding and may get another id, as with OCI layers.)
    let root = TestRoot::new();
    root.run(&["import", &busybox_rootfs().to_string_lossy(), "again"])
        .ok()
        .stdout_is(&root.busybox_id);
    assert_eq!(root.layers().len(), 1, "the same content is stored once");
}

#[test]
fn images_lists_busybox() {
    let root = TestRoot::new();
    let out = root.run(&["images"]);
    out.ok();
    let lines = out.lines();
    assert_eq!(lines.len(), 2, "images:\n{}", out.stdout);
    assert!(lines[0].starts_with("REPOSITORY"), "{}", lines[0]);
    let f: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(&f[..2], ["busybox", "latest"], "{}", lines[1]);
    let hex = &root.busybox_id["sha256:".len()..];
    let quiet = root.run(&["images", "-q"]);
    quiet.ok();
    assert!(
        hex.starts_with(quiet.text().trim_start_matches("sha256:")),
        "images -q printed {:?} for {hex}",
        quiet.text()
    );
    // An empty store lists nothing but the header.
    let empty = TestRoot::empty();
    empty.run(&["images", "-q"]).ok().stdout_is("");
}

#[test]
fn rmi_refuses_an_image_in_use_and_force_untags_it() {
    let root = TestRoot::new();
    // A second, different image, so its layer is its own.
    let tmp = TempDir::new("rmi-rootfs");
    let rootfs = tmp.join("rootfs");
    make_busybox_rootfs(&rootfs);
    fs::write(rootfs.join("etc/other"), "other\n").unwrap();
    let out = root.run(&["import", &rootfs.to_string_lossy(), "other"]);
    out.ok();
    let other_id = out.text().to_string();
    assert_ne!(other_id, root.busybox_id);
    let all_layers = root.layers();
    assert_eq!(all_layers.len(), 2, "{all_layers:?}");

    // A container, exited but kept, uses it.
    root.run(&["run", "--name", "user", "other", "cat", "/etc/other"])
        .ok()
        .stdout_is("other");
    root.run(&["rmi", "other"]).usage_error();
    assert!(root.run(&["images"]).stdout.contains("other"));

    // -f takes the name away; the image stays for its container.
    root.run(&["rmi", "-f", "other"]).ok();
    let images = root.run(&["images"]);
    images.ok();
    assert!(
        !images.lines().iter().any(|l| l.starts_with("other ")),
        "images:\n{}",
        images.stdout
    );
    assert_eq!(root.layers(), all_layers);
    // --pull never: not looked for on docker.io.
    root.run(&["run", "--rm", "--pull", "never", "other", "true"])
        .usage_error();

    // Once the container is gone, the image can go, with its layer.
    root.run(&["rm", "user"]).ok();
    root.run(&["rmi", &other_id]).ok();
    let left = root.layers();
    assert_eq!(left.len(), 1, "{left:?}");
    let images = root.run(&["images"]);
    assert_eq!(images.lines().len(), 2, "images:\n{}", images.stdout);

    // busybox, unused, goes at once, and the store is empty.
    root.run(&["rmi", "busybox"]).ok();
    assert_eq!(root.layers(), Vec::<String>::new());
    root.run(&["images", "-q"]).ok().stdout_is("");
}
