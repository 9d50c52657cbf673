// Attachments and invite links: uploads go as the file's own bytes (not JSON), so they have their
// own fetch; everything else is JSON like the rest of the API.
import { buildUrl, del, get, getCsrfToken, post } from './client';
import { errorFromResponse } from './errors';
import type { components } from './schema.gen';

type Schemas = components['schemas'];
export type Attachment = Schemas['Attachment'];
export type AttachmentUsage = Schemas['AttachmentUsage'];
export type InviteLink = Schemas['InviteLink'];
export type CreatedInvite = Schemas['CreatedInvite'];
export type InvitePreview = Schemas['InvitePreview'];
export type Joined = Schemas['Joined'];
export type RegisteredWithInvite = Schemas['RegisteredWithInvite'];

/** Where a file is uploaded: a room (sent later with a message) or a task. */
export type UploadTarget = { room: string } | { task: string };

/** Uploads one file; resolves to the stored attachment or rejects with an ApiError. */
export async function uploadFile(target: UploadTarget, file: File): Promise<Attachment> {
  const path = 'room' in target ? `rooms/${target.room}/attachments` : `tasks/${target.task}/attachments`;
  const headers: Record<string, string> = {
    accept: 'application/json',
    'content-type': file.type || 'application/octet-stream',
  };
  const csrf = getCsrfToken();
  if (csrf) headers['x-csrf-token'] = csrf;
  const res = await fetch(buildUrl(path, { filename: file.name || 'pasted file' }), {
    method: 'POST',
    headers,
    credentials: 'same-origin',
    body: file,
  });
  const data: unknown = await res.json().catch(() => null);
  if (!res.ok) throw errorFromResponse(res.status, data, res.headers);
  return data as Attachment;
}

export const fileUrl = (id: string) => buildUrl(`attachments/${id}`);
export const thumbnailUrl = (id: string) => buildUrl(`attachments/${id}/thumbnail`);

export const attachmentsApi = {
  forTask: (task: string) => get<Attachment[]>(`tasks/${task}/attachments`),
  usage: () => get<AttachmentUsage>('admin/attachments'),
};

export const invitesApi = {
  list: (room: string) => get<InviteLink[]>(`rooms/${room}/invites`),
  create: (room: string, max_uses: number | null, expires_in_hours: number) =>
    post<CreatedInvite>(`rooms/${room}/invites`, { max_uses, expires_in_hours }),
  revoke: (room: string, id: string) => del<InviteLink>(`rooms/${room}/invites/${id}`),
  preview: (token: string) => get<InvitePreview>(`invites/${encodeURIComponent(token)}`),
  accept: (token: string) => post<Joined>(`invites/${encodeURIComponent(token)}/accept`),
  register: (token: string, username: string, display_name: string, password: string) =>
    post<RegisteredWithInvite>(`invites/${encodeURIComponent(token)}/register`, { username, display_name, password }),
};

/** The link a person opens to use an invite. */
export function inviteLink(token: string, origin: string = location.origin): string {
  return `${origin}/#/invite/${token}`;
}

/** Human size: 1.2 MB. */
export function fileSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let n = bytes / 1024;
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n < 10 ? n.toFixed(1) : Math.round(n)} ${units[i]}`;
}
