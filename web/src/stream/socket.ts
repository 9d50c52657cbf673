// The one WebSocket to /api/v1/ws: hello → resume → replay → resumed → live, and back again after
// any drop. Durable events are checked by SeqTracker (order, repeats, gaps) before the app sees them.

import type { Frame } from '../api/types';
import { SeqTracker, type ResumePlan } from './tracker';

export type ConnState = 'connecting' | 'resuming' | 'live' | 'waiting' | 'ended';

export interface StreamHandlers {
  /** After `hello`, with what the resume will (not) cover. */
  onPlan?(plan: ResumePlan, hello: any): void;
  /** A durable event to apply (in order, once) or an ephemeral frame (ack, typing, presence, …). */
  onFrame(frame: Frame, replay: boolean): void;
  onResumed?(rooms: Record<string, number>): void;
  onState?(state: ConnState, detail: { retryInMs?: number; reason?: string }): void;
  /** 4401: the session is gone; the app should return to the login screen. */
  onSessionEnded?(reason: string): void;
  /** Seqs changed: a chance to persist them. */
  onSeqs?(seqs: Record<string, number>): void;
}

export type CloseAction = 'now' | 'backoff' | 'login' | 'stop';

/** What to do after the socket closed with this code (docs/protocol.md, "Close codes"). */
export function closeAction(code: number, reason: string): CloseAction {
  if (code === 4401) return 'login';
  if (code === 4403) return 'stop';
  if (code === 1001 && reason.startsWith('server restarting')) return 'now';
  return 'backoff';
}

/** Exponential backoff with jitter: ~0.5 s, 1 s, 2 s … capped at 30 s (60 s for 4429). */
export function backoffMs(attempt: number, code = 0, random: () => number = Math.random): number {
  const cap = code === 4429 ? 60_000 : 30_000;
  const base = Math.min(cap, 500 * 2 ** Math.min(attempt, 10));
  return Math.round(base * (0.5 + random() / 2));
}

export interface SocketLike {
  readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: any) => void) | null;
  onmessage: ((ev: { data: any }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: any) => void) | null;
}

export interface StreamOptions {
  url: string;
  tracker: SeqTracker;
  handlers: StreamHandlers;
  makeSocket?: (url: string) => SocketLike;
  maxReplay?: number;
  now?: () => number;
}

const OPEN = 1;
const GAP_CLOSE = 4000; // our own close: resume again

export class StreamSocket {
  private ws: SocketLike | null = null;
  private state: ConnState = 'waiting';
  private attempt = 0;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private watchdog: ReturnType<typeof setInterval> | null = null;
  private lastHeard = 0;
  private pingSentAt = 0;
  private stopped = true;
  private replaying = false;
  private heartbeatMs = 30_000;
  readonly tracker: SeqTracker;

  constructor(private opts: StreamOptions) {
    this.tracker = opts.tracker;
  }

  private now(): number {
    return this.opts.now ? this.opts.now() : Date.now();
  }

  get connState(): ConnState {
    return this.state;
  }

  get isLive(): boolean {
    return this.state === 'live' && this.ws?.readyState === OPEN;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.connect();
    this.watchdog = setInterval(() => this.checkAlive(), 5_000);
  }

