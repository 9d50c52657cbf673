// Pure: which events of which room this client has processed, and what to do with the next frame.
// The server promises each room's events in seq order without gaps or repeats on one socket; the
// client still checks, so a bug or a proxy hiccup leads to a clean resume instead of a wrong screen.

import type { Frame } from '../api/types';

export type Decision =
  | { kind: 'apply' }
  | { kind: 'duplicate' }
  | { kind: 'gap'; room: string; expected: number; got: number }
  | { kind: 'ephemeral' };

export interface HelloRoom {
  room: string;
  last_seq: number;
}

export interface ResumePlan {
  /** The `rooms` of the resume frame. */
  resume: Record<string, number>;
  /** Rooms we knew but are no longer a member of: drop them locally. */
  gone: string[];
  /** Rooms not replayed (new to us, or too far behind): their loaded history must be fetched again. */
  stale: string[];
}

export class SeqTracker {
  private seqs = new Map<string, number>();

  constructor(initial: Record<string, number> = {}) {
    for (const [room, seq] of Object.entries(initial)) {
      if (Number.isInteger(seq) && seq >= 0) this.seqs.set(room, seq);
    }
  }

  get(room: string): number | undefined {
    return this.seqs.get(room);
  }

  snapshot(): Record<string, number> {
    return Object.fromEntries(this.seqs);
  }

  /**
   * After `hello`: resume every room we know that still exists, unless it is more than
   * `maxReplay` events behind (then it starts live and is reported stale). Rooms new to us start
   * at hello's last_seq, as the server does for rooms left out of resume.
   */
  planResume(hello: HelloRoom[], maxReplay = 1000): ResumePlan {
    const plan: ResumePlan = { resume: {}, gone: [], stale: [] };
    const inHello = new Set(hello.map((r) => r.room));
    for (const room of [...this.seqs.keys()]) {
      if (!inHello.has(room)) {
        plan.gone.push(room);
        this.seqs.delete(room);
      }
    }
    for (const { room, last_seq } of hello) {
      const have = this.seqs.get(room);
      if (have !== undefined && last_seq - have <= maxReplay) {
        plan.resume[room] = Math.min(have, last_seq);
        this.seqs.set(room, Math.min(have, last_seq));
      } else {
        plan.stale.push(room);
        this.seqs.set(room, last_seq);
      }
    }
    return plan;
  }

  /** Decide about one server frame; an applied durable event advances its room. */
  accept(frame: Frame): Decision {
    if (typeof frame.seq !== 'number' || !frame.room) return { kind: 'ephemeral' };
    const have = this.seqs.get(frame.room);
    if (have === undefined) {
      // A room that starts on this socket (room.created, our own member.joined, a new DM).
      this.seqs.set(frame.room, frame.seq);
      return { kind: 'apply' };
    }
    if (frame.seq <= have) return { kind: 'duplicate' };
    if (frame.seq > have + 1) return { kind: 'gap', room: frame.room, expected: have + 1, got: frame.seq };
    this.seqs.set(frame.room, frame.seq);
    return { kind: 'apply' };
  }

  /** `resumed` lists every room we follow, with the last seq delivered so far. */
  resumed(rooms: Record<string, number>): void {
    for (const room of [...this.seqs.keys()]) if (!(room in rooms)) this.seqs.delete(room);
    for (const [room, seq] of Object.entries(rooms)) {
      const have = this.seqs.get(room);
      if (have === undefined || seq > have) this.seqs.set(room, seq);
    }
  }

  /** Our own member.left / member.removed ends a room's stream. */
  forget(room: string): void {
    this.seqs.delete(room);
  }
}
