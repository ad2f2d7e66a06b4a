// Test module worker for e2e/worker-bridge.spec.ts: a number of its own, a call that holds until released, and the
// access key its AWS credentials carry (asked of the page through the credential port).
import { expose } from 'comlink';
import { createAwsClients, type AwsConnection } from '../../src/aws/aws-connection.ts';

const me = crypto.randomUUID();
let release!: () => void;
const released = new Promise<void>((res) => (release = res));

const api = {
  async id(): Promise<string> {
    return me;
  },
  /** Answers once release() is called (before or after). */
  async hold(): Promise<string> {
    await released;
    return me;
  },
  release(): void {
    release();
  },
  async keyId(c: AwsConnection): Promise<string> {
    const clients = createAwsClients(c);
    try {
      return (await clients.ebs.config.credentials()).accessKeyId;
    } finally {
      clients.ebs.destroy();
      clients.ec2.destroy();
    }
  },
};

expose(api);
export type BridgeTestApi = typeof api;
