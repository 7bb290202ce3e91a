import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { api, unwrap } from '../api/client.js';
import { ROLES, type Role } from '../session/roles.js';
import { Button, ErrorNotice, PageHeader, SelectField, StatusBadge, TextField } from '../ui/components.js';

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
      <div className="table-wrap">
        <table aria-label="Audit trail">
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">Actor</th>
              <th scope="col">Action</th>
              <th scope="col">Target</th>
              <th scope="col">Outcome</th>
            </tr>
          </thead>
          <tbody>
            {(audit.data?.items ?? []).map((e) => (
              <tr key={e.id}>
                <td>{new Date(e.at).toLocaleString()}</td>
                <td>{e.actor.type === 'user' ? e.actor.email : e.actor.type === 'apiKey' ? `key ${e.actor.name}` : e.actor.type}</td>
                <td>{e.action}</td>
                <td>{e.target.name ?? e.target.id ?? e.target.type}</td>
                <td>{e.outcome}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
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
      <div className="table-wrap">
        <table aria-label="Users">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Email</th>
              <th scope="col">Role</th>
              <th scope="col">Status</th>
            </tr>
          </thead>
          <tbody>
            {(users.data?.items ?? []).map((u) => (
              <tr key={u.id}>
                <td>{u.name}</td>
                <td>{u.email}</td>
                <td>{u.role}</td>
                <td><StatusBadge status={u.status} /></td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
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
      <div className="table-wrap">
        <table aria-label="API keys">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Role</th>
              <th scope="col">Prefix</th>
              <th scope="col">Last used</th>
              <th scope="col">Expires</th>
              <th scope="col">Status</th>
              <th scope="col"><span className="muted">Actions</span></th>
            </tr>
          </thead>
          <tbody>
            {(keys.data?.items ?? []).map((k) => (
              <tr key={k.id}>
                <td>{k.name}</td>
                <td>{k.role}</td>
                <td><code>{k.prefix}</code></td>
                <td>{k.lastUsedAt ? new Date(k.lastUsedAt).toLocaleString() : 'never'}</td>
                <td>{k.expiresAt ? new Date(k.expiresAt).toLocaleString() : 'never'}</td>
                <td><StatusBadge status={k.revokedAt ? 'revoked' : 'active'} /></td>
                <td>
                  {!k.revokedAt && (
                    <Button variant="danger" onClick={() => revoke.mutate(k.id)}>
                      Revoke
                    </Button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}
