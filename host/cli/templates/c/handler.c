// {{name}}: a Roster event handler. Logs every event it is given, and keeps each group's
// member count (its state: rebuilt from the snapshot the host gives it after a gap).
//
// The two functions at the bottom implement the exported interface `events`; `handler.h`
// (generated from wit/ by `roster plugin build` into bindings/) declares them and every type.
// Arguments belong to the callee: each call frees what it was given.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handler.h"

// Members per group: a small table, searched in order.
typedef struct {
  char *group;
  long count;
} group_count_t;

static group_count_t *groups = NULL;
static size_t group_count = 0;

static void info(const char *text) {
  handler_string_t message = {(uint8_t *)text, strlen(text)};
  roster_coordination_logging_log(ROSTER_COORDINATION_LOGGING_LEVEL_INFO, &message);
}

// The table's entry for `group`, added (at zero) when missing.
static group_count_t *entry(const handler_string_t *group) {
  for (size_t i = 0; i < group_count; i++) {
    if (strlen(groups[i].group) == group->len && memcmp(groups[i].group, group->ptr, group->len) == 0) {
      return &groups[i];
    }
  }
  group_count_t *grown = realloc(groups, (group_count + 1) * sizeof(group_count_t));
  if (grown == NULL) abort();  // a trap: the host reports the fault and restarts the handler
  groups = grown;
  group_count_t *added = &groups[group_count++];
  added->group = strndup((const char *)group->ptr, group->len);
  added->count = 0;
  return added;
}

// Adds `delta` to `group`'s count (never below zero); the new count.
static long add(const handler_string_t *group, long delta) {
  group_count_t *e = entry(group);
  e->count = e->count + delta < 0 ? 0 : e->count + delta;
  return e->count;
}

static void forget_all(void) {
  for (size_t i = 0; i < group_count; i++) free(groups[i].group);
  group_count = 0;
}

static void forget(const handler_string_t *group) {
  group_count_t *e = entry(group);
  free(e->group);
  *e = groups[--group_count];
}

bool exports_roster_coordination_events_on_events(
    exports_roster_coordination_events_list_membership_event_t *events, handler_string_t *err) {
  (void)err;
  char line[512];
  for (size_t i = 0; i < events->len; i++) {
    roster_coordination_types_membership_event_t *e = &events->ptr[i];
    switch (e->tag) {
      case ROSTER_COORDINATION_TYPES_MEMBERSHIP_EVENT_GROUP_CREATED: {
        roster_coordination_types_group_created_t *c = &e->val.group_created;
        snprintf(line, sizeof line, "#%llu group-created %.*s", (unsigned long long)c->revision,
                 (int)c->group_id.len, c->group_id.ptr);
        break;
      }
      case ROSTER_COORDINATION_TYPES_MEMBERSHIP_EVENT_GROUP_DELETED: {
        roster_coordination_types_group_deleted_t *d = &e->val.group_deleted;
        forget(&d->group_id);
        snprintf(line, sizeof line, "#%llu group-deleted %.*s", (unsigned long long)d->revision,
                 (int)d->group_id.len, d->group_id.ptr);
        break;
      }
      case ROSTER_COORDINATION_TYPES_MEMBERSHIP_EVENT_MEMBER_JOINED: {
        roster_coordination_types_member_joined_t *j = &e->val.member_joined;
        snprintf(line, sizeof line, "#%llu member-joined %.*s: %.*s (members: %ld)",
                 (unsigned long long)j->revision, (int)j->group_id.len, j->group_id.ptr,
                 (int)j->member_id.len, j->member_id.ptr, add(&j->group_id, 1));
        break;
      }
      case ROSTER_COORDINATION_TYPES_MEMBERSHIP_EVENT_MEMBER_LEFT: {
        roster_coordination_types_member_left_t *l = &e->val.member_left;
        snprintf(line, sizeof line, "#%llu member-left %.*s: %.*s (members: %ld)",
                 (unsigned long long)l->revision, (int)l->group_id.len, l->group_id.ptr,
                 (int)l->member_id.len, l->member_id.ptr, add(&l->group_id, -1));
        break;
      }
      case ROSTER_COORDINATION_TYPES_MEMBERSHIP_EVENT_CAPABILITIES_UPDATED: {
        roster_coordination_types_capabilities_updated_t *u = &e->val.capabilities_updated;
        snprintf(line, sizeof line, "#%llu capabilities-updated %.*s", (unsigned long long)u->revision,
                 (int)u->group_id.len, u->group_id.ptr);
        break;
      }
      case ROSTER_COORDINATION_TYPES_MEMBERSHIP_EVENT_LEADER_ELECTED: {
        roster_coordination_types_leader_elected_t *l = &e->val.leader_elected;
        snprintf(line, sizeof line, "#%llu leader-elected %.*s", (unsigned long long)l->revision,
                 (int)l->group_id.len, l->group_id.ptr);
        break;
      }
      case ROSTER_COORDINATION_TYPES_MEMBERSHIP_EVENT_LEADER_LOST: {
        roster_coordination_types_leader_lost_t *l = &e->val.leader_lost;
        snprintf(line, sizeof line, "#%llu leader-lost %.*s", (unsigned long long)l->revision,
                 (int)l->group_id.len, l->group_id.ptr);
        break;
      }
      case ROSTER_COORDINATION_TYPES_MEMBERSHIP_EVENT_LOCK_ACQUIRED: {
        roster_coordination_types_lock_acquired_t *a = &e->val.lock_acquired;
        snprintf(line, sizeof line, "#%llu lock-acquired %.*s", (unsigned long long)a->revision,
                 (int)a->lock.len, a->lock.ptr);
        break;
      }
      default: {
        roster_coordination_types_lock_released_t *r = &e->val.lock_released;
        snprintf(line, sizeof line, "#%llu lock-released %.*s", (unsigned long long)r->revision,
                 (int)r->lock.len, r->lock.ptr);
        break;
      }
    }
    info(line);
  }
  exports_roster_coordination_events_list_membership_event_free(events);
  return true;
}

bool exports_roster_coordination_events_on_resync(exports_roster_coordination_events_resync_t *snapshot,
                                                  handler_string_t *err) {
  (void)err;
  forget_all();
  for (size_t i = 0; i < snapshot->groups.len; i++) {
    exports_roster_coordination_events_group_snapshot_t *g = &snapshot->groups.ptr[i];
    entry(&g->group_id)->count = (long)g->members.len;
  }
  char line[128];
  snprintf(line, sizeof line, "resync at #%llu: %zu groups", (unsigned long long)snapshot->revision,
           snapshot->groups.len);
  info(line);
  exports_roster_coordination_events_resync_free(snapshot);
  return true;
}
