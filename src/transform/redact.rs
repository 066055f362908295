//! Redaction rules: which fields to hide, how, and the replacement values.
//!
//! A rule is `PATH[=MODE]` (path syntax in `path.rs`):
//!
//! - `remove` (the default): the field is gone, key and value;
//! - `mask`: a string longer than 8 characters keeps its last 4 (`****WXYZ`), anything else becomes
//!   `****`, so no length leaks;
//! - `hash`: the value becomes the hex HMAC-SHA256 of its text under a secret key: the same secret
//!   always gives the same value (analysts can still correlate), and without the key it cannot be
//!   guessed from a list of candidates. A string is hashed as its decoded text, so the same key ID
//!   gives the same hash wherever it appears; any other value as its compact JSON text. An AWS key
//!   ID or unique ID ([`aws_id_prefix`]: `AKIA…`, `ASIA…`, `AROA…`) keeps its 4-letter prefix in
//!   front of the hash (`AKIA` + 64 hex digits), so that rules on long-term (`AKIA`) versus
//!   temporary (`ASIA`) keys still work; nothing else keeps anything (a secret access key is 40
//!   characters of mixed case, a session token hundreds: neither is ever such an ID).
//!
//! A preset entry may hold only under a condition on a sibling member ([`Condition`]).
//!
//! A rule that matches an object or array replaces it as a whole. When several rules match the
//! same field, the one given last wins (presets count as given first), so
//! `--redact-preset credentials --redact userIdentity.accessKeyId=hash` hashes that one field.
//! The walker (`walk.rs`) applies the rules while it copies an event; this file only parses them
//! and writes replacement values.

use super::capture::string_text;
use super::path::{split_unescaped, FieldPath, PathError};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::fmt;
use std::path::Path;
use std::str::FromStr;

/// How a matched field is hidden.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RedactMode {
    /// Drop the field.
    Remove,
    /// `****` plus, for strings over 8 characters, the last 4.
    Mask,
    /// Keyed HMAC-SHA256, hex.
    Hash,
}

impl FromStr for RedactMode {
    type Err = RedactError;

    fn from_str(text: &str) -> Result<Self, RedactError> {
        match text {
            "remove" => Ok(RedactMode::Remove),
            "mask" => Ok(RedactMode::Mask),
            "hash" => Ok(RedactMode::Hash),
            _ => Err(RedactError::Mode(text.into())),
        }
    }
}

impl fmt::Display for RedactMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RedactMode::Remove => "remove",
            RedactMode::Mask => "mask",
            RedactMode::Hash => "hash",
        })
    }
}

/// One `--redact PATH[=MODE]`, or one entry of a preset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RedactRule {
    /// Which fields.
    pub path: FieldPath,
    /// How.
    pub mode: RedactMode,
    /// Only where this holds (preset entries only; `--redact` rules always apply).
    pub when: Option<Condition>,
}

/// A condition on the object that holds a field: one of its other members, `sibling`, is the
/// string `equals`. LookupEvents writes `{"attributeKey": "AccessKeyId", "attributeValue":
/// "AKIA…"}`: the value is a key ID only where the key says so. The members may come in any order.
/// A condition yields to any rule without one that names the same field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Condition {
    /// The other member's key.
    pub sibling: String,
    /// The string it must hold.
    pub equals: String,
}

/// A rule or preset that cannot be parsed.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum RedactError {
    /// Not remove, mask or hash.
    #[error("unknown redaction mode {0:?} (expected remove, mask or hash)")]
    Mode(String),
    /// Not a preset we have.
    #[error("unknown redaction preset {0:?} (expected credentials)")]
    Preset(String),
    /// The path part is wrong.
    #[error(transparent)]
    Path(#[from] PathError),
}

impl FromStr for RedactRule {
    type Err = RedactError;

    fn from_str(text: &str) -> Result<Self, RedactError> {
        let (path, mode) = match split_unescaped(text, '=') {
            Some((path, mode)) => (path, mode.parse()?),
            None => (text, RedactMode::Remove),
        };
        Ok(RedactRule { path: path.parse()?, mode, when: None })
    }
}

impl fmt::Display for RedactRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.path, self.mode)?;
        match &self.when {
            Some(c) => write!(f, " where {} is {:?}", c.sibling, c.equals),
            None => Ok(()),
        }
    }
}

