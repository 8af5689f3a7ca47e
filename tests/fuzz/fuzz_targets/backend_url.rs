//! Backend URLs (`get_coordinator`, `--backend`, `--addr`, `ROSTER_ADDR`): any text parses or
//! is refused with `InvalidUrl`, never a panic, and a token in the URL shows neither in the
//! refusal nor in the parsed URL's `Debug`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use roster_core::backend_url::BackendUrl;

const SECRET: &str = "fuzz-secret-7c1e9";

fuzz_target!(|text: &str| {
    check(text);
    // The same text with a token among its options, wherever the text leaves them.
    let sep = if text.contains('?') { '&' } else { '?' };
    check(&format!("{text}{sep}token={SECRET}"));
});

fn check(text: &str) {
    match BackendUrl::parse(text) {
        Ok(url) => {
            let shown = format!("{url:?}");
            assert!(!shown.contains(SECRET), "a token shows in {shown}");
        }
        Err(error) => {
            let shown = format!("{error} {error:?}");
            assert!(!shown.contains(SECRET), "a token shows in {shown}");
        }
    }
}
