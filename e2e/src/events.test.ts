import { request as httpRequest, type IncomingMessage } from 'node:http';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTenant, createToken, eventually, spawnDelegate, startControlPlane, startDelegate, type ControlPlaneHandle, type TenantHandle } from './support/cluster.js';
import type { Proc } from './support/process.js';

/** An open GET /v1/events read with a maintained SSE parser: every event and comment, in order. */
class Stream {
  readonly events: EventSourceMessage[] = [];
  readonly comments: string[] = [];
  status = 0;
  headers = new Headers();
  ended = false;
  private readonly abort = new AbortController();
  private readonly done: Promise<void>;

  constructor(url: string, key: string, headers: Record<string, string> = {}) {
    const parser = createParser({ onEvent: (e) => this.events.push(e), onComment: (c) => this.comments.push(c.trim()) });
    this.done = (async () => {
      const res = await fetch(url, { headers: { authorization: `Bearer ${key}`, accept: 'text/event-stream', ...headers }, signal: this.abort.signal });
      this.status = res.status;
      this.headers = res.headers;
      if (!res.body) return;
      const decoder = new TextDecoder();
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) parser.feed(decoder.decode(chunk, { stream: true }));
    })()
      .catch(() => undefined)
      .finally(() => (this.ended = true));
  }

  data(): any[] {
    return this.events.map((e) => JSON.parse(e.data));
  }

  async until<T>(find: (data: any[]) => T | undefined, what: string, timeoutMs = 20_000): Promise<T> {
    return eventually(async () => find(this.data()), timeoutMs, what);
  }

  async connected(): Promise<void> {
    await eventually(async () => (this.comments.includes('connected') ? true : this.ended ? true : undefined), 10_000, 'the stream to open');
  }

  async close(): Promise<void> {
    this.abort.abort();
    await this.done;
  }
}

