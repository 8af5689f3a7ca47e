//! etcd's v3 API through its JSON gateway (`/v3/...`): the requests this driver makes and
//! the parts of the answers it reads. Keys and values travel base64-encoded; 64-bit numbers
//! come back as JSON strings, and fields at their default value are left out.

use std::time::Instant;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::http::{Http, Stream};

/// Why an etcd request failed.
#[derive(Debug)]
pub enum EtcdError {
    /// etcd could not be reached, or answered with something that is not its API.
    Connection(String),
    /// etcd answered with an error (gRPC status `code`).
    Server { code: i64, message: String },
}

impl EtcdError {
    /// The revision asked for was compacted away: read again at a newer one.
    pub fn compacted(&self) -> bool {
        matches!(self, EtcdError::Server { message, .. } if message.contains("compacted"))
    }

    /// A lease named in the request does not exist (it expired or was revoked).
    pub fn lease_not_found(&self) -> bool {
        matches!(self, EtcdError::Server { message, .. } if message.contains("lease not found"))
    }

    pub fn message(&self) -> String {
        match self {
            EtcdError::Connection(message) => message.clone(),
            EtcdError::Server { code, message } => format!("{message} (code {code})"),
        }
    }
}

pub type EtcdResult<T> = Result<T, EtcdError>;

mod b64 {
    use super::*;

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&B64.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        B64.decode(text).map_err(serde::de::Error::custom)
    }
}

/// A key: text in this driver, base64 on the wire.
mod b64_text {
    use super::*;

    pub fn serialize<S: Serializer>(text: &str, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&B64.encode(text.as_bytes()))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        let bytes = super::b64::deserialize(d)?;
        String::from_utf8(bytes).map_err(serde::de::Error::custom)
    }
}

/// A 64-bit number given as a JSON string (as the gateway writes them) or a number.
fn number<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Number {
        Text(String),
        Number(i64),
    }
    match Number::deserialize(d)? {
        Number::Number(n) => Ok(n),
        Number::Text(text) => text.parse().map_err(serde::de::Error::custom),
    }
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

fn is_false(b: &bool) -> bool {
    !*b
}

#[derive(Debug, Default, Deserialize)]
pub struct Header {
    #[serde(default, deserialize_with = "number")]
    pub revision: i64,
}

#[derive(Debug, Default, Deserialize)]
pub struct KeyValue {
    #[serde(with = "b64_text")]
    pub key: String,
    #[serde(default, with = "b64")]
    pub value: Vec<u8>,
    #[serde(default, deserialize_with = "number")]
    pub mod_revision: i64,
    /// The lease the key is attached to (0: none); only the tests look.
    #[cfg(test)]
    #[serde(default, deserialize_with = "number")]
    pub lease: i64,
}

/// A range of keys: one key, or `[key, range_end)`.
#[derive(Clone, Debug, Default, Serialize)]
pub struct RangeRequest {
    #[serde(with = "b64_text")]
    pub key: String,
    #[serde(with = "b64_text", skip_serializing_if = "String::is_empty")]
    pub range_end: String,
    #[serde(skip_serializing_if = "is_zero")]
    pub limit: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub revision: i64,
    #[serde(skip_serializing_if = "is_false")]
    pub keys_only: bool,
}

impl RangeRequest {
    pub fn key(key: String) -> Self {
        Self {
            key,
            ..Self::default()
        }
    }

    /// Every key that starts with `prefix`.
    pub fn prefix(prefix: &str) -> Self {
        Self::between(prefix.to_owned(), prefix_end(prefix))
    }

    /// `[start, end)`.
    pub fn between(start: String, end: String) -> Self {
        Self {
            key: start,
            range_end: end,
            ..Self::default()
        }
    }

    pub fn limit(self, limit: i64) -> Self {
        Self { limit, ..self }
    }

    pub fn at(self, revision: i64) -> Self {
        Self { revision, ..self }
    }

    pub fn keys_only(self) -> Self {
        Self {
            keys_only: true,
            ..self
        }
    }
}

/// The first key after every key that starts with `prefix`.
pub fn prefix_end(prefix: &str) -> String {
    let mut end = prefix.as_bytes().to_vec();
    while let Some(last) = end.pop() {
        if last < 0x7f {
            end.push(last + 1);
            break;
        }
    }
    String::from_utf8(end).expect("an ASCII increment of a UTF-8 prefix")
}

#[derive(Debug, Default, Deserialize)]
pub struct RangeResponse {
    #[serde(default)]
    pub kvs: Vec<KeyValue>,
}

#[derive(Debug, Serialize)]
pub struct PutRequest {
    #[serde(with = "b64_text")]
    pub key: String,
    #[serde(with = "b64")]
    pub value: Vec<u8>,
    #[serde(skip_serializing_if = "is_zero")]
    pub lease: i64,
    #[serde(skip_serializing_if = "is_false")]
    pub ignore_lease: bool,
}

#[derive(Debug, Serialize)]
pub struct DeleteRangeRequest {
    #[serde(with = "b64_text")]
    pub key: String,
    #[serde(with = "b64_text", skip_serializing_if = "String::is_empty")]
    pub range_end: String,
}

