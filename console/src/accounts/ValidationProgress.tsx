import type { Account, Task } from '../api/client.js';
import { Button } from '../ui/components.js';
import { TERMINAL_STATES } from './queries.js';

interface Step {
  name: string;
  durationMs?: number;
}

/** The result's steps, as the delegate reported them (name and duration of each AWS call). */
export function stepsOf(task: Task | undefined): Step[] {
  const steps = (task?.result as { steps?: unknown } | null | undefined)?.steps;
  return Array.isArray(steps) ? (steps as Step[]).filter((s) => typeof s?.name === 'string') : [];
}

interface Ineligible {
  name: string;
  reasons: string[];
}

/** NO_ELIGIBLE_DELEGATE carries, for each connected delegate, why it could not run the task. */
function ineligibleOf(task: Task): Ineligible[] {
  const list = task.error?.details['delegates'];
  return Array.isArray(list) ? (list as Ineligible[]).filter((d) => typeof d?.name === 'string' && Array.isArray(d.reasons)) : [];
}

/**
 * A validation step by step: queued, on which delegate, running, each AWS call with its time, then
 * the verdict: "Valid" with the account ID and ARN, or the error code with its sentence.
 */
export function ValidationProgress({ task, account, onEditCredentials }: { task: Task | undefined; account: Account | undefined; onEditCredentials?: () => void }) {
  if (!task) return <p className="muted">Starting the validation…</p>;
  const ended = TERMINAL_STATES.has(task.state);
  const onDelegate = task.delegate !== null;
  const started = task.startedAt !== null || ended;
  const regions = (task.result as { regions?: unknown } | null)?.regions;
  return (
    <section aria-label="Validation progress" aria-live="polite" className="card">
      <ol className="progress">
        <li className={onDelegate || ended ? 'done' : ''}>Queued</li>
        <li className={onDelegate ? 'done' : ''}>{onDelegate ? `On delegate ${task.delegate?.name ?? task.delegate?.id}` : 'Waiting for an eligible delegate'}</li>
        <li className={started ? 'done' : ''}>Running</li>
        {stepsOf(task).map((s) => (
          <li key={s.name} className="done">
            {s.name}
            {s.durationMs !== undefined && <span className="muted"> · {s.durationMs} ms</span>}
          </li>
        ))}
        {task.state === 'succeeded' && Array.isArray(regions) && <li className="done">Regions: {regions.length}</li>}
      </ol>
      {task.state === 'succeeded' && account?.status === 'valid' && (
        <div className="notice ok" role="status">
          <strong>✓ Valid</strong> · AWS account ID <code>{account.awsAccountId}</code> · ARN <code>{account.arn}</code>
        </div>
      )}
      {ended && task.state !== 'succeeded' && (
        <div className="notice bad" role="alert">
          <strong>{task.error?.code ?? task.state.toUpperCase()}</strong> {task.error?.message ?? `The validation ended ${task.state}.`}
          {ineligibleOf(task).length > 0 && (
            <ul aria-label="Why no delegate is eligible">
              {ineligibleOf(task).map((d) => (
                <li key={d.name}>
                  {d.name}: {d.reasons.join('; ')}
                </li>
              ))}
            </ul>
          )}
          {onEditCredentials && (
            <div className="row">
              <Button variant="secondary" onClick={onEditCredentials}>
                Edit credentials
              </Button>
            </div>
          )}
        </div>
      )}
    </section>
  );
}