/// A named set of rules: `--redact-preset NAME[=MODE]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Preset {
    /// Which set.
    pub name: PresetName,
    /// The mode for all its fields (default `remove`).
    pub mode: RedactMode,
}

/// The presets there are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PresetName {
    /// Credential material CloudTrail can carry: [`CREDENTIAL_FIELDS`].
    Credentials,
}

/// The `credentials` preset: every field where CloudTrail records credential material, with the
/// calls that put it there (checked against the real corpus and AWS's documentation). Fields AWS
/// already blanks out (`HIDDEN_DUE_TO_SECURITY_REASONS`, `***`) or omits today are listed too, in
/// case a service starts logging them.
pub const CREDENTIAL_FIELDS: &[(&str, &str)] = &[
    ("userIdentity.accessKeyId", "the access key that signed the call (AKIA… long-term, ASIA… temporary); almost every event"),
    ("requestParameters.accessKeyId", "iam UpdateAccessKey, DeleteAccessKey, GetAccessKeyLastUsed; sts GetAccessKeyInfo"),
    ("responseElements.credentials.accessKeyId", "sts AssumeRole, AssumeRoleWithSAML, AssumeRoleWithWebIdentity, GetSessionToken, GetFederationToken; signin GetSigninToken"),
    ("responseElements.credentials.sessionToken", "the same sts calls: the session token of the new credentials"),
    ("responseElements.credentials.secretAccessKey", "the same sts calls (CloudTrail omits it today)"),
    ("responseElements.accessKey.accessKeyId", "iam CreateAccessKey"),
    ("responseElements.accessKey.secretAccessKey", "iam CreateAccessKey (CloudTrail omits it today)"),
    ("responseElements.tokenValue", "ssm StartSession session token (AWS writes a placeholder today)"),
    ("responseElements.TokenValue", "cloudshell CreateSession (AWS writes `***` today)"),
    ("requestParameters.RefreshToken", "cloudshell PutCredentials (AWS writes `***` today)"),
    ("requestParameters.ConnectionToken", "ssm-guiconnect GetConnection"),
    ("responseElements.credentials.secretKey", "cognito-identity GetCredentialsForIdentity (CloudTrail omits it today)"),
    ("responseElements.serviceSpecificCredential.servicePassword", "iam CreateServiceSpecificCredential, ResetServiceSpecificCredential (CloudTrail omits it today)"),
    ("requestParameters.clientSecret", "sso-oauth CreateToken (AWS writes HIDDEN_DUE_TO_SECURITY_REASONS today)"),
    ("responseElements.clientSecret", "sso-oauth RegisterClient (AWS writes HIDDEN_DUE_TO_SECURITY_REASONS today)"),
    ("responseElements.accessToken", "sso-oauth CreateToken (AWS writes HIDDEN_DUE_TO_SECURITY_REASONS today)"),
    ("responseElements.refreshToken", "sso-oauth CreateToken (AWS writes HIDDEN_DUE_TO_SECURITY_REASONS today)"),
    ("responseElements.idToken", "sso-oauth CreateToken (AWS writes HIDDEN_DUE_TO_SECURITY_REASONS today)"),
    ("requestParameters.X-Amz-Credential", "S3 requests signed in the query string (presigned URLs): the signing key ID; not seen in logs, a precaution"),
    ("requestParameters.X-Amz-Security-Token", "S3 requests signed in the query string with temporary credentials; not seen in logs, a precaution"),
    ("additionalEventData.x-amz-security-token", "a session token echoed among request headers; not seen in logs, a precaution"),
];

/// Entries of the `credentials` preset that apply only where a sibling member holds a given
/// string: `(path, sibling, value, where it comes from)` (see [`Condition`]).
pub const CREDENTIAL_CONDITIONAL_FIELDS: &[(&str, &str, &str, &str)] = &[(
    "requestParameters.lookupAttributes.*.attributeValue",
    "attributeKey",
    "AccessKeyId",
    "cloudtrail LookupEvents by access key ID (the other lookup attributes, event names, user names…, are kept)",
)];

