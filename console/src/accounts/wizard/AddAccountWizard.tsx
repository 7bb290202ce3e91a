import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useEffect, useMemo, useState } from 'react';
import { useNavigate } from 'react-router';
import { api, unwrap, type Account } from '../../api/client.js';
import { useLiveUpdates } from '../../events/use-live-updates.js';
import { newAccountId, sealingKeyFrom, sealValue, type SealingKey } from '../../sealing/seal.js';
import { useSession } from '../../session/session.js';
import { Button, ErrorNotice, SelectField, Switch, TextField } from '../../ui/components.js';
import { PARTITIONS, type Partition } from '../partitions.js';
import { accountKeys, taskKey, TERMINAL_STATES, useAccount, useTask } from '../queries.js';
import { ValidationProgress } from '../ValidationProgress.js';
import { buildAuth, emptyAuthForm, sealsAnything, type AuthForm, type SecretResolver } from './auth-form.js';
import { CredentialsStep } from './CredentialsStep.js';
import { DelegatesStep, tagsOf, type Placement } from './DelegatesStep.js';
import { useEligibility } from './eligibility.js';
import { EndpointFields, endpointOverrides, type Endpoints } from './EndpointFields.js';
import { PolicyPicker } from './PolicyPicker.js';

const STEPS = ['Account', 'Credentials', 'Delegates', 'Validate'] as const;

/** The group whose key seals: the pinned gateway, else the one group of the eligible delegates, else the person chooses. */
function useSealingGroups(placement: Placement, needed: boolean) {
  const eligibility = useEligibility(placement, { enabled: needed && placement.kind !== 'gateway', live: false });
  if (placement.kind === 'gateway') return [placement.gateway];
  return [...new Set((eligibility.data?.delegates ?? []).filter((d) => d.eligible).map((d) => d.name))].sort();
}

/**
 * "Add AWS account": Palette's and Harness's wizards in four steps. The account is created (or
 * changed) when Validate is pressed, with secrets as references or sealed here; Confirm saves the
 * IAM policy choice and opens the account.
 */
