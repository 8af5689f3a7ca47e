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
            log: GuestLog::handler(name, log_limits, counters),
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

    fn permit(&self, operation: &str) -> Result<(), w::CoordinationError> {
        if self.may_mutate {
            Ok(())
        } else {
            Err(CoordinationError::NotPermitted(operation.to_owned()).into())
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

fn reply<T, U>(result: roster_types::Result<T>, convert: impl FnOnce(T) -> U) -> Reply<U> {
    Ok(result.map(convert).map_err(w::CoordinationError::from))
}

impl coordinator::Host for PluginData {
    async fn create_group(&mut self, group: String) -> Reply<()> {
        if let Err(denied) = self.permit("create-group") {
            return Ok(Err(denied));
        }
        reply(self.coordinator.create_group(&group).await, |()| ())
    }

    async fn delete_group(&mut self, group: String) -> Reply<()> {
        if let Err(denied) = self.permit("delete-group") {
            return Ok(Err(denied));
        }
        reply(self.coordinator.delete_group(&group).await, |()| ())
    }

    async fn get_groups(&mut self) -> Reply<Vec<String>> {
        reply(self.coordinator.get_groups().await, |groups| {
            groups.into_iter().map(String::from).collect()
        })
    }

    async fn join_group(&mut self, group: String, capabilities: Vec<u8>) -> Reply<()> {
        if let Err(denied) = self.permit("join-group") {
            return Ok(Err(denied));
        }
        reply(
            self.coordinator.join_group_with(&group, capabilities).await,
            |()| (),
        )
    }

    async fn leave_group(&mut self, group: String) -> Reply<()> {
        if let Err(denied) = self.permit("leave-group") {
            return Ok(Err(denied));
        }
        reply(self.coordinator.leave_group(&group).await, |()| ())
    }

    async fn get_members(&mut self, group: String) -> Reply<Vec<String>> {
        reply(self.coordinator.get_members(&group).await, |members| {
            members.into_iter().map(String::from).collect()
        })
    }

    async fn get_member_capabilities(&mut self, group: String, member: String) -> Reply<Vec<u8>> {
        reply(
            self.coordinator
                .get_member_capabilities(&group, &member)
                .await,
            Vec::from,
        )
    }

    async fn get_members_with_capabilities(
        &mut self,
        group: String,
    ) -> Reply<Vec<(String, Vec<u8>)>> {
        reply(
            self.coordinator.get_members_with_capabilities(&group).await,
            |members| {
                members
                    .into_iter()
                    .map(|(m, c)| (String::from(m), Vec::from(c)))
                    .collect()
            },
        )
    }

    async fn update_capabilities(&mut self, group: String, capabilities: Vec<u8>) -> Reply<()> {
        if let Err(denied) = self.permit("update-capabilities") {
            return Ok(Err(denied));
        }
        reply(
            self.coordinator
                .update_capabilities(&group, capabilities)
                .await,
            |()| (),
        )
    }

    async fn get_member_info(&mut self, group: String, member: String) -> Reply<w::MemberInfo> {
        reply(
            self.coordinator.get_member_info(&group, &member).await,
            |info| w::MemberInfo::from(&info),
        )
    }

    async fn get_leader(&mut self, group: String) -> Reply<Option<w::Leader>> {
        reply(self.coordinator.get_leader(&group).await, |leader| {
            leader.as_ref().map(w::Leader::from)
        })
    }

    async fn stand_down_group_leader(&mut self, group: String) -> Reply<bool> {
        if let Err(denied) = self.permit("stand-down-group-leader") {
            return Ok(Err(denied));
        }
        reply(
            self.coordinator.stand_down_group_leader(&group).await,
            |b| b,
        )
    }

    async fn try_acquire_lock(&mut self, lock: String, mode: w::LockMode) -> Reply<Option<u64>> {
        if let Err(denied) = self.permit("try-acquire-lock") {
            return Ok(Err(denied));
        }
        let attempt = self
            .coordinator
            .acquire_lock(&lock, mode.into(), false)
            .await;
        reply(attempt, |attempt| match attempt {
            LockAttempt::Acquired { token } => Some(token),
            LockAttempt::Busy | LockAttempt::Queued => None,
        })
    }

    async fn release_lock(&mut self, lock: String) -> Reply<()> {
        if let Err(denied) = self.permit("release-lock") {
            return Ok(Err(denied));
        }
        reply(self.coordinator.release_lock(&lock).await, drop)
    }

    async fn get_lock(&mut self, lock: String) -> Reply<w::LockInfo> {
        reply(self.coordinator.get_lock_info(&lock).await, |info| {
            w::LockInfo::from(&info)
        })
    }

    async fn head_revision(&mut self) -> wasmtime::Result<u64> {
        Ok(self.coordinator.head_revision())
    }
}