impl Preset {
    /// The preset's rules, in the order listed, conditional ones last.
    pub fn rules(&self) -> Vec<RedactRule> {
        let (fields, conditional) = match self.name {
            PresetName::Credentials => (CREDENTIAL_FIELDS, CREDENTIAL_CONDITIONAL_FIELDS),
        };
        let plain = fields.iter().filter_map(|(path, _)| path.parse().ok()).map(|path| RedactRule {
            path,
            mode: self.mode,
            when: None,
        });
        let conditional = conditional.iter().filter_map(|(path, sibling, equals, _)| {
            Some(RedactRule {
                path: path.parse().ok()?,
                mode: self.mode,
                when: Some(Condition { sibling: sibling.to_string(), equals: equals.to_string() }),
            })
        });
        plain.chain(conditional).collect()
    }
}

impl FromStr for Preset {
    type Err = RedactError;

    fn from_str(text: &str) -> Result<Self, RedactError> {
        let (name, mode) = match text.split_once('=') {
            Some((name, mode)) => (name, mode.parse()?),
            None => (text, RedactMode::Remove),
        };
        match name {
            "credentials" => Ok(Preset { name: PresetName::Credentials, mode }),
            _ => Err(RedactError::Preset(name.into())),
        }
    }
}

impl fmt::Display for Preset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self.name {
            PresetName::Credentials => "credentials",
        };
        match self.mode {
            RedactMode::Remove => f.write_str(name),
            mode => write!(f, "{name}={mode}"),
        }
    }
}

/// The secret key of `hash` mode, ready to use. Never printed.
#[derive(Clone)]
pub struct HashKey(Hmac<Sha256>);

/// The key could not be read or is unusable.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The key file could not be read.
    #[error("cannot read {from} {path}: {source}")]
    Read {
        /// Where the path came from (a flag).
        from: &'static str,
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Zero bytes (after removing trailing newlines).
    #[error("the redaction key from {0} is empty")]
    Empty(&'static str),
}

impl HashKey {
    /// A key from raw bytes; `from` names where they came from, for the error.
    pub fn new(bytes: &[u8], from: &'static str) -> Result<Self, KeyError> {
        if bytes.is_empty() {
            return Err(KeyError::Empty(from));
        }
        // HMAC takes keys of any length.
        Hmac::new_from_slice(bytes).map(HashKey).map_err(|_| KeyError::Empty(from))
    }

    /// The key in a file: its bytes, without trailing line breaks (so `echo`/editors are harmless);
    /// `from` names where the path came from, for the error.
    pub fn from_file(path: &Path, from: &'static str) -> Result<Self, KeyError> {
        let bytes = std::fs::read(path).map_err(|source| KeyError::Read {
            from,
            path: path.display().to_string(),
            source,
        })?;
        let end = bytes.iter().rposition(|&b| b != b'\n' && b != b'\r').map_or(0, |i| i + 1);
        HashKey::new(&bytes[..end], from)
    }

    /// Appends the hex HMAC of `data`.
    fn write_hex(&self, data: &[u8], out: &mut Vec<u8>) {
        let mut mac = self.0.clone();
        mac.update(data);
        for b in mac.finalize().into_bytes() {
            out.push(HEX[(b >> 4) as usize]);
            out.push(HEX[(b & 15) as usize]);
        }
    }
}

impl fmt::Debug for HashKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HashKey(..)")
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// The prefixes of AWS's key IDs and unique IDs (IAM user guide, "Unique ID prefixes"): STS bearer
/// token, context-specific credential, group, user, instance profile, access key, managed policy,
/// policy version, public key, role, certificate, temporary access key.
pub const AWS_ID_PREFIXES: [&str; 12] =
    ["ABIA", "ACCA", "AGPA", "AIDA", "AIPA", "AKIA", "ANPA", "ANVA", "APKA", "AROA", "ASCA", "ASIA"];

/// The prefix `hash` keeps: `Some` only for a value that is an AWS ID as a whole, one of
/// [`AWS_ID_PREFIXES`] followed by upper-case letters and digits, 16 to 32 characters long (access
/// key IDs have 20, unique IDs 21).
pub fn aws_id_prefix(text: &str) -> Option<&str> {
    let shaped =
        (16..=32).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    let prefix = text.get(..4)?;
    (shaped && AWS_ID_PREFIXES.contains(&prefix)).then_some(prefix)
}

/// Writes replacement values.
#[derive(Clone, Debug, Default)]
pub struct Redactor {
    /// Needed for `hash`; the plan refuses hash rules without one.
    pub key: Option<HashKey>,
}

impl Redactor {
    /// Appends the replacement for the JSON value `raw` (valid JSON, as in the event).
    pub fn write(&self, mode: RedactMode, raw: &[u8], out: &mut Vec<u8>) {
        match (mode, &self.key) {
            (RedactMode::Remove, _) => {}
            (RedactMode::Hash, Some(key)) => {
                out.push(b'"');
                if raw.first() == Some(&b'"') {
                    let text = string_text(raw);
                    if let Some(prefix) = aws_id_prefix(&text) {
                        out.extend_from_slice(prefix.as_bytes());
                    }
                    key.write_hex(text.as_bytes(), out);
                } else {
                    key.write_hex(&compact(raw), out);
                }
                out.push(b'"');
            }
            (RedactMode::Mask, _) | (RedactMode::Hash, None) => {
                out.extend_from_slice(b"\"****");
                if raw.first() == Some(&b'"') {
                    let text = string_text(raw);
                    if text.chars().count() > 8 {
                        let tail = text.char_indices().rev().nth(3).map_or(0, |(i, _)| i);
                        escape_into(&text[tail..], out);
                    }
                }
                out.push(b'"');
            }
        }
    }
}

/// JSON text without insignificant whitespace.
pub(crate) fn compact(raw: &[u8]) -> Vec<u8> {
    let (mut out, mut strings) = (Vec::with_capacity(raw.len()), crate::decode::Strings::default());
    for &b in raw {
        if strings.outside(b) && matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
            continue;
        }
        out.push(b);
    }
    out
}

