//! A team: users who are all friends with each other and share a group room.

use uuid::Uuid;

use crate::client::{Api, TestUser, create_room};

/// `N` registered users, each logged in, all friends with each other, in one group room that
/// the first of them owns.
pub struct Team<const N: usize> {
    /// The users, in the order their names were given.
    pub users: [TestUser; N],
    /// The team's group room.
    pub room: Uuid,
}

impl Api {
    /// Registers `usernames` (see [`Api::register`]), makes every two of them friends (the
    /// earlier one asks, the later one accepts) and has the first create the group room `room`
    /// with the others.
    ///
    /// ```ignore
    /// let Team { users: [ann, bob], room } = app.team("Ops", ["ann", "bob"]).await;
    /// ```
    pub async fn team<const N: usize>(&self, room: &str, usernames: [&str; N]) -> Team<N> {
        let mut users = Vec::with_capacity(N);
        for name in usernames {
            users.push(self.register(name).await);
        }
        for (i, a) in users.iter().enumerate() {
            for b in &users[i + 1..] {
                self.befriend(a, b).await;
            }
        }
        let room = match users.split_first() {
            Some((owner, members)) => {
                create_room(owner, room, &members.iter().collect::<Vec<_>>()).await
            }
            None => panic!("a team needs at least one user"),
        };
        let users: [TestUser; N] = users
            .try_into()
            .unwrap_or_else(|_| unreachable!("one user per name"));
        Team { users, room }
    }
}
