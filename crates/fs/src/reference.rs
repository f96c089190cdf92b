//! Image references, `NAME[:TAG]`, with docker's grammar for names: path
//! components of lowercase letters and digits joined by `.`, `_`, `__` or
//! dashes, separated by `/`; tags of up to 128 word characters, `.` and `-`.

use std::fmt;
use std::str::FromStr;

use crate::ReferenceError;

/// A parsed `NAME[:TAG][@DIGEST]`; the tag defaults to `latest`, unless a
/// digest is given (then it is empty unless given too).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    pub name: String,
    pub tag: String,
    /// `sha256:<64 hex>`.
    pub digest: Option<String>,
}

fn valid_component(c: &str) -> bool {
    let bytes = c.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if bytes.is_empty() || !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return false;
    }
    // Separators: one '.', one or two '_', or any number of '-'.
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if alnum(b) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|b| b == b'-');
        if !ok {
            return false;
        }
    }
    true
}

/// `HOST[:PORT]` as a reference's first component: dotted labels of
/// letters, digits and dashes, an optional numeric port; it must have a
/// '.' or a port, or be `localhost`, to be read as a host.
fn is_domain(c: &str) -> bool {
    let (host, port) = match c.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (c, None),
    };
    let label = |l: &str| {
        !l.is_empty()
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    let port_ok =
        port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()));
    port_ok
        && host.split('.').all(label)
        && (host.contains('.') || port.is_some() || host == "localhost")
}

fn valid_tag(t: &str) -> bool {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let bytes = t.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 128
        && word(bytes[0])
        && bytes.iter().all(|&b| word(b) || b == b'.' || b == b'-')
}

impl FromStr for Reference {
    type Err = ReferenceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() {
            return Err(ReferenceError::Empty);
        }
        let whole = s;
        let (s, digest) = match s.split_once('@') {
            Some((rest, digest)) => {
                let hex = digest.strip_prefix("sha256:").unwrap_or_default();
                if hex.len() != 64 || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
                    return Err(ReferenceError::Malformed(whole.to_string()));
                }
                (rest, Some(digest.to_string()))
            }
            None => (s, None),
        };
        // A ':' after the last '/' starts the tag.
        let last_slash = s.rfind('/').map_or(0, |i| i + 1);
        let default_tag = if digest.is_some() { "" } else { "latest" };
        let (name, tag) = match s[last_slash..].find(':') {
            Some(i) => (&s[..last_slash + i], &s[last_slash + i + 1..]),
            None => (s, default_tag),
        };
        if name.is_empty() {
            return Err(ReferenceError::Malformed(whole.to_string()));
        }
        // A first component with a '.' or a ':' (or `localhost`) is a
        // registry host, `HOST[:PORT]`, as docker reads it.
        let path = match name.split_once('/') {
            Some((host, rest)) if is_domain(host) => rest,
            _ => name,
        };
        if name.len() > 255 || !path.split('/').all(valid_component) {
            return Err(ReferenceError::Malformed(s.to_string()));
        }
        if !(valid_tag(tag) || tag.is_empty() && digest.is_some()) {
            return Err(ReferenceError::BadTag(tag.to_string()));
        }
        Ok(Reference {
            name: name.to_string(),
            tag: tag.to_string(),
            digest,
        })
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.name)?;
        if !self.tag.is_empty() {
            write!(f, ":{}", self.tag)?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Reference, ReferenceError> {
        s.parse()
    }

    #[test]
    fn names_and_tags() {
        assert_eq!(parse("busybox").unwrap().to_string(), "busybox:latest");
        assert_eq!(parse("busybox:1.36").unwrap().tag, "1.36");
        assert_eq!(
            parse("library/my-app_x:v1.0-rc1").unwrap().name,
            "library/my-app_x"
        );
        assert_eq!(parse("a__b.c---d").unwrap().name, "a__b.c---d");
        let r = parse("127.0.0.1:5000/team/app:v2").unwrap();
        assert_eq!(
            (r.name.as_str(), r.tag.as_str()),
            ("127.0.0.1:5000/team/app", "v2")
        );
        assert_eq!(
            parse("localhost/app").unwrap().to_string(),
            "localhost/app:latest"
        );
        assert_eq!(
            parse("Registry.Example.com/app").unwrap().name,
            "Registry.Example.com/app"
        );
    }

    #[test]
    fn malformed_names_are_refused() {
        for bad in [
            "Busybox",
            "-x",
            "x-",
            "a..b",
            "a___b",
            "a//b",
            "/a",
            "a/",
            "has space",
            "a:b:c",
            "a@b",
            "a@sha256:abc",
            "@sha256:0000000000000000000000000000000000000000000000000000000000000000",
            "host:port/app",
            "-bad.example.com/app",
        ] {
            assert!(parse(bad).is_err(), "{bad} should be refused");
        }
        assert_eq!(parse(""), Err(ReferenceError::Empty));
        assert!(matches!(parse("busybox:"), Err(ReferenceError::BadTag(_))));
        assert!(matches!(
            parse("busybox:.x"),
            Err(ReferenceError::BadTag(_))
        ));
    }
}
