// Package export_roster_coordination_events is {{name}}, a Roster event handler: it logs
// every event it is given and keeps each group's member count (its state: rebuilt from the
// snapshot the host gives it after a gap).
//
// The package implements the exported interface `events` of the handler world (its name is
// the interface's). The other packages of this module are bindings `roster plugin build`
// generates from wit/ at every build.
package export_roster_coordination_events

import (
	"fmt"

	"wit_component/roster_coordination_events"
	"wit_component/roster_coordination_logging"
	"wit_component/roster_coordination_types"

	witTypes "go.bytecodealliance.org/pkg/wit/types"
)

// Members per group.
var members = map[string]int{}

func info(format string, args ...any) {
	roster_coordination_logging.Log(roster_coordination_logging.Level_Info, fmt.Sprintf(format, args...))
}

// add adds delta to group's count (never below zero) and returns the new count.
func add(group string, delta int) int {
	members[group] = max(0, members[group]+delta)
	return members[group]
}

// describe gives an event's revision, its kind as the API names it, and what it is about
// (a group, or a lock).
func describe(event roster_coordination_types.MembershipEvent) (uint64, string, string) {
	switch event.Tag() {
	case roster_coordination_types.MembershipEvent_GroupCreated:
		e := event.GroupCreated()
		return e.Revision, "group-created", e.GroupId
	case roster_coordination_types.MembershipEvent_GroupDeleted:
		e := event.GroupDeleted()
		return e.Revision, "group-deleted", e.GroupId
	case roster_coordination_types.MembershipEvent_MemberJoined:
		e := event.MemberJoined()
		return e.Revision, "member-joined", e.GroupId
	case roster_coordination_types.MembershipEvent_MemberLeft:
		e := event.MemberLeft()
		return e.Revision, "member-left", e.GroupId
	case roster_coordination_types.MembershipEvent_CapabilitiesUpdated:
		e := event.CapabilitiesUpdated()
		return e.Revision, "capabilities-updated", e.GroupId
	case roster_coordination_types.MembershipEvent_LeaderElected:
		e := event.LeaderElected()
		return e.Revision, "leader-elected", e.GroupId
	case roster_coordination_types.MembershipEvent_LeaderLost:
		e := event.LeaderLost()
		return e.Revision, "leader-lost", e.GroupId
	case roster_coordination_types.MembershipEvent_LockAcquired:
		e := event.LockAcquired()
		return e.Revision, "lock-acquired", e.Lock
	default:
		e := event.LockReleased()
		return e.Revision, "lock-released", e.Lock
	}
}

// OnEvents handles a batch of events, in revision order.
func OnEvents(events []roster_coordination_types.MembershipEvent) witTypes.Result[witTypes.Unit, string] {
	for _, event := range events {
		revision, kind, subject := describe(event)
		line := fmt.Sprintf("#%d %s %s", revision, kind, subject)
		switch event.Tag() {
		case roster_coordination_types.MembershipEvent_MemberJoined:
			e := event.MemberJoined()
			info("%s: %s (members: %d)", line, e.MemberId, add(e.GroupId, 1))
		case roster_coordination_types.MembershipEvent_MemberLeft:
			e := event.MemberLeft()
			info("%s: %s (members: %d)", line, e.MemberId, add(e.GroupId, -1))
		case roster_coordination_types.MembershipEvent_GroupDeleted:
			delete(members, subject)
			info("%s", line)
		default:
			info("%s", line)
		}
	}
	return witTypes.Ok[witTypes.Unit, string](witTypes.Unit{})
}

// OnResync starts over from a snapshot of every group the handler watches.
func OnResync(snapshot roster_coordination_events.Resync) witTypes.Result[witTypes.Unit, string] {
	members = map[string]int{}
	for _, group := range snapshot.Groups {
		members[group.GroupId] = len(group.Members)
	}
	info("resync at #%d: %d groups", snapshot.Revision, len(snapshot.Groups))
	return witTypes.Ok[witTypes.Unit, string](witTypes.Unit{})
}
