import { constants } from 'node:fs';
import { open } from 'node:fs/promises';

/** Largest secret file the delegate reads: keys, tokens and PEM bundles are far smaller. */
export const MAX_SECRET_FILE_BYTES = 64 * 1024;

/** Why a file was not read; the caller turns it into SECRET_UNRESOLVED with a sentence. */
export class SecretFileError extends Error {
  constructor(
    readonly reason: 'not-regular-file' | 'too-large',
    readonly kind?: string,
  ) {
    super(reason);
    this.name = 'SecretFileError';
  }
}

/**
 * Reads a secret file with bounds: a regular file only (opened non-blocking, so a FIFO cannot hang
 * the read, then checked on the open handle, so what is checked is what is read), at most
 * MAX_SECRET_FILE_BYTES, and never more than one byte past that bound even if the file grows
 * while it is read. File-system errors (ENOENT, EACCES, ...) are thrown as they are.
 */
export async function readBoundedFile(path: string): Promise<Buffer> {
  const handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) throw new SecretFileError('not-regular-file', kindOf(stat));
    if (stat.size > MAX_SECRET_FILE_BYTES) throw new SecretFileError('too-large');
    const buffer = Buffer.alloc(MAX_SECRET_FILE_BYTES + 1);
    let length = 0;
    while (length < buffer.length) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, null);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    if (length > MAX_SECRET_FILE_BYTES) throw new SecretFileError('too-large');
    return buffer.subarray(0, length);
  } finally {
    await handle.close();
  }
}

function kindOf(stat: { isDirectory(): boolean; isFIFO(): boolean; isSocket(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean }): string {
  if (stat.isDirectory()) return 'a directory';
  if (stat.isFIFO()) return 'a named pipe';
  if (stat.isSocket()) return 'a socket';
  if (stat.isCharacterDevice() || stat.isBlockDevice()) return 'a device';
  return 'not a regular file';
}