describe('GET /v1/events: Server-Sent Events from a real control plane and delegates', () => {
  let cp: ControlPlaneHandle;
  let acme: TenantHandle;
  let other: TenantHandle;
  let token: { id: string; token: string };
  const procs: Proc[] = [];
  const streams: Stream[] = [];
  const open = (tenant: TenantHandle, query = '', headers: Record<string, string> = {}, key = tenant.api.key) => {
    const s = new Stream(`${cp.httpUrl}/v1/events${query}`, key, headers);
    streams.push(s);
    return s;
  };

  beforeAll(async () => {
    cp = await startControlPlane({ ATTACHE_EVENT_STREAMS_PER_TENANT: '6', ATTACHE_EVENT_STREAM_MAX_PENDING_BYTES: '4096' });
    acme = await createTenant(cp, 'acme');
    other = await createTenant(cp, 'other');
    token = await createToken(acme, 'events');
    procs.push(await startDelegate(acme, { url: cp.grpcUrl, token: token.token, name: 'east', tags: ['aws'], maxConcurrency: 4 }));
  });

  afterAll(async () => {
    await Promise.all(streams.map((s) => s.close()));
    await Promise.all(procs.map((p) => p.stop()));
    await cp?.stop();
  });

  it('streams a task through queued, running and succeeded, each with the view GET answers, to its tenant only', async () => {
    const stream = open(acme);
    const theirs = open(other);
    await Promise.all([stream.connected(), theirs.connected()]);
    expect(stream.status).toBe(200);
    expect(stream.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(stream.headers.get('cache-control')).toBe('no-store');

    const created = await acme.api.post('/v1/tasks', { type: 'echo', payload: { message: 'hi', delayMs: 300 } });
    expect(created.status).toBe(201);
    const id = created.body.id;
    const states = await stream.until((all) => {
      const mine = all.filter((d) => d.type === 'task.state' && d.task.id === id);
      return mine.some((d) => d.task.state === 'succeeded') ? mine : undefined;
    }, 'the task to succeed on the stream');
    expect(states.map((d) => d.task.state)).toEqual(['queued', 'running', 'succeeded']);
    const final = (await acme.api.get(`/v1/tasks/${id}`)).body;
    expect(states[2].task).toEqual(final);
    expect(states[1].task.delegate).toEqual({ id: final.delegate.id, name: 'east' });
    expect(Date.parse(states[2].at)).toBeGreaterThan(0);
    const frames = stream.events.filter((e) => JSON.parse(e.data).task?.id === id);
    expect(frames.every((e) => e.event === 'task.state' && typeof e.id === 'string' && e.id.length > 0)).toBe(true);
    expect(new Set(frames.map((e) => e.id)).size).toBe(3);
    // The other tenant saw none of it.
    expect(theirs.data().filter((d) => d.type === 'task.state')).toEqual([]);
    await Promise.all([stream.close(), theirs.close()]);
  });

  it('filters by type and by task id', async () => {
    const onlyOne = open(acme, '?types=task.state&taskId=');
    await onlyOne.connected();
    expect(onlyOne.status).toBe(400);
    const a = (await acme.api.post('/v1/tasks', { type: 'echo', payload: { message: 'a' } })).body.id;
    const filtered = open(acme, `?types=task.state&taskId=${a}x`);
    await filtered.connected();
    expect(filtered.status).toBe(200);
    const bad = open(acme, '?types=task.state,nope');
    await bad.connected();
    expect(bad.status).toBe(400);
    const b = (await acme.api.post('/v1/tasks', { type: 'echo', payload: { message: 'b' } })).body.id;
    const forB = open(acme, `?taskId=${b}x`);
    await forB.connected();
    const c = await acme.api.post('/v1/tasks?waitSeconds=10', { type: 'echo', payload: { message: 'c' } });
    expect(c.status).toBe(200);
    const presenceOnly = open(acme, '?types=delegate.presence');
    const taskOnly = open(acme, `?types=task.state&taskId=${c.body.id}`);
    await Promise.all([presenceOnly.connected(), taskOnly.connected()]);
    const d = await acme.api.post('/v1/tasks?waitSeconds=10', { type: 'echo', payload: { message: 'd' } });
    expect(d.status).toBe(200);
    const e = await acme.api.post('/v1/tasks', { type: 'echo', payload: {} });
    await acme.api.get(`/v1/tasks/${e.body.id}?waitSeconds=10`);
    // Resumed from before c ended would replay it; a fresh stream only sees what comes after.
    const everything = open(acme);
    await everything.connected();
    const f = await acme.api.post('/v1/tasks?waitSeconds=10', { type: 'echo', payload: {} });
    await everything.until((all) => all.find((x) => x.task?.id === f.body.id && x.task.state === 'succeeded'), 'f to succeed');
    expect(presenceOnly.data().every((x) => x.type === 'delegate.presence')).toBe(true);
    expect(taskOnly.data()).toEqual([]);
    expect(filtered.data()).toEqual([]);
    expect(forB.data()).toEqual([]);
    for (const s of [filtered, forB, presenceOnly, taskOnly, everything]) await s.close();
  });

  it('keeps only the task states asked for ("ended" for every end), without touching other event types', async () => {
    const bad = open(acme, '?states=done');
    await bad.connected();
    expect(bad.status).toBe(400);
    const ends = open(acme, '?types=task.state&states=ended');
    const queuedOnly = open(acme, '?states=queued');
    await Promise.all([ends.connected(), queuedOnly.connected()]);
    expect(ends.status).toBe(200);
    const ok = await acme.api.post('/v1/tasks?waitSeconds=10', { type: 'echo', payload: { message: 'ends', delayMs: 300 } });
    expect(ok.body.state).toBe('succeeded');
    const long = await acme.api.post('/v1/tasks', { type: 'echo', payload: { message: 'long', delayMs: 30_000 } });
    const mine = (all: any[], id: string) => all.filter((d) => d.type === 'task.state' && d.task.id === id);
    await queuedOnly.until((all) => (mine(all, long.body.id).length > 0 ? true : undefined), 'the long task queued');
    expect((await acme.api.post(`/v1/tasks/${long.body.id}/cancel`, {})).body.state).toBe('cancelled');
    await ends.until((all) => (mine(all, long.body.id).length > 0 ? true : undefined), 'the cancelled task on the stream');
    expect(mine(ends.data(), ok.body.id).map((d) => d.task.state)).toEqual(['succeeded']);
    expect(mine(ends.data(), long.body.id).map((d) => d.task.state)).toEqual(['cancelled']);
    expect(mine(ends.data(), ok.body.id)[0].task).toEqual((await acme.api.get(`/v1/tasks/${ok.body.id}`)).body);
    // A presence event still reaches a states-filtered stream that asked for every type.
    const extra = await startDelegate(acme, { url: cp.grpcUrl, token: token.token, name: 'west', tags: ['aws'], maxConcurrency: 1 });
    procs.push(extra);
    await queuedOnly.until((all) => all.find((d) => d.type === 'delegate.presence' && d.delegate.name === 'west'), 'west connecting');
    expect(queuedOnly.data().filter((d) => d.type === 'task.state').every((d) => d.task.state === 'queued')).toBe(true);
    expect(mine(queuedOnly.data(), ok.body.id).map((d) => d.task.state)).toEqual(['queued']);
    await extra.stop();
    for (const s of [ends, queuedOnly]) await s.close();
  });

  it('resumes after Last-Event-ID (header or query) with what was missed, and sends a reset for a cursor it no longer holds', async () => {
    const first = open(acme, '?types=task.state');
    await first.connected();
    const t1 = await acme.api.post('/v1/tasks?waitSeconds=10', { type: 'echo', payload: { message: 'n1' } });
    expect(t1.status).toBe(200);
    await first.until((all) => all.find((x) => x.task.id === t1.body.id && x.task.state === 'succeeded'), 't1 on the stream');
    const last = first.events.at(-1)!.id!;
    await first.close();

    const t2 = await acme.api.post('/v1/tasks?waitSeconds=10', { type: 'echo', payload: { message: 'n2' } });
    expect(t2.status).toBe(200);
    const resumed = open(acme, '?types=task.state', { 'last-event-id': last });
    await resumed.connected();
    const missed = await resumed.until((all) => (all.some((x) => x.task.id === t2.body.id && x.task.state === 'succeeded') ? all : undefined), 'the replay');
    expect(missed.map((x) => [x.task.id, x.task.state])).toEqual([
      [t2.body.id, 'queued'],
      [t2.body.id, 'running'],
      [t2.body.id, 'succeeded'],
    ]);
    expect(resumed.events.some((e) => e.event === 'reset')).toBe(false);
    await resumed.close();

    const viaQuery = open(acme, `?types=task.state&lastEventId=${encodeURIComponent(last)}`);
    await viaQuery.until((all) => (all.length >= 3 ? true : undefined), 'the replay through lastEventId=');
    expect(viaQuery.data()[0].task.id).toBe(t2.body.id);
    await viaQuery.close();

    const unknown = open(acme, '', { 'last-event-id': 'another-replica-42' });
    await unknown.until((all) => (all.length > 0 ? true : undefined), 'the reset');
    expect(unknown.events[0]).toMatchObject({ event: 'reset' });
    expect(JSON.parse(unknown.events[0]!.data)).toEqual({ type: 'reset', reason: 'unknown-cursor' });
    await unknown.close();
  });

  it('reports delegate presence: connected, draining and disconnected', async () => {
    const stream = open(acme, '?types=delegate.presence');
    await stream.connected();
    const west = spawnDelegate({ url: cp.grpcUrl, token: token.token, name: 'west', tags: ['aws'] });
    const connected = await stream.until((all) => all.find((d) => d.delegate.name === 'west' && d.delegate.status === 'connected'), 'west connected');
    expect(connected.delegate).toMatchObject({ name: 'west', group: 'west', id: expect.any(String) });
    await west.stop();
    const statuses = await stream.until((all) => {
      const mine = all.filter((d) => d.delegate.id === connected.delegate.id).map((d) => d.delegate.status);
      return mine.includes('disconnected') ? mine : undefined;
    }, 'west disconnected');
    expect(statuses).toEqual(['connected', 'draining', 'disconnected']);
    await stream.close();
  });

  it('answers 401 without credentials, lets a viewer key in, and ends the stream when that key is revoked', async () => {
    const anonymous = await fetch(`${cp.httpUrl}/v1/events`);
    expect(anonymous.status).toBe(401);
    const key = await acme.api.post('/v1/api-keys', { name: 'watcher', role: 'viewer' });
    expect(key.status).toBe(201);
    const stream = open(acme, '', {}, key.body.apiKey);
    await stream.connected();
    expect(stream.status).toBe(200);
    expect(stream.ended).toBe(false);
    expect((await acme.api.post(`/v1/api-keys/${key.body.id}/revoke`, {})).status).toBe(200);
    await eventually(async () => (stream.ended ? true : undefined), 10_000, 'the stream of a revoked key to end');
    expect(stream.comments.some((c) => c.startsWith('closed: the credentials'))).toBe(true);
  });

  it('refuses streams past the per-tenant cap with 429 RESOURCE_EXHAUSTED', async () => {
    const held = Array.from({ length: 6 }, () => open(other));
    await Promise.all(held.map((s) => s.connected()));
    expect(held.map((s) => s.status)).toEqual([200, 200, 200, 200, 200, 200]);
    const refused = await fetch(`${cp.httpUrl}/v1/events`, { headers: { authorization: `Bearer ${other.api.key}` } });
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('5');
    expect(((await refused.json()) as any).error.code).toBe('RESOURCE_EXHAUSTED');
    await held[0]!.close();
    // The server counts the stream out when it sees the socket close, a moment after the client.
    const again = await eventually(async () => {
      const s = open(other);
      await s.connected();
      if (s.status === 200) return s;
      await s.close();
      return undefined;
    }, 5_000, 'a stream accepted again once one closed');
    expect(again.status).toBe(200);
    for (const s of [...held, again]) await s.close();
  });

  it('drops a client that stops reading instead of buffering for it', async () => {
    // Read nothing: the socket buffers fill, then the stream's, past 4 KiB.
    let response: IncomingMessage | undefined;
    const req = httpRequest(`${cp.httpUrl}/v1/events?types=task.state`, { headers: { authorization: `Bearer ${other.api.key}` } }, (res) => {
      response = res;
      res.pause();
    });
    req.end();
    await eventually(async () => response, 10_000, 'the stream to open');
    expect(response!.statusCode).toBe(200);
    const message = 'x'.repeat(40_000);
    for (let round = 0; round < 4; round++) {
      // No delegate of this tenant: each task fails at once, one event of ~40 KB each.
      const batch = await other.api.post('/v1/tasks/batch', { tasks: Array.from({ length: 100 }, () => ({ type: 'echo', payload: { message } })) });
      expect(batch.body.created).toBe(100);
    }
    await cp.proc.waitForLine((l) => l.includes('event stream closed') && l.includes('reads too slowly'), 20_000);
    req.destroy();
  });
});
