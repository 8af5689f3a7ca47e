//! Roster's Redis backend driver, as a component: the driver world exported from
//! [`redis_store::Store`]. The code, its tests and its design are in the crate `redis-store`
//! (`../redis-store`), a library so that the drivers benchmark can run the same code natively.

driver_kit::export_driver!(redis_store::Store);
