//! Who may call what: bearer tokens, each with a role and optionally limited to group-name
//! prefixes.
//!
//! The configuration names tokens by the SHA-256 of their text (or a file holding the text),
//! so it can be shared and kept in version control without giving anyone access. A request
//! names its token in `Authorization: Bearer TOKEN`; the daemon hashes it and looks the hash
//! up. Every route needs a role ([`access`], checked against the OpenAPI document's
//! `x-roster-role` by the test suite), and a token limited to prefixes reaches only groups
//! whose names start with one of them: routes naming a group check it, group lists are
//! filtered, and the whole store's history (`/v1/changes`, `/v1/events` without a group) is
//! refused, since it carries every group's changes.
//!
//! Without tokens configured, every caller may do everything (a daemon on localhost, as
//! before); [`crate::Server::bind`] refuses to listen beyond localhost that way.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::Daemon;
use super::error::ApiError;

/// What a token may do; each role may do everything the one before it may.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Status, groups, members, leaders, snapshot, events, changes, plugins, metrics.
    Read,
    /// Reading, and sessions: open, heartbeat, join, leave, capabilities, elections.
    Member,
    /// Everything: also create and delete groups.
    Admin,
}

impl Role {
    /// The role's name, as the configuration and the OpenAPI document spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Member => "member",
            Self::Admin => "admin",
        }
    }
}

/// One `[[tokens]]` entry of the daemon's configuration.
///
/// ```toml
/// [[tokens]]
/// name = "billing"                 # shown in access logs, never the token itself
/// role = "member"                  # read | member | admin
/// sha256 = "9f86d08…"              # hex SHA-256 of the token (`roster token new` prints it)
/// # file = "/etc/roster/billing.token"  # or: the token itself, read from a file
/// groups = ["billing-"]            # optional: only groups whose names start with these
/// ```
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenConfig {
    /// The token's name, for logs and metrics.
    pub name: String,
    /// What it may do.
    pub role: Role,
    /// The hex SHA-256 of the token's text.
    pub sha256: Option<String>,
    /// A file holding the token's text (surrounding whitespace ignored), relative to the
    /// configuration file.
    pub file: Option<PathBuf>,
    /// Group-name prefixes the token is limited to; every group when empty.
    #[serde(default)]
    pub groups: Vec<String>,
}

/// Shortest token text accepted from a file: a guessable token is no protection.
pub const MIN_TOKEN_LEN: usize = 16;

/// The caller of a request, as its token says.
#[derive(Debug)]
pub(crate) struct Caller {
    /// The token's name (`None` when the daemon has no tokens).
    pub name: Option<String>,
    pub role: Role,
    /// Group-name prefixes it is limited to; every group when empty.
    pub prefixes: Vec<String>,
}

impl Caller {
    /// The caller of a daemon without tokens: anyone, for anything.
    fn anyone() -> Self {
        Self {
            name: None,
            role: Role::Admin,
            prefixes: Vec::new(),
        }
    }

    /// Whether the caller may reach `group`.
    pub fn reaches(&self, group: &str) -> bool {
        self.prefixes.is_empty() || self.prefixes.iter().any(|p| group.starts_with(p.as_str()))
    }

    /// Whether the caller reaches every group (so may read the whole store's history).
    pub fn reaches_all(&self) -> bool {
        self.prefixes.is_empty()
    }
}

/// The name of the token a response was answered for, in the response's extensions (for
/// the access log and metrics, which wrap the authentication).
#[derive(Clone, Debug)]
pub(crate) struct CallerName(pub Option<String>);

/// The daemon's tokens, by the hash of their text. Empty: authentication is off.
#[derive(Debug)]
pub(crate) struct Tokens {
    by_hash: HashMap<[u8; 32], Arc<Caller>>,
    anyone: Arc<Caller>,
}

impl Tokens {
    /// Read `configs`, with token files relative to `base_dir`.
    ///
    /// # Errors
    /// A message saying which entry is unusable and why.
    pub fn load(configs: &[TokenConfig], base_dir: &Path) -> Result<Self, String> {
        let mut by_hash = HashMap::new();
        let mut names = std::collections::HashSet::new();
        for config in configs {
            let name = &config.name;
            if name.trim().is_empty() || name.chars().any(char::is_control) {
                return Err(format!(
                    "token name {name:?} must be non-empty, without control characters"
                ));
            }
            if !names.insert(name.clone()) {
                return Err(format!("two tokens are named {name:?}"));
            }
            if config.groups.iter().any(String::is_empty) {
                return Err(format!(
                    "token {name:?}: an empty group prefix would reach every group; leave `groups` out instead"
                ));
            }
            let hash = match (&config.sha256, &config.file) {
                (Some(hex), None) => parse_sha256(hex).ok_or_else(|| {
                    format!("token {name:?}: sha256 must be 64 hexadecimal digits")
                })?,
                (None, Some(file)) => {
                    let path = base_dir.join(file);
                    let text = std::fs::read_to_string(&path).map_err(|e| {
                        format!("token {name:?}: cannot read {}: {e}", path.display())
                    })?;
                    let text = text.trim();
                    if text.len() < MIN_TOKEN_LEN {
                        return Err(format!(
                            "token {name:?}: the token in {} is shorter than {MIN_TOKEN_LEN} characters",
                            path.display()
                        ));
                    }
                    sha256(text)
                }
                _ => {
                    return Err(format!(
                        "token {name:?} needs exactly one of `sha256` and `file`"
                    ));
                }
            };
            let caller = Arc::new(Caller {
                name: Some(name.clone()),
                role: config.role,
                prefixes: config.groups.clone(),
            });
            if by_hash.insert(hash, caller).is_some() {
                return Err(format!("token {name:?} is the same token as another entry"));
            }
        }
        Ok(Self {
            by_hash,
            anyone: Arc::new(Caller::anyone()),
        })
    }

