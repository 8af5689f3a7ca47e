//! `roster lock NAME -- COMMAND`: run a command while holding a lock of the daemon's store,
//! as `flock` does with a file.
//!
//! The lock is held by a session of its own, heartbeated while the command runs (and while
//! it waits for the lock), so it is released when the command ends, when `roster` is
//! interrupted, and, if this machine dies, when the session's TTL runs out: no lock outlives
//! its holder. The command gets the lock's fencing token in `ROSTER_LOCK_TOKEN` (and the name
//! in `ROSTER_LOCK`), to hand to whatever the lock guards. If the session is lost while the
//! command runs (the daemon unreachable for a whole TTL), the lock may be someone else's by
//! now, so the command is killed; and if `roster` itself dies (even by SIGKILL), the kernel
//! sends the command SIGTERM, so it does not run on without the lock.
//!
//! Exit code: the command's own (128 + the signal that ended it); 1 when the lock was not
//! acquired in time; the usual codes when the daemon refuses or cannot be reached.

use std::process::ExitStatus;
use std::time::Duration;

use roster::client::{Client, ClientError};
use roster::{FencingToken, LockAttempt, LockMode};
use tokio::time::Instant;

use crate::commands::StopSignals;
use crate::{exit, keepalive, output};

/// What `roster lock` was asked to do.
#[derive(Debug)]
pub struct LockRun {
    /// The lock.
    pub name: String,
    /// The member id the session acts for.
    pub member: String,
    /// Hold the lock shared rather than exclusive.
    pub shared: bool,
    /// Give up when the lock is not acquired within this long (`None`: wait for it).
    pub timeout: Option<Duration>,
    /// The session's TTL (the daemon's membership timeout when `None`).
    pub ttl: Option<Duration>,
    /// The command and its arguments.
    pub command: Vec<String>,
}

/// How the holding ended, when the daemon did not refuse.
enum Outcome {
    /// The lock was not acquired in time.
    NotAcquired,
    /// The command ran and exited.
    Ran(ExitStatus),
    /// The command could not be started.
    NotStarted(std::io::Error),
    /// `roster` was interrupted (the command was stopped).
    Interrupted,
}

/// Run `job`; the exit code.
pub async fn run(client: &Client, json: bool, job: LockRun) -> u8 {
    let session = match client.open_session(&job.member, job.ttl).await {
        Ok(session) => session,
        Err(error) => return refused(json, &error),
    };
    let ttl = Duration::from_millis(session.ttl_ms);
    let client = client.clone().for_sessions_of(ttl);
    let id = session.session_id.as_str();
    let outcome = {
        let mut forever = std::future::pending::<()>();
        let keep = keepalive::keep_alive(&client, id, ttl, &mut forever);
        let stop = StopSignals::install().received();
        tokio::select! {
            outcome = hold(&client, json, id, &job) => outcome,
            lost = keep => Err(lost.err().unwrap_or_else(|| ClientError::Unreachable {
                address: client.address(),
                message: "the session's heartbeat ended".to_owned(),
            })),
            () = stop => Ok(Outcome::Interrupted),
        }
    };
    // The command is stopped by now (it is killed when its handle is dropped). Closing the
    // session releases the lock, or gives up the wait.
    let _ = client.close_session(id).await;
    match outcome {
        Ok(Outcome::Ran(status)) => exit_code(status),
        Ok(Outcome::NotAcquired) => {
            let waited = job.timeout.map_or(String::new(), |t| {
                format!(" within {}", output::duration(t))
            });
            output::error(
                json,
                "lock-busy",
                &format!("lock {} was not acquired{waited}", job.name),
            );
            exit::REFUSED
        }
        Ok(Outcome::NotStarted(error)) => {
            output::error(
                json,
                "command-not-started",
                &format!("cannot run {:?}: {error}", job.command[0]),
            );
            exit::FAILURE
        }
        Ok(Outcome::Interrupted) => exit::INTERRUPTED,
        Err(error) => refused(json, &error),
    }
}