#[derive(Debug, Serialize)]
pub enum RequestOp {
    #[serde(rename = "request_range")]
    Range(RangeRequest),
    #[serde(rename = "request_put")]
    Put(PutRequest),
    #[serde(rename = "request_delete_range")]
    DeleteRange(DeleteRangeRequest),
}

/// `key`'s modification revision equals `mod_revision` (0: the key does not exist); with a
/// `range_end`, every key of `[key, range_end)` does (for 0: the range is empty).
#[derive(Debug, Serialize)]
pub struct Compare {
    #[serde(with = "b64_text")]
    pub key: String,
    #[serde(with = "b64_text", skip_serializing_if = "String::is_empty")]
    pub range_end: String,
    pub target: &'static str,
    pub result: &'static str,
    pub mod_revision: i64,
}

impl Compare {
    pub fn unchanged(key: String, mod_revision: i64) -> Self {
        Self {
            key,
            range_end: String::new(),
            target: "MOD",
            result: "EQUAL",
            mod_revision,
        }
    }

    /// No key in `[start, end)` exists.
    pub fn empty(start: String, end: String) -> Self {
        Self {
            range_end: end,
            ..Self::unchanged(start, 0)
        }
    }
}

#[derive(Debug, Default, Serialize)]
pub struct TxnRequest {
    pub compare: Vec<Compare>,
    pub success: Vec<RequestOp>,
    pub failure: Vec<RequestOp>,
}

#[derive(Debug, Default, Deserialize)]
pub struct ResponseOp {
    #[serde(default)]
    pub response_range: Option<RangeResponse>,
}

#[derive(Debug, Default, Deserialize)]
pub struct TxnResponse {
    #[serde(default)]
    pub header: Header,
    #[serde(default)]
    pub succeeded: bool,
    #[serde(default)]
    pub responses: Vec<ResponseOp>,
}

#[derive(Debug, Deserialize)]
struct LeaseGrantResponse {
    #[serde(rename = "ID", deserialize_with = "number")]
    id: i64,
    #[serde(default)]
    error: String,
}

#[derive(Debug, Deserialize)]
struct ErrorBody {
    #[serde(default)]
    message: String,
    #[serde(default)]
    error: String,
    #[serde(default)]
    code: i64,
}

#[derive(Debug, Deserialize)]
struct WatchMessage {
    #[serde(default)]
    result: Option<WatchResponse>,
    #[serde(default)]
    error: Option<ErrorBody>,
}

#[derive(Debug, Deserialize)]
struct WatchResponse {
    #[serde(default)]
    canceled: bool,
    #[serde(default)]
    cancel_reason: String,
    #[serde(default)]
    events: Vec<WatchEvent>,
}

#[derive(Debug, Deserialize)]
struct WatchEvent {
    /// `PUT` (left out: the default) or `DELETE`.
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    kv: Option<KeyValue>,
}

/// A client of one etcd server's gateway.
#[derive(Debug)]
pub struct Etcd {
    http: Http,
}

impl Etcd {
    pub fn new(address: String) -> Self {
        Self {
            http: Http::new(address),
        }
    }

    pub fn address(&self) -> &str {
        self.http.address()
    }

    #[cfg(test)]
    pub fn disconnect(&mut self) {
        self.http.disconnect();
    }

    fn call<Q: Serialize, A: for<'de> Deserialize<'de>>(
        &mut self,
        path: &str,
        request: &Q,
    ) -> EtcdResult<A> {
        let body = serde_json::to_vec(request)
            .map_err(|e| EtcdError::Connection(format!("cannot encode a request: {e}")))?;
        let response = self.http.post(path, &body).map_err(EtcdError::Connection)?;
        if response.status != 200 {
            return Err(match serde_json::from_slice::<ErrorBody>(&response.body) {
                Ok(e) => EtcdError::Server {
                    code: e.code,
                    message: if e.message.is_empty() {
                        e.error
                    } else {
                        e.message
                    },
                },
                Err(_) => EtcdError::Connection(format!(
                    "etcd at {}: {path} answered HTTP {}: {}",
                    self.http.address(),
                    response.status,
                    shorten(&response.body)
                )),
            });
        }
        serde_json::from_slice(&response.body).map_err(|e| {
            EtcdError::Connection(format!(
                "etcd at {}: unreadable answer to {path} ({e}): {}",
                self.http.address(),
                shorten(&response.body)
            ))
        })
    }

    pub fn range(&mut self, request: &RangeRequest) -> EtcdResult<RangeResponse> {
        self.call("/v3/kv/range", request)
    }

    pub fn txn(&mut self, request: &TxnRequest) -> EtcdResult<TxnResponse> {
        self.call("/v3/kv/txn", request)
    }

    /// A new lease that lives `ttl_s` seconds; returns its id.
    pub fn grant(&mut self, ttl_s: i64) -> EtcdResult<i64> {
        #[derive(Serialize)]
        struct Grant {
            #[serde(rename = "TTL")]
            ttl: i64,
        }
        let answer: LeaseGrantResponse = self.call("/v3/lease/grant", &Grant { ttl: ttl_s })?;
        if !answer.error.is_empty() {
            return Err(EtcdError::Server {
                code: 0,
                message: answer.error,
            });
        }
        Ok(answer.id)
    }

