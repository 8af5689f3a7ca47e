//! What the etcd driver reads from etcd's JSON gateway: any bytes are read as an HTTP answer
//! (a chunked body decodes the same however it arrives; the first two bytes say where it is
//! cut) and its body as every answer and stored document the driver reads, or refused, never
//! a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (cut, answer) = match data {
        [a, b, rest @ ..] => (usize::from(u16::from_le_bytes([*a, *b])), rest),
        _ => (0, data),
    };
    etcd_store::fuzzing::read_answer(answer, cut);
    etcd_store::fuzzing::read_json(data);
});
