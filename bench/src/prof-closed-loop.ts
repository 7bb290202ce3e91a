// Control-plane CPU per task under a closed loop of 64 clients (bench/analysis.md, "Peers beside us"):
// `cd bench && D=100 N=3000 MODE=wait npx tsx src/prof-closed-loop.ts` prints tasks/s and the control
// plane's CPU milliseconds per task read from /proc. MODE=wait creates and waits in one request
// (`POST /v1/tasks?waitSeconds`); any other MODE creates, then waits with a GET. D delegates, N tasks.
import { performance } from 'node:perf_hooks';
import { Fleet } from './agents.js';
import { benchControlPlane, tenantWithToken, processUsage } from './cluster.js';
import { ECHO_PAYLOAD } from './dispatch-payload.js';
import { JsonClient } from './http-client.js';
const D = Number(process.env.D ?? 100), N = Number(process.env.N ?? 3000), C = 64;
const MODE = process.env.MODE ?? 'wait';
const cp = await benchControlPlane();
const { apiKey, token } = await tenantWithToken(cp, 'prof');
const api = new JsonClient(cp.httpUrl, apiKey, C + 8);
const fleet = await Fleet.start({ url: cp.grpcUrl, token, name: 'bench', count: D, tags: ['bench'], maxConcurrency: Math.max(10, Math.ceil(C * 2 / D)) });
const one = async () => {
  if (MODE === 'wait') {
    const r = await api.send<{ state: string }>('POST', '/v1/tasks?waitSeconds=30', { type: 'echo', payload: ECHO_PAYLOAD, selectors: ['bench'] });
    return r.status === 200 && r.body.state === 'succeeded';
  }
  const c = await api.send<{ id: string; state: string }>('POST', '/v1/tasks', { type: 'echo', payload: ECHO_PAYLOAD, selectors: ['bench'] });
  const g = await api.send<{ state: string }>('GET', `/v1/tasks/${c.body.id}?waitSeconds=30`);
  return g.body.state === 'succeeded';
};
let issued = 0, ok = 0;
const loop = async (n: number) => { await Promise.all(Array.from({ length: C }, async () => { while (issued < n) { issued++; if (await one()) ok++; } })); };
await loop(500);
const pid = (cp.proc as any).child?.pid ?? (cp.proc as any).pid;
const u0 = await processUsage(pid); const t0 = performance.now(); issued = 0; ok = 0;
await loop(N);
const u1 = await processUsage(pid); const el = (performance.now() - t0) / 1000;
console.log(JSON.stringify({ mode: MODE, tps: Math.round(ok / el), ok, cpCpuMsPerTask: +((u1.cpuSeconds - u0.cpuSeconds) * 1000 / ok).toFixed(3), benchCpu: process.cpuUsage() }));
api.close(); await fleet.stop(); await cp.stop();
