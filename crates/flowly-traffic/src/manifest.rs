//! The manifest: what `flowly dev seed` tells generator processes about the dataset it wrote
//! (who the users are, how each gets in, which room is of which class). A JSON file is the whole
//! interface between the two: the server writes it, `flowly-traffic run` reads it.

pub use flowly_dataset::{Manifest, RoomClass, SeededUser};

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
