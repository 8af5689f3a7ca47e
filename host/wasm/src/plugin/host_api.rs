//! What a handler's imports do: the coordinator interface (reads always, changes, locks
//! included, only with the `mutate` grant) and WASI with only what the plugin was granted. Logging is the
//! runtime's ([`crate::runtime::logging`]), with the handler's limits.

use std::sync::Arc;

use wasmtime::component::ResourceTable;
use wasmtime::{StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use super::counters::Counters;
use super::limits::{Grants, Limits};
use crate::runtime::logging::{GuestLog, LogLimits};
use crate::wit::bindings::roster::coordination::coordinator;
use crate::wit::wit_types as w;
use roster_core::Coordinator;
use roster_types::LockAttempt;
use roster_types::error::CoordinationError;

/// The data of one plugin's store.
pub(crate) struct PluginData {
    pub(crate) log: GuestLog,
    /// The plugin's name, in traced calls.
    name: Arc<str>,
    coordinator: Coordinator,
    may_mutate: bool,
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limits: StoreLimits,
}

impl PluginData {
    pub(crate) fn new(
        name: Arc<str>,
        coordinator: Coordinator,
        grants: &Grants,
        limits: &Limits,
        counters: Arc<Counters>,
    ) -> wasmtime::Result<Self> {
        // Deny by default: no stdio, environment, arguments, network or files.
        let mut wasi = WasiCtxBuilder::new();
        wasi.allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false);
        if let Some(dir) = &grants.directory {
            wasi.preopened_dir(dir, Grants::GUEST_DIRECTORY, FsPerms::ReadWrite)?;
        }
        let mut table = ResourceTable::new();
        table.set_max_capacity(limits.table_entries);
        let log_limits = LogLimits {
            lines_per_second: limits.log_lines_per_second,
            line_bytes: limits.log_line_bytes,
        };
        Ok(Self {
            log: GuestLog::handler(Arc::clone(&name), log_limits, counters),
            name,
            coordinator,
            may_mutate: grants.mutate,
            wasi: wasi.build(),
            table,
            limits: StoreLimitsBuilder::new()
                .memory_size(limits.memory_bytes)
                // Interpreters in a component (CPython, SpiderMonkey) are made of many core
                // instances; memory is the cap that matters, these only stop absurd counts.
                .instances(1_000)
                .tables(1_000)
                .memories(64)
                .table_elements(100_000)
                .trap_on_grow_failure(true)
                .build(),
        })
    }

    fn permit(&self, operation: &str) -> Result<(), CoordinationError> {
        if self.may_mutate {
            Ok(())
        } else {
            Err(CoordinationError::NotPermitted(operation.to_owned()))
        }
    }
}

impl WasiView for PluginData {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

type Reply<T> = wasmtime::Result<Result<T, w::CoordinationError>>;

/// The `tracing` target of every coordinator call a handler makes (at `debug`): how
/// `roster plugin run` shows a handler's calls with their answers.
pub const CALL_TARGET: &str = "roster::plugin::call";

impl PluginData {
    /// `result` as the guest receives it, the call traced first.
    fn answer<T: std::fmt::Debug, U>(
        &self,
        call: &str,
        args: &dyn std::fmt::Debug,
        result: roster_types::Result<T>,
        convert: impl FnOnce(T) -> U,
    ) -> Reply<U> {
        if tracing::enabled!(target: CALL_TARGET, tracing::Level::DEBUG) {
            let answer = match &result {
                Ok(value) => format!("ok {value:?}"),
                Err(error) => format!("error {error}"),
            };
            tracing::debug!(target: CALL_TARGET, plugin = %self.name, call, args = ?args, answer);
        }
        Ok(result.map(convert).map_err(w::CoordinationError::from))
    }
}

/// Make `change` (a call is under way as soon as it is made) when `permitted`.
async fn change<T, F: IntoFuture<Output = roster_types::Result<T>>>(
    permitted: Result<(), CoordinationError>,
    change: impl FnOnce() -> F,
) -> roster_types::Result<T> {
    permitted?;
    change().await
}

impl coordinator::Host for PluginData {
    async fn create_group(&mut self, group: String) -> Reply<()> {
        let call = "create-group";
        let result = change(self.permit(call), || self.coordinator.create_group(&group)).await;
        self.answer(call, &group, result, |()| ())
    }

