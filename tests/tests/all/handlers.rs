//! Membership-event handlers as sandboxed Wasm components, end to end: real components built
//! by this crate's build script, loaded by the plugin host, fed by a real coordinator.
//!
//! These run on real time (Wasm runs on the CPU, not on tokio's clock); every wait is a
//! bounded `wait_until`, never a fixed sleep.

use std::path::{Path, PathBuf};
use std::time::Duration;

use roster::plugin::{
    ComponentError, ComponentReport, FaultReason, Grants, HandlerHandle, HandlerSpec, Limits,
    PluginConfig, PluginError, PluginEvent, PluginEventKind, PluginHost, PluginHostOptions,
    PluginState,
};
use roster::{Coordinator, GroupId};
use roster_tests::{Harness, built, plugin, wait_until};
use tokio::sync::broadcast;

const PATIENCE: Duration = Duration::from_secs(20);

struct Fixture {
    host: PluginHost,
    harness: Harness,
    coordinator: Coordinator,
    events: broadcast::Receiver<PluginEvent>,
}

/// A cache shared by every test of this binary, filled once: compiling a component takes
/// seconds in a debug build, loading it from the cache takes milliseconds. It lives in the
/// target directory, so runs reuse it (entries are keyed by content and engine) and nothing
/// piles up in the system's temporary directory.
fn shared_cache() -> PathBuf {
    static CACHE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    CACHE
        .get_or_init(|| {
            let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("handlers-cache");
            let host = PluginHost::new(PluginHostOptions::cache_in(&dir)).unwrap();
            for entry in std::fs::read_dir(env!("ROSTER_PLUGIN_DIR")).unwrap() {
                // Filling the cache is all that matters here; components that are not
                // handlers (drivers, the validation fixtures) fail their check, uncached.
                let _ = host.check(&entry.unwrap().path());
            }
            dir
        })
        .clone()
}

async fn fixture() -> Fixture {
    fixture_with_cache(tokio::task::spawn_blocking(shared_cache).await.unwrap()).await
}

async fn fixture_with_cache(cache_dir: PathBuf) -> Fixture {
    let host = PluginHost::new(PluginHostOptions::cache_in(cache_dir)).unwrap();
    let events = host.events();
    let harness = Harness::memory("");
    let coordinator = harness.started("tester").await;
    Fixture {
        host,
        harness,
        coordinator,
        events,
    }
}

impl Fixture {
    async fn attach(&self, spec: HandlerSpec) -> HandlerHandle {
        self.host
            .attach_handler(&self.coordinator, spec)
            .await
            .unwrap()
    }

    /// A member (its own coordinator) that joins `group`, creating it if needed.
    async fn join(&self, group: &str, member: &str, capabilities: &str) -> Coordinator {
        let c = self.harness.started(member).await;
        c.join_group_create_with(group, capabilities).await.unwrap();
        c
    }

    /// Wait for a plugin event matching `pick`.
    async fn event(&mut self, mut pick: impl FnMut(&PluginEvent) -> bool) -> PluginEvent {
        tokio::time::timeout(PATIENCE, async {
            loop {
                match self.events.recv().await {
                    Ok(event) if pick(&event) => return event,
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => panic!("plugin host gone"),
                }
            }
        })
        .await
        .expect("plugin event within the patience window")
    }
}

async fn wait_for_log(handle: &HandlerHandle, needle: &str) -> Vec<String> {
    wait_until(PATIENCE, || async {
        let logs = handle.logs();
        logs.iter().any(|l| l.contains(needle)).then_some(logs)
    })
    .await
}

fn spec(name: &str, file: &str) -> HandlerSpec {
    HandlerSpec::new(name, plugin(file))
}

