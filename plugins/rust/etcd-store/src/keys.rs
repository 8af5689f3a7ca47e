//! The key layout of one namespace (see README.md).
//!
//! Ids may contain any character but control characters, `/` included, so every id that is
//! part of a key is escaped: `%` as `%25` and `/` as `%2F`. A key's parts are then split by
//! `/` alone, and no two ids (or namespaces) give the same key or one key's prefix.

/// The version of this layout, kept at `{ns}/layout`. A namespace written with another
/// layout (or with none: the first one, before the key existed) is refused, not misread.
pub const LAYOUT: u32 = 2;

/// Numbers in keys are zero-padded to this many digits, so keys sort as numbers.
const DIGITS: usize = 20;

/// `%` and `/` escaped.
pub fn escape(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for c in id.chars() {
        match c {
            '%' => out.push_str("%25"),
            '/' => out.push_str("%2F"),
            c => out.push(c),
        }
    }
    out
}

/// The id an [`escape`]d key part stands for.
pub fn unescape(part: &str) -> String {
    part.replace("%2F", "/").replace("%25", "%")
}

/// The keys of one namespace.
#[derive(Clone, Debug)]
pub struct Keys {
    namespace: String,
    /// `<namespace>/`, escaped.
    prefix: String,
}

impl Keys {
    pub fn new(namespace: &str) -> Self {
        Self {
            namespace: namespace.to_owned(),
            prefix: format!("{}/", escape(namespace)),
        }
    }

    /// The namespace, as configured.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The store id.
    pub fn id(&self) -> String {
        format!("{}id", self.prefix)
    }

    /// The key layout the namespace was written with ([`LAYOUT`]); written with the id.
    pub fn layout(&self) -> String {
        format!("{}layout", self.prefix)
    }

    /// The head revision; every change to groups, members or the log rewrites it.
    pub fn head(&self) -> String {
        format!("{}head", self.prefix)
    }

    pub fn events(&self) -> String {
        format!("{}events/", self.prefix)
    }

    pub fn event(&self, revision: u64) -> String {
        format!("{}events/{revision:0DIGITS$}", self.prefix)
    }

    /// The revision an event key names.
    pub fn event_revision(&self, key: &str) -> Option<u64> {
        key.strip_prefix(&self.events())?.parse().ok()
    }

    pub fn groups(&self) -> String {
        format!("{}groups/", self.prefix)
    }

    pub fn group(&self, group: &str) -> String {
        format!("{}groups/{}", self.prefix, escape(group))
    }

    /// The group a group key names.
    pub fn group_id(&self, key: &str) -> Option<String> {
        key.strip_prefix(&self.groups()).map(unescape)
    }

    pub fn members(&self, group: &str) -> String {
        format!("{}members/{}/", self.prefix, escape(group))
    }

    pub fn member(&self, group: &str, member: &str) -> String {
        format!("{}{}", self.members(group), escape(member))
    }

    /// The member a member key of `group` names.
    pub fn member_id(&self, group: &str, key: &str) -> Option<String> {
        key.strip_prefix(&self.members(group)).map(unescape)
    }

    pub fn sessions(&self) -> String {
        format!("{}sessions/", self.prefix)
    }

    pub fn session(&self, session: &str) -> String {
        format!("{}sessions/{}", self.prefix, escape(session))
    }

    /// The membership index of one session: one key per group its member is in.
    pub fn memberships(&self, session: &str) -> String {
        format!("{}memberships/{}/", self.prefix, escape(session))
    }

    pub fn membership(&self, session: &str, group: &str) -> String {
        format!("{}{}", self.memberships(session), escape(group))
    }

    /// The group a key of an index (`prefix`: [`Keys::memberships`] or
    /// [`Keys::candidacies`]) names.
    pub fn indexed_group(&self, prefix: &str, key: &str) -> Option<String> {
        key.strip_prefix(prefix).map(unescape)
    }

    /// The candidacy index of one session: one key per group it stands in.
    pub fn candidacies(&self, session: &str) -> String {
        format!("{}candidacies/{}/", self.prefix, escape(session))
    }

    pub fn candidacy(&self, session: &str, group: &str) -> String {
        format!("{}{}", self.candidacies(session), escape(group))
    }

