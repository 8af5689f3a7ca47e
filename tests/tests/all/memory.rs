//! The conformance suite on the embedded backend, plus what only it has: named stores shared
//! through `memory://` and its `zake://` alias.

use roster::{CoordinationError, Heartbeat, UrlProblem, get_coordinator};
use roster_tests::{Harness, conformance_suite, new_group};

conformance_suite!(Harness::memory(""));

#[tokio::test]
async fn zake_and_memory_urls_with_the_same_name_share_one_store() {
    let name = uuid::Uuid::new_v4().simple().to_string();
    let a = get_coordinator(&format!("zake://{name}"), "a").unwrap();
    let b = get_coordinator(&format!("memory://{name}?timeout=3"), "b").unwrap();
    a.start_with(Heartbeat::Manual).await.unwrap();
    b.start_with(Heartbeat::Manual).await.unwrap();
    let g = new_group();
    a.create_group(&g).await.unwrap();
    assert!(b.get_groups().await.unwrap().iter().any(|id| *id == *g));
}

#[test]
fn get_coordinator_rejects_bad_urls_with_the_problem_named() {
    let problem = |url: &str| match get_coordinator(url, "m") {
        Err(CoordinationError::InvalidUrl { problem, .. }) => problem,
        other => panic!("{url}: {other:?}"),
    };
    let unknown = problem("redis-cluster://h");
    assert!(
        unknown.to_string().contains("known schemes: memory, zake"),
        "{unknown}"
    );
    assert!(matches!(problem("::"), UrlProblem::Malformed(_)));
    assert!(matches!(
        problem("memory://?ttl=3"),
        UrlProblem::UnknownOption { .. }
    ));
    assert!(matches!(
        problem("memory://?timeout=soon"),
        UrlProblem::InvalidOptionValue { .. }
    ));
}

mod locks {
    use roster_tests::{Harness, conformance_suite};

    conformance_suite!(locks: Harness::memory(""));
}
