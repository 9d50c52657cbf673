// Which task a stream frame is about, for screens that show tasks.
import type { Frame, Message } from '../../api/types';

export function taskIdOf(frame: Frame): string | null {
  const msg = frame.data?.message as Message | undefined;
  if (!msg) return null;
  if (frame.type.startsWith('task.')) return msg.ref_task_id ?? (msg.data?.task_id as string | undefined) ?? null;
  return msg.task_id ?? null;
}
