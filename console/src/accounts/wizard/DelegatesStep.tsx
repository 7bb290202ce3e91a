import { useQuery } from '@tanstack/react-query';
import { api, unwrap } from '../../api/client.js';
import { RadioGroup, SelectField, TextField } from '../../ui/components.js';

export type Placement = { kind: 'any' } | { kind: 'tags'; tags: string } | { kind: 'gateway'; gateway: string };

export function tagsOf(p: Placement): string[] {
  return p.kind === 'tags' ? p.tags.split(',').map((t) => t.trim()).filter((t) => t !== '') : [];
}

/** Harness's "Delegates Setup" with Palette's "Connect Private Cloud Gateway". */
export function DelegatesStep({ placement, setPlacement }: { placement: Placement; setPlacement: (p: Placement) => void }) {
  const gateways = useQuery({ queryKey: ['gateways'], queryFn: () => unwrap(api.GET('/v1/gateways')) });
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
    </>
  );
}
