//! Container ids and names.

use crate::error::{invalid, Result};

/// A new container id: 64 hex digits from the kernel's random source.
///
/// ```
/// let id = tinydocker_engine::new_id();
/// assert_eq!(id.len(), 64);
/// ```
pub fn new_id() -> String {
    let mut bytes = [0u8; 32];
    crate::sys::getrandom(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// docker's rule for container names: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`.
pub fn validate_name(name: &str) -> Result<()> {
    let bytes = name.as_bytes();
    let ok = bytes.len() >= 2
        && bytes[0].is_ascii_alphanumeric()
        && bytes[1..]
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-');
    if !ok {
        return Err(invalid!(
            "Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
        ));
    }
    Ok(())
}

const ADJECTIVES: [&str; 24] = [
    "brave", "calm", "clever", "eager", "fervent", "gentle", "happy", "jolly", "keen", "lucid",
    "merry", "nifty", "quirky", "serene", "sharp", "stoic", "sweet", "tender", "upbeat", "vibrant",
    "witty", "youthful", "zealous", "bold",
];
const SURNAMES: [&str; 24] = [
    "babbage", "curie", "darwin", "euclid", "fermi", "galois", "hopper", "hypatia", "johnson",
    "kepler", "lovelace", "meitner", "newton", "noether", "pascal", "ritchie", "shannon",
    "thompson", "turing", "torvalds", "wozniak", "yalow", "zuse", "knuth",
];

/// A docker-style random name, `adjective_surname`, derived from the id.
/// The caller retries with a longer suffix if it is taken.
pub fn generate_name(id: &str, attempt: usize) -> String {
    let n = u64::from_str_radix(&id[..12], 16).unwrap_or(0);
    let adj = ADJECTIVES[(n % 24) as usize];
    let sur = SURNAMES[((n / 24) % 24) as usize];
    match attempt {
        0 => format!("{adj}_{sur}"),
        _ => format!("{adj}_{sur}{}", &id[12..12 + attempt.min(8)]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_64_hex_and_differ() {
        let (a, b) = (new_id(), new_id());
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn names_follow_dockers_rule() {
        for good in ["ab", "web-1", "A.b_c", "0x"] {
            validate_name(good).unwrap();
        }
        for bad in ["", "a", "-ab", "_ab", "a b", "a/b", "ä1", ".ab"] {
            assert!(validate_name(bad).is_err(), "{bad:?}");
        }
        let id = new_id();
        validate_name(&generate_name(&id, 0)).unwrap();
        validate_name(&generate_name(&id, 3)).unwrap();
    }
}
