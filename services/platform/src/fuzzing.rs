//! The properties the fuzz targets in `fuzz/` check, one function per target, each taking
//! the fuzzer's raw bytes. They live here, beside the code they exercise, so the fuzzer and
//! `cargo test` (which replays every committed seed and every crash input kept as a
//! regression, [`replay`]) run the same checks. Each asserts more than "no panic" where there
//! is more to say: round trips, what a verified token must map to, what redaction must hide.
//!
//! Compiled only for tests and with the `fuzzing` feature (the fuzz crate's), so services
//! never carry it.

use std::path::{Path, PathBuf};

use cspr_proto::events::v1::Event;
use prost::Message;
use serde_json::{Map, Value};

use crate::auth::{Authenticator, Principal, Role};
use crate::bus::consumer::{self, UndecodableEvent};
use crate::config::{
    AuthConfig, AuthKeys, ClaimMapping, Env, PlatformConfig, ServiceConfig, redact_password,
    with_database_name,
};
use crate::error::ServiceError;
use crate::pagination::{Cursor, PageRequest, TextCursor};

/// Runs `property` on every input kept for fuzz target `target`: the seeds
/// (`fuzz/seeds/<target>/`) and the crash inputs kept as regressions
/// (`fuzz/regressions/<target>/`). Panics naming the file whose input fails, and if the
/// target has no seed at all (a replay of nothing would pass for the wrong reason).
/// Returns how many inputs ran.
pub fn replay(target: &str, property: impl Fn(&[u8])) -> usize {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let seeds = inputs(&root.join("seeds").join(target));
    assert!(
        !seeds.is_empty(),
        "no seeds in fuzz/seeds/{target}: every target keeps some"
    );
    let regressions = inputs(&root.join("regressions").join(target));
    for path in seeds.iter().chain(&regressions) {
        let data = std::fs::read(path)
            .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
        let outcome =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| property(data.as_slice())));
        if let Err(panic) = outcome {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|text| text.to_string()))
                .unwrap_or_default();
            panic!("fuzz input {} fails: {message}", path.display());
        }
    }
    seeds.len() + regressions.len()
}

/// The files of `directory`, sorted; none if it does not exist.
fn inputs(directory: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(directory) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.is_file())
        .collect();
    paths.sort();
    paths
}

/// `event_decode`: the bus consumer's decoding of a message payload
/// ([`consumer::decode`]). Any bytes decode or are refused; what decodes has a UUID id,
/// re-encodes to bytes that decode to the same event, and has a lane among the lanes. A
/// payload refused only for its id is a well-formed event: given a UUID id it decodes, and
/// equals what was encoded (every event round-trips through the bus).
pub fn event_decode(data: &[u8]) {
    match consumer::decode(data) {
        Ok(decoded) => {
            assert_eq!(decoded.id.to_string().len(), 36);
            assert_eq!(
                decoded.event.id.parse::<uuid::Uuid>().ok(),
                Some(decoded.id)
            );
            let again = consumer::decode(&decoded.event.encode_to_vec())
                .expect("a decoded event re-encodes to a decodable payload");
            assert_eq!(again, decoded, "decode ∘ encode is the identity on events");
            for lanes in [1, 2, 8] {
                assert!(consumer::lane_of(Some(&decoded.event), lanes) < lanes);
            }
        }
        Err(UndecodableEvent::EventId(id)) => {
            let mut event = Event::decode(data).expect("refused only for its id");
            assert_eq!(event.id, id);
            event.id = uuid::Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0001).to_string();
            let decoded =
                consumer::decode(&event.encode_to_vec()).expect("with a UUID id it decodes");
            assert_eq!(decoded.event, event, "the event round-trips");
        }
        Err(UndecodableEvent::Protobuf(_)) => {
            assert!(
                Event::decode(data).is_err(),
                "refused as protobuf only if it is not"
            );
        }
    }
}

/// The key the `token` target signs with; its verifier knows only this one.
const TOKEN_SECRET: &[u8] = b"the-fuzzing-secret-0123456789";

fn token_config(claims: ClaimMapping) -> AuthConfig {
    AuthConfig {
        keys: AuthKeys::Hs256Secret(TOKEN_SECRET.to_vec()),
        issuer: "cspr-dev".into(),
        audience: "cspr".into(),
        claims,
    }
}

