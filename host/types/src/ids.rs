//! Identifiers and capabilities, validated once at the edge.
//!
//! tooz takes ids as unchecked bytes; Roster takes strings and rejects empty, oversized or
//! control-character ids with a clear error (decision R10), so every backend, log line and
//! terminal can show them safely. Ids are reference counted: the engine keeps one allocation
//! per id and every event and member record shares it.

use std::borrow::Borrow;
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::error::{CoordinationError, IdKind};

/// The longest id accepted, in bytes of UTF-8.
pub const MAX_ID_BYTES: usize = 255;

/// The default limit on the size of a member's capabilities, in bytes (64 KiB).
pub const DEFAULT_MAX_CAPABILITIES: usize = 64 * 1024;

fn validate(kind: IdKind, value: &str) -> Result<(), CoordinationError> {
    let reason = if value.is_empty() {
        "must not be empty".to_owned()
    } else if value.len() > MAX_ID_BYTES {
        format!("is {} bytes long, the limit is {MAX_ID_BYTES}", value.len())
    } else if let Some(c) = value.chars().find(|c| c.is_control()) {
        format!("contains the control character {c:?}")
    } else {
        return Ok(());
    };
    Err(CoordinationError::InvalidId {
        kind,
        value: value.escape_debug().to_string(),
        reason,
    })
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $kind:expr) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(Arc<str>);

        impl $name {
            /// Validate `value` and wrap it.
            ///
            /// # Errors
            /// [`CoordinationError::InvalidId`] when it is empty, longer than
            /// [`MAX_ID_BYTES`] or contains a control character.
            pub fn new(value: impl AsRef<str>) -> Result<Self, CoordinationError> {
                let value = value.as_ref();
                validate($kind, value)?;
                Ok(Self(Arc::from(value)))
            }

            /// Validate `value` without wrapping it (no allocation).
            ///
            /// # Errors
            /// As [`Self::new`].
            pub fn check(value: &str) -> Result<(), CoordinationError> {
                validate($kind, value)
            }

            /// The id as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&*self.0, f)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                &*self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                &*self.0 == *other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                *self.0 == **other
            }
        }

        impl TryFrom<String> for $name {
            type Error = CoordinationError;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::new(value)
            }
        }

        impl TryFrom<&str> for $name {
            type Error = CoordinationError;
            fn try_from(value: &str) -> Result<Self, Self::Error> {
                Self::new(value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0.to_string()
            }
        }
    };
}

id_type!(
    /// The name of a group: 1 to 255 bytes of UTF-8 without control characters.
    GroupId,
    IdKind::Group
);

/// A group name checked as [`GroupId::new`] checks it, but borrowed: no allocation. For code
/// that validates a name at its edge and only owns it where it must ([`GroupName::to_id`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GroupName<'a>(&'a str);

impl<'a> GroupName<'a> {
    /// Validate `value` as a group id.
    ///
    /// # Errors
    /// As [`GroupId::new`].
    pub fn new(value: &'a str) -> Result<Self, CoordinationError> {
        GroupId::check(value)?;
        Ok(Self(value))
    }

    /// The name as a string slice.
    pub fn as_str(self) -> &'a str {
        self.0
    }

    /// The owned id (one allocation, no second check).
    pub fn to_id(self) -> GroupId {
        GroupId(Arc::from(self.0))
    }
}

impl GroupId {
    /// The id as a [`GroupName`].
    pub fn name(&self) -> GroupName<'_> {
        GroupName(&self.0)
    }
}
id_type!(
    /// The name of a member, unique within a group: same rules as [`GroupId`].
    MemberId,
    IdKind::Member
);

id_type!(
    /// The name of a lock: same rules as [`GroupId`]. Locks are named apart from groups: a
    /// lock and a group may share a name.
    LockName,
    IdKind::Lock
);

