//! The few pieces of the DNS wire format (RFC 1035 §4) the embedded server
//! needs: a query's header and question read from a datagram, and an
//! answer built for it. Pure and total: any byte string is either a query
//! or `None`, never a panic; compression pointers (RFC 1035 §4.1.4) are
//! followed only backwards, so a loop of them cannot hang the reader.

use std::net::Ipv4Addr;

/// The header's length.
const HEADER: usize = 12;
/// A name's longest encoding (RFC 1035 §2.3.4).
const MAX_NAME: usize = 255;

/// Record types.
pub const TYPE_A: u16 = 1;
/// `AAAA` (RFC 3596).
#[cfg(test)]
pub const TYPE_AAAA: u16 = 28;
/// `ANY` (RFC 1035's `*`).
pub const TYPE_ANY: u16 = 255;
/// The Internet class.
pub const CLASS_IN: u16 = 1;

/// Response codes.
pub const NOERROR: u8 = 0;
/// The server could not answer (its upstreams did not).
pub const SERVFAIL: u8 = 2;
/// An operation other than a standard query.
pub const NOTIMP: u8 = 4;

/// A standard query's one question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// Copied into the answer.
    pub id: u16,
    /// The header's second word: opcode and recursion desired are echoed.
    pub flags: u16,
    /// The labels as asked (their case kept: resolvers check it).
    pub labels: Vec<Vec<u8>>,
    /// The record type asked for.
    pub qtype: u16,
    /// Its class.
    pub qclass: u16,
}

impl Query {
    /// The name, lower-cased, labels joined by dots, no trailing dot: what
    /// names are compared as (DNS names are case-insensitive).
    pub fn name(&self) -> String {
        let labels: Vec<String> = self
            .labels
            .iter()
            .map(|l| String::from_utf8_lossy(l).to_ascii_lowercase())
            .collect();
        labels.join(".")
    }

    /// Its opcode (0: a standard query).
    pub fn opcode(&self) -> u8 {
        ((self.flags >> 11) & 0xf) as u8
    }
}

fn u16_at(packet: &[u8], at: usize) -> Option<u16> {
    let bytes = packet.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes([bytes[0], bytes[1]]))
}

/// Read a query: a header that is no response, one question. `None` for
/// anything else (a response, a truncated or malformed datagram).
pub fn parse_query(packet: &[u8]) -> Option<Query> {
    let id = u16_at(packet, 0)?;
    let flags = u16_at(packet, 2)?;
    let qdcount = u16_at(packet, 4)?;
    if flags & 0x8000 != 0 || qdcount != 1 {
        return None;
    }
    let (labels, end) = read_name(packet, HEADER)?;
    Some(Query {
        id,
        flags,
        labels,
        qtype: u16_at(packet, end)?,
        qclass: u16_at(packet, end + 2)?,
    })
}

/// The labels of the name at `at`, and where the data after it starts
/// (after the first pointer, if the name is compressed).
fn read_name(packet: &[u8], mut at: usize) -> Option<(Vec<Vec<u8>>, usize)> {
    let mut labels = Vec::new();
    let mut length = 0;
    let mut end = None;
    loop {
        let len = *packet.get(at)? as usize;
        match len & 0xc0 {
            0x00 if len == 0 => {
                return Some((labels, end.unwrap_or(at + 1)));
            }
            0x00 => {
                length += len + 1;
                if length > MAX_NAME {
                    return None;
                }
                labels.push(packet.get(at + 1..at + 1 + len)?.to_vec());
                at += 1 + len;
            }
            0xc0 => {
                let target = (u16_at(packet, at)? & 0x3fff) as usize;
                // Only backwards: each jump lands earlier, so jumps end.
                if target >= at {
                    return None;
                }
                end.get_or_insert(at + 2);
                at = target;
            }
            // 0x40 and 0x80: extended and reserved label types.
            _ => return None,
        }
    }
}

