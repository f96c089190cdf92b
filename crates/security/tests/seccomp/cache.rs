use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::time::{Duration, Instant};

use tinydocker_security::caps::CapSet;
use tinydocker_security::seccomp::{
    cache_file, compile, libseccomp_version, resolve, unknown_syscalls, Profile, Resolved,
};

fn default_resolved() -> Resolved {
    resolve(&Profile::docker_default(), &CapSet::default_set()).unwrap()
}

fn allow_all() -> Resolved {
    let profile = Profile::from_json(r#"{"defaultAction": "SCMP_ACT_ALLOW"}"#).unwrap();
    resolve(&profile, &CapSet::default_set()).unwrap()
}

#[test]
fn compiles_the_default_profile() {
    let resolved = default_resolved();
    let filter = compile(&resolved, None).unwrap();
    assert!(filter.len() > 100 && filter.len() <= 4096, "{filter:?}");
    assert_eq!(filter.flags(), 0);
    // The program ends in a return.
    let last = filter.instructions().last().unwrap();
    assert_eq!(last.code, (libc::BPF_RET | libc::BPF_K) as u16);
    // Same input, same program.
    assert_eq!(
        compile(&resolved, None).unwrap().to_bytes(),
        filter.to_bytes()
    );
    eprintln!(
        "default filter: {} rules, {} BPF instructions, libseccomp {}, unknown to it: {:?}",
        resolved.rules.len(),
        filter.len(),
        libseccomp_version().unwrap(),
        unknown_syscalls(&resolved)
    );
}

#[test]
fn second_compile_hits_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("nested/seccomp");
    let resolved = default_resolved();
    let fresh = compile(&resolved, None).unwrap().to_bytes();

    let first = compile(&resolved, Some(&cache)).unwrap();
    let file = cache_file(&resolved, &cache).unwrap();
    assert_eq!(first.to_bytes(), fresh);
    assert_eq!(fs::read(&file).unwrap(), fresh);
    assert_eq!(
        fs::metadata(&cache).unwrap().permissions().mode() & 0o777,
        0o700
    );
    assert_eq!(
        fs::read_dir(&cache).unwrap().count(),
        1,
        "no temp files left"
    );

    let second = compile(&resolved, Some(&cache)).unwrap();
    assert_eq!(second.to_bytes(), fresh);

    // Proof that the second compile read the file: plant another valid
    // program under the same name and get it back.
    let planted = compile(&allow_all(), None).unwrap().to_bytes();
    assert_ne!(planted, fresh);
    fs::write(&file, &planted).unwrap();
    assert_eq!(
        compile(&resolved, Some(&cache)).unwrap().to_bytes(),
        planted
    );
}

#[test]
fn corrupt_cache_files_are_recompiled() {
    let dir = tempfile::tempdir().unwrap();
    let resolved = default_resolved();
    let fresh = compile(&resolved, None).unwrap().to_bytes();
    let file = cache_file(&resolved, dir.path()).unwrap();
    for corrupt in [&b""[..], &fresh[..fresh.len() - 3], b"garbage"] {
        fs::write(&file, corrupt).unwrap();
        assert_eq!(
            compile(&resolved, Some(dir.path())).unwrap().to_bytes(),
            fresh
        );
        assert_eq!(fs::read(&file).unwrap(), fresh, "the file is repaired");
    }
}

#[test]
fn key_depends_on_the_rules() {
    let dir = tempfile::tempdir().unwrap();
    let base = default_resolved();
    let admin = resolve(&Profile::docker_default(), &CapSet::ALL).unwrap();
    assert_eq!(
        cache_file(&base, dir.path()).unwrap(),
        cache_file(&base.clone(), dir.path()).unwrap()
    );
    assert_ne!(
        cache_file(&base, dir.path()).unwrap(),
        cache_file(&admin, dir.path()).unwrap()
    );
    let name = cache_file(&base, dir.path()).unwrap();
    let name = name.file_name().unwrap().to_str().unwrap();
    assert!(name.len() == 64 + 4 && name.ends_with(".bpf"), "{name}");
}

#[test]
fn unreadable_cache_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let resolved = default_resolved();
    // A directory where the file should be.
    fs::create_dir(cache_file(&resolved, dir.path()).unwrap()).unwrap();
    let err = compile(&resolved, Some(dir.path()))
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("seccomp cache: read "), "{err}");
}

