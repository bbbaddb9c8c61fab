#!/usr/bin/env node
// The `restora` launcher: runs app/cli/main.ts through tsx (resolved from this package's own
// node_modules, so it works from any working directory), forwarding arguments, stdio, the exit
// status and signals.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(path.join(root, 'package.json'));
let loader;
try {
  loader = pathToFileURL(require.resolve('tsx')).href;
} catch {
  process.stderr.write('restora: the "tsx" package is missing; run "npm install" in ' + root + '\n');
  process.exit(1);
}
const entry = path.join(root, 'app', 'cli', 'main.ts');
// the IPC channel is only a lifeline: when this launcher dies, even by SIGKILL, it closes and the
// child stops too (a web-mode server must not keep its port, nor a batch run on, unowned)
const child = spawn(process.execPath, [...process.execArgv, '--import', loader, entry, ...process.argv.slice(2)], { stdio: ['inherit', 'inherit', 'inherit', 'ipc'] });

// The child shares our terminal, so Ctrl-C already reaches it; forward what arrives otherwise
// (kill <pid>, a parent's SIGTERM) so it can cancel cleanly. The first SIGINT/SIGTERM goes as a
// message, which the child acts on only if it did not get the signal itself: after its first one
// the child lets the next end it at once (app/cli/main.ts), so a copy sent as a signal would turn
// one Ctrl-C into a hard stop. Later ones go as the signal: a second Ctrl-C or kill quits at once.
let relayed = false;
const forward = (sig) => () => {
  if (child.exitCode !== null || child.signalCode !== null) return;
  if (!relayed && (sig === 'SIGINT' || sig === 'SIGTERM') && child.connected) {
    relayed = true;
    child.send({ restoraSignal: sig }, (e) => {
      if (e) child.kill(sig);
    });
    return;
  }
  child.kill(sig);
};
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT']) process.on(sig, forward(sig));

child.on('error', (e) => {
  process.stderr.write(`restora: cannot start node: ${e.message}\n`);
  process.exit(1);
});
child.on('exit', (code, signal) => {
  if (signal) {
    // die of the same signal, so callers (shells, tests) see how the CLI ended
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT']) process.removeAllListeners(sig);
    process.kill(process.pid, signal);
    return;
  }
  process.exit(code ?? 1);
});
