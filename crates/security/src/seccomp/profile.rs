//! Docker's seccomp profile format (`docker run --security-opt
//! seccomp=profile.json`): a default action, the architectures to filter,
//! and syscall entries, each with an action, optional argument comparisons
//! and `includes`/`excludes` conditions on capabilities, architecture and
//! kernel version.
//!
//! Parsing happens in two steps: serde reads the JSON into plain strings
//! ([`raw`]), then [`Profile::from_json`] checks names and ranges so an
//! error can say which entry is wrong and which word it did not know.

use std::fmt;

use libseccomp::ScmpArch;
use serde::{Serialize, Serializer};

use super::Error;

/// The highest `errno` the kernel returns from `SECCOMP_RET_ERRNO`
/// (`MAX_ERRNO`).
pub const MAX_ERRNO: u16 = 4095;

/// `EPERM`, the errno of an `SCMP_ACT_ERRNO` without `errnoRet`.
pub const EPERM: u16 = libc::EPERM as u16;

/// An enum spelled in the profile as fixed strings: `as_str`, `parse`, and
/// serialisation as that string.
macro_rules! spelled {
    ($(#[$meta:meta])* pub enum $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($(#[$vmeta])* $variant,)* }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            /// The spelling in a docker profile.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text,)* }
            }

            /// The value spelled `text`, if any.
            pub fn parse(text: &str) -> Option<$name> {
                match text { $($text => Some($name::$variant),)* _ => None }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
    };
}

spelled! {
    /// What the kernel does with a system call a rule matches
    /// (`seccomp_rule_add(3)`). `SCMP_ACT_NOTIFY` is left out: it needs a
    /// seccomp agent listening on a socket, which tinydocker does not have.
    pub enum ActionName {
        Allow = "SCMP_ACT_ALLOW",
        /// Fail with `errnoRet` (or `EPERM`).
        Errno = "SCMP_ACT_ERRNO",
        /// Kill the thread (the old name of `SCMP_ACT_KILL_THREAD`).
        Kill = "SCMP_ACT_KILL",
        KillThread = "SCMP_ACT_KILL_THREAD",
        KillProcess = "SCMP_ACT_KILL_PROCESS",
        /// Send `SIGSYS`.
        Trap = "SCMP_ACT_TRAP",
        /// Notify a ptrace tracer, with `errnoRet` as the message.
        Trace = "SCMP_ACT_TRACE",
        /// Allow and log.
        Log = "SCMP_ACT_LOG",
    }
}

spelled! {
    /// How an argument is compared with `value` (`seccomp_rule_add(3)`).
    pub enum CmpOp {
        Ne = "SCMP_CMP_NE",
        Lt = "SCMP_CMP_LT",
        Le = "SCMP_CMP_LE",
        Eq = "SCMP_CMP_EQ",
        Ge = "SCMP_CMP_GE",
        Gt = "SCMP_CMP_GT",
        /// `arg & value == valueTwo`.
        MaskedEq = "SCMP_CMP_MASKED_EQ",
    }
}

spelled! {
    /// `seccomp(2)` flags a profile may ask for. The others
    /// (`NEW_LISTENER`, `TSYNC_ESRCH`, `WAIT_KILLABLE_RECV`) belong to user
    /// notification, which tinydocker does not support.
    pub enum FilterFlag {
        Tsync = "SECCOMP_FILTER_FLAG_TSYNC",
        Log = "SECCOMP_FILTER_FLAG_LOG",
        SpecAllow = "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
    }
}

impl FilterFlag {
    pub fn bits(self) -> u32 {
        (match self {
            FilterFlag::Tsync => libc::SECCOMP_FILTER_FLAG_TSYNC,
            FilterFlag::Log => libc::SECCOMP_FILTER_FLAG_LOG,
            FilterFlag::SpecAllow => libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW,
        }) as u32
    }
}

spelled! {
    /// An architecture as libseccomp names it (`SCMP_ARCH_*`).
    #[allow(non_camel_case_types)]
    pub enum Arch {
        X86 = "SCMP_ARCH_X86",
        X86_64 = "SCMP_ARCH_X86_64",
        X32 = "SCMP_ARCH_X32",
        Arm = "SCMP_ARCH_ARM",
        Aarch64 = "SCMP_ARCH_AARCH64",
        Loongarch64 = "SCMP_ARCH_LOONGARCH64",
        M68k = "SCMP_ARCH_M68K",
        Mips = "SCMP_ARCH_MIPS",
        Mips64 = "SCMP_ARCH_MIPS64",
        Mips64N32 = "SCMP_ARCH_MIPS64N32",
        Mipsel = "SCMP_ARCH_MIPSEL",
        Mipsel64 = "SCMP_ARCH_MIPSEL64",
        Mipsel64N32 = "SCMP_ARCH_MIPSEL64N32",
        Ppc = "SCMP_ARCH_PPC",
        Ppc64 = "SCMP_ARCH_PPC64",
        Ppc64Le = "SCMP_ARCH_PPC64LE",
        S390 = "SCMP_ARCH_S390",
        S390X = "SCMP_ARCH_S390X",
        Parisc = "SCMP_ARCH_PARISC",
        Parisc64 = "SCMP_ARCH_PARISC64",
        Riscv64 = "SCMP_ARCH_RISCV64",
    }
}

impl Arch {
    /// The name `includes.arches` and `excludes.arches` use for it: the
    /// name libseccomp-golang gives the native architecture (`amd64`, not
    /// `x86_64`).
    pub fn short_name(self) -> &'static str {
        match self {
            Arch::X86 => "x86",
            Arch::X86_64 => "amd64",
            Arch::X32 => "x32",
            Arch::Arm => "arm",
            Arch::Aarch64 => "arm64",
            Arch::Loongarch64 => "loong64",
            Arch::M68k => "m68k",
            Arch::Mips => "mips",
            Arch::Mips64 => "mips64",
            Arch::Mips64N32 => "mips64n32",
            Arch::Mipsel => "mipsel",
            Arch::Mipsel64 => "mipsel64",
            Arch::Mipsel64N32 => "mipsel64n32",
            Arch::Ppc => "ppc",
            Arch::Ppc64 => "ppc64",
            Arch::Ppc64Le => "ppc64le",
            Arch::S390 => "s390",
            Arch::S390X => "s390x",
            Arch::Parisc => "parisc",
            Arch::Parisc64 => "parisc64",
            Arch::Riscv64 => "riscv64",
        }
    }

    pub(crate) fn to_scmp(self) -> ScmpArch {
        match self {
            Arch::X86 => ScmpArch::X86,
            Arch::X86_64 => ScmpArch::X8664,
            Arch::X32 => ScmpArch::X32,
            Arch::Arm => ScmpArch::Arm,
            Arch::Aarch64 => ScmpArch::Aarch64,
            Arch::Loongarch64 => ScmpArch::Loongarch64,
            Arch::M68k => ScmpArch::M68k,
            Arch::Mips => ScmpArch::Mips,
            Arch::Mips64 => ScmpArch::Mips64,
            Arch::Mips64N32 => ScmpArch::Mips64N32,
            Arch::Mipsel => ScmpArch::Mipsel,
            Arch::Mipsel64 => ScmpArch::Mipsel64,
            Arch::Mipsel64N32 => ScmpArch::Mipsel64N32,
            Arch::Ppc => ScmpArch::Ppc,
            Arch::Ppc64 => ScmpArch::Ppc64,
            Arch::Ppc64Le => ScmpArch::Ppc64Le,
            Arch::S390 => ScmpArch::S390,
            Arch::S390X => ScmpArch::S390X,
            Arch::Parisc => ScmpArch::Parisc,
            Arch::Parisc64 => ScmpArch::Parisc64,
            Arch::Riscv64 => ScmpArch::Riscv64,
        }
    }

    /// The architecture this process runs as, as libseccomp sees it.
    pub fn native() -> Option<Arch> {
        let native = ScmpArch::native();
        Arch::ALL.iter().copied().find(|a| a.to_scmp() == native)
    }
}

