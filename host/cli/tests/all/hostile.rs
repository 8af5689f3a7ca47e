//! Hostile input against a `roster serve` process: generated malformed, oversized and
//! out-of-order requests. Every one must get an answer (a JSON error for anything wrong,
//! never a 5xx, a dropped connection or a hang), the daemon must keep serving, and after
//! random sequences of calls its state must be exactly what the successful calls made it.
//! Each test runs against a plain daemon and again against one serving HTTPS that requires a
//! bearer token (sent with every request).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use crate::common::Daemon;
use proptest::prelude::*;
use roster::api::ErrorBody;

/// The longest any request may take to be answered.
const ANSWER_WITHIN: Duration = Duration::from_secs(10);

struct Target {
    /// The daemon process, stopped with the target.
    _daemon: Daemon,
    http: reqwest::Client,
    /// `http://HOST:PORT` or `https://localhost:PORT`.
    base: String,
    /// The bearer token every request carries, for a daemon that requires one.
    token: Option<String>,
    runtime: tokio::runtime::Runtime,
    /// The daemon's certificates and configuration, kept while it runs.
    _files: Option<tempfile::TempDir>,
}

/// Which daemon a test runs against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// Plain HTTP, no tokens.
    Plain,
    /// HTTPS, and a token on every call.
    Secure,
}

/// The token of the secure daemon.
const TOKEN: &str = "hostile-admin-token-0123456789";

/// One daemon of each kind for every case: a daemon that has swallowed hundreds of bad
/// requests is exactly what must keep working. It is shared while some test holds it, and
/// stopped with the last one (a process-wide static would never be dropped, leaving the
/// daemon behind).
fn target(kind: Kind) -> Arc<Target> {
    static TARGETS: Mutex<[Weak<Target>; 2]> = Mutex::new([Weak::new(), Weak::new()]);
    let mut shared = TARGETS.lock().unwrap_or_else(|p| p.into_inner());
    let slot = &mut shared[kind as usize];
    if let Some(target) = slot.upgrade() {
        return target;
    }
    // A connection per request: the daemon closes a connection after refusing an oversized
    // body unread, and a pooled client could pick that one up again.
    let http = reqwest::Client::builder()
        .timeout(ANSWER_WITHIN)
        .pool_max_idle_per_host(0)
        .use_rustls_tls();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let target = Arc::new(match kind {
        Kind::Plain => {
            let daemon = Daemon::memory("timeout=30");
            Target {
                base: format!("http://{}", daemon.addr),
                _daemon: daemon,
                http: http.build().unwrap(),
                token: None,
                runtime,
                _files: None,
            }
        }
        Kind::Secure => {
            let pki = roster_tests::pki::Pki::new();
            let config = pki.path("roster.toml");
            std::fs::write(
                &config,
                format!(
                    "backend = \"memory://{}?timeout=30\"\n\n[tls]\ncert = \"server.pem\"\nkey = \"server.key\"\n\n\
                     [[tokens]]\nname = \"hostile\"\nrole = \"admin\"\nsha256 = \"{}\"\n",
                    crate::common::uuid_like(),
                    roster_server::token_hash(TOKEN)
                ),
            )
            .unwrap();
            let daemon = Daemon::start(&["--config", config.to_str().unwrap()]);
            let port = daemon.addr.rsplit(':').next().unwrap().to_owned();
            let ca = std::fs::read(pki.path("ca.pem")).unwrap();
            let http = http
                .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
                .build()
                .unwrap();
            Target {
                base: format!("https://localhost:{port}"),
                _daemon: daemon,
                http,
                token: Some(TOKEN.to_owned()),
                runtime,
                _files: Some(pki.into_dir()),
            }
        }
    });
    *slot = Arc::downgrade(&target);
    target
}

/// What came back.
#[derive(Debug)]
struct Answer {
    status: u16,
    body: Vec<u8>,
    streaming: bool,
}