fn in_groups(mut spec: HandlerSpec, groups: &[&str]) -> HandlerSpec {
    spec.groups = groups.iter().map(|g| GroupId::new(g).unwrap()).collect();
    spec
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_for_a_revision_returns_once_the_handler_has_taken_it() {
    if !built("rust") {
        return;
    }
    let f = fixture().await;
    let handle = f.attach(spec("log", "rust-log-events.wasm")).await;
    let member = f.join("workers", "w1", "").await;
    let joined = member.head_revision();
    tokio::time::timeout(PATIENCE, handle.wait_handled(joined))
        .await
        .expect("handled within the patience window");
    // The call that delivered the join has returned: its log line is there already.
    assert!(
        handle
            .logs()
            .iter()
            .any(|l| l.contains("w1 joined workers")),
        "{:?}",
        handle.logs()
    );
    assert!(handle.stats().handled_through >= joined);
    // A revision nobody has made is not reached.
    let later = tokio::time::timeout(Duration::from_millis(50), handle.wait_handled(joined + 1));
    assert!(later.await.is_err());
}

// ----- one example per language: a join then a leave, in order, and its effect -----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_log_handler_logs_a_join_then_a_leave_in_order() {
    if !built("rust") {
        return;
    }
    let f = fixture().await;
    let handle = f.attach(spec("log", "rust-log-events.wasm")).await;
    let member = f.join("workers", "w1", "").await;
    member.leave_group("workers").await.unwrap();
    let logs = wait_for_log(&handle, "w1 left workers (left)").await;
    let joined = logs
        .iter()
        .position(|l| l.contains("w1 joined workers"))
        .expect("join logged");
    let left = logs
        .iter()
        .position(|l| l.contains("w1 left workers"))
        .unwrap();
    assert!(joined < left, "{logs:?}");
    assert!(
        logs[0].contains("resync at"),
        "attaching starts with a snapshot: {logs:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_audit_trail_appends_json_lines_in_its_granted_directory() {
    if !built("rust") {
        return;
    }
    let f = fixture().await;
    let trail = tempfile::tempdir().unwrap();
    let mut audit = in_groups(spec("audit", "rust-audit-trail.wasm"), &["workers"]);
    audit.grants.directory = Some(trail.path().to_owned());
    let handle = f.attach(audit).await;
    let member = f.join("workers", "w1", "").await;
    member.leave_group("workers").await.unwrap();
    let file = trail.path().join("audit.jsonl");
    let lines = wait_until(PATIENCE, || async {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        (lines.iter().filter(|l| l["kind"] != "resync").count() >= 3).then_some(lines)
    })
    .await;
    let kinds: Vec<&str> = lines.iter().map(|l| l["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        ["resync", "group-created", "member-joined", "member-left"]
    );
    assert_eq!(lines[2]["member"], "w1");
    assert_eq!(lines[3]["reason"], "left");
    assert!(lines[1]["revision"].as_u64() < lines[2]["revision"].as_u64());
    // The trail line is written inside the call; the count moves when the call returns.
    tokio::time::timeout(PATIENCE, handle.wait_handled(member.head_revision()))
        .await
        .expect("the handler returns from its last call");
    assert_eq!(handle.stats().events_delivered, 3);
}

// ----- validation: every rejection is one line naming the file and the problem -----

/// The problem `result` rejects `path` for, checked to be told in one line that names the
/// file.
fn rejection(result: Result<ComponentReport, PluginError>, path: &Path) -> ComponentError {
    let error = result.expect_err("rejected");
    let text = error.to_string();
    assert!(!text.contains('\n'), "one line: {text}");
    assert!(
        text.starts_with(&path.display().to_string()),
        "names the file: {text}"
    );
    match error {
        PluginError::Rejected { problem, .. } => problem,
        other => panic!("not a rejection: {other}"),
    }
}

/// Check `path` against the handler world and against the driver world: both say the same.
fn rejected_by_both(f: &Fixture, path: &Path) -> ComponentError {
    let as_handler = rejection(f.host.check(path), path);
    let as_driver = rejection(roster::check_driver(path), path);
    assert_eq!(
        std::mem::discriminant(&as_handler),
        std::mem::discriminant(&as_driver)
    );
    as_handler
}

/// A component holding one core module whose only function does not validate (`i32.add` on
/// an empty stack), and exporting nothing: of no world, and impossible to compile.
const UNCOMPILABLE_COMPONENT: [u8; 36] = [
    0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00, // component header
    0x01, 0x1a, // core module section, 26 bytes
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // module header
    0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7f, // type section: () -> i32
    0x03, 0x02, 0x01, 0x00, // function section: one function of that type
    0x0a, 0x05, 0x01, 0x03, 0x00, 0x6a, 0x0b, // code: i32.add, end
];

#[tokio::test]
async fn random_bytes_are_rejected_in_one_line_as_not_webassembly() {
    let f = fixture().await;
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.wasm");
    // Deterministic noise: a linear congruential generator's high bytes.
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let noise: Vec<u8> = (0..4096)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            (state >> 56) as u8
        })
        .collect();
    std::fs::write(&junk, noise).unwrap();
    assert_eq!(rejected_by_both(&f, &junk), ComponentError::NotWasm);
    assert!(
        f.host
            .check(&junk)
            .unwrap_err()
            .to_string()
            .ends_with("junk.wasm: not a WebAssembly file (bad magic number)")
    );
}