/// `compile` through `cache` must fail, naming `path`, and leave the
/// cache as it was.
#[track_caller]
fn refused(resolved: &Resolved, cache: &Path, path: &Path) {
    let before = listing(cache);
    let err = compile(resolved, Some(cache)).unwrap_err().to_string();
    assert!(
        err.starts_with("seccomp cache: ") && err.contains(&path.display().to_string()),
        "{err}"
    );
    assert_eq!(listing(cache), before, "the cache changed");
}

/// Names, modes and contents of the files in `dir`.
fn listing(dir: &Path) -> Vec<(String, u32, Vec<u8>)> {
    let mut out: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let meta = fs::symlink_metadata(e.path()).unwrap();
            let bytes = if meta.is_file() {
                fs::read(e.path()).unwrap()
            } else {
                Vec::new()
            };
            (
                e.file_name().to_string_lossy().into_owned(),
                meta.mode(),
                bytes,
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn a_cache_others_can_write_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("seccomp");
    let resolved = default_resolved();
    compile(&resolved, Some(&cache)).unwrap();
    let file = cache_file(&resolved, &cache).unwrap();
    // What the cache writes: a 0700 directory, a 0600 file.
    assert_eq!(fs::metadata(&file).unwrap().mode() & 0o7777, 0o600);
    // A valid program planted under the name: used only when trusted.
    let planted = compile(&allow_all(), None).unwrap().to_bytes();
    fs::write(&file, &planted).unwrap();

    // The directory writable by its group or by everyone.
    for mode in [0o777, 0o770, 0o702] {
        fs::set_permissions(&cache, fs::Permissions::from_mode(mode)).unwrap();
        refused(&resolved, &cache, &cache);
    }
    fs::set_permissions(&cache, fs::Permissions::from_mode(0o700)).unwrap();
    // The file writable by others.
    for mode in [0o666, 0o620, 0o602] {
        fs::set_permissions(&file, fs::Permissions::from_mode(mode)).unwrap();
        refused(&resolved, &cache, &file);
    }
    // The control: trusted again, the planted program is what comes back.
    fs::set_permissions(&file, fs::Permissions::from_mode(0o600)).unwrap();
    assert_eq!(
        compile(&resolved, Some(&cache)).unwrap().to_bytes(),
        planted
    );
}

#[test]
fn a_symlink_in_the_cache_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("seccomp");
    let resolved = default_resolved();
    let fresh = compile(&resolved, Some(&cache)).unwrap().to_bytes();
    let file = cache_file(&resolved, &cache).unwrap();
    // A link to a copy of the very same program: the link is refused, not
    // followed (its target could be anyone's).
    let copy = dir.path().join("elsewhere.bpf");
    fs::copy(&file, &copy).unwrap();
    fs::remove_file(&file).unwrap();
    std::os::unix::fs::symlink(&copy, &file).unwrap();
    refused(&resolved, &cache, &file);
    // A symlinked cache directory is no directory of the cache's own.
    let linked = dir.path().join("linked");
    std::os::unix::fs::symlink(&cache, &linked).unwrap();
    fs::remove_file(&file).unwrap();
    let err = compile(&resolved, Some(&linked)).unwrap_err().to_string();
    assert!(
        err.contains(&linked.display().to_string()),
        "a symlinked cache directory: {err}"
    );
    // The control: without the links, compiled and cached again.
    assert_eq!(compile(&resolved, Some(&cache)).unwrap().to_bytes(), fresh);
    assert!(fs::symlink_metadata(&file).unwrap().is_file());
}

#[test]
fn a_cache_of_another_user_is_refused() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("not root: chown to another user needs privileges, skipped");
        return;
    }
    let chown = |path: &Path, uid: u32| std::os::unix::fs::chown(path, Some(uid), Some(uid));
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("seccomp");
    let resolved = default_resolved();
    let fresh = compile(&resolved, Some(&cache)).unwrap().to_bytes();
    let file = cache_file(&resolved, &cache).unwrap();
    chown(&file, 65534).unwrap();
    refused(&resolved, &cache, &file);
    chown(&file, 0).unwrap();
    chown(&cache, 65534).unwrap();
    refused(&resolved, &cache, &cache);
    chown(&cache, 0).unwrap();
    assert_eq!(compile(&resolved, Some(&cache)).unwrap().to_bytes(), fresh);
}

