//! Gateway contract version 2: commands signed by the person who sent them
//! (`docs/spec/gateway-mqtt.md`, "Version 2: signed commands, store epoch").
//!
//! * The envelope is a JWS (RFC 7515) in the flattened JSON serialization with `EdDSA`
//!   over Ed25519 (RFC 8037): [`sign`] makes one, [`verify`] opens one against the
//!   station's [`TrustStore`].
//! * [`verify`] runs the contract's checks up to freshness (`unsigned`, `unknown_key`,
//!   `bad_signature`, `expired`); the replay check needs the station's durable nonce
//!   ledger and the role check the permission table — both follow in
//!   [`crate::commands::check`], in the contract's order.
//!
//! Written over `ed25519-dalek` and `base64` rather than a JWT crate: the contract asks
//! for the flattened JSON serialization, which `jsonwebtoken` does not read, and the
//! whole of it is a few lines around one signature check.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bonder_core::permissions::Role;
use ed25519_dalek::pkcs8::DecodePublicKey;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use rand::TryRngCore as _;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// The payload version of signed commands.
pub const V2: u32 = 2;
/// Payloads above this size are refused (`too_large`) without being parsed.
pub const MAX_COMMAND_BYTES: usize = 256 * 1024;
/// Longest allowed `exp − iat`, seconds.
pub const MAX_LIFETIME_S: i64 = 300;
/// Clock difference tolerated on `iat` and `exp`, seconds.
pub const CLOCK_SKEW_S: i64 = 30;
/// Shortest nonce, bytes (written as twice as many hex digits).
pub const MIN_NONCE_BYTES: usize = 16;
/// Commands a station takes per second; more are answered `rate_limited`.
pub const MAX_COMMANDS_PER_S: usize = 10;
/// The lifetime the supervisor gives its commands (`exp − iat`), seconds.
pub const DEFAULT_LIFETIME_S: i64 = 120;

/// Why a command was refused before its content was looked at: the contract's codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RefusalCode {
    TooLarge,
    RateLimited,
    Unsigned,
    UnknownKey,
    BadSignature,
    Expired,
    Replayed,
    Forbidden,
}

impl RefusalCode {
    /// The code as the contract spells it (the start of `error` on `{S}/cmd/result`).
    pub fn code(self) -> &'static str {
        match self {
            RefusalCode::TooLarge => "too_large",
            RefusalCode::RateLimited => "rate_limited",
            RefusalCode::Unsigned => "unsigned",
            RefusalCode::UnknownKey => "unknown_key",
            RefusalCode::BadSignature => "bad_signature",
            RefusalCode::Expired => "expired",
            RefusalCode::Replayed => "replayed",
            RefusalCode::Forbidden => "forbidden",
        }
    }
}

impl fmt::Display for RefusalCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// Who signed a command that passed the signature check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signer {
    /// `by`: the user's name.
    pub by: String,
    /// `role`, as the sender's permission table gave it.
    pub role: Role,
    /// `kid` of the key that verified it.
    pub kid: String,
}

/// An envelope that passed [`verify`].
#[derive(Debug, Clone, PartialEq)]
pub struct Opened {
    /// The command object (`COMMAND_JSON`, with `"v": 2` and the claims).
    pub command: Value,
    /// `None` for a version-1 command taken because `accept_unsigned` is on.
    pub signer: Option<Signer>,
    /// The nonce and until when it must be remembered (Unix seconds); `None` unsigned.
    pub nonce: Option<(String, i64)>,
}

/// A refusal of [`verify`]: the code, a readable reason, and the request id when the
/// payload carried one (echoed so the sender can match the answer).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {reason}")]
pub struct EnvelopeError {
    pub code: RefusalCode,
    pub reason: String,
    pub request_id: Option<String>,
    /// The claimed signer (only once the signature checked out).
    pub signer: Option<Signer>,
}

/// Ed25519 public keys a station trusts, by `kid`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct TrustStore {
    keys: BTreeMap<String, VerifyingKey>,
}

impl fmt::Debug for TrustStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.keys.iter().map(|(k, v)| (k, fingerprint(v))))
            .finish()
    }
}

/// A trusted key file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    #[error("trusted key {path}: cannot read it / 无法读取受信任密钥: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "trusted key {path}: not an Ed25519 public key in PEM (SubjectPublicKeyInfo) / 不是 PEM 格式的 Ed25519 公钥: {reason}"
    )]
    Parse { path: PathBuf, reason: String },
    #[error("trusted key {path}: the file name gives no key id / 文件名无法给出密钥标识")]
    NoKid { path: PathBuf },
    #[error("trusted keys {first} and {second} have the same key id {kid:?} / 密钥标识重复")]
    DuplicateKid {
        kid: String,
        first: PathBuf,
        second: PathBuf,
    },
}

