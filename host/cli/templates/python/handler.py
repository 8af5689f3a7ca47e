"""{{name}}: a Roster event handler.

Logs every event it is given, and keeps each group's member count (its state: rebuilt from
the snapshot the host gives it after a gap).
"""

import re
from typing import Dict, List

from wit_world import exports
from wit_world.exports import events
from wit_world.imports import types
from wit_world.imports.logging import Level, log


def kind_of(event: types.MembershipEvent) -> str:
    """The event's kind as the API names it: MembershipEvent_MemberJoined is member-joined."""
    name = type(event).__name__.split("_", 1)[1]
    return re.sub(r"(?<!^)([A-Z])", r"-\1", name).lower()


class Events(exports.Events):
    def __init__(self) -> None:
        self.members: Dict[str, int] = {}

    def _add(self, group: str, delta: int) -> int:
        count = max(0, self.members.get(group, 0) + delta)
        self.members[group] = count
        return count

    def on_events(self, events: List[types.MembershipEvent]) -> None:
        for event in events:
            e = event.value
            subject = getattr(e, "group_id", None) or getattr(e, "lock", "")
            line = f"#{e.revision} {kind_of(event)} {subject}"
            if isinstance(event, types.MembershipEvent_MemberJoined):
                log(Level.INFO, f"{line}: {e.member_id} (members: {self._add(e.group_id, 1)})")
            elif isinstance(event, types.MembershipEvent_MemberLeft):
                log(Level.INFO, f"{line}: {e.member_id} (members: {self._add(e.group_id, -1)})")
            else:
                if isinstance(event, types.MembershipEvent_GroupDeleted):
                    self.members.pop(e.group_id, None)
                log(Level.INFO, line)

    def on_resync(self, snapshot: events.Resync) -> None:
        self.members = {g.group_id: len(g.members) for g in snapshot.groups}
        log(Level.INFO, f"resync at #{snapshot.revision}: {len(snapshot.groups)} groups")
