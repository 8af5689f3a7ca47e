//! HTTP/1.1 over one `std::net::TcpStream`: JSON POSTs to etcd's v3 gateway and their
//! answers, framed by `Content-Length` or chunked (the gateway uses both), and the watch
//! stream, a chunked body of JSON objects read as they come.
//!
//! Response heads are parsed by `httparse`, which also reads chunk sizes and trailers.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// How long an answer may take (every request but a watch answers at once).
pub const REPLY_PATIENCE: Duration = Duration::from_secs(30);

/// Bytes asked of the socket by the first read of an answer; each further read asks for as
/// much as the answer has so far. Most answers are a few hundred bytes, and the host's socket
/// read allocates and zeroes whatever is asked for, so a small first ask keeps a round trip
/// cheap while a large answer still takes few reads.
const READ_CHUNK: usize = 4 * 1024;

/// The largest buffer kept between requests.
const KEPT_BUFFER: usize = 1 << 20;

/// Most headers read from a response head.
const MAX_HEADERS: usize = 32;

/// One answer: status and body (de-chunked).
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

/// Why a round trip failed, and whether sending the request again is safe.
struct Failure {
    message: String,
    /// The request cannot have been handled: it was not sent whole, or a connection kept
    /// from an earlier request was found closed before any byte of an answer.
    retry: bool,
}

/// A connection to `address`, opened on first use and again after it fails.
#[derive(Debug)]
pub struct Http {
    address: String,
    stream: Option<TcpStream>,
    buf: Vec<u8>,
}

impl Http {
    pub fn new(address: String) -> Self {
        Self {
            address,
            stream: None,
            buf: Vec::new(),
        }
    }

    pub fn address(&self) -> &str {
        &self.address
    }

    /// Drop the connection (the next request opens a new one).
    #[cfg(test)]
    pub fn disconnect(&mut self) {
        self.stream = None;
    }

    fn request_bytes(&self, path: &str, body: &[u8]) -> Vec<u8> {
        let mut request = format!(
            "POST {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
             Accept: application/json\r\nContent-Length: {}\r\n\r\n",
            self.address,
            body.len()
        )
        .into_bytes();
        request.extend_from_slice(body);
        request
    }

    /// POST `body` (JSON) to `path` and read the whole answer. A connection kept from an
    /// earlier request that turns out to be closed is opened again and the request sent
    /// once more; any other failure is an `Err` naming the address.
    pub fn post(&mut self, path: &str, body: &[u8]) -> Result<Response, String> {
        let request = self.request_bytes(path, body);
        let mut last = String::new();
        for attempt in 0..2 {
            let (mut stream, reused) = match self.stream.take() {
                Some(stream) => (stream, true),
                None => match connect(&self.address) {
                    Ok(stream) => (stream, false),
                    Err(e) => {
                        last = format!("cannot connect: {e}");
                        break;
                    }
                },
            };
            if attempt > 0 {
                crate::log_warn(&format!("etcd at {}: {last}; reconnected", self.address));
            }
            match round_trip(&mut stream, &mut self.buf, &request) {
                Ok((response, keep)) => {
                    if keep {
                        self.stream = Some(stream);
                    }
                    if self.buf.capacity() > KEPT_BUFFER {
                        self.buf = Vec::new();
                    }
                    return Ok(response);
                }
                Err(failure) => {
                    last = failure.message;
                    if !(failure.retry && reused) {
                        break;
                    }
                }
            }
        }
        Err(format!("etcd at {}: {last}", self.address))
    }