/// A member's capabilities: opaque bytes (JSON or msgpack by convention).
///
/// A member that joined without capabilities has empty ones. Cloning is cheap (shared
/// allocation), so events and member records can carry them freely.
///
/// In serialized form (the network API, JSON lines) capabilities that are UTF-8 text are a
/// string, and any other bytes are `{"base64": "..."}`, so the common case stays readable
/// and nothing is lost.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Capabilities(Option<Arc<[u8]>>);

/// The serialized form of [`Capabilities`].
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum CapabilitiesRepr<'a> {
    Text(std::borrow::Cow<'a, str>),
    Binary { base64: String },
}

impl Serialize for Capabilities {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use base64::Engine as _;
        match std::str::from_utf8(self.as_bytes()) {
            Ok(text) => CapabilitiesRepr::Text(text.into()),
            Err(_) => CapabilitiesRepr::Binary {
                base64: base64::engine::general_purpose::STANDARD.encode(self.as_bytes()),
            },
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Capabilities {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use base64::Engine as _;
        match CapabilitiesRepr::deserialize(deserializer)? {
            CapabilitiesRepr::Text(text) => Ok(text.into_owned().into()),
            CapabilitiesRepr::Binary { base64 } => base64::engine::general_purpose::STANDARD
                .decode(base64)
                .map(Self::from)
                .map_err(|e| serde::de::Error::custom(format!("capabilities: bad base64: {e}"))),
        }
    }
}

impl Capabilities {
    /// No capabilities.
    pub const fn none() -> Self {
        Self(None)
    }

    /// Capabilities holding `value` serialized as JSON.
    ///
    /// # Errors
    /// The serializer's error if `value` cannot be written as JSON.
    pub fn json<T: Serialize + ?Sized>(value: &T) -> Result<Self, serde_json::Error> {
        serde_json::to_vec(value).map(Self::from)
    }

    /// Parse the capabilities as JSON.
    ///
    /// # Errors
    /// The parser's error when the bytes are not JSON of the requested shape (empty
    /// capabilities are not JSON either).
    pub fn to_json<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(self.as_bytes())
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_deref().unwrap_or_default()
    }

    /// Size in bytes.
    pub fn len(&self) -> usize {
        self.as_bytes().len()
    }

    /// True for a member that has no capabilities.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Checks the capabilities against a store's size limit.
    ///
    /// # Errors
    /// [`CoordinationError::CapabilitiesTooLarge`] when they are longer than `limit` bytes.
    pub fn check_size(&self, limit: usize) -> Result<(), CoordinationError> {
        if self.len() > limit {
            return Err(CoordinationError::CapabilitiesTooLarge {
                size: self.len() as u64,
                limit: limit as u64,
            });
        }
        Ok(())
    }
}

impl fmt::Debug for Capabilities {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match std::str::from_utf8(self.as_bytes()) {
            Ok(text) => write!(f, "Capabilities({text:?})"),
            Err(_) => write!(f, "Capabilities({} bytes)", self.len()),
        }
    }
}

impl From<Vec<u8>> for Capabilities {
    fn from(value: Vec<u8>) -> Self {
        if value.is_empty() {
            Self(None)
        } else {
            Self(Some(Arc::from(value)))
        }
    }
}

impl From<&[u8]> for Capabilities {
    fn from(value: &[u8]) -> Self {
        value.to_vec().into()
    }
}

impl From<&str> for Capabilities {
    fn from(value: &str) -> Self {
        value.as_bytes().into()
    }
}

impl From<String> for Capabilities {
    fn from(value: String) -> Self {
        value.into_bytes().into()
    }
}

