//! The OpenAPI document (`host/types/openapi.json`) and the daemon, held together.
//!
//! Each test starts an in-process daemon on the `memory://` backend and talks to it over
//! HTTP. Every request names the documented operation it exercises; the answer's status must be
//! one the document lists for that operation, and its body must match the documented schema
//! (or be empty when the document gives none). Response schemas are checked strictly: an
//! object property the document does not name fails the check, so neither side can drift.
//!
//! Router and document are compared both ways without a list kept here: every documented
//! operation is routed (it never meets the `not-found` fallback or `method-not-allowed`), and
//! every method the document leaves out of a path, and every path it leaves out, meets them.

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime};

use futures_util::{Stream, StreamExt};
use reqwest::header::CONTENT_TYPE;
use reqwest::{Method, RequestBuilder, StatusCode};
use roster::api::{ErrorBody, ErrorDetail, Resync};
use roster::event::{
    CapabilitiesUpdated, Event, GroupCreated, GroupDeleted, LeaderElected, LeaderLost,
    LeadershipEnd, LeaveReason, MemberJoined, MemberLeft,
};
use roster::plugin::{FaultReason, PluginEvent, PluginEventKind, PluginState, PluginStats};
use roster::{Capabilities, CoordinationError, GroupId, IdKind, MemberId, UrlProblem};
use roster_server::{ServeConfig, Server};
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The document, as the daemon embeds it.
const DOCUMENT: &str = roster::api::OPENAPI;

/// How long a test waits for something the daemon will do by itself.
const PATIENCE: Duration = Duration::from_secs(30);

/// The HTTP methods a path can be asked for (HEAD follows GET in the router).
pub(crate) const METHODS: [Method; 5] = [
    Method::GET,
    Method::PUT,
    Method::POST,
    Method::DELETE,
    Method::PATCH,
];

/// The document and the checks it supports.
pub(crate) struct Api {
    pub(crate) doc: Value,
    /// The document with every component object schema closed (`additionalProperties:
    /// false`), so responses cannot carry fields the document does not name.
    strict: Value,
}

impl Api {
    pub(crate) fn load() -> Self {
        let doc: Value = serde_json::from_str(DOCUMENT).expect("openapi.json is JSON");
        let mut strict = doc.clone();
        close_objects(&mut strict["components"]["schemas"]);
        Self { doc, strict }
    }

    /// Every documented (path template, method).
    pub(crate) fn operations(&self) -> Vec<(String, Method)> {
        let mut operations = Vec::new();
        for (path, item) in self.doc["paths"].as_object().expect("paths") {
            for method in METHODS {
                if item.get(method.as_str().to_lowercase()).is_some() {
                    operations.push((path.clone(), method));
                }
            }
        }
        operations
    }

    pub(crate) fn operation(&self, template: &str, method: &Method) -> &Value {
        self.doc["paths"]
            .get(template)
            .and_then(|item| item.get(method.as_str().to_lowercase()))
            .unwrap_or_else(|| panic!("{method} {template} is not documented"))
    }

    /// Follow a `$ref` to a component, if `value` is one.
    fn resolve<'a>(&'a self, value: &'a Value) -> &'a Value {
        match value.get("$ref").and_then(Value::as_str) {
            Some(reference) => {
                let pointer = reference.strip_prefix('#').expect("local reference");
                self.doc
                    .pointer(pointer)
                    .unwrap_or_else(|| panic!("{reference} does not resolve"))
            }
            None => value,
        }
    }

    /// Check `instance` against `schema`, whose references point into the document.
    fn validate(&self, schema: &Value, instance: &Value) -> Result<(), String> {
        let mut root = self.strict.clone();
        root["allOf"] = json!([schema]);
        let validator = jsonschema::draft202012::options()
            .build(&root)
            .map_err(|e| format!("the schema does not compile: {e}"))?;
        let errors: Vec<String> = validator
            .iter_errors(instance)
            .map(|e| format!("{e} (at {})", e.instance_path()))
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join("\n"))
        }
    }

    fn assert_valid(&self, schema: &Value, instance: &Value, context: &str) {
        if let Err(errors) = self.validate(schema, instance) {
            panic!("{context}: {instance} does not match the document:\n{errors}");
        }
    }

    fn assert_component(&self, name: &str, instance: &Value) {
        let schema = json!({"$ref": format!("#/components/schemas/{name}")});
        self.assert_valid(&schema, instance, name);
    }

    /// Check an answer against the operation's documented responses.
    async fn check(&self, method: &Method, template: &str, response: reqwest::Response) -> Reply {
        let status = response.status();
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let responses = &self.operation(template, method)["responses"];
        let Some(documented) = responses.get(status.as_str()).map(|r| self.resolve(r)) else {
            let body = response.text().await.unwrap_or_default();
            panic!("{method} {template} answered {status}, which is not documented: {body}");
        };
        let context = format!("{method} {template} -> {status}");
        // Every answer names the store and its revision (the document's introduction says
        // so); an answer that documents a header has it, as its schema says.
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .map(|v| v.to_str().expect("a text header").to_owned())
        };
        for name in ["roster-revision", "roster-store"] {
            assert!(header(name).is_some(), "{context} has no {name} header");
        }
        if let Some(headers) = documented.get("headers").and_then(Value::as_object) {
            for (name, spec) in headers {
                let spec = self.resolve(spec);
                match header(name) {
                    Some(value) => self.assert_valid(&spec["schema"], &json!(value), name),
                    None => assert!(
                        spec["required"] != true,
                        "{context} has no {name} header, which the document requires"
                    ),
                }
            }
        }
        let store = header("roster-store");
        match documented.get("content") {
            None => {
                let body = response.bytes().await.expect("body");
                assert!(
                    body.is_empty(),
                    "{context} is documented without a body but has {body:?}"
                );
                Reply {
                    store,
                    ..Reply::empty(status)
                }
            }
            Some(content) if content.get("text/event-stream").is_some() => {
                assert!(
                    content_type.starts_with("text/event-stream"),
                    "{context} has Content-Type {content_type:?}"
                );
                Reply {
                    status,
                    store,
                    body: None,
                    stream: Some(response),
                }
            }
            Some(content) if content.get("application/json").is_none() => {
                // A text format of its own (the metrics): the documented media type.
                let (media, _) = content
                    .as_object()
                    .and_then(|types| types.iter().next())
                    .unwrap_or_else(|| panic!("{context}: no media type documented"));
                assert!(
                    content_type.starts_with(media.as_str()),
                    "{context} has Content-Type {content_type:?}, documented {media}"
                );
                let text = response.text().await.expect("body");
                assert!(!text.is_empty(), "{context} has an empty body");
                Reply {
                    status,
                    store,
                    body: None,
                    stream: None,
                }
            }
            Some(content) => {
                let schema = &content["application/json"]["schema"];
                assert!(
                    schema.is_object(),
                    "{context}: no JSON schema documented in {content}"
                );
                assert!(
                    content_type.starts_with("application/json"),
                    "{context} has Content-Type {content_type:?}"
                );
                let bytes = response.bytes().await.expect("body");
                let body: Value = serde_json::from_slice(&bytes)
                    .unwrap_or_else(|e| panic!("{context}: the body is not JSON ({e}): {bytes:?}"));
                self.assert_valid(schema, &body, &context);
                Reply {
                    status,
                    store,
                    body: Some(body),
                    stream: None,
                }
            }
        }
    }
}

/// Close every object schema that names its properties and says nothing of others.
fn close_objects(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            if map.contains_key("properties") && !map.contains_key("additionalProperties") {
                map.insert("additionalProperties".into(), Value::Bool(false));
            }
            map.values_mut().for_each(close_objects);
        }
        Value::Array(items) => items.iter_mut().for_each(close_objects),
        _ => {}
    }
}

