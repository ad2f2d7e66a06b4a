import { describe, expect, it } from 'vitest';
import { Pacer } from './pacer.ts';
import { LeasedPacer, leasePacer } from './pacer-lease.ts';

describe('one pacer lent to several pipelines', () => {
  it('holds all leases together to the one window', async () => {
    const pacer = new Pacer({ floor: 1, ceiling: 4, initial: 4 });
    const a = new LeasedPacer(leasePacer(pacer).port, 1);
    const b = new LeasedPacer(leasePacer(pacer).port, 1);
    await a.acquire();
    await a.acquire();
    await b.acquire();
    await b.acquire();
    expect(pacer.active).toBe(4);
    expect([a.active, b.active, a.limit]).toEqual([2, 2, 4]);
    let fifth = false;
    const waiting = b.acquire().then(() => (fifth = true));
    await new Promise((r) => setTimeout(r, 5));
    expect(fifth).toBe(false);
    // A slot a frees goes to b: the window is the link's, not a pipeline's.
    a.release({ ok: true, latencyMs: 5 });
    await waiting;
    expect([a.active, b.active, pacer.active]).toEqual([1, 3, 4]);
  });

  it("gives back the slots of a pipeline that ended without releasing them, and ignores its late releases", async () => {
    const pacer = new Pacer({ floor: 1, ceiling: 4, initial: 4 });
    const gone = leasePacer(pacer);
    const other = leasePacer(pacer);
    await gone.port.acquire();
    await gone.port.acquire();
    await gone.port.acquire();
    await other.port.acquire();
    expect(pacer.active).toBe(4);
    // Its worker was terminated mid-send: the session closes its lease when its run settles.
    gone.close();
    expect(pacer.active).toBe(1);
    // A release that was on its way counts for nothing, and the window did not move for slots nobody used.
    gone.port.release({ ok: false, throttled: true });
    expect([pacer.active, pacer.limit]).toEqual([1, 4]);
    await expect(gone.port.acquire()).rejects.toThrow(/ended/);
    expect(pacer.active).toBe(1);
    await other.port.acquire();
    await other.port.acquire();
    await other.port.acquire();
    expect(pacer.active).toBe(4);
  });
});
