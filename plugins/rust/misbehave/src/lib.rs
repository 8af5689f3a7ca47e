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
//!
//! Events of any other group are accepted and logged as `ok <revision>`, so tests can see
//! exactly which events reached it. Resyncs are always accepted.

wit_bindgen::generate!({ path: "../../../wit", world: "roster:coordination/handler" });

use std::hint::black_box;

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
    }
}

impl Guest for Misbehave {
    fn on_events(events: Vec<MembershipEvent>) -> Result<(), String> {
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
                "flood" => {
                    for i in 0..10_000 {
                        log(Level::Info, &format!("flood {i}"));
                    }
                }
                "refuse" => return Err(format!("refused revision {revision}")),
                _ => log(Level::Info, &format!("ok {revision}")),
            }
        }
        Ok(())
    }

    fn on_resync(_snapshot: Resync) -> Result<(), String> {
        Ok(())
    }
}

export!(Misbehave);
