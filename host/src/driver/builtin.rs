//! The driver components compiled into the host: Roster's own drivers for `redis://`,
//! `etcd3+http://` and `file://`, built from `plugins/rust/` by `host/build.rs`.
//!
//! They make a backend URL work with nothing else installed. They run exactly like a driver
//! loaded from a file (same sandbox, same grant), and a component in the plugin directory
//! (`$ROSTER_DRIVER_DIR`, `drivers/` next to the program) or named by the URL takes their
//! place, so a fixed or third-party driver needs no new host.

/// The component of the built-in driver for backend `name` (`redis`, `etcd`, `file`), if
/// this build has one.
pub(crate) fn component(name: &str) -> Option<&'static [u8]> {
    #[cfg(roster_builtin_drivers)]
    {
        macro_rules! built {
            ($file:literal) => {
                include_bytes!(concat!(env!("ROSTER_BUILTIN_DRIVERS"), "/", $file)).as_slice()
            };
        }
        match name {
            "redis" => Some(built!("redis_driver.wasm")),
            "etcd" => Some(built!("etcd_driver.wasm")),
            "file" => Some(built!("file_driver.wasm")),
            _ => None,
        }
    }
    #[cfg(not(roster_builtin_drivers))]
    {
        let _ = name;
        None
    }
}

/// Why this build has no built-in drivers, when it has none.
pub(crate) fn missing_because() -> Option<&'static str> {
    option_env!("ROSTER_BUILTIN_DRIVERS_MISSING")
}

#[cfg(test)]
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
