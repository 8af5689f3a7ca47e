//! `roster serve` as a separate process, driven through its network API and its command
//! line the way operators and services use it: ephemeral sessions, resumable event
//! streams, clients that die without leaving, graceful shutdown, exit codes.
//!
//! Waits are bounded polls (`wait_until`), never fixed sleeps.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::{Daemon, ROSTER, uuid_like};

use futures_util::StreamExt;
use roster::client::{Client, ClientError, StreamItem};
use roster::plugin::PluginEventKind;
use roster::{CoordinationError, Event, LeaveReason, Revision};
use roster_tests::{built, plugin, wait_until};

const PATIENCE: Duration = Duration::from_secs(20);

impl Daemon {
    /// Run the CLI against this daemon.
    fn cli(&self, args: &[&str]) -> Output {
        cli(&["--addr", &self.addr], args)
    }
}
fn cli(global: &[&str], args: &[&str]) -> Output {
    Command::new(ROSTER)
        .args(global)
        .args(args)
        .output()
        .expect("run the roster CLI")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Read the event stream from `from` until it has shown revision `until`.
async fn events(client: &Client, from: Option<Revision>, until: Revision) -> Vec<StreamItem> {
    let stream = client.events(from, None).await.unwrap();
    tokio::pin!(stream);
    let mut items = Vec::new();
    tokio::time::timeout(PATIENCE, async {
        while let Some(item) = stream.next().await {
            let item = item.unwrap();
            let done = matches!(&item, StreamItem::Event(e) if e.revision() >= until);
            items.push(item);
            if done {
                break;
            }
        }
    })
    .await
    .expect("the stream reached the revision in time");
    items
}

/// The raw text of an SSE response up to the end of its first message.
async fn first_sse_message(response: reqwest::Response) -> String {
    let mut body = response.bytes_stream();
    let mut text = String::new();
    while !text.contains("\n\n") {
        let chunk = tokio::time::timeout(PATIENCE, body.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    text
}

fn revisions(items: &[StreamItem]) -> Vec<Revision> {
    items
        .iter()
        .filter_map(|i| match i {
            StreamItem::Event(e) => Some(e.revision()),
            StreamItem::Resync(_) => None,
        })
        .collect()
}

/// Make `count` changes: a group, then members joining it.
async fn changes(client: &Client, count: usize) -> Revision {
    let group = format!("busy{}", uuid_like());
    client.create_group(&group).await.unwrap();
    let session = client.open_session("writer", None).await.unwrap();
    client
        .join(&session.session_id, &group, "".into(), false)
        .await
        .unwrap();
    for i in 2..count {
        client
            .update_capabilities(&session.session_id, &group, i.to_string().into())
            .await
            .unwrap();
    }
    client.status().await.unwrap().revision
}

// ----- sessions -----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_expire_and_take_their_memberships_with_them() {
    let daemon = Daemon::memory("");
    let c = &daemon.client;
    c.create_group("g").await.unwrap();
    let session = c
        .open_session("ephemeral", Some(Duration::from_millis(500)))
        .await
        .unwrap();
    assert_eq!(session.ttl_ms, 500);
    c.join(&session.session_id, "g", "caps".into(), false)
        .await
        .unwrap();
    assert_eq!(c.members("g").await.unwrap().len(), 1);
    wait_until(PATIENCE, || async {
        c.members("g").await.unwrap().is_empty().then_some(())
    })
    .await;
    let head = c.status().await.unwrap().revision;
    let items = events(c, Some(1), head).await;
    assert!(items.iter().any(|i| matches!(i,
        StreamItem::Event(Event::MemberLeft(e))
            if e.member_id == "ephemeral" && e.reason == LeaveReason::Expired)));
    // The expired session's next heartbeat says what it lost...
    match c.heartbeat(&session.session_id).await {
        Err(ClientError::Coordination(CoordinationError::SessionExpired {
            lost_groups, ..
        })) => assert_eq!(lost_groups, ["g"]),
        // ...unless the daemon already forgot it (it keeps it one TTL after expiry).
        Err(ClientError::Refused { code, .. }) => assert_eq!(code, "session-not-found"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_sessions_are_forgotten_after_one_more_ttl() {
    let daemon = Daemon::memory("");
    let c = &daemon.client;
    let session = c
        .open_session("gone", Some(Duration::from_millis(300)))
        .await
        .unwrap();
    assert_eq!(c.status().await.unwrap().sessions, 1);
    wait_until(PATIENCE, || async {
        (c.status().await.unwrap().sessions == 0).then_some(())
    })
    .await;
    let error = c.heartbeat(&session.session_id).await.unwrap_err();
    assert_eq!(error.code(), "session-not-found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_a_session_leaves_every_group_and_election_at_once() {
    let daemon = Daemon::memory("");
    let c = &daemon.client;
    let session = c.open_session("m", None).await.unwrap();
    let id = &session.session_id;
    c.join(id, "a", "".into(), true).await.unwrap();
    c.join(id, "b", "".into(), true).await.unwrap();
    c.stand(id, "a").await.unwrap();
    c.stand(id, "a").await.unwrap(); // standing twice changes nothing
    assert_eq!(c.leader("a").await.unwrap().unwrap().member_id, "m");
    assert!(c.stand_down(id, "a").await.unwrap().0);
    assert_eq!(c.leader("a").await.unwrap().unwrap().member_id, "m");
    c.close_session(id).await.unwrap();
    assert!(c.members("a").await.unwrap().is_empty());
    assert!(c.members("b").await.unwrap().is_empty());
    assert_eq!(c.leader("a").await.unwrap(), None);
    assert_eq!(
        c.close_session(id).await.unwrap_err().code(),
        "session-not-found"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coordination_errors_keep_their_meaning_across_the_wire() {
    let daemon = Daemon::memory("");
    let c = &daemon.client;
    let s = c.open_session("m", None).await.unwrap().session_id;
    assert!(matches!(
        c.join(&s, "missing", "".into(), false).await,
        Err(ClientError::Coordination(CoordinationError::GroupNotCreated(g))) if g == "missing"
    ));
    c.create_group("g").await.unwrap();
    assert!(matches!(
        c.create_group("g").await,
        Err(ClientError::Coordination(
            CoordinationError::GroupAlreadyExist(_)
        ))
    ));
    c.join(&s, "g", "".into(), false).await.unwrap();
    assert!(matches!(
        c.join(&s, "g", "".into(), false).await,
        Err(ClientError::Coordination(
            CoordinationError::MemberAlreadyExist { .. }
        ))
    ));
    assert!(matches!(
        c.delete_group("g").await,
        Err(ClientError::Coordination(CoordinationError::GroupNotEmpty(
            _
        )))
    ));
    assert!(matches!(
        c.member("g", "nobody").await,
        Err(ClientError::Coordination(
            CoordinationError::MemberNotJoined { .. }
        ))
    ));
    assert!(matches!(
        c.withdraw(&s, "g").await,
        Err(ClientError::Coordination(
            CoordinationError::WatchCallbackNotFound(_)
        ))
    ));
    let member = c.member("g", "m").await.unwrap();
    assert_eq!(member.capabilities, "".into());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_then_stream_from_its_next_revision_misses_nothing() {
    let daemon = Daemon::memory("");
    let c = &daemon.client;
    let session = c.open_session("m1", None).await.unwrap().session_id;
    c.join(&session, "g", "one".into(), true).await.unwrap();
    c.stand(&session, "g").await.unwrap();
    let snapshot = c.snapshot(None).await.unwrap();
    assert_eq!(snapshot.store_id, c.status().await.unwrap().store_id);
    let [group] = snapshot.groups.as_slice() else {
        panic!("{snapshot:?}");
    };
    assert_eq!((group.member_count, group.complete), (1, true));
    assert_eq!(group.members[0].capabilities, "one".into());
    assert_eq!(group.leader.as_ref().unwrap().member_id, "m1");
    c.update_capabilities(&session, "g", "two".into())
        .await
        .unwrap();
    let head = c.status().await.unwrap().revision;
    let items = events(c, Some(snapshot.revision + 1), head).await;
    assert_eq!(
        revisions(&items),
        ((snapshot.revision + 1)..=head).collect::<Vec<_>>()
    );
    // Another daemon's store has another id, so a client can tell a restart.
    let other = Daemon::memory("");
    assert_ne!(
        other.client.status().await.unwrap().store_id,
        snapshot.store_id
    );
}

// ----- the event stream -----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_stream_resumed_from_a_revision_has_no_gaps_and_no_duplicates() {
    let daemon = Daemon::memory("");
    let c = &daemon.client;
    let head = changes(c, 40).await;
    let first = events(c, Some(1), 15).await;
    let rest = events(c, Some(16), head).await;
    let seen: Vec<Revision> = revisions(&first)
        .into_iter()
        .chain(revisions(&rest))
        .collect();
    assert_eq!(seen, (1..=head).collect::<Vec<_>>());

    // A reconnecting SSE client sends Last-Event-ID instead; it wins over `from`.
    let response = reqwest::Client::new()
        .get(format!("http://{}/v1/events?from=1", daemon.addr))
        .header("Last-Event-ID", "29")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let text = first_sse_message(response).await;
    assert!(
        text.starts_with("id: 30\n") || text.contains("\nid: 30\n"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_stream_says_resync_when_the_history_is_gone() {
    let daemon = Daemon::memory("history=8");
    let c = &daemon.client;
    let head = changes(c, 30).await;
    let status = c.status().await.unwrap();
    assert!(status.oldest_revision > 1);
    let items = events(c, Some(1), head).await;
    assert_eq!(
        items[0],
        StreamItem::Resync(roster::api::Resync {
            requested: 1,
            oldest: status.oldest_revision,
            store: status.store_id.clone(),
        })
    );
    assert_eq!(
        revisions(&items),
        (status.oldest_revision..=head).collect::<Vec<_>>()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_stream_from_a_future_revision_is_a_bad_request() {
    let daemon = Daemon::memory("");
    let error = daemon
        .client
        .events(Some(1000), None)
        .await
        .map(drop)
        .unwrap_err();
    assert!(
        matches!(&error, ClientError::Refused { status: 400, code, .. } if code == "bad-request"),
        "{error:?}"
    );
}

// ----- clients that die -----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_killed_without_leaving_disappears_after_its_ttl_with_a_left_event() {
    let daemon = Daemon::memory("");
    let c = &daemon.client;
    let mut joined = Command::new(ROSTER)
        .args(["--addr", &daemon.addr, "join", "g", "--member", "victim"])
        .args(["--create", "--ttl", "1"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    wait_until(PATIENCE, || async {
        let members = c.members("g").await.ok()?;
        (members.len() == 1).then_some(())
    })
    .await;
    // The keepalive holds it past its TTL...
    let joined_at = c.member("g", "victim").await.unwrap().joined_at_ms;
    wait_until(PATIENCE, || async {
        let member = c.member("g", "victim").await.unwrap();
        (roster::api::unix_ms(std::time::SystemTime::now()) > joined_at + 1500).then_some(member)
    })
    .await;
    // ...until the process is killed without a chance to leave.
    joined.kill().unwrap();
    joined.wait().unwrap();
    wait_until(PATIENCE, || async {
        c.members("g").await.unwrap().is_empty().then_some(())
    })
    .await;
    let head = c.status().await.unwrap().revision;
    let items = events(c, Some(1), head).await;
    let left: Vec<&Event> = items
        .iter()
        .filter_map(|i| match i {
            StreamItem::Event(e @ Event::MemberLeft(_)) => Some(e),
            _ => None,
        })
        .collect();
    assert!(
        matches!(left.as_slice(), [Event::MemberLeft(e)] if e.member_id == "victim" && e.reason == LeaveReason::Expired),
        "{left:?}"
    );
}

// ----- daemons that go away -----

/// `roster serve` on `addr`, with a new `memory://` store: the daemon restarted on the
/// address of one that is gone.
fn serve_on(addr: &str) -> Daemon {
    Daemon::serve(addr, &format!("memory://{}", uuid_like()))
}

/// Stop a daemon process for good, and wait for it to be gone.
fn kill(mut daemon: Daemon) {
    daemon.child.kill().unwrap();
    daemon.child.wait().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_polling_across_a_daemon_restart_gets_a_resync_naming_the_new_store() {
    let old = Daemon::memory("");
    let old_store = old.client.status().await.unwrap().store_id;
    assert_eq!(changes(&old.client, 3).await, 3);
    let read = old
        .client
        .changes(0, Some(&old_store), 100, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(read.store, old_store);
    assert_eq!(read.events.len(), 3);

    let addr = old.addr.clone();
    kill(old);
    let new = serve_on(&addr);
    let c = &new.client;
    let new_store = c.status().await.unwrap().store_id;
    assert_ne!(new_store, old_store);
    // The new store gets past the client's revision 3: its 4 and 5 do not follow the old
    // store's 3.
    assert_eq!(changes(c, 5).await, 5);
    let resync = roster::api::Resync {
        requested: 4,
        oldest: 1,
        store: new_store.clone(),
    };
    let answer = c
        .changes(3, Some(&old_store), 100, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(answer.store, new_store);
    assert!(answer.events.is_empty());
    assert_eq!(answer.resync.as_ref(), Some(&resync));
    // As any client sees it: the header and the body name the new store.
    let response = reqwest::get(format!(
        "http://{addr}/v1/changes?after=3&store={old_store}"
    ))
    .await
    .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["roster-store"], new_store.as_str());
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["resync"]["store"], new_store.as_str());
    assert_eq!(body["events"], serde_json::json!([]));

    // The event stream resumed in the old store starts with the same resync, then gives
    // the new store's history.
    let stream = c.events_in(Some(&old_store), Some(4), None).await.unwrap();
    assert_eq!(stream.store_id(), new_store);
    tokio::pin!(stream);
    let mut items = Vec::new();
    while items.len() < 6 {
        let item = tokio::time::timeout(PATIENCE, stream.next()).await.unwrap();
        items.push(item.unwrap().unwrap());
    }
    assert_eq!(items[0], StreamItem::Resync(resync));
    assert_eq!(revisions(&items), [1, 2, 3, 4, 5]);
    // So does an SSE client reconnecting by itself (same URL, `Last-Event-ID`).
    let response = reqwest::Client::new()
        .get(format!("http://{addr}/v1/events?store={old_store}"))
        .header("Last-Event-ID", "3")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["roster-store"], new_store.as_str());
    let text = first_sse_message(response).await;
    assert!(text.starts_with("event: resync\n"), "{text}");
    assert!(text.contains(&new_store), "{text}");
    // And `roster watch` resumed with the store it was watching.
    let mut watch = Command::new(ROSTER)
        .args([
            "--addr", &addr, "watch", "--from", "4", "--store", &old_store,
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(watch.stdout.take().unwrap()).lines();
    let first: serde_json::Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    watch.kill().unwrap();
    watch.wait().unwrap();
    assert_eq!(
        first,
        serde_json::json!({"kind": "resync", "requested": 4, "oldest": 1, "store": new_store})
    );
}

/// A `roster join` process, its stderr collected as it comes.
struct Joining {
    child: Child,
    stderr: Arc<Mutex<String>>,
}

impl Joining {
    /// `roster join GROUP --member MEMBER --create --ttl TTL` against `daemon`.
    fn start(daemon: &Daemon, member: &str, ttl: Duration) -> Self {
        let mut child = Command::new(ROSTER)
            .args(["--addr", &daemon.addr, "join", "g", "--member", member])
            .args(["--create", "--ttl", &ttl.as_secs_f64().to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = Arc::new(Mutex::new(String::new()));
        let lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let sink = Arc::clone(&stderr);
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                let mut text = sink.lock().unwrap();
                text.push_str(&line);
                text.push('\n');
            }
        });
        Self { child, stderr }
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Wait until the daemon lists it as a member of "g"; returns that member. Says what it
    /// printed when it does not join (it exited, or a loaded machine kept it from starting).
    async fn joined(&mut self, client: &Client, member: &str) -> roster::api::Member {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Ok(info) = client.member("g", member).await {
                return info;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "roster join exited ({status}) before joining: {}",
                    self.stderr()
                );
            }
            assert!(
                Instant::now() < deadline,
                "roster join did not join within {PATIENCE:?}; it said: {}",
                self.stderr()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Wait until its stderr says `words`.
    async fn says(&self, words: &str) {
        wait_until(PATIENCE, || async {
            self.stderr().contains(words).then_some(())
        })
        .await;
    }

    /// Wait for it to exit; returns how, when, and all it said.
    async fn exit(self) -> (std::process::ExitStatus, Instant, String) {
        let Self { mut child, stderr } = self;
        let (status, exited) = tokio::time::timeout(
            PATIENCE,
            tokio::task::spawn_blocking(move || (child.wait().unwrap(), Instant::now())),
        )
        .await
        .expect("roster join exits in time")
        .unwrap();
        // Its stderr ends with it: what it said is all there once the reader saw the end.
        let text = wait_until(PATIENCE, || async {
            (Arc::strong_count(&stderr) == 1).then(|| stderr.lock().unwrap().clone())
        })
        .await;
        (status, exited, text)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_join_rides_out_a_daemon_away_for_less_than_its_ttl() {
    const TTL: Duration = Duration::from_secs(6);
    let daemon = Daemon::memory("");
    let c = &daemon.client;
    let mut join = Joining::start(&daemon, "steady", TTL);
    let joined = join.joined(c, "steady").await;

    daemon.signal("STOP");
    let stopped = Instant::now();
    join.says("retrying").await;
    daemon.signal("CONT");
    assert!(stopped.elapsed() < TTL, "away for {:?}", stopped.elapsed());
    join.says("answers again").await;

    // Still the same membership: it never left, and `join` never stopped.
    let member = c.member("g", "steady").await.unwrap();
    assert_eq!(member.joined_at_ms, joined.joined_at_ms);
    let head = c.status().await.unwrap().revision;
    let left = events(c, Some(1), head)
        .await
        .into_iter()
        .any(|i| matches!(i, StreamItem::Event(Event::MemberLeft(_))));
    assert!(!left, "the member left meanwhile");
    let mut join = join;
    assert!(
        join.child.try_wait().unwrap().is_none(),
        "{}",
        join.stderr()
    );

    // Interrupted, it leaves as usual.
    Command::new("kill")
        .args(["-INT", &join.child.id().to_string()])
        .status()
        .unwrap();
    let (status, _, stderr) = join.exit().await;
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(c.members("g").await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_join_exits_unreachable_once_the_daemon_is_gone_for_longer_than_its_ttl() {
    const TTL: Duration = Duration::from_secs(2);
    let daemon = Daemon::memory("");
    let c = &daemon.client;
    let mut join = Joining::start(&daemon, "abandoned", TTL);
    join.joined(c, "abandoned").await;
    // The membership lasts at least this long without another heartbeat.
    let asked = Instant::now();
    let member = c.member("g", "abandoned").await.unwrap();
    let expires = asked + Duration::from_millis(member.expires_in_ms);

    kill(daemon);
    join.says("retrying").await;
    let (status, exited, stderr) = join.exit().await;
    assert_eq!(status.code(), Some(3), "{stderr}");
    assert!(
        exited >= expires,
        "exited {:?} before the membership could have expired",
        expires - exited
    );
    // How soon after that it exits is the machine's business (`exit` waits `PATIENCE`); that
    // it gave up because its TTL ran out is what it says.
    assert!(stderr.contains("membership is gone"), "{stderr}");
    assert!(
        stderr.contains(&format!("the session's TTL is {}.0s", TTL.as_secs())),
        "{stderr}"
    );
}

// ----- the command line -----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_manages_groups_with_tables_or_json() {
    let daemon = Daemon::memory("");
    let created = daemon.cli(&["create-group", "workers"]);
    assert!(created.status.success(), "{}", stderr(&created));
    assert_eq!(stdout(&created).trim(), "created workers");

    let table = daemon.cli(&["groups"]);
    let text = stdout(&table);
    assert!(text.contains("GROUP") && text.contains("MEMBERS") && text.contains("workers"));

    let session = daemon
        .client
        .open_session("w1", None)
        .await
        .unwrap()
        .session_id;
    daemon
        .client
        .join(&session, "workers", r#"{"weight":2}"#.into(), false)
        .await
        .unwrap();
    daemon.client.stand(&session, "workers").await.unwrap();

    let json: serde_json::Value =
        serde_json::from_slice(&daemon.cli(&["--json", "groups"]).stdout).unwrap();
    assert_eq!(json["groups"][0]["group_id"], "workers");
    assert_eq!(json["groups"][0]["members"], 1);
    assert_eq!(json["groups"][0]["leader"]["member_id"], "w1");

    let members = stdout(&daemon.cli(&["members", "workers"]));
    assert!(
        members.contains("w1") && members.contains(r#"{"weight":2}"#),
        "{members}"
    );
    let members: serde_json::Value =
        serde_json::from_slice(&daemon.cli(&["members", "workers", "--json"]).stdout).unwrap();
    assert_eq!(members["members"][0]["capabilities"], r#"{"weight":2}"#);

    let leader = stdout(&daemon.cli(&["leader", "workers"]));
    assert!(leader.contains("w1"), "{leader}");

    let left = daemon.cli(&["leave", "workers", "--session", &session]);
    assert!(left.status.success(), "{}", stderr(&left));
    let deleted = daemon.cli(&["delete-group", "workers"]);
    assert!(deleted.status.success(), "{}", stderr(&deleted));
    let status: serde_json::Value =
        serde_json::from_slice(&daemon.cli(&["status", "--json"]).stdout).unwrap();
    assert_eq!(status["groups"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_exit_codes_tell_refusals_bad_input_and_a_missing_daemon_apart() {
    let daemon = Daemon::memory("");
    let missing = daemon.cli(&["members", "nope"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(stderr(&missing).contains("nope"), "{}", stderr(&missing));

    let json = daemon.cli(&["--json", "members", "nope"]);
    let error: serde_json::Value = serde_json::from_slice(&json.stderr).unwrap();
    assert_eq!(error["error"]["code"], "group-not-created");

    let invalid = daemon.cli(&["create-group", "bad\u{1}id"]);
    assert_eq!(invalid.status.code(), Some(2), "{}", stderr(&invalid));

    let usage = daemon.cli(&["members"]);
    assert_eq!(usage.status.code(), Some(2));

    // Port 9 (discard) on localhost: nothing listens there on a test machine.
    let unreachable = cli(&["--addr", "127.0.0.1:9"], &["groups"]);
    assert_eq!(
        unreachable.status.code(),
        Some(3),
        "{}",
        stderr(&unreachable)
    );
    assert!(stderr(&unreachable).contains("cannot reach the daemon"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_watch_prints_json_lines_and_resumes_with_from() {
    let daemon = Daemon::memory("");
    let head = changes(&daemon.client, 12).await;
    let read = |from: u64, count: usize| {
        let mut child = Command::new(ROSTER)
            .args(["--addr", &daemon.addr, "watch", "--from", &from.to_string()])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let events: Vec<serde_json::Value> = (0..count)
            .map(|_| serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap())
            .collect();
        child.kill().unwrap();
        child.wait().unwrap();
        events
    };
    let first = read(1, 5);
    let last = first.last().unwrap()["revision"].as_u64().unwrap();
    let rest = read(last + 1, (head - last) as usize);
    let seen: Vec<u64> = first
        .iter()
        .chain(&rest)
        .map(|e| e["revision"].as_u64().unwrap())
        .collect();
    assert_eq!(seen, (1..=head).collect::<Vec<_>>());
    assert_eq!(first[0]["kind"], "group-created");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugin_check_lists_a_components_imports_and_rejects_others() {
    if !built("rust") {
        return;
    }
    let file = plugin("rust-log-events.wasm");
    let check = cli(&[], &["plugin", "check", file.to_str().unwrap()]);
    assert!(check.status.success(), "{}", stderr(&check));
    let text = stdout(&check);
    assert!(
        text.contains("a valid roster:coordination/handler component"),
        "{text}"
    );
    assert!(text.contains("roster:coordination/logging@0.1.0"), "{text}");
    let json: serde_json::Value = serde_json::from_slice(
        &cli(&["--json"], &["plugin", "check", file.to_str().unwrap()]).stdout,
    )
    .unwrap();
    assert!(
        json["exports"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e == "roster:coordination/events@0.1.0")
    );

    let wrong = plugin("rust-not-a-handler.wasm");
    let rejected = cli(&[], &["plugin", "check", wrong.to_str().unwrap()]);
    assert_eq!(rejected.status.code(), Some(5));
    assert!(
        stderr(&rejected).contains("events"),
        "{}",
        stderr(&rejected)
    );

    let not_wasm = cli(&[], &["plugin", "check", ROSTER]);
    assert_eq!(not_wasm.status.code(), Some(5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugin_check_validates_a_driver_against_the_driver_world() {
    if !built("rust") {
        return;
    }
    let driver = plugin("rust-redis-driver.wasm");
    let args = [
        "plugin",
        "check",
        "--world",
        "driver",
        driver.to_str().unwrap(),
    ];
    let check = cli(&[], &args);
    assert!(check.status.success(), "{}", stderr(&check));
    let text = stdout(&check);
    assert!(
        text.contains("a valid roster:coordination/driver component"),
        "{text}"
    );
    assert!(text.contains("roster:coordination/backend@0.1.0"), "{text}");

    // A handler is not a driver, and a driver is not a handler.
    let handler = plugin("rust-log-events.wasm");
    let rejected = cli(
        &[],
        &[
            "plugin",
            "check",
            "--world",
            "driver",
            handler.to_str().unwrap(),
        ],
    );
    assert_eq!(rejected.status.code(), Some(5), "{}", stderr(&rejected));
    assert!(
        stderr(&rejected).contains("backend"),
        "{}",
        stderr(&rejected)
    );
    let rejected = cli(&[], &["plugin", "check", driver.to_str().unwrap()]);
    assert_eq!(rejected.status.code(), Some(5), "{}", stderr(&rejected));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugin_faults_show_in_the_plugin_status() {
    if !built("rust") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("roster.toml");
    std::fs::write(
        &config,
        format!(
            "[[handlers]]\nname = \"misbehave\"\npath = {:?}\ngroups = [\"trap\"]\n",
            plugin("rust-misbehave.wasm")
        ),
    )
    .unwrap();
    let daemon = Daemon::start(&[
        "--config",
        config.to_str().unwrap(),
        "--backend",
        &format!("memory://{}", uuid_like()),
    ]);
    let c = &daemon.client;
    // Any event of the `trap` group makes this plugin trap.
    c.create_group("trap").await.unwrap();
    let report = wait_until(PATIENCE, || async {
        let report = c.plugins().await.unwrap();
        report
            .recent_events
            .iter()
            .any(|e| matches!(e.kind, PluginEventKind::Fault { .. }))
            .then_some(report)
    })
    .await;
    assert_eq!(report.plugins[0].name, "misbehave");
    assert!(report.plugins[0].traps >= 1);
    assert!(report.events_total >= report.recent_events.len() as u64);
    let json: serde_json::Value =
        serde_json::from_slice(&daemon.cli(&["plugins", "--json"]).stdout).unwrap();
    assert!(
        json["recent_events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["plugin"] == "misbehave" && e["kind"]["kind"] == "fault"),
        "{json}"
    );
}

/// The compiled components in the user cache directory under `cache_home`.
fn cached_components(cache_home: &std::path::Path) -> usize {
    std::fs::read_dir(cache_home.join("roster/components"))
        .map(|entries| {
            entries
                .filter(|e| {
                    e.as_ref()
                        .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "cwasm"))
                })
                .count()
        })
        .unwrap_or(0)
}

/// A configuration file in `dir` attaching the handler `file` (from the built plugins).
fn handler_config(dir: &std::path::Path, file: &str) -> std::path::PathBuf {
    let config = dir.join("roster.toml");
    std::fs::write(
        &config,
        format!(
            "[[handlers]]\nname = \"handler\"\npath = {:?}\n",
            plugin(file)
        ),
    )
    .unwrap();
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daemon_restarted_loads_its_javascript_handler_from_the_compiled_component_cache() {
    if !built("js") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let config = handler_config(dir.path(), "js-hash-ring.wasm");
    let cache_home = dir.path().join("cache-home");
    let args = [
        "--config",
        config.to_str().unwrap(),
        "--backend",
        &format!("memory://{}", uuid_like()),
    ];
    // No cache_dir in the file: the daemon caches in the user's cache directory.
    let cold = Daemon::start_with_cache_home(&args, &cache_home);
    let compiled = cold.client.plugins().await.unwrap().plugins.remove(0);
    assert!(!compiled.loaded_from_cache, "{compiled:?}");
    assert_eq!(cached_components(&cache_home), 1);
    drop(cold);
    let warm = Daemon::start_with_cache_home(&args, &cache_home);
    let cached = warm.client.plugins().await.unwrap().plugins.remove(0);
    assert!(cached.loaded_from_cache, "{cached:?}");
    assert!(
        cached.load_time < compiled.load_time,
        "{cached:?} {compiled:?}"
    );
    let json: serde_json::Value =
        serde_json::from_slice(&warm.cli(&["plugins", "--json"]).stdout).unwrap();
    assert_eq!(json["plugins"][0]["loaded_from_cache"], true, "{json}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daemon_caches_in_its_configured_cache_dir_or_nowhere_with_no_cache() {
    if !built("rust") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let config = handler_config(dir.path(), "rust-log-events.wasm");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.insert_str(0, "cache_dir = \"compiled\"\n");
    std::fs::write(&config, text).unwrap();
    let cache_home = dir.path().join("cache-home");
    let args = [
        "--config",
        config.to_str().unwrap(),
        "--backend",
        &format!("memory://{}", uuid_like()),
    ];
    let uncached =
        Daemon::start_with_cache_home(&[&args[..], &["--no-cache"]].concat(), &cache_home);
    let stats = uncached.client.plugins().await.unwrap().plugins.remove(0);
    assert!(!stats.loaded_from_cache);
    assert!(!dir.path().join("compiled").exists() && !cache_home.exists());
    drop(uncached);
    for expect_cached in [false, true] {
        let daemon = Daemon::start_with_cache_home(&args, &cache_home);
        let stats = daemon.client.plugins().await.unwrap().plugins.remove(0);
        assert_eq!(stats.loaded_from_cache, expect_cached, "{stats:?}");
    }
    // Relative to the configuration file, and the user's cache directory is left alone.
    assert_eq!(
        std::fs::read_dir(dir.path().join("compiled"))
            .unwrap()
            .count(),
        1
    );
    assert!(!cache_home.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugin_check_caches_a_valid_handler_unless_told_not_to() {
    if !built("rust") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = plugin("rust-log-events.wasm");
    let check = |cache_home: &std::path::Path, extra: &[&str]| {
        Command::new(ROSTER)
            .args(["plugin", "check"])
            .args(extra)
            .arg(&file)
            .env("XDG_CACHE_HOME", cache_home)
            .output()
            .unwrap()
    };
    let uncached = dir.path().join("uncached");
    assert!(check(&uncached, &["--no-cache"]).status.success());
    assert_eq!(cached_components(&uncached), 0);
    let cached = dir.path().join("cached");
    assert!(check(&cached, &[]).status.success());
    assert_eq!(cached_components(&cached), 1);
    // What is rejected is not cached.
    let driver = plugin("rust-redis-driver.wasm");
    let rejected = Command::new(ROSTER)
        .args(["plugin", "check"])
        .arg(&driver)
        .env("XDG_CACHE_HOME", &cached)
        .output()
        .unwrap();
    assert_eq!(rejected.status.code(), Some(5));
    assert_eq!(cached_components(&cached), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugin_check_caches_a_valid_driver_unless_told_not_to() {
    if !built("rust") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let check = |file: &std::path::Path, cache_home: &std::path::Path, extra: &[&str]| {
        Command::new(ROSTER)
            .args(["plugin", "check", "--world", "driver"])
            .args(extra)
            .arg(file)
            .env("XDG_CACHE_HOME", cache_home)
            .output()
            .unwrap()
    };
    let driver = plugin("rust-redis-driver.wasm");
    let uncached = dir.path().join("uncached");
    assert!(check(&driver, &uncached, &["--no-cache"]).status.success());
    assert_eq!(cached_components(&uncached), 0);
    // Cached as a handler would be, and found there by the next check.
    let cached = dir.path().join("cached");
    for _ in 0..2 {
        let checked = check(&driver, &cached, &[]);
        assert!(checked.status.success(), "{}", stderr(&checked));
        assert_eq!(cached_components(&cached), 1);
    }
    // A handler is refused as a driver, and nothing is cached for it.
    let handler = plugin("rust-log-events.wasm");
    assert_eq!(check(&handler, &cached, &[]).status.code(), Some(5));
    assert_eq!(cached_components(&cached), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_components_are_refused_in_one_line_by_plugin_check_and_serve() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.wasm");
    std::fs::write(
        &junk,
        b"\x7fELF not a component at all, but long enough to parse",
    )
    .unwrap();
    let expected = format!(
        "roster: {}: not a WebAssembly file (bad magic number)",
        junk.display()
    );
    for world in ["handler", "driver"] {
        let checked = cli(
            &[],
            &["plugin", "check", "--world", world, junk.to_str().unwrap()],
        );
        assert_eq!(checked.status.code(), Some(5));
        assert_eq!(stderr(&checked).trim_end(), expected, "{world}");
    }
    let config = dir.path().join("roster.toml");
    std::fs::write(
        &config,
        format!("[[handlers]]\nname = \"junk\"\npath = {junk:?}\n"),
    )
    .unwrap();
    let served = Command::new(ROSTER)
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&config)
        .args(["--backend", &format!("memory://{}", uuid_like())])
        .env("RUST_LOG", "off")
        .env("XDG_CACHE_HOME", dir.path())
        .output()
        .unwrap();
    assert_eq!(served.status.code(), Some(2));
    assert_eq!(
        stderr(&served).trim_end(),
        format!(
            "roster: plugin: {}: not a WebAssembly file (bad magic number)",
            junk.display()
        )
    );
}

// ----- shutdown -----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_makes_members_leave_and_plugins_drain_before_exit() {
    if !built("rust") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let trail = dir.path().join("trail");
    std::fs::create_dir(&trail).unwrap();
    let config = dir.path().join("roster.toml");
    std::fs::write(
        &config,
        format!(
            "backend = \"memory://shutdown\"\n\n[[handlers]]\nname = \"audit\"\npath = {:?}\n\n[handlers.grants]\ndirectory = \"trail\"\n",
            plugin("rust-audit-trail.wasm")
        ),
    )
    .unwrap();
    let mut daemon = Daemon::start(&["--config", config.to_str().unwrap()]);
    let c = &daemon.client;
    let session = c.open_session("w1", None).await.unwrap();
    c.join(&session.session_id, "workers", "".into(), true)
        .await
        .unwrap();
    let plugins = stdout(&daemon.cli(&["plugins"]));
    assert!(
        plugins.contains("audit") && plugins.contains("running"),
        "{plugins}"
    );

    daemon.signal("TERM");
    let status = daemon.child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let lines = std::fs::read_to_string(trail.join("audit.jsonl")).unwrap();
    let last: serde_json::Value = serde_json::from_str(lines.lines().last().unwrap()).unwrap();
    assert_eq!(last["kind"], "member-left", "{lines}");
    assert_eq!(last["member"], "w1", "{lines}");
    assert_eq!(last["reason"], "left", "{lines}");
}

/// How many start/stop cycles the readiness test runs: the race it guards against lost
/// the signal in 1 to 8 of 20 fast cycles.
const READY_CYCLES: usize = 50;

#[test]
fn sigterm_sent_as_soon_as_the_daemon_says_it_listens_shuts_it_down_gracefully() {
    for cycle in 0..READY_CYCLES {
        let mut child = Command::new(ROSTER)
            .args(["serve", "--listen", "127.0.0.1:0", "--backend"])
            .arg(format!("memory://{}", uuid_like()))
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start roster serve");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        // The supervisor's move: the daemon said it is ready, so it may be stopped.
        let sent = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        assert!(line.starts_with("listening on "), "cycle {cycle}: {line:?}");
        let output = child.wait_with_output().unwrap();
        let log = stderr(&output);
        assert_eq!(
            output.status.code(),
            Some(0),
            "cycle {cycle}: {:?}\n{log}",
            output.status
        );
        assert!(
            log.contains("shutting down") && log.contains("stopped"),
            "cycle {cycle}: no graceful shutdown in the log:\n{log}"
        );
    }
}