/// The two claim mappings tokens are read with: cspr's own names, and an identity
/// provider's (nested partnership, prefixed groups, a namespaced agency claim).
fn token_mappings() -> [ClaimMapping; 2] {
    [
        ClaimMapping::default(),
        ClaimMapping {
            partnership: "tenant.partnership".into(),
            roles: "groups".into(),
            org: "https://cspr.example/org".into(),
            role_prefix: Some("cspr:".into()),
        },
    ]
}

/// `token`: bearer token verification ([`Authenticator::verify`]). The input is tried as a
/// token as it is (refused or verified, never a panic, never an error that is not the
/// caller's); and, when it is a JSON object, as the claims of a token signed with the fixed
/// key: such a token verifies to the principal the claims describe, read independently here
/// (subject, partnership, the known roles, the agency), under either mapping, or is refused
/// as unauthenticated or invalid (a NUL); signed with another key it is always refused.
pub fn token(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    for mapping in token_mappings() {
        let authenticator = Authenticator::new(&token_config(mapping)).expect("an HS256 key");
        for candidate in [text.as_ref(), text.trim()] {
            if let Err(error) = authenticator.verify(candidate) {
                assert_refusal(&error);
            }
        }
    }
    let Ok(Value::Object(claims)) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    let sign = |secret: &[u8]| {
        jsonwebtoken::encode(
            &header,
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(secret),
        )
        .expect("an object signs")
    };
    let token = sign(TOKEN_SECRET);
    let forged = sign(b"another-secret-of-enough-length");
    for mapping in token_mappings() {
        let authenticator =
            Authenticator::new(&token_config(mapping.clone())).expect("an HS256 key");
        match authenticator.verify(&token) {
            Ok(principal) => {
                let expected = expected_principal(&claims, &mapping);
                assert_eq!(
                    Some(principal_fields(&principal)),
                    expected,
                    "a verified token maps to the principal its claims describe"
                );
                assert!(principal.peer.is_none());
                let again = authenticator.verify(&token).expect("verifies again");
                assert_eq!(principal_fields(&again), principal_fields(&principal));
            }
            Err(error) => {
                assert_refusal(&error);
                if let ServiceError::InvalidArgument(_) = error {
                    assert!(
                        serde_json::to_string(&claims)
                            .expect("serialises")
                            .contains("\\u0000"),
                        "only a NUL in a claim is an invalid argument"
                    );
                }
            }
        }
        let error = authenticator
            .verify(&forged)
            .expect_err("a token signed with another key");
        assert!(
            matches!(error, ServiceError::Unauthenticated(_)),
            "{error:?}"
        );
    }
}

/// A refused token is the caller's fault: unauthenticated, or invalid (a NUL in a claim).
fn assert_refusal(error: &ServiceError) {
    assert!(
        matches!(
            error,
            ServiceError::Unauthenticated(_) | ServiceError::InvalidArgument(_)
        ),
        "a refused token is unauthenticated or invalid, not {error:?}"
    );
}

type PrincipalFields = (String, String, Vec<Role>, Option<String>);

fn principal_fields(principal: &Principal) -> PrincipalFields {
    (
        principal.subject.clone(),
        principal.partnership.clone(),
        principal.roles.clone(),
        principal.org.clone(),
    )
}

/// What a token with `claims` must verify to under `mapping`, read without the
/// authenticator's code: `None` where it must be refused.
fn expected_principal(
    claims: &Map<String, Value>,
    mapping: &ClaimMapping,
) -> Option<PrincipalFields> {
    fn at<'a>(claims: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
        if let Some(value) = claims.get(path) {
            return Some(value);
        }
        let mut value = claims.get(path.split('.').next()?)?;
        for segment in path.split('.').skip(1) {
            value = value.as_object()?.get(segment)?;
        }
        Some(value)
    }
    // A text claim: absent and null are none; anything else but a string refuses.
    let text = |path: &str| -> Option<Option<String>> {
        match at(claims, path) {
            None | Some(Value::Null) => Some(None),
            Some(Value::String(text)) => Some(Some(text.clone())),
            Some(_) => None,
        }
    };
    let subject = text("sub")?.unwrap_or_default();
    let partnership = text(&mapping.partnership)?.unwrap_or_default();
    let org = text(&mapping.org)?;
    let role_names: Vec<String> = match at(claims, &mapping.roles) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(values)) => values
            .iter()
            .filter_map(|value| value.as_str().map(str::to_string))
            .collect(),
        Some(Value::String(text)) => text.split_whitespace().map(str::to_string).collect(),
        Some(_) => return None,
    };
    let mut all = vec![&subject, &partnership];
    all.extend(&role_names);
    all.extend(&org);
    if all.iter().any(|text| text.contains('\0')) || partnership.trim().is_empty() {
        return None;
    }
    let roles: Vec<Role> = role_names
        .iter()
        .filter_map(|name| match &mapping.role_prefix {
            Some(prefix) => name.strip_prefix(prefix.as_str()),
            None => Some(name.as_str()),
        })
        .filter_map(|name| ALL_ROLES.iter().copied().find(|role| role.as_str() == name))
        .collect();
    let org = org.filter(|org| !org.is_empty());
    if roles.contains(&Role::Agency) && org.is_none() {
        return None;
    }
    Some((subject, partnership, roles, org))
}

