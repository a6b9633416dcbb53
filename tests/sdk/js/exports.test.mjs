// tests/sdk/js/exports.test.mjs: the package's surface against its tests and
// its TypeScript declarations, without a server.
//
// every_export_called lists what net/js exports (functions, classes and the
// public methods of each class's prototype) and looks for a call of each in
// the test files and in the examples the tests run: a new export or method
// without a test fails here. dts_matches_exports compares the same list
// with index.d.ts both ways. tsc_typechecks_usage compiles
// tests/sdk/types/usage.ts (every method called with typed results, and
// calls the types must refuse) against index.d.ts when tsc is installed
// (Debian's node-typescript), in the native run only.
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';

import * as sdk from '../../../net/js/src/index.js';
import { hostHas, vmBackend } from '../helpers.mjs';

const here = path.dirname(new URL(import.meta.url).pathname);
const root = path.resolve(here, '../../..');

/** { name: kind } for exports, and "Class.method" for public methods. */
function surface() {
  const out = new Map();
  for (const [name, v] of Object.entries(sdk)) {
    if (typeof v !== 'function') { out.set(name, 'value'); continue; }
    const isClass = /^class\b/.test(Function.prototype.toString.call(v));
    out.set(name, isClass ? 'class' : 'function');
    if (!isClass) continue;
    for (const m of Object.getOwnPropertyNames(v.prototype)) {
      if (m === 'constructor' || m.startsWith('_')) continue;
      const d = Object.getOwnPropertyDescriptor(v.prototype, m);
      if (typeof d.value === 'function') out.set(`${name}.${m}`, 'method');
    }
  }
  return out;
}

function sources(dirs) {
  let text = '';
  for (const d of dirs) {
    for (const f of fs.readdirSync(path.join(root, d))) {
      if (/\.(mjs|js)$/.test(f) && f !== 'exports.test.mjs') text += fs.readFileSync(path.join(root, d, f), 'utf8');
    }
  }
  return text;
}

const esc = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

test('every_export_called', () => {
  const text = sources(['tests/sdk/js', 'tests/sdk/examples', 'net/js/examples']);
  const missing = [];
  for (const [name, kind] of surface()) {
    const last = name.split('.').pop();
    let re;
    if (kind === 'method') re = new RegExp(`\\.${esc(last)}\\(`);
    else if (kind === 'class') re = new RegExp(`(new ${esc(last)}\\(|instanceof ${esc(last)}\\b)`);
    else re = new RegExp(`\\b${esc(last)}\\(`);
    if (!re.test(text)) missing.push(name);
  }
  assert.ok(surface().size > 40, `too few exports found: ${surface().size}`);
  assert.deepEqual(missing, [], `exported but never called by a test: ${missing.join(', ')}`);
});

/** Exports and class methods declared in index.d.ts. */
function declared() {
  const dts = fs.readFileSync(path.join(root, 'net/js/index.d.ts'), 'utf8');
  const out = new Set();
  let cls = null, depth = 0;
  for (const line of dts.split('\n')) {
    const m = line.match(/^export (class|function|const) (\w+)/);
    if (m) {
      out.add(m[2]);
      if (m[1] === 'class') { cls = m[2]; depth = 0; }
    }
    if (cls) {
      const meth = depth === 1 && line.match(/^\s+(\w+)(<[^>]*>)?\(/);
      if (meth && meth[1] !== 'constructor') out.add(`${cls}.${meth[1]}`);
      depth += (line.match(/\{/g) || []).length - (line.match(/\}/g) || []).length;
      if (depth === 0 && line.includes('}')) cls = null;
    }
  }
  return out;
}

test('dts_matches_exports', () => {
  const have = [...surface().keys()];
  const dts = declared();
  const undeclared = have.filter((n) => !dts.has(n));
  const phantom = [...dts].filter((n) => !surface().has(n));
  assert.deepEqual(undeclared, [], `exported but not in index.d.ts: ${undeclared.join(', ')}`);
  assert.deepEqual(phantom, [], `in index.d.ts but not exported: ${phantom.join(', ')}`);
});

test('tsc_typechecks_usage', (t) => {
  if (!hostHas('tsc')) return t.skip('tsc is not installed (Debian package node-typescript)');
  // Types do not depend on the sandboxes; tsc under emulation takes minutes.
  if (vmBackend) return t.skip('checked by the native run (tests/sdk/js.sh)');
  try {
    execFileSync('tsc', ['--noEmit', '-p', path.join(root, 'tests/sdk/types/tsconfig.json')], { encoding: 'utf8', stdio: 'pipe' });
  } catch (e) {
    assert.fail(`tsc: ${(e.stdout || '') + (e.stderr || '')}`.slice(0, 2000));
  }
});
