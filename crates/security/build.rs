//! Names the code that turns a seccomp profile into a program, so that the
//! filter cache (keyed without resolving the profile) is never stale after
//! the default profile or the compiler changes.

use std::hash::{Hash, Hasher};

fn main() {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    for file in [
        "src/seccomp/default.rs",
        "src/seccomp/profile.rs",
        "src/seccomp/resolve.rs",
        "src/seccomp/compile.rs",
        "src/caps.rs",
    ] {
        println!("cargo:rerun-if-changed={file}");
        let text = std::fs::read(file).unwrap_or_else(|e| panic!("read {file}: {e}"));
        text.hash(&mut hasher);
    }
    println!(
        "cargo:rustc-env=TD_SECCOMP_SOURCE_HASH={:016x}",
        hasher.finish()
    );
}