    /// Open a streaming POST (a watch) on a connection of its own, and read its head.
    pub fn stream(&self, path: &str, body: &[u8]) -> Result<Stream, String> {
        let fail = |e: String| format!("etcd at {}: {e}", self.address);
        let mut stream =
            connect(&self.address).map_err(|e| fail(format!("cannot connect: {e}")))?;
        stream
            .write_all(&self.request_bytes(path, body))
            .map_err(|e| fail(format!("sending failed: {e}")))?;
        let mut buf = Vec::new();
        let _ = stream.set_read_timeout(Some(REPLY_PATIENCE));
        let head = read_head(&mut stream, &mut buf).map_err(|f| fail(f.message))?;
        let body = buf.split_off(head.length);
        let mut out = Stream {
            stream,
            framing: head.framing,
            raw: body,
            data: Vec::new(),
            status: head.status,
        };
        out.decode().map_err(fail)?;
        Ok(out)
    }
}

fn connect(address: &str) -> io::Result<TcpStream> {
    let stream = TcpStream::connect(address)?;
    // Requests are small and answered at once: send each without delay. Either call may be
    // unsupported by a platform; the connection works without them.
    let _ = stream.set_nodelay(true);
    let _ = stream.set_write_timeout(Some(REPLY_PATIENCE));
    Ok(stream)
}

/// How a body is delimited.
#[derive(Clone, Copy, Debug)]
enum Framing {
    Length(usize),
    Chunked(Chunk),
    /// Until the server closes the connection.
    Close,
}

/// Where a chunked decoder is.
#[derive(Clone, Copy, Debug)]
enum Chunk {
    /// At a chunk-size line.
    Size,
    /// Inside a chunk's data, this many bytes left.
    Data(usize),
    /// At the CRLF after a chunk's data.
    DataEnd,
    /// After the last chunk: trailers up to an empty line.
    Trailers,
    Done,
}

struct Head {
    status: u16,
    /// Bytes of the head.
    length: usize,
    framing: Framing,
    /// The server keeps the connection open after this answer.
    keep: bool,
}

fn read_some(stream: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<usize> {
    let start = buf.len();
    buf.resize(start + start.max(READ_CHUNK), 0);
    let read = stream.read(&mut buf[start..]);
    buf.truncate(start + read.as_ref().map_or(0, |n| *n));
    read
}

fn read_failure(e: &io::Error, nothing_yet: bool) -> Failure {
    let gone = matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
    );
    Failure {
        message: format!("reading the answer failed: {e}"),
        retry: gone && nothing_yet,
    }
}

/// The response head at the start of `buf`, `None` while it is incomplete.
fn parse_head(buf: &[u8]) -> Result<Option<Head>, String> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    let length = match response.parse(buf) {
        Ok(httparse::Status::Complete(length)) => length,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(format!("unreadable answer: {e}")),
    };
    let status = response.code.unwrap_or(0);
    let mut framing = Framing::Close;
    let mut keep = response.version == Some(1);
    for header in response.headers.iter() {
        let value = String::from_utf8_lossy(header.value);
        let value = value.trim();
        if header.name.eq_ignore_ascii_case("content-length") {
            if let (Framing::Close, Ok(n)) = (framing, value.parse()) {
                framing = Framing::Length(n);
            }
        } else if header.name.eq_ignore_ascii_case("transfer-encoding") {
            if value.to_ascii_lowercase().ends_with("chunked") {
                framing = Framing::Chunked(Chunk::Size);
            }
        } else if header.name.eq_ignore_ascii_case("connection") {
            keep = !value.eq_ignore_ascii_case("close");
        }
    }
    if matches!(framing, Framing::Close) {
        keep = false;
    }
    Ok(Some(Head {
        status,
        length,
        framing,
        keep,
    }))
}

/// The body of the answer in `bytes` (see [`crate::fuzzing::read_answer`]).
#[cfg(feature = "fuzzing")]
pub(crate) fn fuzz_body(bytes: &[u8], cut: usize) -> Option<Vec<u8>> {
    let head = parse_head(bytes).ok()??;
    let rest = &bytes[head.length..];
    match head.framing {
        Framing::Length(n) => Some(rest[..n.min(rest.len())].to_vec()),
        Framing::Close => Some(rest.to_vec()),
        Framing::Chunked(_) => {
            let whole = dechunk_in_parts(rest, &[rest.len()]);
            let cut = cut % (rest.len() + 1);
            let parts = dechunk_in_parts(rest, &[cut, rest.len()]);
            assert_eq!(
                whole, parts,
                "a chunked body decodes differently when it arrives in two parts"
            );
            whole.ok().map(|(data, _)| data)
        }
    }
}

