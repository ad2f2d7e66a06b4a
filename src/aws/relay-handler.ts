// Re-addresses a signed request to the same-origin relay: the signature stays valid for the AWS host it names.
import { HttpRequest } from '@smithy/protocol-http';
import type { HttpHandler } from '@smithy/protocol-http';
import { wrapHandler } from './wrap-handler.ts';

/** Wraps a request handler so every request, once signed, is sent to `sendTo` (origin + path prefix) instead. */
export function relayHandler<C extends object>(inner: HttpHandler<C>, sendTo: string): HttpHandler<C> {
  const target = new URL(sendTo);
  const prefix = target.pathname.replace(/\/+$/, '');
  const port = target.port ? Number(target.port) : undefined;
  return wrapHandler(inner, (request, options) => {
    // The browser supplies Host for the relay; the relay (CloudFront, Vite proxy) sets the AWS host again.
    const headers = { ...request.headers };
    delete headers.host;
    delete headers.Host;
    const relayed = new HttpRequest({
      ...request,
      protocol: target.protocol,
      hostname: target.hostname,
      port,
      path: `${prefix}${request.path.startsWith('/') ? '' : '/'}${request.path}`,
      headers,
    });
    return inner.handle(relayed, options);
  });
}