/// `text` as one percent-encoded path segment.
fn segment(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The template with its `{parameters}` replaced by `args`, in order, percent-encoded.
pub(crate) fn fill(template: &str, args: &[&str]) -> String {
    let mut args = args.iter();
    let path = template
        .split('/')
        .map(|part| {
            if part.starts_with('{') {
                segment(args.next().expect("an argument for every parameter"))
            } else {
                part.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("/");
    assert!(args.next().is_none(), "more arguments than {template} has");
    path
}

/// Whether the concrete `path` is an instance of `template`, as the router sees it: a
/// parameter matches any segment, the empty one too (the handler refuses it as an id), except
/// an empty last segment, which no route matches.
fn matches_template(template: &str, path: &str) -> bool {
    let (t, p): (Vec<&str>, Vec<&str>) = (template.split('/').collect(), path.split('/').collect());
    let last = t.len().saturating_sub(1);
    t.len() == p.len()
        && t.iter().zip(&p).enumerate().all(|(i, (t, p))| {
            if t.starts_with('{') {
                i < last || !p.is_empty()
            } else {
                t == p
            }
        })
}

/// A checked answer.
struct Reply {
    status: StatusCode,
    /// The store the answer names (its `roster-store` header).
    store: Option<String>,
    body: Option<Value>,
    /// The open event stream, for a `text/event-stream` answer.
    stream: Option<reqwest::Response>,
}

impl Reply {
    fn empty(status: StatusCode) -> Self {
        Self {
            status,
            store: None,
            body: None,
            stream: None,
        }
    }

    fn json(&self) -> &Value {
        self.body.as_ref().expect("a JSON body")
    }

    /// The error code of an error answer.
    fn code(&self) -> &str {
        self.json()["error"]["code"]
            .as_str()
            .expect("an error code")
    }

    /// Assert the status and, for an error, its code.
    #[track_caller]
    fn expect(&self, status: u16, code: Option<&str>) -> &Self {
        assert_eq!(self.status.as_u16(), status, "body: {:?}", self.body);
        if let Some(code) = code {
            assert_eq!(self.code(), code, "body: {:?}", self.body);
        }
        self
    }
}

/// A daemon running in this process, and a client for it.
struct Daemon {
    api: Api,
    base: String,
    client: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), roster_server::ServeError>>>,
}

impl Daemon {
    async fn start(config: ServeConfig) -> Self {
        let server = Server::bind(ServeConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            ..config
        })
        .await
        .expect("the daemon starts");
        let base = format!("http://{}", server.local_addr());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(server.run(async move {
            let _ = stopped.await;
        }));
        Self {
            api: Api::load(),
            base,
            client: reqwest::Client::new(),
            stop: Some(stop),
            task: Some(task),
        }
    }

    async fn on(backend: &str) -> Self {
        Self::start(ServeConfig {
            backend: backend.into(),
            ..Default::default()
        })
        .await
    }

    /// Shut the daemon down and wait for it.
    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await
                .expect("the daemon does not panic")
                .expect("the daemon stops cleanly");
        }
    }

    /// Send a request for the documented operation `method template` to `path` (an
    /// instance of the template, with `query`), and check the answer against the document.
    async fn exchange(
        &self,
        method: Method,
        template: &str,
        path: &str,
        query: &str,
        build: impl FnOnce(RequestBuilder) -> RequestBuilder,
    ) -> Reply {
        assert!(
            matches_template(template, path),
            "{path} is not an instance of {template}"
        );
        let request = self
            .client
            .request(method.clone(), format!("{}{path}{query}", self.base));
        let response = build(request).send().await.expect("the daemon answers");
        self.api.check(&method, template, response).await
    }

    async fn call(&self, method: Method, template: &str, args: &[&str]) -> Reply {
        let path = fill(template, args);
        self.exchange(method, template, &path, "", |r| r).await
    }

    async fn call_json(&self, method: Method, template: &str, args: &[&str], body: Value) -> Reply {
        let path = fill(template, args);
        self.exchange(method, template, &path, "", |r| r.json(&body))
            .await
    }

    async fn call_raw(
        &self,
        method: Method,
        template: &str,
        args: &[&str],
        body: impl Into<Vec<u8>>,
        content_type: Option<&str>,
    ) -> Reply {
        let path = fill(template, args);
        let body = body.into();
        self.exchange(method, template, &path, "", |r| match content_type {
            Some(content_type) => r.header(CONTENT_TYPE, content_type).body(body),
            None => r.body(body),
        })
        .await
    }

    /// A request to a path and method the document does not have.
    async fn undocumented(&self, method: Method, path: &str) -> (StatusCode, Value) {
        let response = self
            .client
            .request(method, format!("{}{path}", self.base))
            .send()
            .await
            .expect("the daemon answers");
        let status = response.status();
        let body = response.json().await.expect("an error body");
        (status, body)
    }

    async fn open_session(&self, member: &str) -> String {
        let reply = self
            .call_json(
                Method::POST,
                "/v1/sessions",
                &[],
                json!({"member_id": member, "ttl_ms": 60_000}),
            )
            .await;
        reply.expect(201, None);
        assert_eq!(reply.json()["member_id"], member);
        reply.json()["session_id"].as_str().unwrap().to_owned()
    }

    async fn head_revision(&self) -> u64 {
        let reply = self.call(Method::GET, "/v1/status", &[]).await;
        reply.json()["revision"].as_u64().unwrap()
    }

    /// Open the event stream with `query` and, optionally, `Last-Event-ID`.
    async fn events(&self, query: &str, last_event_id: Option<&str>) -> Reply {
        self.exchange(
            Method::GET,
            "/v1/events",
            "/v1/events",
            query,
            |r| match last_event_id {
                Some(id) => r.header("Last-Event-ID", id),
                None => r,
            },
        )
        .await
    }

    async fn stream(&self, query: &str, last_event_id: Option<&str>) -> SseReader {
        let mut reply = self.events(query, last_event_id).await;
        reply.expect(200, None);
        SseReader::new(reply.stream.take().expect("a stream"))
    }
}

/// One Server-Sent Events message.
#[derive(Debug)]
struct SseMessage {
    id: Option<String>,
    event: Option<String>,
    data: Value,
}

/// Reads an event stream message by message, skipping keep-alive comments.
struct SseReader {
    stream: std::pin::Pin<Box<dyn Stream<Item = reqwest::Result<Vec<u8>>> + Send>>,
    buffer: Vec<u8>,
}

impl SseReader {
    fn new(response: reqwest::Response) -> Self {
        let stream = response
            .bytes_stream()
            .map(|chunk| chunk.map(|bytes| bytes.to_vec()));
        Self {
            stream: Box::pin(stream),
            buffer: Vec::new(),
        }
    }

    /// The next message; waits at most [`PATIENCE`].
    async fn next(&mut self) -> SseMessage {
        tokio::time::timeout(PATIENCE, self.next_message())
            .await
            .expect("the stream sends a message")
    }

    async fn next_message(&mut self) -> SseMessage {
        loop {
            if let Some(end) = self.buffer.windows(2).position(|w| w == b"\n\n") {
                let block: Vec<u8> = self.buffer.drain(..end + 2).collect();
                let text = String::from_utf8(block).expect("the stream is UTF-8");
                if let Some(message) = parse_message(&text) {
                    return message;
                }
                continue;
            }
            let chunk = self
                .stream
                .next()
                .await
                .expect("the stream stays open")
                .expect("the stream reads");
            self.buffer.extend_from_slice(&chunk);
        }
    }
}

/// One message block; `None` for a block of comments only.
fn parse_message(block: &str) -> Option<SseMessage> {
    let (mut id, mut event, mut data) = (None, None, Vec::new());
    for line in block
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with(':'))
    {
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value).to_owned();
        match field {
            "id" => id = Some(value),
            "event" => event = Some(value),
            "data" => data.push(value),
            other => panic!("unexpected field {other:?} in {block:?}"),
        }
    }
    if id.is_none() && event.is_none() && data.is_empty() {
        return None;
    }
    let data = serde_json::from_str(&data.join("\n")).expect("data is JSON");
    Some(SseMessage { id, event, data })
}

