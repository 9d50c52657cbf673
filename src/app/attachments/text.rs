//! The text of an uploaded file, for the assistant's index: text files as they are (UTF-8, bad
//! bytes replaced), PDFs by their text layer (`pdf-extract`). A file that yields no text (a scan,
//! a broken or encrypted PDF) is still stored; it is only not searchable.

use std::path::Path;

/// Media types whose bytes are text.
const TEXT_TYPES: &[&str] = &[
    "text/plain",
    "text/markdown",
    "text/csv",
    "application/json",
];

/// Whether files of `content_type` (a media type's essence) have text the assistant can index.
pub fn has_text(content_type: &str) -> bool {
    content_type == "application/pdf" || TEXT_TYPES.contains(&content_type)
}

/// The text of the file at `path`, whitespace tidied and cut to `max_chars` characters; `None`
/// when the type holds no text or the file yields none. Blocking: run it off the async threads.
/// A PDF the reader chokes on (it panics on some malformed files) yields `None`.
pub fn extract(
    path: &Path,
    content_type: &str,
    max_chars: usize,
) -> std::io::Result<Option<String>> {
    if max_chars == 0 || !has_text(content_type) {
        return Ok(None);
    }
    let bytes = std::fs::read(path)?;
    let raw = if content_type == "application/pdf" {
        match std::panic::catch_unwind(|| pdf_extract::extract_text_from_mem(&bytes)) {
            Ok(Ok(text)) => text,
            Ok(Err(e)) => {
                tracing::info!(error = %e, "a PDF without readable text");
                return Ok(None);
            }
            Err(_) => {
                tracing::warn!("the PDF reader failed on an upload; it is stored without its text");
                return Ok(None);
            }
        }
    } else {
        String::from_utf8_lossy(&bytes).into_owned()
    };
    let raw = match content_type {
        "application/pdf" => unwrap_lines(&raw),
        _ => raw,
    };
    let text = tidy(&raw, max_chars);
    Ok((!text.is_empty()).then_some(text))
}

/// PDF text comes with the page's line breaks inside sentences: a line that goes on in lower
/// case (or after a comma or a hyphen) joins the line before it.
fn unwrap_lines(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for line in raw.lines().map(str::trim) {
        let goes_on = line.starts_with(|c: char| c.is_lowercase())
            || out.ends_with(',')
            || out.ends_with('-');
        if !out.is_empty() && !out.ends_with('\n') && !line.is_empty() && goes_on {
            out.push(' ');
        } else if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(line);
    }
    out
}

/// Spaces and tabs within a line collapsed, lines trimmed, at most one blank line between
/// paragraphs (PDF text comes with many), control characters dropped, at most `max_chars`.
fn tidy(raw: &str, max_chars: usize) -> String {
    let mut out = String::new();
    let mut blank = false;
    for line in raw.lines() {
        let line: String = line
            .split(|c: char| c.is_whitespace())
            .filter(|w| !w.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
            .chars()
            .filter(|c| !c.is_control())
            .collect();
        if line.is_empty() {
            blank = !out.is_empty();
            continue;
        }
        if !out.is_empty() {
            out.push_str(if blank { "\n\n" } else { "\n" });
        }
        blank = false;
        out.push_str(&line);
    }
    match out.char_indices().nth(max_chars) {
        Some((cut, _)) => out[..cut].trim_end().to_owned(),
        None => out,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_tidied_and_cut_at_a_character_boundary() {
        let raw = "  Budget\t2027  \r\n\n\n\nItem:  500 €\u{7}\n";
        assert_eq!(tidy(raw, 100), "Budget 2027\n\nItem: 500 €");
        assert_eq!(tidy(raw, 13), "Budget 2027");
        assert_eq!(tidy("ééé", 2), "éé");
        assert_eq!(tidy(" \n \n", 100), "");
    }

    #[test]
    fn wrapped_pdf_lines_join_but_headings_and_paragraphs_stay() {
        let raw = "Runbook\nThe billing service listens\non port 8443, and the\nqueue on 5672.\n\nDeploys are on Fridays.";
        assert_eq!(
            unwrap_lines(raw),
            "Runbook\nThe billing service listens on port 8443, and the queue on 5672.\n\nDeploys are on Fridays."
        );
    }

    #[test]
    fn only_text_and_pdf_types_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"Port 8443, not \xff 443.").unwrap();
        assert_eq!(
            extract(&path, "text/plain", 1000).unwrap().as_deref(),
            Some("Port 8443, not \u{fffd} 443.")
        );
        assert_eq!(extract(&path, "application/zip", 1000).unwrap(), None);
        assert_eq!(extract(&path, "text/plain", 0).unwrap(), None);
    }

    #[test]
    fn a_file_that_is_not_a_pdf_has_no_text_and_no_panic() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.pdf");
        for bytes in [
            &b"%PDF-1.5\n1 0 obj << /Type /Catalog"[..],
            b"",
            b"not a pdf",
        ] {
            std::fs::write(&path, bytes).unwrap();
            assert_eq!(extract(&path, "application/pdf", 1000).unwrap(), None);
        }
    }
}
