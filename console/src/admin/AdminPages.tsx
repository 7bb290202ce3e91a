import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { api, unwrap, type Schemas } from '../api/client.js';
import { ROLES, type Role } from '../session/roles.js';
import { ErrorNotice, PageHeader, SelectField, StatusBadge, TextField } from '../ui/components.js';
import { DataTable, revokeColumn } from '../ui/DataTable.js';

const ROLE_OPTIONS = ROLES.map((r) => ({ value: r, label: r }));

/** The audit trail (admins), newest first, filtered by actor and target as the API filters. */
export function AuditPage() {
  const [actor, setActor] = useState('');
  const [target, setTarget] = useState('');
  const query = { limit: 200, ...(actor.trim() ? { actor: actor.trim() } : {}), ...(target.trim() ? { target: target.trim() } : {}) };
  const audit = useQuery({ queryKey: ['audit', query], queryFn: () => unwrap(api.GET('/v1/audit', { params: { query } })) });
  return (
    <>
      <PageHeader title="Audit" />
      <div className="row">
        <TextField label="Actor" hint="A user or API key id." value={actor} onChange={(e) => setActor(e.currentTarget.value)} />
        <TextField label="Target" hint="An account, token or user id." value={target} onChange={(e) => setTarget(e.currentTarget.value)} />
      </div>
      <ErrorNotice error={audit.error} />
      <DataTable
        label="Audit trail"
        rows={audit.data?.items ?? []}
        rowKey={(e) => e.id}
        columns={[
          { header: 'When', cell: (e) => new Date(e.at).toLocaleString() },
          { header: 'Actor', cell: (e) => (e.actor.type === 'user' ? e.actor.email : e.actor.type === 'apiKey' ? `key ${e.actor.name}` : e.actor.type) },
          { header: 'Action', cell: (e) => e.action },
          { header: 'Target', cell: (e) => e.target.name ?? e.target.id ?? e.target.type },
          { header: 'Outcome', cell: (e) => e.outcome },
        ]}
      />
    </>
  );
}

export function UsersPage() {
  const queryClient = useQueryClient();
  const users = useQuery({ queryKey: ['users'], queryFn: () => unwrap(api.GET('/v1/users')) });
  const [email, setEmail] = useState('');
  const [name, setName] = useState('');
  const [role, setRole] = useState<Role>('viewer');
  const [password, setPassword] = useState('');
  const create = useMutation({
    mutationFn: () => unwrap(api.POST('/v1/users', { body: { email: email.trim(), name: name.trim(), role, ...(password ? { password } : {}) } })),
    onSuccess: () => {
      setEmail('');
      setName('');
      setPassword('');
      return queryClient.invalidateQueries({ queryKey: ['users'] });
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    create.mutate();
  };
  return (
    <>
      <PageHeader title="Users" />
      <form className="card" onSubmit={submit} aria-label="Add user">
        <TextField label="User email" type="email" required value={email} onChange={(e) => setEmail(e.currentTarget.value)} />
        <TextField label="User name" required value={name} onChange={(e) => setName(e.currentTarget.value)} />
        <SelectField label="Role" value={role} options={ROLE_OPTIONS} onChange={(e) => setRole(e.currentTarget.value as Role)} />
        <TextField label="Initial password" type="password" autoComplete="new-password" hint="At least 12 characters; leave empty for single sign-on only." value={password} onChange={(e) => setPassword(e.currentTarget.value)} />
        <button type="submit" className="button" disabled={create.isPending}>
          Add user
        </button>
        <ErrorNotice error={create.error} />
      </form>
      <ErrorNotice error={users.error} />
      <DataTable
        label="Users"
        rows={users.data?.items ?? []}
        rowKey={(u) => u.id}
        columns={[
          { header: 'Name', cell: (u) => u.name },
          { header: 'Email', cell: (u) => u.email },
          { header: 'Role', cell: (u) => u.role },
          { header: 'Status', cell: (u) => <StatusBadge status={u.status} /> },
        ]}
      />
    </>
  );
}

export function ApiKeysPage() {
  const queryClient = useQueryClient();
  const keys = useQuery({ queryKey: ['api-keys'], queryFn: () => unwrap(api.GET('/v1/api-keys')) });
  const [name, setName] = useState('');
  const [role, setRole] = useState<Role>('viewer');
  const create = useMutation({
    mutationFn: () => unwrap(api.POST('/v1/api-keys', { body: { name: name.trim(), role } })),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ['api-keys'] }),
  });
  const revoke = useMutation({
    mutationFn: (id: string) => unwrap(api.POST('/v1/api-keys/{id}/revoke', { params: { path: { id } } })),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ['api-keys'] }),
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    create.mutate();
  };
  return (
    <>
      <PageHeader title="API keys" />
      <form className="card" onSubmit={submit} aria-label="Create API key">
        <TextField label="Key name" required value={name} onChange={(e) => setName(e.currentTarget.value)} />
        <SelectField label="Role" value={role} options={ROLE_OPTIONS} onChange={(e) => setRole(e.currentTarget.value as Role)} />
        <button type="submit" className="button" disabled={create.isPending || name.trim() === ''}>
          Create API key
        </button>
        <ErrorNotice error={create.error ?? revoke.error} />
      </form>
      {create.data && (
        <div className="notice info" role="status">
          This key is shown once: copy it now. <code data-testid="new-api-key">{create.data.apiKey}</code>
        </div>
      )}
      <ErrorNotice error={keys.error} />
      <DataTable
        label="API keys"
        rows={keys.data?.items ?? []}
        rowKey={(k) => k.id}
        columns={[
          { header: 'Name', cell: (k) => k.name },
          { header: 'Role', cell: (k) => k.role },
          { header: 'Prefix', cell: (k) => <code>{k.prefix}</code> },
          { header: 'Last used', cell: (k) => (k.lastUsedAt ? new Date(k.lastUsedAt).toLocaleString() : 'never') },
          { header: 'Expires', cell: (k) => (k.expiresAt ? new Date(k.expiresAt).toLocaleString() : 'never') },
          { header: 'Status', cell: (k) => <StatusBadge status={k.revokedAt ? 'revoked' : 'active'} /> },
          revokeColumn<Schemas['ApiKey']>((k) => !k.revokedAt, (k) => revoke.mutate(k.id)),
        ]}
      />
    </>
  );
}
