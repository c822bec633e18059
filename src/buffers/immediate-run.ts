/**
 * One run of a function on the next turn of the event loop, however many times it is asked for before then: the
 * pumps of DatabaseBuffer and of the SQLite lease loop use it so that a burst of wake-ups (inserts, poll ticks,
 * finished jobs) makes one pass.
 */
export class ImmediateRun {
  private handle: NodeJS.Immediate | undefined;

  /** @param run - the function to run; nothing is queued while it runs */
  constructor(private readonly run: () => void) {}

  /** Queue one run (setImmediate) unless one is queued already. */
  schedule(): void {
    if (this.handle) return;
    this.handle = setImmediate(() => {
      this.handle = undefined;
      this.run();
    });
  }

  /** Drop the queued run, if any. */
  cancel(): void {
    if (this.handle) clearImmediate(this.handle);
    this.handle = undefined;
  }
}
