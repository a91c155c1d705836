//! Personal fields sealed at rest with XChaCha20-Poly1305 (RustCrypto's `chacha20poly1305`).
//!
//! A sealed value is `1 | key id length | key id | 24-byte nonce | ciphertext+tag`. The key
//! id lets keys rotate: new values are sealed with the current key, and values sealed with
//! an older key still open while that key is configured as old (re-sealing happens on the
//! next write). The associated data binds a value to its row and field, so a ciphertext
//! copied into another row or column does not open.

use std::collections::HashMap;

use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use cspr_platform::config::{ConfigError, Env};
use sha2::{Digest, Sha256};
use uuid::Uuid;

const FORMAT_VERSION: u8 = 1;
const NONCE_LENGTH: usize = 24;

/// A value could not be sealed or opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("sealed value is malformed")]
    Malformed,
    #[error("no key {0:?} configured to open this value (add it to CSPR_FAMILY_DATA_OLD_KEYS)")]
    UnknownKey(String),
    #[error("sealed value does not open (tampered, moved, or the wrong key)")]
    Rejected,
}

/// The keys personal fields are sealed with.
#[derive(Clone)]
pub struct FieldCipher {
    /// The key new values are sealed with, and its id.
    current_id: String,
    /// Every key that may open values, by id (the current one included).
    keys: HashMap<String, XChaCha20Poly1305>,
}

impl std::fmt::Debug for FieldCipher {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("FieldCipher")
            .field("current_id", &self.current_id)
            .field("key_ids", &self.keys.keys().collect::<Vec<_>>())
            .finish()
    }
}

fn parse_key(variable: &str, text: &str) -> Result<(String, XChaCha20Poly1305), ConfigError> {
    let (id, hex_key) = text
        .trim()
        .split_once(':')
        .ok_or_else(|| ConfigError::new(variable, "expected <key id>:<64 hex characters>"))?;
    if id.is_empty()
        || id.len() > 64
        || !id.chars().all(|character| {
            character.is_ascii_alphanumeric() || character == '-' || character == '_'
        })
    {
        return Err(ConfigError::new(
            variable,
            "the key id must be 1-64 letters, digits, '-' or '_'",
        ));
    }
    let bytes: [u8; 32] = hex::decode(hex_key)
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or_else(|| {
            ConfigError::new(variable, "the key must be 64 hex characters (32 bytes)")
        })?;
    Ok((id.to_string(), XChaCha20Poly1305::new(&Key::from(bytes))))
}

impl FieldCipher {
    /// A cipher from `<id>:<hex>` for the current key and older ones (rotation).
    pub fn new(current: &str, old: &[&str]) -> Result<Self, ConfigError> {
        let (current_id, current_key) = parse_key("CSPR_FAMILY_DATA_KEY", current)?;
        let mut keys = HashMap::from([(current_id.clone(), current_key)]);
        for text in old {
            let (id, key) = parse_key("CSPR_FAMILY_DATA_OLD_KEYS", text)?;
            keys.entry(id).or_insert(key);
        }
        Ok(Self { current_id, keys })
    }

    /// From `CSPR_FAMILY_DATA_KEY` (and `CSPR_FAMILY_DATA_OLD_KEYS`, comma-separated). Without
    /// a key, a development key is derived from `CSPR_AUTH_HS256_SECRET` (logged as such);
    /// with neither, start-up stops.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let old: Vec<String> = env
            .get("CSPR_FAMILY_DATA_OLD_KEYS")
            .map(|text| {
                text.split(',')
                    .map(|part| part.trim().to_string())
                    .filter(|part| !part.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        let old: Vec<&str> = old.iter().map(String::as_str).collect();
        match env.get("CSPR_FAMILY_DATA_KEY") {
            Some(current) => Self::new(&current, &old),
            None => match env.get("CSPR_AUTH_HS256_SECRET") {
                Some(secret) => {
                    tracing::warn!(
                        "CSPR_FAMILY_DATA_KEY is not set: using a development key derived from the development token secret"
                    );
                    let derived = Sha256::digest(format!("cspr-family-development-key:{secret}"));
                    Self::new(&format!("dev:{}", hex::encode(derived)), &old)
                }
                None => Err(ConfigError::new(
                    "CSPR_FAMILY_DATA_KEY",
                    "required: <key id>:<64 hex characters> (e.g. from `openssl rand -hex 32`)",
                )),
            },
        }
    }

    fn associated_data(row: Uuid, field: &str) -> Vec<u8> {
        let mut data = row.as_bytes().to_vec();
        data.extend_from_slice(field.as_bytes());
        data
    }

    /// Seals `plaintext` for `field` of row `row`.
    pub fn seal(&self, row: Uuid, field: &str, plaintext: &str) -> Result<Vec<u8>, SealError> {
        let key = self
            .keys
            .get(&self.current_id)
            .ok_or_else(|| SealError::UnknownKey(self.current_id.clone()))?;
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let aad = Self::associated_data(row, field);
        let ciphertext = key
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: &aad,
                },
            )
            .map_err(|_| SealError::Rejected)?;
        let id = self.current_id.as_bytes();
        let mut sealed = Vec::with_capacity(2 + id.len() + NONCE_LENGTH + ciphertext.len());
        sealed.push(FORMAT_VERSION);
        sealed.push(u8::try_from(id.len()).map_err(|_| SealError::Malformed)?);
        sealed.extend_from_slice(id);
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        Ok(sealed)
    }

