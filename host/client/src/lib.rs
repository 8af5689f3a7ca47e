//! A client of `roster serve`'s network API, for the command line, the monitor, and Rust
//! programs in other processes.
//!
//! Every method is one HTTP call. Errors keep their meaning across the wire: a coordination
//! failure comes back as the same [`CoordinationError`] the library would have returned, so
//! callers match on `GroupNotCreated` whether the store is in their process or not.
//!
//! A client may name several daemons (`HOST1:PORT,HOST2:PORT,...`) serving one store
//! outside their processes (Redis, etcd, a directory). Calls go to one of them; when it
//! cannot be reached (refused, timed out, the connection broke), the call goes on to the
//! next one in the list, and later calls stay there. A session is the store's, so it goes on
//! through whichever daemon answers. A call whose daemon went away while answering is sent
//! again to the next one: it may have taken effect already, in which case a join answers
//! `member-already-exist` and a leave `member-not-joined`.
//!
//! Revisions are only comparable within one store, and a restarted daemon serves a new one.
//! The change feed ([`Client::changes`]) and the event stream ([`Client::events_in`]) are
//! therefore given the store the caller's revision is of, as the daemon last named it, and
//! the daemon answers a store that is no longer there with a resync naming the new one:
//! callers rely on that answer instead of guessing from revision numbers.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use eventsource_stream::Eventsource;
use futures_util::{Stream, StreamExt};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

use roster_types::api;
use roster_types::{
    Capabilities, CoordinationError, Event, FencingToken, GroupId, Leader, LockAttempt, LockInfo,
    LockMode, LockStanding, MemberId, MemberInfo, Revision,
};

/// How long a connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a call (other than the event stream) may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// Shortest time [`Client::for_sessions_of`] gives a daemon of several to answer.
const MIN_FAILOVER_TIMEOUT: Duration = Duration::from_secs(1);

/// Why a call to the daemon failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// The daemon ran the call and it failed as a coordination call does.
    #[error(transparent)]
    Coordination(#[from] CoordinationError),
    /// The daemon refused the request for a reason of the API's own: `bad-request`,
    /// `session-not-found`, `too-many-sessions`, `not-found`, ...
    #[error("{message} ({code}, HTTP {status})")]
    Refused {
        /// HTTP status.
        status: u16,
        /// The API's error code.
        code: String,
        /// The daemon's explanation.
        message: String,
    },
    /// The daemon could not be reached, or the connection broke.
    #[error("cannot reach the daemon at {address}: {message}")]
    Unreachable {
        /// The daemon's address.
        address: String,
        /// What went wrong.
        message: String,
    },
    /// The daemon answered something the API does not describe (another server on that
    /// port, or a version mismatch).
    #[error("unexpected answer from the daemon: {0}")]
    Protocol(String),
    /// The address given is not `host:port` or an `http://` or `https://` URL.
    #[error(
        "invalid daemon address {0:?}: expected host:port, http://host:port or https://host:port"
    )]
    InvalidAddress(String),
    /// A token, CA or client certificate file cannot be read or used.
    #[error("credentials: {0}")]
    Credentials(String),
}

impl ClientError {
    /// The error's stable code: the coordination error's or the API's, `unreachable`,
    /// `protocol` or `invalid-address`.
    pub fn code(&self) -> String {
        match self {
            Self::Coordination(error) => error.code(),
            Self::Refused { code, .. } => code.clone(),
            Self::Unreachable { .. } => "unreachable".into(),
            Self::Protocol(_) => "protocol".into(),
            Self::InvalidAddress(_) => "invalid-address".into(),
            Self::Credentials(_) => "credentials".into(),
        }
    }
}

type Result<T, E = ClientError> = std::result::Result<T, E>;

/// The environment variable command-line programs read a token from (see
/// [`Credentials::from_command_line`]).
pub const TOKEN_VARIABLE: &str = "ROSTER_TOKEN";

/// What a client shows a daemon that asks for it: a bearer token, and for `https://`
/// daemons the CA that signed their certificate (besides the system's) and a client
/// certificate for those that require one.
#[derive(Clone, Default)]
pub struct Credentials {
    /// The bearer token sent with every call.
    pub token: Option<String>,
    /// A PEM file of CA certificates to trust besides the system's.
    pub ca_file: Option<PathBuf>,
    /// PEM files of a client certificate (chain) and its private key.
    pub identity: Option<(PathBuf, PathBuf)>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("token", &self.token.as_ref().map(|_| "…"))
            .field("ca_file", &self.ca_file)
            .field("identity", &self.identity)
            .finish()
    }
}