impl TrustStore {
    /// Loads PEM SubjectPublicKeyInfo files (`openssl pkey -pubout`); each key's `kid` is
    /// its file's name without the extension.
    pub fn load(paths: &[PathBuf]) -> Result<TrustStore, TrustError> {
        let mut t = TrustStore::default();
        let mut from: BTreeMap<String, PathBuf> = BTreeMap::new();
        for path in paths {
            let (kid, key) = read_public_key(path)?;
            if let Some(first) = from.get(&kid) {
                return Err(TrustError::DuplicateKid {
                    kid,
                    first: first.clone(),
                    second: path.clone(),
                });
            }
            from.insert(kid.clone(), path.clone());
            t.keys.insert(kid, key);
        }
        Ok(t)
    }

    /// Adds (or replaces) a key.
    pub fn insert(&mut self, kid: impl Into<String>, key: VerifyingKey) {
        self.keys.insert(kid.into(), key);
    }

    /// The key of a `kid`.
    pub fn get(&self, kid: &str) -> Option<&VerifyingKey> {
        self.keys.get(kid)
    }

    /// The trusted `kid`s with their fingerprints, in order.
    pub fn list(&self) -> Vec<(String, String)> {
        self.keys
            .iter()
            .map(|(k, v)| (k.clone(), fingerprint(v)))
            .collect()
    }

