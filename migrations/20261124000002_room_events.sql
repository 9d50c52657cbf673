-- The room event log: every durable change a member of a room sees (a message, an edit, a
-- deletion, a reaction, and through system messages task and membership changes) takes the
-- room's next sequence number and is written here, in the same transaction, as the frame the
-- real-time stream sends. Resuming a stream is `seq > n` on this table: gap-free by construction.
create table room_events (
    room_id    uuid not null references rooms (id) on delete cascade,
    seq        bigint not null,
    type       text not null,
    data       jsonb not null,
    created_at timestamptz not null default now(),
    primary key (room_id, seq)
);

insert into room_events (room_id, seq, type, data)
select m.room_id, m.seq, 'message.created', jsonb_build_object('message', to_jsonb(m) - 'tsv')
from messages m;
