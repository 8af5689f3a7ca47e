//! `roster locks` and `roster lock NAME -- COMMAND`, run as a user runs them against a
//! daemon process: the command runs holding the lock with its fencing token, others wait or
//! give up, and a holder that dies lets the lock go within its session's TTL.

use std::process::{Command, Output, Stdio};
use std::time::Duration;

use crate::common::{Daemon, ROSTER};
use roster_tests::wait_until;

/// Long enough for a loaded machine; waits end as soon as their condition holds.
const PATIENCE: Duration = Duration::from_secs(30);

fn roster(daemon: &Daemon, args: &[&str]) -> Command {
    let mut command = Command::new(ROSTER);
    command.args(["--addr", &daemon.addr]).args(args);
    command
}

fn run(daemon: &Daemon, args: &[&str]) -> Output {
    roster(daemon, args).output().expect("run the roster CLI")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Wait until `lock` has `holders` holders and `waiters` waiters.
async fn wait_for_lock(daemon: &Daemon, lock: &str, holders: usize, waiters: usize) {
    wait_until(PATIENCE, || async {
        let info = daemon.client.lock_info(lock).await.ok()?;
        (info.holders.len() == holders && info.waiters.len() == waiters).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_runs_holding_the_lock_with_its_token_and_its_exit_code_is_kept() {
    let daemon = Daemon::memory("");
    let ran = run(
        &daemon,
        &[
            "lock",
            "nightly",
            "--member",
            "cron-1",
            "--",
            "sh",
            "-c",
            "echo \"$ROSTER_LOCK $ROSTER_LOCK_TOKEN\"; exit 7",
        ],
    );
    assert_eq!(ran.status.code(), Some(7), "{}", text(&ran.stderr));
    let printed = text(&ran.stdout);
    let (name, token) = printed.trim().split_once(' ').expect("name and token");
    assert_eq!(name, "nightly");
    let token: u64 = token.parse().expect("a fencing token");
    assert!(text(&ran.stderr).contains(&format!(
        "holding lock nightly (exclusive, token {token}) as cron-1"
    )));
    // Released once the command ended: the lock is free again.
    let info = daemon.client.lock_info("nightly").await.unwrap();
    assert!(
        info.holders.is_empty() && info.waiters.is_empty(),
        "{info:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_holder_gives_up_or_waits_its_turn_and_locks_lists_both() {
    let daemon = Daemon::memory("");
    let release = tempfile::tempdir().unwrap();
    let flag = release.path().join("go");
    let wait_for_flag = format!("while [ ! -e {} ]; do sleep 0.02; done", flag.display());
    let mut first = roster(
        &daemon,
        &[
            "lock",
            "db",
            "--member",
            "first",
            "--",
            "sh",
            "-c",
            &wait_for_flag,
        ],
    )
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    wait_for_lock(&daemon, "db", 1, 0).await;

    let busy = run(&daemon, &["lock", "db", "--timeout", "0", "--", "true"]);
    assert_eq!(busy.status.code(), Some(1), "{}", text(&busy.stderr));
    assert!(text(&busy.stderr).contains("lock db was not acquired"));
    let later = run(&daemon, &["lock", "db", "--timeout", "0.3", "--", "true"]);
    assert_eq!(later.status.code(), Some(1), "gave up after its timeout");

    let mut second = roster(
        &daemon,
        &["lock", "db", "--member", "second", "--shared", "--", "true"],
    )
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    wait_for_lock(&daemon, "db", 1, 1).await;
    let listed = run(&daemon, &["--json", "locks"]);
    let locks: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(locks["locks"][0]["holders"][0]["member_id"], "first");
    assert_eq!(locks["locks"][0]["waiters"][0]["member_id"], "second");
    assert_eq!(locks["locks"][0]["waiters"][0]["mode"], "shared");
    let table = text(&run(&daemon, &["locks"]).stdout);
    assert!(table.contains("first (exclusive, token"), "{table}");
    assert!(table.contains("second (shared)"), "{table}");

    std::fs::write(&flag, "").unwrap();
    assert!(first.wait().unwrap().success());
    assert!(
        second.wait().unwrap().success(),
        "served once the first let go"
    );
    wait_for_lock(&daemon, "db", 0, 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_holder_loses_the_lock_within_its_ttl() {
    let daemon = Daemon::memory("");
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("pid");
    let record_and_sleep = format!("echo $$ > {}; exec sleep 600", pid_file.display());
    let mut holder = roster(
        &daemon,
        &[
            "lock",
            "job",
            "--ttl",
            "1",
            "--",
            "sh",
            "-c",
            &record_and_sleep,
        ],
    )
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    wait_for_lock(&daemon, "job", 1, 0).await;
    // The command starts once the lock is held: wait until it has said who it is.
    wait_until(PATIENCE, || async {
        std::fs::read_to_string(&pid_file)
            .ok()
            .filter(|pid| pid.ends_with('\n'))
    })
    .await;
    let held = daemon.client.lock_info("job").await.unwrap().holders[0].token;
    // SIGKILL: no release, no session close; the session expires one TTL later.
    holder.kill().unwrap();
    holder.wait().unwrap();
    let next = run(
        &daemon,
        &[
            "lock",
            "job",
            "--timeout",
            "20",
            "--",
            "sh",
            "-c",
            "echo $ROSTER_LOCK_TOKEN",
        ],
    );
    assert_eq!(next.status.code(), Some(0), "{}", text(&next.stderr));
    let token: u64 = text(&next.stdout).trim().parse().unwrap();
    assert!(token > held, "tokens only grow");
    // The command did not run on without the lock: it ended with its `roster`.
    let pid = std::fs::read_to_string(&pid_file).unwrap();
    let proc_dir = std::path::PathBuf::from(format!("/proc/{}", pid.trim()));
    wait_until(PATIENCE, || async {
        let state = std::fs::read_to_string(proc_dir.join("stat")).unwrap_or_default();
        // Gone, or a zombie waiting for its new parent to reap it.
        (state.is_empty() || state.contains(") Z ")).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_lock_arguments_are_usage_errors() {
    let daemon = Daemon::memory("");
    let no_command = run(&daemon, &["lock", "x"]);
    assert_eq!(no_command.status.code(), Some(2));
    let bad_timeout = run(&daemon, &["lock", "x", "--timeout", "-1", "--", "true"]);
    assert_eq!(
        bad_timeout.status.code(),
        Some(2),
        "{}",
        text(&bad_timeout.stderr)
    );
    let bad_name = run(&daemon, &["lock", "a\u{1}b", "--", "true"]);
    assert_eq!(
        bad_name.status.code(),
        Some(2),
        "{}",
        text(&bad_name.stderr)
    );
    let missing = run(&daemon, &["lock", "x", "--", "/nonexistent/command"]);
    assert_eq!(missing.status.code(), Some(4), "{}", text(&missing.stderr));
    assert!(text(&missing.stderr).contains("cannot run"));
}
