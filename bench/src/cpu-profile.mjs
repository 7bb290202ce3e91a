// Preloaded into a control plane (NODE_OPTIONS=--import <this file>) when the bench is asked for CPU
// profiles: node refuses --cpu-prof in NODE_OPTIONS, so this starts the same V8 sampling profiler
// through node:inspector and writes a .cpuprofile (open it in Chrome DevTools or speedscope) into
// BENCH_CPU_PROFILE_DIR when the process exits.
import { Session } from 'node:inspector';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.env.BENCH_CPU_PROFILE_DIR;
if (dir) {
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', { interval: 500 });
  session.post('Profiler.start');
  // A same-thread inspector session answers synchronously, so this works inside 'exit'.
  process.on('exit', () => {
    session.post('Profiler.stop', (err, result) => {
      if (!err) writeFileSync(join(dir, `control-plane-${process.pid}.cpuprofile`), JSON.stringify(result.profile));
    });
  });
}
