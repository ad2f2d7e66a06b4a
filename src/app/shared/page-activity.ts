// While uploads or downloads run in this tab: progress in the tab title, the screen kept awake, a notification at the end.

/** One job running in this tab, as the page's chrome sees it. */
export interface ActiveJob {
  /** 0–1. */
  fraction: number;
  paused: boolean;
  /** The service stopped answering; the job waits for it by itself. */
  waiting: boolean;
}

/** A sentinel that holds the screen awake (the Screen Wake Lock API's). */
interface Sentinel {
  release(): Promise<void>;
  readonly released?: boolean;
  addEventListener?(type: 'release', cb: () => void): void;
}

/** What PageActivity needs of the page (injected in tests). */
export interface ActivityHost {
  setTitle(title: string): void;
  /** Absent where the browser offers no Screen Wake Lock. */
  requestWakeLock?: () => Promise<Sentinel>;
  /** Shows a system notification when permission was given; never asks. */
  notify?: (title: string, body: string) => void;
}

/** Jobs larger than this may take long enough that a notification at the end is worth asking for. */
export const LONG_JOB_BYTES = 1 << 30;

/** The title: "42 % · Blockport", or what the jobs wait for. */
export function activityTitle(active: readonly ActiveJob[], base = 'Blockport'): string {
  if (!active.length) return base;
  const pct = Math.floor((100 * active.reduce((s, j) => s + j.fraction, 0)) / active.length);
  if (active.some((j) => j.waiting && !j.paused)) return `Waiting for the network · ${pct} % · ${base}`;
  if (active.every((j) => j.paused)) return `Paused · ${pct} % · ${base}`;
  return `${pct} % · ${base}`;
}

/** Keeps the tab's title and wake lock in step with the jobs running in it. */
export class PageActivity {
  private sentinel: Sentinel | null = null;
  private requesting = false;
  private wanted = false;

  constructor(private readonly host: ActivityHost) {}

  /** Called whenever the running jobs change. */
  update(active: readonly ActiveJob[]): void {
    this.host.setTitle(activityTitle(active));
    // The screen stays awake while something is actually moving; a paused job lets it sleep.
    this.wanted = active.some((j) => !j.paused);
    this.sync();
  }

  /** The page became visible again: a wake lock is released whenever the page is hidden, so take it again. */
  visible(): void {
    if (this.sentinel?.released) this.sentinel = null;
    this.sync();
  }

  /** True while the wake lock is held. */
  get awake(): boolean {
    return !!this.sentinel && !this.sentinel.released;
  }

  private sync(): void {
    if (this.wanted && !this.sentinel && !this.requesting && this.host.requestWakeLock) {
      this.requesting = true;
      this.host
        .requestWakeLock()
        .then((s) => {
          this.requesting = false;
          if (!this.wanted) return void s.release().catch(() => undefined);
          this.sentinel = s;
          s.addEventListener?.('release', () => {
            if (this.sentinel === s) this.sentinel = null;
          });
        })
        .catch(() => {
          // Refused (hidden page, battery saver, policy): the job runs all the same.
          this.requesting = false;
        });
    } else if (!this.wanted && this.sentinel) {
      const s = this.sentinel;
      this.sentinel = null;
      void s.release().catch(() => undefined);
    }
  }
}

/** The browser's host: document.title, navigator.wakeLock, Notification (only when already granted). */
export function browserActivityHost(): ActivityHost {
  const wakeLock = (navigator as Navigator & { wakeLock?: { request(type: 'screen'): Promise<Sentinel> } }).wakeLock;
  return {
    setTitle: (t) => {
      if (document.title !== t) document.title = t;
    },
    ...(wakeLock ? { requestWakeLock: () => wakeLock.request('screen') } : {}),
    notify: (title, body) => {
      if (typeof Notification === 'undefined' || Notification.permission !== 'granted') return;
      try {
        const n = new Notification(title, { body, tag: 'blockport' });
        n.onclick = () => {
          window.focus();
          n.close();
        };
      } catch {
        // Some browsers allow notifications from service workers only: the title still tells.
      }
    },
  };
}

/**
 * Asks once for permission to notify, only as a long job starts (the person just clicked, and a long job is when a
 * notification helps); never asks again after an answer.
 */
export function askToNotifyForLongJob(bytes: number): void {
  if (bytes < LONG_JOB_BYTES || typeof Notification === 'undefined' || Notification.permission !== 'default') return;
  void Notification.requestPermission().catch(() => undefined);
}
