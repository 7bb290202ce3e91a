import type { Terminal } from './terminal.js';

/** Live status of something that takes a while: a spinner on a terminal, plain lines elsewhere. */
export interface StatusLine {
  update(text: string): void;
  /** Clears the spinner; what was reported stays reported. */
  stop(): void;
}

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
const FRAME_MS = 80;

/** Written to standard error, so a pipe of standard output carries only the result. */
export function statusLine(term: Terminal): StatusLine {
  if (!term.interactive) {
    let last = '';
    return {
      update(text) {
        if (text !== last) term.err(`${text}\n`);
        last = text;
      },
      stop() {},
    };
  }
  let text = '';
  let frame = 0;
  const draw = () => term.err(`\r\x1b[2K${term.color.cyan(FRAMES[frame++ % FRAMES.length]!)} ${text}`);
  const timer = setInterval(draw, FRAME_MS);
  timer.unref();
  return {
    update(next) {
      text = next;
      draw();
    },
    stop() {
      clearInterval(timer);
      term.err('\r\x1b[2K');
    },
  };
}
