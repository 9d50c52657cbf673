//! SmolLM2-135M-Instruct (Q4_1 GGUF) run in-process through candle's quantized llama.
//!
//! The tokenizer is rebuilt from the GGUF metadata (`tokenizer.ggml.tokens`/`merges`): a
//! byte-level BPE with SmolLM2's pre-tokenizer (single digits, then GPT-2 byte level) and its
//! control tokens (`<|im_start|>`, `<|im_end|>`, ...) as special tokens. The prompt uses the
//! ChatML template the model was tuned on; decoding is greedy with a mild repetition penalty
//! (deterministic), stops at `<|im_end|>`/EOS, after `max_tokens`, or at the timeout, and every
//! decoded piece is streamed as soon as it forms whole UTF-8 characters.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use candle_core::quantized::{GgmlDType, QTensor, gguf_file};
use candle_core::{Device, Tensor};
use candle_transformers::generation::{LogitsProcessor, Sampling};
use candle_transformers::models::quantized_llama::ModelWeights;
use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::models::bpe::{BPE, Vocab};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::{AddedToken, Tokenizer};
use tokio::sync::{Mutex, mpsc};

use super::{AnswerStream, CancelOnDrop, stream_answer, system_prompt, user_prompt};
use crate::{GenerateRequest, Generator, ModelError};

/// Most prompt tokens used, whatever the model's context: prompt processing dominates the
/// answer time on 2 cores, and five short passages fit easily.
pub const MAX_PROMPT_TOKENS: usize = 1536;
/// Most tokens of one passage in the prompt (longer ones are cut).
pub const MAX_PASSAGE_TOKENS: usize = 256;
/// Fewest tokens a passage gets; passages beyond what fits at this length are left out.
const MIN_PASSAGE_TOKENS: usize = 40;
/// Most tokens of the question in the prompt.
pub const MAX_QUESTION_TOKENS: usize = 200;
/// Tokens kept free because pieces tokenised apart can join into a few more tokens.
const PROMPT_MARGIN: usize = 32;
const REPEAT_PENALTY: f32 = 1.1;
const REPEAT_LAST_N: usize = 64;

/// The embedded GGUF chat model. Loaded once; one answer at a time.
pub struct LocalGenerator {
    name: String,
    model: Arc<Mutex<ModelWeights>>,
    tokenizer: Arc<Tokenizer>,
    stop: Vec<u32>,
    context: usize,
    timeout: Duration,
}

fn load_err(path: &Path, e: impl std::fmt::Display) -> ModelError {
    ModelError::Load(format!("{}: {e}", path.display()))
}

fn strings(ct: &gguf_file::Content, key: &str) -> Result<Vec<String>, String> {
    let value = ct
        .metadata
        .get(key)
        .ok_or_else(|| format!("no {key} in the GGUF metadata"))?;
    let items = value.to_vec().map_err(|e| format!("{key}: {e}"))?;
    items
        .iter()
        .map(|v| v.to_string().cloned().map_err(|e| format!("{key}: {e}")))
        .collect()
}