impl Credentials {
    /// What a command-line program is given: the token in `token_file`, else in the
    /// environment variable `ROSTER_TOKEN` (none when it is unset or blank); the CA file; the
    /// client certificate and its key.
    ///
    /// # Errors
    /// [`ClientError::Credentials`] when the token file cannot be read or is empty.
    pub fn from_command_line(
        token_file: Option<&Path>,
        ca_file: Option<PathBuf>,
        identity: Option<(PathBuf, PathBuf)>,
    ) -> Result<Self> {
        let token = match token_file {
            Some(file) => Some(Self::read_token(file)?),
            None => std::env::var(TOKEN_VARIABLE)
                .ok()
                .map(|t| t.trim().to_owned())
                .filter(|t| !t.is_empty()),
        };
        Ok(Self {
            token,
            ca_file,
            identity,
        })
    }

    /// The token in `path` (surrounding whitespace removed).
    ///
    /// # Errors
    /// [`ClientError::Credentials`] when it cannot be read or is empty.
    pub fn read_token(path: &Path) -> Result<String> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ClientError::Credentials(format!(
                "cannot read the token file {}: {e}",
                path.display()
            ))
        })?;
        let token = text.trim();
        if token.is_empty() {
            return Err(ClientError::Credentials(format!(
                "the token file {} is empty",
                path.display()
            )));
        }
        Ok(token.to_owned())
    }

    /// An HTTP client presenting these credentials; with `tls`, one that trusts the system's
    /// CAs and `ca_file` (a client of `http://` daemons only reads no CA at all).
    fn http_client(&self, tls: bool) -> Result<reqwest::Client> {
        let unusable = |what: &str, path: &Path, e: &dyn std::fmt::Display| {
            ClientError::Credentials(format!("{what} {}: {e}", path.display()))
        };
        let read =
            |what: &str, path: &Path| std::fs::read(path).map_err(|e| unusable(what, path, &e));
        // The system's CAs, read once per process rather than by every client made.
        let mut builder = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .tcp_nodelay(true)
            .use_rustls_tls()
            .tls_built_in_root_certs(false);
        if tls {
            for certificate in system_roots() {
                builder = builder.add_root_certificate(certificate.clone());
            }
        }
        if let Some(token) = &self.token {
            let mut value = reqwest::header::HeaderValue::from_str(&format!("Bearer {token}"))
                .map_err(|_| {
                    ClientError::Credentials("the token is not valid header text".into())
                })?;
            value.set_sensitive(true);
            let mut headers = reqwest::header::HeaderMap::new();
            headers.insert(reqwest::header::AUTHORIZATION, value);
            builder = builder.default_headers(headers);
        }
        if let Some(path) = &self.ca_file {
            let certificates = reqwest::Certificate::from_pem_bundle(&read("CA file", path)?)
                .map_err(|e| unusable("CA file", path, &e))?;
            if certificates.is_empty() {
                return Err(unusable("CA file", path, &"no certificate in it"));
            }
            for certificate in certificates {
                builder = builder.add_root_certificate(certificate);
            }
        }
        if let Some((cert, key)) = &self.identity {
            let mut pem = read("client certificate", cert)?;
            pem.push(b'\n');
            pem.extend(read("client key", key)?);
            let identity = reqwest::Identity::from_pem(&pem)
                .map_err(|e| unusable("client certificate", cert, &e))?;
            builder = builder.identity(identity);
        }
        builder
            .build()
            .map_err(|e| ClientError::Credentials(e.to_string()))
    }
}

/// One item of the event stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StreamItem {
    /// A change, in revision order.
    Event(Event),
    /// The history between `requested` and `oldest` is gone, or the store named was
    /// replaced by `store`; reload the view, then events continue from `oldest` of `store`.
    Resync(api::Resync),
}

/// The event stream of one connection ([`Client::events_in`]): its items, and the store
/// they are of.
pub struct EventStream {
    store_id: String,
    items: std::pin::Pin<Box<dyn Stream<Item = Result<StreamItem>> + Send>>,
}

impl EventStream {
    /// The store the stream is of, as the daemon named it when it answered (its
    /// `roster-store` header): the store to name when resuming it.
    pub fn store_id(&self) -> &str {
        &self.store_id
    }
}

impl std::fmt::Debug for EventStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventStream")
            .field("store_id", &self.store_id)
            .finish_non_exhaustive()
    }
}

impl Stream for EventStream {
    type Item = Result<StreamItem>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        self.items.as_mut().poll_next(cx)
    }
}

/// A connection to one daemon, or to whichever of several answers. Cheap to clone; clones
/// share the daemon in use.
#[derive(Clone, Debug)]
pub struct Client {
    http: reqwest::Client,
    bases: Arc<[url::Url]>,
    /// Index in `bases` of the daemon calls go to.
    current: Arc<AtomicUsize>,
    /// What this client and its clones have done.
    counters: Arc<Counters>,
    /// How long a call may take before the daemon counts as unreachable.
    call_timeout: Duration,
}

