// tests/sdk/helpers.mjs: what the SDK's node tests share.
//
// T(ms) stretches a wait by $SBX_SDK_TIME_SCALE (10 when the sandboxes are
// emulated microVMs, see tests/sdk/lib.sh): a wait is a bound on a hang,
// never a measurement, so it may be generous. gitServe() serves git
// repositories made on the host to the sandboxes: a git daemon on the
// host's loopback at $SDK_ALIAS_PORT, reached from a sandbox at
// $SDK_HOST_ADDR (127.0.0.1 for host-mode sandboxes; sbxd's --net-alias
// address for VM sandboxes, whose network never reaches the host's loopback
// otherwise). Nothing leaves the machine.
import fs from 'node:fs';
import net from 'node:net';
import { spawn, execFileSync } from 'node:child_process';

const env = process.env;

/** ms scaled for slow (emulated) sandboxes. */
export function T(ms) {
  const k = Number(env.SBX_SDK_TIME_SCALE);
  return Math.round(ms * (Number.isFinite(k) && k >= 1 ? k : 1));
}

/** True when the sandboxes are microVMs (not host-mode processes). */
export const vmBackend = env.SBX_SDK_BACKEND === 'vm';

export function hostHas(cmd) {
  try { execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }); return true; } catch { return false; }
}

/** A port free on the host's loopback right now. */
export function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function canConnect(port) {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => { s.destroy(); resolve(true); });
    s.on('error', () => resolve(false));
  });
}

/**
 * Makes the git repository NAME under base (branch main, one commit of
 * files: { path: content }) ready for git daemon. Returns its folder.
 */
export function makeRepo(base, name, files) {
  const dir = `${base}/${name}`;
  fs.mkdirSync(dir, { recursive: true });
  for (const [p, c] of Object.entries(files)) fs.writeFileSync(`${dir}/${p}`, c);
  const g = ['-c', 'user.email=t@sbx', '-c', 'user.name=t'];
  execFileSync('git', ['init', '-q', '-b', 'main'], { cwd: dir });
  execFileSync('git', ['add', '.'], { cwd: dir });
  execFileSync('git', [...g, 'commit', '-q', '-m', 'init'], { cwd: dir });
  return dir;
}

/**
 * Serves every repository under base (a folder) with git daemon on
 * $SDK_ALIAS_PORT. Resolves with { url(name), stop() } once it accepts
 * connections; url(name) is the address a sandbox clones from.
 */
export async function gitServe(base) {
  const port = Number(env.SDK_ALIAS_PORT);
  if (!(port > 0)) throw new Error('SDK_ALIAS_PORT is not set (tests/sdk/lib.sh sets it)');
  const child = spawn('git', ['daemon', '--export-all', '--reuseaddr', `--base-path=${base}`,
    '--listen=127.0.0.1', `--port=${port}`, '--informative-errors', base], { stdio: 'ignore' });
  let exited = false;
  child.once('exit', () => { exited = true; });
  for (let i = 0; i < 200 && !exited && !(await canConnect(port)); i++) await sleep(50);
  if (exited || !(await canConnect(port))) {
    child.kill();
    throw new Error(`git daemon did not listen on 127.0.0.1:${port}`);
  }
  return {
    url: (name) => `git://${env.SDK_HOST_ADDR || '127.0.0.1'}:${port}/${name}`,
    stop: () => new Promise((resolve) => {
      if (exited) return resolve();
      child.once('exit', resolve);
      child.kill();
    }),
  };
}
