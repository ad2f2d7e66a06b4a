import type { HttpHandler } from '@smithy/protocol-http';
import { wrapHandler } from './wrap-handler.ts';

// The service's time as this thread knows it: learned from the Date header (or the SDK's clock correction) of every
// Cognito, EBS and EC2 response, so credential expiry is judged by the clock that enforces it, not the laptop's.

/** One thread's estimate of (service time − local time). */
export class ServiceClock {
  /** Service time minus local time, in ms (positive: the local clock is behind). */
  offsetMs = 0;
  /** Local time of the sample the offset comes from (0 = never sampled). */
  sampledAt = 0;

  constructor(private readonly local: () => number = Date.now) {}

  /** The service's time now (epoch ms). */
  now(): number {
    return this.local() + this.offsetMs;
  }

  /** Learns from a response's Date header; `sentAt`/`receivedAt` are local times around the request. */
  observeDate(header: string, sentAt: number, receivedAt: number = this.local()): void {
    const server = Date.parse(header);
    // A slow answer says little about the time it was written at; the SDK discards them as well.
    if (Number.isNaN(server) || receivedAt - sentAt > 60_000) return;
    // The header is truncated to the second: its middle, against the middle of the exchange.
    this.adopt(server + 500 - (sentAt + receivedAt) / 2, receivedAt);
  }

  /** Takes an offset known elsewhere (another thread, the SDK's own correction) when it is newer than ours. */
  adopt(offsetMs: number, sampledAt: number = this.local()): void {
    if (!Number.isFinite(offsetMs) || sampledAt < this.sampledAt) return;
    this.offsetMs = Math.round(offsetMs);
    this.sampledAt = sampledAt;
  }
}

/** This thread's clock of AWS (or of the emulator server): one per page or worker, shared by every client. */
export const serviceClock = new ServiceClock();

/** Minimal client shape for middleware: EBS, EC2 and Cognito Identity clients all have it. */
interface ObservableClient {
  config: { systemClockOffset?: number };
  middlewareStack: {
    add(
      mw: (next: (args: unknown) => Promise<unknown>) => (args: unknown) => Promise<unknown>,
      opts: { step: 'deserialize'; priority: 'high'; name: string; override: boolean },
    ): void;
  };
}

type WithResponse = { response?: { headers?: Record<string, string | undefined> } };

function dateOf(r: { headers?: Record<string, string | undefined> } | undefined): string | undefined {
  return r?.headers?.date ?? r?.headers?.Date;
}

/** Feeds `clock` from every response of `client`: its Date header, else the SDK's own clock correction. */
export function observeServiceClock(client: unknown, clock: ServiceClock = serviceClock): void {
  const c = client as ObservableClient;
  const learn = (date: string | undefined, sentAt: number): void => {
    if (date) clock.observeDate(date, sentAt);
    // No Date header visible (a CORS response that does not expose it): the signer's correction is the next best.
    else if (c.config.systemClockOffset) clock.adopt(c.config.systemClockOffset);
  };
  c.middlewareStack.add(
    (next) => async (args) => {
      const sentAt = Date.now();
      try {
        const out = (await next(args)) as WithResponse;
        learn(dateOf(out.response), sentAt);
        return out;
      } catch (e) {
        learn(dateOf((e as { $response?: { headers?: Record<string, string | undefined> } }).$response), sentAt);
        throw e;
      }
    },
    { step: 'deserialize', priority: 'high', name: 'blockportServiceClock', override: true },
  );
}

/**
 * Wraps a transport so every answer's Date header sets `clock` (for clients whose middleware we do not own, such as
 * the Cognito client inside fromCognitoIdentityPool; its calls are unsigned, so the SDK learns no offset there).
 */
export function clockObservingHandler<C extends object>(inner: HttpHandler<C>, clock: ServiceClock = serviceClock): HttpHandler<C> {
  return wrapHandler(inner, async (request, options) => {
    const sentAt = Date.now();
    const out = await inner.handle(request, options);
    const date = dateOf(out.response);
    if (date) clock.observeDate(date, sentAt);
    return out;
  });
}