/// A chunked body decoded as it arrives in the pieces ending at each of `cuts`: the data,
/// and whether the body ended.
#[cfg(feature = "fuzzing")]
fn dechunk_in_parts(body: &[u8], cuts: &[usize]) -> Result<(Vec<u8>, bool), String> {
    let (mut state, mut raw, mut data, mut at) = (Chunk::Size, Vec::new(), Vec::new(), 0);
    for &cut in cuts {
        raw.extend_from_slice(&body[at..cut]);
        at = cut;
        dechunk(&mut state, &mut raw, &mut data)?;
    }
    Ok((data, matches!(state, Chunk::Done)))
}

/// Read until `buf` holds a whole response head, and parse it.
fn read_head(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Result<Head, Failure> {
    loop {
        match parse_head(buf) {
            Ok(Some(head)) => return Ok(head),
            Ok(None) => {}
            Err(message) => {
                return Err(Failure {
                    message,
                    retry: false,
                });
            }
        }
        let nothing_yet = buf.is_empty();
        match read_some(stream, buf) {
            Ok(0) => {
                return Err(Failure {
                    message: "the server closed the connection".into(),
                    retry: nothing_yet,
                });
            }
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(read_failure(&e, nothing_yet)),
        }
    }
}

/// Decode as much of the chunked body in `raw` as is there, appending its data to `data`
/// and dropping what was decoded from `raw`.
fn dechunk(state: &mut Chunk, raw: &mut Vec<u8>, data: &mut Vec<u8>) -> Result<(), String> {
    let mut at = 0;
    loop {
        let rest = &raw[at..];
        match *state {
            Chunk::Size => match httparse::parse_chunk_size(rest) {
                Ok(httparse::Status::Complete((used, size))) => {
                    at += used;
                    let size = usize::try_from(size).map_err(|_| "a chunk too large")?;
                    *state = if size == 0 {
                        Chunk::Trailers
                    } else {
                        Chunk::Data(size)
                    };
                }
                Ok(httparse::Status::Partial) => break,
                Err(_) => return Err("an unreadable chunk size".into()),
            },
            Chunk::Data(left) => {
                if rest.is_empty() {
                    break;
                }
                let take = left.min(rest.len());
                data.extend_from_slice(&rest[..take]);
                at += take;
                *state = if take == left {
                    Chunk::DataEnd
                } else {
                    Chunk::Data(left - take)
                };
            }
            Chunk::DataEnd => {
                if rest.len() < 2 {
                    break;
                }
                if &rest[..2] != b"\r\n" {
                    return Err("a chunk without its line end".into());
                }
                at += 2;
                *state = Chunk::Size;
            }
            Chunk::Trailers => {
                let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
                match httparse::parse_headers(rest, &mut headers) {
                    Ok(httparse::Status::Complete((used, _))) => {
                        at += used;
                        *state = Chunk::Done;
                    }
                    Ok(httparse::Status::Partial) => break,
                    Err(e) => return Err(format!("unreadable trailers: {e}")),
                }
            }
            Chunk::Done => break,
        }
    }
    raw.drain(..at);
    Ok(())
}

/// Send `request` and read the whole answer; returns it and whether the connection may be
/// used again.
fn round_trip(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    request: &[u8],
) -> Result<(Response, bool), Failure> {
    let _ = stream.set_read_timeout(Some(REPLY_PATIENCE));
    stream.write_all(request).map_err(|e| Failure {
        message: format!("sending failed: {e}"),
        retry: true,
    })?;
    buf.clear();
    let head = read_head(stream, buf)?;
    let mut raw = buf.split_off(head.length);
    let mut body = Vec::new();
    let mut framing = head.framing;
    loop {
        match &mut framing {
            Framing::Length(n) => {
                if raw.len() >= *n {
                    raw.truncate(*n);
                    body = raw;
                    break;
                }
            }
            Framing::Chunked(state) => {
                dechunk(state, &mut raw, &mut body).map_err(|message| Failure {
                    message,
                    retry: false,
                })?;
                if matches!(state, Chunk::Done) {
                    break;
                }
            }
            Framing::Close => {}
        }
        match read_some(stream, &mut raw) {
            Ok(0) => {
                if let Framing::Close = framing {
                    body = std::mem::take(&mut raw);
                    break;
                }
                return Err(Failure {
                    message: "the server closed the connection in the middle of an answer".into(),
                    retry: false,
                });
            }
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(read_failure(&e, false)),
        }
    }
    // `buf` keeps its allocation for the next answer.
    buf.clear();
    Ok((
        Response {
            status: head.status,
            body,
        },
        head.keep,
    ))
}

/// A streaming answer (a watch), read a line at a time.
#[derive(Debug)]
pub struct Stream {
    stream: TcpStream,
    framing: Framing,
    /// Bytes read and not decoded yet.
    raw: Vec<u8>,
    /// Body bytes decoded and not taken as lines yet.
    data: Vec<u8>,
    pub status: u16,
}

impl Stream {
    fn decode(&mut self) -> Result<(), String> {
        match &mut self.framing {
            Framing::Chunked(state) => dechunk(state, &mut self.raw, &mut self.data),
            Framing::Length(_) | Framing::Close => {
                self.data.append(&mut self.raw);
                Ok(())
            }
        }
    }

    fn ended(&self) -> bool {
        match self.framing {
            Framing::Chunked(Chunk::Done) => true,
            Framing::Length(n) => self.data.len() >= n,
            _ => false,
        }
    }

    /// The next line of the body (one JSON object of the gateway's stream), waiting for it
    /// until `deadline`: `Ok(None)` when the deadline passed first, `Err` when the stream
    /// failed or ended.
    pub fn next_line(&mut self, deadline: Instant) -> Result<Option<Vec<u8>>, String> {
        loop {
            if let Some(end) = self.data.iter().position(|b| *b == b'\n') {
                let mut line: Vec<u8> = self.data.drain(..=end).collect();
                line.pop();
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                return Ok(Some(line));
            }
            if self.ended() {
                if self.data.iter().all(u8::is_ascii_whitespace) {
                    return Err("the stream ended".into());
                }
                return Ok(Some(std::mem::take(&mut self.data)));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            let _ = self
                .stream
                .set_read_timeout(Some(left.max(Duration::from_millis(1))));
            match read_some(&mut self.stream, &mut self.raw) {
                Ok(0) => return Err("the server closed the stream".into()),
                Ok(_) => self.decode()?,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    // Checked against the deadline at the top of the loop.
                }
                Err(e) => return Err(format!("reading the stream failed: {e}")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_bodies_decode_in_pieces() {
        let whole = b"5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nTrailer: x\r\n\r\n";
        for split in 0..whole.len() {
            let mut state = Chunk::Size;
            let mut raw = whole[..split].to_vec();
            let mut data = Vec::new();
            dechunk(&mut state, &mut raw, &mut data).unwrap();
            raw.extend_from_slice(&whole[split..]);
            dechunk(&mut state, &mut raw, &mut data).unwrap();
            assert_eq!(data, b"hello, world", "split at {split}");
            assert!(matches!(state, Chunk::Done));
            assert!(raw.is_empty());
        }
    }

    #[test]
    fn a_bad_chunk_is_an_error() {
        let mut state = Chunk::Size;
        let mut raw = b"zz\r\n".to_vec();
        assert!(dechunk(&mut state, &mut raw, &mut Vec::new()).is_err());
        let mut state = Chunk::Size;
        let mut raw = b"1\r\nabc".to_vec();
        assert!(dechunk(&mut state, &mut raw, &mut Vec::new()).is_err());
    }
}