/// `"<kernel>.<major>"`, e.g. `4.8`; the host's minor revision and suffixes
/// are ignored when comparing, as docker does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KernelVersion {
    pub kernel: u32,
    pub major: u32,
}

impl KernelVersion {
    pub const fn new(kernel: u32, major: u32) -> KernelVersion {
        KernelVersion { kernel, major }
    }

    /// `"4.8"` (a profile's `minKernel`); `None` unless exactly two numbers,
    /// not both 0.
    pub fn parse(text: &str) -> Option<KernelVersion> {
        let (kernel, major) = text.split_once('.')?;
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(kernel) || !digits(major) {
            return None;
        }
        let version = KernelVersion::new(kernel.parse().ok()?, major.parse().ok()?);
        (version != KernelVersion::new(0, 0)).then_some(version)
    }

    /// A `uname -r` release such as `6.8.0-45-generic` or `4.19-rc5`.
    pub fn from_release(release: &str) -> Option<KernelVersion> {
        let mut parts = release.splitn(3, '.');
        let kernel = parts.next()?.parse().ok()?;
        let major: String = parts
            .next()?
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        Some(KernelVersion::new(kernel, major.parse().ok()?))
    }
}

impl fmt::Display for KernelVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.kernel, self.major)
    }
}

impl Serialize for KernelVersion {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A whole profile, in docker's JSON shape (serialising it gives JSON
/// `docker run --security-opt seccomp=` accepts).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    pub default_action: ActionName,
    /// The errno of an `SCMP_ACT_ERRNO` default action (`EPERM` if unset).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_errno_ret: Option<u16>,
    /// Explicit architectures; docker's own profile uses `arch_map` instead.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub architectures: Vec<Arch>,
    /// Per native architecture, the others it can run (x86 and x32
    /// binaries on x86_64): all of them must be filtered, or a process
    /// could escape the filter by switching to the 32-bit ABI.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub arch_map: Vec<ArchMap>,
    pub syscalls: Vec<SyscallRule>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<FilterFlag>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ArchMap {
    pub architecture: Arch,
    pub sub_architectures: Vec<Arch>,
}

/// One `syscalls` entry. The legacy single `name` is read into `names`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SyscallRule {
    pub names: Vec<String>,
    pub action: ActionName,
    /// The errno of `SCMP_ACT_ERRNO` (`EPERM` if unset) or the message of
    /// `SCMP_ACT_TRACE`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errno_ret: Option<u16>,
    /// All must hold (unless two compare the same argument: then each is a
    /// rule of its own, as runc does).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<ArgRule>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub comment: String,
    #[serde(skip_serializing_if = "Conditions::is_empty")]
    pub includes: Conditions,
    #[serde(skip_serializing_if = "Conditions::is_empty")]
    pub excludes: Conditions,
}