fn runtime_config(backend: &str) -> ServeConfig {
    ServeConfig {
        backend: backend.into(),
        ..Default::default()
    }
}

// ----- the document itself -----

#[test]
fn the_document_is_openapi_3_1_and_every_reference_resolves() {
    let api = Api::load();
    assert!(api.doc["openapi"].as_str().unwrap().starts_with("3.1."));
    fn references<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
        match value {
            Value::Object(map) => {
                for (key, value) in map {
                    match (key.as_str(), value) {
                        ("$ref", Value::String(reference)) => out.push(reference),
                        ("mapping", Value::Object(mapping)) => {
                            out.extend(mapping.values().filter_map(Value::as_str));
                        }
                        _ => references(value, out),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|v| references(v, out)),
            _ => {}
        }
    }
    let mut all = Vec::new();
    references(&api.doc, &mut all);
    assert!(!all.is_empty());
    for reference in all {
        let pointer = reference.strip_prefix('#').expect("only local references");
        assert!(
            api.doc.pointer(pointer).is_some(),
            "{reference} does not resolve"
        );
    }
    for name in [
        "Session",
        "OpenSession",
        "Heartbeat",
        "Join",
        "UpdateCapabilities",
        "StoodDown",
        "Groups",
        "GroupSummary",
        "Leader",
        "LeaderOf",
        "Members",
        "Member",
        "Status",
        "Plugins",
        "PluginStats",
        "Event",
        "Resync",
        "ErrorBody",
        "Capabilities",
    ] {
        let schema = &api.doc["components"]["schemas"][name];
        assert!(schema.is_object(), "schema {name} is missing");
        api.validate(schema, &Value::Null)
            .expect_err("a schema that accepts null");
    }
    for (path, method) in api.operations() {
        let operation = api.operation(&path, &method);
        assert!(
            operation["operationId"].is_string() && operation["description"].is_string(),
            "{method} {path} needs an operationId and a description"
        );
        assert!(
            operation["responses"]
                .as_object()
                .unwrap()
                .keys()
                .all(|s| s != "422"),
            "{method} {path}: the daemon never answers 422"
        );
    }
}

#[test]
fn request_bodies_refuse_unknown_fields_as_the_daemon_does() {
    let api = Api::load();
    for name in ["OpenSession", "Join", "UpdateCapabilities"] {
        let schema = &api.doc["components"]["schemas"][name];
        assert_eq!(schema["additionalProperties"], false, "{name}");
        assert!(
            api.validate(
                schema,
                &json!({"member_id": "m", "capabilities": "c", "extra": 1})
            )
            .is_err(),
            "{name} accepts an unknown field"
        );
    }
    let join = json!({"$ref": "#/components/schemas/Join"});
    api.validate(&join, &json!({})).expect("{} is a join");
    api.validate(
        &join,
        &json!({"capabilities": {"base64": "/wCB"}, "create_group": true}),
    )
    .expect("a full join");
    let open = json!({"$ref": "#/components/schemas/OpenSession"});
    api.validate(&open, &json!({"member_id": "m"}))
        .expect("ttl is optional");
    api.validate(&open, &json!({"ttl_ms": 1000}))
        .expect_err("member_id is required");
    api.validate(&open, &json!({"member_id": "bad\u{1}id"}))
        .expect_err("control characters are not ids");
}

#[test]
fn the_checks_refuse_bodies_the_document_does_not_describe() {
    let api = Api::load();
    let session = json!({"session_id": "s", "member_id": "m", "ttl_ms": 1000});
    api.validate(&json!({"$ref": "#/components/schemas/Session"}), &session)
        .expect("a session");
    let mut extra = session.clone();
    extra["lease"] = json!(5);
    api.validate(&json!({"$ref": "#/components/schemas/Session"}), &extra)
        .expect_err("a field the document does not name");
    let event = json!({"$ref": "#/components/schemas/Event"});
    api.validate(
        &event,
        &json!({"kind": "member-joined", "revision": 3, "group_id": "g", "member_id": "m"}),
    )
    .expect_err("a joined event without capabilities");
    api.validate(
        &event,
        &json!({"kind": "group-renamed", "revision": 3, "group_id": "g"}),
    )
    .expect_err("a kind the document does not name");
    api.validate(
        &json!({"$ref": "#/components/schemas/ErrorBody"}),
        &json!({"error": {"code": "oops", "message": "m"}}),
    )
    .expect_err("a code the document does not name");
}

// ----- what serde writes for bodies a test daemon cannot produce -----

#[test]
fn every_event_kind_serializes_as_the_event_schema_says() {
    let api = Api::load();
    let group = GroupId::new("g").unwrap();
    let member = MemberId::new("m").unwrap();
    let events = [
        Event::GroupCreated(GroupCreated {
            revision: 1,
            group_id: group.clone(),
        }),
        Event::GroupDeleted(GroupDeleted {
            revision: 2,
            group_id: group.clone(),
        }),
        Event::MemberJoined(MemberJoined {
            revision: 3,
            group_id: group.clone(),
            member_id: member.clone(),
            capabilities: Capabilities::from(vec![0xff, 0x00, 0x81]),
        }),
        Event::CapabilitiesUpdated(CapabilitiesUpdated {
            revision: 4,
            group_id: group.clone(),
            member_id: member.clone(),
            capabilities: Capabilities::from("{\"weight\": 5}"),
        }),
        Event::LeaderElected(LeaderElected {
            revision: 5,
            group_id: group.clone(),
            member_id: member.clone(),
            term: 5,
        }),
    ];
    let left = [
        LeaveReason::Left,
        LeaveReason::Expired,
        LeaveReason::SessionLost,
        LeaveReason::GroupDeleted,
    ]
    .map(|reason| {
        Event::MemberLeft(MemberLeft {
            revision: 6,
            group_id: group.clone(),
            member_id: member.clone(),
            reason,
        })
    });
    let lost = [
        LeadershipEnd::StoodDown,
        LeadershipEnd::Resigned,
        LeadershipEnd::Expired,
        LeadershipEnd::SessionLost,
        LeadershipEnd::GroupDeleted,
    ]
    .map(|reason| {
        Event::LeaderLost(LeaderLost {
            revision: 7,
            group_id: group.clone(),
            member_id: member.clone(),
            term: 5,
            reason,
        })
    });
    for event in events.iter().chain(&left).chain(&lost) {
        api.assert_component("Event", &serde_json::to_value(event).unwrap());
    }
    let resync = Resync {
        requested: 1,
        oldest: 9,
        store: "0123abcd".into(),
    };
    api.assert_component("Resync", &serde_json::to_value(resync).unwrap());
}

#[test]
fn plugin_statistics_serialize_as_the_plugin_schema_says() {
    let api = Api::load();
    let states = [
        PluginState::Running,
        PluginState::Quarantined {
            until: SystemTime::now() + Duration::from_millis(1500),
        },
        PluginState::Stopped,
    ];
    for state in states {
        let stats = PluginStats {
            name: "log".into(),
            state,
            events_delivered: 10,
            calls: 4,
            errors: 1,
            traps: 1,
            deadline_overruns: 0,
            restarts: 1,
            events_skipped: 1,
            resyncs: 0,
            queue_depth: 2,
            handled_through: 12,
            call_p50: Duration::from_micros(150),
            call_p99: Duration::from_millis(2),
            logs_dropped: 0,
            loaded_from_cache: true,
            load_time: Duration::from_millis(12),
        };
        let value = serde_json::to_value(&stats).unwrap();
        api.assert_component("PluginStats", &value);
        api.assert_component(
            "Plugins",
            &json!({ "plugins": [value], "recent_events": [], "events_total": 0 }),
        );
    }
}

#[test]
fn plugin_events_serialize_as_the_plugin_event_schema_says() {
    let api = Api::load();
    let kinds = [
        PluginEventKind::Fault {
            reason: FaultReason::Trap("unreachable".into()),
            revisions: (3, 9),
        },
        PluginEventKind::Fault {
            reason: FaultReason::Deadline(Duration::from_millis(250)),
            revisions: (10, 10),
        },
        PluginEventKind::Restarted,
        PluginEventKind::EventSkipped { revision: 6 },
        PluginEventKind::Quarantined {
            duration: Duration::from_secs(2),
        },
        PluginEventKind::Resynced { revision: 12 },
        PluginEventKind::Reloaded,
        PluginEventKind::ReloadFailed {
            error: "not a component".into(),
        },
        PluginEventKind::Stopped,
    ];
    let events: Vec<Value> = kinds
        .into_iter()
        .map(|kind| {
            let event = PluginEvent {
                plugin: "log".into(),
                at: SystemTime::now(),
                kind,
            };
            let value = serde_json::to_value(&event).unwrap();
            api.assert_component("PluginEvent", &value);
            value
        })
        .collect();
    api.assert_component(
        "Plugins",
        &json!({ "plugins": [], "recent_events": events, "events_total": 9 }),
    );
}

#[test]
fn every_coordination_error_serializes_as_the_error_schema_says() {
    let api = Api::load();
    let group = GroupId::new("g").unwrap();
    let member = MemberId::new("m").unwrap();
    let errors = [
        CoordinationError::GroupNotCreated(group.clone()),
        CoordinationError::GroupAlreadyExist(group.clone()),
        CoordinationError::MemberAlreadyExist {
            group_id: group.clone(),
            member_id: member.clone(),
        },
        CoordinationError::MemberNotJoined {
            group_id: group.clone(),
            member_id: member.clone(),
        },
        CoordinationError::GroupNotEmpty(group.clone()),
        CoordinationError::WatchCallbackNotFound(group.clone()),
        CoordinationError::OperationTimedOut(Duration::from_millis(1500)),
        CoordinationError::NotImplemented("get_leader".into()),
        CoordinationError::MemberExpired {
            group_id: group.clone(),
            member_id: member.clone(),
        },
        CoordinationError::SessionExpired {
            member_id: member.clone(),
            lost_groups: vec![group.clone()],
            lost_candidacies: vec![group.clone()],
        },
        CoordinationError::NotStarted,
        CoordinationError::AlreadyStarted,
        CoordinationError::Connection("refused".into()),
        CoordinationError::InvalidId {
            kind: IdKind::Group,
            value: String::new(),
            reason: "must not be empty".into(),
        },
        CoordinationError::CapabilitiesTooLarge {
            size: 70_000,
            limit: 65_536,
        },
        CoordinationError::InvalidUrl {
            url: "nope://".into(),
            problem: UrlProblem::DuplicateOption("timeout".into()),
        },
        CoordinationError::HistoryLost {
            requested: 1,
            oldest: 9,
        },
        CoordinationError::NotPermitted("create_group".into()),
        CoordinationError::LockNotHeld(roster::LockName::new("l").unwrap()),
        CoordinationError::InvalidId {
            kind: IdKind::Lock,
            value: String::new(),
            reason: "must not be empty".into(),
        },
    ];
    for error in &errors {
        let body = ErrorBody {
            error: ErrorDetail::from(error),
        };
        api.assert_component("ErrorBody", &serde_json::to_value(&body).unwrap());
    }
}

// ----- router and document -----

/// Placeholder arguments for a template's parameters.
pub(crate) fn probe_args(template: &str) -> Vec<&'static str> {
    template
        .split('/')
        .filter(|part| part.starts_with('{'))
        .map(|_| "probe")
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_operation_is_routed_to_a_handler() {
    let daemon = Daemon::on("memory://openapi-routes").await;
    for (template, method) in daemon.api.operations() {
        let path = fill(&template, &probe_args(&template));
        let has_body = daemon.api.operation(&template, &method)["requestBody"].is_object();
        let reply = daemon
            .exchange(method.clone(), &template, &path, "", |r| {
                if has_body {
                    r.header(CONTENT_TYPE, "application/json").body("{}")
                } else {
                    r
                }
            })
            .await;
        assert_ne!(
            reply.status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}"
        );
        if let Some(body) = &reply.body {
            assert_ne!(
                body["error"]["code"], "not-found",
                "{method} {path} met the fallback"
            );
        }
    }
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn methods_a_documented_path_does_not_have_are_not_allowed() {
    let daemon = Daemon::on("memory://openapi-methods").await;
    let api = &daemon.api;
    let schema = &api.doc["components"]["responses"]["MethodNotAllowed"]["content"]["application/json"]
        ["schema"];
    let mut refused = 0;
    for (template, item) in api.doc["paths"].as_object().unwrap() {
        let path = fill(template, &probe_args(template));
        for method in METHODS {
            if item.get(method.as_str().to_lowercase()).is_some() {
                continue;
            }
            let (status, body) = daemon.undocumented(method.clone(), &path).await;
            assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
            assert_eq!(body["error"]["code"], "method-not-allowed");
            api.assert_valid(schema, &body, &format!("{method} {path}"));
            refused += 1;
        }
    }
    assert!(refused > 0);
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paths_the_document_does_not_have_meet_the_not_found_fallback() {
    let daemon = Daemon::on("memory://openapi-fallback").await;
    let api = &daemon.api;
    let schema =
        &api.doc["components"]["responses"]["NotFound"]["content"]["application/json"]["schema"];
    let probes = [
        (Method::GET, "/"),
        (Method::GET, "/v1"),
        (Method::GET, "/v1/"),
        (Method::GET, "/v2/status"),
        (Method::GET, "/v1/status/"),
        (Method::PUT, "/v1/groups/"),
        (Method::GET, "/v1/groups/g/members/"),
        (Method::GET, "/v1/groups/a/b/c"),
        (Method::POST, "/v1/sessions/s/heartbeat/now"),
        (Method::PUT, "/v1/elections/g"),
        (Method::DELETE, "/v1/nothing"),
    ];
    for (method, path) in probes {
        let templates = api.doc["paths"].as_object().unwrap().keys();
        assert!(
            !templates.clone().any(|t| matches_template(t, path)),
            "{path} is documented"
        );
        let (status, body) = daemon.undocumented(method.clone(), path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}");
        assert_eq!(body["error"]["code"], "not-found", "{method} {path}");
        api.assert_valid(schema, &body, &format!("{method} {path}"));
    }
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_serves_this_document() {
    let daemon = Daemon::on("memory://openapi-document").await;
    let reply = daemon.call(Method::GET, "/v1/openapi.json", &[]).await;
    reply.expect(200, None);
    assert_eq!(reply.json(), &daemon.api.doc);
    daemon.stop().await;
}

// ----- the calls, as documented -----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn locks_are_acquired_waited_for_and_released_as_documented() {
    const LOCK: &str = "/v1/sessions/{session}/locks/{lock}";
    const WAIT: &str = "/v1/sessions/{session}/locks/{lock}/wait";
    const ABANDON: &str = "/v1/sessions/{session}/locks/{lock}/abandon";
    let d = Daemon::on("memory://openapi-locks").await;
    let alice = d.open_session("alice").await;
    let bob = d.open_session("bob").await;
    let carol = d.open_session("carol").await;

    let first = d
        .call_json(Method::POST, LOCK, &[&alice, "jobs/1"], json!({}))
        .await;
    first.expect(200, None);
    assert_eq!(first.json()["state"], "acquired");
    let token = first.json()["token"].as_u64().unwrap();
    let again = d
        .call_json(Method::POST, LOCK, &[&alice, "jobs/1"], json!({}))
        .await;
    again.expect(200, None);
    assert_eq!(
        again.json()["token"],
        token,
        "a retry answers with the same acquisition"
    );
    let busy = d
        .call_json(
            Method::POST,
            LOCK,
            &[&bob, "jobs/1"],
            json!({"mode": "shared"}),
        )
        .await;
    busy.expect(200, None);
    assert_eq!(busy.json()["state"], "busy");
    let queued = d
        .call_json(
            Method::POST,
            LOCK,
            &[&bob, "jobs/1"],
            json!({"mode": "exclusive", "wait": true, "wait_ms": 50}),
        )
        .await;
    queued.expect(200, None);
    assert_eq!(queued.json()["state"], "queued");
    let standing = d.call(Method::GET, LOCK, &[&bob, "jobs/1"]).await;
    standing.expect(200, None);
    assert_eq!(
        standing.json(),
        &json!({"state": "waiting", "mode": "exclusive"})
    );
    d.call_json(
        Method::POST,
        LOCK,
        &[&carol, "jobs/1"],
        json!({"wait": true}),
    )
    .await
    .expect(200, None);
    let info = d.call(Method::GET, "/v1/locks/{lock}", &["jobs/1"]).await;
    info.expect(200, None);
    assert_eq!(info.json()["holders"][0]["member_id"], "alice");
    assert_eq!(info.json()["waiters"][0]["member_id"], "bob");
    assert_eq!(info.json()["waiters"][1]["member_id"], "carol");
    let listed = d.call(Method::GET, "/v1/locks", &[]).await;
    listed.expect(200, None);
    assert_eq!(listed.json()["locks"][0]["lock"], "jobs/1");

    // Carol gives up; alice's release serves bob, whose wait ends with the grant.
    let abandoned = d.call(Method::POST, ABANDON, &[&carol, "jobs/1"]).await;
    abandoned.expect(200, None);
    assert_eq!(abandoned.json()["token"], Value::Null);
    let released = d.call(Method::DELETE, LOCK, &[&alice, "jobs/1"]).await;
    released.expect(200, None);
    assert_eq!(released.json()["token"], token);
    let granted = d
        .call_json(
            Method::POST,
            WAIT,
            &[&bob, "jobs/1"],
            json!({"wait_ms": 1000}),
        )
        .await;
    granted.expect(200, None);
    assert_eq!(granted.json()["state"], "acquired");
    let bobs = granted.json()["token"].as_u64().unwrap();
    assert!(bobs > token, "tokens only grow");
    let broken = d
        .call(
            Method::POST,
            "/v1/sessions/{session}/locks/{lock}/break",
            &[&carol, "jobs/1"],
        )
        .await;
    broken.expect(200, None);
    assert_eq!(broken.json()["tokens"], json!([bobs]));
    d.call(Method::DELETE, LOCK, &[&bob, "jobs/1"])
        .await
        .expect(409, Some("lock-not-held"));

    // Errors.
    d.call(Method::DELETE, LOCK, &[&alice, "jobs/1"])
        .await
        .expect(409, Some("lock-not-held"));
    d.call_json(
        Method::POST,
        WAIT,
        &[&carol, "jobs/1"],
        json!({"wait_ms": 0}),
    )
    .await
    .expect(409, Some("lock-not-held"));
    d.call_json(
        Method::POST,
        LOCK,
        &[&alice, "x"],
        json!({"wait_ms": 60_001}),
    )
    .await
    .expect(400, Some("bad-request"));
    d.call_json(
        Method::POST,
        LOCK,
        &[&alice, "x"],
        json!({"mode": "sideways"}),
    )
    .await
    .expect(400, Some("bad-request"));
    d.call_json(Method::POST, LOCK, &[&alice, "a\u{7}"], json!({}))
        .await
        .expect(400, Some("invalid-id"));
    d.call(Method::GET, "/v1/locks/{lock}", &["a\u{7}"])
        .await
        .expect(400, Some("invalid-id"));
    d.call_json(Method::POST, LOCK, &["no-such-session", "x"], json!({}))
        .await
        .expect(404, Some("session-not-found"));

    // A closed session's hold goes to nobody waiting: the lock is forgotten.
    d.call(Method::DELETE, "/v1/sessions/{session}", &[&bob])
        .await
        .expect(204, None);
    let gone = d.call(Method::GET, "/v1/locks/{lock}", &["jobs/1"]).await;
    gone.expect(200, None);
    assert_eq!(
        gone.json(),
        &json!({"lock": "jobs/1", "holders": [], "waiters": []})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_join_elect_and_leave_as_documented() {
    const SESSION: &str = "/v1/sessions/{session}";
    const HEARTBEAT: &str = "/v1/sessions/{session}/heartbeat";
    const MEMBERSHIP: &str = "/v1/sessions/{session}/groups/{group}";
    const CAPABILITIES: &str = "/v1/sessions/{session}/groups/{group}/capabilities";
    const ELECTION: &str = "/v1/sessions/{session}/elections/{group}";
    const STAND_DOWN: &str = "/v1/sessions/{session}/elections/{group}/stand-down";
    const GROUP: &str = "/v1/groups/{group}";
    const MEMBERS: &str = "/v1/groups/{group}/members";
    const MEMBER: &str = "/v1/groups/{group}/members/{member}";
    const LEADER: &str = "/v1/groups/{group}/leader";

    let d = Daemon::on("memory://openapi-calls").await;
    let alice = d.open_session("alice").await;
    let bob = d.open_session("bob").await;

    let session = d.call(Method::GET, SESSION, &[&alice]).await;
    session.expect(200, None);
    assert_eq!(session.json()["ttl_ms"], 60_000);
    let beat = d.call(Method::POST, HEARTBEAT, &[&alice]).await;
    beat.expect(200, None);
    assert!(beat.json()["expires_in_ms"].as_u64().unwrap() <= 60_000);

    // Groups and membership.
    d.call(Method::PUT, GROUP, &["work ers/1"])
        .await
        .expect(201, None);
    d.call(Method::PUT, GROUP, &["work ers/1"])
        .await
        .expect(409, Some("group-already-exist"));
    let caps = json!({"capabilities": "{\"weight\": 5}"});
    d.call_json(
        Method::PUT,
        MEMBERSHIP,
        &[&alice, "work ers/1"],
        caps.clone(),
    )
    .await
    .expect(201, None);
    d.call_json(Method::PUT, MEMBERSHIP, &[&alice, "work ers/1"], caps)
        .await
        .expect(409, Some("member-already-exist"));
    d.call_json(Method::PUT, MEMBERSHIP, &[&bob, "absent"], json!({}))
        .await
        .expect(404, Some("group-not-created"));
    d.call_json(
        Method::PUT,
        MEMBERSHIP,
        &[&bob, "other"],
        json!({"capabilities": {"base64": "/wCB"}, "create_group": true}),
    )
    .await
    .expect(201, None);
    d.call_json(
        Method::PUT,
        CAPABILITIES,
        &[&alice, "work ers/1"],
        json!({"capabilities": "{\"weight\": 7}"}),
    )
    .await
    .expect(204, None);
    d.call_json(
        Method::PUT,
        CAPABILITIES,
        &[&bob, "work ers/1"],
        json!({"capabilities": ""}),
    )
    .await
    .expect(404, Some("member-not-joined"));

    let members = d.call(Method::GET, MEMBERS, &["work ers/1"]).await;
    members.expect(200, None);
    assert_eq!(members.json()["group_id"], "work ers/1");
    assert_eq!(members.json()["members"][0]["member_id"], "alice");
    assert_eq!(
        members.json()["members"][0]["capabilities"],
        "{\"weight\": 7}"
    );
    let binary = d.call(Method::GET, MEMBER, &["other", "bob"]).await;
    binary.expect(200, None);
    assert_eq!(binary.json()["capabilities"], json!({"base64": "/wCB"}));
    d.call(Method::GET, MEMBER, &["other", "alice"])
        .await
        .expect(404, Some("member-not-joined"));

    // Elections: alice stands first and leads; bob (not a member) stands too.
    let leader = d.call(Method::GET, LEADER, &["work ers/1"]).await;
    leader.expect(200, None);
    assert_eq!(leader.json()["leader"], Value::Null);
    for _ in 0..2 {
        d.call(Method::PUT, ELECTION, &[&alice, "work ers/1"])
            .await
            .expect(204, None);
    }
    d.call(Method::PUT, ELECTION, &[&bob, "work ers/1"])
        .await
        .expect(204, None);
    d.call(Method::PUT, ELECTION, &[&bob, "absent"])
        .await
        .expect(404, Some("group-not-created"));
    let leader = d.call(Method::GET, LEADER, &["work ers/1"]).await;
    assert_eq!(leader.json()["leader"]["member_id"], "alice");
    let stood = d
        .call(Method::POST, STAND_DOWN, &[&alice, "work ers/1"])
        .await;
    stood.expect(200, None);
    assert_eq!(stood.json()["was_leader"], true);
    let stood = d
        .call(Method::POST, STAND_DOWN, &[&alice, "work ers/1"])
        .await;
    assert_eq!(stood.json()["was_leader"], false);
    let leader = d.call(Method::GET, LEADER, &["work ers/1"]).await;
    assert_eq!(leader.json()["leader"]["member_id"], "bob");
    d.call(Method::DELETE, ELECTION, &[&bob, "work ers/1"])
        .await
        .expect(204, None);
    d.call(Method::DELETE, ELECTION, &[&bob, "work ers/1"])
        .await
        .expect(404, Some("watch-callback-not-found"));
    d.call(Method::POST, STAND_DOWN, &[&bob, "absent"])
        .await
        .expect(404, Some("group-not-created"));

    // Overviews.
    let groups = d.call(Method::GET, "/v1/groups", &[]).await;
    groups.expect(200, None);
    let names: Vec<&Value> = groups.json()["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| &g["group_id"])
        .collect();
    assert_eq!(names, [&json!("other"), &json!("work ers/1")]);
    let status = d.call(Method::GET, "/v1/status", &[]).await;
    status.expect(200, None);
    assert_eq!(status.json()["sessions"], 2);
    let snapshot = d.call(Method::GET, "/v1/snapshot", &[]).await;
    snapshot.expect(200, None);
    let snapshot = snapshot.json();
    assert_eq!(snapshot["revision"], status.json()["revision"]);
    assert_eq!(snapshot["store_id"], status.json()["store_id"]);
    let busy = &snapshot["groups"][1];
    assert_eq!(busy["group_id"], "work ers/1");
    assert_eq!(busy["complete"], true);
    assert_eq!(
        busy["members"].as_array().unwrap().len(),
        busy["member_count"].as_u64().unwrap() as usize
    );
    let truncated = d
        .exchange(
            Method::GET,
            "/v1/snapshot",
            "/v1/snapshot",
            "?max_members=0",
            |r| r,
        )
        .await;
    truncated.expect(200, None);
    assert_eq!(truncated.json()["groups"][1]["complete"], false);
    assert_eq!(truncated.json()["groups"][1]["members"], json!([]));
    d.exchange(
        Method::GET,
        "/v1/snapshot",
        "/v1/snapshot",
        "?max_members=-1",
        |r| r,
    )
    .await
    .expect(400, Some("bad-request"));
    let plugins = d.call(Method::GET, "/v1/plugins", &[]).await;
    plugins.expect(200, None);
    assert_eq!(plugins.json()["plugins"], json!([]));

    // Leaving, closing, deleting.
    d.call(Method::DELETE, GROUP, &["work ers/1"])
        .await
        .expect(409, Some("group-not-empty"));
    d.call(Method::DELETE, MEMBERSHIP, &[&alice, "work ers/1"])
        .await
        .expect(204, None);
    d.call(Method::DELETE, MEMBERSHIP, &[&alice, "work ers/1"])
        .await
        .expect(404, Some("member-not-joined"));
    d.call(Method::DELETE, MEMBERSHIP, &[&alice, "absent"])
        .await
        .expect(404, Some("group-not-created"));
    d.call(Method::DELETE, SESSION, &[&alice])
        .await
        .expect(204, None);
    d.call(Method::GET, SESSION, &[&alice])
        .await
        .expect(404, Some("session-not-found"));
    d.call(Method::POST, HEARTBEAT, &[&alice])
        .await
        .expect(404, Some("session-not-found"));
    d.call(Method::DELETE, SESSION, &[&alice])
        .await
        .expect(404, Some("session-not-found"));
    // Closing bob's session takes his membership of "other" with it.
    d.call(Method::DELETE, SESSION, &[&bob])
        .await
        .expect(204, None);
    let members = d.call(Method::GET, MEMBERS, &["other"]).await;
    assert_eq!(members.json()["members"], json!([]));
    for group in ["work ers/1", "other"] {
        d.call(Method::DELETE, GROUP, &[group])
            .await
            .expect(204, None);
    }
    d.call(Method::DELETE, GROUP, &["other"])
        .await
        .expect(404, Some("group-not-created"));
    d.call(Method::GET, LEADER, &["other"])
        .await
        .expect(404, Some("group-not-created"));
    d.call(Method::GET, MEMBERS, &["other"])
        .await
        .expect(404, Some("group-not-created"));
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_get_documented_errors_and_the_daemon_keeps_serving() {
    const SESSIONS: &str = "/v1/sessions";
    const MEMBERSHIP: &str = "/v1/sessions/{session}/groups/{group}";
    const CAPABILITIES: &str = "/v1/sessions/{session}/groups/{group}/capabilities";
    const JSON: Option<&str> = Some("application/json");
    let d = Daemon::on("memory://openapi-malformed").await;

    // Opening a session.
    for body in [
        "{not json",
        "",
        "[]",
        "{}",
        r#"{"member_id": "m", "colour": "red"}"#,
        r#"{"member_id": ""}"#,
        r#"{"member_id": "a\u0001b"}"#,
        r#"{"member_id": 7}"#,
        r#"{"member_id": "m", "ttl_ms": 5}"#,
        r#"{"member_id": "m", "ttl_ms": 86400001}"#,
        r#"{"member_id": "m", "ttl_ms": "soon"}"#,
    ] {
        d.call_raw(Method::POST, SESSIONS, &[], body, JSON)
            .await
            .expect(400, Some("bad-request"));
    }
    d.call_raw(Method::POST, SESSIONS, &[], r#"{"member_id": "m"}"#, None)
        .await
        .expect(400, Some("bad-request"));
    d.call_raw(
        Method::POST,
        SESSIONS,
        &[],
        r#"{"member_id": "m"}"#,
        Some("text/plain"),
    )
    .await
    .expect(400, Some("bad-request"));
    let huge = format!(
        r#"{{"member_id": "m", "padding": "{}"}}"#,
        "x".repeat(roster_server::body_limit(64 * 1024))
    );
    d.call_raw(Method::POST, SESSIONS, &[], huge.clone(), JSON)
        .await
        .expect(413, Some("payload-too-large"));

    // Membership calls.
    let session = d.open_session("m").await;
    d.call(Method::PUT, "/v1/groups/{group}", &["g"])
        .await
        .expect(201, None);
    for body in ["{", r#"{"caps": "x"}"#, r#"{"capabilities": 5}"#] {
        d.call_raw(Method::PUT, MEMBERSHIP, &[&session, "g"], body, JSON)
            .await
            .expect(400, Some("bad-request"));
    }
    d.call_raw(
        Method::PUT,
        MEMBERSHIP,
        &[&session, "g"],
        r#"{"capabilities": {"base64": "not base64!"}}"#,
        JSON,
    )
    .await
    .expect(400, Some("bad-request"));
    d.call_raw(
        Method::PUT,
        MEMBERSHIP,
        &[&session, "g"],
        huge.clone(),
        JSON,
    )
    .await
    .expect(413, Some("payload-too-large"));
    let too_many_capabilities = json!({"capabilities": "c".repeat(100 * 1024)});
    d.call_json(
        Method::PUT,
        MEMBERSHIP,
        &[&session, "g"],
        too_many_capabilities.clone(),
    )
    .await
    .expect(413, Some("capabilities-too-large"));
    d.call_json(
        Method::PUT,
        MEMBERSHIP,
        &["no-such-session", "g"],
        json!({}),
    )
    .await
    .expect(404, Some("session-not-found"));
    d.call_json(Method::PUT, MEMBERSHIP, &[&session, "g"], json!({}))
        .await
        .expect(201, None);
    d.call_raw(Method::PUT, CAPABILITIES, &[&session, "g"], "", JSON)
        .await
        .expect(400, Some("bad-request"));
    d.call_raw(Method::PUT, CAPABILITIES, &[&session, "g"], "{}", JSON)
        .await
        .expect(400, Some("bad-request"));
    d.call_json(
        Method::PUT,
        CAPABILITIES,
        &[&session, "g"],
        too_many_capabilities,
    )
    .await
    .expect(413, Some("capabilities-too-large"));

    // Invalid ids in paths.
    let long = "g".repeat(256);
    for group in ["a\u{1}b", long.as_str(), "tab\there"] {
        d.call(Method::PUT, "/v1/groups/{group}", &[group])
            .await
            .expect(400, Some("invalid-id"));
        d.call(Method::GET, "/v1/groups/{group}/members", &[group])
            .await
            .expect(400, Some("invalid-id"));
        d.call_json(Method::PUT, MEMBERSHIP, &[&session, group], json!({}))
            .await
            .expect(400, Some("invalid-id"));
    }
    d.call(
        Method::GET,
        "/v1/groups/{group}/members/{member}",
        &["g", "a\u{7f}"],
    )
    .await
    .expect(400, Some("invalid-id"));
    // Raw paths: an empty segment is routed and refused as an id; a segment that is not
    // UTF-8 once decoded is a bad request.
    for (template, path, code) in [
        (
            "/v1/groups/{group}/members",
            "/v1/groups//members",
            "invalid-id",
        ),
        ("/v1/sessions/{session}", "/v1/sessions/%FF", "bad-request"),
        (
            "/v1/groups/{group}/leader",
            "/v1/groups/%C3%28/leader",
            "bad-request",
        ),
    ] {
        d.exchange(Method::GET, template, path, "", |r| r)
            .await
            .expect(400, Some(code));
    }

    // The event stream's parameters.
    let head = d.head_revision().await;
    for query in [
        "?from=soon".to_owned(),
        "?from=-1".to_owned(),
        format!("?from={}", head + 2),
        "?colour=red".to_owned(),
    ] {
        d.events(&query, None)
            .await
            .expect(400, Some("bad-request"));
    }
    d.events("?group=%01", None)
        .await
        .expect(400, Some("invalid-id"));
    d.events("", Some("yesterday"))
        .await
        .expect(400, Some("bad-request"));
    // The largest revision as `Last-Event-ID` is a start beyond the newest: refused, not
    // wrapped around.
    let overflowing = d
        .client
        .get(format!("{}/v1/events", d.base))
        .header("Last-Event-ID", u64::MAX.to_string())
        .send()
        .await
        .unwrap();
    let reply = d.api.check(&Method::GET, "/v1/events", overflowing).await;
    reply.expect(400, Some("bad-request"));

    // Still serving, with one session and its one membership.
    let status = d.call(Method::GET, "/v1/status", &[]).await;
    status.expect(200, None);
    assert_eq!(status.json()["sessions"], 1);
    let members = d
        .call(Method::GET, "/v1/groups/{group}/members", &["g"])
        .await;
    assert_eq!(members.json()["members"].as_array().unwrap().len(), 1);
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daemon_at_its_session_limit_refuses_more_sessions() {
    let d = Daemon::start(ServeConfig {
        max_sessions: 1,
        ..runtime_config("memory://openapi-limit")
    })
    .await;
    d.open_session("first").await;
    d.call_json(
        Method::POST,
        "/v1/sessions",
        &[],
        json!({"member_id": "second"}),
    )
    .await
    .expect(429, Some("too-many-sessions"));
    d.stop().await;
}

// ----- the event stream -----

/// The `data` schema the document gives the stream's messages.
fn stream_data_schema(api: &Api) -> &Value {
    let content = &api.operation("/v1/events", &Method::GET)["responses"]["200"]["content"];
    &content["text/event-stream"]["x-data-schema"]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_event_stream_sends_every_change_as_a_documented_event() {
    const MEMBERSHIP: &str = "/v1/sessions/{session}/groups/{group}";
    const LOCK: &str = "/v1/sessions/{session}/locks/{lock}";
    const ELECTION: &str = "/v1/sessions/{session}/elections/{group}";
    let d = Daemon::on("memory://openapi-events").await;
    let session = d.open_session("m").await;
    // One change of every kind.
    d.call(Method::PUT, "/v1/groups/{group}", &["g"])
        .await
        .expect(201, None);
    d.call_json(Method::PUT, MEMBERSHIP, &[&session, "g"], json!({}))
        .await
        .expect(201, None);
    d.call_json(
        Method::PUT,
        "/v1/sessions/{session}/groups/{group}/capabilities",
        &[&session, "g"],
        json!({"capabilities": {"base64": "/wCB"}}),
    )
    .await
    .expect(204, None);
    d.call(Method::PUT, ELECTION, &[&session, "g"])
        .await
        .expect(204, None);
    d.call(
        Method::POST,
        "/v1/sessions/{session}/elections/{group}/stand-down",
        &[&session, "g"],
    )
    .await
    .expect(200, None);
    d.call(Method::DELETE, ELECTION, &[&session, "g"])
        .await
        .expect(204, None);
    d.call(Method::DELETE, MEMBERSHIP, &[&session, "g"])
        .await
        .expect(204, None);
    d.call(Method::DELETE, "/v1/groups/{group}", &["g"])
        .await
        .expect(204, None);
    d.call_json(Method::POST, LOCK, &[&session, "l"], json!({}))
        .await
        .expect(200, None);
    d.call(Method::DELETE, LOCK, &[&session, "l"])
        .await
        .expect(200, None);
    let head = d.head_revision().await;

    let data_schema = stream_data_schema(&d.api);
    let mut stream = d.stream("?from=1", None).await;
    let mut kinds = BTreeSet::new();
    for revision in 1..=head {
        let message = stream.next().await;
        assert_eq!(message.event, None, "{message:?}");
        assert_eq!(message.id, Some(revision.to_string()), "{message:?}");
        d.api.assert_component("Event", &message.data);
        d.api
            .assert_valid(data_schema, &message.data, "stream data");
        assert_eq!(message.data["revision"], revision);
        kinds.insert(message.data["kind"].as_str().unwrap().to_owned());
    }
    let documented: BTreeSet<String> = d.api.doc["components"]["schemas"]["Event"]["discriminator"]
        ["mapping"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(kinds, documented, "every kind of change was streamed");
    drop(stream);

    // Revision 0 is the initial state, not a change: a stream from 0 starts at the first.
    let mut from_zero = d.stream("?from=0", None).await;
    assert_eq!(from_zero.next().await.id.as_deref(), Some("1"));
    drop(from_zero);

    // Last-Event-ID resumes after the revision it names, whatever `from` says.
    let mut resumed = d.stream("?from=1", Some("3")).await;
    assert_eq!(resumed.next().await.id.as_deref(), Some("4"));
    drop(resumed);

    // A group filter sends that group's changes only, with the store's revisions.
    let mut filtered = d.stream("?from=1&group=h", None).await;
    d.call(Method::PUT, "/v1/groups/{group}", &["other"])
        .await
        .expect(201, None);
    d.call(Method::PUT, "/v1/groups/{group}", &["h"])
        .await
        .expect(201, None);
    let message = filtered.next().await;
    d.api.assert_component("Event", &message.data);
    assert_eq!(message.data["group_id"], "h");
    assert_eq!(message.id, Some((head + 2).to_string()));
    drop(filtered);
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_older_than_the_history_starts_with_a_documented_resync() {
    let d = Daemon::start(ServeConfig {
        history: Some(4),
        ..runtime_config("memory://openapi-resync")
    })
    .await;
    for i in 0..10 {
        d.call(Method::PUT, "/v1/groups/{group}", &[&format!("g{i}")])
            .await
            .expect(201, None);
    }
    let status = d.call(Method::GET, "/v1/status", &[]).await;
    let oldest = status.json()["oldest_revision"].as_u64().unwrap();
    assert!(oldest > 1, "the history was trimmed");

    let mut stream = d.stream("?from=1", None).await;
    let resync = stream.next().await;
    assert_eq!(resync.event.as_deref(), Some("resync"));
    assert_eq!(resync.id, None);
    d.api.assert_component("Resync", &resync.data);
    d.api
        .assert_valid(stream_data_schema(&d.api), &resync.data, "resync data");
    let store = status.json()["store_id"].clone();
    assert_eq!(
        resync.data,
        json!({"requested": 1, "oldest": oldest, "store": store})
    );
    let next = stream.next().await;
    assert_eq!(next.id, Some(oldest.to_string()));
    d.api.assert_component("Event", &next.data);
    drop(stream);
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_that_stops_heartbeating_expires_and_its_next_heartbeat_is_told() {
    let d = Daemon::on("memory://openapi-expiry").await;
    let head = d.head_revision().await;
    let mut stream = d.stream(&format!("?from={}&group=g", head + 1), None).await;
    let opened = d
        .call_json(
            Method::POST,
            "/v1/sessions",
            &[],
            json!({"member_id": "m", "ttl_ms": 100}),
        )
        .await;
    opened.expect(201, None);
    assert_eq!(opened.json()["ttl_ms"], 100);
    let session = opened.json()["session_id"].as_str().unwrap().to_owned();
    d.call_json(
        Method::PUT,
        "/v1/sessions/{session}/groups/{group}",
        &[&session, "g"],
        json!({"create_group": true}),
    )
    .await
    .expect(201, None);
    // No heartbeat: the member leaves by expiry.
    let left = loop {
        let message = stream.next().await;
        d.api.assert_component("Event", &message.data);
        if message.data["kind"] == "member-left" {
            break message.data;
        }
    };
    assert_eq!(left["reason"], "expired");
    let beat = d
        .call(
            Method::POST,
            "/v1/sessions/{session}/heartbeat",
            &[&session],
        )
        .await;
    beat.expect(410, Some("session-expired"));
    assert_eq!(beat.json()["error"]["detail"]["lost_groups"], json!(["g"]));
    assert_eq!(
        beat.json()["error"]["detail"]["lost_candidacies"],
        json!([])
    );
    // The session is live again.
    d.call(
        Method::POST,
        "/v1/sessions/{session}/heartbeat",
        &[&session],
    )
    .await
    .expect(200, None);
    drop(stream);
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polled_changes_are_contiguous_documented_and_name_their_revision() {
    let d = Daemon::start(ServeConfig {
        history: Some(4),
        ..runtime_config("memory://openapi-changes")
    })
    .await;
    let changes = |query: String| {
        let d = &d;
        async move {
            d.exchange(Method::GET, "/v1/changes", "/v1/changes", &query, |r| r)
                .await
        }
    };
    let head = d.head_revision().await;

    // Nothing new: an empty answer after the wait.
    let store = d.call(Method::GET, "/v1/status", &[]).await.json()["store_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let idle = changes(format!("?after={head}&wait_ms=20&store={store}")).await;
    idle.expect(200, None);
    assert_eq!(
        idle.json(),
        &json!({"store": store, "head": head, "events": []})
    );
    assert_eq!(idle.store.as_deref(), Some(store.as_str()));

    // A change made while a poll waits ends the wait with that change.
    let poll = tokio::spawn({
        let url = format!("{}/v1/changes?after={head}&wait_ms=30000", d.base);
        let client = d.client.clone();
        async move {
            let response = client.get(url).send().await.unwrap();
            response.json::<Value>().await.unwrap()
        }
    });
    let created = d
        .exchange(
            Method::PUT,
            "/v1/groups/{group}",
            "/v1/groups/g0",
            "",
            |r| r,
        )
        .await;
    created.expect(201, None);
    let woken = poll.await.unwrap();
    d.api.assert_component("Changes", &woken);
    assert_eq!(woken["events"][0]["revision"], head + 1);
    assert_eq!(woken["events"][0]["kind"], "group-created");

    // Every answer names the store's revision in its header.
    let response = d
        .client
        .put(format!("{}/v1/groups/g1", d.base))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.headers()["roster-revision"].to_str().unwrap(),
        (head + 2).to_string()
    );

    // `max` bounds a batch; the next poll continues exactly after it.
    for i in 2..4 {
        d.call(Method::PUT, "/v1/groups/{group}", &[&format!("g{i}")])
            .await
            .expect(201, None);
    }
    let first = changes(format!("?after={head}&max=2")).await;
    first.expect(200, None);
    let revisions = |reply: &Value| -> Vec<u64> {
        reply["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["revision"].as_u64().unwrap())
            .collect()
    };
    assert_eq!(revisions(first.json()), [head + 1, head + 2]);
    let rest = changes(format!("?after={}", head + 2)).await;
    assert_eq!(revisions(rest.json()), [head + 3, head + 4]);

    // Older than the history kept: a resync naming the gap, no events.
    for i in 4..10 {
        d.call(Method::PUT, "/v1/groups/{group}", &[&format!("g{i}")])
            .await
            .expect(201, None);
    }
    let gone = changes("?after=0".into()).await;
    gone.expect(200, None);
    let oldest = d.call(Method::GET, "/v1/status", &[]).await.json()["oldest_revision"]
        .as_u64()
        .unwrap();
    assert_eq!(
        gone.json()["resync"],
        json!({"requested": 1, "oldest": oldest, "store": store})
    );
    assert_eq!(gone.json()["events"], json!([]));

    // Bad queries are refused with the reason.
    let now = d.head_revision().await;
    for query in [
        format!("?after={}", now + 1),
        "?after=x".into(),
        "?max=3".into(),
        format!("?after={now}&max=0"),
        format!("?after={now}&wait_ms=60001"),
        format!("?after={now}&since=1"),
    ] {
        changes(query.clone())
            .await
            .expect(400, Some("bad-request"));
    }
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poll_or_stream_naming_another_store_gets_a_documented_resync_naming_this_one() {
    let d = Daemon::on("memory://openapi-replaced").await;
    for i in 0..5 {
        d.call(Method::PUT, "/v1/groups/{group}", &[&format!("g{i}")])
            .await
            .expect(201, None);
    }
    let status = d.call(Method::GET, "/v1/status", &[]).await;
    let store = status.json()["store_id"].as_str().unwrap().to_owned();
    // A client that followed a store this daemon does not serve (its previous run): the
    // changes after its revision 3 are not this store's 4 and 5, and its revision 9 is not
    // in this store's future.
    for after in [3, 9] {
        let reply = d
            .exchange(
                Method::GET,
                "/v1/changes",
                "/v1/changes",
                &format!("?after={after}&store=gone&wait_ms=30000"),
                |r| r,
            )
            .await;
        reply.expect(200, None);
        assert_eq!(
            reply.json(),
            &json!({
                "store": store,
                "head": 5,
                "events": [],
                "resync": {"requested": after + 1, "oldest": 1, "store": store},
            })
        );
        assert_eq!(reply.store.as_deref(), Some(store.as_str()));
    }

    // A stream resumed in that store starts with the resync, then this store's history.
    let mut stream = d.stream("?store=gone", Some("3")).await;
    let resync = stream.next().await;
    assert_eq!(resync.event.as_deref(), Some("resync"));
    d.api
        .assert_valid(stream_data_schema(&d.api), &resync.data, "resync data");
    assert_eq!(
        resync.data,
        json!({"requested": 4, "oldest": 1, "store": store})
    );
    assert_eq!(stream.next().await.id.as_deref(), Some("1"));
    drop(stream);

    // Naming this store changes nothing.
    let mut stream = d.stream(&format!("?store={store}"), Some("3")).await;
    assert_eq!(stream.next().await.id.as_deref(), Some("4"));
    drop(stream);
    d.stop().await;
}
