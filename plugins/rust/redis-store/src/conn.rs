//! One connection to Redis: commands out and replies in as RESP2 frames (the
//! `redis-protocol` crate encodes and decodes them), reconnecting once when the connection
//! turns out to be gone.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use redis_protocol::resp2::decode::decode;
use redis_protocol::resp2::encode::encode_borrowed;
use redis_protocol::resp2::types::{BorrowedFrame, OwnedFrame};

/// How long a reply may take beyond any time the command itself waits (a `BLOCK`).
pub const REPLY_PATIENCE: Duration = Duration::from_secs(30);

/// Bytes asked of the socket by the first read of an answer; each further read asks for as
/// much as the answer has so far. Most answers are a few hundred bytes, and the host's socket
/// read allocates and zeroes whatever is asked for, so a small first ask keeps a round trip
/// cheap while a large answer still takes few reads.
const READ_CHUNK: usize = 4 * 1024;

/// The largest reply buffer kept between requests.
const KEPT_BUFFER: usize = 1 << 20;

/// Why a round trip failed, and whether sending the command again is safe.
struct Failure {
    message: String,
    /// The command cannot have run: it was not sent whole, or the connection was found
    /// closed before any byte of a reply (a server that dropped an idle connection).
    retry: bool,
}

/// A connection to the Redis server at `address`, opened on first use and again after it
/// fails.
#[derive(Debug)]
pub struct Conn {
    address: String,
    stream: Option<TcpStream>,
    /// The reply being read.
    buf: Vec<u8>,
    /// Connections opened so far: two requests were answered by the same server process
    /// only if this did not change between them.
    connections: u64,
}

impl Conn {
    pub fn new(address: String) -> Self {
        Self {
            address,
            stream: None,
            buf: Vec::new(),
            connections: 0,
        }
    }

    pub fn address(&self) -> &str {
        &self.address
    }

    /// How many connections it has opened.
    pub fn connections(&self) -> u64 {
        self.connections
    }

    /// This end of the connection, while connected (tests kill it from the server side).
    #[cfg(test)]
    pub fn local_address(&self) -> Option<String> {
        let stream = self.stream.as_ref()?;
        stream.local_addr().ok().map(|a| a.to_string())
    }

    /// Send one command and read its reply. A Redis error reply is returned as
    /// `OwnedFrame::Error`; `Err` means Redis could not be reached (after one reconnect when
    /// that was safe), with a message naming the address.
    pub fn request(&mut self, args: &[&[u8]], wait: Duration) -> Result<OwnedFrame, String> {
        let mut encoded = Vec::new();
        self.encode(&mut encoded, args)?;
        self.exchange(&encoded, 1, wait)
    }

    /// Send `commands` as one `MULTI`/`EXEC` transaction in one write (one round trip:
    /// Redis runs them one after another with nothing between them) and return `EXEC`'s
    /// reply: the array of their replies, or the error that aborted it. `Err` as for
    /// [`Conn::request`].
    pub fn transaction(&mut self, commands: &[&[&[u8]]]) -> Result<OwnedFrame, String> {
        let mut encoded = Vec::new();
        self.encode(&mut encoded, &[b"MULTI"])?;
        for command in commands {
            self.encode(&mut encoded, command)?;
        }
        self.encode(&mut encoded, &[b"EXEC"])?;
        self.exchange(&encoded, commands.len() + 2, Duration::ZERO)
    }

    /// Append the command `args` to `out`, encoded.
    fn encode(&self, out: &mut Vec<u8>, args: &[&[u8]]) -> Result<(), String> {
        let frames: Vec<BorrowedFrame<'_>> =
            args.iter().map(|a| BorrowedFrame::BulkString(a)).collect();
        let command = BorrowedFrame::Array(&frames);
        let start = out.len();
        out.resize(start + command.encode_len(false), 0);
        encode_borrowed(&mut out[start..], &command, false)
            .map_err(|e| format!("cannot encode a command for redis at {}: {e}", self.address))?;
        Ok(())
    }

    /// Send `encoded` and read `replies` replies; the last is returned.
    fn exchange(
        &mut self,
        encoded: &[u8],
        replies: usize,
        wait: Duration,
    ) -> Result<OwnedFrame, String> {
        let mut last = String::new();
        for attempt in 0..2 {
            if attempt > 0 {
                crate::log_warn(&format!("redis at {}: {last}; reconnecting", self.address));
            }
            let mut stream = match self.stream.take() {
                Some(stream) => stream,
                None => match connect(&self.address) {
                    Ok(stream) => {
                        self.connections += 1;
                        stream
                    }
                    Err(e) => {
                        last = format!("cannot connect: {e}");
                        continue;
                    }
                },
            };
            match round_trip(
                &mut stream,
                &mut self.buf,
                encoded,
                replies,
                wait + REPLY_PATIENCE,
            ) {
                Ok(frame) => {
                    self.stream = Some(stream);
                    if self.buf.capacity() > KEPT_BUFFER {
                        self.buf = Vec::new();
                    }
                    return Ok(frame);
                }
                Err(failure) => {
                    last = failure.message;
                    if !failure.retry {
                        break;
                    }
                }
            }
        }
        Err(format!("redis at {}: {last}", self.address))
    }
}

fn connect(address: &str) -> io::Result<TcpStream> {
    let stream = TcpStream::connect(address)?;
    // Commands are small and answered at once: send each without delay. Either call may be
    // unsupported by a platform; the connection works without them.
    let _ = stream.set_nodelay(true);
    let _ = stream.set_write_timeout(Some(REPLY_PATIENCE));
    Ok(stream)
}

/// Send `command` (one or more commands) and read `replies` replies, returning the last.
fn round_trip(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    command: &[u8],
    replies: usize,
    patience: Duration,
) -> Result<OwnedFrame, Failure> {
    let _ = stream.set_read_timeout(Some(patience));
    stream.write_all(command).map_err(|e| Failure {
        message: format!("sending failed: {e}"),
        retry: true,
    })?;
    buf.clear();
    // Where the replies not yet decoded start, and how many are left.
    let mut decoded = 0;
    let mut left = replies;
    loop {
        // Read more at a time as a large reply grows, so it is parsed a few times rather
        // than once per small read.
        let start = buf.len();
        buf.resize(start + start.max(READ_CHUNK), 0);
        let read = stream.read(&mut buf[start..]);
        buf.truncate(start + read.as_ref().map_or(0, |n| *n));
        match read {
            Ok(0) => {
                return Err(Failure {
                    message: "the server closed the connection".into(),
                    retry: buf.is_empty(),
                });
            }
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                let gone = matches!(
                    e.kind(),
                    io::ErrorKind::ConnectionReset
                        | io::ErrorKind::ConnectionAborted
                        | io::ErrorKind::BrokenPipe
                );
                return Err(Failure {
                    message: format!("reading the reply failed: {e}"),
                    retry: gone && buf.is_empty(),
                });
            }
        }
        // Every reply complete so far; the last one asked for is the answer.
        loop {
            match decode(&buf[decoded..]) {
                Ok(Some((frame, len))) => {
                    decoded += len;
                    left -= 1;
                    if left == 0 {
                        return Ok(frame);
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    return Err(Failure {
                        message: format!("unreadable reply: {e}"),
                        retry: false,
                    });
                }
            }
        }
    }
}