const ALL_ROLES: [Role; 8] = [
    Role::PartnershipAdmin,
    Role::PanelChair,
    Role::PanelMember,
    Role::Reviewer,
    Role::Agency,
    Role::FamilyLiaison,
    Role::Auditor,
    Role::Operations,
];

/// `page_token`: list page tokens ([`Cursor`], [`TextCursor`], [`PageRequest`]). Any text
/// is a token of the first page, a position, or refused on `page_token`; a position read
/// from a token is written back to a token that reads as the same position. Any position
/// made of the input's bytes round-trips through its token, and page sizes are clamped.
pub fn page_token(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let refused_on_field = |error: ServiceError| match error {
        ServiceError::InvalidArgument(violations) => {
            assert_eq!(violations.len(), 1);
            assert_eq!(violations[0].field, "page_token");
        }
        other => panic!("a bad token is an invalid argument, not {other:?}"),
    };
    match Cursor::decode(&text, "page_token") {
        Ok(None) => assert!(text.is_empty()),
        Ok(Some(cursor)) => assert_eq!(
            Cursor::decode(&cursor.encode(), "page_token").expect("its own token"),
            Some(cursor)
        ),
        Err(error) => refused_on_field(error),
    }
    match TextCursor::decode(&text, "page_token") {
        Ok(None) => assert!(text.is_empty()),
        Ok(Some(cursor)) => assert_eq!(
            TextCursor::decode(&cursor.encode(), "page_token").expect("its own token"),
            Some(cursor)
        ),
        Err(error) => refused_on_field(error),
    }

    let mut bytes = [0u8; 28];
    for (slot, byte) in bytes.iter_mut().zip(data) {
        *slot = *byte;
    }
    let micros = i64::from_le_bytes(bytes[..8].try_into().expect("8 bytes"));
    let id = uuid::Uuid::from_bytes(bytes[8..24].try_into().expect("16 bytes"));
    if let Some(at) = chrono::DateTime::from_timestamp_micros(micros) {
        let cursor = Cursor::new(at, id);
        assert_eq!(
            Cursor::decode(&cursor.encode(), "page_token").expect("its own token"),
            Some(cursor)
        );
    }
    let key = String::from_utf8_lossy(data.get(24..).unwrap_or_default()).into_owned();
    let cursor = TextCursor { key, id };
    assert_eq!(
        TextCursor::decode(&cursor.encode(), "page_token").expect("its own token"),
        Some(cursor)
    );
    let size = i32::from_le_bytes(bytes[24..].try_into().expect("4 bytes"));
    match PageRequest::<Cursor>::parse(size, "", 50, 200) {
        Ok(page) => {
            assert!(size >= 0);
            assert!((1..=200).contains(&page.limit), "{size} → {}", page.limit);
            assert!(size == 0 || page.limit == i64::from(size).min(200));
        }
        Err(_) => assert!(size < 0),
    }
}

