"""Alerts when a group falls under its quorum.

A group's quorum is a majority of the most members it has been seen with. Every membership
change is logged; a warning goes out when a group drops below its quorum, and a notice when
it is back. Needs no grants: it only looks at the events it is given.
"""

from typing import Dict, List

from wit_world import exports
from wit_world.exports import events
from wit_world.imports import types
from wit_world.imports.logging import Level, log


def quorum_of(peak: int) -> int:
    return peak // 2 + 1


class Events(exports.Events):
    def __init__(self) -> None:
        self.size: Dict[str, int] = {}
        self.peak: Dict[str, int] = {}
        self.below: Dict[str, bool] = {}

    def _changed(self, group: str, delta: int) -> None:
        size = max(0, self.size.get(group, 0) + delta)
        self.size[group] = size
        peak = max(self.peak.get(group, 0), size)
        self.peak[group] = peak
        quorum = quorum_of(peak)
        below = size < quorum
        if below and not self.below.get(group, False):
            log(Level.WARN, f"quorum lost in {group}: {size} of {peak} members, quorum is {quorum}")
        elif not below and self.below.get(group, False):
            log(Level.INFO, f"quorum restored in {group}: {size} of {peak} members")
        self.below[group] = below

    def on_events(self, events: List[types.MembershipEvent]) -> None:
        for event in events:
            if isinstance(event, types.MembershipEvent_MemberJoined):
                e = event.value
                log(Level.INFO, f"#{e.revision} {e.member_id} joined {e.group_id}")
                self._changed(e.group_id, +1)
            elif isinstance(event, types.MembershipEvent_MemberLeft):
                e = event.value
                log(Level.INFO, f"#{e.revision} {e.member_id} left {e.group_id} ({e.reason.name.lower()})")
                self._changed(e.group_id, -1)
            elif isinstance(event, types.MembershipEvent_GroupDeleted):
                group = event.value.group_id
                for table in (self.size, self.peak, self.below):
                    table.pop(group, None)

    def on_resync(self, snapshot: events.Resync) -> None:
        self.size = {g.group_id: len(g.members) for g in snapshot.groups}
        self.peak = dict(self.size)
        self.below = {g: False for g in self.size}
        log(Level.INFO, f"resync at #{snapshot.revision}: {len(snapshot.groups)} groups")
