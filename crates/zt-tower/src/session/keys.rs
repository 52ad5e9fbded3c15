//! The AES-256-GCM key ring and the sealed-value format.

use std::fmt;
use std::sync::Arc;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::{digest, rand};
use base64::Engine as _;
use base64::alphabet;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

use super::SessionError;

/// Format version, the first byte of every sealed value.
const VERSION: u8 = 1;
/// Length of the key id that follows the version byte.
const KEY_ID_LEN: usize = 4;
/// Version byte and key id; authenticated as part of the AEAD's additional data.
const HEADER_LEN: usize = 1 + KEY_ID_LEN;
/// AES-GCM tag length.
const TAG_LEN: usize = 16;
/// AES-256 key length.
const KEY_LEN: usize = 32;
/// The shortest well-formed sealed value (decoded): header, nonce, empty plaintext, tag.
const MIN_SEALED_LEN: usize = HEADER_LEN + NONCE_LEN + TAG_LEN;
/// Domain separation for the key fingerprint the key id is taken from.
const KEY_ID_CONTEXT: &[u8] = b"zt-tower session key id v1\0";

type KeyId = [u8; KEY_ID_LEN];

/// One AEAD key with its id and full fingerprint (to tell duplicates from id collisions).
struct Key {
    id: KeyId,
    fingerprint: [u8; 32],
    aead: LessSafeKey,
}

impl Key {
    fn new(mut material: [u8; KEY_LEN]) -> Result<Self, SessionError> {
        let result = Self::from_bytes(&material);
        wipe(&mut material);
        result
    }

    fn from_bytes(material: &[u8; KEY_LEN]) -> Result<Self, SessionError> {
        let mut ctx = digest::Context::new(&digest::SHA256);
        ctx.update(KEY_ID_CONTEXT);
        ctx.update(material);
        let hash = ctx.finish();
        let mut fingerprint = [0u8; 32];
        fingerprint.copy_from_slice(hash.as_ref());
        let mut id = [0u8; KEY_ID_LEN];
        id.copy_from_slice(&fingerprint[..KEY_ID_LEN]);
        let unbound = UnboundKey::new(&AES_256_GCM, material).map_err(|_| SessionError::Crypto)?;
        Ok(Self {
            id,
            fingerprint,
            aead: LessSafeKey::new(unbound),
        })
    }

    fn random() -> Result<Self, SessionError> {
        Self::new(random_bytes()?)
    }
}

/// A key ring for sealing and opening session cookies (AES-256-GCM).
///
/// One primary key seals; the primary and any number of older keys open. Rotate by making
/// a new key primary and keeping the previous ones as older keys for as long as cookies
/// sealed with them may live (the session's absolute lifetime), then drop them. Every
/// sealed value names its key by a 4-byte id derived from the key material, so opening
/// picks the key directly and replicas with the same secrets agree without further
/// configuration.
///
/// Cloning is cheap (the ring is shared). `Debug` shows key ids, never key material.
/// Each seal uses a fresh random 96-bit nonce; keep a primary key for well under 2³²
/// seals (rotating it, say, monthly does that for any realistic deployment).
///
/// ```
/// use zt_tower::session::{SessionError, SessionKeys};
///
/// // In production, load secrets from configuration:
/// // SessionKeys::from_base64_secrets(&primary, &[older])
/// let keys = SessionKeys::generate()?;
/// let sealed = keys.seal(b"hello", b"my-cookie")?;
/// assert_eq!(keys.open(&sealed, b"my-cookie")?, b"hello");
/// // The additional data (here the cookie name) must match.
/// assert_eq!(keys.open(&sealed, b"other-cookie"), Err(SessionError::Tampered));
///
/// // After rotation the old key still opens, but no longer seals.
/// let rotated = keys.rotated()?;
/// assert_eq!(rotated.open(&sealed, b"my-cookie")?, b"hello");
/// // Once the old keys are dropped, their values no longer open.
/// assert_eq!(
///     rotated.without_older().open(&sealed, b"my-cookie"),
///     Err(SessionError::UnknownKey)
/// );
/// # Ok::<(), SessionError>(())
/// ```
#[derive(Clone)]
pub struct SessionKeys {
    primary: Arc<Key>,
    older: Arc<[Arc<Key>]>,
}

