// Shapes of the Flowly REST API (see /api/v1/openapi.json) and WebSocket frames (docs/protocol.md).

export interface User {
  id: string;
  username: string;
  display_name: string;
  bio: string;
  is_admin: boolean;
  disabled: boolean;
  created_at: string;
}

export interface SessionResponse {
  user: User;
  session_id: string;
  token: string;
  csrf_token: string;
}

export interface Session {
  id: string;
  created_at: string;
  expires_at: string;
  last_seen_at: string;
  ip: string;
  user_agent: string;
}

export interface SessionList {
  current: string;
  sessions: Session[];
}

export type RoomKind = 'dm' | 'group' | 'self';

export interface LastMessage {
  id: string;
  seq: number;
  kind: string;
  body: string;
  author_id: string | null;
  author_display_name: string | null;
  created_at: string;
}

export interface Room {
  id: string;
  kind: RoomKind;
  name: string;
  topic: string;
  role: string;
  dm_user_id?: string | null;
  dm_username?: string | null;
  member_count: number;
  last_seq: number;
  last_read_seq: number;
  unread_count: number;
  unread_mentions: number;
  last_message?: LastMessage | null;
  created_at: string;
  updated_at: string;
}

export interface Member {
  user_id: string;
  username: string;
  display_name: string;
  role: string;
  joined_at: string;
  last_read_seq: number;
}

/** Reactions as REST returns them (`me`) or as stream frames carry them (`users`). */
export interface Reaction {
  emoji: string;
  count: number;
  me?: boolean;
  users?: string[];
}

export interface Message {
  id: string;
  room_id: string;
  seq: number;
  author_id?: string | null;
  author_username?: string | null;
  author_display_name?: string | null;
  kind: 'user' | 'system' | string;
  body: string;
  data?: Record<string, unknown> | null;
  reply_to?: string | null;
  task_id?: string | null;
  ref_task_id?: string | null;
  client_id?: string | null;
  edited_at?: string | null;
  deleted_at?: string | null;
  created_at: string;
  reactions: Reaction[];
  reply_count: number;
}

export interface MessagePage {
  messages: Message[];
  has_more: boolean;
}

export type TaskStatus = 'todo' | 'doing' | 'blocked' | 'done';
export type Priority = 'low' | 'normal' | 'high' | 'urgent';
export const STATUSES: TaskStatus[] = ['todo', 'doing', 'blocked', 'done'];
export const PRIORITIES: Priority[] = ['low', 'normal', 'high', 'urgent'];

export interface SnapshotMessage {
  id: string;
  seq: number;
  author_id?: string | null;
  author_username?: string | null;
  author_display_name?: string | null;
  body: string;
  created_at: string;
}

export interface Task {
  id: string;
  room_id: string;
  room_kind: RoomKind;
  creator_id?: string | null;
  title: string;
  description: string;
  status: TaskStatus;
  priority: Priority;
  assignee_id?: string | null;
  assignee_username?: string | null;
  assignee_display_name?: string | null;
  due_on?: string | null;
  labels: string[];
  position: number;
  source_message_id?: string | null;
  source_snapshot?: SnapshotMessage[] | null;
  completed_at?: string | null;
  created_at: string;
  updated_at: string;
  comment_count: number;
}

export interface TaskEvent {
  id: string;
  task_id: string;
  kind: string;
  actor_id?: string | null;
  actor_display_name?: string | null;
  changes: Record<string, unknown>;
  message_id?: string | null;
  created_at: string;
}

export interface SearchHit {
  message_id: string;
  room_id: string;
  room_name: string;
  seq: number;
  snippet: string;
  rank: number;
  author_id?: string | null;
  author_display_name?: string | null;
  task_id?: string | null;
  created_at: string;
}

export interface FriendRequest {
  id: string;
  from_user: string;
  to_user: string;
  status: string;
  created_at: string;
  responded_at?: string | null;
}

export interface PendingRequest {
  id: string;
  direction: 'incoming' | 'outgoing' | string;
  requested_at: string;
  user: User;
}

export type PresenceStatus = 'online' | 'away' | 'offline';

/** A server frame on /api/v1/ws. */
export interface Frame {
  type: string;
  room?: string;
  seq?: number;
  data?: any;
}

// ----- assistant (docs/protocol.md "Assistant") -----

export type AssistantKind = 'ask' | 'summary' | 'extract';
export type AssistantStatus = 'queued' | 'running' | 'done' | 'failed';

/** A passage an answer used; `n` is the number cited in the text as `[n]`. */
export interface Citation {
  n: number;
  kind: 'message' | 'task';
  id: string;
  room: string;
  room_name: string;
  seq: number | null;
  excerpt: string;
  author: string | null;
  created_at: string;
}

/** One field of a proposed task and the message it came from. */
export interface Cited<T> {
  value: T;
  cite: string | null;
}

export interface Proposal {
  n: number;
  title: Cited<string>;
  assignee: Cited<{ id: string; username: string } | null>;
  due: Cited<string | null>;
  accepted_task: string | null;
}

export interface AssistantRequest {
  id: string;
  kind: AssistantKind;
  status: AssistantStatus;
  question: string;
  room: string | null;
  post: boolean;
  answer: string | null;
  citations: Citation[];
  proposals: Proposal[] | null;
  error: { code: string; message: string } | null;
  model: string | null;
  created_at: string;
  finished_at: string | null;
}
