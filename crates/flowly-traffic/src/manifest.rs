//! The manifest: what `flowly dev seed` tells generator processes about the dataset it wrote
//! (who the users are, how each gets in, which room is of which class). A JSON file is the whole
//! interface between the two: the server writes it, `flowly-traffic run` reads it.

use std::{collections::BTreeMap, path::Path};

use anyhow::Context;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A room's class, which decides its size and its share of the traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoomClass {
    Dm,
    Team,
    Channel,
}

/// Who the seeded users are and how to get in.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// The password every seeded user shares.
    pub password: String,
    pub users: Vec<SeededUser>,
    /// The class of every seeded room.
    pub rooms: BTreeMap<Uuid, RoomClass>,
    /// Rows the seed wrote, by table.
    pub counts: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SeededUser {
    pub id: Uuid,
    pub username: String,
    /// A session inserted by the seed (`None`: this user must log in over the API).
    pub token: Option<String>,
}

impl Manifest {
    /// Reads a manifest written by `flowly dev seed --manifest PATH`.
    pub fn read(path: &Path) -> anyhow::Result<Manifest> {
        let text = std::fs::read(path).with_context(|| format!("read {}", path.display()))?;
        serde_json::from_slice(&text).with_context(|| format!("parse {}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manifest_as_the_server_writes_it_is_read() {
        let json = r#"{"password":"traffic-password-0",
            "users":[{"id":"01890a5d-ac96-774b-bcce-b302099a8057","username":"load000000","token":"abc"},
                     {"id":"01890a5d-ac96-774b-bcce-b302099a8058","username":"load000001","token":null}],
            "rooms":{"01890a5d-ac96-774b-bcce-b302099a8059":"team"},
            "counts":{"users":2}}"#;
        let m: Manifest = serde_json::from_str(json).unwrap();
        assert_eq!(m.users.len(), 2);
        assert_eq!(m.users[0].token.as_deref(), Some("abc"));
        assert!(m.users[1].token.is_none());
        assert_eq!(m.rooms.values().next(), Some(&RoomClass::Team));
        assert_eq!(m.counts["users"], 2);
    }
}
