//! `@username` mentions in a message body: never a panic; every mention found is a valid
//! username written as `@name` at a word start, found once; and each word of the text that is
//! a username is found when written as a mention.
#![no_main]

use flowly_fuzz::domain::{Username, mentioned_usernames};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &str| {
    let found = mentioned_usernames(body);
    let lower = body.to_ascii_lowercase();
    for (i, mention) in found.iter().enumerate() {
        assert_eq!(
            Username::parse(mention).map(|u| u.into_inner()).as_deref(),
            Ok(mention.as_str()),
            "{mention:?} is not a username"
        );
        assert!(!found[..i].contains(mention), "{mention:?} twice");
        assert!(
            lower.contains(&format!("@{mention}")),
            "{mention:?} not in {body:?}"
        );
    }

    // A username written after a space and followed by punctuation is found, whatever is around
    // it. Names that end in `.` or `-` lose it (the end of a sentence: `@ann.`), so not those.
    for word in body.split_whitespace().take(4) {
        let name = word.trim_end_matches([',', '!', '?', ':', ';', ')']);
        let Ok(user) = Username::parse(name).map(|u| u.into_inner()) else {
            continue;
        };
        if user.ends_with(['.', '-']) {
            continue;
        }
        for text in [
            format!("{body} @{user}, {body}"),
            format!("@{user}"),
            format!("({body}\n@{user}!"),
        ] {
            assert!(
                mentioned_usernames(&text).contains(&user),
                "@{user} not found in {text:?}"
            );
        }
    }
});
