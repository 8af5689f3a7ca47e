// {{name}}: a Roster event handler. Logs every event it is given, and keeps each group's
// member count (its state: rebuilt from the snapshot the host gives it after a gap).
// The event shapes are in types/ (generated from wit/ by `npm run types`, which the build
// runs), so an editor checks them (jsconfig.json; `npx tsc -p jsconfig.json` does too).
import { log } from 'roster:coordination/logging@0.1.0';

/** Members per group. @type {Map<string, number>} */
let members = new Map();

/**
 * Add `delta` to `group`'s count; the new count.
 * @param {string} group
 * @param {number} delta
 */
function add(group, delta) {
  const count = Math.max(0, (members.get(group) ?? 0) + delta);
  members.set(group, count);
  return count;
}

/** @param {import('roster:coordination/types@0.1.0').MembershipEvent[]} events */
function onEvents(events) {
  for (const event of events) {
    const { val } = event;
    const subject = 'groupId' in val ? val.groupId : val.lock;
    const line = `#${val.revision} ${event.tag} ${subject}`;
    if (event.tag === 'member-joined') {
      log('info', `${line}: ${event.val.memberId} (members: ${add(event.val.groupId, 1)})`);
    } else if (event.tag === 'member-left') {
      log('info', `${line}: ${event.val.memberId} (members: ${add(event.val.groupId, -1)})`);
    } else {
      if (event.tag === 'group-deleted') members.delete(event.val.groupId);
      log('info', line);
    }
  }
}

/** @param {import('roster:coordination/events@0.1.0').Resync} snapshot */
function onResync(snapshot) {
  members = new Map(snapshot.groups.map((g) => [g.groupId, g.members.length]));
  log('info', `resync at #${snapshot.revision}: ${snapshot.groups.length} groups`);
}

export const events = { onEvents, onResync };
