//! The hash chain: how an event becomes one tamper-evident line, and how a line is read back.
//!
//! A line is the event's canonical JSON, `{"v":1,"seq":N,...event...,"prev":"<hex>"}`,
//! with `,"hash":"<hex>"` inserted before the closing brace, where `hash` is the SHA-256 of
//! the canonical JSON and `prev` the `hash` of the line before (64 zeros for the first).
//! Verifying needs no re-serialisation: strip the fixed-size `hash` member, hash the rest.

use aws_lc_rs::digest::{SHA256, digest};
use serde::{Deserialize, Serialize};

use super::AuditEvent;

/// Format version written in every line.
pub(crate) const VERSION: u8 = 1;
/// `prev` of the first event of a chain.
pub(crate) const GENESIS: Hash = [0; 32];
/// A SHA-256 digest.
pub(crate) type Hash = [u8; 32];

const HASH_MEMBER: &[u8] = b",\"hash\":\"";
/// `,"hash":"` + 64 hex digits + `"}`.
const SUFFIX_LEN: usize = HASH_MEMBER.len() + 64 + 2;

#[derive(Serialize)]
struct Canonical<'a> {
    v: u8,
    seq: u64,
    #[serde(flatten)]
    event: &'a AuditEvent,
    prev: &'a str,
}

/// The writer's position in the chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Chain {
    /// Sequence number of the next event.
    pub(crate) next_seq: u64,
    /// Hash of the last event written.
    pub(crate) prev: Hash,
}

impl Chain {
    /// A new chain.
    pub(crate) fn start() -> Self {
        Self {
            next_seq: 1,
            prev: GENESIS,
        }
    }

    /// The chain continuing after `last_line`.
    pub(crate) fn resume(last_line: &[u8]) -> Result<Self, LineError> {
        let line = ChainedLine::parse(last_line)?;
        let next_seq =
            (line.seq.checked_add(1)).ok_or(LineError::Malformed("`seq` is out of range"))?;
        Ok(Self {
            next_seq,
            prev: line.hash,
        })
    }

    /// Appends `event` as one line (with `\n`) to `out` and advances the chain.
    pub(crate) fn append(
        &mut self,
        event: &AuditEvent,
        out: &mut Vec<u8>,
    ) -> Result<(), serde_json::Error> {
        let start = out.len();
        let prev = hex(&self.prev);
        let canonical = Canonical {
            v: VERSION,
            seq: self.next_seq,
            event,
            prev: &prev,
        };
        if let Err(error) = serde_json::to_writer(&mut *out, &canonical) {
            out.truncate(start);
            return Err(error);
        }
        let hash: Hash = digest(&SHA256, &out[start..])
            .as_ref()
            .try_into()
            .unwrap_or(GENESIS);
        out.pop(); // the closing brace
        out.extend_from_slice(HASH_MEMBER);
        out.extend_from_slice(hex(&hash).as_bytes());
        out.extend_from_slice(b"\"}\n");
        self.prev = hash;
        self.next_seq = self.next_seq.saturating_add(1);
        Ok(())
    }
}

/// Why a line is not a valid chained event.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LineError {
    /// The line is not a chained audit event at all.
    #[error("not an audit event line: {0}")]
    Malformed(&'static str),
    /// The line's content does not match its own hash: it was edited.
    #[error("content does not match its hash (the line was edited)")]
    HashMismatch,
}

/// The chain facts of one line whose own hash checked out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ChainedLine {
    pub(crate) seq: u64,
    pub(crate) kind: String,
    pub(crate) prev: Hash,
    pub(crate) hash: Hash,
}

#[derive(Deserialize)]
struct ChainFields {
    v: u8,
    seq: u64,
    kind: String,
    prev: String,
}