    /// Opens a value sealed for `field` of row `row`.
    pub fn open(&self, row: Uuid, field: &str, sealed: &[u8]) -> Result<String, SealError> {
        let (&version, rest) = sealed.split_first().ok_or(SealError::Malformed)?;
        if version != FORMAT_VERSION {
            return Err(SealError::Malformed);
        }
        let (&id_length, rest) = rest.split_first().ok_or(SealError::Malformed)?;
        let id_length = usize::from(id_length);
        if rest.len() < id_length + NONCE_LENGTH {
            return Err(SealError::Malformed);
        }
        let (id, rest) = rest.split_at(id_length);
        let (nonce, ciphertext) = rest.split_at(NONCE_LENGTH);
        let id = String::from_utf8(id.to_vec()).map_err(|_| SealError::Malformed)?;
        let key = self.keys.get(&id).ok_or(SealError::UnknownKey(id))?;
        let aad = Self::associated_data(row, field);
        let nonce: [u8; NONCE_LENGTH] = nonce.try_into().map_err(|_| SealError::Malformed)?;
        let plaintext = key
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: ciphertext,
                    aad: &aad,
                },
            )
            .map_err(|_| SealError::Rejected)?;
        String::from_utf8(plaintext).map_err(|_| SealError::Rejected)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const KEY_A: &str = "a:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
    const KEY_B: &str = "b:1f1e1d1c1b1a191817161514131211100f0e0d0c0b0a09080706050403020100";

    #[test]
    fn values_round_trip_and_hide_their_text() {
        let cipher = FieldCipher::new(KEY_A, &[]).expect("key");
        let row = Uuid::now_v7();
        let sealed = cipher.seal(row, "name", "Jordan Example").expect("sealed");
        assert!(!sealed.windows(6).any(|window| window == b"Jordan"));
        assert_eq!(
            cipher.open(row, "name", &sealed),
            Ok("Jordan Example".to_string())
        );
        // Sealing twice gives different bytes (random nonce).
        assert_ne!(
            sealed,
            cipher.seal(row, "name", "Jordan Example").expect("sealed")
        );
    }

    #[test]
    fn a_value_moved_to_another_row_or_field_does_not_open() {
        let cipher = FieldCipher::new(KEY_A, &[]).expect("key");
        let row = Uuid::now_v7();
        let sealed = cipher.seal(row, "name", "Jordan Example").expect("sealed");
        assert_eq!(
            cipher.open(Uuid::now_v7(), "name", &sealed),
            Err(SealError::Rejected)
        );
        assert_eq!(cipher.open(row, "views", &sealed), Err(SealError::Rejected));
        let mut tampered = sealed.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert_eq!(
            cipher.open(row, "name", &tampered),
            Err(SealError::Rejected)
        );
    }

    #[test]
    fn keys_rotate() {
        let row = Uuid::now_v7();
        let before = FieldCipher::new(KEY_A, &[]).expect("key");
        let sealed_with_a = before.seal(row, "name", "Jordan").expect("sealed");
        let after = FieldCipher::new(KEY_B, &[KEY_A]).expect("keys");
        assert_eq!(
            after.open(row, "name", &sealed_with_a),
            Ok("Jordan".to_string())
        );
        let sealed_with_b = after.seal(row, "name", "Jordan").expect("sealed");
        assert_eq!(
            before.open(row, "name", &sealed_with_b),
            Err(SealError::UnknownKey("b".into()))
        );
        let without_a = FieldCipher::new(KEY_B, &[]).expect("key");
        assert_eq!(
            without_a.open(row, "name", &sealed_with_a),
            Err(SealError::UnknownKey("a".into()))
        );
    }

    #[test]
    fn bad_keys_name_their_variable() {
        assert_eq!(
            FieldCipher::new("nokey", &[]).expect_err("bad").variable,
            "CSPR_FAMILY_DATA_KEY"
        );
        assert_eq!(
            FieldCipher::new("a:abcd", &[]).expect_err("short").variable,
            "CSPR_FAMILY_DATA_KEY"
        );
        assert_eq!(
            FieldCipher::new(KEY_A, &["x:zz"])
                .expect_err("bad old")
                .variable,
            "CSPR_FAMILY_DATA_OLD_KEYS"
        );
    }

    proptest! {
        #[test]
        fn any_bytes_are_refused_without_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let cipher = FieldCipher::new(KEY_A, &[]).expect("key");
            prop_assert!(cipher.open(Uuid::nil(), "name", &bytes).is_err());
        }

        #[test]
        fn any_text_round_trips(text in "\\PC{0,200}") {
            let cipher = FieldCipher::new(KEY_A, &[]).expect("key");
            let row = Uuid::now_v7();
            let sealed = cipher.seal(row, "views", &text).expect("sealed");
            prop_assert_eq!(cipher.open(row, "views", &sealed).expect("opens"), text);
        }
    }
}
