//! A test fixture: a component of the `client` world, which imports the coordinator but
//! exports no event handler. Loading it as a handler must fail, naming the missing export.

wit_bindgen::generate!({ path: "../../../wit", world: "roster:coordination/client" });

/// Reads the head revision, so the import is used.
#[unsafe(no_mangle)]
pub extern "C" fn head() -> u64 {
    roster::coordination::coordinator::head_revision()
}