/// An answer to `query` with `rcode` and an A record for each of
/// `addresses` (TTL `ttl` seconds), its question echoed.
pub fn answer(query: &Query, rcode: u8, addresses: &[Ipv4Addr], ttl: u32) -> Vec<u8> {
    // A response (QR), the query's opcode and recursion desired,
    // recursion available.
    let flags = 0x8000 | (query.flags & 0x7900) | 0x0080 | u16::from(rcode & 0xf);
    let mut out = Vec::with_capacity(64 + 16 * addresses.len());
    for word in [query.id, flags, 1, addresses.len() as u16, 0, 0] {
        out.extend_from_slice(&word.to_be_bytes());
    }
    for label in &query.labels {
        out.push(label.len() as u8);
        out.extend_from_slice(label);
    }
    out.push(0);
    out.extend_from_slice(&query.qtype.to_be_bytes());
    out.extend_from_slice(&query.qclass.to_be_bytes());
    for address in addresses {
        // The name: a pointer to the question's, right after the header.
        out.extend_from_slice(&[0xc0, HEADER as u8]);
        out.extend_from_slice(&TYPE_A.to_be_bytes());
        out.extend_from_slice(&CLASS_IN.to_be_bytes());
        out.extend_from_slice(&ttl.to_be_bytes());
        out.extend_from_slice(&4u16.to_be_bytes());
        out.extend_from_slice(&address.octets());
    }
    out
}

/// What the server does with a query, given `lookup`, the addresses of a
/// name it knows (`None`: a name it does not).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// Send this back.
    Answer(Vec<u8>),
    /// Ask the upstream servers and relay their answer.
    Forward,
}

/// How long the answers of the server may be cached: docker's 600 s.
pub const TTL: u32 = 600;

