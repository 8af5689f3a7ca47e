//! A daemon exposed beyond localhost: bearer tokens and roles, group-prefix limits, TLS with
//! and without client certificates, and the refusal to listen unprotected.
//!
//! The role test reads the OpenAPI document: every documented operation is asked for with no
//! token, an unknown token and a token of each role, and must answer as its `x-roster-role`
//! says, so a new route cannot go untested (nor undocumented: the openapi module checks that
//! the router and the document agree).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use reqwest::{Method, StatusCode};
use roster::client::{Client, ClientError, Credentials};
use roster_server::{Role, ServeConfig, Server, TlsConfig, TokenConfig, token_hash};
use serde_json::Value;
use tokio::sync::oneshot;

use roster_tests::pki::Pki;

use crate::common::ROSTER;
use crate::openapi::{Api, fill, probe_args};

/// The tokens of the daemons here, by role.
const READ: &str = "read-token-0123456789";
const MEMBER: &str = "member-token-0123456789";
const ADMIN: &str = "admin-token-0123456789";
/// An admin token limited to groups starting with `billing-`.
const BILLING: &str = "billing-token-0123456789";

fn token(name: &str, role: Role, text: &str, groups: &[&str]) -> TokenConfig {
    TokenConfig {
        name: name.into(),
        role,
        sha256: Some(token_hash(text)),
        file: None,
        groups: groups.iter().map(|g| (*g).to_owned()).collect(),
    }
}

fn tokens() -> Vec<TokenConfig> {
    vec![
        token("reader", Role::Read, READ, &[]),
        token("member", Role::Member, MEMBER, &[]),
        token("admin", Role::Admin, ADMIN, &[]),
        token("billing", Role::Admin, BILLING, &["billing-"]),
    ]
}

/// A daemon in this process, stopped when dropped.
pub(crate) struct Running {
    pub addr: std::net::SocketAddr,
    stop: Option<oneshot::Sender<()>>,
}

