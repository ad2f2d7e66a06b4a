// One worker behind a queue of calls: started on first use, replaced once it has done its share of work, ended on
// abort, when idle, or by terminate(). A worker that signs requests asks this thread for credentials through a port
// the bridge lends it and closes when the call (or the worker) ends.
import { releaseProxy, wrap, type Remote } from 'comlink';
import { connectionForWorker, type Connection } from '../../aws/clients.ts';

/** A started worker: what calls use, how to end it, and whether it failed before it ever answered. */
export interface StartedWorker<Api> {
  api: Api;
  terminate(): void;
  /** Rejects (with WorkerStartError) when the worker fails before its first answer: its script did not load or threw. */
  failed?: Promise<never>;
}

/** What a call, or a worker's setup, works with. */
export interface BridgeScope<Api> {
  api: Api;
  /**
   * `c` as a worker may receive it (pass `transfer` to comlink's transfer()): AWS credentials become a port to this
   * thread's credential cache, closed when the call ends (for setup: when the worker ends).
   */
  lend(c: Connection): { connection: Connection; transfer: Transferable[] };
}

/** How a bridge starts and looks after its workers. */
export interface BridgeOptions<Api> {
  /** Starts one worker; the caller writes `new Worker(new URL(...))` so the bundler finds the script. */
  spawn(): StartedWorker<Api> | Promise<StartedWorker<Api>>;
  /** Prepares each fresh worker before its first call (opens a file, say); a failure ends that worker. */
  setup?(scope: BridgeScope<Api>): Promise<unknown>;
  /** Ends the worker once no call has run or waited for this many ms (0: as soon as the queue is empty); unset: never. */
  idleMs?: number;
  /** Units of work (see spend()) after which a worker is replaced by a fresh one; 0 or unset: never. */
  recycleAfter?: number;
}

/** The rejection of calls whose worker was ended under them (terminate(), or idle with a call still waiting to start). */
export class WorkerEndedError extends Error {
  override readonly name = 'WorkerEndedError';
  constructor() {
    super('The worker was ended before the call finished.');
  }
}

/** A worker that failed before it ever answered: its script did not load or threw while loading. */
export class WorkerStartError extends Error {
  override readonly name = 'WorkerStartError';
}

/** A Worker as comlinkWorker uses it (a MessagePort with terminate() stands in for one in tests). */
export type WorkerEndpoint = Pick<Worker, 'postMessage' | 'addEventListener' | 'removeEventListener' | 'terminate'>;

/** A worker whose exposed API is reached with comlink; a failure before its first message rejects `failed`. */
export function comlinkWorker<Api>(worker: WorkerEndpoint): StartedWorker<Remote<Api>> {
  const api = wrap<Api>(worker as unknown as Worker);
  let answered = false;
  const onMessage = () => (answered = true);
  worker.addEventListener('message', onMessage, { once: true });
  const failed = new Promise<never>((_, reject) =>
    worker.addEventListener('error', (e: Event) => {
      if (answered) return;
      const why = (e as ErrorEvent).message;
      reject(new WorkerStartError(`The worker did not start (${why || 'its script could not be loaded'}).`));
    }),
  );
  failed.catch(() => undefined);
  return {
    api,
    failed,
    terminate() {
      worker.removeEventListener('message', onMessage);
      api[releaseProxy]();
      worker.terminate();
    },
  };
}

interface Slot<Api> {
  worker?: StartedWorker<Api>;
  /** Resolves once the worker is started and set up. */
  ready: Promise<StartedWorker<Api>>;
  isReady: boolean;
  ended: boolean;
  /** Rejects when the slot ends: calls running on it stop waiting. */
  gone: Promise<never>;
  kill(reason: unknown): void;
  spent: number;
  /** Credential ports lent to the worker's setup, closed when it ends. */
  releases: (() => void)[];
}

function endAll(releases: (() => void)[]): void {
  for (const r of releases.splice(0)) r();
}

/** One worker at a time behind a call queue; see BridgeOptions. */
export class WorkerBridge<Api> {
  #opts: BridgeOptions<Api>;
  #current?: Slot<Api>;
  #successor?: Slot<Api>;
  #tail: Promise<void> = Promise.resolve();
  /** Calls queued or running. */
  #busy = 0;
  #idle?: ReturnType<typeof setTimeout>;
  #started = 0;
  /** Bumped by terminate(): calls that were starting their worker then stop instead of starting another. */
  #generation = 0;

  constructor(opts: BridgeOptions<Api>) {
    this.#opts = opts;
  }

  /** Workers started so far: the first, and every one after a replacement, an abort or an idle end. */
  get started(): number {
    return this.#started;
  }

  /** Whether a worker is running (or starting) now. */
  get live(): boolean {
    return !!this.#current && !this.#current.ended;
  }

  /** True once the current worker has done its share (recycleAfter): the next call runs on its successor. */
  get worn(): boolean {
    const limit = this.#opts.recycleAfter ?? 0;
    return limit > 0 && !!this.#current && this.#current.spent >= limit;
  }

