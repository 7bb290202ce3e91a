import { runBusConformance } from './bus.conformance.js';
import { MemoryBus } from './memory-bus.js';

runBusConformance('memory', async () => new MemoryBus());
