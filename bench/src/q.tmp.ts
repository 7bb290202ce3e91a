import { runBatchDispatch } from './dispatch-batch.js';
await runBatchDispatch({ delegates: 100, tasks: 20000, batchSize: 1000, inFlight: 4 }, console.log);
process.exit(0);
