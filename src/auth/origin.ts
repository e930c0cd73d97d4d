// The origin a client reached this server at (scheme from the socket, host from the Host header), for
// realm URLs in challenges: a realm must name a place that exists, over the same scheme.
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';

/** Host header values kept as they are: a name or address and a port, nothing that could break a header. */
const HOST = /^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/;

export function requestOrigin(req: IncomingMessage): string {
  const scheme = (req.socket as Partial<TLSSocket>).encrypted === true ? 'https' : 'http';
  const host = req.headers.host;
  return `${scheme}://${host !== undefined && HOST.test(host) ? host : `localhost:${req.socket.localPort ?? 80}`}`;
}