/// What a client has done (see [`Client::stats`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClientStats {
    /// Calls made.
    pub calls: u64,
    /// Attempts that found their daemon unreachable (refused, timed out, broken).
    pub unreachable: u64,
    /// Times a call went on through the next daemon.
    pub failovers: u64,
}

#[derive(Debug, Default)]
struct Counters {
    calls: AtomicU64,
    unreachable: AtomicU64,
    failovers: AtomicU64,
}

/// How long a request's whole answer may take.
#[derive(Clone, Copy, Debug)]
enum Timeout {
    /// The client's call timeout.
    Call,
    /// A wait the daemon was asked for, then the call timeout.
    After(Duration),
    /// No limit (a stream lasts as long as its reader reads).
    None,
}

/// One request: where it goes under the base URL, and how.
struct Request<'a, B: ?Sized> {
    method: Method,
    segments: &'a [&'a str],
    query: &'a [(&'a str, String)],
    body: Option<&'a B>,
    /// A body that is not JSON: its bytes and content type.
    raw: Option<(&'a [u8], &'static str)>,
    timeout: Timeout,
    accept: Option<&'static str>,
}

impl<'a> Request<'a, ()> {
    fn new(method: Method, segments: &'a [&'a str]) -> Self {
        Self {
            method,
            segments,
            query: &[],
            body: None,
            raw: None,
            timeout: Timeout::Call,
            accept: None,
        }
    }
}

impl<'a, B: ?Sized> Request<'a, B> {
    fn query(self, query: &'a [(&'a str, String)]) -> Self {
        Self { query, ..self }
    }

    fn body<C: ?Sized>(self, body: Option<&'a C>) -> Request<'a, C> {
        Request {
            method: self.method,
            segments: self.segments,
            query: self.query,
            body,
            raw: self.raw,
            timeout: self.timeout,
            accept: self.accept,
        }
    }
}

impl Client {
    /// A client of the daemon at `address` (`host:port`, `http://host:port` or
    /// `https://host:port`), or of several serving one store (`HOST1:PORT,HOST2:PORT,...`,
    /// tried in that order). Nothing is sent until the first call.
    ///
    /// # Errors
    /// [`ClientError::InvalidAddress`].
    pub fn new(address: &str) -> Result<Self> {
        Self::with_credentials(address, &Credentials::default())
    }

    /// A client of `address` (as [`Client::new`] takes it) that shows `credentials`.
    ///
    /// # Errors
    /// [`ClientError::InvalidAddress`], or [`ClientError::Credentials`] when a file cannot
    /// be read or used.
    pub fn with_credentials(address: &str, credentials: &Credentials) -> Result<Self> {
        let bases = address
            .split(',')
            .map(|one| {
                parse_base(one.trim())
                    .ok_or_else(|| ClientError::InvalidAddress(address.to_owned()))
            })
            .collect::<Result<Vec<_>>>()?;
        let http = credentials.http_client(bases.iter().any(|b| b.scheme() == "https"))?;
        Ok(Self {
            http,
            bases: bases.into(),
            current: Arc::default(),
            counters: Arc::default(),
            call_timeout: CALL_TIMEOUT,
        })
    }

    /// The same client, made for sessions that live `ttl` without a heartbeat: given several
    /// daemons, it leaves one that has not answered a call within a third of `ttl` (at least
    /// a second, at most the default 30 s), so a session goes on through the next daemon
    /// before it expires. A client of one daemon is returned unchanged.
    #[must_use]
    pub fn for_sessions_of(self, ttl: Duration) -> Self {
        if self.bases.len() < 2 {
            return self;
        }
        let timeout = (ttl / 3).clamp(MIN_FAILOVER_TIMEOUT, CALL_TIMEOUT);
        self.with_call_timeout(timeout)
    }

    /// The same client, counting a daemon that has not answered a call within `timeout` as
    /// unreachable (30 s by default): with several daemons, how soon a call goes on through
    /// the next one when the daemon in use hangs.
    #[must_use]
    pub fn with_call_timeout(self, timeout: Duration) -> Self {
        Self {
            call_timeout: timeout,
            ..self
        }
    }

    /// What this client and its clones have done since the first was made.
    pub fn stats(&self) -> ClientStats {
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        ClientStats {
            calls: read(&self.counters.calls),
            unreachable: read(&self.counters.unreachable),
            failovers: read(&self.counters.failovers),
        }
    }

    /// The address of the daemon calls go to, as `host:port`.
    pub fn address(&self) -> String {
        address_of(&self.bases[self.current.load(Ordering::Relaxed)])
    }

    /// Every daemon this client may call, as `host:port`, in the order given.
    pub fn addresses(&self) -> Vec<String> {
        self.bases.iter().map(address_of).collect()
    }