/// The variables the `config` target may set: everything the platform reads but the ones
/// that name files to read (a fuzzer must not make it read `/dev/zero`).
const CONFIG_VARIABLES: &[&str] = &[
    "CSPR_AUTH_AUDIENCE",
    "CSPR_AUTH_CLAIM_ORG",
    "CSPR_AUTH_CLAIM_PARTNERSHIP",
    "CSPR_AUTH_CLAIM_ROLES",
    "CSPR_AUTH_HS256_SECRET",
    "CSPR_AUTH_ISSUER",
    "CSPR_AUTH_JWKS_MIN_REFRESH_INTERVAL",
    "CSPR_AUTH_JWKS_REFRESH_INTERVAL",
    "CSPR_AUTH_JWKS_URL",
    "CSPR_AUTH_ROLE_PREFIX",
    "CSPR_DATABASE_MAX_CONNECTIONS",
    "CSPR_GAUGE_INTERVAL",
    "CSPR_HTTP2_HANDSHAKE_TIMEOUT",
    "CSPR_HTTP2_IDLE_TIMEOUT",
    "CSPR_HTTP2_KEEPALIVE_INTERVAL",
    "CSPR_HTTP2_KEEPALIVE_TIMEOUT",
    "CSPR_HTTP2_MAX_CONCURRENT_STREAMS",
    "CSPR_MAX_MESSAGE_BYTES",
    "CSPR_NATS_STREAM_REPLICAS",
    "CSPR_OUTBOX_POLL_INTERVAL",
    "CSPR_REGISTRY_ADDR",
    "CSPR_REGISTRY_DATABASE_URL",
    "CSPR_SHUTDOWN_DRAIN",
    "CSPR_SHUTDOWN_GRACE",
    "CSPR_SUBJECT_PREFIX",
];

/// One server of a URL the `config` target builds, from six lines of its input.
struct UrlParts {
    scheme: String,
    user: String,
    password: String,
    host: String,
    path: String,
    query_password: String,
}

impl UrlParts {
    /// Six lines, each kept to the characters its part can hold: the user has no `:` or
    /// `@`, a password no `/`, `?` or `#` (which end a URL's authority), a query password
    /// no `&` or `#`; the rest is any text a line can hold (commas, `@`, `:`, spaces …).
    fn from_lines(lines: &[&str]) -> Self {
        let line = |index: usize, refused: &[char]| -> String {
            lines
                .get(index)
                .copied()
                .unwrap_or_default()
                .chars()
                .filter(|character| !refused.contains(character))
                .collect()
        };
        let mut path = line(4, &['?', '#']);
        if !path.is_empty() && !path.starts_with('/') {
            path.insert(0, '/');
        }
        Self {
            scheme: line(0, &[':', '/', '?', '#', '@', ',']),
            user: line(1, &[':', '@', '/', '?', '#']),
            password: line(2, &['/', '?', '#']),
            host: line(3, &['@', '/', '?', '#']),
            path,
            query_password: line(5, &['&', '#']),
        }
    }

    /// The server's URL, with its passwords, or with `replaced` for each password it has.
    fn url(&self, replaced: Option<&str>) -> String {
        let password = |password: &str| replaced.unwrap_or(password).to_string();
        let mut url = String::new();
        if !self.scheme.is_empty() {
            url.push_str(&self.scheme);
            url.push_str("://");
        }
        if !self.user.is_empty() || !self.password.is_empty() {
            url.push_str(&self.user);
            if !self.password.is_empty() {
                url.push(':');
                url.push_str(&password(&self.password));
            }
            url.push('@');
        }
        url.push_str(&self.host);
        url.push_str(&self.path);
        if !self.query_password.is_empty() {
            url.push_str("?sslmode=prefer&password=");
            url.push_str(&password(&self.query_password));
        }
        url
    }
}

