'use strict';
// coderunner kernel driver for JavaScript (hosted by `coderunner-agent kernel`).
//
// Protocol (see the agent's KernelCommand.swift):
//   fd 0  commands from the agent: "EXEC <cell> <nbytes>\n" + <nbytes> bytes of UTF-8 code; between cells also
//         "COMPLETE <request> <nbytes>\n" + the line before the cursor, answered by "COMPLETIONS <request> <nbytes>\n" +
//         names one per line on fd 3 (READY says `complete`)
//   fd 1  the cells' stdout, fd 2 their stderr. process.stdout/stderr (and so console) are replaced by streams that
//         write synchronously: node's own pipe streams queue in memory once the pipe is full, so a tight printing
//         loop would never yield its output (and would exhaust memory before the output limit could stop it).
//         Everything a cell printed is in the pipe before its DONE.
//   fd 3  events to the agent: READY complete, COMPLETIONS, DONE <cell> ok|error, DISPLAY <cell> <mime> <nbytes> + bytes (a cell's error
//         is sent as text/vnd.coderunner.traceback, so clients can show it as an error rather than as stderr)
//   $CODERUNNER_CELL_STDIN  a FIFO the agent makes fresh for every cell, fed with what the user types (or, piped, the
//         lines after the cell): what process.stdin reads while the cell runs (see below). fd 0 stays the commands.
//
// Cells run like the node REPL: in the main context, one after another, so `var`/`let`/`const`/functions/classes
// survive between cells (scripts of one context share its global lexical scope). Top-level `await` uses the REPL's
// own transform (node --expose-internals, `internal/repl/await`), which also hoists the cell's declarations.
// The value of the final expression is shown with util.inspect (undefined is not), errors print "Uncaught ..." with
// the stack (without this driver's frames) and the kernel stays alive. SIGINT interrupts a running cell: synchronous
// code through vm's breakOnSigint, a pending await by rejecting it; between cells it is ignored.

const fs = require('fs');
const net = require('net');
const path = require('path');
const util = require('util');
const vm = require('vm');
const Module = require('module');
const { Readable, Writable } = require('stream');

let processTopLevelAwait = null;
try {
  ({ processTopLevelAwait } = require('internal/repl/await'));
} catch {
  // Without --expose-internals a cell with top-level await runs in an async wrapper (its declarations stay local).
}

const EVENTS_FD = 3;
const DRIVER_FILE = __filename;

const pause = new Int32Array(new SharedArrayBuffer(4));

/** write(2) until done; the fds are blocking pipes, EAGAIN only if someone made them non-blocking. */
function writeAllSync(fd, data) {
  let offset = 0;
  while (offset < data.length) {
    try {
      offset += fs.writeSync(fd, data, offset);
    } catch (error) {
      if (error.code !== 'EAGAIN') throw error;
      Atomics.wait(pause, 0, 0, 1);
    }
  }
}

function event(text) {
  writeAllSync(EVENTS_FD, Buffer.from(text));
}

function syncStream(fd) {
  const stream = new Writable({ write(chunk, encoding, callback) { callback(); } });
  // write() itself is synchronous and keeps no state: an interrupt in the middle of a write (breakOnSigint) cannot
  // leave the stream waiting for a callback that never comes.
  stream.write = function write(chunk, encoding, callback) {
    if (typeof encoding === 'function') {
      callback = encoding;
      encoding = undefined;
    }
    const data = typeof chunk === 'string' ? Buffer.from(chunk, encoding || 'utf8') : chunk;
    try {
      writeAllSync(fd, data);
    } catch (error) {
      if (callback) process.nextTick(callback, error);
      return false;
    }
    if (callback) process.nextTick(callback);
    return true;
  };
  stream.fd = fd;
  stream.isTTY = false;
  stream._isStdio = true;
  stream.destroySoon = () => {};
  return stream;
}

// Before anything touches the originals (console binds them lazily on first use).
const stdout = syncStream(1);
const stderr = syncStream(2);
Object.defineProperty(process, 'stdout', { configurable: true, enumerable: true, get: () => stdout });
Object.defineProperty(process, 'stderr', { configurable: true, enumerable: true, get: () => stderr });

// User code must not consume the command stream (fd 0). process.stdin is one stream for the kernel's life (a readline
// interface made in one cell works in the next), fed from the running cell's FIFO: opened when a reader asks for data
// while a cell runs, closed when the cell ends. Between cells nothing arrives; the FIFO's EOF (Ctrl-D, the end of
// piped input) ends process.stdin for good, as EOF ends node's own stdin.
const cellStdinPath = process.env.CODERUNNER_CELL_STDIN;
delete process.env.CODERUNNER_CELL_STDIN;
let cellRunning = false;
let cellSocket = null;
let stdinWanted = false;
const stdinProxy = new Readable({
  read() {
    stdinWanted = true;
    if (cellSocket !== null) cellSocket.resume();
    else openCellStdin();
  },
});
Object.defineProperty(process, 'stdin', { configurable: true, enumerable: true, value: stdinProxy });

