// Re-addresses a signed request to the same-origin relay: the signature stays valid for the AWS host it names.
import { HttpRequest } from '@smithy/protocol-http';
import type { HttpHandler, HttpResponse } from '@smithy/protocol-http';
import type { HttpHandlerOptions } from '@smithy/types';

/** Wraps a request handler so every request, once signed, is sent to `sendTo` (origin + path prefix) instead. */
export function relayHandler<C extends object>(inner: HttpHandler<C>, sendTo: string): HttpHandler<C> {
  const target = new URL(sendTo);
  const prefix = target.pathname.replace(/\/+$/, '');
  const port = target.port ? Number(target.port) : undefined;
  const wrapped: HttpHandler<C> = {
    handle(request: HttpRequest, options?: HttpHandlerOptions): Promise<{ response: HttpResponse }> {
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
    },
    updateHttpClientConfig(key: keyof C, value: C[typeof key]) {
      inner.updateHttpClientConfig(key, value);
    },
    httpHandlerConfigs(): C {
      return inner.httpHandlerConfigs();
    },
    destroy() {
      inner.destroy?.();
    },
  };
  return wrapped;
}
