// Assigns work partitions to the members of each group with a consistent hash ring, and logs
// which partitions move when members join, leave or change weight.
//
// A member's weight comes from its capabilities when they are JSON like {"weight": 3}
// (default 1). Each member gets 16 points on the ring per unit of weight; a partition belongs
// to the first point at or after its own hash. Needs no grants: it only reads membership.
import { log } from 'roster:coordination/logging@0.1.0';
import { getMembersWithCapabilities } from 'roster:coordination/coordinator@0.1.0';

const PARTITIONS = 32;
const POINTS_PER_WEIGHT = 16;

// Last assignment per group: partition index -> member id.
const assignments = new Map();

// 32-bit FNV-1a: stable across runs and hosts, so every replica agrees.
function hash(text) {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

function weightOf(capabilities) {
  try {
    const parsed = JSON.parse(new TextDecoder().decode(capabilities));
    const weight = Number(parsed?.weight);
    return Number.isInteger(weight) && weight > 0 ? weight : 1;
  } catch {
    return 1;
  }
}

function assign(members) {
  const ring = [];
  for (const [member, capabilities] of members) {
    const points = weightOf(capabilities) * POINTS_PER_WEIGHT;
    for (let i = 0; i < points; i++) ring.push([hash(`${member}#${i}`), member]);
  }
  ring.sort((a, b) => a[0] - b[0] || (a[1] < b[1] ? -1 : 1));
  const owners = [];
  for (let p = 0; p < PARTITIONS; p++) {
    if (ring.length === 0) {
      owners.push(null);
      continue;
    }
    const h = hash(`partition-${p}`);
    const point = ring.find(([position]) => position >= h) ?? ring[0];
    owners.push(point[1]);
  }
  return owners;
}

function rebalance(group) {
  let members;
  try {
    members = getMembersWithCapabilities(group);
  } catch {
    members = []; // the group is gone
  }
  const before = assignments.get(group) ?? new Array(PARTITIONS).fill(null);
  const after = assign(members);
  let moved = 0;
  for (let p = 0; p < PARTITIONS; p++) {
    if (before[p] !== after[p]) {
      moved++;
      log('debug', `ring ${group}: partition ${p} ${before[p] ?? '-'} -> ${after[p] ?? '-'}`);
    }
  }
  assignments.set(group, after);
  log('info', `ring ${group}: ${members.length} members, ${moved} partitions moved`);
}

export const events = {
  onEvents(batch) {
    const touched = new Set();
    for (const event of batch) {
      const e = event.val;
      if (event.tag === 'member-joined') log('info', `#${e.revision} ${e.memberId} joined ${e.groupId}`);
      if (event.tag === 'member-left') log('info', `#${e.revision} ${e.memberId} left ${e.groupId}`);
      if (['member-joined', 'member-left', 'capabilities-updated', 'group-deleted'].includes(event.tag)) {
        touched.add(e.groupId);
      }
    }
    for (const group of touched) rebalance(group);
  },
  onResync(snapshot) {
    assignments.clear();
    for (const group of snapshot.groups) {
      assignments.set(group.groupId, assign(group.members));
    }
    log('info', `resync at #${snapshot.revision}: ${snapshot.groups.length} groups`);
  },
};