/// A comparison of argument `index` (0 to 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ArgRule {
    pub index: u32,
    /// The datum, or the mask for `SCMP_CMP_MASKED_EQ`.
    pub value: u64,
    /// The datum for `SCMP_CMP_MASKED_EQ`, unused otherwise.
    #[serde(skip_serializing_if = "is_zero")]
    pub value_two: u64,
    pub op: CmpOp,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

/// `includes` (every condition must hold) or `excludes` (any one drops the
/// entry).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Conditions {
    /// Capability names (`CAP_SYS_ADMIN`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub caps: Vec<String>,
    /// Short architecture names ([`Arch::short_name`]).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub arches: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_kernel: Option<KernelVersion>,
}

impl Conditions {
    pub fn is_empty(&self) -> bool {
        self.caps.is_empty() && self.arches.is_empty() && self.min_kernel.is_none()
    }
}

/// The JSON as serde reads it, before names and ranges are checked.
mod raw {
    use serde::Deserialize;

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct Profile {
        pub default_action: String,
        pub default_errno_ret: Option<u64>,
        pub architectures: Option<Vec<String>>,
        pub arch_map: Option<Vec<ArchMap>>,
        pub syscalls: Option<Vec<Syscall>>,
        pub flags: Option<Vec<String>>,
        pub listener_path: Option<String>,
        pub listener_metadata: Option<String>,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct ArchMap {
        pub architecture: String,
        pub sub_architectures: Option<Vec<String>>,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct Syscall {
        pub names: Option<Vec<String>>,
        pub name: Option<String>,
        pub action: String,
        pub errno_ret: Option<u64>,
        pub args: Option<Vec<Arg>>,
        pub comment: Option<String>,
        pub includes: Option<Conditions>,
        pub excludes: Option<Conditions>,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct Arg {
        pub index: u64,
        pub value: u64,
        pub value_two: Option<u64>,
        pub op: String,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct Conditions {
        pub caps: Option<Vec<String>>,
        pub arches: Option<Vec<String>>,
        pub min_kernel: Option<String>,
    }
}

impl Profile {
    /// Read a docker-format profile.
    ///
    /// ```
    /// use tinydocker_security::seccomp::{ActionName, Profile};
    ///
    /// let profile = Profile::from_json(
    ///     r#"{"defaultAction": "SCMP_ACT_ERRNO",
    ///         "syscalls": [{"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"}]}"#,
    /// )?;
    /// assert_eq!(profile.syscalls[0].action, ActionName::Allow);
    /// # Ok::<(), tinydocker_security::seccomp::Error>(())
    /// ```
    pub fn from_json(text: &str) -> Result<Profile, Error> {
        let raw: raw::Profile = serde_json::from_str(text).map_err(Error::from_json)?;
        if raw.listener_path.as_deref().is_some_and(|p| !p.is_empty()) {
            return Err(Error::Unsupported(
                "listenerPath (seccomp user notification)",
            ));
        }
        if raw
            .listener_metadata
            .as_deref()
            .is_some_and(|m| !m.is_empty())
        {
            return Err(Error::Unsupported(
                "listenerMetadata (seccomp user notification)",
            ));
        }
        let architectures: Vec<Arch> = raw
            .architectures
            .unwrap_or_default()
            .iter()
            .map(|a| arch(a))
            .collect::<Result<_, _>>()?;
        let arch_map: Vec<ArchMap> = raw
            .arch_map
            .unwrap_or_default()
            .into_iter()
            .map(|m| {
                Ok(ArchMap {
                    architecture: arch(&m.architecture)?,
                    sub_architectures: m
                        .sub_architectures
                        .unwrap_or_default()
                        .iter()
                        .map(|a| arch(a))
                        .collect::<Result<_, _>>()?,
                })
            })
            .collect::<Result<_, Error>>()?;
        if !architectures.is_empty() && !arch_map.is_empty() {
            return Err(Error::ArchitecturesAndArchMap);
        }
        let flags = raw
            .flags
            .unwrap_or_default()
            .iter()
            .map(|f| flag(f))
            .collect::<Result<_, _>>()?;
        let syscalls = raw
            .syscalls
            .unwrap_or_default()
            .into_iter()
            .enumerate()
            .map(|(i, s)| syscall_rule(i + 1, s))
            .collect::<Result<_, _>>()?;
        Ok(Profile {
            default_action: action(&raw.default_action)?,
            default_errno_ret: raw.default_errno_ret.map(errno).transpose()?,
            architectures,
            arch_map,
            syscalls,
            flags,
        })
    }

    /// The profile as docker-format JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a profile has only strings, numbers and lists")
    }
}

fn action(name: &str) -> Result<ActionName, Error> {
    if name == "SCMP_ACT_NOTIFY" {
        return Err(Error::Unsupported(
            "SCMP_ACT_NOTIFY (seccomp user notification)",
        ));
    }
    ActionName::parse(name).ok_or_else(|| Error::UnknownAction(name.to_string()))
}

fn arch(name: &str) -> Result<Arch, Error> {
    Arch::parse(name).ok_or_else(|| Error::UnknownArch(name.to_string()))
}

fn flag(name: &str) -> Result<FilterFlag, Error> {
    match name {
        "SECCOMP_FILTER_FLAG_NEW_LISTENER"
        | "SECCOMP_FILTER_FLAG_TSYNC_ESRCH"
        | "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV" => {
            Err(Error::Unsupported("seccomp user notification flags"))
        }
        _ => FilterFlag::parse(name).ok_or_else(|| Error::UnknownFlag(name.to_string())),
    }
}

fn errno(value: u64) -> Result<u16, Error> {
    u16::try_from(value)
        .ok()
        .filter(|e| *e <= MAX_ERRNO)
        .ok_or(Error::ErrnoRange(value))
}

fn conditions(raw: Option<raw::Conditions>) -> Result<Conditions, Error> {
    let Some(raw) = raw else {
        return Ok(Conditions::default());
    };
    Ok(Conditions {
        caps: raw.caps.unwrap_or_default(),
        arches: raw.arches.unwrap_or_default(),
        min_kernel: match raw.min_kernel.as_deref() {
            None | Some("") => None,
            Some(text) => {
                Some(KernelVersion::parse(text).ok_or_else(|| Error::MinKernel(text.to_string()))?)
            }
        },
    })
}

/// Entry `entry` (counted from 1) of `syscalls`.
fn syscall_rule(entry: usize, raw: raw::Syscall) -> Result<SyscallRule, Error> {
    let mut names = raw.names.unwrap_or_default();
    match raw.name {
        Some(name) if !name.is_empty() => {
            if !names.is_empty() {
                return Err(Error::NameAndNames(entry));
            }
            names.push(name);
        }
        _ => {}
    }
    if names.is_empty() || names.iter().any(String::is_empty) {
        return Err(Error::NoNames(entry));
    }
    let args = raw
        .args
        .unwrap_or_default()
        .into_iter()
        .map(|a| {
            if a.index > 5 {
                return Err(Error::ArgIndex {
                    entry,
                    index: a.index,
                });
            }
            Ok(ArgRule {
                index: a.index as u32,
                value: a.value,
                value_two: a.value_two.unwrap_or(0),
                op: CmpOp::parse(&a.op).ok_or_else(|| Error::UnknownOp(a.op.clone()))?,
            })
        })
        .collect::<Result<_, _>>()?;
    Ok(SyscallRule {
        names,
        action: action(&raw.action)?,
        errno_ret: raw.errno_ret.map(errno).transpose()?,
        args,
        comment: raw.comment.unwrap_or_default(),
        includes: conditions(raw.includes)?,
        excludes: conditions(raw.excludes)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        Profile::from_json(text).unwrap_err().to_string()
    }

    #[test]
    fn small_profile() {
        let p = Profile::from_json(
            r#"{
                "defaultAction": "SCMP_ACT_ERRNO",
                "defaultErrnoRet": 38,
                "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
                "syscalls": [
                    {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
                    {"names": ["kill"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13,
                     "includes": {"caps": ["CAP_KILL"], "minKernel": "5.10"},
                     "excludes": {"arches": ["s390x"]}, "comment": "why"}
                ],
                "flags": ["SECCOMP_FILTER_FLAG_LOG"],
                "someFutureField": 1
            }"#,
        )
        .unwrap();
        assert_eq!(p.default_action, ActionName::Errno);
        assert_eq!(p.default_errno_ret, Some(38));
        assert_eq!(p.architectures, [Arch::X86_64, Arch::X86]);
        assert_eq!(p.flags, [FilterFlag::Log]);
        assert_eq!(p.syscalls.len(), 2);
        assert_eq!(p.syscalls[0].names, ["read", "write"]);
        let kill = &p.syscalls[1];
        assert_eq!(kill.errno_ret, Some(13));
        assert_eq!(kill.includes.caps, ["CAP_KILL"]);
        assert_eq!(kill.includes.min_kernel, Some(KernelVersion::new(5, 10)));
        assert_eq!(kill.excludes.arches, ["s390x"]);
        assert_eq!(kill.comment, "why");
    }

    #[test]
    fn legacy_name_field() {
        let p = Profile::from_json(
            r#"{"defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [{"name": "mount", "action": "SCMP_ACT_KILL"}]}"#,
        )
        .unwrap();
        assert_eq!(p.syscalls[0].names, ["mount"]);
        assert_eq!(p.syscalls[0].action, ActionName::Kill);
    }

    #[test]
    fn args_with_value_two() {
        let p = Profile::from_json(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
                {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
                 "args": [{"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"},
                          {"index": 5, "value": 7, "valueTwo": 3, "op": "SCMP_CMP_MASKED_EQ"},
                          {"index": 1, "value": 4294967295, "op": "SCMP_CMP_LE"}]}]}"#,
        )
        .unwrap();
        assert_eq!(
            p.syscalls[0].args,
            [
                ArgRule {
                    index: 0,
                    value: 0x7E02_0000,
                    value_two: 0,
                    op: CmpOp::MaskedEq
                },
                ArgRule {
                    index: 5,
                    value: 7,
                    value_two: 3,
                    op: CmpOp::MaskedEq
                },
                ArgRule {
                    index: 1,
                    value: 0xFFFF_FFFF,
                    value_two: 0,
                    op: CmpOp::Le
                },
            ]
        );
    }

    #[test]
    fn null_lists_are_empty() {
        let p = Profile::from_json(
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "architectures": null,
                "archMap": [{"architecture": "SCMP_ARCH_RISCV64", "subArchitectures": null}],
                "syscalls": null}"#,
        )
        .unwrap();
        assert!(p.syscalls.is_empty());
        assert_eq!(p.arch_map[0].sub_architectures, []);
    }

    #[test]
    fn bad_json_names_line_and_column() {
        assert_eq!(
            err("{\n  \"defaultAction\": \"SCMP_ACT_ERRNO\",\n  \"syscalls\": [\n    {\"names\": [\"read\"] \"action\": \"SCMP_ACT_ALLOW\"}\n  ]\n}"),
            "seccomp profile: line 4 column 24: expected `,` or `}`"
        );
        assert_eq!(
            err(r#"{"syscalls": []}"#),
            "seccomp profile: line 1 column 16: missing field `defaultAction`"
        );
        assert_eq!(
            err(
                r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "args": [{"index": -1, "value": 0, "op": "SCMP_CMP_EQ"}]}]}"#
            ),
            "seccomp profile: line 1 column 118: invalid value: integer `-1`, expected u64"
        );
    }

