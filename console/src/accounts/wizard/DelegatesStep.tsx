import { useQuery } from '@tanstack/react-query';
import { api, unwrap } from '../../api/client.js';
import { ErrorNotice, RadioGroup, SelectField, TextField } from '../../ui/components.js';
import { GATEWAYS_KEY, useEligibility } from './eligibility.js';
import type { Placement } from './placement.js';

export { tagsOf, type Placement } from './placement.js';

/** "N eligible delegates", live; when none, why each connected delegate is not (the API's reasons). */
function EligibleDelegates({ placement }: { placement: Placement }) {
  const eligibility = useEligibility(placement);
  if (eligibility.error) return <ErrorNotice error={eligibility.error} />;
  if (!eligibility.data) return <p role="status">Checking the connected delegates…</p>;
  const { eligible, delegates } = eligibility.data;
  return (
    <div aria-label="Eligible delegates" role="region">
      <p role="status" className={`notice ${eligible > 0 ? 'ok' : 'bad'}`}>
        {eligible} eligible delegate{eligible === 1 ? '' : 's'}
        {delegates.length === 0 ? ': no delegate is connected; install one with a token (Tokens).' : ''}
      </p>
      {eligible === 0 && delegates.length > 0 && (
        <ul aria-label="Why no delegate is eligible">
          {delegates.map((d) => (
            <li key={d.id}>
              <strong>{d.name}</strong>: {d.reasons.join('; ')}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

/** Harness's "Delegates Setup" with Palette's "Connect Private Cloud Gateway". */
export function DelegatesStep({ placement, setPlacement }: { placement: Placement; setPlacement: (p: Placement) => void }) {
  const gateways = useQuery({ queryKey: GATEWAYS_KEY, queryFn: () => unwrap(api.GET('/v1/gateways')) });
  const names = gateways.data?.items.map((g) => g.name) ?? [];
  return (
    <>
      <RadioGroup
        legend="Delegates"
        name="placement"
        value={placement.kind}
        options={[
          { value: 'any', label: 'Any delegate' },
          { value: 'tags', label: 'Only delegates with all of these tags' },
          { value: 'gateway', label: 'Connect Private Cloud Gateway' },
        ]}
        onChange={(kind) => setPlacement(kind === 'any' ? { kind } : kind === 'tags' ? { kind, tags: '' } : { kind, gateway: names[0] ?? '' })}
      />
      {placement.kind === 'tags' && (
        <TextField label="Delegate tags" hint="Comma-separated, e.g. aws, vpc-east." value={placement.tags} onChange={(e) => setPlacement({ kind: 'tags', tags: e.currentTarget.value })} />
      )}
      {placement.kind === 'gateway' &&
        (names.length === 0 ? (
          <p className="notice bad">No gateway has connected yet: install a delegate group first (Tokens).</p>
        ) : (
          <SelectField
            label="Gateway"
            value={placement.gateway}
            options={(gateways.data?.items ?? []).map((g) => ({ value: g.name, label: `${g.name} (${g.connected} connected)` }))}
            onChange={(e) => setPlacement({ kind: 'gateway', gateway: e.currentTarget.value })}
          />
        ))}
      <EligibleDelegates placement={placement} />
    </>
  );
}