/// `config`: settings from the environment ([`PlatformConfig::from_env`],
/// [`ServiceConfig::from_env`]) and the redaction of passwords in database and NATS URLs
/// ([`redact_password`]). The input's lines before a line `[env]` describe up to three
/// servers (six lines each: scheme, user, password, host, path, query password), joined
/// into one comma-separated URL. Whatever its passwords hold, no character that only they
/// have shows in the redacted URL, also after `with_database_name`; and the `Debug` of the
/// configurations reading it as `CSPR_DATABASE_URL` and `CSPR_NATS_URL` shows it redacted
/// and, that aside, the same as with every password `pw`. The lines after `[env]` are `NAME=value`
/// settings: any values are read into a configuration or refused, never a panic; so is
/// the redaction of the input as it is.
pub fn config(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let _ = redact_password(&text);

    let (model, settings) = match text.split_once("\n[env]\n") {
        Some((model, settings)) => (model, settings),
        None => (text.as_ref(), ""),
    };
    let lines: Vec<&str> = model.split('\n').collect();
    let servers: Vec<UrlParts> = lines.chunks(6).take(3).map(UrlParts::from_lines).collect();
    let join = |replaced: Option<&str>| {
        let mut url = String::new();
        for (index, server) in servers.iter().enumerate() {
            url.push_str(match index {
                0 => "",
                1 => ",",
                _ => ", ",
            });
            url.push_str(&server.url(replaced));
        }
        url
    };
    let url = join(None);
    let other = join(Some("pw"));
    // Characters only the passwords have: none may show. (Exact independence of the
    // passwords would be too much to ask: how far redaction errs on the side of hiding,
    // in a list whose servers it cannot tell apart, depends on where `&` and `,` are.)
    let rest = join(Some(""));
    let assert_hidden = |shown: &str, rest: &str, what: &str| {
        let secret = servers
            .iter()
            .flat_map(|server| server.password.chars().chain(server.query_password.chars()))
            .find(|character| {
                *character != '*' && !rest.contains(*character) && shown.contains(*character)
            });
        if let Some(character) = secret {
            panic!("{what} shows {character:?} of a password: {url:?} → {shown:?}");
        }
    };
    assert_hidden(&redact_password(&url), &rest, "the redacted URL");
    assert_hidden(
        &redact_password(&with_database_name(&url, "cspr_registry")),
        &with_database_name(&rest, "cspr_registry"),
        "the redacted URL with the service's database",
    );

    // The printed configurations show the URL redacted, and otherwise nothing that
    // depends on the passwords.
    let printed_without = |printed: String, url: &str| {
        [url.to_string(), with_database_name(url, "cspr_registry")]
            .iter()
            .fold(printed, |printed, url| {
                printed.replace(&format!("{:?}", redact_password(url)), "")
            })
    };
    for variable in ["CSPR_DATABASE_URL", "CSPR_NATS_URL"] {
        let env_with = |url: &str| {
            let mut env = Env::isolated([
                (variable, url),
                ("CSPR_AUTH_HS256_SECRET", "a-development-secret"),
            ]);
            for line in settings.lines() {
                if let Some((name, value)) = line.split_once('=')
                    && CONFIG_VARIABLES.contains(&name)
                {
                    env = env.with(name, value);
                }
            }
            env
        };
        let (env, other_env) = (env_with(&url), env_with(&other));
        let (Ok(platform), Ok(other_platform)) = (
            PlatformConfig::from_env(&env),
            PlatformConfig::from_env(&other_env),
        ) else {
            continue;
        };
        assert_eq!(
            printed_without(format!("{platform:?}"), &url),
            printed_without(format!("{other_platform:?}"), &other),
            "the printed configuration shows nothing else of the passwords in {variable}"
        );
        if let (Ok(service), Ok(other_service)) = (
            ServiceConfig::from_env(&env, "registry", &platform),
            ServiceConfig::from_env(&other_env, "registry", &other_platform),
        ) {
            assert_eq!(
                printed_without(format!("{service:?}"), &url),
                printed_without(format!("{other_service:?}"), &other),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    //! Every seed and every kept crash input, replayed by `cargo test`.

    use super::*;

    #[test]
    fn event_decode_inputs_hold() {
        assert!(replay("event_decode", event_decode) > 0);
    }

    #[test]
    fn token_inputs_hold() {
        assert!(replay("token", token) > 0);
    }

    /// The `token` property compares principals only for tokens that verify: the seeds
    /// must include claims that do, under each mapping, or it would check little.
    #[test]
    fn token_seeds_include_claims_that_verify() {
        let seeds = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds/token");
        for (seed, mapping, roles) in [
            ("default_mapping", 0, vec![Role::PartnershipAdmin]),
            ("provider_mapping", 1, vec![Role::Reviewer, Role::Agency]),
        ] {
            let claims: Map<String, Value> =
                serde_json::from_slice(&std::fs::read(seeds.join(seed)).expect("a seed"))
                    .expect("claims");
            let token = jsonwebtoken::encode(
                &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
                &claims,
                &jsonwebtoken::EncodingKey::from_secret(TOKEN_SECRET),
            )
            .expect("signs");
            let mapping = token_mappings()[mapping].clone();
            let principal = Authenticator::new(&token_config(mapping))
                .expect("an HS256 key")
                .verify(&token)
                .expect("the seed's claims verify");
            assert_eq!(principal.roles, roles, "{seed}");
        }
    }

    #[test]
    fn page_token_inputs_hold() {
        assert!(replay("page_token", page_token) > 0);
    }

    #[test]
    fn config_inputs_hold() {
        assert!(replay("config", config) > 0);
    }
}
