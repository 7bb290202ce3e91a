import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { api, unwrap, type DelegateToken } from '../api/client.js';
import { useCan } from '../session/session.js';
import { ErrorNotice, PageHeader, StatusBadge, TextField } from '../ui/components.js';
import { DataTable, revokeColumn } from '../ui/DataTable.js';
import { installCommands } from './install-commands.js';

const TOKENS_KEY = ['delegate-tokens'] as const;

export function TokensPage() {
  const queryClient = useQueryClient();
  const canAdmin = useCan('admin');
  const [name, setName] = useState('');
  const [group, setGroup] = useState('');
  const [tags, setTags] = useState('');
  const tokens = useQuery({ queryKey: TOKENS_KEY, queryFn: () => unwrap(api.GET('/v1/delegate-tokens')) });
  const tagList = tags.split(',').map((t) => t.trim()).filter((t) => t !== '');
  const create = useMutation({
    mutationFn: () => unwrap(api.POST('/v1/delegate-tokens', { body: { name: name.trim(), ...(group.trim() ? { group: group.trim() } : {}), ...(tagList.length ? { tags: tagList } : {}) } })),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: TOKENS_KEY }),
  });
  const revoke = useMutation({
    mutationFn: (id: string) => unwrap(api.POST('/v1/delegate-tokens/{id}/revoke', { params: { path: { id } } })),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: TOKENS_KEY }),
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    create.mutate();
  };
  const issued = create.data;
  return (
    <>
      <PageHeader title="Tokens" />
      {canAdmin && (
        <form className="card" onSubmit={submit} aria-label="Create token">
          <TextField label="Token name" required value={name} onChange={(e) => setName(e.currentTarget.value)} />
          <TextField label="Delegate group" hint="Optional: the only group its delegates may register as." value={group} onChange={(e) => setGroup(e.currentTarget.value)} />
          <TextField label="Tags" hint="Optional, comma-separated: the only tags its delegates may declare." value={tags} onChange={(e) => setTags(e.currentTarget.value)} />
          <button type="submit" className="button" disabled={create.isPending || name.trim() === ''}>
            Create token
          </button>
          <ErrorNotice error={create.error} />
        </form>
      )}
      {issued && (
        <section className="card" aria-label="New token">
          <div className="notice info" role="status">
            This token is shown once: copy it now. <code data-testid="new-token">{issued.token}</code>
          </div>
          {Object.entries(installCommands({ token: issued.token, name: issued.group ?? issued.name, tags: issued.tags ?? tagList, host: window.location.hostname })).map(([target, command]) => (
            <div key={target}>
              <h2>{target}</h2>
              <pre aria-label={`${target} install`}>{command}</pre>
            </div>
          ))}
        </section>
      )}
      <ErrorNotice error={tokens.error ?? revoke.error} />
      <DataTable
        label="Tokens"
        rows={tokens.data?.items ?? []}
        rowKey={(t) => t.id}
        columns={[
          { header: 'Name', cell: (t) => t.name },
          { header: 'Status', cell: (t) => <StatusBadge status={t.status} /> },
          { header: 'Group', cell: (t) => t.group ?? 'any' },
          { header: 'Tags', cell: (t) => t.tags?.join(', ') ?? 'any' },
          { header: 'Created', cell: (t) => new Date(t.createdAt).toLocaleString() },
          revokeColumn<DelegateToken>((t) => canAdmin && t.status === 'active', (t) => revoke.mutate(t.id)),
        ]}
      />
    </>
  );
}
