-- Attachments: files and images uploaded to a room, then referenced by one message or attached
-- to one task. The bytes live on disk under `attachments.dir`, named by the attachment's id;
-- this row is what authorizes a download (the viewer must be a member of `room_id`).
create table attachments (
    id           uuid primary key,
    room_id      uuid not null references rooms (id) on delete cascade,
    uploader_id  uuid references users (id) on delete set null,
    message_id   uuid references messages (id) on delete set null,
    task_id      uuid references tasks (id) on delete set null,
    filename     text not null,
    content_type text not null,
    size_bytes   bigint not null check (size_bytes >= 0),
    sha256       text not null,
    width        integer,
    height       integer,
    has_thumbnail boolean not null default false,
    created_at   timestamptz not null default now()
);
create index attachments_message_idx on attachments (message_id) where message_id is not null;
create index attachments_task_idx on attachments (task_id) where task_id is not null;
create index attachments_room_idx on attachments (room_id);

-- Invite links to a group room: the token is shown once, only its SHA-256 is kept.
create table room_invites (
    id          uuid primary key,
    room_id     uuid not null references rooms (id) on delete cascade,
    created_by  uuid references users (id) on delete set null,
    token_hash  bytea not null unique,
    max_uses    integer check (max_uses is null or max_uses > 0),
    uses        integer not null default 0,
    expires_at  timestamptz not null,
    revoked_at  timestamptz,
    created_at  timestamptz not null default now()
);
create index room_invites_room_idx on room_invites (room_id, created_at desc);
