//! What the driver reads from etcd, reachable without a server, for the fuzz targets in
//! `tests/fuzz` (feature `fuzzing`). Each function takes bytes as the server might send
//! them and must never panic; the properties it checks are assertions.

/// `bytes` read as an answer of etcd's JSON gateway: its head; its body, which when chunked
/// must decode to the same data whether it arrives whole or cut at `cut`; and that body read
/// as every JSON answer the driver reads and every document it stores.
pub fn read_answer(bytes: &[u8], cut: usize) {
    if let Some(body) = crate::http::fuzz_body(bytes, cut) {
        read_json(&body);
    }
}

/// `bytes` read as every JSON answer of the gateway the driver reads (ranges, transactions,
/// lease grants, errors, watch messages), and every document it stores, with the documents
/// of the ranges read in turn.
pub fn read_json(bytes: &[u8]) {
    crate::etcd::fuzz_answers(bytes);
    crate::model::fuzz_document(bytes);
}
