//! The driver's operations run natively (the component's code without the host) on
//! temporary directories: rules, the change feed, several writers at once, a stale lock, a
//! torn log tail, a pruned log and a store that started over.
//!
//! `cargo test --target x86_64-unknown-linux-gnu -p file-driver`

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use driver_kit::scenarios::revision;

use driver_kit::Driver;

use crate::exports::roster::coordination::backend::{Feed, LockAttempt, LockHold, LockStanding};
use crate::files::{Dir, STALE};
use crate::roster::coordination::types::{
    CoordinationError as E, LeadershipEnd, LeaveReason, LockMode, LockReleaseReason,
    MembershipEvent,
};
use crate::store::Store;

/// A directory of its own, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        let path = std::env::temp_dir().join(format!("file-driver-test-{}", crate::random_hex()));
        std::fs::create_dir(&path).expect("make a temporary directory");
        Self(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn open_with(dir: &TempDir, extra: &[(&str, &str)]) -> Store {
    let mut options = vec![(
        "directory".to_owned(),
        dir.path().to_str().expect("UTF-8 path").to_owned(),
    )];
    options.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    Store::open(&options).expect("open the store")
}

fn open(dir: &TempDir) -> Store {
    open_with(dir, &[])
}

fn events(feed: Feed) -> Vec<MembershipEvent> {
    match feed {
        Feed::Events(batch) => batch.events,
        Feed::Resync(gap) => panic!("unexpected resync {gap:?}"),
    }
}

fn kind(event: &MembershipEvent) -> &'static str {
    match event {
        MembershipEvent::GroupCreated(_) => "gc",
        MembershipEvent::GroupDeleted(_) => "gd",
        MembershipEvent::MemberJoined(_) => "mj",
        MembershipEvent::MemberLeft(_) => "ml",
        MembershipEvent::CapabilitiesUpdated(_) => "cu",
        MembershipEvent::LeaderElected(_) => "le",
        MembershipEvent::LeaderLost(_) => "ll",
        MembershipEvent::LockAcquired(_) => "la",
        MembershipEvent::LockReleased(_) => "lr",
    }
}

fn kinds(events: &[MembershipEvent]) -> Vec<&'static str> {
    events.iter().map(kind).collect()
}

fn assert_contiguous(events: &[MembershipEvent], from: u64) {
    for (i, event) in events.iter().enumerate() {
        assert_eq!(revision(event), from + i as u64, "{events:?}");
    }
}

#[test]
fn membership_binary_capabilities_and_the_feed() {
    let dir = TempDir::new();
    let mut store = open(&dir);
    let s = store.open_session("m", 10_000).unwrap();
    assert_eq!(store.create_group("g").unwrap(), 1);
    let caps = vec![0u8, 255, 10, 13, b'"', b'\\'];
    assert_eq!(store.join(&s, "g", &caps, false).unwrap(), 2);
    assert_eq!(store.update_capabilities(&s, "g", b"v2").unwrap(), 3);
    let info = store.get_member_info("g", "m").unwrap();
    assert_eq!(
        (info.capabilities.as_slice(), info.revision),
        (&b"v2"[..], 3)
    );
    assert!(info.expires_in_ms > 9_000 && info.expires_in_ms <= 10_000);
    assert_eq!(store.leave(&s, "g").unwrap(), 4);
    assert_eq!(store.delete_group("g").unwrap(), 5);
    let all = events(store.changes(0, 100, 0).unwrap());
    assert_eq!(kinds(&all), ["gc", "mj", "cu", "ml", "gd"]);
    assert_contiguous(&all, 1);
    let MembershipEvent::MemberJoined(joined) = &all[1] else {
        unreachable!()
    };
    assert_eq!(joined.capabilities, caps);
    assert_eq!(events(store.changes(2, 2, 0).unwrap()).len(), 2);
    // Another instance (another process) sees the same store.
    let mut other = open(&dir);
    assert_eq!(other.head().unwrap(), 5);
    assert_eq!(
        other.describe().unwrap().store_id,
        store.describe().unwrap().store_id
    );
}

