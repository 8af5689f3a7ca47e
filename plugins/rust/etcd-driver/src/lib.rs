//! Roster's etcd backend driver, as a component: the driver world exported from
//! [`etcd_store::Store`]. The code, its tests and its design are in the crate `etcd-store`
//! (`../etcd-store`), a library so that the drivers benchmark can run the same code natively.

driver_kit::export_driver!(etcd_store::Store);
