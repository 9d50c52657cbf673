import { describe, expect, it } from 'vitest';
import { ApiError, describeError, errorFromResponse, isSessionEnded } from './errors';

const headers = (h: Record<string, string>) => ({ get: (n: string) => h[n.toLowerCase()] ?? null });

describe('errorFromResponse', () => {
  it('reads the error shape', () => {
    const e = errorFromResponse(
      404,
      { error: { code: 'room_not_found', message: 'no such room, or you are not a member of it' } },
      headers({ 'x-request-id': 'r1' }),
    );
    expect(e.status).toBe(404);
    expect(e.code).toBe('room_not_found');
    expect(e.message).toBe('no such room, or you are not a member of it');
    expect(e.requestId).toBe('r1');
  });

  it('keeps Retry-After for 429', () => {
    const e = errorFromResponse(429, { error: { code: 'rate_limited', message: 'slow down' } }, headers({ 'retry-after': '12' }));
    expect(e.retryAfter).toBe(12);
    expect(describeError(e)).toBe('Too many attempts. Try again in 12 seconds.');
  });

  it('copes with a body that is not the error shape', () => {
    expect(errorFromResponse(502, '<html>', headers({})).code).toBe('unavailable');
    expect(errorFromResponse(429, null, headers({})).code).toBe('rate_limited');
    expect(errorFromResponse(418, null, headers({})).code).toBe('http_418');
  });
});

describe('describeError', () => {
  it('maps common codes to friendly text', () => {
    expect(describeError(new ApiError(401, 'invalid_credentials', 'invalid username or password'))).toBe(
      'Wrong username or password.',
    );
    expect(describeError(new ApiError(409, 'username_taken', 'taken'))).toMatch(/already taken/);
    expect(describeError(new ApiError(429, 'rate_limited', 'x', 1))).toBe('Too many attempts. Try again in 1 second.');
    expect(describeError(new ApiError(429, 'rate_limited', 'x'))).toMatch(/Wait a moment/);
  });

  it('shows the estimator\'s advice for a weak password', () => {
    const advice =
      'this password is too easy to guess: this is a top-100 common password. Add another word or two; uncommon words are better';
    expect(describeError(new ApiError(422, 'weak_password', advice))).toBe(
      'This password is too easy to guess: this is a top-100 common password. Add another word or two; uncommon words are better.',
    );
  });

  it('shows the server message for other codes', () => {
    expect(describeError(new ApiError(422, 'invalid_title', 'title must be 1 to 200 characters'))).toBe(
      'Title must be 1 to 200 characters.',
    );
  });

  it('adds the request id for server errors', () => {
    expect(describeError(new ApiError(500, 'internal', 'x', null, 'abc'))).toBe('Something went wrong on the server. (request abc)');
  });

  it('treats fetch TypeErrors as network failures', () => {
    expect(describeError(new TypeError('Failed to fetch'))).toMatch(/Cannot reach the server/);
  });

  it('recognises an ended session', () => {
    expect(isSessionEnded(new ApiError(401, 'unauthenticated', 'x'))).toBe(true);
    expect(isSessionEnded(new ApiError(401, 'invalid_credentials', 'x'))).toBe(false);
  });
});
