//! The assistant end to end: indexing within seconds, asking (streamed over the WebSocket),
//! `@flowly`, summaries, task extraction, the queue's reclaiming and dead letters, bad input,
//! and — above all — that nobody ever gets content from a room they are not in.
//!
//! Real models: the local all-MiniLM-L6-v2 embedder and the extractive generator (and once the
//! local GGUF model), from `.cache/models` (`scripts/fetch-models.sh`).

use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use flowly::assistant::queue::{self, Consumer, Job, Stream};
use flowly_testkit::{
    TestApp, TestUser, assistant_test_config, code, eventually, id_of, new_task, pdf, say, ws,
};

async fn app() -> TestApp {
    TestApp::spawn_with(assistant_test_config).await
}

/// The chunk text indexed for a source, if any.
async fn chunk(app: &TestApp, source: Uuid) -> Option<String> {
    sqlx::query_scalar("select text from knowledge_chunks where source_id = $1")
        .bind(source)
        .fetch_optional(&app.state.db)
        .await
        .unwrap()
}

async fn wait_finished(user: &TestUser, id: &str) -> Value {
    eventually("the request to finish", || async {
        let (status, body) = user.get(&format!("/api/v1/assistant/requests/{id}")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        matches!(body["status"].as_str(), Some("done" | "failed")).then_some(body)
    })
    .await
}

async fn ask(user: &TestUser, body: Value) -> String {
    let (status, queued) = user.post("/api/v1/assistant/ask", body).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{queued}");
    assert_eq!(queued["request"]["status"], "queued");
    queued["request"]["id"].as_str().unwrap().to_owned()
}

/// Waits until every message of the app is indexed.
async fn indexed(app: &TestApp, ids: &[Uuid]) {
    for id in ids {
        eventually("the message to be indexed", || async {
            chunk(app, *id).await
        })
        .await;
    }
}

#[tokio::test]
async fn new_edited_and_deleted_messages_and_tasks_reach_the_index_within_seconds() {
    let app = app().await;
    let worker = app.start_worker().await;
    let ann = app.register("ann").await;
    let bob = app.register("bob").await;
    let room = app.group(&ann, "ops", &[&bob]).await;

    let m = say(
        &ann,
        room,
        "The backup job runs at 02:00 from the cold storage node",
    )
    .await;
    let id = id_of(&m);
    let text = eventually("the new message in the index", || async {
        chunk(&app, id).await
    })
    .await;
    assert_eq!(
        text,
        "The backup job runs at 02:00 from the cold storage node"
    );

    let (status, body) = ann
        .patch(
            &format!("/api/v1/messages/{id}"),
            json!({ "body": "The backup job runs at 03:00 now" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    eventually("the edit in the index", || async {
        (chunk(&app, id).await.as_deref() == Some("The backup job runs at 03:00 now")).then_some(())
    })
    .await;

    let (status, task) = ann
        .post(
            "/api/v1/tasks",
            json!({ "room_id": room, "title": "Rotate the backup keys" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{task}");
    let task_id = id_of(&task);
    let text = eventually("the task in the index", || async {
        chunk(&app, task_id).await
    })
    .await;
    assert!(text.contains("Task: Rotate the backup keys"), "{text}");
    let (status, body) = ann
        .patch(
            &format!("/api/v1/tasks/{task_id}"),
            json!({ "assignee_id": bob.id, "status": "doing" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    eventually("the task change in the index", || async {
        chunk(&app, task_id)
            .await
            .filter(|t| t.contains("Assignee: @bob") && t.contains("Status: doing"))
    })
    .await;

    let (status, body) = ann.delete(&format!("/api/v1/messages/{id}")).await;
    assert!(status.is_success(), "{body}");
    let (status, body) = ann.delete(&format!("/api/v1/tasks/{task_id}")).await;
    assert!(status.is_success(), "{body}");
    eventually("deleted sources to leave the index", || async {
        (chunk(&app, id).await.is_none() && chunk(&app, task_id).await.is_none()).then_some(())
    })
    .await;
    // System messages ("created task …") are never indexed.
    let system: i64 = sqlx::query_scalar(
        "select count(*) from knowledge_chunks c join messages m on m.id = c.source_id where m.kind <> 'user'",
    )
    .fetch_one(&app.state.db)
    .await
    .unwrap();
    assert_eq!(system, 0);
    worker.stop().await;
}

#[tokio::test]
async fn a_lost_hint_is_caught_up_by_the_sweep() {
    let app = app().await;
    let ann = app.register("ann").await;
    let room = app.group(&ann, "ops", &[]).await;
    let m = say(
        &ann,
        room,
        "Disk alerts page the on-call engineer after ten minutes",
    )
    .await;
    // Every hint is lost before any worker runs.
    let mut redis = app.state.redis.clone();
    let _: () = redis::cmd("DEL")
        .arg(Stream::Index.key(&app.state.config.redis.key_prefix))
        .query_async(&mut redis)
        .await
        .unwrap();
    let worker = app.start_worker().await;
    eventually("the sweep to index the room", || async {
        chunk(&app, id_of(&m)).await
    })
    .await;
    worker.stop().await;
}

#[tokio::test]
async fn an_answer_covers_what_was_said_a_moment_ago_while_the_index_hints_wait() {
    let app = app().await;
    let ann = app.register("ann").await;
    let bob = app.register("bob").await;
    let room = app.group(&ann, "launch", &[&bob]).await;
    // No sweep during the test: only the hints (and the answer itself) index.
    let worker = app.start_worker_with(|a| a.index_sweep_secs = 3600).await;
    let mut redis = app.state.redis.clone();
    let index_stream = Stream::Index.key(&app.state.config.redis.key_prefix);
    eventually(
        "the new room to be indexed and no index job left",
        || async {
            let (cursor, last): (Option<i64>, i64) = sqlx::query_as(
                "select c.seq, r.last_seq from rooms r
             left join assistant_index_cursors c on c.room_id = r.id where r.id = $1",
            )
            .bind(room)
            .fetch_one(&app.state.db)
            .await
            .unwrap();
            // Jobs leave the stream once done (XACK + XDEL).
            let jobs: i64 = redis::cmd("XLEN")
                .arg(&index_stream)
                .query_async(&mut redis.clone())
                .await
                .unwrap();
            (cursor == Some(last) && jobs == 0).then_some(())
        },
    )
    .await;
    // A hint for the room waits in line (behind a busy room's, say): changes queue no other.
    let _: () = redis::cmd("SET")
        .arg(queue::hint_key(&app.state.config.redis.key_prefix, room))
        .arg(1)
        .arg("EX")
        .arg(600)
        .query_async(&mut redis)
        .await
        .unwrap();
    let fact = say(
        &bob,
        room,
        "The launch date is March 14, confirmed with marketing.",
    )
    .await;
    assert_eq!(chunk(&app, id_of(&fact)).await, None, "not indexed yet");

    let done = answer_of(&ann, "When is the launch date?").await;
    assert_eq!(
        done["answer"], "The launch date is March 14, confirmed with marketing [1].",
        "{done}"
    );
    assert_eq!(done["citations"][0]["id"], fact["id"], "{done}");
    assert!(chunk(&app, id_of(&fact)).await.is_some());
    worker.stop().await;
}

#[tokio::test]
async fn asking_streams_the_answer_over_the_websocket_with_citations_of_the_sources() {
    let app = app().await;
    let worker = app.start_worker().await;
    let ann = app.register("ann").await;
    let bob = app.register("bob").await;
    let room = app.group(&ann, "launch", &[&bob]).await;
    let source = say(
        &bob,
        room,
        "The Orion launch moved to Thursday because the vendor is late",
    )
    .await;
    let other = say(&ann, room, "Lunch is at noon in the big kitchen").await;
    indexed(&app, &[id_of(&source), id_of(&other)]).await;

    let (mut socket, _) = ws::connect(&app.base, ann.token.as_deref().unwrap(), json!({})).await;
    let id = ask(&ann, json!({ "question": "When is the Orion launch?" })).await;
    let status = socket.next_of(&["assistant.status"]).await;
    assert_eq!(status["data"]["request"], id.as_str());
    assert_eq!(status["data"]["status"], "running");
    let mut streamed = String::new();
    let done = loop {
        let frame = socket
            .next_of(&["assistant.delta", "assistant.done", "assistant.error"])
            .await;
        match frame["type"].as_str() {
            Some("assistant.delta") => {
                assert_eq!(frame["data"]["request"], id.as_str());
                streamed.push_str(frame["data"]["text"].as_str().unwrap());
            }
            Some("assistant.done") => break frame,
            _ => panic!("request failed: {frame}"),
        }
    };
    let request = &done["data"]["request"];
    assert_eq!(request["status"], "done", "{request}");
    let answer = request["answer"].as_str().unwrap();
    assert!(!streamed.is_empty(), "deltas were streamed");
    assert_eq!(
        streamed.trim(),
        answer.trim(),
        "the deltas make up the answer"
    );
    let citations = request["citations"].as_array().unwrap();
    assert!(!citations.is_empty(), "{request}");
    assert_eq!(
        citations[0]["id"], source["id"],
        "the source is cited first: {request}"
    );
    assert_eq!(citations[0]["kind"], "message");
    assert_eq!(citations[0]["room"], room.to_string().as_str());
    assert_eq!(citations[0]["room_name"], "launch");
    assert_eq!(citations[0]["seq"], source["seq"]);
    assert_eq!(citations[0]["author"], "bob");
    for c in citations {
        let n = c["n"].as_u64().unwrap();
        assert!(
            answer.contains(&format!("[{n}]")),
            "citation {n} is cited in {answer}"
        );
    }
    // The stored request says the same, and only its asker can read it.
    let stored = wait_finished(&ann, &id).await;
    assert_eq!(stored["citations"], request["citations"]);
    let (status, body) = bob.get(&format!("/api/v1/assistant/requests/{id}")).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::NOT_FOUND, "request_not_found")
    );
    let (status, list) = ann.get("/api/v1/assistant/requests?limit=5").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["requests"][0]["id"], id.as_str());
    let (_, list) = bob.get("/api/v1/assistant/requests").await;
    assert_eq!(list["requests"], json!([]));
    worker.stop().await;
}

/// Asks `question` across all of `user`'s rooms and waits for the finished request.
async fn answer_of(user: &TestUser, question: &str) -> Value {
    let id = ask(user, json!({ "question": question })).await;
    let done = wait_finished(user, &id).await;
    assert_eq!(done["status"], "done", "{done}");
    done
}

#[tokio::test]
async fn an_answer_quotes_only_its_source_prefers_the_latest_and_says_when_nothing_answers() {
    let app = app().await;
    let worker = app.start_worker().await;
    let ann = app.register("ann").await;
    let bob = app.register("bob").await;
    let room = app.group(&ann, "launch", &[&bob]).await;
    let fact = say(
        &bob,
        room,
        "The launch date is March 14, confirmed with marketing.",
    )
    .await;
    let mut ids = vec![id_of(&fact)];
    for (who, text) in [
        (&ann, "Thanks! Can you also review the launch checklist?"),
        (&bob, "Budget for the launch party is 500 euros."),
        (&ann, "The launch retro will be in the big meeting room."),
        (&bob, "The design review is on May 4."),
        (&ann, "Lunch anyone? Thinking noodles."),
    ] {
        ids.push(id_of(&say(who, room, text).await));
    }
    let (status, task) = ann
        .post(
            "/api/v1/tasks",
            json!({ "room_id": room, "title": "Book the launch party venue" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{task}");
    ids.push(id_of(&task));
    let update = say(&bob, room, "Update: the design review moved to May 11.").await;
    ids.push(id_of(&update));
    indexed(&app, &ids).await;

    let done = answer_of(&ann, "When is the launch date?").await;
    assert_eq!(
        done["answer"], "The launch date is March 14, confirmed with marketing [1].",
        "{done}"
    );
    let citations = done["citations"].as_array().unwrap();
    assert_eq!(citations.len(), 1, "{done}");
    assert_eq!(citations[0]["id"], fact["id"]);

    let done = answer_of(&bob, "When is the design review?").await;
    let answer = done["answer"].as_str().unwrap();
    assert!(
        answer.contains("May 11") && !answer.contains("May 4"),
        "{done}"
    );
    let citations = done["citations"].as_array().unwrap();
    assert_eq!(citations.len(), 1, "{done}");
    assert_eq!(
        citations[0]["id"], update["id"],
        "the latest statement: {done}"
    );

    let done = answer_of(&ann, "Which port does the billing service listen on?").await;
    assert_eq!(
        done["answer"], "I couldn't find that in your rooms.",
        "{done}"
    );
    assert_eq!(done["citations"], json!([]), "{done}");
    worker.stop().await;
}

/// How many chunks a file's text is indexed in.
async fn file_parts(app: &TestApp, file: Uuid) -> i64 {
    sqlx::query_scalar(
        "select count(*) from knowledge_chunks where source_kind = 'attachment' and source_id = $1",
    )
    .bind(file)
    .fetch_one(&app.state.db)
    .await
    .unwrap()
}

#[tokio::test]
async fn the_text_of_files_in_messages_and_on_tasks_is_searched_and_cited() {
    let app = app().await;
    let worker = app.start_worker().await;
    let ann = app.register("ann").await;
    let bob = app.register("bob").await;
    let carl = app.register("carl").await;
    let room = app.group(&ann, "infra", &[&bob]).await;
    say(&ann, room, "Lunch anyone? Thinking noodles.").await;

    // A PDF sent with a message: its line breaks inside a sentence are undone.
    let runbook = pdf(&[
        "Billing runbook",
        "The billing service listens on port 8443",
        "behind nginx, and restarts with systemctl.",
    ]);
    let uploads = format!("/api/v1/rooms/{room}/attachments");
    let (status, file) = ann
        .upload(&uploads, "billing-runbook.pdf", "application/pdf", runbook)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{file}");
    let runbook = id_of(&file);
    let (status, sent) = ann
        .post(
            &format!("/api/v1/rooms/{room}/messages"),
            json!({ "body": "Runbook attached", "attachments": [runbook] }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{sent}");
    // A text file on a task: the upload appends nothing to the room's log, yet is indexed.
    let task = new_task(&ann, room, "Set up the nightly backups").await;
    let (status, file) = bob
        .upload(
            &format!("/api/v1/tasks/{task}/attachments"),
            "backups.md",
            "text/markdown; charset=utf-8",
            b"# Backups\n\nThe nightly backups go to the bucket named flowly-nightly-archive.\n"
                .to_vec(),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{file}");
    let notes = id_of(&file);
    for file in [runbook, notes] {
        eventually("the file to be indexed", || async {
            (file_parts(&app, file).await > 0).then_some(())
        })
        .await;
    }

    let done = answer_of(&bob, "Which port does the billing service listen on?").await;
    assert_eq!(
        done["answer"],
        "The billing service listens on port 8443 behind nginx, and restarts with systemctl [1].",
        "{done}"
    );
    let cited = &done["citations"][0];
    assert_eq!(done["citations"].as_array().unwrap().len(), 1, "{done}");
    assert_eq!(cited["kind"], "attachment", "{done}");
    assert_eq!(cited["id"], runbook.to_string());
    assert_eq!(cited["filename"], "billing-runbook.pdf");
    assert_eq!(cited["seq"], sent["seq"], "the message that carries it");
    assert_eq!(cited["author"], "ann");
    assert!(cited.get("task").is_none(), "{cited}");

    let done = answer_of(&ann, "Which bucket do the nightly backups go to?").await;
    assert!(
        done["answer"]
            .as_str()
            .unwrap()
            .contains("flowly-nightly-archive"),
        "{done}"
    );
    let cited = &done["citations"][0];
    assert_eq!(cited["kind"], "attachment", "{done}");
    assert_eq!(cited["id"], notes.to_string());
    assert_eq!(cited["task"], task.to_string());
    assert_eq!(cited["filename"], "backups.md");

    // Nobody outside the room learns what its files say.
    let done = answer_of(&carl, "Which port does the billing service listen on?").await;
    assert_eq!(done["citations"], json!([]), "{done}");

    // A deleted message takes its file out of the index; so does a deleted task.
    let (status, body) = ann
        .delete(&format!("/api/v1/messages/{}", id_of(&sent)))
        .await;
    assert!(status.is_success(), "{body}");
    let (status, body) = ann.delete(&format!("/api/v1/tasks/{task}")).await;
    assert!(status.is_success(), "{body}");
    for file in [runbook, notes] {
        eventually("the file to leave the index", || async {
            (file_parts(&app, file).await == 0).then_some(())
        })
        .await;
    }
    let done = answer_of(&bob, "Which port does the billing service listen on?").await;
    assert_eq!(done["citations"], json!([]), "{done}");
    worker.stop().await;
}

#[tokio::test]
async fn a_flowly_mention_posts_the_answer_into_the_room() {
    let app = app().await;
    let worker = app.start_worker().await;
    let ann = app.register("ann").await;
    let bob = app.register("bob").await;
    let room = app.group(&ann, "infra", &[&bob]).await;
    let source = say(&bob, room, "The VPN certificate expires on December 3rd").await;
    indexed(&app, &[id_of(&source)]).await;

    let asked = say(&ann, room, "@flowly when does the VPN certificate expire?").await;
    assert_eq!(
        asked["kind"], "user",
        "the question is sent as a normal message"
    );
    let posted = eventually("the assistant's answer in the room", || async {
        let (_, page) = bob.get(&format!("/api/v1/rooms/{room}/messages")).await;
        page["messages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["kind"] == "assistant")
            .cloned()
    })
    .await;
    assert!(posted["author_id"].is_null());
    let request = posted["data"]["request"].as_str().unwrap();
    let citations = posted["data"]["citations"].as_array().unwrap();
    assert_eq!(citations[0]["id"], source["id"], "{posted}");
    let stored = wait_finished(&ann, request).await;
    assert_eq!(stored["post"], true);
    assert_eq!(stored["room"], room.to_string().as_str());
    assert_eq!(stored["answer"], posted["body"]);
    // Posted once, even though the room's change queued more work.
    let (_, page) = bob.get(&format!("/api/v1/rooms/{room}/messages")).await;
    let assistant_messages = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["kind"] == "assistant")
        .count();
    assert_eq!(assistant_messages, 1);
    worker.stop().await;
}

#[tokio::test]
async fn a_summary_covers_what_i_have_not_read_with_citations() {
    let app = app().await;
    let worker = app.start_worker().await;
    let ann = app.register("ann").await;
    let bob = app.register("bob").await;
    let room = app.group(&ann, "design", &[&bob]).await;
    let old = say(&bob, room, "Old news: the logo is blue").await;
    let (status, body) = ann
        .post(
            &format!("/api/v1/rooms/{room}/read"),
            json!({ "seq": old["seq"] }),
        )
        .await;
    assert!(status.is_success(), "{body}");
    let a = say(
        &bob,
        room,
        "We picked the green palette for the new onboarding screens",
    )
    .await;
    let b = say(
        &bob,
        room,
        "The icon set ships with version 2.4 next sprint",
    )
    .await;

    let (status, queued) = ann
        .post(&format!("/api/v1/rooms/{room}/summary"), json!({}))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{queued}");
    assert_eq!(queued["request"]["kind"], "summary");
    let done = wait_finished(&ann, queued["request"]["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "done", "{done}");
    let cited: Vec<&Value> = done["citations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["id"])
        .collect();
    assert!(!cited.is_empty(), "{done}");
    assert!(
        cited.iter().all(|c| **c == a["id"] || **c == b["id"]),
        "only unread messages are summarised: {done}"
    );
    assert!(
        !done["answer"].as_str().unwrap().contains("logo is blue"),
        "{done}"
    );
    worker.stop().await;
}

#[tokio::test]
async fn extracted_tasks_cite_their_messages_and_accepting_makes_one_linked_task() {
    let app = app().await;
    let worker = app.start_worker().await;
    let ann = app.register("ann").await;
    let bob = app.register("bob").await;
    let room = app.group(&ann, "release", &[&bob]).await;
    let m1 = say(
        &ann,
        room,
        "@bob can you update the release notes by 2026-12-04?",
    )
    .await;
    let m2 = say(&bob, room, "Sounds good").await;
    let m3 = say(&bob, room, "todo: renew the TLS certificate").await;
    let ids = vec![m1["id"].clone(), m2["id"].clone(), m3["id"].clone()];

    let (status, queued) = ann
        .post(
            "/api/v1/assistant/extract-tasks",
            json!({ "room": room, "message_ids": ids }),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{queued}");
    let id = queued["request"]["id"].as_str().unwrap().to_owned();
    let done = wait_finished(&ann, &id).await;
    assert_eq!(done["status"], "done", "{done}");
    let proposals = done["proposals"].as_array().unwrap();
    assert_eq!(proposals.len(), 2, "{done}");
    let p = &proposals[0];
    assert_eq!(p["n"], 1);
    assert_eq!(p["title"]["value"], "Update the release notes");
    assert_eq!(p["title"]["cite"], m1["id"]);
    assert_eq!(p["assignee"]["value"]["username"], "bob");
    assert_eq!(p["assignee"]["value"]["id"], bob.id.to_string().as_str());
    assert_eq!(p["assignee"]["cite"], m1["id"]);
    assert_eq!(p["due"]["value"], "2026-12-04");
    assert_eq!(p["due"]["cite"], m1["id"]);
    assert!(p["accepted_task"].is_null());
    assert_eq!(proposals[1]["title"]["value"], "Renew the TLS certificate");
    assert!(proposals[1]["due"]["value"].is_null());

    // Bob cannot accept Ann's proposals.
    let (status, body) = bob
        .post(
            &format!("/api/v1/assistant/requests/{id}/proposals/1/accept"),
            json!({}),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::NOT_FOUND, "request_not_found")
    );
    let (status, accepted) = ann
        .post(
            &format!("/api/v1/assistant/requests/{id}/proposals/1/accept"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{accepted}");
    let task = &accepted["task"];
    assert_eq!(task["title"], "Update the release notes");
    assert_eq!(task["room_id"], room.to_string().as_str());
    assert_eq!(task["assignee_id"], bob.id.to_string().as_str());
    assert_eq!(task["due_on"], "2026-12-04");
    assert_eq!(task["source_message_id"], m1["id"]);
    let (status, again) = ann
        .post(
            &format!("/api/v1/assistant/requests/{id}/proposals/1/accept"),
            json!({}),
        )
        .await;
    assert_eq!(
        (status, code(&again)),
        (StatusCode::CONFLICT, "already_accepted")
    );
    let stored = wait_finished(&ann, &id).await;
    assert_eq!(stored["proposals"][0]["accepted_task"], task["id"]);
    // Overrides apply; the room's timeline shows the task's creation like any other task.
    let (status, second) = ann
        .post(
            &format!("/api/v1/assistant/requests/{id}/proposals/2/accept"),
            json!({ "title": "Renew the TLS certificate for api", "assignee": ann.id, "due": "2026-12-10" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{second}");
    assert_eq!(second["task"]["title"], "Renew the TLS certificate for api");
    assert_eq!(second["task"]["assignee_id"], ann.id.to_string().as_str());
    let (_, page) = ann.get(&format!("/api/v1/rooms/{room}/messages")).await;
    let created = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["data"]["event"] == "task_created")
        .count();
    assert_eq!(created, 2);
    let (status, body) = ann
        .post(
            &format!("/api/v1/assistant/requests/{id}/proposals/3/accept"),
            json!({}),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::NOT_FOUND, "proposal_not_found")
    );
    worker.stop().await;
}

#[tokio::test]
async fn questions_about_a_hidden_room_never_return_its_content() {
    let app = app().await;
    let worker = app.start_worker().await;
    let ann = app.register("ann").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    let secret_room = app.group(&ann, "board", &[&carol]).await;
    let open_room = app.group(&ann, "general", &[&bob]).await;
    let secret = say(
        &ann,
        secret_room,
        "Confidential: the Zephyr acquisition price is 42 million euros",
    )
    .await;
    let secret_task = {
        let (status, t) = ann
            .post("/api/v1/tasks", json!({ "room_id": secret_room, "title": "Sign the Zephyr acquisition term sheet" }))
            .await;
        assert_eq!(status, StatusCode::CREATED);
        t
    };
    let public = say(
        &bob,
        open_room,
        "The office plants need watering on Fridays",
    )
    .await;
    indexed(&app, &[id_of(&secret), id_of(&secret_task), id_of(&public)]).await;

    // What the asker gets back beyond their own question: the answer, citations, proposals.
    let leaks = |v: &Value| {
        let text = format!("{} {} {}", v["answer"], v["citations"], v["proposals"]);
        text.contains("Zephyr")
            || text.contains("42 million")
            || text.contains(&secret_room.to_string())
            || text.contains(&secret["id"].as_str().unwrap().to_string())
    };
    for question in [
        "What is the Zephyr acquisition price?",
        "Zephyr acquisition 42 million euros confidential",
        "Summarise the board room's confidential acquisition",
        "Who signs the Zephyr term sheet?",
    ] {
        let id = ask(&bob, json!({ "question": question })).await;
        let done = wait_finished(&bob, &id).await;
        assert_eq!(done["status"], "done", "{done}");
        assert!(!leaks(&done), "{done}");
    }
    // The member sees it (the test can fail the other way too).
    let id = ask(
        &carol,
        json!({ "question": "What is the Zephyr acquisition price?" }),
    )
    .await;
    let done = wait_finished(&carol, &id).await;
    assert!(leaks(&done), "a member gets the answer: {done}");

    // Naming the room directly: 404, as for any room one is not in.
    let (status, body) = bob
        .post(
            "/api/v1/assistant/ask",
            json!({ "question": "price?", "room": secret_room }),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::NOT_FOUND, "room_not_found")
    );
    let (status, body) = bob
        .post(&format!("/api/v1/rooms/{secret_room}/summary"), json!({}))
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::NOT_FOUND, "room_not_found")
    );
    let (status, body) = bob
        .post(
            "/api/v1/assistant/extract-tasks",
            json!({ "room": secret_room, "message_ids": [secret["id"]] }),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::NOT_FOUND, "room_not_found")
    );
    // Smuggling the hidden message into his own room's extraction.
    let (status, body) = bob
        .post(
            "/api/v1/assistant/extract-tasks",
            json!({ "room": open_room, "message_ids": [secret["id"], public["id"]] }),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_message_ids")
    );
    let (status, queued) = bob
        .post(&format!("/api/v1/rooms/{open_room}/summary"), json!({}))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let done = wait_finished(&bob, queued["request"]["id"].as_str().unwrap()).await;
    assert!(!leaks(&done), "{done}");

    // Ann is in both rooms; an answer she has posted into the open room is built from that
    // room only, or Bob would read the board's secret in it.
    say(
        &ann,
        open_room,
        "@flowly what is the Zephyr acquisition price?",
    )
    .await;
    let posted = eventually("the answer posted into the open room", || async {
        let (_, page) = bob
            .get(&format!("/api/v1/rooms/{open_room}/messages"))
            .await;
        page["messages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["kind"] == "assistant")
            .cloned()
    })
    .await;
    let request = wait_finished(&ann, posted["data"]["request"].as_str().unwrap()).await;
    assert!(!leaks(&request), "{request}");
    assert!(
        !leaks(&json!({ "answer": posted["body"], "citations": posted["data"]["citations"] })),
        "{posted}"
    );
    worker.stop().await;
}

#[tokio::test]
async fn a_job_held_by_a_dead_worker_is_reclaimed_and_answered() {
    let app = app().await;
    let ann = app.register("ann").await;
    let id = ask(&ann, json!({ "question": "anything about backups?" })).await;
    // A worker reads the job and dies without acknowledging it.
    let prefix = app.state.config.redis.key_prefix.clone();
    let mut dead = Consumer::new(
        app.state.redis.clone(),
        &prefix,
        Stream::Requests,
        "dead-worker",
        5,
        500,
    )
    .await
    .unwrap();
    let taken = dead
        .read(10, std::time::Duration::from_millis(100))
        .await
        .unwrap();
    assert_eq!(taken.len(), 1);
    assert_eq!(
        taken[0].job,
        Some(Job::Request {
            id: id.parse().unwrap()
        })
    );
    assert_eq!(taken[0].attempt, 1);

    let worker = app.start_worker().await;
    let done = wait_finished(&ann, &id).await;
    assert_eq!(done["status"], "done", "{done}");
    // The answer is stored before the job is acknowledged: the stream empties right after.
    let key = Stream::Requests.key(&prefix);
    eventually("the reclaimed job to be acknowledged", || {
        let mut redis = app.state.redis.clone();
        let key = key.clone();
        async move {
            let depth: i64 = redis::cmd("XLEN")
                .arg(&key)
                .query_async(&mut redis)
                .await
                .unwrap();
            (depth == 0).then_some(())
        }
    })
    .await;
    worker.stop().await;
}

#[tokio::test]
async fn ollama_unreachable_is_retried_then_failed_and_dead_lettered() {
    let app = app().await;
    let ann = app.register("ann").await;
    let room = app.group(&ann, "ops", &[]).await;
    let m = say(&ann, room, "The database failover drill is on Tuesday").await;
    let indexer = app.start_worker().await;
    indexed(&app, &[id_of(&m)]).await;
    indexer.stop().await;

    let worker = app
        .start_worker_with(|a| {
            a.generator = "ollama".into();
            a.generate_model = "llama3.2".into();
            a.ollama_url = "http://127.0.0.1:9".into();
            a.max_attempts = 2;
            a.reclaim_idle_ms = 200;
            a.model_timeout_secs = 10;
        })
        .await;
    let id = ask(&ann, json!({ "question": "When is the failover drill?" })).await;
    let failed = wait_finished(&ann, &id).await;
    assert_eq!(failed["status"], "failed", "{failed}");
    assert_eq!(failed["error"]["code"], "model_unreachable", "{failed}");
    let prefix = app.state.config.redis.key_prefix.clone();
    let mut redis = app.state.redis.clone();
    let dead = queue::dead_letters(&mut redis, &prefix, Stream::Requests, 10)
        .await
        .unwrap();
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert!(dead[0].1.contains(&id), "{dead:?}");
    assert!(dead[0].2.starts_with("model_unreachable"), "{dead:?}");
    let metrics = app.metrics().await;
    assert!(
        metrics.contains(r#"flowly_assistant_jobs_total{outcome="retried",stream="requests"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"flowly_assistant_jobs_total{outcome="dead",stream="requests"} 1"#),
        "{metrics}"
    );
    eventually("the dead-letter gauge to count the job", || async {
        app.metrics()
            .await
            .contains(r#"flowly_assistant_dead_letters{stream="requests"} 1"#)
            .then_some(())
    })
    .await;
    worker.stop().await;
}

#[tokio::test]
async fn a_missing_model_directory_fails_requests_with_model_unavailable() {
    let app = app().await;
    let ann = app.register("ann").await;
    let worker = app
        .start_worker_with(|a| a.models_dir = "/nonexistent/flowly-models".into())
        .await;
    let id = ask(&ann, json!({ "question": "When is the failover drill?" })).await;
    let failed = wait_finished(&ann, &id).await;
    assert_eq!(failed["status"], "failed", "{failed}");
    assert_eq!(failed["error"]["code"], "model_unavailable");
    let message = failed["error"]["message"].as_str().unwrap();
    assert!(message.contains("/nonexistent/flowly-models"), "{message}");
    worker.stop().await;
}

#[tokio::test]
async fn bad_assistant_input_is_refused_with_stable_codes() {
    let app = TestApp::spawn_with(|c| {
        assistant_test_config(c);
        c.assistant.max_question_chars = 100;
        c.assistant.asks_per_user_per_minute = 4;
    })
    .await;
    let ann = app.register("ann").await;
    let bob = app.register("bob").await;
    let room = app.group(&ann, "ops", &[]).await;
    let cases = [
        (
            json!({ "question": "   " }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "empty_question",
        ),
        (
            json!({ "question": "x".repeat(101) }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "question_too_long",
        ),
        (
            json!({ "question": "hi", "room": Uuid::now_v7() }),
            StatusCode::NOT_FOUND,
            "room_not_found",
        ),
        (
            json!({ "question": "hi", "post": true }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "room_required",
        ),
        (
            json!({ "question": 5 }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
    ];
    for (body, status, expected) in cases {
        let (got, answer) = ann.post("/api/v1/assistant/ask", body.clone()).await;
        assert_eq!((got, code(&answer)), (status, expected), "{body}");
    }
    let (status, body) = bob
        .post(
            "/api/v1/assistant/ask",
            json!({ "question": "hi", "room": room }),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::NOT_FOUND, "room_not_found")
    );
    let m = say(&ann, room, "hello").await;
    for ids in [
        json!([]),
        json!((0..51).map(|_| Uuid::now_v7()).collect::<Vec<_>>()),
        json!([Uuid::now_v7()]),
    ] {
        let (status, body) = ann
            .post(
                "/api/v1/assistant/extract-tasks",
                json!({ "room": room, "message_ids": ids }),
            )
            .await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid_message_ids"),
            "{ids}"
        );
    }
    let (status, body) = ann
        .get(&format!("/api/v1/assistant/requests/{}", Uuid::now_v7()))
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::NOT_FOUND, "request_not_found")
    );
    let (status, body) = ann.get("/api/v1/assistant/requests/not-a-uuid").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    // Nothing was stored for refused input; the rate limit counts accepted requests.
    let stored: i64 = sqlx::query_scalar("select count(*) from assistant_requests")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(stored, 0);
    let _ = m;
    for _ in 0..4 {
        ask(&ann, json!({ "question": "anything new?" })).await;
    }
    let (status, body) = ann
        .post("/api/v1/assistant/ask", json!({ "question": "and now?" }))
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
}

#[tokio::test]
async fn a_small_generated_corpus_is_evaluated_per_category_without_leaks() {
    use flowly::assistant::eval;
    use flowly_dataset::assistant::{Category, Size, generate};
    let app = app().await;
    let db = &app.state.db;
    let corpus = generate(Size {
        rooms: 3,
        filler: 150,
        per_category: 2,
        seed: 7,
    });
    let loaded = eval::load(db, &corpus, 7).await.unwrap();
    let models = app.state.config.assistant.models();
    let embedder = flowly::assistant::models::embedder(&models).unwrap();
    let generator = flowly::assistant::models::generator(&models).unwrap();
    let indexer = flowly::assistant::index::Indexer::new(db.clone(), embedder.clone());
    let done = indexer.reindex_all(&|_| {}).await.unwrap();
    assert_eq!(
        done.embedded as usize,
        corpus.messages.len() + corpus.tasks.len()
    );
    let setup = eval::Setup {
        embedder: embedder.as_ref(),
        generator: generator.as_ref(),
        top_k: 5,
        max_tokens: 128,
        min_score: app.state.config.assistant.answer_min_score,
        keep_ratio: app.state.config.assistant.answer_keep_ratio,
    };
    let report = eval::evaluate(db, &setup, &corpus, &loaded, &|_| {})
        .await
        .unwrap();
    assert_eq!(report.categories.len(), Category::ALL.len(), "{report:?}");
    assert!(report.categories.values().all(|s| s.questions == 2));
    assert_eq!(report.leaks(), 0, "{}", report.table());
    let answerable = report.total(true);
    assert!(answerable.recall_at_5() >= 0.5, "{}", report.table());
    assert!(answerable.cited > 0, "{}", report.table());
}

#[tokio::test]
async fn the_local_gguf_model_answers_and_streams_an_ask() {
    let app = app().await;
    let ann = app.register("ann").await;
    let room = app.group(&ann, "ops", &[]).await;
    let source = say(
        &ann,
        room,
        "The database failover drill is on Tuesday at 10:00",
    )
    .await;
    let worker = app
        .start_worker_with(|a| {
            a.generator = "local".into();
            a.max_answer_tokens = 24;
            a.top_k = 2;
        })
        .await;
    indexed(&app, &[id_of(&source)]).await;
    let (mut socket, _) = ws::connect(&app.base, ann.token.as_deref().unwrap(), json!({})).await;
    let id = ask(
        &ann,
        json!({ "question": "When is the failover drill?", "room": room }),
    )
    .await;
    let mut streamed = String::new();
    let done = loop {
        let frame = socket
            .next_of(&["assistant.delta", "assistant.done", "assistant.error"])
            .await;
        match frame["type"].as_str() {
            Some("assistant.delta") => streamed.push_str(frame["data"]["text"].as_str().unwrap()),
            Some("assistant.done") => break frame["data"]["request"].clone(),
            _ => panic!("request failed: {frame}"),
        }
    };
    assert_eq!(done["id"], id.as_str());
    assert_eq!(done["status"], "done", "{done}");
    assert!(
        done["model"].as_str().unwrap().starts_with("local:"),
        "{done}"
    );
    let answer = done["answer"].as_str().unwrap();
    assert!(!answer.trim().is_empty());
    assert_eq!(streamed.trim(), answer.trim());
    // Whatever the small model cites must be a passage it was given, under its number.
    for c in done["citations"].as_array().unwrap() {
        assert_eq!(c["id"], source["id"], "{done}");
        assert!(answer.contains(&format!("[{}]", c["n"])), "{done}");
    }
    worker.stop().await;
}

#[tokio::test]
async fn the_worker_reports_how_far_the_index_is_behind_until_it_catches_up() {
    let app = app().await;
    let ann = app.register("ann").await;
    let room = app.group(&ann, "ops", &[]).await;
    let first = say(&ann, room, "The backup window moves to 02:00").await;
    let second = say(&ann, room, "Restore drills happen on Fridays").await;
    // Nothing is indexed yet: at least the two messages are behind, and they have an age.
    let behind = flowly::store::knowledge::behind(&app.state.db, 1000)
        .await
        .unwrap();
    assert!(behind.events >= 2, "{behind:?}");
    assert!(behind.oldest_secs >= 0.0, "{behind:?}");
    assert!(behind.rooms.contains(&room), "{behind:?}");

    let worker = app.start_worker().await;
    indexed(&app, &[id_of(&first), id_of(&second)]).await;
    eventually("the index lag gauges to read 0", || async {
        let text = app.metrics().await;
        (text.contains("flowly_assistant_index_lag_events 0\n")
            && text.contains("flowly_assistant_index_lag_seconds 0\n"))
        .then_some(())
    })
    .await;
    let text = app.metrics().await;
    assert!(
        text.contains(r#"flowly_assistant_queue_depth{stream="index"}"#),
        "{text}"
    );
    assert!(
        text.contains(r#"flowly_assistant_dead_letters{stream="requests"} 0"#),
        "{text}"
    );
    let behind = flowly::store::knowledge::behind(&app.state.db, 1000)
        .await
        .unwrap();
    assert_eq!((behind.events, behind.oldest_secs), (0, 0.0), "{behind:?}");
    assert!(behind.rooms.is_empty(), "{behind:?}");
    worker.stop().await;
}
