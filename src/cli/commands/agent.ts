import { Option, type Command } from 'commander';
import os from 'node:os';
import { agentOptionsFromFlags, DEFAULT_AGENT_NET_MBPS, type AgentFlags } from '../agent-options.ts';
import { addExamples, defineCommand, type CliApp } from '../common-options.ts';
import { ExitCode } from '../exit-codes.ts';
import { exitIfStillAlive, watchShutdown } from '../signals.ts';

export function agentCommand(parent: Command, app: CliApp): void {
  const cmd = defineCommand(parent, 'agent', 'join this machine to the pool and run the tasks placed on it')
    .option('--url <url,...>', 'controller API URL, or every controller of the cluster, comma-separated (default: $SPILLWAY_URL)')
    .option('--cpu <cores>', 'CPU to offer: cores or millicores (default: every CPU of the machine)')
    .option('--memory <quantity>', "memory to offer: 4Gi, 512Mi (default: 80% of the machine's memory)")
    .option('--gpus <n>', 'GPUs to offer (default: 0)')
    .option('--net-mbps <n>', `network bandwidth to offer, Mbit/s (default: ${DEFAULT_AGENT_NET_MBPS})`)
    .option('--labels <k=v,...>', 'labels tasks can require, such as zone=a,gpu.model=T4')
    .option('--name <name>', "the agent's name in listings (default: the host name)")
    .option('--site <site>', 'the private site this machine belongs to (default: default)')
    .option('--token-file <file>', 'read the agent credential from this file (else $SPILLWAY_TOKEN)')
    .option('--ca-file <file>', 'PEM CA bundle to verify an https controller (default: $SPILLWAY_CA_FILE)')
    .option('--drain-timeout-ms <n>', 'on shutdown, how long running tasks may finish before they are handed back')
    .option(
      '--metadata-url <url>',
      "the cloud metadata service whose spot interruption (EC2) or preemption (GCE) notice a spot agent watches (default: $SPILLWAY_METADATA_URL)",
    )
    .option('--task-uids <first-last>', 'as root, the uids (and gids) tasks run as (default: $SPILLWAY_TASK_UIDS or 61000-61999)')
    .option('--task-pids-limit <n>', 'as root, at most this many processes per task (default: 4096)')
    .option('--task-folder-root <dir>', "as root, where tasks' 0700 working folders go (default: /var/lib/spillway/tasks)")
    .option('--task-folder-keep-ms <n>', "how long a task's folder is kept after it ended (default: 600000)")
    // Accepted only to refuse it with the reason; hidden from --help.
    .addOption(new Option('--token <token>').hideHelp());
  cmd.addHelpText(
    'after',
    '\nThe credential (an `agent` role token from `spillway token create --role agent`) comes from SPILLWAY_TOKEN or\n' +
      '--token-file, never from a --token flag: a command line is visible to every user of the machine.\n' +
      'SPILLWAY_INSTANCE_ID names the cloud instance when a cloud machine registers with its bootstrap credential.\n' +
      'With several controller URLs the agent stays with one while it answers and moves to the next when it does not\n' +
      '(no connection, a timeout, or 503); a cloud instance proves its identity to the first URL (the audience).\n' +
      'SIGTERM or Ctrl-C drains: running tasks get --drain-timeout-ms to finish, then the agent leaves the pool.',
  );
  addExamples(cmd, [
    'SPILLWAY_TOKEN=$(cat agent.token) spillway agent --url http://10.0.0.5:7070 --cpu 8 --memory 16Gi --labels rack=3',
    'spillway agent --url https://controller:7443 --ca-file ca.pem --token-file /etc/spillway/agent.token --site lab',
  ]);
  cmd.action(async (_options: unknown, self: Command) => {
    const flags = self.opts<AgentFlags>();
    const settings = agentOptionsFromFlags(flags, app.ctx, {
      cpus: os.availableParallelism(),
      totalMemoryBytes: os.totalmem(),
    });
    // Loaded here, not at the top: the other commands should not pay for the agent's modules.
    const [{ createLogger }, { startAgent }] = await Promise.all([
      import('../../log/logger.ts'),
      import('../../agent/agent.ts'),
    ]);
    const logger = createLogger({ level: app.ctx.env.SPILLWAY_DEBUG === '1' ? 'debug' : 'info' });

    const shutdown = watchShutdown((signal) => {
      app.ctx.stderr.write(`spillway: ${signal} again: exiting without draining\n`);
      process.exit(ExitCode.cancelled);
    });
    try {
      const handle = startAgent({ ...settings, logger });
      const first = await Promise.race([handle.done.then(() => undefined), shutdown.signal]);
      if (first !== undefined) {
        app.ctx.stderr.write(`received ${first}: draining and leaving the pool\n`);
        await handle.stop(`received ${first}`);
        await handle.done;
      }
      app.setExitCode(ExitCode.ok);
    } finally {
      shutdown.dispose();
      exitIfStillAlive();
    }
  });
}