fn refused(json: bool, error: &ClientError) -> u8 {
    output::error(json, &error.code(), &error.to_string());
    exit::of(error)
}

/// The exit code a shell gives a command that ended with `status`.
fn exit_code(status: ExitStatus) -> u8 {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => u8::try_from(code & 0xff).unwrap_or(exit::FAILURE),
        (None, Some(signal)) => u8::try_from(128 + (signal & 0x7f)).unwrap_or(exit::FAILURE),
        (None, None) => exit::FAILURE,
    }
}

/// Acquire the lock, then run the command while holding it.
async fn hold(
    client: &Client,
    json: bool,
    session: &str,
    job: &LockRun,
) -> Result<Outcome, ClientError> {
    let mode = if job.shared {
        LockMode::Shared
    } else {
        LockMode::Exclusive
    };
    let Some(token) = acquire(client, session, &job.name, mode, job.timeout).await? else {
        return Ok(Outcome::NotAcquired);
    };
    if json {
        eprintln!(
            "{}",
            serde_json::json!({"lock": job.name, "member": job.member, "mode": mode, "token": token})
        );
    } else {
        eprintln!(
            "roster: holding lock {} ({mode}, token {token}) as {}",
            job.name, job.member
        );
    }
    let mut command = tokio::process::Command::new(&job.command[0]);
    command
        .args(&job.command[1..])
        .env("ROSTER_LOCK", &job.name)
        .env("ROSTER_LOCK_TOKEN", token.to_string())
        .kill_on_drop(true);
    ends_with_this_process(&mut command);
    let child = command.spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(error) => return Ok(Outcome::NotStarted(error)),
    };
    match child.wait().await {
        Ok(status) => Ok(Outcome::Ran(status)),
        Err(error) => Ok(Outcome::NotStarted(error)),
    }
}

/// Have the kernel send the command SIGTERM when this process dies, however it dies: a
/// `roster` killed with SIGKILL releases nothing, its session expires one TTL later, and the
/// command must not run on unguarded. (The signal follows the thread that spawned the
/// command: one of the runtime's workers, which live as long as the process.)
fn ends_with_this_process(command: &mut tokio::process::Command) {
    // SAFETY: the closure runs in the child between fork and exec, where only
    // async-signal-safe functions may be called: `prctl` and `getppid` are, and it allocates
    // nothing. `parent` is a plain integer copied in.
    let parent = std::process::id();
    #[allow(unsafe_code)]
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The parent died before the signal was asked for: do not start at all.
            if u32::try_from(libc::getppid()).ok() != Some(parent) {
                return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        });
    }
}

/// Acquire `lock` for the session, waiting in its queue up to `timeout` (for ever when
/// `None`): the fencing token, or `None` when it was not acquired in time.
async fn acquire(
    client: &Client,
    session: &str,
    lock: &str,
    mode: LockMode,
    timeout: Option<Duration>,
) -> Result<Option<FencingToken>, ClientError> {
    let longest = Duration::from_millis(roster::api::MAX_LOCK_WAIT_MS);
    let deadline = timeout.map(|t| Instant::now() + t);
    let patience = || deadline.map_or(longest, |d| (d - Instant::now()).min(longest));
    let wait = timeout != Some(Duration::ZERO);
    let (mut attempt, _) = client
        .acquire_lock(session, lock, mode, wait, patience())
        .await?;
    loop {
        match attempt {
            LockAttempt::Acquired { token } => return Ok(Some(token)),
            LockAttempt::Busy => return Ok(None),
            LockAttempt::Queued => {}
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            // Leave the queue, unless the grant came at the last moment.
            let (kept, _) = client.abandon_lock_wait(session, lock).await?;
            return Ok(kept);
        }
        attempt = client.wait_for_lock(session, lock, patience()).await?;
    }
}