#[test]
fn every_action_and_operator_compiles() {
    let profile = Profile::from_json(
        r#"{"defaultAction": "SCMP_ACT_KILL_PROCESS", "flags": ["SECCOMP_FILTER_FLAG_LOG"],
            "syscalls": [
              {"names": ["read", "no_such_syscall"], "action": "SCMP_ACT_ALLOW"},
              {"names": ["write"], "action": "SCMP_ACT_LOG"},
              {"names": ["close"], "action": "SCMP_ACT_TRAP"},
              {"names": ["dup"], "action": "SCMP_ACT_TRACE", "errnoRet": 9},
              {"names": ["dup2"], "action": "SCMP_ACT_KILL"},
              {"names": ["dup3"], "action": "SCMP_ACT_KILL_THREAD"},
              {"names": ["getpid"], "action": "SCMP_ACT_KILL_PROCESS"},
              {"names": ["ioctl"], "action": "SCMP_ACT_ERRNO", "errnoRet": 25, "args": [
                {"index": 1, "value": 21505, "op": "SCMP_CMP_EQ"},
                {"index": 2, "value": 0, "op": "SCMP_CMP_NE"}]},
              {"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [
                {"index": 0, "value": 10, "op": "SCMP_CMP_LE"},
                {"index": 0, "value": 16, "op": "SCMP_CMP_GE"}]},
              {"names": ["mmap"], "action": "SCMP_ACT_ALLOW", "args": [
                {"index": 2, "value": 4, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"},
                {"index": 1, "value": 4096, "op": "SCMP_CMP_LT"},
                {"index": 3, "value": 0, "op": "SCMP_CMP_GT"}]}
            ]}"#,
    )
    .unwrap();
    let resolved = resolve(&profile, &CapSet::default_set()).unwrap();
    assert_eq!(unknown_syscalls(&resolved), ["no_such_syscall"]);
    let filter = compile(&resolved, None).unwrap();
    assert_eq!(filter.flags(), libc::SECCOMP_FILTER_FLAG_LOG as u32);
    assert!(filter.len() > 10);
}

fn time<T>(runs: u32, mut f: impl FnMut() -> T) -> Duration {
    let start = Instant::now();
    for _ in 0..runs {
        std::hint::black_box(f());
    }
    start.elapsed() / runs
}

/// Prints the timings (`--nocapture`) and asserts nothing about them: no
/// test depends on timing. That a hit reads the file instead of running
/// libseccomp is `second_compile_hits_the_cache`'s (a planted program comes
/// back); here only that hits give what the compile gave.
#[test]
fn cache_hit_timings() {
    let dir = tempfile::tempdir().unwrap();
    let resolved = default_resolved();
    let fresh = compile(&resolved, None).unwrap().to_bytes();
    let miss = time(20, || compile(&resolved, None).unwrap());
    compile(&resolved, Some(dir.path())).unwrap();
    let hit = time(200, || {
        let bytes = compile(&resolved, Some(dir.path())).unwrap().to_bytes();
        assert_eq!(bytes, fresh);
    });
    let key = time(200, || cache_file(&resolved, dir.path()).unwrap());
    eprintln!("seccomp compile (miss): {miss:?}, cache hit: {hit:?}, of which key: {key:?}");
}

#[test]
fn keyed_cache_matches_the_resolved_compile_and_is_reused() {
    use tinydocker_security::seccomp::{compile_keyed, Error};
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("seccomp");
    // The same program as compiling the resolved default profile.
    let first = compile_keyed::<Error>(b"default", 0, &cache, || Ok(default_resolved())).unwrap();
    let plain = compile(&default_resolved(), None).unwrap();
    assert_eq!(first.to_bytes(), plain.to_bytes());
    let files: Vec<_> = fs::read_dir(&cache).unwrap().flatten().collect();
    assert_eq!(files.len(), 1);
    // A hit reads the file, and resolves nothing: plant another valid
    // program under its name.
    let planted = compile(&allow_all(), None).unwrap();
    fs::write(files[0].path(), planted.to_bytes()).unwrap();
    let again =
        compile_keyed::<Error>(b"default", 0, &cache, || panic!("resolved on a hit")).unwrap();
    assert_eq!(again.to_bytes(), planted.to_bytes());
    // Another key is another program.
    let custom = compile_keyed::<Error>(b"allow all", 0, &cache, || Ok(allow_all())).unwrap();
    assert_eq!(custom.to_bytes(), planted.to_bytes());
    assert_eq!(fs::read_dir(&cache).unwrap().count(), 2);
}
