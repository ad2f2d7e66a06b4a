// The worker bridge with workers that are plain objects (the queue, start, recycling and ending) and with a comlink
// worker over a MessageChannel (calls and the credential port crossing a real port). Real Workers: e2e/worker-bridge.spec.ts.
import { describe, expect, it } from 'vitest';
import { expose, transfer } from 'comlink';
import type { AwsConnection } from '../../aws/aws-connection.ts';
import { createAwsClients } from '../../aws/aws-connection.ts';
import type { Connection } from '../../aws/clients.ts';
import { openCredentialPorts } from '../../aws/credential-bridge.ts';
import { RefreshingCredentials } from '../../aws/refreshing-credentials.ts';
import { comlinkWorker, WorkerBridge, WorkerEndedError, type StartedWorker, type WorkerEndpoint } from './worker-bridge.ts';

/** A fake worker's API: answers with its own number, or waits until released. */
interface Echo {
  id(): Promise<number>;
  hold(gate: Promise<void>): Promise<number>;
}

interface Fake {
  n: number;
  calls: string[];
  terminated: boolean;
  ended: Promise<void>;
}

/** Fake workers, numbered as they start; `log` holds each one. */
function fakes() {
  const log: Fake[] = [];
  const spawn = (): StartedWorker<Echo> => {
    let end!: () => void;
    const me: Fake = { n: log.length, calls: [], terminated: false, ended: new Promise<void>((res) => (end = res)) };
    log.push(me);
    return {
      api: {
        async id() {
          if (me.terminated) throw new Error('a terminated worker ran');
          me.calls.push('id');
          return me.n;
        },
        async hold(gate) {
          me.calls.push('hold');
          await gate;
          return me.n;
        },
      },
      terminate() {
        me.terminated = true;
        end();
      },
    };
  };
  return { log, spawn };
}

function gate(): { open: () => void; gate: Promise<void> } {
  let open!: () => void;
  const g = new Promise<void>((res) => (open = res));
  return { open, gate: g };
}

const settings = {
  kind: 'aws' as const,
  region: 'eu-west-1',
  identityPoolId: 'eu-west-1:00000000-0000-4000-a000-000000000000',
  endpoint: { mode: 'relay' as const, basePath: '' },
};

function awsConnection(): AwsConnection {
  let issued = 0;
  const main = new RefreshingCredentials(async () => ({ accessKeyId: `AKID${++issued}`, secretAccessKey: 'shh', expiration: new Date(Date.now() + 3600_000) }));
  return { kind: 'aws', settings, origin: 'https://site.example', credentials: main.provider };
}