    /// Every lock with a holder or a waiter: one document each.
    pub fn locks(&self) -> String {
        format!("{}locks/", self.prefix)
    }

    pub fn lock(&self, lock: &str) -> String {
        format!("{}locks/{}", self.prefix, escape(lock))
    }

    /// The lock a lock key names.
    pub fn lock_name(&self, key: &str) -> Option<String> {
        key.strip_prefix(&self.locks()).map(unescape)
    }

    /// The lock index of one session: one key per lock it holds or waits for.
    pub fn session_locks(&self, session: &str) -> String {
        format!("{}slocks/{}/", self.prefix, escape(session))
    }

    pub fn session_lock(&self, session: &str, lock: &str) -> String {
        format!("{}{}", self.session_locks(session), escape(lock))
    }

    /// The deadline index: one key per session with a deadline, sorted by deadline.
    pub fn deadlines(&self) -> String {
        format!("{}deadlines/", self.prefix)
    }

    pub fn deadline(&self, deadline_ms: u64, session: &str) -> String {
        format!(
            "{}deadlines/{deadline_ms:0DIGITS$}/{}",
            self.prefix,
            escape(session)
        )
    }

    /// The first deadline key after every deadline up to `ms`.
    pub fn deadlines_after(&self, ms: u64) -> String {
        format!("{}deadlines/{:0DIGITS$}", self.prefix, ms.saturating_add(1))
    }

    /// Whether `key` is in the deadline index.
    pub fn is_deadline(&self, key: &str) -> bool {
        key.starts_with(&self.deadlines())
    }

    /// Whether `key` is one `{ns}/head` guards: every write of it rewrites the head in the
    /// same transaction (a group, a member, a lock, or an entry of a session's indexes).
    pub fn is_guarded(&self, key: &str) -> bool {
        key.strip_prefix(&self.prefix).is_some_and(|rest| {
            [
                "groups/",
                "members/",
                "memberships/",
                "candidacies/",
                "locks/",
                "slocks/",
            ]
            .iter()
            .any(|kind| rest.starts_with(kind))
        })
    }

    /// The deadline a deadline key names.
    pub fn deadline_of(&self, key: &str) -> Option<u64> {
        let rest = key.strip_prefix(&self.deadlines())?;
        rest.split('/').next()?.parse().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_with_slashes_do_not_collide() {
        let k = Keys::new("ns");
        assert_ne!(k.member("a/b", "c"), k.member("a", "b/c"));
        assert!(!k.member("a", "b/c").starts_with(&k.members("a/b")));
        assert_eq!(k.group_id(&k.group("x/%2F")).unwrap(), "x/%2F");
        assert_eq!(k.member_id("g", &k.member("g", "m/1")).unwrap(), "m/1");
        assert_ne!(k.membership("s/g", "h"), k.membership("s", "g/h"));
        assert_eq!(
            k.indexed_group(&k.memberships("s/1"), &k.membership("s/1", "g/2"))
                .unwrap(),
            "g/2"
        );
        assert_ne!(k.candidacy("s", "g"), k.membership("s", "g"));
        assert!(k.is_guarded(&k.membership("s", "g")));
        assert!(k.is_guarded(&k.candidacy("s", "g")));
        assert!(k.is_guarded(&k.lock("l")));
        assert!(k.is_guarded(&k.session_lock("s", "l")));
        assert_eq!(k.lock_name(&k.lock("a/b")).unwrap(), "a/b");
        assert_ne!(k.session_lock("s/l", "m"), k.session_lock("s", "l/m"));
        assert!(!k.is_guarded(&k.session("s")));
        assert!(
            !Keys::new("a/groups")
                .group("x")
                .starts_with(&Keys::new("a").groups())
        );
    }

    #[test]
    fn numbered_keys_sort_as_numbers() {
        let k = Keys::new("ns");
        assert!(k.event(9) < k.event(10));
        assert_eq!(k.event_revision(&k.event(123)), Some(123));
        assert!(k.deadline(99, "s") < k.deadlines_after(99));
        assert!(k.deadline(100, "s") > k.deadlines_after(99));
        assert_eq!(k.deadline_of(&k.deadline(5, "a/b")), Some(5));
    }
}
