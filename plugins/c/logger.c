// Logs every membership event as one line, like the Rust `log-events` example, in plain C.
//
// It avoids stdio (which would pull WASI into the component): lines are assembled by hand in
// a fixed buffer. Exported arguments belong to the callee, so each call frees what it was
// given. Needs no grants.
#include <stdint.h>
#include <string.h>

#include "handler.h"

typedef struct {
  char text[512];
  size_t len;
} line_t;

static void put(line_t *line, const uint8_t *bytes, size_t len) {
  size_t room = sizeof(line->text) - line->len;
  if (len > room) len = room;
  memcpy(line->text + line->len, bytes, len);
  line->len += len;
}

static void put_text(line_t *line, const char *text) {
  put(line, (const uint8_t *)text, strlen(text));
}

static void put_string(line_t *line, const handler_string_t *s) {
  put(line, s->ptr, s->len);
}

static void put_number(line_t *line, uint64_t n) {
  char digits[20];
  size_t count = 0;
  do {
    digits[count++] = (char)('0' + n % 10);
    n /= 10;
  } while (n > 0);
  while (count > 0) put(line, (const uint8_t *)&digits[--count], 1);
}

static void emit(line_t *line) {
  handler_string_t message = {(uint8_t *)line->text, line->len};
  roster_coordination_logging_log(ROSTER_COORDINATION_LOGGING_LEVEL_INFO, &message);
}

static const char *leave_reason(roster_coordination_types_leave_reason_t reason) {
  switch (reason) {
    case ROSTER_COORDINATION_TYPES_LEAVE_REASON_LEFT: return "left";
    case ROSTER_COORDINATION_TYPES_LEAVE_REASON_EXPIRED: return "expired";
    case ROSTER_COORDINATION_TYPES_LEAVE_REASON_SESSION_LOST: return "session lost";
    default: return "group deleted";
  }
}

static void member_line(uint64_t revision, const handler_string_t *member, const char *verb,
                        const handler_string_t *group, const char *suffix) {
  line_t line = {.len = 0};
  put_text(&line, "#");
  put_number(&line, revision);
  put_text(&line, " ");
  put_string(&line, member);
  put_text(&line, verb);
  put_string(&line, group);
  put_text(&line, suffix);
  emit(&line);
}

static void group_line(uint64_t revision, const handler_string_t *group, const char *what) {
  line_t line = {.len = 0};
  put_text(&line, "#");
  put_number(&line, revision);
  put_text(&line, " group ");
  put_string(&line, group);
  put_text(&line, what);
  emit(&line);
}

bool exports_roster_coordination_events_on_events(
    exports_roster_coordination_events_list_membership_event_t *events, handler_string_t *err) {
  (void)err;
  for (size_t i = 0; i < events->len; i++) {
    roster_coordination_types_membership_event_t *e = &events->ptr[i];
    switch (e->tag) {
      case ROSTER_COORDINATION_TYPES_MEMBERSHIP_EVENT_MEMBER_JOINED: {
        roster_coordination_types_member_joined_t *j = &e->val.member_joined;
        member_line(j->revision, &j->member_id, " joined ", &j->group_id, "");
        break;
      }
      case ROSTER_COORDINATION_TYPES_MEMBERSHIP_EVENT_MEMBER_LEFT: {
        roster_coordination_types_member_left_t *l = &e->val.member_left;
        line_t reason = {.len = 0};
        put_text(&reason, " (");
        put_text(&reason, leave_reason(l->reason));
        put_text(&reason, ")");
        reason.text[reason.len] = '\0';
        member_line(l->revision, &l->member_id, " left ", &l->group_id, reason.text);
        break;
      }
      case ROSTER_COORDINATION_TYPES_MEMBERSHIP_EVENT_CAPABILITIES_UPDATED: {
        roster_coordination_types_capabilities_updated_t *u = &e->val.capabilities_updated;
        member_line(u->revision, &u->member_id, " updated capabilities in ", &u->group_id, "");
        break;
      }
      case ROSTER_COORDINATION_TYPES_MEMBERSHIP_EVENT_LEADER_ELECTED: {
        roster_coordination_types_leader_elected_t *l = &e->val.leader_elected;
        member_line(l->revision, &l->member_id, " leads ", &l->group_id, "");
        break;
      }
      case ROSTER_COORDINATION_TYPES_MEMBERSHIP_EVENT_LEADER_LOST: {
        roster_coordination_types_leader_lost_t *l = &e->val.leader_lost;
        member_line(l->revision, &l->member_id, " no longer leads ", &l->group_id, "");
        break;
      }
      case ROSTER_COORDINATION_TYPES_MEMBERSHIP_EVENT_LOCK_ACQUIRED: {
        roster_coordination_types_lock_acquired_t *a = &e->val.lock_acquired;
        member_line(a->revision, &a->member_id, " acquired lock ", &a->lock, "");
        break;
      }
      case ROSTER_COORDINATION_TYPES_MEMBERSHIP_EVENT_LOCK_RELEASED: {
        roster_coordination_types_lock_released_t *r = &e->val.lock_released;
        member_line(r->revision, &r->member_id, " released lock ", &r->lock, "");
        break;
      }
      case ROSTER_COORDINATION_TYPES_MEMBERSHIP_EVENT_GROUP_CREATED:
        group_line(e->val.group_created.revision, &e->val.group_created.group_id, " created");
        break;
      case ROSTER_COORDINATION_TYPES_MEMBERSHIP_EVENT_GROUP_DELETED:
        group_line(e->val.group_deleted.revision, &e->val.group_deleted.group_id, " deleted");
        break;
    }
  }
  exports_roster_coordination_events_list_membership_event_free(events);
  return true;
}

bool exports_roster_coordination_events_on_resync(exports_roster_coordination_events_resync_t *snapshot,
                                                  handler_string_t *err) {
  (void)err;
  line_t line = {.len = 0};
  put_text(&line, "resync at #");
  put_number(&line, snapshot->revision);
  put_text(&line, ": ");
  put_number(&line, snapshot->groups.len);
  put_text(&line, " groups");
  emit(&line);
  exports_roster_coordination_events_resync_free(snapshot);
  return true;
}