impl ChainedLine {
    /// Checks a line (without its `\n`) against its own hash and reads its chain fields.
    pub(crate) fn parse(line: &[u8]) -> Result<Self, LineError> {
        let canonical = canonical_bytes(line)?;
        let stated = unhex(&line[line.len() - SUFFIX_LEN + HASH_MEMBER.len()..line.len() - 2])
            .ok_or(LineError::Malformed("`hash` is not 64 hex digits"))?;
        let computed = digest(&SHA256, &canonical);
        if computed.as_ref() != stated {
            return Err(LineError::HashMismatch);
        }
        let fields: ChainFields = serde_json::from_slice(&canonical).map_err(|_| {
            LineError::Malformed("not a JSON object with `v`, `seq`, `kind` and `prev`")
        })?;
        if fields.v != VERSION {
            return Err(LineError::Malformed("unknown format version"));
        }
        let prev = unhex(fields.prev.as_bytes())
            .ok_or(LineError::Malformed("`prev` is not 64 hex digits"))?;
        Ok(Self {
            seq: fields.seq,
            kind: fields.kind,
            prev,
            hash: stated,
        })
    }
}

/// The canonical JSON of a line: the line without its trailing `hash` member.
pub(crate) fn canonical_bytes(line: &[u8]) -> Result<Vec<u8>, LineError> {
    if line.len() < SUFFIX_LEN + 2 || !line.ends_with(b"\"}") {
        return Err(LineError::Malformed(
            "line does not end with a `hash` member",
        ));
    }
    let body_end = line.len() - SUFFIX_LEN;
    if &line[body_end..body_end + HASH_MEMBER.len()] != HASH_MEMBER {
        return Err(LineError::Malformed(
            "line does not end with a `hash` member",
        ));
    }
    let mut canonical = Vec::with_capacity(body_end + 1);
    canonical.extend_from_slice(&line[..body_end]);
    canonical.push(b'}');
    Ok(canonical)
}

/// Lower-case hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0xf)]));
    }
    out
}

fn unhex(text: &[u8]) -> Option<Hash> {
    if text.len() != 64 {
        return None;
    }
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    let mut hash = GENESIS;
    for (i, pair) in text.chunks_exact(2).enumerate() {
        hash[i] = nibble(pair[0])? << 4 | nibble(pair[1])?;
    }
    Some(hash)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::EventKind;

    fn line(chain: &mut Chain, event: &AuditEvent) -> Vec<u8> {
        let mut out = Vec::new();
        chain.append(event, &mut out).unwrap();
        assert_eq!(out.pop(), Some(b'\n'));
        out
    }

    #[test]
    fn lines_chain_and_verify() {
        let mut chain = Chain::start();
        let first = line(&mut chain, &AuditEvent::new(EventKind::Login));
        let second = line(&mut chain, &AuditEvent::new(EventKind::Logout));
        let a = ChainedLine::parse(&first).unwrap();
        let b = ChainedLine::parse(&second).unwrap();
        assert_eq!((a.seq, a.prev), (1, GENESIS));
        assert_eq!((b.seq, b.prev), (2, a.hash));
        assert_eq!(Chain::resume(&second).unwrap(), chain);
        let json: serde_json::Value = serde_json::from_slice(&second).unwrap();
        assert_eq!(json["kind"], "logout");
        assert_eq!(json["hash"], hex(&b.hash));
    }

    #[test]
    fn any_edit_breaks_the_hash() {
        let mut chain = Chain::start();
        let original = line(
            &mut chain,
            &AuditEvent::new(EventKind::Login).field("user", "alice"),
        );
        let edited = String::from_utf8(original.clone())
            .unwrap()
            .replace("alice", "mallory");
        assert_eq!(
            ChainedLine::parse(edited.as_bytes()),
            Err(LineError::HashMismatch)
        );
        let mut truncated = original.clone();
        truncated.truncate(original.len() - 10);
        assert!(matches!(
            ChainedLine::parse(&truncated),
            Err(LineError::Malformed(_))
        ));
        assert!(matches!(
            ChainedLine::parse(b"{}"),
            Err(LineError::Malformed(_))
        ));
    }

    #[test]
    fn hex_round_trips() {
        let hash: Hash = core::array::from_fn(|i| (i * 37) as u8);
        assert_eq!(unhex(hex(&hash).as_bytes()), Some(hash));
        assert_eq!(unhex(b"zz"), None);
    }
}
