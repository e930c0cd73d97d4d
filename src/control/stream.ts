// GET /_broken/journal/stream: new journal entries as server-sent events (`id: <seq>`, `data: <json>`),
// after the backlog since ?since= or Last-Event-ID, so a reconnecting EventSource misses nothing the
// ring still holds. A comment every 15 s keeps proxies from closing an idle stream.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { compileFilter, type Journal, type JournalEntry, type JournalFilter } from '../journal/journal.js';

const HEARTBEAT_MS = 15_000;

export interface Streams {
  open(req: IncomingMessage, res: ServerResponse, filter: JournalFilter): void;
  /** Ends every open stream (the registry is closing). */
  closeAll(): void;
}

export function journalStreams(journal: Journal): Streams {
  const open = new Set<ServerResponse>();
  return {
    open(req, res, filter) {
      const lastId = Number(req.headers['last-event-id']);
      const since = filter.since ?? (Number.isSafeInteger(lastId) && lastId >= 0 ? lastId : journal.last);
      res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache', 'X-Accel-Buffering': 'no' });
      res.write(': broken-reg journal\n\n');
      const { limit: _limit, ...rest } = filter;
      const wanted = compileFilter(rest);
      const send = (entry: JournalEntry) => res.write(`id: ${entry.seq}\ndata: ${JSON.stringify(entry)}\n\n`);
      for (const entry of journal.entries({ ...rest, since })) send(entry);
      const unsubscribe = journal.subscribe((entry) => {
        if (wanted(entry)) send(entry);
      });
      const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), HEARTBEAT_MS);
      heartbeat.unref();
      open.add(res);
      res.once('close', () => {
        unsubscribe();
        clearInterval(heartbeat);
        open.delete(res);
      });
    },
    closeAll() {
      for (const res of open) res.end();
    },
  };
}
