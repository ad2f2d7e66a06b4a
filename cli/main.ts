/** One verb per module in cli/commands/: each exports `run(args): Promise<number>` and `usage`. */
const verbs: Record<string, string> = {
  inspect: 'Show an image’s format, virtual size and the blocks an upload would send.',
  upload: 'Upload a disk image as an EBS snapshot.',
  download: 'Download a snapshot to a local file.',
  diff: 'List the blocks that differ between two snapshots of one lineage.',
  'register-image': 'Register an AMI from a completed snapshot.',
};

interface Command {
  run(args: string[]): Promise<number>;
  usage: string;
}

function help(): string {
  const rows = Object.entries(verbs).map(([v, d]) => `  ${v.padEnd(16)}${d}`);
  return ['Usage: blockport <command> [options]', '', 'Commands:', ...rows, '', 'Run `blockport <command> --help` for its options.'].join('\n');
}

/** Runs the CLI and returns the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const [verb, ...rest] = argv;
  if (!verb || verb === '--help' || verb === '-h') {
    console.log(help());
    return verb ? 0 : 2;
  }
  if (!(verb in verbs)) {
    console.error(`blockport: unknown command '${verb}'.\n\n${help()}`);
    return 2;
  }
  let command: Command;
  try {
    command = (await import(`./commands/${verb}.ts`)) as Command;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND') {
      console.error(`blockport: '${verb}' is not available in this build yet.`);
      return 2;
    }
    throw err;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(command.usage);
    return 0;
  }
  return command.run(rest);
}