impl Running {
    pub(crate) async fn start(config: ServeConfig) -> Self {
        let server = Server::bind(ServeConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            ..config
        })
        .await
        .expect("the daemon starts");
        let addr = server.local_addr();
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(server.run(async move {
            let _ = stopped.await;
        }));
        Self {
            addr,
            stop: Some(stop),
        }
    }

    fn base(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

fn with_tokens(store: &str) -> ServeConfig {
    ServeConfig {
        backend: format!("memory://{store}"),
        tokens: tokens(),
        ..Default::default()
    }
}

/// One request; its status and JSON body (`Null` when it has none).
async fn ask(
    http: &reqwest::Client,
    method: Method,
    url: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let mut request = http.request(method, url);
    if let Some(token) = token {
        request = request.header(AUTHORIZATION, format!("Bearer {token}"));
    }
    if let Some(body) = body {
        request = request
            .header(CONTENT_TYPE, "application/json")
            .body(body.to_owned());
    }
    let response = request.send().await.expect("the daemon answers");
    let status = response.status();
    let headers = response.headers().clone();
    let is_json = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    // Event streams stay open: only their headers are read.
    let body = if is_json {
        response.json().await.unwrap_or(Value::Null)
    } else {
        Value::Null
    };
    (status, headers, body)
}

fn role_named(name: &str) -> Option<Role> {
    match name {
        "none" => None,
        "read" => Some(Role::Read),
        "member" => Some(Role::Member),
        "admin" => Some(Role::Admin),
        other => panic!("x-roster-role {other:?} is not a role"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_route_answers_each_role_as_the_document_says() {
    let api = Api::load();
    let daemon = Running::start(with_tokens("exposure-roles")).await;
    let http = reqwest::Client::new();
    let callers = [
        (None, None),
        (Some("not-a-token-of-this-daemon"), None),
        (Some(READ), Some(Role::Read)),
        (Some(MEMBER), Some(Role::Member)),
        (Some(ADMIN), Some(Role::Admin)),
    ];
    let mut checked = 0;
    for (template, method) in api.operations() {
        let operation = api.operation(&template, &method);
        let declared = operation["x-roster-role"]
            .as_str()
            .unwrap_or_else(|| panic!("{method} {template} has no x-roster-role"));
        let needed = role_named(declared);
        let documented = &operation["responses"];
        let path = fill(&template, &probe_args(&template));
        let body = operation["requestBody"].is_object().then_some("{}");
        for (token, role) in callers {
            let url = format!("{}{path}", daemon.base());
            let (status, headers, answer) = ask(&http, method.clone(), &url, token, body).await;
            let context = format!("{method} {template} as {role:?} (token {token:?})");
            assert!(
                documented.get(status.as_str()).is_some(),
                "{context}: {status} is not documented"
            );
            match (needed, role) {
                (None, _) => assert!(
                    status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN,
                    "{context}: {status} on an open route"
                ),
                (Some(_), None) => {
                    assert_eq!(status, StatusCode::UNAUTHORIZED, "{context}");
                    assert_eq!(answer["error"]["code"], "unauthenticated", "{context}");
                    assert!(headers.contains_key(WWW_AUTHENTICATE), "{context}");
                }
                (Some(needed), Some(role)) if role < needed => {
                    assert_eq!(status, StatusCode::FORBIDDEN, "{context}");
                    assert_eq!(answer["error"]["code"], "forbidden", "{context}");
                }
                (Some(_), Some(_)) => assert!(
                    status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN,
                    "{context}: refused with {status}: {answer}"
                ),
            }
            checked += 1;
        }
    }
    assert!(checked >= 5 * 20, "only {checked} requests");
    // Paths no endpoint has: a stranger learns nothing, a token holder gets the 404.
    let url = format!("{}/v1/nothing", daemon.base());
    let (status, _, _) = ask(&http, Method::GET, &url, None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, answer) = ask(&http, Method::GET, &url, Some(READ), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(answer["error"]["code"], "not-found");
}

/// The billing token's view of a daemon: each call's status and JSON body.
struct Scoped<'a> {
    http: &'a reqwest::Client,
    base: String,
}

impl Scoped<'_> {
    async fn ask(&self, method: Method, path: &str, body: Option<&str>) -> (StatusCode, Value) {
        let url = format!("{}{path}", self.base);
        let (status, _, answer) = ask(self.http, method, &url, Some(BILLING), body).await;
        (status, answer)
    }

    /// `method path` is refused as out of the token's reach.
    async fn refused(&self, method: Method, path: &str, body: Option<&str>) {
        let (status, answer) = self.ask(method.clone(), path, body).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {answer}");
        assert_eq!(answer["error"]["code"], "out-of-scope", "{method} {path}");
    }

    /// The ids of the groups `GET path` lists.
    async fn listed(&self, path: &str) -> Vec<String> {
        let (status, answer) = self.ask(Method::GET, path, None).await;
        assert_eq!(status, StatusCode::OK, "{path}: {answer}");
        answer["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["group_id"].as_str().unwrap().to_owned())
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_limited_to_prefixes_reaches_only_those_groups() {
    let daemon = Running::start(with_tokens("exposure-prefixes")).await;
    let http = reqwest::Client::new();
    for group in ["other", "billing-a"] {
        let url = format!("{}/v1/groups/{group}", daemon.base());
        let (status, _, _) = ask(&http, Method::PUT, &url, Some(ADMIN), None).await;
        assert_eq!(status, StatusCode::CREATED, "{group}");
    }
    let scoped = Scoped {
        http: &http,
        base: daemon.base(),
    };
    // Named groups: inside the prefix or not, however the name is spelled in the path.
    for path in ["/v1/groups/billing-b", "/v1/groups/%62illing-c"] {
        let (status, answer) = scoped.ask(Method::PUT, path, None).await;
        assert_eq!(status, StatusCode::CREATED, "{path}: {answer}");
    }
    for path in [
        "/v1/groups/other",
        "/v1/groups/other%2Fbilling-",
        "/v1/groups/Billing-x",
    ] {
        scoped.refused(Method::PUT, path, None).await;
    }
    scoped
        .refused(Method::GET, "/v1/groups/other/members", None)
        .await;
    // Lists show only the groups within reach; an unlimited token sees them all.
    let billing = ["billing-a", "billing-b", "billing-c"];
    assert_eq!(scoped.listed("/v1/groups").await, billing);
    assert_eq!(scoped.listed("/v1/snapshot").await, billing);
    let url = format!("{}/v1/groups", daemon.base());
    let (_, _, all) = ask(&http, Method::GET, &url, Some(READ), None).await;
    assert_eq!(all["groups"].as_array().unwrap().len(), 4);
    // The whole history carries every group's changes; one group's events do not.
    scoped
        .refused(Method::GET, "/v1/changes?after=0", None)
        .await;
    scoped.refused(Method::GET, "/v1/events?from=1", None).await;
    scoped
        .refused(Method::GET, "/v1/events?from=1&group=other", None)
        .await;
    let (status, _) = scoped
        .ask(Method::GET, "/v1/events?from=1&group=billing-a", None)
        .await;
    assert_eq!(status, StatusCode::OK, "billing-a's events");
    // A session joins within reach only.
    let (status, session) = scoped
        .ask(
            Method::POST,
            "/v1/sessions",
            Some(r#"{"member_id": "worker-1"}"#),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{session}");
    let id = session["session_id"].as_str().expect("a session id");
    let (status, answer) = scoped
        .ask(
            Method::PUT,
            &format!("/v1/sessions/{id}/groups/billing-a"),
            Some("{}"),
        )
        .await;
    assert!(status.is_success(), "{status}: {answer}");
    scoped
        .refused(
            Method::PUT,
            &format!("/v1/sessions/{id}/groups/other"),
            Some("{}"),
        )
        .await;
    // Locks are named within the same prefixes, and listed only within reach.
    let (status, answer) = scoped
        .ask(
            Method::POST,
            &format!("/v1/sessions/{id}/locks/billing-run"),
            Some("{}"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    scoped
        .refused(
            Method::POST,
            &format!("/v1/sessions/{id}/locks/other-run"),
            Some("{}"),
        )
        .await;
    scoped
        .refused(Method::GET, "/v1/locks/other-run", None)
        .await;
    let url = format!("{}/v1/sessions", daemon.base());
    let (_, _, outside) = ask(
        &http,
        Method::POST,
        &url,
        Some(ADMIN),
        Some(r#"{"member_id": "ops"}"#),
    )
    .await;
    let outside = outside["session_id"].as_str().expect("a session id");
    let url = format!("{}/v1/sessions/{outside}/locks/other-run", daemon.base());
    let (status, _, _) = ask(&http, Method::POST, &url, Some(ADMIN), Some("{}")).await;
    assert_eq!(status, StatusCode::OK);
    let (status, locks) = scoped.ask(Method::GET, "/v1/locks", None).await;
    assert_eq!(status, StatusCode::OK);
    let names: Vec<&str> = locks["locks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["lock"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["billing-run"], "only the locks within reach");
}

/// What the daemons and clients here make of the test CA's files.
trait TlsFiles {
    fn tls(&self, client_certificates: bool) -> TlsConfig;
    fn credentials(&self, token: Option<&str>, client_certificate: bool) -> Credentials;
}

impl TlsFiles for Pki {
    fn tls(&self, client_certificates: bool) -> TlsConfig {
        TlsConfig {
            cert: self.path("server.pem"),
            key: self.path("server.key"),
            client_ca: client_certificates.then(|| self.path("ca.pem")),
        }
    }

    fn credentials(&self, token: Option<&str>, client_certificate: bool) -> Credentials {
        Credentials {
            token: token.map(str::to_owned),
            ca_file: Some(self.path("ca.pem")),
            identity: client_certificate
                .then(|| (self.path("client.pem"), self.path("client.key"))),
        }
    }
}

fn unreachable(result: Result<impl std::fmt::Debug, ClientError>, what: &str) {
    match result {
        Err(ClientError::Unreachable { .. }) => {}
        other => panic!("{what}: expected the daemon to be unreachable, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daemon_serves_https_to_clients_that_trust_its_ca() {
    let pki = Pki::new();
    let daemon = Running::start(ServeConfig {
        tls: Some(pki.tls(false)),
        ..with_tokens("exposure-tls")
    })
    .await;
    let https = format!("https://localhost:{}", daemon.addr.port());
    let client = Client::with_credentials(&https, &pki.credentials(Some(ADMIN), false)).unwrap();
    client
        .create_group("over-tls")
        .await
        .expect("a call over TLS");
    assert_eq!(client.groups().await.unwrap().groups.len(), 1);
    // Without the token: refused; without trusting the CA, or in plain HTTP: no daemon.
    let anonymous = Client::with_credentials(&https, &pki.credentials(None, false)).unwrap();
    match anonymous.groups().await {
        Err(ClientError::Refused { status: 401, .. }) => {}
        other => panic!("expected 401, got {other:?}"),
    }
    let untrusting = Client::with_credentials(
        &https,
        &Credentials {
            token: Some(ADMIN.into()),
            ..Credentials::default()
        },
    )
    .unwrap();
    unreachable(untrusting.groups().await, "a client without the CA");
    let plain = Client::with_credentials(
        &format!("http://localhost:{}", daemon.addr.port()),
        &Credentials {
            token: Some(ADMIN.into()),
            ..Credentials::default()
        },
    )
    .unwrap();
    assert!(plain.groups().await.is_err(), "plain HTTP to a TLS port");
    // A coordinator on roster:// with the same credentials in its URL.
    let token_file = pki.path("token");
    std::fs::write(&token_file, format!("{MEMBER}\n")).unwrap();
    let url = format!(
        "roster://localhost:{}?tls=true&ca_file={}&token_file={}",
        daemon.addr.port(),
        pki.path("ca.pem").display(),
        token_file.display()
    );
    let coordinator = roster::get_coordinator(&url, "tls-member").unwrap();
    coordinator.start().await.expect("a session over TLS");
    coordinator.join_group("over-tls").await.unwrap();
    let members = coordinator.get_members("over-tls").await.unwrap();
    assert_eq!(members.len(), 1);
    // The member token may not delete groups: the coordinator says so.
    match coordinator.delete_group("over-tls").await {
        Err(roster::CoordinationError::NotPermitted(message)) => {
            assert!(message.contains("forbidden"), "{message}")
        }
        other => panic!("expected NotPermitted, got {other:?}"),
    }
    coordinator.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daemon_requiring_client_certificates_refuses_clients_without_one() {
    let pki = Pki::new();
    let daemon = Running::start(ServeConfig {
        tls: Some(pki.tls(true)),
        ..with_tokens("exposure-mtls")
    })
    .await;
    let https = format!("https://127.0.0.1:{}", daemon.addr.port());
    let with_certificate =
        Client::with_credentials(&https, &pki.credentials(Some(READ), true)).unwrap();
    with_certificate
        .status()
        .await
        .expect("a client with a certificate");
    let without = Client::with_credentials(&https, &pki.credentials(Some(READ), false)).unwrap();
    unreachable(without.status().await, "a client without a certificate");
    // A certificate the CA did not sign is no better: the daemon's own is signed for a
    // server, and by the CA, so sign a client with another CA.
    let stranger = Pki::new();
    let foreign = Client::with_credentials(
        &https,
        &Credentials {
            token: Some(READ.into()),
            ca_file: Some(pki.path("ca.pem")),
            identity: Some((stranger.path("client.pem"), stranger.path("client.key"))),
        },
    )
    .unwrap();
    unreachable(foreign.status().await, "a client certificate of another CA");
}

/// `roster ARGS` with `env` set (and `ROSTER_TOKEN` unset unless `env` sets it): its exit
/// code, stdout and stderr.
async fn cli(args: Vec<String>, env: Vec<(&'static str, String)>) -> (Option<i32>, String, String) {
    tokio::task::spawn_blocking(move || {
        let output = Command::new(ROSTER)
            .args(&args)
            .env_remove("ROSTER_TOKEN")
            .envs(env)
            .output()
            .expect("roster runs");
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_line_reaches_a_daemon_over_tls_with_its_token() {
    let pki = Pki::new();
    let daemon = Running::start(ServeConfig {
        tls: Some(pki.tls(false)),
        ..with_tokens("exposure-cli")
    })
    .await;
    let token_file = pki.path("admin.token");
    std::fs::write(&token_file, format!("{ADMIN}\n")).unwrap();
    let address = format!("https://localhost:{}", daemon.addr.port());
    let ca = pki.path("ca.pem").display().to_string();
    let args = |more: &[&str]| {
        let mut args = vec!["--addr".to_owned(), address.clone()];
        args.extend(more.iter().map(|a| (*a).to_owned()));
        args
    };
    let token_args = [
        "--ca-file",
        &ca,
        "--token-file",
        token_file.to_str().unwrap(),
    ];
    let (code, _, stderr) = cli(
        args(&[&token_args[..], &["create-group", "cli-tls"]].concat()),
        vec![],
    )
    .await;
    assert_eq!(code, Some(0), "{stderr}");
    // The token from the environment, a read token: it lists, and may not create.
    let reader = vec![("ROSTER_TOKEN", READ.to_owned())];
    let (code, stdout, stderr) = cli(
        args(&["--ca-file", &ca, "--json", "groups"]),
        reader.clone(),
    )
    .await;
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("cli-tls"), "{stdout}");
    let (code, _, stderr) = cli(args(&["--ca-file", &ca, "create-group", "nope"]), reader).await;
    assert_eq!(code, Some(1), "refused: {stderr}");
    assert!(stderr.contains("forbidden"), "{stderr}");
    // No token: refused; no CA: no daemon to be found there.
    let (code, _, stderr) = cli(args(&["--ca-file", &ca, "groups"]), vec![]).await;
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("unauthenticated"), "{stderr}");
    let (code, _, stderr) = cli(
        args(&["--token-file", token_file.to_str().unwrap(), "groups"]),
        vec![],
    )
    .await;
    assert_eq!(code, Some(3), "{stderr}");
}

#[test]
fn credentials_that_cannot_be_used_are_refused_before_any_call() {
    let missing = Credentials {
        ca_file: Some(PathBuf::from("/nonexistent/ca.pem")),
        ..Credentials::default()
    };
    match Client::with_credentials("https://localhost:1", &missing) {
        Err(ClientError::Credentials(message)) => assert!(message.contains("ca.pem"), "{message}"),
        other => panic!("{other:?}"),
    }
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("token");
    std::fs::write(&empty, "\n").unwrap();
    assert!(matches!(
        Credentials::read_token(&empty),
        Err(ClientError::Credentials(_))
    ));
}

/// `roster serve` with `args` on `listen`: its exit status and stderr, or `None` if it
/// started serving (then it is stopped).
fn serve_outcome(listen: &str, args: &[&str], config: Option<&Path>) -> (Option<i32>, String) {
    let mut command = Command::new(ROSTER);
    command
        .args([
            "serve",
            "--listen",
            listen,
            "--backend",
            "memory://exposure-cli",
        ])
        .args(args)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(config) = config {
        command.arg("--config").arg(config);
    }
    let mut child = command.spawn().expect("roster serve runs");
    use std::io::BufRead;
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let serving = line.starts_with("listening on ");
    if serving {
        let _ = child.kill();
    }
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (if serving { None } else { output.status.code() }, stderr)
}

#[test]
fn listening_beyond_localhost_unprotected_is_refused_unless_insecure() {
    let (code, stderr) = serve_outcome("0.0.0.0:0", &[], None);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("without TLS and tokens"), "{stderr}");
    assert!(stderr.contains("--insecure"), "{stderr}");
    // Tokens alone are not enough either.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("roster.toml");
    std::fs::write(
        &config,
        format!(
            "[[tokens]]\nname = \"ops\"\nrole = \"admin\"\nsha256 = \"{}\"\n",
            token_hash(ADMIN)
        ),
    )
    .unwrap();
    let (code, stderr) = serve_outcome("0.0.0.0:0", &[], Some(&config));
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("without TLS:"), "{stderr}");
    // Accepted with --insecure, with a warning.
    let (code, stderr) = serve_outcome("0.0.0.0:0", &["--insecure"], None);
    assert_eq!(code, None, "{stderr}");
    assert!(stderr.contains("--insecure"), "{stderr}");
    // Localhost needs neither.
    let (code, stderr) = serve_outcome("127.0.0.1:0", &[], None);
    assert_eq!(code, None, "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_logs_name_the_token_never_its_text() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("roster.toml");
    std::fs::write(
        &config,
        format!(
            "backend = \"memory://exposure-access\"\n\n[[tokens]]\nname = \"reader\"\nrole = \"read\"\nsha256 = \"{}\"\n",
            token_hash(READ)
        ),
    )
    .unwrap();
    let log = dir.path().join("stderr");
    let mut child = Command::new(ROSTER)
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&config)
        .env("RUST_LOG", "warn,roster::access=info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    use std::io::BufRead;
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .expect("serving")
        .to_owned();
    let reader = Client::with_credentials(
        &addr,
        &Credentials {
            token: Some(READ.into()),
            ..Credentials::default()
        },
    )
    .unwrap();
    reader.groups().await.unwrap();
    let refused = reader.create_group("not-for-readers").await;
    assert!(
        matches!(refused, Err(ClientError::Refused { status: 403, .. })),
        "{refused:?}"
    );
    let _ = Client::new(&addr).unwrap().groups().await;
    let _ = child.kill();
    let _ = child.wait();
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("roster::access"))
        .collect();
    let logged = |needles: &[&str]| lines.iter().any(|l| needles.iter().all(|n| l.contains(n)));
    assert!(
        logged(&[
            "token=\"reader\"",
            "route=\"/v1/groups\"",
            "status=200",
            "micros="
        ]),
        "{text}"
    );
    assert!(
        logged(&["token=\"reader\"", "method=PUT", "status=403"]),
        "{text}"
    );
    assert!(logged(&["token=\"-\"", "status=401"]), "{text}");
    assert!(
        !text.contains(READ),
        "the token itself is never logged: {text}"
    );
}

#[test]
fn roster_token_new_prints_a_token_and_the_entry_that_names_its_hash() {
    let output = Command::new(ROSTER)
        .args([
            "token",
            "new",
            "--name",
            "ci",
            "--role",
            "member",
            "--groups",
            "ci-,build-",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(output.status.success());
    let printed: Value = serde_json::from_slice(&output.stdout).unwrap();
    let token = printed["token"].as_str().unwrap();
    assert!(token.len() >= 64, "{token}");
    assert_eq!(printed["sha256"], token_hash(token));
    // The entry is a valid configuration naming the token by its hash.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("roster.toml");
    std::fs::write(&path, printed["config"].as_str().unwrap()).unwrap();
    let config = ServeConfig::load(&path).expect("the printed entry is a configuration");
    let [entry] = config.tokens.as_slice() else {
        panic!("{:?}", config.tokens);
    };
    assert_eq!(entry.name, "ci");
    assert_eq!(entry.role, Role::Member);
    assert_eq!(entry.sha256.as_deref(), Some(token_hash(token).as_str()));
    assert_eq!(entry.groups, ["ci-", "build-"]);
    let again = Command::new(ROSTER)
        .args(["token", "new", "--name", "ci", "--role", "member", "--json"])
        .output()
        .unwrap();
    let again: Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_ne!(again["token"], printed["token"], "tokens are random");
}