/// Appends `text` as the inside of a JSON string.
fn escape_into(text: &str, out: &mut Vec<u8>) {
    for c in text.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            c if (c as u32) < 0x20 => out.extend_from_slice(format!("\\u{:04x}", c as u32).as_bytes()),
            c => out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replaced(mode: RedactMode, key: Option<&[u8]>, raw: &str) -> String {
        let key = key.map(|k| HashKey::new(k, "test").unwrap());
        let mut out = Vec::new();
        Redactor { key }.write(mode, raw.as_bytes(), &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn rules_parse_with_remove_as_default() {
        let r: RedactRule = "userIdentity.accessKeyId".parse().unwrap();
        assert_eq!((r.path.to_string().as_str(), r.mode), ("userIdentity.accessKeyId", RedactMode::Remove));
        let r: RedactRule = "responseElements.credentials.*=hash".parse().unwrap();
        assert_eq!(r.mode, RedactMode::Hash);
        let r: RedactRule = r"tags.a\=b=mask".parse().unwrap();
        assert_eq!((r.path.to_string().as_str(), r.mode), (r"tags.a\=b", RedactMode::Mask));
        assert!("a=scramble".parse::<RedactRule>().unwrap_err().to_string().contains("remove, mask or hash"));
        assert!("a..b".parse::<RedactRule>().is_err());
        let r: RedactRule = "a.b=mask".parse().unwrap();
        assert_eq!(r.to_string(), "a.b=mask");
    }

    #[test]
    fn presets_parse_and_list_their_fields() {
        let p: Preset = "credentials".parse().unwrap();
        let rules = p.rules();
        assert_eq!(
            rules.len(),
            CREDENTIAL_FIELDS.len() + CREDENTIAL_CONDITIONAL_FIELDS.len(),
            "every listed path parses"
        );
        assert!(rules.last().unwrap().to_string().ends_with(r#"where attributeKey is "AccessKeyId""#));
        assert!(rules.iter().all(|r| r.mode == RedactMode::Remove));
        let p: Preset = "credentials=hash".parse().unwrap();
        assert!(p.rules().iter().all(|r| r.mode == RedactMode::Hash));
        assert!("secrets".parse::<Preset>().unwrap_err().to_string().contains("expected credentials"));
    }

    #[test]
    fn mask_keeps_the_last_four_of_long_strings_only() {
        use RedactMode::Mask;
        assert_eq!(replaced(Mask, None, r#""AKIAIOSFODNN7EXAMPLE""#), r#""****MPLE""#);
        assert_eq!(replaced(Mask, None, r#""12345678""#), r#""****""#, "8 characters: nothing kept");
        assert_eq!(replaced(Mask, None, r#""123456789""#), r#""****6789""#);
        assert_eq!(replaced(Mask, None, r#""ééééééééé""#), r#""****éééé""#, "characters, not bytes");
        assert_eq!(replaced(Mask, None, r#""abcdefgh\"\\\n\u0001""#), r#""****\"\\\u000a\u0001""#);
        assert_eq!(replaced(Mask, None, "12345678901"), r#""****""#);
        assert_eq!(replaced(Mask, None, r#"{"a":"secretsecret"}"#), r#""****""#);
    }

    #[test]
    fn hash_is_keyed_hmac_of_the_text() {
        use RedactMode::Hash;
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        let want = "\"5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843\"";
        assert_eq!(replaced(Hash, Some(b"Jefe"), r#""what do ya want for nothing?""#), want);
        assert_eq!(
            replaced(Hash, Some(b"Jefe"), r#""what do ya want for nothing\u003f""#),
            want,
            "escapes do not change the hash"
        );
        assert_ne!(replaced(Hash, Some(b"other"), r#""what do ya want for nothing?""#), want);
        assert_eq!(
            replaced(Hash, Some(b"k"), "{ \"a\" : [1, 2] }"),
            replaced(Hash, Some(b"k"), r#"{"a":[1,2]}"#),
            "non-strings hash as compact JSON"
        );
    }

    #[test]
    fn hash_keeps_the_prefix_of_aws_ids_only() {
        use RedactMode::Hash;
        let hash = |raw: &str| replaced(Hash, Some(b"k"), raw);
        let plain = |text: &str| {
            let mut out = Vec::new();
            HashKey::new(b"k", "test").unwrap().write_hex(text.as_bytes(), &mut out);
            String::from_utf8(out).unwrap()
        };
        for id in
            ["AKIAIOSFODNN7EXAMPLE", "ASIAEXAMPLEKEYID0001", "AROAEXAMPLEROLEID1234", "ABIAEXAMPLE12345678X"]
        {
            let got = hash(&format!("\"{id}\""));
            assert_eq!(got, format!("\"{}{}\"", &id[..4], plain(id)), "prefix + the same HMAC as before");
            assert!(!got.contains(&id[4..]), "{got}");
        }
        assert_eq!(hash(r#""AKIA\u0049OSFODNN7EXAMPLE""#), hash(r#""AKIAIOSFODNN7EXAMPLE""#), "escapes");
        for not_an_id in [
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", // a secret access key
            "AKIAIOSFODNN7EXAMPLEAKIAIOSFODNN7EXAMPLE", // 40 characters: a secret's length
            "akiaiosfodnn7example",                     // lower case
            "AKIAIOSFODNN7EXAMPL-",                     // not only letters and digits
            "AKIA1234",                                 // too short
            "AXYZIOSFODNN7EXAMPLE",                     // no AWS prefix
            "AROAEXAMPLEROLEID:alice",                  // a principal ID with a session
        ] {
            assert_eq!(hash(&format!("\"{not_an_id}\"")), format!("\"{}\"", plain(not_an_id)), "{not_an_id}");
        }
        assert_eq!(hash("12345678901234567890"), format!("\"{}\"", plain("12345678901234567890")));
    }

    #[test]
    fn keys_from_files_drop_trailing_newlines_and_refuse_empty() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::write(&a, "Jefe\r\n").unwrap();
        std::fs::write(&b, "\n").unwrap();
        let key = HashKey::from_file(&a, "--redact-key-file").unwrap();
        let mut out = Vec::new();
        key.write_hex(b"what do ya want for nothing?", &mut out);
        assert!(out.starts_with(b"5bdcc146"), "trailing newline is not part of the key");
        assert!(HashKey::from_file(&b, "--redact-key-file").unwrap_err().to_string().contains("empty"));
        let missing =
            HashKey::from_file(&dir.path().join("nope"), "--redact-key-file").unwrap_err().to_string();
        assert!(missing.contains("--redact-key-file"), "{missing}");
        assert_eq!(format!("{key:?}"), "HashKey(..)", "the key is never printed");
    }
}
