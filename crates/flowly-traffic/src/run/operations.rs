//! The REST operations a simulated user does: each [`Op`] as the calls a client makes, on rooms,
//! messages and tasks the user has seen, plus logging in over the API.

use std::{
    sync::atomic::Ordering,
    time::{Duration, Instant},
};

use rand::{Rng, rngs::StdRng, seq::SliceRandom};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{Ctx, STAMP, SimUser, unix_micros};
use crate::{
    client,
    manifest::RoomClass,
    profile::Op,
    schedule::weighted,
    stats::Outcome,
    words::{WORDS, sentence},
};

/// How long a send is retried (with its `client_id`) before it counts as failed.
pub(super) const SEND_RETRY_FOR: Duration = Duration::from_secs(30);

/// Sends a message as a careful client does: a send that failed for a reason that may pass (a
/// timeout, the connection, a 5xx) is sent again with the same `client_id`, which the server
/// makes idempotent, until it is acknowledged or `SEND_RETRY_FOR` passes.
async fn send_until_acknowledged(
    ctx: &Ctx,
    user: &SimUser,
    room: Uuid,
    path: &str,
    body: &Value,
) -> (Outcome, Option<client::Reply>) {
    let give_up = Instant::now() + SEND_RETRY_FOR;
    let mut wait = Duration::from_millis(250);
    let mut first = true;
    loop {
        let (outcome, reply) = as_outcome(ctx.call(user, Method::POST, path, Some(body)).await);
        if let Some(reply) = &reply
            && reply.status.is_success()
            && let Some(id) = reply.body["id"].as_str().and_then(|s| s.parse().ok())
        {
            // 200 (not 201) answers a `client_id` the server already has: right for a retry, a
            // generator bug on the first attempt (its message is an old one, never delivered now).
            if first && reply.status == StatusCode::OK {
                ctx.checker.client_id_reused(id);
            }
            ctx.checker.acknowledged(room, id);
        }
        first = false;
        let transient = match &reply {
            Some(reply) => reply.status.is_server_error(),
            None => true,
        };
        if !transient || Instant::now() + wait >= give_up {
            return (outcome, reply);
        }
        ctx.checker.retried();
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(Duration::from_secs(2));
    }
}

pub(super) async fn login(ctx: &Ctx, user: &SimUser) -> Outcome {
    let body = json!({ "username": user.username, "password": ctx.password });
    match client::call(
        &ctx.http[user.http],
        &ctx.opts.targets[user.target].base,
        None,
        Method::POST,
        "/auth/login",
        Some(&body),
        ctx.request_timeout,
    )
    .await
    {
        Ok(reply) if reply.status == StatusCode::OK => match reply.body["token"].as_str() {
            Some(token) => {
                *user.token.write().unwrap_or_else(|e| e.into_inner()) = Some(token.to_owned());
                Outcome::Ok
            }
            None => Outcome::Error("no_token".into()),
        },
        Ok(reply) => reply.outcome(),
        Err(outcome) => outcome,
    }
}

/// A room of the user's chosen by class weight (falls back to any room).
fn pick_room(ctx: &Ctx, user: &SimUser, rng: &mut StdRng, with_messages: bool) -> Option<Uuid> {
    let state = user.state();
    let usable: Vec<(Uuid, RoomClass)> = state
        .rooms
        .iter()
        .filter(|(r, _)| !with_messages || state.seqs.get(r).copied().unwrap_or(0) > 0)
        .copied()
        .collect();
    if usable.is_empty() {
        return None;
    }
    let w = ctx.opts.profile.population.room_weights;
    let classes = [RoomClass::Dm, RoomClass::Team, RoomClass::Channel];
    let weights: Vec<f64> = classes
        .iter()
        .zip([w.dm, w.team, w.channel])
        .map(|(c, w)| {
            if usable.iter().any(|(_, k)| k == c) {
                w
            } else {
                0.0
            }
        })
        .collect();
    let class = weighted(rng, &weights).map(|i| classes[i]);
    let choices: Vec<Uuid> = usable
        .iter()
        .filter(|(_, k)| class.is_none_or(|c| *k == c))
        .map(|(r, _)| *r)
        .collect();
    choices.choose(rng).copied()
}

