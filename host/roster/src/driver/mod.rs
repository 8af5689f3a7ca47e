//! Backend drivers: the contract of a store outside the process (`roster-core`'s, re-exported
//! here) and its native implementation for `roster://`, a `roster serve` daemon ([`daemon`]).
//! Wasm driver components are `roster-wasm`'s ([`crate::check_driver`] checks one).

pub mod daemon;

pub use roster_core::driver::*;
