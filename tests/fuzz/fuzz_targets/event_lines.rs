//! Events in their JSON form, as `roster watch` and the monitor's `--no-tui` write them one
//! per line, and as clients read them from the daemon (`/v1/changes` answers, the lines of
//! `/v1/events`): any line is read or refused, never a panic, and an event that is read
//! writes and reads back as itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use roster_types::api::Changes;
use roster_types::event::Event;

fuzz_target!(|data: &[u8]| {
    for line in data.split(|b| *b == b'\n') {
        if let Ok(event) = serde_json::from_slice::<Event>(line) {
            let json = serde_json::to_string(&event).expect("an event encodes");
            assert!(!json.contains('\n'), "an event takes one line: {json}");
            let again: Event = serde_json::from_str(&json).expect("an event reads back");
            assert_eq!(again, event);
        }
    }
    let _ = serde_json::from_slice::<Changes>(data);
});
