// Administrators: how much of the attachments quota the installation uses.
import { attachmentsApi, fileSize } from '../api/attachments';
import { ErrorText, useLoad } from './common';

export function AdminStorage() {
  const usage = useLoad(() => attachmentsApi.usage(), []);
  const u = usage.data;
  return (
    <section class="card admin-storage" aria-label="Attachment storage">
      <h2>Attachments</h2>
      <ErrorText error={usage.error} />
      {u && (
        <p>
          {u.files} files, {fileSize(u.used_bytes)}
          {u.quota_bytes > 0 ? ` of ${fileSize(u.quota_bytes)} (${Math.round((100 * u.used_bytes) / u.quota_bytes)}%)` : ' (no quota)'}
          <span class="muted"> · at most {fileSize(u.max_file_bytes)} a file</span>
        </p>
      )}
    </section>
  );
}