#[test]
fn failed_calls_change_nothing() {
    let dir = TempDir::new();
    let mut store = open(&dir);
    let a = store.open_session("m", 10_000).unwrap();
    let twin = store.open_session("m", 10_000).unwrap();
    store.create_group("g").unwrap();
    store.join(&a, "g", b"weight=2", false).unwrap();
    let head = store.head().unwrap();
    assert!(matches!(
        store.join(&twin, "g", b"evil", false),
        Err(E::MemberAlreadyExist(_))
    ));
    assert!(matches!(
        store.join(&a, "g", &vec![0u8; 64 * 1024 + 1], false),
        Err(E::CapabilitiesTooLarge(c)) if c.size == 65_537 && c.limit == 65_536
    ));
    assert!(matches!(
        store.create_group("g"),
        Err(E::GroupAlreadyExist(_))
    ));
    assert!(matches!(store.delete_group("g"), Err(E::GroupNotEmpty(_))));
    assert!(matches!(
        store.join(&a, "nope", b"", false),
        Err(E::GroupNotCreated(_))
    ));
    assert_eq!(store.head().unwrap(), head);
    assert_eq!(
        store.get_member_info("g", "m").unwrap().capabilities,
        b"weight=2"
    );
    // A join that fails creates nothing, even with `create`.
    assert!(matches!(
        store.join(&a, "new", &vec![0u8; 70_000], true),
        Err(E::CapabilitiesTooLarge(_))
    ));
    assert_eq!(store.groups().unwrap(), ["g"]);
    assert_eq!(store.head().unwrap(), head);
}

#[test]
fn a_call_that_changes_nothing_writes_nothing() {
    use std::os::unix::fs::MetadataExt;
    let dir = TempDir::new();
    let mut store = open(&dir);
    let s = store.open_session("m", 60_000).unwrap();
    store.create_group("g").unwrap();
    let state = dir.path().join("state");
    let file = || std::fs::metadata(&state).unwrap().ino();
    let before = file();
    store.withdraw(&s, "g").unwrap();
    assert_eq!(store.stand_down(&s, "g").unwrap(), (false, 1));
    assert!(matches!(
        store.create_group("g"),
        Err(E::GroupAlreadyExist(_))
    ));
    assert_eq!(file(), before, "the state file is the one written before");
    store.stand(&s, "g").unwrap();
    assert_ne!(file(), before, "a change is written");
}

#[test]
fn elections_terms_and_stand_down() {
    let dir = TempDir::new();
    let mut store = open(&dir);
    let a = store.open_session("a", 10_000).unwrap();
    let b = store.open_session("b", 10_000).unwrap();
    store.create_group("g").unwrap();
    store.stand(&a, "g").unwrap();
    let first = store.get_leader("g").unwrap().unwrap();
    assert_eq!((first.member_id.as_str(), first.term), ("a", 2));
    store.stand(&b, "g").unwrap();
    store.stand(&a, "g").unwrap();
    assert_eq!(store.stand_down(&b, "g").unwrap(), (false, 2));
    assert_eq!(store.stand_down(&a, "g").unwrap(), (true, 4));
    let second = store.get_leader("g").unwrap().unwrap();
    assert_eq!((second.member_id.as_str(), second.term), ("b", 4));
    store.withdraw(&b, "g").unwrap();
    let third = store.get_leader("g").unwrap().unwrap();
    assert_eq!(third.member_id, "a");
    let (head, summaries) = store.group_summaries().unwrap();
    assert_eq!(summaries[0].leader.as_ref().unwrap().term, third.term);
    assert_eq!(summaries[0].last_change, head);
    let all = events(store.changes(0, 100, 0).unwrap());
    assert_eq!(kinds(&all), ["gc", "le", "ll", "le", "ll", "le"]);
    let MembershipEvent::LeaderLost(resigned) = &all[4] else {
        unreachable!()
    };
    assert_eq!(resigned.reason, LeadershipEnd::Resigned);
    // Deleting the group ends the leadership; recreated, it has no leader.
    store.delete_group("g").unwrap();
    store.create_group("g").unwrap();
    assert!(store.get_leader("g").unwrap().is_none());
    store.stand(&b, "g").unwrap();
    assert!(store.get_leader("g").unwrap().unwrap().term > third.term);
}

