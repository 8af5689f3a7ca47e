//! A host process for the multi-host tests and benchmarks: `roster-probe URL MEMBER GROUP
//! [HANDLER.wasm | --lock LOCK]` runs [`roster_conformance::probe::run_host`] (a coordinator
//! that joins a group and prints every change to it as a JSON line, until its stdin closes or
//! it is killed; see that module for what it prints).
//!
//! `roster-probe soak URL MEMBER SEED RECORD [--observer]` runs a host of the fault soak
//! instead (`roster_tests::soak::host`).

use roster::CoordinationError;

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
    roster_tests::probe::run_host(&args).await
}