fn send(
    t: &Target,
    method: &str,
    path: &str,
    body: Option<Vec<u8>>,
    headers: &[(&str, String)],
) -> Answer {
    t.runtime.block_on(async {
        let url = format!("{}{path}", t.base);
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = t.http.request(method, url);
        if let Some(token) = &t.token {
            request = request.bearer_auth(token);
        }
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        if let Some(body) = body {
            request = request.body(body);
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("no answer to {path}: {e:?}"));
        let status = response.status().as_u16();
        let streaming = response
            .headers()
            .get("content-type")
            .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
        // An event stream never ends: its headers are the answer.
        let body = if streaming {
            Vec::new()
        } else {
            response
                .bytes()
                .await
                .unwrap_or_else(|e| panic!("body of {path} broke: {e}"))
                .to_vec()
        };
        Answer {
            status,
            body,
            streaming,
        }
    })
}

/// The daemon answers a plain status call.
fn assert_serving(t: &Target) {
    let answer = send(t, "GET", "/v1/status", None, &[]);
    assert_eq!(answer.status, 200, "{answer:?}");
}

/// A refusal is a 4xx with a JSON error naming the problem; nothing is a 5xx.
fn assert_well_formed(method: &str, path: &str, answer: &Answer) {
    assert!(
        answer.status < 500,
        "{method} {path} -> {} {}",
        answer.status,
        String::from_utf8_lossy(&answer.body)
    );
    if answer.status >= 400 && method != "HEAD" {
        let error: ErrorBody = serde_json::from_slice(&answer.body).unwrap_or_else(|e| {
            panic!(
                "{method} {path} -> {} with a body that is not a JSON error ({e}): {}",
                answer.status,
                String::from_utf8_lossy(&answer.body)
            )
        });
        assert!(!error.error.code.is_empty() && !error.error.message.is_empty());
    }
}

// ----- generated single requests -----

fn method() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD",
    ])
}

fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(vec![
            "v1", "sessions", "groups", "members", "leader", "elections", "heartbeat",
            "capabilities", "stand-down", "events", "status", "plugins", "openapi.json", "g",
        ])
        .prop_map(str::to_owned),
        2 => "[a-f0-9]{32}",
        2 => any::<String>().prop_map(|s| percent_encode(&s)),
        1 => "%[0-9A-Fa-f]{2}|%|%zz|\\.\\.|\\.",
        1 => (1000usize..9000).prop_map(|n| "x".repeat(n)),
    ]
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn path() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(segment(), 0..6),
        prop::option::of("[a-z_]{1,8}=[^&#]{0,20}"),
    )
        .prop_map(|(segments, query)| {
            let mut path = format!("/v1/{}", segments.join("/"));
            if let Some(query) = query {
                path.push('?');
                path.push_str(&percent_encode(&query).replace("%3D", "="));
            }
            path
        })
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(serde_json::Value::from),
        any::<String>().prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            prop::collection::btree_map(
                prop::sample::select(vec![
                    "member_id",
                    "ttl_ms",
                    "capabilities",
                    "create_group",
                    "base64",
                    "x",
                ])
                .prop_map(str::to_owned),
                inner,
                0..4
            )
            .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

