import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { Link } from 'react-router';
import { api, unwrap } from '../api/client.js';
import { useLiveUpdates } from '../events/use-live-updates.js';
import { useCan } from '../session/session.js';
import { ErrorNotice, PageHeader, SelectField, StatusBadge, TextField } from '../ui/components.js';
import { DataTable } from '../ui/DataTable.js';
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
      <DataTable
        label="Cloud accounts"
        rows={items}
        rowKey={(a) => a.id}
        columns={[
          { header: 'Name', cell: (a) => <Link to={`/accounts/${a.id}`}>{a.name}</Link> },
          { header: 'Partition', cell: (a) => partitionLabel(a.partition) },
          { header: 'Authentication', cell: (a) => AUTH_LABELS[a.auth.type] },
          { header: 'Status', cell: (a) => <StatusBadge status={a.status} /> },
          { header: 'AWS account ID', cell: (a) => a.awsAccountId ?? '—' },
          { header: 'Last checked', cell: (a) => (a.lastCheckedAt ? new Date(a.lastCheckedAt).toLocaleString() : 'never') },
          { header: 'Delegates / gateway', cell: (a) => (a.gateway ? `gateway ${a.gateway}` : a.delegateSelectors.length ? a.delegateSelectors.join(', ') : 'any delegate') },
        ]}
      />
      {accounts.data && items.length === 0 && <p className="muted">No accounts{needle || status ? ' match' : ' yet'}.</p>}
    </>
  );
}
