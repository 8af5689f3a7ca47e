//! The Lua operations, each run as one atomic step in Redis.
//!
//! Each operation is `lua/common.lua` (key layout, clock, change log, shared rules and the
//! expiry sweep every operation starts with) followed by the operation's own file. On Redis 7
//! and later they are the functions of one [library](library), loaded once with
//! `FUNCTION LOAD` and called with `FCALL`: the shared part's top level (defining its
//! functions) then runs once at load instead of at every call, which is most of what a
//! script costs the server before it does anything. Older servers run each operation as a
//! [script](Script::source) of its own, by `EVALSHA`.

use std::sync::LazyLock;

const COMMON: &str = include_str!("../lua/common.lua");

/// Lists each operation once: its variant and its file's name in `lua/`, which is also its
/// function's name in the library.
macro_rules! operations {
    ($($variant:ident => $file:literal,)*) => {
        /// The operations: each is one Lua function or script.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Script {
            $($variant,)*
        }

        impl Script {
            /// Every operation, in declaration order ([`Script::index`]).
            pub const ALL: &[Script] = &[$(Script::$variant,)*];

            /// The operation's name: its file in `lua/`, without `.lua`.
            fn name(self) -> &'static str {
                match self {
                    $(Script::$variant => $file,)*
                }
            }

            /// The operation's own file.
            fn body(self) -> &'static str {
                match self {
                    $(Script::$variant => include_str!(concat!("../lua/", $file, ".lua")),)*
                }
            }
        }
    };
}

operations! {
    Describe => "describe",
    Head => "head",
    OpenSession => "open_session",
    CloseSession => "close_session",
    Heartbeat => "heartbeat",
    CreateGroup => "create_group",
    DeleteGroup => "delete_group",
    Groups => "groups",
    GroupSummaries => "group_summaries",
    Join => "join",
    Leave => "leave",
    UpdateCapabilities => "update_capabilities",
    Members => "members",
    MembersInfo => "members_info",
    MemberInfo => "member_info",
    Leader => "leader",
    Stand => "stand",
    Withdraw => "withdraw",
    StandDown => "stand_down",
    Changes => "changes",
    AcquireLock => "acquire_lock",
    ReleaseLock => "release_lock",
    AbandonLockWait => "abandon_lock_wait",
    BreakLock => "break_lock",
    LockStanding => "lock_standing",
    GetLock => "get_lock",
    GetLocks => "get_locks",
}

impl Script {
    /// The whole operation as one script, for servers without functions.
    pub fn source(self) -> String {
        format!("{COMMON}\nbegin()\n{}", self.body())
    }

    /// Position in [`Script::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// The operation's function in [`library`].
    pub fn function(self) -> &'static str {
        &LIBRARY.functions[self.index()]
    }
}

/// Every operation as a function of one Redis function library.
struct Library {
    source: String,
    /// Each operation's function name, by [`Script::index`].
    functions: Vec<String>,
}

static LIBRARY: LazyLock<Library> = LazyLock::new(|| {
    // Named by a hash of its code, so that drivers of different versions sharing a server
    // each find their own functions (function names are global to a server).
    let name = format!("roster_{:016x}", fnv1a(&Library::generate("roster").source));
    Library::generate(&name)
});

impl Library {
    /// The library named `name`, each operation's function named `<name>_<operation>`.
    fn generate(name: &str) -> Library {
        let functions: Vec<String> = Script::ALL
            .iter()
            .map(|script| format!("{name}_{}", script.name()))
            .collect();
        // `ARGV` is a local of the library that each call sets before `begin()`.
        let mut source = format!("#!lua name={name}\nlocal ARGV\n{COMMON}\n");
        for (script, function) in Script::ALL.iter().zip(&functions) {
            source.push_str(&format!(
                "redis.register_function('{function}', function(_, args)\nARGV = args\nbegin()\n{}\nend)\n",
                script.body()
            ));
        }
        Library { source, functions }
    }
}

/// The library's source, for `FUNCTION LOAD`; its name is in its first line.
pub fn library() -> &'static str {
    &LIBRARY.source
}

/// FNV-1a of `text`: a stable name for a version of the code, not a security measure.
fn fnv1a(text: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}
