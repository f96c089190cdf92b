//! `run` flags: environment, working directory, volumes, stdin.

use std::fs;

use tinydocker_tests::{mounts_mentioning, output, TempDir, TestRoot};

#[test]
fn env_flags_set_variables() {
    let root = TestRoot::new();
    let mut cmd = root.cmd(&[
        "run",
        "--rm",
        "-e",
        "FOO=bar",
        "-e",
        "EMPTY=",
        "-e",
        "SPACED=a b=c",
        "-e",
        "PASSED",
        "-e",
        "UNSET_ON_HOST_XYZ",
        "--env",
        "HOME=/elsewhere",
        "busybox",
        "env",
    ]);
    cmd.env("PASSED", "from-host")
        .env_remove("UNSET_ON_HOST_XYZ");
    let out = output(cmd, None);
    out.ok();
    let env = out.lines();
    for want in [
        "FOO=bar",
        "EMPTY=",
        "SPACED=a b=c",
        "PASSED=from-host",
        "HOME=/elsewhere",
    ] {
        assert!(env.contains(&want), "{want} missing from {env:?}");
    }
    assert!(env.iter().any(|l| l.starts_with("PATH=/")), "{env:?}");
    assert!(env.iter().all(|l| !l.starts_with("UNSET_ON_HOST_XYZ")));
    assert_eq!(env.iter().filter(|l| l.starts_with("HOME=")).count(), 1);
}

#[test]
fn env_file_is_read_and_flags_override_it() {
    let root = TestRoot::new();
    let dir = TempDir::new("env-file");
    let file = dir.join("vars.env");
    fs::write(
        &file,
        "# a comment line\nA=1\n\nB=two words\n   # an indented comment\nX=from-file\n",
    )
    .unwrap();
    let out = root.run(&[
        "run",
        "--rm",
        "--env-file",
        &file.to_string_lossy(),
        "-e",
        "X=from-flag",
        "busybox",
        "env",
    ]);
    out.ok();
    let env = out.lines();
    for want in ["A=1", "B=two words", "X=from-flag"] {
        assert!(env.contains(&want), "{want} missing from {env:?}");
    }
    assert!(!env.contains(&"X=from-file"), "{env:?}");
    assert!(env.iter().all(|l| !l.contains('#')), "{env:?}");
}

#[test]
fn workdir_is_created_and_used() {
    let root = TestRoot::new();
    root.run(&[
        "run",
        "--rm",
        "-w",
        "/some/dir",
        "busybox",
        "sh",
        "-c",
        "pwd; test -d /some/dir && echo is-dir",
    ])
    .ok()
    .stdout_is("/some/dir\nis-dir");
    root.run(&["run", "--rm", "--workdir", "/tmp", "busybox", "pwd"])
        .ok()
        .stdout_is("/tmp");
    root.run(&["run", "--rm", "busybox", "pwd"])
        .ok()
        .stdout_is("/");
}

#[test]
fn volume_is_shared_with_the_host() {
    let root = TestRoot::new();
    let vol = TempDir::new("volume-rw");
    fs::write(vol.join("from-host"), "hello\n").unwrap();
    let spec = format!("{}:/mnt/deep/data", vol.path().display());
    root.run(&[
        "run",
        "--rm",
        "-v",
        &spec,
        "busybox",
        "sh",
        "-c",
        "cat /mnt/deep/data/from-host; echo inside > /mnt/deep/data/from-container",
    ])
    .ok()
    .stdout_is("hello");
    assert_eq!(
        fs::read_to_string(vol.join("from-container")).unwrap(),
        "inside\n"
    );
    assert_eq!(mounts_mentioning(vol.path()), Vec::<String>::new());

    // A single file can be a volume too.
    let file_spec = format!("{}:/etc/greeting", vol.join("from-host").display());
    root.run(&[
        "run",
        "--rm",
        "-v",
        &file_spec,
        "busybox",
        "cat",
        "/etc/greeting",
    ])
    .ok()
    .stdout_is("hello");
    root.assert_no_containers();
}

#[test]
fn read_only_volume_refuses_writes() {
    let root = TestRoot::new();
    let vol = TempDir::new("volume-ro");
    fs::write(vol.join("from-host"), "hello\n").unwrap();
    let spec = format!("{}:/data:ro", vol.path().display());
    root.run(&[
        "run",
        "--rm",
        "-v",
        &spec,
        "busybox",
        "sh",
        "-c",
        "if echo x > /data/new; then echo wrote; else echo refused; fi 2>/dev/null; \
         if rm /data/from-host; then echo removed; else echo kept; fi 2>/dev/null; \
         cat /data/from-host",
    ])
    .ok()
    .stdout_is("refused\nkept\nhello");
    assert!(!vol.join("new").exists());
    assert!(vol.join("from-host").exists());
    assert_eq!(mounts_mentioning(vol.path()), Vec::<String>::new());
}

#[test]
fn interactive_passes_stdin() {
    let root = TestRoot::new();
    root.run_with_stdin(&["run", "--rm", "-i", "busybox", "cat"], b"data\nmore\n")
        .ok()
        .stdout_is("data\nmore");
}

#[test]
fn stdin_is_dev_null_without_interactive() {
    let root = TestRoot::new();
    let out = root.run_with_stdin(&["run", "--rm", "busybox", "cat"], b"data\n");
    out.ok().stdout_is("");
    root.run_with_stdin(
        &[
            "run",
            "--rm",
            "busybox",
            "sh",
            "-c",
            "readlink /proc/self/fd/0",
        ],
        b"data\n",
    )
    .ok()
    .stdout_is("/dev/null");
}

#[test]
fn read_only_volume_is_read_only_all_the_way_down() {
    // A mount under the volume's source comes along with it (a recursive
    // bind) and must be read-only too.
    let root = TestRoot::new();
    let src = TempDir::new("ro-rec");
    let sub = src.join("sub");
    std::fs::create_dir(&sub).unwrap();
    let sub_c = std::ffi::CString::new(sub.to_str().unwrap()).unwrap();
    // SAFETY: valid C strings; a fresh tmpfs on our own temp directory.
    let rc = unsafe {
        libc::mount(
            c"tmpfs".as_ptr(),
            sub_c.as_ptr(),
            c"tmpfs".as_ptr(),
            0,
            std::ptr::null(),
        )
    };
    assert_eq!(rc, 0, "mount a tmpfs on {}", sub.display());
    struct Unmount(std::ffi::CString);
    impl Drop for Unmount {
        fn drop(&mut self) {
            // SAFETY: unmounts the tmpfs this test mounted.
            unsafe { libc::umount2(self.0.as_ptr(), libc::MNT_DETACH) };
        }
    }
    let _unmount = Unmount(sub_c);
    let volume = format!("{}:/data:ro", src.path().display());
    let out = root.run(&[
        "run", "--rm", "-v", &volume, "busybox", "sh", "-c",
        "touch /data/sub/escaped 2>/dev/null && echo written; touch /data/top 2>/dev/null && echo written; echo done",
    ]);
    out.ok().stdout_is("done");
    assert!(!sub.join("escaped").exists());
}
