//! `IdMap`: a hash map for the fold's large id-keyed tables (orders,
//! signals, fill ids), which a `BTreeMap` made the fold's hottest code
//! (string comparisons down a deep tree, for every order event). It hashes
//! with a fixed key, so nothing about it is random, and it serializes its
//! entries sorted by key, so snapshots, insta files and state hashes are
//! stable whatever the insertion order.

use serde::de::{Deserialize, Deserializer};
use serde::ser::{Serialize, SerializeMap, Serializer};
use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash};

type FixedState = BuildHasherDefault<DefaultHasher>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdMap<K: Hash + Eq, V>(HashMap<K, V, FixedState>);

impl<K: Hash + Eq, V> Default for IdMap<K, V> {
    fn default() -> Self {
        IdMap(HashMap::default())
    }
}

impl<K: Hash + Eq + Ord, V> IdMap<K, V> {
    pub fn get(&self, key: &K) -> Option<&V> {
        self.0.get(key)
    }

    pub fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        self.0.get_mut(key)
    }

    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        self.0.insert(key, value)
    }

    pub fn remove(&mut self, key: &K) -> Option<V> {
        self.0.remove(key)
    }

    pub fn contains_key(&self, key: &K) -> bool {
        self.0.contains_key(key)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Entries in key order.
    pub fn iter_sorted(&self) -> Vec<(&K, &V)> {
        let mut entries: Vec<(&K, &V)> = self.0.iter().collect();
        entries.sort_unstable_by(|left, right| left.0.cmp(right.0));
        entries
    }

    /// Values in key order.
    pub fn values_sorted(&self) -> impl Iterator<Item = &V> {
        self.iter_sorted().into_iter().map(|(_, value)| value)
    }
}

impl<K: Hash + Eq + Ord, V> std::ops::Index<&K> for IdMap<K, V> {
    type Output = V;

    /// Panics on a missing key, like `HashMap`'s own index; for tests and
    /// callers that have just checked the key.
    #[allow(clippy::panic)]
    fn index(&self, key: &K) -> &V {
        match self.0.get(key) {
            Some(value) => value,
            None => panic!("no entry for that key"),
        }
    }
}

impl<K: Hash + Eq + Ord + Serialize, V: Serialize> Serialize for IdMap<K, V> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let entries = self.iter_sorted();
        let mut map = serializer.serialize_map(Some(entries.len()))?;
        for (key, value) in entries {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

impl<'de, K: Hash + Eq + Deserialize<'de>, V: Deserialize<'de>> Deserialize<'de> for IdMap<K, V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        HashMap::<K, V, FixedState>::deserialize(deserializer).map(IdMap)
    }
}