export function AddAccountWizard() {
  const me = useSession();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const accountId = useMemo(newAccountId, []);
  const [step, setStep] = useState(0);
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [partition, setPartition] = useState<Partition>('aws');
  const [testRegion, setTestRegion] = useState('us-east-1');
  const [auth, setAuth] = useState<AuthForm>(emptyAuthForm);
  const [caBundle, setCaBundle] = useState('');
  const [endpoints, setEndpoints] = useState<Endpoints>({ sts: '', ec2: '', iam: '' });
  const [placement, setPlacement] = useState<Placement>({ kind: 'any' });
  const [group, setGroup] = useState('');
  const [created, setCreated] = useState(false);
  const [taskId, setTaskId] = useState<string>();
  const [addPolicies, setAddPolicies] = useState(false);
  const [policies, setPolicies] = useState<Set<string>>(new Set());

  const sealing = sealsAnything(auth);
  const groups = useSealingGroups(placement, sealing);
  const sealGroup = groups.length === 1 ? groups[0]! : group;

  const live = useLiveUpdates({ types: ['task.state', 'account.validated'], taskId, invalidate: taskId ? [taskKey(taskId), accountKeys.one(accountId)] : [], enabled: taskId !== undefined });
  const task = useTask(taskId, live.refetchInterval);
  const ended = task.data !== undefined && TERMINAL_STATES.has(task.data.state);
  const account = useAccount(created ? accountId : undefined);
  useEffect(() => {
    if (ended) void queryClient.invalidateQueries({ queryKey: accountKeys.one(accountId) });
  }, [ended, accountId, queryClient]);

  const validate = useMutation({
    mutationFn: async () => {
      let key: SealingKey | undefined;
      const resolve: SecretResolver = async (field, input) => {
        if (input.mode === 'reference') return input.text.trim();
        if (!sealGroup) throw new Error('Choose the delegate group whose key seals the secret (Delegate group).');
        key ??= await sealingKeyFrom(await unwrap(api.GET('/v1/delegate-groups/{name}/public-key', { params: { path: { name: sealGroup } } })), sealGroup);
        return sealValue(key, input.text, { tenantId: me.tenant.id, accountId, field });
      };
      const body = {
        name: name.trim(),
        description,
        partition,
        testRegion: testRegion.trim(),
        auth: await buildAuth(auth, resolve),
        delegateSelectors: tagsOf(placement),
        ...(placement.kind === 'gateway' ? { gateway: placement.gateway } : {}),
        ...(caBundle.trim() ? { caBundle } : {}),
        ...(endpointOverrides(endpoints) ? { endpoints: endpointOverrides(endpoints) } : {}),
      };
      const saved: Account = created
        ? await unwrap(api.PATCH('/v1/aws/accounts/{id}', { params: { path: { id: accountId } }, body }))
        : await unwrap(api.POST('/v1/aws/accounts', { body: { ...body, id: accountId } }));
      setCreated(true);
      queryClient.setQueryData(accountKeys.one(accountId), saved);
      const started = await unwrap(api.POST('/v1/aws/accounts/{id}/validate', { params: { path: { id: accountId }, query: { waitSeconds: 0 } } }));
      queryClient.setQueryData(taskKey(started.task.id), started.task);
      setTaskId(started.task.id);
    },
  });

  const confirm = useMutation({
    mutationFn: async () => {
      if (addPolicies) await unwrap(api.PUT('/v1/aws/accounts/{id}/policies', { params: { path: { id: accountId } }, body: { policyArns: [...policies] } }));
      await queryClient.invalidateQueries({ queryKey: accountKeys.all });
      navigate(`/accounts/${accountId}`);
    },
  });

  const editCredentials = () => {
    setTaskId(undefined);
    validate.reset();
    setStep(1);
  };
  const valid = ended && task.data?.state === 'succeeded' && account.data?.status === 'valid';

  return (
    <div>
      <h1>Add AWS account</h1>
      <ol className="steps" aria-label="Steps">
        {STEPS.map((s, i) => (
          <li key={s} aria-current={i === step ? 'step' : undefined}>
            {i + 1}. {s}
          </li>
        ))}
      </ol>
      <form className="card" onSubmit={(e) => e.preventDefault()} aria-label={STEPS[step]}>
        {step === 0 && (
          <>
            <TextField label="Account name" required value={name} onChange={(e) => setName(e.currentTarget.value)} />
            <TextField label="Description" value={description} onChange={(e) => setDescription(e.currentTarget.value)} />
            <SelectField
              label="Partition"
              value={partition}
              options={PARTITIONS}
              onChange={(e) => {
                const p = e.currentTarget.value as Partition;
                setPartition(p);
                setTestRegion(PARTITIONS.find((x) => x.value === p)!.defaultRegion);
              }}
            />
            <TextField label="Test region" value={testRegion} onChange={(e) => setTestRegion(e.currentTarget.value)} hint="Where the validation calls AWS; the partition’s usual region by default." />
            <EndpointFields value={endpoints} onChange={setEndpoints} />
          </>
        )}
        {step === 1 && (
          <CredentialsStep form={auth} set={(p) => setAuth((f) => ({ ...f, ...p }))} partition={partition} caBundle={caBundle} setCaBundle={setCaBundle} selectors={tagsOf(placement)} gateway={placement.kind === 'gateway' ? placement.gateway : undefined} />
        )}
        {step === 2 && <DelegatesStep placement={placement} setPlacement={setPlacement} />}
        {step === 3 && (
          <div className="stack">
            {sealing && groups.length !== 1 && (
              <SelectField
                label="Delegate group"
                hint="The sealed secret can only be opened by this group’s delegates."
                value={group}
                options={[{ value: '', label: 'Choose a group' }, ...groups.map((g) => ({ value: g, label: g }))]}
                onChange={(e) => setGroup(e.currentTarget.value)}
              />
            )}
            {sealing && groups.length === 1 && <p className="muted">Secrets are sealed to delegate group {groups[0]}.</p>}
            <div className="row">
              <Button onClick={() => validate.mutate()} disabled={validate.isPending || (taskId !== undefined && !ended)}>
                Validate
              </Button>
            </div>
            <ErrorNotice error={validate.error} />
            {taskId && <ValidationProgress task={task.data} account={account.data} onEditCredentials={editCredentials} />}
            {valid && (
              <div className="stack">
                <Switch label="Add IAM policies" checked={addPolicies} onChange={setAddPolicies} />
                {addPolicies && <PolicyPicker accountId={accountId} chosen={policies} setChosen={setPolicies} />}
                <ErrorNotice error={confirm.error} />
                <Button onClick={() => confirm.mutate()} disabled={confirm.isPending}>
                  Confirm
                </Button>
              </div>
            )}
          </div>
        )}
        <div className="row">
          {step > 0 && (
            <Button variant="secondary" onClick={() => setStep(step - 1)}>
              Back
            </Button>
          )}
          {step < STEPS.length - 1 && (
            <Button onClick={() => setStep(step + 1)} disabled={step === 0 && name.trim() === ''}>
              Next
            </Button>
          )}
        </div>
      </form>
    </div>
  );
}