    #[test]
    fn unknown_action() {
        assert_eq!(
            err(r#"{"defaultAction": "SCMP_ACT_FOO"}"#),
            r#"seccomp profile: unknown action "SCMP_ACT_FOO""#
        );
        assert_eq!(
            err(
                r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "allow"}]}"#
            ),
            r#"seccomp profile: unknown action "allow""#
        );
    }

    #[test]
    fn notify_is_unsupported() {
        assert_eq!(
            err(r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_NOTIFY"}]}"#),
            "seccomp profile: SCMP_ACT_NOTIFY (seccomp user notification) is not supported by tinydocker"
        );
        assert_eq!(
            err(r#"{"defaultAction": "SCMP_ACT_ERRNO", "listenerPath": "/run/agent.sock"}"#),
            "seccomp profile: listenerPath (seccomp user notification) is not supported by tinydocker"
        );
    }

    #[test]
    fn unknown_op() {
        assert_eq!(
            err(
                r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_FOO"}]}]}"#
            ),
            r#"seccomp profile: unknown comparison operator "SCMP_CMP_FOO""#
        );
    }

    #[test]
    fn missing_names() {
        assert_eq!(
            err(r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
                {"names": ["read"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["write"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["close"], "action": "SCMP_ACT_ALLOW"},
                {"action": "SCMP_ACT_ALLOW"}]}"#),
            "seccomp profile: syscall entry 4 names no syscall"
        );
        assert_eq!(
            err(
                r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": [], "name": "", "action": "SCMP_ACT_ALLOW"}]}"#
            ),
            "seccomp profile: syscall entry 1 names no syscall"
        );
        assert_eq!(
            err(
                r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["a"], "name": "b", "action": "SCMP_ACT_ALLOW"}]}"#
            ),
            r#"seccomp profile: syscall entry 1 sets both "name" and "names"; use "names""#
        );
    }

    #[test]
    fn arg_index_out_of_range() {
        assert_eq!(
            err(
                r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}]}"#
            ),
            "seccomp profile: syscall entry 1: argument index 6 is out of range (0 to 5)"
        );
    }

    #[test]
    fn other_bad_values() {
        assert_eq!(
            err(r#"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_VAX"]}"#),
            r#"seccomp profile: unknown architecture "SCMP_ARCH_VAX""#
        );
        assert_eq!(
            err(r#"{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 70000}"#),
            "seccomp profile: errno 70000 is out of range (0 to 4095)"
        );
        assert_eq!(
            err(
                r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "4"}}]}"#
            ),
            r#"seccomp profile: minimum kernel "4": expected "<kernel>.<major>" like "4.8""#
        );
        assert_eq!(
            err(r#"{"defaultAction": "SCMP_ACT_ERRNO", "flags": ["SECCOMP_FILTER_FLAG_FOO"]}"#),
            r#"seccomp profile: unknown flag "SECCOMP_FILTER_FLAG_FOO""#
        );
        assert_eq!(
            err(
                r#"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"],
                    "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": []}]}"#
            ),
            r#"seccomp profile: both "architectures" and "archMap" are set; use one"#
        );
    }

    #[test]
    fn kernel_versions() {
        assert_eq!(KernelVersion::parse("4.8"), Some(KernelVersion::new(4, 8)));
        assert_eq!(KernelVersion::parse("0.0"), None);
        assert_eq!(KernelVersion::parse("4.8.1"), None);
        assert_eq!(KernelVersion::parse("4.x"), None);
        assert_eq!(
            KernelVersion::from_release("6.18.44-fc-v657"),
            Some(KernelVersion::new(6, 18))
        );
        assert_eq!(
            KernelVersion::from_release("4.19-rc5"),
            Some(KernelVersion::new(4, 19))
        );
        assert!(KernelVersion::new(4, 10) > KernelVersion::new(4, 8));
        assert!(KernelVersion::new(5, 0) > KernelVersion::new(4, 19));
    }

    #[test]
    fn json_round_trip() {
        let profile = Profile::docker_default();
        assert_eq!(Profile::from_json(&profile.to_json()).unwrap(), profile);
    }
}
