//! `--tmpfs PATH[:OPTIONS]` and `--ulimit NAME=SOFT[:HARD]`, checked as
//! docker checks them, and what they become in the spec.

use anyhow::{anyhow, bail, Result};
use oci_spec::runtime::{Mount, PosixRlimit, PosixRlimitBuilder, PosixRlimitType};

/// A tmpfs mounted at `target`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tmpfs {
    pub target: String,
    /// docker's defaults (`noexec,nosuid,nodev`) with the user's over
    /// them: a later option replaces one it contradicts (`exec` the
    /// default `noexec`, `size=` an earlier `size=`).
    pub options: Vec<String>,
    /// The options as given, for `inspect`'s HostConfig.Tmpfs.
    pub given: String,
}

/// `--tmpfs PATH[:OPTIONS]`.
pub fn parse_tmpfs(arg: &str) -> Result<Tmpfs> {
    let (target, given) = arg.split_once(':').unwrap_or((arg, ""));
    if !target.starts_with('/') {
        bail!("--tmpfs {arg:?}: the path must be absolute");
    }
    let target = normalise(target);
    if target == "/" {
        bail!("--tmpfs {arg:?}: cannot mount a tmpfs over /");
    }
    let mut options: Vec<String> = ["noexec", "nosuid", "nodev"].map(String::from).into();
    for option in given.split(',').filter(|o| !o.is_empty()) {
        let key = option_key(option)
            .ok_or_else(|| anyhow!("--tmpfs {arg:?}: unknown mount option {option:?}"))?;
        options.retain(|o| option_key(o) != Some(key));
        options.push(option.to_string());
    }
    Ok(Tmpfs {
        target,
        options,
        given: given.to_string(),
    })
}

/// The path without repeated or trailing slashes.
fn normalise(path: &str) -> String {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    format!("/{}", parts.join("/"))
}

/// What an option sets: the flag a pair (`exec`/`noexec`) shares, or a
/// data option's key (`size`, `mode`, ...); `None` for an option tmpfs
/// does not take.
fn option_key(option: &str) -> Option<&str> {
    const PAIRS: &[(&str, &str)] = &[
        ("exec", "noexec"),
        ("suid", "nosuid"),
        ("dev", "nodev"),
        ("rw", "ro"),
        ("atime", "noatime"),
        ("diratime", "nodiratime"),
        ("relatime", "norelatime"),
        ("strictatime", "nostrictatime"),
        ("sync", "async"),
        ("dirsync", "dirsync"),
        ("mand", "nomand"),
    ];
    const DATA: &[&str] = &["size", "nr_blocks", "nr_inodes", "mode", "uid", "gid"];
    if let Some((key, value)) = option.split_once('=') {
        return (DATA.contains(&key) && !value.is_empty()).then_some(key);
    }
    PAIRS
        .iter()
        .find(|(on, off)| option == *on || option == *off)
        .map(|(on, _)| *on)
}

impl Tmpfs {
    /// The spec's mount.
    pub fn to_mount(&self) -> Mount {
        let options: Vec<&str> = self.options.iter().map(String::as_str).collect();
        tinydocker_engine::spec::defaults::mount("tmpfs", "tmpfs", &self.target, &options)
    }
}

/// The resources docker's `--ulimit` names, and their `RLIMIT_*` names.
const ULIMITS: &[&str] = &[
    "as",
    "core",
    "cpu",
    "data",
    "fsize",
    "locks",
    "memlock",
    "msgqueue",
    "nice",
    "nofile",
    "nproc",
    "rss",
    "rtprio",
    "rttime",
    "sigpending",
    "stack",
];

/// A resource limit: `soft` and `hard`, `u64::MAX` for unlimited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ulimit {
    pub name: String,
    pub soft: u64,
    pub hard: u64,
}

