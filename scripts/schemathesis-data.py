#!/usr/bin/env python3
"""schemathesis-data.py BASE_URL CONFIG_FILE — the data a Schemathesis run works on, made through
the API of the node at BASE_URL, and the Schemathesis config file that points the run at it.

Three accounts: the run's own (the first, so an administrator), a friend who shares its group
rooms, and someone whose friend request waits for its answer. Then a room, a message with a
reaction, a task and an assistant request. Generated requests use these ids most of the time
(dictionaries bound to the path and query parameters that take them), so that handlers run past
their "not found"; the rest of the time Schemathesis makes up its own. Prints the run's session
token (the config refers to it as ${FLOWLY_SCHEMATHESIS_TOKEN}, so it is written nowhere).
Used by scripts/schemathesis.sh; standard library only.
"""

import json
import secrets
import sys
import urllib.request

BASE, CONFIG = sys.argv[1], sys.argv[2]
# How often a bound parameter takes a real id rather than a generated value.
REAL = 0.8


def api(method, path, body=None, token=None):
    request = urllib.request.Request(BASE + "/api/v1" + path, method=method)
    if body is not None:
        request.data = json.dumps(body).encode()
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", "Bearer " + token)
    with urllib.request.urlopen(request, timeout=30) as response:
        text = response.read()
    return json.loads(text) if text else None


def register(username):
    password = secrets.token_urlsafe(18)
    session = api("POST", "/auth/register",
                  {"username": username, "display_name": username.title(), "password": password})
    return session["token"], session["user"]["id"]


me_token, me = register("schemathesis")
friend_token, friend = register("st-friend")
asker_token, asker = register("st-asker")

request = api("POST", "/friends/requests", {"user_id": friend}, me_token)
api("POST", f"/friends/requests/{request['request']['id']}/accept", None, friend_token)
pending = api("POST", "/friends/requests", {"user_id": me}, asker_token)


def room(name):
    return api("POST", "/rooms", {"name": name, "topic": "the launch", "members": [friend]}, me_token)["id"]


def message(room_id):
    body = {"body": "Backups failed last night @st-friend, can you look?"}
    return api("POST", f"/rooms/{room_id}/messages", body, me_token)["id"]


def task(room_id):
    body = {"title": "Fix the backups", "room_id": room_id, "assignee_id": friend, "labels": ["ops"]}
    return api("POST", "/tasks", body, me_token)["id"]


launch = room("Launch")
note = message(launch)
api("PUT", f"/messages/{note}/reactions/%F0%9F%91%8D", None, friend_token)
ask = api("POST", "/assistant/ask", {"question": "What failed last night?", "room": launch}, me_token)

dictionaries = {
    "room": launch,
    "message": note,
    "task": task(launch),
    "user": friend,
    "stranger": asker,
    "assistant_request": ask["request"]["id"],
    "friend_request": pending["request"]["id"],
    "emoji": "\U0001F44D",
}
# (operation ids, {parameter: dictionary}). The operations that remove or end these (leaving the
# room, deleting the message...) run after all the others (scripts/schemathesis.sh).
bindings = [
    (["get_room", "update_room", "list_members", "invite_member", "list_messages", "send_message",
      "mark_read", "summarise_room", "leave_room", "remove_member", "transfer_ownership"],
     {"path.id": "room", "path.user_id": "user"}),
    (["get_message", "edit_message", "add_reaction", "remove_reaction", "list_replies", "task_from_message",
      "delete_message"], {"path.id": "message", "path.emoji": "emoji"}),
    (["get_task", "update_task", "complete_task", "reopen_task", "task_events", "list_task_messages",
      "send_task_message", "move_task", "delete_task"], {"path.id": "task"}),
    (["get_user"], {"path.id": "user"}),
    (["admin_disable_user", "admin_enable_user"], {"path.id": "stranger"}),
    (["block_user", "unblock_user", "unfriend"], {"path.user_id": "user"}),
    (["accept_request", "decline_request", "cancel_request"], {"path.id": "friend_request"}),
    (["get_request", "accept_proposal"], {"path.id": "assistant_request"}),
    (["search", "list_tasks"], {"query.room": "room"}),
]


def toml_string(value):
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a TOML basic string


lines = [
    "[auth.openapi.bearer]",
    'bearer = "${FLOWLY_SCHEMATHESIS_TOKEN}"',
    "",
    "[dictionaries]",
]
lines += [f"{name} = {{ values = [{toml_string(value)}] }}" for name, value in dictionaries.items()]
for operations, params in bindings:
    bound = ", ".join(f'{toml_string(param)} = {{ dictionary = "{name}", probability = {REAL} }}'
                      for param, name in params.items())
    lines += ["", "[[operations]]", f"include-operation-id = {json.dumps(operations)}", f"parameters = {{ {bound} }}"]
with open(CONFIG, "w", encoding="utf-8") as config:
    config.write("\n".join(lines) + "\n")
print(me_token)
