// Stream worker: exposes the decoder of a packed disk streamed to the upload workers with comlink and does nothing else.
import { expose } from 'comlink';
import { createStreamReaderApi } from '../src/engine/upload/stream-reader-api.ts';

const api = createStreamReaderApi();
expose(api);
export type Api = typeof api;
