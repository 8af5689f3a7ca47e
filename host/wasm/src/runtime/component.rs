//! What is wrong with a component, in one line: checked against its world before it is
//! compiled, and told from its traps when it runs.
//!
//! Compiling a component takes from tens of milliseconds (a small Rust guest) to seconds (a
//! JavaScript or Python interpreter), so a file is first read for its imports and exports,
//! with wasmparser and without compiling anything: a file of the wrong world, a core module
//! or random bytes is turned away at once. Handlers and drivers share these rules
//! ([`World::HANDLER`], [`World::DRIVER`]) and these messages, so the plugin host, the driver
//! runtime, `roster plugin check` and the daemon's start-up error all say the same thing: one
//! line naming the problem, never a parser's multi-line dump of byte arrays.

use wasmparser::{Parser, Payload, ValidPayload, Validator, WasmFeatures};
use wasmtime::Engine;
use wasmtime::component::Component;
use wasmtime::component::types::ComponentItem;

/// Why a file is not a usable component of a plugin world. Every message is one line.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ComponentError {
    /// The file has no bytes at all.
    #[error("empty file, not a WebAssembly component")]
    Empty,
    /// The file does not start with WebAssembly's magic number (`\0asm`): it is some other
    /// kind of file.
    #[error("not a WebAssembly file (bad magic number)")]
    NotWasm,
    /// The file is a core WebAssembly module, the kind a component wraps, not a component.
    #[error(
        "a core WebAssembly module, not a component (build for wasm32-wasip2, or wrap it with \
         `wasm-tools component new`)"
    )]
    CoreModule,
    /// The file starts like a component but its binary is malformed or invalid (truncated,
    /// an unknown version, a section that does not validate).
    #[error("malformed component at byte offset {offset}: {message}")]
    Malformed {
        /// Where in the file the parser stopped.
        offset: usize,
        /// The parser's message, on one line.
        message: String,
    },
    /// The component imports something plugins of its world are not given.
    #[error("imports {import}, which {world} plugins are not given")]
    UnexpectedImport {
        /// The world checked against (`handler`, `driver`).
        world: &'static str,
        /// The import's name.
        import: String,
    },
    /// The component lacks an export its world requires (it may be a component of another
    /// world, such as a driver checked as a handler).
    #[error("does not export {export}, which the {world} world requires")]
    MissingExport {
        /// The world checked against (`handler`, `driver`).
        world: &'static str,
        /// The missing export: an interface, or `interface#function`.
        export: String,
    },
    /// wasmtime could not compile the component (a function body that does not validate, a
    /// WebAssembly feature the host does not enable).
    #[error("cannot be compiled: {0}")]
    Compile(String),
    /// The component has the world's names but not its types: an import or export whose
    /// signature differs from the host's (for example built against another version of the
    /// WIT).
    #[error("cannot be linked: {0}")]
    Link(String),
}

/// The imports and exports of a component, by name; for each exported instance, its
/// functions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Shape {
    pub(crate) imports: Vec<String>,
    /// Every export, with the functions it exports when it is an instance (none otherwise).
    pub(crate) exports: Vec<(String, Vec<String>)>,
}

/// WASI interfaces a plugin may import: what each one may do is decided by the plugin's WASI
/// context (deny-all unless granted), not by linking.
const WASI_IMPORTS: [&str; 6] = [
    "wasi:cli/",
    "wasi:io/",
    "wasi:clocks/",
    "wasi:random/",
    "wasi:filesystem/",
    "wasi:sockets/",
];

/// What a plugin world requires of a component, by name: the checks that need no compiling.
/// Exact types are checked when the compiled component is linked.
#[derive(Debug)]
pub(crate) struct World {
    /// Its name in messages.
    pub(crate) name: &'static str,
    /// Prefixes of the imports allowed, besides WASI's ([`WASI_IMPORTS`]).
    imports: &'static [&'static str],
    /// The interface the component must export, without its patch version.
    export_prefix: &'static str,
    /// That interface as messages name it.
    export: &'static str,
    /// The functions it must have.
    functions: &'static [&'static str],
}

impl World {
    /// Membership-event handlers (`wit/handler.wit`).
    pub(crate) const HANDLER: World = World {
        name: "handler",
        imports: &[
            "roster:coordination/types@0.1.",
            "roster:coordination/coordinator@0.1.",
            "roster:coordination/logging@0.1.",
        ],
        export_prefix: "roster:coordination/events@0.1.",
        export: "roster:coordination/events@0.1.0",
        functions: &["on-events", "on-resync"],
    };