    /// Whether requests must name a token.
    pub fn required(&self) -> bool {
        !self.by_hash.is_empty()
    }

    /// The caller a request's `Authorization` header names.
    fn caller(&self, authorization: Option<&header::HeaderValue>) -> Result<Arc<Caller>, ApiError> {
        if !self.required() {
            return Ok(Arc::clone(&self.anyone));
        }
        let Some(value) = authorization else {
            return Err(ApiError::Unauthenticated(
                "this daemon needs a bearer token".into(),
            ));
        };
        let token = value
            .to_str()
            .ok()
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim)
            .ok_or_else(|| {
                ApiError::Unauthenticated("the Authorization header is not `Bearer TOKEN`".into())
            })?;
        self.by_hash.get(&sha256(token)).cloned().ok_or_else(|| {
            ApiError::Unauthenticated("the token is not known to this daemon".into())
        })
    }
}

/// The hex SHA-256 of a token, as the configuration names it.
pub fn token_hash(token: &str) -> String {
    sha256(token).iter().map(|b| format!("{b:02x}")).collect()
}

fn sha256(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

fn parse_sha256(hex: &str) -> Option<[u8; 32]> {
    let hex = hex.trim();
    if hex.len() != 64 {
        return None;
    }
    let mut hash = [0; 32];
    for (i, byte) in hash.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(hash)
}

/// Who may call a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Anyone, without a token: the probes a load balancer or an orchestrator makes.
    Open,
    /// A token of at least this role.
    Role(Role),
}

/// Who may call `method` on the route `template` (as the router and the OpenAPI document
/// spell it). A route missing here needs an admin token; the suite checks every documented
/// route against the document's `x-roster-role`.
pub fn access(method: &Method, template: &str) -> Access {
    use Role::{Admin, Member, Read};
    if matches!(template, "/healthz" | "/readyz") {
        return Access::Open;
    }
    let role = if template.starts_with("/v1/sessions") {
        Member
    } else if matches!(*method, Method::GET | Method::HEAD) {
        Read
    } else {
        Admin
    };
    Access::Role(role)
}

/// Routes that read the whole store's history: out of reach of a token limited to prefixes
/// (`/v1/events` only when it names no group).
fn reads_all_history(template: &str) -> bool {
    template == "/v1/changes"
}

/// Authenticate and authorize a request: find its caller (401 when a token is needed and
/// missing or unknown), check the route's role (403 `forbidden`) and the group it names
/// (403 `out-of-scope`), and hand the caller to the handler in the request's extensions.
pub(crate) async fn authorize(
    State(daemon): State<Arc<Daemon>>,
    matched: Option<MatchedPath>,
    mut request: Request,
    next: Next,
) -> Response {
    let template = matched.as_ref().map(MatchedPath::as_str);
    let access = template.map_or(Access::Role(Role::Read), |t| access(request.method(), t));
    let caller = if access == Access::Open {
        None
    } else {
        match daemon
            .tokens
            .caller(request.headers().get(header::AUTHORIZATION))
        {
            Ok(caller) => Some(caller),
            Err(refused) => return refused.into_response(),
        }
    };
    if let (Some(caller), Access::Role(needed)) = (caller.as_ref(), access) {
        if let Err(refused) = check(caller, needed, template, &request) {
            let mut response = refused.into_response();
            response
                .extensions_mut()
                .insert(CallerName(caller.name.clone()));
            return response;
        }
        request.extensions_mut().insert(Arc::clone(caller));
    }
    let mut response = next.run(request).await;
    response
        .extensions_mut()
        .insert(CallerName(caller.and_then(|c| c.name.clone())));
    response
}

