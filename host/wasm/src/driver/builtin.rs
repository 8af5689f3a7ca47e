//! The driver components compiled into the host: Roster's own drivers for `redis://`,
//! `etcd3+http://` and `file://`, built from `plugins/rust/` by `roster-guests` when the
//! `builtin-drivers` feature is on (it is for the `roster` and `roster-tui` binaries).
//!
//! They make a backend URL work with nothing else installed. They run exactly like a driver
//! loaded from a file (same sandbox, same grant), and a component in the plugin directory
//! (`$ROSTER_DRIVER_DIR`, `drivers/` next to the program) or named by the URL takes their
//! place, so a fixed or third-party driver needs no new host.

/// The component of the built-in driver for backend `name` (`redis`, `etcd`, `file`), if
/// this build has one.
pub(crate) fn component(name: &str) -> Option<&'static [u8]> {
    #[cfg(feature = "builtin-drivers")]
    {
        roster_guests::builtin_driver(name)
    }
    #[cfg(not(feature = "builtin-drivers"))]
    {
        let _ = name;
        None
    }
}

/// Why this build has no built-in drivers, when it has none.
pub(crate) fn missing_because() -> Option<&'static str> {
    #[cfg(feature = "builtin-drivers")]
    {
        roster_guests::missing()
    }
    #[cfg(not(feature = "builtin-drivers"))]
    {
        Some("the roster library was built without its `builtin-drivers` feature")
    }
}

// The workspace's binaries and test suite turn the feature on, so `cargo test --workspace`
// runs this; a test of the library alone (`-p roster`) has no drivers to check.
#[cfg(all(test, feature = "builtin-drivers"))]
mod tests {
    use super::*;

    #[test]
    fn every_backend_with_a_driver_has_a_built_in_component() {
        if let Some(reason) = missing_because() {
            panic!("this build has no built-in drivers: {reason}");
        }
        for name in ["redis", "etcd", "file"] {
            let bytes = component(name).unwrap_or_else(|| panic!("no built-in {name} driver"));
            assert!(
                wasmtime::component::Component::new(&wasmtime::Engine::default(), bytes).is_ok(),
                "the built-in {name} driver is a component"
            );
        }
        assert!(component("zookeeper").is_none());
    }
}