    fn url_at(&self, base: usize, segments: &[&str], query: &[(&str, String)]) -> url::Url {
        let mut url = self.bases[base].clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().push("v1").extend(segments);
        }
        if !query.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
        }
        url
    }

    #[cfg(test)]
    fn url(&self, segments: &[&str]) -> url::Url {
        self.url_at(0, segments, &[])
    }

    fn unreachable(&self, base: usize, error: &reqwest::Error) -> ClientError {
        let mut message = error.to_string();
        let mut source = std::error::Error::source(error);
        while let Some(cause) = source {
            message = format!("{message}: {cause}");
            source = cause.source();
        }
        ClientError::Unreachable {
            address: address_of(&self.bases[base]),
            message,
        }
    }

    /// Send `request` to the daemon in use; when it cannot be reached, to the next one, each
    /// daemon once. Returns the answer, read whole unless `stream`, and the daemon's index.
    async fn send<B: Serialize + ?Sized>(
        &self,
        request: &Request<'_, B>,
    ) -> Result<(reqwest::Response, usize)> {
        self.counters.calls.fetch_add(1, Ordering::Relaxed);
        let mut base = self.current.load(Ordering::Relaxed);
        let mut tries = self.bases.len();
        loop {
            let url = self.url_at(base, request.segments, request.query);
            let mut builder = self.http.request(request.method.clone(), url);
            match request.timeout {
                Timeout::Call => builder = builder.timeout(self.call_timeout),
                Timeout::After(wait) => builder = builder.timeout(wait + self.call_timeout),
                Timeout::None => {}
            }
            if let Some(body) = request.body {
                builder = builder.json(body);
            }
            if let Some((bytes, content_type)) = request.raw {
                builder = builder
                    .header("content-type", content_type)
                    .body(bytes.to_vec());
            }
            if let Some(accept) = request.accept {
                builder = builder.header("accept", accept);
            }
            match builder.send().await {
                Ok(response) if response.status().is_success() => return Ok((response, base)),
                Ok(response) => return Err(error_of(response).await),
                Err(error) => {
                    let unreachable = self.unreachable(base, &error);
                    self.counters.unreachable.fetch_add(1, Ordering::Relaxed);
                    tries -= 1;
                    if tries == 0 {
                        return Err(unreachable);
                    }
                    self.counters.failovers.fetch_add(1, Ordering::Relaxed);
                    let next = (base + 1) % self.bases.len();
                    // Another call may have moved on already: follow it rather than skip one.
                    base = self
                        .current
                        .compare_exchange(base, next, Ordering::Relaxed, Ordering::Relaxed)
                        .map_or_else(|moved| moved, |_| next);
                    tracing::warn!(error = %unreachable, next = %address_of(&self.bases[base]), "trying the next daemon");
                }
            }
        }
    }

    /// A call answered with a JSON body.
    async fn fetch<T: DeserializeOwned, B: Serialize + ?Sized>(
        &self,
        request: &Request<'_, B>,
    ) -> Result<T> {
        let (response, base) = self.send(request).await?;
        let bytes = response
            .bytes()
            .await
            .map_err(|e| self.unreachable(base, &e))?;
        serde_json::from_slice(&bytes).map_err(|e| ClientError::Protocol(e.to_string()))
    }

    /// A call that changes the store answered with a JSON body: the body, and the store's
    /// revision once it was made.
    async fn fetch_with_revision<T: DeserializeOwned, B: Serialize + ?Sized>(
        &self,
        request: &Request<'_, B>,
    ) -> Result<(T, Revision)> {
        let (response, base) = self.send(request).await?;
        let revision = revision_of(&response)?;
        let bytes = response
            .bytes()
            .await
            .map_err(|e| self.unreachable(base, &e))?;
        let body =
            serde_json::from_slice(&bytes).map_err(|e| ClientError::Protocol(e.to_string()))?;
        Ok((body, revision))
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        segments: &[&str],
        body: Option<&(impl Serialize + ?Sized)>,
    ) -> Result<T> {
        self.fetch(&Request::new(method, segments).body(body)).await
    }

    /// A call that changes the store; returns the store's revision once it was made (the
    /// daemon's `roster-revision` header).
    async fn act(
        &self,
        method: Method,
        segments: &[&str],
        body: Option<&(impl Serialize + ?Sized)>,
    ) -> Result<Revision> {
        let (response, _) = self
            .send(&Request::new(method, segments).body(body))
            .await?;
        revision_of(&response)
    }

    // ----- daemon -----

    /// The daemon's status.
    pub async fn status(&self) -> Result<api::Status> {
        self.call(Method::GET, &["status"], NO_BODY).await
    }

    /// Every attached plugin's counters, and the latest plugin events.
    pub async fn plugins(&self) -> Result<api::Plugins> {
        self.call(Method::GET, &["plugins"], NO_BODY).await
    }

    /// Attach the handler `component` (a `.wasm` file's bytes) as `name`, replacing a plugin
    /// of that name; `options` are its `[[handlers]]` keys as query parameters (`group` and
    /// `event` repeated, `mutate`, `directory`, the limits). Returns whether a plugin was
    /// replaced, and the new one's counters. Loading a large component takes the daemon a
    /// while (compiling it when its cache does not have it): the call waits up to two minutes
    /// more than others.
    pub async fn attach_plugin(
        &self,
        name: &str,
        component: &[u8],
        options: &[(&str, String)],
    ) -> Result<(bool, roster_types::plugin_stats::PluginStats)> {
        let segments = ["plugins", name];
        let request = Request {
            raw: Some((component, "application/octet-stream")),
            timeout: Timeout::After(Duration::from_secs(120)),
            ..Request::new(Method::PUT, &segments).query(options)
        };
        let (response, base) = self.send(&request).await?;
        let replaced = response.status() == StatusCode::OK;
        let bytes = response
            .bytes()
            .await
            .map_err(|e| self.unreachable(base, &e))?;
        let stats =
            serde_json::from_slice(&bytes).map_err(|e| ClientError::Protocol(e.to_string()))?;
        Ok((replaced, stats))
    }

    /// Detach the plugin `name`.
    pub async fn detach_plugin(&self, name: &str) -> Result<()> {
        self.send(&Request::new(Method::DELETE, &["plugins", name]))
            .await
            .map(drop)
    }

    // ----- groups -----

    /// Every group with its member count, leader and latest change.
    pub async fn groups(&self) -> Result<api::Groups> {
        self.call(Method::GET, &["groups"], NO_BODY).await
    }

    /// Every group with its members (at most `max_members` of each; the daemon's default,
    /// 10 000, when `None`), read at one revision: what a view needs before it follows
    /// [`Client::events`] from the next revision.
    pub async fn snapshot(&self, max_members: Option<usize>) -> Result<api::Snapshot> {
        let query: Vec<(&str, String)> = max_members
            .map(|max| ("max_members", max.to_string()))
            .into_iter()
            .collect();
        self.fetch(&Request::new(Method::GET, &["snapshot"]).query(&query))
            .await
    }

    /// Create a group; returns the revision the store reached with it.
    pub async fn create_group(&self, group: &str) -> Result<Revision> {
        self.act(Method::PUT, &["groups", group], NO_BODY).await
    }

    /// Delete an empty group.
    pub async fn delete_group(&self, group: &str) -> Result<Revision> {
        self.act(Method::DELETE, &["groups", group], NO_BODY).await
    }

    /// The members of a group with what is known about each, sorted by id.
    pub async fn members(&self, group: &str) -> Result<Vec<api::Member>> {
        let reply: api::Members = self
            .call(Method::GET, &["groups", group, "members"], NO_BODY)
            .await?;
        Ok(reply.members)
    }

    /// [`Client::members`] in the library's form.
    pub async fn members_info(&self, group: &str) -> Result<HashMap<MemberId, MemberInfo>> {
        Ok(self
            .members(group)
            .await?
            .into_iter()
            .map(|m| {
                let info = m.info();
                (m.member_id, info)
            })
            .collect())
    }

    /// One member of a group.
    pub async fn member(&self, group: &str, member: &str) -> Result<api::Member> {
        self.call(Method::GET, &["groups", group, "members", member], NO_BODY)
            .await
    }

    /// A group's leader, if it has one.
    pub async fn leader(&self, group: &str) -> Result<Option<Leader>> {
        let reply: api::LeaderOf = self
            .call(Method::GET, &["groups", group, "leader"], NO_BODY)
            .await?;
        Ok(reply.leader)
    }

    // ----- sessions -----

    /// Open a session for `member_id`, living `ttl` without heartbeats (the daemon's
    /// membership timeout when `None`).
    pub async fn open_session(
        &self,
        member_id: &str,
        ttl: Option<Duration>,
    ) -> Result<api::Session> {
        let request = api::OpenSession {
            member_id: MemberId::new(member_id)?,
            ttl_ms: ttl.map(api::millis),
        };
        self.call(Method::POST, &["sessions"], Some(&request)).await
    }

    /// Keep a session alive; returns the time before it would expire.
    pub async fn heartbeat(&self, session: &str) -> Result<Duration> {
        let reply: api::Heartbeat = self
            .call(Method::POST, &["sessions", session, "heartbeat"], NO_BODY)
            .await?;
        Ok(Duration::from_millis(reply.expires_in_ms))
    }

    /// Close a session: its member leaves every group and gives up every candidacy.
    pub async fn close_session(&self, session: &str) -> Result<Revision> {
        self.act(Method::DELETE, &["sessions", session], NO_BODY)
            .await
    }

    /// Join `group` as the session's member, creating the group first when `create_group`.
    pub async fn join(
        &self,
        session: &str,
        group: &str,
        capabilities: Capabilities,
        create_group: bool,
    ) -> Result<Revision> {
        let request = api::Join {
            capabilities,
            create_group,
        };
        self.act(
            Method::PUT,
            &["sessions", session, "groups", group],
            Some(&request),
        )
        .await
    }

    /// Leave `group`.
    pub async fn leave(&self, session: &str, group: &str) -> Result<Revision> {
        self.act(
            Method::DELETE,
            &["sessions", session, "groups", group],
            NO_BODY,
        )
        .await
    }

    /// Replace the session member's capabilities in `group`.
    pub async fn update_capabilities(
        &self,
        session: &str,
        group: &str,
        capabilities: Capabilities,
    ) -> Result<Revision> {
        let request = api::UpdateCapabilities { capabilities };
        self.act(
            Method::PUT,
            &["sessions", session, "groups", group, "capabilities"],
            Some(&request),
        )
        .await
    }

    /// Stand for election in `group`.
    pub async fn stand(&self, session: &str, group: &str) -> Result<Revision> {
        self.act(
            Method::PUT,
            &["sessions", session, "elections", group],
            NO_BODY,
        )
        .await
    }

    /// Withdraw from the election in `group`.
    pub async fn withdraw(&self, session: &str, group: &str) -> Result<Revision> {
        self.act(
            Method::DELETE,
            &["sessions", session, "elections", group],
            NO_BODY,
        )
        .await
    }

    /// Give up leadership of `group`; returns whether the member was the leader, and the
    /// revision the store reached.
    pub async fn stand_down(&self, session: &str, group: &str) -> Result<(bool, Revision)> {
        let segments = ["sessions", session, "elections", group, "stand-down"];
        let (reply, revision): (api::StoodDown, _) = self
            .fetch_with_revision(&Request::new(Method::POST, &segments))
            .await?;
        Ok((reply.was_leader, revision))
    }

    // ----- locks -----

    /// Acquire `lock` in `mode` for the session, or queue for it when `wait` (the daemon
    /// waits up to `patience` for the grant before it answers `Queued`).
    pub async fn acquire_lock(
        &self,
        session: &str,
        lock: &str,
        mode: LockMode,
        wait: bool,
        patience: Duration,
    ) -> Result<(LockAttempt, Revision)> {
        let body = api::AcquireLock {
            mode,
            wait,
            wait_ms: api::millis(patience),
        };
        let segments = ["sessions", session, "locks", lock];
        let request = Request {
            timeout: Timeout::After(patience),
            ..Request::new(Method::POST, &segments).body(Some(&body))
        };
        self.fetch_with_revision(&request).await
    }

    /// Wait up to `patience` for the grant of `lock`, which the session is queued for.
    pub async fn wait_for_lock(
        &self,
        session: &str,
        lock: &str,
        patience: Duration,
    ) -> Result<LockAttempt> {
        let body = api::WaitForLock {
            wait_ms: api::millis(patience),
        };
        let segments = ["sessions", session, "locks", lock, "wait"];
        let request = Request {
            timeout: Timeout::After(patience),
            ..Request::new(Method::POST, &segments).body(Some(&body))
        };
        self.fetch(&request).await
    }

    /// Stop waiting for `lock`: the token if it was granted meanwhile (and is kept).
    pub async fn abandon_lock_wait(
        &self,
        session: &str,
        lock: &str,
    ) -> Result<(Option<FencingToken>, Revision)> {
        let segments = ["sessions", session, "locks", lock, "abandon"];
        let (reply, revision): (api::LockToken, _) = self
            .fetch_with_revision(&Request::new(Method::POST, &segments))
            .await?;
        Ok((reply.token, revision))
    }

    /// Release the session's hold on `lock` (its token), or give up its wait (`None`).
    pub async fn release_lock(
        &self,
        session: &str,
        lock: &str,
    ) -> Result<(Option<FencingToken>, Revision)> {
        let segments = ["sessions", session, "locks", lock];
        let (reply, revision): (api::LockToken, _) = self
            .fetch_with_revision(&Request::new(Method::DELETE, &segments))
            .await?;
        Ok((reply.token, revision))
    }

    /// Break `lock`: every hold ends; the tokens of the holds broken.
    pub async fn break_lock(
        &self,
        session: &str,
        lock: &str,
    ) -> Result<(Vec<FencingToken>, Revision)> {
        let segments = ["sessions", session, "locks", lock, "break"];
        let (reply, revision): (api::BrokenLock, _) = self
            .fetch_with_revision(&Request::new(Method::POST, &segments))
            .await?;
        Ok((reply.tokens, revision))
    }

    /// Where the session stands with `lock`.
    pub async fn lock_standing(&self, session: &str, lock: &str) -> Result<LockStanding> {
        self.call(Method::GET, &["sessions", session, "locks", lock], NO_BODY)
            .await
    }

    /// Who holds and waits for `lock`.
    pub async fn lock_info(&self, lock: &str) -> Result<LockInfo> {
        self.call(Method::GET, &["locks", lock], NO_BODY).await
    }

    /// Every lock with a holder or a waiter.
    pub async fn locks(&self) -> Result<Vec<LockInfo>> {
        let reply: api::Locks = self.call(Method::GET, &["locks"], NO_BODY).await?;
        Ok(reply.locks)
    }

    /// The changes after revision `after` of store `store`, at most `max` of them, waiting
    /// up to `wait` for the first when there is none yet: one poll of a change feed that
    /// misses nothing. Name the store of the last answer (or of the snapshot the caller
    /// started from); the answer's `resync` says when the history asked for is gone, or
    /// names the new store when `store` was replaced. `None` accepts any store, and so
    /// cannot tell a replaced store from its own.
    pub async fn changes(
        &self,
        after: Revision,
        store: Option<&str>,
        max: usize,
        wait: Duration,
    ) -> Result<api::Changes> {
        let mut query = vec![
            ("after", after.to_string()),
            ("max", max.to_string()),
            ("wait_ms", api::millis(wait).to_string()),
        ];
        if let Some(store) = store {
            query.push(("store", store.to_owned()));
        }
        let request = Request {
            timeout: Timeout::After(wait),
            ..Request::new(Method::GET, &["changes"]).query(&query)
        };
        self.fetch(&request).await
    }

    // ----- events -----

    /// Every change from revision `from` on (from the next change when `None`), only
    /// `group`'s when given, over one connection, of whatever store the daemon serves: see
    /// [`Client::events_in`].
    pub async fn events(
        &self,
        from: Option<Revision>,
        group: Option<&GroupId>,
    ) -> Result<EventStream> {
        self.events_in(None, from, group).await
    }

    /// Every change from revision `from` of store `store` on (from the next change when
    /// `None`), only `group`'s when given, over one connection. When the daemon serves
    /// another store than `store` (it was restarted), the stream starts with a
    /// [`StreamItem::Resync`] naming the new store, then goes on with its history from the
    /// oldest revision kept. The stream ends with an [`ClientError::Unreachable`] item when
    /// the connection breaks; resume with a new call naming [`EventStream::store_id`] and
    /// the last revision seen plus one.
    pub async fn events_in(
        &self,
        store: Option<&str>,
        from: Option<Revision>,
        group: Option<&GroupId>,
    ) -> Result<EventStream> {
        let mut query = Vec::new();
        if let Some(from) = from {
            query.push(("from", from.to_string()));
        }
        if let Some(group) = group {
            query.push(("group", group.as_str().to_owned()));
        }
        if let Some(store) = store {
            query.push(("store", store.to_owned()));
        }
        let request = Request {
            timeout: Timeout::None,
            accept: Some("text/event-stream"),
            ..Request::new(Method::GET, &["events"]).query(&query)
        };
        let (response, base) = self.send(&request).await?;
        let store_id = store_of(&response)?;
        let address = address_of(&self.bases[base]);
        let items = response
            .bytes_stream()
            .eventsource()
            .map(move |item| match item {
                Ok(message) => parse_message(&message.event, &message.data),
                Err(e) => Err(ClientError::Unreachable {
                    address: address.clone(),
                    message: format!("event stream broke: {e}"),
                }),
            });
        Ok(EventStream {
            store_id,
            items: Box::pin(items),
        })
    }
}

