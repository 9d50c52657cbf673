-- The assistant: the search index over messages and tasks, the indexer's per-room cursors, and
-- the requests people make (questions, summaries, task extraction) with their answers.
create extension if not exists vector;

-- One chunk per indexed source (a user message or a task). `model` and `dims` record which
-- embedder made `embedding`: retrieval only compares vectors of the configured model, and the
-- indexer re-embeds chunks of any other model.
create table knowledge_chunks (
    id          uuid primary key,
    source_kind text not null check (source_kind in ('message', 'task')),
    source_id   uuid not null,
    room_id     uuid not null references rooms (id) on delete cascade,
    text        text not null,
    model       text not null,
    dims        integer not null,
    embedding   vector(384) not null,
    tsv         tsvector generated always as (to_tsvector('english', text)) stored,
    updated_at  timestamptz not null default now(),
    constraint knowledge_chunks_source_key unique (source_kind, source_id)
);
create index knowledge_chunks_embedding_idx on knowledge_chunks using hnsw (embedding vector_cosine_ops);
create index knowledge_chunks_tsv_idx on knowledge_chunks using gin (tsv);
create index knowledge_chunks_room_idx on knowledge_chunks (room_id);

-- How far the indexer has read each room's event log (`room_events.seq`). Index jobs are only
-- hints: the indexer reads past this cursor, so a lost hint is caught up by the next one.
create table assistant_index_cursors (
    room_id    uuid primary key references rooms (id) on delete cascade,
    seq        bigint not null default 0,
    updated_at timestamptz not null default now()
);

create table assistant_requests (
    id                uuid primary key,
    user_id           uuid not null references users (id) on delete cascade,
    kind              text not null check (kind in ('ask', 'summary', 'extract')),
    status            text not null default 'queued' check (status in ('queued', 'running', 'done', 'failed')),
    question          text not null,
    room_id           uuid references rooms (id) on delete cascade,
    post              boolean not null default false,
    message_ids       uuid[] not null default '{}',
    answer            text,
    citations         jsonb not null default '[]',
    proposals         jsonb,
    error_code        text,
    error_message     text,
    model             text,
    posted_message_id uuid references messages (id) on delete set null,
    created_at        timestamptz not null default now(),
    started_at        timestamptz,
    finished_at       timestamptz
);
create index assistant_requests_user_idx on assistant_requests (user_id, created_at desc);
