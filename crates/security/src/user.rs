//! `--user` and `--group-add`, resolved against the image's `/etc/passwd`
//! and `/etc/group` as docker resolves them:
//!
//! - `USER` or `USER:GROUP`, each a name or a number;
//! - a name must exist in the image; a number need not (its group is then 0);
//! - without an explicit group, the user's primary group is its passwd
//!   entry's and the supplementary groups are the `/etc/group` entries that
//!   list the user; with one, that group alone;
//! - `--group-add` groups (names or numbers) are added to the supplementary
//!   groups.

use thiserror::Error;

use crate::caps::Identity;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum Error {
    #[error("unable to find user {0}: no matching entries in passwd file")]
    NoUser(String),
    #[error("unable to find group {0}: no matching entries in group file")]
    NoGroup(String),
    #[error("invalid user {0:?}: expected USER[:GROUP]")]
    Invalid(String),
    #[error("{kind} id {id} is out of range (0 to 2147483647)")]
    OutOfRange { kind: &'static str, id: String },
}

/// The highest id a container may run as: above it, the kernel's ids are
/// negative as `int`, and -1 (4294967295) means "leave unchanged" to
/// `setresuid(2)`: a container asked to run as it would stay root.
pub const MAX_ID: u32 = i32::MAX as u32;

/// A number in `text`, within [`MAX_ID`]; `None` when `text` is no number.
fn parse_id(kind: &'static str, text: &str) -> Result<Option<u32>, Error> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(None);
    }
    match text.parse::<u64>() {
        Ok(n) if n <= u64::from(MAX_ID) => Ok(Some(n as u32)),
        _ => Err(Error::OutOfRange {
            kind,
            id: text.to_string(),
        }),
    }
}

/// One line of `/etc/passwd`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Passwd<'a> {
    name: &'a str,
    uid: u32,
    gid: u32,
    home: &'a str,
}

/// One line of `/etc/group`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Group<'a> {
    name: &'a str,
    gid: u32,
    members: Vec<&'a str>,
}

fn passwd_entries(text: &str) -> impl Iterator<Item = Passwd<'_>> {
    text.lines().filter_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        if f.len() < 7 || line.starts_with('#') {
            return None;
        }
        Some(Passwd {
            name: f[0],
            uid: f[2].parse().ok().filter(|id| *id <= MAX_ID)?,
            gid: f[3].parse().ok().filter(|id| *id <= MAX_ID)?,
            home: f[5],
        })
    })
}

fn group_entries(text: &str) -> impl Iterator<Item = Group<'_>> {
    text.lines().filter_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        if f.len() < 4 || line.starts_with('#') {
            return None;
        }
        Some(Group {
            name: f[0],
            gid: f[2].parse().ok().filter(|id| *id <= MAX_ID)?,
            members: f[3].split(',').filter(|m| !m.is_empty()).collect(),
        })
    })
}

/// Who runs the container's process, and its home directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub identity: Identity,
    /// From the passwd entry; `None` for a number the image does not know.
    pub home: Option<String>,
}

/// The id of the group `name` in a `group` file's text (the host's
/// `/etc/group`: read as a file, never through NSS, whose modules a
/// static binary cannot load).
pub fn group_id(name: &str, groups: &str) -> Option<u32> {
    group_entries(groups)
        .find(|g| g.name == name)
        .map(|g| g.gid)
}

fn find_group(group: &str, groups: &str) -> Result<u32, Error> {
    if let Some(g) = group_entries(groups).find(|g| g.name == group) {
        return Ok(g.gid);
    }
    parse_id("group", group)?.ok_or_else(|| Error::NoGroup(group.to_string()))
}

