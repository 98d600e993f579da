//! Who may do what (docs/auth.md): bearer tokens (JWT) that carry a role, checked before a
//! request executes, and a rate limit on mutations per caller.
//!
//! With no key configured the service is open: anyone who reaches it may read and write, and
//! `serve` refuses to listen beyond loopback unless told that this is wanted. With a key, a
//! request's `Authorization: Bearer <JWT>` is verified (signature, `exp`, `nbf`, and `iss` and
//! `aud` when configured); a token with the writer role may run mutations, any valid token may
//! read, and a request without a token may read when anonymous reads are on. A refused request
//! runs no SQL.

use std::{
    collections::HashSet,
    net::IpAddr,
    num::NonZeroU32,
    sync::atomic::{AtomicU32, Ordering},
    time::Duration,
};

use axum::http::{HeaderMap, header};
use governor::{DefaultKeyedRateLimiter, Quota, clock::Clock};
use jsonwebtoken::{
    Algorithm, DecodingKey, EncodingKey, Header, Validation,
    jwk::{AlgorithmParameters, EllipticCurve, JwkSet, KeyAlgorithm, PublicKeyUse},
};
use serde_json::{Map, Value};

use crate::config::Config;

/// Seconds of clock skew allowed when checking `exp` and `nbf`.
pub const LEEWAY_SECS: u64 = 30;

/// The longest token read; a longer one is refused as invalid without being parsed.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// The shortest `JWT_SECRET` accepted: HS256 wants a key of at least its hash's 32 bytes.
pub const MIN_SECRET_BYTES: usize = 32;

/// The message of every refused token, whatever was wrong with it.
pub const INVALID_TOKEN: &str = "invalid token";

/// Access control for one service: how tokens are checked and what each caller may do.
pub struct Auth {
    verifier: Option<Verifier>,
    anonymous_reads: bool,
    writer_role: String,
    role_claim: String,
    limiter: Option<MutationLimiter>,
}

/// Who sent a request, once admitted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Caller {
    /// The token's `sub`, when it has one; `None` for an anonymous request.
    pub subject: Option<String>,
    /// When the token expires (its `exp`, seconds since the Unix epoch); `None` without one.
    pub expires_at: Option<u64>,
}

/// Why a request may not run. None of these runs any SQL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No token where one is needed, or a token that does not verify (HTTP 401).
    Unauthenticated {
        /// What the client is told; never why a signature failed.
        message: &'static str,
        /// Whether the request carried a token (then `WWW-Authenticate` says `invalid_token`).
        token_given: bool,
    },
    /// A valid token whose role may not do this (HTTP 403).
    Forbidden,
    /// Too many mutations from this caller (HTTP 429).
    RateLimited {
        /// When the caller may try again.
        retry_after: Duration,
    },
}

impl Refusal {
    /// The `extensions.code` of the refusal.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unauthenticated { .. } => "UNAUTHENTICATED",
            Self::Forbidden => "FORBIDDEN",
            Self::RateLimited { .. } => "RATE_LIMITED",
        }
    }

    /// The message the client sees.
    pub fn message(&self) -> String {
        match self {
            Self::Unauthenticated { message, .. } => (*message).to_owned(),
            Self::Forbidden => "the token's role may not run mutations".to_owned(),
            Self::RateLimited { retry_after } => format!(
                "too many mutations; try again in {} s",
                retry_after_secs(*retry_after)
            ),
        }
    }
}

