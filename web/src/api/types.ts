// Shapes of the Flowly REST API and of the WebSocket frames.
//
// The REST shapes come from the server's OpenAPI document: `web/openapi.json` (written by
// `flowly openapi`) → `schema.gen.ts` (by `npm run gen:api`; never edit it). After an API change:
//   cargo run --bin flowly -- openapi > web/openapi.json && (cd web && npm run gen:api)
// This file only gives them short names, and narrows the few fields the document can only call
// "object" or "string": JSON the server builds itself, and text columns with a fixed set of values.
// The WebSocket frames are not in the document: they follow docs/protocol.md.

import type { components, operations } from './schema.gen';

type Schemas = components['schemas'];
type QueryOf<Op extends keyof operations> = NonNullable<operations[Op]['parameters']['query']>;

export type User = Schemas['User'];
export type SessionResponse = Schemas['SessionResponse'];
export type Session = Schemas['Session'];
export type SessionList = Schemas['SessionList'];
export type Member = Schemas['Member'];
export type MessagePage = Omit<Schemas['MessagePage'], 'messages'> & { messages: Message[] };
export type SearchHit = Schemas['SearchHit'];
export type FriendRequest = Schemas['FriendRequest'];
export type FriendRequestResult = Schemas['FriendRequestResult'];
export type ReadState = Schemas['ReadState'];
export type TaskStatus = Schemas['TaskStatus'];
export type Priority = Schemas['Priority'];
export type NewTask = Schemas['NewTask'];
export type TaskUpdate = Schemas['TaskUpdate'];
export type TaskFromMessage = Schemas['TaskFromMessage'];
export type ProfileUpdate = Schemas['ProfileUpdate'];
export type RoomUpdate = Schemas['RoomUpdate'];
export type NewFriendRequest = Schemas['NewFriendRequest'];
export type AcceptProposal = Schemas['AcceptProposal'];

/** `before`/`after`/`limit` of a page of messages (a room's, a thread's, a task's discussion). */
export type PageQuery = QueryOf<'list_messages'>;
/** The filters of `GET /tasks`. */
export type TaskQuery = QueryOf<'list_tasks'>;

export const STATUSES: TaskStatus[] = ['todo', 'doing', 'blocked', 'done'];
export const PRIORITIES: Priority[] = ['low', 'normal', 'high', 'urgent'];

export type RoomKind = Schemas['RoomKind'];
export type Role = Schemas['Role'];
export type MessageKind = Schemas['MessageKind'];
export type TaskEventKind = Schemas['TaskEventKind'];

/** The newest message of a room, as `GET /rooms` builds it. */
export interface LastMessage {
  id: string;
  seq: number;
  kind: MessageKind;
  body: string;
  author_id: string | null;
  author_display_name: string | null;
  created_at: string;
}

export interface Room extends Omit<Schemas['Room'], 'last_message'> {
  last_message?: LastMessage | null;
}

/** A reaction as REST returns it: whether the caller is among those who reacted. */
export type Reaction = Schemas['ReactionCount'];

export interface Message extends Omit<Schemas['Message'], 'data' | 'attachments'> {
  /** What a system message is about (for example who joined). */
  data?: Record<string, unknown> | null;
  /** Files sent with it; absent from stream events recorded before attachments existed. */
  attachments?: Schemas['Attachment'][];
}

/** A message as a task keeps it from when the task was made. */
export interface SnapshotMessage {
  id: string;
  seq: number;
  author_id?: string | null;
  author_username?: string | null;
  author_display_name?: string | null;
  body: string;
  created_at: string;
}

export interface Task extends Omit<Schemas['Task'], 'source_snapshot'> {
  source_snapshot?: SnapshotMessage[] | null;
}

export interface TaskEvent extends Omit<Schemas['TaskEvent'], 'changes'> {
  /** What changed: `{"field": {"from": …, "to": …}}` (a new task: its first values). */
  changes: Record<string, unknown>;
}

export interface PendingRequest extends Omit<Schemas['PendingRequest'], 'direction'> {
  direction: 'incoming' | 'outgoing';
}

// ----- assistant (docs/protocol.md "Assistant") -----

export type AssistantKind = 'ask' | 'summary' | 'extract';
export type AssistantStatus = 'queued' | 'running' | 'done' | 'failed';

/** A passage an answer used; `n` is the number cited in the text as `[n]`. */
export interface Citation extends Omit<Schemas['Citation'], 'kind'> {
  kind: 'message' | 'task' | 'attachment';
}

/** One field of a proposed task and the message it came from. */
export interface Cited<T> {
  value: T;
  cite: string | null;
}

export interface Proposal extends Omit<Schemas['Proposal'], 'title' | 'assignee' | 'due'> {
  title: Cited<string>;
  assignee: Cited<{ id: string; username: string } | null>;
  /** `YYYY-MM-DD` or null. */
  due: Cited<string | null>;
}

export interface AssistantRequest extends Omit<Schemas['AssistantRequest'], 'kind' | 'status' | 'citations' | 'proposals'> {
  kind: AssistantKind;
  status: AssistantStatus;
  citations: Citation[];
  proposals?: Proposal[] | null;
}

// ----- the WebSocket stream (docs/protocol.md) -----

export type PresenceStatus = 'online' | 'away' | 'offline';

/** A server frame on /api/v1/ws. */
export interface Frame {
  type: string;
  room?: string;
  seq?: number;
  data?: any;
}

/** A reaction as stream frames carry it: who reacted instead of `me`. */
export interface StreamReaction {
  emoji: string;
  count: number;
  users: string[];
}

/** A message as stream frames carry it. */
export interface StreamMessage extends Omit<Message, 'reactions'> {
  reactions: StreamReaction[];
}
