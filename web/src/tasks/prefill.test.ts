import { describe, expect, it } from 'vitest';
import { assigneeFrom, dueFrom, mentionsIn, prefillTask, titleFrom } from './prefill';

// Wednesday 2026-11-25, local time.
const WED = new Date(2026, 10, 25, 15, 30);
const members = [
  { user_id: 'u-ann', username: 'ann' },
  { user_id: 'u-bob', username: 'bob' },
  { user_id: 'u-carl', username: 'carl.d' },
];

describe('titleFrom', () => {
  it('takes the first non-empty line, trimmed', () => {
    expect(titleFrom('\n  Backups failed last night  \nsee logs')).toBe('Backups failed last night');
  });
  it('cuts long lines to 200 characters', () => {
    const t = titleFrom('x'.repeat(300));
    expect(Array.from(t)).toHaveLength(200);
    expect(t.endsWith('…')).toBe(true);
  });
  it('is empty for a blank body', () => {
    expect(titleFrom('  \n ')).toBe('');
  });
});

describe('assignee', () => {
  it('finds mentions in order, ignoring e-mail addresses', () => {
    expect(mentionsIn('mail ann@example.com then @Bob and @zed.')).toEqual(['bob', 'zed']);
  });
  it('picks the first mention that is a room member', () => {
    expect(assigneeFrom('@zed can you or @bob fix it, cc @ann', members)).toBe('u-bob');
    expect(assigneeFrom('ask @carl.d', members)).toBe('u-carl');
  });
  it('is null without a member mention', () => {
    expect(assigneeFrom('@nobody please', members)).toBeNull();
    expect(assigneeFrom('no mention', members)).toBeNull();
  });
});

describe('dueFrom', () => {
  it('understands today and tomorrow', () => {
    expect(dueFrom('please do it today', WED)).toBe('2026-11-25');
    expect(dueFrom('Tonight!', WED)).toBe('2026-11-25');
    expect(dueFrom('by tomorrow', WED)).toBe('2026-11-26');
  });
  it('understands weekdays, today included, and "next"', () => {
    expect(dueFrom('by Friday', WED)).toBe('2026-11-27');
    expect(dueFrom('fri', WED)).toBe('2026-11-27');
    expect(dueFrom('on monday', WED)).toBe('2026-11-30');
    expect(dueFrom('wednesday', WED)).toBe('2026-11-25');
    expect(dueFrom('next wednesday', WED)).toBe('2026-12-02');
    expect(dueFrom('next friday', WED)).toBe('2026-11-27');
  });
  it('crosses month and year ends', () => {
    expect(dueFrom('tomorrow', new Date(2026, 11, 31))).toBe('2027-01-01');
    expect(dueFrom('monday', new Date(2027, 0, 29))).toBe('2027-02-01');
  });
  it('understands ISO dates and rejects impossible ones', () => {
    expect(dueFrom('ship on 2026-12-01 please', WED)).toBe('2026-12-01');
    expect(dueFrom('ship on 2026-02-30', WED)).toBeNull();
  });
  it('takes the first date in the text', () => {
    expect(dueFrom('not today, 2026-12-05 is fine', WED)).toBe('2026-11-25');
    expect(dueFrom('2026-12-05, not tomorrow', WED)).toBe('2026-12-05');
  });
  it('does not match parts of words', () => {
    expect(dueFrom('satisfied with the monitoring, frisbee', WED)).toBeNull();
    expect(dueFrom('nothing here', WED)).toBeNull();
  });
});

describe('prefillTask', () => {
  it('combines title, assignee and due date', () => {
    expect(prefillTask('Backups failed last night @bob fix by Friday\nlogs attached', members, WED)).toEqual({
      title: 'Backups failed last night @bob fix by Friday',
      assignee_id: 'u-bob',
      due_on: '2026-11-27',
    });
  });
});
