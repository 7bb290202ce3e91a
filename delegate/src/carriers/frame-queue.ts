/**
 * The queue between a carrier's event callbacks (a socket's 'message', a subscription's callback)
 * and the agent's `for await` over the connection. Carriers push decoded frames as they arrive and
 * end the queue once, with the failure when there is one; the reader gets every frame pushed before
 * the end, then the failure (thrown) or a clean end of iteration.
 *
 * A carrier whose transport can stop reading (a WebSocket can pause its socket) passes `pause` and
 * `resume`: the queue asks for a pause when `highWaterMark` frames wait and for a resume once the
 * reader has taken them all, so a slow reader holds frames in the kernel's buffers and TCP's flow
 * control, not in this process's memory.
 */
export interface FrameQueueOptions {
  /**
   * Frames waiting before the queue asks the source to pause. Default 256: far more than the agent
   * ever leaves unread (it handles each frame synchronously), so it only matters when it is stuck.
   */
  highWaterMark?: number;
  /** Stops the source; called once per crossing of the high-water mark. */
  pause?: () => void;
  /** Restarts the source after a pause; called when the reader has emptied the queue. */
  resume?: () => void;
}

export const DEFAULT_FRAME_QUEUE_HIGH_WATER_MARK = 256;

export class FrameQueue<T> implements AsyncIterable<T> {
  private readonly items: T[] = [];
  private readonly highWaterMark: number;
  private wakeReader: (() => void) | undefined;
  private paused = false;
  private isEnded = false;
  private endError: Error | undefined;

  constructor(private readonly options: FrameQueueOptions = {}) {
    this.highWaterMark = options.highWaterMark ?? DEFAULT_FRAME_QUEUE_HIGH_WATER_MARK;
  }

  /** Frames waiting for the reader. */
  get size(): number {
    return this.items.length;
  }

  /** True once `end()` was called; the reader may still have frames to take. */
  get ended(): boolean {
    return this.isEnded;
  }

  /** Why the queue ended, when it ended abnormally. */
  get failure(): Error | undefined {
    return this.endError;
  }

  /** Adds a frame for the reader. A frame after the end is dropped (returns false): the connection it came on is over. */
  push(item: T): boolean {
    if (this.isEnded) return false;
    this.items.push(item);
    if (!this.paused && this.items.length >= this.highWaterMark && this.options.pause) {
      this.paused = true;
      this.options.pause();
    }
    this.wake();
    return true;
  }

  /** Ends the queue; the first call decides (a later failure is a consequence of the first end). */
  end(error?: Error): void {
    if (this.isEnded) return;
    this.isEnded = true;
    this.endError = error;
    this.wake();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for (;;) {
      if (this.items.length > 0) {
        const item = this.items.shift() as T;
        if (this.items.length === 0) this.resumeSource();
        yield item;
        continue;
      }
      if (this.isEnded) break;
      await new Promise<void>((resolve) => (this.wakeReader = resolve));
    }
    if (this.endError) throw this.endError;
  }

  private resumeSource(): void {
    if (!this.paused || this.isEnded) return;
    this.paused = false;
    this.options.resume?.();
  }

  private wake(): void {
    const wake = this.wakeReader;
    this.wakeReader = undefined;
    wake?.();
  }
}
