import { afterEach, describe, expect, it, vi } from 'vitest';
import { LinkWatch } from './link-watch.ts';

describe('LinkWatch', () => {
  afterEach(() => vi.useRealTimers());

  it('calls a failure an outage only when the link answered before and nothing was answered since the request left', () => {
    let now = 1000;
    const link = new LinkWatch(() => now, undefined);
    expect(link.unanswered(now)).toBe(false);
    link.answered();
    now = 2000;
    // Sent at 1500, an answer came at 1000 only: the link is silent.
    expect(link.unanswered(1500)).toBe(true);
    expect(link.waiting).toBe(true);
    now = 5000;
    expect(link.silenceMs()).toBe(4000);
    link.answered();
    expect(link.waiting).toBe(false);
    // Another request was answered after this one left: this one's bad luck, not an outage.
    expect(link.unanswered(4000)).toBe(false);
  });

  it('lets one probe through after a pause while the others wait; an answer releases them all; `online` cuts the pause short', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const events = new EventTarget();
    const link = new LinkWatch(() => Date.now(), events as never);
    link.answered();
    await vi.advanceTimersByTimeAsync(10);
    link.unanswered(Date.now());
    let probe = false;
    let other = false;
    void link.pass().then(() => (probe = true));
    void link.pass().then(() => (other = true));
    await vi.advanceTimersByTimeAsync(1000);
    expect([probe, other]).toEqual([true, false]);
    // The probe failed too: its next pause is longer (2 s), but the platform says the network is back.
    link.unanswered(Date.now());
    let again = false;
    void link.pass().then(() => (again = true));
    await vi.advanceTimersByTimeAsync(100);
    expect(again).toBe(false);
    events.dispatchEvent(new Event('online'));
    await vi.advanceTimersByTimeAsync(0);
    expect(again).toBe(true);
    expect(other).toBe(false);
    link.answered();
    await vi.advanceTimersByTimeAsync(0);
    expect(other).toBe(true);
    link.close();
  });

  it('while the probe is on the wire nobody else is let through, however long it takes; its failure hands the turn on', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const link = new LinkWatch(() => Date.now(), undefined, true);
    await vi.advanceTimersByTimeAsync(10);
    expect(link.unanswered(Date.now())).toBe(true);
    let probe = false;
    void link.pass().then(() => (probe = true));
    await vi.advanceTimersByTimeAsync(1000);
    expect(probe).toBe(true);
    const probeSentAt = Date.now();
    // A block that was waiting for its slot arrives while the probe hangs (a request stuck until its deadline).
    let late = false;
    void link.pass().then(() => (late = true));
    await vi.advanceTimersByTimeAsync(30_000);
    expect(late).toBe(false);
    // The probe's deadline: no answer. Its sender asks again and is the next probe, after a longer pause; the late
    // block still waits, so there are never two on the wire.
    link.unanswered(probeSentAt);
    let again = false;
    void link.pass().then(() => (again = true));
    await vi.advanceTimersByTimeAsync(1999);
    expect([late, again]).toEqual([false, false]);
    await vi.advanceTimersByTimeAsync(1);
    expect([late, again]).toEqual([false, true]);
    link.answered();
    await vi.advanceTimersByTimeAsync(0);
    expect(late).toBe(true);
    link.close();
  });
});
