// Tasks the assistant proposes from selected messages: each field shows the message it came from;
// the user edits what they like and accepts, which makes a real task linked to its sources.
import { useState } from 'preact/hooks';
import { api } from '../../api/endpoints';
import { describeError } from '../../api/errors';
import type { Member, Proposal } from '../../api/types';
import type { LiveRequest } from '../../assistant/requests';
import { citationPath } from '../../assistant/requests';
import { href, navigate } from '../../state/router';
import { assistant } from '../../state/store';

/** Opens the message a field was taken from. */
function SourceLink({ request, id, what }: { request: LiveRequest; id: string | null; what: string }) {
  const [error, setError] = useState('');
  if (!id) return null;
  const known = request.citations.find((c) => c.kind === 'message' && c.id === id);
  if (known) {
    return <a class="small" href={href(citationPath(known))} aria-label={`Source of the ${what}`}>source</a>;
  }
  const open = () =>
    api.message(id).then(
      (m) => navigate(m.task_id ? `/t/${m.task_id}` : `/r/${m.room_id}?m=${m.seq}`),
      (e) => setError(describeError(e)),
    );
  return (
    <>
      <button type="button" class="linkish small" onClick={open} aria-label={`Source of the ${what}`}>source</button>
      {error && <span class="error-inline small"> {error}</span>}
    </>
  );
}

function markAccepted(requestId: string, n: number, taskId: string): void {
  const cur = assistant.value[requestId];
  if (!cur?.proposals) return;
  const proposals = cur.proposals.map((p) => (p.n === n ? { ...p, accepted_task: taskId } : p));
  assistant.value = { ...assistant.value, [requestId]: { ...cur, proposals } };
}

function ProposalForm({ request, p, members }: { request: LiveRequest; p: Proposal; members: Member[] }) {
  const [title, setTitle] = useState(p.title.value);
  const [assignee, setAssignee] = useState(p.assignee.value?.id ?? '');
  const [due, setDue] = useState(p.due.value ?? '');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');

  if (p.accepted_task) {
    return (
      <li class="proposal accepted">
        <span aria-hidden="true">✓</span> <a href={href(`/t/${p.accepted_task}`)}>{title || p.title.value}</a>
        <span class="muted small"> task created</span>
      </li>
    );
  }
  const accept = async (e: Event) => {
    e.preventDefault();
    if (!title.trim()) {
      setError('A task needs a title.');
      return;
    }
    setBusy(true);
    setError('');
    try {
      const { task } = await api.acceptProposal(request.id, p.n, {
        title: title.trim(),
        assignee: assignee || null,
        due: due || null,
      });
      markAccepted(request.id, p.n, task.id);
    } catch (err) {
      setError(describeError(err));
      // Accepted elsewhere (another tab): show the current state.
      void api.assistantRequest(request.id).then((r) => (assistant.value = { ...assistant.value, [r.id]: { ...request, ...r } }), () => {});
    } finally {
      setBusy(false);
    }
  };
  const key = `proposal-${request.id}-${p.n}`;
  const assigneeKnown = !p.assignee.value || members.some((m) => m.user_id === p.assignee.value!.id);
  return (
    <li class="proposal">
      <form onSubmit={accept} aria-label={`Proposed task ${p.n}`}>
        <div class="field">
          <label for={`${key}-title`}>Title</label> <SourceLink request={request} id={p.title.cite} what="title" />
          <input id={`${key}-title`} value={title} maxLength={300} onInput={(e) => setTitle((e.target as HTMLInputElement).value)} />
        </div>
        <div class="row">
          <div class="field">
            <label for={`${key}-assignee`}>Assignee</label> <SourceLink request={request} id={p.assignee.cite} what="assignee" />
            <select id={`${key}-assignee`} value={assignee} onChange={(e) => setAssignee((e.target as HTMLSelectElement).value)}>
              <option value="">Nobody</option>
              {!assigneeKnown && p.assignee.value && <option value={p.assignee.value.id}>@{p.assignee.value.username}</option>}
              {members.map((m) => (
                <option key={m.user_id} value={m.user_id}>{m.display_name} (@{m.username})</option>
              ))}
            </select>
          </div>
          <div class="field">
            <label for={`${key}-due`}>Due</label> <SourceLink request={request} id={p.due.cite} what="due date" />
            <input id={`${key}-due`} type="date" value={due} onInput={(e) => setDue((e.target as HTMLInputElement).value)} />
          </div>
        </div>
        {error && <p class="error" role="alert">{error}</p>}
        <button type="submit" class="primary small" disabled={busy}>{busy ? 'Creating…' : 'Create task'}</button>
      </form>
    </li>
  );
}

export function Proposals({ request, members }: { request: LiveRequest; members: Member[] }) {
  const list = request.proposals ?? [];
  if (request.status !== 'done') return null;
  if (list.length === 0) return <p class="muted">No tasks found in these messages.</p>;
  return (
    <ol class="plain proposals">
      {list.map((p) => (
        <ProposalForm key={p.n} request={request} p={p} members={members} />
      ))}
    </ol>
  );
}
