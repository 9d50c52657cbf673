//! Answers from an Ollama server (`/api/chat`, streaming) through ollama-rs: the appliance
//! default. Temperature 0 and a fixed seed keep answers repeatable; `num_predict` bounds them.

use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use ollama_rs::Ollama;
use ollama_rs::generation::chat::ChatMessage;
use ollama_rs::generation::chat::request::ChatMessageRequest;
use ollama_rs::models::ModelOptions;
use tokio::sync::mpsc;

use super::{stream_answer, system_prompt, user_prompt};
use crate::models::{ollama_client, ollama_error};
use crate::{GenerateRequest, Generator, ModelError};

/// Longest passage text sent, in characters (Ollama models have large contexts; this keeps a
/// prompt of a handful of passages well inside the usual 2,048-4,096 token defaults).
const MAX_PASSAGE_CHARS: usize = 2_000;
const MAX_QUESTION_CHARS: usize = 2_000;

/// A chat model served by Ollama.
pub struct OllamaGenerator {
    client: Ollama,
    model: String,
    name: String,
    timeout: Duration,
}

impl OllamaGenerator {
    /// A client for `model` at `url` (nothing is contacted yet); a whole answer must arrive
    /// within `timeout`.
    pub fn new(url: &str, model: &str, timeout: Duration) -> Result<OllamaGenerator, ModelError> {
        Ok(OllamaGenerator {
            client: ollama_client(url, timeout)?,
            model: model.to_string(),
            name: format!("ollama:{model}"),
            timeout,
        })
    }
}

fn cut(text: &str, chars: usize) -> String {
    match text.char_indices().nth(chars) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

#[async_trait]
impl Generator for OllamaGenerator {
    fn name(&self) -> &str {
        &self.name
    }

    async fn generate(
        &self,
        request: &GenerateRequest,
        deltas: mpsc::Sender<String>,
    ) -> Result<String, ModelError> {
        request.check()?;
        let mut request = request.clone();
        request.question = cut(&request.question, MAX_QUESTION_CHARS);
        let messages = vec![
            ChatMessage::system(system_prompt(&request)),
            ChatMessage::user(user_prompt(&request, &|t| cut(t, MAX_PASSAGE_CHARS))),
        ];
        let num_predict = i32::try_from(request.max_tokens).unwrap_or(i32::MAX);
        let chat = ChatMessageRequest::new(self.model.clone(), messages).options(
            ModelOptions::default()
                .temperature(0.0)
                .seed(42)
                .num_predict(num_predict),
        );
        let client = &self.client;
        let model = &self.model;
        stream_answer(deltas, self.timeout, move |mut answer| async move {
            let mut stream = client
                .send_chat_messages_stream(chat)
                .await
                .map_err(|e| ollama_error(model, e))?;
            while let Some(item) = stream.next().await {
                let response = item.map_err(|()| {
                    ModelError::Unreachable("ollama: the answer stream broke off".into())
                })?;
                answer.push(&response.message.content);
                if response.done {
                    return Ok(answer.finish());
                }
            }
            Err(ModelError::Unreachable(
                "ollama: the answer stream ended before it was done".into(),
            ))
        })
        .await
    }
}
