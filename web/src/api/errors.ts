// API errors: the server's `{"error": {"code", "message"}}` shape, turned into text for people.

export class ApiError extends Error {
  constructor(
    public readonly status: number,
    public readonly code: string,
    message: string,
    public readonly retryAfter: number | null = null,
    public readonly requestId: string | null = null,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/**
 * Friendlier wording for the codes a person is likely to meet. Anything else shows the server's message
 * (`weak_password` on purpose: it carries the strength estimator's advice on that very password).
 */
const FRIENDLY: Record<string, string> = {
  invalid_credentials: 'Wrong username or password.',
  username_taken: 'That username is already taken. Pick another one.',
  invalid_password: 'The password is too long (over 1024 bytes).',
  invalid_username: 'Usernames are 3–32 characters of a–z, 0–9, _ . - and start with a letter or digit.',
  invalid_display_name: 'The display name must be 1–64 characters.',
  account_disabled: 'This account has been disabled by an administrator.',
  unauthenticated: 'Your session has ended. Please log in again.',
  csrf_failed: 'Your session token is out of date. Reload the page and try again.',
  admin_only: 'Only administrators can do that.',
  wrong_password: 'The current password is wrong.',
  cannot_befriend: 'You cannot befriend this person.',
  not_friends: 'You are not friends with this person.',
  already_friends: 'You are already friends.',
  request_pending: 'A friend request is already pending.',
  blocked: 'You cannot message this person because of a block.',
  not_author: 'You can only change your own messages.',
  not_owner: 'Only the room owner can do that.',
  not_task_owner: 'Only the task creator or the room owner can delete this task.',
  message_deleted: 'That message was deleted.',
  room_not_found: 'This room does not exist or you are no longer a member.',
  task_not_found: 'This task does not exist or you cannot see it.',
  message_not_found: 'This message does not exist or you cannot see it.',
  payload_too_large: 'That is too large to send.',
  timeout: 'The server took too long to answer. Try again.',
  unavailable: 'The server is temporarily unavailable. Try again in a moment.',
  internal: 'Something went wrong on the server.',
  network: 'Cannot reach the server. Check your connection.',
};

/** Parse a failed response into an ApiError, whatever its body. */
export function errorFromResponse(
  status: number,
  body: unknown,
  headers: { get(name: string): string | null },
): ApiError {
  const retry = headers.get('retry-after');
  const retryAfter = retry !== null && /^\d+$/.test(retry.trim()) ? Number(retry.trim()) : null;
  const requestId = headers.get('x-request-id');
  const err = (body as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  if (err && typeof err.code === 'string') {
    const message = typeof err.message === 'string' && err.message ? err.message : err.code;
    return new ApiError(status, err.code, message, retryAfter, requestId);
  }
  const code = status === 429 ? 'rate_limited' : status >= 500 ? 'unavailable' : 'http_' + status;
  return new ApiError(status, code, `The server answered ${status}.`, retryAfter, requestId);
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** The sentence to show for any error thrown by the API client (or anything else). */
export function describeError(e: unknown): string {
  if (e instanceof ApiError) {
    if (e.code === 'rate_limited') {
      return e.retryAfter !== null
        ? `Too many attempts. Try again in ${plural(e.retryAfter, 'second')}.`
        : 'Too many attempts. Wait a moment and try again.';
    }
    const friendly = FRIENDLY[e.code];
    let text = friendly ?? capitalise(e.message);
    if (e.status >= 500 && e.requestId) text += ` (request ${e.requestId})`;
    return text;
  }
  if (e instanceof Error && e.name === 'AbortError') return 'The request was cancelled.';
  if (e instanceof TypeError) return FRIENDLY.network;
  if (e instanceof Error) return e.message;
  return String(e);
}

function capitalise(s: string): string {
  const t = s.trim();
  if (!t) return 'Something went wrong.';
  const first = t[0].toUpperCase() + t.slice(1);
  return /[.!?]$/.test(first) ? first : first + '.';
}

/** Which error codes mean "your session is gone": the app returns to the login screen. */
export function isSessionEnded(e: unknown): boolean {
  return e instanceof ApiError && e.status === 401 && e.code === 'unauthenticated';
}
