-- The text of text files and PDFs, kept with the attachment for the assistant's index (null: the
-- file has none, or is of another type).
alter table attachments add column text text;
create index attachments_text_room_idx on attachments (room_id) where text is not null;

-- A file's text is indexed in parts (`part` 0, 1, …); messages and tasks are one part, 0.
alter table knowledge_chunks add column part integer not null default 0 check (part >= 0);
alter table knowledge_chunks drop constraint knowledge_chunks_source_kind_check;
alter table knowledge_chunks add constraint knowledge_chunks_source_kind_check
    check (source_kind in ('message', 'task', 'attachment'));
alter table knowledge_chunks drop constraint knowledge_chunks_source_key;
alter table knowledge_chunks add constraint knowledge_chunks_source_key unique (source_kind, source_id, part);
-- The indexer looks for files' chunks whose attachment is gone on every pass over a room.
create index knowledge_chunks_attachment_room_idx on knowledge_chunks (room_id) where source_kind = 'attachment';
