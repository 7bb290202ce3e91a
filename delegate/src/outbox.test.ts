import { create } from '@bufbuild/protobuf';
import { BATCH_LIMITS, ResultSchema, type DelegateFrame, type Result } from '@attache/proto';
import { describe, expect, it } from 'vitest';
import { Outbox, type OutboxLink } from './outbox.js';

const result = (taskId: string, attempt = 1): Result =>
  create(ResultSchema, { taskId, attempt, outcome: { case: 'success', value: new Uint8Array() }, durationMs: 1 });

/** A connection at the outbox's seam: records what it took; `refuse` makes writes fail; `end()` ends it. */
class Link implements OutboxLink {
  readonly sent: string[] = [];
  readonly batchItems = 0;
  refuse = false;
  hang = false;
  readonly ended: Promise<void>;
  end!: () => void;
  constructor() {
    this.ended = new Promise((resolve) => (this.end = resolve));
  }
  send(frame: DelegateFrame): Promise<void> {
    if (frame.frame.case !== 'result') throw new Error('only results go through the outbox');
    if (this.refuse) return Promise.reject(new Error('connection is closed'));
    if (this.hang) return new Promise(() => undefined);
    this.sent.push(frame.frame.value.taskId);
    return Promise.resolve();
  }
}

describe('Outbox', () => {
  it('holds results while no connection is registered, then sends them in order', async () => {
    let link: Link | undefined;
    let delivered = 0;
    const outbox = new Outbox(() => link, () => delivered++);
    outbox.add(result('a'));
    outbox.add(result('b', 3));
    await outbox.flush();
    expect(outbox.size).toBe(2);
    expect(outbox.held().map((r) => [r.taskId, r.attempt])).toEqual([['a', 1], ['b', 3]]);

    link = new Link();
    await outbox.flush();
    expect(link.sent).toEqual(['a', 'b']);
    expect(outbox.size).toBe(0);
    expect(delivered).toBe(2);
  });

  it('keeps a result whose write failed at the head and resends it, in order, after a reconnect', async () => {
    const first = new Link();
    first.refuse = true;
    let link: Link | undefined = first;
    const outbox = new Outbox(() => link);
    outbox.add(result('a'));
    outbox.add(result('b'));
    await outbox.flush();
    expect(first.sent).toEqual([]);
    expect(outbox.held().map((r) => r.taskId)).toEqual(['a', 'b']);

    const second = new Link();
    link = second;
    await outbox.flush();
    expect(second.sent).toEqual(['a', 'b']);
    expect(outbox.size).toBe(0);
  });

  it('gives up on a write still pending when its connection ends, and resends on the next one', async () => {
    const stuck = new Link();
    stuck.hang = true;
    let link: Link | undefined = stuck;
    const outbox = new Outbox(() => link);
    outbox.add(result('a'));
    const flushing = outbox.flush();
    link = undefined;
    stuck.end();
    await flushing;
    expect(outbox.size).toBe(1);

    const next = new Link();
    link = next;
    await outbox.flush();
    expect(next.sent).toEqual(['a']);
  });

  it('writes one result at a time, so concurrent flushes never reorder or duplicate', async () => {
    const link = new Link();
    const outbox = new Outbox(() => link);
    for (const id of ['a', 'b', 'c']) outbox.add(result(id));
    await Promise.all([outbox.flush(), outbox.flush(), outbox.flush()]);
    expect(link.sent).toEqual(['a', 'b', 'c']);
  });
});

/** A connection to a control plane that takes batches: records each frame as `case:items`. */
class BatchLink implements OutboxLink {
  readonly frames: string[] = [];
  refuse = false;
  readonly ended = new Promise<void>(() => undefined);
  constructor(readonly batchItems: number) {}
  send(frame: DelegateFrame): Promise<void> {
    if (this.refuse) return Promise.reject(new Error('connection is closed'));
    const f = frame.frame;
    if (f.case === 'batch') this.frames.push(`batch:${f.value.items.map((i) => `${i.item.case}/${i.item.value?.taskId}`).join(',')}`);
    else if (f.case === 'accepted' || f.case === 'result') this.frames.push(`${f.case}/${f.value.taskId}`);
    else this.frames.push(String(f.case));
    return Promise.resolve();
  }
}

const turn = () => new Promise((resolve) => setImmediate(resolve)).then(() => new Promise((resolve) => setImmediate(resolve)));

describe('Outbox, to a control plane that takes batches', () => {
  it("sends one turn's Accepted and Result frames as one batch, folding an Accepted into its Result", async () => {
    const link = new BatchLink(256);
    const outbox = new Outbox(() => link);
    outbox.accepted(link, 'a', 1);
    outbox.accepted(link, 'b', 1);
    outbox.add(result('a'));
    await turn();
    await outbox.flush();
    expect(link.frames).toEqual(['batch:accepted/b,acceptedResult/a']);
    outbox.add(result('b'));
    await turn();
    await outbox.flush();
    // Alone in its turn: the plain frame, as before batches.
    expect(link.frames.at(-1)).toBe('result/b');
    expect(outbox.size).toBe(0);
  });

  it("keeps to the control plane's item count and the byte budget; a result too large for a batch goes alone", async () => {
    const link = new BatchLink(2);
    const outbox = new Outbox(() => link);
    for (const id of ['a', 'b', 'c', 'd', 'e']) outbox.add(result(id));
    await turn();
    await outbox.flush();
    expect(link.frames).toEqual(['batch:result/a,result/b', 'batch:result/c,result/d', 'result/e']);

    const wide = new BatchLink(256);
    const other = new Outbox(() => wide);
    other.add(result('x'));
    other.add(create(ResultSchema, { taskId: 'big', attempt: 1, outcome: { case: 'success', value: new Uint8Array(BATCH_LIMITS.maxBytes - 10) } }));
    other.add(result('y'));
    await turn();
    await other.flush();
    expect(wide.frames).toEqual(['result/x', 'result/big', 'result/y']);
  });

  it('drops an Accepted meant for a connection that is gone, and sends its result plain on the next; a failed batch keeps its results', async () => {
    const first = new BatchLink(256);
    let link: BatchLink = first;
    const outbox = new Outbox(() => link);
    outbox.accepted(first, 'a', 1);
    first.refuse = true;
    outbox.add(result('a'));
    outbox.add(result('b'));
    await turn();
    await outbox.flush();
    expect(outbox.size).toBe(2);
    link = new BatchLink(256);
    await outbox.flush();
    expect(link.frames).toEqual(['batch:result/a,result/b']);
    expect(outbox.size).toBe(0);
  });

  it('sends an Accepted at once as its own frame to a control plane without batches', () => {
    const link = new BatchLink(0);
    const outbox = new Outbox(() => link);
    outbox.accepted(link, 'a', 1);
    expect(link.frames).toEqual(['accepted/a']);
  });
});
