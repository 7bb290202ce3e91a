import { describe, expect, it } from 'vitest';
import { statusLine } from './spinner.js';
import { terminal, type OutputStream } from './terminal.js';

/** A stream standing in for stdout/stderr: the unit seam is "is it a TTY, and what was written". */
const stream = (isTTY: boolean): OutputStream & { written: string[] } => {
  const written: string[] = [];
  return { isTTY, written, write: (s: string) => written.push(s) };
};

describe('terminal', () => {
  it('colour and interaction only on a terminal, and never with --no-color, NO_COLOR or TERM=dumb', () => {
    const on = terminal({}, {}, stream(true), stream(true));
    expect(on.interactive).toBe(true);
    expect(on.color.red('x')).toBe('\x1b[31mx\x1b[39m');
    expect(terminal({}, {}, stream(false), stream(true))).toMatchObject({ interactive: false });
    expect(terminal({}, {}, stream(false), stream(true)).color.red('x')).toBe('x');
    expect(terminal({ noColor: true }, {}, stream(true), stream(true)).color.red('x')).toBe('x');
    expect(terminal({}, { NO_COLOR: '1' }, stream(true), stream(true)).color.red('x')).toBe('x');
    expect(terminal({}, { TERM: 'dumb' }, stream(true), stream(true))).toMatchObject({ interactive: false });
  });
});

describe('statusLine', () => {
  it('off a terminal: one plain line per change on stderr, nothing on stdout', () => {
    const out = stream(false);
    const err = stream(false);
    const status = statusLine(terminal({}, {}, out, err));
    status.update('validating prod: queued');
    status.update('validating prod: queued');
    status.update('validating prod: running on delegate vpc-east (dlg_1)');
    status.stop();
    expect(err.written).toEqual(['validating prod: queued\n', 'validating prod: running on delegate vpc-east (dlg_1)\n']);
    expect(out.written).toEqual([]);
  });

  it('on a terminal: redraws one line with a spinner frame and clears it at the end', () => {
    const err = stream(true);
    const status = statusLine(terminal({ noColor: true }, {}, stream(true), err));
    status.update('validating prod: running');
    status.stop();
    expect(err.written[0]).toMatch(/^\r\x1b\[2K⠋ validating prod: running · 0\.\ds$/);
    expect(err.written.at(-1)).toBe('\r\x1b[2K');
    expect(err.written.join('')).not.toContain('\n');
  });
});
