//! Device access control: which device nodes (by type and major:minor) the
//! processes of a cgroup may read, write or create. v1 has the `devices`
//! controller (`devices.allow`, `devices.deny`; the kernel's
//! `cgroup-v1/devices.rst`); v2 has no controller but runs an eBPF program
//! of type `BPF_PROG_TYPE_CGROUP_DEVICE` attached to the cgroup (bpf(2)).
//!
//! Either way the rules here form an allow-list on top of "deny
//! everything", as docker and runc use them.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::Error;

/// Which device nodes a rule covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeviceType {
    /// Every device, character and block (`a`); major, minor and access
    /// are ignored, as the kernel does.
    All,
    /// Character devices (`c`).
    Char,
    /// Block devices (`b`).
    Block,
}

impl DeviceType {
    fn letter(self) -> char {
        match self {
            DeviceType::All => 'a',
            DeviceType::Char => 'c',
            DeviceType::Block => 'b',
        }
    }
}

/// One rule of a device allow-list, in the v1 syntax `c 1:3 rwm`.
///
/// ```
/// use tinydocker_cgroups::DeviceRule;
///
/// // docker run --device-cgroup-rule 'c 13:* rm'
/// let rule: DeviceRule = "c 13:* rm".parse()?;
/// assert!(rule.allow);
/// assert_eq!(rule.to_string(), "c 13:* rm");
/// assert_eq!(DeviceRule::default_allowed()[2].to_string(), "c 1:3 rwm");
/// # Ok::<(), tinydocker_cgroups::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceRule {
    /// Allow (true) or deny (false) the access.
    pub allow: bool,
    pub kind: DeviceType,
    /// The major number; `None` matches any (`*`).
    pub major: Option<i64>,
    /// The minor number; `None` matches any (`*`).
    pub minor: Option<i64>,
    /// The accesses covered, a non-empty subset of `rwm` (read, write, mknod).
    pub access: String,
}

impl DeviceRule {
    /// An allow rule for `kind` `major:minor` (`None` = any) and `access`.
    pub fn allow(kind: DeviceType, major: Option<i64>, minor: Option<i64>, access: &str) -> Self {
        DeviceRule {
            allow: true,
            kind,
            major,
            minor,
            access: access.to_string(),
        }
    }

    /// `a *:* rwm`: every device (`docker run --privileged`).
    pub fn allow_all() -> Self {
        DeviceRule::allow(DeviceType::All, None, None, "rwm")
    }

    /// The devices docker (and runc) allow a container by default: mknod
    /// of any node, and full access to null, zero, full, random, urandom,
    /// tty, console, ptmx, the ptys and tun.
    pub fn default_allowed() -> Vec<DeviceRule> {
        use DeviceType::{Block, Char};
        let rwm = |major, minor| DeviceRule::allow(Char, Some(major), minor, "rwm");
        vec![
            DeviceRule::allow(Char, None, None, "m"),
            DeviceRule::allow(Block, None, None, "m"),
            rwm(1, Some(3)),    // /dev/null
            rwm(1, Some(5)),    // /dev/zero
            rwm(1, Some(7)),    // /dev/full
            rwm(1, Some(8)),    // /dev/random
            rwm(1, Some(9)),    // /dev/urandom
            rwm(5, Some(0)),    // /dev/tty
            rwm(5, Some(1)),    // /dev/console
            rwm(5, Some(2)),    // /dev/ptmx
            rwm(136, None),     // /dev/pts/*
            rwm(10, Some(200)), // /dev/net/tun
        ]
    }

    /// Check what the kernel would refuse or misread: access must be a
    /// non-empty subset of `rwm`, numbers non-negative and below 2^31 (the
    /// eBPF program compares them as 32-bit immediates; real devices have
    /// 12-bit majors and 20-bit minors).
    pub fn validate(&self) -> Result<(), Error> {
        let invalid = |reason| {
            Err(Error::InvalidDeviceRule {
                rule: self.to_string(),
                reason,
            })
        };
        if self.access.is_empty() {
            return invalid("the access is empty (expected some of r, w, m)");
        }
        if !self.access.chars().all(|c| matches!(c, 'r' | 'w' | 'm')) {
            return invalid("the access may only hold r, w and m");
        }
        for n in [self.major, self.minor].into_iter().flatten() {
            if !(0..=i64::from(i32::MAX)).contains(&n) {
                return invalid("device numbers are 0 to 2147483647, or * for any");
            }
        }
        Ok(())
    }

    /// The accesses as the `BPF_DEVCG_ACC_*` bits (mknod 1, read 2, write 4).
    pub(crate) fn access_bits(&self) -> u32 {
        self.access
            .chars()
            .map(|c| match c {
                'm' => 1,
                'r' => 2,
                'w' => 4,
                _ => 0,
            })
            .fold(0, |acc, bit| acc | bit)
    }
}

impl fmt::Display for DeviceRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let num = |n: Option<i64>| n.map_or_else(|| "*".to_string(), |n| n.to_string());
        write!(
            f,
            "{} {}:{} {}",
            self.kind.letter(),
            num(self.major),
            num(self.minor),
            self.access
        )
    }
}

