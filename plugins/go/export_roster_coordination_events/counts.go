// Package export_roster_coordination_events is the handler: it keeps how many members each
// group has, logs every join and leave, and after each batch writes a summary of the counts
// to summary.txt in its granted directory (the host shows it as /data). Without the
// directory grant it still counts and logs, and says once that it cannot write the summary.
package export_roster_coordination_events

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"wit_component/roster_coordination_events"
	"wit_component/roster_coordination_logging"
	"wit_component/roster_coordination_types"

	witTypes "go.bytecodealliance.org/pkg/wit/types"
)

// The file the summary is written to.
const summaryPath = "/data/summary.txt"

// Members per group, as of the last event handled.
var members = map[string]int{}

// The revision of the last event handled (or of the last resync).
var revision uint64

// Whether the handler already said it cannot write the summary.
var toldNoDirectory bool

func logf(level roster_coordination_logging.Level, format string, args ...any) {
	roster_coordination_logging.Log(level, fmt.Sprintf(format, args...))
}

// OnEvents counts each join and leave, then writes the summary.
func OnEvents(events []roster_coordination_types.MembershipEvent) witTypes.Result[witTypes.Unit, string] {
	for _, event := range events {
		switch event.Tag() {
		case roster_coordination_types.MembershipEvent_MemberJoined:
			e := event.MemberJoined()
			members[e.GroupId]++
			revision = e.Revision
			logf(roster_coordination_logging.Level_Info, "#%d %s joined %s (%d members)", e.Revision, e.MemberId, e.GroupId, members[e.GroupId])
		case roster_coordination_types.MembershipEvent_MemberLeft:
			e := event.MemberLeft()
			if members[e.GroupId] > 0 {
				members[e.GroupId]--
			}
			revision = e.Revision
			logf(roster_coordination_logging.Level_Info, "#%d %s left %s (%d members)", e.Revision, e.MemberId, e.GroupId, members[e.GroupId])
		case roster_coordination_types.MembershipEvent_GroupDeleted:
			e := event.GroupDeleted()
			delete(members, e.GroupId)
			revision = e.Revision
		}
	}
	writeSummary()
	return witTypes.Ok[witTypes.Unit, string](witTypes.Unit{})
}

// OnResync starts the counts over from the snapshot.
func OnResync(snapshot roster_coordination_events.Resync) witTypes.Result[witTypes.Unit, string] {
	members = map[string]int{}
	for _, group := range snapshot.Groups {
		members[group.GroupId] = len(group.Members)
	}
	revision = snapshot.Revision
	logf(roster_coordination_logging.Level_Info, "resync at #%d: %d groups", snapshot.Revision, len(snapshot.Groups))
	writeSummary()
	return witTypes.Ok[witTypes.Unit, string](witTypes.Unit{})
}

// writeSummary replaces summary.txt with one line per group, "GROUP COUNT", sorted by
// group, after a first line giving the revision it reflects.
func writeSummary() {
	groups := make([]string, 0, len(members))
	for group := range members {
		groups = append(groups, group)
	}
	sort.Strings(groups)
	var text strings.Builder
	fmt.Fprintf(&text, "revision %d\n", revision)
	for _, group := range groups {
		fmt.Fprintf(&text, "%s %d\n", group, members[group])
	}
	if err := os.WriteFile(summaryPath, []byte(text.String()), 0o644); err != nil && !toldNoDirectory {
		logf(roster_coordination_logging.Level_Warn, "cannot write %s (is a directory granted?): %v", summaryPath, err)
		toldNoDirectory = true
	}
}
