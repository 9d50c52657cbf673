//! Turning talk into tasks: a rule-based, deterministic extractor. Each proposal's fields cite
//! the message they came from: the title from an imperative, a request ("can you…", "please…",
//! "@ann will…"), a commitment ("I'll…") or a `todo:` line; the assignee from the `@user` it
//! names, the author of a commitment, or a reply taking it on; the due date from a date phrase
//! (`2026-12-01`, "today", "tomorrow", "by friday", "end of week", "next week") in the message or
//! a reply to it, relative to when it was written, checked by the task domain's due parsing.

use std::collections::HashMap;

use crate::{
    domain::{mentioned_usernames, tasks::parse_due},
    store::assistant::{Cited, Proposal, SourceMessage, UserRef},
};
use chrono::{Datelike, Duration, NaiveDate, Weekday};

/// Verbs that start an instruction.
const IMPERATIVES: &[&str] = &[
    "add",
    "book",
    "call",
    "check",
    "clean",
    "create",
    "deploy",
    "document",
    "draft",
    "email",
    "finish",
    "fix",
    "follow",
    "investigate",
    "merge",
    "migrate",
    "move",
    "order",
    "organise",
    "organize",
    "plan",
    "prepare",
    "publish",
    "refactor",
    "release",
    "remove",
    "renew",
    "reply",
    "review",
    "rewrite",
    "schedule",
    "send",
    "set",
    "ship",
    "submit",
    "test",
    "update",
    "upgrade",
    "write",
];

/// Openings of a request to someone; the rest is the task.
const REQUESTS: &[&str] = &[
    "can you ",
    "could you ",
    "would you ",
    "can someone ",
    "could someone ",
    "please ",
    "we need to ",
    "we should ",
    "need to ",
    "someone should ",
    "someone needs to ",
    "don't forget to ",
    "remember to ",
];

/// Openings of a commitment by the author.
const COMMITMENTS: &[&str] = &["i will ", "i'll ", "i can ", "let me "];

/// Replies that take a task on.
const TAKING_IT: &[&str] = &[
    "i'll take",
    "i will take",
    "i'll do",
    "i can do",
    "on it",
    "i'll handle",
    "mine",
];

/// Longest proposed title, in characters.
const MAX_TITLE_CHARS: usize = 200;

/// Proposals from `messages` (oldest first). `members` maps lower-case usernames of the room's
/// members to who they are.
pub fn extract(messages: &[SourceMessage], members: &HashMap<String, UserRef>) -> Vec<Proposal> {
    let mut out: Vec<Proposal> = Vec::new();
    for m in messages {
        for sentence in sentences(&m.body) {
            let Some((title, assignee)) = task_in(sentence, m, members) else {
                continue;
            };
            let Some(title) = clean_title(&title) else {
                continue;
            };
            if out
                .iter()
                .any(|p| p.title.value.eq_ignore_ascii_case(&title))
            {
                continue;
            }
            let mut proposal = Proposal {
                n: out.len() + 1,
                title: Cited {
                    value: title,
                    cite: Some(m.id),
                },
                assignee: Cited {
                    cite: assignee.as_ref().map(|_| m.id),
                    value: assignee,
                },
                due: match due_in(sentence, m.created_at.date_naive()) {
                    Some(d) => Cited {
                        value: Some(d),
                        cite: Some(m.id),
                    },
                    None => Cited {
                        value: None,
                        cite: None,
                    },
                },
                accepted_task: None,
            };
            for reply in messages.iter().filter(|r| r.reply_to == Some(m.id)) {
                let lower = reply.body.to_lowercase();
                if proposal.due.value.is_none()
                    && let Some(d) = due_in(&reply.body, reply.created_at.date_naive())
                {
                    proposal.due = Cited {
                        value: Some(d),
                        cite: Some(reply.id),
                    };
                }
                if proposal.assignee.value.is_none()
                    && TAKING_IT.iter().any(|t| lower.contains(t))
                    && let Some(who) = author_of(reply)
                {
                    proposal.assignee = Cited {
                        value: Some(who),
                        cite: Some(reply.id),
                    };
                }
            }
            out.push(proposal);
        }
    }
    out
}

fn author_of(m: &SourceMessage) -> Option<UserRef> {
    Some(UserRef {
        id: m.author_id?,
        username: m.author.clone()?,
    })
}

