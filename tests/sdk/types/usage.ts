// tests/sdk/types/usage.ts: compiled (never run) by tsc --noEmit from
// tests/sdk/js/exports.test.mjs. Every export and method of net/js is used
// the way a TypeScript user would, with the result types spelled out; the
// lines marked @ts-expect-error are calls the declarations must refuse (tsc
// fails if they are accepted), so declarations that decay to `any` fail too.
import {
  SbxClient, getSandbox, Sandbox, Process, SandboxError, parseSSE,
  type ExecResult, type ExecEvent, type LogEvent, type Execution, type CodeEvent,
  type CodeContext, type ExposedPort, type FileEntry, type ProcessLogs, type SandboxInfo,
  type RichResult, type ExecutionError, type FetchResult,
} from '../../../net/js/index.js';

export async function everything(token: string): Promise<void> {
  const client = new SbxClient({ url: 'https://127.0.0.1:8443', token, fingerprint: 'AB:CD', timeout: 1000, keepAlive: true });
  const viaCa = new SbxClient({ url: 'https://localhost:8443', token, ca: Buffer.from('pem') });
  viaCa.close();
  const health: { ok: boolean; backend: string } = await client.health();
  const list: SandboxInfo[] = await client.listSandboxes();
  const page: FetchResult = await client.fetch('https://8080-x-abc.localhost:8443/', { method: 'GET' });
  const text: string = page.text();

  const sandbox: Sandbox = getSandbox(client, 'user-123', { env: { A: 'b' }, sleepAfter: '10m', keepAlive: false, network: { internet: false, allow: ['10.0.0.0/8'] } });
  const info: SandboxInfo = await sandbox.ensure();
  const again: SandboxInfo = await sandbox.info();
  await sandbox.setEnvVars({ B: 'c' });
  await sandbox.update({ sleepAfter: 60000 });

  const ac = new AbortController();
  const r: ExecResult = await sandbox.exec('ls', {
    stream: true, signal: ac.signal, env: { X: '1' }, cwd: '/workspace', timeout: 5000,
    onOutput: (stream: 'stdout' | 'stderr', data: string) => void [stream, data],
    onStdout: (d: string) => void d, onStderr: (d: string) => void d,
    onComplete: (res: ExecResult) => void res, onError: (e: SandboxError) => void e.code,
  });
  const code: number = r.exitCode;
  for await (const ev of sandbox.execStream('ls')) {
    const e: ExecEvent = ev;
    if (e.type === 'complete') { const n: number = e.exitCode; void n; }
  }

  const proc: Process = await sandbox.startProcess('node server.js', { processId: 'web', cwd: '/workspace', env: { PORT: '8080' } });
  await proc.waitForPort(8080, { timeout: 1000 });
  const hit: { line: string } = await proc.waitForLog(/listening/, 1000);
  const logs: ProcessLogs = await proc.getLogs();
  const st: string = await proc.getStatus();
  for await (const ev of proc.streamLogs()) { const l: LogEvent = ev; void l; }
  await proc.kill('SIGTERM');
  const done: { exitCode?: number; status: string } = await proc.waitForExit(1000);
  const procs: Process[] = await sandbox.listProcesses();
  const one: Process = await sandbox.getProcess('web');
  await sandbox.killProcess('web', 'SIGKILL');
  const killed: { killedCount: number } = await sandbox.killAllProcesses();
  const plogs: ProcessLogs = await sandbox.getProcessLogs('web');
  for await (const ev of sandbox.streamProcessLogs('web', { signal: ac.signal })) { const l: LogEvent = ev; void l; }

  await sandbox.writeFile('/workspace/a.txt', 'text');
  await sandbox.writeFile('/workspace/b.bin', new Uint8Array([1, 2]), { mode: 0o644 });
  await sandbox.writeFile('/workspace/c.bin', new ReadableStream<Uint8Array>());
  const s: string = (await sandbox.readFile('/workspace/a.txt')).content;
  const bytes: Uint8Array = (await sandbox.readFile('/workspace/b.bin', { encoding: 'binary' })).content;
  const stream = await sandbox.readFileStream('/workspace/b.bin');
  for await (const chunk of stream) void chunk;
  await sandbox.mkdir('/workspace/d', { recursive: true });
  await sandbox.renameFile('/workspace/a.txt', '/workspace/a2.txt');
  await sandbox.moveFile('/workspace/a2.txt', '/workspace/d/a.txt');
  const stat: FileEntry = await sandbox.stat('/workspace/d/a.txt');
  const files: FileEntry[] = (await sandbox.listFiles('/workspace', { recursive: true, includeHidden: true })).files;
  const exists: boolean = (await sandbox.exists('/workspace/d')).exists;
  await sandbox.deleteFile('/workspace/d', { recursive: true });

  const git: { success: boolean; targetDir: string } = await sandbox.gitCheckout('https://example.invalid/r.git', { branch: 'main', targetDir: 'r', depth: 1 });
  const port: ExposedPort = await sandbox.exposePort(8080, { name: 'web' });
  const url: string = port.url;
  const ports: ExposedPort[] = await sandbox.getExposedPorts();
  await sandbox.unexposePort(8080);

  const ctx: CodeContext = await sandbox.createCodeContext({ language: 'python', cwd: '/workspace' });
  const exe: Execution = await sandbox.runCode('1 + 1', {
    context: ctx, onStdout: (d: string) => void d, onStderr: (d: string) => void d,
    onResult: (x: RichResult) => void x.png, onError: (e: ExecutionError) => void e.traceback,
  });
  const out: string = exe.output;
  for await (const ev of sandbox.runCodeStream('print(1)', { context: ctx.id })) { const c: CodeEvent = ev; void c; }
  const ctxs: CodeContext[] = await sandbox.listCodeContexts();
  await sandbox.deleteCodeContext(ctx);
  await sandbox.destroy();

  for await (const ev of parseSSE(Readable.from(['data: {}\n\n']))) void ev;
  try { await sandbox.exec('x'); } catch (e) {
    if (e instanceof SandboxError) { const c2: string = e.code; const st2: number = e.status; void [c2, st2]; }
  }
  void [health, list, text, info, again, code, hit, logs, st, done, procs, one, killed, plogs, s, bytes,
    stat, files, exists, git, url, ports, out, ctxs];

  // Calls the declarations must refuse:
  // @ts-expect-error a command is a string
  await sandbox.exec(42);
  // @ts-expect-error an unknown option
  getSandbox(client, 'x', { nope: true });
  // @ts-expect-error exitCode is a number
  const wrong: string = r.exitCode;
  // @ts-expect-error exposePort takes a port number
  await sandbox.exposePort('8080');
  // @ts-expect-error no such method
  await sandbox.execute('ls');
  void wrong;
}

import { Readable } from 'node:stream';
