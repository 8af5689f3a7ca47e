//! Backend URLs: `memory://[NAME][?timeout=SECONDS&history=EVENTS&max_capabilities=BYTES]`
//! for the embedded backend, `roster://HOST:PORT[,HOST:PORT...][?timeout=SECONDS&history=EVENTS]`
//! for `roster serve` daemons in other processes (with `tls=true`, `ca_file`, `cert_file`,
//! `key_file`, and `token` or `token_file` for a daemon that asks for them), and for stores reached through a Wasm driver
//! `redis://HOST:PORT`, `etcd3+http://HOST:PORT` (tooz's names) and `file:///DIR`, with
//! `timeout`, `history`, `driver=PATH` (the component) and, for servers, `namespace`.
//!
//! As in tooz, the URL's scheme picks the backend and its query carries options. Unlike tooz,
//! anything Roster cannot use (an unknown scheme or option, a repeated option, a value out of
//! range) is an error at `get_coordinator` that names the problem and lists what is accepted.
//! `zake://` is an alias of `memory://`, so tooz's own examples run unchanged.

use std::time::Duration;

use url::Url;

use roster_types::error::{CoordinationError, UrlProblem};
use roster_types::ids::DEFAULT_MAX_CAPABILITIES;

/// Schemes of the embedded backend.
pub const MEMORY_SCHEMES: [&str; 2] = ["memory", "zake"];

/// Scheme of a `roster serve` daemon used as the backend.
pub const DAEMON_SCHEME: &str = "roster";

/// Schemes of stores reached through a Wasm driver, with the driver's name.
pub const DRIVER_SCHEMES: [(&str, &str); 3] =
    [("redis", "redis"), ("etcd3+http", "etcd"), ("file", "file")];

/// Every scheme a URL may name.
pub const SCHEMES: [&str; 6] = [
    "memory",
    "zake",
    DAEMON_SCHEME,
    "redis",
    "etcd3+http",
    "file",
];

/// Where a driver's store is, as its URL names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// A server at `host:port`.
    Address(String),
    /// A directory.
    Directory(std::path::PathBuf),
}

/// Where a URL's store lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BackendKind {
    /// In this process (`memory://`, `zake://`).
    Embedded,
    /// In a `roster serve` daemon at `address` (`host:port`), or in the store several
    /// daemons serve (`host:port,host:port,...`): calls go on through the next one when the
    /// one in use cannot be reached.
    Daemon {
        /// The daemon's `host:port`, or several, comma-separated.
        address: String,
        /// How to reach it securely.
        security: DaemonSecurity,
    },
    /// Behind a Wasm driver component.
    Driver {
        /// The driver's name (`redis`, `etcd`, `file`).
        name: String,
        /// Where the store is.
        endpoint: Endpoint,
        /// The component, when the URL names one (`driver=PATH`).
        component: Option<std::path::PathBuf>,
        /// Options passed on to the driver (`namespace`, `history`).
        options: Vec<(String, String)>,
    },
}

/// What a `roster://` URL says about reaching its daemons securely.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct DaemonSecurity {
    /// Speak HTTPS (`tls=true`).
    pub tls: bool,
    /// The bearer token (`token`).
    pub token: Option<String>,
    /// A file holding the bearer token (`token_file`).
    pub token_file: Option<std::path::PathBuf>,
    /// CA certificates to trust besides the system's (`ca_file`, PEM).
    pub ca_file: Option<std::path::PathBuf>,
    /// A client certificate and its key (`cert_file` and `key_file`, PEM).
    pub identity: Option<(std::path::PathBuf, std::path::PathBuf)>,
}

impl std::fmt::Debug for DaemonSecurity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DaemonSecurity")
            .field("tls", &self.tls)
            .field("token", &self.token.as_ref().map(|_| "…"))
            .field("token_file", &self.token_file)
            .field("ca_file", &self.ca_file)
            .field("identity", &self.identity)
            .finish()
    }
}

/// The membership timeout used when the URL names none (tooz's default).
pub const DEFAULT_MEMBERSHIP_TIMEOUT: Duration = Duration::from_secs(30);

/// How many events the embedded backend keeps when the URL names no `history`.
pub const DEFAULT_HISTORY_SIZE: usize = 65_536;

const OPTIONS: [&str; 3] = ["timeout", "history", "max_capabilities"];

/// Options of `roster://`: the daemon enforces its own capability limit.
const DAEMON_OPTIONS: [&str; 8] = [
    "timeout",
    "history",
    "tls",
    "token",
    "token_file",
    "ca_file",
    "cert_file",
    "key_file",
];