/// Whether `caller` may make `request` on the route `template`, which needs `needed`.
fn check(
    caller: &Caller,
    needed: Role,
    template: Option<&str>,
    request: &Request,
) -> Result<(), ApiError> {
    if caller.role < needed {
        return Err(ApiError::Forbidden(format!(
            "a {} token may not {} {}: it needs a {} token",
            caller.role.as_str(),
            request.method(),
            request.uri().path(),
            needed.as_str()
        )));
    }
    if caller.reaches_all() {
        return Ok(());
    }
    let out_of_scope = |what: String| Err(ApiError::OutOfScope(what));
    let Some(template) = template else {
        return Ok(());
    };
    if reads_all_history(template) {
        return out_of_scope(format!(
            "{template} carries every group's changes; this token reaches only groups starting with {:?}",
            caller.prefixes
        ));
    }
    if let Some(group) = group_named(template, request) {
        if !caller.reaches(&group) {
            return out_of_scope(format!(
                "{group:?} is out of this token's reach (groups and locks starting with {:?})",
                caller.prefixes
            ));
        }
    } else if template == "/v1/events" {
        return out_of_scope(format!(
            "/v1/events without `group` carries every group's changes; name a group starting with {:?}",
            caller.prefixes
        ));
    }
    Ok(())
}

/// The group (or lock: a token's prefixes limit both) a request names: its `{group}` or
/// `{lock}` path segment, or `/v1/events`' `group` query parameter. Undecodable values are
/// left to the handler, which refuses them.
fn group_named(template: &str, request: &Request) -> Option<String> {
    if template == "/v1/events" {
        let query = request.uri().query().unwrap_or_default();
        return url::form_urlencoded::parse(query.as_bytes())
            .find(|(name, _)| name == "group")
            .map(|(_, value)| value.into_owned());
    }
    let position = template
        .split('/')
        .position(|s| s == "{group}" || s == "{lock}")?;
    let raw = request.uri().path().split('/').nth(position)?;
    percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .ok()
        .map(Into::into)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, role: Role, sha: &str) -> TokenConfig {
        TokenConfig {
            name: name.into(),
            role,
            sha256: Some(sha.into()),
            file: None,
            groups: Vec::new(),
        }
    }

    #[test]
    fn a_token_is_known_by_its_hash_only() {
        let hash = token_hash("correct horse battery staple");
        let tokens = Tokens::load(&[entry("ops", Role::Admin, &hash)], Path::new(".")).unwrap();
        let value = header::HeaderValue::from_static("Bearer correct horse battery staple");
        let caller = tokens.caller(Some(&value)).unwrap();
        assert_eq!(caller.name.as_deref(), Some("ops"));
        let wrong = header::HeaderValue::from_static("Bearer correct horse battery stapler");
        assert!(matches!(
            tokens.caller(Some(&wrong)),
            Err(ApiError::Unauthenticated(_))
        ));
        assert!(matches!(
            tokens.caller(None),
            Err(ApiError::Unauthenticated(_))
        ));
    }

    #[test]
    fn unusable_token_entries_are_refused_with_their_name() {
        let hash = token_hash("0123456789abcdef");
        let cases = [
            (vec![entry("a", Role::Read, "12ab")], "64 hexadecimal"),
            (
                vec![
                    entry("a", Role::Read, &hash),
                    entry("a", Role::Read, &token_hash("x")),
                ],
                "two tokens",
            ),
            (
                vec![
                    entry("a", Role::Read, &hash),
                    entry("b", Role::Admin, &hash),
                ],
                "same token",
            ),
            (vec![entry("", Role::Read, &hash)], "non-empty"),
        ];
        for (configs, expected) in cases {
            let error = Tokens::load(&configs, Path::new(".")).unwrap_err();
            assert!(error.contains(expected), "{error}");
        }
        let mut both = entry("a", Role::Read, &hash);
        both.file = Some("t".into());
        assert!(
            Tokens::load(&[both], Path::new("."))
                .unwrap_err()
                .contains("exactly one")
        );
        let mut empty_prefix = entry("a", Role::Read, &hash);
        empty_prefix.groups = vec![String::new()];
        assert!(
            Tokens::load(&[empty_prefix], Path::new("."))
                .unwrap_err()
                .contains("prefix")
        );
    }

    #[test]
    fn short_token_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("short"), "abc\n").unwrap();
        std::fs::write(dir.path().join("good"), "  0123456789abcdefgh \n").unwrap();
        let mut config = entry("a", Role::Read, "");
        config.sha256 = None;
        config.file = Some("short".into());
        assert!(
            Tokens::load(&[config.clone()], dir.path())
                .unwrap_err()
                .contains("shorter")
        );
        config.file = Some("good".into());
        let tokens = Tokens::load(&[config], dir.path()).unwrap();
        let value = header::HeaderValue::from_static("Bearer 0123456789abcdefgh");
        assert!(tokens.caller(Some(&value)).is_ok());
    }

    #[test]
    fn roles_nest() {
        assert!(Role::Read < Role::Member && Role::Member < Role::Admin);
        assert_eq!(access(&Method::GET, "/healthz"), Access::Open);
        assert_eq!(access(&Method::GET, "/v1/groups"), Access::Role(Role::Read));
        assert_eq!(
            access(&Method::POST, "/v1/sessions"),
            Access::Role(Role::Member)
        );
        assert_eq!(
            access(&Method::GET, "/v1/sessions/{session}"),
            Access::Role(Role::Member)
        );
        assert_eq!(
            access(&Method::PUT, "/v1/groups/{group}"),
            Access::Role(Role::Admin)
        );
    }
}
