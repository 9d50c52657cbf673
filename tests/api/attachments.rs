//! Attachments: uploading files and images to a room and a task, sending them with a message,
//! downloading them as a member (and not as anyone else), and the size, type and quota limits.

use std::{path::Path, time::Duration};

use reqwest::{StatusCode, header};
use serde_json::{Value, json};
use uuid::Uuid;

use flowly::app::attachments::sweep_unsent;
use flowly_testkit::{Client, Team, TestApp, code, id_of, new_task, ws::connect};

/// A PNG of `width`×`height` pixels.
fn png(width: u32, height: u32) -> Vec<u8> {
    let picture = image::RgbImage::from_pixel(width, height, image::Rgb([30, 120, 200]));
    let mut bytes = std::io::Cursor::new(Vec::new());
    picture
        .write_to(&mut bytes, image::ImageFormat::Png)
        .unwrap();
    bytes.into_inner()
}

/// Downloads `path`: status, headers and bytes.
async fn fetch(client: &Client, path: &str) -> (StatusCode, header::HeaderMap, Vec<u8>) {
    let response = client
        .http
        .get(format!("{}{path}", client.base))
        .bearer_auth(client.token.as_deref().unwrap())
        .send()
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    (status, headers, response.bytes().await.unwrap().to_vec())
}

fn header_of(headers: &header::HeaderMap, name: header::HeaderName) -> &str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// Every file under the attachments directory, `tmp/` included.
fn stored_files(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            if entry.path().is_dir() {
                stack.push(entry.path());
            } else {
                found.push(entry.path().display().to_string());
            }
        }
    }
    found
}

