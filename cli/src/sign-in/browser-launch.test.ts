import { describe, expect, it } from 'vitest';
import { canOpenBrowser } from './browser-launch.js';

describe('canOpenBrowser', () => {
  it('on macOS and Windows always; elsewhere only in a graphical session (over SSH the URL is printed)', () => {
    expect(canOpenBrowser({}, 'darwin')).toBe(true);
    expect(canOpenBrowser({}, 'win32')).toBe(true);
    expect(canOpenBrowser({}, 'linux')).toBe(false);
    expect(canOpenBrowser({ SSH_CONNECTION: '10.0.0.1 22 10.0.0.2 50000' }, 'linux')).toBe(false);
    expect(canOpenBrowser({ DISPLAY: ':0' }, 'linux')).toBe(true);
    expect(canOpenBrowser({ WAYLAND_DISPLAY: 'wayland-0' }, 'freebsd')).toBe(true);
  });
});