impl SessionKeys {
    /// A ring with one fresh random primary key and no older keys.
    ///
    /// Cookies sealed with it only open in this process; for several replicas or restarts,
    /// use [`SessionKeys::from_base64_secrets`].
    ///
    /// # Errors
    /// [`SessionError::Crypto`] if the system random number generator fails.
    pub fn generate() -> Result<Self, SessionError> {
        Ok(Self {
            primary: Arc::new(Key::random()?),
            older: Arc::from(Vec::new()),
        })
    }

    /// A new random secret, base64 encoded (standard alphabet, padded), for configuration.
    ///
    /// # Errors
    /// [`SessionError::Crypto`] if the system random number generator fails.
    pub fn generate_base64_secret() -> Result<String, SessionError> {
        let mut bytes = random_bytes::<KEY_LEN>()?;
        let secret = base64::engine::general_purpose::STANDARD.encode(bytes);
        wipe(&mut bytes);
        Ok(secret)
    }

    /// A ring from base64 secrets of 32 bytes each: `primary` seals, `older` only open.
    ///
    /// Secrets may use the standard or the URL-safe alphabet, with or without padding;
    /// surrounding whitespace (e.g. a trailing newline from a file) is ignored. A secret
    /// listed twice is kept once.
    ///
    /// # Errors
    /// [`SessionError::Config`] if a secret is not base64, does not decode to 32 bytes, or
    /// two different secrets share a key id (astronomically unlikely; generate another).
    pub fn from_base64_secrets<I>(primary: &str, older: I) -> Result<Self, SessionError>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        let primary = Arc::new(Key::new(decode_secret(primary, "the primary key")?)?);
        let mut ring = Self {
            primary,
            older: Arc::from(Vec::new()),
        };
        let mut older_keys = Vec::new();
        for (index, secret) in older.into_iter().enumerate() {
            let what = format!("older key #{}", index + 1);
            let key = Key::new(decode_secret(secret.as_ref(), &what)?)?;
            if let Some(key) = ring.admit(&older_keys, key)? {
                older_keys.push(Arc::new(key));
            }
        }
        ring.older = Arc::from(older_keys);
        Ok(ring)
    }

    /// This ring rotated: a fresh random primary key, with the current primary and older
    /// keys kept as older keys.
    ///
    /// # Errors
    /// [`SessionError::Crypto`] if the system random number generator fails.
    pub fn rotated(&self) -> Result<Self, SessionError> {
        // A fresh random key colliding with an existing id is a 2^-32 event; refuse it
        // rather than seal values that would open with the wrong key.
        let Some(primary) = self.admit(&self.older, Key::random()?)? else {
            return Err(SessionError::Crypto);
        };
        let mut older = Vec::with_capacity(self.older.len() + 1);
        older.push(Arc::clone(&self.primary));
        older.extend(self.older.iter().cloned());
        Ok(Self {
            primary: Arc::new(primary),
            older: Arc::from(older),
        })
    }

    /// This ring without its older keys: values they sealed no longer open.
    #[must_use]
    pub fn without_older(&self) -> Self {
        Self {
            primary: Arc::clone(&self.primary),
            older: Arc::from(Vec::new()),
        }
    }

    /// The primary key's id, as lowercase hex (for logs and diagnostics).
    #[must_use]
    pub fn primary_key_id(&self) -> String {
        hex(&self.primary.id)
    }

    /// Seals `plaintext` under the primary key, authenticating `aad` with it.
    ///
    /// Returns unpadded URL-safe base64 of version, key id, a fresh random nonce, the
    /// ciphertext and the tag. The same `aad` must be given to [`SessionKeys::open`];
    /// for cookies, use the cookie name.
    ///
    /// # Errors
    /// [`SessionError::Crypto`] if the random number generator or the cipher fails.
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Result<String, SessionError> {
        let key = &self.primary;
        let nonce: [u8; NONCE_LEN] = random_bytes()?;
        let header = header(&key.id);
        let mut out = Vec::with_capacity(MIN_SEALED_LEN + plaintext.len());
        out.extend_from_slice(&header);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(plaintext);
        let tag = key
            .aead
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(full_aad(&header, aad)),
                &mut out[HEADER_LEN + NONCE_LEN..],
            )
            .map_err(|_| SessionError::Crypto)?;
        out.extend_from_slice(tag.as_ref());
        Ok(URL_SAFE_NO_PAD.encode(out))
    }

    /// Opens a value made by [`SessionKeys::seal`] with the same `aad`.
    ///
    /// # Errors
    /// - [`SessionError::Malformed`]: not unpadded URL-safe base64, too short, or an
    ///   unknown format version;
    /// - [`SessionError::UnknownKey`]: sealed by a key not in this ring;
    /// - [`SessionError::Tampered`]: authentication failed (modified value, foreign key,
    ///   different `aad`).
    pub fn open(&self, sealed: &str, aad: &[u8]) -> Result<Vec<u8>, SessionError> {
        let mut bytes = URL_SAFE_NO_PAD
            .decode(sealed)
            .map_err(|_| SessionError::Malformed("not unpadded URL-safe base64"))?;
        if bytes.len() < MIN_SEALED_LEN {
            return Err(SessionError::Malformed("too short"));
        }
        let (header, rest) = bytes.split_at_mut(HEADER_LEN);
        if header[0] != VERSION {
            return Err(SessionError::Malformed("unsupported format version"));
        }
        let key = self.find(&header[1..]).ok_or(SessionError::UnknownKey)?;
        let (nonce, ciphertext) = rest.split_at_mut(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce)
            .map_err(|_| SessionError::Malformed("bad nonce"))?;
        let plaintext_len = key
            .aead
            .open_in_place(nonce, Aad::from(full_aad(header, aad)), ciphertext)
            .map_err(|_| SessionError::Tampered)?
            .len();
        let start = HEADER_LEN + NONCE_LEN;
        bytes.truncate(start + plaintext_len);
        bytes.drain(..start);
        Ok(bytes)
    }

    fn find(&self, id: &[u8]) -> Option<&Key> {
        std::iter::once(&self.primary)
            .chain(self.older.iter())
            .map(|key| &**key)
            .find(|key| key.id == id)
    }

    /// Checks `key` against the primary and `older`: `None` if it is already there,
    /// an error if it shares an id with a different key.
    fn admit(&self, older: &[Arc<Key>], key: Key) -> Result<Option<Key>, SessionError> {
        for existing in std::iter::once(&self.primary).chain(older.iter()) {
            if existing.id == key.id {
                if existing.fingerprint == key.fingerprint {
                    return Ok(None);
                }
                return Err(SessionError::Config(format!(
                    "two different session keys share the key id {}; generate another key",
                    hex(&key.id)
                )));
            }
        }
        Ok(Some(key))
    }
}

