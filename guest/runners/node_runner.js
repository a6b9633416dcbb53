// guest/runners/node_runner.js: the javascript code-context runner.
//
// sbx-init starts one per context and talks to it (guest/contexts.c):
//   fd 0   requests: "RUN <n>\n" then n bytes of UTF-8 code
//   fd 1,2 the user code's own output (console.log), streamed live
//   fd 3   control lines: "ready", "result <json>", "error <json>", "done"
// State lives in one vm context for the process's life. Code that uses
// top-level await is wrapped in an async function; its top-level
// const/let/var declarations become assignments to the context's globals so
// they survive into the next run, and its last line, when it is an
// expression, is returned as the result. SIGINT interrupts synchronous code.
'use strict';
const vm = require('vm');
const fs = require('fs');
const util = require('util');

const sandbox = {
  console, require, process, Buffer, URL, URLSearchParams,
  TextEncoder, TextDecoder, setTimeout, clearTimeout, setInterval,
  clearInterval, setImmediate, clearImmediate, queueMicrotask,
  module: { exports: {} }, __dirname: process.cwd(),
};
if (typeof fetch === 'function') sandbox.fetch = fetch;
sandbox.global = sandbox;
sandbox.globalThis = sandbox;
const context = vm.createContext(sandbox);

function emit(kind, obj) {
  fs.writeSync(3, obj === undefined ? kind + '\n' : kind + ' ' + JSON.stringify(obj) + '\n');
}

function rich(value) {
  const out = { text: util.inspect(value, { depth: 4 }) };
  if (value !== null && typeof value === 'object') {
    try {
      out.json = JSON.parse(JSON.stringify(value));
    } catch (e) { /* not JSON-able */ }
  }
  return out;
}

function compiles(src) {
  try {
    new vm.Script(src);
    return true;
  } catch (e) {
    return false;
  }
}

// Top-level await: an async wrapper whose declarations go to the globals.
function wrapAsync(code) {
  const body = code.replace(/^(\s*)(?:const|let|var)\s+([A-Za-z_$][\w$]*)\s*=/gm, '$1$2 =');
  const lines = body.split('\n');
  let i = lines.length - 1;
  while (i >= 0 && lines[i].trim() === '') i--;
  if (i >= 0) {
    // The last statement may share its line with others: try each ';'.
    const line = lines[i].replace(/;\s*$/, '');
    const head = lines.slice(0, i).join('\n');
    for (let cut = line.length; cut >= 0; cut = line.lastIndexOf(';', cut - 1)) {
      const before = head + '\n' + line.slice(0, cut + (cut < line.length ? 1 : 0));
      const last = line.slice(cut < line.length ? cut + 1 : line.length).trim();
      const src = '(async () => {\n' + (cut < line.length ? before : head) +
        '\nreturn (' + (cut < line.length ? last : line) + ');\n})()';
      if ((cut < line.length ? last : line).trim() && compiles(src)) return src;
      if (cut <= 0) break;
    }
  }
  return '(async () => {\n' + body + '\n})()';
}

function isThenable(v) {
  return v !== null && (typeof v === 'object' || typeof v === 'function') &&
    typeof v.then === 'function';
}

async function run(code) {
  let src = code;
  try {
    new vm.Script(code);
  } catch (e) {
    if (e && e.name === 'SyntaxError' && /\bawait\b/.test(code)) src = wrapAsync(code);
  }
  let value = new vm.Script(src, { filename: 'cell.js' })
    .runInContext(context, { breakOnSigint: true, displayErrors: false });
  if (isThenable(value)) value = await value;
  if (value !== undefined) {
    context._ = value;
    emit('result', rich(value));
  }
}

function report(e) {
  const err = e !== null && typeof e === 'object' ? e : { name: 'Error', message: String(e) };
  emit('error', {
    name: String(err.name || 'Error'),
    message: String(err.message === undefined ? '' : err.message),
    traceback: String(err.stack || (err.name + ': ' + err.message)),
  });
}

let pending = Buffer.alloc(0);
const queue = [];
let busy = false;

async function drain() {
  if (busy) return;
  busy = true;
  while (queue.length) {
    const code = queue.shift();
    try {
      await run(code);
    } catch (e) {
      report(e);
    }
    emit('done');
  }
  busy = false;
}

function parse() {
  for (;;) {
    const nl = pending.indexOf(10);
    if (nl < 0) return;
    const n = parseInt(pending.slice(0, nl).toString().split(' ')[1], 10);
    if (pending.length < nl + 1 + n) return;
    queue.push(pending.slice(nl + 1, nl + 1 + n).toString('utf8'));
    pending = pending.slice(nl + 1 + n);
  }
}

process.on('SIGINT', () => { /* interrupts sync code via breakOnSigint */ });
process.on('uncaughtException', (e) => report(e));
process.on('unhandledRejection', (e) => report(e));
process.stdin.on('data', (chunk) => {
  pending = Buffer.concat([pending, chunk]);
  parse();
  drain();
});
process.stdin.on('end', () => process.exit(0));
emit('ready');