/// `--ulimit NAME=SOFT[:HARD]` (the hard limit is the soft one when not
/// given; -1 or `unlimited` for no limit).
pub fn parse_ulimit(arg: &str) -> Result<Ulimit> {
    let (name, values) = arg
        .split_once('=')
        .ok_or_else(|| anyhow!("--ulimit {arg:?}: expected NAME=SOFT[:HARD]"))?;
    if !ULIMITS.contains(&name) {
        bail!(
            "--ulimit {arg:?}: invalid ulimit type {name:?} (one of {})",
            ULIMITS.join(", ")
        );
    }
    let (soft, hard) = values.split_once(':').unwrap_or((values, values));
    let value = |v: &str| -> Result<u64> {
        match v {
            "-1" | "unlimited" => Ok(u64::MAX),
            v => v
                .parse::<u64>()
                .map_err(|_| anyhow!("--ulimit {arg:?}: {v:?} is not a number, -1 or unlimited")),
        }
    };
    let (soft, hard) = (value(soft)?, value(hard)?);
    if soft > hard {
        bail!("--ulimit {arg:?}: the soft limit must be less than or equal to the hard limit");
    }
    Ok(Ulimit {
        name: name.to_string(),
        soft,
        hard,
    })
}

impl Ulimit {
    /// The spec's `process.rlimits` entry.
    pub fn to_rlimit(&self) -> PosixRlimit {
        let typ: PosixRlimitType = serde_json::from_value(serde_json::json!(format!(
            "RLIMIT_{}",
            self.name.to_uppercase()
        )))
        .expect("every name of ULIMITS is an RLIMIT_ type");
        PosixRlimitBuilder::default()
            .typ(typ)
            .soft(self.soft)
            .hard(self.hard)
            .build()
            .expect("every field is set")
    }
}

/// The `--ulimit` flags: a later one for a resource replaces an earlier,
/// as docker's.
pub fn ulimits(args: &[String]) -> Result<Vec<Ulimit>> {
    let mut out: Vec<Ulimit> = Vec::new();
    for arg in args {
        let u = parse_ulimit(arg)?;
        out.retain(|o| o.name != u.name);
        out.push(u);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tmpfs_options_go_over_dockers_defaults() {
        let t = parse_tmpfs("/run//x/:exec,size=64m,mode=1700,size=1g").unwrap();
        assert_eq!(t.target, "/run/x");
        assert_eq!(
            t.options,
            ["nosuid", "nodev", "exec", "mode=1700", "size=1g"]
        );
        assert_eq!(t.given, "exec,size=64m,mode=1700,size=1g");
        assert_eq!(
            parse_tmpfs("/t").unwrap().options,
            ["noexec", "nosuid", "nodev"]
        );
    }

    #[test]
    fn bad_tmpfs_flags_are_refused() {
        for (arg, why) in [
            ("run", "absolute"),
            ("/", "over /"),
            ("/t:bogus", "unknown mount option \"bogus\""),
            ("/t:size=", "unknown mount option \"size=\""),
        ] {
            let e = parse_tmpfs(arg).unwrap_err().to_string();
            assert!(e.contains(why), "{arg}: {e}");
        }
    }

    #[test]
    fn ulimits_parse_as_dockers() {
        assert_eq!(
            parse_ulimit("nofile=1024:2048").unwrap(),
            Ulimit {
                name: "nofile".into(),
                soft: 1024,
                hard: 2048
            }
        );
        let u = parse_ulimit("core=-1").unwrap();
        assert_eq!((u.soft, u.hard), (u64::MAX, u64::MAX));
        let u = ulimits(&["nproc=10".into(), "nproc=20:30".into()]).unwrap();
        assert_eq!(u.len(), 1);
        assert_eq!((u[0].soft, u[0].hard), (20, 30));
        let r = parse_ulimit("nofile=5:6").unwrap().to_rlimit();
        assert_eq!(r.typ(), PosixRlimitType::RlimitNofile);
        assert_eq!((r.soft(), r.hard()), (5, 6));
    }

    #[test]
    fn bad_ulimits_are_refused() {
        for (arg, why) in [
            ("nofile", "NAME=SOFT[:HARD]"),
            ("files=1", "invalid ulimit type"),
            ("nofile=x", "not a number"),
            ("nofile=10:5", "less than or equal"),
        ] {
            let e = parse_ulimit(arg).unwrap_err().to_string();
            assert!(e.contains(why), "{arg}: {e}");
        }
    }

    #[test]
    fn every_ulimit_name_is_an_rlimit() {
        for name in ULIMITS {
            let u = parse_ulimit(&format!("{name}=1")).unwrap();
            u.to_rlimit();
        }
    }
}