impl fmt::Debug for SessionKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let older: Vec<String> = self.older.iter().map(|key| hex(&key.id)).collect();
        f.debug_struct("SessionKeys")
            .field("primary", &hex(&self.primary.id))
            .field("older", &older)
            .finish()
    }
}

fn header(id: &KeyId) -> [u8; HEADER_LEN] {
    let mut header = [VERSION; HEADER_LEN];
    header[1..].copy_from_slice(id);
    header
}

/// The AEAD's additional data: the fixed-length header, then the caller's data.
fn full_aad(header: &[u8], aad: &[u8]) -> Vec<u8> {
    let mut full = Vec::with_capacity(header.len() + aad.len());
    full.extend_from_slice(header);
    full.extend_from_slice(aad);
    full
}

fn random_bytes<const N: usize>() -> Result<[u8; N], SessionError> {
    let mut bytes = [0u8; N];
    rand::fill(&mut bytes).map_err(|_| SessionError::Crypto)?;
    Ok(bytes)
}

fn decode_secret(secret: &str, what: &str) -> Result<[u8; KEY_LEN], SessionError> {
    let config =
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    let secret = secret.trim();
    // The base64 errors name the offending byte; never pass them on.
    let mut decoded = GeneralPurpose::new(&alphabet::STANDARD, config)
        .decode(secret)
        .or_else(|_| GeneralPurpose::new(&alphabet::URL_SAFE, config).decode(secret))
        .map_err(|_| SessionError::Config(format!("session secret ({what}) is not base64")))?;
    let result = <[u8; KEY_LEN]>::try_from(decoded.as_slice()).map_err(|_| {
        SessionError::Config(format!(
            "session secret ({what}) must decode to {KEY_LEN} bytes, not {}",
            decoded.len()
        ))
    });
    wipe(&mut decoded);
    result
}

