//! A driver's faults are told apart: a trap, a deadline overrun and bad data from the guest
//! each reach the caller as `Connection` (the coordination API's vocabulary), with a message
//! saying which it was, and are logged with their kind in the field `fault`. The
//! `evil-driver` fixture, told to fault, commits each in `describe`, the first call a
//! coordinator makes when it starts.

use std::sync::{Arc, Mutex};

use roster::{CoordinationError, Heartbeat, get_coordinator};
use roster_tests::plugin;

/// Keeps the `fault` field of every event logged on the thread it is the default for.
#[derive(Clone, Default)]
struct FaultLog(Arc<Mutex<Vec<String>>>);

impl FaultLog {
    fn kinds(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

/// The value of an event's `fault` field.
#[derive(Default)]
struct FaultField(Option<String>);

impl tracing::field::Visit for FaultField {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        if field.name() == "fault" {
            self.0 = Some(value.to_owned());
        }
    }

    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "fault" {
            self.0 = Some(format!("{value:?}"));
        }
    }
}

impl tracing::Subscriber for FaultLog {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }

    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}

    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}

    fn event(&self, event: &tracing::Event<'_>) {
        let mut fault = FaultField::default();
        event.record(&mut fault);
        if let Some(kind) = fault.0 {
            self.0.lock().unwrap().push(kind);
        }
    }

    fn enter(&self, _: &tracing::span::Id) {}

    fn exit(&self, _: &tracing::span::Id) {}
}

/// Start a coordinator on the fixture told to commit `fault`: the message of the
/// `Connection` error start fails with, and the kinds of fault logged meanwhile. The test's
/// runtime has one thread, so the driver's task logs on the thread the log is set for.
async fn start_faulting(fault: &str) -> (String, Vec<String>) {
    let log = FaultLog::default();
    let _default = tracing::subscriber::set_default(log.clone());
    // The address is never connected to; a 0.5 s timeout makes the call deadline 500 ms.
    let url = format!(
        "redis://127.0.0.1:1?namespace={fault}&timeout=0.5&driver={}",
        plugin("rust-evil-driver.wasm").display()
    );
    let c = get_coordinator(&url, "m").unwrap();
    let message = match c.start_with(Heartbeat::Manual).await {
        Err(CoordinationError::Connection(message)) => message,
        other => panic!("the faulting driver fails start with a connection error, got {other:?}"),
    };
    (message, log.kinds())
}

#[tokio::test]
async fn a_driver_trap_is_reported_as_a_trap_with_its_one_line_description() {
    let (message, kinds) = start_faulting("fault-trap").await;
    // A Rust panic ends in `unreachable`: the trap as the runtime describes it, on one line.
    assert_eq!(
        message,
        "driver redis trapped: wasm `unreachable` instruction executed"
    );
    assert_eq!(kinds, ["trap"]);
}

#[tokio::test]
async fn a_driver_overrunning_its_deadline_is_reported_as_a_deadline_overrun() {
    let (message, kinds) = start_faulting("fault-spin").await;
    assert_eq!(
        message,
        "driver redis did not answer in time (deadline 500 ms)"
    );
    assert_eq!(kinds, ["deadline"]);
}

#[tokio::test]
async fn a_driver_returning_a_value_the_host_rejects_is_reported_as_bad_data() {
    let (message, kinds) = start_faulting("fault-bad-data").await;
    assert!(
        message.starts_with("driver redis returned an invalid group id: "),
        "{message}"
    );
    assert!(!message.contains("trapped") && !message.contains("in time"));
    assert_eq!(kinds, ["bad-data"]);
}

#[tokio::test]
async fn an_error_the_driver_returns_is_its_answer_not_a_fault() {
    // Not told to fault, the fixture refuses `open` with a `connection` error of its own.
    let (message, kinds) = start_faulting("127.0.0.1:2").await;
    assert!(message.starts_with("connect 127.0.0.1:1: "), "{message}");
    assert_eq!(kinds, Vec::<String>::new());
}

/// The fixture told to commit `fault`, as a driver of its own.
fn faulting_driver(fault: &str) -> roster_wasm::WasmDriver {
    roster_wasm::WasmDriver::new(roster_wasm::DriverSpec {
        name: "redis".into(),
        component: Some(plugin("rust-evil-driver.wasm")),
        endpoint: roster::backend_url::Endpoint::Address("127.0.0.1:1".into()),
        options: vec![("namespace".into(), fault.into())],
        call_limit: std::time::Duration::from_millis(500),
    })
}

#[tokio::test]
async fn a_drivers_calls_faults_and_restarts_are_counted() {
    use roster::driver::{Driver, DriverStats};
    let trapping = faulting_driver("fault-trap");
    for _ in 0..2 {
        assert!(trapping.describe().await.is_err());
    }
    // Each trap drops the instance; the next call makes it again.
    assert_eq!(
        trapping.stats(),
        DriverStats {
            calls: 2,
            errors: 2,
            restarts: 2,
        }
    );
    let lying = faulting_driver("fault-bad-data");
    assert!(lying.describe().await.is_err());
    assert_eq!(
        lying.stats(),
        DriverStats {
            calls: 1,
            errors: 1,
            restarts: 0,
        }
    );
    // The store's own refusal is an answer, not a fault.
    let refusing = faulting_driver("127.0.0.1:2");
    assert!(refusing.describe().await.is_err());
    assert_eq!(
        refusing.stats(),
        DriverStats {
            calls: 1,
            errors: 0,
            restarts: 0,
        }
    );
}
