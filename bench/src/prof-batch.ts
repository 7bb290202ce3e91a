import { runBatchDispatch } from './dispatch-batch.js';
const r = await runBatchDispatch({ delegates: 100, tasks: Number(process.env.N ?? 20000), batchSize: 1000, inFlight: 4 }, console.log);
process.exit(0);