describe('WorkerBridge', () => {
  it('starts no worker until the first call, then serves every call from the same one', async () => {
    const { log, spawn } = fakes();
    const bridge = new WorkerBridge<Echo>({ spawn });
    expect(log).toHaveLength(0);
    expect(bridge.live).toBe(false);
    expect(await bridge.call(({ api }) => api.id())).toBe(0);
    expect(await Promise.all([1, 2, 3].map(() => bridge.call(({ api }) => api.id())))).toEqual([0, 0, 0]);
    expect(log).toHaveLength(1);
    expect(bridge.started).toBe(1);
    expect(bridge.live).toBe(true);
    bridge.terminate();
    expect(log[0]!.terminated).toBe(true);
  });

  it('runs calls one at a time, in the order they were made', async () => {
    const { log, spawn } = fakes();
    const bridge = new WorkerBridge<Echo>({ spawn });
    const first = gate();
    const order: string[] = [];
    const a = bridge.call(async ({ api }) => (order.push('a starts'), await api.hold(first.gate), order.push('a ends')));
    const b = bridge.call(async ({ api }) => (order.push('b starts'), await api.id(), order.push('b ends')));
    const c = bridge.call(async ({ api }) => (order.push('c starts'), await api.id(), order.push('c ends')));
    // a holds the worker: b and c wait, whatever else runs meanwhile.
    await new Promise((res) => setTimeout(res, 0));
    expect(order).toEqual(['a starts']);
    first.open();
    await Promise.all([a, b, c]);
    expect(order).toEqual(['a starts', 'a ends', 'b starts', 'b ends', 'c starts', 'c ends']);
    expect(log[0]!.calls).toEqual(['hold', 'id', 'id']);
  });

  it('sets each worker up once before its first call; a failed setup ends that worker and fails the call', async () => {
    const { log, spawn } = fakes();
    let setups = 0;
    const bridge = new WorkerBridge<Echo>({
      spawn,
      async setup() {
        if (++setups === 1) throw new Error('The file could not be opened.');
      },
    });
    await expect(bridge.call(({ api }) => api.id())).rejects.toThrow('The file could not be opened.');
    expect(log[0]!.terminated).toBe(true);
    expect(log[0]!.calls).toEqual([]);
    // The next call starts a fresh worker, set up once for both calls.
    expect(await bridge.call(({ api }) => api.id())).toBe(1);
    expect(await bridge.call(({ api }) => api.id())).toBe(1);
    expect(setups).toBe(2);
  });

  it('ends an idle worker, and starts a fresh one for the next call', async () => {
    const { log, spawn } = fakes();
    const bridge = new WorkerBridge<Echo>({ spawn, idleMs: 0 });
    const held = gate();
    const a = bridge.call(({ api }) => api.hold(held.gate));
    const b = bridge.call(({ api }) => api.id());
    await new Promise((res) => setTimeout(res, 5));
    // Busy (a call runs, another waits): not idle.
    expect(log[0]!.terminated).toBe(false);
    held.open();
    expect(await Promise.all([a, b])).toEqual([0, 0]);
    await log[0]!.ended;
    expect(bridge.live).toBe(false);
    expect(await bridge.call(({ api }) => api.id())).toBe(1);
    expect(bridge.started).toBe(2);
  });

  it('an abort ends the worker under a running call, drops a waiting one, and the next call starts afresh', async () => {
    const { log, spawn } = fakes();
    const bridge = new WorkerBridge<Echo>({ spawn });
    const running = new AbortController();
    const waiting = new AbortController();
    const a = bridge.call(({ api }) => api.hold(new Promise(() => undefined)), { signal: running.signal });
    let bRan = false;
    const b = bridge.call(async () => (bRan = true), { signal: waiting.signal });
    const c = bridge.call(({ api }) => api.id());
    await new Promise((res) => setTimeout(res, 0));
    waiting.abort(new Error('b is no longer wanted'));
    await expect(b).rejects.toThrow('b is no longer wanted');
    // c still waits for a.
    expect(log[0]!.terminated).toBe(false);
    running.abort(new Error('a is no longer wanted'));
    await expect(a).rejects.toThrow('a is no longer wanted');
    expect(log[0]!.terminated).toBe(true);
    expect(await c).toBe(1);
    expect(bRan).toBe(false);
    // A call whose signal is already aborted never starts a worker.
    await expect(bridge.call(({ api }) => api.id(), { signal: AbortSignal.abort(new Error('too late')) })).rejects.toThrow('too late');
    expect(log).toHaveLength(2);
  });

  it('terminate() fails the call running on the worker; interrupt() reaches the worker beside the queue', async () => {
    const { log, spawn } = fakes();
    const bridge = new WorkerBridge<Echo>({ spawn });
    expect(await bridge.interrupt(({ api }) => api.id())).toBeUndefined();
    const a = bridge.call(({ api }) => api.hold(new Promise(() => undefined)));
    await new Promise((res) => setTimeout(res, 0));
    // The call holds the queue; an interrupt does not wait for it.
    expect(await bridge.interrupt(({ api }) => api.id())).toBe(0);
    bridge.terminate();
    await expect(a).rejects.toBeInstanceOf(WorkerEndedError);
    expect(log[0]!.terminated).toBe(true);
    expect(await bridge.interrupt(({ api }) => api.id())).toBeUndefined();
  });

  it('replaces a worker that has done its share, at the next call; one prepared ahead takes over when ready', async () => {
    const { log, spawn } = fakes();
    const bridge = new WorkerBridge<Echo>({ spawn, recycleAfter: 3 });
    const ids: number[] = [];
    for (let k = 0; k < 7; k++) {
      ids.push(await bridge.call(({ api }) => api.id()));
      bridge.spend(1);
    }
    expect(ids).toEqual([0, 0, 0, 1, 1, 1, 2]);
    expect(log.map((w) => w.terminated)).toEqual([true, true, false]);
    // Worn during a call: the successor starts while the call runs, and takes over once it ends.
    bridge.spend(1);
    const held = gate();
    const a = bridge.call(async ({ api }) => {
      // Not worn yet: nothing to prepare.
      bridge.prepare();
      expect(log).toHaveLength(3);
      bridge.spend(1);
      expect(bridge.worn).toBe(true);
      bridge.prepare();
      return api.hold(held.gate);
    });
    await new Promise((res) => setTimeout(res, 0));
    expect(log).toHaveLength(4);
    expect(log[2]!.terminated).toBe(false);
    held.open();
    expect(await a).toBe(2);
    await log[2]!.ended;
    expect(bridge.worn).toBe(false);
    expect(await bridge.call(({ api }) => api.id())).toBe(3);
  });

  it('closes a credential port lent to a call when the call ends, and one lent to the setup when the worker ends', async () => {
    const { spawn } = fakes();
    const before = openCredentialPorts();
    const bridge = new WorkerBridge<Echo>({
      spawn,
      async setup({ lend }) {
        lend(awsConnection());
      },
    });
    const inCall = await bridge.call(async ({ api, lend }) => {
      lend(awsConnection());
      await api.id();
      return openCredentialPorts();
    });
    expect(inCall).toBe(before + 2);
    expect(openCredentialPorts()).toBe(before + 1);
    bridge.terminate();
    expect(openCredentialPorts()).toBe(before);
  });

  it('calls a comlink worker over a port, and the worker gets its credentials through the lent port', async () => {
    const { port1, port2 } = new MessageChannel();
    // The worker's side: signs with credentials asked of the page.
    expose(
      {
        async keyId(c: Connection) {
          const clients = createAwsClients(c as AwsConnection);
          const creds = await clients.ebs.config.credentials();
          clients.ebs.destroy();
          clients.ec2.destroy();
          return creds.accessKeyId;
        },
      },
      port2,
    );
    let closed = false;
    const endpoint = Object.assign(port1, {
      terminate: () => {
        closed = true;
        port1.close();
        port2.close();
      },
    }) as unknown as WorkerEndpoint;
    const bridge = new WorkerBridge({ spawn: () => comlinkWorker<{ keyId(c: Connection): Promise<string> }>(endpoint) });
    const before = openCredentialPorts();
    const id = await bridge.call(({ api, lend }) => {
      const c = lend(awsConnection());
      return api.keyId(transfer(c.connection, c.transfer));
    });
    expect(id).toBe('AKID1');
    expect(openCredentialPorts()).toBe(before);
    bridge.terminate();
    expect(closed).toBe(true);
  });
});