    /// Backend drivers (`wit/driver.wit`).
    pub(crate) const DRIVER: World = World {
        name: "driver",
        imports: &[
            "roster:coordination/types@0.1.",
            "roster:coordination/logging@0.1.",
        ],
        export_prefix: "roster:coordination/backend@0.1.",
        export: "roster:coordination/backend@0.1.0",
        functions: &[
            "open",
            "describe",
            "head",
            "open-session",
            "close-session",
            "heartbeat",
            "create-group",
            "delete-group",
            "groups",
            "group-summaries",
            "join",
            "leave",
            "update-capabilities",
            "get-members",
            "get-members-info",
            "get-member-info",
            "get-leader",
            "stand",
            "withdraw",
            "stand-down",
            "changes",
        ],
    };

    /// Whether a component of this shape belongs to the world: it imports only what the
    /// world's plugins are given and exports the world's interface with all its functions.
    pub(crate) fn admit(&self, shape: &Shape) -> Result<(), ComponentError> {
        let allowed = |name: &str| {
            self.imports
                .iter()
                .chain(WASI_IMPORTS.iter())
                .any(|prefix| name.starts_with(prefix))
        };
        if let Some(import) = shape.imports.iter().find(|name| !allowed(name)) {
            return Err(ComponentError::UnexpectedImport {
                world: self.name,
                import: import.clone(),
            });
        }
        let missing = |export: String| ComponentError::MissingExport {
            world: self.name,
            export,
        };
        let (_, functions) = shape
            .exports
            .iter()
            .find(|(name, _)| name.starts_with(self.export_prefix))
            .ok_or_else(|| missing(self.export.to_owned()))?;
        if let Some(function) = self
            .functions
            .iter()
            .find(|f| !functions.iter().any(|have| have == *f))
        {
            return Err(missing(format!("{}#{function}", self.export)));
        }
        Ok(())
    }

    /// Check a component file's bytes against the world without compiling them: what kind of
    /// file it is, that its structure and types validate (function bodies are left to the
    /// compiler), and [`World::admit`].
    pub(crate) fn check(&self, bytes: &[u8]) -> Result<(), ComponentError> {
        self.admit(&shape_of_bytes(bytes)?)
    }
}

/// The shape of a component file, read without compiling it.
fn shape_of_bytes(bytes: &[u8]) -> Result<Shape, ComponentError> {
    if bytes.is_empty() {
        return Err(ComponentError::Empty);
    }
    if !bytes.starts_with(b"\0asm") {
        return Err(ComponentError::NotWasm);
    }
    // After the magic number: a 16-bit version and a 16-bit layer, 0 for core modules and 1
    // for components.
    if bytes.get(6..8) == Some(&[0, 0]) {
        return Err(ComponentError::CoreModule);
    }
    let malformed = |e: wasmparser::BinaryReaderError| ComponentError::Malformed {
        offset: e.offset(),
        message: one_line(e.message()),
    };
    // Every feature: what the engine does not enable is refused by the compiler, with its
    // own message; this check only has to avoid refusing what the engine would accept.
    let mut validator = Validator::new_with_features(WasmFeatures::all());
    let mut parser = Parser::new(0);
    parser.set_features(WasmFeatures::all());
    let mut shape = Shape::default();
    let mut export_names = Vec::new();
    // How many nested modules and components the parser is inside.
    let mut depth = 0usize;
    let mut types = None;
    for payload in parser.parse_all(bytes) {
        let payload = payload.map_err(malformed)?;
        match &payload {
            Payload::ModuleSection { .. } | Payload::ComponentSection { .. } => depth += 1,
            Payload::ComponentImportSection(section) if depth == 0 => {
                for import in section.clone() {
                    shape
                        .imports
                        .push(import.map_err(malformed)?.name.name.to_owned());
                }
            }
            Payload::ComponentExportSection(section) if depth == 0 => {
                for export in section.clone() {
                    export_names.push(export.map_err(malformed)?.name.name.to_owned());
                }
            }
            _ => {}
        }
        let end = matches!(payload, Payload::End(_));
        if let ValidPayload::End(done) = validator.payload(&payload).map_err(malformed)?
            && depth == 0
        {
            types = Some(done);
        }
        if end && depth > 0 {
            depth -= 1;
        }
    }
    let types = types.ok_or(ComponentError::Malformed {
        offset: bytes.len(),
        message: "the component ends early".to_owned(),
    })?;
    for name in export_names {
        let functions = match types.component_item_for_export(&name).map(|item| &item.ty) {
            Some(wasmparser::component_types::ComponentEntityType::Instance(id)) => types[*id]
                .exports
                .iter()
                .filter(|(_, item)| {
                    matches!(
                        item.ty,
                        wasmparser::component_types::ComponentEntityType::Func(_)
                    )
                })
                .map(|(function, _)| function.clone())
                .collect(),
            _ => Vec::new(),
        };
        shape.exports.push((name, functions));
    }
    Ok(shape)
}

