//! Group and member ids, lock names and capabilities: `new` and the JSON form agree on what
//! is valid, and whatever is valid reads back as itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use roster_types::ids::{Capabilities, GroupId, LockName, MemberId};

macro_rules! agree {
    ($ty:ty, $text:expr) => {{
        let made = <$ty>::new($text);
        let json = serde_json::to_string($text).expect("a string encodes");
        let read = serde_json::from_str::<$ty>(&json);
        assert_eq!(
            made.is_ok(),
            read.is_ok(),
            "new and JSON disagree on {json}"
        );
        if let (Ok(made), Ok(read)) = (made, read) {
            assert_eq!(made, read);
            assert_eq!(made.as_str(), $text);
            let again: $ty = serde_json::from_str(&serde_json::to_string(&made).unwrap()).unwrap();
            assert_eq!(again, made);
        }
    }};
}

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        agree!(GroupId, text);
        agree!(MemberId, text);
        agree!(LockName, text);
    }
    // Capabilities are bytes: text shows as text, anything else as base64; both read back.
    let capabilities = Capabilities::from(data.to_vec());
    let json = serde_json::to_string(&capabilities).expect("capabilities encode");
    let again: Capabilities = serde_json::from_str(&json).expect("capabilities read back");
    assert_eq!(again.as_bytes(), data);
    // And any JSON a client sends as capabilities is read or refused, never a panic.
    let _ = serde_json::from_slice::<Capabilities>(data);
});