    /// Watch puts of the keys in `[start, end)` from revision `from` on, on a connection of
    /// the watch's own (closing it cancels the watch).
    pub fn watch(&self, start: &str, end: &str, from: i64) -> EtcdResult<Watch> {
        #[derive(Serialize)]
        struct Create<'a> {
            create_request: CreateRequest<'a>,
        }
        #[derive(Serialize)]
        struct CreateRequest<'a> {
            #[serde(with = "b64_text")]
            key: &'a str,
            #[serde(with = "b64_text")]
            range_end: &'a str,
            start_revision: i64,
            filters: [&'static str; 1],
        }
        let request = Create {
            create_request: CreateRequest {
                key: start,
                range_end: end,
                start_revision: from,
                filters: ["NODELETE"],
            },
        };
        let body = serde_json::to_vec(&request)
            .map_err(|e| EtcdError::Connection(format!("cannot encode a watch: {e}")))?;
        let stream = self
            .http
            .stream("/v3/watch", &body)
            .map_err(EtcdError::Connection)?;
        if stream.status != 200 {
            return Err(EtcdError::Connection(format!(
                "etcd at {}: a watch answered HTTP {}",
                self.http.address(),
                stream.status
            )));
        }
        Ok(Watch {
            stream,
            address: self.http.address().to_owned(),
        })
    }
}

/// A watch of a range's puts, kept open between waits.
#[derive(Debug)]
pub struct Watch {
    stream: Stream,
    address: String,
}

impl Watch {
    /// Wait until keys of the range are put at a revision after `after` (puts up to `after`
    /// that the stream still holds are passed over), or until `deadline`. Returns the puts
    /// of the first message that has any, in the order etcd made them, or none at
    /// `deadline`. An error means the watch is done for (the caller drops it); a watch etcd
    /// canceled (compacted past its start, or shutting down) is an error too.
    pub fn wait_past(&mut self, after: i64, deadline: Instant) -> EtcdResult<Vec<KeyValue>> {
        let address = self.address.clone();
        let fail = |message: String| EtcdError::Connection(format!("etcd at {address}: {message}"));
        loop {
            let Some(line) = self.stream.next_line(deadline).map_err(&fail)? else {
                return Ok(Vec::new());
            };
            let message: WatchMessage = serde_json::from_slice(&line).map_err(|e| {
                fail(format!(
                    "an unreadable watch message ({e}): {}",
                    shorten(&line)
                ))
            })?;
            if let Some(error) = message.error {
                return Err(EtcdError::Server {
                    code: error.code,
                    message: if error.message.is_empty() {
                        error.error
                    } else {
                        error.message
                    },
                });
            }
            let Some(result) = message.result else {
                continue;
            };
            let puts: Vec<KeyValue> = result
                .events
                .into_iter()
                .filter(|e| e.kind.as_deref().is_none_or(|k| k == "PUT"))
                .filter_map(|e| e.kv)
                .filter(|kv| kv.mod_revision > after)
                .collect();
            if !puts.is_empty() {
                return Ok(puts);
            }
            if result.canceled {
                return Err(fail(format!(
                    "the watch was canceled: {}",
                    result.cancel_reason
                )));
            }
        }
    }
}

/// A body shown in an error: its start, as text.
/// `bytes` read as each answer of the gateway the driver reads, and the values of a range
/// as stored documents (see [`crate::fuzzing::read_json`]).
#[cfg(feature = "fuzzing")]
pub(crate) fn fuzz_answers(bytes: &[u8]) {
    if let Ok(range) = serde_json::from_slice::<RangeResponse>(bytes) {
        for kv in &range.kvs {
            crate::model::fuzz_document(&kv.value);
        }
    }
    let _ = serde_json::from_slice::<TxnResponse>(bytes);
    let _ = serde_json::from_slice::<LeaseGrantResponse>(bytes);
    let _ = serde_json::from_slice::<ErrorBody>(bytes);
    let _ = serde_json::from_slice::<WatchMessage>(bytes);
    let _ = shorten(bytes);
}

fn shorten(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut cut = text.len().min(200);
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let mut shown = text[..cut].to_owned();
    if cut < text.len() {
        shown.push('…');
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_ends_follow_the_prefix() {
        assert_eq!(prefix_end("a/"), "a0");
        assert_eq!(prefix_end("ns/events/"), "ns/events0");
    }

    #[test]
    fn numbers_come_as_text_or_numbers() {
        let header: Header = serde_json::from_str(r#"{"revision":"42"}"#).unwrap();
        assert_eq!(header.revision, 42);
        let header: Header = serde_json::from_str(r#"{"revision":7}"#).unwrap();
        assert_eq!(header.revision, 7);
        let header: Header = serde_json::from_str("{}").unwrap();
        assert_eq!(header.revision, 0);
    }
}
