//! v1 `devices` controller: a per-cgroup list of the device nodes its
//! processes may open or create, edited by writing rules such as
//! `c 1:3 rwm` to `devices.allow` and `devices.deny` (the kernel's
//! `cgroup-v1/devices.rst`). Writing `a` to either file first resets the
//! list to deny (or allow) everything.

use std::path::Path;

use crate::common::{write_all, Write};
use crate::devices::effective;
use crate::{DeviceRule, Error};

pub(crate) struct Devices;

impl Devices {
    pub(crate) const NAME: &'static str = "devices";

    /// The writes that turn a new cgroup's list (a copy of its parent's)
    /// into `rules` on top of "deny everything", in order. `a` resets the
    /// list, so of the rules only those after the last `DeviceType::All` one
    /// are written, and that one decides the reset. A deny rule in a
    /// default-deny list removes only the access of an exactly matching
    /// earlier allow rule (the kernel's semantics, unlike the v2 program's
    /// last-match-wins).
    pub(crate) fn plan(rules: &[DeviceRule]) -> Vec<Write> {
        let (allow_all, rest) = effective(rules);
        let reset = if allow_all {
            "devices.allow"
        } else {
            "devices.deny"
        };
        let mut writes = vec![Write::new(Self::NAME, reset, "a")];
        for rule in rest {
            let file = if rule.allow {
                "devices.allow"
            } else {
                "devices.deny"
            };
            writes.push(Write::new(Self::NAME, file, rule.to_string()));
        }
        writes
    }

    /// Do the writes of [`plan`](Devices::plan) in the cgroup directory `dir`.
    pub(crate) fn apply(dir: &Path, rules: &[DeviceRule]) -> Result<(), Error> {
        write_all(dir, &Self::plan(rules))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(writes: &[Write]) -> Vec<String> {
        writes
            .iter()
            .map(|w| format!("{} <- {}", w.file, w.value))
            .collect()
    }

    #[test]
    fn plan_default_rules() {
        let writes = Devices::plan(&DeviceRule::default_allowed());
        assert!(writes.iter().all(|w| w.controller == "devices"));
        insta::assert_snapshot!(lines(&writes).join("\n"));
    }

    #[test]
    fn plan_privileged_allows_everything() {
        let mut rules = DeviceRule::default_allowed();
        rules.push(DeviceRule::allow_all());
        assert_eq!(lines(&Devices::plan(&rules)), ["devices.allow <- a"]);
    }

    #[test]
    fn plan_deny_rules_go_to_deny() {
        let deny = DeviceRule {
            allow: false,
            ..DeviceRule::allow(crate::DeviceType::Block, Some(8), None, "w")
        };
        let rules = [DeviceRule::allow_all(), deny];
        assert_eq!(
            lines(&Devices::plan(&rules)),
            ["devices.allow <- a", "devices.deny <- b 8:* w"]
        );
        assert_eq!(lines(&Devices::plan(&[])), ["devices.deny <- a"]);
    }
}