#[test]
fn locks_are_kept_in_the_state_file_and_go_with_their_session() {
    let dir = TempDir::new();
    let mut store = open(&dir);
    let a = store.open_session("a", 10_000).unwrap();
    let b = store.open_session("b", 10_000).unwrap();
    let (attempt, head) = store
        .acquire_lock(&a, "l", LockMode::Exclusive, false)
        .unwrap();
    assert!(matches!(attempt, LockAttempt::Acquired(token) if token == head));
    let (queued, _) = store.acquire_lock(&b, "l", LockMode::Shared, true).unwrap();
    assert!(matches!(queued, LockAttempt::Queued));
    // Another instance (another process) reads the same lock and queue from the file.
    let mut other = open(&dir);
    let info = other.get_lock("l").unwrap();
    assert_eq!(info.holders[0].member_id, "a");
    assert_eq!(info.waiters[0].member_id, "b");
    assert!(matches!(
        other.lock_standing(&b, "l").unwrap(),
        LockStanding::Waiting(LockMode::Shared)
    ));
    other.close_session(&a).unwrap();
    assert!(matches!(
        store.lock_standing(&b, "l").unwrap(),
        LockStanding::Holding(LockHold {
            mode: LockMode::Shared,
            ..
        })
    ));
    assert!(matches!(
        store.release_lock(&a, "l"),
        Err(E::LockNotHeld(_))
    ));
    let all = events(store.changes(0, 100, 0).unwrap());
    assert_eq!(kinds(&all), ["la", "lr", "la"]);
    let MembershipEvent::LockReleased(released) = &all[1] else {
        unreachable!()
    };
    assert_eq!(released.reason, LockReleaseReason::SessionClosed);
    assert_eq!(store.get_locks().unwrap().len(), 1);
}

#[test]
fn expiry_events_and_once_only_notices() {
    let dir = TempDir::new();
    let mut store = open(&dir);
    let a = store.open_session("a", 100).unwrap();
    let b = store.open_session("b", 60_000).unwrap();
    for g in ["g1", "g2"] {
        store.create_group(g).unwrap();
        store.join(&a, g, b"", false).unwrap();
    }
    store.stand(&a, "g1").unwrap();
    store.stand(&b, "g1").unwrap();
    let head = store.head().unwrap();
    // The feed wakes at the deadline and reports the expiry.
    let started = Instant::now();
    let expired = events(store.changes(head, 100, 5_000).unwrap());
    let took = started.elapsed();
    assert!(took < Duration::from_secs(2), "{took:?}");
    assert_eq!(kinds(&expired), ["ll", "le", "ml", "ml"]);
    assert_contiguous(&expired, head + 1);
    let MembershipEvent::LeaderLost(lost) = &expired[0] else {
        unreachable!()
    };
    assert_eq!(lost.reason, LeadershipEnd::Expired);
    let MembershipEvent::MemberLeft(left) = &expired[2] else {
        unreachable!()
    };
    assert_eq!(left.reason, LeaveReason::Expired);
    assert_eq!(store.get_leader("g1").unwrap().unwrap().member_id, "b");
    assert!(matches!(
        store.get_member_info("g1", "a"),
        Err(E::MemberNotJoined(_))
    ));

    let Err(E::SessionExpired(notice)) = store.heartbeat(&a) else {
        panic!("the heartbeat after expiry says so");
    };
    assert_eq!(
        (notice.member_id.as_str(), notice.lost_groups.as_slice()),
        ("a", &["g1".to_owned(), "g2".to_owned()][..])
    );
    assert_eq!(notice.lost_candidacies, ["g1"]);
    assert_eq!(store.heartbeat(&a).unwrap(), 100, "live again");
    assert!(matches!(store.leave(&a, "g1"), Err(E::MemberExpired(_))));
    assert!(matches!(store.leave(&a, "g1"), Err(E::MemberNotJoined(_))));
    // Not carried over to a group of the same name created later.
    store.delete_group("g2").unwrap();
    store.create_group("g2").unwrap();
    assert!(matches!(
        store.update_capabilities(&a, "g2", b"x"),
        Err(E::MemberNotJoined(_))
    ));
    store.join(&a, "g1", b"", false).unwrap();
}

#[test]
fn a_forgotten_session_comes_back_expired() {
    let dir = TempDir::new();
    let mut store = open(&dir);
    let key = "00112233445566778899aabbccddeeff.5000.ghost";
    let Err(E::SessionExpired(notice)) = store.heartbeat(key) else {
        panic!("expired");
    };
    assert!(notice.lost_groups.is_empty() && notice.lost_candidacies.is_empty());
    assert_eq!(store.heartbeat(key).unwrap(), 5_000);
    assert!(matches!(store.heartbeat("made up"), Err(E::Connection(_))));
}