    async fn delete_group(&mut self, group: String) -> Reply<()> {
        let call = "delete-group";
        let result = change(self.permit(call), || self.coordinator.delete_group(&group)).await;
        self.answer(call, &group, result, |()| ())
    }

    async fn get_groups(&mut self) -> Reply<Vec<String>> {
        let result = self.coordinator.get_groups().await;
        self.answer("get-groups", &(), result, |groups| {
            groups.into_iter().map(String::from).collect()
        })
    }

    async fn join_group(&mut self, group: String, capabilities: Vec<u8>) -> Reply<()> {
        let call = "join-group";
        let args = (&group, String::from_utf8_lossy(&capabilities).into_owned());
        let joined = || self.coordinator.join_group_with(&group, capabilities);
        let result = change(self.permit(call), joined).await;
        self.answer(call, &args, result, |()| ())
    }

    async fn leave_group(&mut self, group: String) -> Reply<()> {
        let call = "leave-group";
        let result = change(self.permit(call), || self.coordinator.leave_group(&group)).await;
        self.answer(call, &group, result, |()| ())
    }

    async fn get_members(&mut self, group: String) -> Reply<Vec<String>> {
        let result = self.coordinator.get_members(&group).await;
        self.answer("get-members", &group, result, |members| {
            members.into_iter().map(String::from).collect()
        })
    }

    async fn get_member_capabilities(&mut self, group: String, member: String) -> Reply<Vec<u8>> {
        let result = self
            .coordinator
            .get_member_capabilities(&group, &member)
            .await;
        self.answer(
            "get-member-capabilities",
            &(&group, &member),
            result,
            Vec::from,
        )
    }

    async fn get_members_with_capabilities(
        &mut self,
        group: String,
    ) -> Reply<Vec<(String, Vec<u8>)>> {
        let result = self.coordinator.get_members_with_capabilities(&group).await;
        self.answer("get-members-with-capabilities", &group, result, |members| {
            members
                .into_iter()
                .map(|(m, c)| (String::from(m), Vec::from(c)))
                .collect()
        })
    }

    async fn update_capabilities(&mut self, group: String, capabilities: Vec<u8>) -> Reply<()> {
        let call = "update-capabilities";
        let args = (&group, String::from_utf8_lossy(&capabilities).into_owned());
        let updated = || self.coordinator.update_capabilities(&group, capabilities);
        let result = change(self.permit(call), updated).await;
        self.answer(call, &args, result, |()| ())
    }

    async fn get_member_info(&mut self, group: String, member: String) -> Reply<w::MemberInfo> {
        let result = self.coordinator.get_member_info(&group, &member).await;
        self.answer("get-member-info", &(&group, &member), result, |info| {
            w::MemberInfo::from(&info)
        })
    }

    async fn get_leader(&mut self, group: String) -> Reply<Option<w::Leader>> {
        let result = self.coordinator.get_leader(&group).await;
        self.answer("get-leader", &group, result, |leader| {
            leader.as_ref().map(w::Leader::from)
        })
    }

    async fn stand_down_group_leader(&mut self, group: String) -> Reply<bool> {
        let call = "stand-down-group-leader";
        let stood_down = || self.coordinator.stand_down_group_leader(&group);
        let result = change(self.permit(call), stood_down).await;
        self.answer(call, &group, result, |b| b)
    }

    async fn try_acquire_lock(&mut self, lock: String, mode: w::LockMode) -> Reply<Option<u64>> {
        let call = "try-acquire-lock";
        let mode = roster_types::event::LockMode::from(mode);
        let attempt = || self.coordinator.acquire_lock(&lock, mode, false);
        let result = change(self.permit(call), attempt).await;
        self.answer(call, &(&lock, mode), result, |attempt| match attempt {
            LockAttempt::Acquired { token } => Some(token),
            LockAttempt::Busy | LockAttempt::Queued => None,
        })
    }

    async fn release_lock(&mut self, lock: String) -> Reply<()> {
        let call = "release-lock";
        let result = change(self.permit(call), || self.coordinator.release_lock(&lock)).await;
        self.answer(call, &lock, result, drop)
    }

    async fn get_lock(&mut self, lock: String) -> Reply<w::LockInfo> {
        let result = self.coordinator.get_lock_info(&lock).await;
        self.answer("get-lock", &lock, result, |info| w::LockInfo::from(&info))
    }

    async fn head_revision(&mut self) -> wasmtime::Result<u64> {
        Ok(self.coordinator.head_revision())
    }
}
