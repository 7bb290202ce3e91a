import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { useNavigate, useParams } from 'react-router';
import { api, unwrap } from '../api/client.js';
import { useLiveUpdates } from '../events/use-live-updates.js';
import { useCan } from '../session/session.js';
import { Button, ErrorNotice, PageHeader, StatusBadge, TextField } from '../ui/components.js';
import { AUTH_LABELS, partitionLabel } from './partitions.js';
import { accountKeys, taskKey, TERMINAL_STATES, useAccount, useTask } from './queries.js';
import { ValidationProgress } from './ValidationProgress.js';

export function AccountDetail() {
  const { id = '' } = useParams();
  const canEdit = useCan('editor');
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const account = useAccount(id);
  const [taskId, setTaskId] = useState<string>();
  const lastTaskId = taskId ?? account.data?.lastTaskId ?? undefined;
  const live = useLiveUpdates({ types: ['task.state', 'account.validated'], accountId: id, invalidate: [accountKeys.one(id), ...(lastTaskId ? [taskKey(lastTaskId)] : [])] });
  const task = useTask(lastTaskId, live.refetchInterval);
  const ended = task.data !== undefined && TERMINAL_STATES.has(task.data.state);
  useEffect(() => {
    if (ended) void queryClient.invalidateQueries({ queryKey: accountKeys.one(id) });
  }, [ended, id, queryClient]);
  const [editing, setEditing] = useState(false);
  const [description, setDescription] = useState('');

  const revalidate = useMutation({
    mutationFn: () => unwrap(api.POST('/v1/aws/accounts/{id}/validate', { params: { path: { id }, query: { waitSeconds: 0 } } })),
    onSuccess: (r) => {
      queryClient.setQueryData(taskKey(r.task.id), r.task);
      setTaskId(r.task.id);
    },
  });
  const save = useMutation({
    mutationFn: () => unwrap(api.PATCH('/v1/aws/accounts/{id}', { params: { path: { id } }, body: { description } })),
    onSuccess: (a) => {
      queryClient.setQueryData(accountKeys.one(id), a);
      setEditing(false);
    },
  });
  const remove = useMutation({
    mutationFn: () => unwrap(api.DELETE('/v1/aws/accounts/{id}', { params: { path: { id } } })),
    onSuccess: async () => {
      await queryClient.invalidateQueries({ queryKey: accountKeys.all });
      navigate('/accounts');
    },
  });

  if (account.error) return <ErrorNotice error={account.error} />;
  const a = account.data;
  if (!a) return <p>Loading…</p>;
  return (
    <>
      <PageHeader title={a.name}>
        {canEdit && (
          <>
            <Button onClick={() => revalidate.mutate()} disabled={revalidate.isPending || (task.data !== undefined && !ended)}>
              Re-validate
            </Button>
            <Button variant="secondary" onClick={() => { setDescription(a.description); setEditing(true); }}>
              Edit
            </Button>
            <Button variant="danger" onClick={() => window.confirm(`Delete ${a.name}?`) && remove.mutate()}>
              Delete
            </Button>
          </>
        )}
      </PageHeader>
      <ErrorNotice error={revalidate.error ?? remove.error} />
      {editing && (
        <form className="card" onSubmit={(e) => { e.preventDefault(); save.mutate(); }}>
          <TextField label="Description" value={description} onChange={(e) => setDescription(e.currentTarget.value)} />
          <ErrorNotice error={save.error} />
          <div className="row">
            <button type="submit" className="button">Save</button>
            <Button variant="secondary" onClick={() => setEditing(false)}>Cancel</Button>
          </div>
        </form>
      )}
      <dl className="card">
        <dt>Status</dt>
        <dd><StatusBadge status={a.status} /></dd>
        <dt>Partition</dt>
        <dd>{partitionLabel(a.partition)} · test region {a.testRegion}</dd>
        <dt>Authentication</dt>
        <dd>{AUTH_LABELS[a.auth.type]}</dd>
        <dt>AWS account ID</dt>
        <dd>{a.awsAccountId ?? '—'}</dd>
        <dt>ARN</dt>
        <dd>{a.arn ?? '—'}</dd>
        <dt>Delegates / gateway</dt>
        <dd>{a.gateway ? `gateway ${a.gateway}` : a.delegateSelectors.length ? a.delegateSelectors.join(', ') : 'any delegate'}</dd>
        <dt>IAM policies</dt>
        <dd>{a.policyArns.length ? a.policyArns.join(', ') : 'none chosen'}</dd>
        <dt>Last checked</dt>
        <dd>{a.lastCheckedAt ? new Date(a.lastCheckedAt).toLocaleString() : 'never'}</dd>
      </dl>
      <h2>Last validation</h2>
      {lastTaskId ? <ValidationProgress task={task.data} account={a} /> : <p className="muted">Not validated yet.</p>}
    </>
  );
}
