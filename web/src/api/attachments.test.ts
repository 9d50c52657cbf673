import { describe, expect, it } from 'vitest';
import { fileSize, inviteLink } from './attachments';

describe('attachments', () => {
  it('shows sizes the way people read them', () => {
    expect(fileSize(0)).toBe('0 B');
    expect(fileSize(1023)).toBe('1023 B');
    expect(fileSize(1536)).toBe('1.5 KB');
    expect(fileSize(25 * 1024 * 1024)).toBe('25 MB');
    expect(fileSize(10 * 1024 ** 3)).toBe('10 GB');
  });
  it('makes invite links the client opens as its own route', () => {
    expect(inviteLink('abc_DEF-1', 'https://chat.example.com')).toBe('https://chat.example.com/#/invite/abc_DEF-1');
  });
});