/// Options of a driver on a server.
const SERVER_DRIVER_OPTIONS: [&str; 4] = ["timeout", "history", "driver", "namespace"];

/// Options of a driver on a directory.
const DIRECTORY_DRIVER_OPTIONS: [&str; 3] = ["timeout", "history", "driver"];

/// A parsed, validated backend URL.
#[derive(Clone, Debug, PartialEq)]
pub struct BackendUrl {
    /// Where the store lives.
    pub kind: BackendKind,
    /// Which store the URL names: coordinators naming the same store share its state.
    /// For the embedded backend this is the URL without options, with `zake` read as `memory`.
    pub store: String,
    /// How long a member lives without a heartbeat.
    pub membership_timeout: Duration,
    /// How many events of history the store keeps (used by the coordinator that creates it);
    /// for a daemon, how many events the coordinator's own mirror keeps.
    pub history_size: usize,
    /// Largest capabilities accepted, in bytes.
    pub max_capabilities: usize,
    /// The store-wide options (`history`, `max_capabilities`, `driver`) this URL names
    /// explicitly, with their values as read: a later coordinator of the same store must
    /// agree with the store on each ([`BackendUrl::agrees_with`]).
    explicit: Vec<(&'static str, String)>,
    /// The URL as given, for errors that name it.
    text: String,
}

/// `text` with the value of a `token` option hidden, for errors and logs.
fn without_secrets(text: &str) -> String {
    // Every `token=` among the options, and in the fragment too, where a stray `#` puts the
    // options that follow it.
    let Some(start) = text.find(['?', '#']) else {
        return text.to_owned();
    };
    let mut shown = String::with_capacity(text.len());
    shown.push_str(&text[..start]);
    let mut rest = &text[start..];
    while let Some(delimiter) = rest.chars().next() {
        shown.push(delimiter);
        rest = &rest[delimiter.len_utf8()..];
        let end = rest.find(['?', '#', '&']).unwrap_or(rest.len());
        let (piece, after) = rest.split_at(end);
        if piece.starts_with("token=") {
            shown.push_str("token=…");
        } else {
            shown.push_str(piece);
        }
        rest = after;
    }
    shown
}

/// `text` with only the first of the daemons a `roster://H1:P1,H2:P2,...` URL names, and the
/// `host:port` of the others; other URLs unchanged.
fn daemon_list(text: &str) -> Result<(String, Vec<String>), UrlProblem> {
    let prefix = format!("{DAEMON_SCHEME}://");
    let Some(rest) = text.strip_prefix(&prefix) else {
        return Ok((text.to_owned(), Vec::new()));
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let Some((first, others)) = authority.split_once(',') else {
        return Ok((text.to_owned(), Vec::new()));
    };
    let malformed = |address: &str| {
        UrlProblem::Malformed(format!(
            "{address:?} is not HOST:PORT: a {DAEMON_SCHEME}:// URL names its daemons as \
             {DAEMON_SCHEME}://HOST:PORT[,HOST:PORT...]"
        ))
    };
    let more = others
        .split(',')
        .map(|address| {
            let url = Url::parse(&format!("{prefix}{address}")).map_err(|_| malformed(address))?;
            match (url.host_str(), url.port()) {
                (Some(host), Some(port))
                    if url.username().is_empty()
                        && url.password().is_none()
                        && url.path().is_empty() =>
                {
                    Ok(format!("{host}:{port}"))
                }
                _ => Err(malformed(address)),
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((format!("{prefix}{first}{tail}"), more))
}

impl BackendUrl {
    /// The security options of a `roster://` URL (only its options reach here).
    fn security_mut(&mut self) -> &mut DaemonSecurity {
        match &mut self.kind {
            BackendKind::Daemon { security, .. } => security,
            _ => unreachable!("only roster:// URLs take security options"),
        }
    }

    fn pass_to_driver(&mut self, name: &str, value: &str) {
        if let BackendKind::Driver { options, .. } = &mut self.kind {
            options.push((name.to_owned(), value.to_owned()));
        }
    }

    /// The value in force of the store-wide option `name` for a store this URL opened.
    fn in_force(&self, name: &str) -> String {
        if let Some((_, value)) = self.explicit.iter().find(|(n, _)| *n == name) {
            return value.clone();
        }
        match name {
            "history" => self.history_size.to_string(),
            "max_capabilities" => self.max_capabilities.to_string(),
            _ => "the built-in driver".to_owned(),
        }
    }

    /// Check that every store-wide option this URL names agrees with the store `opened`
    /// (the URL of the process's first coordinator of that store) has in force. A store
    /// lives once per process, so an option that differs would be silently ignored.
    ///
    /// # Errors
    /// [`CoordinationError::InvalidUrl`] with [`UrlProblem::ConflictingOption`] naming the
    /// first option that differs, the value in force and the value asked for.
    pub(crate) fn agrees_with(&self, opened: &BackendUrl) -> Result<(), CoordinationError> {
        for (name, asked) in &self.explicit {
            let in_force = opened.in_force(name);
            if *asked != in_force {
                return Err(CoordinationError::InvalidUrl {
                    url: self.text.clone(),
                    problem: UrlProblem::ConflictingOption {
                        name: (*name).to_owned(),
                        in_force,
                        asked: asked.clone(),
                    },
                });
            }
        }
        Ok(())
    }

    /// Parse and validate `text`.
    ///
    /// # Errors
    /// [`CoordinationError::InvalidUrl`] naming the problem.
    pub fn parse(text: &str) -> Result<Self, CoordinationError> {
        let shown = without_secrets(text);
        let invalid = |problem| CoordinationError::InvalidUrl {
            url: shown.clone(),
            problem,
        };
        let (first, more) = daemon_list(text).map_err(invalid)?;
        let url = Url::parse(&first).map_err(|e| invalid(UrlProblem::Malformed(e.to_string())))?;
        if !SCHEMES.contains(&url.scheme()) {
            return Err(invalid(UrlProblem::UnknownScheme {
                scheme: url.scheme().to_owned(),
                known: SCHEMES.iter().map(|s| (*s).to_owned()).collect(),
            }));
        }
        let daemon = url.scheme() == DAEMON_SCHEME;
        let driver = DRIVER_SCHEMES
            .iter()
            .find(|(scheme, _)| *scheme == url.scheme())
            .map(|(_, name)| *name);
        let directory = driver == Some("file");
        let server = daemon || (driver.is_some() && !directory);
        let unexpected = [
            (
                !url.username().is_empty() || url.password().is_some(),
                "user info",
            ),
            (!server && url.port().is_some(), "port"),
            (server && !matches!(url.path(), "" | "/"), "path"),
            (
                directory && url.host_str().is_some_and(|h| !h.is_empty()),
                "host",
            ),
            (url.fragment().is_some(), "fragment"),
        ];
        if let Some((_, part)) = unexpected.iter().find(|(present, _)| *present) {
            return Err(invalid(UrlProblem::UnexpectedComponent((*part).to_owned())));
        }
        let (kind, store, known_options) = if server {
            let (Some(host), Some(port)) = (url.host_str(), url.port()) else {
                return Err(invalid(UrlProblem::Malformed(format!(
                    "the URL names its server's address: {}://HOST:PORT",
                    url.scheme()
                ))));
            };
            let address = std::iter::once(format!("{host}:{port}"))
                .chain(more)
                .collect::<Vec<_>>()
                .join(",");
            let store = format!("{}://{address}", url.scheme());
            match driver {
                None => (
                    BackendKind::Daemon {
                        address,
                        security: DaemonSecurity::default(),
                    },
                    store,
                    &DAEMON_OPTIONS[..],
                ),
                Some(name) => (
                    BackendKind::Driver {
                        name: name.to_owned(),
                        endpoint: Endpoint::Address(address),
                        component: None,
                        options: Vec::new(),
                    },
                    store,
                    &SERVER_DRIVER_OPTIONS[..],
                ),
            }
        } else if directory {
            let path = std::path::PathBuf::from(url.path());
            if !path.is_absolute() || url.path() == "/" {
                return Err(invalid(UrlProblem::Malformed(
                    "a file URL names its directory: file:///ABSOLUTE/DIR".into(),
                )));
            }
            let store = format!("file://{}", url.path());
            (
                BackendKind::Driver {
                    name: "file".to_owned(),
                    endpoint: Endpoint::Directory(path),
                    component: None,
                    options: Vec::new(),
                },
                store,
                &DIRECTORY_DRIVER_OPTIONS[..],
            )
        } else {
            let store = format!("memory://{}{}", url.host_str().unwrap_or(""), url.path());
            (BackendKind::Embedded, store, &OPTIONS[..])
        };

        let mut parsed = Self {
            kind,
            store,
            membership_timeout: DEFAULT_MEMBERSHIP_TIMEOUT,
            history_size: DEFAULT_HISTORY_SIZE,
            max_capabilities: DEFAULT_MAX_CAPABILITIES,
            explicit: Vec::new(),
            text: shown.clone(),
        };
        let mut identity = (None, None);
        let mut seen: Vec<String> = Vec::new();
        for (name, value) in url.query_pairs() {
            if seen.iter().any(|s| *s == name) {
                return Err(invalid(UrlProblem::DuplicateOption(name.into_owned())));
            }
            seen.push(name.to_string());
            let bad_value = |expected: &str| {
                invalid(UrlProblem::InvalidOptionValue {
                    name: name.to_string(),
                    value: value.to_string(),
                    expected: expected.to_owned(),
                })
            };
            if !known_options.contains(&&*name) {
                return Err(invalid(UrlProblem::UnknownOption {
                    name: name.into_owned(),
                    known: known_options.iter().map(|s| (*s).to_owned()).collect(),
                }));
            }
            match &*name {
                "timeout" => {
                    parsed.membership_timeout = value
                        .parse::<f64>()
                        .ok()
                        .filter(|s| s.is_finite() && *s > 0.0 && *s <= 86_400.0)
                        .map(Duration::from_secs_f64)
                        .ok_or_else(|| bad_value("seconds, above 0 and at most 86400"))?;
                }
                "history" => {
                    parsed.history_size = value
                        .parse::<usize>()
                        .ok()
                        .filter(|n| *n >= 1)
                        .ok_or_else(|| bad_value("a number of events, at least 1"))?;
                    parsed
                        .explicit
                        .push(("history", parsed.history_size.to_string()));
                    parsed.pass_to_driver(&name, &value);
                }
                "namespace" => {
                    if value.is_empty() || value.contains(|c: char| c.is_control()) {
                        return Err(bad_value("a non-empty name without control characters"));
                    }
                    parsed.pass_to_driver(&name, &value);
                }
                "driver" => {
                    if let BackendKind::Driver { component, .. } = &mut parsed.kind {
                        *component = Some(std::path::PathBuf::from(&*value));
                    }
                    parsed.explicit.push(("driver", value.to_string()));
                }
                "tls" => {
                    let on = match &*value {
                        "true" | "1" => true,
                        "false" | "0" => false,
                        _ => return Err(bad_value("true or false")),
                    };
                    parsed.security_mut().tls = on;
                }
                "token" | "token_file" | "ca_file" | "cert_file" | "key_file" => {
                    if value.is_empty() {
                        return Err(bad_value("a non-empty value"));
                    }
                    let path = || Some(std::path::PathBuf::from(&*value));
                    let security = parsed.security_mut();
                    match &*name {
                        "token" => security.token = Some(value.to_string()),
                        "token_file" => security.token_file = path(),
                        "ca_file" => security.ca_file = path(),
                        "cert_file" => identity.0 = path(),
                        _ => identity.1 = path(),
                    }
                }
                "max_capabilities" => {
                    parsed.max_capabilities = value
                        .parse::<usize>()
                        .map_err(|_| bad_value("a number of bytes"))?;
                    parsed
                        .explicit
                        .push(("max_capabilities", parsed.max_capabilities.to_string()));
                }
                _ => {
                    return Err(invalid(UrlProblem::UnknownOption {
                        name: name.into_owned(),
                        known: OPTIONS.iter().map(|s| (*s).to_owned()).collect(),
                    }));
                }
            }
        }
        if let BackendKind::Daemon { security, .. } = &mut parsed.kind {
            let conflict = |message: &str| invalid(UrlProblem::Malformed(message.to_owned()));
            security.identity = match identity {
                (Some(cert), Some(key)) => Some((cert, key)),
                (None, None) => None,
                _ => return Err(conflict("cert_file and key_file go together")),
            };
            if security.token.is_some() && security.token_file.is_some() {
                return Err(conflict("token and token_file are exclusive: name one"));
            }
            if !security.tls && (security.ca_file.is_some() || security.identity.is_some()) {
                return Err(conflict("ca_file, cert_file and key_file need tls=true"));
            }
        }
        // Namespaces of one server are separate stores.
        if let BackendKind::Driver { options, .. } = &parsed.kind
            && let Some((_, namespace)) = options.iter().find(|(name, _)| name == "namespace")
        {
            parsed.store = format!("{}?namespace={namespace}", parsed.store);
        }
        Ok(parsed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(text: &str) -> UrlProblem {
        match BackendUrl::parse(text) {
            Err(CoordinationError::InvalidUrl { problem, url }) => {
                assert_eq!(url, text);
                problem
            }
            other => panic!("{text}: expected InvalidUrl, got {other:?}"),
        }
    }

    #[test]
    fn memory_url_defaults_match_tooz() {
        let url = BackendUrl::parse("memory://").unwrap();
        assert_eq!(url.membership_timeout, Duration::from_secs(30));
        assert_eq!(url.history_size, DEFAULT_HISTORY_SIZE);
        assert_eq!(url.max_capabilities, 64 * 1024);
    }

    #[test]
    fn zake_is_an_alias_of_memory_and_names_the_same_store() {
        let zake = BackendUrl::parse("zake://").unwrap();
        let memory = BackendUrl::parse("memory://?timeout=5").unwrap();
        assert_eq!(zake.store, memory.store);
        assert_ne!(
            zake.store,
            BackendUrl::parse("memory://other").unwrap().store
        );
    }

    #[test]
    fn options_are_read() {
        let url =
            BackendUrl::parse("memory://x?timeout=2.5&history=10&max_capabilities=7").unwrap();
        assert_eq!(url.membership_timeout, Duration::from_millis(2500));
        assert_eq!(url.history_size, 10);
        assert_eq!(url.max_capabilities, 7);
    }

    #[test]
    fn unknown_scheme_lists_the_known_ones() {
        let p = problem("mongodb://x");
        assert!(matches!(&p, UrlProblem::UnknownScheme { scheme, known }
            if scheme == "mongodb" && known.contains(&"memory".to_owned())));
        assert!(
            p.to_string()
                .contains("memory, zake, roster, redis, etcd3+http, file"),
            "{p}"
        );
    }

    #[test]
    fn malformed_url_is_an_error() {
        assert!(matches!(problem("not a url"), UrlProblem::Malformed(_)));
        assert!(matches!(problem(""), UrlProblem::Malformed(_)));
    }

    #[test]
    fn unknown_option_lists_the_known_ones() {
        let p = problem("memory://?timout=3");
        assert!(
            p.to_string().contains("timeout, history, max_capabilities"),
            "{p}"
        );
    }

    #[test]
    fn bad_option_values_say_what_is_expected() {
        for text in [
            "memory://?timeout=0",
            "memory://?timeout=-1",
            "memory://?timeout=abc",
            "memory://?timeout=NaN",
            "memory://?history=0",
            "memory://?max_capabilities=-3",
        ] {
            assert!(
                matches!(problem(text), UrlProblem::InvalidOptionValue { .. }),
                "{text}"
            );
        }
    }

    #[test]
    fn daemon_urls_name_an_address() {
        let url = BackendUrl::parse("roster://127.0.0.1:7878?timeout=2&history=50").unwrap();
        assert_eq!(
            url.kind,
            BackendKind::Daemon {
                address: "127.0.0.1:7878".into(),
                security: DaemonSecurity::default(),
            }
        );
        assert_eq!(url.store, "roster://127.0.0.1:7878");
        assert_eq!(url.membership_timeout, Duration::from_secs(2));
        assert_eq!(url.history_size, 50);
        assert!(matches!(
            problem("roster://localhost"),
            UrlProblem::Malformed(_)
        ));
        assert!(matches!(
            problem("roster://h:1/x"),
            UrlProblem::UnexpectedComponent(_)
        ));
        let list = BackendUrl::parse("roster://a:1,b:2,127.0.0.1:3?timeout=2").unwrap();
        assert_eq!(
            list.kind,
            BackendKind::Daemon {
                address: "a:1,b:2,127.0.0.1:3".into(),
                security: DaemonSecurity::default(),
            }
        );
        assert_eq!(list.store, "roster://a:1,b:2,127.0.0.1:3");
        assert_eq!(list.membership_timeout, Duration::from_secs(2));
        for bad in [
            "roster://a:1,b",
            "roster://a:1,",
            "roster://a:1,u@b:2",
            "roster://a:1,b:2/x",
        ] {
            assert!(
                matches!(
                    problem(bad),
                    UrlProblem::Malformed(_) | UrlProblem::UnexpectedComponent(_)
                ),
                "{bad}"
            );
        }
        let p = problem("roster://h:1?max_capabilities=3");
        assert!(
            p.to_string().contains("known options: timeout, history"),
            "{p}"
        );
    }

    #[test]
    fn daemon_urls_say_how_to_reach_their_daemons_securely() {
        let url = BackendUrl::parse(
            "roster://a:1,b:2?tls=true&token_file=/t&ca_file=/ca.pem&cert_file=/c.pem&key_file=/k.pem",
        )
        .unwrap();
        let BackendKind::Daemon { security, .. } = &url.kind else {
            panic!("{:?}", url.kind);
        };
        assert!(security.tls);
        assert_eq!(
            security.token_file.as_deref(),
            Some(std::path::Path::new("/t"))
        );
        assert_eq!(
            security.ca_file.as_deref(),
            Some(std::path::Path::new("/ca.pem"))
        );
        assert!(security.identity.is_some());
        let with_token = BackendUrl::parse("roster://a:1?token=s3cret").unwrap();
        assert!(!format!("{with_token:?}").contains("s3cret"));
        for (bad, expected) in [
            ("roster://a:1?token=s3cret&token_file=/t", "exclusive"),
            ("roster://a:1?ca_file=/ca.pem", "tls=true"),
            ("roster://a:1?tls=true&cert_file=/c.pem", "go together"),
            ("roster://a:1?tls=yes&token=s3cret", "true or false"),
        ] {
            let error = BackendUrl::parse(bad).unwrap_err().to_string();
            assert!(error.contains(expected), "{bad}: {error}");
            assert!(!error.contains("s3cret"), "{error}");
        }
    }

    /// Found by the `backend_url` fuzz target: a `#` before the token made it part of the
    /// fragment, which a refusal showed as it was.
    #[test]
    fn a_token_after_a_stray_fragment_mark_is_hidden_from_url_errors() {
        for (bad, expected) in [
            ("?#&token=s3cret", "not a URL"),
            ("roster://a:1#x&token=s3cret", "fragment"),
            ("roster://a:1?a=1#token=s3cret?token=s3cret", "fragment"),
        ] {
            let error = BackendUrl::parse(bad).unwrap_err().to_string();
            assert!(error.contains(expected), "{bad}: {error}");
            assert!(!error.contains("s3cret"), "{error}");
            assert!(error.contains("token=…"), "{error}");
        }
    }

    #[test]
    fn driver_urls_name_a_server_or_a_directory() {
        let url =
            BackendUrl::parse("redis://127.0.0.1:6379?namespace=app&driver=/d/r.wasm&timeout=3")
                .unwrap();
        assert_eq!(url.store, "redis://127.0.0.1:6379?namespace=app");
        assert_eq!(
            url.kind,
            BackendKind::Driver {
                name: "redis".into(),
                endpoint: Endpoint::Address("127.0.0.1:6379".into()),
                component: Some("/d/r.wasm".into()),
                options: vec![("namespace".into(), "app".into())],
            }
        );
        let etcd = BackendUrl::parse("etcd3+http://localhost:2379").unwrap();
        assert!(matches!(etcd.kind, BackendKind::Driver { ref name, .. } if name == "etcd"));
        let file = BackendUrl::parse("file:///var/lib/roster").unwrap();
        assert_eq!(file.store, "file:///var/lib/roster");
        assert!(matches!(
            file.kind,
            BackendKind::Driver { endpoint: Endpoint::Directory(ref d), .. }
                if d == std::path::Path::new("/var/lib/roster")
        ));
        assert!(matches!(problem("redis://h"), UrlProblem::Malformed(_)));
        assert!(matches!(problem("file:///"), UrlProblem::Malformed(_)));
        assert!(matches!(
            problem("file://host/x"),
            UrlProblem::UnexpectedComponent(_)
        ));
        assert!(matches!(
            problem("redis://h:1?namespace="),
            UrlProblem::InvalidOptionValue { .. }
        ));
        let p = problem("file:///x?namespace=a");
        assert!(p.to_string().contains("timeout, history, driver"), "{p}");
    }

    #[test]
    fn repeated_option_is_an_error() {
        assert_eq!(
            problem("memory://?timeout=1&timeout=2"),
            UrlProblem::DuplicateOption("timeout".into())
        );
    }

    #[test]
    fn parts_the_memory_backend_cannot_use_are_errors() {
        assert!(matches!(
            problem("memory://u:p@x"),
            UrlProblem::UnexpectedComponent(_)
        ));
        assert!(matches!(
            problem("memory://x:99"),
            UrlProblem::UnexpectedComponent(_)
        ));
        assert!(matches!(
            problem("memory://x#f"),
            UrlProblem::UnexpectedComponent(_)
        ));
    }
}
