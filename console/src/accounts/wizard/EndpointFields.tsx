import { TextField } from '../../ui/components.js';

export interface Endpoints {
  sts: string;
  ec2: string;
  iam: string;
}

/** Only the endpoints the person filled in; undefined when none (the partition's own endpoints). */
export function endpointOverrides(e: Endpoints): Partial<Endpoints> | undefined {
  const filled = Object.fromEntries(Object.entries(e).map(([k, v]) => [k, v.trim()]).filter(([, v]) => v !== ''));
  return Object.keys(filled).length ? filled : undefined;
}

/**
 * Endpoint overrides (VPC endpoints, the ISO regions' private endpoints). The delegate calls only
 * the origins its own policy allows (ATTACHE_ALLOW_ENDPOINTS).
 */
export function EndpointFields({ value, onChange }: { value: Endpoints; onChange: (e: Endpoints) => void }) {
  return (
    <details>
      <summary>Endpoint overrides (optional)</summary>
      <p className="muted">Leave empty for the partition’s endpoints. A delegate calls only the origins its policy allows (ATTACHE_ALLOW_ENDPOINTS).</p>
      <TextField label="STS endpoint" type="url" value={value.sts} onChange={(e) => onChange({ ...value, sts: e.currentTarget.value })} />
      <TextField label="EC2 endpoint" type="url" value={value.ec2} onChange={(e) => onChange({ ...value, ec2: e.currentTarget.value })} />
      <TextField label="IAM endpoint" type="url" value={value.iam} onChange={(e) => onChange({ ...value, iam: e.currentTarget.value })} />
    </details>
  );
}