  /** Counts work the current worker did towards its share. */
  spend(units: number): void {
    if (this.#current) this.#current.spent += units;
  }

  /** Starts the worker now rather than at the first call, and waits until it is set up (a failure rejects). */
  async start(): Promise<void> {
    try {
      await this.#ready();
    } finally {
      if (this.#busy === 0) this.#settle();
    }
  }

  /**
   * Starts the successor of a worn worker ahead, while the current one finishes its call; the successor takes over
   * once it is ready and no call runs, or at the next call. A successor that cannot start fails that next call.
   */
  prepare(): void {
    if (this.#successor || !this.worn) return;
    const next = this.#open();
    this.#successor = next;
    next.ready.then(
      () => {
        if (this.#busy === 0) this.#adopt(next);
      },
      () => undefined,
    );
  }

  /**
   * Runs fn on the worker after every call queued before it, starting the worker first if none runs. Aborting
   * `signal` drops a call still waiting, or ends the worker under a running one (the next call starts a fresh one).
   */
  async call<T>(fn: (scope: BridgeScope<Api>) => Promise<T>, opts: { signal?: AbortSignal } = {}): Promise<T> {
    const { signal } = opts;
    signal?.throwIfAborted();
    this.#busy++;
    clearTimeout(this.#idle);
    const before = this.#tail;
    let finished!: () => void;
    const mine = new Promise<void>((res) => (finished = res));
    // The next call waits for this one and for everything before it, even when this one leaves the queue early.
    this.#tail = Promise.all([before, mine]).then(() => undefined);
    const releases: (() => void)[] = [];
    let onAbort: (() => void) | undefined;
    try {
      if (signal) {
        const aborted = new Promise<never>((_, reject) => {
          onAbort = () => reject(signal.reason);
          signal.addEventListener('abort', onAbort, { once: true });
        });
        await Promise.race([before, aborted]);
        signal.removeEventListener('abort', onAbort!);
      } else await before;
      const slot = await this.#ready();
      if (signal) {
        signal.throwIfAborted();
        onAbort = () => this.#end(slot, signal.reason);
        signal.addEventListener('abort', onAbort, { once: true });
      }
      return await this.#on(slot, fn(this.#scope(slot, releases)));
    } finally {
      if (onAbort) signal?.removeEventListener('abort', onAbort);
      endAll(releases);
      finished();
      if (--this.#busy === 0) this.#settle();
    }
  }

  /**
   * Runs fn on the current worker at once, beside the queue (to stop or cancel what a call runs there). Resolves
   * undefined when no worker runs, or when it ends first.
   */
  async interrupt<T>(fn: (scope: BridgeScope<Api>) => Promise<T>): Promise<T | undefined> {
    const slot = this.#current;
    if (!slot || slot.ended) return undefined;
    const releases: (() => void)[] = [];
    try {
      await slot.ready;
      return await this.#on(slot, fn(this.#scope(slot, releases)));
    } catch (err) {
      if (slot.ended) return undefined;
      throw err;
    } finally {
      endAll(releases);
    }
  }

  /** Ends the worker (and a successor starting); calls running on it reject, calls queued later start a fresh one. */
  terminate(): void {
    this.#generation++;
    clearTimeout(this.#idle);
    for (const slot of [this.#current, this.#successor]) if (slot) this.#end(slot);
    this.#current = undefined;
    this.#successor = undefined;
  }

  /** The current worker, started and set up; a prepared successor takes over first. */
  async #ready(): Promise<Slot<Api>> {
    const generation = this.#generation;
    const check = () => {
      if (generation !== this.#generation) throw new WorkerEndedError();
    };
    if (this.worn) this.prepare();
    // A worker that fails to start or set up has already ended (and left the bridge) when its `ready` rejects here.
    const next = this.#successor;
    if (next) {
      await next.ready;
      check();
      this.#adopt(next);
    }
    if (!this.#current || this.#current.ended) this.#current = this.#open();
    const slot = this.#current;
    await slot.ready;
    check();
    if (slot.ended) throw new WorkerEndedError();
    return slot;
  }

  /** The successor replaces the current worker, which ends. */
  #adopt(next: Slot<Api>): void {
    if (this.#successor !== next) return;
    this.#successor = undefined;
    if (this.#current) this.#end(this.#current);
    this.#current = next;
  }

  /** The queue is empty: a ready successor takes over, and the idle clock starts. */
  #settle(): void {
    if (this.#successor?.isReady) this.#adopt(this.#successor);
    const ms = this.#opts.idleMs;
    if (ms === undefined || !this.#current) return;
    clearTimeout(this.#idle);
    this.#idle = setTimeout(() => {
      if (this.#busy === 0) this.terminate();
    }, ms);
  }

  #open(): Slot<Api> {
    let kill!: (reason: unknown) => void;
    const gone = new Promise<never>((_, reject) => (kill = reject));
    gone.catch(() => undefined);
    const slot: Slot<Api> = { ready: undefined as never, isReady: false, ended: false, gone, kill, spent: 0, releases: [] };
    this.#started++;
    slot.ready = (async () => {
      const worker = await this.#opts.spawn();
      if (slot.ended) {
        worker.terminate();
        throw new WorkerEndedError();
      }
      slot.worker = worker;
      if (this.#opts.setup) await this.#on(slot, this.#opts.setup(this.#scope(slot, slot.releases)));
      slot.isReady = true;
      return worker;
    })();
    slot.ready.catch(() => this.#end(slot));
    return slot;
  }

  /** Settles with p, or rejects when the slot ends or its worker fails to start. */
  #on<T>(slot: Slot<Api>, p: Promise<T>): Promise<T> {
    const failed = slot.worker?.failed;
    return Promise.race(failed ? [p, slot.gone, failed] : [p, slot.gone]);
  }

  #scope(slot: Slot<Api>, releases: (() => void)[]): BridgeScope<Api> {
    return {
      api: slot.worker!.api,
      lend(c) {
        const w = connectionForWorker(c);
        releases.push(w.release);
        return { connection: w.connection, transfer: w.transfer };
      },
    };
  }

  #end(slot: Slot<Api>, reason: unknown = new WorkerEndedError()): void {
    if (slot.ended) return;
    slot.ended = true;
    slot.kill(reason);
    endAll(slot.releases);
    slot.worker?.terminate();
    if (this.#current === slot) this.#current = undefined;
    if (this.#successor === slot) this.#successor = undefined;
  }
}
