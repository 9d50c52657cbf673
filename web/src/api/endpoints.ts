// One typed function per REST endpoint the client uses.
import { del, get, patch, post, put } from './client';
import type {
  AcceptProposal, AssistantRequest, FriendRequest, FriendRequestResult, Member, Message, MessagePage, NewFriendRequest,
  NewTask, PageQuery, PendingRequest, ProfileUpdate, ReadState, Room, SearchHit, SessionList, SessionResponse, Task,
  TaskEvent, TaskFromMessage, TaskQuery, TaskStatus, TaskUpdate, User,
} from './types';

const enc = encodeURIComponent;

export const api = {
  register: (username: string, display_name: string, password: string) =>
    post<SessionResponse>('auth/register', { username, display_name, password }),
  login: (username: string, password: string) => post<SessionResponse>('auth/login', { username, password }),
  logout: () => post<void>('auth/logout'),
  logoutAll: () => post<void>('auth/logout-all'),

  me: () => get<User>('me'),
  updateMe: (body: ProfileUpdate) => patch<User>('me', body),
  changePassword: (current_password: string, new_password: string) =>
    post<void>('me/password', { current_password, new_password }),
  sessions: () => get<SessionList>('me/sessions'),
  revokeSession: (id: string) => del<void>(`me/sessions/${id}`),

  searchUsers: (q: string) => get<User[]>('users', { q }),
  user: (id: string) => get<User>(`users/${id}`),
  adminUsers: (after?: string, limit = 100) => get<User[]>('admin/users', { after, limit }),
  disableUser: (id: string) => post<User>(`admin/users/${id}/disable`),
  enableUser: (id: string) => post<User>(`admin/users/${id}/enable`),

  friends: () => get<User[]>('friends'),
  removeFriend: (userId: string) => del<void>(`friends/${userId}`),
  friendRequests: () => get<PendingRequest[]>('friends/requests'),
  sendFriendRequest: (user: NewFriendRequest) => post<FriendRequestResult>('friends/requests', user),
  acceptRequest: (id: string) => post<FriendRequest>(`friends/requests/${id}/accept`),
  declineRequest: (id: string) => post<FriendRequest>(`friends/requests/${id}/decline`),
  cancelRequest: (id: string) => del<FriendRequest>(`friends/requests/${id}`),
  blocks: () => get<User[]>('blocks'),
  block: (userId: string) => put<void>(`blocks/${userId}`),
  unblock: (userId: string) => del<void>(`blocks/${userId}`),

  rooms: () => get<Room[]>('rooms'),
  room: (id: string) => get<Room>(`rooms/${id}`),
  createRoom: (name: string, topic: string, members: string[]) => post<Room>('rooms', { name, topic, members }),
  updateRoom: (id: string, body: { name?: string; topic?: string }) => patch<Room>(`rooms/${id}`, body),
  openDm: (user_id: string) => post<Room>('dms', { user_id }),
  members: (id: string) => get<Member[]>(`rooms/${id}/members`),
  addMember: (id: string, user_id: string) => post<Member[]>(`rooms/${id}/members`, { user_id }),
  removeMember: (id: string, userId: string) => del<void>(`rooms/${id}/members/${userId}`),
  leaveRoom: (id: string) => post<void>(`rooms/${id}/leave`),
  markRead: (id: string, seq: number) => post<ReadState>(`rooms/${id}/read`, { seq }),

  messages: (roomId: string, page: PageQuery) => get<MessagePage>(`rooms/${roomId}/messages`, page),
  sendMessage: (roomId: string, body: string, client_id: string, reply_to?: string | null) =>
    post<Message>(`rooms/${roomId}/messages`, { body, client_id, reply_to: reply_to ?? undefined }),
  replies: (id: string, page: PageQuery = {}) => get<MessagePage>(`messages/${id}/replies`, page),
  message: (id: string) => get<Message>(`messages/${id}`),
  editMessage: (id: string, body: string) => patch<Message>(`messages/${id}`, { body }),
  deleteMessage: (id: string) => del<Message>(`messages/${id}`),
  react: (id: string, emoji: string) => put<Message>(`messages/${id}/reactions/${enc(emoji)}`),
  unreact: (id: string, emoji: string) => del<Message>(`messages/${id}/reactions/${enc(emoji)}`),
  search: (q: string, room?: string) => get<SearchHit[]>('search', { q, room, limit: 50 }),
  mentions: () => get<Message[]>('mentions', { limit: 50 }),

  tasks: (filter: TaskQuery) => get<Task[]>('tasks', filter),
  task: (id: string) => get<Task>(`tasks/${id}`),
  createTask: (body: NewTask) => post<Task>('tasks', body),
  taskFromMessage: (messageId: string, body: TaskFromMessage) => post<Task>(`messages/${messageId}/task`, body),
  updateTask: (id: string, body: TaskUpdate) => patch<Task>(`tasks/${id}`, body),
  deleteTask: (id: string) => del<void>(`tasks/${id}`),
  moveTask: (id: string, status: TaskStatus, after: string | null) => post<Task>(`tasks/${id}/move`, { status, after }),
  completeTask: (id: string) => post<Task>(`tasks/${id}/complete`),
  reopenTask: (id: string) => post<Task>(`tasks/${id}/reopen`),
  taskEvents: (id: string) => get<TaskEvent[]>(`tasks/${id}/events`),
  taskMessages: (id: string, page: PageQuery) => get<MessagePage>(`tasks/${id}/messages`, page),
  sendTaskMessage: (id: string, body: string, client_id: string, reply_to?: string | null) =>
    post<Message>(`tasks/${id}/messages`, { body, client_id, reply_to: reply_to ?? undefined }),

  ask: (question: string, room: string | null, postToRoom: boolean) =>
    post<{ request: AssistantRequest }>('assistant/ask', { question, room, post: postToRoom }),
  summarise: (roomId: string) => post<{ request: AssistantRequest }>(`rooms/${roomId}/summary`, {}),
  extractTasks: (room: string, message_ids: string[]) =>
    post<{ request: AssistantRequest }>('assistant/extract-tasks', { room, message_ids }),
  assistantRequest: (id: string) => get<AssistantRequest>(`assistant/requests/${id}`),
  assistantRequests: (limit = 20) => get<{ requests: AssistantRequest[] }>('assistant/requests', { limit }),
  acceptProposal: (id: string, n: number, overrides: AcceptProposal) =>
    post<{ task: Task }>(`assistant/requests/${id}/proposals/${n}/accept`, overrides),
};
