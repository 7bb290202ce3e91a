import { useQuery } from '@tanstack/react-query';
import { api, unwrap } from '../api/client.js';
import { useLiveUpdates } from '../events/use-live-updates.js';
import { ErrorNotice, PageHeader, relativeTime, StatusBadge } from '../ui/components.js';
import { DataTable } from '../ui/DataTable.js';

export function DelegatesPage() {
  const live = useLiveUpdates({ types: ['delegate.presence'], invalidate: [['delegates']] });
  const delegates = useQuery({ queryKey: ['delegates', 'page'], queryFn: () => unwrap(api.GET('/v1/delegates', { params: { query: { limit: 500 } } })), refetchInterval: live.streaming ? 10_000 : 2_000 });
  return (
    <>
      <PageHeader title="Delegates" />
      <ErrorNotice error={delegates.error} />
      <DataTable
        label="Delegates"
        rows={delegates.data?.items ?? []}
        rowKey={(d) => d.id}
        columns={[
          { header: 'Name', cell: (d) => d.name },
          { header: 'Status', cell: (d) => <StatusBadge status={d.status} /> },
          { header: 'Last heartbeat', cell: (d) => relativeTime(d.lastHeartbeatAt) },
          { header: 'Version', cell: (d) => <>{d.version} {d.outdated && <span className="badge warn">outdated</span>}</> },
          { header: 'Carrier', cell: (d) => d.transport },
          { header: 'Tags', cell: (d) => d.tags.join(', ') },
          { header: 'In flight / capacity', cell: (d) => `${d.inFlight} / ${d.maxConcurrency}` },
          { header: 'Policy digest', cell: (d) => <code>{d.policy?.digest.slice(0, 12) ?? '—'}</code> },
        ]}
      />
    </>
  );
}

export function GatewaysPage() {
  const gateways = useQuery({ queryKey: ['gateways'], queryFn: () => unwrap(api.GET('/v1/gateways')), refetchInterval: 5_000 });
  return (
    <>
      <PageHeader title="Gateways" />
      <ErrorNotice error={gateways.error} />
      {(gateways.data?.items ?? []).map((g) => (
        <section key={g.name} className="card" aria-label={`Gateway ${g.name}`}>
          <h2>{g.name} <span className="muted">· {g.connected} connected</span></h2>
          <ul>
            {g.replicas.map((r) => (
              <li key={r.id}>
                {r.instanceId} <StatusBadge status={r.status} /> · {r.version} · {r.transport} · {r.inFlight} / {r.maxConcurrency}
              </li>
            ))}
          </ul>
        </section>
      ))}
      {gateways.data?.items.length === 0 && <p className="muted">No gateways yet.</p>}
    </>
  );
}
