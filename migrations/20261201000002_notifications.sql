-- Notifications: a member may mute a room (no notifications for its messages), and a user's
-- browsers register Web Push subscriptions that the server pushes to when they have no socket open.
alter table room_members add column muted boolean not null default false;

-- One browser's push subscription (RFC 8030 endpoint, RFC 8291 keys). The endpoint is unique: a
-- browser that subscribes again (or as another user) replaces its row.
create table push_subscriptions (
    id         uuid primary key,
    user_id    uuid not null references users (id) on delete cascade,
    endpoint   text not null constraint push_subscriptions_endpoint_key unique,
    p256dh     text not null,
    auth       text not null,
    created_at timestamptz not null default now()
);
create index push_subscriptions_user_idx on push_subscriptions (user_id);

-- The server's VAPID key pair (RFC 8292), made by the first node that starts without one
-- configured; every node signs with the same key. Only one row.
create table push_vapid (
    id          smallint primary key default 1 check (id = 1),
    private_key text not null,
    created_at  timestamptz not null default now()
);
