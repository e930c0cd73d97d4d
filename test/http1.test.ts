// The proxy's bulk transport for blob bodies (src/proxy/http1.ts): the response grammar byte by byte,
// and real exchanges with servers on 127.0.0.1 that answer with a length, chunked, until close, cut
// short, slowly, over TLS, or not at all.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import net, { type AddressInfo } from 'node:net';
import { BodyFramer, parseHead, ProtocolError } from '../src/proxy/http1-parse.js';
import { http1Request, requestText, TimeoutCode, type Http1Options } from '../src/proxy/http1.js';
import { makeTestCa } from './helpers/auth.js';
import { randomContent } from './helpers/oci-http.js';

const OPTIONS: Http1Options = { connectMs: 5_000, headersMs: 5_000, bodyMs: 5_000 };

test('a head is parsed once complete: status, lower-case names, repeated headers as arrays', () => {
  const text = 'HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer realm="a"\r\nwww-authenticate: Basic realm="b"\r\nContent-Length: 3\r\n\r\nabc';
  assert.equal(parseHead(Buffer.from(text.slice(0, 40))), undefined);
  const head = parseHead(Buffer.from(text));
  assert.equal(head?.statusCode, 401);
  assert.deepEqual(head?.headers['www-authenticate'], ['Bearer realm="a"', 'Basic realm="b"']);
  assert.equal(head?.headers['content-length'], '3');
  assert.equal(head?.length, text.length - 3);
  assert.throws(() => parseHead(Buffer.from('SSH-2.0-OpenSSH\r\n\r\n')), ProtocolError);
  assert.throws(() => parseHead(Buffer.from('HTTP/1.1 200 OK\r\nno colon here\r\n\r\n')), ProtocolError);
  assert.throws(() => parseHead(Buffer.alloc(70_000, 'a')), /larger than/);
});

test('the framing: a length stops at its end, a HEAD or 204 has no body, a bad length is refused', () => {
  const head = (headers: string, status = 200) => parseHead(Buffer.from(`HTTP/1.1 ${status} X\r\n${headers}\r\n`))!;
  const framer = BodyFramer.of(head('content-length: 5\r\n'), 'GET');
  assert.deepEqual(Buffer.concat(framer.take(Buffer.from('hel'))).toString(), 'hel');
  assert.equal(framer.ended(), 'the connection closed after 3 bytes, 2 short of the Content-Length');
  assert.deepEqual(Buffer.concat(framer.take(Buffer.from('loEXTRA'))).toString(), 'lo');
  assert.equal(framer.done, true);
  assert.equal(BodyFramer.of(head('content-length: 5\r\n'), 'HEAD').done, true);
  assert.equal(BodyFramer.of(head('', 204), 'GET').done, true);
  assert.throws(() => BodyFramer.of(head('content-length: -1\r\n'), 'GET'), ProtocolError);
  assert.throws(() => BodyFramer.of(head('transfer-encoding: gzip\r\n'), 'GET'), ProtocolError);
  const untilClose = BodyFramer.of(head(''), 'GET');
  assert.equal(Buffer.concat(untilClose.take(Buffer.from('anything'))).toString(), 'anything');
  assert.equal(untilClose.ended(), undefined);
});