  stop(): void {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.watchdog) clearInterval(this.watchdog);
    this.retryTimer = this.watchdog = null;
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.onclose = ws.onmessage = ws.onerror = ws.onopen = null;
      try {
        ws.close(1000, 'bye');
      } catch {
        /* already closed */
      }
    }
    this.setState('ended', {});
  }

  /** Reconnect right away (e.g. the browser came back online). */
  reconnectNow(): void {
    if (this.stopped) return;
    if (this.state === 'waiting') {
      if (this.retryTimer) clearTimeout(this.retryTimer);
      this.retryTimer = null;
      this.connect();
    }
  }

  /** Send a client frame; only while live (callers fall back to REST or retry after resume). */
  send(frame: Record<string, unknown>): boolean {
    if (!this.isLive || !this.ws) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  private setState(state: ConnState, detail: { retryInMs?: number; reason?: string }): void {
    this.state = state;
    this.opts.handlers.onState?.(state, detail);
  }

  private connect(): void {
    this.setState('connecting', {});
    const make = this.opts.makeSocket ?? ((u: string) => new WebSocket(u) as unknown as SocketLike);
    let ws: SocketLike;
    try {
      ws = make(this.opts.url);
    } catch {
      this.scheduleRetry(0, 'cannot open the socket');
      return;
    }
    this.ws = ws;
    this.lastHeard = this.now();
    this.pingSentAt = 0;
    ws.onmessage = (ev) => {
      if (this.ws !== ws) return;
      this.lastHeard = this.now();
      this.pingSentAt = 0;
      let frame: Frame;
      try {
        frame = JSON.parse(String(ev.data));
      } catch {
        return;
      }
      this.handle(frame);
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.closed(ev.code, ev.reason ?? '');
    };
    ws.onerror = () => {
      /* onclose follows */
    };
  }

  private handle(frame: Frame): void {
    const h = this.opts.handlers;
    switch (frame.type) {
      case 'hello': {
        this.heartbeatMs = (frame.data?.heartbeat_secs ?? 30) * 1000;
        const plan = this.tracker.planResume(frame.data?.rooms ?? [], this.opts.maxReplay ?? 1000);
        h.onPlan?.(plan, frame.data);
        this.replaying = true;
        this.ws?.send(JSON.stringify({ type: 'resume', rooms: plan.resume }));
        this.setState('resuming', {});
        return;
      }
      case 'resumed': {
        this.replaying = false;
        this.tracker.resumed(frame.data?.rooms ?? {});
        this.attempt = 0;
        this.setState('live', {});
        h.onResumed?.(frame.data?.rooms ?? {});
        h.onSeqs?.(this.tracker.snapshot());
        return;
      }
      case 'pong':
        return;
    }
    const decision = this.tracker.accept(frame);
    if (decision.kind === 'duplicate') return;
    if (decision.kind === 'gap') {
      // Should not happen; resume from what we have rather than show a hole.
      this.ws?.close(GAP_CLOSE, 'gap');
      return;
    }
    h.onFrame(frame, this.replaying);
    if (decision.kind === 'apply') {
      const own = frame.type === 'member.left' || frame.type === 'member.removed';
      if (own && frame.data?.message?.data?.user_id && frame.data.message.data.user_id === this.userId) {
        this.tracker.forget(frame.room!);
      }
      h.onSeqs?.(this.tracker.snapshot());
    }
  }

  /** Set by the app after login, to recognise our own leave/removal. */
  userId: string | null = null;

  private closed(code: number, reason: string): void {
    if (this.stopped) return;
    this.replaying = false;
    const action = closeAction(code, reason);
    if (action === 'login') {
      this.stopped = true;
      if (this.watchdog) clearInterval(this.watchdog);
      this.setState('ended', { reason });
      this.opts.handlers.onSessionEnded?.(reason);
      return;
    }
    if (action === 'stop') {
      this.stopped = true;
      if (this.watchdog) clearInterval(this.watchdog);
      this.setState('ended', { reason: reason || 'the server refused the connection' });
      return;
    }
    if (action === 'now' || code === GAP_CLOSE) {
      this.scheduleRetry(100 + Math.floor(Math.random() * 400), reason);
      return;
    }
    this.scheduleRetry(backoffMs(this.attempt++, code), reason || 'connection lost');
  }

  private scheduleRetry(ms: number, reason: string): void {
    this.setState('waiting', { retryInMs: ms, reason });
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (!this.stopped) this.connect();
    }, ms);
  }

  /** Browsers cannot see server pings: if nothing came for a while, ping; no answer → reconnect. */
  private checkAlive(): void {
    const ws = this.ws;
    if (!ws || this.state !== 'live') return;
    const now = this.now();
    if (this.pingSentAt && now - this.pingSentAt > 10_000) {
      this.ws = null;
      ws.onclose = ws.onmessage = null;
      try {
        ws.close(4001, 'no pong');
      } catch {
        /* ignore */
      }
      this.closed(1006, 'no answer from the server');
      return;
    }
    if (!this.pingSentAt && now - this.lastHeard > Math.min(this.heartbeatMs, 30_000) + 5_000) {
      this.pingSentAt = now;
      ws.send(JSON.stringify({ type: 'ping' }));
    }
  }
}

/** ws:// or wss:// URL of the stream on this page's origin. */
export function streamUrl(loc: { protocol: string; host: string } = location): string {
  return `${loc.protocol === 'https:' ? 'wss:' : 'ws:'}//${loc.host}/api/v1/ws`;
}
