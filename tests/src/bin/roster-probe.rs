//! A host process for the multi-host tests: a coordinator on a backend URL that joins a group
//! and prints every change to that group as a JSON line, until its stdin closes (then it
//! stops, leaving the group) or it is killed.
//!
//! `roster-probe URL MEMBER GROUP` prints `{"ready": REVISION}` once it has joined, then one
//! `Event` (the library's JSON form) per line.

use std::io::Write;

use futures_util::StreamExt;
use roster::{CoordinationError, Heartbeat, get_coordinator};
use tokio::io::AsyncReadExt;

#[tokio::main]
async fn main() -> Result<(), CoordinationError> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, member, group] = args.as_slice() else {
        eprintln!("usage: roster-probe URL MEMBER GROUP");
        std::process::exit(2);
    };
    let coordinator = get_coordinator(url, member)?;
    coordinator.start(Heartbeat::Background).await?;
    let mut changes = coordinator.subscribe(None)?;
    coordinator
        .join_group_create(group, member.as_bytes().to_vec())
        .await?;
    println!("{{\"ready\": {}}}", coordinator.head_revision());
    let mut stdin = tokio::io::stdin();
    let mut byte = [0u8; 1];
    loop {
        tokio::select! {
            change = changes.next() => match change {
                Some(Ok(event)) if event.group_id().as_str() == group => {
                    let line = serde_json::to_string(&event).expect("events serialize");
                    let mut out = std::io::stdout().lock();
                    let _ = writeln!(out, "{line}");
                    let _ = out.flush();
                }
                Some(Ok(_)) => {}
                Some(Err(error)) => {
                    println!("{}", serde_json::json!({ "error": error.to_string() }));
                }
                None => break,
            },
            read = stdin.read(&mut byte) => {
                if matches!(read, Ok(0) | Err(_)) {
                    break;
                }
            }
        }
    }
    coordinator.stop().await
}
