import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { api, unwrap } from '../api/client.js';
import { ErrorNotice, PageHeader, StatusBadge, TextField } from '../ui/components.js';

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
  const users = useQuery({ queryKey: ['users'], queryFn: () => unwrap(api.GET('/v1/users')) });
  return (
    <>
      <PageHeader title="Users" />
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
  const keys = useQuery({ queryKey: ['api-keys'], queryFn: () => unwrap(api.GET('/v1/api-keys')) });
  return (
    <>
      <PageHeader title="API keys" />
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
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}
