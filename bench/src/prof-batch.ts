import { runBatchDispatch } from './dispatch-batch.js';
// BATCH_ITEMS=0 runs the control plane with batched delegate frames off (single frames both ways).
const controlPlaneEnv: Record<string, string> = process.env.BATCH_ITEMS === undefined ? {} : { ATTACHE_DELEGATE_BATCH_ITEMS: process.env.BATCH_ITEMS };
await runBatchDispatch({ delegates: 100, tasks: Number(process.env.N ?? 20000), batchSize: 1000, inFlight: 4, controlPlaneEnv }, console.log);
process.exit(0);
