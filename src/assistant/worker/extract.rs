//! Task extraction: proposals from selected messages, by rules, each field citing its message.

use std::collections::HashMap;

use uuid::Uuid;

use super::{Outcome, Worker, jobs::JobError, message_citation};
use crate::{
    assistant::{ModelError, extract},
    store::{
        self,
        assistant::{Citation, RequestRow},
    },
};

impl Worker {
    pub(super) async fn extract(&self, row: &RequestRow) -> Result<Outcome, JobError> {
        let Some(room) = row.room_id else {
            return Err(ModelError::Input("task extraction needs a room".into()).into());
        };
        let messages =
            store::assistant::source_messages(&self.state.db, row.user_id, room, &row.message_ids)
                .await?;
        let mut members = HashMap::new();
        for name in extract::mentions(&messages) {
            if let Some(user) =
                store::assistant::member_by_username(&self.state.db, row.user_id, room, &name)
                    .await?
            {
                members.insert(name, user);
            }
        }
        let proposals = extract::extract(&messages, &members);
        let mut cited: Vec<Uuid> = proposals
            .iter()
            .flat_map(|p| [p.title.cite, p.assignee.cite, p.due.cite])
            .flatten()
            .collect();
        cited.dedup();
        let citations: Vec<Citation> = messages
            .iter()
            .filter(|m| cited.contains(&m.id))
            .enumerate()
            .map(|(i, m)| message_citation(i + 1, m))
            .collect();
        let answer = if proposals.is_empty() {
            "No tasks found in these messages.".to_owned()
        } else {
            proposals
                .iter()
                .map(|p| format!("{}. {}", p.n, p.title.value))
                .collect::<Vec<_>>()
                .join("\n")
        };
        Ok(Outcome {
            answer,
            citations,
            proposals: Some(proposals),
            model: "rules".into(),
        })
    }
}
