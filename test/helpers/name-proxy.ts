// A registry name that dockerd verifies TLS for, and the loopback proxy that makes it reachable.
//
// dockerd treats every registry whose name resolves into 127.0.0.0/8 as insecure (it adds that range
// to --insecure-registry itself) and then skips certificate verification altogether, so no registry
// on 127.0.0.1 or localhost is ever verified. A name that does not resolve is secure to it, and it
// reaches such a name through its HTTP(S)_PROXY. VERIFIED_NAME cannot resolve without any DNS query
// (its first label is longer than the 63 bytes DNS allows, so the resolver refuses it locally), and
// the proxy below connects `VERIFIED_NAME:<port>` to 127.0.0.1:<port> and nothing else.
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';

export const VERIFIED_NAME = `${'broken-reg-verified-tls-'.padEnd(70, 'x')}.test`;

export interface NameProxy {
  /** http://127.0.0.1:<port>, for HTTP_PROXY and HTTPS_PROXY. */
  url: string;
  /** host:port pairs asked for, in order (CONNECT and plain requests). */
  asked: string[];
  close(): Promise<void>;
}

/** The port of `VERIFIED_NAME:<port>` (or of the Host of an absolute URL), undefined for any other host. */
function loopbackPort(authority: string): number | undefined {
  const match = /^([^:]+):(\d{1,5})$/.exec(authority);
  if (!match || match[1]?.toLowerCase() !== VERIFIED_NAME) return undefined;
  const port = Number(match[2]);
  return port > 0 && port < 65_536 ? port : undefined;
}

/** A forward proxy on 127.0.0.1: CONNECT tunnels (https) and absolute-form requests (http), loopback only. */
export async function startNameProxy(): Promise<NameProxy> {
  const asked: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = http.createServer((req, res) => {
    // http://VERIFIED_NAME:<port>/...: forwarded as it came, to 127.0.0.1.
    let url: URL | undefined;
    try {
      url = new URL(req.url ?? '');
    } catch {
      url = undefined;
    }
    const port = url && url.protocol === 'http:' ? loopbackPort(url.host) : undefined;
    asked.push(url?.host ?? String(req.url));
    if (!url || port === undefined) {
      res.writeHead(403, { 'Content-Type': 'text/plain' }).end('this proxy only reaches the test name on loopback\n');
      return;
    }
    const upstream = http.request({ host: '127.0.0.1', port, method: req.method, path: `${url.pathname}${url.search}`, headers: req.headers, timeout: 60_000 }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
      answer.once('error', () => res.destroy());
    });
    upstream.once('error', () => res.destroy());
    upstream.once('timeout', () => upstream.destroy());
    req.pipe(upstream);
  });
  server.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    const authority = req.url ?? '';
    asked.push(authority);
    const port = loopbackPort(authority);
    if (port === undefined) {
      client.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const upstream = net.connect(port, '127.0.0.1', () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    sockets.add(upstream);
    upstream.once('close', () => sockets.delete(upstream));
    // An error on one side ends the other. Not with resetAndDestroy: sockets reset here stayed open
    // handles (seen on this machine, gVisor), and the test process never exited, spinning in epoll.
    upstream.once('error', () => client.destroy());
    client.once('error', () => upstream.destroy());
    upstream.once('end', () => client.end());
    client.once('end', () => upstream.end());
  });
  server.on('connection', (socket: net.Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    asked,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }),
  };
}