/// No request body.
const NO_BODY: Option<&()> = None;

/// The system's trusted CA certificates, read on first use (those that do not parse are
/// left out, as every TLS client does).
fn system_roots() -> &'static [reqwest::Certificate] {
    static ROOTS: std::sync::OnceLock<Vec<reqwest::Certificate>> = std::sync::OnceLock::new();
    ROOTS.get_or_init(|| {
        let found = rustls_native_certs::load_native_certs();
        for error in &found.errors {
            tracing::debug!(%error, "a system CA certificate could not be read");
        }
        found
            .certs
            .iter()
            .filter_map(|der| reqwest::Certificate::from_der(der).ok())
            .collect()
    })
}

/// The base URL of one daemon's address, `host:port` or `http://host:port`.
fn parse_base(address: &str) -> Option<url::Url> {
    let text = if address.contains("://") {
        address.to_owned()
    } else {
        format!("http://{address}")
    };
    let base = url::Url::parse(&text).ok()?;
    (matches!(base.scheme(), "http" | "https")
        && base.host_str().is_some()
        && !base.cannot_be_a_base())
    .then_some(base)
}

/// A base URL's `host:port`.
fn address_of(base: &url::Url) -> String {
    let host = base.host_str().unwrap_or_default();
    match base.port_or_known_default() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    }
}

