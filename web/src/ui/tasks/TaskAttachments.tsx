// A task's files: the list, and the picker, drop zone and paste target that add to it. Files go
// straight onto the task (no message needed).
import { useEffect, useState } from 'preact/hooks';
import { attachmentsApi, type Attachment } from '../../api/attachments';
import { ErrorText, useLoad } from '../common';
import { AttachButton, AttachmentList, UploadChips, useUploads } from '../room/Attachments';

export function TaskAttachments({ taskId }: { taskId: string }) {
  const list = useLoad(() => attachmentsApi.forTask(taskId), [taskId]);
  const uploads = useUploads({ task: taskId });
  const [shown, setShown] = useState<Attachment[]>([]);
  useEffect(() => setShown(list.data ?? []), [list.data]);
  // A finished upload joins the list and leaves the pending chips.
  useEffect(() => {
    if (uploads.ready.length === 0) return;
    setShown((now) => [...now, ...uploads.ready.filter((a) => !now.some((x) => x.id === a.id))]);
    uploads.clear();
  }, [uploads.ready.length]);
  return (
    <section class="card task-attachments" {...uploads.dropProps} onPaste={uploads.onPaste} aria-label="Attachments">
      <div class="row">
        <h2>Attachments</h2>
        <AttachButton uploads={uploads} label="Attach files to the task" />
      </div>
      <ErrorText error={list.error} />
      {shown.length === 0 && uploads.items.length === 0 && (
        <p class="muted">No files yet. Drop files here, paste a screenshot, or use 📎.</p>
      )}
      <AttachmentList items={shown} />
      <UploadChips uploads={uploads} />
    </section>
  );
}
