/**
 * Whether a browser can be opened here: macOS and Windows always have one; elsewhere (Linux, BSD)
 * only a graphical session does (DISPLAY or WAYLAND_DISPLAY). Over SSH or in a container the URL
 * is printed instead.
 */
export function canOpenBrowser(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): boolean {
  if (platform === 'darwin' || platform === 'win32') return true;
  return Boolean(env['DISPLAY'] || env['WAYLAND_DISPLAY']);
}

/** Opens `url` in the user's browser (the `open` package: xdg-open, open, start); false when that failed. */
export async function openBrowser(url: string): Promise<boolean> {
  try {
    // Loaded here, not at start-up: every other command of the CLI would pay for it.
    const { default: open } = await import('open');
    const child = await open(url, { wait: false });
    child.on('error', () => undefined);
    child.unref();
    return true;
  } catch {
    return false;
  }
}