#[test]
fn the_feed_waits_for_another_writer() {
    let dir = TempDir::new();
    let mut store = open(&dir);
    let path = dir.path().to_owned();
    let writer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(150));
        let mut other =
            Store::open(&[("directory".into(), path.to_str().unwrap().into())]).unwrap();
        other.create_group("late").unwrap();
    });
    let started = Instant::now();
    let got = events(store.changes(0, 10, 5_000).unwrap());
    let took = started.elapsed();
    writer.join().unwrap();
    assert_eq!(kinds(&got), ["gc"]);
    assert!(
        took >= Duration::from_millis(150) && took < Duration::from_secs(1),
        "{took:?}"
    );
    // Nothing new: the wait ends on time with nothing.
    let started = Instant::now();
    assert!(events(store.changes(1, 10, 120).unwrap()).is_empty());
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(120) && took < Duration::from_millis(600),
        "{took:?}"
    );
}

#[test]
fn several_writers_at_once_lose_nothing() {
    const WRITERS: usize = 4;
    const EACH: usize = 40;
    let dir = TempDir::new();
    let mut store = open(&dir);
    let threads: Vec<_> = (0..WRITERS)
        .map(|w| {
            let path = dir.path().to_str().unwrap().to_owned();
            std::thread::spawn(move || {
                let mut mine = Store::open(&[("directory".into(), path)]).unwrap();
                let s = mine.open_session(&format!("w{w}"), 60_000).unwrap();
                for i in 0..EACH {
                    let g = format!("g{w}-{i}");
                    mine.join(&s, &g, g.as_bytes(), true).unwrap();
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    let head = store.head().unwrap();
    assert_eq!(head, (WRITERS * EACH * 2) as u64);
    assert_eq!(store.groups().unwrap().len(), WRITERS * EACH);
    let mut all = Vec::new();
    while (all.len() as u64) < head {
        let batch = events(store.changes(all.len() as u64, 1_000, 0).unwrap());
        assert!(!batch.is_empty());
        all.extend(batch);
    }
    assert_contiguous(&all, 1);
    assert!(!dir.path().join("lock").exists(), "every lock released");
}

#[test]
fn a_stale_lock_is_broken() {
    let dir = TempDir::new();
    let mut store = open(&dir);
    // A holder that crashed long ago.
    let old = crate::now_ms() - 60_000;
    std::fs::write(dir.path().join("lock"), format!("dead-1 {old}\n")).unwrap();
    std::fs::write(dir.path().join("state.tmp.dead"), "half a state").unwrap();
    let started = Instant::now();
    store.create_group("g").unwrap();
    assert!(started.elapsed() < Duration::from_secs(1));
    assert!(!dir.path().join("state.tmp.dead").exists());
    // A holder that crashed before writing its token: broken once seen for long enough.
    std::fs::write(dir.path().join("lock"), "").unwrap();
    let started = Instant::now();
    store.create_group("h").unwrap();
    let took = started.elapsed();
    assert!(took > STALE && took < STALE * 3, "{took:?}");
    assert_eq!(store.groups().unwrap(), ["g", "h"]);
}

#[test]
fn a_writer_whose_lock_was_taken_writes_nothing() {
    let dir = TempDir::new();
    let mut store = open(&dir);
    store.create_group("a").unwrap();
    let files = Dir::new(dir.path().to_owned(), "loser".into());
    let guard = files.lock().unwrap();
    // Its lock was broken and taken by another instance meanwhile.
    std::fs::write(dir.path().join("lock"), "winner-1 0\n").unwrap();
    let (mut header, _, body) = files.read_state().unwrap().unwrap();
    header.head += 1;
    assert!(guard.commit(&mut header, &body, &[]).is_err());
    drop(guard);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("lock")).unwrap(),
        "winner-1 0\n",
        "not its lock to remove"
    );
    std::fs::remove_file(dir.path().join("lock")).unwrap();
    assert_eq!(store.head().unwrap(), 1);
}

#[test]
fn a_torn_log_tail_is_ignored_and_cut_off() {
    let dir = TempDir::new();
    let mut store = open(&dir);
    store.create_group("a").unwrap();
    store.create_group("b").unwrap();
    // A writer that crashed after appending, before committing its state.
    let segment = dir.path().join("log").join(format!("{:020}.jsonl", 1));
    let mut bytes = std::fs::read(&segment).unwrap();
    bytes.extend_from_slice(
        b"{\"kind\":\"group-created\",\"revision\":3,\"group_id\":\"ghost\"}\n{\"kind\":\"gr",
    );
    std::fs::write(&segment, bytes).unwrap();
    assert_eq!(events(store.changes(0, 10, 0).unwrap()).len(), 2);
    assert!(events(store.changes(2, 10, 50).unwrap()).is_empty());
    store.create_group("c").unwrap();
    let all = events(store.changes(0, 10, 0).unwrap());
    assert_eq!(all.len(), 3);
    let MembershipEvent::GroupCreated(third) = &all[2] else {
        unreachable!()
    };
    assert_eq!(third.group_id, "c");
}

#[test]
fn history_is_bounded_and_old_segments_removed() {
    let dir = TempDir::new();
    let mut store = open_with(&dir, &[("history", "3")]);
    for i in 0..5 {
        store.create_group(&format!("g{i}")).unwrap();
    }
    let Feed::Resync(gap) = store.changes(0, 10, 0).unwrap() else {
        panic!("resync")
    };
    assert_eq!((gap.requested, gap.oldest, gap.head), (1, 3, 5));
    assert_eq!(kinds(&events(store.changes(2, 10, 0).unwrap())), ["gc"; 3]);
    for i in 5..700 {
        store.create_group(&format!("g{i}")).unwrap();
    }
    let segments = std::fs::read_dir(dir.path().join("log")).unwrap().count();
    assert!(segments <= 2, "{segments} segments left");
    let tail = events(store.changes(697, 10, 0).unwrap());
    assert_contiguous(&tail, 698);
    // A host keeping more history does not bring back what is gone.
    let mut wide = open(&dir);
    let Feed::Resync(gap) = wide.changes(10, 10, 0).unwrap() else {
        panic!("resync")
    };
    assert_eq!(gap.oldest, 698);
}

#[test]
fn a_store_that_started_over_gets_a_new_id() {
    let dir = TempDir::new();
    let mut store = open(&dir);
    let first = store.describe().unwrap().store_id;
    store.create_group("g").unwrap();
    store.create_group("h").unwrap();
    let mut feed = open(&dir);
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            std::fs::remove_dir_all(path).unwrap();
        } else {
            std::fs::remove_file(path).unwrap();
        }
    }
    let info = store.describe().unwrap();
    assert_ne!(info.store_id, first);
    assert_eq!((info.head, info.groups.len()), (0, 0));
    // A feed that followed the old store is told to start over.
    assert!(matches!(feed.changes(2, 10, 0).unwrap(), Feed::Resync(_)));
    store.create_group("x").unwrap();
    assert_eq!(kinds(&events(feed.changes(0, 10, 0).unwrap())), ["gc"]);
}

#[test]
fn large_capabilities_round_trip_through_state_and_log() {
    let dir = TempDir::new();
    let mut store = open(&dir);
    let s = store.open_session("m", 10_000).unwrap();
    let caps: Vec<u8> = (0..64 * 1024).map(|i| (i % 251) as u8).collect();
    store.join(&s, "g", &caps, true).unwrap();
    assert_eq!(store.get_member_info("g", "m").unwrap().capabilities, caps);
    let all = events(store.changes(0, 10, 0).unwrap());
    let MembershipEvent::MemberJoined(joined) = &all[1] else {
        unreachable!()
    };
    assert_eq!(joined.capabilities, caps);
}

#[test]
fn a_settled_state_is_polled_with_a_stat_and_a_new_one_is_seen() {
    let dir = TempDir::new();
    let mut store = open(&dir);
    let mut other = open(&dir);
    store.create_group("a").unwrap();
    // A state written long ago: after one read of its header, a `stat` tells it unchanged.
    let long_ago = std::time::SystemTime::now() - Duration::from_secs(60);
    std::fs::File::options()
        .write(true)
        .open(dir.path().join("state"))
        .unwrap()
        .set_modified(long_ago)
        .unwrap();
    assert!(events(store.changes(1, 10, 30).unwrap()).is_empty());
    assert!(events(store.changes(1, 10, 30).unwrap()).is_empty());
    let writer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        other.create_group("b").unwrap();
    });
    let started = Instant::now();
    let got = events(store.changes(1, 10, 5_000).unwrap());
    writer.join().unwrap();
    assert_eq!(kinds(&got), ["gc"]);
    assert!(started.elapsed() < Duration::from_secs(1));
}
