import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Frame } from '../api/types';
import { SeqTracker } from './tracker';
import { StreamSocket, backoffMs, closeAction, type SocketLike } from './socket';

class FakeSocket implements SocketLike {
  readyState = 1;
  sent: any[] = [];
  closedWith: number | null = null;
  onopen: any = null;
  onmessage: ((ev: { data: any }) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onerror: any = null;
  send(data: string) {
    this.sent.push(JSON.parse(data));
  }
  close(code = 1000, reason = '') {
    this.closedWith = code;
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }
  frame(f: Frame) {
    this.onmessage?.({ data: JSON.stringify(f) });
  }
  drop(code: number, reason = '') {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }
}

const msg = (room: string, seq: number) => ({ type: 'message.created', room, seq, data: { message: { id: 'm' + seq } } });

describe('close policy', () => {
  it('maps close codes to actions', () => {
    expect(closeAction(1001, 'server restarting: reconnect and resume')).toBe('now');
    expect(closeAction(1001, 'temporarily unavailable: retry')).toBe('backoff');
    expect(closeAction(1006, '')).toBe('backoff');
    expect(closeAction(4408, 'too slow: reconnect and resume')).toBe('backoff');
    expect(closeAction(4401, 'session ended: log in again')).toBe('login');
    expect(closeAction(4403, 'forbidden origin')).toBe('stop');
  });
  it('backs off exponentially with a cap', () => {
    const mid = () => 1; // no jitter reduction
    expect(backoffMs(0, 0, mid)).toBe(500);
    expect(backoffMs(3, 0, mid)).toBe(4000);
    expect(backoffMs(20, 0, mid)).toBe(30000);
    expect(backoffMs(20, 4429, mid)).toBe(60000);
    expect(backoffMs(2, 0, () => 0)).toBe(1000);
  });
});

describe('StreamSocket', () => {
  let sockets: FakeSocket[];
  let frames: Frame[];
  let states: string[];
  let s: StreamSocket;
  let ended: string | null;

  beforeEach(() => {
    vi.useFakeTimers();
    sockets = [];
    frames = [];
    states = [];
    ended = null;
    s = new StreamSocket({
      url: 'ws://x/api/v1/ws',
      tracker: new SeqTracker({ a: 3 }),
      makeSocket: () => {
        const f = new FakeSocket();
        sockets.push(f);
        return f;
      },
      handlers: {
        onFrame: (f) => frames.push(f),
        onState: (st) => states.push(st),
        onSessionEnded: (r) => (ended = r),
      },
    });
    s.start();
  });
  afterEach(() => {
    s.stop();
    vi.useRealTimers();
  });

  it('resumes, replays in order, goes live, and resumes again after a drop', () => {
    const ws = sockets[0];
    ws.frame({ type: 'hello', data: { heartbeat_secs: 30, rooms: [{ room: 'a', last_seq: 5 }, { room: 'b', last_seq: 9 }] } });
    expect(ws.sent[0]).toEqual({ type: 'resume', rooms: { a: 3 } });
    ws.frame(msg('a', 4));
    ws.frame(msg('a', 4)); // repeat: dropped
    ws.frame(msg('a', 5));
    ws.frame({ type: 'resumed', data: { rooms: { a: 5, b: 9 } } });
    expect(s.isLive).toBe(true);
    ws.frame(msg('b', 10));
    ws.frame({ type: 'typing.started', room: 'b', data: {} });
    expect(frames.map((f) => `${f.room}:${f.seq ?? '-'}`)).toEqual(['a:4', 'a:5', 'b:10', 'b:-']);

    ws.drop(1001, 'server restarting: reconnect and resume');
    expect(s.isLive).toBe(false);
    expect(s.send({ type: 'ping' })).toBe(false);
    vi.advanceTimersByTime(600);
    const ws2 = sockets[1];
    ws2.frame({ type: 'hello', data: { rooms: [{ room: 'a', last_seq: 6 }, { room: 'b', last_seq: 10 }] } });
    expect(ws2.sent[0]).toEqual({ type: 'resume', rooms: { a: 5, b: 10 } });
  });

  it('closes and resumes from the last good seq on a gap', () => {
    const ws = sockets[0];
    ws.frame({ type: 'hello', data: { rooms: [{ room: 'a', last_seq: 3 }] } });
    ws.frame({ type: 'resumed', data: { rooms: { a: 3 } } });
    ws.frame(msg('a', 6));
    expect(ws.closedWith).toBe(4000);
    expect(frames).toEqual([]);
    vi.advanceTimersByTime(600);
    sockets[1].frame({ type: 'hello', data: { rooms: [{ room: 'a', last_seq: 6 }] } });
    expect(sockets[1].sent[0]).toEqual({ type: 'resume', rooms: { a: 3 } });
  });

  it('backs off after a failure and stops on 4401', () => {
    sockets[0].drop(1006);
    expect(states.at(-1)).toBe('waiting');
    vi.advanceTimersByTime(100);
    expect(sockets).toHaveLength(1);
    vi.advanceTimersByTime(1000);
    expect(sockets).toHaveLength(2);
    sockets[1].drop(4401, 'session ended: log in again');
    expect(ended).toBe('session ended: log in again');
    vi.advanceTimersByTime(60_000);
    expect(sockets).toHaveLength(2);
  });

  it('pings when quiet and reconnects without a pong', () => {
    const ws = sockets[0];
    ws.frame({ type: 'hello', data: { heartbeat_secs: 30, rooms: [] } });
    ws.frame({ type: 'resumed', data: { rooms: {} } });
    vi.advanceTimersByTime(40_000);
    expect(ws.sent.some((f) => f.type === 'ping')).toBe(true);
    vi.advanceTimersByTime(15_000);
    expect(states.at(-1)).toBe('waiting');
    vi.advanceTimersByTime(1_000);
    expect(sockets.length).toBe(2);
  });
});
