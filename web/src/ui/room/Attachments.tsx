// Attachments in the room and on tasks: thumbnails and file chips under a message, and the
// composer's uploads (picker button, drag and drop, paste). A file is uploaded as soon as it is
// chosen; the message that is sent next carries the ones that finished.
import { useState } from 'preact/hooks';
import { post } from '../../api/client';
import { describeError } from '../../api/errors';
import { type Attachment, fileSize, fileUrl, thumbnailUrl, uploadFile, type UploadTarget } from '../../api/attachments';
import type { Message } from '../../api/types';
import { toast } from '../../state/store';

/** Thumbnails (a click opens the full image) and chips for other files. */
export function AttachmentList({ items }: { items: Attachment[] }) {
  if (items.length === 0) return null;
  return (
    <div class="attachments">
      {items.map((a) =>
        a.has_thumbnail ? (
          <a key={a.id} class="attachment-image" href={fileUrl(a.id)} target="_blank" rel="noopener" title={a.filename}>
            <img src={thumbnailUrl(a.id)} alt={a.filename} loading="lazy" width={thumbWidth(a)} height={thumbHeight(a)} />
          </a>
        ) : (
          <a key={a.id} class="file-chip" href={fileUrl(a.id)} download={a.filename} title={`Download ${a.filename}`}>
            <span aria-hidden="true">📄</span> <span class="file-name">{a.filename}</span>{' '}
            <span class="muted">{fileSize(a.size_bytes)}</span>
          </a>
        ),
      )}
    </div>
  );
}

/** Shown at most 240 px wide and 180 px high, keeping the image's shape. */
function scale(a: Attachment): number {
  const w = a.width ?? 240;
  const h = a.height ?? 180;
  return Math.min(1, 240 / w, 180 / h);
}
const thumbWidth = (a: Attachment) => Math.round((a.width ?? 240) * scale(a));
const thumbHeight = (a: Attachment) => Math.round((a.height ?? 180) * scale(a));

interface Upload {
  key: number;
  name: string;
  state: 'uploading' | 'done' | 'failed';
  attachment?: Attachment;
}

let nextKey = 0;

/** The files being attached to the next message, and the ways to add them. */
export function useUploads(target: UploadTarget) {
  const [items, setItems] = useState<Upload[]>([]);
  const update = (key: number, change: Partial<Upload>) =>
    setItems((list) => list.map((u) => (u.key === key ? { ...u, ...change } : u)));
  const add = (files: FileList | File[] | null | undefined) => {
    for (const file of Array.from(files ?? [])) {
      const key = ++nextKey;
      setItems((list) => [...list, { key, name: file.name || 'pasted file', state: 'uploading' }]);
      uploadFile(target, file).then(
        (attachment) => update(key, { state: 'done', attachment }),
        (e) => {
          update(key, { state: 'failed' });
          toast(`${file.name}: ${describeError(e)}`, 'error');
        },
      );
    }
  };
  const ready = items.flatMap((u) => (u.state === 'done' && u.attachment ? [u.attachment] : []));
  return {
    items,
    ready,
    busy: items.some((u) => u.state === 'uploading'),
    add,
    remove: (key: number) => setItems((list) => list.filter((u) => u.key !== key)),
    clear: () => setItems([]),
    /** For the composer's form: files dropped on it are attached. */
    dropProps: {
      onDragOver: (e: DragEvent) => {
        if (e.dataTransfer?.types.includes('Files')) e.preventDefault();
      },
      onDrop: (e: DragEvent) => {
        if (!e.dataTransfer?.files.length) return;
        e.preventDefault();
        add(e.dataTransfer.files);
      },
    },
    /** For the text area: pasted files (a screenshot) are attached, pasted text is typed. */
    onPaste: (e: ClipboardEvent) => {
      const files = e.clipboardData?.files;
      if (!files?.length) return;
      e.preventDefault();
      add(files);
    },
  };
}

export type Uploads = ReturnType<typeof useUploads>;

/** The paper-clip button that opens the file picker. */
export function AttachButton({ uploads, label = 'Attach files' }: { uploads: Uploads; label?: string }) {
  return (
    <label class="button icon attach" title={label}>
      <span aria-hidden="true">📎</span>
      <input
        type="file"
        multiple
        class="sr-only"
        aria-label={label}
        onChange={(e) => {
          const input = e.target as HTMLInputElement;
          uploads.add(input.files);
          input.value = '';
        }}
      />
    </label>
  );
}

/** The files waiting to go out with the next message. */
export function UploadChips({ uploads }: { uploads: Uploads }) {
  if (uploads.items.length === 0) return null;
  return (
    <ul class="upload-chips" aria-label="Attached files">
      {uploads.items.map((u) => (
        <li key={u.key} class={`file-chip ${u.state}`}>
          <span class="file-name">{u.name}</span>
          <span class="muted">{u.state === 'uploading' ? 'uploading…' : u.state === 'failed' ? 'failed' : fileSize(u.attachment!.size_bytes)}</span>
          <button type="button" class="icon small" aria-label={`Remove ${u.name}`} onClick={() => uploads.remove(u.key)}>✕</button>
        </li>
      ))}
    </ul>
  );
}

/** Sends a message that carries attachments (over REST; the stream then delivers it to everyone). */
export async function sendWithAttachments(
  roomId: string,
  taskId: string | null,
  body: string,
  replyTo: string | null,
  attachments: Attachment[],
): Promise<Message | null> {
  const path = taskId ? `tasks/${taskId}/messages` : `rooms/${roomId}/messages`;
  try {
    return await post<Message>(path, { body, reply_to: replyTo ?? undefined, attachments: attachments.map((a) => a.id) });
  } catch (e) {
    toast(describeError(e), 'error');
    return null;
  }
}
