import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { api, ApiError, unwrap } from '../../api/client.js';
import { ErrorNotice, TextField } from '../../ui/components.js';

/** How long one request waits for the listing task; the console asks again while it runs (202). */
const WAIT_SECONDS = 20;

async function listPolicies(id: string) {
  for (;;) {
    const answer = await api.GET('/v1/aws/accounts/{id}/available-policies', { params: { path: { id }, query: { waitSeconds: WAIT_SECONDS } } });
    // 202: the listing task still runs on a delegate; the same query picks it up again.
    if (answer.response.status === 202) continue;
    const listed = await unwrap(Promise.resolve(answer));
    if ('policies' in listed) return listed;
    throw new ApiError(answer.response.status, 'UNEXPECTED_ANSWER', 'The policy listing answered without policies; try again.');
  }
}

/** Palette's "Add IAM Policies": the account's policies, searchable, chosen with checkboxes. */
export function PolicyPicker({ accountId, chosen, setChosen }: { accountId: string; chosen: ReadonlySet<string>; setChosen: (s: Set<string>) => void }) {
  const [search, setSearch] = useState('');
  const listing = useQuery({ queryKey: ['available-policies', accountId], queryFn: () => listPolicies(accountId), retry: false });
  if (listing.isPending) return <p role="status">Listing the account’s IAM policies on a delegate…</p>;
  if (listing.error) return <ErrorNotice error={listing.error} />;
  const needle = search.trim().toLowerCase();
  const shown = listing.data.policies.filter((p) => needle === '' || p.name.toLowerCase().includes(needle) || p.arn.toLowerCase().includes(needle));
  const toggle = (arn: string, on: boolean) => {
    const next = new Set(chosen);
    if (on) next.add(arn);
    else next.delete(arn);
    setChosen(next);
  };
  return (
    <div>
      <TextField label="Search policies" type="search" value={search} onChange={(e) => setSearch(e.currentTarget.value)} hint={`${shown.length} of ${listing.data.count} policies · ${chosen.size} chosen`} />
      <ul className="policy-list" aria-label="IAM policies">
        {shown.map((p) => (
          <li key={p.arn}>
            <label className="choice">
              <input type="checkbox" checked={chosen.has(p.arn)} onChange={(e) => toggle(p.arn, e.currentTarget.checked)} />
              {p.name} <span className="muted">{p.path !== '/' ? p.path : ''}</span>
            </label>
          </li>
        ))}
      </ul>
    </div>
  );
}
