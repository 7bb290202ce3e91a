import { randomBytes } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { MASK, Masker } from '@attache/delegate';

export interface MaskingOptions {
  /** How many validations to simulate before measuring, one masker per count. */
  validations: number[];
}

export interface MaskingRow {
  validations: number;
  /** Distinct secret values the masker holds when the lines are measured (the cap bounds this). */
  secretsHeld: number;
  /** Mean CPU cost of one registration, scope opening and ending (with the drops it causes) included. */
  registrationUs: number;
  /** Median CPU cost of masking one JSON log line (about 400 bytes). */
  lineUs: { clean: number; withSecret: number };
  /** Heap held by the masker after a full GC. */
  heapMb: number;
}

/** Credentials shaped like those of an assumed role: key id, 40-character secret, ~600-character session token. */
export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
}

export function assumedRoleCredentials(): Credentials {
  return {
    accessKeyId: `ASIA${randomBytes(10).toString('hex').toUpperCase().slice(0, 16)}`,
    secretAccessKey: randomBytes(30).toString('base64'),
    // Real session tokens share a long prefix, which is what makes anchoring on their start a poor choice.
    sessionToken: `IQoJb3JpZ2luX2VjE${randomBytes(438).toString('base64')}`.slice(0, 600),
  };
}

/** A delegate log line as pino writes it; `extra` lands in the message. */
export function logLine(extra: string): string {
  return JSON.stringify({
    level: 30,
    time: '2026-12-01T20:14:47.123Z',
    pid: 4242,
    hostname: 'ip-10-0-12-34.eu-west-1.compute.internal',
    name: 'attache-delegate',
    delegate: 'vpc-east',
    taskId: 'tsk_01JE8ZQ4W6Y2M3N5P7R9T1V3X5',
    attempt: 1,
    type: 'aws.validate',
    step: 'sts:AssumeRole',
    durationMs: 41,
    msg: `assumed arn:aws:iam::123456789012:role/attache-validator in us-east-1 ${extra}`,
  });
}

const gc = (() => {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
})();

/**
 * N validations, each a task scope registering fresh assumed-role credentials and ending, as a
 * delegate validating all day does; then the cost of masking log lines with and without a secret.
 * The retention time is far longer than the run, so beyond the cap the masker holds MAX_ENDED_SCOPES.
 */
export function runMasking(opts: MaskingOptions, log: (s: string) => void): MaskingRow[] {
  // A first run the JIT learns from; its figures are not kept.
  measure(200);
  const rows: MaskingRow[] = [];
  for (const n of opts.validations) {
    const row = measure(n);
    rows.push(row);
    log(
      `  masking, ${n} validations: ${row.secretsHeld} secrets held, ${row.registrationUs.toFixed(1)} µs/registration, ` +
        `${row.lineUs.clean.toFixed(2)} / ${row.lineUs.withSecret.toFixed(2)} µs per line (clean / with a secret), heap ${row.heapMb.toFixed(1)} MB`,
    );
  }
  return rows;
}

function measure(n: number): MaskingRow {
  gc();
  const heapBefore = process.memoryUsage().heapUsed;
  const credentials = Array.from({ length: n }, assumedRoleCredentials);
  const masker = new Masker();
  masker.register('dlg_tok_bench_0123456789abcdef');
  const t0 = cpuUs();
  for (const c of credentials) {
    const scope = masker.openScope();
    scope.register(c.accessKeyId);
    scope.register(c.secretAccessKey);
    scope.register(c.sessionToken);
    scope.end();
  }
  const registrationUs = (cpuUs() - t0) / (3 * n);
  const recent = credentials.at(-1)!;
  const clean = logLine('(request 5b2c1e0a-6f0e-4c1a-9d7e-3c8f2a1b4d6e)');
  const withSecret = logLine(`with ${recent.accessKeyId}/${recent.secretAccessKey}`);
  if (masker.mask(clean) !== clean) throw new Error('the masker changed a line without secrets');
  if (masker.mask(withSecret).includes(recent.secretAccessKey) || !masker.mask(withSecret).includes(MASK)) {
    throw new Error('the masker let the most recent secret through');
  }
  const row: MaskingRow = {
    validations: n,
    secretsHeld: masker.size,
    registrationUs,
    lineUs: { clean: perLineUs(masker, clean), withSecret: perLineUs(masker, withSecret) },
    heapMb: 0,
  };
  credentials.length = 0;
  gc();
  row.heapMb = (process.memoryUsage().heapUsed - heapBefore) / 2 ** 20;
  // Read after the GC, so the masker is still alive when the heap is measured.
  if (masker.size !== row.secretsHeld) throw new Error('the masker dropped secrets while idle');
  return row;
}

/** Median over batches, so a GC pause or a neighbour's burst lands in one batch only. */
function perLineUs(masker: Masker, line: string): number {
  const batch = 2_000;
  const samples: number[] = [];
  for (let round = 0; round < 9; round++) {
    const t0 = cpuUs();
    for (let i = 0; i < batch; i++) masker.mask(line);
    samples.push((cpuUs() - t0) / batch);
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)]!;
}

/**
 * CPU time of this process in microseconds: the work is synchronous on one thread, and on a shared
 * machine wall time would mostly measure the neighbours.
 */
function cpuUs(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}