/// Whole seconds to wait, at least 1 (the value of `Retry-After`).
pub fn retry_after_secs(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

impl Auth {
    /// Access control as `config` describes it; reads key files.
    ///
    /// # Errors
    /// A key file that cannot be read or holds no usable key, or a secret that is too short.
    pub fn from_config(config: &Config) -> Result<Self, String> {
        let verifier = Verifier::from_config(config)?;
        let limiter = NonZeroU32::new(config.mutation_rate_limit).map(MutationLimiter::new);
        Ok(Self {
            verifier,
            anonymous_reads: config.anonymous_reads,
            writer_role: config.writer_role.clone(),
            role_claim: config.jwt_role_claim.clone(),
            limiter,
        })
    }

    /// Whether no key is configured: anyone may read and write.
    pub fn is_open(&self) -> bool {
        self.verifier.is_none()
    }

    /// Whether a request's answer is the same whoever asks (so a shared cache may keep it).
    pub fn answers_alike_for_everyone(&self) -> bool {
        self.verifier.is_none() || self.anonymous_reads
    }

    /// Decides whether a request with `headers` may run: a mutation when `mutation`, sent from
    /// `client`.
    ///
    /// # Errors
    /// The [`Refusal`] the client gets.
    pub fn admit(
        &self,
        headers: &HeaderMap,
        mutation: bool,
        client: Option<IpAddr>,
    ) -> Result<Caller, Refusal> {
        let caller = match &self.verifier {
            None => Caller::default(),
            Some(verifier) => {
                let claims = match bearer_token(headers) {
                    Bearer::None => None,
                    Bearer::Invalid => return Err(invalid_token()),
                    Bearer::Token(token) => Some(verifier.verify(token).ok_or_else(invalid_token)?),
                };
                match claims {
                    None if mutation || !self.anonymous_reads => {
                        return Err(Refusal::Unauthenticated {
                            message: if mutation {
                                "mutations need a bearer token"
                            } else {
                                "this service needs a bearer token"
                            },
                            token_given: false,
                        });
                    }
                    None => Caller::default(),
                    Some(claims) => {
                        let subject = claims.get("sub").and_then(Value::as_str);
                        // Noted before any refusal, so that refused requests name their caller.
                        if let Some(subject) = subject {
                            tracing::Span::current()
                                .record("subject", tracing::field::display(subject.escape_debug()));
                        }
                        if mutation && !has_role(&claims, &self.role_claim, &self.writer_role) {
                            return Err(Refusal::Forbidden);
                        }
                        Caller {
                            subject: subject.map(str::to_owned),
                            expires_at: claims.get("exp").and_then(Value::as_u64),
                        }
                    }
                }
            }
        };
        if mutation && let Some(limiter) = &self.limiter {
            let key = match (&caller.subject, client) {
                (Some(subject), _) => format!("sub:{subject}"),
                (None, Some(IpAddr::V4(address))) => format!("ip:{address}"),
                // One IPv6 client usually holds a whole /64: count it as one.
                (None, Some(IpAddr::V6(address))) => {
                    let prefix = u128::from(address) & !u128::from(u64::MAX);
                    format!("ip:{}/64", std::net::Ipv6Addr::from(prefix))
                }
                (None, None) => "anonymous".to_owned(),
            };
            limiter.check(key)?;
        }
        Ok(caller)
    }
}

fn invalid_token() -> Refusal {
    Refusal::Unauthenticated {
        message: INVALID_TOKEN,
        token_given: true,
    }
}

/// Whether `claims[role_claim]` is `role`, or a list that holds it.
fn has_role(claims: &Map<String, Value>, role_claim: &str, role: &str) -> bool {
    match claims.get(role_claim) {
        Some(Value::String(given)) => given == role,
        Some(Value::Array(given)) => given.iter().any(|given| given.as_str() == Some(role)),
        _ => false,
    }
}

/// What a request's `Authorization` headers hold.
enum Bearer<'a> {
    None,
    Invalid,
    Token(&'a str),
}

/// The bearer token of `headers`: exactly one `Authorization: Bearer <token>` of at most
/// [`MAX_TOKEN_BYTES`] in the characters of a JWT. Two headers, another scheme, or anything
/// else is invalid.
fn bearer_token(headers: &HeaderMap) -> Bearer<'_> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Bearer::None;
    };
    if values.next().is_some() {
        return Bearer::Invalid;
    }
    let Some((scheme, token)) = value.to_str().ok().and_then(|v| v.trim().split_once(' ')) else {
        return Bearer::Invalid;
    };
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() || token.len() > MAX_TOKEN_BYTES {
        return Bearer::Invalid;
    }
    let jwt_characters = token
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if jwt_characters {
        Bearer::Token(token)
    } else {
        Bearer::Invalid
    }
}