function openCellStdin() {
  if (!cellRunning || !cellStdinPath || cellSocket !== null) return;
  let fd;
  try {
    // Non-blocking: the agent may have closed its end already (input ended); libuv reads it asynchronously.
    fd = fs.openSync(cellStdinPath, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  } catch {
    return;
  }
  const socket = new net.Socket({ fd, readable: true, writable: false });
  socket.on('data', (chunk) => {
    stdinWanted = false;
    if (!stdinProxy.push(chunk)) socket.pause();
  });
  socket.on('end', () => {
    if (cellSocket === socket) stdinProxy.push(null);
  });
  socket.on('error', () => {});
  cellSocket = socket;
}

function startCellStdin() {
  cellRunning = true;
  if (stdinWanted) openCellStdin();
}

function endCellStdin() {
  cellRunning = false;
  if (cellSocket === null) return;
  const socket = cellSocket;
  cellSocket = null;
  socket.removeAllListeners('data');
  socket.destroy();
}

// Like the REPL: require/module relative to the working directory, built-in modules as lazy globals.
const cwdRequire = Module.createRequire(path.join(process.cwd(), '<repl>'));
const replModule = new Module('<repl>');
replModule.filename = path.join(process.cwd(), '<repl>');
replModule.paths = Module._nodeModulePaths(process.cwd());
globalThis.require = cwdRequire;
globalThis.module = replModule;
globalThis.exports = replModule.exports;
globalThis.__filename = replModule.filename;
globalThis.__dirname = process.cwd();
for (const name of Module.builtinModules) {
  if (name.startsWith('_') || name.includes('/') || name in globalThis) continue;
  Object.defineProperty(globalThis, name, {
    configurable: true,
    enumerable: false,
    get() {
      const value = require(name);
      Object.defineProperty(globalThis, name, { configurable: true, writable: true, enumerable: false, value });
      return value;
    },
    set(value) {
      Object.defineProperty(globalThis, name, { configurable: true, writable: true, enumerable: true, value });
    },
  });
}

/** The rejection hook of the await the running cell is in, if any (SIGINT calls it). */
let interruptPending = null;

process.on('SIGINT', () => {
  if (interruptPending) interruptPending();
});

function cleanStack(error) {
  if (!(error instanceof Error) || typeof error.stack !== 'string') return util.inspect(error);
  const lines = error.stack.split('\n');
  const keep = [];
  for (const line of lines) {
    if (line.includes(DRIVER_FILE) || /\(node:|at node:/.test(line)) break;
    keep.push(line);
  }
  // Extra own properties (code, errno, ...) are shown like util.inspect would, when present.
  return keep.join('\n');
}

function reportError(error) {
  process.stderr.write('Uncaught ' + cleanStack(error) + '\n');
}

/** A cell's own error: its text as a traceback display of that cell (stdout and stderr are written synchronously,
 *  so everything the cell printed before is already in the pipes, ahead of this event). */
function reportCellError(cell, error) {
  const text = Buffer.from('Uncaught ' + cleanStack(error) + '\n');
  writeAllSync(EVENTS_FD, Buffer.concat([Buffer.from(`DISPLAY ${cell} text/vnd.coderunner.traceback ${text.length}\n`), text]));
}

// Errors of callbacks and promises that outlive their cell are shown instead of ending the kernel.
process.on('uncaughtException', (error) => reportError(error));
process.on('unhandledRejection', (reason) => reportError(reason));

function interruptedError() {
  const error = new Error('Script execution was interrupted by `SIGINT`');
  error.code = 'ERR_SCRIPT_EXECUTION_INTERRUPTED';
  return error;
}

/** Waits for `promise` unless SIGINT comes first. */
function interruptible(promise) {
  return new Promise((resolve, reject) => {
    interruptPending = () => reject(interruptedError());
    Promise.resolve(promise).then(resolve, reject);
  }).finally(() => {
    interruptPending = null;
  });
}

function compile(cell, code) {
  const filename = `<cell ${cell}>`;
  let source = code;
  let awaited = false;
  if (/\bawait\b/.test(code)) {
    let wrapped = null;
    if (processTopLevelAwait) {
      try {
        wrapped = processTopLevelAwait(code);
      } catch {
        wrapped = null;  // not parseable: let vm.Script report the syntax error below
      }
    }
    if (wrapped !== null) {
      source = wrapped;
      awaited = true;
    }
  }
  // `{ a: 1 }` is an object in the REPL, not a block.
  if (!awaited && /^\s*\{/.test(source) && /\}\s*;?\s*$/.test(source)) {
    const asObject = `(${source.replace(/;\s*$/, '')})`;
    try {
      return { script: new vm.Script(asObject, { filename }), awaited };
    } catch {
      // a real block
    }
  }
  return { script: new vm.Script(source, { filename }), awaited };
}

async function execute(cell, code) {
  let compiled;
  try {
    compiled = compile(cell, code);
  } catch (error) {
    reportCellError(cell, error);
    return false;
  }
  try {
    let value = compiled.script.runInThisContext({ breakOnSigint: true, displayErrors: false });
    if (compiled.awaited) {
      const result = await interruptible(value);
      value = result && typeof result === 'object' && 'value' in result ? result.value : undefined;
    }
    if (value !== undefined) process.stdout.write(util.inspect(value, { colors: false }) + '\n');
    return true;
  } catch (error) {
    reportCellError(cell, error);
    return false;
  }
}

// Commands arrive on fd 0; one cell runs at a time, in order.
const queue = [];
let busy = false;
let buffer = Buffer.alloc(0);

async function pump() {
  if (busy) return;
  busy = true;
  while (queue.length > 0) {
    const { cell, code, complete } = queue.shift();
    if (complete) {
      answerCompletion(cell, code);
      continue;
    }
    noteDeclarations(code);
    startCellStdin();
    const ok = await execute(cell, code);
    endCellStdin();
    event(`DONE ${cell} ${ok ? 'ok' : 'error'}\n`);
  }
  busy = false;
}

function parse() {
  for (;;) {
    const newline = buffer.indexOf(10);
    if (newline < 0) return;
    const parts = buffer.subarray(0, newline).toString('latin1').trim().split(' ');
    if (parts.length !== 3 || (parts[0] !== 'EXEC' && parts[0] !== 'COMPLETE')) {
      buffer = buffer.subarray(newline + 1);
      continue;
    }
    const size = Number(parts[2]);
    if (buffer.length < newline + 1 + size) return;
    const code = buffer.subarray(newline + 1, newline + 1 + size).toString('utf8');
    buffer = buffer.subarray(newline + 1 + size);
    queue.push({ cell: Number(parts[1]), code, complete: parts[0] === 'COMPLETE' });
  }
}

const commands = new net.Socket({ fd: 0, readable: true, writable: false });
commands.on('data', (chunk) => {
  buffer = buffer.length ? Buffer.concat([buffer, chunk]) : chunk;
  parse();
  pump();
});
commands.on('end', () => process.exit(0));
commands.on('error', () => process.exit(0));

// Tab completion, as node's REPL offers it: keywords, globals, the names cells declared (let, const and class live in
// the global lexical scope, not on globalThis), and after a dot the properties of what the part before it evaluates to
// (evaluated like the REPL does; an error gives no names).
const KEYWORDS = ['await', 'break', 'case', 'catch', 'class', 'const', 'continue', 'debugger', 'default', 'delete', 'do',
  'else', 'export', 'extends', 'false', 'finally', 'for', 'function', 'if', 'import', 'in', 'instanceof', 'let', 'new',
  'null', 'return', 'super', 'switch', 'this', 'throw', 'true', 'try', 'typeof', 'undefined', 'var', 'void', 'while',
  'with', 'yield'];
const declared = new Set();

function noteDeclarations(code) {
  for (const match of code.matchAll(/\b(?:let|const|var|function\*?|class)\s+([A-Za-z_$][\w$]*)/g)) declared.add(match[1]);
}

function propertyNames(value) {
  const names = new Set();
  let object = value;
  for (let depth = 0; object !== null && object !== undefined && depth < 16; depth++) {
    try {
      for (const name of Object.getOwnPropertyNames(object)) names.add(name);
      object = Object.getPrototypeOf(object);
    } catch {
      break;
    }
  }
  return [...names].filter((name) => /^[A-Za-z_$][\w$]*$/.test(name));
}

function isBound(name) {
  if (KEYWORDS.includes(name)) return true;
  try {
    vm.runInThisContext(`typeof ${name}`);  // a name in its temporal dead zone throws
    return true;
  } catch {
    return false;
  }
}

function completions(line) {
  const match = /[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*\.?$/.exec(line);
  if (!match) return [];
  const word = match[0];
  const dot = word.lastIndexOf('.');
  if (dot >= 0) {
    const expression = word.slice(0, dot);
    const prefix = word.slice(dot + 1);
    let value;
    try {
      value = vm.runInThisContext(expression);
    } catch {
      return [];
    }
    if (value === null || value === undefined) return [];
    return propertyNames(Object(value)).filter((name) => name.startsWith(prefix)).sort().map((name) => `${expression}.${name}`);
  }
  const names = new Set([...KEYWORDS, ...declared, ...Object.getOwnPropertyNames(globalThis)]);
  return [...names].filter((name) => name.startsWith(word) && /^[A-Za-z_$][\w$]*$/.test(name) && isBound(name)).sort();
}

function answerCompletion(request, line) {
  let names = [];
  try {
    names = completions(line).slice(0, 500);
  } catch {
    names = [];
  }
  const data = Buffer.from(names.join('\n'));
  writeAllSync(EVENTS_FD, Buffer.concat([Buffer.from(`COMPLETIONS ${request} ${data.length}\n`), data]));
}

event('READY complete\n');
