import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { Link, useParams } from 'react-router';
import { api, unwrap, type Task } from '../api/client.js';
import { taskKey, useTask } from '../accounts/queries.js';
import { stepsOf } from '../accounts/ValidationProgress.js';
import { useLiveUpdates } from '../events/use-live-updates.js';
import { ErrorNotice, PageHeader, SelectField, StatusBadge, TextField } from '../ui/components.js';
import { DataTable } from '../ui/DataTable.js';

const STATES = ['queued', 'assigned', 'running', 'succeeded', 'failed', 'cancelled', 'expired'] as const;
type State = (typeof STATES)[number];

function duration(t: Task): string {
  const start = Date.parse(t.startedAt ?? t.queuedAt);
  const end = t.endedAt ? Date.parse(t.endedAt) : Date.now();
  return `${Math.max(0, Math.round((end - start) / 100) / 10)} s`;
}

/** The live task list: the event stream refetches it; without the stream it polls. */
export function TasksPage() {
  const [state, setState] = useState<State | ''>('');
  const [type, setType] = useState('');
  const query = { limit: 100, ...(state ? { state } : {}), ...(type.trim() ? { type: type.trim() } : {}) };
  const live = useLiveUpdates({ types: ['task.state'], invalidate: [['tasks', 'list']] });
  const tasks = useQuery({ queryKey: ['tasks', 'list', query], queryFn: () => unwrap(api.GET('/v1/tasks', { params: { query } })), refetchInterval: live.refetchInterval });
  return (
    <>
      <PageHeader title="Tasks">
        <span className="muted" role="status">{live.streaming ? 'Live' : 'Refreshing every second'}</span>
      </PageHeader>
      <div className="row">
        <SelectField label="State" value={state} options={[{ value: '', label: 'All' }, ...STATES.map((s) => ({ value: s, label: s }))]} onChange={(e) => setState(e.currentTarget.value as State | '')} />
        <TextField label="Type" placeholder="aws.validate" value={type} onChange={(e) => setType(e.currentTarget.value)} />
      </div>
      <ErrorNotice error={tasks.error} />
      <DataTable
        label="Tasks"
        rows={tasks.data?.items ?? []}
        rowKey={(t) => t.id}
        columns={[
          { header: 'Task', cell: (t) => <Link to={`/tasks/${t.id}`}>{t.id}</Link> },
          { header: 'Type', cell: (t) => t.type },
          { header: 'State', cell: (t) => <StatusBadge status={t.state} /> },
          { header: 'Delegate', cell: (t) => t.delegate?.name ?? '—' },
          { header: 'Duration', cell: duration },
          { header: 'Created', cell: (t) => new Date(t.createdAt).toLocaleTimeString() },
        ]}
      />
    </>
  );
}

export function TaskDetail() {
  const { id = '' } = useParams();
  const live = useLiveUpdates({ types: ['task.state'], taskId: id, invalidate: [taskKey(id)] });
  const task = useTask(id, live.refetchInterval);
  if (task.error) return <ErrorNotice error={task.error} />;
  const t = task.data;
  if (!t) return <p>Loading…</p>;
  const timeline: Array<[string, string | null]> = [['Created', t.createdAt], ['Queued', t.queuedAt], ['Assigned', t.assignedAt], ['Started', t.startedAt], ['Ended', t.endedAt]];
  return (
    <>
      <PageHeader title={`Task ${t.id}`} />
      <p>
        {t.type} · <StatusBadge status={t.state} /> · attempt {t.attempt} of {t.maxAttempts} · delegate {t.delegate?.name ?? '—'}
      </p>
      <h2>Timeline</h2>
      <ol className="progress">
        {timeline.filter(([, at]) => at).map(([label, at]) => (
          <li key={label} className="done">{label} {new Date(at!).toLocaleTimeString()}</li>
        ))}
        {stepsOf(t).map((s) => (
          <li key={s.name} className="done">{s.name} {s.durationMs !== undefined ? `· ${s.durationMs} ms` : ''}</li>
        ))}
      </ol>
      {t.error && (
        <div className="notice bad" role="alert">
          <strong>{t.error.code}</strong> {t.error.message}
        </div>
      )}
    </>
  );
}