#[tokio::test]
async fn an_image_sent_in_a_message_reaches_members_with_a_thumbnail_and_no_one_else() {
    let app = TestApp::spawn().await;
    let Team {
        users: [ann, bob],
        room,
    } = app.team("Design", ["ann", "bob"]).await;
    let carl = app.register("carl").await;
    let (mut bobs, _) = connect(&app.base, bob.token.as_deref().unwrap(), json!({})).await;

    let picture = png(900, 600);
    let path = format!("/api/v1/rooms/{room}/attachments");
    let (status, uploaded) = ann
        .upload(&path, "mockup.png", "image/png", picture.clone())
        .await;
    assert_eq!(status, StatusCode::CREATED, "{uploaded}");
    assert_eq!(uploaded["width"], 900);
    assert_eq!(uploaded["has_thumbnail"], true);
    let id = id_of(&uploaded);

    let (status, sent) = ann
        .post(
            &format!("/api/v1/rooms/{room}/messages"),
            json!({ "body": "", "attachments": [id] }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{sent}");
    assert_eq!(sent["attachments"][0]["filename"], "mockup.png");
    // The answer is the message as its author reads it back.
    let (_, read_back) = ann.get(&format!("/api/v1/messages/{}", id_of(&sent))).await;
    assert_eq!(sent, read_back);
    let frame = bobs.next_of(&["message.created"]).await;
    assert_eq!(
        frame["data"]["message"]["attachments"][0]["id"],
        id.to_string()
    );

    let (status, headers, bytes) = fetch(&bob, &format!("/api/v1/attachments/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(bytes, picture);
    assert_eq!(header_of(&headers, header::CONTENT_TYPE), "image/png");
    assert_eq!(
        header_of(&headers, header::X_CONTENT_TYPE_OPTIONS),
        "nosniff"
    );
    assert!(
        header_of(&headers, header::CONTENT_DISPOSITION)
            .starts_with("inline; filename=\"mockup.png\"")
    );

    let (status, headers, thumb) =
        fetch(&bob, &format!("/api/v1/attachments/{id}/thumbnail")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(header_of(&headers, header::CONTENT_TYPE), "image/jpeg");
    let thumb = image::load_from_memory(&thumb).unwrap();
    assert_eq!((thumb.width(), thumb.height()), (320, 213));

    for path in [
        format!("/api/v1/attachments/{id}"),
        format!("/api/v1/attachments/{id}/thumbnail"),
    ] {
        let (status, _, body) = fetch(&carl, &path).await;
        assert_eq!(
            status,
            StatusCode::NOT_FOUND,
            "an outsider must not learn it exists"
        );
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(code(&body), "attachment_not_found");
    }
    let (status, page) = bob.get(&format!("/api/v1/rooms/{room}/messages")).await;
    assert_eq!(status, StatusCode::OK);
    let last = page["messages"].as_array().unwrap().last().unwrap();
    assert_eq!(last["attachments"][0]["id"], id.to_string());
}

#[tokio::test]
async fn other_files_are_served_as_downloads_under_their_own_name() {
    let app = TestApp::spawn().await;
    let Team {
        users: [ann, bob],
        room,
    } = app.team("Ops", ["ann", "bob"]).await;
    let path = format!("/api/v1/rooms/{room}/attachments");
    let (status, uploaded) = ann
        .upload(
            &path,
            "Q3 plan é.txt",
            "text/plain; charset=utf-8",
            b"ship it".to_vec(),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{uploaded}");
    assert_eq!(uploaded["content_type"], "text/plain");
    assert_eq!(uploaded["has_thumbnail"], false);
    let id = id_of(&uploaded);
    let (status, _) = ann
        .post(
            &format!("/api/v1/rooms/{room}/messages"),
            json!({ "body": "the plan", "attachments": [id] }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, headers, bytes) = fetch(&bob, &format!("/api/v1/attachments/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(bytes, b"ship it");
    assert_eq!(
        header_of(&headers, header::CONTENT_DISPOSITION),
        "attachment; filename=\"Q3 plan _.txt\"; filename*=UTF-8''Q3%20plan%20%C3%A9.txt"
    );
    let (status, _, _) = fetch(&bob, &format!("/api/v1/attachments/{id}/thumbnail")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_upload_not_sent_yet_is_its_uploaders_alone_and_goes_out_once() {
    let app = TestApp::spawn().await;
    let Team {
        users: [ann, bob],
        room,
    } = app.team("Ops", ["ann", "bob"]).await;
    let path = format!("/api/v1/rooms/{room}/attachments");
    let (_, mine) = ann
        .upload(&path, "notes.md", "text/markdown", b"# notes".to_vec())
        .await;
    let id = id_of(&mine);
    assert_eq!(
        fetch(&ann, &format!("/api/v1/attachments/{id}")).await.0,
        StatusCode::OK
    );
    assert_eq!(
        fetch(&bob, &format!("/api/v1/attachments/{id}")).await.0,
        StatusCode::NOT_FOUND
    );

    let messages = format!("/api/v1/rooms/{room}/messages");
    let (status, body) = bob
        .post(
            &messages,
            json!({ "body": "mine now", "attachments": [id] }),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_attachments")
    );
    let (status, _) = ann
        .post(&messages, json!({ "body": "notes", "attachments": [id] }))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) = ann
        .post(&messages, json!({ "body": "again", "attachments": [id] }))
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_attachments")
    );
    let (status, body) = ann
        .post(
            &messages,
            json!({ "body": "", "attachments": [Uuid::new_v4()] }),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_attachments")
    );
    assert_eq!(
        fetch(&bob, &format!("/api/v1/attachments/{id}")).await.0,
        StatusCode::OK
    );

    // Deleting the message deletes its files.
    let (_, page) = ann.get(&messages).await;
    let sent = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["body"] == "notes")
        .unwrap();
    let (status, _) = ann
        .delete(&format!("/api/v1/messages/{}", id_of(sent)))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        fetch(&bob, &format!("/api/v1/attachments/{id}")).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        fetch(&ann, &format!("/api/v1/attachments/{id}")).await.0,
        StatusCode::NOT_FOUND
    );
    // Its file is gone from the disk and from the quota.
    let dir = Path::new(&app.state.config.attachments.dir);
    assert_eq!(stored_files(dir), Vec::<String>::new());
    let (_, usage) = ann.get("/api/v1/admin/attachments").await;
    assert_eq!(
        (usage["used_bytes"].as_i64(), usage["files"].as_i64()),
        (Some(0), Some(0))
    );
}

#[tokio::test]
async fn too_large_unsupported_or_false_files_are_refused_and_leave_nothing_on_disk() {
    let app = TestApp::spawn_with(|c| {
        c.attachments.max_file_bytes = 4000;
        c.attachments.max_image_pixels = 100 * 100;
    })
    .await;
    let Team { users: [ann], room } = app.team("Solo", ["ann"]).await;
    let path = format!("/api/v1/rooms/{room}/attachments");
    let cases: [(&str, &str, Vec<u8>, StatusCode, &str); 5] = [
        (
            "big.txt",
            "text/plain",
            vec![b'x'; 5000],
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
        ),
        (
            "logo.svg",
            "image/svg+xml",
            b"<svg/>".to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_type",
        ),
        (
            "fake.png",
            "image/png",
            b"not a picture".to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_type",
        ),
        (
            "huge.png",
            "image/png",
            png(200, 200),
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
        ),
        (
            "../x.txt",
            "text/plain",
            b"x".to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_filename",
        ),
    ];
    for (name, content_type, bytes, status, expected) in cases {
        let (got, body) = ann.upload(&path, name, content_type, bytes).await;
        assert_eq!((got, code(&body)), (status, expected), "{name}: {body}");
    }
    let dir = Path::new(&app.state.config.attachments.dir);
    assert_eq!(stored_files(dir), Vec::<String>::new());
    let (status, ok) = ann
        .upload(&path, "small.png", "image/png", png(50, 50))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{ok}");
    assert_eq!(stored_files(dir).len(), 2, "the file and its thumbnail");
}

#[tokio::test]
async fn the_quota_stops_uploads_and_administrators_see_its_use() {
    let app = TestApp::spawn_with(|c| c.attachments.quota_bytes = 1500).await;
    let Team {
        users: [ann, bob],
        room,
    } = app.team("Ops", ["ann", "bob"]).await;
    let path = format!("/api/v1/rooms/{room}/attachments");
    let (status, _) = bob
        .upload(&path, "a.txt", "text/plain", vec![b'a'; 1000])
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) = bob
        .upload(&path, "b.txt", "text/plain", vec![b'b'; 1000])
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::INSUFFICIENT_STORAGE, "quota_exceeded")
    );

    let (status, usage) = ann.get("/api/v1/admin/attachments").await;
    assert_eq!(
        status,
        StatusCode::OK,
        "ann registered first: an administrator"
    );
    assert_eq!(
        usage,
        json!({ "used_bytes": 1000, "files": 1, "quota_bytes": 1500, "max_file_bytes": 25 * 1024 * 1024 })
    );
    let (status, body) = bob.get("/api/v1/admin/attachments").await;
    assert_eq!((status, code(&body)), (StatusCode::FORBIDDEN, "admin_only"));
}

#[tokio::test]
async fn a_task_keeps_its_attachments_for_the_members_of_its_room() {
    let app = TestApp::spawn().await;
    let Team {
        users: [ann, bob],
        room,
    } = app.team("Ops", ["ann", "bob"]).await;
    let carl = app.register("carl").await;
    let (status, task) = ann
        .post(
            "/api/v1/tasks",
            json!({ "room_id": room, "title": "Fix the login page" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{task}");
    let task = id_of(&task);
    let path = format!("/api/v1/tasks/{task}/attachments");
    let (status, uploaded) = ann
        .upload(&path, "screenshot.png", "image/png", png(40, 30))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{uploaded}");
    assert_eq!(uploaded["task_id"], task.to_string());
    let id = id_of(&uploaded);

    let (status, listed) = bob.get(&path).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed[0]["id"], id.to_string());
    assert_eq!(
        fetch(&bob, &format!("/api/v1/attachments/{id}")).await.0,
        StatusCode::OK
    );
    assert_eq!(
        fetch(&carl, &format!("/api/v1/attachments/{id}")).await.0,
        StatusCode::NOT_FOUND
    );
    let (status, body) = carl.get(&path).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::NOT_FOUND, "task_not_found")
    );
    let (status, body) = carl
        .upload(&path, "x.txt", "text/plain", b"x".to_vec())
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::NOT_FOUND, "task_not_found")
    );
}

#[tokio::test]
async fn uploads_never_sent_are_swept_with_their_files_and_nothing_else_is() {
    let app = TestApp::spawn().await;
    let Team {
        users: [ann, bob],
        room,
    } = app.team("Ops", ["ann", "bob"]).await;
    let path = format!("/api/v1/rooms/{room}/attachments");
    let messages = format!("/api/v1/rooms/{room}/messages");
    let (_, waiting) = ann
        .upload(&path, "draft.txt", "text/plain", b"draft".to_vec())
        .await;
    let (_, sent) = ann
        .upload(&path, "sent.txt", "text/plain", b"sent".to_vec())
        .await;
    let (status, body) = ann
        .post(
            &messages,
            json!({ "body": "here", "attachments": [id_of(&sent)] }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let task = new_task(&ann, room, "Fix the login page").await;
    let (_, on_task) = ann
        .upload(
            &format!("/api/v1/tasks/{task}/attachments"),
            "task.txt",
            "text/plain",
            b"task".to_vec(),
        )
        .await;
    let dir = Path::new(&app.state.config.attachments.dir);
    let files = stored_files(dir).len();

    // Younger than the limit: kept.
    assert_eq!(
        sweep_unsent(&app.state, Duration::from_secs(3600))
            .await
            .unwrap(),
        0
    );
    assert_eq!(sweep_unsent(&app.state, Duration::ZERO).await.unwrap(), 1);
    let file = |a: &Value| format!("/api/v1/attachments/{}", id_of(a));
    assert_eq!(fetch(&ann, &file(&waiting)).await.0, StatusCode::NOT_FOUND);
    assert_eq!(fetch(&bob, &file(&sent)).await.0, StatusCode::OK);
    assert_eq!(fetch(&bob, &file(&on_task)).await.0, StatusCode::OK);
    assert_eq!(
        stored_files(dir).len(),
        files - 1,
        "the swept upload's file went too"
    );
    let (status, body) = ann
        .post(
            &messages,
            json!({ "body": "late", "attachments": [id_of(&waiting)] }),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_attachments")
    );
}