/// Parse an allow rule in the v1 syntax (`c 1:3 rwm`, `b 8:* r`, `a`), as
/// docker's `--device-cgroup-rule` takes it. The access defaults to `rwm`.
impl FromStr for DeviceRule {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self, Error> {
        let invalid = |reason| Error::InvalidDeviceRule {
            rule: text.to_string(),
            reason,
        };
        let mut parts = text.split_whitespace();
        let kind = match parts.next() {
            Some("a") => DeviceType::All,
            Some("c") => DeviceType::Char,
            Some("b") => DeviceType::Block,
            _ => {
                return Err(invalid(
                    "expected a type a, c or b first, as in \"c 1:3 rwm\"",
                ))
            }
        };
        let (major, minor) = match parts.next() {
            Some(numbers) => {
                let (major, minor) = numbers
                    .split_once(':')
                    .ok_or_else(|| invalid("expected major:minor, as in 1:3 or 136:*"))?;
                let num = |n: &str| match n {
                    "*" => Ok(None),
                    _ => n
                        .parse()
                        .map(Some)
                        .map_err(|_| invalid("a device number is not a number or *")),
                };
                (num(major)?, num(minor)?)
            }
            None if kind == DeviceType::All => (None, None),
            None => return Err(invalid("expected major:minor after the type")),
        };
        let access = parts.next().unwrap_or("rwm").to_string();
        if parts.next().is_some() {
            return Err(invalid(
                "expected at most three fields: type major:minor access",
            ));
        }
        let rule = DeviceRule {
            allow: true,
            kind,
            major,
            minor,
            access,
        };
        rule.validate()?;
        Ok(rule)
    }
}

/// Whether [`Manager::set_devices`](crate::Manager::set_devices) could
/// restrict the devices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeviceControl {
    /// The kernel enforces the rules for every process that joins the cgroup.
    Enforced,
    /// This host cannot restrict devices (no v1 `devices` hierarchy, or
    /// the kernel refused the eBPF program); why, for the record.
    Unavailable(String),
}

/// What a rule list means on top of "deny everything": a `DeviceType::All`
/// rule resets the whole list to allow or deny everything, so only the
/// last one counts, with the rules after it. Returns whether devices are
/// allowed by default, and those rules (none of them `All`).
pub(crate) fn effective(rules: &[DeviceRule]) -> (bool, &[DeviceRule]) {
    match rules.iter().rposition(|r| r.kind == DeviceType::All) {
        Some(i) => (rules[i].allow, &rules[i + 1..]),
        None => (false, rules),
    }
}

/// Validate every rule.
pub(crate) fn validate_all(rules: &[DeviceRule]) -> Result<(), Error> {
    rules.iter().try_for_each(DeviceRule::validate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_v1_syntax() {
        let lines: Vec<String> = DeviceRule::default_allowed()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            lines,
            [
                "c *:* m",
                "b *:* m",
                "c 1:3 rwm",
                "c 1:5 rwm",
                "c 1:7 rwm",
                "c 1:8 rwm",
                "c 1:9 rwm",
                "c 5:0 rwm",
                "c 5:1 rwm",
                "c 5:2 rwm",
                "c 136:* rwm",
                "c 10:200 rwm",
            ]
        );
        assert_eq!(DeviceRule::allow_all().to_string(), "a *:* rwm");
    }

    #[test]
    fn parse_round_trips() {
        for text in ["c 1:3 rwm", "b 8:* r", "c *:* m", "a *:* rwm"] {
            let rule: DeviceRule = text.parse().unwrap();
            assert!(rule.allow);
            assert_eq!(rule.to_string(), text);
        }
        assert_eq!("a".parse::<DeviceRule>().unwrap(), DeviceRule::allow_all());
        assert_eq!(
            "c 10:200".parse::<DeviceRule>().unwrap().to_string(),
            "c 10:200 rwm"
        );
    }

    #[test]
    fn parse_and_validate_refuse_bad_rules() {
        for text in [
            "",
            "x 1:3 r",
            "c 1 r",
            "c 1:y r",
            "c 1:3 rx",
            "c 1:3 r w",
            "c -1:3 r",
        ] {
            let err = text.parse::<DeviceRule>().unwrap_err();
            assert!(matches!(err, Error::InvalidDeviceRule { .. }), "{text:?}");
        }
        let mut rule = DeviceRule::allow(DeviceType::Char, Some(1), Some(3), "");
        assert!(rule.validate().is_err());
        rule.access = "rw".into();
        rule.validate().unwrap();
        rule.minor = Some(1 << 31);
        let err = rule.validate().unwrap_err();
        assert_eq!(
            err.to_string(),
            "device rule \"c 1:2147483648 rw\": device numbers are 0 to 2147483647, or * for any"
        );
    }

    #[test]
    fn last_all_rule_resets_the_list() {
        let rules = DeviceRule::default_allowed();
        assert_eq!(effective(&rules), (false, &rules[..]));
        let mut privileged = rules.clone();
        privileged.push(DeviceRule::allow_all());
        assert_eq!(effective(&privileged), (true, &[][..]));
        let deny_all = DeviceRule {
            allow: false,
            ..DeviceRule::allow_all()
        };
        let mut reset = vec![DeviceRule::allow_all(), deny_all];
        reset.extend(rules.iter().take(2).cloned());
        assert_eq!(effective(&reset), (false, &rules[..2]));
    }

    #[test]
    fn access_bits() {
        let rule = |access| DeviceRule::allow(DeviceType::Char, None, None, access);
        assert_eq!(rule("m").access_bits(), 1);
        assert_eq!(rule("r").access_bits(), 2);
        assert_eq!(rule("w").access_bits(), 4);
        assert_eq!(rule("rwm").access_bits(), 7);
    }
}