/// The shape of a compiled (or cached) component, from wasmtime's type information.
pub(crate) fn shape_of(engine: &Engine, component: &Component) -> Shape {
    let ty = component.component_type();
    Shape {
        imports: ty
            .imports(engine)
            .map(|(name, _)| name.to_owned())
            .collect(),
        exports: ty
            .exports(engine)
            .map(|(name, item)| {
                let functions = match item.ty {
                    ComponentItem::ComponentInstance(instance) => instance
                        .exports(engine)
                        .filter(|(_, item)| matches!(item.ty, ComponentItem::ComponentFunc(_)))
                        .map(|(function, _)| function.to_owned())
                        .collect(),
                    _ => Vec::new(),
                };
                (name.to_owned(), functions)
            })
            .collect(),
    }
}

/// wasmtime's compile error, as a [`ComponentError`].
pub(crate) fn compile_error(error: &wasmtime::Error) -> ComponentError {
    ComponentError::Compile(one_line(&format!("{error:#}")))
}

/// wasmtime's link error (pre-instantiation, or a missing typed export), as a
/// [`ComponentError`].
pub(crate) fn link_error(error: &wasmtime::Error) -> ComponentError {
    ComponentError::Link(one_line(&format!("{error:#}")))
}

/// `text` with every run of whitespace, line breaks included, made one space.
pub(crate) fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Out-of-bounds addresses this close below 4 GiB are where a guest's stack pointer lands
/// when the stack runs past its start: Rust (and clang with `--stack-first`) put the stack at
/// the bottom of linear memory, growing down, so an overflow wraps below address 0.
const STACK_WRAP_WINDOW: u64 = 16 << 20;

/// A guest's trap in one line, naming its likely cause: "call stack exhausted" is a stack
/// overflow, and so is an out-of-bounds access just below address 0 (see
/// [`STACK_WRAP_WINDOW`]), which wasmtime reports only as an out-of-bounds access. Errors
/// that are not traps (a host function's failure) give their root cause. The backtrace is
/// left out; it goes to the debug log.
pub(crate) fn describe_trap(error: &wasmtime::Error) -> String {
    tracing::debug!("plugin trap: {error:?}");
    let Some(trap) = error.downcast_ref::<wasmtime::Trap>() else {
        return one_line(&error.root_cause().to_string());
    };
    let text = trap.to_string();
    let what = text.strip_prefix("wasm trap: ").unwrap_or(&text);
    match trap {
        wasmtime::Trap::StackOverflow => format!("stack overflow ({what})"),
        wasmtime::Trap::MemoryOutOfBounds => match fault_address(error) {
            Some(address) if ((1u64 << 32) - STACK_WRAP_WINDOW..1 << 32).contains(&address) => {
                format!(
                    "likely stack overflow: {what} at {address:#x}, just below address 0, where \
                     the guest's stack runs past its start"
                )
            }
            Some(address) => format!("{what} at {address:#x}"),
            None => what.to_owned(),
        },
        _ => what.to_owned(),
    }
}