fn parse_message(kind: &str, data: &str) -> Result<StreamItem> {
    let protocol = |e: serde_json::Error| ClientError::Protocol(format!("{kind} message: {e}"));
    match kind {
        "resync" => serde_json::from_str(data)
            .map(StreamItem::Resync)
            .map_err(protocol),
        _ => serde_json::from_str(data)
            .map(StreamItem::Event)
            .map_err(protocol),
    }
}

/// The store revision a response names (the `roster-revision` header).
fn revision_of(response: &reqwest::Response) -> Result<Revision> {
    response
        .headers()
        .get(api::REVISION_HEADER)
        .and_then(|value| value.to_str().ok())
        .and_then(|text| text.parse().ok())
        .ok_or_else(|| {
            ClientError::Protocol(format!(
                "the answer names no store revision (header {})",
                api::REVISION_HEADER
            ))
        })
}

/// The store a response is of (the `roster-store` header).
fn store_of(response: &reqwest::Response) -> Result<String> {
    response
        .headers()
        .get(api::STORE_HEADER)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
        .ok_or_else(|| {
            ClientError::Protocol(format!(
                "the answer names no store (header {})",
                api::STORE_HEADER
            ))
        })
}

/// The error a failed response carries.
async fn error_of(response: reqwest::Response) -> ClientError {
    let status = response.status();
    let body = response.bytes().await.unwrap_or_default();
    match serde_json::from_slice::<api::ErrorBody>(&body) {
        Ok(api::ErrorBody { error }) => match error.coordination_error() {
            Some(coordination) => ClientError::Coordination(coordination),
            None => ClientError::Refused {
                status: status.as_u16(),
                code: error.code,
                message: error.message,
            },
        },
        Err(_) if status == StatusCode::NOT_FOUND => ClientError::Protocol(
            "the server answered 404 without a Roster error: is it a Roster daemon?".into(),
        ),
        Err(_) => ClientError::Protocol(format!(
            "HTTP {status}: {}",
            String::from_utf8_lossy(&body[..body.len().min(200)])
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_host_port_or_http_or_https_urls() {
        assert_eq!(
            Client::new("127.0.0.1:7878").unwrap().address(),
            "127.0.0.1:7878"
        );
        assert_eq!(
            Client::new("http://localhost:9000").unwrap().address(),
            "localhost:9000"
        );
        assert_eq!(
            Client::new("https://localhost:9443").unwrap().address(),
            "localhost:9443"
        );
        let both = Client::new("127.0.0.1:7001, http://localhost:7002").unwrap();
        assert_eq!(both.addresses(), ["127.0.0.1:7001", "localhost:7002"]);
        assert_eq!(both.address(), "127.0.0.1:7001");
        for bad in ["", "ftp://x", "http://", "a:1,", "a:1,,b:2"] {
            assert!(
                matches!(Client::new(bad), Err(ClientError::InvalidAddress(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn several_daemons_get_a_third_of_the_session_ttl_to_answer() {
        let secs = Duration::from_secs;
        let timeout = |address: &str, ttl| {
            Client::new(address)
                .unwrap()
                .for_sessions_of(ttl)
                .call_timeout
        };
        assert_eq!(timeout("a:1,b:2", secs(9)), secs(3));
        assert_eq!(timeout("a:1,b:2", Duration::from_millis(300)), secs(1));
        assert_eq!(timeout("a:1,b:2", secs(3600)), CALL_TIMEOUT);
        assert_eq!(timeout("a:1", secs(9)), CALL_TIMEOUT);
    }

    #[test]
    fn urls_percent_encode_ids() {
        let client = Client::new("127.0.0.1:1").unwrap();
        assert_eq!(
            client.url(&["groups", "a/b c", "members"]).as_str(),
            "http://127.0.0.1:1/v1/groups/a%2Fb%20c/members"
        );
    }

    #[test]
    fn stream_messages_parse_into_events_and_resyncs() {
        let resync = parse_message("resync", r#"{"requested":1,"oldest":5,"store":"s2"}"#).unwrap();
        assert_eq!(
            resync,
            StreamItem::Resync(api::Resync {
                requested: 1,
                oldest: 5,
                store: "s2".into()
            })
        );
        let event = parse_message(
            "message",
            r#"{"kind":"group-created","revision":3,"group_id":"g"}"#,
        )
        .unwrap();
        assert!(matches!(event, StreamItem::Event(Event::GroupCreated(_))));
        assert!(matches!(
            parse_message("message", "{"),
            Err(ClientError::Protocol(_))
        ));
    }
}