/// Sentences and lines of a message.
fn sentences(body: &str) -> impl Iterator<Item = &str> {
    body.split(['\n', '.', '!', ';'])
        .flat_map(|s| s.split_inclusive('?'))
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// Strips a leading `prefix` (case-insensitive), returning the rest.
fn after<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

/// The task a sentence asks for, and who should do it.
fn task_in(
    sentence: &str,
    m: &SourceMessage,
    members: &HashMap<String, UserRef>,
) -> Option<(String, Option<UserRef>)> {
    let named = || {
        mentioned_usernames(sentence)
            .into_iter()
            .find_map(|u| members.get(&u).cloned())
    };
    for todo in ["todo:", "todo ", "to do:", "action:", "action item:"] {
        if let Some(rest) = after(sentence, todo) {
            return Some((rest.to_owned(), named()));
        }
    }
    // "@ann will …", "@ann please …", "@ann can you …"
    if let Some(rest) = sentence.strip_prefix('@') {
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
            .collect();
        let rest = rest[name.len()..].trim_start_matches([',', ':', ' ']);
        let who = members.get(&name.to_ascii_lowercase()).cloned();
        for verb in [
            "will ",
            "please ",
            "can you ",
            "could you ",
            "would you ",
            "should ",
            "to ",
        ] {
            if let Some(task) = after(rest, verb) {
                return Some((task.to_owned(), who));
            }
        }
        if who.is_some() && starts_with_imperative(rest) {
            return Some((rest.to_owned(), who));
        }
        return None;
    }
    for request in REQUESTS {
        if let Some(rest) = after(sentence, request) {
            return Some((rest.to_owned(), named()));
        }
    }
    for commitment in COMMITMENTS {
        if let Some(rest) = after(sentence, commitment) {
            return Some((rest.to_owned(), author_of(m)));
        }
    }
    if starts_with_imperative(sentence) {
        return Some((sentence.to_owned(), named()));
    }
    None
}

fn starts_with_imperative(text: &str) -> bool {
    let first = text
        .split_whitespace()
        .next()
        .unwrap_or("")
        .trim_matches(|c: char| !c.is_alphanumeric())
        .to_lowercase();
    IMPERATIVES.contains(&first.as_str())
}

/// Phrases that say when, cut from the end of a title.
const DUE_TAILS: &[&str] = &[
    " by ",
    " before ",
    " until ",
    " due ",
    " on monday",
    " on tuesday",
    " on wednesday",
    " on thursday",
    " on friday",
    " on saturday",
    " on sunday",
    " today",
    " tomorrow",
    " this week",
    " next week",
    " end of week",
    " eow",
];

/// A title from a task phrase: no trailing when-phrase, `@`-mentions or punctuation,
/// capitalised, at most [`MAX_TITLE_CHARS`].
fn clean_title(raw: &str) -> Option<String> {
    let mut title = raw.trim().trim_end_matches(['?', '.', '!', ',']).to_owned();
    let lower = title.to_lowercase();
    if let Some(cut) = DUE_TAILS.iter().filter_map(|t| lower.find(t)).min() {
        title.truncate(cut);
    }
    let title = title
        .split_whitespace()
        .filter(|w| !w.starts_with('@'))
        .collect::<Vec<_>>()
        .join(" ");
    let title = title.trim_end_matches([',', ' ']).trim_start_matches("to ");
    if title.chars().count() < 3 {
        return None;
    }
    let mut chars = title.chars();
    let first = chars.next()?;
    let title: String = first
        .to_uppercase()
        .chain(chars)
        .take(MAX_TITLE_CHARS)
        .collect();
    Some(title)
}

/// The due date a text names, relative to `written` (the day the message was sent).
pub fn due_in(text: &str, written: NaiveDate) -> Option<String> {
    let lower = text.to_lowercase();
    for word in lower.split(|c: char| c.is_whitespace() || matches!(c, ',' | '(' | ')')) {
        let word = word.trim_end_matches(['.', '!', '?', ';', ':']);
        if word.len() == 10
            && let Ok(date) = parse_due(word)
        {
            return Some(date.to_string());
        }
    }
    let has = |p: &str| {
        lower
            .split(|c: char| !c.is_alphanumeric())
            .collect::<Vec<_>>()
            .windows(p.split(' ').count())
            .any(|w| w.join(" ") == p)
    };
    let date = if has("today") || has("tonight") || has("eod") {
        Some(written)
    } else if has("tomorrow") {
        Some(written + Duration::days(1))
    } else if has("end of week") || has("eow") || has("this week") {
        Some(next_weekday(written, Weekday::Fri, true))
    } else if has("next week") {
        Some(next_weekday(written, Weekday::Mon, false) + Duration::days(4))
    } else {
        [
            ("monday", Weekday::Mon),
            ("tuesday", Weekday::Tue),
            ("wednesday", Weekday::Wed),
            ("thursday", Weekday::Thu),
            ("friday", Weekday::Fri),
            ("saturday", Weekday::Sat),
            ("sunday", Weekday::Sun),
        ]
        .iter()
        .find(|(name, _)| {
            has(&format!("by {name}"))
                || has(&format!("on {name}"))
                || has(&format!("before {name}"))
                || has(&format!("due {name}"))
        })
        .map(|(_, day)| next_weekday(written, *day, false))
    }?;
    parse_due(&date.to_string()).ok().map(|d| d.to_string())
}

/// The next `day` after `from` (or `from` itself when `inclusive` and it is that day).
fn next_weekday(from: NaiveDate, day: Weekday, inclusive: bool) -> NaiveDate {
    let mut d = if inclusive {
        from
    } else {
        from + Duration::days(1)
    };
    while d.weekday() != day {
        d += Duration::days(1);
    }
    d
}

/// Lower-case usernames mentioned anywhere in `messages` (to resolve to members).
pub fn mentions(messages: &[SourceMessage]) -> Vec<String> {
    let mut names: Vec<String> = messages
        .iter()
        .flat_map(|m| mentioned_usernames(&m.body))
        .collect();
    names.sort();
    names.dedup();
    names
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use uuid::Uuid;

    fn msg(n: u128, author: &str, body: &str, reply_to: Option<u128>) -> SourceMessage {
        SourceMessage {
            id: Uuid::from_u128(n),
            room_id: Uuid::nil(),
            room_name: "team".into(),
            seq: n as i64,
            author_id: Some(Uuid::from_u128(1000 + n)),
            author: Some(author.into()),
            body: body.into(),
            reply_to: reply_to.map(Uuid::from_u128),
            // A Wednesday.
            created_at: Utc
                .with_ymd_and_hms(2026, 11, 25, 10, 0, 0)
                .single()
                .unwrap_or_default(),
        }
    }

    fn members() -> HashMap<String, UserRef> {
        ["ann", "bob"]
            .iter()
            .enumerate()
            .map(|(i, u)| {
                (
                    u.to_string(),
                    UserRef {
                        id: Uuid::from_u128(i as u128 + 1),
                        username: u.to_string(),
                    },
                )
            })
            .collect()
    }

    #[test]
    fn requests_commitments_and_todos_become_cited_proposals() {
        let messages = vec![
            msg(
                1,
                "carol",
                "Morning all. @bob can you update the release notes by friday?",
                None,
            ),
            msg(2, "ann", "I'll book the venue for the offsite", None),
            msg(3, "bob", "todo: renew the TLS certificate", None),
            msg(4, "carol", "Nice weather today", None),
            msg(5, "ann", "on it, tomorrow", Some(3)),
        ];
        let p = extract(&messages, &members());
        assert_eq!(p.len(), 3, "{p:?}");
        assert_eq!(p[0].title.value, "Update the release notes");
        assert_eq!(
            p[0].assignee.value.as_ref().map(|u| u.username.as_str()),
            Some("bob")
        );
        assert_eq!(p[0].due.value.as_deref(), Some("2026-11-27"));
        assert_eq!(p[0].due.cite, Some(Uuid::from_u128(1)));
        assert_eq!(p[1].title.value, "Book the venue for the offsite");
        assert_eq!(
            p[1].assignee.value.as_ref().map(|u| u.username.as_str()),
            Some("ann")
        );
        assert_eq!(p[2].title.value, "Renew the TLS certificate");
        assert_eq!(p[2].title.cite, Some(Uuid::from_u128(3)));
        assert_eq!(p[2].assignee.cite, Some(Uuid::from_u128(5)));
        assert_eq!(p[2].due.value.as_deref(), Some("2026-11-26"));
        assert_eq!(p[2].due.cite, Some(Uuid::from_u128(5)));
    }

    #[test]
    fn due_phrases_are_relative_to_the_message() {
        let wed = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap_or_default();
        assert_eq!(
            due_in("ship it by 2026-12-03", wed).as_deref(),
            Some("2026-12-03")
        );
        assert_eq!(
            due_in("by Monday please", wed).as_deref(),
            Some("2026-11-30")
        );
        assert_eq!(due_in("end of week", wed).as_deref(), Some("2026-11-27"));
        assert_eq!(due_in("next week", wed).as_deref(), Some("2026-12-04"));
        assert_eq!(due_in("whenever", wed), None);
        assert_eq!(due_in("2026-02-30", wed), None);
    }
}