/// The linear-memory address of a memory fault, from the context wasmtime adds to the trap
/// ("memory fault at wasm address 0x... in linear memory of size 0x...").
fn fault_address(error: &wasmtime::Error) -> Option<u64> {
    error.chain().find_map(|cause| {
        let text = cause.to_string();
        let hex = text.strip_prefix("memory fault at wasm address 0x")?;
        let end = hex
            .find(|c: char| !c.is_ascii_hexdigit())
            .unwrap_or(hex.len());
        u64::from_str_radix(&hex[..end], 16).ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A component of `exports` (interface name to functions), built by hand: enough for the
    /// checks, which read names and types only.
    fn shape(imports: &[&str], exports: &[(&str, &[&str])]) -> Shape {
        Shape {
            imports: imports.iter().map(|s| (*s).to_owned()).collect(),
            exports: exports
                .iter()
                .map(|(name, functions)| {
                    (
                        (*name).to_owned(),
                        functions.iter().map(|f| (*f).to_owned()).collect(),
                    )
                })
                .collect(),
        }
    }

    #[test]
    fn a_handler_with_every_function_and_allowed_imports_is_admitted() {
        let handler = shape(
            &["roster:coordination/logging@0.1.0", "wasi:io/streams@0.2.6"],
            &[(
                "roster:coordination/events@0.1.2",
                &["on-events", "on-resync"],
            )],
        );
        assert_eq!(World::HANDLER.admit(&handler), Ok(()));
    }

    #[test]
    fn a_missing_function_and_a_foreign_import_are_named() {
        let partial = shape(&[], &[("roster:coordination/events@0.1.0", &["on-events"])]);
        assert_eq!(
            World::HANDLER.admit(&partial).unwrap_err().to_string(),
            "does not export roster:coordination/events@0.1.0#on-resync, which the handler \
             world requires"
        );
        let foreign = shape(&["wasi:http/outgoing-handler@0.2.0"], &[]);
        assert_eq!(
            World::DRIVER.admit(&foreign).unwrap_err().to_string(),
            "imports wasi:http/outgoing-handler@0.2.0, which driver plugins are not given"
        );
    }

    #[test]
    fn files_that_are_not_components_are_told_apart_by_their_first_bytes() {
        let check = |bytes: &[u8]| World::HANDLER.check(bytes).unwrap_err();
        assert_eq!(check(b""), ComponentError::Empty);
        assert_eq!(check(b"#!/bin/sh\necho hi\n"), ComponentError::NotWasm);
        assert_eq!(check(b"\0as"), ComponentError::NotWasm);
        assert_eq!(check(b"\0asm\x01\0\0\0"), ComponentError::CoreModule);
        assert!(matches!(
            check(b"\0asm\x0d\0\x01\0\x07"),
            ComponentError::Malformed { .. }
        ));
    }

    #[test]
    fn an_empty_component_is_valid_but_of_no_world() {
        assert_eq!(
            World::HANDLER.check(b"\0asm\x0d\0\x01\0"),
            Err(ComponentError::MissingExport {
                world: "handler",
                export: "roster:coordination/events@0.1.0".into()
            })
        );
    }

    /// A component holding one core module whose only function does not validate
    /// (`i32.add` on an empty stack), and exporting nothing.
    const UNCOMPILABLE: [u8; 36] = [
        0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00, // component header
        0x01, 0x1a, // core module section, 26 bytes
        0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // module header
        0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7f, // type section: () -> i32
        0x03, 0x02, 0x01, 0x00, // function section: one function of that type
        0x0a, 0x05, 0x01, 0x03, 0x00, 0x6a, 0x0b, // code: i32.add, end
    ];

    #[test]
    fn the_world_is_checked_without_compiling_function_bodies() {
        let mut config = wasmtime::Config::new();
        config.wasm_component_model(true);
        let engine = Engine::new(&config).unwrap();
        let compiled = Component::new(&engine, UNCOMPILABLE).map(drop).unwrap_err();
        assert!(matches!(
            compile_error(&compiled),
            ComponentError::Compile(message) if !message.contains('\n')
        ));
        assert!(matches!(
            World::DRIVER.check(&UNCOMPILABLE),
            Err(ComponentError::MissingExport {
                world: "driver",
                ..
            })
        ));
    }

    #[test]
    fn an_out_of_bounds_access_just_below_address_zero_is_named_a_likely_stack_overflow() {
        let fault = |address: u64| {
            wasmtime::Error::from(wasmtime::Trap::MemoryOutOfBounds).context(format!(
                "memory fault at wasm address {address:#x} in linear memory of size 0x110000"
            ))
        };
        let overflow = describe_trap(&fault(0xffff_fe40));
        assert!(
            overflow.starts_with(
                "likely stack overflow: out of bounds memory access at 0xfffffe40, just below \
                 address 0"
            ),
            "{overflow}"
        );
        assert_eq!(
            describe_trap(&fault(0x20_0000)),
            "out of bounds memory access at 0x200000"
        );
        assert_eq!(
            describe_trap(&wasmtime::Error::from(wasmtime::Trap::StackOverflow)),
            "stack overflow (call stack exhausted)"
        );
    }

    #[test]
    fn one_line_joins_a_pretty_printed_message() {
        assert_eq!(
            one_line("expected=[\n    0x0,\n    0x61,\n] actual=[]"),
            "expected=[ 0x0, 0x61, ] actual=[]"
        );
    }
}
