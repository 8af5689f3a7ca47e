//! A host process for the multi-host tests and benchmarks: a coordinator on a backend URL
//! that joins a group and prints every change to that group as a JSON line, until its stdin
//! closes (then it stops, leaving the group) or it is killed.
//!
//! `roster-probe URL MEMBER GROUP [HANDLER.wasm]` prints `{"ready": REVISION}` once it has
//! joined, then one `Event` (the library's JSON form) per line, and `{"error": "..."}` for an
//! error of its change stream. With a handler component, it also runs that handler on the
//! group and prints `{"handled": REVISION, "unix_ns": TIME}` each time the handler has taken
//! every change through a newer revision (the wall-clock time it did).
//!
//! `roster-probe soak URL MEMBER SEED RECORD [--observer]` runs a host of the fault soak
//! instead (`roster_tests::soak::host`).
//!
//! `roster-probe URL MEMBER GROUP --lock LOCK` also acquires the lock `LOCK` once it has
//! joined, waiting for it as long as it takes, and prints `{"locked": TOKEN}` with the fencing
//! token when it holds it (then holds it until it stops or is killed).

use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use futures_util::StreamExt;
use roster::plugin::{HandlerSpec, PluginHost, PluginHostOptions};
use roster::{Blocking, CoordinationError, GroupId, LockMode, get_coordinator};
use tokio::io::AsyncReadExt;

/// Print one line at once, whole.
fn emit(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

#[tokio::main]
async fn main() -> Result<(), CoordinationError> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().is_some_and(|mode| mode == "soak") {
        let options =
            roster_tests::soak::host::HostOptions::from_args(&args[1..]).unwrap_or_else(|usage| {
                eprintln!("{usage}");
                std::process::exit(2);
            });
        return roster_tests::soak::host::run(options).await;
    }
    let (url, member, group, handler, lock) = match args.as_slice() {
        [url, member, group] => (url, member, group, None, None),
        [url, member, group, flag, lock] if flag == "--lock" => {
            (url, member, group, None, Some(lock))
        }
        [url, member, group, handler] => (url, member, group, Some(handler), None),
        _ => {
            eprintln!("usage: roster-probe URL MEMBER GROUP [HANDLER.wasm | --lock LOCK]");
            std::process::exit(2);
        }
    };
    let coordinator = get_coordinator(url, member)?;
    coordinator.start().await?;
    let mut changes = coordinator.subscribe(None)?;
    coordinator
        .join_group_create_with(group, member.as_bytes().to_vec())
        .await?;
    let _handler = match handler {
        Some(path) => {
            let host = PluginHost::new(PluginHostOptions::user_cache())
                .map_err(|e| CoordinationError::Connection(e.to_string()))?;
            let mut spec = HandlerSpec::new("probe", path);
            spec.groups = vec![GroupId::new(group)?];
            let handle = host
                .attach_handler(&coordinator, spec)
                .await
                .map_err(|e| CoordinationError::Connection(e.to_string()))?;
            let handle = std::sync::Arc::new(handle);
            let watching = std::sync::Arc::clone(&handle);
            tokio::spawn(async move {
                let mut through = watching.stats().handled_through;
                loop {
                    watching.wait_handled(through + 1).await;
                    through = watching.stats().handled_through;
                    let now = SystemTime::now()
                        .duration_since(UNIX_EPOCH)
                        .map_or(0, |t| u64::try_from(t.as_nanos()).unwrap_or(u64::MAX));
                    emit(&format!("{{\"handled\": {through}, \"unix_ns\": {now}}}"));
                }
            });
            Some((host, handle))
        }
        None => None,
    };
    emit(&format!("{{\"ready\": {}}}", coordinator.head_revision()));
    let _lock = match lock {
        Some(name) => {
            let lock = std::sync::Arc::new(coordinator.get_lock(name)?);
            let holding = std::sync::Arc::clone(&lock);
            tokio::spawn(async move {
                match holding
                    .acquire(LockMode::Exclusive, Blocking::Forever)
                    .await
                {
                    Ok(Some(token)) => emit(&format!("{{\"locked\": {token}}}")),
                    Ok(None) => emit(r#"{"error": "the lock was not acquired"}"#),
                    Err(error) => {
                        emit(&serde_json::json!({ "error": error.to_string() }).to_string())
                    }
                }
            });
            Some(lock)
        }
        None => None,
    };
    let mut stdin = tokio::io::stdin();
    let mut byte = [0u8; 1];
    loop {
        tokio::select! {
            change = changes.next() => match change {
                Some(Ok(event)) if event.group_id().is_some_and(|g| g.as_str() == group) => {
                    emit(&serde_json::to_string(&event).expect("events serialize"));
                }
                Some(Ok(_)) => {}
                Some(Err(error)) => emit(&serde_json::json!({ "error": error.to_string() }).to_string()),
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
