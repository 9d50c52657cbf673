//! The [`Generator`](crate::Generator) backends: Ollama ([`OllamaGenerator`], the
//! appliance default), the embedded SmolLM2 GGUF model ([`LocalGenerator`]), and, with no
//! language model, [`ExtractiveGenerator`]. This module holds what they share: the prompt and
//! the streaming of pieces to the caller.

mod extractive;
mod local;
mod ollama;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::mpsc;

pub use extractive::ExtractiveGenerator;
pub use local::{LocalGenerator, MAX_PROMPT_TOKENS, Weights};
pub use ollama::OllamaGenerator;

use crate::{GenerateRequest, ModelError};

/// The system message: the caller's instruction plus the rules for sources and citations.
pub(crate) fn system_prompt(request: &GenerateRequest) -> String {
    let instruction = request.instruction.trim();
    let instruction = if instruction.is_empty() {
        "Answer the question."
    } else {
        instruction
    };
    format!(
        "You are Flowly's assistant. {instruction} Use only the numbered passages from the \
         team's chats and tasks. After each sentence, cite the passage it comes from as [n]. If \
         the passages do not contain the answer, say so. Be brief."
    )
}

/// The user message: numbered passages `[n] label: text`, each passed through `fit` (which
/// shortens it to the backend's budget), then the question.
pub(crate) fn user_prompt(request: &GenerateRequest, fit: &dyn Fn(&str) -> String) -> String {
    let mut prompt = String::from("Passages:\n");
    for passage in &request.passages {
        let text = fit(passage.text.trim());
        let label = passage.label.trim();
        if label.is_empty() {
            prompt.push_str(&format!("[{}] {}\n", passage.n, text));
        } else {
            prompt.push_str(&format!("[{}] {}: {}\n", passage.n, label, text));
        }
    }
    prompt.push_str("\nQuestion: ");
    prompt.push_str(request.question.trim());
    prompt.push_str("\n\nAnswer in one to three sentences, citing the passages you used like [1].");
    prompt
}

/// Collects an answer piece by piece and hands each piece on as soon as it is known, so that
/// the concatenated pieces always equal the final answer: leading whitespace is dropped and
/// trailing whitespace held back until more text follows it.
pub(crate) struct AnswerStream {
    answer: String,
    pending: String,
    tx: mpsc::UnboundedSender<String>,
}

impl AnswerStream {
    pub(crate) fn new(tx: mpsc::UnboundedSender<String>) -> AnswerStream {
        AnswerStream {
            answer: String::new(),
            pending: String::new(),
            tx,
        }
    }

    /// Adds a piece of the answer.
    pub(crate) fn push(&mut self, piece: &str) {
        let piece = if self.answer.is_empty() {
            piece.trim_start()
        } else {
            piece
        };
        let content = piece.trim_end();
        if content.is_empty() {
            if !self.answer.is_empty() {
                self.pending.push_str(piece);
            }
            return;
        }
        let mut out = std::mem::take(&mut self.pending);
        out.push_str(content);
        self.pending.push_str(&piece[content.len()..]);
        self.answer.push_str(&out);
        // A closed receiver is fine: the answer is still completed and returned.
        let _ = self.tx.send(out);
    }

    pub(crate) fn finish(self) -> String {
        self.answer
    }
}

/// Sets the flag when dropped: tells blocking work that its caller gave up (timed out).
pub(crate) struct CancelOnDrop(pub(crate) Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Runs `work` (which writes its pieces into the [`AnswerStream`] it is given) while forwarding
/// every piece to `deltas` in order, all within `timeout`. Returns once the answer is complete
/// and every piece has been handed to `deltas`, so the caller must read `deltas` concurrently
/// (or drop the receiver).
pub(crate) async fn stream_answer<F, Fut>(
    deltas: mpsc::Sender<String>,
    timeout: Duration,
    work: F,
) -> Result<String, ModelError>
where
    F: FnOnce(AnswerStream) -> Fut,
    Fut: std::future::Future<Output = Result<String, ModelError>>,
{
    let (tx, mut rx) = mpsc::unbounded_channel::<String>();
    let forward = async move {
        let mut open = true;
        while let Some(piece) = rx.recv().await {
            if open && deltas.send(piece).await.is_err() {
                open = false;
            }
        }
    };
    let both = async move {
        let (result, ()) = tokio::join!(work(AnswerStream::new(tx)), forward);
        result
    };
    tokio::time::timeout(timeout, both)
        .await
        .map_err(|_| ModelError::Timeout)?
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{GenerateKind, Passage};

    #[test]
    fn pieces_concatenate_to_the_trimmed_answer() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let mut stream = AnswerStream::new(tx);
        for piece in ["  \n", " The", " deploy", " ", "\n", "failed", ".", " \n "] {
            stream.push(piece);
        }
        let answer = stream.finish();
        let mut joined = String::new();
        while let Ok(piece) = rx.try_recv() {
            joined.push_str(&piece);
        }
        assert_eq!(answer, "The deploy \nfailed.");
        assert_eq!(joined, answer);
    }

    #[test]
    fn the_prompt_numbers_passages_and_ends_with_the_question() {
        let request = GenerateRequest {
            kind: GenerateKind::Answer,
            instruction: "Answer the question.".into(),
            question: " When is the release? ".into(),
            passages: vec![
                Passage {
                    n: 1,
                    label: "#general · alice".into(),
                    text: "The release is on Friday.".into(),
                },
                Passage {
                    n: 2,
                    label: String::new(),
                    text: "Lunch at noon.".into(),
                },
            ],
            max_tokens: 64,
        };
        let prompt = user_prompt(&request, &|t| t.to_string());
        assert_eq!(
            prompt,
            "Passages:\n[1] #general · alice: The release is on Friday.\n[2] Lunch at noon.\n\n\
             Question: When is the release?\n\n\
             Answer in one to three sentences, citing the passages you used like [1]."
        );
        assert!(system_prompt(&request).contains("[n]"));
    }
}
