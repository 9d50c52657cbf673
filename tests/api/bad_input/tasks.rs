//! Tasks: invalid fields on create and update, impossible due dates.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{Checks, setup};

#[tokio::test]
async fn invalid_task_fields_are_refused_with_422_and_create_or_change_nothing() {
    let s = setup().await;
    let (room, task, msg) = (s.room, s.task, s.msg);
    let stranger = s.app.register("zed").await;
    let before = s.state().await;
    let many_labels: Vec<String> = (0..21).map(|i| format!("l{i}")).collect();
    let new = |extra: Value| {
        let mut body = json!({ "room_id": room, "title": "A fine title" });
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        body
    };
    use Method as M;
    let tasks = "/api/v1/tasks".to_owned();
    let one = format!("/api/v1/tasks/{task}");
    let from_msg = format!("/api/v1/messages/{msg}/task");
    let table: Vec<(Method, String, Value, &str)> = vec![
        (
            M::POST,
            tasks.clone(),
            new(json!({ "status": "finished" })),
            "invalid_body",
        ),
        (
            M::POST,
            tasks.clone(),
            new(json!({ "priority": "asap" })),
            "invalid_body",
        ),
        (
            M::POST,
            tasks.clone(),
            new(json!({ "due_on": "31/12/2030" })),
            "invalid_due",
        ),
        (
            M::POST,
            tasks.clone(),
            new(json!({ "due_on": "2030-02-30" })),
            "invalid_due",
        ),
        (
            M::POST,
            tasks.clone(),
            new(json!({ "due_on": "" })),
            "invalid_due",
        ),
        (
            M::POST,
            tasks.clone(),
            new(json!({ "labels": many_labels })),
            "invalid_labels",
        ),
        (
            M::POST,
            tasks.clone(),
            new(json!({ "labels": [""] })),
            "invalid_labels",
        ),
        (
            M::POST,
            tasks.clone(),
            new(json!({ "labels": ["l".repeat(41)] })),
            "invalid_labels",
        ),
        (
            M::POST,
            tasks.clone(),
            new(json!({ "title": "" })),
            "invalid_title",
        ),
        (
            M::POST,
            tasks.clone(),
            new(json!({ "title": "   " })),
            "invalid_title",
        ),
        (
            M::POST,
            tasks.clone(),
            new(json!({ "title": "t".repeat(201) })),
            "invalid_title",
        ),
        (
            M::POST,
            tasks.clone(),
            new(json!({ "description": "d".repeat(20_001) })),
            "invalid_description",
        ),
        (
            M::POST,
            tasks.clone(),
            new(json!({ "assignee_id": stranger.id })),
            "invalid_assignee",
        ),
        (
            M::PATCH,
            one.clone(),
            json!({ "status": "finished" }),
            "invalid_body",
        ),
        (
            M::PATCH,
            one.clone(),
            json!({ "priority": "asap" }),
            "invalid_body",
        ),
        (
            M::PATCH,
            one.clone(),
            json!({ "due_on": "someday" }),
            "invalid_due",
        ),
        (
            M::PATCH,
            one.clone(),
            json!({ "labels": many_labels }),
            "invalid_labels",
        ),
        (
            M::PATCH,
            one.clone(),
            json!({ "title": "t".repeat(201) }),
            "invalid_title",
        ),
        (
            M::PATCH,
            one.clone(),
            json!({ "title": "" }),
            "invalid_title",
        ),
        (
            M::PATCH,
            one.clone(),
            json!({ "assignee_id": stranger.id }),
            "invalid_assignee",
        ),
        (
            M::PATCH,
            one.clone(),
            json!({ "title": "Valid", "due_on": "2030-13-01" }),
            "invalid_due",
        ),
        (
            M::POST,
            format!("{one}/move"),
            json!({ "status": "someday" }),
            "invalid_body",
        ),
        (
            M::POST,
            format!("{one}/move"),
            json!({ "after": task }),
            "invalid_position",
        ),
        (
            M::POST,
            format!("{one}/move"),
            json!({ "after": Uuid::now_v7() }),
            "invalid_position",
        ),
        (
            M::POST,
            from_msg.clone(),
            json!({ "title": "t".repeat(201) }),
            "invalid_title",
        ),
        (
            M::POST,
            from_msg.clone(),
            json!({ "due_on": "next week" }),
            "invalid_due",
        ),
        (
            M::POST,
            from_msg.clone(),
            json!({ "labels": [""] }),
            "invalid_labels",
        ),
    ];
    let mut checks = Checks::default();
    for (method, path, body, expected) in table {
        let what = format!(
            "{method} {path} with {}",
            body.to_string().chars().take(120).collect::<String>()
        );
        let answer = s.ann.send(method, &path, Some(body)).await;
        checks.error(&what, &answer, StatusCode::UNPROCESSABLE_ENTITY, expected);
    }
    checks.unchanged(&s, &before).await;
    checks.assert_all_passed();
    let (_, list) = s.ann.get(&format!("/api/v1/tasks?room={room}")).await;
    assert_eq!(
        list.as_array().map(Vec::len),
        Some(1),
        "no task was created: {list}"
    );
    let (_, events) = s.ann.get(&format!("/api/v1/tasks/{task}/events")).await;
    assert_eq!(
        events.as_array().map(Vec::len),
        Some(1),
        "only the creation was recorded: {events}"
    );
}

#[tokio::test]
async fn a_due_date_before_4713_bc_is_refused_with_422_not_a_server_error() {
    // chrono reads signed years down to -262144; PostgreSQL dates stop at 4713 BC.
    let s = setup().await;
    let (room, task, msg) = (s.room, s.task, s.msg);
    let before = s.state().await;
    let ancient = "-10000-01-01";
    use Method as M;
    let table: Vec<(Method, String, Value)> = vec![
        (
            M::POST,
            "/api/v1/tasks".into(),
            json!({ "room_id": room, "title": "Ancient", "due_on": ancient }),
        ),
        (
            M::PATCH,
            format!("/api/v1/tasks/{task}"),
            json!({ "due_on": ancient }),
        ),
        (
            M::POST,
            format!("/api/v1/messages/{msg}/task"),
            json!({ "due_on": ancient }),
        ),
    ];
    let mut checks = Checks::default();
    for (method, path, body) in table {
        let what = format!("{method} {path} with {body}");
        let answer = s.ann.send(method, &path, Some(body)).await;
        checks.error(
            &what,
            &answer,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_due",
        );
    }
    // As a filter, finding nothing or refusing the date are both fine.
    let path = format!("/api/v1/tasks?due_before={ancient}");
    let answer = s.ann.get(&path).await;
    if !answer.0.is_success() {
        checks.refused(&format!("GET {path}"), &answer);
    }
    checks.unchanged(&s, &before).await;
    // The far future (which PostgreSQL can hold) is stored as given or refused, never a 500.
    let far = s
        .ann
        .patch(
            &format!("/api/v1/tasks/{task}"),
            json!({ "due_on": "+99999-12-31" }),
        )
        .await;
    if far.0 == StatusCode::OK {
        assert_eq!(far.1["due_on"], "+99999-12-31", "{}", far.1);
    } else {
        checks.error(
            "PATCH due_on +99999-12-31",
            &far,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_due",
        );
    }
    checks.assert_all_passed();
}