#[tokio::test]
async fn empty_file_is_rejected_in_one_line_as_empty() {
    let f = fixture().await;
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.wasm");
    std::fs::write(&empty, b"").unwrap();
    assert_eq!(rejected_by_both(&f, &empty), ComponentError::Empty);
}

#[tokio::test]
async fn core_module_is_rejected_in_one_line_as_not_a_component() {
    let f = fixture().await;
    let dir = tempfile::tempdir().unwrap();
    let module = dir.path().join("module.wasm");
    // The smallest valid core module: magic number and version 1, no sections.
    std::fs::write(&module, b"\0asm\x01\0\0\0").unwrap();
    assert_eq!(rejected_by_both(&f, &module), ComponentError::CoreModule);
}

#[tokio::test]
async fn truncated_component_is_rejected_in_one_line_as_malformed() {
    if !built("rust") {
        return;
    }
    let f = fixture().await;
    let dir = tempfile::tempdir().unwrap();
    let truncated = dir.path().join("truncated.wasm");
    let whole = std::fs::read(plugin("rust-log-events.wasm")).unwrap();
    std::fs::write(&truncated, &whole[..whole.len() / 2]).unwrap();
    assert!(matches!(
        rejected_by_both(&f, &truncated),
        ComponentError::Malformed { .. }
    ));
}

#[tokio::test]
async fn missing_file_is_a_read_error_naming_it() {
    let f = fixture().await;
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.wasm");
    let error = f.host.check(&missing).unwrap_err();
    assert!(matches!(error, PluginError::Read { .. }), "{error}");
    let text = error.to_string();
    assert!(
        text.contains("missing.wasm") && !text.contains('\n'),
        "{text}"
    );
}