fn body() -> impl Strategy<Value = Option<Vec<u8>>> {
    prop_oneof![
        2 => Just(None),
        3 => json_value().prop_map(|v| Some(serde_json::to_vec(&v).unwrap())),
        2 => prop::collection::vec(any::<u8>(), 0..512).prop_map(Some),
        1 => (300_000usize..400_000).prop_map(|n| Some(vec![b'{'; n])),
        1 => (300_000usize..400_000).prop_map(|n| {
            Some(format!(r#"{{"capabilities":"{}"}}"#, "c".repeat(n)).into_bytes())
        }),
    ]
}

fn headers() -> impl Strategy<Value = Vec<(&'static str, String)>> {
    prop::collection::vec(
        prop_oneof![
            Just(("content-type", "application/json".to_owned())),
            Just(("content-type", "text/plain".to_owned())),
            "[ -~]{0,30}".prop_map(|v| ("last-event-id", v)),
            "[0-9]{1,25}".prop_map(|v| ("last-event-id", v)),
        ],
        0..3,
    )
}

/// `cases` random cases, nothing persisted (a failure prints its minimal input).
fn cases(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

#[test]
fn malformed_and_oversized_requests_get_json_errors() {
    malformed_and_oversized_requests(Kind::Plain);
}

#[test]
fn malformed_and_oversized_requests_get_json_errors_over_tls_with_a_token() {
    malformed_and_oversized_requests(Kind::Secure);
}

fn malformed_and_oversized_requests(kind: Kind) {
    let t = target(kind);
    let t = &*t;
    proptest!(cases(400), |(
        method in method(),
        path in path(),
        body in body(),
        headers in headers(),
    )| {
        let answer = send(t, method, &path, body, &headers);
        assert_well_formed(method, &path, &answer);
        if answer.streaming {
            prop_assert_eq!(answer.status, 200);
        }
        assert_serving(t);
    });
}

// ----- out-of-order sequences, checked against what succeeded -----

#[derive(Clone, Debug)]
enum Op {
    Open(usize),
    Heartbeat(usize),
    Close(usize),
    Join(usize, usize, bool),
    Leave(usize, usize),
    Update(usize, usize),
    Stand(usize, usize),
    Withdraw(usize, usize),
    StandDown(usize, usize),
    Create(usize),
    Delete(usize),
}

const MEMBERS: usize = 3;
const GROUPS: usize = 3;
/// Session slots: each may be open, closed or never opened (then its id is made up).
const SLOTS: usize = 4;

fn op() -> impl Strategy<Value = Op> {
    let s = 0..SLOTS;
    let g = 0..GROUPS;
    prop_oneof![
        (0..MEMBERS).prop_map(Op::Open),
        s.clone().prop_map(Op::Heartbeat),
        s.clone().prop_map(Op::Close),
        (s.clone(), g.clone(), any::<bool>()).prop_map(|(s, g, c)| Op::Join(s, g, c)),
        (s.clone(), g.clone()).prop_map(|(s, g)| Op::Leave(s, g)),
        (s.clone(), g.clone()).prop_map(|(s, g)| Op::Update(s, g)),
        (s.clone(), g.clone()).prop_map(|(s, g)| Op::Stand(s, g)),
        (s.clone(), g.clone()).prop_map(|(s, g)| Op::Withdraw(s, g)),
        (s, g.clone()).prop_map(|(s, g)| Op::StandDown(s, g)),
        g.clone().prop_map(Op::Create),
        g.prop_map(Op::Delete),
    ]
}

#[test]
fn out_of_order_calls_are_refused_cleanly_and_leave_a_consistent_state() {
    out_of_order_calls(Kind::Plain);
}

#[test]
fn out_of_order_calls_are_refused_cleanly_over_tls_with_a_token() {
    out_of_order_calls(Kind::Secure);
}

fn out_of_order_calls(kind: Kind) {
    let t = target(kind);
    let t = &*t;
    proptest!(cases(64), |(ops in prop::collection::vec(op(), 1..40))| {
        let prefix = crate::common::uuid_like();
        let group = |g: usize| format!("{prefix}-g{g}");
        let mut slots: Vec<Option<(String, String)>> = vec![None; SLOTS];
        // What the successful calls did: the members of each group, with the slot of the
        // session that owns each membership (the member id is the identity, as in tooz: a
        // second session of the same member can leave the first one's membership).
        let mut joined: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
        let session_of = |slots: &[Option<(String, String)>], s: usize| {
            slots[s].as_ref().map_or_else(|| format!("{prefix}-bogus{s}"), |(id, _)| id.clone())
        };
        for op in &ops {
            let (method, path, body) = match op {
                Op::Open(m) => ("POST", "/v1/sessions".to_owned(),
                    Some(format!(r#"{{"member_id":"{prefix}-m{m}"}}"#))),
                Op::Heartbeat(s) => ("POST", format!("/v1/sessions/{}/heartbeat", session_of(&slots, *s)), None),
                Op::Close(s) => ("DELETE", format!("/v1/sessions/{}", session_of(&slots, *s)), None),
                Op::Join(s, g, create) => ("PUT", format!("/v1/sessions/{}/groups/{}", session_of(&slots, *s), group(*g)),
                    Some(format!(r#"{{"capabilities":"c","create_group":{create}}}"#))),
                Op::Leave(s, g) => ("DELETE", format!("/v1/sessions/{}/groups/{}", session_of(&slots, *s), group(*g)), None),
                Op::Update(s, g) => ("PUT", format!("/v1/sessions/{}/groups/{}/capabilities", session_of(&slots, *s), group(*g)),
                    Some(r#"{"capabilities":"d"}"#.to_owned())),
                Op::Stand(s, g) => ("PUT", format!("/v1/sessions/{}/elections/{}", session_of(&slots, *s), group(*g)), None),
                Op::Withdraw(s, g) => ("DELETE", format!("/v1/sessions/{}/elections/{}", session_of(&slots, *s), group(*g)), None),
                Op::StandDown(s, g) => ("POST", format!("/v1/sessions/{}/elections/{}/stand-down", session_of(&slots, *s), group(*g)), None),
                Op::Create(g) => ("PUT", format!("/v1/groups/{}", group(*g)), None),
                Op::Delete(g) => ("DELETE", format!("/v1/groups/{}", group(*g)), None),
            };
            let headers = [("content-type", "application/json".to_owned())];
            let answer = send(t, method, &path, body.map(String::into_bytes), &headers);
            assert_well_formed(method, &path, &answer);
            let ok = answer.status < 300;
            match op {
                Op::Open(m) if ok => {
                    let session: roster::api::Session = serde_json::from_slice(&answer.body).unwrap();
                    let free = slots.iter().position(Option::is_none);
                    if let Some(free) = free {
                        slots[free] = Some((session.session_id, format!("{prefix}-m{m}")));
                    } else {
                        // No slot to remember it by: close it again.
                        let closed = send(t, "DELETE", &format!("/v1/sessions/{}", session.session_id), None, &[]);
                        prop_assert_eq!(closed.status, 204);
                    }
                }
                Op::Close(s) if ok => {
                    slots[*s] = None;
                    for members in joined.values_mut() {
                        members.retain(|_, owner| owner != s);
                    }
                }
                Op::Join(s, g, _) if ok => {
                    let (_, member) = slots[*s].clone().unwrap();
                    joined.entry(group(*g)).or_default().insert(member, *s);
                }
                Op::Leave(s, g) if ok => {
                    let (_, member) = slots[*s].clone().unwrap();
                    joined.entry(group(*g)).or_default().remove(&member);
                }
                Op::Delete(g) if ok => {
                    let gone = joined.remove(&group(*g)).unwrap_or_default();
                    prop_assert!(gone.is_empty());
                }
                _ => {}
            }
        }
        // The daemon's view is what the successful calls made it.
        for g in 0..GROUPS {
            let answer = send(t, "GET", &format!("/v1/groups/{}/members", group(g)), None, &[]);
            let expected: BTreeSet<String> =
                joined.get(&group(g)).map(|m| m.keys().cloned().collect()).unwrap_or_default();
            if answer.status == 404 {
                prop_assert!(expected.is_empty());
                continue;
            }
            let members: roster::api::Members = serde_json::from_slice(&answer.body).unwrap();
            let actual: BTreeSet<String> = members.members.into_iter().map(|m| m.member_id.to_string()).collect();
            prop_assert_eq!(actual, expected);
        }
        for (id, _) in slots.into_iter().flatten() {
            let closed = send(t, "DELETE", &format!("/v1/sessions/{id}"), None, &[]);
            prop_assert_eq!(closed.status, 204);
        }
        assert_serving(t);
    });
}
