import { useQuery } from '@tanstack/react-query';
import { api, unwrap } from '../../api/client.js';
import { RadioGroup, SelectField, TextField } from '../../ui/components.js';
import { AUTH_LABELS, type Partition } from '../partitions.js';
import { MAX_ROLE_NAME, type AuthForm, type AuthType } from './auth-form.js';
import { SecretField } from './SecretField.js';

const AUTH_TYPES = Object.keys(AUTH_LABELS) as AuthType[];

function StaticFields({ form, set }: { form: AuthForm; set: (p: Partial<AuthForm>) => void }) {
  return (
    <>
      <SecretField label="Access key ID" value={form.accessKeyId} onChange={(accessKeyId) => set({ accessKeyId })} />
      <SecretField label="Secret access key" value={form.secretAccessKey} onChange={(secretAccessKey) => set({ secretAccessKey })} />
      <SecretField label="Session token" value={form.sessionToken} onChange={(sessionToken) => set({ sessionToken })} />
    </>
  );
}

/** Palette's right-hand panel: the policies the role needs, ready to copy, and a CloudFormation template. */
function RoleSetupPanel({ partition, selectors, gateway }: { partition: Partition; selectors: string[]; gateway: string | undefined }) {
  const query = { partition, ...(selectors.length ? { selectors: selectors.join(',') } : {}), ...(gateway ? { gateway } : {}) };
  const setup = useQuery({ queryKey: ['role-setup', query], queryFn: () => unwrap(api.GET('/v1/aws/role-setup', { params: { query: { ...query, format: 'json' } } })) });
  // The JSON format answers an object; the template (a string) is downloaded through the link below.
  if (!setup.data || typeof setup.data === 'string') return null;
  const data = setup.data;
  const template = `/v1/aws/role-setup?${new URLSearchParams({ ...query, format: 'cloudformation' })}`;
  return (
    <aside className="card" aria-label="Role setup">
      <h2>Set up the role in AWS</h2>
      <p>
        Trusted entity: {data.trustedPrincipalArns.length ? data.trustedPrincipalArns.join(', ') : 'the delegates’ identity (placeholder until a delegate reports it)'} · require external ID{' '}
        <code>{data.externalId}</code>
      </p>
      <h3>Trust policy</h3>
      <pre aria-label="Trust policy">{JSON.stringify(data.trustPolicy, null, 2)}</pre>
      <h3>Permission policy</h3>
      <pre aria-label="Permission policy">{JSON.stringify(data.permissionPolicy, null, 2)}</pre>
      <a href={template} download="attache-validation-role.yaml">
        Download the CloudFormation template
      </a>
    </aside>
  );
}

export function CredentialsStep({ form, set, partition, caBundle, setCaBundle, selectors, gateway }: {
  form: AuthForm;
  set: (p: Partial<AuthForm>) => void;
  partition: Partition;
  caBundle: string;
  setCaBundle: (v: string) => void;
  selectors: string[];
  gateway: string | undefined;
}) {
  const externalId = useQuery({ queryKey: ['external-id'], queryFn: () => unwrap(api.GET('/v1/aws/external-id')), enabled: form.type === 'assumeRole' });
  const fullRoleName = `${form.rolePrefix}${form.scapRoleName}`;
  return (
    <>
      <RadioGroup legend="Authentication" name="auth-type" value={form.type} options={AUTH_TYPES.map((t) => ({ value: t, label: AUTH_LABELS[t]! }))} onChange={(type) => set({ type })} />
      {form.type === 'static' && <StaticFields form={form} set={set} />}
      {form.type === 'assumeRole' && (
        <div className="row top">
          <div>
            <TextField label="Role ARN" placeholder="arn:aws:iam::123456789012:role/AttacheValidation" value={form.roleArn} onChange={(e) => set({ roleArn: e.currentTarget.value })} />
            <TextField
              label="External ID"
              hint={`Your tenant’s external ID is ${externalId.data?.externalId ?? '…'}; leave empty to use it.`}
              value={form.externalId}
              onChange={(e) => set({ externalId: e.currentTarget.value })}
            />
            <TextField label="Session name" value={form.sessionName} onChange={(e) => set({ sessionName: e.currentTarget.value })} />
            <SelectField
              label="Source credentials"
              value={form.sourceType}
              options={[
                { value: 'delegate', label: "Delegate's own credentials" },
                { value: 'static', label: 'Static access keys' },
                { value: 'irsa', label: 'IRSA' },
                { value: 'podIdentity', label: 'EKS Pod Identity' },
              ]}
              onChange={(e) => set({ sourceType: e.currentTarget.value as AuthForm['sourceType'] })}
            />
            {form.sourceType === 'static' && <StaticFields form={form} set={set} />}
          </div>
          <RoleSetupPanel partition={partition} selectors={selectors} gateway={gateway} />
        </div>
      )}
      {form.type === 'irsa' && (
        <>
          <TextField label="Role ARN" hint="Leave empty to use the pod’s own AWS_ROLE_ARN." value={form.irsaRoleArn} onChange={(e) => set({ irsaRoleArn: e.currentTarget.value })} />
          <TextField label="Session name" value={form.sessionName} onChange={(e) => set({ sessionName: e.currentTarget.value })} />
        </>
      )}
      {(form.type === 'delegate' || form.type === 'podIdentity') && (
        <p className="notice info">The delegate uses the credentials of its own environment{form.type === 'podIdentity' ? ' (the EKS Pod Identity agent of its pod)' : ' (its default AWS credential chain)'}: nothing to enter here.</p>
      )}
      {form.type === 'scap' && (
        <>
          <TextField label="Portal URL" placeholder="https://cap.example.gov/api/v1/credentials" value={form.portalUrl} onChange={(e) => set({ portalUrl: e.currentTarget.value })} />
          <TextField label="Agency" value={form.agencyName} onChange={(e) => set({ agencyName: e.currentTarget.value })} />
          <TextField label="Account" value={form.accountName} onChange={(e) => set({ accountName: e.currentTarget.value })} />
          <TextField label="Role" value={form.scapRoleName} onChange={(e) => set({ scapRoleName: e.currentTarget.value })} />
          <TextField
            label="Role prefix"
            hint={
              <span aria-live="polite">
                Full role name: <code>{fullRoleName}</code> ({fullRoleName.length} of {MAX_ROLE_NAME} characters{fullRoleName.length > MAX_ROLE_NAME ? ': too long' : ''})
              </span>
            }
            value={form.rolePrefix}
            onChange={(e) => set({ rolePrefix: e.currentTarget.value })}
          />
          <TextField label="Permission boundary" placeholder="arn:aws-iso-b:iam::123456789012:policy/Boundary" value={form.permissionBoundaryArn} onChange={(e) => set({ permissionBoundaryArn: e.currentTarget.value })} />
          <TextField label="User certificate" multiline value={form.userCertificate} onChange={(e) => set({ userCertificate: e.currentTarget.value })} />
          <SecretField label="User key" value={form.userKey} onChange={(userKey) => set({ userKey })} />
        </>
      )}
      {(form.type === 'scap' || partition === 'aws-iso' || partition === 'aws-iso-b') && (
        <TextField label="CA bundle" multiline hint="PEM certificates of the partition’s or portal’s certificate authority." value={caBundle} onChange={(e) => setCaBundle(e.currentTarget.value)} />
      )}
    </>
  );
}
