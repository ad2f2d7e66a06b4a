import { afterEach, describe, expect, it, vi } from 'vitest';
import { activityTitle, askToNotifyForLongJob, LONG_JOB_BYTES, PageActivity, type ActivityHost } from './page-activity.ts';

function fakeHost() {
  const log: string[] = [];
  let title = 'Blockport';
  const sentinels: { released: boolean; release(): Promise<void>; onRelease?: () => void; addEventListener(t: 'release', cb: () => void): void }[] = [];
  const host: ActivityHost = {
    setTitle: (t) => (title = t),
    requestWakeLock: async () => {
      log.push('request');
      const s = {
        released: false,
        onRelease: undefined as (() => void) | undefined,
        async release() {
          if (s.released) return;
          s.released = true;
          log.push('release');
          s.onRelease?.();
        },
        addEventListener(_t: 'release', cb: () => void) {
          s.onRelease = cb;
        },
      };
      sentinels.push(s);
      return s;
    },
  };
  return { host, log, sentinels, title: () => title };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

describe('activityTitle', () => {
  it('shows the progress, a pause or a wait for the network, and the plain name when nothing runs', () => {
    expect(activityTitle([])).toBe('Blockport');
    expect(activityTitle([{ fraction: 0.427, paused: false, waiting: false }])).toBe('42 % · Blockport');
    expect(activityTitle([{ fraction: 0.5, paused: true, waiting: false }])).toBe('Paused · 50 % · Blockport');
    expect(activityTitle([{ fraction: 0.2, paused: false, waiting: true }])).toBe('Waiting for the network · 20 % · Blockport');
    expect(activityTitle([{ fraction: 0.2, paused: false, waiting: false }, { fraction: 0.6, paused: false, waiting: false }])).toBe('40 % · Blockport');
  });
});

describe('PageActivity', () => {
  it('holds the wake lock while a job moves, releases it when paused or done, and takes it again when the page shows', async () => {
    const f = fakeHost();
    const a = new PageActivity(f.host);
    a.update([{ fraction: 0.1, paused: false, waiting: false }]);
    a.update([{ fraction: 0.2, paused: false, waiting: false }]);
    await tick();
    expect(f.log).toEqual(['request']);
    expect(a.awake).toBe(true);
    expect(f.title()).toBe('20 % · Blockport');
    a.update([{ fraction: 0.2, paused: true, waiting: false }]);
    expect(f.log).toEqual(['request', 'release']);
    expect(a.awake).toBe(false);
    a.update([{ fraction: 0.2, paused: false, waiting: false }]);
    await tick();
    // The browser drops the lock when the page is hidden; showing the page again takes a new one.
    await f.sentinels[1]!.release();
    expect(a.awake).toBe(false);
    a.visible();
    await tick();
    expect(f.log).toEqual(['request', 'release', 'request', 'release', 'request']);
    a.update([]);
    expect(f.title()).toBe('Blockport');
    expect(a.awake).toBe(false);
    expect(f.log.at(-1)).toBe('release');
  });

  it('lets go of a lock granted after the jobs ended, and runs on where no wake lock is offered', async () => {
    const f = fakeHost();
    const a = new PageActivity(f.host);
    a.update([{ fraction: 0, paused: false, waiting: false }]);
    a.update([]);
    await tick();
    expect(f.log).toEqual(['request', 'release']);
    const bare = new PageActivity({ setTitle: () => undefined });
    expect(() => bare.update([{ fraction: 0, paused: false, waiting: false }])).not.toThrow();
    expect(bare.awake).toBe(false);
  });
});

describe('askToNotifyForLongJob', () => {
  afterEach(() => vi.unstubAllGlobals());

  it('asks only for a long job, and only while the person has not answered yet', () => {
    let asked = 0;
    const notification = {
      permission: 'default' as NotificationPermission,
      requestPermission: async () => {
        asked++;
        return 'granted' as NotificationPermission;
      },
    };
    vi.stubGlobal('Notification', notification);
    askToNotifyForLongJob(LONG_JOB_BYTES - 1);
    expect(asked).toBe(0);
    askToNotifyForLongJob(LONG_JOB_BYTES);
    expect(asked).toBe(1);
    notification.permission = 'denied';
    askToNotifyForLongJob(10 * LONG_JOB_BYTES);
    notification.permission = 'granted';
    askToNotifyForLongJob(10 * LONG_JOB_BYTES);
    expect(asked).toBe(1);
  });

  it('does nothing where the browser has no notifications', () => {
    vi.stubGlobal('Notification', undefined);
    expect(() => askToNotifyForLongJob(LONG_JOB_BYTES)).not.toThrow();
  });
});
