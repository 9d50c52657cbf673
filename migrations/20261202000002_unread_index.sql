-- The messages a room list counts as unread: a room's timeline past the reader's marker, without
-- system messages and tombstones, with the author to leave out the reader's own. With the author
-- in the index the count is read from the index alone, not from one table page per message
-- (the room list was 12% of PostgreSQL's time at scale 0.5, two thirds of it reading those pages:
-- docs/capacity.md).
create index messages_unread_idx on messages (room_id, seq) include (author_id)
    where task_id is null and kind <> 'system' and deleted_at is null;