/// A key a token may be signed with.
struct Key {
    /// The `kid` a token names it by (JWKS only).
    id: Option<String>,
    key: DecodingKey,
    algorithm: Algorithm,
}

/// Checks tokens against the configured keys and claims.
struct Verifier {
    keys: Vec<Key>,
    validation: Validation,
}

impl Verifier {
    fn from_config(config: &Config) -> Result<Option<Self>, String> {
        let keys = if let Some(secret) = &config.jwt_secret {
            if secret.len() < MIN_SECRET_BYTES {
                return Err(format!(
                    "JWT_SECRET must be at least {MIN_SECRET_BYTES} bytes (HS256); got {}",
                    secret.len()
                ));
            }
            vec![Key {
                id: None,
                key: DecodingKey::from_secret(secret.as_bytes())
                    .map_err(|err| format!("JWT_SECRET: {err}"))?,
                algorithm: Algorithm::HS256,
            }]
        } else if let Some(path) = &config.jwt_public_key_file {
            let pem = std::fs::read(path).map_err(|err| {
                format!("cannot read JWT_PUBLIC_KEY_FILE {}: {err}", path.display())
            })?;
            vec![
                public_key_of_pem(&pem)
                    .map_err(|err| format!("JWT_PUBLIC_KEY_FILE {}: {err}", path.display()))?,
            ]
        } else if let Some(path) = &config.jwt_jwks_file {
            let text = std::fs::read_to_string(path)
                .map_err(|err| format!("cannot read JWT_JWKS_FILE {}: {err}", path.display()))?;
            keys_of_jwks(&text).map_err(|err| format!("JWT_JWKS_FILE {}: {err}", path.display()))?
        } else {
            return Ok(None);
        };
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = LEEWAY_SECS;
        validation.validate_nbf = true;
        validation.validate_aud = config.jwt_audience.is_some();
        // jsonwebtoken compares `iss` and `aud` only when a token has them: a configured one must
        // also be present.
        let mut required = vec!["exp"];
        if let Some(audience) = &config.jwt_audience {
            validation.set_audience(&[audience]);
            required.push("aud");
        }
        if let Some(issuer) = &config.jwt_issuer {
            validation.set_issuer(&[issuer]);
            required.push("iss");
        }
        validation.set_required_spec_claims(&required);
        Ok(Some(Self { keys, validation }))
    }

    /// The claims of `token` when it verifies against one of the keys.
    fn verify(&self, token: &str) -> Option<Map<String, Value>> {
        let header = jsonwebtoken::decode_header(token).ok()?;
        // A token names its key by `kid`; the one key of a secret or a PEM file has no id and
        // verifies every token; a lone JWKS key without a `kid` verifies tokens that name none.
        let key = match &header.kid {
            Some(kid) => self
                .keys
                .iter()
                .find(|key| key.id.as_deref() == Some(kid.as_str()))
                .or_else(|| self.only_key().filter(|key| key.id.is_none()))?,
            None => self.only_key()?,
        };
        let mut validation = self.validation.clone();
        validation.algorithms = vec![key.algorithm];
        jsonwebtoken::decode::<Map<String, Value>>(token, &key.key, &validation)
            .ok()
            .map(|data| data.claims)
    }

    /// The key to use when a token names none: the only one there is.
    fn only_key(&self) -> Option<&Key> {
        match self.keys.as_slice() {
            [key] => Some(key),
            _ => None,
        }
    }
}

/// An RSA (RS256) or P-256 (ES256) public key in PEM.
fn public_key_of_pem(pem: &[u8]) -> Result<Key, String> {
    if let Ok(key) = DecodingKey::from_rsa_pem(pem) {
        return Ok(Key {
            id: None,
            key,
            algorithm: Algorithm::RS256,
        });
    }
    DecodingKey::from_ec_pem(pem)
        .map(|key| Key {
            id: None,
            key,
            algorithm: Algorithm::ES256,
        })
        .map_err(|_| "holds no RSA or P-256 public key in PEM".to_owned())
}

