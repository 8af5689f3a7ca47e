//! Serde for the compact sequences the state keeps (`SmallVec`, `ThinVec`): written as plain
//! lists, read back through a `Vec`. The state holds one session per member, so those stay
//! compact in memory; on disk they are ordinary JSON arrays.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Write `items` as a list.
pub(crate) fn serialize<S, T, C>(items: &C, serializer: S) -> Result<S::Ok, S::Error>
where
    S: Serializer,
    T: Serialize,
    C: std::ops::Deref<Target = [T]>,
{
    serializer.collect_seq(items.iter())
}

/// Read a list into any collection.
pub(crate) fn deserialize<'de, D, T, C>(deserializer: D) -> Result<C, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
    C: FromIterator<T>,
{
    Ok(Vec::<T>::deserialize(deserializer)?.into_iter().collect())
}

/// Maps written in key order, so the same state always serializes to the same bytes (a
/// store can tell whether an operation changed anything by comparing them).
pub(crate) mod sorted_map {
    use std::hash::Hash;

    use crate::state::Map;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    /// Write `map` with its keys in order.
    pub(crate) fn serialize<S, K, V, H>(
        map: &std::collections::HashMap<K, V, H>,
        serializer: S,
    ) -> Result<S::Ok, S::Error>
    where
        S: Serializer,
        K: Serialize + Ord,
        V: Serialize,
    {
        let mut entries: Vec<(&K, &V)> = map.iter().collect();
        entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
        serializer.collect_map(entries)
    }

    /// Read a map.
    pub(crate) fn deserialize<'de, D, K, V>(deserializer: D) -> Result<Map<K, V>, D::Error>
    where
        D: Deserializer<'de>,
        K: Deserialize<'de> + Eq + Hash,
        V: Deserialize<'de>,
    {
        Map::<K, V>::deserialize(deserializer)
    }
}
