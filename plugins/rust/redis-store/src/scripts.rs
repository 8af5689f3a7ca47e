//! The Lua scripts, one per operation, each run as one atomic step in Redis.
//!
//! Every script is `lua/common.lua` (key layout, clock, change log, shared rules and the
//! expiry sweep every script starts with) followed by the operation's own file.

/// The operations that are scripts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Script {
    Describe,
    Head,
    OpenSession,
    CloseSession,
    Heartbeat,
    CreateGroup,
    DeleteGroup,
    Groups,
    GroupSummaries,
    Join,
    Leave,
    UpdateCapabilities,
    Members,
    MembersInfo,
    MemberInfo,
    Leader,
    Stand,
    Withdraw,
    StandDown,
    Changes,
    AcquireLock,
    ReleaseLock,
    AbandonLockWait,
    BreakLock,
    LockStanding,
    GetLock,
    GetLocks,
}

const COMMON: &str = include_str!("../lua/common.lua");

impl Script {
    pub const ALL: [Script; 27] = [
        Script::Describe,
        Script::Head,
        Script::OpenSession,
        Script::CloseSession,
        Script::Heartbeat,
        Script::CreateGroup,
        Script::DeleteGroup,
        Script::Groups,
        Script::GroupSummaries,
        Script::Join,
        Script::Leave,
        Script::UpdateCapabilities,
        Script::Members,
        Script::MembersInfo,
        Script::MemberInfo,
        Script::Leader,
        Script::Stand,
        Script::Withdraw,
        Script::StandDown,
        Script::Changes,
        Script::AcquireLock,
        Script::ReleaseLock,
        Script::AbandonLockWait,
        Script::BreakLock,
        Script::LockStanding,
        Script::GetLock,
        Script::GetLocks,
    ];

    /// The operation's own part of the script.
    fn body(self) -> &'static str {
        match self {
            Script::Describe => include_str!("../lua/describe.lua"),
            Script::Head => include_str!("../lua/head.lua"),
            Script::OpenSession => include_str!("../lua/open_session.lua"),
            Script::CloseSession => include_str!("../lua/close_session.lua"),
            Script::Heartbeat => include_str!("../lua/heartbeat.lua"),
            Script::CreateGroup => include_str!("../lua/create_group.lua"),
            Script::DeleteGroup => include_str!("../lua/delete_group.lua"),
            Script::Groups => include_str!("../lua/groups.lua"),
            Script::GroupSummaries => include_str!("../lua/group_summaries.lua"),
            Script::Join => include_str!("../lua/join.lua"),
            Script::Leave => include_str!("../lua/leave.lua"),
            Script::UpdateCapabilities => include_str!("../lua/update_capabilities.lua"),
            Script::Members => include_str!("../lua/members.lua"),
            Script::MembersInfo => include_str!("../lua/members_info.lua"),
            Script::MemberInfo => include_str!("../lua/member_info.lua"),
            Script::Leader => include_str!("../lua/leader.lua"),
            Script::Stand => include_str!("../lua/stand.lua"),
            Script::Withdraw => include_str!("../lua/withdraw.lua"),
            Script::StandDown => include_str!("../lua/stand_down.lua"),
            Script::Changes => include_str!("../lua/changes.lua"),
            Script::AcquireLock => include_str!("../lua/acquire_lock.lua"),
            Script::ReleaseLock => include_str!("../lua/release_lock.lua"),
            Script::AbandonLockWait => include_str!("../lua/abandon_lock_wait.lua"),
            Script::BreakLock => include_str!("../lua/break_lock.lua"),
            Script::LockStanding => include_str!("../lua/lock_standing.lua"),
            Script::GetLock => include_str!("../lua/get_lock.lua"),
            Script::GetLocks => include_str!("../lua/get_locks.lua"),
        }
    }

    /// The whole script as Redis runs it.
    pub fn source(self) -> String {
        format!("{COMMON}\n{}", self.body())
    }

    /// Position in [`Script::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}