    /// No key trusted.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// Reads one public key file: its `kid` and the key.
pub fn read_public_key(path: &Path) -> Result<(String, VerifyingKey), TrustError> {
    let pem = std::fs::read_to_string(path).map_err(|source| TrustError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let key = VerifyingKey::from_public_key_pem(pem.trim()).map_err(|e| TrustError::Parse {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    let kid = path
        .file_stem()
        .and_then(|s| s.to_str())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| TrustError::NoKid {
            path: path.to_path_buf(),
        })?
        .to_string();
    Ok((kid, key))
}

/// `SHA256:` and the first 16 bytes of the SHA-256 of the raw public key, hex: short
/// enough to read over the phone when a key is provisioned.
pub fn fingerprint(key: &VerifyingKey) -> String {
    let d = Sha256::digest(key.as_bytes());
    let mut s = String::from("SHA256:");
    for b in &d[..16] {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// A fresh nonce: 16 random bytes from the OS, hex.
pub fn new_nonce() -> String {
    let mut b = [0u8; MIN_NONCE_BYTES];
    // The OS's generator failing is not something a command can work around.
    if rand::rngs::OsRng.try_fill_bytes(&mut b).is_err() {
        rand::fill(&mut b);
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Adds the version-2 claims to a version-1 command object: `"v": 2`, `by`, `role`,
/// `iat` = `now_s`, `exp` = `now_s + lifetime_s`, a fresh `nonce`.
pub fn with_claims(mut command: Value, by: &str, role: Role, now_s: i64, lifetime_s: i64) -> Value {
    if let Some(o) = command.as_object_mut() {
        o.insert("v".into(), json!(V2));
        o.insert("by".into(), json!(by));
        o.insert("role".into(), json!(role.name()));
        o.insert("iat".into(), json!(now_s));
        o.insert("exp".into(), json!(now_s + lifetime_s));
        o.insert("nonce".into(), json!(new_nonce()));
    }
    command
}

/// Signs a command object as a flattened-JSON JWS with `kid`.
pub fn sign(key: &SigningKey, kid: &str, command: &Value) -> String {
    let protected = URL_SAFE_NO_PAD.encode(json!({"alg": "EdDSA", "kid": kid}).to_string());
    let payload = URL_SAFE_NO_PAD.encode(command.to_string());
    let signature = key.sign(format!("{protected}.{payload}").as_bytes());
    json!({
        "protected": protected,
        "payload": payload,
        "signature": URL_SAFE_NO_PAD.encode(signature.to_bytes()),
    })
    .to_string()
}

fn request_id_of(v: &Value) -> Option<String> {
    v.get("request_id")
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// Opens a command payload: a JWS signed by a trusted key, fresh by `now_s`, or — only
/// with `accept_unsigned` — a version-1 command. The nonce is not checked here (see the
/// module docs). `payload` must already be within [`MAX_COMMAND_BYTES`].
pub fn verify(
    trust: &TrustStore,
    accept_unsigned: bool,
    payload: &[u8],
    now_s: i64,
) -> Result<Opened, EnvelopeError> {
    let fail = |code, reason: String, request_id: Option<String>| EnvelopeError {
        code,
        reason,
        request_id,
        signer: None,
    };
    let outer: Value = serde_json::from_slice(payload).map_err(|e| {
        fail(
            RefusalCode::Unsigned,
            format!("not a JWS (malformed JSON: {e})"),
            None,
        )
    })?;
    let parts = ["protected", "payload", "signature"].map(|k| outer.get(k).and_then(Value::as_str));
    let [Some(protected), Some(body), Some(signature)] = parts else {
        let rid = request_id_of(&outer);
        if outer.get("v").and_then(Value::as_u64) == Some(1) {
            if accept_unsigned {
                return Ok(Opened {
                    command: outer,
                    signer: None,
                    nonce: None,
                });
            }
            return Err(fail(
                RefusalCode::Unsigned,
                "version-1 command without a signature (accept_unsigned is off)".into(),
                rid,
            ));
        }
        return Err(fail(
            RefusalCode::Unsigned,
            "not a JWS (needs protected, payload and signature)".into(),
            rid,
        ));
    };
    // The payload decoded only to echo its request id until the signature checks out.
    let claims: Option<Value> = URL_SAFE_NO_PAD
        .decode(body)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    let rid = claims.as_ref().and_then(request_id_of);
    let header: Value = URL_SAFE_NO_PAD
        .decode(protected)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| {
            fail(
                RefusalCode::BadSignature,
                "protected header is not base64url JSON".into(),
                rid.clone(),
            )
        })?;
    let kid = header.get("kid").and_then(Value::as_str).unwrap_or("");
    let Some(key) = trust.get(kid) else {
        return Err(fail(
            RefusalCode::UnknownKey,
            format!("key id {kid:?} is not trusted by this station"),
            rid,
        ));
    };
    let alg = header.get("alg").and_then(Value::as_str).unwrap_or("");
    if alg != "EdDSA" {
        return Err(fail(
            RefusalCode::BadSignature,
            format!("algorithm {alg:?} is not EdDSA"),
            rid,
        ));
    }
    let sig = URL_SAFE_NO_PAD
        .decode(signature)
        .ok()
        .and_then(|b| <[u8; 64]>::try_from(b.as_slice()).ok())
        .map(|b| Signature::from_bytes(&b))
        .ok_or_else(|| {
            fail(
                RefusalCode::BadSignature,
                "signature is not 64 bytes of base64url".into(),
                rid.clone(),
            )
        })?;
    key.verify_strict(format!("{protected}.{body}").as_bytes(), &sig)
        .map_err(|_| {
            fail(
                RefusalCode::BadSignature,
                format!("signature does not verify with key {kid:?}"),
                rid.clone(),
            )
        })?;
    let Some(command) = claims.filter(Value::is_object) else {
        return Err(fail(
            RefusalCode::Unsigned,
            "signed payload is not a JSON object".into(),
            rid,
        ));
    };
    // Claims: who, then freshness; the nonce is only read here.
    let by = command.get("by").and_then(Value::as_str).unwrap_or("");
    let role_name = command.get("role").and_then(Value::as_str).unwrap_or("");
    let role = Role::person_from_name(role_name).filter(|_| !by.trim().is_empty());
    let Some(role) = role else {
        return Err(fail(
            RefusalCode::Forbidden,
            format!("claims name no user and role (by {by:?}, role {role_name:?})"),
            rid,
        ));
    };
    let signer = Signer {
        by: by.to_string(),
        role,
        kid: kid.to_string(),
    };
    let with_signer = |code, reason: String| EnvelopeError {
        code,
        reason,
        request_id: rid.clone(),
        signer: Some(signer.clone()),
    };
    let (iat, exp) = match (
        command.get("iat").and_then(Value::as_i64),
        command.get("exp").and_then(Value::as_i64),
    ) {
        (Some(i), Some(e)) => (i, e),
        _ => {
            return Err(with_signer(
                RefusalCode::Expired,
                "iat and exp (Unix seconds) are required".into(),
            ));
        }
    };
    if now_s > exp.saturating_add(CLOCK_SKEW_S) {
        return Err(with_signer(
            RefusalCode::Expired,
            format!("expired {} s ago", now_s - exp),
        ));
    }
    if iat > now_s.saturating_add(CLOCK_SKEW_S) {
        return Err(with_signer(
            RefusalCode::Expired,
            format!("issued {} s in the future", iat - now_s),
        ));
    }
    if exp < iat || exp - iat > MAX_LIFETIME_S {
        return Err(with_signer(
            RefusalCode::Expired,
            format!(
                "lifetime exp − iat = {} s is outside 0..={MAX_LIFETIME_S}",
                exp - iat
            ),
        ));
    }
    let nonce = command.get("nonce").and_then(Value::as_str).unwrap_or("");
    let nonce_ok = nonce.len() >= 2 * MIN_NONCE_BYTES
        && nonce.len() % 2 == 0
        && nonce.bytes().all(|b| b.is_ascii_hexdigit());
    if !nonce_ok {
        return Err(with_signer(
            RefusalCode::Replayed,
            format!("nonce must be at least {MIN_NONCE_BYTES} random bytes in hex"),
        ));
    }
    let nonce = nonce.to_ascii_lowercase();
    Ok(Opened {
        command,
        signer: Some(signer),
        nonce: Some((nonce, exp.saturating_add(CLOCK_SKEW_S))),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    fn trust() -> TrustStore {
        let mut t = TrustStore::default();
        t.insert("sv-1", key(1).verifying_key());
        t
    }

    const NOW: i64 = 1_800_000_000;

    fn cmd(role: Role) -> Value {
        with_claims(
            json!({"request_id": "r1", "work_order": "WO-1"}),
            "E7",
            role,
            NOW,
            60,
        )
    }

    fn code(r: Result<Opened, EnvelopeError>) -> &'static str {
        r.unwrap_err().code.code()
    }

    #[test]
    fn a_signed_command_opens_with_its_signer() {
        let jws = sign(&key(1), "sv-1", &cmd(Role::Engineer));
        let o = verify(&trust(), false, jws.as_bytes(), NOW).unwrap();
        let s = o.signer.unwrap();
        assert_eq!(
            (s.by.as_str(), s.role, s.kid.as_str()),
            ("E7", Role::Engineer, "sv-1")
        );
        assert_eq!(o.command["v"], 2);
        assert_eq!(o.nonce.unwrap().1, NOW + 60 + CLOCK_SKEW_S);
    }

    #[test]
    fn each_failure_has_its_code() {
        let t = trust();
        let v1 = br#"{"v":1,"request_id":"x"}"#;
        assert_eq!(code(verify(&t, false, v1, NOW)), "unsigned");
        assert!(verify(&t, true, v1, NOW).unwrap().signer.is_none());
        assert_eq!(code(verify(&t, false, b"nope", NOW)), "unsigned");
        let other = sign(&key(2), "sv-2", &cmd(Role::Engineer));
        assert_eq!(
            code(verify(&t, false, other.as_bytes(), NOW)),
            "unknown_key"
        );
        // Signed by another key under the trusted kid.
        let forged = sign(&key(2), "sv-1", &cmd(Role::Engineer));
        let e = verify(&t, false, forged.as_bytes(), NOW).unwrap_err();
        assert_eq!(
            (e.code.code(), e.request_id.as_deref()),
            ("bad_signature", Some("r1"))
        );
        // The payload changed after signing.
        let good = sign(&key(1), "sv-1", &cmd(Role::Operator));
        let mut v: Value = serde_json::from_str(&good).unwrap();
        let mut claims = cmd(Role::Engineer);
        claims["nonce"] = v["payload"].clone(); // any change
        v["payload"] = json!(URL_SAFE_NO_PAD.encode(claims.to_string()));
        assert_eq!(
            code(verify(&t, false, v.to_string().as_bytes(), NOW)),
            "bad_signature"
        );
        let jws = sign(&key(1), "sv-1", &cmd(Role::Engineer));
        assert_eq!(
            code(verify(&t, false, jws.as_bytes(), NOW + 60 + 31)),
            "expired"
        );
        assert!(verify(&t, false, jws.as_bytes(), NOW + 60 + 30).is_ok());
        assert_eq!(code(verify(&t, false, jws.as_bytes(), NOW - 31)), "expired");
        let mut long = cmd(Role::Engineer);
        long["exp"] = json!(NOW + 301);
        let jws = sign(&key(1), "sv-1", &long);
        assert_eq!(code(verify(&t, false, jws.as_bytes(), NOW)), "expired");
        let mut short_nonce = cmd(Role::Engineer);
        short_nonce["nonce"] = json!("abcd");
        let jws = sign(&key(1), "sv-1", &short_nonce);
        assert_eq!(code(verify(&t, false, jws.as_bytes(), NOW)), "replayed");
        let mut system = cmd(Role::Engineer);
        system["role"] = json!("system");
        let jws = sign(&key(1), "sv-1", &system);
        assert_eq!(code(verify(&t, false, jws.as_bytes(), NOW)), "forbidden");
    }

    #[test]
    fn a_pem_key_file_is_trusted_under_its_file_name() {
        use ed25519_dalek::pkcs8::EncodePublicKey;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plant-supervisor.pem");
        let pem = key(1)
            .verifying_key()
            .to_public_key_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
            .unwrap();
        std::fs::write(&path, pem).unwrap();
        let t = TrustStore::load(std::slice::from_ref(&path)).unwrap();
        assert_eq!(t.list()[0].0, "plant-supervisor");
        assert_eq!(t.list()[0].1, fingerprint(&key(1).verifying_key()));
        std::fs::write(
            &path,
            "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
        )
        .unwrap();
        let e = TrustStore::load(&[path]).unwrap_err().to_string();
        assert!(e.contains("not an Ed25519 public key"), "{e}");
    }
}
