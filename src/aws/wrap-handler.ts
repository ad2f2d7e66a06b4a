import type { HttpHandler, HttpRequest, HttpResponse } from '@smithy/protocol-http';
import type { HttpHandlerOptions } from '@smithy/types';

/** A request handler that sends through `handle` and passes configuration and destroy straight on to `inner`. */
export function wrapHandler<C extends object>(
  inner: HttpHandler<C>,
  handle: (request: HttpRequest, options?: HttpHandlerOptions) => Promise<{ response: HttpResponse }>,
): HttpHandler<C> {
  return {
    handle,
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
}
