//! `roster plugin new` → `roster plugin build` → `roster plugin run` → `roster plugin attach`,
//! for every language a project can be written in, as a plugin author runs them. A language
//! whose toolchain is missing (exit 6) is skipped with a message, or fails when
//! `ROSTER_REQUIRE_LANGUAGES=all` (CI).

use std::path::Path;
use std::process::{Command, Output};

use crate::common::{CACHE_HOME, Daemon, ROSTER, said};

/// `PATH` with the Go toolchain `plugins/setup-toolchains` installs first, as a Go author's
/// would have their Go (without it, `roster plugin build` installs Go into the project).
fn path_with_go() -> std::ffi::OsString {
    let go = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../plugins/go/.venv/bin");
    let rest = std::env::var_os("PATH").unwrap_or_default();
    std::env::join_paths(std::iter::once(go).chain(std::env::split_paths(&rest))).unwrap()
}

fn roster(dir: &Path, args: &[&str]) -> Output {
    Command::new(ROSTER)
        .args(args)
        .env("PATH", path_with_go())
        .current_dir(dir)
        .env("XDG_CACHE_HOME", CACHE_HOME)
        // Rust projects share one target directory across runs of the suite.
        .env(
            "CARGO_TARGET_DIR",
            concat!(env!("CARGO_TARGET_TMPDIR"), "/plugin-new-target"),
        )
        .output()
        .expect("run the roster CLI")
}

/// Make, build, run and attach a handler in `lang`.
async fn new_build_run_attach(lang: &str) {
    let work = tempfile::tempdir().unwrap();
    let name = format!("{lang}-demo");
    let made = roster(work.path(), &["plugin", "new", &name, "--lang", lang]);
    assert_eq!(made.status.code(), Some(0), "{}", said(&made));
    let project = work.path().join(&name);
    for file in [
        "README.md",
        "roster-plugin.toml",
        "test.sh",
        "wit/handler.wit",
    ] {
        assert!(project.join(file).exists(), "{lang}: no {file}");
    }

    let built = roster(&project, &["plugin", "build"]);
    if built.status.code() == Some(6) {
        let required = std::env::var("ROSTER_REQUIRE_LANGUAGES").is_ok_and(|v| v == "all");
        assert!(!required, "{lang}: {}", said(&built));
        eprintln!("skipping {lang}: {}", said(&built));
        return;
    }
    assert_eq!(built.status.code(), Some(0), "{lang}: {}", said(&built));
    let component = project.join(format!("{name}.wasm"));
    assert!(component.exists());

    // Its own test: run offline against the recorded events, the log compared.
    let test = Command::new(project.join("test.sh"))
        .env("ROSTER", ROSTER)
        .env("XDG_CACHE_HOME", CACHE_HOME)
        .output()
        .unwrap();
    assert!(test.status.success(), "{lang}: {}", said(&test));

    // Attached to a daemon, it handles a live join.
    let daemon = Daemon::start(&[]);
    let attached = Command::new(ROSTER)
        .args(["--addr", &daemon.addr, "plugin", "attach"])
        .arg(&component)
        .output()
        .unwrap();
    assert_eq!(
        attached.status.code(),
        Some(0),
        "{lang}: {}",
        said(&attached)
    );
    daemon.client.create_group("live").await.unwrap();
    let session = daemon.client.open_session("m1", None).await.unwrap();
    daemon
        .client
        .join(
            &session.session_id,
            "live",
            roster::Capabilities::default(),
            false,
        )
        .await
        .unwrap();
    let head = daemon.client.status().await.unwrap().revision;
    roster_tests::wait_until(std::time::Duration::from_secs(60), || async {
        let plugins = daemon.client.plugins().await.unwrap().plugins;
        let stats = plugins.into_iter().find(|p| p.name == name)?;
        (stats.handled_through >= head && stats.events_delivered >= 2).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rust_handler_is_made_built_run_and_attached() {
    new_build_run_attach("rust").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_c_handler_is_made_built_run_and_attached() {
    new_build_run_attach("c").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_go_handler_is_made_built_run_and_attached() {
    new_build_run_attach("go").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_javascript_handler_is_made_built_run_and_attached() {
    new_build_run_attach("javascript").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_python_handler_is_made_built_run_and_attached() {
    new_build_run_attach("python").await;
}

#[test]
fn a_project_is_not_written_over_and_a_bad_name_is_refused() {
    let work = tempfile::tempdir().unwrap();
    let bad = roster(work.path(), &["plugin", "new", "Bad_Name"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        said(&bad).contains("cannot name a handler"),
        "{}",
        said(&bad)
    );
    std::fs::write(work.path().join("taken"), "").unwrap();
    let taken = roster(
        work.path(),
        &[
            "plugin",
            "new",
            "fine",
            "--dir",
            work.path().to_str().unwrap(),
        ],
    );
    assert_eq!(taken.status.code(), Some(2));
    assert!(said(&taken).contains("is not empty"), "{}", said(&taken));
    let nothing = roster(work.path(), &["plugin", "build"]);
    assert_eq!(nothing.status.code(), Some(2));
    assert!(
        said(&nothing).contains("no roster-plugin.toml"),
        "{}",
        said(&nothing)
    );
}

#[test]
fn a_rust_driver_is_made_built_and_certified_by_its_own_test() {
    let work = tempfile::tempdir().unwrap();
    let made = roster(
        work.path(),
        &["plugin", "new", "dir-store", "--world", "driver"],
    );
    assert_eq!(made.status.code(), Some(0), "{}", said(&made));
    let project = work.path().join("dir-store");
    for file in [
        "src/store.rs",
        "kit/driver-kit/src/lib.rs",
        "kit/roster-rules/src/lib.rs",
        "wit/driver.wit",
        "test.sh",
    ] {
        assert!(project.join(file).exists(), "no {file}");
    }
    let built = roster(&project, &["plugin", "build"]);
    if built.status.code() == Some(6) {
        let required = std::env::var("ROSTER_REQUIRE_LANGUAGES").is_ok_and(|v| v == "all");
        assert!(!required, "{}", said(&built));
        eprintln!("skipping the driver: {}", said(&built));
        return;
    }
    assert_eq!(built.status.code(), Some(0), "{}", said(&built));
    // Its test is the conformance suites, on a directory of its own.
    let test = Command::new(project.join("test.sh"))
        .env("ROSTER", ROSTER)
        .output()
        .unwrap();
    assert!(test.status.success(), "{}", said(&test));
    assert!(said(&test).contains("0 failed"), "{}", said(&test));
    // Its errors name it.
    let store = std::fs::read_to_string(project.join("src/store.rs")).unwrap();
    assert!(store.contains("const NAME: &'static str = \"dir-store\";"));
}

#[test]
fn a_driver_in_another_language_than_rust_is_refused() {
    let work = tempfile::tempdir().unwrap();
    let refused = roster(
        work.path(),
        &["plugin", "new", "d", "--world", "driver", "--lang", "go"],
    );
    assert_eq!(refused.status.code(), Some(2), "{}", said(&refused));
    assert!(
        said(&refused).contains("drivers are made in Rust"),
        "{}",
        said(&refused)
    );
    assert!(!work.path().join("d").exists());
}