impl From<Capabilities> for Vec<u8> {
    fn from(value: Capabilities) -> Self {
        value.as_bytes().to_vec()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn capabilities_serialize_as_text_or_base64() {
        let text = Capabilities::from(r#"{"weight":2}"#);
        let json = serde_json::to_string(&text).unwrap();
        assert_eq!(json, r#""{\"weight\":2}""#);
        assert_eq!(serde_json::from_str::<Capabilities>(&json).unwrap(), text);

        let binary = Capabilities::from(&[0xff_u8, 0x00, 0x81][..]);
        let json = serde_json::to_string(&binary).unwrap();
        assert_eq!(json, r#"{"base64":"/wCB"}"#);
        assert_eq!(serde_json::from_str::<Capabilities>(&json).unwrap(), binary);

        assert!(serde_json::from_str::<Capabilities>(r#"{"base64":"!"}"#).is_err());
        assert!(serde_json::from_str::<Capabilities>("12").is_err());
    }

    use super::*;
    use proptest::prelude::*;

    #[test]
    fn empty_id_is_rejected_with_its_kind() {
        let err = GroupId::new("").unwrap_err();
        assert!(matches!(
            err,
            CoordinationError::InvalidId {
                kind: IdKind::Group,
                ..
            }
        ));
        assert!(err.to_string().contains("must not be empty"), "{err}");
    }

    #[test]
    fn group_name_accepts_and_rejects_exactly_what_group_id_does() {
        for value in [
            "workers",
            "a",
            "grüppe ✓",
            "",
            "tab\there",
            &"x".repeat(256),
        ] {
            match (GroupName::new(value), GroupId::new(value)) {
                (Ok(name), Ok(id)) => {
                    assert_eq!(name.to_id(), id);
                    assert_eq!(id.name(), name);
                    assert_eq!(name.as_str(), value);
                }
                (Err(by_name), Err(by_id)) => assert_eq!(by_name, by_id),
                (name, id) => panic!("{value:?}: name {name:?}, id {id:?}"),
            }
        }
    }

    #[test]
    fn id_of_256_bytes_is_rejected_and_255_accepted() {
        assert!(MemberId::new("é".repeat(128)).is_err(), "256 bytes");
        assert!(MemberId::new("a".repeat(255)).is_ok());
    }

    #[test]
    fn control_characters_are_rejected_and_escaped_in_the_error() {
        let err = MemberId::new("bad\nid").unwrap_err();
        let CoordinationError::InvalidId {
            value,
            reason,
            kind,
        } = err
        else {
            panic!("wrong error");
        };
        assert_eq!(kind, IdKind::Member);
        assert_eq!(value, "bad\\nid");
        assert!(reason.contains("control character"));
    }

    #[test]
    fn ids_deserialize_only_when_valid() {
        assert!(serde_json::from_str::<GroupId>("\"ok\"").is_ok());
        assert!(serde_json::from_str::<GroupId>("\"\"").is_err());
    }

    #[test]
    fn capabilities_round_trip_json() {
        let caps = Capabilities::json(&serde_json::json!({"weight": 5})).unwrap();
        let back: serde_json::Value = caps.to_json().unwrap();
        assert_eq!(back["weight"], 5);
        assert!(Capabilities::none().is_empty());
        assert_eq!(Capabilities::from(Vec::new()), Capabilities::none());
    }

    #[test]
    fn capabilities_over_the_limit_are_rejected() {
        let caps = Capabilities::from(vec![0u8; 11]);
        assert!(caps.check_size(11).is_ok());
        let err = caps.check_size(10).unwrap_err();
        assert_eq!(
            err,
            CoordinationError::CapabilitiesTooLarge {
                size: 11,
                limit: 10
            }
        );
    }

    proptest! {
        #[test]
        fn any_printable_id_up_to_the_limit_is_accepted(s in "[^\\p{Cc}]{1,60}") {
            prop_assume!(s.len() <= MAX_ID_BYTES);
            let id = GroupId::new(&s).unwrap();
            prop_assert_eq!(id.as_str(), s.as_str());
        }

        #[test]
        fn validation_never_panics(s in any::<String>()) {
            let _ = MemberId::new(&s);
        }
    }
}
