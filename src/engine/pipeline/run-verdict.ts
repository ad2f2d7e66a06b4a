// How a pipeline run ends: the first failure is kept with its sentence, and once the run is ending nothing waits for the link.
import type { FailureInfo } from '../failure.ts';
import type { LinkWatch } from '../link-watch.ts';

/** The run's failure, if any, shared by the reader, the transmitter and the loop that cuts slices into blocks. */
export class RunVerdict {
  failure: FailureInfo | null = null;

  constructor(
    private readonly link: LinkWatch,
    private readonly stopped: () => boolean,
  ) {}

  /** Records a failure (the first one stays) and releases the blocks waiting for the link: the run is ending. */
  fail(failure: FailureInfo): void {
    this.failure ??= failure;
    this.link.close();
  }

  /** The run failed or was stopped: nothing more is claimed, read or sent. */
  get ending(): boolean {
    return this.failure !== null || this.stopped();
  }
}
