//! Plain-text helpers the answer code shares: sentence splitting and the content terms of a
//! text (stop words dropped, simple stemming), for matching questions and passages word by word.

/// Words too common to say anything about a match.
pub const STOP_WORDS: &[&str] = &[
    "a", "about", "after", "all", "also", "am", "an", "and", "any", "are", "as", "at", "be",
    "been", "before", "but", "by", "can", "could", "did", "do", "does", "for", "from", "had",
    "has", "have", "he", "her", "here", "him", "his", "how", "i", "if", "in", "into", "is", "it",
    "its", "just", "me", "my", "no", "not", "of", "on", "or", "our", "she", "so", "some", "than",
    "that", "the", "their", "them", "then", "there", "these", "they", "this", "to", "us", "was",
    "we", "were", "what", "when", "where", "which", "who", "whom", "why", "will", "with", "would",
    "you", "your", "tell", "know", "please", "anyone", "someone",
];

/// A word reduced to a comparable form: lowercase, a plural or verb ending taken off.
pub fn stem(word: &str) -> String {
    let w = word.to_lowercase();
    for suffix in ["ing", "ed", "es", "s"] {
        if w.len() > suffix.len() + 2 && w.ends_with(suffix) {
            return w[..w.len() - suffix.len()].to_string();
        }
    }
    w
}

/// The meaningful terms of `text`.
pub fn terms(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .filter(|w| !STOP_WORDS.contains(&w.to_lowercase().as_str()))
        .map(stem)
        .collect()
}

/// Splits `text` into sentences at `.`, `!`, `?` followed by a space, and at line breaks.
pub fn sentences(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let mut start = 0;
        let chars: Vec<(usize, char)> = line.char_indices().collect();
        for (i, &(at, c)) in chars.iter().enumerate() {
            let end_of_sentence = matches!(c, '.' | '!' | '?')
                && chars
                    .get(i + 1)
                    .is_none_or(|&(_, next)| next.is_whitespace());
            if end_of_sentence {
                let end = at + c.len_utf8();
                out.push(line[start..end].to_string());
                start = end;
            }
        }
        out.push(line[start..].to_string());
    }
    out.into_iter()
        .map(|s| s.trim().to_string())
        .filter(|s| s.chars().any(char::is_alphanumeric))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_split_at_ends_and_lines_but_not_inside_numbers() {
        assert_eq!(
            sentences("Version 2.1 ships Friday. Who tests it?\nBob does"),
            vec!["Version 2.1 ships Friday.", "Who tests it?", "Bob does"]
        );
    }

    #[test]
    fn terms_drop_stop_words_and_endings() {
        assert_eq!(
            terms("Who is testing the releases?"),
            vec!["test", "releas"]
        );
    }
}