/// The RS256 and ES256 signing keys of a JWKS document.
fn keys_of_jwks(text: &str) -> Result<Vec<Key>, String> {
    let set: JwkSet = serde_json::from_str(text).map_err(|err| format!("not a JWKS: {err}"))?;
    let mut ids = HashSet::new();
    let mut keys = Vec::new();
    for jwk in &set.keys {
        if matches!(
            jwk.common.public_key_use,
            Some(PublicKeyUse::Encryption | PublicKeyUse::Other(_))
        ) {
            continue;
        }
        // RSA keys sign RS256 and P-256 keys ES256; a key declared for another algorithm, or of
        // another kind, is not one of ours.
        let algorithm = match (&jwk.algorithm, jwk.common.key_algorithm) {
            (AlgorithmParameters::RSA(_), None | Some(KeyAlgorithm::RS256)) => Algorithm::RS256,
            (AlgorithmParameters::EllipticCurve(ec), None | Some(KeyAlgorithm::ES256))
                if ec.curve == EllipticCurve::P256 =>
            {
                Algorithm::ES256
            }
            _ => continue,
        };
        let key = DecodingKey::from_jwk(jwk).map_err(|err| format!("a key is unusable: {err}"))?;
        let id = jwk.common.key_id.clone();
        if let Some(id) = &id
            && !ids.insert(id.clone())
        {
            return Err(format!("the key id {id:?} appears twice"));
        }
        keys.push(Key { id, key, algorithm });
    }
    if keys.is_empty() {
        return Err("holds no RS256 or ES256 key".to_owned());
    }
    if keys.len() > 1 && keys.iter().any(|key| key.id.is_none()) {
        return Err("with several keys, each needs a `kid`".to_owned());
    }
    Ok(keys)
}

/// Mutations per caller per minute, with a burst of as many.
struct MutationLimiter {
    limiter: DefaultKeyedRateLimiter<String>,
    checks: AtomicU32,
}

impl MutationLimiter {
    fn new(per_minute: NonZeroU32) -> Self {
        Self {
            limiter: DefaultKeyedRateLimiter::keyed(Quota::per_minute(per_minute)),
            checks: AtomicU32::new(0),
        }
    }

    fn check(&self, key: String) -> Result<(), Refusal> {
        // Callers that have been quiet long enough to be back at a full burst hold no state:
        // forget them now and then, so that the map stays as large as the active callers.
        if self.checks.fetch_add(1, Ordering::Relaxed) % 1024 == 1023 {
            self.limiter.retain_recent();
            self.limiter.shrink_to_fit();
        }
        self.limiter
            .check_key(&key)
            .map_err(|not_until| Refusal::RateLimited {
                retry_after: not_until.wait_time_from(self.limiter.clock().now()),
            })
    }
}