/// Builds the model's tokenizer from the GGUF metadata (see the module comment).
fn tokenizer_from_gguf(ct: &gguf_file::Content) -> Result<Tokenizer, String> {
    let model = ct
        .metadata
        .get("tokenizer.ggml.model")
        .and_then(|v| v.to_string().ok())
        .map(String::as_str);
    if model != Some("gpt2") {
        return Err(format!(
            "tokenizer.ggml.model is {model:?}; only byte-level BPE (gpt2) is supported"
        ));
    }
    let tokens = strings(ct, "tokenizer.ggml.tokens")?;
    let merges = strings(ct, "tokenizer.ggml.merges")?
        .into_iter()
        .map(|m| {
            m.split_once(' ')
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .ok_or_else(|| format!("bad merge {m:?}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let vocab: Vocab = tokens
        .iter()
        .enumerate()
        .map(|(id, t)| (t.clone(), id as u32))
        .collect();
    let bpe = BPE::builder()
        .vocab_and_merges(vocab, merges)
        .build()
        .map_err(|e| format!("BPE: {e}"))?;
    let mut tokenizer = Tokenizer::new(bpe);
    tokenizer.with_pre_tokenizer(Some(Sequence::new(vec![
        Digits::new(true).into(),
        ByteLevel::new(false, true, true).into(),
    ])));
    tokenizer.with_decoder(Some(ByteLevelDecoder::default()));
    // Control tokens (type 3) are matched whole, never split into bytes.
    let types = ct
        .metadata
        .get("tokenizer.ggml.token_type")
        .and_then(|v| v.to_vec().ok())
        .map(|v| {
            v.iter()
                .map(|t| t.to_i32().unwrap_or(1))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    let special: Vec<AddedToken> = tokens
        .iter()
        .zip(&types)
        .filter(|(_, t)| **t == 3)
        .map(|(token, _)| AddedToken::from(token.clone(), true))
        .collect();
    tokenizer.add_special_tokens(&special);
    Ok(tokenizer)
}

/// The model with every weight matrix expanded to f32 (about 540 MB for SmolLM2-135M).
///
/// candle's CPU kernels for quantized matrices process a prompt hardly faster than one token at
/// a time (measured here: 270 prompt tokens in 6.4 s), while f32 weights go through the blocked
/// GEMM (0.9 s). Decoding is somewhat slower in f32 (18 against 28 tokens/s), but the prompt is
/// the larger part of an answer and the first words arrive in about a second instead of many.
/// candle offers this only through a process-wide environment variable, so the GGUF is rewritten
/// in memory with f32 tensors instead.
fn dequantized(
    content: gguf_file::Content,
    file: &mut std::fs::File,
) -> candle_core::Result<ModelWeights> {
    let device = Device::Cpu;
    let mut names: Vec<String> = content.tensor_infos.keys().cloned().collect();
    names.sort();
    let mut tensors = Vec::with_capacity(names.len());
    for name in names {
        let tensor = content.tensor(file, &name, &device)?;
        let expanded = QTensor::quantize(&tensor.dequantize(&device)?, GgmlDType::F32)?;
        tensors.push((name, expanded));
    }
    let mut buffer = std::io::Cursor::new(Vec::new());
    {
        let metadata: Vec<(&str, &gguf_file::Value)> = content
            .metadata
            .iter()
            .map(|(k, v)| (k.as_str(), v))
            .collect();
        let tensors: Vec<(&str, &QTensor)> = tensors.iter().map(|(n, t)| (n.as_str(), t)).collect();
        gguf_file::write(&mut buffer, &metadata, &tensors)?;
    }
    drop(tensors);
    buffer.set_position(0);
    let expanded = gguf_file::Content::read(&mut buffer)?;
    ModelWeights::from_gguf(expanded, &mut buffer, &device)
}

/// How the weights are held in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Weights {
    /// Expanded to f32 at load (the default): fast prompts, ~540 MB.
    F32,
    /// As stored in the GGUF (Q4_1, ~100 MB): slow prompts, somewhat faster decoding.
    Quantized,
}

impl LocalGenerator {
    /// Loads the GGUF file at `path` with f32 weights; the generator is named
    /// `local:<file stem>`.
    pub fn load(path: &Path, timeout: Duration) -> Result<LocalGenerator, ModelError> {
        LocalGenerator::load_with(path, timeout, Weights::F32)
    }

    /// Loads the GGUF file at `path`, holding the weights as `weights` says.
    pub fn load_with(
        path: &Path,
        timeout: Duration,
        weights: Weights,
    ) -> Result<LocalGenerator, ModelError> {
        if !path.is_file() {
            return Err(ModelError::NotAvailable(format!(
                "generation model file {} is missing; run scripts/fetch-models.sh or set \
                 assistant.models_dir / assistant.generate_model",
                path.display()
            )));
        }
        let mut file = std::fs::File::open(path).map_err(|e| load_err(path, e))?;
        let content = gguf_file::Content::read(&mut file).map_err(|e| load_err(path, e))?;
        let tokenizer = tokenizer_from_gguf(&content).map_err(|e| load_err(path, e))?;
        let meta_u32 = |key: &str| {
            content
                .metadata
                .get(key)
                .and_then(|v| v.to_u32().ok())
                .map(|v| v as usize)
        };
        let context = meta_u32("llama.context_length").unwrap_or(2048);
        let mut stop: Vec<u32> = ["<|im_end|>", "<|endoftext|>"]
            .iter()
            .filter_map(|t| tokenizer.token_to_id(t))
            .collect();
        if let Some(eos) = meta_u32("tokenizer.ggml.eos_token_id") {
            stop.push(eos as u32);
        }
        if !stop
            .iter()
            .any(|&id| Some(id) == tokenizer.token_to_id("<|im_end|>"))
        {
            return Err(load_err(
                path,
                "no <|im_end|> token: not a ChatML instruct model",
            ));
        }
        let model = match weights {
            Weights::F32 => dequantized(content, &mut file),
            Weights::Quantized => ModelWeights::from_gguf(content, &mut file, &Device::Cpu),
        }
        .map_err(|e| load_err(path, e))?;
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "gguf".into());
        Ok(LocalGenerator {
            name: format!("local:{stem}"),
            model: Arc::new(Mutex::new(model)),
            tokenizer: Arc::new(tokenizer),
            stop,
            context,
            timeout,
        })
    }

    /// The full ChatML prompt for `request`, within [`MAX_PROMPT_TOKENS`]: the question is cut
    /// to [`MAX_QUESTION_TOKENS`], each passage to a fair share of what is left (at most
    /// [`MAX_PASSAGE_TOKENS`]), and the last (least relevant) passages are left out when even
    /// short shares do not fit.
    pub fn prompt(&self, request: &GenerateRequest) -> String {
        let budget = MAX_PROMPT_TOKENS
            .min(self.context / 2)
            .saturating_sub(PROMPT_MARGIN);
        let mut fitted = request.clone();
        fitted.question = self.cut(&request.question, MAX_QUESTION_TOKENS);
        fitted.passages.clear();
        let fixed = self.tokens(&self.chatml(&fitted));
        let mut left = budget.saturating_sub(fixed);
        let mut count = request.passages.len();
        while count > 1 && left / count < MIN_PASSAGE_TOKENS {
            count -= 1;
        }
        for (i, passage) in request.passages.iter().take(count).enumerate() {
            let share = (left / (count - i)).min(MAX_PASSAGE_TOKENS);
            let header = self.tokens(&format!("[{}] {}: \n", passage.n, passage.label.trim()));
            if header + 4 > share {
                break;
            }
            let mut passage = passage.clone();
            passage.text = self.cut(passage.text.trim(), share - header);
            let used = header + self.tokens(&passage.text);
            left = left.saturating_sub(used);
            fitted.passages.push(passage);
        }
        self.chatml(&fitted)
    }

    /// The ChatML conversation for `request` as it stands. Text from the chats must not open
    /// or close a turn of its own, so `<|` is defused in it.
    fn chatml(&self, request: &GenerateRequest) -> String {
        let user = user_prompt(request, &|text| text.to_string());
        format!(
            "<|im_start|>system\n{}<|im_end|>\n<|im_start|>user\n{}<|im_end|>\n<|im_start|>assistant\n",
            system_prompt(request).replace("<|", "<"),
            user.replace("<|", "<")
        )
    }

    /// Tokens in `text` (a rough length when it cannot be tokenised).
    fn tokens(&self, text: &str) -> usize {
        self.tokenizer
            .encode_fast(text, false)
            .map(|e| e.get_ids().len())
            .unwrap_or(text.len() / 3)
    }

    /// `text` cut to at most `tokens` tokens (at a token boundary, marked with `…`).
    fn cut(&self, text: &str, tokens: usize) -> String {
        let Ok(encoding) = self.tokenizer.encode_fast(text, false) else {
            return text.chars().take(tokens * 3).collect();
        };
        let ids = encoding.get_ids();
        if ids.len() <= tokens {
            return text.to_string();
        }
        match self.tokenizer.decode(&ids[..tokens], true) {
            Ok(cut) => format!("{}…", cut.trim_end()),
            Err(_) => text.chars().take(tokens * 3).collect(),
        }
    }

    /// Number of tokens `text` encodes to (special tokens recognised).
    pub fn count_tokens(&self, text: &str) -> Result<usize, ModelError> {
        self.tokenizer
            .encode_fast(text, false)
            .map(|e| e.get_ids().len())
            .map_err(|e| ModelError::Inference(format!("tokenizer: {e}")))
    }
}

/// What one blocking generation needs.
struct Job {
    tokenizer: Arc<Tokenizer>,
    stop: Vec<u32>,
    prompt: String,
    max_tokens: usize,
    context: usize,
    deadline: Instant,
    cancelled: Arc<AtomicBool>,
}

impl Job {
    fn run(self, model: &mut ModelWeights, stream: &mut AnswerStream) -> Result<(), ModelError> {
        let inference = |e: candle_core::Error| ModelError::Inference(e.to_string());
        let prompt = self
            .tokenizer
            .encode_fast(self.prompt.as_str(), false)
            .map_err(|e| ModelError::Inference(format!("tokenizer: {e}")))?;
        let prompt = prompt.get_ids().to_vec();
        let max_tokens = self
            .max_tokens
            .min(self.context.saturating_sub(prompt.len()));
        let mut sampler = LogitsProcessor::from_sampling(0, Sampling::ArgMax);
        let mut decoder = self.tokenizer.decode_stream(true);
        let mut generated: Vec<u32> = Vec::with_capacity(max_tokens);
        let input = Tensor::new(prompt.as_slice(), &Device::Cpu)
            .and_then(|t| t.unsqueeze(0))
            .map_err(inference)?;
        let mut logits = model
            .forward(&input, 0)
            .and_then(|l| l.squeeze(0))
            .map_err(inference)?;
        for step in 0..max_tokens {
            if self.cancelled.load(Ordering::Relaxed) || Instant::now() >= self.deadline {
                return Err(ModelError::Timeout);
            }
            let recent = &generated[generated.len().saturating_sub(REPEAT_LAST_N)..];
            let penalised =
                candle_transformers::utils::apply_repeat_penalty(&logits, REPEAT_PENALTY, recent)
                    .map_err(inference)?;
            let next = sampler.sample(&penalised).map_err(inference)?;
            if self.stop.contains(&next) {
                break;
            }
            generated.push(next);
            let piece = decoder
                .step(next)
                .map_err(|e| ModelError::Inference(format!("decode: {e}")))?;
            if let Some(piece) = piece {
                stream.push(&piece);
            }
            if step + 1 == max_tokens {
                break;
            }
            let input = Tensor::new(&[next], &Device::Cpu)
                .and_then(|t| t.unsqueeze(0))
                .map_err(inference)?;
            logits = model
                .forward(&input, prompt.len() + step)
                .and_then(|l| l.squeeze(0))
                .map_err(inference)?;
        }
        Ok(())
    }
}

#[async_trait]
impl Generator for LocalGenerator {
    fn name(&self) -> &str {
        &self.name
    }

    async fn generate(
        &self,
        request: &GenerateRequest,
        deltas: mpsc::Sender<String>,
    ) -> Result<String, ModelError> {
        request.check()?;
        let cancelled = Arc::new(AtomicBool::new(false));
        let job = Job {
            tokenizer: Arc::clone(&self.tokenizer),
            stop: self.stop.clone(),
            prompt: self.prompt(request),
            max_tokens: request.max_tokens,
            context: self.context,
            deadline: Instant::now() + self.timeout,
            cancelled: Arc::clone(&cancelled),
        };
        let model = Arc::clone(&self.model);
        stream_answer(deltas, self.timeout, move |mut stream| async move {
            let _cancel = CancelOnDrop(cancelled);
            let mut model = model.lock_owned().await;
            tokio::task::spawn_blocking(move || {
                let result = job.run(&mut model, &mut stream);
                model.clear_kv_cache();
                result.map(|()| stream.finish())
            })
            .await
            .map_err(|e| ModelError::Inference(format!("generation task failed: {e}")))?
        })
        .await
    }
}