/// The reply to `query`: a container's name is answered here (its
/// addresses for A, nothing but success for other types, so a resolver
/// asking AAAA first does not go on to the world), anything else is
/// forwarded; an operation other than a query is not implemented.
pub fn reply(query: &Query, lookup: impl FnOnce(&str) -> Option<Vec<Ipv4Addr>>) -> Reply {
    if query.opcode() != 0 {
        return Reply::Answer(answer(query, NOTIMP, &[], 0));
    }
    if query.qclass != CLASS_IN || query.labels.is_empty() {
        return Reply::Forward;
    }
    match lookup(&query.name()) {
        None => Reply::Forward,
        Some(addresses) => match query.qtype {
            TYPE_A | TYPE_ANY => Reply::Answer(answer(query, NOERROR, &addresses, TTL)),
            _ => Reply::Answer(answer(query, NOERROR, &[], TTL)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A query as `dig` or busybox's nslookup sends it.
    fn query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
        let mut out = Vec::new();
        for word in [id, 0x0100, 1, 0, 0, 0] {
            out.extend_from_slice(&word.to_be_bytes());
        }
        for label in name.split('.') {
            out.push(label.len() as u8);
            out.extend_from_slice(label.as_bytes());
        }
        out.push(0);
        out.extend_from_slice(&qtype.to_be_bytes());
        out.extend_from_slice(&CLASS_IN.to_be_bytes());
        out
    }

    #[test]
    fn parses_a_query() {
        let q = parse_query(&query(0x1234, "Web.Example", TYPE_A)).unwrap();
        assert_eq!(q.id, 0x1234);
        assert_eq!(q.name(), "web.example");
        assert_eq!(q.labels[0], b"Web");
        assert_eq!((q.qtype, q.qclass, q.opcode()), (TYPE_A, CLASS_IN, 0));
    }

    #[test]
    fn answers_with_addresses() {
        let q = parse_query(&query(7, "web", TYPE_A)).unwrap();
        let ips = [Ipv4Addr::new(10, 1, 0, 2), Ipv4Addr::new(10, 1, 0, 3)];
        let Reply::Answer(a) = reply(&q, |n| (n == "web").then(|| ips.to_vec())) else {
            panic!("not answered");
        };
        // Header: id, QR|RD|RA, one question, two answers.
        assert_eq!(&a[..12], &[0, 7, 0x81, 0x80, 0, 1, 0, 2, 0, 0, 0, 0]);
        // The question echoed, then the records.
        assert_eq!(&a[12..21], b"\x03web\x00\x00\x01\x00\x01");
        assert_eq!(
            &a[21..37],
            &[0xc0, 12, 0, 1, 0, 1, 0, 0, 2, 0x58, 0, 4, 10, 1, 0, 2]
        );
        assert_eq!(&a[a.len() - 4..], &[10, 1, 0, 3]);
        // What the server sends reads as a response, not a query.
        assert_eq!(parse_query(&a), None);
    }

    #[test]
    fn aaaa_of_a_known_name_is_empty_and_unknown_names_forwarded() {
        let q = parse_query(&query(9, "web", TYPE_AAAA)).unwrap();
        let Reply::Answer(a) = reply(&q, |_| Some(vec![Ipv4Addr::LOCALHOST])) else {
            panic!("not answered");
        };
        assert_eq!(&a[2..8], &[0x81, 0x80, 0, 1, 0, 0]);
        let q = parse_query(&query(9, "example.org", TYPE_A)).unwrap();
        assert_eq!(reply(&q, |_| None), Reply::Forward);
        // Not a standard query (opcode 2, STATUS): not implemented.
        let mut status = query(3, "web", TYPE_A);
        status[2] |= 2 << 3;
        let q = parse_query(&status).unwrap();
        let Reply::Answer(a) = reply(&q, |_| panic!("no lookup")) else {
            panic!("not answered");
        };
        assert_eq!(a[3] & 0xf, NOTIMP);
    }

    #[test]
    fn follows_compression_pointers_backwards_only() {
        // A question whose name ends in a pointer to a name earlier in
        // the packet (inside a bogus header padding: offset 2 holds "\x01a\x00"
        // after a rewrite below).
        let mut p = query(1, "x", TYPE_A);
        // Name "b" + pointer to offset 12 ("x").
        let mut q2 = p[..12].to_vec();
        q2.extend_from_slice(b"\x01x\x00");
        let name_at = q2.len();
        q2.extend_from_slice(b"\x01b\xc0\x0c");
        q2.extend_from_slice(&[0, 1, 0, 1]);
        // Parse the name at name_at directly.
        let (labels, end) = read_name(&q2, name_at).unwrap();
        assert_eq!(labels, vec![b"b".to_vec(), b"x".to_vec()]);
        assert_eq!(end, name_at + 4);
        // A pointer to itself, and one forwards: refused.
        p.truncate(12);
        p.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1]);
        assert_eq!(parse_query(&p), None);
        p.truncate(12);
        p.extend_from_slice(&[0xc0, 14, 0, 0, 1, 0, 1]);
        assert_eq!(parse_query(&p), None);
    }

    #[test]
    fn malformed_and_truncated_packets_are_ignored() {
        let good = query(5, "web.net", TYPE_A);
        for len in 0..good.len() {
            assert_eq!(parse_query(&good[..len]), None, "truncated to {len}");
        }
        assert!(parse_query(&good).is_some());
        // Two questions; a response; reserved label types; a name too long.
        let mut two = good.clone();
        two[5] = 2;
        assert_eq!(parse_query(&two), None);
        let mut response = good.clone();
        response[2] |= 0x80;
        assert_eq!(parse_query(&response), None);
        let mut reserved = good.clone();
        reserved[12] = 0x43;
        assert_eq!(parse_query(&reserved), None);
        let long = query(5, &vec!["a".repeat(63); 5].join("."), TYPE_A);
        assert_eq!(parse_query(&long), None);
    }

    #[test]
    fn random_bytes_never_panic() {
        // xorshift64: deterministic, no dependency.
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let seed = query(1, "web.example", TYPE_A);
        for round in 0..20_000 {
            let len = (next() % 80) as usize;
            let mut packet: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            if round % 2 == 0 {
                // Mutations of a valid query reach deeper.
                packet = seed.clone();
                for _ in 0..(next() % 4 + 1) {
                    let at = (next() as usize) % packet.len();
                    packet[at] = next() as u8;
                }
                packet.truncate((next() as usize) % (seed.len() + 1));
            }
            if let Some(q) = parse_query(&packet) {
                let _ = reply(&q, |_| Some(vec![Ipv4Addr::LOCALHOST]));
                let _ = q.name();
            }
        }
    }
}
