import { create } from '@bufbuild/protobuf';
import { AssignSchema, type Assign } from '@attache/proto';
import { describe, expect, it } from 'vitest';
import type { ExecutionContext, Executor } from './executors/executor.js';
import { TaskFailure } from './executors/task-failure.js';
import { createLogger } from './log.js';
import { MASK, Masker } from './masking.js';
import { DelegatePolicy } from './policy/delegate-policy.js';
import { TaskRun, type TaskRunEnvironment } from './task-run.js';

function environment(): TaskRunEnvironment {
  const masker = new Masker();
  return { masker, log: createLogger({ masker, level: 'silent' }), policy: new DelegatePolicy({ token: 'tok' }), tenantId: 'tenant-1' };
}

const assign = (init: { deadlineUnixMs?: bigint; payload?: Uint8Array } = {}): Assign =>
  create(AssignSchema, { taskId: 'task-1', attempt: 2, type: 'test', payload: init.payload ?? new Uint8Array([1, 2]), deadlineUnixMs: init.deadlineUnixMs ?? 0n });

/** An executor that never finishes on its own and records the context it was given. */
function hanging(seen: { ctx?: ExecutionContext } = {}): Executor {
  return {
    type: 'test',
    run: (_payload, ctx) => {
      seen.ctx = ctx;
      return new Promise<Uint8Array>(() => undefined);
    },
  };
}

describe('TaskRun', () => {
  it('returns the executor bytes as success, with the task it ran and the context it gave', async () => {
    const seen: { ctx?: ExecutionContext } = {};
    const run = new TaskRun({ type: 'test', run: async (payload, ctx) => ((seen.ctx = ctx), payload) }, assign(), environment());
    const result = await run.finished;
    expect(result.task).toEqual({ taskId: 'task-1', attempt: 2, type: 'test' });
    expect(result.outcome).toEqual({ case: 'success', value: new Uint8Array([1, 2]) });
    expect(seen.ctx).toMatchObject({ taskId: 'task-1', attempt: 2, tenantId: 'tenant-1' });
    expect(run.cancelReason).toBeUndefined();
  });

  it('reports a cancel by the control plane as CANCELLED with its reason, even when the executor ignores the signal', async () => {
    const seen: { ctx?: ExecutionContext } = {};
    const run = new TaskRun(hanging(seen), assign(), environment());
    await new Promise((r) => setTimeout(r, 5));
    run.cancel({ kind: 'control-plane', message: 'operator asked' });
    const { outcome } = await run.finished;
    expect(outcome).toMatchObject({ case: 'error', value: { code: 'CANCELLED', message: 'The task was cancelled: operator asked.' } });
    expect(seen.ctx?.signal.aborted).toBe(true);
    expect((seen.ctx?.signal.reason as Error).name).toBe('AbortError');
    expect(run.cancelReason).toEqual({ kind: 'control-plane', message: 'operator asked' });
  });

  it('gives each agent-side reason its own sentence', async () => {
    const cases = [
      [{ kind: 'superseded' }, 'superseded by a newer attempt'],
      [{ kind: 'drain-grace' }, 'the delegate drain grace period elapsed'],
      [{ kind: 'stopping' }, 'the delegate is stopping'],
      [{ kind: 'refused' }, 'the control plane refused this delegate'],
      [{ kind: 'control-plane', message: '' }, 'cancelled by the control plane'],
    ] as const;
    for (const [reason, sentence] of cases) {
      const run = new TaskRun(hanging(), assign(), environment());
      run.cancel(reason);
      expect((await run.finished).outcome).toMatchObject({ value: { code: 'CANCELLED', message: `The task was cancelled: ${sentence}.` } });
    }
  });

  it('reports the deadline as TIMEOUT, with a TimeoutError as the signal reason', async () => {
    const seen: { ctx?: ExecutionContext } = {};
    const run = new TaskRun(hanging(seen), assign({ deadlineUnixMs: BigInt(Date.now() + 50) }), environment());
    const { outcome } = await run.finished;
    expect(outcome).toMatchObject({ case: 'error', value: { code: 'TIMEOUT' } });
    expect((seen.ctx?.signal.reason as Error).name).toBe('TimeoutError');
    expect(run.cancelReason).toEqual({ kind: 'deadline' });
  });

  it('keeps the first reason: a Cancel after the deadline does not turn TIMEOUT into CANCELLED', async () => {
    const run = new TaskRun(hanging(), assign({ deadlineUnixMs: BigInt(Date.now() - 1) }), environment());
    run.cancel({ kind: 'control-plane', message: 'too late' });
    expect((await run.finished).outcome).toMatchObject({ value: { code: 'TIMEOUT' } });
  });

  it("maps a TaskFailure to its code and an unexpected error to INTERNAL without the error's text", async () => {
    const failing = new TaskRun(
      { type: 'test', run: async () => Promise.reject(new TaskFailure('INVALID_CREDENTIALS', 'The keys were refused.', { account: '1' })) },
      assign(),
      environment(),
    );
    expect((await failing.finished).outcome).toMatchObject({ value: { code: 'INVALID_CREDENTIALS', message: 'The keys were refused.', details: { account: '1' } } });
    const crashing = new TaskRun({ type: 'test', run: async () => Promise.reject(new RangeError('stack detail')) }, assign(), environment());
    const { outcome } = await crashing.finished;
    expect(outcome).toMatchObject({ value: { code: 'INTERNAL' } });
    expect(outcome.case === 'error' && outcome.value.message).not.toContain('stack detail');
    expect(outcome.case === 'error' && outcome.value.message).toContain('RangeError');
  });

  it('withholds a result carrying a secret the run registered, and masks it out of a failure message', async () => {
    const env = environment();
    const leaking = new TaskRun(
      { type: 'test', run: async (_p, ctx) => (ctx.registerSecret('s3cr3t-value'), new TextEncoder().encode('the s3cr3t-value')) },
      assign(),
      env,
    );
    expect((await leaking.finished).outcome).toMatchObject({ value: { code: 'INTERNAL', message: expect.stringContaining('secret material') } });
    const telling = new TaskRun(
      { type: 'test', run: async (_p, ctx) => (ctx.registerSecret('hunter2-secret'), Promise.reject(new TaskFailure('DENIED', 'hunter2-secret was refused'))) },
      assign(),
      env,
    );
    expect((await telling.finished).outcome).toMatchObject({ value: { message: `${MASK} was refused` } });
  });
});