#[tokio::test]
async fn component_of_another_world_is_rejected_in_one_line_naming_the_missing_export() {
    if !built("rust") {
        return;
    }
    let f = fixture().await;
    let driver = plugin("rust-redis-driver.wasm");
    assert_eq!(
        rejection(f.host.check(&driver), &driver),
        ComponentError::MissingExport {
            world: "handler",
            export: "roster:coordination/events@0.1.0".into()
        }
    );
    let handler = plugin("rust-log-events.wasm");
    assert_eq!(
        rejection(roster::check_driver(&handler), &handler),
        ComponentError::MissingExport {
            world: "driver",
            export: "roster:coordination/backend@0.1.0".into()
        }
    );
    let not_a_handler = plugin("rust-not-a-handler.wasm");
    let err = f
        .host
        .attach_handler(&f.coordinator, spec("x", "rust-not-a-handler.wasm"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, PluginError::Rejected { path, problem: ComponentError::MissingExport { export, .. } }
            if path == &not_a_handler && export == "roster:coordination/events@0.1.0"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_component_is_refused_before_compiling_and_leaves_no_cache_entry() {
    if !built("rust") {
        return;
    }
    let cache = tempfile::tempdir().unwrap();
    let f = fixture_with_cache(cache.path().to_owned()).await;
    // Compiling this one fails; being told it is of the wrong world shows it never was.
    let uncompilable = cache.path().join("uncompilable.wasm");
    std::fs::write(&uncompilable, UNCOMPILABLE_COMPONENT).unwrap();
    assert!(matches!(
        rejection(f.host.check(&uncompilable), &uncompilable),
        ComponentError::MissingExport { .. }
    ));
    // A real component of another world: refused, and nothing of it cached.
    let driver = plugin("rust-redis-driver.wasm");
    let problem = rejection(f.host.check(&driver), &driver);
    assert!(
        matches!(problem, ComponentError::MissingExport { .. }),
        "{problem}"
    );
    let cached: Vec<_> = std::fs::read_dir(cache.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .filter(|name| name != "uncompilable.wasm")
        .collect();
    assert!(cached.is_empty(), "{cached:?}");
}

#[tokio::test]
async fn component_with_an_unexpected_import_is_rejected_naming_it() {
    if !built("rust") {
        return;
    }
    let f = fixture().await;
    let path = plugin("rust-evil-import.wasm");
    assert_eq!(
        rejection(f.host.check(&path), &path),
        ComponentError::UnexpectedImport {
            world: "handler",
            import: "fixture:evil/backdoor".into()
        }
    );
}

#[tokio::test]
async fn check_lists_a_handlers_imports_and_exports() {
    if !built("rust") {
        return;
    }
    let f = fixture().await;
    let report = f.host.check(&plugin("rust-log-events.wasm")).unwrap();
    assert!(
        report
            .exports
            .iter()
            .any(|e| e == "roster:coordination/events@0.1.0")
    );
    assert!(
        report
            .imports
            .iter()
            .any(|i| i == "roster:coordination/logging@0.1.0")
    );
}

#[tokio::test]
async fn c_javascript_and_python_examples_import_no_wasi_at_all() {
    let f = fixture().await;
    for (language, file) in [
        ("c", "c-logger.wasm"),
        ("js", "js-hash-ring.wasm"),
        ("python", "python-quorum.wasm"),
    ] {
        if !built(language) {
            continue;
        }
        let report = f.host.check(&plugin(file)).unwrap();
        let wasi: Vec<&String> = report
            .imports
            .iter()
            .filter(|i| i.starts_with("wasi:"))
            .collect();
        assert!(wasi.is_empty(), "{file} imports {wasi:?}");
    }
}

// ----- faults are contained -----

/// Attach the misbehaving fixture (to `group` and "probe") and a healthy logger (to every
/// group), set off the misbehaviour, and check: the fault is reported and the plugin
/// restarted, it then receives later events, and the healthy handler lost nothing.
async fn contained(group: &str, limits: Limits, expect: impl Fn(&FaultReason) -> bool) {
    let mut f = fixture().await;
    let healthy = f.attach(spec("healthy", "rust-log-events.wasm")).await;
    let mut bad = in_groups(spec("bad", "rust-misbehave.wasm"), &[group, "probe"]);
    bad.limits = limits;
    let bad = f.attach(bad).await;
    let _victim = f.join(group, "victim", "").await;
    let fault = f
        .event(|e| e.plugin == "bad" && matches!(e.kind, PluginEventKind::Fault { .. }))
        .await;
    let PluginEventKind::Fault { reason, .. } = &fault.kind else {
        unreachable!()
    };
    assert!(expect(reason), "unexpected fault: {reason}");
    f.event(|e| e.plugin == "bad" && e.kind == PluginEventKind::Restarted)
        .await;

    // Coordination calls are not held up, and later events still reach the plugin.
    let probe = f.join("probe", "p1", "").await;
    probe.leave_group("probe").await.unwrap();
    let head = f.coordinator.head_revision();
    wait_for_log(&bad, &format!("ok {head}")).await;
    wait_for_log(&healthy, "p1 left probe").await;

    // The healthy handler saw every event, each once.
    let logs = healthy.logs();
    let seen: Vec<u64> = logs
        .iter()
        .filter_map(|l| l.strip_prefix("info: #")?.split(' ').next()?.parse().ok())
        .collect();
    assert_eq!(seen, (1..=head).collect::<Vec<_>>(), "{logs:?}");
    let stats = bad.stats();
    assert!(
        stats.traps + stats.deadline_overruns >= 1 && stats.restarts >= 1,
        "{stats:?}"
    );
    assert_eq!(healthy.stats().traps, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trapping_handler_is_restarted_and_others_lose_nothing() {
    if built("rust") {
        contained("trap", Limits::default(), |r| matches!(r, FaultReason::Trap(m) if m.contains("unreachable") || m.contains("panic"))).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handler_looping_forever_overruns_its_deadline_and_is_restarted() {
    if built("rust") {
        let limits = Limits {
            call_deadline: Duration::from_millis(100),
            ..Limits::default()
        };
        contained("spin", limits, |r| {
            *r == FaultReason::Deadline(Duration::from_millis(100))
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handler_growing_memory_without_bound_hits_its_cap() {
    if built("rust") {
        let limits = Limits {
            memory_bytes: 8 << 20,
            ..Limits::default()
        };
        contained("grow", limits, |r| matches!(r, FaultReason::Trap(_))).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handler_overflowing_its_stack_is_reported_as_a_stack_overflow_and_restarted() {
    if built("rust") {
        // Rust keeps most frames on a shadow stack at the bottom of linear memory: running
        // past it is an out-of-bounds access just below address 0, which wasmtime reports as
        // only that; the fault names the likely stack overflow too, on one line.
        contained("recurse", Limits::default(), |r| {
            matches!(r, FaultReason::Trap(m)
                if m.contains("stack overflow")
                    && m.contains("out of bounds memory access")
                    && !m.contains('\n'))
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handler_faulting_repeatedly_is_quarantined_then_resumes() {
    if !built("rust") {
        return;
    }
    let mut f = fixture().await;
    let bad = f
        .attach(in_groups(
            spec("bad", "rust-misbehave.wasm"),
            &["trap", "probe"],
        ))
        .await;
    let _first = f.join("trap", "t1", "").await;
    f.event(|e| matches!(e.kind, PluginEventKind::EventSkipped { .. }))
        .await;
    let _second = f.join("trap", "t2", "").await;
    let quarantined = f
        .event(|e| matches!(e.kind, PluginEventKind::Quarantined { .. }))
        .await;
    assert_eq!(quarantined.plugin, "bad");
    assert!(matches!(bad.stats().state, PluginState::Quarantined { .. }));
    // After the quarantine it runs again and receives new events.
    let _probe = f.join("probe", "p1", "").await;
    let head = f.coordinator.head_revision();
    wait_for_log(&bad, &format!("ok {head}")).await;
    assert_eq!(bad.stats().state, PluginState::Running);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handler_flooding_logs_is_rate_limited() {
    if !built("rust") {
        return;
    }
    let f = fixture().await;
    let mut flood = in_groups(spec("flood", "rust-misbehave.wasm"), &["flood"]);
    flood.limits.log_lines_per_second = 50;
    flood.limits.call_deadline = Duration::from_secs(10);
    let handle = f.attach(flood).await;
    let _member = f.join("flood", "f1", "").await;
    let stats = wait_until(PATIENCE, || async {
        let s = handle.stats();
        (s.events_delivered > 0).then_some(s)
    })
    .await;
    assert!(stats.logs_dropped >= 9_000, "{stats:?}");
    assert!(handle.logs().len() <= 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handler_returning_an_error_is_counted_and_keeps_receiving() {
    if !built("rust") {
        return;
    }
    let f = fixture().await;
    let handle = f
        .attach(in_groups(
            spec("refuse", "rust-misbehave.wasm"),
            &["refuse", "probe"],
        ))
        .await;
    let _r = f.join("refuse", "r1", "").await;
    wait_until(PATIENCE, || async {
        (handle.stats().errors >= 1).then_some(())
    })
    .await;
    let _p = f.join("probe", "p1", "").await;
    wait_for_log(&handle, &format!("ok {}", f.coordinator.head_revision())).await;
    let stats = handle.stats();
    assert!(stats.errors >= 1 && stats.traps == 0, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_event_amid_a_thousand_is_skipped_alone_and_the_other_999_arrive_in_order() {
    if !built("rust") {
        return;
    }
    let mut f = fixture().await;
    let record = tempfile::tempdir().unwrap();
    let mut poisoned = in_groups(spec("poisoned", "rust-misbehave.wasm"), &["hold", "poison"]);
    poisoned.grants.directory = Some(record.path().to_owned());
    // The hold below lasts as long as the test takes to write the batch.
    poisoned.limits.call_deadline = PATIENCE;
    let handle = f.attach(poisoned).await;
    // Keep the handler inside a call while the batch piles up behind it.
    let _holder = f.join("hold", "h1", "").await;
    wait_for_log(&handle, "holding").await;
    let first = f.coordinator.head_revision() + 1;
    let member = f.join("poison", "m1", "").await;
    for i in 0..498 {
        member
            .update_capabilities("poison", format!("a{i}"))
            .await
            .unwrap();
    }
    let _poison = f.join("poison", "poison", "").await;
    let poison = f.coordinator.head_revision();
    for i in 0..499 {
        member
            .update_capabilities("poison", format!("b{i}"))
            .await
            .unwrap();
    }
    let last = f.coordinator.head_revision();
    assert_eq!((last - first + 1, poison - first), (1000, 500));
    let _release = f.join("release", "r1", "").await;

    // One call had all 1 000; it faulted, and only the poison event was skipped.
    let fault = f
        .event(|e| e.plugin == "poisoned" && matches!(e.kind, PluginEventKind::Fault { .. }))
        .await;
    assert!(
        matches!(fault.kind, PluginEventKind::Fault { revisions, .. } if revisions == (first, last)),
        "{fault:?}"
    );
    let skipped = f
        .event(|e| e.plugin == "poisoned" && matches!(e.kind, PluginEventKind::EventSkipped { .. }))
        .await;
    assert_eq!(
        skipped.kind,
        PluginEventKind::EventSkipped { revision: poison }
    );
    tokio::time::timeout(PATIENCE, handle.wait_handled(last))
        .await
        .expect("the rest of the batch is handled");
    let received: Vec<u64> = std::fs::read_to_string(record.path().join("received"))
        .unwrap()
        .lines()
        .map(|line| line.parse().unwrap())
        .collect();
    let expected: Vec<u64> = (first..=last).filter(|r| *r != poison).collect();
    assert_eq!(received, expected, "the other 999, each once, in order");
    let stats = handle.stats();
    assert_eq!(
        (stats.events_skipped, &stats.state),
        (1, &PluginState::Running),
        "{stats:?}"
    );
    while let Ok(event) = f.events.try_recv() {
        assert!(
            !matches!(
                event.kind,
                PluginEventKind::EventSkipped { .. } | PluginEventKind::Quarantined { .. }
            ),
            "{event:?}"
        );
    }
}

// ----- the sandbox: one test per denial -----

async fn denial(group: &str, capabilities: &str, grants: Grants, needle: &str) -> Vec<String> {
    let f = fixture().await;
    let mut probe = in_groups(spec("probe", "rust-misbehave.wasm"), &[group]);
    probe.grants = grants;
    let handle = f.attach(probe).await;
    let _member = f.join(group, "m1", capabilities).await;
    wait_for_log(&handle, needle).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handler_cannot_read_files_without_a_grant() {
    if built("rust") {
        let logs = denial("file", "", Grants::default(), "dir: ").await;
        assert!(logs.iter().any(|l| l.contains("file: denied")), "{logs:?}");
        assert!(logs.iter().any(|l| l.contains("dir: denied")), "{logs:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handler_cannot_open_sockets() {
    if !built("rust") {
        return;
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let logs = denial("socket", &address, Grants::default(), "socket: ").await;
    assert!(
        logs.iter().any(|l| l.contains("socket: denied")),
        "{logs:?}"
    );
    assert!(
        listener.accept().is_err(),
        "no connection reached the listener"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handler_cannot_read_environment_variables() {
    if built("rust") {
        let logs = denial("env", "", Grants::default(), "env: ").await;
        assert!(logs.iter().any(|l| l.contains("env: denied")), "{logs:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handler_cannot_change_membership_without_the_mutate_grant() {
    if built("rust") {
        let logs = denial("mutate", "", Grants::default(), "mutate: ").await;
        assert!(
            logs.iter()
                .any(|l| l.contains("mutate: denied") && l.contains("NotPermitted")),
            "{logs:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handler_with_the_mutate_grant_can_join() {
    if built("rust") {
        let grants = Grants {
            mutate: true,
            ..Grants::default()
        };
        let logs = denial("mutate", "", grants, "mutate: ").await;
        assert!(
            logs.iter().any(|l| l.contains("mutate: allowed")),
            "{logs:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handler_cannot_take_locks_without_the_mutate_grant() {
    if built("rust") {
        let logs = denial("lock", "", Grants::default(), "lock: ").await;
        assert!(
            logs.iter()
                .any(|l| l.contains("lock: denied") && l.contains("NotPermitted")),
            "{logs:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handler_with_the_mutate_grant_takes_a_lock_its_coordinator_holds() {
    if !built("rust") {
        return;
    }
    let f = fixture().await;
    let mut probe = in_groups(spec("probe", "rust-misbehave.wasm"), &["lock"]);
    probe.grants.mutate = true;
    let handle = f.attach(probe).await;
    let _member = f.join("lock", "m1", "").await;
    let logs = wait_for_log(&handle, "lock: ").await;
    assert!(
        logs.iter()
            .any(|l| l.contains("lock: allowed: acquired with token")),
        "{logs:?}"
    );
    let info = f.coordinator.get_lock_info("guarded").await.unwrap();
    assert_eq!(info.holders.len(), 1, "{info:?}");
    assert_eq!(info.holders[0].member_id, *f.coordinator.member_id());
    assert!(matches!(
        f.coordinator.lock_standing("guarded").await.unwrap(),
        roster::LockStanding::Holding { .. }
    ));
}

// ----- backpressure, reload, cache, configuration -----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handler_that_falls_behind_its_queue_is_told_to_resync() {
    if !built("rust") {
        return;
    }
    let mut f = fixture().await;
    let mut slow = in_groups(spec("slow", "rust-misbehave.wasm"), &["spin", "probe"]);
    slow.limits.queue_events = 10;
    slow.limits.call_deadline = Duration::from_millis(300);
    let handle = f.attach(slow).await;
    f.event(|e| matches!(e.kind, PluginEventKind::Resynced { .. }))
        .await;
    let _spinner = f.join("spin", "s1", "").await;
    // While it spins, far more than its queue happens.
    let probe = f.join("probe", "p0", "").await;
    for _ in 0..30 {
        probe.update_capabilities("probe", "x").await.unwrap();
    }
    let resynced = f
        .event(|e| matches!(e.kind, PluginEventKind::Resynced { .. }))
        .await;
    let PluginEventKind::Resynced { revision } = resynced.kind else {
        unreachable!()
    };
    // It was told to resync only once more than its queue (10 events) had piled up.
    assert!(revision > 10, "resynced at #{revision}");
    assert!(handle.stats().resyncs >= 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replacing_the_file_swaps_the_handler_without_losing_or_repeating_events() {
    if !built("rust") {
        return;
    }
    let mut f = fixture().await;
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("handler.wasm");
    std::fs::copy(plugin("rust-log-events.wasm"), &live).unwrap();
    let mut reloading = HandlerSpec::new("reloading", &live);
    reloading.hot_reload = true;
    let handle = f.attach(reloading).await;
    let member = f.join("g", "m1", "").await;
    wait_for_log(&handle, "m1 joined g").await;

    // The misbehaving fixture logs "ok <revision>" for groups it does not misbehave in.
    let staged = dir.path().join("staged.wasm");
    std::fs::copy(plugin("rust-misbehave.wasm"), &staged).unwrap();
    std::fs::rename(&staged, &live).unwrap();
    f.event(|e| e.kind == PluginEventKind::Reloaded).await;
    for _ in 0..3 {
        member.update_capabilities("g", "x").await.unwrap();
    }
    let head = f.coordinator.head_revision();
    let logs = wait_for_log(&handle, &format!("ok {head}")).await;
    let seen: Vec<u64> = logs
        .iter()
        .filter_map(|l| {
            let rest = l.strip_prefix("info: ")?;
            let number = rest
                .strip_prefix('#')
                .or_else(|| rest.strip_prefix("ok "))?;
            number.split(' ').next()?.parse().ok()
        })
        .collect();
    assert_eq!(
        seen,
        (1..=head).collect::<Vec<_>>(),
        "each revision once, in order: {logs:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_load_of_a_component_comes_from_the_cache() {
    if !built("rust") {
        return;
    }
    let cache = tempfile::tempdir().unwrap();
    let f = fixture_with_cache(cache.path().to_owned()).await;
    let first = f.attach(spec("one", "rust-log-events.wasm")).await;
    let second = f.attach(spec("two", "rust-log-events.wasm")).await;
    assert!(!first.load.cached && !first.stats().loaded_from_cache);
    assert!(second.load.cached && second.stats().loaded_from_cache);
    assert!(second.stats().load_time > Duration::ZERO);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handlers_and_drivers_share_one_cache_of_compiled_components() {
    if !built("rust") {
        return;
    }
    let cache = tempfile::tempdir().unwrap();
    let cached = || std::fs::read_dir(cache.path()).unwrap().count();
    let host = PluginHost::new(PluginHostOptions::cache_in(cache.path())).unwrap();
    host.check(&plugin("rust-log-events.wasm")).unwrap();
    assert_eq!(cached(), 1);
    let driver = plugin("rust-file-driver.wasm");
    let report = host.check_driver(&driver).unwrap();
    assert!(
        report
            .exports
            .iter()
            .any(|e| e.starts_with("roster:coordination/backend@"))
    );
    assert_eq!(cached(), 2);
    // Another host on the same directory finds the driver there; one without a cache, or
    // the library's own check, writes nothing.
    let again = PluginHost::new(PluginHostOptions::cache_in(cache.path())).unwrap();
    assert_eq!(again.check_driver(&driver).unwrap(), report);
    let uncached = PluginHost::new(PluginHostOptions::no_cache()).unwrap();
    assert_eq!(uncached.check_driver(&driver).unwrap(), report);
    assert_eq!(roster::check_driver(&driver).unwrap(), report);
    assert_eq!(cached(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handlers_attach_from_a_configuration_file() {
    if !built("rust") {
        return;
    }
    let f = fixture().await;
    let config = PluginConfig::from_toml(
        r#"
        [[handlers]]
        name = "from-config"
        path = "rust-log-events.wasm"
        groups = ["configured"]
        events = ["member-joined"]
        "#,
    )
    .unwrap();
    let handles = f
        .host
        .attach_config(
            &f.coordinator,
            &config,
            Path::new(env!("ROSTER_PLUGIN_DIR")),
        )
        .await
        .unwrap();
    let member = f.join("configured", "c1", "").await;
    member.leave_group("configured").await.unwrap();
    let _other = f.join("elsewhere", "c2", "").await;
    // A later join it does see marks the point by which everything before was filtered.
    let _last = f.join("configured", "c3", "").await;
    let logs = wait_for_log(&handles[0], "c3 joined configured").await;
    assert!(logs.iter().any(|l| l.contains("c1 joined configured")));
    assert!(
        !logs
            .iter()
            .any(|l| l.contains("left") || l.contains("elsewhere") || l.contains("created")),
        "{logs:?}"
    );
    let stats = wait_until(PATIENCE, || async {
        let stats = handles[0].stats();
        (stats.events_delivered == 2).then_some(stats)
    })
    .await;
    assert_eq!(stats.name, "from-config");
    assert!(stats.call_p99 >= stats.call_p50 && stats.call_p50 > Duration::ZERO);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn detached_handler_stops_receiving() {
    if !built("rust") {
        return;
    }
    let mut f = fixture().await;
    let handle = f.attach(spec("gone", "rust-log-events.wasm")).await;
    let _member = f.join("g", "m1", "").await;
    wait_for_log(&handle, "m1 joined g").await;
    handle.detach().await;
    f.event(|e| e.plugin == "gone" && e.kind == PluginEventKind::Stopped)
        .await;
}

// ----- the other languages -----

/// Attach `file` to group "workers", have w1 join and leave, and return the handler's logs
/// once they show the leave and then `settled`, the last line the handler writes for it
/// (a handler logs while its call runs, so the leave line alone can arrive before the rest).
async fn join_then_leave(
    language: &str,
    file: &str,
    leave_line: &str,
    settled: &str,
) -> Option<Vec<String>> {
    if !built(language) {
        return None;
    }
    let f = fixture().await;
    let handle = f
        .attach(in_groups(spec(language, file), &["workers"]))
        .await;
    let member = f.join("workers", "w1", "{\"weight\": 2}").await;
    member.leave_group("workers").await.unwrap();
    wait_for_log(&handle, leave_line).await;
    let logs = wait_for_log(&handle, settled).await;
    let joined = logs
        .iter()
        .position(|l| l.contains("w1 joined workers"))
        .expect("join logged");
    let left = logs.iter().position(|l| l.contains(leave_line)).unwrap();
    assert!(joined < left, "join before leave: {logs:?}");
    assert_eq!(handle.stats().traps, 0);
    Some(logs)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_logger_logs_a_join_then_a_leave_in_order() {
    let leave = "w1 left workers (left)";
    join_then_leave("c", "c-logger.wasm", leave, leave).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn javascript_hash_ring_assigns_partitions_as_members_join_and_leave() {
    // The ring was rebalanced after the changes: every partition moved to w1 and back, or
    // (when both events came in one batch) the ring ends empty.
    join_then_leave(
        "js",
        "js-hash-ring.wasm",
        "w1 left workers",
        "ring workers: 0 members",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_quorum_handler_warns_when_a_group_loses_its_quorum() {
    join_then_leave(
        "python",
        "python-quorum.wasm",
        "w1 left workers (left)",
        "warn: quorum lost in workers: 0 of 1 members",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn go_counts_handler_logs_joins_and_leaves_and_writes_its_summary_in_its_granted_directory() {
    if !built("go") {
        return;
    }
    let f = fixture().await;
    let data = tempfile::tempdir().unwrap();
    let mut counts = in_groups(spec("go", "go-counts.wasm"), &["workers"]);
    counts.grants.directory = Some(data.path().to_owned());
    let handle = f.attach(counts).await;
    let w1 = f.join("workers", "w1", "").await;
    let _w2 = f.join("workers", "w2", "").await;
    w1.leave_group("workers").await.unwrap();
    let logs = wait_for_log(&handle, "w1 left workers (1 members)").await;
    let joined = logs
        .iter()
        .position(|l| l.contains("w2 joined workers (2 members)"))
        .expect("both joins logged, counted");
    let left = logs.iter().position(|l| l.contains("w1 left")).unwrap();
    assert!(joined < left, "{logs:?}");
    let head = w1.head_revision();
    tokio::time::timeout(PATIENCE, handle.wait_handled(head))
        .await
        .expect("the handler returns from its last call");
    let summary = std::fs::read_to_string(data.path().join("summary.txt")).unwrap();
    assert_eq!(summary, format!("revision {head}\nworkers 1\n"));
    assert_eq!(handle.stats().traps, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn go_counts_handler_without_a_directory_counts_and_says_once_it_cannot_write() {
    if !built("go") {
        return;
    }
    let f = fixture().await;
    let handle = f
        .attach(in_groups(spec("go", "go-counts.wasm"), &["workers"]))
        .await;
    let w1 = f.join("workers", "w1", "").await;
    w1.leave_group("workers").await.unwrap();
    let logs = wait_for_log(&handle, "w1 left workers (0 members)").await;
    let warnings = logs
        .iter()
        .filter(|l| l.contains("cannot write /data/summary.txt"))
        .count();
    assert_eq!(warnings, 1, "{logs:?}");
    assert_eq!(handle.stats().traps, 0);
}
