//! A test fixture that misbehaves on purpose, to show the sandbox holds.
//!
//! What it does depends on the group an event belongs to:
//!
//! | group      | behaviour                                                        |
//! |------------|------------------------------------------------------------------|
//! | `trap`     | panics (a trap)                                                  |
//! | `spin`     | loops forever                                                    |
//! | `grow`     | allocates memory without bound                                   |
//! | `recurse`  | recurses without bound (stack overflow)                          |
//! | `file`     | tries to read `/etc/passwd` and list `/`, logs the outcome       |
//! | `socket`   | tries to connect to the address in the member's capabilities     |
//! | `env`      | tries to read environment variables, logs the outcome            |
//! | `mutate`   | tries to join the group, logs the outcome                        |
//! | `flood`    | writes 10 000 log lines                                          |
//! | `refuse`   | returns an error                                                 |
//! | `hold`     | on a join, logs `holding` and waits until group `release` has a member |
//! | `poison`   | panics on the join of member `poison`; other events are recorded |
//!
//! Events of any other group are accepted and logged as `ok <revision>`, so tests can see
//! exactly which events reached it. Resyncs are always accepted.
//!
//! The revisions of `poison` events are appended to `/data/received` (one per line, the
//! granted directory) when the call that delivered them returns, so the file lists exactly
//! the events of calls that succeeded, however many calls faulted on the way.

wit_bindgen::generate!({ path: "../../../wit", world: "roster:coordination/handler" });

use std::hint::black_box;
use std::io::Write;
use std::time::Duration;

use exports::roster::coordination::events::{Guest, Resync};
use roster::coordination::coordinator;
use roster::coordination::logging::{Level, log};
use roster::coordination::types::MembershipEvent;

struct Misbehave;

// Unbounded on purpose: the fixture exists to overflow the stack.
#[allow(unconditional_recursion)]
fn recurse(depth: u64) -> u64 {
    let frame = black_box([depth; 64]);
    recurse(depth + 1) + frame[7]
}

fn outcome<T, E: std::fmt::Display>(
    what: &str,
    result: Result<T, E>,
    describe: impl FnOnce(T) -> String,
) {
    match result {
        Ok(value) => log(
            Level::Warn,
            &format!("{what}: allowed: {}", describe(value)),
        ),
        Err(error) => log(Level::Info, &format!("{what}: denied: {error}")),
    }
}

fn member_capabilities(event: &MembershipEvent) -> Option<String> {
    match event {
        MembershipEvent::MemberJoined(e) => String::from_utf8(e.capabilities.clone()).ok(),
        _ => None,
    }
}

fn group_of(event: &MembershipEvent) -> (&str, u64) {
    match event {
        MembershipEvent::GroupCreated(e) => (&e.group_id, e.revision),
        MembershipEvent::GroupDeleted(e) => (&e.group_id, e.revision),
        MembershipEvent::MemberJoined(e) => (&e.group_id, e.revision),
        MembershipEvent::MemberLeft(e) => (&e.group_id, e.revision),
        MembershipEvent::CapabilitiesUpdated(e) => (&e.group_id, e.revision),
        MembershipEvent::LeaderElected(e) => (&e.group_id, e.revision),
        MembershipEvent::LeaderLost(e) => (&e.group_id, e.revision),
        MembershipEvent::LockAcquired(e) => (&e.lock, e.revision),
        MembershipEvent::LockReleased(e) => (&e.lock, e.revision),
    }
}

impl Guest for Misbehave {
    fn on_events(events: Vec<MembershipEvent>) -> Result<(), String> {
        let mut received = Vec::new();
        for event in &events {
            let (group, revision) = group_of(event);
            match group {
                "trap" => panic!("misbehave: trap on purpose"),
                "spin" => loop {
                    black_box(revision);
                },
                "grow" => {
                    let mut hoard: Vec<Vec<u8>> = Vec::new();
                    loop {
                        hoard.push(black_box(vec![1u8; 1 << 20]));
                    }
                }
                "recurse" => {
                    black_box(recurse(0));
                }
                "file" => {
                    outcome("file", std::fs::read_to_string("/etc/passwd"), |t| {
                        format!("{} bytes", t.len())
                    });
                    outcome("dir", std::fs::read_dir("/"), |d| {
                        format!("{} entries", d.count())
                    });
                }
                "socket" => {
                    if let Some(address) = member_capabilities(event) {
                        outcome(
                            "socket",
                            std::net::TcpStream::connect(address.as_str()),
                            |_| "connected".into(),
                        );
                    }
                }
                "env" => {
                    let count = std::env::vars().count();
                    let home = std::env::var("HOME");
                    if count == 0 && home.is_err() {
                        log(Level::Info, "env: denied: no variables");
                    } else {
                        log(Level::Warn, &format!("env: allowed: {count} variables"));
                    }
                }
                "mutate" => {
                    outcome("mutate", coordinator::join_group("mutate", &[]), |()| {
                        "joined".into()
                    });
                }
                "lock" => {
                    if let MembershipEvent::MemberJoined(_) = event {
                        let mode = roster::coordination::types::LockMode::Exclusive;
                        outcome(
                            "lock",
                            coordinator::try_acquire_lock("guarded", mode),
                            |token| match token {
                                Some(token) => format!("acquired with token {token}"),
                                None => "busy".into(),
                            },
                        );
                    }
                }
                "flood" => {
                    for i in 0..10_000 {
                        log(Level::Info, &format!("flood {i}"));
                    }
                }
                "refuse" => return Err(format!("refused revision {revision}")),
                "hold" => {
                    if let MembershipEvent::MemberJoined(_) = event {
                        log(Level::Info, "holding");
                        while coordinator::get_members("release").map_or(true, |m| m.is_empty()) {
                            std::thread::sleep(Duration::from_millis(1));
                        }
                        log(Level::Info, "released");
                    }
                }
                "poison" => match event {
                    MembershipEvent::MemberJoined(e) if e.member_id == "poison" => {
                        panic!("misbehave: poison event {revision}")
                    }
                    _ => received.push(revision),
                },
                _ => log(Level::Info, &format!("ok {revision}")),
            }
        }
        if !received.is_empty() {
            let lines: String = received.iter().map(|r| format!("{r}\n")).collect();
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open("/data/received")
                .and_then(|mut file| file.write_all(lines.as_bytes()))
                .map_err(|e| format!("cannot record received events: {e}"))?;
        }
        Ok(())
    }

    fn on_resync(_snapshot: Resync) -> Result<(), String> {
        Ok(())
    }
}

export!(Misbehave);
