// Test module worker for e2e/worker-bridge.spec.ts: fails while loading, before it could ever answer.
throw new Error('this worker fails as it loads');