/// A token for development, signed with `secret` (HS256): `role` in `role_claim`, `subject`
/// as `sub`, valid for `lifetime`, with `issuer` and `audience` when given.
///
/// # Errors
/// A secret that is too short.
pub fn development_token(
    secret: &str,
    role_claim: &str,
    role: &str,
    subject: &str,
    lifetime: Duration,
    issuer: Option<&str>,
    audience: Option<&str>,
) -> Result<String, String> {
    if secret.len() < MIN_SECRET_BYTES {
        return Err(format!(
            "the secret must be at least {MIN_SECRET_BYTES} bytes (HS256); got {}",
            secret.len()
        ));
    }
    let now = jsonwebtoken::get_current_timestamp();
    let mut claims = Map::new();
    claims.insert("sub".into(), subject.into());
    claims.insert(role_claim.into(), role.into());
    claims.insert("iat".into(), now.into());
    claims.insert("exp".into(), (now + lifetime.as_secs()).into());
    if let Some(issuer) = issuer {
        claims.insert("iss".into(), issuer.into());
    }
    if let Some(audience) = audience {
        claims.insert("aud".into(), audience.into());
    }
    let key = EncodingKey::from_secret(secret.as_bytes())
        .map_err(|err| format!("cannot use the secret: {err}"))?;
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &key)
        .map_err(|err| format!("cannot sign the token: {err}"))
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    #[test]
    fn only_one_bearer_token_of_jwt_characters_is_read() {
        let read = |values: &[&str]| match bearer_token(&headers(values)) {
            Bearer::None => "none".to_owned(),
            Bearer::Invalid => "invalid".to_owned(),
            Bearer::Token(token) => token.to_owned(),
        };
        assert_eq!(read(&[]), "none");
        assert_eq!(read(&["Bearer a.b.c"]), "a.b.c");
        assert_eq!(read(&["bearer  a-_.B9 "]), "a-_.B9");
        assert_eq!(read(&["Bearer a.b.c", "Bearer a.b.c"]), "invalid");
        assert_eq!(read(&["Basic a.b.c"]), "invalid");
        assert_eq!(read(&["Bearer"]), "invalid");
        assert_eq!(read(&["Bearer a b"]), "invalid");
        assert_eq!(read(&["Bearer a+b/c="]), "invalid");
        let long = format!("Bearer {}", "a".repeat(MAX_TOKEN_BYTES + 1));
        assert_eq!(read(&[&long]), "invalid");
    }

    #[test]
    fn a_role_is_a_string_or_one_of_a_list() {
        let claims = |value: Value| {
            let mut claims = Map::new();
            claims.insert("role".into(), value);
            claims
        };
        assert!(has_role(&claims("writer".into()), "role", "writer"));
        assert!(has_role(
            &claims(serde_json::json!(["reader", "writer"])),
            "role",
            "writer"
        ));
        assert!(!has_role(&claims("reader".into()), "role", "writer"));
        assert!(!has_role(
            &claims(serde_json::json!({ "writer": true })),
            "role",
            "writer"
        ));
        assert!(!has_role(&claims("writer".into()), "roles", "writer"));
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_secs(2)), 2);
        assert_eq!(retry_after_secs(Duration::from_millis(29_001)), 30);
    }

    #[test]
    fn unusable_key_settings_stop_the_start() {
        let dir = std::env::temp_dir().join(format!("auth_keys_{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = |name: &str, text: &str| {
            let path = dir.join(name);
            std::fs::write(&path, text).unwrap();
            path
        };
        let mut config = Config::for_database("sqlite::memory:");
        config.jwt_secret = Some("short".into());
        assert!(
            Auth::from_config(&config)
                .err()
                .unwrap()
                .contains("at least 32 bytes")
        );

        let mut config = Config::for_database("sqlite::memory:");
        config.jwt_public_key_file = Some(file("not.pem", "hello"));
        assert!(
            Auth::from_config(&config)
                .err()
                .unwrap()
                .contains("no RSA or P-256")
        );
        config.jwt_public_key_file = Some(dir.join("missing.pem"));
        assert!(
            Auth::from_config(&config)
                .err()
                .unwrap()
                .contains("cannot read")
        );

        let mut config = Config::for_database("sqlite::memory:");
        config.jwt_jwks_file = Some(file("empty.json", r#"{"keys": []}"#));
        assert!(
            Auth::from_config(&config)
                .err()
                .unwrap()
                .contains("no RS256 or ES256")
        );
        config.jwt_jwks_file = Some(file("bad.json", "[1, 2]"));
        assert!(
            Auth::from_config(&config)
                .err()
                .unwrap()
                .contains("not a JWKS")
        );
        std::fs::remove_dir_all(dir).unwrap();

        let open = Auth::from_config(&Config::for_database("sqlite::memory:")).unwrap();
        assert!(open.is_open());
        assert!(open.answers_alike_for_everyone());
    }
}