test('a chunked body comes out whole however its bytes are split, extensions and trailers dropped', () => {
  const wire = Buffer.from('5;name=value\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nTrailer: x\r\n\r\nNEXT');
  for (const size of [1, 2, 3, 7, wire.length]) {
    const framer = BodyFramer.of(parseHead(Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n'))!, 'GET');
    const parts: Buffer[] = [];
    for (let at = 0; at < wire.length && !framer.done; at += size) parts.push(...framer.take(wire.subarray(at, at + size)));
    assert.equal(Buffer.concat(parts).toString(), 'helloabcdefghijklmnopqrstuvwxyz', `split every ${size} bytes`);
    assert.equal(framer.done, true);
  }
  const chunked = () => BodyFramer.of(parseHead(Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n'))!, 'GET');
  assert.throws(() => chunked().take(Buffer.from('zz\r\n')), /not hexadecimal/);
  assert.throws(() => chunked().take(Buffer.from('2\r\nabc\r\n')), /longer than its size/);
  const cut = chunked();
  cut.take(Buffer.from('5\r\nab'));
  assert.match(cut.ended() ?? '', /inside a chunked body after 2 bytes/);
});

test('a request head refuses names and values that would break its framing', () => {
  const url = new URL('http://127.0.0.1:5000/v2/a/blobs/sha256:00?x=1');
  assert.equal(requestText(url, 'GET', { range: 'bytes=5-' }), 'GET /v2/a/blobs/sha256:00?x=1 HTTP/1.1\r\nhost: 127.0.0.1:5000\r\nrange: bytes=5-\r\nconnection: close\r\n\r\n');
  assert.throws(() => requestText(url, 'GET', { authorization: 'Bearer x\r\nX-Injected: 1' }), ProtocolError);
  assert.throws(() => requestText(url, 'GET', { 'bad name': 'x' }), ProtocolError);
});

async function serve(t: TestContext, handler: http.RequestListener): Promise<URL> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  return new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/blob`);
}

/** A TCP server that answers every connection with onConnection (raw bytes, or silence). */
async function serveRaw(t: TestContext, onConnection: (socket: net.Socket) => void): Promise<URL> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    onConnection(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    for (const socket of sockets) socket.destroy();
    server.close();
  });
  return new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/blob`);
}

async function readAll(body: AsyncIterable<Uint8Array>): Promise<{ bytes: Buffer; buffers: number }> {
  const chunks: Uint8Array[] = [];
  const buffers = new Set<ArrayBufferLike>();
  for await (const chunk of body) {
    chunks.push(chunk);
    buffers.add(chunk.buffer);
  }
  return { bytes: Buffer.concat(chunks), buffers: buffers.size };
}

test('a body with a length arrives whole, read into a few large blocks rather than a buffer per read', async (t) => {
  const blob = randomContent(3 << 20, 21);
  const url = await serve(t, (req, res) => {
    assert.equal(req.headers.connection, 'close');
    res.writeHead(200, { 'Content-Length': blob.size, 'Docker-Content-Digest': blob.digest });
    // Many small writes: the client's reads, not the server's writes, decide where bytes land.
    for (let at = 0; at < blob.size; at += 16 << 10) res.write(blob.bytes.subarray(at, at + (16 << 10)));
    res.end();
  });
  const response = await http1Request(url, 'GET', {}, OPTIONS);
  assert.equal(response.statusCode, 200);
  assert.equal(response.headers['docker-content-digest'], blob.digest);
  const { bytes, buffers } = await readAll(response.body);
  assert.deepEqual(bytes, blob.bytes);
  assert.ok(buffers <= 6, `3 MiB in ${buffers} buffers (1 MiB blocks, a few left part-full)`);
});

test('chunked and close-delimited bodies arrive whole; an interim 100 is skipped', async (t) => {
  const blob = randomContent(700_000, 22);
  const chunked = await serve(t, (_req, res) => {
    res.writeHead(200);
    res.write(blob.bytes.subarray(0, 1000));
    setImmediate(() => res.end(blob.bytes.subarray(1000)));
  });
  assert.deepEqual((await readAll((await http1Request(chunked, 'GET', {}, OPTIONS)).body)).bytes, blob.bytes);
  const untilClose = await serveRaw(t, (socket) => {
    socket.write('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n');
    socket.end(blob.bytes);
  });
  const response = await http1Request(untilClose, 'GET', {}, OPTIONS);
  assert.equal(response.statusCode, 200);
  assert.deepEqual((await readAll(response.body)).bytes, blob.bytes);
});

test('a body cut short fails with what was missing; garbage instead of HTTP fails the request', async (t) => {
  const cut = await serveRaw(t, (socket) => socket.end('HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789'));
  const response = await http1Request(cut, 'GET', {}, OPTIONS);
  await assert.rejects(readAll(response.body), /closed after 10 bytes, 990 short/);
  const garbage = await serveRaw(t, (socket) => socket.end('220 smtp.example ESMTP\r\n\r\n'));
  await assert.rejects(http1Request(garbage, 'GET', {}, OPTIONS), { code: 'EUPSTREAMPROTOCOL' });
  const closed = await serveRaw(t, (socket) => socket.end());
  await assert.rejects(http1Request(closed, 'GET', {}, OPTIONS), /closed the connection before a response head/);
});

test('silence before the head or inside the body times out; a reader holding the body back does not', async (t) => {
  const silent = await serveRaw(t, () => undefined);
  await assert.rejects(http1Request(silent, 'GET', {}, { ...OPTIONS, headersMs: 200 }), { code: TimeoutCode.headers });
  const stalls = await serveRaw(t, (socket) => socket.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123'));
  const stalled = await http1Request(stalls, 'GET', {}, { ...OPTIONS, bodyMs: 200 });
  await assert.rejects(readAll(stalled.body), { code: TimeoutCode.body });
  const blob = randomContent(8 << 20, 23);
  const url = await serve(t, (_req, res) => {
    res.writeHead(200, { 'Content-Length': blob.size });
    res.end(blob.bytes);
  });
  const held = await http1Request(url, 'GET', {}, { ...OPTIONS, bodyMs: 200 });
  held.body.pause();
  await new Promise((resolve) => setTimeout(resolve, 800)); // four body timeouts, held by the reader
  assert.deepEqual((await readAll(held.body)).bytes, blob.bytes);
});

test('an aborted request fails at once, and a connection refused names its cause', async (t) => {
  const silent = await serveRaw(t, () => undefined);
  const controller = new AbortController();
  const pending = http1Request(silent, 'GET', {}, { ...OPTIONS, signal: controller.signal });
  controller.abort();
  await assert.rejects(pending, { name: 'AbortError' });
  const unused = net.createServer();
  await new Promise<void>((resolve) => unused.listen(0, '127.0.0.1', resolve));
  const closedPort = (unused.address() as AddressInfo).port;
  await new Promise((resolve) => unused.close(resolve));
  await assert.rejects(http1Request(new URL(`http://127.0.0.1:${closedPort}/blob`), 'GET', {}, OPTIONS), { code: 'ECONNREFUSED' });
});

test('over TLS the body arrives whole from a server the given CA signed, and not from an unknown one', async (t) => {
  const ca = await makeTestCa(t);
  const blob = randomContent(2 << 20, 24);
  const server = https.createServer({ cert: ca.cert, key: ca.key }, (_req, res) => {
    res.writeHead(200, { 'Content-Length': blob.size });
    res.end(blob.bytes);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  const url = new URL(`https://127.0.0.1:${(server.address() as AddressInfo).port}/blob`);
  const response = await http1Request(url, 'GET', {}, { ...OPTIONS, ca: await fs.readFile(ca.caFile) });
  assert.deepEqual((await readAll(response.body)).bytes, blob.bytes);
  await assert.rejects(http1Request(url, 'GET', {}, OPTIONS), /self-signed|unable to verify|certificate/);
});
