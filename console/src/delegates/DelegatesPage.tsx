import { useQuery } from '@tanstack/react-query';
import { api, unwrap } from '../api/client.js';
import { useLiveUpdates } from '../events/use-live-updates.js';
import { ErrorNotice, PageHeader, relativeTime, StatusBadge } from '../ui/components.js';

export function DelegatesPage() {
  const live = useLiveUpdates({ types: ['delegate.presence'], invalidate: [['delegates']] });
  const delegates = useQuery({ queryKey: ['delegates', 'page'], queryFn: () => unwrap(api.GET('/v1/delegates', { params: { query: { limit: 500 } } })), refetchInterval: live.streaming ? 10_000 : 2_000 });
  return (
    <>
      <PageHeader title="Delegates" />
      <ErrorNotice error={delegates.error} />
      <div className="table-wrap">
        <table aria-label="Delegates">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Status</th>
              <th scope="col">Last heartbeat</th>
              <th scope="col">Version</th>
              <th scope="col">Carrier</th>
              <th scope="col">Tags</th>
              <th scope="col">In flight / capacity</th>
              <th scope="col">Policy digest</th>
            </tr>
          </thead>
          <tbody>
            {(delegates.data?.items ?? []).map((d) => (
              <tr key={d.id}>
                <td>{d.name}</td>
                <td><StatusBadge status={d.status} /></td>
                <td>{relativeTime(d.lastHeartbeatAt)}</td>
                <td>{d.version} {d.outdated && <span className="badge warn">outdated</span>}</td>
                <td>{d.transport}</td>
                <td>{d.tags.join(', ')}</td>
                <td>{d.inFlight} / {d.maxConcurrency}</td>
                <td><code>{d.policy?.digest.slice(0, 12) ?? '—'}</code></td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
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
