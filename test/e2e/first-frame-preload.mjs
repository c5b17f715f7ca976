// Preloaded (`node --import`) into the console by first-frame.test.ts: it writes to
// $OPSDECK_TEST_EVENTS, in order, `frame` with the bytes of the first frame (the alternate
// screen and the Fleet screen's first pane) when it is written, and `connect host:port` for every
// TCP connection the process opens (the health probes). With the frame go what the process had
// loaded by then: Node's own modules, and whether zeromq's addon was. It changes nothing the
// console does.
import { appendFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import process from 'node:process';

const loaded = () => ({
  builtins: process.moduleLoadList
    .filter((entry) => entry.startsWith('NativeModule '))
    .map((entry) => entry.slice('NativeModule '.length)),
  zeromq: Object.keys(createRequire(import.meta.url).cache).some((path) =>
    /[\\/]node_modules[\\/]zeromq[\\/]/.test(path),
  ),
});

const file = process.env.OPSDECK_TEST_EVENTS;
const log = (event) => appendFileSync(file, `${JSON.stringify(event)}\n`);

let written = '';
let framed = false;
const write = process.stdout.write;
process.stdout.write = function (chunk, ...rest) {
  if (!framed) {
    written += String(chunk);
    // eslint-disable-next-line no-control-regex
    if (/\x1b\[\?1049h[\s\S]*MAINPC/.test(written)) {
      framed = true;
      log({ event: 'frame', bytes: written, ...loaded() });
    }
  }
  return write.call(this, chunk, ...rest);
};

const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function (...args) {
  // net.connect() hands the socket its arguments normalised: [options, callback].
  const first = Array.isArray(args[0]) ? args[0][0] : args[0];
  const options = typeof first === 'object' && first !== null ? first : {};
  const port = typeof first === 'number' ? first : options.port;
  const host = typeof args[1] === 'string' ? args[1] : options.host;
  if (port !== undefined) log({ event: 'connect', to: `${host}:${port}` });
  return connect.apply(this, args);
};