/// Resolve `spec` (empty for the default, root) and `group_add` against the
/// image's `passwd` and `group` files (empty when the image has none).
pub fn resolve(
    spec: &str,
    group_add: &[String],
    passwd: &str,
    groups: &str,
) -> Result<User, Error> {
    let (user, group) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    if spec.contains(':') && (user.is_empty() || group.is_some_and(str::is_empty))
        || group.is_some_and(|g| g.contains(':'))
    {
        return Err(Error::Invalid(spec.to_string()));
    }
    let user = if user.is_empty() { "0" } else { user };
    let number = parse_id("user", user)?;
    // A name first; a number the image does not list is still fine.
    let entry = passwd_entries(passwd)
        .find(|p| p.name == user)
        .or_else(|| passwd_entries(passwd).find(|p| Some(p.uid) == number));
    let (uid, mut gid, name, home) = match &entry {
        Some(p) => (p.uid, p.gid, Some(p.name), Some(p.home.to_string())),
        None => {
            let uid = number.ok_or_else(|| Error::NoUser(user.to_string()))?;
            (uid, 0, None, None)
        }
    };
    let mut supplementary = Vec::new();
    match group {
        Some(group) => {
            gid = find_group(group, groups)?;
            supplementary.push(gid);
        }
        None => {
            supplementary.push(gid);
            if let Some(name) = name {
                supplementary.extend(
                    group_entries(groups)
                        .filter(|g| g.members.contains(&name))
                        .map(|g| g.gid),
                );
            }
        }
    }
    for g in group_add {
        supplementary.push(find_group(g, groups)?);
    }
    let mut seen = Vec::new();
    supplementary.retain(|g| {
        let new = !seen.contains(g);
        seen.push(*g);
        new
    });
    Ok(User {
        identity: Identity {
            uid,
            gid,
            groups: supplementary,
        },
        home,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n\
        daemon:x:1:1:daemon:/usr/sbin:/bin/false\n\
        # a comment\n\
        web:x:1000:1000:Web:/home/web:/bin/sh\n\
        nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n";
    const GROUP: &str = "root:x:0:\n\
        wheel:x:10:root,web\n\
        web:x:1000:\n\
        audio:x:29:web\n\
        nogroup:x:65534:\n";

    #[test]
    fn host_groups_by_name() {
        assert_eq!(group_id("audio", GROUP), Some(29));
        assert_eq!(group_id("tinydocker", GROUP), None);
    }

    fn id(spec: &str, add: &[&str]) -> Result<Identity, Error> {
        let add: Vec<String> = add.iter().map(|s| s.to_string()).collect();
        resolve(spec, &add, PASSWD, GROUP).map(|u| u.identity)
    }

    fn ident(uid: u32, gid: u32, groups: &[u32]) -> Identity {
        Identity {
            uid,
            gid,
            groups: groups.to_vec(),
        }
    }

    #[test]
    fn default_is_root_with_its_groups() {
        assert_eq!(id("", &[]), Ok(ident(0, 0, &[0, 10])));
        let u = resolve("", &[], PASSWD, GROUP).unwrap();
        assert_eq!(u.home.as_deref(), Some("/root"));
    }

    #[test]
    fn names_and_numbers() {
        assert_eq!(id("web", &[]), Ok(ident(1000, 1000, &[1000, 10, 29])));
        assert_eq!(id("1000", &[]), Ok(ident(1000, 1000, &[1000, 10, 29])));
        assert_eq!(id("nobody", &[]), Ok(ident(65534, 65534, &[65534])));
        // A number the image does not know: group 0, no home.
        let u = resolve("4242", &[], PASSWD, GROUP).unwrap();
        assert_eq!(u.identity, ident(4242, 0, &[0]));
        assert_eq!(u.home, None);
    }

    #[test]
    fn explicit_group_replaces_the_lists() {
        assert_eq!(id("web:audio", &[]), Ok(ident(1000, 29, &[29])));
        assert_eq!(id("1000:1000", &[]), Ok(ident(1000, 1000, &[1000])));
        assert_eq!(id("5:7", &[]), Ok(ident(5, 7, &[7])));
    }

    #[test]
    fn group_add() {
        assert_eq!(
            id("nobody", &["audio", "4000", "65534"]),
            Ok(ident(65534, 65534, &[65534, 29, 4000]))
        );
    }

    #[test]
    fn unknown_names_are_errors() {
        assert_eq!(id("ghost", &[]), Err(Error::NoUser("ghost".into())));
        assert_eq!(id("web:ghosts", &[]), Err(Error::NoGroup("ghosts".into())));
        assert_eq!(id("web", &["ghosts"]), Err(Error::NoGroup("ghosts".into())));
        assert_eq!(
            id("ghost", &[]).unwrap_err().to_string(),
            "unable to find user ghost: no matching entries in passwd file"
        );
        for bad in [":1", "1:", "1:2:3"] {
            assert_eq!(id(bad, &[]), Err(Error::Invalid(bad.into())), "{bad}");
        }
    }

    #[test]
    fn ids_beyond_int_are_refused() {
        let range = |kind, id: &str| {
            Err(Error::OutOfRange {
                kind,
                id: id.to_string(),
            })
        };
        assert_eq!(id("4294967295", &[]), range("user", "4294967295"));
        assert_eq!(id("2147483648", &[]), range("user", "2147483648"));
        assert_eq!(
            id("99999999999999999999", &[]),
            range("user", "99999999999999999999")
        );
        assert_eq!(id("1000:4294967295", &[]), range("group", "4294967295"));
        assert_eq!(id("web", &["2147483648"]), range("group", "2147483648"));
        assert_eq!(
            id("2147483647:2147483647", &[]),
            Ok(ident(2147483647, 2147483647, &[2147483647]))
        );
        // An image's entry beyond the range is no entry at all.
        let passwd = "big:x:4294967295:0::/:/bin/sh\n";
        assert_eq!(
            resolve("big", &[], passwd, "").map(|u| u.identity),
            Err(Error::NoUser("big".into()))
        );
        assert_eq!(
            id("4294967295", &[]).unwrap_err().to_string(),
            "user id 4294967295 is out of range (0 to 2147483647)"
        );
    }

    #[test]
    fn an_image_without_files() {
        assert_eq!(
            resolve("", &[], "", "").map(|u| u.identity),
            Ok(ident(0, 0, &[0]))
        );
        assert_eq!(
            resolve("12:34", &[], "", "").map(|u| u.identity),
            Ok(ident(12, 34, &[34]))
        );
        assert!(resolve("root", &[], "", "").is_err());
    }
}
