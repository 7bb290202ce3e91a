import type { Terminal } from './terminal.js';

/** Live status of something that takes a while: a spinner on a terminal, plain lines elsewhere. */
export interface StatusLine {
  update(text: string): void;
  /** Clears the spinner; what was reported stays reported. */
  stop(): void;
}

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
const FRAME_MS = 80;

/**
 * Written to standard error, so a pipe of standard output carries only the result. A terminal
 * also sees the time elapsed; plain lines change only when the text does, so a log stays short.
 */
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
  const started = Date.now();
  const draw = () =>
    term.err(`\r\x1b[2K${term.color.cyan(FRAMES[frame++ % FRAMES.length]!)} ${text} ${term.color.dim(`· ${((Date.now() - started) / 1000).toFixed(1)}s`)}`);
  const timer = setInterval(draw, FRAME_MS);
  timer.unref();
  const stop = () => {
    clearInterval(timer);
    process.off('SIGINT', interrupted);
    term.err('\r\x1b[2K');
  };
  // Ctrl-C would leave half a spinner line behind; clear it and exit as the shell expects (128 + 2).
  const interrupted = () => {
    stop();
    process.exit(130);
  };
  process.once('SIGINT', interrupted);
  return {
    update(next) {
      text = next;
      draw();
    },
    stop,
  };
}