fn ids_in(body: &Value, key: &str) -> Vec<(Uuid, String)> {
    body[key]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|t| {
                    Some((
                        t["id"].as_str()?.parse().ok()?,
                        t["status"].as_str().unwrap_or("").to_owned(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn as_outcome(result: Result<client::Reply, Outcome>) -> (Outcome, Option<client::Reply>) {
    match result {
        Ok(reply) => (reply.outcome(), Some(reply)),
        Err(outcome) => (outcome, None),
    }
}

/// Does one operation as `user`. `None`: the user has nothing to do it on yet (not counted).
pub(super) async fn perform(
    ctx: &Ctx,
    user: &SimUser,
    op: Op,
    rng: &mut StdRng,
) -> Option<Outcome> {
    if user.state().rooms.is_empty() && op != Op::Login {
        ctx.count("skipped_no_socket_yet");
        return None;
    }
    let get =
        |path: String| async move { as_outcome(ctx.call(user, Method::GET, &path, None).await) };
    let (outcome, reply) = match op {
        Op::History => {
            let room = pick_room(ctx, user, rng, false)?;
            get(format!("/rooms/{room}/messages?limit=50")).await
        }
        Op::RoomList => get("/rooms".into()).await,
        Op::Me => get("/me".into()).await,
        Op::Friends => get("/friends".into()).await,
        Op::Mentions => get("/mentions".into()).await,
        Op::Search => {
            let q = WORDS[rng.gen_range(0..WORDS.len())];
            get(format!("/search?q={q}&limit=20")).await
        }
        Op::UsersSearch => {
            let q = format!("load{:03}", rng.gen_range(0..1000));
            get(format!("/users?q={q}")).await
        }
        Op::MarkRead => {
            let room = pick_room(ctx, user, rng, true)?;
            let seq = user.state().seqs.get(&room).copied().unwrap_or(0);
            let body = json!({ "seq": seq });
            as_outcome(
                ctx.call(
                    user,
                    Method::POST,
                    &format!("/rooms/{room}/read"),
                    Some(&body),
                )
                .await,
            )
        }
        Op::SendMessage => {
            let room = pick_room(ctx, user, rng, false)?;
            let n = ctx.msg_counter.fetch_add(1, Ordering::Relaxed);
            let words = rng.gen_range(3..16);
            // With `verify`, the body names the target it was sent through (for the live
            // recovery probes), after the send time.
            let via = if ctx.opts.verify {
                format!(" @{}", user.target)
            } else {
                String::new()
            };
            let body = json!({
                "body": format!("{STAMP}{}{via} {}", unix_micros(), sentence(rng, words)),
                "client_id": format!("t{}-{}-{n}", ctx.run_tag, ctx.opts.shard),
            });
            let path = format!("/rooms/{room}/messages");
            if ctx.opts.verify {
                send_until_acknowledged(ctx, user, room, &path, &body).await
            } else {
                as_outcome(ctx.call(user, Method::POST, &path, Some(&body)).await)
            }
        }
        Op::React => {
            let target = {
                let state = user.state();
                if state.recent.is_empty() {
                    None
                } else {
                    state
                        .recent
                        .get(rng.gen_range(0..state.recent.len()))
                        .copied()
                }
            };
            let Some((_, message)) = target else {
                ctx.count("skipped_react_no_message");
                return None;
            };
            let emoji = [":+1:", ":tada:", ":eyes:", ":heart:", ":rocket:"][rng.gen_range(0..5)];
            as_outcome(
                ctx.call(
                    user,
                    Method::PUT,
                    &format!("/messages/{message}/reactions/{emoji}"),
                    None,
                )
                .await,
            )
        }
        Op::ListTasks => {
            let team = user.state().team?;
            let result = ctx
                .call(
                    user,
                    Method::GET,
                    &format!("/tasks?room={team}&limit=50"),
                    None,
                )
                .await;
            if let Ok(reply) = &result {
                let found = ids_in(&reply.body, "tasks");
                let found = if found.is_empty() {
                    // A bare array.
                    ids_in(&json!({ "tasks": reply.body }), "tasks")
                } else {
                    found
                };
                if !found.is_empty() {
                    let mut state = user.state();
                    state.tasks = found
                        .into_iter()
                        .filter(|(_, s)| s != "done")
                        .map(|(id, _)| id)
                        .collect();
                }
            }
            as_outcome(result)
        }
        Op::GetTask => {
            let task = {
                let state = user.state();
                state.tasks.choose(rng).copied()
            }?;
            get(format!("/tasks/{task}")).await
        }
        Op::CreateTask => {
            let team = user.state().team?;
            let words = rng.gen_range(2..7);
            let body = json!({
                "room_id": team,
                "title": sentence(rng, words),
                "priority": (["low", "normal", "high"][rng.gen_range(0..3)]),
            });
            let result = ctx.call(user, Method::POST, "/tasks", Some(&body)).await;
            if let Ok(reply) = &result
                && let Some(id) = reply.body["id"].as_str().and_then(|s| s.parse().ok())
            {
                let mut state = user.state();
                state.own_open.push(id);
                state.tasks.push(id);
            }
            as_outcome(result)
        }
        Op::UpdateTask => {
            let task = {
                let state = user.state();
                state
                    .own_open
                    .choose(rng)
                    .or(state.tasks.choose(rng))
                    .copied()
            }?;
            let body = json!({
                "status": (["doing", "blocked", "todo"][rng.gen_range(0..3)]),
                "description": sentence(rng, 8),
            });
            as_outcome(
                ctx.call(user, Method::PATCH, &format!("/tasks/{task}"), Some(&body))
                    .await,
            )
        }
        Op::CompleteTask => {
            let task = {
                let mut state = user.state();
                if state.own_open.is_empty() {
                    let t = state.tasks.choose(rng).copied();
                    if let Some(t) = t {
                        state.tasks.retain(|x| *x != t);
                    }
                    t
                } else {
                    let i = rng.gen_range(0..state.own_open.len());
                    let t = state.own_open.swap_remove(i);
                    state.tasks.retain(|x| *x != t);
                    Some(t)
                }
            }?;
            as_outcome(
                ctx.call(user, Method::POST, &format!("/tasks/{task}/complete"), None)
                    .await,
            )
        }
        Op::MessageToTask => {
            let target = {
                let mut state = user.state();
                let n = state.recent.len();
                if n == 0 {
                    None
                } else {
                    state.recent.remove(rng.gen_range(0..n))
                }
            };
            let Some((_, message)) = target else {
                ctx.count("skipped_task_no_message");
                return None;
            };
            let body = json!({ "priority": "normal" });
            as_outcome(
                ctx.call(
                    user,
                    Method::POST,
                    &format!("/messages/{message}/task"),
                    Some(&body),
                )
                .await,
            )
        }
        Op::AssistantAsk => {
            let room = pick_room(ctx, user, rng, false);
            let words = rng.gen_range(3..8);
            let mut body = json!({ "question": format!("what did we decide about {}?", sentence(rng, words)) });
            if let Some(room) = room {
                body["room"] = json!(room);
                // Posted into the room: what a job did is then in the room's stream, once.
                body["post"] = json!(ctx.opts.verify);
            }
            let result = ctx
                .call(user, Method::POST, "/assistant/ask", Some(&body))
                .await;
            if let Ok(reply) = &result {
                if reply.status == StatusCode::NOT_FOUND && reply.code() == "route_not_found" {
                    ctx.assistant_missing.store(true, Ordering::Relaxed);
                    ctx.count("assistant_missing");
                    return None;
                }
                if reply.status.is_success() {
                    ctx.assistant_seen.store(true, Ordering::Relaxed);
                    if ctx.opts.verify
                        && let Some(id) = reply.body["request"]["id"]
                            .as_str()
                            .and_then(|s| s.parse().ok())
                    {
                        ctx.checker.asked(id);
                    }
                }
            }
            as_outcome(result)
        }
        Op::Login => (login(ctx, user).await, None),
    };
    drop(reply);
    Some(outcome)
}
