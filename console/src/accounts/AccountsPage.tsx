import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { Link } from 'react-router';
import { api, unwrap } from '../api/client.js';
import { useLiveUpdates } from '../events/use-live-updates.js';
import { useCan } from '../session/session.js';
import { ErrorNotice, PageHeader, SelectField, StatusBadge, TextField } from '../ui/components.js';
import { AUTH_LABELS, partitionLabel } from './partitions.js';
import { accountKeys } from './queries.js';

export function AccountsPage() {
  const canEdit = useCan('editor');
  const [search, setSearch] = useState('');
  const [status, setStatus] = useState('');
  const live = useLiveUpdates({ types: ['account.validated'], invalidate: [accountKeys.all] });
  const accounts = useQuery({
    queryKey: accountKeys.all,
    queryFn: () => unwrap(api.GET('/v1/aws/accounts', { params: { query: { limit: 500 } } })),
    refetchInterval: live.streaming ? false : 5_000,
  });
  const needle = search.trim().toLowerCase();
  const items = (accounts.data?.items ?? []).filter((a) => (!status || a.status === status) && (!needle || a.name.toLowerCase().includes(needle) || (a.awsAccountId ?? '').includes(needle)));
  return (
    <>
      <PageHeader title="Cloud accounts">
        {canEdit && (
          <Link className="button" to="/accounts/new">
            Add AWS account
          </Link>
        )}
      </PageHeader>
      <div className="row">
        <TextField label="Search accounts" type="search" value={search} onChange={(e) => setSearch(e.currentTarget.value)} />
        <SelectField
          label="Status"
          value={status}
          options={[{ value: '', label: 'All' }, { value: 'valid', label: 'valid' }, { value: 'invalid', label: 'invalid' }, { value: 'unvalidated', label: 'unchecked' }, { value: 'validating', label: 'validating' }]}
          onChange={(e) => setStatus(e.currentTarget.value)}
        />
      </div>
      <ErrorNotice error={accounts.error} />
      <div className="table-wrap">
        <table aria-label="Cloud accounts">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Partition</th>
              <th scope="col">Authentication</th>
              <th scope="col">Status</th>
              <th scope="col">AWS account ID</th>
              <th scope="col">Last checked</th>
              <th scope="col">Delegates / gateway</th>
            </tr>
          </thead>
          <tbody>
            {items.map((a) => (
              <tr key={a.id}>
                <td>
                  <Link to={`/accounts/${a.id}`}>{a.name}</Link>
                </td>
                <td>{partitionLabel(a.partition)}</td>
                <td>{AUTH_LABELS[a.auth.type]}</td>
                <td>
                  <StatusBadge status={a.status} />
                </td>
                <td>{a.awsAccountId ?? '—'}</td>
                <td>{a.lastCheckedAt ? new Date(a.lastCheckedAt).toLocaleString() : 'never'}</td>
                <td>{a.gateway ? `gateway ${a.gateway}` : a.delegateSelectors.length ? a.delegateSelectors.join(', ') : 'any delegate'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {accounts.data && items.length === 0 && <p className="muted">No accounts{needle || status ? ' match' : ' yet'}.</p>}
    </>
  );
}
