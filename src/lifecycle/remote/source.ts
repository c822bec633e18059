import type { LifecycleSource } from '../sources.js';
import type { LifecycleRecord } from '../states.js';
import type { RemoteControlOptions } from './options.js';
import { RemoteControl } from './remote-control.js';

/**
 * The `'remote'` lifecycle source: the portal follows a PXControl-protocol control plane through a
 * {@link RemoteControl}. `read()` never throws: losing contact is handled by the project's fail mode (from the
 * server), not by the lifecycle's own `failMode`.
 *
 * `portal.lifecycle.set()` (and `/admin/lifecycle`, `withMaintenance()`) still work: a local change holds on
 * this instance until the control plane's state next changes, which then wins.
 */
export class RemoteLifecycleSource implements LifecycleSource {
  readonly name: string = 'remote';
  /** The remote control this source follows. */
  readonly control: RemoteControl;
  private readonly owned: boolean;
  private local: LifecycleRecord | undefined;
  private readonly stopLocal: () => void;

  /**
   * @param remote - options of a remote control owned (and closed) by this source, or an existing
   *   {@link RemoteControl} (e.g. `RemoteControl.shared()`) that the caller keeps and closes
   */
  constructor(remote: RemoteControlOptions | RemoteControl = {}) {
    this.owned = !(remote instanceof RemoteControl);
    this.control = remote instanceof RemoteControl ? remote : new RemoteControl(remote);
    // A change from the control plane supersedes a local set().
    this.stopLocal = this.control.onRecordChange(() => {
      this.local = undefined;
    });
  }

  /** A local change, else the remote control's effective record (`null` = ACTIVE). */
  read(): LifecycleRecord | null {
    return this.local ?? this.control.record;
  }

  /** Hold a local change on this instance until the control plane's state next changes. */
  write(record: LifecycleRecord): void {
    this.local = { ...record };
  }

  /** Report every change of the remote control's record. */
  watch(changed: () => void): () => void {
    return this.control.onRecordChange(changed);
  }

  /** Close the remote control when this source created it. Safe to call twice. */
  async close(): Promise<void> {
    this.stopLocal();
    if (this.owned) await this.control.close();
  }
}