/// Best-effort overwrite of key material before it is dropped.
fn wipe(bytes: &mut [u8]) {
    bytes.fill(0);
    std::hint::black_box(bytes);
}

fn hex(bytes: &[u8]) -> String {
    use fmt::Write as _;
    bytes.iter().fold(String::new(), |mut out, byte| {
        let _ = write!(out, "{byte:02x}");
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const AAD: &[u8] = b"__Host-zt-session";

    fn secret(byte: u8) -> String {
        base64::engine::general_purpose::STANDARD.encode([byte; KEY_LEN])
    }

    #[test]
    fn seal_open_round_trip() {
        let keys = SessionKeys::generate().unwrap();
        for plaintext in [&b""[..], b"x", &[0u8; 3000]] {
            let sealed = keys.seal(plaintext, AAD).unwrap();
            assert_eq!(keys.open(&sealed, AAD).unwrap(), plaintext);
        }
    }

    #[test]
    fn format_is_versioned_url_safe_unpadded() {
        let keys = SessionKeys::generate().unwrap();
        let sealed = keys.seal(b"hello", AAD).unwrap();
        assert!(
            sealed
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        let raw = URL_SAFE_NO_PAD.decode(&sealed).unwrap();
        assert_eq!(raw.len(), MIN_SEALED_LEN + 5);
        assert_eq!(raw[0], VERSION);
        assert_eq!(hex(&raw[1..HEADER_LEN]), keys.primary_key_id());
    }

    #[test]
    fn nonces_are_fresh() {
        let keys = SessionKeys::generate().unwrap();
        let a = keys.seal(b"same", AAD).unwrap();
        let b = keys.seal(b"same", AAD).unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn rotation_keeps_old_keys_opening_until_dropped() {
        let old = SessionKeys::generate().unwrap();
        let sealed = old.seal(b"payload", AAD).unwrap();
        let rotated = old.rotated().unwrap();
        assert_ne!(rotated.primary_key_id(), old.primary_key_id());
        assert_eq!(rotated.open(&sealed, AAD).unwrap(), b"payload");
        // New seals use the new primary, which the old ring does not know.
        let fresh = rotated.seal(b"new", AAD).unwrap();
        assert_eq!(old.open(&fresh, AAD), Err(SessionError::UnknownKey));
        assert_eq!(
            rotated.without_older().open(&sealed, AAD),
            Err(SessionError::UnknownKey)
        );
    }

    #[test]
    fn rotation_through_configured_secrets() {
        let before = SessionKeys::from_base64_secrets(&secret(1), [] as [&str; 0]).unwrap();
        let sealed = before.seal(b"payload", AAD).unwrap();
        let after = SessionKeys::from_base64_secrets(&secret(2), [secret(1)]).unwrap();
        assert_eq!(after.open(&sealed, AAD).unwrap(), b"payload");
        let dropped = SessionKeys::from_base64_secrets(&secret(2), [] as [&str; 0]).unwrap();
        assert_eq!(dropped.open(&sealed, AAD), Err(SessionError::UnknownKey));
        // The same secrets give the same key ids in every replica.
        let replica = SessionKeys::from_base64_secrets(&secret(1), [] as [&str; 0]).unwrap();
        assert_eq!(replica.primary_key_id(), before.primary_key_id());
    }

    #[test]
    fn secrets_accept_both_alphabets_padding_and_whitespace() {
        let bytes = [0xfbu8; KEY_LEN];
        let standard = base64::engine::general_purpose::STANDARD.encode(bytes);
        let url_safe = URL_SAFE_NO_PAD.encode(bytes);
        assert!(standard.contains('+') || standard.contains('/'));
        let a = SessionKeys::from_base64_secrets(&format!("{standard}\n"), [] as [&str; 0]);
        let b = SessionKeys::from_base64_secrets(&url_safe, [] as [&str; 0]);
        assert_eq!(a.unwrap().primary_key_id(), b.unwrap().primary_key_id());
    }

    #[test]
    fn duplicate_secrets_are_kept_once() {
        let keys = SessionKeys::from_base64_secrets(&secret(1), [secret(1), secret(2), secret(2)])
            .unwrap();
        assert_eq!(keys.older.len(), 1);
    }

    #[test]
    fn bad_secrets_are_config_errors_without_the_secret() {
        for bad in ["", "not base64!!", &URL_SAFE_NO_PAD.encode([7u8; 16])] {
            let err = SessionKeys::from_base64_secrets(bad, [] as [&str; 0]).unwrap_err();
            assert!(matches!(err, SessionError::Config(_)), "{err:?}");
            if !bad.is_empty() {
                assert!(!err.to_string().contains(bad));
            }
        }
        let err = SessionKeys::from_base64_secrets(&secret(1), ["%%%"]).unwrap_err();
        assert!(err.to_string().contains("older key #1"), "{err}");
    }

    #[test]
    fn generated_secrets_load() {
        let secret = SessionKeys::generate_base64_secret().unwrap();
        let keys = SessionKeys::from_base64_secrets(&secret, [] as [&str; 0]).unwrap();
        let sealed = keys.seal(b"x", AAD).unwrap();
        assert_eq!(keys.open(&sealed, AAD).unwrap(), b"x");
    }

    #[test]
    fn every_flipped_bit_is_refused() {
        let keys = SessionKeys::generate().unwrap();
        let sealed = keys.seal(b"some session payload", AAD).unwrap();
        let raw = URL_SAFE_NO_PAD.decode(&sealed).unwrap();
        for index in 0..raw.len() {
            for bit in 0..8 {
                let mut mutated = raw.clone();
                mutated[index] ^= 1 << bit;
                let result = keys.open(&URL_SAFE_NO_PAD.encode(&mutated), AAD);
                let expected_kinds = if index == 0 {
                    matches!(result, Err(SessionError::Malformed(_)))
                } else if index < HEADER_LEN {
                    matches!(result, Err(SessionError::UnknownKey))
                } else {
                    result == Err(SessionError::Tampered)
                };
                assert!(expected_kinds, "byte {index} bit {bit}: {result:?}");
            }
        }
    }

    #[test]
    fn foreign_ring_refuses() {
        let ours = SessionKeys::generate().unwrap();
        let theirs = SessionKeys::generate().unwrap();
        let sealed = theirs.seal(b"payload", AAD).unwrap();
        assert_eq!(ours.open(&sealed, AAD), Err(SessionError::UnknownKey));

        // Even a foreign key that claims one of our key ids fails authentication.
        let mut raw = URL_SAFE_NO_PAD.decode(&sealed).unwrap();
        let our_id = URL_SAFE_NO_PAD
            .decode(ours.seal(b"", AAD).unwrap())
            .unwrap()[1..HEADER_LEN]
            .to_vec();
        raw[1..HEADER_LEN].copy_from_slice(&our_id);
        assert_eq!(
            ours.open(&URL_SAFE_NO_PAD.encode(&raw), AAD),
            Err(SessionError::Tampered)
        );
    }

    #[test]
    fn other_aad_refuses() {
        let keys = SessionKeys::generate().unwrap();
        let sealed = keys.seal(b"payload", b"cookie-a").unwrap();
        assert_eq!(keys.open(&sealed, b"cookie-b"), Err(SessionError::Tampered));
        assert_eq!(keys.open(&sealed, b""), Err(SessionError::Tampered));
    }

    #[test]
    fn malformed_inputs() {
        let keys = SessionKeys::generate().unwrap();
        let sealed = keys.seal(b"payload", AAD).unwrap();
        for bad in [
            String::new(),
            "a".into(),
            "====".into(),
            format!("{sealed}="),
            sealed.replace(|_: char| true, "+"),
            sealed[..20].to_string(),
        ] {
            assert!(
                matches!(keys.open(&bad, AAD), Err(SessionError::Malformed(_))),
                "{bad:?}"
            );
        }
        let mut raw = URL_SAFE_NO_PAD.decode(&sealed).unwrap();
        raw[0] = 2;
        assert_eq!(
            keys.open(&URL_SAFE_NO_PAD.encode(&raw), AAD),
            Err(SessionError::Malformed("unsupported format version"))
        );
    }

    #[test]
    fn debug_shows_ids_not_keys() {
        let keys = SessionKeys::from_base64_secrets(&secret(0x41), [secret(0x42)]).unwrap();
        let debug = format!("{keys:?}");
        assert!(debug.contains(&keys.primary_key_id()), "{debug}");
        assert!(!debug.contains(&secret(0x41)) && !debug.contains(&secret(0x42)));
        assert!(!debug.contains("41414141") && !debug.contains("42424242"));
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        #[derive(Debug, Clone)]
        enum Mutation {
            /// Replace the character at an index (mod length) by another base64url char.
            Replace(usize, u8),
            /// Flip bits of a decoded byte (mod length).
            Flip(usize, u8),
            /// Insert a base64url char.
            Insert(usize, u8),
            /// Remove a character.
            Remove(usize),
            /// Truncate to a length.
            Truncate(usize),
            /// Append characters.
            Append(Vec<u8>),
        }

        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

        fn mutation() -> impl Strategy<Value = Mutation> {
            prop_oneof![
                (any::<usize>(), 0..64u8).prop_map(|(i, c)| Mutation::Replace(i, c)),
                (any::<usize>(), 1..=255u8).prop_map(|(i, m)| Mutation::Flip(i, m)),
                (any::<usize>(), 0..64u8).prop_map(|(i, c)| Mutation::Insert(i, c)),
                any::<usize>().prop_map(Mutation::Remove),
                any::<usize>().prop_map(Mutation::Truncate),
                proptest::collection::vec(0..64u8, 1..8).prop_map(Mutation::Append),
            ]
        }

        fn apply(sealed: &str, mutations: &[Mutation]) -> String {
            let mut chars = sealed.as_bytes().to_vec();
            for mutation in mutations {
                let len = chars.len().max(1);
                match mutation {
                    Mutation::Replace(i, c) => {
                        if let Some(slot) = chars.get_mut(i % len) {
                            *slot = ALPHABET[usize::from(*c)];
                        }
                    }
                    Mutation::Flip(i, mask) => {
                        if let Ok(mut raw) = URL_SAFE_NO_PAD.decode(&chars) {
                            if !raw.is_empty() {
                                let at = i % raw.len();
                                raw[at] ^= mask;
                            }
                            chars = URL_SAFE_NO_PAD.encode(raw).into_bytes();
                        }
                    }
                    Mutation::Insert(i, c) => {
                        chars.insert(i % (chars.len() + 1), ALPHABET[usize::from(*c)])
                    }
                    Mutation::Remove(i) => {
                        if !chars.is_empty() {
                            chars.remove(i % len);
                        }
                    }
                    Mutation::Truncate(n) => chars.truncate(n % len),
                    Mutation::Append(extra) => {
                        chars.extend(extra.iter().map(|c| ALPHABET[usize::from(*c)]));
                    }
                }
            }
            String::from_utf8(chars).unwrap()
        }

        proptest! {
            #[test]
            fn mutated_values_never_open(
                plaintext in proptest::collection::vec(any::<u8>(), 0..200),
                mutations in proptest::collection::vec(mutation(), 1..4),
            ) {
                let keys = SessionKeys::generate().unwrap();
                let sealed = keys.seal(&plaintext, AAD).unwrap();
                let mutated = apply(&sealed, &mutations);
                prop_assume!(mutated != sealed);
                prop_assert!(keys.open(&mutated, AAD).is_err());
            }

            #[test]
            fn arbitrary_input_is_refused_without_panic(input in ".{0,300}") {
                let keys = SessionKeys::generate().unwrap();
                prop_assert!(keys.open(&input, AAD).is_err());
            }
        }
    }
}
